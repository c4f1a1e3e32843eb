// RaftStorage and RequestLog: the storage side of a region replica, in the node's one RocksDB
// (storage/engine.h).
//
// RaftStorage keeps the Raft log, the hard state and the snapshot metadata (what raft::Raft needs
// back after a restart, raft::PersistedState), the applied index and this node's Raft id.
// RequestLog remembers the answers of recent client writes as part of the replicated state, so a
// retried write is applied at most once on whichever replica leads when the retry arrives.
//
// Key layouts. Integers are 8 bytes big-endian, so RocksDB's order is numeric order.
//   raft_log CF (node-local: never part of a state dump, survives InstallState):
//     "e" <index>          -> entry, msgpack [term, index, type, data(bin)]
//     "h"                  -> hard state, msgpack [term, vote, commit]
//     "s"                  -> snapshot metadata (the log's base), msgpack [index, term, [voters]]
//     "n"                  -> this node's Raft id (8 bytes)
//   region CF (replicated state: Engine::DumpState carries it, so a follower that installs a
//   snapshot gets the leader's applied index and request-id records with the data they describe):
//     "applied_index"      -> the index of the last entry whose effect is in the state (8 bytes)
//     "q/" <key>           -> request record, msgpack [time_ms, seq, answer(bin)]
//     "t/" <time> <seq>    -> key: the records in time order (time with its sign bit flipped so
//                             negative times sort first; seq breaks ties), for eviction
//     "m/count"            -> the number of records (8 bytes), so eviction needs no scan
//     "m/seq"              -> the next record sequence number (8 bytes)
//     "m/low"              -> a "t/" suffix no live index entry is below: eviction seeks there and
//                             never walks over the tombstones of records it already evicted
// The node id lives in raft_log, not region: region is replaced wholesale when a snapshot is
// installed, and a node must keep its own identity.
//
// Durability. Persist and SaveNodeId are synced writes (unless constructed with sync=false, for
// experiments that say so; EngineOptions::sync does not turn it off, because in a replica the Raft
// log, not the engine's own writes, is what an acknowledgement promises). Compact may use sync=false: RocksDB has one write-ahead log for all
// column families, so a later synced write makes every earlier write durable, and a crash loses
// only a suffix of writes. The applies that a compaction covers were written before it, so a
// crash can lose the compaction (its entries are still there, and are simply compacted again) but
// never keep it while losing the applies it relies on.
//
// Thread-safety: RaftStorage is driven by one thread (the replica's loop). RequestLog::Remember
// and SetApplied only add to a batch the caller writes; like Engine::Execute(request,
// ApplyOptions) they read the state RocksDB holds, so the caller serializes them and writes each
// batch before the next call. RequestLog::Lookup and the Load* functions may run on any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "region/raft.h"
#include "storage/engine.h"
#include "storage/status.h"

namespace meridian::region {

class RaftStorage {
 public:
  // Uses engine->db() with cf(Cf::kRaftLog) and cf(Cf::kRegion). `engine` must outlive this.
  // sync=false: Persist and SaveNodeId do not fsync (tests and --no-sync experiments only).
  explicit RaftStorage(Engine* engine, bool sync = true);

  // What a restarting node reads back: the hard state, the snapshot metadata (index, term,
  // voters; data empty; index 0 when none) and the entries after the snapshot. InternalServerError
  // if an entry does not decode or the entries after the snapshot have a hole.
  Result<raft::PersistedState> Load();

  // Persists ready.entries (first dropping every stored entry at or after the first new index) and
  // ready.hard_state, in ONE WriteBatch written with sync (the group commit: the runtime collects
  // all proposals of a loop iteration in one Ready). Writes nothing when there is nothing to
  // persist. Does not handle ready.snapshot (see AddInstallSnapshot). The entries must be
  // contiguous (InternalServerError otherwise, nothing written).
  Status Persist(const raft::Ready& ready);

  // After the application compacted at `index` (its applies through `index` already written):
  // records the snapshot metadata {index, term, voters} and deletes the entries <= index
  // (DeleteRange, sync=false: see the header comment).
  Status Compact(raft::LogIndex index, raft::Term term, const std::vector<raft::NodeId>& voters);

  // Adds to `batch` the writes that make an installed snapshot the log's base: the snapshot
  // metadata, every log entry deleted, and the hard state if given. For Engine::InstallState's
  // extra batch, so the state and the log change in one write.
  void AddInstallSnapshot(const raft::Snapshot& meta, const std::optional<raft::HardState>& hs,
                          rocksdb::WriteBatch* batch);

  // The applied index, in the region CF (0 when none). SetApplied adds its write to `batch`: the
  // same batch as the entry's effect, so they are durable together.
  Result<raft::LogIndex> LoadApplied();
  void SetApplied(raft::LogIndex index, rocksdb::WriteBatch* batch);

  // This node's Raft id, chosen once when its data folder is created; 0 if none is stored.
  Result<uint64_t> LoadNodeId();
  Status SaveNodeId(uint64_t id);

 private:
  // The highest stored entry index (0: none), from the cache or RocksDB.
  Result<uint64_t> LastStoredIndex();

  bool sync_;
  std::optional<raft::HardState> synced_hs_;  // the last hard state written with a sync
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* log_;
  rocksdb::ColumnFamilyHandle* region_;
  // The highest stored entry index (0: none); nullopt when unknown, e.g. after AddInstallSnapshot
  // whose batch the caller writes later.
  std::optional<uint64_t> last_entry_;
};

// Remembers the answers of recent client writes, as part of the replicated state (in the region
// CF), so a retried write (same key) is applied at most once and gets its first answer back.
// Deterministic: it is driven only by the entries' timestamps, so every replica holds the same
// records at the same applied index.
//
// Window: a record lives at least `window_ms` after its entry's time, and at most `max_records`
// are kept (oldest by entry time evicted first; the record being added is never the one evicted).
// Expired records are removed by later Remember calls, at most kMaxExpiredPerRemember per call so
// one batch stays small; until then Lookup may still return them, which only lengthens the window.
class RequestLog {
 public:
  static constexpr size_t kMaxExpiredPerRemember = 1024;

  // `engine` must outlive this. max_records is at least 1.
  RequestLog(Engine* engine, int64_t window_ms = 600000, size_t max_records = 100000);

  // The stored answer (opaque bytes: the runtime stores an encoded reply frame), or nullopt.
  // InternalServerError if the record cannot be read.
  Result<std::optional<std::string>> Lookup(std::string_view key);

  // Adds to `batch`: the record (replacing an earlier one with the same key), and the deletions of
  // records expired at now_ms or beyond max_records. InternalServerError (and nothing added) if
  // the current records cannot be read.
  Status Remember(std::string_view key, int64_t now_ms, std::string_view answer, rocksdb::WriteBatch* batch);

  // The number of records held, as stored.
  Result<uint64_t> Count();

 private:
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* region_;
  int64_t window_ms_;
  size_t max_records_;
};

}  // namespace meridian::region
