// The chaos workload: client workers in every region, each with its own RegionClient for its
// region, running a seeded random mix of the history's operations (history.h) on the table
// `chaos`, and recording every one of them with its invocation and completion times.
//
// Keys: `o-<region>-<i>` (written only by that region's workers: loss and per-region
// linearizability) and `s-<i>` (written by every region: conflicts and convergence), i < keys.
// Tokens are "<worker>-<seq>", unique per operation.
//
// Outcomes: ok; fail when the node says the write surely did not happen
// (ConditionalCheckFailedException, ValidationException); unknown for everything else (timeout,
// unreachable, ServiceUnavailable, InternalServerError): it may have been applied. A short client
// deadline keeps workers moving through faults, at the price of more unknowns.
//
// Thread-safety: Start and Stop from one thread; the workers are threads of their own.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "meridian/client.h"
#include "tests/chaos/history.h"
#include "topology/topology.h"

namespace meridian::chaos {

// The table of a run on a fresh topology; a run on a deployment others use takes its own
// (`chaos --table`), so that no earlier run's items reach its checker.
inline constexpr char kChaosTable[] = "chaos";

struct WorkloadOptions {
  topology::Topology topology;  // the clients' view (real ports)
  Credentials credentials;
  std::string table = kChaosTable;
  int workers_per_region = 2;
  int keys = 8;  // per key space: owned keys per region, shared keys
  uint64_t seed = 1;
  std::chrono::milliseconds attempt_timeout{1000};
  std::chrono::milliseconds deadline{2500};
  // Each worker waits uniform [0, think_ms_max] between operations, so that a small machine
  // running a dozen nodes keeps some CPU for them.
  int think_ms_max = 10;
};

class Workload {
 public:
  Workload(WorkloadOptions options, HistoryWriter* history);
  ~Workload();  // stops and joins the workers
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  void Start();
  // Asks the workers to stop and joins them: each finishes its current operation (bounded by the
  // client deadline) and records it.
  void Stop();

  uint64_t operations() const { return operations_.load(); }
  uint64_t acknowledged_writes() const { return acked_writes_.load(); }
  // When a write of region i (topology order) was last acknowledged (NowNs); 0 before the first.
  int64_t last_ack_ns(size_t region) const { return last_ack_ns_[region].load(); }

 private:
  void Run(int worker, size_t region_index);

  WorkloadOptions options_;
  HistoryWriter* history_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> next_id_{1};
  std::atomic<uint64_t> operations_{0};
  std::atomic<uint64_t> acked_writes_{0};
  std::vector<std::atomic<int64_t>> last_ack_ns_;
  std::vector<std::thread> threads_;
};

// The steady clock of the harness in nanoseconds (the history's timestamps).
int64_t NowNs();

}  // namespace meridian::chaos
