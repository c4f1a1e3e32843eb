#include "replicator/replicator.h"

#include <chrono>
#include <cstdio>
#include <utility>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "meridian/region_client.h"
#include "proto/frame.h"
#include "proto/socket_options.h"

namespace meridian::replicator {
namespace {

using Clock = std::chrono::steady_clock;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

int64_t EpochSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Log(const std::string& line) {
  std::fprintf(stderr, "replicator: %s\n", line.c_str());
  std::fflush(stderr);
}

// Says `line` at most once per `every` per key: a peer that is down must not flood the log.
class RateLimitedLog {
 public:
  void Say(const std::string& key, const std::string& line, std::chrono::seconds every = std::chrono::seconds(10)) {
    auto now = Clock::now();
    auto it = last_.find(key);
    if (it != last_.end() && now - it->second < every) return;
    last_[key] = now;
    Log(line);
  }

 private:
  std::map<std::string, Clock::time_point> last_;
};

void SetCommonOptions(zmq::socket_t& s, int hwm) {
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::sndhwm, hwm);
  s.set(zmq::sockopt::rcvhwm, hwm);
  s.set(zmq::sockopt::maxmsgsize, proto::kSocketMaxMessageBytes);
  proto::SetConnectionLiveness(s);
}

RegionClientOptions RegionOptions(const topology::Region& region, const std::optional<Credentials>& credentials,
                                  std::chrono::milliseconds deadline) {
  RegionClientOptions o;
  o.region = region;
  o.credentials = credentials;
  o.attempt_timeout = std::min(std::chrono::milliseconds(2000), deadline);
  o.deadline = deadline;
  return o;
}

}  // namespace

struct Replicator::Impl {
  ReplicatorOptions options;
  const topology::Region* region = nullptr;
  zmq::context_t context{1};
  std::unique_ptr<zmq::socket_t> router;
  std::string endpoint;
  std::atomic<bool> stop{false};
  std::thread sender;
  std::thread receiver;

  mutable std::mutex stats_mu;
  ReplicatorStats stats;

  explicit Impl(ReplicatorOptions o) : options(std::move(o)) {}

  std::optional<proto::FrameCredentials> FrameCreds() const {
    if (!options.credentials) return std::nullopt;
    return proto::FrameCredentials{options.credentials->access_key_id, options.credentials->secret_access_key};
  }

  // ---- the receiver: peers' batches into this region ----

  // Checks a peer's frame: signed by a key of access.yaml, a ReplicationApply from another region
  // of the topology. The request, or the error to answer with.
  Result<ReplicationApplyRequest> CheckBatch(const proto::DecodedRequest& decoded) const {
    MERIDIAN_RETURN_IF_ERROR(decoded.request.status());
    if (options.access != nullptr) {
      if (!decoded.auth) return Status(ErrorCode::kMissingAuthenticationToken, "Request is missing Authentication Token");
      std::optional<std::string> secret = options.access->Secret(decoded.auth->key_id);
      if (!secret) return Status(ErrorCode::kUnrecognizedClient, "The security token included in the request is invalid.");
      MERIDIAN_RETURN_IF_ERROR(proto::VerifyFrameAuth(*decoded.auth, *secret, EpochSeconds()));
      MERIDIAN_RETURN_IF_ERROR(options.access->Authorize(decoded.auth->key_id, OperationName(Operation::kReplicationApply),
                                                        {}, options.region));
    }
    const auto* batch = std::get_if<ReplicationApplyRequest>(&decoded.request.value());
    if (batch == nullptr) {
      return Status::Validation(std::string("a replicator accepts only ReplicationApply, not ") +
                                OperationName(OperationOf(decoded.request.value())));
    }
    if (batch->source == options.region || options.topology.FindRegion(batch->source) == nullptr) {
      return Status::Validation("ReplicationApply from '" + batch->source + "', which is not a peer region of " +
                                options.region + " in the topology");
    }
    return *batch;
  }

  void ReceiveLoop() {
    RegionClient client(RegionOptions(*region, options.credentials, options.apply_deadline));
    RateLimitedLog log;
    std::vector<zmq::message_t> parts;
    while (!stop.load()) {
      zmq::pollitem_t items[] = {{router->handle(), 0, ZMQ_POLLIN, 0}};
      try {
        zmq::poll(items, 1, std::chrono::milliseconds(100));
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) continue;
        log.Say("poll", std::string("receiver poll failed: ") + e.what());
        continue;
      }
      if (!(items[0].revents & ZMQ_POLLIN)) continue;
      parts.clear();
      if (!zmq::recv_multipart(*router, std::back_inserter(parts), zmq::recv_flags::dontwait)) continue;
      if (parts.size() < 2) continue;  // not from a DEALER: nothing to answer
      std::string_view bytes(static_cast<const char*>(parts.back().data()), parts.back().size());
      proto::DecodedRequest decoded = proto::DecodeRequest(bytes);
      Result<ReplicationApplyRequest> batch = CheckBatch(decoded);
      std::string reply;
      if (!batch.ok()) {
        {
          std::lock_guard lock(stats_mu);
          stats.batches_refused++;
        }
        log.Say("refused", "refused a frame: " + batch.status().ToString());
        reply = proto::EncodeError(decoded.request_id, Operation::kReplicationApply, batch.status());
      } else {
        {
          std::lock_guard lock(stats_mu);
          stats.batches_received++;
        }
        Result<Response> r = client.Call(Request{std::move(batch).value()});
        if (r.ok()) {
          reply = proto::EncodeResponse(decoded.request_id, r.value());
        } else {
          {
            std::lock_guard lock(stats_mu);
            stats.apply_failures++;
          }
          log.Say("apply", "this region did not commit a batch: " + r.status().ToString());
          reply = proto::EncodeError(decoded.request_id, Operation::kReplicationApply, r.status());
        }
      }
      try {
        // Identity envelope as received, then the reply. A peer gone meanwhile: dropped.
        for (size_t i = 0; i + 1 < parts.size(); ++i) {
          if (!router->send(parts[i], zmq::send_flags::sndmore | zmq::send_flags::dontwait)) break;
        }
        (void)router->send(zmq::buffer(reply), zmq::send_flags::dontwait);
      } catch (const zmq::error_t&) {
        // EHOSTUNREACH (router_mandatory): the peer disconnected; its shipper will resend.
      }
    }
  }

  // ---- the sender: this region's stream to every peer ----

  struct Peer {
    std::string name;
    std::unique_ptr<PeerShipper> shipper;
    std::unique_ptr<zmq::socket_t> dealer;
  };

  void SendLoop() {
    // Short: a read that fails is simply asked again by the shipper after retry_ms.
    RegionClient client(RegionOptions(*region, options.credentials, std::chrono::milliseconds(3000)));
    RateLimitedLog log;
    std::optional<proto::FrameCredentials> creds = FrameCreds();
    // Request ids name this process (a restarted replicator must not meet its predecessor's
    // answers in the peer region's request-id window) and the batch.
    std::string nonce = NewRequestId().substr(0, 12);
    std::vector<Peer> peers;
    for (const auto& r : options.topology.regions) {
      if (r.name == options.region || !r.replicator) continue;
      Peer p;
      p.name = r.name;
      p.shipper = std::make_unique<PeerShipper>(options.region, r.name, options.shipper);
      p.dealer = std::make_unique<zmq::socket_t>(context, zmq::socket_type::dealer);
      SetCommonOptions(*p.dealer, options.socket_hwm);
      p.dealer->set(zmq::sockopt::immediate, 1);
      p.dealer->connect(r.replicator->Endpoint());
      peers.push_back(std::move(p));
    }
    auto request_id = [&](const std::string& peer, uint64_t id) {
      return nonce + "/" + peer + "/" + std::to_string(id);
    };
    while (!stop.load()) {
      bool busy = false;
      for (Peer& p : peers) {
        int64_t now = NowMs();
        for (Action& a : p.shipper->Poll(now)) {
          busy = true;
          switch (a.kind) {
            case Action::Kind::kReadStream: {
              Result<Response> r = client.Call(Request{a.read});
              if (r.ok() && std::holds_alternative<ReplicationReadChangesResponse>(r.value())) {
                p.shipper->OnStreamRead(std::get<ReplicationReadChangesResponse>(r.value()), NowMs());
              } else {
                if (!r.ok()) log.Say("read-" + p.name, "reading this region's stream: " + r.status().ToString());
                p.shipper->OnStreamReadFailed(NowMs());
              }
              break;
            }
            case Action::Kind::kReadTable: {
              Result<Response> r = client.Call(Request{a.table_read});
              if (r.ok() && std::holds_alternative<ReplicationReadTableResponse>(r.value())) {
                p.shipper->OnTableRead(a.table_read.table, std::get<ReplicationReadTableResponse>(r.value()), NowMs());
              } else {
                if (!r.ok()) log.Say("table-" + p.name, "reading table " + a.table_read.table + ": " + r.status().ToString());
                p.shipper->OnTableReadFailed(a.table_read.table, NowMs());
              }
              break;
            }
            case Action::Kind::kSend: {
              std::string frame = proto::EncodeRequest(request_id(p.name, a.batch_id), Request{std::move(a.batch)},
                                                       creds ? &*creds : nullptr, EpochSeconds());
              bool sent = false;
              try {
                sent = p.dealer->send(zmq::buffer(frame), zmq::send_flags::dontwait).has_value();
              } catch (const zmq::error_t&) {
                sent = false;
              }
              // Not queued (peer unreachable, queue full): as a lost batch, the ack timeout resends.
              std::lock_guard lock(stats_mu);
              if (sent) stats_sent_[p.name]++;
              break;
            }
            case Action::Kind::kBackfillDone: {
              ReplicationBackfillDoneRequest done;
              done.table = a.table;
              done.peer = p.name;
              Result<Response> r = client.Call(Request{done});
              if (!r.ok()) log.Say("backfill-" + p.name, "recording the backfill of " + a.table + ": " + r.status().ToString());
              else Log("backfill of table " + a.table + " to " + p.name + " complete");
              p.shipper->OnBackfillDoneRecorded(a.table, r.ok(), NowMs());
              break;
            }
          }
        }
      }
      // Acks from every peer; wait a little only when there was nothing to do.
      std::vector<zmq::pollitem_t> items;
      for (Peer& p : peers) items.push_back({p.dealer->handle(), 0, ZMQ_POLLIN, 0});
      try {
        zmq::poll(items.data(), items.size(), std::chrono::milliseconds(busy ? 0 : 10));
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) log.Say("spoll", std::string("sender poll failed: ") + e.what());
        continue;
      }
      for (size_t i = 0; i < peers.size(); ++i) {
        if (!(items[i].revents & ZMQ_POLLIN)) continue;
        Peer& p = peers[i];
        for (int n = 0; n < 1000; ++n) {
          zmq::message_t msg;
          if (!p.dealer->recv(msg, zmq::recv_flags::dontwait)) break;
          proto::DecodedReply reply = proto::DecodeReply(msg.to_string_view());
          std::string prefix = nonce + "/" + p.name + "/";
          if (reply.request_id.rfind(prefix, 0) != 0) continue;  // not ours (a predecessor's)
          uint64_t id = 0;
          try {
            id = std::stoull(reply.request_id.substr(prefix.size()));
          } catch (const std::exception&) {
            continue;
          }
          if (!reply.response.ok()) {
            log.Say("nack-" + p.name, p.name + " did not apply a batch: " + reply.response.status().ToString());
            continue;  // the ack timeout resends
          }
          if (const auto* ack = std::get_if<ReplicationApplyResponse>(&reply.response.value())) {
            p.shipper->OnAck(id, *ack, NowMs());
          }
        }
      }
      std::lock_guard lock(stats_mu);
      stats.peers.clear();
      for (Peer& p : peers) {
        PeerStats s;
        s.peer = p.name;
        s.acked_cursor = p.shipper->acked_cursor();
        s.batches_sent = stats_sent_[p.name];
        s.batches_acked = p.shipper->counters().batches_acked;
        s.go_backs = p.shipper->counters().go_backs;
        s.in_flight = p.shipper->batches_in_flight();
        stats.peers.push_back(std::move(s));
      }
    }
  }

  std::map<std::string, uint64_t> stats_sent_;  // guarded by stats_mu
};

Replicator::Replicator(ReplicatorOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Replicator::~Replicator() { Stop(); }

Status Replicator::Start() {
  Impl& s = *impl_;
  s.region = s.options.topology.FindRegion(s.options.region);
  if (s.region == nullptr) return Status::Validation("no region '" + s.options.region + "' in the topology");
  if (!s.region->replicator) {
    return Status::Validation("region " + s.options.region + " has no replicator in the topology");
  }
  try {
    s.router = std::make_unique<zmq::socket_t>(s.context, zmq::socket_type::router);
    SetCommonOptions(*s.router, s.options.socket_hwm);
    s.router->set(zmq::sockopt::router_mandatory, 1);
    s.router->bind(s.region->replicator->BindEndpoint());
    s.endpoint = s.router->get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return Status(ErrorCode::kUnreachable,
                  "cannot bind " + s.region->replicator->BindEndpoint() + ": " + e.what());
  }
  s.receiver = std::thread([&s] { s.ReceiveLoop(); });
  s.sender = std::thread([&s] { s.SendLoop(); });
  return Status::Ok();
}

void Replicator::Stop() {
  Impl& s = *impl_;
  s.stop.store(true);
  if (s.sender.joinable()) s.sender.join();
  if (s.receiver.joinable()) s.receiver.join();
  s.router.reset();
}

std::string Replicator::endpoint() const { return impl_->endpoint; }

ReplicatorStats Replicator::stats() const {
  std::lock_guard lock(impl_->stats_mu);
  return impl_->stats;
}

}  // namespace meridian::replicator
