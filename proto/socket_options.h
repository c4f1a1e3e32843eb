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
// And a third bound, on dialing: a connect() that gets no answer is abandoned after 2 s and tried
// again. Without it a dial made while the network was cut waited on the kernel's SYN retries,
// minutes: a replicator whose container was disconnected from the inter-region network dialed the
// other region through its region network's interface (the only route left), the heal did not
// move that half-open attempt to the restored interface, and nothing was shipped for the 60 s the
// chaos suite waits for convergence (seen with `ss` as SYN-SENT from the wrong source address).
inline constexpr int kHeartbeatIntervalMs = 1000;
inline constexpr int kHeartbeatTimeoutMs = 3000;
inline constexpr int kUnackedTimeoutMs = 10000;
inline constexpr int kConnectTimeoutMs = 2000;

inline void SetConnectionLiveness(zmq::socket_t& socket) {
  socket.set(zmq::sockopt::heartbeat_ivl, kHeartbeatIntervalMs);
  socket.set(zmq::sockopt::heartbeat_timeout, kHeartbeatTimeoutMs);
  // Asks the peer to drop the connection too when our PINGs stop for as long.
  socket.set(zmq::sockopt::heartbeat_ttl, kHeartbeatTimeoutMs);
  socket.set(zmq::sockopt::tcp_maxrt, kUnackedTimeoutMs);
  socket.set(zmq::sockopt::connect_timeout, kConnectTimeoutMs);
}

}  // namespace meridian::proto
