// What a chaos run leaves behind: result.json in its folder, a row of the results table
// (docs/chaos-results.md), and a plot of throughput and latency over time with the faults marked.
//
// Thread-safety: free functions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "storage/status.h"
#include "tests/chaos/history.h"
#include "tests/chaos/harness/scenario.h"

namespace meridian::chaos {

// One row of the results table: one scenario on one backend, over one or more seeds.
struct ResultRow {
  std::string scenario;
  std::string backend;
  std::string seeds;         // how many runs and which seeds, e.g. "3 (1, 2, 3)"
  uint64_t operations = 0;
  uint64_t acknowledged = 0;
  uint64_t lost = 0;
  uint64_t conflict_losers = 0;
  double convergence_s = 0;     // the worst run's
  double unavailability_s = 0;  // the worst run's
  bool passed = true;
};

// The row for the runs whose result.json files are given (sums, and worst times).
ResultRow SummarizeRuns(const std::vector<nlohmann::json>& results);

// Rewrites the row for (row.scenario, row.backend) of the Markdown table in `path`, keeping the
// other rows and the text around the table; creates the file with its heading when missing.
Status UpdateResultsTable(const std::filesystem::path& path, const ResultRow& row);

// Writes plot.dat (per second: completed operations by outcome, latency of the acknowledged ones),
// plot.gp (a gnuplot script) into `run_dir`, and runs gnuplot when it is installed, giving
// plot.png. Events are marked as vertical lines (faults red, heals green). `t0_ns` is time zero.
// Returns the PNG's path, or an error saying why there is none (no gnuplot).
Result<std::filesystem::path> WritePlot(const std::filesystem::path& run_dir, const std::string& title,
                                        const std::vector<Op>& history, const std::vector<FaultEvent>& events,
                                        int64_t t0_ns);

}  // namespace meridian::chaos
