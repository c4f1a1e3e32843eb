// Chaos scenarios: a small schedule language of fault steps, the named scenarios of issue 8
// written in it, and the nemesis that carries a schedule out against a Backend.
//
// A step: {at seconds from the start of the fault window, action, target, params, bind}.
//   Targets (resolved when the step runs):
//     "leader:R"       the current leader of region R (index into the topology's regions)
//     "follower:R"     a running facility of region R that does not lead (seeded choice)
//     "facility:R:F"   facility F ("a", "b", "c") of region R
//     "replicator:R"   region R's replicator
//     "region:R"       region R (cut-region, wait-healthy, rolling-restart); "all": every region
//     "@name"          the process an earlier step bound with bind: "name"
//   Actions:
//     kill | pause | resume | stop          SIGKILL | SIGSTOP | SIGCONT | SIGTERM then SIGKILL
//     start                                 start a process that is down (same argv), wait until it
//                                           serves; params.args: extra arguments from now on
//     restart                               stop, then start
//     cut-region | cut-facility             block every link between the region (facility) and
//                                           the other regions (the rest of its region)
//     inter-region-faults                   params latency_ms, jitter_ms, loss, retransmit_ms, stall
//     heal-network                          every link back to no faults
//     fail-fsync | unfail-fsync             the facility's disk fails fsync from now on | again works
//     expect-exit                           the process must exit by itself within params.timeout_s
//                                           (else the violation params.violation, "no-exit")
//     transfer-leader                       the target facility becomes its region's leader
//     wait-healthy                          the region(s) healthy within params.timeout_s
//     expect-no-acks                        from now until the region's next heal, no write invoked
//                                           there may be acknowledged (a region without a quorum):
//                                           else the violation "ack-without-quorum"
//     rolling-restart                       each facility of the region(s) in turn: SIGTERM, start,
//                                           wait until the region is healthy
//     heal-all                              heal-network, resume the paused, unfail every disk and
//                                           start whatever is down (the nemesis does it at the end
//                                           of every fault window)
// A schedule can also be read from a JSON file: a list of steps as objects with these keys.
//
// Thread-safety: the nemesis runs on the harness's main thread (backend.h).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "tests/chaos/checker.h"
#include "tests/chaos/harness/backend.h"
#include "tests/chaos/harness/cluster_ops.h"

namespace meridian::chaos {

struct Step {
  double at_s = 0;
  std::string action;
  std::string target;
  std::map<std::string, std::string> params;
  std::string bind;
};

struct Scenario {
  std::string name;
  std::string description;  // what it does and what passing means, for --list
  int min_regions = 2;
  bool fsync_hook = false;                // facilities start with --fail-fsync-file
  std::vector<std::string> start_args;    // extra arguments of every `meridian start`
  // The steps for a fault window of `duration_s` seconds (the nemesis heals all at its end).
  std::function<std::vector<Step>(double duration_s)> steps;
};

const std::vector<Scenario>& Scenarios();
const Scenario* FindScenario(const std::string& name);

std::string StepsToJson(const std::vector<Step>& steps);  // a JSON array, one step per line
Result<std::vector<Step>> StepsFromJson(const std::string& text);

// Something the nemesis did (a fault or a heal), on the history's clock, for liveness and plots.
struct FaultEvent {
  int64_t t_ns = 0;
  bool heal = false;                 // a heal (start, resume, heal-network...) or a fault
  std::string what;                  // "kill us-east-b", "heal-all"
  std::vector<std::string> regions;  // the regions whose writes it affects
};

class Nemesis {
 public:
  Nemesis(Backend* backend, ClusterAccess access, uint64_t seed, const std::atomic<bool>* interrupted);

  // Runs `steps` from `window_start` (steps due in the past run at once, in order), then heals
  // all at window_start + duration. A step that cannot be done is an error when it is the
  // harness's fault (a bad target) and a violation when it is the product's (a node that does not
  // come back, a region that does not heal): both end the window early, healed.
  Status Run(const std::vector<Step>& steps, std::chrono::steady_clock::time_point window_start, double duration_s);
  // Heals the network, resumes, unfails disks and starts every process that is down.
  Status HealAll();

  const std::vector<FaultEvent>& events() const { return events_; }
  const std::vector<Violation>& violations() const { return violations_; }

  // The expect-no-acks windows, judged against the history once it is complete.
  std::vector<Violation> CheckQuietWindows(const std::vector<Op>& history) const;

 private:
  Status Do(const Step& step);
  Result<std::vector<std::string>> Resolve(const Step& step);  // processes or region names
  std::string RegionOf(const std::string& process) const;
  void Event(bool heal, const std::string& what, std::vector<std::string> regions);
  bool SleepUntil(std::chrono::steady_clock::time_point t);  // false when interrupted

  Backend* backend_;
  ClusterAccess access_;
  std::mt19937_64 rng_;
  const std::atomic<bool>* interrupted_;
  std::map<std::string, std::string> bound_;
  std::vector<std::pair<std::string, int64_t>> quiet_;  // region, from (NowNs)
  std::vector<FaultEvent> events_;
  std::vector<Violation> violations_;
};

}  // namespace meridian::chaos
