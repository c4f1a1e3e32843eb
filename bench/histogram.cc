#include "bench/histogram.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>

namespace meridian::bench {

namespace {
constexpr uint64_t kExactBelow = uint64_t{1} << Histogram::kSubBucketBits;  // 256
constexpr uint64_t kHalf = kExactBelow / 2;                                 // buckets per power of two
}  // namespace

size_t Histogram::BucketOf(uint64_t v) {
  v = std::min(v, kMaxValueNs);
  if (v < kExactBelow) return static_cast<size_t>(v);
  int msb = 63 - std::countl_zero(v);
  int shift = msb - (kSubBucketBits - 1);
  uint64_t sub = v >> shift;  // in [kHalf, kExactBelow)
  size_t bucket = static_cast<size_t>(shift) * kHalf + sub;
  assert(bucket < kBuckets);
  return bucket;
}

uint64_t Histogram::BucketLow(size_t bucket) {
  if (bucket < kExactBelow) return bucket;
  uint64_t shift = bucket / kHalf - 1;
  uint64_t sub = bucket - shift * kHalf;
  return sub << shift;
}

uint64_t Histogram::BucketHigh(size_t bucket) {
  if (bucket < kExactBelow) return bucket;
  uint64_t shift = bucket / kHalf - 1;
  return BucketLow(bucket) + (uint64_t{1} << shift) - 1;
}

void Histogram::Record(uint64_t value_ns) {
  value_ns = std::min(value_ns, kMaxValueNs);
  buckets_[BucketOf(value_ns)].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value_ns, std::memory_order_relaxed);
  uint64_t seen = max_.load(std::memory_order_relaxed);
  while (value_ns > seen && !max_.compare_exchange_weak(seen, value_ns, std::memory_order_relaxed)) {
  }
}

void Histogram::Merge(const Histogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) {
    uint64_t n = other.buckets_[i].load(std::memory_order_relaxed);
    if (n != 0) buckets_[i].fetch_add(n, std::memory_order_relaxed);
  }
  count_.fetch_add(other.count(), std::memory_order_relaxed);
  sum_.fetch_add(other.sum_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  uint64_t m = other.max_ns();
  uint64_t seen = max_.load(std::memory_order_relaxed);
  while (m > seen && !max_.compare_exchange_weak(seen, m, std::memory_order_relaxed)) {
  }
}

void Histogram::Reset() {
  for (auto& b : buckets_) b.store(0, std::memory_order_relaxed);
  count_ = 0;
  sum_ = 0;
  max_ = 0;
}

double Histogram::mean_ns() const {
  uint64_t n = count();
  return n == 0 ? 0.0 : static_cast<double>(sum_.load(std::memory_order_relaxed)) / static_cast<double>(n);
}

uint64_t Histogram::Percentile(double percent) const {
  uint64_t n = count();
  if (n == 0) return 0;
  if (percent >= 100) return max_ns();
  // The rank of the sample asked for (1-based), as HdrHistogram counts it.
  uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(percent / 100.0 * static_cast<double>(n))));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i].load(std::memory_order_relaxed);
    if (seen >= rank) {
      uint64_t mid = BucketLow(i) + (BucketHigh(i) - BucketLow(i)) / 2;
      return std::min(mid, max_ns());  // never above the largest value recorded
    }
  }
  return max_ns();
}

void Histogram::ForEachBucket(const std::function<void(uint64_t, uint64_t)>& fn) const {
  for (size_t i = 0; i < kBuckets; ++i) {
    uint64_t n = buckets_[i].load(std::memory_order_relaxed);
    if (n != 0) fn(std::min(BucketLow(i) + (BucketHigh(i) - BucketLow(i)) / 2, max_ns()), n);
  }
}

}  // namespace meridian::bench
