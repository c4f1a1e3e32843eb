// `chaos`: runs one chaos scenario against a Meridian topology and judges it (tests/chaos/README.md).
//
//   chaos --backend local --scenario NAME --seed S --duration SECONDS --out DIR
//         [--regions 2|3] [--workers-per-region N] [--keys N] [--schedule FILE.json]
//         [--results-table FILE.md] [--plot-dir DIR] [--plant NAME] [--expect-violation KIND] [--replace]
//   chaos --list [--backend compose]
//   chaos --summarize --results-table FILE.md [--plot-dir DIR] RUN_DIR...
//
// A run: start the topology, create the global table `chaos`, start the workers, warm up, run the
// scenario's fault window (the nemesis heals all at its end), keep the workers going until every
// region has acknowledged a write since its last heal (at least a few seconds, at most the
// liveness bound), stop them, wait for quiescence, read every region's contents and conflict
// logs, and run the checker. The run folder keeps everything (history.jsonl, logs, topology
// files, schedule.json, result.json, plot.*). Exit 0 only when the checker and the harness's own
// checks (liveness, recovery, fsync) pass; 1 when they do not (the folder and the seed are
// printed); 2 for a usage error; 3 when the harness could not run the scenario at all.
//
// --backend compose --compose-file DIR/NAME.yml --compose-project P attaches to a Docker Compose
// deployment that is up (rendered with `meridian compose --publish-native`; compose_backend.h):
// the scenarios whose faults a container can take (kill, pause, stop/start, region cut-off); the
// table is chaos-<scenario>-<seed> unless --table names one, so runs can share a deployment.
//
// --plant NAME sets MERIDIAN_TEST_PLANT for every node (a planted bug, to show the suite bites);
// with --expect-violation KIND[,KIND...] the exit is 0 exactly when the checker reports a violation of
// one of those kinds.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/chaos/checker.h"
#include "tests/chaos/history.h"
#include "tests/chaos/harness/cluster_ops.h"
#include "tests/chaos/harness/compose_backend.h"
#include "tests/chaos/harness/local_backend.h"
#include "tests/chaos/harness/report.h"
#include "tests/chaos/harness/scenario.h"
#include "tests/chaos/harness/workload.h"
#include "tests/integration/process.h"

namespace meridian::chaos {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int kExitPass = 0;
constexpr int kExitFail = 1;
constexpr int kExitUsage = 2;
constexpr int kExitHarness = 3;

// The generous liveness bound: writes must succeed again within this after a heal.
constexpr double kLivenessBoundS = 30;
constexpr auto kPostHealMin = 5s;         // the workers keep going at least this long after the heal
constexpr auto kQuiescenceBound = 60s;    // after the writes stop
constexpr auto kSetupBound = 60s;         // the table, ACTIVE in every region

std::atomic<bool> g_interrupted{false};

struct Options {
  std::string backend = "local";
  std::string scenario;
  uint64_t seed = 0;
  bool seed_given = false;
  double duration_s = 15;
  std::string out;
  int regions = 0;  // 0: the scenario's minimum
  int workers_per_region = 2;
  int keys = 8;
  double warmup_s = 2;
  std::string schedule_file;
  std::string results_table;
  std::string plot_dir;
  std::string plant;
  std::string expect_violation;
  std::string compose_file;
  std::string compose_project;
  std::string table;
  std::string binary = MERIDIAN_BINARY;
  bool list = false;
  bool summarize = false;
  bool replace = false;
  std::vector<std::string> positional;
};

int Usage(const std::string& message) {
  std::cerr << "chaos: " << message << "\n"
            << "usage: chaos --backend local --scenario NAME --seed S --duration SECONDS --out DIR\n"
            << "             [--regions 2|3] [--workers-per-region N] [--keys N] [--warmup SECONDS]\n"
            << "             [--schedule FILE.json] [--results-table FILE.md] [--plot-dir DIR]\n"
            << "             [--plant NAME] [--expect-violation KIND] [--binary PATH] [--replace]\n"
            << "       chaos --backend compose --compose-file DIR/NAME.yml --compose-project P --scenario NAME\n"
            << "             [--table NAME] [the options above but --regions, --plant, --binary]\n"
            << "       chaos --list [--backend compose]\n"
            << "       chaos --summarize --results-table FILE.md [--plot-dir DIR] RUN_DIR...\n";
  return kExitUsage;
}

bool ParseArgs(int argc, char** argv, Options* o, std::string* error) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string* into) {
      if (i + 1 >= argc) {
        *error = a + " needs a value";
        return false;
      }
      *into = argv[++i];
      return true;
    };
    auto number = [&](double* into) {
      std::string v;
      if (!value(&v)) return false;
      char* end = nullptr;
      *into = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || *into < 0) {
        *error = a + ": '" + v + "' is not a non-negative number";
        return false;
      }
      return true;
    };
    double n = 0;
    if (a == "--list") {
      o->list = true;
    } else if (a == "--summarize") {
      o->summarize = true;
    } else if (a == "--replace") {
      o->replace = true;
    } else if (a == "--backend") {
      if (!value(&o->backend)) return false;
    } else if (a == "--scenario") {
      if (!value(&o->scenario)) return false;
    } else if (a == "--seed") {
      if (!number(&n)) return false;
      o->seed = static_cast<uint64_t>(n);
      o->seed_given = true;
    } else if (a == "--duration") {
      if (!number(&o->duration_s)) return false;
    } else if (a == "--warmup") {
      if (!number(&o->warmup_s)) return false;
    } else if (a == "--out") {
      if (!value(&o->out)) return false;
    } else if (a == "--regions") {
      if (!number(&n)) return false;
      o->regions = static_cast<int>(n);
    } else if (a == "--workers-per-region") {
      if (!number(&n)) return false;
      o->workers_per_region = static_cast<int>(n);
    } else if (a == "--keys") {
      if (!number(&n)) return false;
      o->keys = static_cast<int>(n);
    } else if (a == "--schedule") {
      if (!value(&o->schedule_file)) return false;
    } else if (a == "--results-table") {
      if (!value(&o->results_table)) return false;
    } else if (a == "--plot-dir") {
      if (!value(&o->plot_dir)) return false;
    } else if (a == "--plant") {
      if (!value(&o->plant)) return false;
    } else if (a == "--expect-violation") {
      if (!value(&o->expect_violation)) return false;
    } else if (a == "--binary") {
      if (!value(&o->binary)) return false;
    } else if (a == "--compose-file") {
      if (!value(&o->compose_file)) return false;
    } else if (a == "--compose-project") {
      if (!value(&o->compose_project)) return false;
    } else if (a == "--table") {
      if (!value(&o->table)) return false;
    } else if (a.starts_with("--")) {
      *error = "unknown option " + a;
      return false;
    } else {
      o->positional.push_back(a);
    }
  }
  return true;
}

// SIGINT/SIGTERM: blocked in every thread (set before any starts) and taken here, so an
// interrupted run stops its workers and children in order instead of dying with them running.
void WatchStopSignals(sigset_t set, const std::atomic<bool>* done) {
  timespec tick{0, 200'000'000};
  while (!done->load()) {
    if (sigtimedwait(&set, nullptr, &tick) > 0) {
      if (g_interrupted.exchange(true)) std::_Exit(130);  // a second Ctrl-C: leave now
      std::cerr << "chaos: interrupted; stopping the workers and the topology" << std::endl;
    }
  }
}

bool Sleep(Clock::duration d) {
  auto until = Clock::now() + d;
  while (Clock::now() < until) {
    if (g_interrupted) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(until - Clock::now(), 50ms));
  }
  return !g_interrupted;
}

// The conflict notes of every facility's log, one per conflict per region (the three facilities
// of a region, and a facility re-applying its log after a restart, write the same record).
std::vector<ConflictNote> CollectConflicts(Backend& backend, const topology::Topology& topo, const std::string& table,
                                           std::string* problems) {
  std::vector<ConflictNote> notes;
  std::set<std::string> seen;
  for (const auto& region : topo.regions) {
    for (const auto& f : region.facilities) {
      for (const std::string& line : backend.ConflictLogLines(topology::ProcessName(region.name, f.name))) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_object() || !j.contains("key") || !j.contains("loser") || !j.contains("winner")) {
          *problems += "unreadable conflict log line in " + region.name + "-" + f.name + ": " + line.substr(0, 200) + "\n";
          continue;
        }
        if (j.value("table", "") != table) continue;
        const auto& key = j["key"];
        if (!key.contains("k") || !key["k"].contains("S") || !key["k"]["S"].is_string()) continue;
        std::string identity = region.name + "|" + key.dump() + "|" + j["loser"].dump() + "|" + j["winner"].dump();
        if (!seen.insert(identity).second) continue;
        notes.push_back(ConflictNote{region.name, key["k"]["S"].get<std::string>(), j["loser"].value("origin", ""),
                                     j["winner"].value("origin", "")});
      }
    }
  }
  return notes;
}

struct Liveness {
  double worst_s = 0;
  nlohmann::json per_heal = nlohmann::json::array();
  std::vector<Violation> violations;
};

// Per heal, per affected region: the time until the region's first acknowledged write completed
// at or after it.
Liveness MeasureLiveness(const std::vector<Op>& history, const std::vector<FaultEvent>& events, int64_t end_ns) {
  Liveness l;
  for (const FaultEvent& e : events) {
    if (!e.heal) continue;
    for (const std::string& region : e.regions) {
      int64_t first = 0;
      for (const Op& op : history) {
        if (op.region == region && IsWrite(op.type) && op.outcome == Outcome::kOk && op.complete_ns >= e.t_ns &&
            (first == 0 || op.complete_ns < first)) {
          first = op.complete_ns;
        }
      }
      double s = static_cast<double>((first ? first : end_ns) - e.t_ns) / 1e9;
      l.worst_s = std::max(l.worst_s, s);
      l.per_heal.push_back({{"heal", e.what}, {"region", region}, {"seconds", s}, {"acknowledged", first != 0}});
      if (!first || s > kLivenessBoundS) {
        l.violations.push_back({"liveness", "",
                                "after '" + e.what + "', region " + region +
                                    (first ? " acknowledged its first write only after " + std::to_string(s) + " s"
                                           : " acknowledged no write in the " + std::to_string(s) + " s that followed")});
      }
    }
  }
  return l;
}

nlohmann::json ViolationsJson(const std::vector<Violation>& violations) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& v : violations) out.push_back({{"kind", v.kind}, {"key", v.key}, {"detail", v.detail}});
  return out;
}

// Why the compose backend cannot run `scenario` with `steps` ("" when it can): the deployment is
// up already, so what the harness sets at a node's start cannot apply, nor what a container cannot
// take (ComposeBackend::Supports).
std::string ComposeRefusal(const Scenario& scenario, const std::vector<Step>& steps) {
  if (scenario.fsync_hook || !scenario.start_args.empty()) {
    return "scenario " + scenario.name + " starts its nodes with arguments of its own; the compose backend " +
           "attaches to running containers: use --backend local";
  }
  for (const Step& step : steps) {
    if (!ComposeBackend::Supports(step.action) || step.params.count("args")) {
      return "scenario " + scenario.name + ": the compose backend cannot do '" + step.action + " " + step.target +
             (step.params.count("args") ? " " + step.params.at("args") : std::string()) +
             "' (compose_backend.h); use --backend local";
    }
  }
  return "";
}

int Summarize(const Options& o) {
  if (o.results_table.empty() || o.positional.empty()) return Usage("--summarize needs --results-table and run folders");
  std::vector<nlohmann::json> results;
  for (const std::string& dir : o.positional) {
    auto j = nlohmann::json::parse(testing::ReadFileText(fs::path(dir) / "result.json"), nullptr, false);
    if (!j.is_object()) {
      std::cerr << "chaos: no readable result.json in " << dir << "\n";
      return kExitHarness;
    }
    results.push_back(j);
  }
  ResultRow row = SummarizeRuns(results);
  if (Status st = UpdateResultsTable(o.results_table, row); !st.ok()) {
    std::cerr << "chaos: " << st.ToString() << "\n";
    return kExitHarness;
  }
  if (!o.plot_dir.empty()) {
    // The plot of the last run stands for the scenario (they differ only in the seed).
    fs::path png = fs::path(o.positional.back()) / "plot.png";
    std::error_code ec;
    fs::create_directories(o.plot_dir, ec);
    if (fs::exists(png)) {
      fs::copy_file(png, fs::path(o.plot_dir) / (row.scenario + "-" + row.backend + ".png"),
                    fs::copy_options::overwrite_existing, ec);
    }
  }
  std::cout << "chaos: " << row.scenario << " on " << row.backend << ": " << row.seeds << " runs, "
            << (row.passed ? "all passed" : "SOME FAILED") << "; table " << o.results_table << "\n";
  return row.passed ? kExitPass : kExitFail;
}

int RunScenario(const Options& o) {
  const Scenario* scenario = FindScenario(o.scenario);
  if (!scenario) return Usage("no scenario '" + o.scenario + "' (see --list)");
  if (o.out.empty()) return Usage("--out DIR is required");
  if (o.backend != "local" && o.backend != "compose") return Usage("--backend is local or compose");
  const bool compose = o.backend == "compose";
  if (compose) {
    // The deployment is up already: what the harness would set at a node's start cannot apply.
    if (o.compose_file.empty() || o.compose_project.empty()) {
      return Usage("--backend compose needs --compose-file DIR/NAME.yml and --compose-project P");
    }
    if (!o.plant.empty()) return Usage("--plant needs --backend local (it is set in the nodes' environment at start)");
    if (o.regions > 0) return Usage("--regions is the deployment's under --backend compose");
  } else if (!o.compose_file.empty() || !o.compose_project.empty()) {
    return Usage("--compose-file and --compose-project go with --backend compose");
  }
  uint64_t seed = o.seed;
  if (!o.seed_given) {
    std::random_device rd;
    seed = (uint64_t{rd()} << 32 | rd()) % 1'000'000'000;
  }
  int regions = std::max(o.regions, scenario->min_regions);
  const std::string table = !o.table.empty() ? o.table
                            : compose       ? "chaos-" + scenario->name + "-" + std::to_string(seed)
                                            : std::string(kChaosTable);
  // The seed first: a run that dies in any way can be repeated from it.
  std::cout << "chaos: seed " << seed << " (scenario " << scenario->name << ", backend " << o.backend << ", "
            << (compose ? "the deployment's" : std::to_string(regions)) << " regions, " << o.duration_s
            << " s of faults, table " << table << ")" << std::endl;

  fs::path run = fs::absolute(o.out);
  std::error_code ec;
  // --replace removes an earlier run's folder (only one that looks like a run: it has a
  // schedule.json), so a repeated test can reuse its path; a run that did not pass is moved aside
  // (DIR.failed-<seed>) instead, so that rerunning a failed test keeps the evidence.
  if (o.replace && fs::exists(run / "schedule.json")) {
    auto previous = nlohmann::json::parse(testing::ReadFileText(run / "result.json"), nullptr, false);
    bool passed = previous.is_object() && previous.value("passed", false) && !previous.contains("expected_violation");
    if (passed || (previous.is_object() && previous.contains("expected_violation") &&
                   previous["expected_violation"].value("found", false))) {
      fs::remove_all(run, ec);
    } else {
      std::string aside = run.string() + ".failed-" +
                          (previous.is_object() ? std::to_string(previous.value("seed", uint64_t{0})) : "unknown");
      fs::remove_all(aside, ec);
      fs::rename(run, aside, ec);
      std::cout << "chaos: the earlier failed run is kept in " << aside << std::endl;
    }
  }
  if (fs::exists(run / "schedule.json")) return Usage(run.string() + " already holds a run; give a new --out (or --replace)");
  fs::create_directories(run, ec);
  if (ec) return Usage("cannot create " + run.string() + ": " + ec.message());

  std::vector<Step> steps;
  if (!o.schedule_file.empty()) {
    Result<std::vector<Step>> parsed = StepsFromJson(testing::ReadFileText(o.schedule_file));
    if (!parsed.ok()) return Usage(o.schedule_file + ": " + parsed.status().message());
    steps = parsed.value();
  } else {
    steps = scenario->steps(o.duration_s);
  }
  if (compose) {
    if (std::string why = ComposeRefusal(*scenario, steps); !why.empty()) return Usage(why);
  }
  { std::ofstream(run / "schedule.json") << StepsToJson(steps); }
  if (!o.plant.empty()) ::setenv("MERIDIAN_TEST_PLANT", o.plant.c_str(), 1);

  nlohmann::ordered_json result = {{"scenario", scenario->name}, {"backend", o.backend}, {"seed", seed},
                                   {"regions", regions},         {"duration_s", o.duration_s},
                                   {"plant", o.plant},           {"table", table}};
  auto fail_harness = [&](const std::string& why) {
    std::cerr << "chaos: " << why << "\nchaos: FAILED to run (seed " << seed << "); run folder: " << run.string()
              << std::endl;
    result["passed"] = false;
    result["error"] = why;
    std::ofstream(run / "result.json") << result.dump(2) << "\n";
    return kExitHarness;
  };

  std::unique_ptr<Backend> backend;
  auto t_setup = Clock::now();
  if (!compose) {
    LocalBackendOptions bo;
    bo.binary = o.binary;
    bo.run_dir = run;
    bo.regions = regions;
    bo.seed = seed;
    bo.fsync_hook = scenario->fsync_hook;
    bo.start_args = scenario->start_args;
    Result<std::unique_ptr<LocalBackend>> made = LocalBackend::Create(bo);
    if (!made.ok()) return fail_harness("cannot set up the local backend: " + made.status().ToString());
    std::unique_ptr<LocalBackend> local = std::move(made).value();
    std::cout << "chaos: faults in a user-space proxy (" << local->proxy().Links().size() << " links; kernel netem "
              << (KernelHasNetem() ? "available but not used" : "not available") << ")" << std::endl;
    if (Status st = local->StartAll(); !st.ok()) return fail_harness("the topology did not start: " + st.message());
    backend = std::move(local);
  } else {
    ComposeBackendOptions co;
    co.compose_file = fs::absolute(o.compose_file);
    co.project = o.compose_project;
    co.run_dir = run;
    Result<std::unique_ptr<ComposeBackend>> made = ComposeBackend::Create(co);
    if (!made.ok()) return fail_harness("cannot attach to the compose deployment: " + made.status().ToString());
    backend = std::move(made).value();
    regions = static_cast<int>(backend->client_topology().regions.size());
    result["regions"] = regions;
    if (regions < scenario->min_regions) {
      return fail_harness("scenario " + scenario->name + " needs " + std::to_string(scenario->min_regions) +
                          " regions; the deployment has " + std::to_string(regions));
    }
    std::cout << "chaos: attached to compose project " << o.compose_project << " (" << backend->processes().size()
              << " containers; faults with docker kill, pause, network disconnect)" << std::endl;
  }
  ClusterAccess access{backend->client_topology(), backend->credentials()};
  if (compose) {
    // An earlier run on the same deployment may have just healed: start from a healthy one.
    for (const auto& region : access.topology.regions) {
      if (Status st = WaitRegionHealthy(access, region.name, kSetupBound); !st.ok()) {
        return fail_harness("region " + region.name + " is not healthy: " + st.message());
      }
    }
  }
  if (Status st = CreateGlobalTable(access, table, kSetupBound); !st.ok()) {
    return fail_harness("cannot create the global table: " + st.ToString());
  }
  std::cout << "chaos: topology up and table ACTIVE in every region after "
            << std::chrono::duration<double>(Clock::now() - t_setup).count() << " s" << std::endl;
  if (g_interrupted) return fail_harness("interrupted");

  Result<std::unique_ptr<HistoryWriter>> history = HistoryWriter::Open((run / "history.jsonl").string());
  if (!history.ok()) return fail_harness(history.status().ToString());
  WorkloadOptions wo;
  wo.topology = access.topology;
  wo.credentials = access.credentials;
  wo.table = table;
  wo.workers_per_region = std::max(1, o.workers_per_region);
  wo.keys = std::max(1, o.keys);
  wo.seed = seed;
  Workload workload(wo, history.value().get());
  int64_t t0 = NowNs();
  workload.Start();

  Nemesis nemesis(backend.get(), access, seed, &g_interrupted);
  Status nemesis_status;
  if (Sleep(std::chrono::milliseconds(static_cast<int64_t>(o.warmup_s * 1000)))) {
    std::cout << "chaos: fault window starts (" << steps.size() << " steps)" << std::endl;
    nemesis_status = nemesis.Run(steps, Clock::now(), o.duration_s);
  }
  // After the heal: every region must acknowledge a write after its last heal (liveness), and the
  // workers go on at least kPostHealMin so replication runs under load after the faults.
  auto heal_done = Clock::now();
  for (;;) {
    bool all_acked = true;
    for (size_t r = 0; r < access.topology.regions.size(); ++r) {
      int64_t last_heal = 0;
      for (const FaultEvent& e : nemesis.events()) {
        if (e.heal && std::find(e.regions.begin(), e.regions.end(), access.topology.regions[r].name) != e.regions.end()) {
          last_heal = std::max(last_heal, e.t_ns);
        }
      }
      all_acked = all_acked && workload.last_ack_ns(r) >= last_heal;
    }
    auto since = Clock::now() - heal_done;
    if ((all_acked && since >= kPostHealMin) || since >= std::chrono::seconds(static_cast<int>(kLivenessBoundS)) ||
        g_interrupted) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  workload.Stop();
  int64_t t_stop = NowNs();
  std::cout << "chaos: workers stopped: " << workload.operations() << " operations, " << workload.acknowledged_writes()
            << " acknowledged writes" << std::endl;
  if (g_interrupted) return fail_harness("interrupted");

  Quiescence q = WaitQuiescent(access, table, kQuiescenceBound);
  std::cout << "chaos: " << (q.converged ? "converged" : "NOT converged") << " after " << q.seconds << " s"
            << (q.converged ? "" : " (" + q.detail + ")") << std::endl;

  std::string conflict_problems;
  CheckInput input;
  input.conflicts = CollectConflicts(*backend, access.topology, table, &conflict_problems);
  Result<std::vector<Op>> ops = ReadHistory((run / "history.jsonl").string());
  if (!ops.ok()) return fail_harness("cannot read the history back: " + ops.status().ToString());
  input.history = ops.value();
  input.final_contents = q.contents;
  CheckResult check = Check(input);

  std::vector<Violation> violations = check.violations;
  for (const auto& v : nemesis.violations()) violations.push_back(v);
  for (const auto& v : nemesis.CheckQuietWindows(input.history)) violations.push_back(v);
  Liveness liveness = MeasureLiveness(input.history, nemesis.events(), t_stop);
  for (const auto& v : liveness.violations) violations.push_back(v);
  for (const auto& region : access.topology.regions) {
    if (!q.contents.count(region.name)) {
      violations.push_back({"unreadable", "", "the final contents of " + region.name + " could not be read"});
    }
  }
  nlohmann::json network = backend->NetworkReport();
  backend->StopAll();

  bool passed = violations.empty();
  bool expected = !o.expect_violation.empty();
  bool bit = expected && std::any_of(violations.begin(), violations.end(),
                                     [&](const Violation& v) {
                                       // KIND or KIND,KIND...: any one of them.
                                       std::string kinds = "," + o.expect_violation + ",";
                                       return kinds.find("," + v.kind + ",") != std::string::npos;
                                     });

  result["operations"] = check.operations;
  result["acknowledged"] = check.acknowledged;
  result["lost"] = check.lost;
  result["conflict_losers"] = check.conflict_losers;
  result["conflict_notes"] = input.conflicts.size();
  result["converged"] = q.converged;
  result["convergence_s"] = q.seconds;
  result["unavailability_s"] = liveness.worst_s;
  result["passed"] = passed;
  if (expected) result["expected_violation"] = {{"kind", o.expect_violation}, {"found", bit}};
  result["violations"] = ViolationsJson(violations);
  result["notes"] = check.notes;
  if (!conflict_problems.empty()) result["notes"].push_back(conflict_problems);
  if (!nemesis_status.ok()) result["notes"].push_back("fault window ended early: " + nemesis_status.ToString());
  result["liveness"] = liveness.per_heal;
  result["network"] = network;
  nlohmann::json events = nlohmann::json::array();
  for (const FaultEvent& e : nemesis.events()) {
    events.push_back({{"t_s", static_cast<double>(e.t_ns - t0) / 1e9}, {"heal", e.heal}, {"what", e.what},
                      {"regions", e.regions}});
  }
  result["events"] = events;
  { std::ofstream(run / "result.json") << result.dump(2) << "\n"; }

  Result<fs::path> png = WritePlot(run, scenario->name + " (" + o.backend + ", seed " + std::to_string(seed) + ")",
                                   input.history, nemesis.events(), t0);
  if (!png.ok()) std::cout << "chaos: " << png.status().message() << std::endl;
  if (!o.results_table.empty()) {
    ResultRow row = SummarizeRuns({nlohmann::json(result)});
    if (Status st = UpdateResultsTable(o.results_table, row); !st.ok()) std::cerr << "chaos: " << st.ToString() << "\n";
    if (!o.plot_dir.empty() && png.ok()) {
      fs::create_directories(o.plot_dir, ec);
      fs::copy_file(png.value(), fs::path(o.plot_dir) / (scenario->name + "-" + o.backend + ".png"),
                    fs::copy_options::overwrite_existing, ec);
    }
  }

  std::cout << "chaos: " << check.operations << " operations, " << check.acknowledged << " acknowledged writes, "
            << check.lost << " lost, " << check.conflict_losers << " conflict losers, convergence " << q.seconds
            << " s, unavailability " << liveness.worst_s << " s" << std::endl;
  for (const auto& n : check.notes) std::cout << "chaos: note: " << n << "\n";
  for (const auto& v : violations) std::cout << "chaos: VIOLATION " << v.kind << (v.key.empty() ? "" : " " + v.key) << ": " << v.detail << "\n";
  if (expected) {
    std::cout << "chaos: expected a " << o.expect_violation << " violation: " << (bit ? "found" : "NOT found")
              << " (seed " << seed << "); run folder: " << run.string() << std::endl;
    return bit ? kExitPass : kExitFail;
  }
  if (!passed) {
    std::cout << "chaos: FAILED (seed " << seed << "); run folder: " << run.string() << std::endl;
    return kExitFail;
  }
  // A passing run keeps its history, logs and result; the data folders are large and say no more.
  fs::remove_all(run / "data", ec);
  std::cout << "chaos: passed (seed " << seed << "); run folder: " << run.string() << std::endl;
  return kExitPass;
}

int Main(int argc, char** argv) {
  Options o;
  std::string error;
  if (!ParseArgs(argc, argv, &o, &error)) return Usage(error);
  if (o.list) {
    // With --backend compose, only the scenarios that backend can run.
    for (const Scenario& s : Scenarios()) {
      if (o.backend == "compose" && !ComposeRefusal(s, s.steps(o.duration_s)).empty()) continue;
      std::cout << s.name << "\n    " << s.description << "\n";
    }
    return kExitPass;
  }
  if (o.summarize) return Summarize(o);
  if (o.scenario.empty()) return Usage("--scenario NAME is required");

  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  std::atomic<bool> done{false};
  std::thread watcher(WatchStopSignals, stop, &done);
  int code = RunScenario(o);
  done = true;
  watcher.join();
  return g_interrupted ? 130 : code;
}

}  // namespace
}  // namespace meridian::chaos

int main(int argc, char** argv) { return meridian::chaos::Main(argc, argv); }
