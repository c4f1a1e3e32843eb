#include "bench/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace meridian::bench {
namespace {

TEST(Histogram, BucketsTileTheRangeWithoutGapsOrOverlap) {
  for (size_t b = 0; b + 1 < Histogram::kBuckets; ++b) {
    ASSERT_EQ(Histogram::BucketHigh(b) + 1, Histogram::BucketLow(b + 1)) << "bucket " << b;
    ASSERT_EQ(Histogram::BucketOf(Histogram::BucketLow(b)), b);
    ASSERT_EQ(Histogram::BucketOf(Histogram::BucketHigh(b)), b);
  }
  EXPECT_EQ(Histogram::BucketHigh(Histogram::kBuckets - 1), Histogram::kMaxValueNs);
  EXPECT_EQ(Histogram::BucketOf(~uint64_t{0}), Histogram::kBuckets - 1);  // clamped, not out of range
}

TEST(Histogram, EveryBucketIsNarrowerThanOnePercentOfItsValues) {
  for (size_t b = 256; b < Histogram::kBuckets; ++b) {
    double width = static_cast<double>(Histogram::BucketHigh(b) - Histogram::BucketLow(b) + 1);
    ASSERT_LE(width / static_cast<double>(Histogram::BucketLow(b)), 1.0 / 128) << "bucket " << b;
  }
}

TEST(Histogram, EmptyReportsZero) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.Percentile(50), 0u);
  EXPECT_EQ(h.Percentile(100), 0u);
  EXPECT_EQ(h.mean_ns(), 0.0);
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v = 1; v <= 100; ++v) h.Record(v);
  EXPECT_EQ(h.Percentile(50), 50u);
  EXPECT_EQ(h.Percentile(99), 99u);
  EXPECT_EQ(h.Percentile(100), 100u);
  EXPECT_EQ(h.max_ns(), 100u);
  EXPECT_DOUBLE_EQ(h.mean_ns(), 50.5);
}

// Percentiles of a random log-normal sample (latency-like: a long tail) against the exact ones
// from the sorted sample: within 1% everywhere.
TEST(Histogram, PercentilesAgreeWithSortedSampleWithinOnePercent) {
  const uint64_t seed = 20261127;
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> latency(std::log(500'000.0), 1.0);  // median 0.5 ms
  Histogram h;
  std::vector<uint64_t> all;
  for (int i = 0; i < 200'000; ++i) {
    uint64_t v = static_cast<uint64_t>(latency(rng));
    all.push_back(v);
    h.Record(v);
  }
  std::sort(all.begin(), all.end());
  for (double p : {1.0, 25.0, 50.0, 90.0, 95.0, 99.0, 99.9, 99.99}) {
    size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * all.size()));
    double exact = static_cast<double>(all[rank - 1]);
    double got = static_cast<double>(h.Percentile(p));
    EXPECT_NEAR(got, exact, exact * 0.01) << "p" << p;
  }
  EXPECT_EQ(h.Percentile(100), all.back());
  EXPECT_EQ(h.count(), all.size());
}

TEST(Histogram, HugeValuesAreClampedNotLost) {
  Histogram h;
  h.Record(~uint64_t{0});
  h.Record(1000);
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.max_ns(), Histogram::kMaxValueNs);
  EXPECT_EQ(h.Percentile(100), Histogram::kMaxValueNs);
}

TEST(Histogram, ConcurrentRecordsAndMergeCountEverySample) {
  Histogram a, b;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; i < 50'000; ++i) a.Record(1000 + i + t);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(a.count(), 200'000u);
  EXPECT_EQ(a.max_ns(), 1000u + 49'999 + 3);
  b.Record(5);
  b.Merge(a);
  EXPECT_EQ(b.count(), 200'001u);
  EXPECT_EQ(b.Percentile(0.0001), 5u);
  uint64_t total = 0;
  uint64_t last = 0;
  b.ForEachBucket([&](uint64_t v, uint64_t n) {
    EXPECT_GE(v, last);
    last = v;
    total += n;
  });
  EXPECT_EQ(total, b.count());
  b.Reset();
  EXPECT_EQ(b.count(), 0u);
}

}  // namespace
}  // namespace meridian::bench
