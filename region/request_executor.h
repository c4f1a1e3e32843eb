// RequestExecutor: the one request path behind every front end of a node (the native ZeroMQ
// NodeServer and the DynamoDB HTTP server).
//
// Execute (a) authorizes the request against the access store (AccessDeniedException in IAM's
// words), (b) for write operations remembers recent request ids with their answers, so a retry
// with the same id is applied at most once and gets the same answer (DESIGN.md, contract 4), and
// (c) calls Engine::Execute. The front ends only authenticate (SigV4 or the frame HMAC), decode
// and encode.
//
// The request-id window: an id is remembered for `request_id_window` (10 minutes) or until
// `request_id_max_entries` (100,000) newer ids have been remembered, whichever comes first, and
// all remembered answers together are bounded by `request_id_max_bytes`. AWS SDKs retry within
// seconds, so the window covers every SDK retry by a wide margin. Ids are scoped to the caller's
// access key and the operation, so two keys (or two operations) never share an answer. A write
// that fails with InternalServerError is not remembered: it may not have been applied, and the
// retry must be allowed to apply it. A second request with an id whose first is still executing
// waits (bounded) for the first's answer.
//
// Thread-safety: Execute may be called from many threads at once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "api/access.h"
#include "storage/engine.h"
#include "storage/status.h"

namespace meridian {

struct RequestContext {
  // The client's id for the request: the native frame's id or the HTTP amz-sdk-invocation-id
  // (else a fresh UUID). Empty: not deduplicated.
  std::string request_id;
  // The authenticated access key id; nullopt when the node runs with auth off.
  std::optional<std::string> principal;
};

struct RequestExecutorOptions {
  // nullptr: auth is off (--no-auth) and every request is allowed. Must outlive the executor.
  const api::AccessStore* access = nullptr;
  // Region named in table ARNs of AccessDenied messages.
  std::string region = "us-east-1";
  std::chrono::milliseconds request_id_window{10 * 60 * 1000};
  size_t request_id_max_entries = 100000;
  size_t request_id_max_bytes = 256u << 20;
  // How long a duplicate waits for the first request with its id to finish.
  std::chrono::milliseconds duplicate_wait{30000};
  // Injectable clock for tests.
  std::function<std::chrono::steady_clock::time_point()> now;
  // When set (a facility node of a region), authorized requests go here instead of the local
  // request-id window and the Engine: the replicated path (region/region_backend.h) keeps its own,
  // replicated, request log.
  std::function<Result<Response>(const RequestContext&, const Request&)> backend;
};

struct RequestExecutorStats {
  uint64_t executed = 0;
  uint64_t denied = 0;
  uint64_t replayed = 0;  // answered from the request-id window
  uint64_t remembered = 0;  // entries currently in the window
};

class RequestExecutor {
 public:
  // `engine` must outlive the executor.
  RequestExecutor(Engine* engine, RequestExecutorOptions options);
  ~RequestExecutor();

  RequestExecutor(const RequestExecutor&) = delete;
  RequestExecutor& operator=(const RequestExecutor&) = delete;

  Result<Response> Execute(const RequestContext& ctx, const Request& request);

  // Whether auth is on, and the store (nullptr when off).
  const api::AccessStore* access() const { return options_.access; }

  RequestExecutorStats stats() const;

 private:
  struct Entry;
  Result<Response> ExecuteOnce(const RequestContext& ctx, const Request& request);
  void EvictLocked(std::chrono::steady_clock::time_point now);

  Engine* engine_;
  RequestExecutorOptions options_;

  mutable std::mutex mu_;
  std::condition_variable done_;
  std::unordered_map<std::string, std::shared_ptr<Entry>> entries_;  // GUARDED_BY(mu_)
  struct Remembered {
    std::chrono::steady_clock::time_point time;
    std::string key;
    std::shared_ptr<Entry> entry;
  };
  std::deque<Remembered> order_;  // oldest first; GUARDED_BY(mu_)
  size_t bytes_ = 0;  // GUARDED_BY(mu_)
  uint64_t executed_ = 0, denied_ = 0, replayed_ = 0;  // GUARDED_BY(mu_)
};

}  // namespace meridian
