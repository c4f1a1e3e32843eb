// global_bench: cross-region replication of a global table (issue 6), end to end.
//
// It runs `meridian demo --regions N` (N regions of three facility nodes and a replicator each, on
// 127.0.0.1) in a temporary folder, creates a table in the first region and adds the others as
// replicas, then:
//   1. steady: PutItem at a fixed rate (open loop: the i-th write is due at start + i/rate, and
//      its latency counts from then, so a slow answer is not hidden by the writes it delayed)
//      through `writers` threads in the first region, while one reader per other region polls
//      (eventually consistent BatchGetItem, every millisecond) for the acknowledged keys it has not
//      seen yet. Lag of a write = when the reader first saw it in that region minus when the
//      writer got its acknowledgement: what a user sees, including the poll (<= ~1 ms + one read);
//   2. max: the same with a closed loop of `max_threads` writers (as fast as the region takes
//      them): the highest write rate the topology sustains here, the lag at that rate, and the
//      sustained replication throughput (keys applied in the other region per second, from its
//      first to its last).
// Beside them, the limits: a ZeroMQ loopback round trip and the fsync floor of the disk (a
// replicated batch costs at least one durable write in the receiving region, itself at least one
// fsync), and the writing region's own write latency from the same run.
//
//   build/bench/global_bench [--regions 2] [--rate 1000] [--seconds 10] [--writers 16]
//                            [--max-threads 32] [--json FILE]
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/closed_loop.h"
#include "meridian/client.h"
#include "meridian/region_client.h"
#include "tests/integration/process.h"
#include "topology/topology.h"

namespace meridian::bench {
namespace {

using namespace std::chrono_literals;
const std::string kBinary = MERIDIAN_BINARY;
const std::string kTable = "lagbench";

struct Options {
  int regions = 2;
  double rate = 1000;
  double seconds = 10;
  int writers = 16;
  int max_threads = 32;
  std::string json;
};

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

std::string KeyOf(const std::string& phase, size_t i) { return phase + "-" + std::to_string(i); }

class Bench {
 public:
  explicit Bench(Options o) : o_(std::move(o)) {}

  int Run() {
    if (!StartDemo()) return 1;
    if (!MakeGlobalTable()) return 1;
    nlohmann::json out;
    out["machine"] = MachineJson(DescribeMachine(dir_.path()));
    out["load_average_before"] = LoadAverage();
    out["regions"] = o_.regions;
    std::cout << "machine: " << MachineLine(DescribeMachine(dir_.path())) << "\n";
    out["steady"] = Phase("steady", o_.writers, o_.rate);
    out["max"] = Phase("max", o_.max_threads, 0);
    Row rtt = MeasureZmqRoundTrip(2);
    Row fsync = MeasureFsyncFloor(dir_.path(), 2);
    std::cout << "limits: ZeroMQ loopback round trip p50 " << rtt.p50_us << " us p99 " << rtt.p99_us
              << " us; fsync floor p50 " << fsync.p50_us << " us p99 " << fsync.p99_us << " us\n";
    out["limits"] = {{"zmq_round_trip", RowJson(rtt)}, {"fsync_floor", RowJson(fsync)}};
    out["load_average_after"] = LoadAverage();
    if (!o_.json.empty()) std::ofstream(o_.json) << out.dump(2) << "\n";
    StopDemo();
    return 0;
  }

 private:
  bool StartDemo() {
    std::filesystem::create_directories(dir_.path() / "demo");
    std::vector<std::string> argv = {kBinary, "demo", "--regions", std::to_string(o_.regions), "--data",
                                     (dir_.path() / "demo").string(), "--base-port", "17700"};
    demo_log_ = dir_.path() / "demo.log";
    demo_ = std::make_unique<testing::ChildProcess>(argv, demo_log_);
    for (auto deadline = Clock::now() + 90s; Clock::now() < deadline;) {
      if (testing::ReadFileText(demo_log_).find("meridian demo: ready:") != std::string::npos) {
        Result<topology::Topology> t = topology::LoadTopology((dir_.path() / "demo" / "topology.yaml").string());
        Result<Credentials> c = LoadSharedCredentials((dir_.path() / "demo" / "credentials").string());
        if (!t.ok() || !c.ok()) {
          std::cerr << "cannot read the demo's topology or credentials\n";
          return false;
        }
        topology_ = t.value();
        credentials_ = c.value();
        return true;
      }
      if (!demo_->running()) break;
      std::this_thread::sleep_for(200ms);
    }
    std::cerr << "the demo did not become ready; its output:\n" << testing::TailFile(demo_log_, 30);
    return false;
  }

  void StopDemo() {
    demo_->Signal(SIGTERM);
    if (demo_->Wait(30s) < 0) demo_->Signal(SIGKILL);
  }

  RegionClient ClientOf(int region, std::chrono::milliseconds deadline = 10s) {
    RegionClientOptions o;
    o.region = topology_.regions[region];
    o.credentials = credentials_;
    o.deadline = deadline;
    return RegionClient(std::move(o));
  }

  bool MakeGlobalTable() {
    RegionClient c = ClientOf(0, 30s);
    CreateTableRequest create;
    create.table_name = kTable;
    create.key_schema = {{"pk", KeyType::kHash}};
    create.attribute_definitions = {{"pk", AttributeType::kS}};
    create.billing_mode = BillingMode::kPayPerRequest;
    if (auto r = c.CreateTable(create); !r.ok()) {
      std::cerr << "CreateTable: " << r.status().ToString() << "\n";
      return false;
    }
    UpdateTableRequest u;
    u.table_name = kTable;
    for (int r = 1; r < o_.regions; ++r) u.replica_updates.push_back(ReplicaUpdate{topology_.regions[r].name, {}});
    if (auto r = c.Call(Request{u}); !r.ok()) {
      std::cerr << "UpdateTable: " << r.status().ToString() << "\n";
      return false;
    }
    for (auto deadline = Clock::now() + 60s; Clock::now() < deadline;) {
      Result<DescribeTableResponse> d = c.DescribeTable(DescribeTableRequest{kTable});
      if (d.ok()) {
        int active = 0;
        for (const auto& rep : d->table.replicas) active += rep.replica_status == ReplicaStatus::kActive ? 1 : 0;
        if (active == o_.regions) return true;
      }
      std::this_thread::sleep_for(200ms);
    }
    std::cerr << "the replicas did not become ACTIVE within 60 s\n";
    return false;
  }

  // rate > 0: open loop at that rate; 0: closed loop as fast as `threads` writers go.
  nlohmann::json Phase(const std::string& name, int threads, double rate) {
    const size_t capacity = rate > 0 ? static_cast<size_t>(rate * o_.seconds) + 1 : 2'000'000;
    const int destinations = o_.regions - 1;
    std::vector<Clock::time_point> due(capacity), acked(capacity);
    std::vector<std::vector<Clock::time_point>> seen(destinations, std::vector<Clock::time_point>(capacity));
    std::vector<std::atomic<uint8_t>> state(capacity);  // 0 not done, 1 acked, 2 failed
    std::atomic<size_t> next{0};
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> errors{0};
    auto start = Clock::now() + 200ms;
    std::vector<std::thread> writers;
    for (int t = 0; t < threads; ++t) {
      writers.emplace_back([&, t] {
        RegionClient c = ClientOf(0);
        for (;;) {
          size_t i = next.fetch_add(1);
          if (i >= capacity || stop.load()) return;
          Clock::time_point when = rate > 0 ? start + std::chrono::duration_cast<Clock::duration>(
                                                          std::chrono::duration<double>(static_cast<double>(i) / rate))
                                            : Clock::now();
          if (rate > 0) std::this_thread::sleep_until(when);
          due[i] = when;
          PutItemRequest put;
          put.table_name = kTable;
          put.item = Item{{"pk", AttributeValue::S(KeyOf(name, i))}, {"v", AttributeValue::S(std::string(100, 'x'))}};
          bool ok = c.PutItem(put).ok();
          acked[i] = Clock::now();
          state[i].store(ok ? 1 : 2, std::memory_order_release);
          if (!ok) errors++;
        }
      });
    }
    // One reader per destination region: the acknowledged writes it has not seen, oldest first.
    std::atomic<bool> writers_done{false};
    std::vector<std::thread> readers;
    std::vector<size_t> unseen_at_end(destinations, 0);
    for (int d = 0; d < destinations; ++d) {
      readers.emplace_back([&, d] {
        RegionClient c = ClientOf(d + 1);
        size_t low = 0;  // every write below is acked-and-seen or failed
        std::vector<size_t> pending;
        Clock::time_point give_up = Clock::time_point::max();
        for (;;) {
          size_t issued = std::min(next.load(), capacity);
          while (low < issued && state[low].load(std::memory_order_acquire) == 2) ++low;
          pending.clear();
          for (size_t i = low; i < issued && pending.size() < 100; ++i) {
            if (state[i].load(std::memory_order_acquire) == 1 && seen[d][i] == Clock::time_point{}) pending.push_back(i);
          }
          if (pending.empty()) {
            bool all_done = writers_done.load();
            if (all_done) {
              bool any = false;
              for (size_t i = low; i < issued && !any; ++i) any = state[i].load() == 1 && seen[d][i] == Clock::time_point{};
              if (!any) return;
            }
            std::this_thread::sleep_for(1ms);
            continue;
          }
          if (writers_done.load() && give_up == Clock::time_point::max()) give_up = Clock::now() + 60s;
          if (Clock::now() > give_up) {
            unseen_at_end[d] = pending.size();
            return;
          }
          BatchGetItemRequest get;
          KeysAndAttributes& ka = get.request_items[kTable];
          ka.projection_expression = "pk";
          for (size_t i : pending) ka.keys.push_back(Item{{"pk", AttributeValue::S(KeyOf(name, i))}});
          Result<BatchGetItemResponse> r = c.BatchGetItem(get);
          auto now = Clock::now();
          if (r.ok()) {
            for (const Item& item : r->responses[kTable]) {
              const std::string& pk = item.at("pk").s();
              size_t i = std::stoull(pk.substr(name.size() + 1));
              if (i < capacity && seen[d][i] == Clock::time_point{}) seen[d][i] = now;
            }
          }
          while (low < issued && (state[low].load() == 2 || (state[low].load() == 1 && seen[d][low] != Clock::time_point{}))) {
            ++low;
          }
          std::this_thread::sleep_for(1ms);
        }
      });
    }
    if (rate > 0) {
      for (auto& w : writers) w.join();
    } else {
      std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.seconds)));
      stop = true;
      for (auto& w : writers) w.join();
    }
    writers_done = true;
    for (auto& r : readers) r.join();

    size_t issued = std::min(next.load(), capacity);
    std::vector<double> write_ms;
    Clock::time_point first_ack = Clock::time_point::max(), last_ack{};
    size_t ok_count = 0;
    for (size_t i = 0; i < issued; ++i) {
      if (state[i].load() != 1) continue;
      ++ok_count;
      write_ms.push_back(Ms(acked[i] - due[i]));
      first_ack = std::min(first_ack, acked[i]);
      last_ack = std::max(last_ack, acked[i]);
    }
    double write_seconds = std::chrono::duration<double>(last_ack - first_ack).count();
    nlohmann::json j;
    j["writers"] = threads;
    j["target_rate"] = rate;
    j["writes_acked"] = ok_count;
    j["write_errors"] = errors.load();
    j["write_rate"] = write_seconds > 0 ? static_cast<double>(ok_count) / write_seconds : 0;
    j["write_p50_ms"] = Percentile(write_ms, 0.5);
    j["write_p99_ms"] = Percentile(write_ms, 0.99);
    std::printf("%s: %zu writes acknowledged in %s at %.0f/s (%s), write p50 %.2f ms p99 %.2f ms, %llu errors\n",
                name.c_str(), ok_count, topology_.regions[0].name.c_str(), j["write_rate"].get<double>(),
                rate > 0 ? ("target " + std::to_string(static_cast<int>(rate)) + "/s, open loop").c_str()
                         : (std::to_string(threads) + " writers, closed loop").c_str(),
                j["write_p50_ms"].get<double>(), j["write_p99_ms"].get<double>(),
                static_cast<unsigned long long>(errors.load()));
    for (int d = 0; d < destinations; ++d) {
      std::vector<double> lag;
      Clock::time_point first_seen = Clock::time_point::max(), last_seen{};
      size_t missing = 0;
      for (size_t i = 0; i < issued; ++i) {
        if (state[i].load() != 1) continue;
        if (seen[d][i] == Clock::time_point{}) {
          ++missing;
          continue;
        }
        lag.push_back(std::max(0.0, Ms(seen[d][i] - acked[i])));
        first_seen = std::min(first_seen, seen[d][i]);
        last_seen = std::max(last_seen, seen[d][i]);
      }
      double span = std::chrono::duration<double>(last_seen - first_seen).count();
      nlohmann::json l;
      l["destination"] = topology_.regions[d + 1].name;
      l["lag_p50_ms"] = Percentile(lag, 0.5);
      l["lag_p99_ms"] = Percentile(lag, 0.99);
      l["lag_max_ms"] = Percentile(lag, 1.0);
      l["not_seen"] = missing;
      l["replicated_per_second"] = span > 0 ? static_cast<double>(lag.size()) / span : 0;
      j["lag"].push_back(l);
      std::printf("  %s -> %s: lag p50 %.1f ms p99 %.1f ms max %.1f ms; %zu not seen within 60 s; applied %.0f/s\n",
                  topology_.regions[0].name.c_str(), l["destination"].get<std::string>().c_str(),
                  l["lag_p50_ms"].get<double>(), l["lag_p99_ms"].get<double>(), l["lag_max_ms"].get<double>(), missing,
                  l["replicated_per_second"].get<double>());
    }
    std::fflush(stdout);
    return j;
  }

  Options o_;
  testing::TempDir dir_;
  std::filesystem::path demo_log_;
  std::unique_ptr<testing::ChildProcess> demo_;
  topology::Topology topology_;
  Credentials credentials_;
};

}  // namespace
}  // namespace meridian::bench

int main(int argc, char** argv) {
  meridian::bench::Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--regions") o.regions = std::max(2, std::stoi(value));
    else if (flag == "--rate") o.rate = std::stod(value);
    else if (flag == "--seconds") o.seconds = std::stod(value);
    else if (flag == "--writers") o.writers = std::stoi(value);
    else if (flag == "--max-threads") o.max_threads = std::stoi(value);
    else if (flag == "--json") o.json = value;
    else {
      std::cerr << "unknown flag " << flag << "\n";
      return 2;
    }
  }
  return meridian::bench::Bench(o).Run();
}
