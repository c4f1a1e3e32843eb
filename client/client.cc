#include "meridian/client.h"

#include <openssl/rand.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <zmq.hpp>

#include "proto/frame.h"

namespace meridian {
namespace {

// One context for the whole process, never destroyed: contexts are thread-safe, and terminating
// one at static-destruction time could block on sockets other code still holds.
zmq::context_t& SharedContext() {
  static zmq::context_t* context = new zmq::context_t(1);
  return *context;
}

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

  void Reset() {
    socket = std::make_unique<zmq::socket_t>(SharedContext(), zmq::socket_type::dealer);
    socket->set(zmq::sockopt::linger, 0);
    // Queue only on completed connections, so an unreachable node is seen as such instead of
    // queueing the request for whenever it comes back.
    socket->set(zmq::sockopt::immediate, 1);
    socket->set(zmq::sockopt::sndhwm, 100);
    socket->set(zmq::sockopt::rcvhwm, 100);
    socket->set(zmq::sockopt::maxmsgsize, proto::kSocketMaxMessageBytes);
    socket->connect(options.endpoint);
  }

  Result<Response> Call(const Request& request) {
    auto deadline = std::chrono::steady_clock::now() + options.timeout;
    auto remaining = [&] {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      return std::max<int64_t>(0, left.count());
    };
    std::string id = NewRequestId();
    std::optional<proto::FrameCredentials> signer;
    if (options.credentials) {
      signer = proto::FrameCredentials{options.credentials->access_key_id, options.credentials->secret_access_key};
    }
    std::string frame = proto::EncodeRequest(id, request, signer ? &*signer : nullptr);
    try {
      if (!socket) Reset();
      zmq::pollitem_t out[] = {{socket->handle(), 0, ZMQ_POLLOUT, 0}};
      zmq::poll(out, 1, std::chrono::milliseconds(remaining()));
      if (!(out[0].revents & ZMQ_POLLOUT) ||
          !socket->send(zmq::buffer(frame), zmq::send_flags::dontwait)) {
        socket.reset();
        return Status(ErrorCode::kUnreachable, "cannot reach " + options.endpoint);
      }
      for (;;) {
        zmq::pollitem_t in[] = {{socket->handle(), 0, ZMQ_POLLIN, 0}};
        zmq::poll(in, 1, std::chrono::milliseconds(remaining()));
        if (!(in[0].revents & ZMQ_POLLIN)) {
          // Drop the socket with whatever it still holds so a late answer is never mistaken for
          // the answer to a later request.
          socket.reset();
          return Status(ErrorCode::kTimeout, "no answer from " + options.endpoint + " within " +
                                                 std::to_string(options.timeout.count()) + " ms");
        }
        zmq::message_t reply;
        if (!socket->recv(reply, zmq::recv_flags::dontwait)) continue;
        proto::DecodedReply decoded = proto::DecodeReply(reply.to_string_view());
        // An empty id is the server's answer to a frame it could not read far enough to find the
        // id; one request is outstanding at a time, so it is ours. Another id is a stale answer.
        if (!decoded.request_id.empty() && decoded.request_id != id) continue;
        return std::move(decoded.response);
      }
    } catch (const zmq::error_t& e) {
      socket.reset();
      return Status(ErrorCode::kUnreachable, "cannot reach " + options.endpoint + ": " + e.what());
    }
  }
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

const std::string& Client::endpoint() const { return impl_->options.endpoint; }

Result<Response> Client::Call(const Request& request) { return impl_->Call(request); }

template <typename Resp, typename Req>
Result<Resp> Client::CallTyped(const Req& r) {
  Result<Response> response = impl_->Call(Request(r));
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
