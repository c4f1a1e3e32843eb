#include "tests/chaos/harness/report.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "tests/integration/process.h"

namespace meridian::chaos {
namespace {

namespace fs = std::filesystem;

constexpr char kTableHeader[] =
    "| scenario | backend | seeds | operations | acknowledged | lost | conflict losers | convergence s | "
    "unavailability s |";
constexpr char kTableRule[] = "|---|---|---|---:|---:|---:|---:|---:|---:|";
constexpr char kHeading[] =
    "# Chaos results\n"
    "\n"
    "Written by the chaos harness (`tests/chaos/run`, see tests/chaos/README.md): one row per scenario and\n"
    "backend, rewritten by each run of it. `operations` are all client operations recorded, `acknowledged`\n"
    "the writes that succeeded, `lost` the acknowledged writes missing from the final contents with no\n"
    "excuse (must be 0), `conflict losers` the acknowledged writes replaced by a concurrent write of\n"
    "another region that won under last-writer-wins, `convergence s` the time from the end of the writes\n"
    "until every region held the same contents (worst run), `unavailability s` the longest time from a\n"
    "heal until the affected region acknowledged a write again (worst run).\n"
    "\n";

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::vector<std::string> Cells(const std::string& line) {
  std::vector<std::string> out;
  std::string cell;
  std::istringstream in(line);
  std::getline(in, cell, '|');  // before the first bar
  while (std::getline(in, cell, '|')) {
    size_t a = cell.find_first_not_of(' ');
    size_t b = cell.find_last_not_of(' ');
    out.push_back(a == std::string::npos ? "" : cell.substr(a, b - a + 1));
  }
  if (!out.empty() && out.back().empty()) out.pop_back();  // after the last bar
  return out;
}

std::string RowLine(const ResultRow& r) {
  return "| " + r.scenario + " | " + r.backend + " | " + r.seeds + " | " + std::to_string(r.operations) + " | " +
         std::to_string(r.acknowledged) + " | " + std::to_string(r.lost) + " | " + std::to_string(r.conflict_losers) +
         " | " + Fixed(r.convergence_s, 1) + " | " + Fixed(r.unavailability_s, 1) + " |";
}

}  // namespace

ResultRow SummarizeRuns(const std::vector<nlohmann::json>& results) {
  ResultRow row;
  std::string seeds;
  for (const auto& r : results) {
    row.scenario = r.value("scenario", "");
    row.backend = r.value("backend", "");
    seeds += (seeds.empty() ? "" : ", ") + std::to_string(r.value("seed", uint64_t{0}));
    row.operations += r.value("operations", uint64_t{0});
    row.acknowledged += r.value("acknowledged", uint64_t{0});
    row.lost += r.value("lost", uint64_t{0});
    row.conflict_losers += r.value("conflict_losers", uint64_t{0});
    row.convergence_s = std::max(row.convergence_s, r.value("convergence_s", 0.0));
    row.unavailability_s = std::max(row.unavailability_s, r.value("unavailability_s", 0.0));
    row.passed = row.passed && r.value("passed", false);
  }
  row.seeds = std::to_string(results.size()) + " (" + seeds + ")";
  return row;
}

Status UpdateResultsTable(const fs::path& path, const ResultRow& row) {
  std::vector<std::string> lines;
  {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  if (lines.empty()) {
    std::istringstream heading(kHeading);
    for (std::string line; std::getline(heading, line);) lines.push_back(line);
  }
  auto header = std::find(lines.begin(), lines.end(), std::string(kTableHeader));
  if (header == lines.end()) {
    if (!lines.back().empty()) lines.push_back("");
    lines.push_back(kTableHeader);
    lines.push_back(kTableRule);
    header = lines.end() - 2;
  }
  size_t first = static_cast<size_t>(header - lines.begin()) + 2;  // after the header and the rule
  size_t end = first;
  while (end < lines.size() && lines[end].starts_with("|")) ++end;
  std::string line = RowLine(row);
  bool replaced = false;
  for (size_t i = first; i < end; ++i) {
    std::vector<std::string> cells = Cells(lines[i]);
    if (cells.size() >= 2 && cells[0] == row.scenario && cells[1] == row.backend) {
      lines[i] = line;
      replaced = true;
    }
  }
  if (!replaced) lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(end), line);
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& l : lines) out << l << "\n";
    if (!out) return Status::Internal("cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Status::Internal("cannot replace " + path.string() + ": " + ec.message());
  return Status::Ok();
}

Result<fs::path> WritePlot(const fs::path& run_dir, const std::string& title, const std::vector<Op>& history,
                           const std::vector<FaultEvent>& events, int64_t t0_ns) {
  struct Bucket {
    uint64_t ok_writes = 0, ok_reads = 0, failed = 0, unknown = 0;
    std::vector<double> latency_ms;  // acknowledged operations
  };
  std::map<int64_t, Bucket> buckets;
  int64_t last = 0;
  for (const Op& op : history) {
    if (op.complete_ns == 0) continue;
    int64_t second = (op.complete_ns - t0_ns) / 1'000'000'000;
    if (second < 0) continue;
    last = std::max(last, second);
    Bucket& b = buckets[second];
    if (op.outcome == Outcome::kOk) {
      (IsWrite(op.type) ? b.ok_writes : b.ok_reads)++;
      b.latency_ms.push_back(static_cast<double>(op.complete_ns - op.invoke_ns) / 1e6);
    } else if (op.outcome == Outcome::kFail) {
      ++b.failed;
    } else {
      ++b.unknown;
    }
  }
  {
    std::ofstream dat(run_dir / "plot.dat", std::ios::trunc);
    dat << "# second ok_writes ok_reads failed unknown mean_ms p99_ms (latency of acknowledged operations)\n";
    for (int64_t s = 0; s <= last; ++s) {
      Bucket& b = buckets[s];
      double mean = 0, p99 = 0;
      if (!b.latency_ms.empty()) {
        std::sort(b.latency_ms.begin(), b.latency_ms.end());
        for (double l : b.latency_ms) mean += l;
        mean /= static_cast<double>(b.latency_ms.size());
        p99 = b.latency_ms[std::min(b.latency_ms.size() - 1, b.latency_ms.size() * 99 / 100)];
      }
      dat << s << " " << b.ok_writes << " " << b.ok_reads << " " << b.failed << " " << b.unknown << " "
          << (b.latency_ms.empty() ? "NaN" : Fixed(mean, 2)) << " " << (b.latency_ms.empty() ? "NaN" : Fixed(p99, 2))
          << "\n";
    }
  }
  std::ostringstream gp;
  gp << "# gnuplot script written by the chaos harness; run in this folder: gnuplot plot.gp\n"
     << "set terminal png size 1200,800\n"
     << "set output 'plot.png'\n"
     << "set multiplot layout 2,1 title '" << title << "'\n"
     << "set grid\nset key outside right\nset xrange [0:" << last + 1 << "]\n";
  int n = 0;
  for (const FaultEvent& e : events) {
    double x = static_cast<double>(e.t_ns - t0_ns) / 1e9;
    std::string what = e.what;
    std::replace(what.begin(), what.end(), '\'', ' ');
    gp << "set arrow " << ++n << " from " << Fixed(x, 2) << ", graph 0 to " << Fixed(x, 2)
       << ", graph 1 nohead lw 1 lc rgb '" << (e.heal ? "#2ca02c" : "#d62728") << "'\n";
    gp << "set label " << n << " '" << what << "' at " << Fixed(x, 2) << ", graph 0.98 rotate by 90 right font ',9' tc rgb '"
       << (e.heal ? "#2ca02c" : "#d62728") << "'\n";
  }
  gp << "set ylabel 'operations / s'\nset xlabel 'seconds since the workload started'\n"
     << "plot 'plot.dat' using 1:2 with lines lw 2 title 'ok writes', '' using 1:3 with lines title 'ok reads', "
        "'' using 1:4 with lines title 'failed', '' using 1:5 with lines title 'unknown'\n"
     << "set ylabel 'latency (ms)'\nset logscale y\n"
     << "plot 'plot.dat' using 1:6 with lines lw 2 title 'mean (ok)', '' using 1:7 with lines title 'p99 (ok)'\n"
     << "unset multiplot\n";
  {
    std::ofstream out(run_dir / "plot.gp", std::ios::trunc);
    out << gp.str();
  }
  const char* gnuplot = "/usr/bin/gnuplot";
  if (!fs::exists(gnuplot)) return Status::NotFound("gnuplot is not installed (Debian package gnuplot-nox): no plot.png");
  // gnuplot resolves 'plot.dat' against its working directory: run it in the folder.
  testing::CommandResult r = testing::RunCommand(
      {"/bin/sh", "-c", "cd \"$0\" && exec /usr/bin/gnuplot plot.gp 2>gnuplot.log", run_dir.string()}, "",
      std::chrono::seconds(60));
  if (r.exit_code != 0) return Status::Internal("gnuplot failed (see gnuplot.log in " + run_dir.string() + ")");
  return run_dir / "plot.png";
}

}  // namespace meridian::chaos
