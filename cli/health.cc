// `meridian health URL [--timeout-ms N]`: the containers' health check (the image has no curl and
// no shell tools). http(s)://HOST:PORT/PATH: healthy when `GET PATH` answers 2xx (a facility's
// unauthenticated `GET /`); tcp://HOST:PORT: healthy when a TCP connection is accepted (a
// replicator). https does not verify the certificate: the check runs against 127.0.0.1 inside the
// container, where the certificate's name cannot match, and sends nothing secret.
#include "cli/health.h"

#include <chrono>
#include <iostream>
#include <optional>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "cli/args.h"
#include "cli/common.h"

namespace meridian::cli {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr int64_t kDefaultTimeoutMs = 2000;

struct Target {
  std::string scheme;  // http, https or tcp
  std::string host;    // without IPv6 brackets
  std::string port;
  std::string path;  // http(s) only; "/" when the URL has none
};

std::optional<Target> ParseTarget(const std::string& url) {
  Target t;
  size_t sep = url.find("://");
  if (sep == std::string::npos) return std::nullopt;
  t.scheme = url.substr(0, sep);
  if (t.scheme != "http" && t.scheme != "https" && t.scheme != "tcp") return std::nullopt;
  std::string rest = url.substr(sep + 3);
  size_t slash = rest.find('/');
  t.path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string authority = rest.substr(0, slash);
  if (t.scheme == "tcp" && t.path != "/") return std::nullopt;
  size_t colon;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) return std::nullopt;
    t.host = authority.substr(1, close - 1);
    colon = close + 1 < authority.size() && authority[close + 1] == ':' ? close + 1 : std::string::npos;
    if (colon == std::string::npos && close + 1 != authority.size()) return std::nullopt;
  } else {
    colon = authority.rfind(':');
    t.host = authority.substr(0, colon);
  }
  if (colon != std::string::npos) t.port = authority.substr(colon + 1);
  if (t.port.empty()) {
    if (t.scheme == "tcp") return std::nullopt;
    t.port = t.scheme == "https" ? "443" : "80";
  }
  if (t.host.empty() || t.port.find_first_not_of("0123456789") != std::string::npos || t.port.size() > 5 ||
      std::stoi(t.port) < 1 || std::stoi(t.port) > 65535) {
    return std::nullopt;
  }
  return t;
}

// One check on one io_context: resolve, connect, then for http(s) [TLS handshake,] GET and read
// the answer. The caller bounds the whole of it with io_context::run_for; `verdict` stays empty
// when the time ran out first.
class Check {
 public:
  Check(asio::io_context& io, Target target)
      : target_(std::move(target)), resolver_(io), tls_context_(asio::ssl::context::tls_client), stream_(io, tls_context_) {
    tls_context_.set_verify_mode(asio::ssl::verify_none);
  }

  void Start() {
    resolver_.async_resolve(target_.host, target_.port, [this](error_code ec, tcp::resolver::results_type found) {
      if (ec) return Finish(false, "cannot resolve " + target_.host + ": " + ec.message());
      asio::async_connect(stream_.next_layer(), found, [this](error_code ec, const tcp::endpoint&) {
        if (ec) return Finish(false, "cannot connect: " + ec.message());
        if (target_.scheme == "tcp") return Finish(true, "accepts connections");
        if (target_.scheme == "http") return Exchange(stream_.next_layer());
        // SNI, for a server that picks its certificate by name.
        SSL_set_tlsext_host_name(stream_.native_handle(), target_.host.c_str());
        stream_.async_handshake(asio::ssl::stream_base::client, [this](error_code ec) {
          if (ec) return Finish(false, "TLS handshake failed: " + ec.message());
          Exchange(stream_);
        });
      });
    });
  }

  const std::optional<std::pair<bool, std::string>>& verdict() const { return verdict_; }

 private:
  template <typename Stream>
  void Exchange(Stream& stream) {
    request_ = http::request<http::empty_body>(http::verb::get, target_.path, 11);
    request_.set(http::field::host, target_.host + ":" + target_.port);
    request_.set(http::field::user_agent, "meridian-health");
    request_.set(http::field::connection, "close");
    http::async_write(stream, request_, [this, &stream](error_code ec, size_t) {
      if (ec) return Finish(false, "cannot send the request: " + ec.message());
      http::async_read(stream, buffer_, response_, [this](error_code ec, size_t) {
        if (ec) return Finish(false, "no answer: " + ec.message());
        const unsigned status = response_.result_int();
        Finish(status >= 200 && status < 300,
               std::to_string(status) + " " + std::string(response_.reason()));
      });
    });
  }

  void Finish(bool healthy, std::string why) { verdict_.emplace(healthy, std::move(why)); }

  Target target_;
  tcp::resolver resolver_;
  asio::ssl::context tls_context_;
  beast::ssl_stream<tcp::socket> stream_;
  http::request<http::empty_body> request_;
  beast::flat_buffer buffer_;
  http::response<http::string_body> response_;
  std::optional<std::pair<bool, std::string>> verdict_;
};

}  // namespace

int CmdHealth(int argc, char** argv) {
  Args args;
  std::string error;
  if (!args.Parse(argc, argv, 2, {"timeout-ms"}, {}, &error)) return UsageError(error);
  if (args.positional().size() != 1) {
    return UsageError("health takes one URL: http://HOST:PORT/, https://HOST:PORT/ or tcp://HOST:PORT");
  }
  const std::string& url = args.positional().front();
  std::optional<Target> target = ParseTarget(url);
  if (!target) {
    return UsageError("'" + url + "' is not a URL to check: http://HOST:PORT/PATH, https://HOST:PORT/PATH or "
                      "tcp://HOST:PORT");
  }
  int64_t timeout_ms = kDefaultTimeoutMs;
  if (args.Has("timeout-ms")) {
    std::optional<int64_t> t = IntArg(args, "timeout-ms");
    if (!t || *t < 1 || *t > 3'600'000) return UsageError("--timeout-ms takes a number of milliseconds (1-3600000)");
    timeout_ms = *t;
  }

  asio::io_context io;
  Check check(io, *target);
  check.Start();
  io.run_for(std::chrono::milliseconds(timeout_ms));
  if (!check.verdict()) {
    std::cerr << "meridian health: " << url << ": no answer within " << timeout_ms << " ms\n";
    return kExitUnreachable;
  }
  const auto& [healthy, why] = *check.verdict();
  (healthy ? std::cout : std::cerr) << "meridian health: " << url << ": " << why << "\n";
  return healthy ? kExitOk : kExitUnreachable;
}

}  // namespace meridian::cli
