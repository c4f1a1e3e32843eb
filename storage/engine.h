// Engine: executes the operations of storage/operations.h against one node's RocksDB.
//
// This is the single place where DynamoDB's semantics live for the item path: request validation
// (table names, key schemas, items against their table's key, sizes, limits), the table catalog,
// items, Query and Scan paging, batches and consumed capacity. Front ends (native wire, CLI, later
// HTTP) only decode and encode; the node runtime (region/) calls Execute. In a replica group,
// committed log entries are applied through Execute(request, ApplyOptions) on every replica, so
// execution is deterministic given the same state, request and entry time.
//
// Layout: one RocksDB with column families "catalog" (table descriptions and counters), "items"
// (keys from storage/key_codec.h, values from storage/item_codec.h), "raft_log" (the Raft log and
// hard state, node-local: region/raft_storage.h), "region" (the region runtime's replicated state:
// applied index, request-id records; and the global tables' replication state), "changes" (the
// region's change stream) and "versions" (every item's version and the tombstones of global
// tables; storage/global_table.h has the layout). A write to an item, its version, its counters
// and its change record go in one WriteBatch.
//
// Global tables (../shared/DESIGN.md, "The conflict rule"; DynamoDB global tables version
// 2019.11.21): every local write stamps a version (vv[region] + 1, the region's hybrid logical
// clock, origin = region). A table with replicas in other regions also gets, for each write applied
// through the replicated path, a change record destined to those regions, and its deletes leave
// tombstones. The replicator moves records with ReplicationReadChanges (here) and
// ReplicationApply (there), which merges them under the last-writer-wins rule
// (conflict/version.h), keeps a cursor per source (exactly-once effect) and trims the stream and
// purges tombstones once every replica region has acknowledged them.
//
// The replicated apply path: Execute(request, ApplyOptions) puts the engine's writes into the
// caller's WriteBatch instead of writing them, and takes its timestamp from the entry, so the
// runtime writes an entry's effect, its applied index and its request-id record in one RocksDB
// write, and every replica applying the same entries writes the same bytes. Nothing in that path
// comes from the wall clock, a random source or memory that is not derived from RocksDB: the
// catalog cache is reloaded from RocksDB once the caller has written a batch that changed it
// (detected by a catalog version key), and the table UUID is derived from the table's name, id and
// creation time.
//
// Thread-safety: Execute may be called from many threads at once. Writes to one item are
// serialized (a striped lock on the item key); reads run in parallel and see committed state.
// Execute(request, ApplyOptions) and InstallState must be called by one thread at a time (the
// apply loop), while reads may run concurrently from other threads.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "storage/operations.h"
#include "storage/status.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class WriteBatch;
class Snapshot;
class Env;
}  // namespace rocksdb

namespace meridian {

// The column families of a node's RocksDB, for the region runtime's direct access.
enum class Cf {
  kCatalog,  // replicated state: table records, counters, next table id, catalog version
  kItems,    // replicated state: items
  kRaftLog,  // node-local: Raft log entries, hard state, snapshot metadata, node id
  kChanges,  // replicated state: the change stream of global tables
  kRegion,   // replicated state: the region runtime's applied index and request-id records, and
             // the replication state of global tables (storage/global_table.h)
  kVersions, // replicated state: item versions and tombstones
};
// The column families that make up the replicated state, in the order a dump or a state transfer
// (storage/state_transfer.h) carries them.
inline constexpr std::array<Cf, 5> kStateColumnFamilies = {Cf::kCatalog, Cf::kItems, Cf::kVersions, Cf::kChanges,
                                                           Cf::kRegion};

// How Execute runs a request on the replicated apply path.
struct ApplyOptions {
  // The time the entry carries (CreationDateTime etc.), used instead of the clock.
  int64_t now_ms = 0;
  // The engine appends its writes here and does NOT write them. Required (non-null).
  rocksdb::WriteBatch* batch = nullptr;
  // When non-zero (the entry's log index), every item written or deleted in a table with replicas
  // in other regions also appends a change record to the `changes` column family in the same
  // batch: key ChangeKey(change_seq, n) for the n-th record of the entry, value: table, item key,
  // new image or none for a delete, version, now_ms, destinations. Table metadata changes
  // (UpdateTable, relays in ReplicationApply) append a record with `meta` set. The region's change
  // stream, which the replicator ships to other regions.
  uint64_t change_seq = 0;
};

// A change record (storage/engine.h, ApplyOptions::change_seq).
struct ChangeRecord {
  uint64_t seq = 0;  // log index of the entry
  uint32_t n = 0;    // position within the entry
  std::string table;
  Item key;
  std::optional<Item> image;  // none: the item was deleted
  int64_t time_ms = 0;
  ItemVersion version;
  std::vector<std::string> destinations;  // the table's replica regions other than this one
  std::optional<TableMeta> meta;          // set: a table metadata change (key and image empty)
  bool backfill_done = false;             // with meta: this region finished a backfill to the destination
};
// Big-endian, so RocksDB order is stream order.
std::string ChangeKey(uint64_t seq, uint32_t n);
Result<ChangeRecord> DecodeChange(std::string_view key, std::string_view value);

struct EngineOptions {
  // fsync the write-ahead log before a write is acknowledged (RocksDB groups concurrent writers
  // into one fsync). Off only for bulk tests and benchmarks that say so.
  bool sync = true;
  // Bounded memory: RocksDB block cache and memtable budget.
  size_t block_cache_bytes = 64 << 20;
  size_t write_buffer_bytes = 32 << 20;
  // Wall clock in epoch milliseconds (CreationDateTime); injectable for tests.
  std::function<int64_t()> clock_ms;
  // Region name used in table ARNs, and this region's name in global tables.
  std::string region = "local";

  // Global tables.
  // A remote timestamp more than this ahead of the entry time is not folded into the region clock
  // (and is counted); its data is merged all the same.
  int64_t max_clock_offset_ms = 500;
  // Change records are kept until every destination has acknowledged them, but no longer than
  // this nor beyond this many records; a destination that had not acknowledged a trimmed record
  // is marked behind and re-seeded (a backfill of every table it replicates).
  int64_t max_retention_ms = 24 * 3600 * 1000;
  uint64_t max_retention_records = 10'000'000;
  // Conflict records kept per table for ReplicationStatus (the newest ones).
  uint32_t recent_conflicts = 100;
  // The regions UpdateTable and the replication operations accept; empty: any well-formed name.
  std::vector<std::string> known_regions;
  // Called on the apply path for each write lost to conflict resolution, after the engine has
  // added its writes to the batch (the node appends it to its conflict log). May be empty.
  std::function<void(const ConflictRecord&)> on_conflict;

  // Test hooks (region/fault_hooks.h); off by default. The RocksDB environment (null: RocksDB's
  // default), e.g. one whose syncs fail; the engine keeps it alive until its database is closed.
  std::shared_ptr<rocksdb::Env> env;
  // PLANTED BUG for the chaos suite's self-test: ReplicationApply lets every incoming item
  // version replace the local one, without the conflict rule.
  bool plant_no_lww = false;
};

class Engine {
 public:
  // Opens (creating if missing) the database under `path`. Stores nullptr and returns non-OK on
  // error (a RocksDB that cannot be opened or holds an unknown format).
  static Result<std::unique_ptr<Engine>> Open(const std::string& path, EngineOptions options);
  ~Engine();

  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Executes any request; the response alternative matches the request's. Errors carry
  // DynamoDB's error codes and messages and leave the data unchanged.
  Result<Response> Execute(const Request& request);

  // Executes `request` for the replicated apply path: the engine's writes (item, counters,
  // catalog) go into apply.batch, which the caller writes (with its own keys: applied index,
  // request-id record) in one RocksDB write. On error nothing is added to apply.batch (what the
  // batch held before the call is kept). The caller must serialize these calls and write each
  // batch before the next call (reads inside see only what is written). Reads (GetItem, Query...)
  // ignore apply.batch. A null apply.batch is InternalServerError.
  Result<Response> Execute(const Request& request, const ApplyOptions& apply);

  // Every key of the state column families (catalog, items, versions, changes, region) as seen by
  // `snapshot` (a RocksDB snapshot the caller holds; null: the current state), encoded in one
  // msgpack blob that ends with a SHA-256 of what precedes it. Deterministic: the same state gives
  // the same bytes.
  Result<std::string> DumpState(const rocksdb::Snapshot* snapshot);
  // Replaces the whole content of the state column families with `dump`, plus the caller's extra
  // writes in `extra` (may be null), in ONE synced RocksDB write (whatever EngineOptions::sync
  // says): a DeleteRange per column family, then the puts, then `extra`. A dump that does not decode (or fails
  // its checksum) gives an error and changes nothing. Called from the apply thread; concurrent
  // reads see the old state or the new one, never a mix of catalog and items.
  Status InstallState(std::string_view dump, rocksdb::WriteBatch* extra);
  // The same from the SST files a StateStager wrote in `dir` (storage/state_transfer.h), for a
  // state of any size: the DeleteRanges, `extra` and a marker naming `dir` in one synced write,
  // then the files ingested (IngestExternalFiles: atomic across the families), then the marker
  // removed and `dir` deleted. A node that stops in between finishes the install when it opens
  // again (Engine::Open redoes the deletes and the ingestion from `dir`, still intact), so the
  // state is never seen half installed after `extra` is durable. Staged files that fail their
  // checksums give an error before anything is written; an error after that (the ingestion
  // failed) must stop the node: the next open tries the install again.
  Status InstallStagedState(const std::string& dir, rocksdb::WriteBatch* extra);

  // Direct access for the region runtime (region/raft_storage.h). Owned by the engine.
  rocksdb::DB* db();
  rocksdb::ColumnFamilyHandle* cf(Cf which);
  const EngineOptions& options() const;

  Result<CreateTableResponse> CreateTable(const CreateTableRequest& r);
  Result<DescribeTableResponse> DescribeTable(const DescribeTableRequest& r);
  Result<ListTablesResponse> ListTables(const ListTablesRequest& r);
  Result<DeleteTableResponse> DeleteTable(const DeleteTableRequest& r);
  Result<PutItemResponse> PutItem(const PutItemRequest& r);
  Result<GetItemResponse> GetItem(const GetItemRequest& r);
  Result<DeleteItemResponse> DeleteItem(const DeleteItemRequest& r);
  Result<UpdateItemResponse> UpdateItem(const UpdateItemRequest& r);
  Result<QueryResponse> Query(const QueryRequest& r);
  Result<ScanResponse> Scan(const ScanRequest& r);
  Result<BatchGetItemResponse> BatchGetItem(const BatchGetItemRequest& r);
  Result<BatchWriteItemResponse> BatchWriteItem(const BatchWriteItemRequest& r);
  Result<UpdateTableResponse> UpdateTable(const UpdateTableRequest& r);

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian
