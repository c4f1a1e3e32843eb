// What the harness asks of a running topology through the client API, whatever backend runs it:
// who leads a region, whether a region is healthy, the chaos table's set-up, quiescence after the
// faults, and the final contents of every region. All through the clients' topology (real
// addresses), each call bounded.
//
// Thread-safety: free functions; each makes its own clients.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "meridian/client.h"
#include "proto/node.h"
#include "storage/status.h"
#include "tests/chaos/checker.h"
#include "topology/topology.h"

namespace meridian::chaos {

struct ClusterAccess {
  topology::Topology topology;  // the clients' view
  Credentials credentials;
};

// The process name ("us-east-b") of the region's leader; an error naming what each facility
// answered when none leads within `timeout`.
Result<std::string> FindLeader(const ClusterAccess& c, const std::string& region,
                               std::chrono::milliseconds timeout = std::chrono::seconds(3));

// One facility's status through its native endpoint (1 s, failing fast when it cannot connect).
Result<proto::NodeStatus> FacilityStatus(const Credentials& credentials, const topology::Facility& facility);

// Healthy: all three facilities answer their status, one leads, all name it, and every voter's
// match index is within `max_behind` entries of the leader's last index (a restarted node has
// caught up). Waits up to `timeout`; the last reason it was not healthy otherwise.
Status WaitRegionHealthy(const ClusterAccess& c, const std::string& region, std::chrono::milliseconds timeout,
                         uint64_t max_behind = 1000);

// Asks the region's leader to hand leadership to `facility` ("b").
Status TransferLeader(const ClusterAccess& c, const std::string& region, const std::string& facility);

// Creates `table` (hash key k:S) in the first region, adds every other region as a replica with
// UpdateTable ReplicaUpdates, and waits until every region lists every replica ACTIVE.
Status CreateGlobalTable(const ClusterAccess& c, const std::string& table, std::chrono::milliseconds timeout);

// A region's items of `table` by a strongly consistent, paginated Scan: key -> tokens of `v`.
Result<Contents> ReadContents(const ClusterAccess& c, const std::string& region, const std::string& table);

struct Quiescence {
  bool converged = false;   // cursors caught up and identical contents everywhere
  double seconds = 0;       // how long it took (or the bound, when not converged)
  std::map<std::string, Contents> contents;  // the last contents read, per region
  std::string detail;       // why not converged
};
// After the writes stop: waits (up to `timeout`) until every region's cursor of every other
// region has reached that region's stream head (ReplicationStatus) and every region's contents are
// identical. Gives up early when the cursors have caught up but the contents differ and stay
// unchanged for 10 s (a divergence no further wait mends). Reads the contents either way, so the
// checker can judge what is there.
Quiescence WaitQuiescent(const ClusterAccess& c, const std::string& table, std::chrono::milliseconds timeout);

}  // namespace meridian::chaos
