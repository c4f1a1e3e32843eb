// Replica: the node runtime that drives one Raft group (region/raft.h) on a facility node.
//
// One thread (the Raft loop) owns the Raft core, the peer sockets and all writes to the node's
// RocksDB. Each turn of the loop it takes everything that arrived since the last turn (peer
// messages, proposed writes, read requests, operator requests), steps the core, ticks it on time,
// and then, for each Ready:
//   1. installs a received snapshot (Engine::InstallStagedState: staged SST files ingested),
//   2. writes the new log entries and hard state in ONE synced RocksDB write (RaftStorage::Persist):
//      every write proposed in this turn shares that fsync (group commit), and a vote or an append
//      acknowledgement leaves only after it (thesis §3.8),
//   3. sends the messages, batched per peer (one ZeroMQ message per peer per Ready),
//   4. applies the committed entries: each entry's item writes, its request-log record and the
//      applied index go in one RocksDB write (not synced: the Raft log is the durable copy, and
//      RocksDB's single WAL makes the next synced write cover it), then wakes the waiting caller,
//   5. answers ReadIndex requests whose index is applied.
//
// Writes: Write() proposes an entry {request-log key, leader time, request} and returns the answer
// computed when that entry is applied here — so a write is answered only after it is committed
// (on a majority, fsync'd) and applied. The request-log key makes a retried write (same client
// request id) apply at most once: the first answer is stored in the replicated state and returned
// to every retry (region/raft_storage.h, RequestLog: 10 minutes, 100,000 records).
//
// Reads: ConsistentRead uses ReadIndex (thesis §6.4): the leader confirms it still leads with one
// heartbeat round to a majority and serves the read once it has applied the commit index it saw.
// Chosen over leader leases because its safety does not depend on bounded clock drift (a lease is
// only as safe as the assumption that no clock runs fast by more than the margin), at the cost of
// one round trip among facilities (no fsync). Eventually consistent reads are served from the
// local state without any of this.
//
// Snapshots: every `snapshot_entries` applied entries (or `snapshot_bytes` of entry data) the loop
// takes a RocksDB snapshot of the state it has just applied and compacts the log up to it (later,
// up to twice as much log, while a snapshot is being sent or a follower is behind). A follower that
// needs entries older than the log gets the state read from that RocksDB snapshot in 1 MB chunks,
// four outstanding at a time, staged into SST files on its side and ingested
// (region/snapshot_transfer.h): memory stays a few chunks and the loop a chunk's work per turn,
// whatever the size of the state. One after a restart without a held snapshot gets a fresh one
// taken at the applied index.
//
// Node ids: facility i (0-based, topology order) bootstraps the group with id i+1; a facility that
// rejoins with an empty data folder takes a new id (generation << 2) | (i+1), so a wiped disk never
// votes twice under an old id; `ReplaceFacility` swaps the old id for the new one by two
// single-server membership changes. The facility of any id is ((id & 3) - 1).
//
// Thread-safety: every public method may be called from any thread; Start/Stop from one.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "api/access.h"
#include "proto/frame.h"
#include "proto/node.h"
#include "region/raft.h"
#include "storage/engine.h"
#include "storage/status.h"
#include "topology/topology.h"

namespace meridian::region {

inline uint64_t FacilityIndexOfNode(uint64_t node_id) { return (node_id & 3) - 1; }

struct ReplicaOptions {
  topology::Region region;     // this node's region: its three facilities, in topology order
  size_t facility_index = 0;   // this node's facility in region.facilities
  // Force joining as a new member even when the data folder is new and no peer answers.
  bool join = false;
  // Logical time: one tick every tick_ms; elections after [election_tick, 2 * election_tick) ticks
  // without a leader; heartbeats every heartbeat_tick ticks.
  int tick_ms = 10;
  int election_tick = 30;
  int heartbeat_tick = 5;
  uint64_t snapshot_entries = 10000;
  uint64_t snapshot_bytes = 64u << 20;
  // Peer frames are signed with these and verified against `access` (both unset: auth is off).
  const api::AccessStore* access = nullptr;
  std::optional<proto::FrameCredentials> credentials;
  int socket_hwm = 1000;
  // Proposals waiting for the loop: more are refused with ServiceUnavailable (back-pressure).
  size_t max_queued_proposals = 10000;
  uint64_t seed = 0;  // election-timeout randomness; 0: from the node id and the clock
  // Test hooks (region/fault_hooks.h), off by default: added to the wall-clock time this node
  // stamps on the entries it proposes as leader; the planted bug ack-before-commit.
  int64_t clock_offset_ms = 0;
  bool plant_ack_before_commit = false;
};

// The exit status of a node that stopped because a write, sync or read of its state failed
// (sysexits' EX_IOERR): it acknowledged nothing the failed write held, and restarted on a healthy
// disk it recovers from its Raft log.
inline constexpr int kExitDiskFailed = 74;

class Replica {
 public:
  // `engine` must outlive the replica and must not be written by anything else.
  Replica(Engine* engine, ReplicaOptions options);
  ~Replica();  // Stops.

  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  // Loads the Raft state from the engine's RocksDB (choosing this node's id on first start) and
  // starts the loop.
  Status Start();
  // Stops the loop; waiting callers get ServiceUnavailable. Idempotent.
  void Stop();

  // A kPeer frame from the node's ROUTER (broker thread). Never blocks; dropped when the inbox is
  // full (Raft tolerates lost messages).
  void DeliverPeerFrame(std::string frame);

  // Proposes `request` and waits until it is applied. `key` is the request-log key ("" for none).
  // kServiceUnavailable with leader_hint set when this node does not lead (or lost leadership
  // before the entry committed; the outcome is then unknown and a retry with the same key is safe).
  struct NotLeader {
    uint64_t leader_id = 0;
  };
  Result<Response> Write(const std::string& key, const Request& request,
                         std::chrono::steady_clock::time_point deadline,
                         NotLeader* not_leader = nullptr);
  // Waits until a linearizable read may be served from the local engine (this node leads, has
  // confirmed it with a majority, and has applied the read index).
  Status ReadBarrier(std::chrono::steady_clock::time_point deadline, NotLeader* not_leader = nullptr);

  bool IsLeader() const;
  uint64_t node_id() const { return node_id_; }
  uint64_t leader_id() const;
  // The native endpoint of a node id of this region ("" for an unknown facility).
  std::string EndpointOf(uint64_t node_id) const;

  proto::NodeStatus GetStatus() const;
  // The HTTP endpoint GetStatus reports (known once the HTTP server has bound).
  void SetHttpEndpoint(const std::string& endpoint);

  // Operator requests (leader only; kServiceUnavailable with the leader otherwise).
  // Hands leadership to the facility ("" = the most up-to-date follower) and waits (bounded) until
  // it leads.
  Result<std::string> TransferLeader(const std::string& facility, std::chrono::milliseconds wait);
  // Replaces the member of `facility` by the node now running there (which must have started with
  // an empty data folder, i.e. a new id): removes the old id, then adds the new one.
  Result<std::string> ReplaceFacility(const std::string& facility, std::chrono::milliseconds wait);
  // For SIGTERM: if this node leads, hands leadership over and waits up to `wait` for it to go.
  void HandOver(std::chrono::milliseconds wait);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint64_t node_id_ = 0;
};

}  // namespace meridian::region
