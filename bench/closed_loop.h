// What the benchmarks share: the closed-loop measurement (N threads, each issuing one operation
// after the other for a fixed time, every latency recorded; throughput and exact percentiles from
// the recorded latencies), the rows it produces and their table and JSON forms, the limits
// measured beside a system under test (raw RocksDB Put with sync=true, the fsync floor of a disk,
// a ZeroMQ loopback round trip), a plain keep-alive HTTP/1.1 client, and a description of the
// machine. single_node_bench and region_bench measure everything through Measure, so their
// figures mean the same thing.
//
// Thread-safety: Measure runs `op` on its own threads (op must be safe for that; it gets its
// thread's index so that each thread can use its own client). A KeepAliveHttpClient is one
// connection: one thread at a time. The rest are functions without shared state.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>
#include <nlohmann/json.hpp>

namespace meridian::bench {

using Clock = std::chrono::steady_clock;

// One measured operation at one concurrency.
struct Row {
  std::string name;
  int threads = 1;
  uint64_t ops = 0;  // operations issued, failed ones included
  uint64_t errors = 0;
  double ops_per_sec = 0;
  double p50_us = 0, p99_us = 0, max_us = 0;
};

// Latencies are kept in units of 100 ns in a uint32_t (up to 7 minutes), bounded per thread.
inline constexpr size_t kMaxSamplesPerThread = 50'000'000;

// Sorts the samples of all threads and fills a Row (percentiles are exact, from every sample).
Row Summarize(const std::string& name, int threads, double elapsed_seconds,
              std::vector<std::vector<uint32_t>>& latencies, uint64_t errors);

// Runs `op(thread, rng)` on `threads` threads for `seconds`, closed loop: each thread issues its
// next operation when the previous one answered. Each call is one timed operation returning false
// on error (its latency counts too: a failed request is still a request the client waited for).
template <typename Op>
Row Measure(const std::string& name, int threads, double seconds, Op op) {
  std::vector<std::vector<uint32_t>> latencies(threads);
  std::atomic<uint64_t> errors{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> pool;
  auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::mt19937_64 rng(1234 + t);
      auto& lat = latencies[t];
      lat.reserve(1 << 16);
      while (!stop.load(std::memory_order_relaxed) && lat.size() < kMaxSamplesPerThread) {
        auto a = Clock::now();
        bool ok = op(t, rng);
        auto b = Clock::now();
        if (!ok) errors++;
        lat.push_back(static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count() / 100));
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  return Summarize(name, threads, elapsed, latencies, errors.load());
}

nlohmann::json RowJson(const Row& row);
// "operation threads ops/s p50 p99 max errors" lines on stdout; `note(row)` adds a last column.
void PrintRows(const std::vector<Row>& rows, const std::function<std::string(const Row&)>& note = nullptr);

// "1,16,64" -> {1, 16, 64}; nullopt when an element is not a positive integer.
std::optional<std::vector<int>> ParseIntList(const std::string& text);

// Raw RocksDB in `path` (created), preloaded with keys[i] -> values[i]: for each thread count, a
// synchronous Put (sync=true: fsync'd before it returns) of a random key, and when `with_gets`
// also a Get. Rows "raw RocksDB Put (sync)" and "raw RocksDB Get". Empty on an open error.
std::vector<Row> MeasureRawRocksDb(const std::filesystem::path& path, const std::vector<std::string>& keys,
                                   const std::vector<std::string>& values, const std::vector<int>& threads,
                                   double seconds, bool with_gets);
// 4 KB pwrite + fdatasync in a loop on one file in `folder`: the disk's floor for a durable write.
Row MeasureFsyncFloor(const std::filesystem::path& folder, double seconds);
// A 100-byte message bounced DEALER -> ROUTER -> DEALER over loopback TCP.
Row MeasureZmqRoundTrip(double seconds);

// The machine the figures come from.
struct Machine {
  int cpus = 0;
  std::string cpu_model;
  uint64_t memory_mib = 0;
  std::string disk;  // device and file system holding the folder, and whether it is rotational
};
Machine DescribeMachine(const std::filesystem::path& folder);
std::string MachineLine(const Machine& m);
// The first three fields of /proc/loadavg ("1.02 0.87 0.55"): how busy the machine was.
std::string LoadAverage();
nlohmann::json MachineJson(const Machine& m);

// One HTTP/1.1 keep-alive connection to host:port (TCP_NODELAY). A request that fails on the
// transport closes the connection; the next request opens a new one.
class KeepAliveHttpClient {
 public:
  struct Reply {
    int status = 0;
    std::string body;
  };
  KeepAliveHttpClient(std::string host, unsigned short port);
  ~KeepAliveHttpClient();

  // nullopt on a transport error (connect, write, read), or when `timeout` passes first.
  std::optional<Reply> Post(const std::string& target, const std::map<std::string, std::string>& headers,
                            const std::string& body,
                            std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  bool Connect(std::chrono::milliseconds timeout);

  boost::asio::io_context ioc_;
  std::optional<boost::beast::tcp_stream> stream_;
  boost::beast::flat_buffer buffer_;
  std::string host_;
  unsigned short port_;
};

}  // namespace meridian::bench
