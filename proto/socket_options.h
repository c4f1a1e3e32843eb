// ZeroMQ options for the long-lived connections between Meridian processes: Raft peers, a
// follower forwarding to its leader, replicators, clients and the nodes' listening sockets.
#pragma once

#include <zmq.hpp>

namespace meridian::proto {

// A connection whose peer vanished without a FIN or an RST (a network cut, a peer's container given
// a new address when it rejoins a network) stays established for TCP until it gives up, about
// 15 minutes, and whatever is sent on it meanwhile is lost: a replicator cut off from the other
// regions and let back never delivered again (found by the chaos suite's region-isolation on the
// compose backend). Two bounds drop such a connection, after which the connecting side dials
// again (every 100 ms, resolving the peer's name again):
// - ZMTP heartbeats, for a connection with nothing to send: a PING every second, dropped when
//   nothing arrives for 3 s;
// - TCP_USER_TIMEOUT (ZMQ_TCP_MAXRT), for one with data in flight, where ZeroMQ cannot even queue
//   its PING behind the unsent data: dropped when data stays unacknowledged for 10 s. A live peer
//   acknowledges within a round trip even while its process is paused (its kernel does it).
inline constexpr int kHeartbeatIntervalMs = 1000;
inline constexpr int kHeartbeatTimeoutMs = 3000;
inline constexpr int kUnackedTimeoutMs = 10000;

inline void SetConnectionLiveness(zmq::socket_t& socket) {
  socket.set(zmq::sockopt::heartbeat_ivl, kHeartbeatIntervalMs);
  socket.set(zmq::sockopt::heartbeat_timeout, kHeartbeatTimeoutMs);
  // Asks the peer to drop the connection too when our PINGs stop for as long.
  socket.set(zmq::sockopt::heartbeat_ttl, kHeartbeatTimeoutMs);
  socket.set(zmq::sockopt::tcp_maxrt, kUnackedTimeoutMs);
}

}  // namespace meridian::proto
