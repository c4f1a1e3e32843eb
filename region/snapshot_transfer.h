// Sending a Raft snapshot to a follower in chunks, beside the Raft messages (region/replica.cc).
//
// The Raft core asks for a snapshot to be sent with an InstallSnapshot message that carries no
// data. The leader's replica does not send that message yet: it starts an OutgoingSnapshot, which
// reads the state at the snapshot's index from a RocksDB snapshot it holds (StateReader, about
// 1 MB a chunk) and sends the chunks as peer frames of their own, numbered, at most `window`
// unacknowledged. The follower's IncomingSnapshot stages each chunk in order into SST files
// (StateStager) and answers with a ChunkAck; the last frame carries the SHA-256 of every chunk,
// which the follower checks before it says "complete". Only then does the leader let the
// InstallSnapshot message through, its data a short descriptor naming the transfer, and the
// follower's core installs it from the staged files (Engine::InstallStagedState). Memory on
// both sides is a few chunks, whatever the size of the state, and the Raft loop never spends
// more than a chunk's read or write in one go, so heartbeats keep flowing during a transfer.
//
// Failures restart the transfer from the beginning: a follower that sees a gap, a chunk it cannot
// stage or a wrong digest answers ok=false; a leader that hears nothing for `stall` gives up; an
// InstallSnapshot naming a transfer the follower has not completed is dropped and answered
// ok=false. The core asks again (it re-sends InstallSnapshot on the next heartbeat answer), and a
// new transfer starts.
//
// Wire (peer frames, proto::FrameKind::kPeer, op kChunkOp / kAckOp):
//   chunk: [transfer id, sender node id, seq, snapshot index, snapshot term, last, data, digest]
//          (last: data empty, digest the SHA-256 of every earlier chunk's data in order)
//   ack:   [transfer id, next seq wanted, ok, complete]
//
// Thread-safety: owned by the Raft loop thread.
#pragma once

#include <openssl/evp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <msgpack.hpp>

#include "region/raft.h"
#include "storage/engine.h"
#include "storage/state_transfer.h"
#include "storage/status.h"

namespace meridian::region {

// A running SHA-256 (OpenSSL's EVP interface).
class Sha256Stream {
 public:
  Sha256Stream() { Reset(); }
  void Reset() { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }
  void Update(const std::string& data) { EVP_DigestUpdate(ctx_.get(), data.data(), data.size()); }
  // The digest so far (raw 32 bytes); the stream is reset.
  std::string Final();

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
};

inline constexpr uint16_t kChunkOp = 1;  // peer frame op 0 is a batch of Raft messages
inline constexpr uint16_t kAckOp = 2;

struct SnapshotChunk {
  uint64_t transfer = 0;
  uint64_t from = 0;  // the leader's node id: where the acknowledgement goes
  uint64_t seq = 0;
  uint64_t index = 0;
  uint64_t term = 0;
  bool last = false;
  std::string data;
  std::string digest;  // last only
};

struct ChunkAck {
  uint64_t transfer = 0;
  uint64_t next = 0;
  bool ok = false;
  bool complete = false;
};

std::string PackChunk(const SnapshotChunk& c);
Result<SnapshotChunk> UnpackChunk(const msgpack::object& body);
std::string PackAck(const ChunkAck& a);
Result<ChunkAck> UnpackAck(const msgpack::object& body);

// The data of an InstallSnapshot whose state was staged by transfer `id`, and back.
std::string StagedDescriptor(uint64_t id);
std::optional<uint64_t> ParseStagedDescriptor(std::string_view data);

class OutgoingSnapshot {
 public:
  using Clock = std::chrono::steady_clock;
  // `state` is the RocksDB snapshot of the state at meta.index; held until this is destroyed.
  OutgoingSnapshot(Engine* engine, uint64_t id, uint64_t from, raft::Snapshot meta, std::shared_ptr<const rocksdb::Snapshot> state,
                   Clock::time_point now);

  // The chunks to send now: as many as keep at most `window` unacknowledged. An error: the state
  // could not be read (the transfer is then failed).
  Result<std::vector<SnapshotChunk>> Pump(size_t window, size_t chunk_bytes, Clock::time_point now);
  void OnAck(const ChunkAck& ack, Clock::time_point now);

  uint64_t id() const { return id_; }
  const raft::Snapshot& meta() const { return meta_; }
  bool complete() const { return complete_; }
  bool failed() const { return failed_; }
  // No acknowledgement for `stall` while chunks are outstanding.
  bool Stalled(Clock::time_point now, Clock::duration stall) const;
  uint64_t chunks_sent() const { return next_; }
  uint64_t keys() const { return reader_.keys(); }
  Clock::time_point started() const { return started_; }

 private:
  uint64_t id_, from_;
  raft::Snapshot meta_;  // data empty
  std::shared_ptr<const rocksdb::Snapshot> state_;
  StateReader reader_;
  Sha256Stream sha_;
  uint64_t next_ = 0;   // next seq to send
  uint64_t acked_ = 0;  // every seq below is acknowledged
  bool all_sent_ = false, complete_ = false, failed_ = false;
  Clock::time_point started_, last_progress_;
};

class IncomingSnapshot {
 public:
  // Stages into `dir` (emptied when a transfer starts).
  IncomingSnapshot(Engine* engine, std::string dir) : engine_(engine), dir_(std::move(dir)) {}

  // Takes one chunk; the answer to send back.
  ChunkAck OnChunk(const SnapshotChunk& c);
  // Whether transfer `id` staged the state at (index, term) completely.
  bool Ready(uint64_t id, uint64_t index, uint64_t term) const;
  const std::string& dir() const { return dir_; }
  // After the staged state was installed (the folder is gone).
  void Reset();
  // Drops what is staged, folder included: a staging this node no longer needs (its state moved
  // past it: `applied` >= the staged index) or one left idle for `idle` (its leader went away).
  // True when something was dropped.
  bool DiscardIfStale(uint64_t applied, std::chrono::steady_clock::duration idle, std::chrono::steady_clock::time_point now);

 private:
  ChunkAck Fail(uint64_t transfer, const std::string& why);

  Engine* engine_;
  std::string dir_;
  std::unique_ptr<StateStager> stager_;
  uint64_t transfer_ = 0, index_ = 0, term_ = 0, next_ = 0;
  bool active_ = false, complete_ = false;
  std::chrono::steady_clock::time_point last_chunk_;
  Sha256Stream sha_;
};

}  // namespace meridian::region
