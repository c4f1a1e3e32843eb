// `meridian bench`: the YCSB core workloads A-F (bench/ycsb.h) against a topology, with latency
// percentiles per operation type, errors and throttles, the peak memory of the topology's
// processes, replication lag when there are several regions, and the limits beside them (raw
// RocksDB, the fsync floor, a ZeroMQ round trip), as a table, JSON, plots and the bench section of
// docs/benchmarks.md. See the usage text in cli/main.cc and bench/bench_report.h for the JSON.
//
// Thread-safety: CmdBench owns the process while it runs (it blocks the stop signals before
// starting any thread, and may fork a `meridian demo`).
#pragma once

namespace meridian::cli {

// argv[1] is "bench". Exit codes: 0 when every workload ran (errors during a workload are
// reported, not fatal), 1 when the topology could not be started or set up, or the run was
// interrupted (SIGINT/SIGTERM; what was measured is still reported), 2 on a usage error, 3 when
// the topology given does not answer.
int CmdBench(int argc, char** argv);

}  // namespace meridian::cli
