// Replication lag of a global table, end to end, as an application sees it (the approach of
// bench/global_bench.cc, sampled beside a running workload): a probe thread writes a small item
// in the first region, and from the moment the write is acknowledged polls every other region
// (eventually consistent GetItem, every millisecond) until the item is there. Lag = first seen
// there minus acknowledged here, on the one steady clock of this process, so it includes the poll
// (about 1 ms plus one read). Then it pauses `interval` and writes the next probe; a probe not
// seen within `give_up` counts as not seen.
//
// The probe items live in their own partition (bucket "lag-probe") of the benchmark's table, so
// the workloads never read them.
//
// Thread-safety: Start and Stop from one thread; the results after Stop.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/histogram.h"
#include "meridian/region_client.h"
#include "topology/topology.h"

namespace meridian::bench {

struct LagDestination {
  std::string region;
  Histogram lag;  // ns
  uint64_t not_seen = 0;
};

class LagProbe {
 public:
  // `clients[0]` writes; the others (one per destination region) read.
  LagProbe(std::vector<RegionClientOptions> clients, std::string table,
           std::chrono::milliseconds interval = std::chrono::milliseconds(20),
           std::chrono::milliseconds give_up = std::chrono::seconds(10));
  ~LagProbe();
  void Start();
  void Stop();
  const std::vector<std::unique_ptr<LagDestination>>& destinations() const { return destinations_; }
  uint64_t write_errors() const { return write_errors_; }
  // The region the probes are written in.
  const std::string& source() const { return options_.front().region.name; }

 private:
  void Loop();

  std::vector<RegionClientOptions> options_;
  std::string table_;
  std::chrono::milliseconds interval_, give_up_;
  std::vector<std::unique_ptr<LagDestination>> destinations_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  uint64_t write_errors_ = 0;
  int64_t next_probe_ = 0;
};

}  // namespace meridian::bench
