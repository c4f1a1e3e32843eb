// The internal request and response types: one struct per DynamoDB operation.
//
// Every front end decodes into these in one place each (api/json_codec for DynamoDB's JSON, the
// msgpack field maps below for the native wire) and the engine (storage/engine.h) executes them.
// Field names follow DynamoDB's API reference; optional fields are std::optional so that "absent"
// and "default" stay distinct where DynamoDB tells them apart.
//
// The msgpack maps (MSGPACK_DEFINE_MAP) are the native wire format: fields are named, so adding
// a field later keeps old peers decoding (unknown keys are ignored, missing keys keep defaults).
//
// Thread-safety: value types.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "storage/attribute_value.h"
#include "storage/item_codec.h"

namespace meridian {

enum class KeyType : uint8_t { kHash, kRange };
enum class BillingMode : uint8_t { kProvisioned, kPayPerRequest };
enum class ReturnValue : uint8_t { kNone, kAllOld, kUpdatedOld, kAllNew, kUpdatedNew };
enum class ReturnConsumedCapacity : uint8_t { kNone, kTotal, kIndexes };
enum class Select : uint8_t { kAllAttributes, kAllProjectedAttributes, kSpecificAttributes, kCount };
enum class TableStatus : uint8_t { kCreating, kActive, kDeleting, kUpdating };
enum class ReturnValuesOnConditionCheckFailure : uint8_t { kNone, kAllOld };
// A replica region's status in DescribeTable's Replicas (global tables version 2019.11.21).
enum class ReplicaStatus : uint8_t { kCreating, kCreationFailed, kUpdating, kDeleting, kActive };

}  // namespace meridian

MSGPACK_ADD_ENUM(meridian::KeyType);
MSGPACK_ADD_ENUM(meridian::BillingMode);
MSGPACK_ADD_ENUM(meridian::ReturnValue);
MSGPACK_ADD_ENUM(meridian::ReturnConsumedCapacity);
MSGPACK_ADD_ENUM(meridian::Select);
MSGPACK_ADD_ENUM(meridian::TableStatus);
MSGPACK_ADD_ENUM(meridian::AttributeType);
MSGPACK_ADD_ENUM(meridian::ReturnValuesOnConditionCheckFailure);
MSGPACK_ADD_ENUM(meridian::ReplicaStatus);

namespace meridian {

using ExpressionAttributeNames = std::map<std::string, std::string>;
using ExpressionAttributeValues = std::map<std::string, AttributeValue>;

// The legacy (pre-expression) parameters older SDK code still sends; storage/expression.h maps
// them onto the expression engine.
// One entry of Expected, QueryFilter, ScanFilter or KeyConditions (ExpectedAttributeValue and
// Condition in the API reference).
struct LegacyCondition {
  std::optional<std::string> comparison_operator;
  std::vector<AttributeValue> attribute_value_list;
  std::optional<AttributeValue> value;
  std::optional<bool> exists;
  MSGPACK_DEFINE_MAP(comparison_operator, attribute_value_list, value, exists);
};
using LegacyConditions = std::map<std::string, LegacyCondition>;

// One entry of AttributeUpdates (AttributeValueUpdate): Action PUT (default), ADD or DELETE.
struct LegacyAttributeUpdate {
  std::optional<std::string> action;
  std::optional<AttributeValue> value;
  MSGPACK_DEFINE_MAP(action, value);
};
using LegacyAttributeUpdates = std::map<std::string, LegacyAttributeUpdate>;

// The conditional-write members PutItem, DeleteItem and UpdateItem share.
struct WriteCondition {
  std::optional<std::string> condition_expression;
  std::optional<LegacyConditions> expected;
  std::optional<std::string> conditional_operator;
  ReturnValuesOnConditionCheckFailure return_values_on_condition_check_failure =
      ReturnValuesOnConditionCheckFailure::kNone;
  MSGPACK_DEFINE_MAP(condition_expression, expected, conditional_operator,
                     return_values_on_condition_check_failure);
};

struct KeySchemaElement {
  std::string attribute_name;
  KeyType key_type = KeyType::kHash;
  bool operator==(const KeySchemaElement&) const = default;
  MSGPACK_DEFINE_MAP(attribute_name, key_type);
};

struct AttributeDefinition {
  std::string attribute_name;
  AttributeType attribute_type = AttributeType::kS;
  bool operator==(const AttributeDefinition&) const = default;
  MSGPACK_DEFINE_MAP(attribute_name, attribute_type);
};

struct ProvisionedThroughput {
  int64_t read_capacity_units = 0;
  int64_t write_capacity_units = 0;
  bool operator==(const ProvisionedThroughput&) const = default;
  MSGPACK_DEFINE_MAP(read_capacity_units, write_capacity_units);
};

// One replica region of a global table, as DescribeTable lists it (ReplicaDescription).
struct ReplicaDescription {
  std::string region_name;
  ReplicaStatus replica_status = ReplicaStatus::kActive;
  bool operator==(const ReplicaDescription&) const = default;
  MSGPACK_DEFINE_MAP(region_name, replica_status);
};

struct TableDescription {
  std::string table_name;
  std::string table_arn;
  std::string table_id;  // a UUID, as DynamoDB's TableId
  TableStatus table_status = TableStatus::kActive;
  std::vector<KeySchemaElement> key_schema;
  std::vector<AttributeDefinition> attribute_definitions;
  int64_t item_count = 0;
  int64_t table_size_bytes = 0;
  int64_t creation_date_time_ms = 0;  // epoch milliseconds; JSON shows epoch seconds
  BillingMode billing_mode = BillingMode::kProvisioned;
  ProvisionedThroughput provisioned_throughput;
  // Global tables: every replica region including this one (empty for a table with no replica
  // elsewhere); JSON shows them as Replicas, with GlobalTableVersion "2019.11.21".
  std::vector<ReplicaDescription> replicas;
  MSGPACK_DEFINE_MAP(table_name, table_arn, table_id, table_status, key_schema,
                     attribute_definitions, item_count, table_size_bytes, creation_date_time_ms,
                     billing_mode, provisioned_throughput, replicas);
};

// Capacity units for one table, as ReturnConsumedCapacity reports them.
struct ConsumedCapacity {
  std::string table_name;
  double capacity_units = 0;  // multiples of 0.5: exact in binary
  double read_capacity_units = 0;
  double write_capacity_units = 0;
  bool indexes = false;  // INDEXES was asked: also report the base table's share under "Table"
  MSGPACK_DEFINE_MAP(table_name, capacity_units, read_capacity_units, write_capacity_units, indexes);
};

// --- Tables -------------------------------------------------------------------------------------

struct CreateTableRequest {
  std::string table_name;
  std::vector<KeySchemaElement> key_schema;
  std::vector<AttributeDefinition> attribute_definitions;
  std::optional<BillingMode> billing_mode;
  std::optional<ProvisionedThroughput> provisioned_throughput;
  MSGPACK_DEFINE_MAP(table_name, key_schema, attribute_definitions, billing_mode,
                     provisioned_throughput);
};
struct CreateTableResponse {
  TableDescription table_description;
  MSGPACK_DEFINE_MAP(table_description);
};

struct DescribeTableRequest {
  std::string table_name;
  MSGPACK_DEFINE_MAP(table_name);
};
struct DescribeTableResponse {
  TableDescription table;
  MSGPACK_DEFINE_MAP(table);
};

struct ListTablesRequest {
  std::optional<std::string> exclusive_start_table_name;
  std::optional<int64_t> limit;  // 1..100, default 100
  MSGPACK_DEFINE_MAP(exclusive_start_table_name, limit);
};
struct ListTablesResponse {
  std::vector<std::string> table_names;
  std::optional<std::string> last_evaluated_table_name;
  MSGPACK_DEFINE_MAP(table_names, last_evaluated_table_name);
};

struct DeleteTableRequest {
  std::string table_name;
  MSGPACK_DEFINE_MAP(table_name);
};
struct DeleteTableResponse {
  TableDescription table_description;
  MSGPACK_DEFINE_MAP(table_description);
};

// --- Items --------------------------------------------------------------------------------------

struct PutItemRequest {
  std::string table_name;
  Item item;
  ReturnValue return_values = ReturnValue::kNone;
  ReturnConsumedCapacity return_consumed_capacity = ReturnConsumedCapacity::kNone;
  WriteCondition condition;
  ExpressionAttributeNames expression_attribute_names;
  ExpressionAttributeValues expression_attribute_values;
  MSGPACK_DEFINE_MAP(table_name, item, return_values, return_consumed_capacity, condition,
                     expression_attribute_names, expression_attribute_values);
};
struct PutItemResponse {
  std::optional<Item> attributes;
  std::optional<ConsumedCapacity> consumed_capacity;
  MSGPACK_DEFINE_MAP(attributes, consumed_capacity);
};

struct GetItemRequest {
  std::string table_name;
  Item key;
  bool consistent_read = false;
  ReturnConsumedCapacity return_consumed_capacity = ReturnConsumedCapacity::kNone;
  std::optional<std::string> projection_expression;
  ExpressionAttributeNames expression_attribute_names;
  std::optional<std::vector<std::string>> attributes_to_get;
  MSGPACK_DEFINE_MAP(table_name, key, consistent_read, return_consumed_capacity,
                     projection_expression, expression_attribute_names, attributes_to_get);
};
struct GetItemResponse {
  std::optional<Item> item;
  std::optional<ConsumedCapacity> consumed_capacity;
  MSGPACK_DEFINE_MAP(item, consumed_capacity);
};

struct DeleteItemRequest {
  std::string table_name;
  Item key;
  ReturnValue return_values = ReturnValue::kNone;
  ReturnConsumedCapacity return_consumed_capacity = ReturnConsumedCapacity::kNone;
  WriteCondition condition;
  ExpressionAttributeNames expression_attribute_names;
  ExpressionAttributeValues expression_attribute_values;
  MSGPACK_DEFINE_MAP(table_name, key, return_values, return_consumed_capacity, condition,
                     expression_attribute_names, expression_attribute_values);
};
struct DeleteItemResponse {
  std::optional<Item> attributes;
  std::optional<ConsumedCapacity> consumed_capacity;
  MSGPACK_DEFINE_MAP(attributes, consumed_capacity);
};

struct UpdateItemRequest {
  std::string table_name;
  Item key;
  std::optional<std::string> update_expression;
  std::optional<LegacyAttributeUpdates> attribute_updates;
  ReturnValue return_values = ReturnValue::kNone;
  ReturnConsumedCapacity return_consumed_capacity = ReturnConsumedCapacity::kNone;
  WriteCondition condition;
  ExpressionAttributeNames expression_attribute_names;
  ExpressionAttributeValues expression_attribute_values;
  MSGPACK_DEFINE_MAP(table_name, key, update_expression, attribute_updates, return_values,
                     return_consumed_capacity, condition, expression_attribute_names,
                     expression_attribute_values);
};
struct UpdateItemResponse {
  std::optional<Item> attributes;
  std::optional<ConsumedCapacity> consumed_capacity;
  MSGPACK_DEFINE_MAP(attributes, consumed_capacity);
};

// --- Query and Scan -----------------------------------------------------------------------------

struct QueryRequest {
  std::string table_name;
  std::optional<std::string> index_name;
  std::string key_condition_expression;
  ExpressionAttributeNames expression_attribute_names;
  ExpressionAttributeValues expression_attribute_values;
  bool scan_index_forward = true;
  std::optional<int64_t> limit;
  std::optional<Select> select;
  std::optional<Item> exclusive_start_key;
  bool consistent_read = false;
  ReturnConsumedCapacity return_consumed_capacity = ReturnConsumedCapacity::kNone;
  std::optional<std::string> filter_expression;
  std::optional<std::string> projection_expression;
  std::optional<LegacyConditions> key_conditions;
  std::optional<LegacyConditions> query_filter;
  std::optional<std::string> conditional_operator;
  std::optional<std::vector<std::string>> attributes_to_get;
  MSGPACK_DEFINE_MAP(table_name, index_name, key_condition_expression, expression_attribute_names,
                     expression_attribute_values, scan_index_forward, limit, select,
                     exclusive_start_key, consistent_read, return_consumed_capacity,
                     filter_expression, projection_expression, key_conditions, query_filter,
                     conditional_operator, attributes_to_get);
};

// One page of a Query or a Scan.
struct ItemPage {
  std::vector<Item> items;  // empty (and omitted from JSON) for Select=COUNT
  bool count_only = false;
  int64_t count = 0;
  int64_t scanned_count = 0;
  std::optional<Item> last_evaluated_key;
  std::optional<ConsumedCapacity> consumed_capacity;
  MSGPACK_DEFINE_MAP(items, count_only, count, scanned_count, last_evaluated_key, consumed_capacity);
};
struct QueryResponse : ItemPage {};

struct ScanRequest {
  std::string table_name;
  std::optional<std::string> index_name;
  std::optional<int64_t> limit;
  std::optional<Select> select;
  std::optional<Item> exclusive_start_key;
  std::optional<int64_t> segment;
  std::optional<int64_t> total_segments;
  bool consistent_read = false;
  ReturnConsumedCapacity return_consumed_capacity = ReturnConsumedCapacity::kNone;
  std::optional<std::string> filter_expression;
  std::optional<std::string> projection_expression;
  ExpressionAttributeNames expression_attribute_names;
  ExpressionAttributeValues expression_attribute_values;
  std::optional<LegacyConditions> scan_filter;
  std::optional<std::string> conditional_operator;
  std::optional<std::vector<std::string>> attributes_to_get;
  MSGPACK_DEFINE_MAP(table_name, index_name, limit, select, exclusive_start_key, segment,
                     total_segments, consistent_read, return_consumed_capacity, filter_expression,
                     projection_expression, expression_attribute_names,
                     expression_attribute_values, scan_filter, conditional_operator,
                     attributes_to_get);
};
struct ScanResponse : ItemPage {};

// --- Batches ------------------------------------------------------------------------------------

struct KeysAndAttributes {
  std::vector<Item> keys;
  bool consistent_read = false;
  std::optional<std::string> projection_expression;
  ExpressionAttributeNames expression_attribute_names;
  std::optional<std::vector<std::string>> attributes_to_get;
  MSGPACK_DEFINE_MAP(keys, consistent_read, projection_expression, expression_attribute_names,
                     attributes_to_get);
};

struct BatchGetItemRequest {
  std::map<std::string, KeysAndAttributes> request_items;
  ReturnConsumedCapacity return_consumed_capacity = ReturnConsumedCapacity::kNone;
  MSGPACK_DEFINE_MAP(request_items, return_consumed_capacity);
};
struct BatchGetItemResponse {
  std::map<std::string, std::vector<Item>> responses;
  std::map<std::string, KeysAndAttributes> unprocessed_keys;
  std::vector<ConsumedCapacity> consumed_capacity;
  MSGPACK_DEFINE_MAP(responses, unprocessed_keys, consumed_capacity);
};

// Exactly one of put_item and delete_key is set.
struct WriteRequest {
  std::optional<Item> put_item;
  std::optional<Item> delete_key;
  MSGPACK_DEFINE_MAP(put_item, delete_key);
};

struct BatchWriteItemRequest {
  std::map<std::string, std::vector<WriteRequest>> request_items;
  ReturnConsumedCapacity return_consumed_capacity = ReturnConsumedCapacity::kNone;
  MSGPACK_DEFINE_MAP(request_items, return_consumed_capacity);
};
struct BatchWriteItemResponse {
  std::map<std::string, std::vector<WriteRequest>> unprocessed_items;
  std::vector<ConsumedCapacity> consumed_capacity;
  MSGPACK_DEFINE_MAP(unprocessed_items, consumed_capacity);
};

// A struct with no fields, on the wire as an empty map (MSGPACK_DEFINE_MAP needs one field).
#define MERIDIAN_MSGPACK_EMPTY_MAP                                    \
  template <typename Packer>                                          \
  void msgpack_pack(Packer& pk) const {                               \
    pk.pack_map(0);                                                   \
  }                                                                   \
  void msgpack_unpack(const msgpack::object& o) {                     \
    if (o.type != msgpack::type::MAP) throw msgpack::type_error();    \
  }                                                                   \
  template <typename MSGPACK_OBJECT>                                  \
  void msgpack_object(MSGPACK_OBJECT* o, msgpack::zone&) const {      \
    o->type = msgpack::type::MAP;                                     \
    o->via.map.size = 0;                                              \
    o->via.map.ptr = nullptr;                                         \
  }

// --- Global tables ------------------------------------------------------------------------------

// UpdateTable's ReplicaUpdates entry: exactly one of create and remove is set (JSON: Create and
// Delete, each with RegionName).
struct ReplicaUpdate {
  std::optional<std::string> create;  // region to add as a replica
  std::optional<std::string> remove;  // region to remove
  MSGPACK_DEFINE_MAP(create, remove);
};

struct UpdateTableRequest {
  std::string table_name;
  std::optional<std::vector<AttributeDefinition>> attribute_definitions;
  std::optional<BillingMode> billing_mode;
  std::optional<ProvisionedThroughput> provisioned_throughput;
  std::vector<ReplicaUpdate> replica_updates;
  MSGPACK_DEFINE_MAP(table_name, attribute_definitions, billing_mode, provisioned_throughput,
                     replica_updates);
};
struct UpdateTableResponse {
  TableDescription table_description;
  MSGPACK_DEFINE_MAP(table_description);
};

// The version an item (or tombstone) carries in a global table (conflict/version.h): a vector of
// per-region counters, the writing leader's hybrid logical timestamp, the writing region.
struct ItemVersion {
  std::map<std::string, uint64_t> vv;
  uint64_t hlc = 0;
  std::string origin;
  bool operator==(const ItemVersion&) const = default;
  MSGPACK_DEFINE_MAP(vv, hlc, origin);
};

// A table's replicated metadata: what a region needs to create, change or drop its replica. Its
// own last-writer-wins version (meta_hlc, meta_origin) orders concurrent changes.
struct TableMeta {
  std::string table_name;
  std::vector<KeySchemaElement> key_schema;
  std::vector<AttributeDefinition> attribute_definitions;
  BillingMode billing_mode = BillingMode::kProvisioned;
  ProvisionedThroughput provisioned_throughput;
  std::vector<std::string> replicas;  // every replica region, sorted
  uint64_t meta_hlc = 0;
  std::string meta_origin;
  // The meta_hlc of the change that made each replica region one (absent: from the start). A
  // region created as a replica waits for the backfills of the regions that joined before it.
  std::map<std::string, uint64_t> joined_hlc;
  MSGPACK_DEFINE_MAP(table_name, key_schema, attribute_definitions, billing_mode,
                     provisioned_throughput, replicas, meta_hlc, meta_origin, joined_hlc);
};

// One entry of a region's change stream as shipped to another region: an item write or delete
// (image absent) with its version, or a table metadata change (meta set, the rest empty).
struct ReplicatedChange {
  uint64_t seq = 0;  // position in the ORIGIN region's stream (the Raft index there)
  uint32_t n = 0;    // position within that entry
  std::string table;
  Item key;
  std::optional<Item> image;  // absent: a delete (a tombstone)
  ItemVersion version;
  int64_t time_ms = 0;  // when the origin region applied it
  std::optional<TableMeta> meta;
  // With meta: the origin region has finished backfilling `table` to the destination, which
  // accepts writes to its new replica once every other replica region has (a new replica must
  // not write before it holds the table's tombstones, or their purge could split the regions).
  bool backfill_done = false;
  MSGPACK_DEFINE_MAP(seq, n, table, key, image, version, time_ms, meta, backfill_done);
};

// A backfill the replicator owes a peer: every item of `table` (with versions and tombstones),
// to start once the peer's cursor for this region has reached `after_seq` (the change that made
// the peer a replica here, which creates the table there).
struct PendingBackfill {
  std::string table;
  std::string peer;
  uint64_t after_seq = 0;
  MSGPACK_DEFINE_MAP(table, peer, after_seq);
};

// Internal (replicator -> its own region, leader only, consistent): the next changes of this
// region's stream for `peer`, after `after_seq`. Records not destined to `peer` are skipped but
// still covered by last_seq, so the peer's cursor moves past them.
struct ReplicationReadChangesRequest {
  std::string peer;
  uint64_t after_seq = 0;
  uint32_t max_records = 1000;
  uint32_t max_bytes = 1 << 20;
  MSGPACK_DEFINE_MAP(peer, after_seq, max_records, max_bytes);
};
struct ReplicationReadChangesResponse {
  std::vector<ReplicatedChange> changes;
  uint64_t last_seq = 0;        // the stream position these changes cover up to (>= after_seq)
  uint64_t head_seq = 0;        // the highest seq in the stream (or the applied index), same read
  bool at_head = false;         // last_seq == head_seq: `cursors` is valid as of last_seq
  std::map<std::string, uint64_t> cursors;  // this region's received cursor per source region
  std::vector<PendingBackfill> backfills;  // owed to `peer`
  MSGPACK_DEFINE_MAP(changes, last_seq, head_seq, at_head, cursors, backfills);
};

// Internal (replicator -> its own region, a write through Raft): a batch received from `source`.
// Not a backfill: changes with seq <= the stored cursor for `source` are dropped, the others
// merged under the conflict rule, and the cursor becomes last_seq, all in one entry (exactly-once
// effect under at-least-once delivery). A backfill: merged, the cursor untouched.
struct ReplicationApplyRequest {
  std::string source;
  // The batch covers the source's stream (after_seq, last_seq]. Applied only when after_seq <=
  // the stored cursor (no gap); otherwise nothing changes and the response carries the cursor,
  // so the sender resends from there.
  uint64_t after_seq = 0;
  uint64_t last_seq = 0;
  uint64_t source_head = 0;
  int64_t source_time_ms = 0;  // source's wall clock when it read the batch (lag)
  bool backfill = false;
  std::vector<ReplicatedChange> changes;
  // The source's received cursors, as of last_seq; only set when the batch reached the source's
  // head (tombstone purge and stream trimming use what every region has seen).
  std::optional<std::map<std::string, uint64_t>> source_cursors;
  MSGPACK_DEFINE_MAP(source, after_seq, last_seq, source_head, source_time_ms, backfill, changes,
                     source_cursors);
};
struct ReplicationApplyResponse {
  uint64_t cursor = 0;  // the stored cursor for `source` after this batch
  bool gap = false;     // refused: after_seq > cursor
  uint32_t applied = 0;
  uint32_t dropped = 0;
  uint32_t conflicts = 0;
  MSGPACK_DEFINE_MAP(cursor, gap, applied, dropped, conflicts);
};

// Internal (replicator -> its own region): one page of a table's items and tombstones with their
// versions, for a backfill. Pages need not come from one snapshot: every change after the one
// that added the peer is also in the stream, and the merge is idempotent.
struct ReplicationReadTableRequest {
  std::string table;
  std::optional<std::string> exclusive_start;  // opaque, from the previous page
  uint32_t limit = 500;
  MSGPACK_DEFINE_MAP(table, exclusive_start, limit);
};
struct ReplicationReadTableResponse {
  std::vector<ReplicatedChange> items;  // seq 0; image absent for tombstones
  std::optional<std::string> last_key;  // absent: the table is done
  MSGPACK_DEFINE_MAP(items, last_key);
};

// Internal (a write through Raft): the backfill of `table` to `peer` is complete; the replica
// becomes ACTIVE here.
struct ReplicationBackfillDoneRequest {
  std::string table;
  std::string peer;
  MSGPACK_DEFINE_MAP(table, peer);
};
struct ReplicationBackfillDoneResponse {
  MERIDIAN_MSGPACK_EMPTY_MAP
};

// One write lost to conflict resolution.
struct ConflictRecord {
  std::string table;
  Item key;
  ItemVersion loser;
  ItemVersion winner;
  bool loser_was_delete = false;
  int64_t time_ms = 0;  // when this region resolved it
  MSGPACK_DEFINE_MAP(table, key, loser, winner, loser_was_delete, time_ms);
};

struct ReplicationLag {
  std::string source;       // the lag of source -> this region
  uint64_t cursor = 0;      // this region's cursor for source
  uint64_t source_head = 0; // source's head when it sent its last batch
  int64_t lag_ms = 0;
  uint64_t lag_records = 0;
  int64_t last_batch_ms = 0;  // when the last batch from source was applied here
  MSGPACK_DEFINE_MAP(source, cursor, source_head, lag_ms, lag_records, last_batch_ms);
};

struct TableConflicts {
  uint64_t count = 0;
  std::vector<ConflictRecord> recent;  // newest last, bounded
  MSGPACK_DEFINE_MAP(count, recent);
};

// Internal (any facility): this region's replication state.
struct ReplicationStatusRequest {
  MERIDIAN_MSGPACK_EMPTY_MAP
};
struct ReplicationStatusResponse {
  std::string region;
  uint64_t head_seq = 0;
  uint64_t first_retained_seq = 0;  // 0: the stream is empty
  std::vector<ReplicationLag> lag;  // one per source region heard from
  std::map<std::string, uint64_t> peer_acked;  // what each peer has applied of this region
  std::vector<std::string> behind;  // peers that fell beyond retention (being re-seeded)
  std::map<std::string, TableConflicts> conflicts;
  uint64_t clock_rejections = 0;  // remote timestamps beyond the max clock offset
  uint64_t tombstones = 0;
  MSGPACK_DEFINE_MAP(region, head_seq, first_retained_seq, lag, peer_acked, behind, conflicts,
                     clock_rejections, tombstones);
};

// --- The operation set --------------------------------------------------------------------------

// Wire numbers of the operations: never reuse or renumber one.
enum class Operation : uint16_t {
  kCreateTable = 1,
  kDescribeTable = 2,
  kListTables = 3,
  kDeleteTable = 4,
  kPutItem = 5,
  kGetItem = 6,
  kDeleteItem = 7,
  kQuery = 8,
  kScan = 9,
  kBatchGetItem = 10,
  kBatchWriteItem = 11,
  kUpdateItem = 12,
  kUpdateTable = 13,
  // Internal: the replicator's view of its own region (native protocol only, never over HTTP).
  kReplicationReadChanges = 14,
  kReplicationApply = 15,
  kReplicationReadTable = 16,
  kReplicationBackfillDone = 17,
  kReplicationStatus = 18,
};
inline constexpr uint16_t kOperationCount = 18;
// Operations DynamoDB's JSON API has (the rest are Meridian's internal ones).
inline constexpr uint16_t kDynamoOperationCount = 13;

// Alternatives in Operation order: index = operation - 1.
using Request = std::variant<CreateTableRequest, DescribeTableRequest, ListTablesRequest,
                             DeleteTableRequest, PutItemRequest, GetItemRequest, DeleteItemRequest,
                             QueryRequest, ScanRequest, BatchGetItemRequest, BatchWriteItemRequest,
                             UpdateItemRequest, UpdateTableRequest, ReplicationReadChangesRequest,
                             ReplicationApplyRequest, ReplicationReadTableRequest,
                             ReplicationBackfillDoneRequest, ReplicationStatusRequest>;
using Response = std::variant<CreateTableResponse, DescribeTableResponse, ListTablesResponse,
                              DeleteTableResponse, PutItemResponse, GetItemResponse,
                              DeleteItemResponse, QueryResponse, ScanResponse,
                              BatchGetItemResponse, BatchWriteItemResponse, UpdateItemResponse,
                              UpdateTableResponse, ReplicationReadChangesResponse,
                              ReplicationApplyResponse, ReplicationReadTableResponse,
                              ReplicationBackfillDoneResponse, ReplicationStatusResponse>;

inline Operation OperationOf(const Request& r) { return static_cast<Operation>(r.index() + 1); }
inline Operation OperationOf(const Response& r) { return static_cast<Operation>(r.index() + 1); }
// "PutItem" etc.
const char* OperationName(Operation op);
// False when the name is not an operation Meridian serves.
bool ParseOperationName(std::string_view name, Operation* out);
// Whether the operation changes data (and so must go through the write path).
bool IsWriteOperation(Operation op);
// Whether a read must be served by the region's leader after a read barrier: strongly consistent
// reads (ConsistentRead) and the replicator's reads of its region's stream and tables.
bool IsConsistentRead(const Request& request);

}  // namespace meridian
