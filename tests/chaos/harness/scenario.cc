#include "tests/chaos/harness/scenario.h"

#include <algorithm>
#include <limits>
#include <iostream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/chaos/harness/workload.h"

namespace meridian::chaos {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

Step At(double at, std::string action, std::string target, std::string bind = "",
        std::map<std::string, std::string> params = {}) {
  Step s;
  s.at_s = at;
  s.action = std::move(action);
  s.target = std::move(target);
  s.bind = std::move(bind);
  s.params = std::move(params);
  return s;
}

// n evenly spaced rounds in a window of d seconds, each at least `min_period` long.
int Rounds(double d, double min_period) { return std::max(1, static_cast<int>(d / min_period)); }

std::vector<Scenario> MakeScenarios() {
  std::vector<Scenario> out;
  out.push_back({"leader-kill",
                 "SIGKILL the current leader of a region under load, start it again 3 s later; every ~7 s, "
                 "alternating regions. Passes: no acknowledged write lost, regions identical, strong "
                 "operations linearizable, writes again after each restart.",
                 2, false, {}, [](double d) {
                   std::vector<Step> s;
                   int n = Rounds(d, 7);
                   for (int i = 0; i < n; ++i) {
                     double at = i * d / n;
                     std::string v = "victim" + std::to_string(i);
                     s.push_back(At(at, "kill", "leader:" + std::to_string(i % 2), v));
                     s.push_back(At(at + 3, "start", "@" + v));
                   }
                   return s;
                 }});
  out.push_back({"leader-pause",
                 "SIGSTOP the leader of a region for 3 s (the election timeout is 0.3-0.6 s), then SIGCONT: "
                 "the old leader returns as a follower and must not acknowledge anything it cannot commit.",
                 2, false, {}, [](double d) {
                   std::vector<Step> s;
                   int n = Rounds(d, 8);
                   for (int i = 0; i < n; ++i) {
                     double at = i * d / n;
                     std::string v = "paused" + std::to_string(i);
                     s.push_back(At(at, "pause", "leader:" + std::to_string(i % 2), v));
                     s.push_back(At(at + 3, "resume", "@" + v));
                   }
                   return s;
                 }});
  out.push_back({"follower-loss",
                 "SIGKILL a follower for 60% of the window, then start it: it catches up (by snapshot: "
                 "the nodes snapshot every 300 entries here).",
                 2, false, {"--snapshot-entries", "300"}, [](double d) {
                   return std::vector<Step>{At(0, "kill", "follower:0", "f"), At(d * 0.6, "start", "@f"),
                                            At(d * 0.6, "wait-healthy", "region:0", "", {{"timeout_s", "30"}})};
                 }});
  out.push_back({"two-of-three",
                 "SIGKILL two facilities of region 0 (a follower, then the leader): its writes fail or are "
                 "unknown, none is acknowledged (ack-without-quorum); start both at 60% of the window: the region recovers.",
                 2, false, {}, [](double d) {
                   return std::vector<Step>{At(0, "kill", "follower:0", "f1"), At(0.5, "kill", "leader:0", "f2"),
                                            At(0.5, "expect-no-acks", "region:0"), At(d * 0.6, "start", "@f1"),
                                            At(d * 0.6 + 0.5, "start", "@f2")};
                 }});
  out.push_back({"region-isolation",
                 "Block every link between region 0 and the others for the whole window, with writes on "
                 "both sides (shared keys conflict), then heal: the regions converge, losers are listed.",
                 2, false, {}, [](double) { return std::vector<Step>{At(0, "cut-region", "region:0")}; }});
  out.push_back({"replicator-crash",
                 "SIGKILL a region's replicator mid-load, start it 3 s later; then the other region's. "
                 "Delivery resumes from the stored cursors: nothing lost, nothing applied twice.",
                 2, false, {}, [](double d) {
                   return std::vector<Step>{At(1, "kill", "replicator:0", "r0"), At(4, "start", "@r0"),
                                            At(d / 2, "kill", "replicator:1", "r1"), At(d / 2 + 3, "start", "@r1")};
                 }});
  out.push_back({"inter-region-latency",
                 "100 ms +/- 50 ms of latency and 5% loss (a 200 ms retransmission hold) on every "
                 "inter-region link for the window.",
                 2, false, {}, [](double) {
                   return std::vector<Step>{At(0, "inter-region-faults", "all", "",
                                               {{"latency_ms", "100"}, {"jitter_ms", "50"}, {"loss", "0.05"}})};
                 }});
  out.push_back({"clock-offset",
                 "Restart a follower of region 1 with its clock 250 ms ahead (--clock-offset-ms 250, below "
                 "max_clock_offset_ms) and make it the leader, so its timestamps order the conflicts.",
                 2, false, {}, [](double) {
                   return std::vector<Step>{At(0, "restart", "follower:1", "skewed", {{"args", "--clock-offset-ms 250"}}),
                                            At(0, "wait-healthy", "region:1", "", {{"timeout_s", "30"}}),
                                            At(1, "transfer-leader", "@skewed")};
                 }});
  out.push_back({"fsync-failure",
                 "The leader's disk starts failing fsync: it must exit (never acknowledge what it could not "
                 "sync); the disk is mended and it is started again, recovering from its log. Then a "
                 "follower of the other region.",
                 2, true, {}, [](double d) {
                   std::vector<Step> s;
                   const char* targets[] = {"leader:0", "follower:1"};
                   for (int i = 0; i < 2; ++i) {
                     double at = i * d / 2 + 1;
                     std::string v = "disk" + std::to_string(i);
                     s.push_back(At(at, "fail-fsync", targets[i], v));
                     s.push_back(At(at, "expect-exit", "@" + v, "", {{"timeout_s", "10"}, {"violation", "fsync-no-exit"}}));
                     s.push_back(At(at, "unfail-fsync", "@" + v));
                     s.push_back(At(at + 1, "start", "@" + v));
                   }
                   return s;
                 }});
  out.push_back({"rolling-restart",
                 "SIGTERM and start every facility of every region one by one, waiting for its region to be "
                 "healthy between: leaders hand over, writes barely pause.",
                 2, false, {}, [](double) { return std::vector<Step>{At(0, "rolling-restart", "all")}; }});
  out.push_back({"leader-transfer",
                 "Move the leadership of a region to one of its followers every ~3 s, alternating regions: "
                 "the old leader stays up as a follower, and clients that still send to it must get "
                 "strongly consistent answers (forwarded, not served from its own state).",
                 2, false, {}, [](double d) {
                   std::vector<Step> s;
                   int n = Rounds(d, 3);
                   for (int i = 0; i < n; ++i) {
                     s.push_back(At(i * d / n, "transfer-leader", "follower:" + std::to_string(i % 2)));
                   }
                   return s;
                 }});
  out.push_back({"facility-isolation",
                 "Cut the leader of region 0 off from the rest of its region for the window: the other two "
                 "elect a new leader; the old one must not acknowledge writes.",
                 2, false, {}, [](double) { return std::vector<Step>{At(0, "cut-facility", "leader:0")}; }});
  out.push_back({"snapshot-install-crash",
                 "Kill a follower, let the log move on past a snapshot (every 200 entries), start it and "
                 "kill it again while it installs the snapshot, then start it for good.",
                 2, false, {"--snapshot-entries", "200"}, [](double d) {
                   return std::vector<Step>{At(0, "kill", "follower:0", "f"), At(d * 0.5, "start", "@f"),
                                            At(d * 0.5, "kill", "@f"), At(d * 0.5 + 2, "start", "@f")};
                 }});
  return out;
}

}  // namespace

const std::vector<Scenario>& Scenarios() {
  static const std::vector<Scenario> all = MakeScenarios();
  return all;
}

const Scenario* FindScenario(const std::string& name) {
  for (const Scenario& s : Scenarios()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::string StepsToJson(const std::vector<Step>& steps) {
  std::string out = "[\n";
  for (size_t i = 0; i < steps.size(); ++i) {
    nlohmann::ordered_json j = {{"at", steps[i].at_s}, {"action", steps[i].action}, {"target", steps[i].target}};
    if (!steps[i].bind.empty()) j["bind"] = steps[i].bind;
    if (!steps[i].params.empty()) j["params"] = steps[i].params;
    out += "  " + j.dump() + (i + 1 < steps.size() ? ",\n" : "\n");
  }
  return out + "]\n";
}

Result<std::vector<Step>> StepsFromJson(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_array()) return Status::Validation("a schedule is a JSON array of steps");
  std::vector<Step> steps;
  for (const auto& e : j) {
    if (!e.is_object() || !e.contains("at") || !e["at"].is_number() || !e.contains("action") ||
        !e["action"].is_string()) {
      return Status::Validation("a step needs \"at\" (seconds) and \"action\": " + e.dump());
    }
    Step s;
    s.at_s = e["at"].get<double>();
    s.action = e["action"].get<std::string>();
    s.target = e.value("target", "");
    s.bind = e.value("bind", "");
    if (e.contains("params")) {
      if (!e["params"].is_object()) return Status::Validation("params must be an object: " + e.dump());
      for (const auto& [k, v] : e["params"].items()) s.params[k] = v.is_string() ? v.get<std::string>() : v.dump();
    }
    steps.push_back(std::move(s));
  }
  return steps;
}

Nemesis::Nemesis(Backend* backend, ClusterAccess access, uint64_t seed, const std::atomic<bool>* interrupted)
    : backend_(backend), access_(std::move(access)), rng_(seed ^ 0x6e656d65736973ULL), interrupted_(interrupted) {}

std::string Nemesis::RegionOf(const std::string& process) const {
  for (const auto& region : access_.topology.regions) {
    if (topology::ReplicatorProcessName(region.name) == process) return region.name;
    for (const auto& f : region.facilities) {
      if (topology::ProcessName(region.name, f.name) == process) return region.name;
    }
  }
  return "";
}

void Nemesis::Event(bool heal, const std::string& what, std::vector<std::string> regions) {
  events_.push_back(FaultEvent{NowNs(), heal, what, std::move(regions)});
  std::cout << "chaos: " << (heal ? "heal  " : "fault ") << what << std::endl;
}

bool Nemesis::SleepUntil(Clock::time_point t) {
  while (Clock::now() < t) {
    if (interrupted_->load()) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(t - Clock::now(), 50ms));
  }
  return !interrupted_->load();
}

Result<std::vector<std::string>> Nemesis::Resolve(const Step& step) {
  const std::string& t = step.target;
  auto region_at = [&](const std::string& index) -> Result<std::string> {
    char* end = nullptr;
    long i = std::strtol(index.c_str(), &end, 10);
    if (index.empty() || *end != '\0' || i < 0 || static_cast<size_t>(i) >= access_.topology.regions.size()) {
      return Status::Validation("target '" + t + "': no region " + index + " (the run has " +
                                std::to_string(access_.topology.regions.size()) + ")");
    }
    return access_.topology.regions[static_cast<size_t>(i)].name;
  };
  auto after = [&](const std::string& prefix) { return t.substr(prefix.size()); };
  if (t == "all") {
    std::vector<std::string> regions;
    for (const auto& r : access_.topology.regions) regions.push_back(r.name);
    return regions;
  }
  if (t.starts_with("@")) {
    auto it = bound_.find(t.substr(1));
    if (it == bound_.end()) return Status::Validation("target '" + t + "' was bound by no earlier step");
    return std::vector<std::string>{it->second};
  }
  if (t.starts_with("region:")) {
    MERIDIAN_ASSIGN_OR_RETURN(std::string region, region_at(after("region:")));
    return std::vector<std::string>{region};
  }
  if (t.starts_with("replicator:")) {
    MERIDIAN_ASSIGN_OR_RETURN(std::string region, region_at(after("replicator:")));
    return std::vector<std::string>{topology::ReplicatorProcessName(region)};
  }
  if (t.starts_with("facility:")) {
    std::string rest = after("facility:");
    size_t colon = rest.find(':');
    if (colon == std::string::npos) return Status::Validation("target '" + t + "': facility:R:F");
    MERIDIAN_ASSIGN_OR_RETURN(std::string region, region_at(rest.substr(0, colon)));
    if (!access_.topology.FindFacility(region, rest.substr(colon + 1))) {
      return Status::Validation("target '" + t + "': no such facility");
    }
    return std::vector<std::string>{topology::ProcessName(region, rest.substr(colon + 1))};
  }
  if (t.starts_with("leader:") || t.starts_with("follower:")) {
    bool leader = t.starts_with("leader:");
    MERIDIAN_ASSIGN_OR_RETURN(std::string region, region_at(after(leader ? "leader:" : "follower:")));
    Result<std::string> current = FindLeader(access_, region, 5s);
    if (leader) {
      if (!current.ok()) {
        return Status(ErrorCode::kServiceUnavailable, "no leader in " + region + ": " + current.status().message());
      }
      return std::vector<std::string>{current.value()};
    }
    std::vector<std::string> candidates;
    for (const auto& f : access_.topology.FindRegion(region)->facilities) {
      std::string name = topology::ProcessName(region, f.name);
      if (backend_->running(name) && !backend_->paused(name) && (!current.ok() || name != current.value())) {
        candidates.push_back(name);
      }
    }
    if (candidates.empty()) return Status(ErrorCode::kServiceUnavailable, "no running follower in " + region);
    return std::vector<std::string>{candidates[std::uniform_int_distribution<size_t>(0, candidates.size() - 1)(rng_)]};
  }
  return Status::Validation("unknown target '" + t + "'");
}

Status Nemesis::Do(const Step& step) {
  const std::string& a = step.action;
  if (a == "heal-all") return HealAll();
  if (a == "heal-network") {
    MERIDIAN_RETURN_IF_ERROR(backend_->HealNetwork());
    std::vector<std::string> all;
    for (const auto& r : access_.topology.regions) all.push_back(r.name);
    Event(true, "heal-network", all);
    return Status::Ok();
  }
  if (a == "inter-region-faults") {
    LinkFaults f;
    auto num = [&](const char* key, double fallback) {
      auto it = step.params.find(key);
      return it == step.params.end() ? fallback : std::strtod(it->second.c_str(), nullptr);
    };
    f.latency_ms = static_cast<int>(num("latency_ms", 0));
    f.jitter_ms = static_cast<int>(num("jitter_ms", 0));
    f.loss = num("loss", 0);
    f.retransmit_ms = static_cast<int>(num("retransmit_ms", f.retransmit_ms));
    f.stall = num("stall", 0) != 0;
    MERIDIAN_RETURN_IF_ERROR(backend_->SetInterRegionFaults(f));
    std::vector<std::string> all;
    for (const auto& r : access_.topology.regions) all.push_back(r.name);
    Event(false,
          "inter-region links: latency " + std::to_string(f.latency_ms) + " ms +/- " + std::to_string(f.jitter_ms) +
              ", loss " + std::to_string(f.loss) + (f.stall ? ", stalled" : ""),
          all);
    return Status::Ok();
  }

  MERIDIAN_ASSIGN_OR_RETURN(std::vector<std::string> targets, Resolve(step));
  if (!step.bind.empty() && !targets.empty()) bound_[step.bind] = targets.front();
  auto timeout = [&](double fallback) {
    auto it = step.params.find("timeout_s");
    double s = it == step.params.end() ? fallback : std::strtod(it->second.c_str(), nullptr);
    return std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
  };
  std::vector<std::string> all;
  for (const auto& r : access_.topology.regions) all.push_back(r.name);

  for (const std::string& target : targets) {
    std::string region = RegionOf(target);
    if (a == "kill") {
      MERIDIAN_RETURN_IF_ERROR(backend_->Kill(target));
      Event(false, "kill " + target, {region});
    } else if (a == "pause") {
      MERIDIAN_RETURN_IF_ERROR(backend_->Pause(target));
      Event(false, "pause " + target, {region});
    } else if (a == "resume") {
      MERIDIAN_RETURN_IF_ERROR(backend_->Resume(target));
      Event(true, "resume " + target, {region});
    } else if (a == "stop") {
      MERIDIAN_RETURN_IF_ERROR(backend_->Stop(target));
      Event(false, "stop " + target, {region});
    } else if (a == "start" || a == "restart") {
      std::vector<std::string> extra;
      if (auto it = step.params.find("args"); it != step.params.end()) {
        std::istringstream words(it->second);
        for (std::string w; words >> w;) extra.push_back(w);
      }
      if (a == "restart") {
        MERIDIAN_RETURN_IF_ERROR(backend_->Stop(target));
        Event(false, "stop " + target, {region});
      }
      Status st = backend_->Start(target, extra);
      if (!st.ok()) {
        violations_.push_back({"recovery", "", target + " did not come back: " + st.message()});
        return st;
      }
      std::string args;
      for (const auto& e : extra) args += " " + e;
      Event(true, "start " + target + args, {region});
    } else if (a == "cut-region") {
      MERIDIAN_RETURN_IF_ERROR(backend_->CutRegion(target));
      Event(false, "cut-region " + target, all);
    } else if (a == "cut-facility") {
      MERIDIAN_RETURN_IF_ERROR(backend_->CutFacility(target));
      Event(false, "cut-facility " + target, {region});
    } else if (a == "fail-fsync" || a == "unfail-fsync") {
      MERIDIAN_RETURN_IF_ERROR(backend_->FailFsync(target, a == "fail-fsync"));
      if (a == "fail-fsync") Event(false, "fail-fsync " + target, {region});
    } else if (a == "expect-exit") {
      Result<int> code = backend_->WaitExit(target, timeout(10));
      if (!code.ok()) {
        auto it = step.params.find("violation");
        violations_.push_back({it == step.params.end() ? "no-exit" : it->second, "", code.status().message()});
        MERIDIAN_RETURN_IF_ERROR(backend_->Kill(target));
      } else {
        std::cout << "chaos: " << target << " exited with " << code.value() << std::endl;
      }
    } else if (a == "transfer-leader") {
      std::string facility = target.substr(region.size() + 1);
      MERIDIAN_RETURN_IF_ERROR(TransferLeader(access_, region, facility));
      Event(true, "transfer-leader to " + target, {region});
    } else if (a == "wait-healthy") {
      Status st = WaitRegionHealthy(access_, target, timeout(30));
      if (!st.ok()) {
        violations_.push_back({"recovery", "", st.message()});
        return st;
      }
    } else if (a == "expect-no-acks") {
      quiet_.emplace_back(target, NowNs());
    } else if (a == "rolling-restart") {
      for (const auto& f : access_.topology.FindRegion(target)->facilities) {
        std::string name = topology::ProcessName(target, f.name);
        MERIDIAN_RETURN_IF_ERROR(backend_->Stop(name));
        Event(false, "stop " + name, {target});
        Status st = backend_->Start(name);
        if (st.ok()) st = WaitRegionHealthy(access_, target, timeout(30));
        if (!st.ok()) {
          violations_.push_back({"recovery", "", name + ": " + st.message() + "; its links: " + backend_->LinksOf(name).dump() +
                                                     "; see " + backend_->Diagnose(name)});
          return st;
        }
        Event(true, "start " + name, {target});
      }
    } else {
      return Status::Validation("unknown action '" + a + "'");
    }
  }
  return Status::Ok();
}

Status Nemesis::Run(const std::vector<Step>& steps, Clock::time_point window_start, double duration_s) {
  std::vector<Step> ordered = steps;
  std::stable_sort(ordered.begin(), ordered.end(), [](const Step& x, const Step& y) { return x.at_s < y.at_s; });
  Status result;
  for (const Step& step : ordered) {
    if (!SleepUntil(window_start + std::chrono::milliseconds(static_cast<int64_t>(step.at_s * 1000)))) break;
    Status st = Do(step);
    if (!st.ok()) {
      std::cout << "chaos: step {" << step.at_s << " s, " << step.action << " " << step.target
                << "} failed: " << st.ToString() << std::endl;
      if (std::none_of(violations_.begin(), violations_.end(), [](const Violation& v) { return v.kind == "recovery"; })) {
        violations_.push_back({"fault-step", "", step.action + " " + step.target + ": " + st.ToString()});
      }
      result = st;
      break;
    }
  }
  if (result.ok()) SleepUntil(window_start + std::chrono::milliseconds(static_cast<int64_t>(duration_s * 1000)));
  Status healed = HealAll();
  return result.ok() ? healed : result;
}

std::vector<Violation> Nemesis::CheckQuietWindows(const std::vector<Op>& history) const {
  std::vector<Violation> out;
  for (const auto& [region, from] : quiet_) {
    int64_t until = std::numeric_limits<int64_t>::max();
    for (const FaultEvent& e : events_) {
      if (e.heal && e.t_ns >= from && std::find(e.regions.begin(), e.regions.end(), region) != e.regions.end()) {
        until = std::min(until, e.t_ns);
      }
    }
    for (const Op& op : history) {
      if (op.region == region && IsWrite(op.type) && op.outcome == Outcome::kOk && op.invoke_ns >= from &&
          op.complete_ns <= until) {
        out.push_back({"ack-without-quorum", op.key,
                       "write #" + std::to_string(op.id) + " (" + OpTypeName(op.type) + " " + op.token + ") was acknowledged in " +
                           region + " while it had no quorum"});
      }
    }
  }
  return out;
}

Status Nemesis::HealAll() {
  MERIDIAN_RETURN_IF_ERROR(backend_->HealNetwork());
  Status result;
  for (const std::string& p : backend_->processes()) {
    if (backend_->paused(p)) MERIDIAN_RETURN_IF_ERROR(backend_->Resume(p));
    // Only facilities started with the hook have a disk to mend; the others say so, harmlessly.
    (void)backend_->FailFsync(p, false);
  }
  for (const std::string& p : backend_->processes()) {
    if (backend_->running(p)) continue;
    Status st = backend_->Start(p);
    if (!st.ok()) {
      violations_.push_back({"recovery", "", p + " did not come back after the faults: " + st.message()});
      result = st;
    }
  }
  std::vector<std::string> all;
  for (const auto& r : access_.topology.regions) all.push_back(r.name);
  Event(true, "heal-all", all);
  return result;
}

}  // namespace meridian::chaos
