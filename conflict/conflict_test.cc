// The hybrid logical clock and the last-writer-wins merge rule, including property tests over
// random multi-region histories delivered in random orders with duplicates (seeds printed).
#include <gtest/gtest.h>

#include <cstdio>
#include <deque>
#include <random>
#include <vector>

#include "conflict/hlc.h"
#include "conflict/version.h"

namespace meridian::conflict {
namespace {

TEST(HybridClock, NeverGoesBackwardsWhenTheWallClockDoes) {
  int64_t wall = 1'000'000;
  HybridClock clock([&] { return wall; }, 500);
  uint64_t a = clock.Now();
  EXPECT_EQ(HlcPhysicalMs(a), 1'000'000u);
  wall -= 5000;  // the wall clock steps back five seconds
  uint64_t b = clock.Now();
  EXPECT_GT(b, a);
  EXPECT_EQ(HlcPhysicalMs(b), 1'000'000u);  // logical ticks carry it
  wall += 10000;
  EXPECT_EQ(HlcPhysicalMs(clock.Now()), 1'005'000u);  // and physical time takes over again
}

TEST(HybridClock, LogicalOverflowBorrowsTheNextMillisecondAndStaysMonotonic) {
  HybridClock clock([] { return int64_t{42}; }, 500);
  uint64_t prev = clock.Now();
  for (int i = 0; i < 70000; ++i) {
    uint64_t t = clock.Now();
    ASSERT_GT(t, prev);
    prev = t;
  }
  EXPECT_EQ(HlcPhysicalMs(prev), 43u);
}

TEST(HybridClock, UpdateFollowsRemoteTimestampsWithinTheMaxOffsetAndRejectsOthers) {
  int64_t wall = 10'000;
  HybridClock clock([&] { return wall; }, 500);
  uint64_t remote = MakeHlc(10'400, 7);  // 400 ms ahead: accepted
  ASSERT_TRUE(clock.Update(remote));
  EXPECT_GT(clock.Now(), remote);
  uint64_t before = clock.last();
  EXPECT_FALSE(clock.Update(MakeHlc(10'501, 0)));  // 501 ms ahead: refused, counted, no effect
  EXPECT_EQ(clock.rejected(), 1u);
  EXPECT_EQ(clock.last(), before);
  clock.Restore(MakeHlc(20'000, 0));  // a new leader starts above the highest committed timestamp
  EXPECT_GT(clock.Now(), MakeHlc(20'000, 0));
}

TEST(VersionVectorTest, ComparesPointwiseWithAbsentAsZero) {
  EXPECT_EQ(Compare({}, {}), Order::kEqual);
  EXPECT_EQ(Compare({{"a", 0}}, {}), Order::kEqual);
  EXPECT_EQ(Compare({{"a", 1}}, {{"a", 2}}), Order::kBefore);
  EXPECT_EQ(Compare({{"a", 2}, {"b", 1}}, {{"a", 2}}), Order::kAfter);
  EXPECT_EQ(Compare({{"a", 1}}, {{"b", 1}}), Order::kConcurrent);
  EXPECT_EQ(PointwiseMax({{"a", 3}, {"b", 1}}, {{"b", 2}, {"c", 1}}),
            (VersionVector{{"a", 3}, {"b", 2}, {"c", 1}}));
}

using State = Versioned<std::string>;

TEST(MergeRule, DominatedDroppedDominatingAppliedConcurrentByHlcThenOrigin) {
  State l{"x", {{{"a", 2}}, 100, "a"}};
  EXPECT_EQ(Merge(l, State{"old", {{{"a", 1}}, 50, "a"}}).outcome, MergeOutcome::kDropped);
  EXPECT_EQ(Merge(l, l).outcome, MergeOutcome::kDropped);
  auto applied = Merge(l, State{"new", {{{"a", 2}, {"b", 1}}, 120, "b"}});
  EXPECT_EQ(applied.outcome, MergeOutcome::kApplied);
  EXPECT_EQ(applied.state.value, "new");
  // Concurrent: the higher hlc wins; the vector is the pointwise max; the loser is named.
  auto won = Merge(l, State{std::nullopt, {{{"b", 1}}, 150, "b"}});  // a concurrent delete
  EXPECT_EQ(won.outcome, MergeOutcome::kConflictWon);
  EXPECT_FALSE(won.state.value.has_value());
  EXPECT_EQ(won.state.version.vv, (VersionVector{{"a", 2}, {"b", 1}}));
  ASSERT_TRUE(won.loser.has_value());
  EXPECT_EQ(won.loser->origin, "a");
  auto lost = Merge(l, State{"y", {{{"b", 1}}, 100, "0"}});  // same hlc: origin decides ("a" > "0")
  EXPECT_EQ(lost.outcome, MergeOutcome::kConflictLost);
  EXPECT_EQ(lost.state.value, "x");
  EXPECT_EQ(lost.state.version.vv, (VersionVector{{"a", 2}, {"b", 1}}));
}

// Random histories: 2 to 5 regions with skewed clocks write a few keys (puts and deletes) and
// ship every version to every other region over links that reorder and duplicate. Each region
// folds what it receives into its clock and state, and bases its next writes on that state.
struct History {
  std::vector<std::string> regions;
  std::vector<std::vector<State>> states;  // [region][key]
  std::vector<std::vector<State>> versions;  // [key]: every version written
  uint64_t conflicts = 0;
};

History RunHistory(uint64_t seed) {
  std::mt19937_64 rng(seed);
  History h;
  int n = 2 + static_cast<int>(rng() % 4);
  int keys = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < n; ++i) h.regions.push_back("region-" + std::to_string(i));
  int64_t now = 1'000'000;
  std::vector<int64_t> skew;
  std::vector<HybridClock> clocks;
  for (int i = 0; i < n; ++i) skew.push_back(static_cast<int64_t>(rng() % 400) - 200);
  for (int i = 0; i < n; ++i) clocks.emplace_back([&now, &skew, i] { return now + skew[i]; }, 500);
  h.states.assign(n, std::vector<State>(keys));
  h.versions.resize(keys);
  struct Delivery {
    int to, key;
    State version;
  };
  std::vector<Delivery> in_flight;
  auto deliver = [&](size_t at) {
    Delivery d = in_flight[at];
    in_flight.erase(in_flight.begin() + static_cast<long>(at));
    if (rng() % 10 == 0) in_flight.push_back(d);  // duplicated: it will arrive again
    EXPECT_TRUE(clocks[d.to].Update(d.version.version.hlc));
    auto r = Merge(h.states[d.to][d.key], d.version);
    if (r.loser) ++h.conflicts;
    h.states[d.to][d.key] = r.state;
  };
  int steps = 50 + static_cast<int>(rng() % 200);
  for (int s = 0; s < steps; ++s) {
    now += static_cast<int64_t>(rng() % 5);
    if (!in_flight.empty() && rng() % 2 == 0) {
      deliver(rng() % in_flight.size());
      continue;
    }
    int r = static_cast<int>(rng() % n), k = static_cast<int>(rng() % keys);
    State next = h.states[r][k];
    next.version.vv[h.regions[r]] += 1;
    next.version.hlc = clocks[r].Now();
    next.version.origin = h.regions[r];
    if (rng() % 8 == 0) {
      next.value.reset();  // a delete leaves a tombstone carrying its version
    } else {
      next.value = h.regions[r] + "/" + std::to_string(s);
    }
    h.states[r][k] = next;
    h.versions[k].push_back(next);
    for (int to = 0; to < n; ++to) {
      if (to != r) in_flight.push_back({to, k, next});
    }
  }
  while (!in_flight.empty()) deliver(rng() % in_flight.size());
  return h;
}

TEST(MergeRule, EveryRegionConvergesWhateverTheDeliveryOrder) {
  uint64_t base = std::random_device{}();
  std::printf("base seed %llu (replay one history with its seed)\n", static_cast<unsigned long long>(base));
  uint64_t conflicts = 0;
  for (uint64_t i = 0; i < 500; ++i) {
    uint64_t seed = base + i;
    History h = RunHistory(seed);
    conflicts += h.conflicts;
    for (size_t r = 1; r < h.states.size(); ++r) {
      ASSERT_EQ(h.states[r], h.states[0]) << "seed " << seed << ": region " << h.regions[r]
                                          << " differs from " << h.regions[0];
    }
  }
  EXPECT_GT(conflicts, 0u) << "the histories must contain concurrent writes";
}

TEST(MergeRule, IsCommutativeAssociativeAndIdempotentOnRealHistories) {
  uint64_t seed = std::random_device{}();
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 50; ++round) {
    History h = RunHistory(rng());
    // Versions of one item (different items' versions are unrelated).
    const auto& v = h.versions[rng() % h.versions.size()];
    if (v.empty()) continue;
    for (int t = 0; t < 200; ++t) {
      const State& a = v[rng() % v.size()];
      const State& b = v[rng() % v.size()];
      const State& c = v[rng() % v.size()];
      ASSERT_EQ(Merge(a, a).state, a) << "seed " << seed;
      ASSERT_EQ(Merge(a, b).state, Merge(b, a).state) << "seed " << seed;
      ASSERT_EQ(Merge(Merge(a, b).state, c).state, Merge(a, Merge(b, c).state).state) << "seed " << seed;
    }
  }
}

}  // namespace
}  // namespace meridian::conflict
