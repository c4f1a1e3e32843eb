// meridian::RegionClient (client/include/meridian/region_client.h): routing, leader discovery and
// retries over one Client per facility. Not thread-safe.
#include "meridian/region_client.h"

#include <algorithm>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include "client/zmq_support.h"
#include "proto/frame.h"

namespace meridian {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A bound on the tries of one call under its deadline, for configurations whose backoff and
// timeouts are zero and would otherwise spin until the deadline.
constexpr int kMaxRoundsPerCall = 10000;
// Longest server message quoted per facility in a deadline error.
constexpr size_t kMaxQuotedMessageBytes = 160;

// What may succeed when tried again: the node was not reached, did not answer in time, had no
// leader, or failed on its side. A retried write carries the same request id, so the node applies
// it at most once.
bool IsRetryable(ErrorCode code) {
  return code == ErrorCode::kUnreachable || code == ErrorCode::kTimeout ||
         code == ErrorCode::kServiceUnavailable || code == ErrorCode::kInternalServerError;
}

// What surely was not applied: never sent, or refused for want of a leader. The only retries for
// operator requests, which have no request-id window.
bool SurelyNotApplied(ErrorCode code) {
  return code == ErrorCode::kUnreachable || code == ErrorCode::kServiceUnavailable;
}

// An answer is conclusive; silence is only when the try had its full time.
bool Conclusive(const Status& error, bool full_time) {
  return full_time || (error.code() != ErrorCode::kUnreachable && error.code() != ErrorCode::kTimeout);
}

// Writes, table operations and strongly consistent reads: the leader's business.
bool NeedsLeader(const Request& request) {
  Operation op = OperationOf(request);
  return IsWriteOperation(op) || IsConsistentRead(request) || op == Operation::kDescribeTable ||
         op == Operation::kListTables;
}

// One facility's answer, as a deadline error quotes it.
std::string Describe(const Status& status) {
  if (status.code() == ErrorCode::kUnreachable) return "unreachable";
  if (status.code() == ErrorCode::kTimeout) return "timed out";
  std::string message = status.message();
  if (message.size() > kMaxQuotedMessageBytes) message = message.substr(0, kMaxQuotedMessageBytes) + "...";
  std::string out(ErrorName(status.code()));
  if (!message.empty()) out += " (" + message + ")";
  return out;
}

std::string Describe(const proto::NodeStatus& status) {
  std::string out = (status.role.empty() ? std::string("no role") : status.role) + " in term " +
                    std::to_string(status.term);
  if (status.role == "leader") return out;
  return out + (status.leader_facility.empty() ? ", leader unknown" : ", names leader " + status.leader_facility);
}

// Which way a call goes.
enum class Route {
  kAnyFacility,       // eventually consistent reads
  kLeaderOrFallback,  // writes and strong reads: the leader, else a facility that will forward
  kLeaderOnly,        // operator requests
};

}  // namespace

struct RegionClient::Impl {
  struct Facility {
    std::string name;
    std::string endpoint;
    std::unique_ptr<Client> client;  // made on first use; keeps its connection between calls
    // What it last answered during the current call, for the deadline error. An answer to a
    // request is kept over a later successful status probe, which says less.
    std::string outcome;
    bool request_outcome = false;
  };

  struct ProbeResult {
    std::optional<size_t> leader;
    std::vector<size_t> answered;        // answered with a NodeStatus
    std::vector<size_t> answered_error;  // answered with an error frame
    // Why no leader was found: an answered error when there is one, else the last failure.
    Status error = Status(ErrorCode::kUnreachable, "no facility probed");
    bool full_time = true;  // every facility had the full attempt_timeout to answer
  };

  RegionClientOptions options;
  std::vector<Facility> facilities;
  std::optional<size_t> leader;
  std::optional<size_t> last_leader;  // the previous non-empty leader, for Stats::leader_changes
  size_t read_cursor = 0;
  std::mt19937_64 rng;
  Stats stats;

  explicit Impl(RegionClientOptions o) : options(std::move(o)) {
    uint64_t seed = options.seed != 0 ? options.seed : (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
    rng.seed(seed);
    for (const topology::Facility& f : options.region.facilities) {
      facilities.push_back(Facility{f.name, f.NativeEndpoint(), nullptr, "", false});
    }
    if (!facilities.empty()) read_cursor = rng() % facilities.size();
  }

  Client& ClientFor(Facility& f) {
    if (!f.client) {
      ClientOptions client_options;
      client_options.endpoint = f.endpoint;
      client_options.timeout = options.attempt_timeout;
      client_options.credentials = options.credentials;
      client_options.fail_fast = true;  // another facility may answer: do not wait for a dead one
      f.client = std::make_unique<Client>(std::move(client_options));
    }
    return *f.client;
  }

  static milliseconds Remaining(Clock::time_point deadline) {
    return std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
  }

  // One try: attempt_timeout, cut to what is left of the call's deadline (at least 1 ms so a try
  // at the very end still gets its chance to answer).
  milliseconds TryTimeout(Clock::time_point deadline) const {
    return std::max(milliseconds(1), std::min(options.attempt_timeout, Remaining(deadline)));
  }

  // Full jitter (the "Exponential Backoff And Jitter" AWS architecture note): uniform in
  // [0, min(backoff_max, backoff_initial * 2^round)].
  milliseconds Backoff(int round) {
    int64_t cap = options.backoff_initial.count();
    for (int i = 0; i < round && cap < options.backoff_max.count(); ++i) cap *= 2;
    cap = std::clamp<int64_t>(cap, 0, std::max<int64_t>(0, options.backoff_max.count()));
    if (cap == 0) return milliseconds(0);
    return milliseconds(std::uniform_int_distribution<int64_t>(0, cap)(rng));
  }

  void SetLeader(size_t index) {
    if (last_leader && *last_leader != index) ++stats.leader_changes;
    leader = index;
    last_leader = index;
  }

  // `full_time`: the try had its full attempt_timeout. Not getting through in a try the deadline
  // cut short says little, so it does not replace what the facility answered before.
  void Record(size_t index, const Status& status, bool from_request, bool full_time = true) {
    if (!Conclusive(status, full_time) && !facilities[index].outcome.empty()) return;
    facilities[index].outcome = Describe(status);
    facilities[index].request_outcome = from_request;
  }

  // The least time worth a try: one with only a sliver of time left would fail for want of time
  // and hide the answers that explain the failure.
  milliseconds LeastTry() const { return std::max(milliseconds(1), options.attempt_timeout / 4); }

  bool WorthAnotherRound(milliseconds pause, Clock::time_point deadline) const {
    return Clock::now() + pause + LeastTry() <= deadline;
  }

  void ClearOutcomes() {
    for (Facility& f : facilities) {
      f.outcome.clear();
      f.request_outcome = false;
    }
  }

  // The deadline error: the last error's code, the region and every facility's last answer.
  Status Final(Route route, const Status& last) const {
    std::string message = route == Route::kAnyFacility ? "no facility answered in region "
                                                       : "no leader reachable in region ";
    message += options.region.name + ": ";
    for (size_t i = 0; i < facilities.size(); ++i) {
      if (i > 0) message += ", ";
      message += facilities[i].name + ": " + (facilities[i].outcome.empty() ? "not tried" : facilities[i].outcome);
    }
    return Status(last.code(), message);
  }

  // Asks every facility for its NodeStatus at once, over fresh sockets (so no answer to an
  // earlier probe can be taken for this one), and returns as soon as one says it leads.
  ProbeResult Probe(Clock::time_point deadline) {
    struct Pending {
      std::unique_ptr<zmq::socket_t> socket;
      std::unique_ptr<client_internal::ConnectionWatch> watch;  // destroyed before the socket
      std::string id;
      bool sent = false;
      bool done = false;
    };
    ProbeResult result;
    // A probe waits for a hung facility until its timeout; it leaves time for the request after it.
    const milliseconds timeout =
        std::max(milliseconds(1), std::min(options.attempt_timeout, Remaining(deadline) - LeastTry()));
    const bool full_time = timeout >= options.attempt_timeout;
    const Clock::time_point probe_deadline = Clock::now() + timeout;
    std::optional<proto::FrameCredentials> signer;
    if (options.credentials) {
      signer = proto::FrameCredentials{options.credentials->access_key_id, options.credentials->secret_access_key};
    }
    std::vector<Pending> pending(facilities.size());
    std::vector<std::optional<proto::NodeStatus>> answers(facilities.size());
    std::optional<Status> answered_error;
    bool any_timeout = false;

    for (size_t i = 0; i < facilities.size(); ++i) {
      Pending& p = pending[i];
      p.id = NewRequestId();
      try {
        p.socket = std::make_unique<zmq::socket_t>(client_internal::SharedContext(), zmq::socket_type::dealer);
        p.socket->set(zmq::sockopt::linger, 0);
        // As in Client: queue only on a completed connection, so an unreachable facility stays
        // unsent and is reported as unreachable rather than timed out.
        p.socket->set(zmq::sockopt::immediate, 1);
        p.socket->set(zmq::sockopt::sndhwm, 1);
        p.socket->set(zmq::sockopt::rcvhwm, 16);
        p.socket->set(zmq::sockopt::maxmsgsize, proto::kSocketMaxMessageBytes);
        // A refused or dropped connection ends this facility's part at once, so a dead
        // facility does not hold the probe until its timeout.
        p.watch = std::make_unique<client_internal::ConnectionWatch>(*p.socket);
        p.socket->connect(facilities[i].endpoint);
      } catch (const zmq::error_t& e) {
        p.done = true;
        Record(i, Status(ErrorCode::kUnreachable, e.what()), false);
      }
    }

    auto leader_answered = [&]() -> std::optional<size_t> {
      std::optional<size_t> best;
      for (size_t i = 0; i < answers.size(); ++i) {
        const auto& a = answers[i];
        if (!a || !(a->role == "leader" || (!a->leader_facility.empty() && a->leader_facility == facilities[i].name))) continue;
        if (!best || a->term > answers[*best]->term) best = i;
      }
      return best;
    };

    // Each pass either sends, receives or waits in poll; the pass bound only guards a peer that
    // floods us with stale answers until the probe's deadline.
    for (int pass = 0; pass < 10000; ++pass) {
      // Per facility still pending: its socket, then its connection watch.
      std::vector<zmq::pollitem_t> items;
      std::vector<size_t> index;
      for (size_t i = 0; i < pending.size(); ++i) {
        if (pending[i].done) continue;
        items.push_back({pending[i].socket->handle(), 0, static_cast<short>(pending[i].sent ? ZMQ_POLLIN : ZMQ_POLLOUT), 0});
        items.push_back({pending[i].watch->events().handle(), 0, ZMQ_POLLIN, 0});
        index.push_back(i);
      }
      if (items.empty()) break;
      milliseconds left = Remaining(probe_deadline);
      if (left.count() == 0) break;
      try {
        zmq::poll(items.data(), items.size(), left);
      } catch (const zmq::error_t&) {
        break;
      }
      for (size_t k = 0; k < index.size(); ++k) {
        size_t i = index[k];
        Pending& p = pending[i];
        const zmq::pollitem_t& item = items[2 * k];
        try {
          if ((items[2 * k + 1].revents & ZMQ_POLLIN) && p.watch->Drain() &&
              !(item.revents & (ZMQ_POLLIN | ZMQ_POLLOUT))) {
            p.done = true;
            Record(i, Status(ErrorCode::kUnreachable, p.sent ? "connection lost" : "connection refused"), false);
            continue;
          }
          if (!p.sent && (item.revents & ZMQ_POLLOUT)) {
            std::string frame = proto::EncodeNodeRequest(p.id, proto::NodeOp::kStatus, {}, signer ? &*signer : nullptr);
            p.sent = p.socket->send(zmq::buffer(frame), zmq::send_flags::dontwait).has_value();
          } else if (p.sent && (item.revents & ZMQ_POLLIN)) {
            zmq::message_t reply;
            if (!p.socket->recv(reply, zmq::recv_flags::dontwait)) continue;
            proto::RawFrame envelope;
            if (proto::DecodeFrame(reply.to_string_view(), &envelope).ok() && !envelope.request_id.empty() &&
                envelope.request_id != p.id) {
              continue;  // not the answer to this probe
            }
            p.done = true;
            Result<proto::NodeStatus> status = proto::DecodeNodeStatusReply(reply.to_string_view());
            if (status.ok()) {
              answers[i] = status.value();
              result.answered.push_back(i);
              if (!facilities[i].request_outcome) facilities[i].outcome = Describe(status.value());
            } else {
              result.answered_error.push_back(i);
              answered_error = status.status();
              Record(i, status.status(), false);
            }
          }
        } catch (const zmq::error_t& e) {
          p.done = true;
          Record(i, Status(ErrorCode::kUnreachable, e.what()), false);
        }
      }
      if (leader_answered()) break;
    }

    result.leader = leader_answered();
    result.full_time = full_time;
    if (result.leader) return result;
    for (size_t i = 0; i < pending.size(); ++i) {
      if (pending[i].done) continue;
      Status failure = pending[i].sent ? Status(ErrorCode::kTimeout, "no answer within " + std::to_string(timeout.count()) + " ms")
                                       : Status(ErrorCode::kUnreachable, "cannot reach " + facilities[i].endpoint);
      any_timeout = any_timeout || pending[i].sent;
      Record(i, failure, false, full_time);
    }
    if (answered_error) {
      result.error = *answered_error;
    } else if (!result.answered.empty()) {
      result.error = Status(ErrorCode::kServiceUnavailable, "no facility of region " + options.region.name + " knows a leader");
    } else if (any_timeout) {
      result.error = Status(ErrorCode::kTimeout, "no facility of region " + options.region.name + " answered");
    } else {
      result.error = Status(ErrorCode::kUnreachable, "no facility of region " + options.region.name + " is reachable");
    }
    return result;
  }

  // The retry loop every call runs: pick a facility by `route`, try `send` on its Client, and on a
  // retryable failure move on (rediscover the leader, or the next facility), back off, try again.
  template <typename T>
  Result<T> Run(Route route, bool operator_request, const std::function<Result<T>(Client&)>& send) {
    if (facilities.empty()) return Status::Validation("region " + options.region.name + " has no facilities");
    const Clock::time_point deadline = Clock::now() + options.deadline;
    ClearOutcomes();
    Status last(ErrorCode::kTimeout, "the deadline passed before any try");
    bool have_last = false;
    // The error the call ends with: the latest, unless the deadline cut its try short and an
    // earlier one says more.
    auto note = [&](const Status& error, bool full_time) {
      if (Conclusive(error, full_time) || !have_last) last = error;
      have_last = true;
    };
    uint64_t tries = 0;
    for (int round = 0; round < kMaxRoundsPerCall; ++round) {
      std::optional<size_t> target;
      if (route == Route::kAnyFacility) {
        target = read_cursor;
      } else if (leader) {
        target = leader;
      } else {
        ProbeResult probe = Probe(deadline);
        if (probe.leader) {
          SetLeader(*probe.leader);
          target = leader;
        } else if (route == Route::kLeaderOrFallback && !probe.answered.empty()) {
          target = probe.answered[rng() % probe.answered.size()];
        } else if (route == Route::kLeaderOrFallback && !probe.answered_error.empty()) {
          // It refused the status request (an old node, a bad key...): the request itself will
          // say whether that matters.
          target = probe.answered_error[rng() % probe.answered_error.size()];
        } else {
          note(probe.error, probe.full_time);
          if (probe.answered.empty() && !probe.answered_error.empty() && !IsRetryable(last.code())) return last;
        }
      }
      if (target) {
        Facility& f = facilities[*target];
        Client& client = ClientFor(f);
        const milliseconds timeout = TryTimeout(deadline);
        client.set_timeout(timeout);
        ++stats.attempts;
        if (tries++ > 0) ++stats.retries;
        Result<T> r = send(client);
        if (r.ok()) return r;
        note(r.status(), timeout >= options.attempt_timeout);
        Record(*target, r.status(), true, timeout >= options.attempt_timeout);
        bool retry = operator_request ? SurelyNotApplied(r.status().code()) : IsRetryable(r.status().code());
        if (!retry) return r;
        if (route == Route::kAnyFacility) {
          read_cursor = (read_cursor + 1) % facilities.size();
        } else if (leader == target) {
          leader.reset();
        }
      }
      milliseconds pause = Backoff(round);
      if (!WorthAnotherRound(pause, deadline)) break;
      std::this_thread::sleep_for(pause);
    }
    return Final(route, last);
  }

  Result<std::string> FindLeader() {
    if (facilities.empty()) return Status::Validation("region " + options.region.name + " has no facilities");
    const Clock::time_point deadline = Clock::now() + options.deadline;
    ClearOutcomes();
    Status last(ErrorCode::kTimeout, "the deadline passed before any try");
    for (int round = 0; round < kMaxRoundsPerCall; ++round) {
      ProbeResult probe = Probe(deadline);
      if (probe.leader) {
        SetLeader(*probe.leader);
        return facilities[*probe.leader].name;
      }
      last = probe.error;
      if (probe.answered.empty() && !probe.answered_error.empty() && !IsRetryable(last.code())) return last;
      milliseconds pause = Backoff(round);
      if (!WorthAnotherRound(pause, deadline)) break;
      std::this_thread::sleep_for(pause);
    }
    return Final(Route::kLeaderOnly, last);
  }
};

RegionClient::RegionClient(RegionClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
RegionClient::~RegionClient() = default;
RegionClient::RegionClient(RegionClient&&) noexcept = default;
RegionClient& RegionClient::operator=(RegionClient&&) noexcept = default;

Result<Response> RegionClient::Call(const Request& request) {
  const std::string id = NewRequestId();  // the retry key: the same on every try of this call
  return impl_->Run<Response>(NeedsLeader(request) ? Route::kLeaderOrFallback : Route::kAnyFacility, false,
                              [&](Client& client) { return client.Call(request, id); });
}

Result<proto::NodeAdminResult> RegionClient::NodeAdmin(proto::NodeOp op, const proto::NodeAdminArgs& args) {
  if (op == proto::NodeOp::kStatus) return Status::Validation("NodeAdmin takes an admin op");
  return impl_->Run<proto::NodeAdminResult>(Route::kLeaderOnly, true,
                                            [&](Client& client) { return client.NodeAdmin(op, args); });
}

Result<std::string> RegionClient::FindLeader() { return impl_->FindLeader(); }

const std::string& RegionClient::region() const { return impl_->options.region.name; }

std::string RegionClient::leader() const {
  return impl_->leader ? impl_->facilities[*impl_->leader].name : std::string();
}

RegionClient::Stats RegionClient::stats() const { return impl_->stats; }

template <typename Resp, typename Req>
Result<Resp> RegionClient::CallTyped(const Req& r) {
  Result<Response> response = Call(Request(r));
  if (!response.ok()) return response.status();
  if (auto* typed = std::get_if<Resp>(&response.value())) return std::move(*typed);
  return Status::Internal("the node answered with the response of another operation");
}

Result<CreateTableResponse> RegionClient::CreateTable(const CreateTableRequest& r) { return CallTyped<CreateTableResponse>(r); }
Result<DescribeTableResponse> RegionClient::DescribeTable(const DescribeTableRequest& r) { return CallTyped<DescribeTableResponse>(r); }
Result<ListTablesResponse> RegionClient::ListTables(const ListTablesRequest& r) { return CallTyped<ListTablesResponse>(r); }
Result<DeleteTableResponse> RegionClient::DeleteTable(const DeleteTableRequest& r) { return CallTyped<DeleteTableResponse>(r); }
Result<PutItemResponse> RegionClient::PutItem(const PutItemRequest& r) { return CallTyped<PutItemResponse>(r); }
Result<GetItemResponse> RegionClient::GetItem(const GetItemRequest& r) { return CallTyped<GetItemResponse>(r); }
Result<DeleteItemResponse> RegionClient::DeleteItem(const DeleteItemRequest& r) { return CallTyped<DeleteItemResponse>(r); }
Result<UpdateItemResponse> RegionClient::UpdateItem(const UpdateItemRequest& r) { return CallTyped<UpdateItemResponse>(r); }
Result<QueryResponse> RegionClient::Query(const QueryRequest& r) { return CallTyped<QueryResponse>(r); }
Result<ScanResponse> RegionClient::Scan(const ScanRequest& r) { return CallTyped<ScanResponse>(r); }
Result<BatchGetItemResponse> RegionClient::BatchGetItem(const BatchGetItemRequest& r) { return CallTyped<BatchGetItemResponse>(r); }
Result<BatchWriteItemResponse> RegionClient::BatchWriteItem(const BatchWriteItemRequest& r) { return CallTyped<BatchWriteItemResponse>(r); }

}  // namespace meridian
