// The integration tests' write load: one thread writing distinct items ("k<i>" -> "v<i>") to the
// table `load` through a RegionClient, recording what was acknowledged, and the check that reads
// them back. Shared by the region's failover tests and the fault-hook tests.
//
// Thread-safety: LoadWriter's accessors may be called from any thread while it runs.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "meridian/region_client.h"
#include "topology/topology.h"

namespace meridian::testing {

inline const std::string kLoadTable = "load";
// The writer stops by itself after this many writes (a bound on the loop; never reached in the
// few seconds each test writes for).
inline constexpr uint64_t kMaxWrites = 200'000;

inline std::string KeyOf(uint64_t i) { return "k" + std::to_string(i); }
inline std::string ValueOf(uint64_t i) { return "v" + std::to_string(i); }

// One writer thread: PutItem of distinct keys through a RegionClient, continuously, recording the
// acknowledged ones and counting the failures by error.
class LoadWriter {
 public:
  LoadWriter(topology::Region region, std::optional<Credentials> credentials, uint64_t seed)
      : region_(std::move(region)), credentials_(std::move(credentials)), seed_(seed) {}
  ~LoadWriter() { Stop(); }

  void Start() {
    std::cerr << "[ load ] writer RegionClient seed " << seed_ << "\n";
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  uint64_t acked() const { return acked_count_.load(); }
  // Waits until at least `n` writes are acknowledged in all; false after `timeout`.
  bool WaitForAcks(uint64_t n, std::chrono::milliseconds timeout) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (acked() < n) {
      if (std::chrono::steady_clock::now() > deadline || finished_) return acked() >= n;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }
  std::vector<uint64_t> AckedKeys() const {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_;
  }
  // "N sent, M acknowledged; failures: ServiceUnavailable x3 (last: ...), ..."
  std::string Summary() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::ostringstream out;
    out << sent_ << " writes sent, " << acked_.size() << " acknowledged";
    for (const auto& [name, f] : failures_) out << "; " << name << " x" << f.count << " (last: " << f.last << ")";
    return out.str();
  }

 private:
  struct Failure {
    uint64_t count = 0;
    std::string last;
  };

  void Run() {
    RegionClientOptions options;
    options.region = region_;
    options.credentials = credentials_;
    options.seed = seed_;
    RegionClient client(std::move(options));
    for (uint64_t i = 0; !stop_ && i < kMaxWrites; ++i) {
      PutItemRequest put;
      put.table_name = kLoadTable;
      put.item = Item{{"pk", AttributeValue::S(KeyOf(i))}, {"v", AttributeValue::S(ValueOf(i))}};
      Result<PutItemResponse> r = client.PutItem(put);
      std::lock_guard<std::mutex> lock(mu_);
      ++sent_;
      if (r.ok()) {
        acked_.push_back(i);
        acked_count_ = acked_.size();
      } else {
        Failure& f = failures_[std::string(ErrorName(r.status().code()))];
        ++f.count;
        f.last = r.status().message();
      }
    }
    finished_ = true;
  }

  topology::Region region_;
  std::optional<Credentials> credentials_;
  uint64_t seed_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> finished_{false};
  std::atomic<uint64_t> acked_count_{0};
  mutable std::mutex mu_;
  uint64_t sent_ = 0;                       // guarded by mu_
  std::vector<uint64_t> acked_;             // guarded by mu_
  std::map<std::string, Failure> failures_;  // guarded by mu_
};

// Reads `keys` back with BatchGetItem (100 keys a request, DynamoDB's limit) through `client`
// (a RegionClient or a Client); returns a description of each key missing or with a wrong value,
// or of the read error. `consistent`: ConsistentRead.
template <typename AnyClient>
std::vector<std::string> MissingKeys(AnyClient& client, const std::vector<uint64_t>& keys, bool consistent) {
  std::vector<std::string> problems;
  for (size_t start = 0; start < keys.size(); start += 100) {
    std::map<std::string, uint64_t> wanted;
    BatchGetItemRequest get;
    KeysAndAttributes& ka = get.request_items[kLoadTable];
    ka.consistent_read = consistent;
    for (size_t j = start; j < std::min(keys.size(), start + 100); ++j) {
      ka.keys.push_back(Item{{"pk", AttributeValue::S(KeyOf(keys[j]))}});
      wanted[KeyOf(keys[j])] = keys[j];
    }
    // DynamoDB may leave keys unprocessed; ask again for them, a bounded number of times.
    for (int round = 0; round < 20 && !get.request_items.empty(); ++round) {
      Result<BatchGetItemResponse> r = client.BatchGetItem(get);
      if (!r.ok()) {
        problems.push_back("BatchGetItem failed: " + r.status().ToString());
        return problems;
      }
      for (const Item& item : r->responses[kLoadTable]) {
        auto pk = item.find("pk");
        if (pk == item.end() || !pk->second.is(AttributeType::kS)) continue;
        auto w = wanted.find(pk->second.s());
        if (w == wanted.end()) continue;
        auto v = item.find("v");
        if (v == item.end() || !v->second.is(AttributeType::kS) || v->second.s() != ValueOf(w->second)) {
          problems.push_back(pk->second.s() + " has a wrong value");
        }
        wanted.erase(w);
      }
      get.request_items = r->unprocessed_keys;
    }
    for (const auto& [key, i] : wanted) problems.push_back(key + " missing");
  }
  return problems;
}

}  // namespace meridian::testing
