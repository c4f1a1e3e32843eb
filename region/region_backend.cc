#include "region/region_backend.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <thread>
#include <variant>

#include <meridian/client.h>

#include "proto/node.h"

namespace meridian::region {
namespace {

using Clock = std::chrono::steady_clock;

bool IsNotLeader(const Status& st) {
  // Answers after which the request may go to another node (or wait for one): it was not applied.
  return st.code() == ErrorCode::kServiceUnavailable &&
         (st.message().rfind("not the leader", 0) == 0 || st.message().rfind("no leader", 0) == 0 ||
          st.message().rfind("leadership is being transferred", 0) == 0);
}

// The client reads that ConsistentRead applies to (not the replicator's reads of the stream).
bool IsItemRead(Operation op) {
  return op == Operation::kGetItem || op == Operation::kQuery || op == Operation::kScan ||
         op == Operation::kBatchGetItem;
}

}  // namespace

bool NeedsLeader(const Request& request) {
  return IsWriteOperation(OperationOf(request)) || IsConsistentRead(request);
}

RegionBackend::RegionBackend(Engine* engine, Replica* replica, const api::AccessStore* access,
                             RegionBackendOptions options)
    : engine_(engine), replica_(replica), access_(access), options_(options) {}

Result<Response> RegionBackend::Forward(const std::string& endpoint, const RequestContext& ctx,
                                        const Request& request, std::chrono::milliseconds timeout) {
  // One client per worker thread, leader endpoint and caller key (a client signs with one key).
  thread_local std::map<std::string, std::unique_ptr<Client>> clients;
  std::string principal = ctx.principal.value_or("");
  std::string cache_key = endpoint + '\n' + principal;
  auto it = clients.find(cache_key);
  if (it == clients.end()) {
    if (clients.size() > 64) clients.clear();
    ClientOptions options;
    options.endpoint = endpoint;
    options.timeout = timeout;
    // A leader that just died refuses the connection: hear it at once, not after the timeout.
    options.fail_fast = true;
    if (access_ && ctx.principal) {
      std::optional<std::string> secret = access_->Secret(*ctx.principal);
      if (!secret) return Status(ErrorCode::kUnrecognizedClient, "The security token included in the request is invalid.");
      options.credentials = Credentials{*ctx.principal, *secret};
    }
    it = clients.emplace(cache_key, std::make_unique<Client>(std::move(options))).first;
  }
  it->second->set_timeout(timeout);
  Result<Response> r = it->second->Call(request, ctx.request_id);
  if (!r.ok() && (r.status().code() == ErrorCode::kUnreachable || r.status().code() == ErrorCode::kTimeout)) {
    clients.erase(it);  // a fresh socket next time: the old one may hold a stale reply
  }
  return r;
}

Result<Response> RegionBackend::Execute(const RequestContext& ctx, const Request& request) {
  if (!NeedsLeader(request)) return engine_->Execute(request);
  Operation op = OperationOf(request);
  bool write = IsWriteOperation(op);
  if (options_.plant_follower_strong_read && IsItemRead(op) && !replica_->IsLeader()) {
    return engine_->Execute(request);  // the planted bug: no ReadIndex, no leader
  }
  std::string key;
  if (write && !ctx.request_id.empty()) {
    key = ctx.principal.value_or("") + '\n' + std::to_string(static_cast<int>(op)) + '\n' + ctx.request_id;
  }
  auto deadline = Clock::now() + options_.deadline;
  Status last = Status(ErrorCode::kServiceUnavailable, "no leader");
  // An election takes a few hundred milliseconds; a region that has had no leader for longer than
  // this has lost its quorum (or this node is cut off), and the caller hears so at once rather than
  // after the whole deadline (a client's own per-try timeout is shorter than that).
  constexpr auto kNoLeaderPatience = std::chrono::milliseconds(1500);
  auto leaderless_since = Clock::time_point::max();
  while (Clock::now() < deadline) {
    Replica::NotLeader hint;
    if (replica_->IsLeader()) {
      if (write) {
        Result<Response> r = replica_->Write(key, request, deadline, &hint);
        if (r.ok() || !IsNotLeader(r.status())) return r;
        // Without a request id a second attempt could apply the write twice: let the caller decide.
        if (key.empty() && r.status().message().find("any more") != std::string::npos) return r;
        last = r.status();
      } else {
        Status st = replica_->ReadBarrier(deadline, &hint);
        if (st.ok()) return engine_->Execute(request);
        if (!IsNotLeader(st)) return st;
        last = st;
      }
    }
    uint64_t leader = replica_->leader_id();
    if (leader == 0) {
      auto now = Clock::now();
      if (leaderless_since == Clock::time_point::max()) leaderless_since = now;
      if (now - leaderless_since >= kNoLeaderPatience) break;
    } else {
      leaderless_since = Clock::time_point::max();
    }
    if (leader != 0 && leader != replica_->node_id()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      auto timeout = std::min<std::chrono::milliseconds>(left, std::chrono::milliseconds(1000));
      if (timeout.count() <= 0) break;
      Result<Response> r = Forward(replica_->EndpointOf(leader), ctx, request, timeout);
      if (r.ok()) return r;
      ErrorCode code = r.status().code();
      if (code != ErrorCode::kUnreachable && code != ErrorCode::kTimeout && !IsNotLeader(r.status())) return r;
      if (code == ErrorCode::kTimeout && write) {
        // The leader may have applied it; the retry (same request id) is answered from the log.
      }
      last = r.status();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  proto::NodeStatus s = replica_->GetStatus();
  return Status(ErrorCode::kServiceUnavailable,
                "no leader reachable in region " + s.region + " (asked facility " + s.facility +
                    ", term " + std::to_string(s.term) + "): " + last.message());
}

namespace {
// VmRSS and VmHWM of this process, in KiB.
void ReadProcessMemory(proto::NodeStatus* s) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    uint64_t* field = line.rfind("VmRSS:", 0) == 0 ? &s->rss_kib : line.rfind("VmHWM:", 0) == 0 ? &s->peak_rss_kib : nullptr;
    if (field != nullptr) *field = std::strtoull(line.c_str() + 6, nullptr, 10);
  }
}
}  // namespace

std::string RegionBackend::HandleNodeFrame(const proto::RawFrame& frame,
                                           const std::optional<std::string>& principal) {
  auto op = static_cast<proto::NodeOp>(frame.op);
  try {
    proto::NodeAdminArgs args;
    if (frame.body && frame.body->type == msgpack::type::MAP) frame.body->convert(args);
    switch (op) {
      case proto::NodeOp::kStatus: {
        proto::NodeStatus status = replica_->GetStatus();
        ReadProcessMemory(&status);
        return proto::EncodeNodeStatusReply(frame.request_id, status);
      }
      case proto::NodeOp::kTransferLeader:
      case proto::NodeOp::kReplaceFacility: {
        if (access_) {
          if (!principal) {
            return proto::EncodeNodeError(frame.request_id, op,
                                          Status(ErrorCode::kMissingAuthenticationToken, "Request is missing Authentication Token"));
          }
          Status st = access_->Authorize(*principal, "meridian:Admin", {}, replica_->GetStatus().region);
          if (!st.ok()) return proto::EncodeNodeError(frame.request_id, op, st);
        }
        Result<std::string> r = op == proto::NodeOp::kTransferLeader
                                    ? replica_->TransferLeader(args.facility, std::chrono::milliseconds(5000))
                                    : replica_->ReplaceFacility(args.facility, std::chrono::milliseconds(10000));
        if (!r.ok()) return proto::EncodeNodeError(frame.request_id, op, r.status());
        return proto::EncodeNodeAdminReply(frame.request_id, op, proto::NodeAdminResult{r.value()});
      }
    }
  } catch (const std::exception& e) {
    return proto::EncodeNodeError(frame.request_id, op, Status::Serialization(std::string("bad arguments: ") + e.what()));
  }
  return proto::EncodeNodeError(frame.request_id, op,
                                Status(ErrorCode::kUnknownOperation, "Unknown node operation " + std::to_string(frame.op)));
}

}  // namespace meridian::region
