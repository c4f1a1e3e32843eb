#include "bench/ycsb.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

namespace meridian::bench {
namespace {

TEST(KeyChooser, UniformStaysInRangeAndCoversIt) {
  KeyChooser k(Distribution::kUniform, 1, 0, 0);
  std::set<int64_t> seen;
  for (int i = 0; i < 10'000; ++i) {
    int64_t r = k.Next(100);
    ASSERT_GE(r, 0);
    ASSERT_LT(r, 100);
    seen.insert(r);
  }
  EXPECT_EQ(seen.size(), 100u);
}

// YCSB's zipfian (theta 0.99): the most popular record takes a few percent of all requests
// (1/zeta(10^10) = 3.8%), where uniform would give it 0.1% of them.
TEST(KeyChooser, ZipfianIsSkewedAndScrambled) {
  const uint64_t seed = 42;
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  KeyChooser k(Distribution::kZipfian, seed, 0, 0);
  std::map<int64_t, int> count;
  const int draws = 100'000;
  for (int i = 0; i < draws; ++i) {
    int64_t r = k.Next(1000);
    ASSERT_GE(r, 0);
    ASSERT_LT(r, 1000);
    count[r]++;
  }
  auto hottest = std::max_element(count.begin(), count.end(), [](auto& a, auto& b) { return a.second < b.second; });
  EXPECT_GT(hottest->second, draws / 50);
  EXPECT_NE(hottest->first, 0);  // scrambled: the hot record is not simply the first one
  EXPECT_GT(count.size(), 500u);  // and the tail is still reached
}

TEST(KeyChooser, LatestPrefersTheNewestRecordsAsTheyGrow) {
  KeyChooser k(Distribution::kLatest, 7, KeyChooser::Zeta(1000), 1000);
  for (int64_t records : {1000, 2000}) {
    std::map<int64_t, int> count;
    int recent = 0;
    for (int i = 0; i < 20'000; ++i) {
      int64_t r = k.Next(records);
      ASSERT_GE(r, 0);
      ASSERT_LT(r, records);
      count[r]++;
      recent += r >= records - records / 10 ? 1 : 0;
    }
    auto hottest = std::max_element(count.begin(), count.end(), [](auto& a, auto& b) { return a.second < b.second; });
    EXPECT_EQ(hottest->first, records - 1);
    EXPECT_GT(recent, 20'000 / 2) << "the newest tenth of the records should take most requests";
  }
}

TEST(KeyChooser, ZetaIsIncremental) {
  EXPECT_DOUBLE_EQ(KeyChooser::Zeta(1), 1.0);
  double z100 = KeyChooser::Zeta(100);
  EXPECT_NEAR(KeyChooser::Zeta(200, 100, z100), KeyChooser::Zeta(200), 1e-9);
}

TEST(Workloads, ProportionsSumToOne) {
  ASSERT_EQ(CoreWorkloads().size(), 6u);
  for (const auto& w : CoreWorkloads()) {
    double sum = 0;
    for (double p : w.proportion) sum += p;
    EXPECT_NEAR(sum, 1.0, 1e-9) << w.name;
  }
  EXPECT_EQ(FindWorkload('D')->distribution, Distribution::kLatest);
  EXPECT_EQ(FindWorkload('G'), nullptr);
}

// A store that takes `service` per operation and counts what it was asked.
struct Counts {
  std::mutex mutex;
  std::map<std::string, int> calls;
  std::set<int64_t> loaded;
};
class FakeStore : public Store {
 public:
  FakeStore(Counts* c, std::chrono::microseconds service) : c_(c), service_(service) {}
  Outcome Read(int64_t) override { return Op("read"); }
  Outcome Update(int64_t, const std::string&) override { return Op("update"); }
  Outcome Insert(int64_t, const std::string&) override { return Op("insert"); }
  Outcome Scan(int64_t, int n) override { return n >= 1 && n <= kMaxScanLength ? Op("scan") : Outcome::kError; }
  Outcome ReadModifyWrite(int64_t, const std::string&) override { Op("rmw"); return Outcome::kConditionFailed; }
  Outcome InsertBatch(int64_t first, int count, const std::string& value) override {
    std::lock_guard lock(c_->mutex);
    for (int64_t r = first; r < first + count; ++r) EXPECT_TRUE(c_->loaded.insert(r).second) << "loaded twice: " << r;
    return value.size() == 10 ? Outcome::kOk : Outcome::kError;
  }
  std::string last_error() const override { return "fake"; }

 private:
  Outcome Op(const char* name) {
    std::this_thread::sleep_for(service_);
    std::lock_guard lock(c_->mutex);
    c_->calls[name]++;
    return Outcome::kOk;
  }
  Counts* c_;
  std::chrono::microseconds service_;
};

// Runs `workload` against fake stores taking `service` per operation.
WorkloadResult RunFake(char workload, int clients, double seconds, double rate, Keyspace& keys, Counts& counts,
                       std::chrono::microseconds service, const std::atomic<bool>& stop) {
  RunOptions o;
  o.clients = clients;
  o.duration_seconds = seconds;
  o.target_rate = rate;
  return RunWorkload(*FindWorkload(workload), o, keys, [&](int) { return std::make_unique<FakeStore>(&counts, service); },
                     stop);
}

TEST(RunWorkload, FollowsTheMixAndRecordsEveryOperation) {
  Counts counts;
  Keyspace keys(1000);
  std::atomic<bool> stop{false};
  WorkloadResult r = RunFake('B', 4, 0.5, 0, keys, counts, std::chrono::microseconds(50), stop);
  ASSERT_TRUE(r.ops[static_cast<size_t>(OpType::kRead)]);
  ASSERT_TRUE(r.ops[static_cast<size_t>(OpType::kUpdate)]);
  EXPECT_FALSE(r.ops[static_cast<size_t>(OpType::kInsert)]);
  uint64_t reads = r.ops[0]->ops(), updates = r.ops[1]->ops();
  EXPECT_EQ(reads, static_cast<uint64_t>(counts.calls["read"]));
  EXPECT_EQ(updates, static_cast<uint64_t>(counts.calls["update"]));
  ASSERT_GT(reads + updates, 1000u);
  EXPECT_NEAR(static_cast<double>(reads) / static_cast<double>(reads + updates), 0.95, 0.02);
  uint64_t in_intervals = 0;
  for (const auto& h : r.intervals) in_intervals += h->count();
  EXPECT_EQ(in_intervals, reads + updates);
}

TEST(RunWorkload, InsertsGrowTheKeyspaceAndRmwCountsConditionFailures) {
  Counts counts;
  Keyspace keys(100);
  std::atomic<bool> stop{false};
  WorkloadResult d = RunFake('D', 2, 0.3, 0, keys, counts, std::chrono::microseconds(20), stop);
  uint64_t inserts = d.ops[static_cast<size_t>(OpType::kInsert)]->ok.load();
  EXPECT_GT(inserts, 0u);
  EXPECT_EQ(keys.inserted.load(), 100 + static_cast<int64_t>(inserts));
  WorkloadResult f = RunFake('F', 2, 0.3, 0, keys, counts, std::chrono::microseconds(20), stop);
  const OpStats& rmw = *f.ops[static_cast<size_t>(OpType::kReadModifyWrite)];
  EXPECT_GT(rmw.ops(), 0u);
  EXPECT_EQ(rmw.condition_failed.load(), rmw.ops());
  EXPECT_EQ(rmw.errors.load(), 0u);
}

// Readers choose only records whose insert was answered: the limit waits for a record still in
// flight even when later ones were answered first, then jumps past all of them.
TEST(Keyspace, TheReadableLimitWaitsForTheOldestInsertInFlight) {
  Keyspace keys(10);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(keys.next_insert.fetch_add(1), 10 + i);
  keys.Answered(12);
  keys.Answered(11);
  EXPECT_EQ(keys.inserted.load(), 10) << "record 10 is still in flight";
  keys.Answered(10);
  EXPECT_EQ(keys.inserted.load(), 13);
  keys.Answered(13);
  EXPECT_EQ(keys.inserted.load(), 14);
  keys.Answered(5);  // below the limit: nothing changes
  EXPECT_EQ(keys.inserted.load(), 14);
}

// Coordinated omission: one client, 10 ms per operation, 200 operations/s due. The client falls
// behind at once; in open loop each operation's latency counts from when it was due, so the
// queue shows (hundreds of ms), where the closed loop reports only the 10 ms service time.
TEST(RunWorkload, OpenLoopLatencyIncludesTheQueue) {
  Counts counts;
  Keyspace keys(100);
  std::atomic<bool> stop{false};
  WorkloadResult closed = RunFake('C', 1, 0.5, 0, keys, counts, std::chrono::milliseconds(10), stop);
  WorkloadResult open = RunFake('C', 1, 0.5, 200, keys, counts, std::chrono::milliseconds(10), stop);
  const Histogram& c = closed.ops[0]->latency;
  const Histogram& p = open.ops[0]->latency;
  // The median, not the tail: one scheduling stall of a busy machine must not fail the test.
  EXPECT_LT(c.Percentile(50), 100'000'000u);
  EXPECT_GT(p.Percentile(99), 250'000'000u);
  EXPECT_EQ(p.count(), 100u);  // every operation due within the duration, and no other
}

TEST(RunWorkload, StopEndsItEarly) {
  Counts counts;
  Keyspace keys(100);
  std::atomic<bool> stop{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop = true;
  });
  auto begin = std::chrono::steady_clock::now();
  WorkloadResult r = RunFake('A', 2, 30, 0, keys, counts, std::chrono::microseconds(100), stop);
  stopper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(5));
  EXPECT_TRUE(r.interrupted);
}

TEST(Load, InsertsEveryRecordOnce) {
  Counts counts;
  std::atomic<bool> stop{false};
  LoadResult r = Load(1234, 3, 10, [&](int) { return std::make_unique<FakeStore>(&counts, std::chrono::microseconds(0)); }, stop);
  EXPECT_EQ(r.records, 1234);
  EXPECT_EQ(r.errors, 0u);
  EXPECT_EQ(counts.loaded.size(), 1234u);
  EXPECT_EQ(*counts.loaded.rbegin(), 1233);
}

TEST(Load, StopsAtTheFirstFailedBatch) {
  Counts counts;
  std::atomic<bool> stop{false};
  // The fake store fails batches whose value is not 10 bytes long.
  LoadResult r = Load(1000, 2, 11, [&](int) { return std::make_unique<FakeStore>(&counts, std::chrono::microseconds(0)); }, stop);
  EXPECT_LT(r.records, 1000);
  EXPECT_GT(r.errors, 0u);
  EXPECT_EQ(r.first_error, "fake");
}

}  // namespace
}  // namespace meridian::bench
