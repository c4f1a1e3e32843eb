#include "bench/meridian_store.h"

#include <chrono>
#include <cstdio>
#include <thread>

namespace meridian::bench {

namespace {

// BatchWriteItem may leave items unprocessed (DynamoDB's contract); they are sent again this many
// times, with a growing pause, before the batch counts as failed.
constexpr int kUnprocessedRetries = 10;

std::string BucketOf(int64_t record) {
  char b[32];
  std::snprintf(b, sizeof b, "b%06lld", static_cast<long long>(record / kRecordsPerBucket));
  return b;
}

AttributeValue Number(int64_t n) { return AttributeValue::N(Decimal::FromInt64(n)); }

Item FullItem(int64_t record, const std::string& value, int64_t version) {
  Item item = RecordKey(record);
  item["v"] = AttributeValue::S(value);
  item["ver"] = Number(version);
  return item;
}

}  // namespace

CreateTableRequest BenchTableRequest(const std::string& table) {
  CreateTableRequest create;
  create.table_name = table;
  create.key_schema = {{"bucket", KeyType::kHash}, {"id", KeyType::kRange}};
  create.attribute_definitions = {{"bucket", AttributeType::kS}, {"id", AttributeType::kN}};
  create.billing_mode = BillingMode::kPayPerRequest;
  return create;
}

Item RecordKey(int64_t record) { return Item{{"bucket", AttributeValue::S(BucketOf(record))}, {"id", Number(record)}}; }

std::string RecordKeyText(int64_t record) { return BucketOf(record) + "/" + std::to_string(record); }

MeridianStore::MeridianStore(RegionClientOptions options, std::string table, bool consistent_reads)
    : client_(std::move(options)), table_(std::move(table)), consistent_reads_(consistent_reads) {}

Outcome MeridianStore::Classify(const Status& status) {
  if (status.ok()) return Outcome::kOk;
  last_error_ = status.ToString();
  switch (status.code()) {
    case ErrorCode::kConditionalCheckFailed: return Outcome::kConditionFailed;
    // Throttling and "busy": the store asks the client to come back later.
    case ErrorCode::kProvisionedThroughputExceeded:
    case ErrorCode::kRequestLimitExceeded:
    case ErrorCode::kServiceUnavailable: return Outcome::kThrottled;
    default: return Outcome::kError;
  }
}

Result<GetItemResponse> MeridianStore::Get(int64_t record, bool consistent) {
  GetItemRequest get;
  get.table_name = table_;
  get.key = RecordKey(record);
  get.consistent_read = consistent;
  return client_.GetItem(get);
}

Outcome MeridianStore::Read(int64_t record) {
  Result<GetItemResponse> r = Get(record, consistent_reads_);
  if (!r.ok()) return Classify(r.status());
  return r->item ? Outcome::kOk : Outcome::kNotFound;
}

Outcome MeridianStore::Update(int64_t record, const std::string& value) {
  UpdateItemRequest update;
  update.table_name = table_;
  update.key = RecordKey(record);
  update.update_expression = "SET v = :v, ver = if_not_exists(ver, :zero) + :one";
  update.expression_attribute_values = {{":v", AttributeValue::S(value)}, {":zero", Number(0)}, {":one", Number(1)}};
  return Classify(client_.UpdateItem(update).status());
}

Outcome MeridianStore::Insert(int64_t record, const std::string& value) {
  PutItemRequest put;
  put.table_name = table_;
  put.item = FullItem(record, value, 0);
  return Classify(client_.PutItem(put).status());
}

Outcome MeridianStore::Scan(int64_t record, int count) {
  QueryRequest query;
  query.table_name = table_;
  query.key_condition_expression = "#b = :b AND #i >= :first";
  query.expression_attribute_names = {{"#b", "bucket"}, {"#i", "id"}};
  query.expression_attribute_values = {{":b", AttributeValue::S(BucketOf(record))}, {":first", Number(record)}};
  query.limit = count;
  query.consistent_read = consistent_reads_;
  Result<QueryResponse> r = client_.Query(query);
  if (!r.ok()) return Classify(r.status());
  return r->items.empty() ? Outcome::kNotFound : Outcome::kOk;
}

Outcome MeridianStore::ReadModifyWrite(int64_t record, const std::string& value) {
  Result<GetItemResponse> r = Get(record, /*consistent=*/true);
  if (!r.ok()) return Classify(r.status());
  if (!r->item) return Outcome::kNotFound;
  auto ver = r->item->find("ver");
  if (ver == r->item->end()) {
    last_error_ = "record " + std::to_string(record) + " has no ver attribute";
    return Outcome::kError;
  }
  UpdateItemRequest update;
  update.table_name = table_;
  update.key = RecordKey(record);
  update.update_expression = "SET v = :v, ver = ver + :one";
  update.condition.condition_expression = "ver = :seen";
  update.expression_attribute_values = {{":v", AttributeValue::S(value)}, {":one", Number(1)}, {":seen", ver->second}};
  return Classify(client_.UpdateItem(update).status());
}

Outcome MeridianStore::InsertBatch(int64_t first, int count, const std::string& value) {
  BatchWriteItemRequest batch;
  auto& writes = batch.request_items[table_];
  for (int64_t r = first; r < first + count; ++r) writes.push_back(WriteRequest{FullItem(r, value, 0), std::nullopt});
  for (int attempt = 0; attempt <= kUnprocessedRetries; ++attempt) {
    Result<BatchWriteItemResponse> r = client_.BatchWriteItem(batch);
    if (!r.ok()) return Classify(r.status());
    if (r->unprocessed_items.empty()) return Outcome::kOk;
    batch.request_items = std::move(r->unprocessed_items);
    std::this_thread::sleep_for(std::chrono::milliseconds(10 << std::min(attempt, 6)));
  }
  last_error_ = "BatchWriteItem left items unprocessed after " + std::to_string(kUnprocessedRetries) + " retries";
  return Outcome::kThrottled;
}

}  // namespace meridian::bench
