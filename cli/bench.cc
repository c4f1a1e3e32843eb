// `meridian bench`: see cli/bench.h. The steps:
//   1. the topology: an embedded `meridian demo` child per --regions count (in a fresh folder
//      under --work-dir, stopped and removed at the end), or --demo-dir DIR / --topology FILE;
//   2. per topology: the table (bucket S, id N; bench/meridian_store.h), global when there are
//      several regions; the load phase; then each workload at each client count, the lag probe
//      (bench/replication_lag.h) running beside them; the peak memory of the topology's processes
//      (their run/*.pid; with --topology, each facility node's own NodeStatus) read before they stop;
//   0. first, before any topology runs (so they measure a quiet machine), the limits: raw RocksDB
//      with the same items and sync=true at each client count, the fsync floor of the data
//      folder's disk, a ZeroMQ loopback round trip (bench/closed_loop.h);
//   3. the report: tables on stdout as each workload ends, then --json, --plots, --report.
// SIGINT and SIGTERM are taken by one watcher thread: the current workload ends at once, the
// topology is stopped and what was measured is still reported.
#include "cli/bench.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_report.h"
#include "bench/closed_loop.h"
#include "bench/meridian_store.h"
#include "bench/replication_lag.h"
#include "bench/ycsb.h"
#include "cli/args.h"
#include "cli/common.h"
#include "cli/demo_workload.h"
#include "meridian/region_client.h"
#include "topology/topology.h"

namespace meridian::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using bench::BenchReport;
using bench::TopologyRun;

constexpr int kExitFailed = 1;
constexpr auto kDemoReadyTimeout = 120s;   // nine processes electing on a busy 2-core machine
constexpr auto kDemoStopTimeout = 60s;     // after SIGTERM (leaders hand over first), before SIGKILL
constexpr auto kSetupTimeout = 120s;       // the table ACTIVE in every region
constexpr auto kLoadReplicationTimeout = 300s;  // the load applied in every region before the workloads
constexpr auto kReachTimeout = 15s;        // a leader in every region of a given topology
// Raw RocksDB is preloaded with at most this many of the items (the limit's keys and values are
// held in memory): its Put and Get figures hardly move beyond that, and 10^7 would take minutes.
constexpr size_t kMaxRawItems = 1'000'000;
// The embedded demo asks for ports from here (it moves to the next free block by itself).
constexpr int kDemoBasePort = 21700;

void Say(const std::string& line) { std::cerr << "meridian bench: " << line << std::endl; }

struct Options {
  std::vector<int> regions = {1};
  std::optional<std::string> topology, demo_dir;
  std::string workloads = "ABCDEF";
  std::optional<bench::Distribution> distribution;
  int64_t records = 100'000;
  int value_bytes = 100;
  std::vector<int> clients = {16};
  double duration_seconds = 30;
  double target_rate = 0;
  double limit_seconds = 3;
  uint64_t seed = 1;
  bool consistent_reads = false;
  std::optional<std::string> json, plots, report_file;
  fs::path work_dir = "/var/tmp";
};

std::optional<double> DoubleFlag(const Args& args, const std::string& name, double lo, double hi, std::string* error) {
  auto v = args.Get(name);
  if (!v) return std::nullopt;
  char* end = nullptr;
  double d = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0' || !std::isfinite(d) || d < lo || d > hi) {
    char range[96];
    std::snprintf(range, sizeof range, " takes a number from %g to %g", lo, hi);
    *error = "--" + name + range;
    return std::nullopt;
  }
  return d;
}

std::optional<std::vector<int>> ListFlag(const Args& args, const std::string& name, int hi, std::string* error) {
  auto v = args.Get(name);
  if (!v) return std::nullopt;
  auto list = bench::ParseIntList(*v);
  if (!list || std::any_of(list->begin(), list->end(), [&](int n) { return n > hi; })) {
    *error = "--" + name + " takes numbers from 1 to " + std::to_string(hi) + ", separated by commas (e.g. 16,64)";
    return std::nullopt;
  }
  return list;
}

// Returns kExitOk with `o` filled, or the usage exit code after saying what is wrong.
int ParseOptions(int argc, char** argv, Options* o) {
  Args args;
  std::string error;
  if (!args.Parse(argc, argv, 2,
                  {"topology", "demo-dir", "regions", "workload", "distribution", "records", "value-bytes", "clients",
                   "duration", "target-rate", "json", "plots", "report-file", "limit-seconds", "seed", "work-dir"},
                  {"report", "consistent-reads"}, &error)) {
    return UsageError(error);
  }
  if (!args.positional().empty()) return UsageError("bench takes no positional arguments");
  o->topology = args.Get("topology");
  o->demo_dir = args.Get("demo-dir");
  if (o->topology && o->demo_dir) return UsageError("--topology and --demo-dir exclude each other");
  if (auto r = ListFlag(args, "regions", static_cast<int>(topology::kMaxRegions), &error)) o->regions = *r;
  if (!error.empty()) return UsageError(error);
  if (args.Has("regions") && (o->topology || o->demo_dir)) {
    return UsageError("--regions is for the embedded demo: with --topology or --demo-dir the topology says");
  }
  if (auto w = args.Get("workload")) {
    o->workloads.clear();
    std::stringstream ss(*w);
    std::string part;
    while (std::getline(ss, part, ',')) {
      if (part.size() != 1 || !bench::FindWorkload(static_cast<char>(std::toupper(part[0])))) {
        return UsageError("--workload takes letters from A to F separated by commas (e.g. A,C,F), not '" + *w + "'");
      }
      o->workloads += static_cast<char>(std::toupper(part[0]));
    }
    if (o->workloads.empty()) return UsageError("--workload names no workload");
  }
  if (auto d = args.Get("distribution")) {
    o->distribution = bench::ParseDistribution(*d);
    if (!o->distribution) return UsageError("--distribution is uniform, zipfian or latest, not '" + *d + "'");
  }
  if (auto r = DoubleFlag(args, "records", 1, 1e9, &error)) {
    if (*r != std::floor(*r)) return UsageError("--records takes a whole number");
    o->records = static_cast<int64_t>(*r);
  }
  if (!error.empty()) return UsageError(error);
  // DynamoDB's item size limit is 400 KB; the key and the version take the rest.
  if (auto v = DoubleFlag(args, "value-bytes", 1, 390'000, &error)) o->value_bytes = static_cast<int>(*v);
  if (!error.empty()) return UsageError(error);
  if (auto c = ListFlag(args, "clients", 1024, &error)) o->clients = *c;
  if (!error.empty()) return UsageError(error);
  if (auto d = DoubleFlag(args, "duration", 0.1, 86'400, &error)) o->duration_seconds = *d;
  if (!error.empty()) return UsageError(error);
  if (auto r = DoubleFlag(args, "target-rate", 0, 10'000'000, &error)) o->target_rate = *r;
  if (!error.empty()) return UsageError(error);
  if (auto l = DoubleFlag(args, "limit-seconds", 0.1, 3'600, &error)) o->limit_seconds = *l;
  if (!error.empty()) return UsageError(error);
  if (auto s = DoubleFlag(args, "seed", 0, 1e15, &error)) o->seed = static_cast<uint64_t>(*s);
  if (!error.empty()) return UsageError(error);
  o->consistent_reads = args.Has("consistent-reads");
  o->json = args.Get("json");
  o->plots = args.Get("plots");
  if (args.Has("report-file") && !args.Has("report")) return UsageError("--report-file goes with --report");
  if (args.Has("report")) {
    o->report_file = args.GetOr("report-file", "docs/benchmarks.md");
    if (!fs::exists(*o->report_file)) {
      return UsageError("--report rewrites a section of " + *o->report_file +
                        ", which is not there: run from the repository or give --report-file FILE");
    }
  }
  if (auto w = args.Get("work-dir")) o->work_dir = *w;
  if (!o->topology && !o->demo_dir && !fs::is_directory(o->work_dir)) {
    return UsageError("--work-dir " + o->work_dir.string() + " is not a folder");
  }
  return kExitOk;
}

// Takes SIGINT and SIGTERM (blocked in every thread) and sets `stop`.
class StopWatcher {
 public:
  StopWatcher(sigset_t signals, std::atomic<bool>* stop) : signals_(signals), stop_(stop) {
    thread_ = std::thread([this] {
      while (!done_.load()) {
        timespec tick{0, 200'000'000};
        int sig = ::sigtimedwait(&signals_, nullptr, &tick);
        if (sig > 0 && !stop_->exchange(true)) {
          Say(std::string("stopping (") + ::strsignal(sig) + "): ending the workload, then the topology");
        }
      }
    });
  }
  ~StopWatcher() {
    done_ = true;
    thread_.join();
  }

 private:
  sigset_t signals_;
  std::atomic<bool>* stop_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Tail(const std::string& text, size_t lines) {
  size_t pos = text.size();
  for (size_t n = 0; n <= lines && pos != std::string::npos && pos > 0; ++n) pos = text.rfind('\n', pos - 1);
  return pos == std::string::npos ? text : text.substr(pos + 1);
}

// A `meridian demo` child in its own process group (a terminal's Ctrl-C reaches only this process,
// which then stops the demo, which stops its nodes in order), told to stop if this process dies.
class EmbeddedDemo {
 public:
  ~EmbeddedDemo() { Stop(); }

  Status Start(const fs::path& dir, int regions, const std::atomic<bool>& stop) {
    dir_ = dir;
    log_ = dir.parent_path() / (dir.filename().string() + ".log");
    char exe[4096];
    ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return Status::Internal("cannot find this program (/proc/self/exe)");
    exe[n] = '\0';
    std::vector<std::string> argv = {exe, "demo", "--regions", std::to_string(regions), "--data", dir.string(),
                                     "--base-port", std::to_string(kDemoBasePort)};
    pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) return Status::Internal("fork failed");
    if (pid_ == 0) {
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(1);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      FILE* f = std::fopen(log_.c_str(), "w");
      if (f) {
        ::dup2(::fileno(f), STDOUT_FILENO);
        ::dup2(::fileno(f), STDERR_FILENO);
      }
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    Say("started `meridian demo --regions " + std::to_string(regions) + "` (pid " + std::to_string(pid_) + ") in " +
        dir.string() + "; its output in " + log_.string());
    for (auto deadline = Clock::now() + kDemoReadyTimeout; Clock::now() < deadline && !stop.load();) {
      if (ReadAll(log_).find("meridian demo: ready:") != std::string::npos) return Status::Ok();
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return Status::Internal("the demo exited before it was ready; the end of its output:\n" + Tail(ReadAll(log_), 20));
      }
      std::this_thread::sleep_for(200ms);
    }
    if (stop.load()) return Status::Internal("stopped while the demo was starting");
    return Status(ErrorCode::kTimeout, "the demo was not ready within " +
                                           std::to_string(std::chrono::duration_cast<std::chrono::seconds>(kDemoReadyTimeout).count()) +
                                           " s; the end of its output:\n" + Tail(ReadAll(log_), 20));
  }

  // SIGTERM (the demo stops its nodes cleanly), SIGKILL after kDemoStopTimeout.
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    auto deadline = Clock::now() + kDemoStopTimeout;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (Clock::now() > deadline) {
        Say("the demo did not stop within 60 s of SIGTERM: killing it");
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(50ms);
    }
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  fs::path dir_, log_;
};

// A fresh folder, removed with everything in it unless kept.
class WorkFolder {
 public:
  static Result<std::unique_ptr<WorkFolder>> Make(const fs::path& parent, const std::string& prefix) {
    std::string tmpl = (parent / (prefix + "-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr) return Status::Internal("cannot create a folder in " + parent.string());
    auto f = std::make_unique<WorkFolder>();
    f->path_ = tmpl;
    return f;
  }
  ~WorkFolder() {
    std::error_code ec;
    if (!keep_) fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  void Keep() { keep_ = true; }

 private:
  fs::path path_;
  bool keep_ = false;
};

// VmHWM (peak resident set) of every process with a pid file in `run_dir` that still runs.
std::vector<bench::ProcessMemory> PeakMemoryFromPids(const fs::path& run_dir) {
  std::vector<bench::ProcessMemory> out;
  std::error_code ec;
  if (run_dir.empty() || !fs::is_directory(run_dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(run_dir, ec)) {
    if (entry.path().extension() != ".pid") continue;
    std::ifstream pid_file(entry.path());
    long pid = 0;
    if (!(pid_file >> pid) || pid <= 0) continue;
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("VmHWM:", 0) == 0) {
        out.push_back({entry.path().stem().string(), static_cast<pid_t>(pid), std::stoull(line.substr(6))});
        break;
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

// Where a topology comes from and what goes with it.
struct Target {
  topology::Topology topology;
  std::optional<Credentials> credentials;
  fs::path run_dir;      // the pid files, when the topology runs as a demo
  fs::path disk_folder;  // where the limits are measured: the data's disk
  std::string description;
};

Result<Target> LoadTarget(const fs::path& topology_file, const fs::path& credentials_file, const fs::path& run_dir) {
  Result<topology::Topology> t = topology::LoadTopology(topology_file.string());
  if (!t.ok()) return t.status();
  Target target;
  target.topology = std::move(t.value());
  if (fs::exists(credentials_file)) {
    Result<Credentials> c = LoadSharedCredentials(credentials_file.string());
    if (!c.ok()) return c.status();
    target.credentials = c.value();
  } else {
    target.credentials = CredentialsFromEnvironment();
  }
  target.run_dir = run_dir;
  target.disk_folder = topology_file.parent_path();
  // The disk the first facility's data is on, but not inside the folder of a node that runs.
  if (!target.topology.regions.empty()) {
    fs::path data = target.topology.DataPath(target.topology.regions.front().facilities.front().data);
    std::error_code ec;
    if (fs::is_directory(data, ec)) target.disk_folder = data.parent_path();
  }
  target.description = topology_file.string();
  return target;
}

// The peak memory of the topology's processes: from their pid files when it runs as a demo here,
// else as each facility node reports it (NodeStatus peak_rss_kib; pid 0: it may be elsewhere).
std::vector<bench::ProcessMemory> PeakMemory(const Target& t) {
  if (!t.run_dir.empty()) return PeakMemoryFromPids(t.run_dir);
  std::vector<bench::ProcessMemory> out;
  for (const auto& region : t.topology.regions) {
    for (const auto& f : region.facilities) {
      meridian::ClientOptions o;
      o.endpoint = f.NativeEndpoint();
      o.timeout = std::chrono::seconds(2);
      o.credentials = t.credentials;
      o.fail_fast = true;
      Result<proto::NodeStatus> s = Client(std::move(o)).NodeStatus();
      if (s.ok() && s->peak_rss_kib > 0) out.push_back({region.name + "-" + f.name, 0, s->peak_rss_kib});
    }
  }
  return out;
}

RegionClientOptions ClientOptions(const Target& t, size_t region, uint64_t seed) {
  RegionClientOptions o;
  o.region = t.topology.regions[region];
  o.credentials = t.credentials;
  o.seed = seed;
  return o;
}

// Every region answers with a leader: 0, or kExitUnreachable after saying which does not.
int CheckReachable(const Target& t) {
  for (size_t r = 0; r < t.topology.regions.size(); ++r) {
    RegionClientOptions o = ClientOptions(t, r, 0);
    o.deadline = std::chrono::duration_cast<std::chrono::milliseconds>(kReachTimeout);
    Result<std::string> leader = RegionClient(o).FindLeader();
    if (!leader.ok()) {
      Say("region " + t.topology.regions[r].name + " of " + t.description + " does not answer: " + leader.status().ToString());
      return kExitUnreachable;
    }
  }
  return kExitOk;
}

// Set up, load, run every workload at every client count. Non-Ok when the table or the load
// failed (the workloads' own errors are counted, not fatal).
Status RunTopology(const Target& target, const Options& o, const std::string& table, const bench::Limits& limits,
                   const std::atomic<bool>& stop, TopologyRun* run) {
  run->regions = static_cast<int>(target.topology.regions.size());
  run->topology = target.description;
  run->table = table;
  std::vector<RegionClient> setup;
  for (size_t r = 0; r < target.topology.regions.size(); ++r) {
    RegionClientOptions co = ClientOptions(target, r, 0);
    co.deadline = 30s;
    setup.emplace_back(co);
  }
  Say("table " + table + " in " + target.topology.regions.front().name +
      (run->regions > 1 ? ", every other region a replica" : ""));
  if (Status st = SetUpGlobalTable(setup, target.topology, bench::BenchTableRequest(table), Clock::now() + kSetupTimeout, Say);
      !st.ok()) {
    return st;
  }
  uint64_t client_seed = o.seed * 7919;
  bench::StoreFactory stores = [&](int c) {
    return std::make_unique<bench::MeridianStore>(ClientOptions(target, 0, client_seed + static_cast<uint64_t>(c) + 1),
                                                  table, o.consistent_reads);
  };
  int load_clients = *std::max_element(o.clients.begin(), o.clients.end());
  Say("load: " + std::to_string(o.records) + " records of " + std::to_string(o.value_bytes) + "-byte values, " +
      std::to_string(load_clients) + " clients, BatchWriteItem of " + std::to_string(bench::kLoadBatch));
  run->load = bench::Load(o.records, load_clients, o.value_bytes, stores, stop);
  if (run->regions > 1 && !run->load.interrupted && run->load.records == o.records) {
    // The table is global before the load: the workloads and the lag probe start once every
    // region has applied it, or the probe's first writes would queue behind the load's backlog
    // (seconds of "lag" that is only the load, seen with 100,000 records and three regions).
    auto waited_from = Clock::now();
    bool settled = false;
    SettledReplicationStatus(setup, target.topology, waited_from + kLoadReplicationTimeout, &settled);
    double waited = std::chrono::duration<double>(Clock::now() - waited_from).count();
    char line[160];
    std::snprintf(line, sizeof line, settled ? "the load replicated to every region in %.1f s"
                                             : "the load had not replicated to every region after %.0f s; the workloads start anyway",
                  waited);
    Say(line);
  }
  if (run->load.interrupted || run->load.records < o.records) {
    run->processes = PeakMemory(target);  // what the load alone took
    std::cout << bench::RunFooter(*run, limits) << std::flush;
    if (run->load.interrupted) return Status::Ok();
    return Status::Internal("the load failed after " + std::to_string(run->load.records) + " records: " +
                            run->load.first_error);
  }
  bench::Keyspace keyspace(run->load.records);
  if (run->regions > 1) {
    std::vector<RegionClientOptions> per_region;
    for (size_t r = 0; r < target.topology.regions.size(); ++r) per_region.push_back(ClientOptions(target, r, o.seed + r));
    run->lag = std::make_unique<bench::LagProbe>(per_region, table);
    run->lag->Start();
  }
  for (int clients : o.clients) {
    for (char name : o.workloads) {
      if (stop.load()) break;
      bench::RunOptions ro;
      ro.clients = clients;
      ro.duration_seconds = o.duration_seconds;
      ro.target_rate = o.target_rate;
      ro.distribution = o.distribution;
      ro.value_bytes = o.value_bytes;
      ro.seed = o.seed;
      run->workloads.push_back(bench::RunWorkload(*bench::FindWorkload(name), ro, keyspace, stores, stop));
      std::cout << bench::WorkloadTable(run->workloads.back(), limits) << std::flush;
    }
  }
  if (run->lag) run->lag->Stop();
  run->processes = PeakMemory(target);
  std::cout << bench::RunFooter(*run, limits) << std::flush;
  return Status::Ok();
}

// Raw RocksDB (the same items, sync=true) at each client count, the fsync floor, a ZeroMQ round
// trip: bench/closed_loop.h. Measured first, before any topology runs.
bench::Limits MeasureLimits(const Options& o, const fs::path& disk_folder, size_t* raw_items) {
  bench::Limits limits;
  char each[64];
  std::snprintf(each, sizeof each, " (%g s each)", o.limit_seconds);
  Say("limits: raw RocksDB, the fsync floor of " + disk_folder.string() + ", a ZeroMQ round trip" + each);
  std::vector<std::string> keys, values;
  size_t n = std::min<size_t>(static_cast<size_t>(o.records), kMaxRawItems);
  std::mt19937_64 rng(o.seed);
  for (size_t i = 0; i < n; ++i) {
    keys.push_back(bench::RecordKeyText(static_cast<int64_t>(i)));
    values.push_back(bench::RandomValue(rng, o.value_bytes));
  }
  *raw_items = n;
  auto folder = WorkFolder::Make(disk_folder, "meridian-bench-raw");
  if (folder.ok()) {
    std::vector<bench::Row> rows =
        bench::MeasureRawRocksDb(folder.value()->path() / "db", keys, values, o.clients, o.limit_seconds, true);
    for (size_t i = 0; i + 1 < rows.size(); i += 2) {
      limits.raw_rocksdb.push_back({rows[i].threads, n, rows[i], rows[i + 1]});
    }
  } else {
    Say(folder.status().message());
  }
  limits.fsync_floor = bench::MeasureFsyncFloor(disk_folder, o.limit_seconds);
  limits.zmq_round_trip = bench::MeasureZmqRoundTrip(o.limit_seconds);
  return limits;
}

std::string UtcNow() {
  std::time_t now = std::time(nullptr);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return b;
}

std::string CommandLine(int argc, char** argv) {
  std::string out = "meridian";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool plain = !a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,/=:") == std::string::npos;
    out += " " + (plain ? a : "'" + a + "'");
  }
  return out;
}

nlohmann::json OptionsJson(const Options& o) {
  return {{"records", o.records},
          {"value_bytes", o.value_bytes},
          {"clients", o.clients},
          {"duration_seconds", o.duration_seconds},
          {"target_rate", o.target_rate},
          {"distribution", o.distribution ? bench::DistributionName(*o.distribution) : "default"},
          {"workloads", o.workloads},
          {"consistent_reads", o.consistent_reads},
          {"limit_seconds", o.limit_seconds},
          {"seed", o.seed}};
}

std::string RandomSuffix() {
  char b[16];
  std::snprintf(b, sizeof b, "%08x", static_cast<unsigned>(std::random_device{}()));
  return b;
}

}  // namespace

int CmdBench(int argc, char** argv) {
  Options o;
  if (int rc = ParseOptions(argc, argv, &o); rc != kExitOk) return rc;
  // Before any thread: only the watcher takes the stop signals.
  sigset_t signals = BlockStopSignals();
  ::signal(SIGPIPE, SIG_IGN);
  std::atomic<bool> stop{false};
  StopWatcher watcher(signals, &stop);

  BenchReport report;
  report.command = CommandLine(argc, argv);
  report.started_at = UtcNow();
  report.options = OptionsJson(o);
  report.value_bytes = o.value_bytes;
  report.load_average_before = bench::LoadAverage();
  int rc = kExitOk;
  // The limits first, on a machine not yet busy with the topology, so that every table printed as
  // a workload ends already has its figures beside their limits.
  size_t raw_items = 0;
  auto print_limits = [&] {
    std::cout << "machine: " << bench::MachineLine(report.machine) << "\n"
              << bench::LimitsTable(report.limits) << "  (raw RocksDB preloaded with " << raw_items << " items of "
              << o.value_bytes << " bytes)\n" << std::flush;
  };

  if (o.topology || o.demo_dir) {
    fs::path topology_file = o.topology ? fs::path(*o.topology) : fs::path(*o.demo_dir) / "topology.yaml";
    fs::path dir = topology_file.parent_path();
    Result<Target> target = LoadTarget(topology_file, dir / "credentials", dir / "run");
    if (!target.ok()) return UsageError(target.status().message());
    if (int reach = CheckReachable(target.value()); reach != kExitOk) return reach;
    report.machine = bench::DescribeMachine(target->disk_folder);
    report.limits = MeasureLimits(o, target->disk_folder, &raw_items);
    print_limits();
    report.runs.emplace_back();
    std::string table = "meridian-bench-" + RandomSuffix();
    Status st = RunTopology(target.value(), o, table, report.limits, stop, &report.runs.back());
    if (!st.ok()) {
      Say(st.ToString());
      rc = kExitFailed;
    }
    RegionClient cleanup(ClientOptions(target.value(), 0, 0));
    if (auto d = cleanup.DeleteTable({table}); !d.ok()) Say("could not delete " + table + ": " + d.status().ToString());
  } else {
    report.machine = bench::DescribeMachine(o.work_dir);
    report.limits = MeasureLimits(o, o.work_dir, &raw_items);
    print_limits();
    for (int regions : o.regions) {
      if (stop.load()) break;
      auto folder = WorkFolder::Make(o.work_dir, "meridian-bench");
      if (!folder.ok()) {
        Say(folder.status().message());
        rc = kExitFailed;
        break;
      }
      fs::path demo_dir = folder.value()->path() / "demo";
      EmbeddedDemo demo;
      Status st = demo.Start(demo_dir, regions, stop);
      if (st.ok()) {
        Result<Target> target = LoadTarget(demo_dir / "topology.yaml", demo_dir / "credentials", demo_dir / "run");
        if (!target.ok()) {
          st = target.status();
        } else {
          target->description = "embedded demo, " + std::to_string(regions) + (regions == 1 ? " region" : " regions");
          report.runs.emplace_back();
          st = RunTopology(target.value(), o, "meridian-bench", report.limits, stop, &report.runs.back());
        }
      }
      if (!st.ok() && !stop.load()) {
        Say(st.ToString());
        Say("kept " + folder.value()->path().string() + " (the demo's logs and data) to look into");
        folder.value()->Keep();
        rc = kExitFailed;
      }
      Say("stopping the demo");
      demo.Stop();  // its output (demo.log in the work folder) goes with the folder, unless kept
      if (rc != kExitOk) break;
    }
  }

  report.load_average_after = bench::LoadAverage();
  if (stop.load()) rc = kExitFailed;

  if (o.json) {
    std::ofstream out(*o.json);
    out << bench::ReportJson(report).dump(2) << "\n";
    if (!out) {
      Say("cannot write " + *o.json);
      rc = kExitFailed;
    } else {
      Say("wrote " + *o.json);
    }
  }
  if (o.plots) {
    auto plots = bench::WritePlots(report, *o.plots);
    if (!plots.ok()) {
      Say(plots.status().message());
      rc = kExitFailed;
    } else {
      for (const auto& p : plots.value()) Say("wrote " + p.string());
    }
  }
  if (o.report_file && rc == kExitOk) {
    std::string text = ReadAll(*o.report_file);
    if (Status st = WriteFileAtomic(*o.report_file, bench::ReplaceSection(text, "bench", bench::BenchSection(report)));
        !st.ok()) {
      Say(st.message());
      rc = kExitFailed;
    } else {
      Say("rewrote the bench section of " + *o.report_file);
    }
  } else if (o.report_file) {
    Say("not rewriting " + *o.report_file + ": the run did not complete");
  }
  return rc;
}

}  // namespace meridian::cli
