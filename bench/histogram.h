// A latency histogram in the manner of HdrHistogram (Gil Tene): log-linear buckets, so memory is
// fixed (kBuckets counters, 36 KiB) whatever the number of samples, and every recorded value is
// known to within 1/256 of itself (0.4%: the bucket's midpoint is reported). Values are
// nanoseconds; values from 0 to 255 ns are exact, larger ones fall into one of 128 buckets per
// power of two, up to kMaxValueNs (about 18 minutes; larger values are clamped there).
//
// HdrHistogram's C library is not packaged in Debian; this is the few lines of it the benchmark
// needs. The exact maximum and the sum are kept beside the buckets.
//
// Thread-safety: Record may be called from any number of threads at once (relaxed atomic
// counters: each sample is counted exactly once; a reader running concurrently may see a sample
// in the count but not yet in its bucket). The readers (Percentile, Merge...) are meant for after
// the recording threads have been joined.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>

namespace meridian::bench {

class Histogram {
 public:
  // Values below 2^kSubBucketBits are their own bucket; above, each power of two is split into
  // 2^(kSubBucketBits-1) buckets.
  static constexpr int kSubBucketBits = 8;
  static constexpr int kMaxShift = 33;  // values up to 2^41 ns (36 minutes) keep their precision
  static constexpr uint64_t kMaxValueNs = (uint64_t{1} << (kMaxShift + kSubBucketBits)) - 1;
  static constexpr size_t kBuckets = (kMaxShift + 1) * (size_t{1} << (kSubBucketBits - 1)) + (size_t{1} << (kSubBucketBits - 1));

  Histogram() = default;
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void Record(uint64_t value_ns);
  // Adds every sample of `other`.
  void Merge(const Histogram& other);
  void Reset();

  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  uint64_t max_ns() const { return max_.load(std::memory_order_relaxed); }
  double mean_ns() const;
  // The value at or below which `percent` (0..100) of the samples lie: the midpoint of that
  // sample's bucket (the exact maximum for 100). 0 when empty.
  uint64_t Percentile(double percent) const;
  // Calls `fn(value_ns, count)` for every non-empty bucket in increasing order (value: the
  // bucket's midpoint): what a cumulative distribution is drawn from.
  void ForEachBucket(const std::function<void(uint64_t value_ns, uint64_t count)>& fn) const;

  // The bucket of a value and the range of a bucket (exposed for the unit test).
  static size_t BucketOf(uint64_t value_ns);
  static uint64_t BucketLow(size_t bucket);
  static uint64_t BucketHigh(size_t bucket);  // inclusive

 private:
  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_{0};
  std::atomic<uint64_t> max_{0};
};

}  // namespace meridian::bench
