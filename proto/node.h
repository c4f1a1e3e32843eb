// Operator requests to one facility node (frame kind kNode, proto/frame.h): its Raft status,
// leader transfer and facility replacement. They are not part of DynamoDB's API and never go
// through HTTP; `meridian status` and `meridian admin` send them, and the region-aware client
// (client/region_client.h) uses kStatus to find its region's leader.
//
// A request frame is [version, kNode, NodeOp, request_id, args-map, auth?]; the answer is a
// kResponse frame with the same op and a result map (NodeStatus for kStatus, NodeAdminResult
// otherwise), or a kError frame as for DynamoDB operations. Signed like DynamoDB requests; a node
// with auth on requires a key allowed the action "meridian:Admin" for kTransferLeader and
// kReplaceFacility (kStatus needs only a valid signature).
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <msgpack.hpp>

#include "proto/frame.h"
#include "storage/status.h"

namespace meridian::proto {

enum class NodeOp : uint16_t {
  kStatus = 1,           // args: {} -> NodeStatus
  kTransferLeader = 2,   // args: NodeAdminArgs{facility: target, or "" for any} -> NodeAdminResult
  kReplaceFacility = 3,  // args: NodeAdminArgs{facility} -> NodeAdminResult
};

struct NodeAdminArgs {
  std::string facility;
  MSGPACK_DEFINE_MAP(facility);
};

struct NodeAdminResult {
  std::string message;  // what was done, for the operator
  MSGPACK_DEFINE_MAP(message);
};

struct MemberStatus {
  uint64_t node_id = 0;
  std::string facility;
  uint64_t match_index = 0;  // leader's view; 0 on followers
  MSGPACK_DEFINE_MAP(node_id, facility, match_index);
};

// One facility node's view of its region's Raft group.
struct NodeStatus {
  std::string region;
  std::string facility;
  uint64_t node_id = 0;
  std::string role;  // "leader", "follower", "candidate", "pre-candidate", "joining" (not a member)
  uint64_t term = 0;
  uint64_t commit_index = 0;
  uint64_t applied_index = 0;
  uint64_t last_index = 0;
  uint64_t snapshot_index = 0;
  uint64_t leader_id = 0;        // 0: unknown
  std::string leader_facility;   // "" when unknown
  std::string native_endpoint;   // this node's, as reachable by clients
  std::string http_endpoint;
  std::vector<MemberStatus> members;  // the current voters
  // The node process's resident set now and at its peak (VmRSS, VmHWM of /proc/self/status), in
  // KiB; 0 where unknown (an older node).
  uint64_t rss_kib = 0;
  uint64_t peak_rss_kib = 0;
  MSGPACK_DEFINE_MAP(region, facility, node_id, role, term, commit_index, applied_index, last_index,
                     snapshot_index, leader_id, leader_facility, native_endpoint, http_endpoint,
                     members, rss_kib, peak_rss_kib);
};

// Encoders and decoders for the typed bodies above.
std::string EncodeNodeRequest(std::string_view request_id, NodeOp op, const NodeAdminArgs& args,
                              const FrameCredentials* credentials = nullptr);
std::string EncodeNodeStatusReply(std::string_view request_id, const NodeStatus& status);
std::string EncodeNodeAdminReply(std::string_view request_id, NodeOp op, const NodeAdminResult& r);
std::string EncodeNodeError(std::string_view request_id, NodeOp op, const Status& error);

// Decodes the reply to a kStatus / admin request (or the error it carries).
Result<NodeStatus> DecodeNodeStatusReply(std::string_view bytes);
Result<NodeAdminResult> DecodeNodeAdminReply(std::string_view bytes);

}  // namespace meridian::proto
