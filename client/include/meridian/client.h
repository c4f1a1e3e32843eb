// meridian::Client: the C++ client library for Meridian's native protocol.
//
//   meridian::Client client({.endpoint = "tcp://127.0.0.1:7700"});
//   meridian::PutItemRequest put;
//   put.table_name = "music";
//   put.item["artist"] = meridian::AttributeValue::S("Arvo Pärt");
//   auto r = client.PutItem(put);
//   if (!r.ok()) std::cerr << r.status().ToString() << "\n";
//
// One method per DynamoDB operation, with the typed requests and responses of
// storage/operations.h. Errors are a meridian::Status: the server's DynamoDB error
// (status().code() is e.g. ErrorCode::kValidation, ErrorTypeString(code) its `__type`), or
// ErrorCode::kUnreachable (no connection to the node within the timeout) or ErrorCode::kTimeout
// (sent, no answer within the timeout: the request may or may not have been applied).
//
// Every request carries a request id: a fresh random one (128 bits), or the caller's with
// Call(request, request_id). The node remembers the ids of recent writes, so a retry of one
// logical write with the same id is applied at most once (client/region_client.h retries so).
//
// NodeStatus and NodeAdmin send the operator requests of proto/node.h to this one node.
//
// Thread-safety: a Client is NOT thread-safe (it owns one ZeroMQ socket); use one per thread.
// Clients are cheap: they share one process-wide ZeroMQ context.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "proto/node.h"
#include "storage/operations.h"
#include "storage/status.h"

namespace meridian {

// An access key (api/access.h on the server side) that signs every request frame.
struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
};

// Reads `profile` from an AWS shared-credentials file (INI: `[profile]`, `aws_access_key_id = `,
// `aws_secret_access_key = `), e.g. the DIR/credentials a node writes on first start.
// ValidationException when the file cannot be read or lacks the profile or either key.
Result<Credentials> LoadSharedCredentials(const std::string& path, const std::string& profile = "meridian");
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, when both are set.
std::optional<Credentials> CredentialsFromEnvironment();

inline constexpr size_t kMaxRequestIdBytes = 128;
// A fresh random request id (32 hex digits), as every call without one gets.
std::string NewRequestId();

struct ClientOptions {
  std::string endpoint = "tcp://127.0.0.1:7700";
  // Deadline for one request: connect, send and answer.
  std::chrono::milliseconds timeout{10000};
  // Signs every frame when set; a node with auth on (the default) refuses unsigned frames.
  std::optional<Credentials> credentials;
  // Report a refused or dropped connection at once (kUnreachable; kTimeout once the request was
  // sent, as it may have been applied) instead of when the timeout passes. For callers with
  // somewhere else to go, like RegionClient. Off by default: a plain Client waits out its timeout
  // for a node that is still starting.
  bool fail_fast = false;
};

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;

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

  // Any request; the response alternative matches the request's.
  Result<Response> Call(const Request& request);
  // The same with the caller's request id: the retry key, the same on every retry of one logical
  // write so the node applies it at most once. Non-empty and at most
  // kMaxRequestIdBytes, else ValidationException without sending.
  Result<Response> Call(const Request& request, std::string_view request_id);

  // This node's view of its region's Raft group (NodeOp::kStatus).
  Result<proto::NodeStatus> NodeStatus();
  // An operator request (kTransferLeader, kReplaceFacility) to this node; a node with auth on
  // requires a key allowed "meridian:Admin".
  Result<proto::NodeAdminResult> NodeAdmin(proto::NodeOp op, const proto::NodeAdminArgs& args);

  const std::string& endpoint() const;
  std::chrono::milliseconds timeout() const;
  // Changes the deadline of the next requests (the region client gives each try what is left of
  // its overall deadline).
  void set_timeout(std::chrono::milliseconds timeout);

 private:
  template <typename Resp, typename Req>
  Result<Resp> CallTyped(const Req& r);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian
