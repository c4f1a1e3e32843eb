// RegionBackend: what a facility node does with a request once the front end (native or HTTP)
// has authenticated and authorized it (RequestExecutorOptions::backend).
//
//   - Writes, and reads with ConsistentRead, need the leader. On the leader they go through the
//     Replica (a write is answered after it is committed and applied; a consistent read after a
//     ReadIndex round). On a follower they are forwarded to the leader inside the region — the
//     client (an AWS SDK pointed at any facility) never sees the difference — signed again with the
//     caller's own key, so the leader authenticates and authorizes them exactly as its own.
//   - Eventually consistent reads (and DescribeTable, ListTables) are served by the local engine.
//   - While there is no leader (an election, or two of three facilities down) the backend retries
//     until `deadline`, then answers ServiceUnavailable (HTTP 503, which the SDKs retry).
//
// Retried writes: the request-log key is (caller's key id, operation, client request id); the
// replicated request log (region/raft_storage.h) answers a retry with its first answer.
//
// Thread-safety: Execute and HandleNodeFrame may be called from many threads at once.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "api/access.h"
#include "proto/frame.h"
#include "region/replica.h"
#include "region/request_executor.h"
#include "storage/engine.h"

namespace meridian::region {

// Whether the request must be served by the leader.
bool NeedsLeader(const Request& request);

struct RegionBackendOptions {
  // How long a request that needs the leader may wait for one (then ServiceUnavailable).
  std::chrono::milliseconds deadline{8000};
  // PLANTED BUG for the chaos suite's self-test (region/fault_hooks.h): a follower serves the
  // ConsistentRead of GetItem, Query, Scan and BatchGetItem from its own state.
  bool plant_follower_strong_read = false;
};

class RegionBackend {
 public:
  // All must outlive the backend. `access` is null when auth is off.
  RegionBackend(Engine* engine, Replica* replica, const api::AccessStore* access, RegionBackendOptions options = {});

  Result<Response> Execute(const RequestContext& ctx, const Request& request);

  // Answers a kNode frame (status, leader transfer, facility replacement). `principal` is the
  // authenticated key id (nullopt when auth is off).
  std::string HandleNodeFrame(const proto::RawFrame& frame, const std::optional<std::string>& principal);

 private:
  Result<Response> Forward(const std::string& endpoint, const RequestContext& ctx, const Request& request,
                           std::chrono::milliseconds timeout);

  Engine* engine_;
  Replica* replica_;
  const api::AccessStore* access_;
  RegionBackendOptions options_;
};

}  // namespace meridian::region
