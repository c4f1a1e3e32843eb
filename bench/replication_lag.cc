#include "bench/replication_lag.h"

namespace meridian::bench {

namespace {
using Clock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(1);
constexpr char kProbeBucket[] = "lag-probe";
}  // namespace

LagProbe::LagProbe(std::vector<RegionClientOptions> clients, std::string table, std::chrono::milliseconds interval,
                   std::chrono::milliseconds give_up)
    : options_(std::move(clients)), table_(std::move(table)), interval_(interval), give_up_(give_up) {
  for (size_t i = 1; i < options_.size(); ++i) {
    destinations_.push_back(std::make_unique<LagDestination>());
    destinations_.back()->region = options_[i].region.name;
  }
}

LagProbe::~LagProbe() { Stop(); }

void LagProbe::Start() {
  if (options_.size() < 2 || thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void LagProbe::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void LagProbe::Loop() {
  RegionClient writer(options_[0]);
  std::vector<RegionClient> readers;
  for (size_t i = 1; i < options_.size(); ++i) readers.emplace_back(options_[i]);
  while (!stop_.load()) {
    Item key{{"bucket", AttributeValue::S(kProbeBucket)}, {"id", AttributeValue::N(Decimal::FromInt64(next_probe_++))}};
    PutItemRequest put;
    put.table_name = table_;
    put.item = key;
    put.item["t"] = AttributeValue::S("lag probe");
    if (!writer.PutItem(put).ok()) {
      ++write_errors_;
      std::this_thread::sleep_for(interval_);
      continue;
    }
    const Clock::time_point acked = Clock::now();
    std::vector<bool> seen(readers.size(), false);
    size_t left = readers.size();
    // Polled to the end even when asked to stop, so that no probe is cut short (bounded by give_up_).
    while (left > 0 && Clock::now() - acked < give_up_) {
      for (size_t d = 0; d < readers.size(); ++d) {
        if (seen[d]) continue;
        GetItemRequest get;
        get.table_name = table_;
        get.key = key;
        Result<GetItemResponse> r = readers[d].GetItem(get);
        if (r.ok() && r->item) {
          destinations_[d]->lag.Record(static_cast<uint64_t>(
              std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - acked).count()));
          seen[d] = true;
          --left;
        }
      }
      if (left > 0) std::this_thread::sleep_for(kPollInterval);
    }
    for (size_t d = 0; d < readers.size(); ++d) destinations_[d]->not_seen += seen[d] ? 0 : 1;
    std::this_thread::sleep_for(interval_);
  }
}

}  // namespace meridian::bench
