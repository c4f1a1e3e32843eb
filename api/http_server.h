// HttpServer: DynamoDB's JSON protocol over HTTP/1.1 (and HTTPS), for the AWS CLI, boto3 and the
// AWS SDKs pointed at a node with --endpoint-url.
//
// Library: Boost.Beast on Boost.Asio (Debian libboost-dev, header-only). Asio gives an
// event-driven server on a fixed pool of io threads (no thread per connection), Beast a
// hardened HTTP/1.1 parser with a body limit enforced while reading and per-operation timeouts
// on its tcp_stream, and Asio's ssl stream gives TLS through the same OpenSSL the rest of the
// project uses. See docs/ARCHITECTURE.md for the comparison with evhttp and libmicrohttpd.
//
// Per request: `GET /` answers the health text unauthenticated; `POST /` needs
// `X-Amz-Target: DynamoDB_20120810.<Operation>` and `Content-Type: application/x-amz-json-1.0`
// (any parameters), is verified with SigV4 (api/sigv4.h) when auth is on, decoded with
// api/json_codec (the one mapping, shared with `meridian call`) and executed through the
// RequestExecutor (authorization, the request-id window, the engine: the same path as the native
// protocol). Answers carry `x-amzn-RequestId` (the request's `amz-sdk-invocation-id`, else a fresh
// UUID, which is also the idempotency key of a write) and `x-amz-crc32` (zlib's CRC32 of the body)
// as DynamoDB sends them. Errors are `{"__type", "message"}` with 400 for client errors and 500
// for ours.
//
// Bounds, so no client can hold the server: at most `max_connections` connections (more are
// closed on accept); a request's headers must arrive within `header_timeout` (also the keep-alive
// idle time) and its body within `body_timeout`, else the connection is closed; a body over
// `body_limit` (checked against Content-Length before any of it is read, and while reading a
// chunked one) is refused with 413 and the connection closed; headers are capped at 16 KB.
// Execution happens on a fixed pool of worker threads, at most one request per connection at a
// time, so the work queue is bounded by max_connections; io threads never block on the engine.
//
// Thread-safety: Start and Stop from one thread; endpoint() and stats() from any.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "api/sigv4.h"
#include "api/tls.h"
#include "region/request_executor.h"
#include "storage/status.h"

namespace meridian::api {

struct HttpServerOptions {
  // HOST:PORT to listen on; port 0 picks a free one (see endpoint()).
  std::string listen = "127.0.0.1:0";
  int io_threads = 2;
  int worker_threads = 8;
  size_t max_connections = 1024;
  // DynamoDB's largest request is a 16 MB BatchWriteItem; the rest is JSON overhead.
  uint64_t body_limit = (16u << 20) + (1u << 20);
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds body_timeout{60000};
  std::chrono::milliseconds write_timeout{60000};
  // Shown in the health text (`healthy: dynamodb.<region>.amazonaws.com `).
  std::string region = "us-east-1";
  SigV4Options sigv4;
  // Serve HTTPS with these files.
  std::optional<TlsFiles> tls;
};

struct HttpServerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;  // over max_connections
  uint64_t connections_open = 0;
  uint64_t requests = 0;
  uint64_t errors = 0;  // answered with an error
};

class HttpServer {
 public:
  // `executor` must outlive the server; its access store (if any) verifies signatures.
  HttpServer(RequestExecutor* executor, HttpServerOptions options);
  ~HttpServer();  // Stops.

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the threads. Non-OK if the address cannot be bound or the TLS files load.
  Status Start();
  // "http://127.0.0.1:PORT" or "https://..."; valid after Start.
  const std::string& endpoint() const { return endpoint_; }
  // Closes the listener and every connection, joins every thread. Idempotent.
  void Stop();

  HttpServerStats stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::string endpoint_;
};

}  // namespace meridian::api
