// Runs the deterministic Raft simulator (raft_sim.h) over many seeds, and shows that its checkers
// catch each planted bug.
//
//   MERIDIAN_SIM_SEEDS=N   seeds per test (default 2000; a tenth under sanitizers)
//   MERIDIAN_SEED=N        replay one seed with a trace on stderr (seeds >= 1000001 are the harsh
//                          profile's); MERIDIAN_SIM_BUG=DoubleVote|MinorityCommit|AckBeforePersist|ReadWithoutQuorum
//                          replays it with that planted bug
//   MERIDIAN_SIM_FIRST=N   first seed (default 1), to explore further seeds from a script
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <utility>
#include <string>

#include "tests/sim/raft_sim.h"
#include "tests/sim/seeds.h"

namespace meridian::sim {
namespace {

uint64_t SeedCount() { return SimSeedCount(2000); }

constexpr uint64_t kHarshFirstSeed = 1'000'001;

SimOptions HarshOptions(uint64_t seed) {
  SimOptions o;
  o.seed = seed;
  o.fault_ticks = 400;
  o.max_delay_ticks = 8;
  o.loss = 0.2;
  o.duplicate = 0.1;
  o.partition_per_tick = 0.03;
  o.partition_ticks_max = 80;
  o.crash_per_tick = 0.01;
  o.crash_before_fsync = 0.01;
  o.compact_after_entries = 8;
  o.conf_change_per_tick = 0.03;
  o.transfer_per_tick = 0.02;
  return o;
}

std::string Describe(const SimResult& r) {
  return r.checker + " at tick " + std::to_string(r.tick) + ": " + r.detail;
}

TEST(RaftSim, SafetyAndLivenessOverManySeeds) {
  if (const char* replay = std::getenv("MERIDIAN_SEED")) {
    uint64_t seed = std::strtoull(replay, nullptr, 10);
    SimOptions o = seed >= kHarshFirstSeed ? HarshOptions(seed) : SimOptions{};
    o.seed = seed;
    o.verbose = true;
    std::string bug = std::getenv("MERIDIAN_SIM_BUG") ? std::getenv("MERIDIAN_SIM_BUG") : "";
    if (bug == "DoubleVote") o.bug = raft::TestingBug::kDoubleVote;
    if (bug == "MinorityCommit") o.bug = raft::TestingBug::kMinorityCommit;
    if (bug == "AckBeforePersist") o.bug = raft::TestingBug::kAckBeforePersist;
    if (bug == "ReadWithoutQuorum") o.bug = raft::TestingBug::kReadWithoutQuorum;
    SimResult r = RunSimulation(o);
    std::printf("seed=%llu nodes=%d %s\n", static_cast<unsigned long long>(o.seed), r.nodes,
                r.ok ? "ok" : Describe(r).c_str());
    EXPECT_TRUE(r.ok) << "seed=" << o.seed << " " << Describe(r);
    return;
  }
  uint64_t first = EnvU64("MERIDIAN_SIM_FIRST", 1);
  uint64_t count = SeedCount();
  auto start = std::chrono::steady_clock::now();
  uint64_t applied = 0, leaders = 0, crashes = 0, snapshots = 0, conf_changes = 0, reads = 0, failures = 0;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    SimOptions o;
    o.seed = seed;
    SimResult r = RunSimulation(o);
    applied += r.entries_applied;
    leaders += r.leaders;
    crashes += r.crashes;
    snapshots += r.snapshots_installed;
    conf_changes += r.conf_changes;
    reads += r.reads_served;
    if (!r.ok) {
      ++failures;
      std::printf("seed=%llu FAILED %s (replay: MERIDIAN_SEED=%llu)\n",
                  static_cast<unsigned long long>(seed), Describe(r).c_str(),
                  static_cast<unsigned long long>(seed));
      ADD_FAILURE() << "seed=" << seed << " " << Describe(r);
      if (failures >= 5) break;
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("seeds=%llu..%llu applied=%llu leaders=%llu crashes=%llu snapshots_installed=%llu "
              "conf_changes=%llu reads=%llu time=%.1fs\n",
              static_cast<unsigned long long>(first), static_cast<unsigned long long>(first + count - 1),
              static_cast<unsigned long long>(applied), static_cast<unsigned long long>(leaders),
              static_cast<unsigned long long>(crashes), static_cast<unsigned long long>(snapshots),
              static_cast<unsigned long long>(conf_changes), static_cast<unsigned long long>(reads), secs);
  // The runs must actually exercise the paths the checkers guard.
  EXPECT_GT(applied, count * 20);
  EXPECT_GT(snapshots, count / 10);
  EXPECT_GT(conf_changes, count / 2);
  EXPECT_GT(reads, count * 5);
}

// A harsher world for a quarter of the seeds: more loss and duplication, longer delays (so more
// reordering), longer partitions, more crashes, smaller snapshots intervals.
TEST(RaftSim, HarshFaults) {
  if (std::getenv("MERIDIAN_SEED")) GTEST_SKIP() << "replaying one seed of the default profile";
  uint64_t count = std::max<uint64_t>(1, SeedCount() / 4);
  int failures = 0;
  for (uint64_t seed = kHarshFirstSeed; seed < kHarshFirstSeed + count; ++seed) {
    SimOptions o = HarshOptions(seed);
    SimResult r = RunSimulation(o);
    if (!r.ok) {
      std::printf("seed=%llu FAILED %s (replay: MERIDIAN_SEED=%llu)\n", static_cast<unsigned long long>(seed),
                  Describe(r).c_str(), static_cast<unsigned long long>(seed));
      ADD_FAILURE() << "harsh seed=" << seed << " " << Describe(r);
      if (++failures >= 5) break;
    }
  }
}

// Each planted bug must be caught by a checker within the seeds the test command runs. All seeds
// run, and the first seed each checker caught it on is printed, so a replay is one env var away.
void ExpectCaught(raft::TestingBug bug, const char* name) {
  uint64_t count = SeedCount();
  std::map<std::string, std::pair<uint64_t, uint64_t>> by_checker;  // checker -> (first seed, runs)
  for (uint64_t seed = 1; seed <= count; ++seed) {
    SimOptions o;
    o.seed = seed;
    o.bug = bug;
    SimResult r = RunSimulation(o);
    if (r.ok) continue;
    auto [it, inserted] = by_checker.emplace(r.checker, std::make_pair(seed, 0));
    ++it->second.second;
    if (inserted) {
      std::printf("planted bug %s caught: seed=%llu by %s%s (replay: MERIDIAN_SIM_BUG=%s MERIDIAN_SEED=%llu)\n", name,
                  static_cast<unsigned long long>(seed), Describe(r).c_str(),
                  r.core_violation.empty() ? ""
                                           : (" (core invariant also broken: " + r.core_violation + ")").c_str(),
                  name + 1, static_cast<unsigned long long>(seed));
    }
  }
  for (auto& [checker, v] : by_checker) {
    std::printf("planted bug %s: %s caught it in %llu of %llu seeds (first seed=%llu)\n", name,
                checker.c_str(), static_cast<unsigned long long>(v.second),
                static_cast<unsigned long long>(count), static_cast<unsigned long long>(v.first));
  }
  EXPECT_FALSE(by_checker.empty()) << "planted bug " << name << " not caught in " << count << " seeds";
}

TEST(RaftSimPlantedBugs, DoubleVoteIsCaught) { ExpectCaught(raft::TestingBug::kDoubleVote, "kDoubleVote"); }
TEST(RaftSimPlantedBugs, MinorityCommitIsCaught) {
  ExpectCaught(raft::TestingBug::kMinorityCommit, "kMinorityCommit");
}
TEST(RaftSimPlantedBugs, ReadWithoutQuorumIsCaught) {
  ExpectCaught(raft::TestingBug::kReadWithoutQuorum, "kReadWithoutQuorum");
}
TEST(RaftSimPlantedBugs, AckBeforePersistIsCaught) {
  ExpectCaught(raft::TestingBug::kAckBeforePersist, "kAckBeforePersist");
}

}  // namespace
}  // namespace meridian::sim
