#include "meridian/client.h"

#include <openssl/rand.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <zmq.hpp>

#include "client/zmq_support.h"
#include "proto/frame.h"
#include "proto/socket_options.h"

namespace meridian {

namespace client_internal {

zmq::context_t& SharedContext() {
  static zmq::context_t* context = new zmq::context_t(1);
  return *context;
}

ConnectionWatch::ConnectionWatch(zmq::socket_t& socket) : watched_(&socket) {
  // inproc names are per context, and the context is per process: a counter makes them unique.
  static std::atomic<uint64_t> next{0};
  std::string address = "inproc://meridian-connection-watch-" + std::to_string(++next);
  if (zmq_socket_monitor(socket.handle(), address.c_str(), ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_DISCONNECTED) != 0) {
    throw zmq::error_t();
  }
  pair_ = std::make_unique<zmq::socket_t>(SharedContext(), zmq::socket_type::pair);
  pair_->set(zmq::sockopt::linger, 0);
  pair_->connect(address);
}

ConnectionWatch::~ConnectionWatch() {
  // Stop the monitor before closing its reader: libzmq's IO thread sends each event with a
  // blocking send while holding the socket's monitor mutex, and a PAIR without its peer blocks,
  // so an event emitted after the reader closed would wedge the IO thread and with it this
  // zmq_socket_monitor call (seen as a `meridian start` stuck in its startup probe).
  (void)zmq_socket_monitor(watched_->handle(), nullptr, 0);
  pair_.reset();
}

bool ConnectionWatch::Drain() {
  bool failed = false;
  // An event is two frames: [uint16 event, uint32 value] and the endpoint. Bounded: the watched
  // socket retries a refused connection every 100 ms, so few can be pending.
  for (int i = 0; i < 1000; ++i) {
    zmq::message_t event;
    if (!pair_->recv(event, zmq::recv_flags::dontwait)) break;
    uint16_t id = 0;
    if (event.size() >= sizeof id) std::memcpy(&id, event.data(), sizeof id);
    while (event.more()) {
      zmq::message_t rest;
      if (!pair_->recv(rest, zmq::recv_flags::dontwait)) break;
      event = std::move(rest);
    }
    if (id == ZMQ_EVENT_CONNECT_RETRIED || id == ZMQ_EVENT_DISCONNECTED) failed = true;
  }
  return failed;
}

}  // namespace client_internal

namespace {

using client_internal::SharedContext;

// The request id a node reply carries, without decoding its body ("" when the envelope does not
// decode either).
std::string ReplyRequestId(std::string_view bytes) {
  proto::RawFrame frame;
  if (!proto::DecodeFrame(bytes, &frame).ok()) return "";
  return frame.request_id;
}

}  // namespace

std::string NewRequestId() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    // RAND_bytes fails only without entropy; a counter keeps ids distinct within the process.
    static std::atomic<uint64_t> counter{0};
    uint64_t c = ++counter;
    std::memcpy(bytes, &c, sizeof c);
  }
  static const char* kHex = "0123456789abcdef";
  std::string id;
  for (unsigned char b : bytes) {
    id.push_back(kHex[b >> 4]);
    id.push_back(kHex[b & 15]);
  }
  return id;
}

namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

}  // namespace

Result<Credentials> LoadSharedCredentials(const std::string& path, const std::string& profile) {
  std::ifstream in(path);
  if (!in) return Status::Validation("cannot read the credentials file " + path);
  Credentials c;
  std::string line, section;
  while (std::getline(in, line)) {
    line = Trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = Trim(line.substr(1, line.size() - 2));
      if (section.rfind("profile ", 0) == 0) section = Trim(section.substr(8));
      continue;
    }
    if (section != profile) continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = Trim(line.substr(0, eq)), value = Trim(line.substr(eq + 1));
    if (key == "aws_access_key_id") c.access_key_id = value;
    if (key == "aws_secret_access_key") c.secret_access_key = value;
  }
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return Status::Validation("no profile '" + profile + "' with aws_access_key_id and aws_secret_access_key in " + path);
  }
  return c;
}

std::optional<Credentials> CredentialsFromEnvironment() {
  const char* id = std::getenv("AWS_ACCESS_KEY_ID");
  const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
  if (!id || !*id || !secret || !*secret) return std::nullopt;
  return Credentials{id, secret};
}

struct Client::Impl {
  ClientOptions options;
  std::unique_ptr<zmq::socket_t> socket;
  // With fail_fast: the socket's connection events. Declared after `socket` so it goes first.
  std::unique_ptr<client_internal::ConnectionWatch> watch;

  void Drop() {
    watch.reset();
    socket.reset();
  }

  void Reset() {
    Drop();
    socket = std::make_unique<zmq::socket_t>(SharedContext(), zmq::socket_type::dealer);
    socket->set(zmq::sockopt::linger, 0);
    // Queue only on completed connections, so an unreachable node is seen as such instead of
    // queueing the request for whenever it comes back.
    socket->set(zmq::sockopt::immediate, 1);
    socket->set(zmq::sockopt::sndhwm, 100);
    socket->set(zmq::sockopt::rcvhwm, 100);
    socket->set(zmq::sockopt::maxmsgsize, proto::kSocketMaxMessageBytes);
    proto::SetConnectionLiveness(*socket);
    if (options.fail_fast) watch = std::make_unique<client_internal::ConnectionWatch>(*socket);
    socket->connect(options.endpoint);
  }

  // Polls the socket for `events` and, with fail_fast, the connection watch, until the socket is
  // ready (true), the watch reports a failure (*lost set), or `timeout` passes.
  bool Wait(short events, std::chrono::milliseconds timeout, bool* lost) {
    auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      zmq::pollitem_t items[] = {{socket->handle(), 0, events, 0},
                                 {watch ? watch->events().handle() : nullptr, 0, ZMQ_POLLIN, 0}};
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      zmq::poll(items, watch ? 2 : 1, std::max(std::chrono::milliseconds(0), left));
      if (items[0].revents & events) return true;
      if (watch && (items[1].revents & ZMQ_POLLIN) && watch->Drain()) {
        *lost = true;
        return false;
      }
      if (std::chrono::steady_clock::now() >= until) return false;
    }
  }

  std::optional<proto::FrameCredentials> Signer() const {
    if (!options.credentials) return std::nullopt;
    return proto::FrameCredentials{options.credentials->access_key_id,
                                   options.credentials->secret_access_key};
  }

  // Sends `frame` and waits for the reply to `id`. `decode(bytes)` gives the reply's request id
  // and its decoded value; a reply to another id is a stale answer to an earlier request and is
  // skipped.
  template <typename T, typename Decode>
  Result<T> RoundTrip(const std::string& frame, const std::string& id, Decode decode) {
    auto deadline = std::chrono::steady_clock::now() + options.timeout;
    auto remaining = [&] {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      return std::max<int64_t>(0, left.count());
    };
    try {
      if (!socket) Reset();
      // Events from before this call are history: if the node is still away, its next refused
      // reconnection (every 100 ms) says so again.
      if (watch) watch->Drain();
      bool lost = false;
      if (!Wait(ZMQ_POLLOUT, std::chrono::milliseconds(remaining()), &lost) ||
          !socket->send(zmq::buffer(frame), zmq::send_flags::dontwait)) {
        Drop();
        return Status(ErrorCode::kUnreachable, "cannot reach " + options.endpoint + (lost ? " (the connection failed)" : ""));
      }
      for (;;) {
        if (!Wait(ZMQ_POLLIN, std::chrono::milliseconds(remaining()), &lost)) {
          // Drop the socket with whatever it still holds so a late answer is never mistaken for
          // the answer to a later request.
          Drop();
          if (lost) {
            return Status(ErrorCode::kTimeout, "lost the connection to " + options.endpoint +
                                                   " before its answer (the request may have been applied)");
          }
          return Status(ErrorCode::kTimeout, "no answer from " + options.endpoint + " within " +
                                                 std::to_string(options.timeout.count()) + " ms");
        }
        zmq::message_t reply;
        if (!socket->recv(reply, zmq::recv_flags::dontwait)) continue;
        std::pair<std::string, Result<T>> decoded = decode(reply.to_string_view());
        // An empty id is the server's answer to a frame it could not read far enough to find the
        // id; one request is outstanding at a time, so it is ours. Another id is a stale answer.
        if (!decoded.first.empty() && decoded.first != id) continue;
        return std::move(decoded.second);
      }
    } catch (const zmq::error_t& e) {
      Drop();
      return Status(ErrorCode::kUnreachable, "cannot reach " + options.endpoint + ": " + e.what());
    }
  }

  Result<Response> Call(const Request& request, const std::string& id) {
    if (id.empty() || id.size() > kMaxRequestIdBytes) {
      return Status::Validation("a request id is 1 to " + std::to_string(kMaxRequestIdBytes) + " bytes");
    }
    std::optional<proto::FrameCredentials> signer = Signer();
    std::string frame = proto::EncodeRequest(id, request, signer ? &*signer : nullptr);
    return RoundTrip<Response>(frame, id, [](std::string_view bytes) {
      proto::DecodedReply decoded = proto::DecodeReply(bytes);
      return std::pair<std::string, Result<Response>>(std::move(decoded.request_id),
                                                      std::move(decoded.response));
    });
  }

  template <typename T>
  Result<T> Node(proto::NodeOp op, const proto::NodeAdminArgs& args, Result<T> (*decode)(std::string_view)) {
    std::string id = NewRequestId();
    std::optional<proto::FrameCredentials> signer = Signer();
    std::string frame = proto::EncodeNodeRequest(id, op, args, signer ? &*signer : nullptr);
    return RoundTrip<T>(frame, id, [decode](std::string_view bytes) {
      return std::pair<std::string, Result<T>>(ReplyRequestId(bytes), decode(bytes));
    });
  }
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

const std::string& Client::endpoint() const { return impl_->options.endpoint; }

std::chrono::milliseconds Client::timeout() const { return impl_->options.timeout; }
void Client::set_timeout(std::chrono::milliseconds timeout) { impl_->options.timeout = timeout; }

Result<Response> Client::Call(const Request& request) { return impl_->Call(request, NewRequestId()); }

Result<Response> Client::Call(const Request& request, std::string_view request_id) {
  return impl_->Call(request, std::string(request_id));
}

Result<proto::NodeStatus> Client::NodeStatus() {
  return impl_->Node<proto::NodeStatus>(proto::NodeOp::kStatus, {}, &proto::DecodeNodeStatusReply);
}

Result<proto::NodeAdminResult> Client::NodeAdmin(proto::NodeOp op, const proto::NodeAdminArgs& args) {
  if (op == proto::NodeOp::kStatus) return Status::Validation("NodeAdmin takes an admin op; use NodeStatus()");
  return impl_->Node<proto::NodeAdminResult>(op, args, &proto::DecodeNodeAdminReply);
}

template <typename Resp, typename Req>
Result<Resp> Client::CallTyped(const Req& r) {
  Result<Response> response = impl_->Call(Request(r), NewRequestId());
  if (!response.ok()) return response.status();
  if (auto* typed = std::get_if<Resp>(&response.value())) return std::move(*typed);
  return Status::Internal("the node answered with the response of another operation");
}

Result<CreateTableResponse> Client::CreateTable(const CreateTableRequest& r) { return CallTyped<CreateTableResponse>(r); }
Result<DescribeTableResponse> Client::DescribeTable(const DescribeTableRequest& r) { return CallTyped<DescribeTableResponse>(r); }
Result<ListTablesResponse> Client::ListTables(const ListTablesRequest& r) { return CallTyped<ListTablesResponse>(r); }
Result<DeleteTableResponse> Client::DeleteTable(const DeleteTableRequest& r) { return CallTyped<DeleteTableResponse>(r); }
Result<PutItemResponse> Client::PutItem(const PutItemRequest& r) { return CallTyped<PutItemResponse>(r); }
Result<GetItemResponse> Client::GetItem(const GetItemRequest& r) { return CallTyped<GetItemResponse>(r); }
Result<DeleteItemResponse> Client::DeleteItem(const DeleteItemRequest& r) { return CallTyped<DeleteItemResponse>(r); }
Result<UpdateItemResponse> Client::UpdateItem(const UpdateItemRequest& r) { return CallTyped<UpdateItemResponse>(r); }
Result<QueryResponse> Client::Query(const QueryRequest& r) { return CallTyped<QueryResponse>(r); }
Result<ScanResponse> Client::Scan(const ScanRequest& r) { return CallTyped<ScanResponse>(r); }
Result<BatchGetItemResponse> Client::BatchGetItem(const BatchGetItemRequest& r) { return CallTyped<BatchGetItemResponse>(r); }
Result<BatchWriteItemResponse> Client::BatchWriteItem(const BatchWriteItemRequest& r) { return CallTyped<BatchWriteItemResponse>(r); }

}  // namespace meridian
