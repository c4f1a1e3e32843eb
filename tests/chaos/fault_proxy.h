// A user-space fault proxy for TCP links, for machines whose kernel lacks netem: one listening
// port per directed link (from one process to another), forwarding to the link's target, with
// latency, jitter, loss, stalls and partitions applied to the bytes that cross it. The chaos
// harness points each process's view of the topology at these ports (a process dials peer X
// through the port of link (self -> X)), so faults can be directed: cut one region off, slow one
// link, drop one facility out of its region.
//
// TCP does not lose bytes, so "loss" is modelled as what loss does to a TCP stream: each chunk
// forwarded is, with probability `loss`, held back for `retransmit_ms` (a retransmission
// timeout) before delivery, in order. Latency delays every chunk by latency_ms ± jitter_ms
// (uniform), preserving order within a connection. `blocked` cuts the link: existing connections
// are closed (both sides) and new ones accepted then closed at once, so the peer sees the
// connection fail as it would across a partition with RSTs; `stall` instead holds every byte
// (connections stay open, nothing moves, not even a FIN) until cleared, like a black hole.
// Faults apply to bytes, not to connection setup: a connect through a slow link is not delayed.
// A change applies to bytes read after it; bytes already queued keep their delivery time (a stall
// does not push it back: when the stall clears, whatever is due by then goes at once).
//
// Bounds: once a direction of a connection holds kPendingBytesMax bytes read but not yet
// delivered, the proxy stops reading from the sender (its TCP window fills, as across a
// slow link), so a stall or a long latency costs bounded memory. A target that does not accept
// (down) shows as a connection accepted then reset. A half-close (FIN) is forwarded in order,
// after the bytes before it.
//
// Thread-safety: every method may be called from any thread; each runs on the one IO thread that
// does the forwarding and has taken effect when it returns (after Configure with `blocked`, the
// link's connections are closed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "storage/status.h"

namespace meridian::chaos {

struct LinkFaults {
  int latency_ms = 0;
  int jitter_ms = 0;
  double loss = 0;          // probability per forwarded chunk of a retransmit_ms hold
  int retransmit_ms = 200;
  bool blocked = false;     // partition: connections refused / closed
  bool stall = false;       // black hole: connections open, no bytes move
  bool operator==(const LinkFaults&) const = default;
};

struct LinkStats {
  uint64_t connections = 0;       // accepted from clients (including those then cut or failed)
  uint64_t bytes_forwarded = 0;   // delivered, both directions
  uint64_t chunks_held = 0;       // by loss
  uint64_t connections_cut = 0;   // by blocked: open ones closed, and new ones closed at once
};

// Bytes one direction of a connection may hold before the proxy stops reading from its sender.
inline constexpr uint64_t kPendingBytesMax = 4 << 20;

class FaultProxy {
 public:
  // seed drives jitter and loss (printed by the harness).
  explicit FaultProxy(uint64_t seed);
  ~FaultProxy();  // closes every link and joins the IO thread
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  // Starts forwarding 127.0.0.1:<returned port> (listen_port 0: a free one) to target_host:target_port.
  // `name` identifies the link ("us-east-a->us-east-b", "us-east-replicator->eu-west-replicator").
  // ResourceInUseException for a name already added; InternalServerError when the target does
  // not resolve or the port cannot be bound.
  Result<uint16_t> AddLink(const std::string& name, const std::string& target_host, uint16_t target_port,
                           uint16_t listen_port = 0);
  // Replaces the link's faults. ResourceNotFoundException for an unknown link;
  // ValidationException for negative times or a loss outside [0, 1].
  Status Configure(const std::string& name, const LinkFaults& faults);
  // Configure for every link whose part before "->" starts with `from` and whose part after it
  // starts with `to` ("" matches anything; a name without "->" is all `from`). Returns how many
  // links matched, so a scenario can tell a typo from a cut; ValidationException as Configure.
  Result<size_t> ConfigureMatching(const std::string& from, const std::string& to,
                                   const LinkFaults& faults);
  void ClearAll();  // every link back to no faults
  Result<LinkFaults> Faults(const std::string& name) const;  // ResourceNotFoundException if unknown
  Result<LinkStats> Stats(const std::string& name) const;
  std::vector<std::string> Links() const;  // sorted by name

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// True when this kernel can attach netem to an interface (checked once, by `tc qdisc add dev lo
// root netem delay 0ms` in a throwaway network namespace, deleted after); false when `ip` or `tc`
// is missing or any step fails (no privilege, no sch_netem). The harness reports which it uses.
bool KernelHasNetem();

}  // namespace meridian::chaos
