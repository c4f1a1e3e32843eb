// NodeServer: serves the native protocol (proto/frame.h) of one node on a ZeroMQ ROUTER socket.
//
// Shape: one broker thread owns the client-facing ROUTER and an inproc ROUTER to a fixed pool of
// worker threads (the load-balancing broker of the ZeroMQ guide). The broker reads a client frame
// only when a worker is idle, so requests wait in ZeroMQ's bounded queues (high-water marks), never
// in a queue of ours; workers decode, authenticate the frame (its key id and HMAC, proto/frame.h)
// against the access store, execute through the RequestExecutor (authorization, the request-id
// window, the Engine: the same path as the HTTP front end) and encode. A reply to a client that is
// gone or whose queue is full is dropped and counted (ZMQ_ROUTER_MANDATORY makes that visible);
// the client times out and retries. A frame that does not decode gets an error frame back.
//
// The region issue puts a Raft group between the workers and the Engine; this class stays the
// request front of a facility node.
//
// Thread-safety: Start and Stop from one thread; stats() from any.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "proto/frame.h"
#include "region/request_executor.h"
#include "storage/status.h"

namespace meridian {

struct NodeServerOptions {
  // tcp://HOST:PORT; port 0 picks a free one (see endpoint()).
  std::string listen = "tcp://127.0.0.1:0";
  int workers = 8;
  // ZeroMQ high-water mark (messages) on every socket: bounds what waits per peer.
  int socket_hwm = 1000;
  // Largest accepted difference between a signed frame's timestamp and the node's clock.
  int64_t max_skew_seconds = 15 * 60;
  // Client frames read while every worker is busy wait here, up to this many; beyond it they get
  // ServiceUnavailable at once. (The broker must keep reading: Raft traffic shares the socket.)
  size_t backlog = 4096;
  // kPeer frames (Raft, between the facilities of a region) go here, on the broker thread; the
  // callee must not block. Unset: peer frames are dropped.
  std::function<void(std::string frame)> on_peer_frame;
  // kNode frames (operator requests) are answered by this, on a worker thread, after the frame's
  // signature is checked (principal: the key id; nullopt when auth is off). Unset: refused.
  std::function<std::string(const proto::RawFrame& frame, const std::optional<std::string>& principal)> on_node_frame;
};

struct NodeServerStats {
  uint64_t requests = 0;
  uint64_t bad_frames = 0;
  uint64_t replies_dropped = 0;
  uint64_t auth_failures = 0;
};

class NodeServer {
 public:
  // `executor` must outlive the server. When executor->access() is set, every frame must be
  // signed by one of its keys.
  NodeServer(RequestExecutor* executor, NodeServerOptions options);
  ~NodeServer();  // Stops.

  NodeServer(const NodeServer&) = delete;
  NodeServer& operator=(const NodeServer&) = delete;

  // Binds and starts the threads. Non-OK if the address cannot be bound.
  Status Start();
  // The bound address with the real port, e.g. "tcp://127.0.0.1:40123"; valid after Start.
  const std::string& endpoint() const { return endpoint_; }
  // Stops accepting, finishes nothing new, joins every thread. Idempotent.
  void Stop();

  NodeServerStats stats() const;

 private:
  struct Shared;
  void BrokerLoop();
  void WorkerLoop();
  // Checks a frame's signature when auth is on; sets *principal.
  Status Authenticate(const std::optional<proto::FrameAuth>& auth, std::optional<std::string>* principal) const;
  std::string HandleFrame(std::string_view bytes);

  RequestExecutor* executor_;
  NodeServerOptions options_;
  std::string endpoint_;
  std::unique_ptr<Shared> shared_;
  std::thread broker_;
  std::vector<std::thread> workers_;
  std::atomic<bool> started_{false};
};

}  // namespace meridian
