// The YCSB core workloads (Cooper et al., "Benchmarking Cloud Serving Systems with YCSB", SoCC
// 2010; the proportions of YCSB's workloads/workload[a-f]) against any store behind the small
// Store interface, with YCSB's key distributions, a load phase, closed- or open-loop clients and
// an HdrHistogram-style histogram (bench/histogram.h) per operation type.
//
//   A update heavy   50% read, 50% update                     zipfian
//   B read mostly    95% read,  5% update                     zipfian
//   C read only     100% read                                 zipfian
//   D read latest    95% read,  5% insert                     latest
//   E short ranges   95% scan,  5% insert (scan length 1-100) zipfian
//   F read-modify-write 50% read, 50% read-modify-write      zipfian
//
// Records are numbered 0, 1, 2...; the load phase inserts 0..records-1 and D and E insert more
// (the next number, shared by all clients). How a record number becomes a key is the store's
// business (bench/meridian_store.h).
//
// Open loop (target_rate > 0): the i-th operation of a workload is due at start + i / rate,
// whichever client is free takes it, and its latency counts from when it was due, not from when a
// client got to it, so a slow answer cannot hide the operations it delayed (Tene's "coordinated
// omission"). Closed loop (target_rate 0): each client issues its next operation when the
// previous one answered.
//
// Thread-safety: RunWorkload and Load start and join their own client threads (one Store each);
// call them from one thread. `stop` may be set from any thread to end a run early.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "bench/histogram.h"

namespace meridian::bench {

enum class Distribution { kUniform, kZipfian, kLatest };
const char* DistributionName(Distribution d);
std::optional<Distribution> ParseDistribution(const std::string& name);

enum class OpType { kRead, kUpdate, kInsert, kScan, kReadModifyWrite };
inline constexpr size_t kOpTypes = 5;
// "read", "update", "insert", "scan", "read-modify-write"
const char* OpTypeName(OpType op);
// Whether the operation writes (and so is durable only after a replicated fsync).
bool IsWrite(OpType op);

struct WorkloadSpec {
  char name;  // 'A'..'F'
  const char* description;
  std::array<double, kOpTypes> proportion;  // indexed by OpType, sums to 1
  Distribution distribution;                // YCSB's default request distribution
};
// The six core workloads, A to F.
const std::vector<WorkloadSpec>& CoreWorkloads();
const WorkloadSpec* FindWorkload(char name);

// YCSB's longest scan (maxscanlength); a scan's length is uniform in [1, kMaxScanLength].
inline constexpr int kMaxScanLength = 100;

// The record numbers chosen by one client. Not thread-safe: one per client.
class KeyChooser {
 public:
  // `zeta_records`: the zeta constant of `records` items for the latest distribution (Zeta()),
  // computed once and shared, since it costs one pow() per record.
  KeyChooser(Distribution d, uint64_t seed, double zeta_records, int64_t records);
  // A record number in [0, record_count): record_count is how many records exist now.
  int64_t Next(int64_t record_count);

  // sum_{i=1..n} 1/i^theta, from `from` (with its sum `partial`) to `n`.
  static double Zeta(int64_t n, int64_t from = 0, double partial = 0);

 private:
  int64_t Zipfian(int64_t n, double zetan);
  Distribution distribution_;
  std::mt19937_64 rng_;
  int64_t zeta_n_;  // the latest distribution's zeta, kept up to date as records are inserted
  double zeta_;
};

enum class Outcome { kOk, kNotFound, kConditionFailed, kThrottled, kError };

// What the workloads do to a store, one instance per client thread. Every call is one timed
// operation; it returns how it ended (kThrottled: the store said it was overloaded, e.g.
// ProvisionedThroughputExceeded or ServiceUnavailable after retries).
class Store {
 public:
  virtual ~Store() = default;
  virtual Outcome Read(int64_t record) = 0;
  virtual Outcome Update(int64_t record, const std::string& value) = 0;
  virtual Outcome Insert(int64_t record, const std::string& value) = 0;
  // Up to `count` records from `record` on, in record order.
  virtual Outcome Scan(int64_t record, int count) = 0;
  // Read the record, then write it back only if nobody wrote it in between (a condition on its
  // version): kConditionFailed when somebody did.
  virtual Outcome ReadModifyWrite(int64_t record, const std::string& value) = 0;
  // Inserts records [first, first + count) (the load phase; count at most kLoadBatch).
  virtual Outcome InsertBatch(int64_t first, int count, const std::string& value) = 0;
  // The error of the last call that did not return kOk, for the first-error message.
  virtual std::string last_error() const = 0;
};
inline constexpr int kLoadBatch = 25;  // DynamoDB's BatchWriteItem limit
using StoreFactory = std::function<std::unique_ptr<Store>(int client)>;

// The records shared by the clients of all workloads: how many exist, the next to insert.
struct Keyspace {
  explicit Keyspace(int64_t records) : inserted(records), next_insert(records) {}
  // Every record below `inserted` has had its insert answered (YCSB's AcknowledgedCounterGenerator):
  // readers choose only among them, so a read never races the insert of its own key. An insert
  // that failed counts as answered too (or one failure would stop the keyspace growing); reading
  // it is then an honest "not found".
  std::atomic<int64_t> inserted;
  std::atomic<int64_t> next_insert;
  // The insert of `record` (taken from next_insert) was answered.
  void Answered(int64_t record);

 private:
  std::mutex mu_;
  std::set<int64_t> answered_ahead_;  // answered, above a record still in flight
};

struct OpStats {
  Histogram latency;  // every operation, failed ones too (a client waited for them)
  std::atomic<uint64_t> ok{0}, not_found{0}, condition_failed{0}, throttled{0}, errors{0};
  uint64_t ops() const { return latency.count(); }
};

struct RunOptions {
  int clients = 16;
  double duration_seconds = 10;
  double target_rate = 0;  // ops/s for all clients together; 0: closed loop
  std::optional<Distribution> distribution;  // else the workload's own
  int value_bytes = 100;
  uint64_t seed = 1;
};

struct WorkloadResult {
  WorkloadSpec spec;
  Distribution distribution;
  int clients = 0;
  double target_rate = 0;
  double elapsed_seconds = 0;
  std::array<std::unique_ptr<OpStats>, kOpTypes> ops;  // null for the types the workload lacks
  // Latency of all operations per interval of `interval_seconds` from the start (by due time).
  double interval_seconds = 1;
  std::vector<std::unique_ptr<Histogram>> intervals;
  std::string first_error;  // "" when none
  bool interrupted = false;
};

// Runs one workload for options.duration_seconds (or until `stop`).
WorkloadResult RunWorkload(const WorkloadSpec& spec, const RunOptions& options, Keyspace& keyspace,
                           const StoreFactory& stores, const std::atomic<bool>& stop);

struct LoadResult {
  int64_t records = 0;  // acknowledged
  double seconds = 0;
  uint64_t errors = 0;
  std::string first_error;
  bool interrupted = false;
};
// Inserts records [0, records) through `clients` clients, kLoadBatch at a time, drawing a progress
// bar on stderr (at most ten times a second). Stops at the first batch that fails after the
// store's own retries.
LoadResult Load(int64_t records, int clients, int value_bytes, const StoreFactory& stores,
                const std::atomic<bool>& stop);

// A value of `bytes` printable bytes drawn from `rng`.
std::string RandomValue(std::mt19937_64& rng, int bytes);

}  // namespace meridian::bench
