#include "api/http_server.h"

#include <openssl/rand.h>
#include <zlib.h>

#include <algorithm>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "api/json_codec.h"

namespace meridian::api {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr std::string_view kTargetPrefix = "DynamoDB_20120810.";
constexpr std::string_view kJsonType = "application/x-amz-json-1.0";
constexpr uint32_t kHeaderLimitBytes = 16 * 1024;

std::string NewUuid() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) {
    static std::atomic<uint64_t> counter{0};
    uint64_t c = ++counter;
    std::memcpy(b, &c, sizeof c);
  }
  b[6] = (b[6] & 0x0f) | 0x40;  // version 4
  b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 15]);
  }
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Dumps JSON for the wire; an S value with ill-formed UTF-8 (possible only for data written over
// the native protocol) is sent with replacement characters rather than failing the request.
std::string Dump(const nlohmann::json& j) {
  try {
    return j.dump();
  } catch (const nlohmann::json::type_error&) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
}

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

// What a worker hands back to the connection.
struct Answer {
  unsigned status = 200;
  std::string body;
  std::string content_type = std::string(kJsonType);
  std::string request_id;
  bool close = false;
};

}  // namespace

struct HttpServer::Impl {
  RequestExecutor* executor;
  HttpServerOptions options;
  net::io_context ioc;
  std::optional<net::ssl::context> ssl;
  tcp::acceptor acceptor{ioc};
  net::thread_pool workers;
  std::vector<std::thread> io_threads;
  std::string address;  // host:port, for DescribeEndpoints
  std::atomic<uint64_t> accepted{0}, refused{0}, open{0}, requests{0}, errors{0};
  std::atomic<bool> stopping{false};

  Impl(RequestExecutor* e, HttpServerOptions o)
      : executor(e), options(std::move(o)), ioc(std::max(1, options.io_threads)),
        workers(static_cast<size_t>(std::max(1, options.worker_threads))) {}

  void Accept();
  Answer Process(const http::request<http::string_body>& req);
  Answer Error(const Status& st, const std::string& request_id) {
    errors++;
    Answer a;
    a.status = static_cast<unsigned>(ErrorHttpStatus(st.code()));
    a.body = Dump(EncodeError(st));
    a.request_id = request_id;
    return a;
  }
};

namespace {

// One connection. Stream is beast::tcp_stream or beast::ssl_stream<beast::tcp_stream>.
template <typename Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  template <typename... Args>
  Session(HttpServer::Impl* server, Args&&... args)
      : server_(server), stream_(std::forward<Args>(args)...) {
    server_->open++;
  }
  ~Session() { server_->open--; }

  void Run() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      ReadHeader();
    } else {
      beast::get_lowest_layer(stream_).expires_after(server_->options.header_timeout);
      stream_.async_handshake(net::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return self->Close();
                                self->ReadHeader();
                              });
    }
  }

 private:
  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimitBytes);
    parser_->body_limit(server_->options.body_limit);
    beast::get_lowest_layer(stream_).expires_after(server_->options.header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              self->OnHeader(ec);
                            });
  }

  void OnHeader(beast::error_code ec) {
    // Beast compares Content-Length with the body limit as soon as the headers are parsed.
    if (ec == http::error::body_limit) return TooLarge();
    if (ec) return Close();  // timeout, reset, malformed or oversized headers
    auto length = parser_->content_length();
    if (length && *length > server_->options.body_limit) return TooLarge();
    beast::get_lowest_layer(stream_).expires_after(server_->options.body_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       self->OnBody(ec);
                     });
  }

  void OnBody(beast::error_code ec) {
    if (ec == http::error::body_limit) return TooLarge();
    if (ec) return Close();
    auto req = std::make_shared<http::request<http::string_body>>(parser_->release());
    keep_alive_ = req->keep_alive();
    beast::get_lowest_layer(stream_).expires_never();
    server_->requests++;
    // The engine may fsync: run on the worker pool, answer on this connection's strand.
    net::post(server_->workers, [self = this->shared_from_this(), req] {
      Answer answer = self->server_->Process(*req);
      net::post(self->stream_.get_executor(),
                [self, answer = std::move(answer)]() mutable { self->Write(std::move(answer)); });
    });
  }

  void TooLarge() {
    Answer a = server_->Error(Status::Validation("Request size exceeds " +
                                                 std::to_string(server_->options.body_limit) + " bytes"),
                              NewUuid());
    a.status = 413;
    a.close = true;
    Write(std::move(a));
  }

  void Write(Answer answer) {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(11);
    res->result(answer.status);
    res->set(http::field::content_type, answer.content_type);
    res->set("x-amzn-RequestId", answer.request_id);
    res->set("x-amz-crc32", std::to_string(crc32(0L, reinterpret_cast<const Bytef*>(answer.body.data()),
                                                  static_cast<uInt>(answer.body.size()))));
    res->body() = std::move(answer.body);
    bool keep = keep_alive_ && !answer.close && !server_->stopping;
    res->keep_alive(keep);
    res->prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(server_->options.write_timeout);
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res, keep](beast::error_code ec, size_t) {
                        if (ec || !keep) return self->Close();
                        self->ReadHeader();
                      });
  }

  void Close() {
    beast::error_code ignored;
    auto& socket = beast::get_lowest_layer(stream_).socket();
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  HttpServer::Impl* server_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = true;
};

}  // namespace

void HttpServer::Impl::Accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || stopping) return;
    if (ec) {
      // EMFILE and friends: back off briefly instead of spinning on a failing accept.
      auto timer = std::make_shared<net::steady_timer>(ioc, std::chrono::milliseconds(50));
      timer->async_wait([this, timer](beast::error_code) {
        if (!stopping) Accept();
      });
      return;
    }
    {
      if (open.load() >= options.max_connections) {
        refused++;
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        accepted++;
        socket.set_option(tcp::no_delay(true), ec);
        if (ssl) {
          std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(this, std::move(socket), *ssl)->Run();
        } else {
          std::make_shared<Session<beast::tcp_stream>>(this, std::move(socket))->Run();
        }
      }
    }
    Accept();
  });
}

Answer HttpServer::Impl::Process(const http::request<http::string_body>& req) {
  std::string request_id;
  if (req.count("amz-sdk-invocation-id") == 1) {
    auto field = req["amz-sdk-invocation-id"];
    std::string_view v(field.data(), field.size());
    if (!v.empty() && v.size() <= 128) request_id = std::string(v);
  }
  if (request_id.empty()) request_id = NewUuid();

  std::string_view target(req.target().data(), req.target().size());
  if (req.method() == http::verb::get && target == "/") {
    Answer a;
    a.content_type = "text/plain";
    a.body = "healthy: dynamodb." + options.region + ".amazonaws.com ";
    a.request_id = request_id;
    return a;
  }
  if (req.method() != http::verb::post || target != "/") {
    return Error(Status(ErrorCode::kUnknownOperation, "Only POST / is served (and GET / for health)"), request_id);
  }
  for (auto field : {http::field::content_type}) {
    if (req.count(field) > 1) return Error(Status::Serialization("Duplicate Content-Type header"), request_id);
  }
  if (req.count("x-amz-target") > 1) return Error(Status::Serialization("Duplicate X-Amz-Target header"), request_id);
  std::string content_type = Lower(std::string_view(req[http::field::content_type].data(),
                                                    req[http::field::content_type].size()));
  std::string media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && media.back() == ' ') media.pop_back();
  std::string_view x_target(req["x-amz-target"].data(), req["x-amz-target"].size());
  if (x_target.substr(0, kTargetPrefix.size()) != kTargetPrefix) {
    return Error(Status(ErrorCode::kUnknownOperation,
                        x_target.empty() ? "Missing X-Amz-Target header"
                                         : "Unknown target " + std::string(x_target)),
                 request_id);
  }
  if (media != kJsonType) {
    // DynamoDB answers a request in a protocol it does not recognize with UnknownOperation.
    return Error(Status(ErrorCode::kUnknownOperation,
                        "Content-Type must be application/x-amz-json-1.0, not '" + content_type + "'"),
                 request_id);
  }
  std::string operation(x_target.substr(kTargetPrefix.size()));

  RequestContext ctx{request_id, std::nullopt};
  if (const AccessStore* access = executor->access()) {
    SignableRequest signable;
    signable.method = std::string(req.method_string());
    signable.target = std::string(target);
    for (const auto& field : req) {
      signable.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    signable.body = req.body();
    auto identity = VerifySigV4(
        signable, [access](std::string_view id) { return access->Secret(id); }, NowSeconds(),
        options.sigv4);
    if (!identity.ok()) return Error(identity.status(), request_id);
    ctx.principal = identity->access_key_id;
  }

  if (operation == "DescribeEndpoints") {
    if (const AccessStore* access = executor->access()) {
      Status st = access->Authorize(*ctx.principal, "DescribeEndpoints", {}, options.region);
      if (!st.ok()) return Error(st, request_id);
    }
    Answer a;
    a.request_id = request_id;
    a.body = Dump({{"Endpoints", {{{"Address", address}, {"CachePeriodInMinutes", 1440}}}}});
    return a;
  }
  Result<Request> request = DecodeRequest(operation, req.body());
  if (!request.ok()) return Error(request.status(), request_id);
  Result<Response> response = executor->Execute(ctx, request.value());
  if (!response.ok()) return Error(response.status(), request_id);
  Answer a;
  a.request_id = request_id;
  a.body = Dump(EncodeResponse(response.value()));
  return a;
}

HttpServer::HttpServer(RequestExecutor* executor, HttpServerOptions options)
    : impl_(std::make_unique<Impl>(executor, std::move(options))) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  Impl& s = *impl_;
  const std::string& listen = s.options.listen;
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return Status::Validation("--http takes HOST:PORT, not " + listen);
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = std::atoi(listen.c_str() + colon + 1);
  beast::error_code ec;
  auto address = net::ip::make_address(host, ec);
  if (ec || port < 0 || port > 65535) return Status::Validation("--http takes IP:PORT, not " + listen);

  if (s.options.tls) {
    s.ssl.emplace(net::ssl::context::tls_server);
    s.ssl->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                       net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                       net::ssl::context::no_tlsv1_1);
    s.ssl->use_certificate_chain_file(s.options.tls->cert.string(), ec);
    if (!ec) s.ssl->use_private_key_file(s.options.tls->key.string(), net::ssl::context::pem, ec);
    if (ec) return Status::Validation("cannot load the TLS certificate or key: " + ec.message());
  }

  tcp::endpoint ep(address, static_cast<unsigned short>(port));
  s.acceptor.open(ep.protocol(), ec);
  if (!ec) s.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(ep, ec);
  if (!ec) s.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Status::Internal("cannot listen on " + listen + ": " + ec.message());
  tcp::endpoint bound = s.acceptor.local_endpoint();
  std::string host_text = bound.address().is_v6() ? "[" + bound.address().to_string() + "]"
                                                  : bound.address().to_string();
  s.address = host_text + ":" + std::to_string(bound.port());
  endpoint_ = (s.ssl ? "https://" : "http://") + s.address;
  s.Accept();
  for (int i = 0; i < std::max(1, s.options.io_threads); ++i) {
    s.io_threads.emplace_back([&s] { s.ioc.run(); });
  }
  return Status::Ok();
}

void HttpServer::Stop() {
  Impl& s = *impl_;
  if (s.stopping.exchange(true)) return;
  net::post(s.acceptor.get_executor(), [&s] {
    beast::error_code ignored;
    s.acceptor.close(ignored);
  });
  s.ioc.stop();
  for (auto& t : s.io_threads) t.join();
  s.io_threads.clear();
  s.workers.join();
}

HttpServerStats HttpServer::stats() const {
  const Impl& s = *impl_;
  return {s.accepted.load(), s.refused.load(), s.open.load(), s.requests.load(), s.errors.load()};
}

}  // namespace meridian::api
