// ZeroMQ plumbing shared by the client library's sockets (internal header, not part of the public
// API in client/include): the process-wide context, and ConnectionWatch, which tells a client at
// once that its peer refused the connection or dropped it, where ZeroMQ alone would only show a
// socket that never becomes writable or never answers until the timeout.
//
// Thread-safety: the context is thread-safe; a ConnectionWatch, like the socket it watches,
// belongs to one thread.
#pragma once

#include <memory>

#include <zmq.hpp>

namespace meridian::client_internal {

// Created on first use and never destroyed: terminating a context at static-destruction time
// could block on sockets other code still holds.
zmq::context_t& SharedContext();

// Watches one socket's connection events (zmq_socket_monitor over a private inproc PAIR): a
// connection attempt that failed (refused, no route) or an established connection that closed.
// Create it before the socket connects, destroy it before or with the socket.
class ConnectionWatch {
 public:
  explicit ConnectionWatch(zmq::socket_t& socket);
  ~ConnectionWatch();
  ConnectionWatch(const ConnectionWatch&) = delete;
  ConnectionWatch& operator=(const ConnectionWatch&) = delete;

  // The socket to poll for ZMQ_POLLIN: readable when an event is pending.
  zmq::socket_t& events() { return *pair_; }
  // Reads every pending event; true when any says the connection failed or was lost.
  bool Drain();

 private:
  zmq::socket_t* watched_;
  std::unique_ptr<zmq::socket_t> pair_;
};

}  // namespace meridian::client_internal
