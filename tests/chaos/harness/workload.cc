#include "tests/chaos/harness/workload.h"

#include <map>
#include <optional>
#include <random>

#include "meridian/region_client.h"

namespace meridian::chaos {
namespace {

// The mix, in percent: writes of every kind, and reads of both consistencies.
struct Weight {
  OpType type;
  int percent;
};
constexpr Weight kMix[] = {
    {OpType::kPut, 15},        {OpType::kAppend, 30},     {OpType::kCasAppend, 15},
    {OpType::kDelete, 5},      {OpType::kStrongRead, 20}, {OpType::kEventualRead, 15},
};
constexpr int kSharedPercent = 40;  // of operations on the shared key space

Outcome Classify(const Status& s) {
  if (s.ok()) return Outcome::kOk;
  if (s.code() == ErrorCode::kConditionalCheckFailed || s.code() == ErrorCode::kValidation) return Outcome::kFail;
  return Outcome::kUnknown;
}

Item KeyOf(const std::string& key) { return Item{{"k", AttributeValue::S(key)}}; }

AttributeValue Tokens(const std::string& token) { return AttributeValue::L({AttributeValue::S(token)}); }

// The tokens of an item's `v`; a value of another shape is reported as a read of what is there.
std::vector<std::string> TokensOf(const Item& item) {
  std::vector<std::string> out;
  auto it = item.find("v");
  if (it == item.end() || !it->second.is(AttributeType::kL)) return out;
  for (const AttributeValue& v : it->second.l()) out.push_back(v.is(AttributeType::kS) ? v.s() : "?");
  return out;
}

}  // namespace

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Workload::Workload(WorkloadOptions options, HistoryWriter* history)
    : options_(std::move(options)), history_(history), last_ack_ns_(options_.topology.regions.size()) {}

Workload::~Workload() { Stop(); }

void Workload::Start() {
  int worker = 0;
  for (size_t r = 0; r < options_.topology.regions.size(); ++r) {
    for (int i = 0; i < options_.workers_per_region; ++i, ++worker) {
      threads_.emplace_back([this, worker, r] { Run(worker, r); });
    }
  }
}

void Workload::Stop() {
  stop_ = true;
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void Workload::Run(int worker, size_t region_index) {
  const topology::Region& region = options_.topology.regions[region_index];
  std::mt19937_64 rng(options_.seed * 1000003 + static_cast<uint64_t>(worker));
  RegionClientOptions o;
  o.region = region;
  o.credentials = options_.credentials;
  o.attempt_timeout = options_.attempt_timeout;
  o.deadline = options_.deadline;
  o.seed = rng();
  RegionClient client(std::move(o));
  // What this worker last saw of each key's length (nullopt: absent), to aim its conditional
  // appends at a length that may still hold.
  std::map<std::string, std::optional<int64_t>> known;
  uint64_t seq = 0;
  while (!stop_.load()) {
    Op op;
    op.worker = worker;
    op.region = region.name;
    int k = std::uniform_int_distribution<int>(0, options_.keys - 1)(rng);
    bool shared = std::uniform_int_distribution<int>(0, 99)(rng) < kSharedPercent;
    op.key = shared ? "s-" + std::to_string(k) : "o-" + region.name + "-" + std::to_string(k);
    int pick = std::uniform_int_distribution<int>(0, 99)(rng);
    for (const Weight& w : kMix) {
      if (pick < w.percent) {
        op.type = w.type;
        break;
      }
      pick -= w.percent;
    }
    if (op.type == OpType::kCasAppend) {
      auto it = known.find(op.key);
      if (it == known.end()) {
        op.type = OpType::kStrongRead;  // learn the length first
      } else if (!it->second) {
        op.type = OpType::kPut;  // absent: size(v) cannot hold
      } else {
        op.expected_len = *it->second;
      }
    }
    if (IsWrite(op.type) && op.type != OpType::kDelete) op.token = std::to_string(worker) + "-" + std::to_string(++seq);

    op.id = next_id_.fetch_add(1);
    op.invoke_ns = NowNs();
    Status status;
    switch (op.type) {
      case OpType::kPut: {
        PutItemRequest r;
        r.table_name = options_.table;
        r.item = KeyOf(op.key);
        r.item["v"] = Tokens(op.token);
        status = client.PutItem(r).status();
        if (status.ok()) known[op.key] = 1;
        break;
      }
      case OpType::kAppend:
      case OpType::kCasAppend: {
        UpdateItemRequest r;
        r.table_name = options_.table;
        r.key = KeyOf(op.key);
        r.update_expression = "SET v = list_append(if_not_exists(v, :empty), :t)";
        r.expression_attribute_values[":empty"] = AttributeValue::L({});
        r.expression_attribute_values[":t"] = Tokens(op.token);
        if (op.type == OpType::kCasAppend) {
          r.condition.condition_expression = "size(v) = :n";
          r.expression_attribute_values[":n"] = AttributeValue::ParseN(std::to_string(op.expected_len)).value();
        }
        status = client.UpdateItem(r).status();
        auto it = known.find(op.key);
        if (status.ok() && it != known.end()) {
          it->second = it->second.value_or(0) + 1;
        } else {
          known.erase(op.key);  // a failed condition means the length was not what we thought
        }
        break;
      }
      case OpType::kDelete: {
        DeleteItemRequest r;
        r.table_name = options_.table;
        r.key = KeyOf(op.key);
        status = client.DeleteItem(r).status();
        if (status.ok()) known[op.key] = std::nullopt;
        break;
      }
      case OpType::kStrongRead:
      case OpType::kEventualRead: {
        GetItemRequest r;
        r.table_name = options_.table;
        r.key = KeyOf(op.key);
        r.consistent_read = op.type == OpType::kStrongRead;
        Result<GetItemResponse> got = client.GetItem(r);
        status = got.status();
        if (got.ok()) {
          if (got->item) {
            op.read = TokensOf(*got->item);
            known[op.key] = static_cast<int64_t>(op.read->size());
          } else {
            known[op.key] = std::nullopt;
          }
        }
        break;
      }
    }
    op.complete_ns = NowNs();
    op.outcome = Classify(status);
    if (!status.ok()) op.error = std::string(ErrorName(status.code())) + ": " + status.message();
    if (Classify(status) == Outcome::kUnknown) known.erase(op.key);
    history_->Append(op);
    ++operations_;
    if (op.outcome == Outcome::kOk && IsWrite(op.type)) {
      ++acked_writes_;
      std::atomic<int64_t>& last = last_ack_ns_[region_index];
      for (int64_t seen = last.load(); seen < op.complete_ns && !last.compare_exchange_weak(seen, op.complete_ns);) {
      }
    }
    if (options_.think_ms_max > 0) {
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::uniform_int_distribution<int>(0, options_.think_ms_max)(rng)));
    }
  }
}

}  // namespace meridian::chaos
