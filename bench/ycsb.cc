#include "bench/ycsb.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <thread>

namespace meridian::bench {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// YCSB's zipfian constant: item 0 is about 1/zeta(n) of all requests.
constexpr double kTheta = 0.99;
// The scrambled zipfian draws from a fixed space of 10^10 items and hashes the draw into the
// records that exist, so the hot records are spread over the key space and the distribution does
// not change shape as records are inserted: YCSB's ScrambledZipfianGenerator, with its constant
// zeta(10^10).
constexpr int64_t kScrambledItems = 10'000'000'000LL;
constexpr double kScrambledZeta = 26.46902820178302;
// Latency over time: at most this many points per workload (longer runs get wider intervals).
constexpr int kMaxIntervals = 120;
constexpr auto kProgressInterval = 100ms;

uint64_t Fnv1a64(uint64_t v) {
  uint64_t h = 0xCBF29CE484222325ULL;
  for (int i = 0; i < 8; ++i) {
    h ^= v & 0xff;
    h *= 0x100000001B3ULL;
    v >>= 8;
  }
  return h;
}

}  // namespace

const char* DistributionName(Distribution d) {
  switch (d) {
    case Distribution::kUniform: return "uniform";
    case Distribution::kZipfian: return "zipfian";
    case Distribution::kLatest: return "latest";
  }
  return "?";
}

std::optional<Distribution> ParseDistribution(const std::string& name) {
  for (Distribution d : {Distribution::kUniform, Distribution::kZipfian, Distribution::kLatest}) {
    if (name == DistributionName(d)) return d;
  }
  return std::nullopt;
}

const char* OpTypeName(OpType op) {
  switch (op) {
    case OpType::kRead: return "read";
    case OpType::kUpdate: return "update";
    case OpType::kInsert: return "insert";
    case OpType::kScan: return "scan";
    case OpType::kReadModifyWrite: return "read-modify-write";
  }
  return "?";
}

bool IsWrite(OpType op) { return op != OpType::kRead && op != OpType::kScan; }

const std::vector<WorkloadSpec>& CoreWorkloads() {
  //                                               read  update insert scan  rmw
  static const std::vector<WorkloadSpec> kAll = {
      {'A', "update heavy", {0.50, 0.50, 0, 0, 0}, Distribution::kZipfian},
      {'B', "read mostly", {0.95, 0.05, 0, 0, 0}, Distribution::kZipfian},
      {'C', "read only", {1.0, 0, 0, 0, 0}, Distribution::kZipfian},
      {'D', "read latest", {0.95, 0, 0.05, 0, 0}, Distribution::kLatest},
      {'E', "short ranges", {0, 0, 0.05, 0.95, 0}, Distribution::kZipfian},
      {'F', "read-modify-write", {0.50, 0, 0, 0, 0.50}, Distribution::kZipfian},
  };
  return kAll;
}

const WorkloadSpec* FindWorkload(char name) {
  for (const auto& w : CoreWorkloads()) {
    if (w.name == name) return &w;
  }
  return nullptr;
}

double KeyChooser::Zeta(int64_t n, int64_t from, double partial) {
  double sum = partial;
  for (int64_t i = from; i < n; ++i) sum += 1.0 / std::pow(static_cast<double>(i + 1), kTheta);
  return sum;
}

KeyChooser::KeyChooser(Distribution d, uint64_t seed, double zeta_records, int64_t records)
    : distribution_(d), rng_(seed), zeta_n_(records), zeta_(zeta_records) {}

// Gray et al., "Quickly generating billion-record synthetic databases" (SIGMOD 1994), as YCSB's
// ZipfianGenerator: 0 is the most popular item, then 1...
int64_t KeyChooser::Zipfian(int64_t n, double zetan) {
  static const double zeta2 = 1.0 + std::pow(0.5, kTheta);
  const double alpha = 1.0 / (1.0 - kTheta);
  const double eta = (1.0 - std::pow(2.0 / static_cast<double>(n), 1.0 - kTheta)) / (1.0 - zeta2 / zetan);
  double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  double uz = u * zetan;
  if (uz < 1.0) return 0;
  if (uz < zeta2) return std::min<int64_t>(1, n - 1);
  auto v = static_cast<int64_t>(static_cast<double>(n) * std::pow(eta * u - eta + 1.0, alpha));
  return std::clamp<int64_t>(v, 0, n - 1);
}

int64_t KeyChooser::Next(int64_t record_count) {
  record_count = std::max<int64_t>(1, record_count);
  switch (distribution_) {
    case Distribution::kUniform:
      return static_cast<int64_t>(rng_() % static_cast<uint64_t>(record_count));
    case Distribution::kZipfian:
      return static_cast<int64_t>(Fnv1a64(static_cast<uint64_t>(Zipfian(kScrambledItems, kScrambledZeta))) %
                                  static_cast<uint64_t>(record_count));
    case Distribution::kLatest:
      // YCSB's SkewedLatestGenerator: the newest record is the most popular. Zeta grows by one
      // term per inserted record.
      if (record_count > zeta_n_) {
        zeta_ = Zeta(record_count, zeta_n_, zeta_);
        zeta_n_ = record_count;
      }
      return record_count - 1 - Zipfian(record_count, zeta_);
  }
  return 0;
}

std::string RandomValue(std::mt19937_64& rng, int bytes) {
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string v(static_cast<size_t>(bytes), ' ');
  for (char& c : v) c = kAlphabet[rng() % (sizeof kAlphabet - 1)];
  return v;
}

void Keyspace::Answered(int64_t record) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t limit = inserted.load();
  if (record != limit) {
    if (record > limit) answered_ahead_.insert(record);
    return;
  }
  ++limit;
  while (!answered_ahead_.empty() && *answered_ahead_.begin() == limit) {
    answered_ahead_.erase(answered_ahead_.begin());
    ++limit;
  }
  inserted.store(limit);
}

WorkloadResult RunWorkload(const WorkloadSpec& spec, const RunOptions& o, Keyspace& keyspace,
                           const StoreFactory& stores, const std::atomic<bool>& stop) {
  WorkloadResult result;
  result.spec = spec;
  result.distribution = o.distribution.value_or(spec.distribution);
  result.clients = o.clients;
  result.target_rate = o.target_rate;
  for (size_t t = 0; t < kOpTypes; ++t) {
    if (spec.proportion[t] > 0) result.ops[t] = std::make_unique<OpStats>();
  }
  result.interval_seconds = std::max(1.0, std::ceil(o.duration_seconds / kMaxIntervals));
  const size_t interval_count = static_cast<size_t>(std::ceil(o.duration_seconds / result.interval_seconds)) + 1;
  for (size_t i = 0; i < interval_count; ++i) result.intervals.push_back(std::make_unique<Histogram>());

  // The latest distribution's zeta for the records that exist now, once for every client.
  const int64_t records_now = keyspace.inserted.load();
  const double zeta = result.distribution == Distribution::kLatest ? KeyChooser::Zeta(records_now) : 0;

  std::vector<std::unique_ptr<Store>> clients;
  for (int c = 0; c < o.clients; ++c) clients.push_back(stores(c));

  std::mutex error_mutex;
  std::atomic<uint64_t> next_op{0};
  const auto duration = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration_seconds));
  const Clock::time_point start = Clock::now() + 50ms;  // every client thread is up by then
  const Clock::time_point end = start + duration;
  std::vector<std::thread> threads;
  for (int c = 0; c < o.clients; ++c) {
    threads.emplace_back([&, c] {
      Store& store = *clients[c];
      std::mt19937_64 rng(o.seed * 1000003 + static_cast<uint64_t>(c));
      KeyChooser keys(result.distribution, rng(), zeta, records_now);
      std::discrete_distribution<size_t> pick(spec.proportion.begin(), spec.proportion.end());
      std::this_thread::sleep_until(start);
      while (!stop.load(std::memory_order_relaxed)) {
        Clock::time_point due;
        if (o.target_rate > 0) {
          uint64_t i = next_op.fetch_add(1, std::memory_order_relaxed);
          due = start + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(static_cast<double>(i) / o.target_rate));
          if (due >= end) break;
          std::this_thread::sleep_until(due);
        } else {
          due = Clock::now();
          if (due >= end) break;
        }
        auto type = static_cast<OpType>(pick(rng));
        Outcome outcome = Outcome::kError;
        switch (type) {
          case OpType::kRead: outcome = store.Read(keys.Next(keyspace.inserted.load())); break;
          case OpType::kUpdate: outcome = store.Update(keys.Next(keyspace.inserted.load()), RandomValue(rng, o.value_bytes)); break;
          case OpType::kScan:
            outcome = store.Scan(keys.Next(keyspace.inserted.load()), 1 + static_cast<int>(rng() % kMaxScanLength));
            break;
          case OpType::kReadModifyWrite:
            outcome = store.ReadModifyWrite(keys.Next(keyspace.inserted.load()), RandomValue(rng, o.value_bytes));
            break;
          case OpType::kInsert: {
            int64_t record = keyspace.next_insert.fetch_add(1);
            outcome = store.Insert(record, RandomValue(rng, o.value_bytes));
            keyspace.Answered(record);
            break;
          }
        }
        auto latency = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - due).count();
        OpStats& s = *result.ops[static_cast<size_t>(type)];
        s.latency.Record(static_cast<uint64_t>(latency));
        size_t interval = std::min(interval_count - 1, static_cast<size_t>(std::chrono::duration<double>(due - start).count() /
                                                                             result.interval_seconds));
        result.intervals[interval]->Record(static_cast<uint64_t>(latency));
        switch (outcome) {
          case Outcome::kOk: s.ok++; break;
          case Outcome::kNotFound: s.not_found++; break;
          case Outcome::kConditionFailed: s.condition_failed++; break;
          case Outcome::kThrottled: s.throttled++; break;
          case Outcome::kError: s.errors++; break;
        }
        if (outcome == Outcome::kError || outcome == Outcome::kThrottled) {
          std::lock_guard lock(error_mutex);
          if (result.first_error.empty()) result.first_error = std::string(OpTypeName(type)) + ": " + store.last_error();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  result.elapsed_seconds = std::chrono::duration<double>(std::min(Clock::now(), std::max(end, start)) - start).count();
  result.interrupted = stop.load();
  return result;
}

namespace {

void DrawProgress(int64_t done, int64_t total, double seconds, bool last) {
  constexpr int kWidth = 40;
  int filled = total > 0 ? static_cast<int>(kWidth * done / total) : kWidth;
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "\rload [%s] %3d%% %lld/%lld records, %.0f/s   %s", bar.c_str(),
               total > 0 ? static_cast<int>(100 * done / total) : 100, static_cast<long long>(done),
               static_cast<long long>(total), seconds > 0 ? static_cast<double>(done) / seconds : 0.0,
               last ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace

LoadResult Load(int64_t records, int clients, int value_bytes, const StoreFactory& stores,
                const std::atomic<bool>& stop) {
  LoadResult result;
  std::vector<std::unique_ptr<Store>> per_client;
  for (int c = 0; c < clients; ++c) per_client.push_back(stores(c));
  std::atomic<int64_t> next{0}, done{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      std::mt19937_64 rng(static_cast<uint64_t>(c) + 7);
      std::string value = RandomValue(rng, value_bytes);
      while (!stop.load() && !failed.load()) {
        int64_t first = next.fetch_add(kLoadBatch);
        if (first >= records) return;
        int count = static_cast<int>(std::min<int64_t>(kLoadBatch, records - first));
        if (per_client[c]->InsertBatch(first, count, value) != Outcome::kOk) {
          std::lock_guard lock(error_mutex);
          if (result.first_error.empty()) result.first_error = per_client[c]->last_error();
          result.errors++;
          failed = true;
          return;
        }
        done.fetch_add(count);
      }
    });
  }
  // The progress bar, from this thread, while the clients load.
  bool finished = false;
  while (!finished) {
    finished = done.load() >= records || failed.load() || stop.load();
    if (!finished) std::this_thread::sleep_for(kProgressInterval);
    DrawProgress(done.load(), records, std::chrono::duration<double>(Clock::now() - start).count(), finished);
  }
  for (auto& t : threads) t.join();
  result.records = done.load();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.interrupted = stop.load();
  return result;
}

}  // namespace meridian::bench
