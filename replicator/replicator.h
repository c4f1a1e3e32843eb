// Replicator: the ZeroMQ shell of a region's replicator (`meridian replicator`).
//
// One process per region. It has two halves, each a thread with its own sockets and its own
// RegionClient to the region (so neither waits for the other):
//
//   sender:   for every peer region, a PeerShipper (replicator/shipper.h, pure) decides what to
//             read from this region's change stream (ReplicationReadChanges, served by the
//             leader after a read barrier, following leader changes through RegionClient), what
//             to send and when to go back; the sender carries it out. Batches travel as signed
//             native request frames (ReplicationApply) on one DEALER per peer replicator, each
//             with a request id naming this process, so that the peer's answer finds its batch.
//   receiver: a ROUTER on the region's replicator endpoint. Each batch is checked (signature
//             against access.yaml, the operation, a source region of the topology) and submitted
//             to this region as one Raft write (ReplicationApply): the region applies it only if
//             it continues the stored cursor of that source, and answers with the cursor. The
//             receiver relays that answer as the ack. Batches are submitted one at a time in
//             arrival order, so a source's pipelined batches are applied in order.
//
// Delivery is at-least-once (a lost ack makes the sender go back to the last acked cursor) and the
// effect exactly once (the region drops what is at or below its cursor, in the same Raft entry
// that moves the cursor). Any process may be killed at any time: the cursors live in the regions.
//
// Bounded everywhere: high-water marks on every socket, credits (batches and bytes in flight per
// peer) in the shipper, non-blocking sends (a full queue counts as a lost batch; the shipper's ack
// timeout resends), and frames above the protocol's limit are refused.
//
// Thread-safety: Start/Stop from one thread; stats() from any.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/access.h"
#include "meridian/client.h"
#include "replicator/shipper.h"
#include "storage/status.h"
#include "topology/topology.h"

namespace meridian::replicator {

struct ReplicatorOptions {
  topology::Topology topology;
  std::string region;                      // this replicator's region
  std::optional<Credentials> credentials;  // signs frames to the region and to peers; none: --no-auth
  const api::AccessStore* access = nullptr;  // verifies peers' frames; null: --no-auth
  // The shell's defaults: re-read an idle stream every 5 ms (the replication lag floor) rather
  // than the shipper's 50.
  ShipperOptions shipper = [] {
    ShipperOptions o;
    o.retry_ms = 5;
    return o;
  }();
  // The receiver's wait for its region to commit one batch.
  std::chrono::milliseconds apply_deadline{10000};
  int socket_hwm = 1000;
};

// Per-peer counters for status and tests.
struct PeerStats {
  std::string peer;
  std::optional<uint64_t> acked_cursor;  // how far the peer has applied this region's stream
  uint64_t batches_sent = 0;
  uint64_t batches_acked = 0;
  uint64_t go_backs = 0;
  uint64_t in_flight = 0;
};
struct ReplicatorStats {
  std::vector<PeerStats> peers;
  uint64_t batches_received = 0;  // from all sources
  uint64_t batches_refused = 0;   // bad frame, bad signature, not a batch, unknown source
  uint64_t apply_failures = 0;    // the region did not commit a batch in time
};

class Replicator {
 public:
  explicit Replicator(ReplicatorOptions options);
  ~Replicator();
  Replicator(const Replicator&) = delete;
  Replicator& operator=(const Replicator&) = delete;

  // Binds the receiver and starts both halves. Error when the endpoint cannot be bound or the
  // region or its replicator is not in the topology.
  Status Start();
  void Stop();
  // The endpoint the receiver bound (port resolved when the topology says 0).
  std::string endpoint() const;
  ReplicatorStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::replicator
