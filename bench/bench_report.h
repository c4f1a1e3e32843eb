// What `meridian bench` (cli/bench.cc) reports, in three forms: a human table, JSON, PNG plots
// (gnuplot), and the bench section of docs/benchmarks.md.
//
// The JSON shape (schema_version 1; fields are added, never renamed):
// {
//   "schema_version": 1, "command": "meridian bench ...", "started_at": "2026-11-27T10:00:00Z",
//   "machine": {"cpus", "cpu_model", "memory_mib", "disk"},
//   "load_average_before": "0.5 0.4 0.3", "load_average_after": "...",
//   "options": {"records", "value_bytes", "clients": [16], "duration_seconds", "target_rate",
//               "distribution": "default"|"uniform"|..., "workloads": "ABCDEF", "consistent_reads"},
//   "limits": {"fsync_floor": ROW, "zmq_round_trip": ROW,
//              "raw_rocksdb": [{"threads", "items", "value_bytes", "put_sync": ROW, "get": ROW}]},
//   "runs": [{"regions", "topology", "table",
//             "load": {"records", "seconds", "records_per_second", "errors"},
//             "workloads": [{"name": "A", "description", "distribution", "clients", "target_rate",
//                            "seconds", "ops", "ops_per_second", "errors", "throttles", "interrupted",
//                            "operations": {"read": OP, "update": OP, ...only the workload's...},
//                            "latency_over_time": [{"t_seconds", "ops", "p50_us", "p99_us"}]}],
//             "replication_lag": null | {"writes_failed", "destinations": [{"region", "samples",
//                                 "not_seen", "p50_ms", "p99_ms", "max_ms",
//                                 "limit": {"name", "p99_ms", "p99_ratio"}}]},
//             "processes": [{"name", "pid", "vm_hwm_kib"}]}]
// }
// ROW (bench/closed_loop.h RowJson): {"name", "threads", "ops", "errors", "ops_per_sec", "p50_us",
//   "p99_us", "max_us"}.
// OP: {"ops", "ok", "not_found", "condition_failed", "throttles", "errors", "ops_per_second",
//      "mean_us", "p50_us", "p95_us", "p99_us", "p999_us", "max_us",
//      "limits": [{"name", "p99_us", "p99_ratio", "ops_per_second", "throughput_ratio"}]}
//   The first limit is the one the table shows: raw RocksDB Put (sync) at the same thread count
//   for writes, the ZeroMQ loopback round trip for reads and scans (a read crosses the client's
//   socket at least once). A ratio is figure / limit (p99) or figure / limit (throughput).
//
// Thread-safety: plain functions over finished results.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/closed_loop.h"
#include "bench/replication_lag.h"
#include "bench/ycsb.h"
#include "storage/status.h"

namespace meridian::bench {

struct RawLimit {
  int threads = 0;
  size_t items = 0;
  Row put_sync, get;
};
struct Limits {
  Row fsync_floor, zmq_round_trip;
  std::vector<RawLimit> raw_rocksdb;  // one per client count
  const RawLimit* RawAt(int threads) const;
};

struct ProcessMemory {
  std::string name;  // e.g. us-east-a, from DIR/run/<name>.pid (or the node's own status)
  pid_t pid = 0;  // 0: reported by the node (--topology)
  uint64_t vm_hwm_kib = 0;  // peak resident set (VmHWM of /proc/PID/status)
};

// One topology: its load phase, its workloads (every client count), its lag, its processes.
struct TopologyRun {
  int regions = 1;
  std::string topology;  // "embedded demo" or the file
  std::string table;
  LoadResult load;
  std::vector<WorkloadResult> workloads;
  std::unique_ptr<LagProbe> lag;  // null with one region
  std::vector<ProcessMemory> processes;
};

struct BenchReport {
  std::string command;
  std::string started_at;  // UTC, ISO 8601
  Machine machine;
  std::string load_average_before, load_average_after;
  nlohmann::json options;
  int value_bytes = 0;
  Limits limits;
  std::vector<TopologyRun> runs;
};

nlohmann::json ReportJson(const BenchReport& report);
// 12345.6 -> "12,346"
std::string Thousands(double v);
// The human table of one workload (printed as each ends) and of the lag and memory of a run.
std::string WorkloadTable(const WorkloadResult& w, const Limits& limits);
std::string LimitsTable(const Limits& limits);
std::string RunFooter(const TopologyRun& run, const Limits& limits);

// Writes DIR/latency-over-time-rR-cC.png and DIR/latency-cdf-rR-cC.png for every run R and
// client count C (with their .dat and .gp), through /usr/bin/gnuplot. The PNGs written; an error
// when gnuplot is missing or fails.
Result<std::vector<std::filesystem::path>> WritePlots(const BenchReport& report, const std::filesystem::path& dir);

// The markdown of the bench section (between its markers, markers excluded).
std::string BenchSection(const BenchReport& report);
// `text` with the section NAME (from "<!-- section: NAME -->" to "<!-- end: NAME -->") replaced
// by `body`, or appended (with its markers) when missing. Nothing else changes.
std::string ReplaceSection(const std::string& text, const std::string& name, const std::string& body);

}  // namespace meridian::bench
