#include "bench/bench_report.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace meridian::bench {

namespace {

namespace fs = std::filesystem;

constexpr char kGnuplot[] = "/usr/bin/gnuplot";
constexpr auto kGnuplotTimeout = std::chrono::seconds(60);

double Us(uint64_t ns) { return static_cast<double>(ns) / 1e3; }
double Ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }
double Ratio(double figure, double limit) { return limit > 0 ? figure / limit : 0; }

std::string Format(const char* fmt, double v) {
  char b[64];
  std::snprintf(b, sizeof b, fmt, v);
  return b;
}

}  // namespace

std::string Thousands(double v) {
  std::string digits = Format("%.0f", v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0 && digits[i - 1] != '-') out += ',';
    out += digits[i];
  }
  return out;
}

namespace {

struct LimitFigure {
  std::string name;
  double p99_us = 0;
  double ops_per_sec = 0;  // 0: a one-thread floor, not a throughput to compare with
};

// The limits an operation's figures stand beside, the first one shown in the table.
std::vector<LimitFigure> LimitsFor(OpType type, int clients, const Limits& limits) {
  std::vector<LimitFigure> out;
  const RawLimit* raw = limits.RawAt(clients);
  if (IsWrite(type)) {
    if (raw) out.push_back({raw->put_sync.name + ", " + std::to_string(raw->threads) + " threads", raw->put_sync.p99_us, raw->put_sync.ops_per_sec});
    out.push_back({limits.fsync_floor.name, limits.fsync_floor.p99_us, 0});
  } else {
    out.push_back({limits.zmq_round_trip.name, limits.zmq_round_trip.p99_us, 0});
    if (raw) out.push_back({raw->get.name + ", " + std::to_string(raw->threads) + " threads", raw->get.p99_us, raw->get.ops_per_sec});
  }
  return out;
}

double OpsPerSecond(const OpStats& s, const WorkloadResult& w) {
  return w.elapsed_seconds > 0 ? static_cast<double>(s.ops()) / w.elapsed_seconds : 0;
}

nlohmann::json OpJson(OpType type, const OpStats& s, const WorkloadResult& w, const Limits& limits) {
  const Histogram& h = s.latency;
  double rate = OpsPerSecond(s, w);
  nlohmann::json j = {{"ops", s.ops()},
                      {"ok", s.ok.load()},
                      {"not_found", s.not_found.load()},
                      {"condition_failed", s.condition_failed.load()},
                      {"throttles", s.throttled.load()},
                      {"errors", s.errors.load()},
                      {"ops_per_second", rate},
                      {"mean_us", h.mean_ns() / 1e3},
                      {"p50_us", Us(h.Percentile(50))},
                      {"p95_us", Us(h.Percentile(95))},
                      {"p99_us", Us(h.Percentile(99))},
                      {"p999_us", Us(h.Percentile(99.9))},
                      {"max_us", Us(h.max_ns())}};
  j["limits"] = nlohmann::json::array();
  for (const LimitFigure& l : LimitsFor(type, w.clients, limits)) {
    nlohmann::json lj = {{"name", l.name}, {"p99_us", l.p99_us}, {"p99_ratio", Ratio(Us(h.Percentile(99)), l.p99_us)}};
    if (l.ops_per_sec > 0) {
      lj["ops_per_second"] = l.ops_per_sec;
      lj["throughput_ratio"] = Ratio(rate, l.ops_per_sec);
    }
    j["limits"].push_back(lj);
  }
  return j;
}

struct Totals {
  uint64_t ops = 0, errors = 0, throttles = 0;
};
Totals TotalsOf(const WorkloadResult& w) {
  Totals t;
  for (const auto& s : w.ops) {
    if (!s) continue;
    t.ops += s->ops();
    t.errors += s->errors.load();
    t.throttles += s->throttled.load();
  }
  return t;
}

std::string LoopName(const WorkloadResult& w) {
  return w.target_rate > 0 ? "open loop at " + Thousands(w.target_rate) + " ops/s" : "closed loop";
}

nlohmann::json WorkloadJson(const WorkloadResult& w, const Limits& limits) {
  Totals t = TotalsOf(w);
  nlohmann::json j = {{"name", std::string(1, w.spec.name)},
                      {"description", w.spec.description},
                      {"distribution", DistributionName(w.distribution)},
                      {"clients", w.clients},
                      {"target_rate", w.target_rate},
                      {"seconds", w.elapsed_seconds},
                      {"ops", t.ops},
                      {"ops_per_second", w.elapsed_seconds > 0 ? static_cast<double>(t.ops) / w.elapsed_seconds : 0},
                      {"errors", t.errors},
                      {"throttles", t.throttles},
                      {"interrupted", w.interrupted}};
  if (!w.first_error.empty()) j["first_error"] = w.first_error;
  j["operations"] = nlohmann::json::object();
  for (size_t i = 0; i < kOpTypes; ++i) {
    if (w.ops[i]) j["operations"][OpTypeName(static_cast<OpType>(i))] = OpJson(static_cast<OpType>(i), *w.ops[i], w, limits);
  }
  j["latency_over_time"] = nlohmann::json::array();
  for (size_t i = 0; i < w.intervals.size(); ++i) {
    const Histogram& h = *w.intervals[i];
    if (h.count() == 0) continue;
    j["latency_over_time"].push_back({{"t_seconds", static_cast<double>(i) * w.interval_seconds},
                                      {"ops", h.count()},
                                      {"p50_us", Us(h.Percentile(50))},
                                      {"p99_us", Us(h.Percentile(99))}});
  }
  return j;
}

// The floor of one cross-region hop: a durable write in the receiving region (at least one
// fsync) and a message between the regions' replicators (at least one round trip).
LimitFigure LagLimit(const Limits& limits) {
  return {"fsync floor + ZeroMQ round trip", limits.fsync_floor.p99_us + limits.zmq_round_trip.p99_us, 0};
}

std::string RowLine(const Row& r) {
  char b[256];
  std::snprintf(b, sizeof b, "  %-40s %7d %12s %10.3f %10.3f %10.3f\n", r.name.c_str(), r.threads,
                Thousands(r.ops_per_sec).c_str(), r.p50_us / 1e3, r.p99_us / 1e3, r.max_us / 1e3);
  return b;
}

}  // namespace

const RawLimit* Limits::RawAt(int threads) const {
  for (const RawLimit& r : raw_rocksdb) {
    if (r.threads == threads) return &r;
  }
  return nullptr;
}

nlohmann::json ReportJson(const BenchReport& report) {
  nlohmann::json j;
  j["schema_version"] = 1;
  j["command"] = report.command;
  j["started_at"] = report.started_at;
  j["machine"] = MachineJson(report.machine);
  j["load_average_before"] = report.load_average_before;
  j["load_average_after"] = report.load_average_after;
  j["options"] = report.options;
  nlohmann::json raw = nlohmann::json::array();
  for (const RawLimit& r : report.limits.raw_rocksdb) {
    raw.push_back({{"threads", r.threads}, {"items", r.items}, {"value_bytes", report.value_bytes},
                   {"put_sync", RowJson(r.put_sync)}, {"get", RowJson(r.get)}});
  }
  j["limits"] = {{"fsync_floor", RowJson(report.limits.fsync_floor)},
                 {"zmq_round_trip", RowJson(report.limits.zmq_round_trip)},
                 {"raw_rocksdb", raw}};
  j["runs"] = nlohmann::json::array();
  for (const TopologyRun& run : report.runs) {
    nlohmann::json r = {{"regions", run.regions}, {"topology", run.topology}, {"table", run.table}};
    r["load"] = {{"records", run.load.records},
                 {"seconds", run.load.seconds},
                 {"records_per_second", run.load.seconds > 0 ? static_cast<double>(run.load.records) / run.load.seconds : 0},
                 {"errors", run.load.errors}};
    r["workloads"] = nlohmann::json::array();
    for (const WorkloadResult& w : run.workloads) r["workloads"].push_back(WorkloadJson(w, report.limits));
    if (run.lag) {
      nlohmann::json lag = {{"writes_failed", run.lag->write_errors()}, {"destinations", nlohmann::json::array()}};
      LimitFigure limit = LagLimit(report.limits);
      for (const auto& d : run.lag->destinations()) {
        double p99 = Ms(d->lag.Percentile(99));
        lag["destinations"].push_back({{"region", d->region},
                                       {"samples", d->lag.count()},
                                       {"not_seen", d->not_seen},
                                       {"p50_ms", Ms(d->lag.Percentile(50))},
                                       {"p99_ms", p99},
                                       {"max_ms", Ms(d->lag.max_ns())},
                                       {"limit", {{"name", limit.name}, {"p99_ms", limit.p99_us / 1e3},
                                                  {"p99_ratio", Ratio(p99 * 1e3, limit.p99_us)}}}});
      }
      r["replication_lag"] = lag;
    } else {
      r["replication_lag"] = nullptr;
    }
    r["processes"] = nlohmann::json::array();
    for (const ProcessMemory& p : run.processes) {
      r["processes"].push_back({{"name", p.name}, {"pid", p.pid}, {"vm_hwm_kib", p.vm_hwm_kib}});
    }
    j["runs"].push_back(r);
  }
  return j;
}

std::string WorkloadTable(const WorkloadResult& w, const Limits& limits) {
  Totals t = TotalsOf(w);
  std::ostringstream out;
  char line[512];
  std::snprintf(line, sizeof line, "\nworkload %c (%s), %s, %d clients, %s, %.1f s%s: %s ops, %s ops/s\n", w.spec.name,
                w.spec.description, DistributionName(w.distribution), w.clients, LoopName(w).c_str(),
                w.elapsed_seconds, w.interrupted ? " (interrupted)" : "", Thousands(static_cast<double>(t.ops)).c_str(),
                Thousands(w.elapsed_seconds > 0 ? static_cast<double>(t.ops) / w.elapsed_seconds : 0).c_str());
  out << line;
  std::snprintf(line, sizeof line, "  %-18s %9s %9s %8s %8s %8s %8s %8s %7s %9s  %-22s %s\n", "operation", "ops", "ops/s",
                "p50 ms", "p95 ms", "p99 ms", "p99.9 ms", "max ms", "errors", "throttled", "other", "p99 vs limit");
  out << line;
  for (size_t i = 0; i < kOpTypes; ++i) {
    if (!w.ops[i]) continue;
    auto type = static_cast<OpType>(i);
    const OpStats& s = *w.ops[i];
    const Histogram& h = s.latency;
    std::string other;
    if (s.not_found.load() > 0) other += "not found " + std::to_string(s.not_found.load());
    if (s.condition_failed.load() > 0) other += (other.empty() ? "" : ", ") + std::string("condition failed ") + std::to_string(s.condition_failed.load());
    std::vector<LimitFigure> l = LimitsFor(type, w.clients, limits);
    std::string vs = l.empty() || l[0].p99_us <= 0 ? "" : Format("%.1fx ", Ratio(Us(h.Percentile(99)), l[0].p99_us)) + l[0].name +
                                          Format(" (%.3f ms)", l[0].p99_us / 1e3);
    std::snprintf(line, sizeof line, "  %-18s %9llu %9s %8.3f %8.3f %8.3f %8.3f %8.3f %7llu %9llu  %-22s %s\n",
                  OpTypeName(type), static_cast<unsigned long long>(s.ops()), Thousands(OpsPerSecond(s, w)).c_str(),
                  Ms(h.Percentile(50)), Ms(h.Percentile(95)), Ms(h.Percentile(99)), Ms(h.Percentile(99.9)),
                  Ms(h.max_ns()), static_cast<unsigned long long>(s.errors.load()),
                  static_cast<unsigned long long>(s.throttled.load()), other.c_str(), vs.c_str());
    out << line;
  }
  if (!w.first_error.empty()) out << "  first error: " << w.first_error << "\n";
  return out.str();
}

std::string LimitsTable(const Limits& limits) {
  std::ostringstream out;
  char line[256];
  std::snprintf(line, sizeof line, "\nlimits, measured in the same run on this machine:\n  %-40s %7s %12s %10s %10s %10s\n",
                "limit", "threads", "ops/s", "p50 ms", "p99 ms", "max ms");
  out << line;
  for (const RawLimit& r : limits.raw_rocksdb) out << RowLine(r.put_sync) << RowLine(r.get);
  out << RowLine(limits.fsync_floor) << RowLine(limits.zmq_round_trip);
  return out.str();
}

std::string RunFooter(const TopologyRun& run, const Limits& limits) {
  std::ostringstream out;
  char line[512];
  if (run.lag) {
    LimitFigure limit = LagLimit(limits);
    for (const auto& d : run.lag->destinations()) {
      double p99 = Ms(d->lag.Percentile(99));
      std::snprintf(line, sizeof line,
                    "\nreplication lag %s -> %s (write acknowledged to first seen, %llu samples beside the workloads): "
                    "p50 %.2f ms, p99 %.2f ms, max %.2f ms, %llu not seen within 10 s; p99 %.1fx its limit (%s, %.3f ms)\n",
                    run.lag->source().c_str(), d->region.c_str(),
                    static_cast<unsigned long long>(d->lag.count()), Ms(d->lag.Percentile(50)), p99, Ms(d->lag.max_ns()),
                    static_cast<unsigned long long>(d->not_seen), Ratio(p99 * 1e3, limit.p99_us), limit.name.c_str(),
                    limit.p99_us / 1e3);
      out << line;
    }
  }
  if (!run.processes.empty()) {
    out << "\npeak memory (VmHWM) of the topology's processes:";
    for (const ProcessMemory& p : run.processes) {
      std::snprintf(line, sizeof line, " %s %.0f MiB;", p.name.c_str(), static_cast<double>(p.vm_hwm_kib) / 1024.0);
      out << line;
    }
    out << "\n";
  }
  return out.str();
}

namespace {

// Runs gnuplot on `script` (bounded in time); its stderr goes to `log`.
Status RunGnuplot(const fs::path& script, const fs::path& log) {
  pid_t pid = ::fork();
  if (pid < 0) return Status::Internal("fork failed");
  if (pid == 0) {
    FILE* f = std::fopen(log.c_str(), "w");
    if (f) ::dup2(::fileno(f), STDERR_FILENO);
    ::execl(kGnuplot, kGnuplot, script.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + kGnuplotTimeout;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return Status::Internal("gnuplot did not finish within 60 s on " + script.string());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::Internal("gnuplot failed on " + script.string() + " (see " + log.string() + ")");
  }
  std::error_code ec;
  fs::remove(log, ec);  // kept only when it says why a plot failed
  return Status::Ok();
}

std::string Quoted(const fs::path& p) {
  std::string s = p.string();
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// STEM.gp, drawing `plot` into STEM.png.
void WriteScript(const fs::path& stem, const std::string& title, const std::string& axes, const std::string& plot) {
  std::ofstream gp(stem.string() + ".gp");
  gp << "# written by meridian bench; gnuplot " << stem.filename().string() << ".gp\n"
     << "set terminal png size 1200,700\nset output " << Quoted(stem.string() + ".png") << "\n"
     << "set title 'meridian bench: " << title << "'\nset grid\nset key outside right\n" << axes << "plot " << plot
     << "\n";
}

}  // namespace

Result<std::vector<fs::path>> WritePlots(const BenchReport& report, const fs::path& dir) {
  if (!fs::exists(kGnuplot)) return Status::NotFound("gnuplot is not installed (Debian package gnuplot-nox): no plots");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::Internal("cannot create " + dir.string() + ": " + ec.message());
  std::vector<fs::path> written;
  for (const TopologyRun& run : report.runs) {
    std::set<int> client_counts;
    for (const WorkloadResult& w : run.workloads) client_counts.insert(w.clients);
    for (int clients : client_counts) {
      std::string stem = "r" + std::to_string(run.regions) + "-c" + std::to_string(clients);
      std::string title = std::to_string(run.regions) + (run.regions == 1 ? " region, " : " regions, ") +
                          std::to_string(clients) + " clients";
      fs::path over = dir / ("latency-over-time-" + stem), cdf = dir / ("latency-cdf-" + stem);
      std::ofstream over_dat(over.string() + ".dat"), cdf_dat(cdf.string() + ".dat");
      std::string over_plot, cdf_plot;
      int over_block = 0, cdf_block = 0;
      for (const WorkloadResult& w : run.workloads) {
        if (w.clients != clients) continue;
        over_dat << "# workload " << w.spec.name << ": seconds p50_ms p99_ms\n";
        for (size_t i = 0; i < w.intervals.size(); ++i) {
          const Histogram& h = *w.intervals[i];
          if (h.count() == 0) continue;
          over_dat << static_cast<double>(i) * w.interval_seconds << " " << Ms(h.Percentile(50)) << " "
                   << Ms(h.Percentile(99)) << "\n";
        }
        over_dat << "\n\n";
        over_plot += std::string(over_plot.empty() ? "" : ", ") + Quoted(over.string() + ".dat") + " index " +
                     std::to_string(over_block++) + " using 1:3 with linespoints title '" + w.spec.name + " p99'";
        for (size_t t = 0; t < kOpTypes; ++t) {
          if (!w.ops[t] || w.ops[t]->ops() == 0) continue;
          const Histogram& h = w.ops[t]->latency;
          cdf_dat << "# workload " << w.spec.name << " " << OpTypeName(static_cast<OpType>(t)) << ": ms cumulative_fraction\n";
          uint64_t seen = 0;
          h.ForEachBucket([&](uint64_t v, uint64_t n) {
            seen += n;
            cdf_dat << Ms(v) << " " << static_cast<double>(seen) / static_cast<double>(h.count()) << "\n";
          });
          cdf_dat << "\n\n";
          cdf_plot += std::string(cdf_plot.empty() ? "" : ", ") + Quoted(cdf.string() + ".dat") + " index " +
                      std::to_string(cdf_block++) + " using 1:2 with lines title '" + w.spec.name + " " +
                      OpTypeName(static_cast<OpType>(t)) + "'";
        }
      }
      over_dat.close();
      cdf_dat.close();
      if (over_plot.empty()) continue;
      WriteScript(over, "p99 latency over time (" + title + ", by due time)",
                  "set logscale y\nset xlabel 'seconds since the workload started'\nset ylabel 'latency (ms)'\n", over_plot);
      WriteScript(cdf, "latency CDF (" + title + ")",
                  "set logscale x\nset xlabel 'latency (ms)'\nset ylabel 'fraction of operations at or below'\n"
                  "set yrange [0:1]\n",
                  cdf_plot);
      for (const fs::path& p : {over, cdf}) {
        if (Status st = RunGnuplot(p.string() + ".gp", p.string() + ".gnuplot.log"); !st.ok()) return st;
        written.push_back(p.string() + ".png");
      }
    }
  }
  return written;
}

namespace {

const WorkloadResult* FindResult(const TopologyRun& run, char name, int clients) {
  for (const WorkloadResult& w : run.workloads) {
    if (w.spec.name == name && (clients == 0 || w.clients == clients)) return &w;
  }
  return nullptr;
}

// The p99 of the first workload (in `order`) that has `type`, at the run's first client count.
std::string P99Row(const std::string& figure, const TopologyRun* run, const std::string& order, OpType type,
                   const Limits& limits) {
  if (run == nullptr) return "| " + figure + " | not measured (no one-region run) | | |\n";
  for (char name : order) {
    const WorkloadResult* w = FindResult(*run, name, run->workloads.empty() ? 0 : run->workloads.front().clients);
    if (!w || !w->ops[static_cast<size_t>(type)]) continue;
    double p99 = Us(w->ops[static_cast<size_t>(type)]->latency.Percentile(99));
    std::vector<LimitFigure> l = LimitsFor(type, w->clients, limits);
    std::string limit_text, ratio_text;
    for (const LimitFigure& f : l) {
      limit_text += (limit_text.empty() ? "" : "; ") + f.name + " p99 " + Format("%.3f ms", f.p99_us / 1e3);
      ratio_text += (ratio_text.empty() ? "" : "; ") + Format("%.1fx", Ratio(p99, f.p99_us));
    }
    return "| " + figure + " (workload " + name + " " + OpTypeName(type) + ", " + std::to_string(w->clients) +
           " clients) | **" + Format("%.2f ms", p99 / 1e3) + "** | " + limit_text + " | " + ratio_text + " |\n";
  }
  return "| " + figure + " | not measured (no workload with " + OpTypeName(type) + ") | | |\n";
}

}  // namespace

std::string BenchSection(const BenchReport& report) {
  const Limits& limits = report.limits;
  const TopologyRun* single = nullptr;
  const TopologyRun* global = nullptr;
  for (const TopologyRun& run : report.runs) {
    if (run.regions == 1 && !single) single = &run;
    if (run.regions > 1 && !global) global = &run;
  }
  std::ostringstream md;
  md << "## `meridian bench` (issue 9): YCSB workloads A-F, percentiles, replication lag, beside the limits\n\n"
     << "Written by `meridian bench --report` (it rewrites only this section). Machine: " << MachineLine(report.machine)
     << "; load average before the run " << report.load_average_before << ", after " << report.load_average_after
     << ". Run " << report.started_at << ":\n\n```sh\n" << report.command << "\n```\n\n"
     << "Each topology is `meridian demo` on 127.0.0.1 (three `meridian start` facility nodes per region, auth on,"
     << " a replicator per region when there are several), loaded first, then each workload for its duration on"
     << " the same data. Latency counts from when an operation was due (open loop) or issued (closed loop), failed"
     << " operations included; percentiles from HdrHistogram-style histograms (within 0.4%). The limits are measured"
     << " in the same run with the same items (raw RocksDB with sync=true at the same thread count), on the disk"
     << " of the data folder.\n\n"
     << "| figure | measured | limit (same run) | ratio to the limit |\n|---|---|---|---|\n";
  md << P99Row("single-region durable write p99", single, "AFDE", OpType::kUpdate, limits);
  md << P99Row("read p99", single, "CBAD", OpType::kRead, limits);
  for (int clients : {16, 64}) {
    std::string measured, ratios;
    const RawLimit* raw = limits.RawAt(clients);
    if (single) {
      for (const WorkloadResult& w : single->workloads) {
        if (w.clients != clients) continue;
        Totals t = TotalsOf(w);
        double rate = w.elapsed_seconds > 0 ? static_cast<double>(t.ops) / w.elapsed_seconds : 0;
        measured += (measured.empty() ? "" : ", ") + std::string(1, w.spec.name) + " " + Thousands(rate);
        if (raw && (w.spec.name == 'A' || w.spec.name == 'C')) {
          const Row& limit = w.spec.name == 'A' ? raw->put_sync : raw->get;
          ratios += (ratios.empty() ? "" : "; ") + std::string(1, w.spec.name) + Format(" %.2fx", Ratio(rate, limit.ops_per_sec));
        }
      }
    }
    md << "| throughput at " << clients << " clients (ops/s per workload) | "
       << (measured.empty() ? "not measured (no one-region run at " + std::to_string(clients) + " clients)" : measured)
       << " | "
       << (raw ? "raw RocksDB Put (sync) " + Thousands(raw->put_sync.ops_per_sec) + ", Get " + Thousands(raw->get.ops_per_sec) +
                     " ops/s at " + std::to_string(clients) + " threads"
               : std::string("not measured"))
       << " | " << (ratios.empty() ? "" : ratios + " (A against Put, C against Get)") << " |\n";
  }
  if (global && global->lag) {
    LimitFigure limit = LagLimit(limits);
    for (const auto& d : global->lag->destinations()) {
      double p99 = Ms(d->lag.Percentile(99));
      md << "| cross-region lag p99 (" << global->regions << " regions, " << global->lag->source() << " -> " << d->region << ", "
         << d->lag.count() << " samples during the workloads) | **" << Format("%.2f ms", p99) << "** | " << limit.name
         << " p99 " << Format("%.3f ms", limit.p99_us / 1e3) << " | " << Format("%.1fx", Ratio(p99 * 1e3, limit.p99_us))
         << " |\n";
    }
  } else {
    md << "| cross-region lag p99 | not measured (no run with more than one region) | | |\n";
  }
  md << "\nEvery figure of the run:\n\n```\n";
  for (const TopologyRun& run : report.runs) {
    md << "=== " << run.regions << (run.regions == 1 ? " region" : " regions") << " (" << run.topology << "), "
       << run.load.records << " records loaded in " << Format("%.1f s", run.load.seconds) << "\n";
    for (const WorkloadResult& w : run.workloads) md << WorkloadTable(w, limits);
    md << RunFooter(run, limits) << "\n";
  }
  md << LimitsTable(limits) << "```\n";
  return md.str();
}

std::string ReplaceSection(const std::string& text, const std::string& name, const std::string& body) {
  const std::string begin = "<!-- section: " + name + " -->", end = "<!-- end: " + name + " -->";
  std::string block = begin + "\n" + body + (body.empty() || body.back() == '\n' ? "" : "\n") + end;
  size_t b = text.find(begin);
  size_t e = b == std::string::npos ? std::string::npos : text.find(end, b);
  if (b != std::string::npos && e != std::string::npos) return text.substr(0, b) + block + text.substr(e + end.size());
  std::string out = text;
  if (!out.empty() && out.back() != '\n') out += "\n";
  if (!out.empty()) out += "\n";
  return out + block + "\n";
}

}  // namespace meridian::bench
