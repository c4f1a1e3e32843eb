#include "region/node_server.h"

#include <deque>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "proto/frame.h"
#include "proto/node.h"
#include "proto/socket_options.h"

namespace meridian {

struct NodeServer::Shared {
  zmq::context_t context{1};
  zmq::socket_t frontend{context, zmq::socket_type::router};
  zmq::socket_t backend{context, zmq::socket_type::router};
  zmq::socket_t control_in{context, zmq::socket_type::pair};
  zmq::socket_t control_out{context, zmq::socket_type::pair};
  std::string backend_address;
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> bad_frames{0};
  std::atomic<uint64_t> replies_dropped{0};
  std::atomic<uint64_t> auth_failures{0};
};

NodeServer::NodeServer(RequestExecutor* executor, NodeServerOptions options)
    : executor_(executor), options_(std::move(options)), shared_(std::make_unique<Shared>()) {}

NodeServer::~NodeServer() { Stop(); }

Status NodeServer::Start() {
  Shared& s = *shared_;
  try {
    s.frontend.set(zmq::sockopt::linger, 0);
    s.frontend.set(zmq::sockopt::sndhwm, options_.socket_hwm);
    s.frontend.set(zmq::sockopt::rcvhwm, options_.socket_hwm);
    s.frontend.set(zmq::sockopt::router_mandatory, 1);
    s.frontend.set(zmq::sockopt::maxmsgsize, proto::kSocketMaxMessageBytes);
    proto::SetConnectionLiveness(s.frontend);
    s.frontend.bind(options_.listen);
    endpoint_ = s.frontend.get(zmq::sockopt::last_endpoint);

    s.backend_address = "inproc://workers-" + std::to_string(reinterpret_cast<uintptr_t>(this));
    s.backend.set(zmq::sockopt::linger, 0);
    s.backend.set(zmq::sockopt::router_mandatory, 1);
    s.backend.bind(s.backend_address);
    std::string control = "inproc://control-" + std::to_string(reinterpret_cast<uintptr_t>(this));
    s.control_in.bind(control);
    s.control_out.connect(control);
  } catch (const zmq::error_t& e) {
    return Status::Internal("cannot listen on " + options_.listen + ": " + e.what());
  }
  started_ = true;
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  broker_ = std::thread([this] { BrokerLoop(); });
  return Status::Ok();
}

void NodeServer::Stop() {
  if (!started_.exchange(false)) return;
  Shared& s = *shared_;
  s.control_out.send(zmq::str_buffer("stop"), zmq::send_flags::none);
  broker_.join();
  // Wakes every worker blocked in recv with ETERM.
  s.context.shutdown();
  for (auto& w : workers_) w.join();
  workers_.clear();
  s.frontend.close();
  s.backend.close();
  s.control_in.close();
  s.control_out.close();
}

NodeServerStats NodeServer::stats() const {
  return {shared_->requests.load(), shared_->bad_frames.load(), shared_->replies_dropped.load(),
          shared_->auth_failures.load()};
}

void NodeServer::BrokerLoop() {
  Shared& s = *shared_;
  // Identities of idle workers; at most options_.workers entries.
  std::deque<std::string> idle;
  // Client frames waiting for a worker: [identity, payload], at most options_.backlog.
  std::deque<std::pair<zmq::message_t, zmq::message_t>> backlog;
  std::vector<zmq::message_t> parts;
  for (;;) {
    zmq::pollitem_t items[] = {
        {s.control_in.handle(), 0, ZMQ_POLLIN, 0},
        {s.backend.handle(), 0, ZMQ_POLLIN, 0},
        {s.frontend.handle(), 0, ZMQ_POLLIN, 0},
    };
    try {
      zmq::poll(items, 3, std::chrono::milliseconds(-1));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      return;
    }
    if (items[0].revents & ZMQ_POLLIN) return;

    if (items[1].revents & ZMQ_POLLIN) {
      // [worker, client, reply] or [worker, "ready"].
      parts.clear();
      (void)zmq::recv_multipart(s.backend, std::back_inserter(parts));
      if (!parts.empty()) idle.push_back(parts[0].to_string());
      if (parts.size() == 3) {
        try {
          auto sent = s.frontend.send(parts[1], zmq::send_flags::sndmore | zmq::send_flags::dontwait);
          if (sent) sent = s.frontend.send(parts[2], zmq::send_flags::dontwait);
          if (!sent) s.replies_dropped++;
        } catch (const zmq::error_t&) {
          s.replies_dropped++;  // EHOSTUNREACH: the client is gone
        }
      }
    }

    if (items[2].revents & ZMQ_POLLIN) {
      parts.clear();
      (void)zmq::recv_multipart(s.frontend, std::back_inserter(parts));
      if (parts.size() < 2) continue;
      // A DEALER client sends [payload]; the ROUTER adds the identity. Anything else is refused
      // by the worker as an empty payload.
      zmq::message_t payload;
      if (parts.size() == 2) payload = std::move(parts[1]);
      std::string_view bytes(static_cast<const char*>(payload.data()), payload.size());
      if (proto::PeekFrameKind(bytes) == proto::FrameKind::kPeer) {
        if (options_.on_peer_frame) options_.on_peer_frame(std::string(bytes));
        continue;
      }
      if (backlog.size() >= options_.backlog) {
        s.replies_dropped++;
        std::string reply = proto::EncodeError("", Operation::kGetItem,
                                               Status(ErrorCode::kServiceUnavailable, "the node is overloaded; retry"));
        try {
          auto sent = s.frontend.send(parts[0], zmq::send_flags::sndmore | zmq::send_flags::dontwait);
          if (sent) (void)s.frontend.send(zmq::buffer(reply), zmq::send_flags::dontwait);
        } catch (const zmq::error_t&) {
        }
        continue;
      }
      backlog.emplace_back(std::move(parts[0]), std::move(payload));
    }

    while (!idle.empty() && !backlog.empty()) {
      std::string worker = std::move(idle.front());
      idle.pop_front();
      auto& [client, payload] = backlog.front();
      s.backend.send(zmq::buffer(worker), zmq::send_flags::sndmore);
      s.backend.send(client, zmq::send_flags::sndmore);
      s.backend.send(payload, zmq::send_flags::none);
      backlog.pop_front();
    }
  }
}

Status NodeServer::Authenticate(const std::optional<proto::FrameAuth>& auth,
                                std::optional<std::string>* principal) const {
  const api::AccessStore* access = executor_->access();
  if (!access) return Status::Ok();
  if (!auth) {
    return Status(ErrorCode::kMissingAuthenticationToken, "Request is missing Authentication Token");
  }
  std::optional<std::string> secret = access->Secret(auth->key_id);
  if (!secret) {
    return Status(ErrorCode::kUnrecognizedClient, "The security token included in the request is invalid.");
  }
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  MERIDIAN_RETURN_IF_ERROR(proto::VerifyFrameAuth(*auth, *secret, now, options_.max_skew_seconds));
  *principal = auth->key_id;
  return Status::Ok();
}

std::string NodeServer::HandleFrame(std::string_view bytes) {
  Shared& s = *shared_;
  if (proto::PeekFrameKind(bytes) == proto::FrameKind::kNode) {
    proto::RawFrame frame;
    Status st = proto::DecodeFrame(bytes, &frame);
    auto op = static_cast<proto::NodeOp>(frame.op);
    if (!st.ok()) {
      s.bad_frames++;
      return proto::EncodeNodeError(frame.request_id, op, st);
    }
    std::optional<std::string> principal;
    st = Authenticate(frame.auth, &principal);
    if (!st.ok()) {
      s.auth_failures++;
      return proto::EncodeNodeError(frame.request_id, op, st);
    }
    if (!options_.on_node_frame) {
      return proto::EncodeNodeError(frame.request_id, op,
                                    Status(ErrorCode::kUnknownOperation, "this node serves no node operations"));
    }
    return options_.on_node_frame(frame, principal);
  }
  proto::DecodedRequest decoded = proto::DecodeRequest(bytes);
  if (!decoded.request.ok()) {
    s.bad_frames++;
    return proto::EncodeError(decoded.request_id, decoded.operation, decoded.request.status());
  }
  RequestContext ctx{decoded.request_id, std::nullopt};
  Status auth = Authenticate(decoded.auth, &ctx.principal);
  Result<Response> response = Status::Internal("not executed");
  if (!auth.ok()) {
    s.auth_failures++;
    response = auth;
  } else {
    response = executor_->Execute(ctx, decoded.request.value());
  }
  return response.ok() ? proto::EncodeResponse(decoded.request_id, response.value())
                       : proto::EncodeError(decoded.request_id, decoded.operation, response.status());
}

void NodeServer::WorkerLoop() {
  Shared& s = *shared_;
  zmq::socket_t socket(s.context, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 0);
  try {
    socket.connect(s.backend_address);
    socket.send(zmq::str_buffer("ready"), zmq::send_flags::none);
    std::vector<zmq::message_t> parts;
    for (;;) {
      parts.clear();
      (void)zmq::recv_multipart(socket, std::back_inserter(parts));
      if (parts.size() != 2) continue;
      s.requests++;
      std::string_view bytes(static_cast<const char*>(parts[1].data()), parts[1].size());
      std::string reply = HandleFrame(bytes);
      socket.send(parts[0], zmq::send_flags::sndmore);
      socket.send(zmq::buffer(reply), zmq::send_flags::none);
    }
  } catch (const zmq::error_t&) {
    // ETERM from Stop: the context is shutting down.
  }
}

}  // namespace meridian
