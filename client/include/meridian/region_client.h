// meridian::RegionClient: the region-aware client. It knows the three facilities of one region
// (from the topology file) and sends each request where it is best served:
//
//   meridian::RegionClient client({.region = *topology.FindRegion("us-east"),
//                                  .credentials = meridian::LoadSharedCredentials("credentials").value()});
//   auto r = client.PutItem(put);   // to the region's leader, retried with the same request id
//
// Routing. Writes (IsWriteOperation), table operations (CreateTable, DescribeTable, ListTables,
// DeleteTable) and strongly consistent reads (ConsistentRead) go to the leader: a follower would
// forward them itself (region/), so this only saves a hop. Eventually consistent reads go to any
// facility: a random one first, then the same one while it answers, the next when it fails.
//
// Leader discovery. The client asks all the facilities for their NodeStatus (proto/node.h) at
// once and takes the one that answers that it leads (role "leader", or leader_facility naming
// itself; the highest term wins), without waiting for the others. A follower's leader_facility
// alone is not trusted: it may name a leader that has just died. The client caches the leader and
// asks again after any failure of it. While no leader is known it sends to a facility that
// answered, which forwards the request or answers ServiceUnavailable.
//
// Retries. One request id per call (NewRequestId), the same on every try, so the node applies a
// retried write at most once (contract 4). kUnreachable, kTimeout, kServiceUnavailable and
// kInternalServerError are retried with exponential backoff and full jitter (sleep uniform in
// [0, min(backoff_max, backoff_initial * 2^n)]), each try bounded by attempt_timeout, all tries by
// deadline. Every other error (ValidationException, ConditionalCheckFailedException, auth
// errors...) is returned at once. When the deadline passes the last error is returned, its
// message naming the region and what each facility last answered:
//   "no leader reachable in region us-east: a: unreachable, b: ServiceUnavailable (...), c: timed out"
//
// Thread-safety: NOT thread-safe (it owns one Client per facility); use one per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "meridian/client.h"
#include "proto/node.h"
#include "storage/operations.h"
#include "storage/status.h"
#include "topology/topology.h"

namespace meridian {

struct RegionClientOptions {
  topology::Region region;  // its three facilities; their native endpoints are dialled
  std::optional<Credentials> credentials;
  std::chrono::milliseconds attempt_timeout{2000};  // one try against one facility
  std::chrono::milliseconds deadline{10000};        // all tries of one call together
  std::chrono::milliseconds backoff_initial{20}, backoff_max{500};
  uint64_t seed = 0;  // jitter and first-facility RNG; 0: std::random_device
};

class RegionClient {
 public:
  explicit RegionClient(RegionClientOptions options);
  ~RegionClient();
  RegionClient(RegionClient&&) noexcept;
  RegionClient& operator=(RegionClient&&) noexcept;

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

  // Any request, routed and retried as above; the response alternative matches the request's.
  Result<Response> Call(const Request& request);

  // An operator request (kTransferLeader, kReplaceFacility) to the region's leader. Unlike a
  // write it is retried only when it surely was not applied (kUnreachable: never sent;
  // kServiceUnavailable: no leader took it), since the node keeps no request-id window for them.
  Result<proto::NodeAdminResult> NodeAdmin(proto::NodeOp op, const proto::NodeAdminArgs& args);

  // Asks the facilities who leads (within the deadline, with retries) and caches the answer.
  // The leader's facility name; the last error, naming each facility's answer, when none is found.
  Result<std::string> FindLeader();

  const std::string& region() const;
  // The cached leader's facility name; "" when unknown.
  std::string leader() const;

  struct Stats {
    uint64_t attempts = 0;        // requests sent to a facility (status probes not counted)
    uint64_t retries = 0;         // attempts after the first of their call
    uint64_t leader_changes = 0;  // the cached leader became another facility (first find not counted)
  };
  Stats stats() const;

 private:
  template <typename Resp, typename Req>
  Result<Resp> CallTyped(const Req& r);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian
