#include "storage/engine.h"

#include <openssl/rand.h>
#include <openssl/sha.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/sst_file_reader.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <type_traits>

#include "conflict/hlc.h"
#include "conflict/version.h"
#include "storage/expression.h"
#include "storage/global_table.h"
#include "storage/item_codec.h"
#include "storage/key_codec.h"
#include "storage/key_condition.h"
#include "storage/state_transfer.h"

namespace meridian {
namespace {

// --- Limits (DynamoDB's, https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html)

// "A single Query [or Scan] operation can retrieve a maximum of 1 MB of data."
constexpr size_t kPageBytesMax = 1 << 20;
// BatchGetItem: at most 100 keys and 16 MB of response.
constexpr size_t kBatchGetKeysMax = 100;
constexpr size_t kBatchGetResponseBytesMax = 16 << 20;
// BatchWriteItem: at most 25 put or delete requests.
constexpr size_t kBatchWriteRequestsMax = 25;
constexpr int64_t kListTablesLimitMax = 100;
constexpr int64_t kTotalSegmentsMax = 1000000;
constexpr int64_t kCapacityUnitsMax = 40000;
constexpr size_t kTableNameMin = 3;
constexpr size_t kTableNameMax = 255;
// Striped item locks: enough stripes that unrelated items rarely share one, few enough to be a
// fixed small array.
constexpr size_t kLockStripes = 1024;

// Global tables: bounds on the work and answers of the replication operations.
// ReplicaUpdates per UpdateTable: a deployment has a handful of regions.
constexpr size_t kReplicaUpdatesMax = 64;
// Regions (cursors, knowledge, lag, behind marks) and tables read in one go.
constexpr size_t kRegionsMax = 1024;
constexpr size_t kTablesMax = 10000;
// Pending backfills: one per (table, peer).
constexpr size_t kBackfillsMax = 100000;
// Changes in one ReplicationApply (one Raft entry).
constexpr size_t kApplyChangesMax = 100000;
// ReplicationReadChanges: the request's limits may not exceed these; and records examined per call
// (records for other peers are skipped but cost a read).
constexpr int64_t kReadChangesRecordsMax = 100000;
constexpr int64_t kReadChangesBytesMax = 64 << 20;
constexpr size_t kReadChangesExamineMax = 100000;
// ReplicationReadTable: items per page (and at most 1 MB, as a Scan page).
constexpr int64_t kReadTableLimitMax = 10000;
// Retention: stream records trimmed, and tombstone index entries examined per origin, per call.
constexpr int64_t kTrimPerCall = 4096;
constexpr size_t kPurgePerOrigin = 1024;
// Local writes run time retention every this many entries (ReplicationApply runs it every time).
constexpr uint64_t kTimeRetentionEvery = 1024;

constexpr char kCfCatalog[] = "catalog";
constexpr char kCfItems[] = "items";
constexpr char kCfRaftLog[] = "raft_log";
constexpr char kCfChanges[] = "changes";
constexpr char kCfRegion[] = "region";
constexpr char kCfVersions[] = "versions";
// Index in Impl::handles of each Cf (handles[0] is RocksDB's default column family).
constexpr size_t CfIndex(Cf which) { return static_cast<size_t>(which) + 1; }
// The column families that make up the replicated state, in DumpState's order.
constexpr std::array<Cf, 5> kStateCfs = kStateColumnFamilies;
// The state column families of format 1 dumps (before versions): still installed.
constexpr std::array<Cf, 4> kStateCfsFormat1 = {Cf::kCatalog, Cf::kItems, Cf::kChanges, Cf::kRegion};
constexpr const char* CfName(Cf which) {
  switch (which) {
    case Cf::kCatalog: return kCfCatalog;
    case Cf::kItems: return kCfItems;
    case Cf::kRaftLog: return kCfRaftLog;
    case Cf::kChanges: return kCfChanges;
    case Cf::kRegion: return kCfRegion;
    case Cf::kVersions: return kCfVersions;
  }
  return "";
}
// DumpState's envelope: [kStateMagic, kStateFormat, [[cf name, [k1, v1, k2, v2, ...]], ...], sha256].
constexpr char kStateMagic[] = "meridian-state";
constexpr uint64_t kStateFormat = 2;  // 2: with the versions column family

// Catalog keys.
constexpr char kTableKeyPrefix[] = "table/";
constexpr char kNextTableIdKey[] = "meta/next_table_id";
constexpr char kCounterKeyPrefix[] = "counter/";
// Bumped (8 bytes big-endian) by every write that changes the table records, so that the catalog
// cache can tell when a batch staged on the apply path has been written by the caller.
constexpr char kCatalogVersionKey[] = "meta/catalog_version";

constexpr char kNotFound[] = "Requested resource not found";
constexpr char kKeyMismatch[] = "The provided key element does not match the schema";
constexpr char kDuplicateKeys[] = "Provided list of item keys contains duplicates";
constexpr char kItemTooLarge[] = "Item size has exceeded the maximum allowed size";

std::string EncodeInt64(int64_t v) {
  std::string out(8, '\0');
  auto u = static_cast<uint64_t>(v);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((u >> (8 * i)) & 0xff);
  return out;
}

int64_t DecodeInt64(const char* p) {
  uint64_t u = 0;
  for (int i = 7; i >= 0; --i) u = (u << 8) | static_cast<uint8_t>(p[i]);
  return static_cast<int64_t>(u);
}

// Adds signed 64-bit little-endian counters, so ItemCount and TableSizeBytes change in the same
// WriteBatch as the item without a read-modify-write on a hot key.
class Int64AddOperator : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    if (value.size() != 8 || (existing != nullptr && existing->size() != 8)) return false;
    int64_t base = existing != nullptr ? DecodeInt64(existing->data()) : 0;
    // Wrapping addition in unsigned: counters never approach 2^63, and no UB if corrupted.
    *new_value = EncodeInt64(static_cast<int64_t>(static_cast<uint64_t>(base) +
                                                  static_cast<uint64_t>(DecodeInt64(value.data()))));
    return true;
  }
  const char* Name() const override { return "meridian.Int64Add"; }
};

// What the catalog stores per table: the description plus the internal id under which its items
// live (never reused, so a recreated table never sees old items).
// Global tables: desc.replicas lists every replica region (this one included) when the table has
// replicas elsewhere, and is empty otherwise; (meta_hlc, meta_origin) is the last-writer-wins
// version of the table's replicated metadata (TableMeta).
// `awaiting`: on a replica created from another region's metadata, the replica regions that have
// not finished their backfill to this one; the table is CREATING (no local writes) until none is
// left (ReplicatedChange::backfill_done).
struct TableRecord {
  uint64_t id = 0;
  TableDescription desc;
  uint64_t meta_hlc = 0;
  std::string meta_origin;
  std::vector<std::string> awaiting;
  std::map<std::string, uint64_t> joined_hlc;  // TableMeta::joined_hlc
  // Per region that backfilled this replica: the seq of its "backfill done" in its stream, above
  // everything the backfill carried (tombstone cuts are raised to it; storage/global_table.h).
  std::map<std::string, uint64_t> backfilled_through;
  MSGPACK_DEFINE_MAP(id, desc, meta_hlc, meta_origin, awaiting, joined_hlc, backfilled_through);
};

// The value of a change record (storage/engine.h, ApplyOptions::change_seq).
struct ChangeWire {
  std::string table;
  Item key;
  std::optional<Item> image;
  int64_t time_ms = 0;
  ItemVersion version;
  std::vector<std::string> destinations;
  std::optional<TableMeta> meta;
  bool backfill_done = false;
  MSGPACK_DEFINE_MAP(table, key, image, time_ms, version, destinations, meta, backfill_done);
};

std::string TableKey(const std::string& name) { return kTableKeyPrefix + name; }
std::string CounterKey(uint64_t table_id, char which) {
  std::string k = kCounterKeyPrefix + TablePrefix(table_id);
  k.push_back(which);
  return k;
}
std::string ItemCountKey(uint64_t id) { return CounterKey(id, 'n'); }
std::string SizeBytesKey(uint64_t id) { return CounterKey(id, 'b'); }

std::string EncodeU64(uint64_t v) { return TablePrefix(v); }  // 8 bytes big-endian

uint64_t DecodeU64(std::string_view b) {
  uint64_t v = 0;
  for (char c : b) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

std::string FormatUuid(unsigned char b[16]) {
  b[6] = (b[6] & 0x0f) | 0x40;  // version 4
  b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0xf]);
  }
  return out;
}

// The TableId of a table created on the replicated apply path. Every replica must give the table
// the same one, so it is derived from the region, the table's name, its internal id and its
// creation time (SHA-256) instead of drawn at random. It keeps the version-4 shape that clients
// may check. Distinct in practice: the internal id is never reused within a region's state, and
// the name and time separate regions.
std::string DerivedTableUuid(const std::string& region, const std::string& name, uint64_t id, int64_t now_ms) {
  std::string input = "meridian-table-id\n" + region + "\n" + name + "\n" + EncodeU64(id) +
                      EncodeU64(static_cast<uint64_t>(now_ms));
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  return FormatUuid(digest);
}

std::string NewUuidV4() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof(b)) != 1) {
    // RAND_bytes only fails without entropy; fall back to the clock so ids stay distinct.
    auto t = std::chrono::steady_clock::now().time_since_epoch().count();
    for (int i = 0; i < 16; ++i) b[i] = static_cast<unsigned char>(t >> ((i % 8) * 8)) ^ static_cast<unsigned char>(i * 37);
  }
  return FormatUuid(b);
}

Status FromRocks(const rocksdb::Status& s) {
  if (s.ok()) return Status::Ok();
  return Status::Internal("storage error: " + s.ToString());
}

// "1 validation error detected: ..." or "N validation errors detected: a; b".
Status ConstraintErrors(const std::vector<std::string>& errors) {
  std::string m = std::to_string(errors.size()) +
                  (errors.size() == 1 ? " validation error detected: " : " validation errors detected: ");
  for (size_t i = 0; i < errors.size(); ++i) m += (i ? "; " : "") + errors[i];
  return Status::Validation(m);
}

std::string Constraint(const std::string& value, const std::string& field, const std::string& rule) {
  return "Value " + value + " at '" + field + "' failed to satisfy constraint: " + rule;
}

void TableNameErrors(const std::string& name, const std::string& field, std::vector<std::string>* errors) {
  bool pattern_ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
  std::string quoted = "'" + name + "'";
  if (!pattern_ok) {
    errors->push_back(Constraint(quoted, field, "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"));
  }
  if (name.size() < kTableNameMin) {
    errors->push_back(Constraint(quoted, field, "Member must have length greater than or equal to 3"));
  } else if (name.size() > kTableNameMax) {
    errors->push_back(Constraint(quoted, field, "Member must have length less than or equal to 255"));
  }
}

Status ValidateTableName(const std::string& name, const std::string& field = "tableName") {
  std::vector<std::string> errors;
  TableNameErrors(name, field, &errors);
  return errors.empty() ? Status::Ok() : ConstraintErrors(errors);
}

Status ValidateRange(int64_t v, int64_t lo, int64_t hi, const std::string& field) {
  if (v < lo) {
    return ConstraintErrors({Constraint("'" + std::to_string(v) + "'", field,
                                        "Member must have value greater than or equal to " + std::to_string(lo))});
  }
  if (v > hi) {
    return ConstraintErrors({Constraint("'" + std::to_string(v) + "'", field,
                                        "Member must have value less than or equal to " + std::to_string(hi))});
  }
  return Status::Ok();
}

KeySchemaInfo SchemaOf(const TableDescription& d) {
  KeySchemaInfo k;
  auto type_of = [&](const std::string& name) {
    for (const auto& a : d.attribute_definitions)
      if (a.attribute_name == name) return a.attribute_type;
    return AttributeType::kS;
  };
  for (const auto& e : d.key_schema) {
    if (e.key_type == KeyType::kHash) {
      k.pk_name = e.attribute_name;
      k.pk_type = type_of(e.attribute_name);
    } else {
      k.sk_name = e.attribute_name;
      k.sk_type = type_of(e.attribute_name);
    }
  }
  return k;
}

bool IsEmptyKeyValue(const AttributeValue& v) {
  return (v.is(AttributeType::kS) && v.s().empty()) || (v.is(AttributeType::kB) && v.b().empty());
}

Status EmptyKeyError(const AttributeValue& v, const std::string& name) {
  return Status::Validation(std::string("One or more parameter values are not valid. The AttributeValue for a key "
                                        "attribute cannot contain an empty ") +
                            (v.is(AttributeType::kS) ? "string" : "binary") + " value. Key: " + name);
}

// Checks non-empty key values and DynamoDB's key size limits.
Status CheckKeyValues(const KeySchemaInfo& k, const AttributeValue& pk, const AttributeValue* sk) {
  if (IsEmptyKeyValue(pk)) return EmptyKeyError(pk, k.pk_name);
  if (sk != nullptr && IsEmptyKeyValue(*sk)) return EmptyKeyError(*sk, *k.sk_name);
  if (AttributeValueSize(pk) > kMaxPartitionKeyBytes) {
    return Status::Validation(
        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes");
  }
  if (sk != nullptr && AttributeValueSize(*sk) > kMaxSortKeyBytes) {
    return Status::Validation(
        "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit "
        "of 1024 bytes");
  }
  return Status::Ok();
}

// An item to be stored: its key attributes with the schema's types, valid values, at most 400 KB.
Status ValidateItem(const KeySchemaInfo& k, const Item& item) {
  auto check_key = [&](const std::string& name, AttributeType type) -> Status {
    auto it = item.find(name);
    if (it == item.end()) {
      return Status::Validation("One or more parameter values were invalid: Missing the key " + name + " in the item");
    }
    if (!it->second.is(type)) {
      return Status::Validation("One or more parameter values were invalid: Type mismatch for key " + name +
                                " expected: " + AttributeTypeName(type) +
                                " actual: " + AttributeTypeName(it->second.type()));
    }
    return Status::Ok();
  };
  MERIDIAN_RETURN_IF_ERROR(check_key(k.pk_name, k.pk_type));
  if (k.sk_name) MERIDIAN_RETURN_IF_ERROR(check_key(*k.sk_name, k.sk_type));
  MERIDIAN_RETURN_IF_ERROR(CheckKeyValues(k, item.at(k.pk_name), k.sk_name ? &item.at(*k.sk_name) : nullptr));
  for (const auto& [name, value] : item) {
    // Attribute names are 1 to 64 KB of UTF-8 (DynamoDB's naming rules).
    if (name.empty() || name.size() > 65535 || !IsValidUtf8(name)) {
      return Status::Validation("One or more parameter values were invalid: An attribute name must be 1 to 65535 bytes of UTF-8");
    }
    MERIDIAN_RETURN_IF_ERROR(ValidateAttributeValue(value));
  }
  if (ItemSize(item) > kMaxItemSizeBytes) return Status::Validation(kItemTooLarge);
  return Status::Ok();
}

// A primary key: exactly the key attributes, with the schema's types.
Status ValidateKey(const KeySchemaInfo& k, const Item& key, const char* mismatch = kKeyMismatch) {
  size_t want = k.sk_name ? 2 : 1;
  if (key.size() != want) return Status::Validation(mismatch);
  auto pk = key.find(k.pk_name);
  if (pk == key.end() || !pk->second.is(k.pk_type)) return Status::Validation(mismatch);
  const AttributeValue* sk = nullptr;
  if (k.sk_name) {
    auto it = key.find(*k.sk_name);
    if (it == key.end() || !it->second.is(k.sk_type)) return Status::Validation(mismatch);
    sk = &it->second;
  }
  return CheckKeyValues(k, pk->second, sk);
}

std::string ItemKeyOf(uint64_t table_id, const KeySchemaInfo& k, const Item& item) {
  const AttributeValue* sk = k.sk_name ? &item.at(*k.sk_name) : nullptr;
  return ItemKey(table_id, item.at(k.pk_name), sk);
}

Item KeyAttributesOf(const KeySchemaInfo& k, const Item& item) {
  Item key;
  auto pk = item.find(k.pk_name);
  if (pk != item.end()) key.emplace(pk->first, pk->second);
  if (k.sk_name) {
    auto sk = item.find(*k.sk_name);
    if (sk != item.end()) key.emplace(sk->first, sk->second);
  }
  return key;
}

// Capacity units (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html):
// a read unit is 4 KB strongly consistent (half for eventually consistent), a write unit 1 KB,
// rounded up, at least one.
double ReadUnits(size_t bytes, bool consistent) {
  double units = std::max<double>(1, static_cast<double>((bytes + 4095) / 4096));
  return consistent ? units : units / 2;
}
double WriteUnits(size_t bytes) { return std::max<double>(1, static_cast<double>((bytes + 1023) / 1024)); }

std::optional<ConsumedCapacity> Capacity(ReturnConsumedCapacity rcc, const std::string& table, double units,
                                         bool write) {
  if (rcc == ReturnConsumedCapacity::kNone) return std::nullopt;
  ConsumedCapacity c;
  c.table_name = table;
  c.capacity_units = units;
  (write ? c.write_capacity_units : c.read_capacity_units) = units;
  c.indexes = rcc == ReturnConsumedCapacity::kIndexes;
  return c;
}

Status ValidateSelect(const std::optional<Select>& select, const std::optional<std::string>& index_name,
                      bool has_projection) {
  if (!select) return Status::Ok();
  if (*select == Select::kSpecificAttributes && !has_projection) {
    return Status::Validation(
        "One or more parameter values were invalid: Select type SPECIFIC_ATTRIBUTES requires a ProjectionExpression "
        "or AttributesToGet");
  }
  if (*select == Select::kAllAttributes && has_projection) {
    return Status::Validation("Cannot specify the ProjectionExpression or AttributesToGet when choosing to get "
                              "ALL_ATTRIBUTES");
  }
  if (*select == Select::kCount && has_projection) {
    return Status::Validation("Cannot specify the ProjectionExpression or AttributesToGet when choosing to get COUNT");
  }
  if (*select == Select::kAllProjectedAttributes && !index_name) {
    return Status::Validation("ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName");
  }
  return Status::Ok();
}

// --- Expressions ---------------------------------------------------------------------------------

const ExpressionAttributeNames kNoNames;
const ExpressionAttributeValues kNoValues;
const Item kNoItem;

// The parameter names present in a request, in the two styles DynamoDB will not mix
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/LegacyConditionalParameters.html).
struct ParameterStyles {
  std::vector<std::string> legacy;
  std::vector<std::string> expressions;
  bool any_expression = false;  // an expression string, not only placeholder maps

  void Legacy(bool present, const char* name) {
    if (present) legacy.emplace_back(name);
  }
  void Expression(bool present, const char* name) {
    if (!present) return;
    expressions.emplace_back(name);
    any_expression = true;
  }
  Status Check(const ExpressionAttributeNames& names, const ExpressionAttributeValues& values) {
    if (!names.empty()) expressions.emplace_back("ExpressionAttributeNames");
    if (!values.empty()) expressions.emplace_back("ExpressionAttributeValues");
    MERIDIAN_RETURN_IF_ERROR(expr::CheckNoMixedParameters(legacy, expressions));
    if (!any_expression && !names.empty()) {
      return Status::Validation("ExpressionAttributeNames can only be specified when using expressions");
    }
    if (!any_expression && !values.empty()) {
      return Status::Validation("ExpressionAttributeValues can only be specified when using expressions");
    }
    return Status::Ok();
  }
};

// ConditionalCheckFailedException, carrying the old item when ReturnValuesOnConditionCheckFailure
// is ALL_OLD.
Status CheckWriteCondition(const expr::Condition* condition, const std::optional<Item>& old,
                           const expr::Bindings& bindings, ReturnValuesOnConditionCheckFailure on_failure) {
  if (condition == nullptr) return Status::Ok();
  MERIDIAN_ASSIGN_OR_RETURN(bool holds, expr::Evaluate(*condition, old ? *old : kNoItem, bindings));
  if (holds) return Status::Ok();
  Status failed(ErrorCode::kConditionalCheckFailed, "The conditional request failed");
  if (on_failure == ReturnValuesOnConditionCheckFailure::kAllOld && old) {
    failed = std::move(failed).WithItemPayload(EncodeItem(*old));
  }
  return failed;
}

// DynamoDB refuses a Query filter on the key attributes (the key condition is the place for them).
// Operands nest only as deep as the parser allowed, and the walk keeps its own stack.
Status CheckFilterAvoidsKeys(const expr::Condition& filter, const expr::Bindings& bindings,
                             const KeySchemaInfo& k, bool legacy) {
  std::vector<const expr::Operand*> pending;
  for (const auto& node : filter.nodes)
    for (const auto& operand : node.operands) pending.push_back(&operand);
  while (!pending.empty()) {
    const expr::Operand* o = pending.back();
    pending.pop_back();
    for (const auto& arg : o->args) pending.push_back(&arg);
    if (o->type != expr::Operand::Type::kPath || o->path.empty()) continue;
    const expr::PathElement& first = o->path.front();
    std::string name = first.name;
    if (first.type == expr::PathElement::Type::kIndex) continue;
    if (first.type == expr::PathElement::Type::kNameRef) {
      auto it = bindings.names.find(first.name);
      if (it == bindings.names.end()) continue;  // reported as undefined by Validate
      name = it->second;
    }
    if (name == k.pk_name || (k.sk_name && name == *k.sk_name)) {
      return Status::Validation(legacy ? "QueryFilter can only contain non-key attributes: Primary key attribute: " + name
                                       : "Filter Expression can only contain non-primary key attributes: Primary key "
                                         "attribute: " + name);
    }
  }
  return Status::Ok();
}

std::vector<std::string> KeyNames(const KeySchemaInfo& k) {
  std::vector<std::string> names = {k.pk_name};
  if (k.sk_name) names.push_back(*k.sk_name);
  return names;
}

// Runs a callable, turning any exception (msgpack, allocation) into InternalServerError: nothing
// escapes the engine.
template <typename F>
auto Guarded(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const DecodeError& e) {
    return Status::Internal(std::string("stored data does not decode: ") + e.what());
  } catch (const std::exception& e) {
    return Status::Internal(std::string("internal error: ") + e.what());
  }
}

}  // namespace

struct Engine::Impl {
  EngineOptions options;
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::ColumnFamilyHandle* catalog = nullptr;
  rocksdb::ColumnFamilyHandle* items = nullptr;
  rocksdb::WriteOptions write_options;

  // Item operations hold it shared for their whole duration; CreateTable and DeleteTable hold it
  // exclusively, so no write lands under a table id that is being deleted.
  std::shared_mutex catalog_mutex;
  std::map<std::string, TableRecord> tables;  // GUARDED_BY(catalog_mutex)
  uint64_t next_table_id = 1;                 // GUARDED_BY(catalog_mutex)
  uint64_t catalog_version = 0;               // GUARDED_BY(catalog_mutex); kCatalogVersionKey
  // The catalog version of a batch staged on the apply path (CreateTable, DeleteTable) that the
  // caller has not yet been seen to write; 0 when none. The apply path never touches the cache
  // (the caller may write its batch later, or not at all); whoever next finds the version in
  // RocksDB reloads the cache from RocksDB (SyncCatalog). Set and cleared under catalog_mutex
  // held exclusively; read without it as a cheap "anything to check?".
  std::atomic<uint64_t> pending_catalog_version{0};

  // Writes to one item are serialized so that reading the old item and writing the new one are
  // atomic. Locks are always taken in increasing stripe order.
  std::array<std::mutex, kLockStripes> stripes;

  // Parsed expressions, shared by every request that sends the same text.
  expr::ExpressionCache expression_cache;

  // The region clock of item writes on the normal (non-replicated) path, which run concurrently:
  // wall-clock time, restored from the persisted "hlc" on first use. The apply path and the
  // operations that hold catalog_mutex exclusively use a clock of their own per operation
  // (Writes::clock), restored from RocksDB, so that they are deterministic.
  std::mutex clock_mutex;
  std::optional<conflict::HybridClock> normal_clock;  // GUARDED_BY(clock_mutex)
  std::optional<uint64_t> normal_counter;             // GUARDED_BY(clock_mutex); the version counter

  // ConditionExpression or Expected; null when the write is unconditional. Adds the parsed
  // expression to `parsed` for the request-wide unused-placeholder check.
  Result<std::shared_ptr<const expr::Condition>> WriteConditionOf(const WriteCondition& c,
                                                                  const expr::Bindings& bindings,
                                                                  std::vector<const expr::ParsedExpression*>* parsed) {
    if (c.condition_expression) {
      MERIDIAN_ASSIGN_OR_RETURN(auto condition,
                                expression_cache.GetCondition(*c.condition_expression, expr::Kind::kCondition));
      MERIDIAN_RETURN_IF_ERROR(expr::Validate(*condition, bindings));
      parsed->push_back(condition.get());
      return condition;
    }
    if (c.expected) {
      return expr::ConvertLegacyConditions(*c.expected, c.conditional_operator, expr::LegacyKind::kExpected);
    }
    return std::shared_ptr<const expr::Condition>();
  }

  // The condition of a PutItem or DeleteItem (whose only expression it is), with the checks on
  // parameter styles and unused placeholders.
  Result<std::shared_ptr<const expr::Condition>> ConditionOnlyWrite(const WriteCondition& c,
                                                                    const expr::Bindings& bindings) {
    ParameterStyles styles;
    styles.Legacy(c.expected.has_value(), "Expected");
    styles.Legacy(c.conditional_operator.has_value(), "ConditionalOperator");
    styles.Expression(c.condition_expression.has_value(), "ConditionExpression");
    MERIDIAN_RETURN_IF_ERROR(styles.Check(bindings.names, bindings.values));
    std::vector<const expr::ParsedExpression*> parsed;
    MERIDIAN_ASSIGN_OR_RETURN(auto condition, WriteConditionOf(c, bindings, &parsed));
    MERIDIAN_RETURN_IF_ERROR(expr::CheckPlaceholdersUsed(parsed, bindings));
    return condition;
  }

  // FilterExpression or QueryFilter/ScanFilter; null when absent.
  Result<std::shared_ptr<const expr::Condition>> FilterOf(const std::optional<std::string>& filter_expression,
                                                          const std::optional<LegacyConditions>& legacy,
                                                          const std::optional<std::string>& conditional_operator,
                                                          expr::LegacyKind kind, const expr::Bindings& bindings,
                                                          std::vector<const expr::ParsedExpression*>* parsed) {
    if (filter_expression) {
      MERIDIAN_ASSIGN_OR_RETURN(auto filter, expression_cache.GetCondition(*filter_expression, expr::Kind::kFilter));
      MERIDIAN_RETURN_IF_ERROR(expr::Validate(*filter, bindings));
      parsed->push_back(filter.get());
      return filter;
    }
    if (legacy) return expr::ConvertLegacyConditions(*legacy, conditional_operator, kind);
    return std::shared_ptr<const expr::Condition>();
  }

  // ProjectionExpression or AttributesToGet; null when absent.
  Result<std::shared_ptr<const expr::Projection>> ProjectionOf(const std::optional<std::string>& projection_expression,
                                                               const std::optional<std::vector<std::string>>& attributes,
                                                               const expr::Bindings& bindings,
                                                               std::vector<const expr::ParsedExpression*>* parsed) {
    if (projection_expression) {
      MERIDIAN_ASSIGN_OR_RETURN(auto projection, expression_cache.GetProjection(*projection_expression));
      MERIDIAN_RETURN_IF_ERROR(expr::Validate(*projection, bindings));
      parsed->push_back(projection.get());
      return projection;
    }
    if (attributes) return expr::ConvertAttributesToGet(*attributes);
    return std::shared_ptr<const expr::Projection>();
  }

  // The filter and projection of a Query or Scan (expressions or their legacy forms), after the
  // parameter-style check over everything the request sent; `styles` already holds the
  // operation's own members (Query's key condition).
  struct PageExpressions {
    std::shared_ptr<const expr::Condition> filter;
    std::shared_ptr<const expr::Projection> projection;
  };
  template <typename Req>
  Result<PageExpressions> PageExpressionsOf(const Req& r, const std::optional<LegacyConditions>& legacy_filter,
                                            const char* legacy_filter_name, expr::LegacyKind kind,
                                            const expr::Bindings& bindings, ParameterStyles* styles,
                                            std::vector<const expr::ParsedExpression*>* parsed) {
    styles->Legacy(legacy_filter.has_value(), legacy_filter_name);
    styles->Legacy(r.conditional_operator.has_value(), "ConditionalOperator");
    styles->Legacy(r.attributes_to_get.has_value(), "AttributesToGet");
    styles->Expression(r.filter_expression.has_value(), "FilterExpression");
    styles->Expression(r.projection_expression.has_value(), "ProjectionExpression");
    MERIDIAN_RETURN_IF_ERROR(styles->Check(r.expression_attribute_names, r.expression_attribute_values));
    PageExpressions out;
    MERIDIAN_ASSIGN_OR_RETURN(out.filter, FilterOf(r.filter_expression, legacy_filter, r.conditional_operator, kind,
                                                   bindings, parsed));
    MERIDIAN_ASSIGN_OR_RETURN(out.projection,
                              ProjectionOf(r.projection_expression, r.attributes_to_get, bindings, parsed));
    return out;
  }

  static Result<Item> Projected(const expr::Projection* projection, const expr::Bindings& bindings, Item item) {
    if (projection == nullptr) return item;
    return expr::Project(*projection, bindings, item);
  }

  ~Impl() {
    if (db == nullptr) return;
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    db->Close().PermitUncheckedError();
    delete db;
  }

  static size_t StripeOf(const std::string& item_key) { return std::hash<std::string>{}(item_key) % kLockStripes; }

  rocksdb::ColumnFamilyHandle* Handle(Cf which) const { return handles[CfIndex(which)]; }

  // Where one write operation puts its writes. Normal path: a batch of its own, written (fsync'd
  // per EngineOptions::sync) by Commit. Apply path: the caller's batch, behind a save point, so an
  // operation that fails part-way (or throws) takes back what it added; Commit writes nothing.
  class Writes {
   public:
    Writes(Impl* impl, const ApplyOptions* apply)
        : impl_(impl), apply_(apply), target_(apply != nullptr ? apply->batch : &own_) {
      if (apply_ != nullptr) target_->SetSavePoint();
    }
    ~Writes() {
      if (apply_ != nullptr && !done_) target_->RollbackToSavePoint().PermitUncheckedError();
    }
    Writes(const Writes&) = delete;
    Writes& operator=(const Writes&) = delete;

    rocksdb::WriteBatch* batch() { return target_; }
    const ApplyOptions* apply() const { return apply_; }
    // The position of the next change record within this operation's entry.
    uint32_t NextChange() { return changes_++; }

    // Global-table state this operation accumulates; Commit adds it to the batch (FinishWrites).
    // The operation's own region clock (apply path, or an operation holding catalog_mutex
    // exclusively: use_op_clock), restored from the persisted one.
    std::optional<conflict::HybridClock> clock;
    bool use_op_clock = false;
    uint64_t hlc_floor = 0;    // the persisted clock when `clock` was restored
    uint64_t hlc_stamped = 0;  // the highest timestamp this operation handed out
    // The same for the region's version counter (storage/global_table.h, "Version counters").
    std::optional<uint64_t> counter;
    uint64_t counter_floor = 0;
    uint64_t counter_stamped = 0;
    int64_t tombstone_delta = 0;
    int64_t change_records = 0;   // appended to the stream
    int64_t changes_trimmed = 0;  // trimmed from the stream

    Status Commit() {
      MERIDIAN_RETURN_IF_ERROR(impl_->FinishWrites(*this));
      done_ = true;
      if (apply_ != nullptr) return FromRocks(target_->PopSavePoint());
      if (own_.Count() == 0) return Status::Ok();  // e.g. deleting an absent item
      return FromRocks(impl_->db->Write(impl_->write_options, &own_));
    }

   private:
    Impl* impl_;
    const ApplyOptions* apply_;
    rocksdb::WriteBatch own_;
    rocksdb::WriteBatch* target_;
    bool done_ = false;
    uint32_t changes_ = 0;
  };

  int64_t NowMs() const {
    if (options.clock_ms) return options.clock_ms();
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  // Fills the catalog cache from RocksDB. Requires catalog_mutex held exclusively (or no other
  // user yet, in Open).
  Status LoadCatalog() {
    std::map<std::string, TableRecord> loaded;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), catalog));
    for (it->Seek(kTableKeyPrefix); it->Valid() && it->key().starts_with(kTableKeyPrefix); it->Next()) {
      try {
        msgpack::object_handle oh = msgpack::unpack(it->value().data(), it->value().size());
        TableRecord rec = oh.get().as<TableRecord>();
        std::string name = rec.desc.table_name;
        loaded[name] = std::move(rec);
      } catch (const std::exception& e) {
        return Status::Internal(std::string("catalog entry does not decode: ") + e.what());
      }
    }
    MERIDIAN_RETURN_IF_ERROR(FromRocks(it->status()));
    uint64_t next_id = 1;
    std::string next;
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), catalog, kNextTableIdKey, &next);
    if (s.ok()) {
      if (next.size() != 8) return Status::Internal("catalog: bad next table id");
      next_id = DecodeU64(next);
    } else if (!s.IsNotFound()) {
      return FromRocks(s);
    }
    for (const auto& [name, rec] : loaded) next_id = std::max(next_id, rec.id + 1);
    MERIDIAN_ASSIGN_OR_RETURN(uint64_t version, ReadCatalogVersion());
    tables = std::move(loaded);
    next_table_id = next_id;
    catalog_version = version;
    return Status::Ok();
  }

  Result<uint64_t> ReadCatalogVersion() {
    std::string v;
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), catalog, kCatalogVersionKey, &v);
    if (s.IsNotFound()) return uint64_t{0};
    MERIDIAN_RETURN_IF_ERROR(FromRocks(s));
    if (v.size() != 8) return Status::Internal("catalog: bad catalog version");
    return DecodeU64(v);
  }

  // Brings the catalog cache up to date once the caller has written an apply batch that changed
  // the catalog. One atomic load when no such batch is outstanding; otherwise one Get until the
  // batch shows up in RocksDB. On the apply path the contract says the previous batch has been
  // written or dropped, so a version not in RocksDB means dropped: the cache is still right.
  Status SyncCatalog(bool on_apply_path) {
    uint64_t pending = pending_catalog_version.load(std::memory_order_acquire);
    if (pending == 0) return Status::Ok();
    MERIDIAN_ASSIGN_OR_RETURN(uint64_t stored, ReadCatalogVersion());
    if (stored < pending && !on_apply_path) return Status::Ok();  // not written yet
    std::unique_lock lock(catalog_mutex);
    if (pending_catalog_version.load(std::memory_order_relaxed) != pending) return Status::Ok();  // done by another
    if (stored >= pending) MERIDIAN_RETURN_IF_ERROR(LoadCatalog());
    pending_catalog_version.store(0, std::memory_order_release);
    return Status::Ok();
  }

  // Adds the catalog version bump to a batch that changes table records; returns the new version.
  // Requires catalog_mutex held exclusively.
  Result<uint64_t> BumpCatalogVersion(rocksdb::WriteBatch* batch) {
    uint64_t next = catalog_version + 1;
    MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Put(catalog, kCatalogVersionKey, EncodeU64(next))));
    return next;
  }

  // Requires catalog_mutex (either mode).
  Result<const TableRecord*> FindTable(const std::string& name, const char* not_found = kNotFound) const {
    auto it = tables.find(name);
    if (it == tables.end()) return Status::NotFound(not_found);
    return &it->second;
  }

  Status ReadCounter(const std::string& key, int64_t* out) {
    std::string v;
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), catalog, key, &v);
    if (s.IsNotFound()) {
      *out = 0;
      return Status::Ok();
    }
    MERIDIAN_RETURN_IF_ERROR(FromRocks(s));
    if (v.size() != 8) return Status::Internal("catalog: bad counter");
    *out = DecodeInt64(v.data());
    return Status::Ok();
  }

  Result<TableDescription> DescriptionWithCounters(const TableRecord& rec) {
    TableDescription d = rec.desc;
    MERIDIAN_RETURN_IF_ERROR(ReadCounter(ItemCountKey(rec.id), &d.item_count));
    MERIDIAN_RETURN_IF_ERROR(ReadCounter(SizeBytesKey(rec.id), &d.table_size_bytes));
    return d;
  }

  // Reads an item by its encoded key; nullopt when absent.
  Result<std::optional<Item>> ReadItem(const std::string& key) {
    std::string value;
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), items, key, &value);
    if (s.IsNotFound()) return std::optional<Item>();
    MERIDIAN_RETURN_IF_ERROR(FromRocks(s));
    auto item = DecodeItem(value);
    if (!item.ok()) return Status::Internal("stored item does not decode: " + item.status().message());
    return std::optional<Item>(std::move(item).value());
  }

  // --- Tables -----------------------------------------------------------------------------------

  Status ValidateCreateTable(const CreateTableRequest& r) {
    MERIDIAN_RETURN_IF_ERROR(ValidateTableName(r.table_name));
    if (r.key_schema.empty()) {
      return ConstraintErrors({Constraint("null", "keySchema", "Member must not be null")});
    }
    if (r.key_schema.size() > 2) {
      return ConstraintErrors({Constraint("'" + std::to_string(r.key_schema.size()) + "'", "keySchema",
                                          "Member must have length less than or equal to 2")});
    }
    for (size_t i = 0; i < r.key_schema.size(); ++i) {
      const auto& n = r.key_schema[i].attribute_name;
      if (n.empty() || n.size() > 255) {
        return ConstraintErrors({Constraint("'" + n + "'", "keySchema." + std::to_string(i + 1) + ".member.attributeName",
                                            n.empty() ? "Member must have length greater than or equal to 1"
                                                      : "Member must have length less than or equal to 255")});
      }
    }
    if (r.key_schema[0].key_type != KeyType::kHash) {
      return Status::Validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type");
    }
    if (r.key_schema.size() == 2) {
      if (r.key_schema[1].key_type != KeyType::kRange) {
        return Status::Validation("Too many hash keys specified.  All Dynamo DB tables must have exactly one hash key");
      }
      if (r.key_schema[0].attribute_name == r.key_schema[1].attribute_name) {
        return Status::Validation("Both the Hash Key and the Range Key element in the KeySchema have the same name");
      }
    }
    std::set<std::string> defined;
    for (size_t i = 0; i < r.attribute_definitions.size(); ++i) {
      const auto& a = r.attribute_definitions[i];
      if (!IsKeyType(a.attribute_type)) {
        return ConstraintErrors({Constraint(std::string("'") + AttributeTypeName(a.attribute_type) + "'",
                                            "attributeDefinitions." + std::to_string(i + 1) + ".member.attributeType",
                                            "Member must satisfy enum value set: [B, N, S]")});
      }
      if (!defined.insert(a.attribute_name).second) {
        return Status::Validation("Cannot have two attributes with the same name");
      }
    }
    for (const auto& e : r.key_schema) {
      if (!defined.count(e.attribute_name)) {
        std::string keys, defs;
        for (const auto& k : r.key_schema) keys += (keys.empty() ? "" : ", ") + k.attribute_name;
        for (const auto& d : r.attribute_definitions) defs += (defs.empty() ? "" : ", ") + d.attribute_name;
        return Status::Validation("One or more parameter values were invalid: Some index key attributes are not "
                                  "defined in AttributeDefinitions. Keys: [" + keys + "], AttributeDefinitions: [" +
                                  defs + "]");
      }
    }
    if (r.attribute_definitions.size() != r.key_schema.size()) {
      return Status::Validation("One or more parameter values were invalid: Number of attributes in KeySchema does "
                                "not exactly match number of attributes defined in AttributeDefinitions");
    }
    BillingMode mode = r.billing_mode.value_or(BillingMode::kProvisioned);
    if (mode == BillingMode::kProvisioned) {
      if (!r.provisioned_throughput) {
        return Status::Validation("One or more parameter values were invalid: ReadCapacityUnits and "
                                  "WriteCapacityUnits must both be specified when BillingMode is PROVISIONED");
      }
      MERIDIAN_RETURN_IF_ERROR(ValidateRange(r.provisioned_throughput->read_capacity_units, 1, kCapacityUnitsMax,
                                             "provisionedThroughput.readCapacityUnits"));
      MERIDIAN_RETURN_IF_ERROR(ValidateRange(r.provisioned_throughput->write_capacity_units, 1, kCapacityUnitsMax,
                                             "provisionedThroughput.writeCapacityUnits"));
    } else if (r.provisioned_throughput) {
      return Status::Validation("One or more parameter values were invalid: Neither ReadCapacityUnits nor "
                                "WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST");
    }
    return Status::Ok();
  }

  Result<CreateTableResponse> CreateTable(const CreateTableRequest& r, const ApplyOptions* apply) {
    MERIDIAN_RETURN_IF_ERROR(ValidateCreateTable(r));
    std::unique_lock lock(catalog_mutex);
    if (tables.count(r.table_name)) return Status::InUse("Table already exists: " + r.table_name);
    TableRecord rec;
    rec.id = next_table_id;
    TableDescription& d = rec.desc;
    d.table_name = r.table_name;
    d.table_arn = "arn:aws:dynamodb:" + options.region + ":000000000000:table/" + r.table_name;
    d.creation_date_time_ms = apply != nullptr ? apply->now_ms : NowMs();
    d.table_id = apply != nullptr ? DerivedTableUuid(options.region, r.table_name, rec.id, d.creation_date_time_ms)
                                  : NewUuidV4();
    d.table_status = TableStatus::kActive;
    d.key_schema = r.key_schema;
    d.attribute_definitions = r.attribute_definitions;
    d.billing_mode = r.billing_mode.value_or(BillingMode::kProvisioned);
    if (d.billing_mode == BillingMode::kProvisioned) d.provisioned_throughput = *r.provisioned_throughput;

    msgpack::sbuffer buf;
    msgpack::pack(buf, rec);
    Writes writes(this, apply);
    rocksdb::WriteBatch* batch = writes.batch();
    MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Put(catalog, TableKey(r.table_name), rocksdb::Slice(buf.data(), buf.size()))));
    MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Put(catalog, kNextTableIdKey, EncodeU64(rec.id + 1))));
    MERIDIAN_ASSIGN_OR_RETURN(uint64_t version, BumpCatalogVersion(batch));
    MERIDIAN_RETURN_IF_ERROR(writes.Commit());
    if (apply != nullptr) {
      // Written by the caller later: the cache follows once RocksDB has it (SyncCatalog).
      pending_catalog_version.store(version, std::memory_order_release);
    } else {
      next_table_id = rec.id + 1;
      catalog_version = version;
      tables[r.table_name] = rec;
    }
    return CreateTableResponse{d};
  }

  Result<DescribeTableResponse> DescribeTable(const DescribeTableRequest& r) {
    MERIDIAN_RETURN_IF_ERROR(ValidateTableName(r.table_name));
    std::shared_lock lock(catalog_mutex);
    auto it = tables.find(r.table_name);
    if (it == tables.end()) return Status::NotFound("Requested resource not found: Table: " + r.table_name + " not found");
    MERIDIAN_ASSIGN_OR_RETURN(TableDescription d, DescriptionWithCounters(it->second));
    return DescribeTableResponse{std::move(d)};
  }

  Result<ListTablesResponse> ListTables(const ListTablesRequest& r) {
    int64_t limit = r.limit.value_or(kListTablesLimitMax);
    MERIDIAN_RETURN_IF_ERROR(ValidateRange(limit, 1, kListTablesLimitMax, "limit"));
    if (r.exclusive_start_table_name) {
      MERIDIAN_RETURN_IF_ERROR(ValidateTableName(*r.exclusive_start_table_name, "exclusiveStartTableName"));
    }
    std::shared_lock lock(catalog_mutex);
    ListTablesResponse out;
    auto it = r.exclusive_start_table_name ? tables.upper_bound(*r.exclusive_start_table_name) : tables.begin();
    for (; it != tables.end() && static_cast<int64_t>(out.table_names.size()) < limit; ++it) {
      out.table_names.push_back(it->first);
    }
    if (it != tables.end() && !out.table_names.empty()) out.last_evaluated_table_name = out.table_names.back();
    return out;
  }

  Result<DeleteTableResponse> DeleteTable(const DeleteTableRequest& r, const ApplyOptions* apply) {
    MERIDIAN_RETURN_IF_ERROR(ValidateTableName(r.table_name));
    std::unique_lock lock(catalog_mutex);
    auto it = tables.find(r.table_name);
    if (it == tables.end()) return Status::NotFound("Requested resource not found: Table: " + r.table_name + " not found");
    const TableRecord& rec = it->second;
    if (!PeersOf(rec.desc).empty()) {
      return Status::Validation("Table " + r.table_name +
                                " has replicas in other regions: remove its replicas with UpdateTable first");
    }
    MERIDIAN_ASSIGN_OR_RETURN(TableDescription d, DescriptionWithCounters(rec));
    Writes writes(this, apply);
    rocksdb::WriteBatch* batch = writes.batch();
    MERIDIAN_RETURN_IF_ERROR(AddTableRemoval(rec, batch));
    MERIDIAN_ASSIGN_OR_RETURN(uint64_t version, BumpCatalogVersion(batch));
    MERIDIAN_RETURN_IF_ERROR(writes.Commit());
    if (apply != nullptr) {
      pending_catalog_version.store(version, std::memory_order_release);
    } else {
      catalog_version = version;
      tables.erase(it);
    }
    d.table_status = TableStatus::kDeleting;
    return DeleteTableResponse{std::move(d)};
  }

  // --- Single items -----------------------------------------------------------------------------

  // One write's effect on an item, computed under its stripe lock.
  struct PlannedWrite {
    const TableRecord* table = nullptr;
    std::string key;
    const Item* new_item = nullptr;  // null for a delete
    std::optional<Item> old_item;
  };

  // Adds the item write and its counter changes to `batch`; returns the write's capacity units.
  Result<double> AddWrite(const PlannedWrite& w, Writes& writes) {
    rocksdb::WriteBatch* batch = writes.batch();
    // Deleting an absent item changes nothing, so it has no version either.
    if (w.new_item || w.old_item) MERIDIAN_RETURN_IF_ERROR(StampLocalWrite(w, writes));
    size_t old_size = w.old_item ? ItemSize(*w.old_item) : 0;
    size_t new_size = w.new_item ? ItemSize(*w.new_item) : 0;
    int64_t count_delta = (w.new_item ? 1 : 0) - (w.old_item ? 1 : 0);
    auto size_delta = static_cast<int64_t>(new_size) - static_cast<int64_t>(old_size);
    if (w.new_item) {
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Put(items, w.key, EncodeItem(*w.new_item))));
    } else if (w.old_item) {
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Delete(items, w.key)));
    }
    if (count_delta != 0) {
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Merge(catalog, ItemCountKey(w.table->id), EncodeInt64(count_delta))));
    }
    if (size_delta != 0) {
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Merge(catalog, SizeBytesKey(w.table->id), EncodeInt64(size_delta))));
    }
    return WriteUnits(std::max(old_size, new_size));
  }

  // PutItem and DeleteItem: a conditional write of a whole item (`new_item`) or its removal
  // (`new_item` null, `item_or_key` the key). Returns the old item and the write's capacity units.
  template <typename Response, typename Req>
  Result<Response> WholeItemWrite(const Req& r, const Item& item_or_key, const Item* new_item,
                                  const ApplyOptions* apply) {
    MERIDIAN_RETURN_IF_ERROR(ValidateTableName(r.table_name));
    if (r.return_values != ReturnValue::kNone && r.return_values != ReturnValue::kAllOld) {
      return Status::Validation("Return values set to invalid value");
    }
    expr::Bindings bindings{r.expression_attribute_names, r.expression_attribute_values};
    MERIDIAN_ASSIGN_OR_RETURN(auto condition, ConditionOnlyWrite(r.condition, bindings));
    std::shared_lock lock(catalog_mutex);
    MERIDIAN_ASSIGN_OR_RETURN(const TableRecord* table, FindTable(r.table_name));
    MERIDIAN_RETURN_IF_ERROR(CheckWritable(*table));
    KeySchemaInfo schema = SchemaOf(table->desc);
    MERIDIAN_RETURN_IF_ERROR(new_item ? ValidateItem(schema, *new_item) : ValidateKey(schema, item_or_key));
    PlannedWrite w;
    w.table = table;
    w.key = ItemKeyOf(table->id, schema, item_or_key);
    w.new_item = new_item;
    std::lock_guard item_lock(stripes[StripeOf(w.key)]);
    MERIDIAN_ASSIGN_OR_RETURN(w.old_item, ReadItem(w.key));
    MERIDIAN_RETURN_IF_ERROR(CheckWriteCondition(condition.get(), w.old_item, bindings,
                                                 r.condition.return_values_on_condition_check_failure));
    Writes writes(this, apply);
    MERIDIAN_ASSIGN_OR_RETURN(double units, AddWrite(w, writes));
    MERIDIAN_RETURN_IF_ERROR(MaybeTimeRetention(writes));
    MERIDIAN_RETURN_IF_ERROR(writes.Commit());  // deleting an absent item writes nothing
    Response out;
    if (r.return_values == ReturnValue::kAllOld) out.attributes = std::move(w.old_item);
    out.consumed_capacity = Capacity(r.return_consumed_capacity, r.table_name, units, true);
    return out;
  }

  Result<PutItemResponse> PutItem(const PutItemRequest& r, const ApplyOptions* apply) {
    return WholeItemWrite<PutItemResponse>(r, r.item, &r.item, apply);
  }

  Result<DeleteItemResponse> DeleteItem(const DeleteItemRequest& r, const ApplyOptions* apply) {
    return WholeItemWrite<DeleteItemResponse>(r, r.key, nullptr, apply);
  }

  Result<GetItemResponse> GetItem(const GetItemRequest& r) {
    MERIDIAN_RETURN_IF_ERROR(ValidateTableName(r.table_name));
    expr::Bindings bindings{r.expression_attribute_names, kNoValues};
    std::vector<const expr::ParsedExpression*> parsed;
    ParameterStyles styles;
    styles.Legacy(r.attributes_to_get.has_value(), "AttributesToGet");
    styles.Expression(r.projection_expression.has_value(), "ProjectionExpression");
    MERIDIAN_RETURN_IF_ERROR(styles.Check(r.expression_attribute_names, kNoValues));
    MERIDIAN_ASSIGN_OR_RETURN(auto projection, ProjectionOf(r.projection_expression, r.attributes_to_get, bindings, &parsed));
    MERIDIAN_RETURN_IF_ERROR(expr::CheckPlaceholdersUsed(parsed, bindings));
    std::shared_lock lock(catalog_mutex);
    MERIDIAN_ASSIGN_OR_RETURN(const TableRecord* table, FindTable(r.table_name));
    KeySchemaInfo schema = SchemaOf(table->desc);
    MERIDIAN_RETURN_IF_ERROR(ValidateKey(schema, r.key));
    MERIDIAN_ASSIGN_OR_RETURN(std::optional<Item> item, ReadItem(ItemKeyOf(table->id, schema, r.key)));
    GetItemResponse out;
    double units = ReadUnits(item ? ItemSize(*item) : 0, r.consistent_read);
    if (item) {
      MERIDIAN_ASSIGN_OR_RETURN(out.item, Projected(projection.get(), bindings, std::move(*item)));
    }
    out.consumed_capacity = Capacity(r.return_consumed_capacity, r.table_name, units, false);
    return out;
  }

  Result<UpdateItemResponse> UpdateItem(const UpdateItemRequest& r, const ApplyOptions* apply) {
    MERIDIAN_RETURN_IF_ERROR(ValidateTableName(r.table_name));
    expr::Bindings bindings{r.expression_attribute_names, r.expression_attribute_values};
    std::vector<const expr::ParsedExpression*> parsed;
    ParameterStyles styles;
    styles.Legacy(r.attribute_updates.has_value(), "AttributeUpdates");
    styles.Legacy(r.condition.expected.has_value(), "Expected");
    styles.Legacy(r.condition.conditional_operator.has_value(), "ConditionalOperator");
    styles.Expression(r.update_expression.has_value(), "UpdateExpression");
    styles.Expression(r.condition.condition_expression.has_value(), "ConditionExpression");
    MERIDIAN_RETURN_IF_ERROR(styles.Check(r.expression_attribute_names, r.expression_attribute_values));

    std::shared_lock lock(catalog_mutex);
    MERIDIAN_ASSIGN_OR_RETURN(const TableRecord* table, FindTable(r.table_name));
    MERIDIAN_RETURN_IF_ERROR(CheckWritable(*table));
    KeySchemaInfo schema = SchemaOf(table->desc);
    MERIDIAN_RETURN_IF_ERROR(ValidateKey(schema, r.key));
    std::vector<std::string> key_names = KeyNames(schema);
    std::shared_ptr<const expr::Update> update;
    if (r.update_expression) {
      MERIDIAN_ASSIGN_OR_RETURN(update, expression_cache.GetUpdate(*r.update_expression));
      MERIDIAN_RETURN_IF_ERROR(expr::Validate(*update, bindings, key_names));
      parsed.push_back(update.get());
    } else if (r.attribute_updates) {
      MERIDIAN_ASSIGN_OR_RETURN(update, expr::ConvertAttributeUpdates(*r.attribute_updates, key_names));
    }
    MERIDIAN_ASSIGN_OR_RETURN(auto condition, WriteConditionOf(r.condition, bindings, &parsed));
    MERIDIAN_RETURN_IF_ERROR(expr::CheckPlaceholdersUsed(parsed, bindings));

    PlannedWrite w;
    w.table = table;
    w.key = ItemKeyOf(table->id, schema, r.key);
    std::lock_guard item_lock(stripes[StripeOf(w.key)]);
    MERIDIAN_ASSIGN_OR_RETURN(w.old_item, ReadItem(w.key));
    MERIDIAN_RETURN_IF_ERROR(CheckWriteCondition(condition.get(), w.old_item, bindings,
                                                 r.condition.return_values_on_condition_check_failure));
    // UpdateItem creates the item when it does not exist, starting from its key.
    Item new_item = w.old_item ? *w.old_item : r.key;
    expr::UpdatedPaths updated;
    if (update) MERIDIAN_RETURN_IF_ERROR(expr::ApplyUpdate(*update, bindings, &new_item, &updated));
    MERIDIAN_RETURN_IF_ERROR(ValidateItem(schema, new_item));
    w.new_item = &new_item;
    Writes writes(this, apply);
    MERIDIAN_ASSIGN_OR_RETURN(double units, AddWrite(w, writes));
    MERIDIAN_RETURN_IF_ERROR(MaybeTimeRetention(writes));
    MERIDIAN_RETURN_IF_ERROR(writes.Commit());

    UpdateItemResponse out;
    switch (r.return_values) {
      case ReturnValue::kNone: break;
      case ReturnValue::kAllOld: out.attributes = std::move(w.old_item); break;
      case ReturnValue::kAllNew: out.attributes = std::move(new_item); break;
      case ReturnValue::kUpdatedOld:
      case ReturnValue::kUpdatedNew: {
        const Item& source = r.return_values == ReturnValue::kUpdatedOld ? (w.old_item ? *w.old_item : kNoItem) : new_item;
        Item projected = expr::ProjectPaths(updated, source);
        if (!projected.empty()) out.attributes = std::move(projected);
        break;
      }
    }
    out.consumed_capacity = Capacity(r.return_consumed_capacity, r.table_name, units, true);
    return out;
  }

  // --- Query and Scan ---------------------------------------------------------------------------

  // Reads one page of the key range [lower, upper) in either direction, stopping at `limit` items
  // or once the items read reach 1 MB; either stop sets LastEvaluatedKey.
  // Limit counts the items read (ScannedCount); the filter then decides which are returned
  // (Count), as DynamoDB applies FilterExpression after the page is read.
  struct PageFilter {
    const expr::Condition* filter = nullptr;
    const expr::Projection* projection = nullptr;
    const expr::Bindings* bindings = nullptr;
  };
  Result<ItemPage> ReadPage(const KeySchemaInfo& schema, const std::string& lower, const std::string& upper,
                            bool forward, std::optional<int64_t> limit, bool count_only, bool consistent,
                            ReturnConsumedCapacity rcc, const std::string& table_name, const PageFilter& pf) {
    ItemPage page;
    page.count_only = count_only;
    size_t bytes = 0;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), items));
    if (forward) {
      it->Seek(lower);
    } else {
      it->SeekForPrev(upper);
      if (it->Valid() && it->key().compare(upper) >= 0) it->Prev();
    }
    bool stopped = false;
    Item last;
    while (it->Valid()) {
      if (forward ? it->key().compare(upper) >= 0 : it->key().compare(lower) < 0) break;
      auto item = DecodeItem(std::string_view(it->value().data(), it->value().size()));
      if (!item.ok()) return Status::Internal("stored item does not decode: " + item.status().message());
      bytes += ItemSize(*item);
      ++page.scanned_count;
      bool stop = (limit && page.scanned_count >= *limit) || bytes >= kPageBytesMax;
      if (stop) last = KeyAttributesOf(schema, *item);
      bool passes = true;
      if (pf.filter != nullptr) {
        MERIDIAN_ASSIGN_OR_RETURN(passes, expr::Evaluate(*pf.filter, *item, *pf.bindings));
      }
      if (passes) {
        ++page.count;
        if (!count_only) {
          MERIDIAN_ASSIGN_OR_RETURN(Item returned, Projected(pf.projection, *pf.bindings, std::move(item).value()));
          page.items.push_back(std::move(returned));
        }
      }
      if (stop) {
        stopped = true;
        break;
      }
      forward ? it->Next() : it->Prev();
    }
    MERIDIAN_RETURN_IF_ERROR(FromRocks(it->status()));
    if (stopped) page.last_evaluated_key = std::move(last);
    page.consumed_capacity = Capacity(rcc, table_name, ReadUnits(bytes, consistent), false);
    return page;
  }

  Result<QueryResponse> Query(const QueryRequest& r) {
    MERIDIAN_RETURN_IF_ERROR(ValidateTableName(r.table_name));
    if (r.limit) MERIDIAN_RETURN_IF_ERROR(ValidateRange(*r.limit, 1, INT64_MAX, "limit"));
    expr::Bindings bindings{r.expression_attribute_names, r.expression_attribute_values};
    std::vector<const expr::ParsedExpression*> parsed;
    ParameterStyles styles;
    styles.Legacy(r.key_conditions.has_value(), "KeyConditions");
    styles.Expression(!r.key_condition_expression.empty(), "KeyConditionExpression");
    MERIDIAN_ASSIGN_OR_RETURN(PageExpressions page_expressions,
                              PageExpressionsOf(r, r.query_filter, "QueryFilter", expr::LegacyKind::kQueryFilter,
                                                bindings, &styles, &parsed));
    auto& [filter, projection] = page_expressions;
    std::shared_lock lock(catalog_mutex);
    MERIDIAN_ASSIGN_OR_RETURN(const TableRecord* table, FindTable(r.table_name));
    if (r.index_name) return Status::Validation("The table does not have the specified index: " + *r.index_name);
    MERIDIAN_RETURN_IF_ERROR(ValidateSelect(r.select, r.index_name, projection != nullptr));
    KeySchemaInfo schema = SchemaOf(table->desc);
    KeyConditionRefs key_refs;
    std::optional<KeyCondition> parsed_key;
    if (r.key_conditions) {
      MERIDIAN_ASSIGN_OR_RETURN(parsed_key, KeyConditionFromLegacy(*r.key_conditions, schema));
    } else {
      MERIDIAN_ASSIGN_OR_RETURN(parsed_key, ParseKeyCondition(r.key_condition_expression, r.expression_attribute_names,
                                                              r.expression_attribute_values, schema, &key_refs));
    }
    KeyCondition cond = std::move(*parsed_key);
    if (filter) MERIDIAN_RETURN_IF_ERROR(CheckFilterAvoidsKeys(*filter, bindings, schema, r.query_filter.has_value()));
    // The key condition's placeholders count as used for the request-wide check.
    expr::ParsedExpression key_expression;
    key_expression.name_refs.assign(key_refs.names.begin(), key_refs.names.end());
    key_expression.value_refs.assign(key_refs.values.begin(), key_refs.values.end());
    parsed.push_back(&key_expression);
    MERIDIAN_RETURN_IF_ERROR(expr::CheckPlaceholdersUsed(parsed, bindings));
    PageFilter page_filter{filter.get(), projection.get(), &bindings};
    const std::string prefix = PartitionPrefix(table->id, cond.pk);
    std::string lower = prefix;
    std::string upper = PrefixSuccessor(prefix);
    if (cond.sk) {
      auto at = [&](const AttributeValue& v) { return prefix + EncodeKeyValue(v); };
      // The smallest key greater than `k`: sort-key encodings are prefix-free, so nothing lies
      // strictly between k and k + "\0".
      auto after = [](std::string k) { return k.push_back('\0'), k; };
      const SortKeyCondition& s = *cond.sk;
      switch (s.op) {
        case SortKeyOp::kEq: lower = at(s.value); upper = after(lower); break;
        case SortKeyOp::kLt: upper = at(s.value); break;
        case SortKeyOp::kLe: upper = after(at(s.value)); break;
        case SortKeyOp::kGt: lower = after(at(s.value)); break;
        case SortKeyOp::kGe: lower = at(s.value); break;
        case SortKeyOp::kBetween: lower = at(s.value); upper = after(at(s.upper)); break;
        case SortKeyOp::kBeginsWith: {
          lower = prefix;
          AppendEscapedPrefix(s.value.is(AttributeType::kS) ? s.value.s() : s.value.b(), &lower);
          upper = PrefixSuccessor(lower);
          break;
        }
      }
    }
    if (r.exclusive_start_key) {
      MERIDIAN_RETURN_IF_ERROR(ValidateKey(schema, *r.exclusive_start_key,
                                           "The provided starting key is invalid: The provided key element does "
                                           "not match the schema"));
      if (!(r.exclusive_start_key->at(schema.pk_name) == cond.pk)) {
        return Status::Validation("The provided starting key is outside query boundaries based on provided conditions");
      }
      std::string start = ItemKeyOf(table->id, schema, *r.exclusive_start_key);
      if (r.scan_index_forward) {
        lower = std::max(lower, start + std::string(1, '\0'));
      } else {
        upper = std::min(upper, start);
      }
    }
    QueryResponse out;
    if (lower < upper) {
      MERIDIAN_ASSIGN_OR_RETURN(ItemPage page,
                                ReadPage(schema, lower, upper, r.scan_index_forward, r.limit,
                                         r.select == Select::kCount, r.consistent_read, r.return_consumed_capacity,
                                         r.table_name, page_filter));
      static_cast<ItemPage&>(out) = std::move(page);
    } else {
      out.count_only = r.select == Select::kCount;
      out.consumed_capacity = Capacity(r.return_consumed_capacity, r.table_name, ReadUnits(0, r.consistent_read), false);
    }
    return out;
  }

  Result<ScanResponse> Scan(const ScanRequest& r) {
    MERIDIAN_RETURN_IF_ERROR(ValidateTableName(r.table_name));
    if (r.limit) MERIDIAN_RETURN_IF_ERROR(ValidateRange(*r.limit, 1, INT64_MAX, "limit"));
    if (r.segment && !r.total_segments) {
      return Status::Validation("The TotalSegments parameter is required but was not present in the request when "
                                "Segment parameter is present");
    }
    if (r.total_segments && !r.segment) {
      return Status::Validation("The Segment parameter is required but was not present in the request when "
                                "parameter TotalSegments is present");
    }
    if (r.total_segments) {
      MERIDIAN_RETURN_IF_ERROR(ValidateRange(*r.total_segments, 1, kTotalSegmentsMax, "totalSegments"));
      MERIDIAN_RETURN_IF_ERROR(ValidateRange(*r.segment, 0, kTotalSegmentsMax - 1, "segment"));
      if (*r.segment >= *r.total_segments) {
        return Status::Validation("The Segment parameter is zero-based and must be less than parameter "
                                  "TotalSegments: Segment: " + std::to_string(*r.segment) +
                                  " is not less than TotalSegments: " + std::to_string(*r.total_segments));
      }
    }
    expr::Bindings bindings{r.expression_attribute_names, r.expression_attribute_values};
    std::vector<const expr::ParsedExpression*> parsed;
    ParameterStyles styles;
    MERIDIAN_ASSIGN_OR_RETURN(PageExpressions page_expressions,
                              PageExpressionsOf(r, r.scan_filter, "ScanFilter", expr::LegacyKind::kScanFilter,
                                                bindings, &styles, &parsed));
    auto& [filter, projection] = page_expressions;
    MERIDIAN_RETURN_IF_ERROR(expr::CheckPlaceholdersUsed(parsed, bindings));
    PageFilter page_filter{filter.get(), projection.get(), &bindings};
    std::shared_lock lock(catalog_mutex);
    MERIDIAN_ASSIGN_OR_RETURN(const TableRecord* table, FindTable(r.table_name));
    if (r.index_name) return Status::Validation("The table does not have the specified index: " + *r.index_name);
    MERIDIAN_RETURN_IF_ERROR(ValidateSelect(r.select, r.index_name, projection != nullptr));
    KeySchemaInfo schema = SchemaOf(table->desc);
    std::string lower = TablePrefix(table->id);
    std::string upper = TablePrefix(table->id + 1);
    uint64_t hash_lo = 0, hash_hi = uint64_t{1} << 32;
    if (r.total_segments) {
      // Segment i of N is the hash range [floor(i*2^32/N), floor((i+1)*2^32/N)).
      auto n = static_cast<uint64_t>(*r.total_segments);
      auto i = static_cast<uint64_t>(*r.segment);
      hash_lo = (i << 32) / n;
      hash_hi = ((i + 1) << 32) / n;
      lower = HashRangeStart(table->id, static_cast<uint32_t>(hash_lo));
      if (hash_hi < (uint64_t{1} << 32)) upper = HashRangeStart(table->id, static_cast<uint32_t>(hash_hi));
    }
    if (r.exclusive_start_key) {
      MERIDIAN_RETURN_IF_ERROR(ValidateKey(schema, *r.exclusive_start_key,
                                           "The provided starting key is invalid: The provided key element does "
                                           "not match the schema"));
      uint32_t hash = PartitionHash(EncodeKeyValue(r.exclusive_start_key->at(schema.pk_name)));
      if (hash < hash_lo || hash >= hash_hi) {
        return Status::Validation("The provided Exclusive start key does not map to the provided Segment and "
                                  "TotalSegments values.");
      }
      lower = std::max(lower, ItemKeyOf(table->id, schema, *r.exclusive_start_key) + std::string(1, '\0'));
    }
    ScanResponse out;
    MERIDIAN_ASSIGN_OR_RETURN(ItemPage page, ReadPage(schema, lower, upper, true, r.limit, r.select == Select::kCount,
                                                      r.consistent_read, r.return_consumed_capacity, r.table_name,
                                                      page_filter));
    static_cast<ItemPage&>(out) = std::move(page);
    return out;
  }

  // --- Batches ----------------------------------------------------------------------------------

  Result<BatchGetItemResponse> BatchGetItem(const BatchGetItemRequest& r) {
    if (r.request_items.empty()) {
      return ConstraintErrors({Constraint("null", "requestItems", "Member must have length greater than or equal to 1")});
    }
    size_t total = 0;
    for (const auto& [name, ka] : r.request_items) {
      MERIDIAN_RETURN_IF_ERROR(ValidateTableName(name, "requestItems"));
      if (ka.keys.empty()) {
        return ConstraintErrors({Constraint("'[]'", "requestItems." + name + ".member.keys",
                                            "Member must have length greater than or equal to 1")});
      }
      total += ka.keys.size();
    }
    if (total > kBatchGetKeysMax) return Status::Validation("Too many items requested for the BatchGetItem call");

    std::shared_lock lock(catalog_mutex);
    struct TablePlan {
      const TableRecord* table;
      KeySchemaInfo schema;
      std::vector<std::string> keys;
      std::shared_ptr<const expr::Projection> projection;
    };
    std::vector<TablePlan> plans;
    for (const auto& [name, ka] : r.request_items) {
      MERIDIAN_ASSIGN_OR_RETURN(const TableRecord* table, FindTable(name));
      TablePlan p{table, SchemaOf(table->desc), {}, nullptr};
      expr::Bindings bindings{ka.expression_attribute_names, kNoValues};
      std::vector<const expr::ParsedExpression*> parsed;
      ParameterStyles styles;
      styles.Legacy(ka.attributes_to_get.has_value(), "AttributesToGet");
      styles.Expression(ka.projection_expression.has_value(), "ProjectionExpression");
      MERIDIAN_RETURN_IF_ERROR(styles.Check(ka.expression_attribute_names, kNoValues));
      MERIDIAN_ASSIGN_OR_RETURN(p.projection,
                                ProjectionOf(ka.projection_expression, ka.attributes_to_get, bindings, &parsed));
      MERIDIAN_RETURN_IF_ERROR(expr::CheckPlaceholdersUsed(parsed, bindings));
      std::set<std::string> seen;
      for (const auto& key : ka.keys) {
        MERIDIAN_RETURN_IF_ERROR(ValidateKey(p.schema, key));
        std::string k = ItemKeyOf(table->id, p.schema, key);
        if (!seen.insert(k).second) return Status::Validation(kDuplicateKeys);
        p.keys.push_back(std::move(k));
      }
      plans.push_back(std::move(p));
    }

    BatchGetItemResponse out;
    size_t response_bytes = 0;
    bool full = false;
    size_t t = 0;
    for (const auto& [name, ka] : r.request_items) {
      const TablePlan& p = plans[t++];
      double units = 0;
      bool read_any = false;
      for (size_t i = 0; i < p.keys.size(); ++i) {
        auto unprocessed = [&] {
          auto& u = out.unprocessed_keys[name];
          u.consistent_read = ka.consistent_read;
          u.keys.push_back(ka.keys[i]);
        };
        if (full) {
          unprocessed();
          continue;
        }
        MERIDIAN_ASSIGN_OR_RETURN(std::optional<Item> item, ReadItem(p.keys[i]));
        size_t size = item ? ItemSize(*item) : 0;
        if (response_bytes + size > kBatchGetResponseBytesMax) {
          // The response would pass 16 MB: this key and every later one are left for a retry.
          full = true;
          unprocessed();
          continue;
        }
        response_bytes += size;
        units += ReadUnits(size, ka.consistent_read);
        read_any = true;
        auto& served = out.responses[name];  // present (maybe empty) for every table read
        if (item) {
          expr::Bindings bindings{ka.expression_attribute_names, kNoValues};
          MERIDIAN_ASSIGN_OR_RETURN(Item returned, Projected(p.projection.get(), bindings, std::move(*item)));
          served.push_back(std::move(returned));
        }
      }
      if (read_any) {
        auto c = Capacity(r.return_consumed_capacity, name, units, false);
        if (c) out.consumed_capacity.push_back(std::move(*c));
      }
    }
    return out;
  }

  Result<BatchWriteItemResponse> BatchWriteItem(const BatchWriteItemRequest& r, const ApplyOptions* apply) {
    constexpr char kLengthRule[] =
        "Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have "
        "length greater than or equal to 1]";
    if (r.request_items.empty()) {
      return ConstraintErrors({Constraint("null", "requestItems", "Member must have length greater than or equal to 1")});
    }
    size_t total = 0;
    for (const auto& [name, requests] : r.request_items) {
      MERIDIAN_RETURN_IF_ERROR(ValidateTableName(name, "requestItems"));
      if (requests.empty() || requests.size() > kBatchWriteRequestsMax) {
        return ConstraintErrors({Constraint("'" + std::to_string(requests.size()) + " requests'", "requestItems", kLengthRule)});
      }
      total += requests.size();
    }
    if (total > kBatchWriteRequestsMax) {
      return ConstraintErrors({Constraint("'" + std::to_string(total) + " requests'", "requestItems",
                                          "Member must have length less than or equal to 25")});
    }

    std::shared_lock lock(catalog_mutex);
    std::vector<PlannedWrite> writes;
    std::vector<std::string> table_of_write;
    std::set<std::string> seen;
    for (const auto& [name, requests] : r.request_items) {
      MERIDIAN_ASSIGN_OR_RETURN(const TableRecord* table, FindTable(name));
      MERIDIAN_RETURN_IF_ERROR(CheckWritable(*table));
      KeySchemaInfo schema = SchemaOf(table->desc);
      for (const auto& wr : requests) {
        if (wr.put_item.has_value() == wr.delete_key.has_value()) {
          return Status::Validation("One or more parameter values were invalid: A WriteRequest must contain exactly "
                                    "one of PutRequest or DeleteRequest");
        }
        PlannedWrite w;
        w.table = table;
        if (wr.put_item) {
          MERIDIAN_RETURN_IF_ERROR(ValidateItem(schema, *wr.put_item));
          w.key = ItemKeyOf(table->id, schema, *wr.put_item);
          w.new_item = &*wr.put_item;
        } else {
          MERIDIAN_RETURN_IF_ERROR(ValidateKey(schema, *wr.delete_key));
          w.key = ItemKeyOf(table->id, schema, *wr.delete_key);
        }
        if (!seen.insert(w.key).second) return Status::Validation(kDuplicateKeys);
        writes.push_back(std::move(w));
        table_of_write.push_back(name);
      }
    }

    // Lock every affected stripe in increasing order (no deadlock with other batches), then read
    // the old items and apply the whole batch in one WriteBatch: one fsync.
    std::vector<size_t> stripe_ids;
    for (const auto& w : writes) stripe_ids.push_back(StripeOf(w.key));
    std::sort(stripe_ids.begin(), stripe_ids.end());
    stripe_ids.erase(std::unique(stripe_ids.begin(), stripe_ids.end()), stripe_ids.end());
    std::vector<std::unique_lock<std::mutex>> held;
    held.reserve(stripe_ids.size());
    for (size_t s : stripe_ids) held.emplace_back(stripes[s]);

    Writes batch(this, apply);
    std::map<std::string, double> units;
    for (size_t i = 0; i < writes.size(); ++i) {
      MERIDIAN_ASSIGN_OR_RETURN(writes[i].old_item, ReadItem(writes[i].key));
      MERIDIAN_ASSIGN_OR_RETURN(double u, AddWrite(writes[i], batch));
      units[table_of_write[i]] += u;
    }
    MERIDIAN_RETURN_IF_ERROR(MaybeTimeRetention(batch));
    MERIDIAN_RETURN_IF_ERROR(batch.Commit());
    BatchWriteItemResponse out;
    for (const auto& [name, u] : units) {
      auto c = Capacity(r.return_consumed_capacity, name, u, true);
      if (c) out.consumed_capacity.push_back(std::move(*c));
    }
    return out;
  }

  // --- Global tables -----------------------------------------------------------------------------
  //
  // ../shared/DESIGN.md, "The conflict rule"; storage/global_table.h has the stored layout. Every
  // function here that runs on the apply path reads only RocksDB (as the caller has written it),
  // the request and ApplyOptions::now_ms, so that every replica of a region writes the same bytes.

  using KeyValues = std::vector<std::pair<std::string, std::string>>;

  // The table's replica regions other than this one (empty: not a global table).
  std::vector<std::string> PeersOf(const TableDescription& d) const {
    std::vector<std::string> out;
    for (const auto& r : d.replicas)
      if (r.region_name != options.region) out.push_back(r.region_name);
    return out;
  }

  // Every replica region of the table, this one included, sorted.
  std::vector<std::string> RegionsOfTable(const TableDescription& d) const {
    if (d.replicas.empty()) return {options.region};
    return global::RegionsOf(d.replicas);  // stored sorted
  }

  TableMeta MetaOf(const TableRecord& rec) const {
    TableMeta m;
    m.table_name = rec.desc.table_name;
    m.key_schema = rec.desc.key_schema;
    m.attribute_definitions = rec.desc.attribute_definitions;
    m.billing_mode = rec.desc.billing_mode;
    m.provisioned_throughput = rec.desc.provisioned_throughput;
    m.replicas = RegionsOfTable(rec.desc);
    m.meta_hlc = rec.meta_hlc;
    m.meta_origin = rec.meta_origin;
    m.joined_hlc = rec.joined_hlc;
    return m;
  }

  Status CheckRegion(const std::string& name, const std::string& field) const {
    MERIDIAN_RETURN_IF_ERROR(global::ValidateRegionName(name, field));
    const auto& known = options.known_regions;
    if (!known.empty() && name != options.region && std::find(known.begin(), known.end(), name) == known.end()) {
      return Status::Validation("One or more parameter values were invalid: " + name +
                                " is not a region of this deployment");
    }
    return Status::Ok();
  }

  Result<std::optional<std::string>> ReadRaw(Cf which, const std::string& key,
                                             const rocksdb::ReadOptions& ro = rocksdb::ReadOptions()) {
    std::string v;
    rocksdb::Status s = db->Get(ro, Handle(which), key, &v);
    if (s.IsNotFound()) return std::optional<std::string>();
    MERIDIAN_RETURN_IF_ERROR(FromRocks(s));
    return std::optional<std::string>(std::move(v));
  }

  Result<uint64_t> ReadRegionU64(const std::string& key, const rocksdb::ReadOptions& ro = rocksdb::ReadOptions()) {
    MERIDIAN_ASSIGN_OR_RETURN(std::optional<std::string> v, ReadRaw(Cf::kRegion, key, ro));
    if (!v) return uint64_t{0};
    if (v->size() != 8) return Status::Internal("region state: bad value under " + key);
    return global::DecodeBe64(*v);
  }

  Result<std::optional<global::VersionRecord>> ReadVersion(const std::string& item_key,
                                                           const rocksdb::ReadOptions& ro = rocksdb::ReadOptions()) {
    MERIDIAN_ASSIGN_OR_RETURN(std::optional<std::string> v, ReadRaw(Cf::kVersions, item_key, ro));
    if (!v) return std::optional<global::VersionRecord>();
    MERIDIAN_ASSIGN_OR_RETURN(global::VersionRecord rec, global::Unpack<global::VersionRecord>(*v, "item version"));
    return std::optional<global::VersionRecord>(std::move(rec));
  }

  // The last change key trimmed from the stream, or "" when none was. Every read of the stream
  // seeks at or above it, never to its first key: trimmed records leave point tombstones that
  // stay until a compaction drops them, and an iterator from the first key would step over each
  // one, so a read would cost the whole trimmed history.
  Result<std::string> StreamTrimmed(const rocksdb::ReadOptions& ro = rocksdb::ReadOptions()) {
    MERIDIAN_ASSIGN_OR_RETURN(std::optional<std::string> v, ReadRaw(Cf::kRegion, global::kTrimmedKey, ro));
    if (!v) return std::string();
    if (v->size() != ChangeKey(0, 0).size()) return Status::Internal("region state: bad value under trimmed");
    return std::move(*v);
  }

  Result<global::VersionFloor> ReadFloor(uint64_t table_id) {
    MERIDIAN_ASSIGN_OR_RETURN(std::optional<std::string> v, ReadRaw(Cf::kRegion, global::FloorKey(table_id)));
    if (!v) return global::VersionFloor();
    return global::Unpack<global::VersionFloor>(*v, "version floor");
  }

  Result<std::optional<Item>> ReadItemAt(const std::string& key, const rocksdb::ReadOptions& ro) {
    MERIDIAN_ASSIGN_OR_RETURN(std::optional<std::string> v, ReadRaw(Cf::kItems, key, ro));
    if (!v) return std::optional<Item>();
    auto item = DecodeItem(*v);
    if (!item.ok()) return Status::Internal("stored item does not decode: " + item.status().message());
    return std::optional<Item>(std::move(item).value());
  }

  // The keys and values under `prefix`, at most `limit` of them.
  // The smallest key above every key that starts with `prefix` ("" when there is none).
  static std::string PrefixEnd(std::string prefix) {
    while (!prefix.empty() && static_cast<uint8_t>(prefix.back()) == 0xff) prefix.pop_back();
    if (!prefix.empty()) prefix.back() = static_cast<char>(static_cast<uint8_t>(prefix.back()) + 1);
    return prefix;
  }

  // Bounded above by the prefix's end: without the bound, the step past the prefix's last key
  // would walk over every deleted key that follows (point tombstones of trimmed, purged or
  // replaced state stay until a compaction drops them) to the next live one.
  Result<KeyValues> ScanPrefix(Cf which, const std::string& prefix, const rocksdb::ReadOptions& ro, size_t limit) {
    KeyValues out;
    std::string end = PrefixEnd(prefix);
    rocksdb::Slice upper(end);
    rocksdb::ReadOptions bounded = ro;
    if (!end.empty()) bounded.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(bounded, Handle(which)));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix) && out.size() < limit; it->Next()) {
      out.emplace_back(it->key().ToString(), it->value().ToString());
    }
    MERIDIAN_RETURN_IF_ERROR(FromRocks(it->status()));
    return out;
  }

  static conflict::Version ToConflict(const ItemVersion& v) { return conflict::Version{v.vv, v.hlc, v.origin}; }
  static ItemVersion FromConflict(const conflict::Version& v) { return ItemVersion{v.vv, v.hlc, v.origin}; }

  // --- The region clock

  // The operation's own clock (Writes::clock): physical time now_ms on the apply path, restored
  // from the persisted timestamp (and, on the normal path, from the shared clock).
  Result<conflict::HybridClock*> OpClock(Writes& w) {
    if (!w.clock) {
      int64_t now_ms = w.apply() != nullptr ? w.apply()->now_ms : NowMs();
      MERIDIAN_ASSIGN_OR_RETURN(uint64_t persisted, ReadRegionU64(global::kHlcKey));
      w.clock.emplace([now_ms] { return now_ms; }, options.max_clock_offset_ms);
      w.clock->Restore(persisted);
      w.hlc_floor = persisted;
      if (w.apply() == nullptr) {
        std::lock_guard guard(clock_mutex);
        if (normal_clock) w.clock->Restore(normal_clock->last());
      }
    }
    return &*w.clock;
  }

  // A timestamp for a local write or metadata change, at least `floor` (the old version's hlc +
  // 1): a version that causally follows another has a higher hlc even if the clock went back.
  Result<uint64_t> StampHlc(Writes& w, uint64_t floor) {
    uint64_t h = 0;
    if (w.apply() == nullptr && !w.use_op_clock) {
      std::lock_guard guard(clock_mutex);
      if (!normal_clock) {
        MERIDIAN_ASSIGN_OR_RETURN(uint64_t persisted, ReadRegionU64(global::kHlcKey));
        normal_clock.emplace([this] { return NowMs(); }, options.max_clock_offset_ms);
        normal_clock->Restore(persisted);
      }
      h = std::max(normal_clock->Now(), floor);
      normal_clock->Restore(h);
    } else {
      MERIDIAN_ASSIGN_OR_RETURN(conflict::HybridClock * clock, OpClock(w));
      h = std::max(clock->Now(), floor);
      clock->Restore(h);
    }
    w.hlc_stamped = std::max(w.hlc_stamped, h);
    return h;
  }

  // The region's next version counter, at least `floor` (the item's own counter + 1). Same
  // discipline as StampHlc: shared and locked on the normal path, the operation's own otherwise.
  Result<uint64_t> StampCounter(Writes& w, uint64_t floor) {
    uint64_t c = 0;
    if (w.apply() == nullptr && !w.use_op_clock) {
      std::lock_guard guard(clock_mutex);
      if (!normal_counter) {
        MERIDIAN_ASSIGN_OR_RETURN(uint64_t persisted, ReadRegionU64(global::kVersionCounterKey));
        normal_counter = persisted;
      }
      c = std::max(*normal_counter + 1, floor);
      normal_counter = c;
    } else {
      if (!w.counter) {
        MERIDIAN_ASSIGN_OR_RETURN(uint64_t persisted, ReadRegionU64(global::kVersionCounterKey));
        w.counter = persisted;
        w.counter_floor = persisted;
        if (w.apply() == nullptr) {
          std::lock_guard guard(clock_mutex);
          if (normal_counter) w.counter = std::max(*w.counter, *normal_counter);
        }
      }
      c = std::max(*w.counter + 1, floor);
      w.counter = c;
    }
    w.counter_stamped = std::max(w.counter_stamped, c);
    return c;
  }

  // Adds what the operation accumulated: the persisted clock, the stream head and counters.
  // (Normal-path item writes run concurrently and may persist their timestamps out of order; the
  // in-memory clock is then ahead, and after a restart every new version is still above the
  // version it replaces, by the floor in StampHlc.)
  Status FinishWrites(Writes& w) {
    rocksdb::WriteBatch* batch = w.batch();
    uint64_t hlc = w.hlc_stamped;
    if (w.clock) hlc = std::max(hlc, w.clock->last());
    if (hlc > w.hlc_floor) {
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Put(Handle(Cf::kRegion), global::kHlcKey, global::EncodeBe64(hlc))));
      if (w.apply() == nullptr && w.clock) {
        std::lock_guard guard(clock_mutex);
        if (normal_clock) normal_clock->Restore(hlc);
      }
    }
    if (w.counter_stamped > w.counter_floor) {
      MERIDIAN_RETURN_IF_ERROR(FromRocks(
          batch->Put(Handle(Cf::kRegion), global::kVersionCounterKey, global::EncodeBe64(w.counter_stamped))));
      if (w.apply() == nullptr && w.counter) {
        std::lock_guard guard(clock_mutex);
        if (normal_counter) normal_counter = std::max(*normal_counter, w.counter_stamped);
      }
    }
    if (w.tombstone_delta != 0) {
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Merge(catalog, global::kTombstoneCountKey, EncodeInt64(w.tombstone_delta))));
    }
    if (w.change_records != 0 || w.changes_trimmed != 0) {
      MERIDIAN_RETURN_IF_ERROR(FromRocks(
          batch->Merge(catalog, global::kChangeCountKey, EncodeInt64(w.change_records - w.changes_trimmed))));
    }
    if (w.change_records > 0) {
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Put(Handle(Cf::kRegion), global::kHeadKey,
                                                    global::EncodeBe64(w.apply()->change_seq))));
    }
    return Status::Ok();
  }

  // --- Local writes

  // The version of a local write (vv[region] + 1, the region clock, origin = region), its
  // tombstone for a delete in a global table, and its change record on the apply path.
  Status StampLocalWrite(const PlannedWrite& w, Writes& writes) {
    rocksdb::WriteBatch* batch = writes.batch();
    const ApplyOptions* apply = writes.apply();
    MERIDIAN_ASSIGN_OR_RETURN(std::optional<global::VersionRecord> old, ReadVersion(w.key));
    global::VersionRecord rec;
    uint64_t hlc_floor = 0;
    if (old) {
      rec.version.vv = old->version.vv;
      hlc_floor = old->version.hlc + 1;
    } else {
      // A new item, or one whose tombstone was purged: above every purged tombstone of the table
      // (storage/global_table.h, "Why a floor").
      MERIDIAN_ASSIGN_OR_RETURN(global::VersionFloor floor, ReadFloor(w.table->id));
      rec.version.vv = std::move(floor.vv);
      if (floor.hlc != 0) hlc_floor = floor.hlc + 1;
    }
    // The region's next version counter (storage/global_table.h, "Version counters").
    uint64_t& own = rec.version.vv[options.region];
    MERIDIAN_ASSIGN_OR_RETURN(own, StampCounter(writes, own + 1));
    MERIDIAN_ASSIGN_OR_RETURN(rec.version.hlc, StampHlc(writes, hlc_floor));
    rec.version.origin = options.region;
    std::vector<std::string> peers = PeersOf(w.table->desc);
    uint64_t seq = apply != nullptr ? apply->change_seq : 0;
    rocksdb::ColumnFamilyHandle* versions = Handle(Cf::kVersions);
    rocksdb::ColumnFamilyHandle* region = Handle(Cf::kRegion);
    if (old && old->tombstone) {
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Delete(region, global::TombKey(old->version.origin, old->origin_seq, w.key))));
      writes.tombstone_delta -= 1;
    }
    if (w.new_item != nullptr || !peers.empty()) {
      rec.tombstone = w.new_item == nullptr;
      rec.origin_seq = rec.tombstone ? seq : 0;
      if (rec.tombstone) {
        MERIDIAN_ASSIGN_OR_RETURN(ReplicationView view, LoadView(rocksdb::ReadOptions()));
        rec.cut = std::move(view.cursors);
        rec.cut[options.region] = seq;  // the delete's own record (the head once appended)
      }
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Put(versions, w.key, global::Pack(rec))));
      if (rec.tombstone) {
        MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Put(region, global::TombKey(options.region, seq, w.key), "")));
        writes.tombstone_delta += 1;
      }
    } else {
      // A table with no replica elsewhere keeps no tombstones: nobody needs the delete's version.
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Delete(versions, w.key)));
    }
    if (apply != nullptr && apply->change_seq != 0 && !peers.empty()) {
      const Item& any = w.new_item ? *w.new_item : *w.old_item;
      ChangeWire wire;
      wire.table = w.table->desc.table_name;
      for (const auto& element : w.table->desc.key_schema) {
        auto it = any.find(element.attribute_name);
        if (it != any.end()) wire.key.emplace(it->first, it->second);
      }
      if (w.new_item) wire.image = *w.new_item;
      wire.time_ms = apply->now_ms;
      wire.version = rec.version;
      wire.destinations = std::move(peers);
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Put(Handle(Cf::kChanges), ChangeKey(apply->change_seq, writes.NextChange()),
                                                    global::Pack(wire))));
      writes.change_records += 1;
    }
    return Status::Ok();
  }

  // A table metadata record for `destinations` (apply path only: the stream is made of entries).
  Status AppendMetaRecord(Writes& w, const TableMeta& meta, std::vector<std::string> destinations,
                          bool backfill_done = false) {
    const ApplyOptions* apply = w.apply();
    if (apply == nullptr || apply->change_seq == 0 || destinations.empty()) return Status::Ok();
    std::sort(destinations.begin(), destinations.end());
    destinations.erase(std::unique(destinations.begin(), destinations.end()), destinations.end());
    ChangeWire wire;
    wire.table = meta.table_name;
    wire.time_ms = apply->now_ms;
    wire.version.hlc = meta.meta_hlc;
    wire.version.origin = meta.meta_origin;
    wire.destinations = std::move(destinations);
    wire.meta = meta;
    wire.backfill_done = backfill_done;
    MERIDIAN_RETURN_IF_ERROR(FromRocks(w.batch()->Put(Handle(Cf::kChanges), ChangeKey(apply->change_seq, w.NextChange()),
                                                      global::Pack(wire))));
    w.change_records += 1;
    return Status::Ok();
  }

  // Everything of a table: its record, counters, items, versions and the backfills owed for it.
  // Its tombstone index entries are left to the purge, which drops entries of missing tables.
  Status AddTableRemoval(const TableRecord& rec, rocksdb::WriteBatch* batch) {
    const std::string& name = rec.desc.table_name;
    MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Delete(catalog, TableKey(name))));
    MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Delete(catalog, ItemCountKey(rec.id))));
    MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Delete(catalog, SizeBytesKey(rec.id))));
    MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->DeleteRange(items, TablePrefix(rec.id), TablePrefix(rec.id + 1))));
    MERIDIAN_RETURN_IF_ERROR(
        FromRocks(batch->DeleteRange(Handle(Cf::kVersions), TablePrefix(rec.id), TablePrefix(rec.id + 1))));
    MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Delete(Handle(Cf::kRegion), global::FloorKey(rec.id))));
    MERIDIAN_ASSIGN_OR_RETURN(KeyValues backfills,
                              ScanPrefix(Cf::kRegion, global::kBackfillPrefix, rocksdb::ReadOptions(), kBackfillsMax));
    for (const auto& [key, value] : backfills) {
      MERIDIAN_ASSIGN_OR_RETURN(PendingBackfill b, global::Unpack<PendingBackfill>(value, "pending backfill"));
      if (b.table == name) MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Delete(Handle(Cf::kRegion), key)));
    }
    return Status::Ok();
  }

  Status PutBackfill(rocksdb::WriteBatch* batch, const std::string& table, const std::string& peer, uint64_t after_seq) {
    return FromRocks(batch->Put(Handle(Cf::kRegion), global::BackfillKey(peer, table),
                                global::Pack(PendingBackfill{table, peer, after_seq})));
  }

  // --- UpdateTable

  Status ValidateUpdateTable(const UpdateTableRequest& r) const {
    MERIDIAN_RETURN_IF_ERROR(ValidateTableName(r.table_name));
    if (!r.attribute_definitions && !r.billing_mode && !r.provisioned_throughput && r.replica_updates.empty()) {
      return Status::Validation(
          "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or "
          "SSESpecification or ReplicaUpdates is required");
    }
    if (r.replica_updates.size() > kReplicaUpdatesMax) {
      return ConstraintErrors({Constraint("'" + std::to_string(r.replica_updates.size()) + "'", "replicaUpdates",
                                          "Member must have length less than or equal to " +
                                              std::to_string(kReplicaUpdatesMax))});
    }
    std::set<std::string> named;
    for (size_t i = 0; i < r.replica_updates.size(); ++i) {
      const ReplicaUpdate& u = r.replica_updates[i];
      if (u.create.has_value() == u.remove.has_value()) {
        return Status::Validation("One or more parameter values were invalid: A ReplicaUpdate must contain exactly one "
                                  "of Create or Delete");
      }
      const std::string& region = u.create ? *u.create : *u.remove;
      MERIDIAN_RETURN_IF_ERROR(CheckRegion(region, "replicaUpdates." + std::to_string(i + 1) + ".member." +
                                                       (u.create ? "create" : "delete") + ".regionName"));
      if (!named.insert(region).second) {
        return Status::Validation("One or more parameter values were invalid: Region " + region +
                                  " appears in more than one ReplicaUpdate");
      }
    }
    if (r.provisioned_throughput) {
      MERIDIAN_RETURN_IF_ERROR(ValidateRange(r.provisioned_throughput->read_capacity_units, 1, kCapacityUnitsMax,
                                             "provisionedThroughput.readCapacityUnits"));
      MERIDIAN_RETURN_IF_ERROR(ValidateRange(r.provisioned_throughput->write_capacity_units, 1, kCapacityUnitsMax,
                                             "provisionedThroughput.writeCapacityUnits"));
    }
    return Status::Ok();
  }

  Result<UpdateTableResponse> UpdateTable(const UpdateTableRequest& r, const ApplyOptions* apply) {
    MERIDIAN_RETURN_IF_ERROR(ValidateUpdateTable(r));
    std::unique_lock lock(catalog_mutex);
    auto it = tables.find(r.table_name);
    if (it == tables.end()) return Status::NotFound("Requested resource not found: Table: " + r.table_name + " not found");
    TableRecord rec = it->second;
    TableDescription& d = rec.desc;
    const std::string& self = options.region;

    // Billing and throughput, as CreateTable checks them.
    BillingMode mode = r.billing_mode.value_or(d.billing_mode);
    ProvisionedThroughput throughput = d.provisioned_throughput;
    if (mode == BillingMode::kProvisioned) {
      if (r.provisioned_throughput) {
        throughput = *r.provisioned_throughput;
      } else if (d.billing_mode != BillingMode::kProvisioned) {
        return Status::Validation("One or more parameter values were invalid: ProvisionedThroughput must be specified "
                                  "when BillingMode is PROVISIONED");
      }
    } else {
      if (r.provisioned_throughput) {
        return Status::Validation("One or more parameter values were invalid: Neither ReadCapacityUnits nor "
                                  "WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST");
      }
      throughput = ProvisionedThroughput{};
    }
    // AttributeDefinitions: with no secondary indexes, only the key attributes, with their types.
    std::vector<AttributeDefinition> definitions = d.attribute_definitions;
    if (r.attribute_definitions) {
      KeySchemaInfo schema = SchemaOf(d);
      std::set<std::string> seen;
      for (const auto& a : *r.attribute_definitions) {
        if (!seen.insert(a.attribute_name).second) return Status::Validation("Cannot have two attributes with the same name");
        bool is_key = a.attribute_name == schema.pk_name || (schema.sk_name && a.attribute_name == *schema.sk_name);
        if (!is_key) {
          return Status::Validation("One or more parameter values were invalid: Some AttributeDefinitions are not used. "
                                    "AttributeDefinitions: [" + a.attribute_name + "]");
        }
        AttributeType want = a.attribute_name == schema.pk_name ? schema.pk_type : schema.sk_type;
        if (a.attribute_type != want) {
          return Status::Validation("One or more parameter values were invalid: Cannot change the type of key attribute " +
                                    a.attribute_name);
        }
      }
      if (seen.size() != d.key_schema.size()) {
        return Status::Validation("One or more parameter values were invalid: Number of attributes in KeySchema does "
                                  "not exactly match number of attributes defined in AttributeDefinitions");
      }
      definitions = *r.attribute_definitions;
    }

    // Replicas.
    std::vector<std::string> regions = RegionsOfTable(d);
    auto has = [](const std::vector<std::string>& v, const std::string& x) {
      return std::find(v.begin(), v.end(), x) != v.end();
    };
    std::vector<std::string> added, removed;
    for (const ReplicaUpdate& u : r.replica_updates) {
      if (u.create) {
        if (has(regions, *u.create)) {
          return Status::Validation("One or more parameter values were invalid: Table " + r.table_name +
                                    " already has a replica in region " + *u.create);
        }
        added.push_back(*u.create);
      } else {
        if (*u.remove == self) {
          return Status::Validation("One or more parameter values were invalid: Cannot remove the replica in " + self +
                                    ", the region this request was sent to; remove it from another replica region");
        }
        if (!has(regions, *u.remove)) {
          return Status::Validation("One or more parameter values were invalid: Replica specified in the Replica "
                                    "Update or Replica Delete action of the request was not found: " + *u.remove);
        }
        removed.push_back(*u.remove);
      }
    }
    bool replicas_change = !added.empty() || !removed.empty();
    bool settings_change = mode != d.billing_mode || !(throughput == d.provisioned_throughput) ||
                           !(definitions == d.attribute_definitions);
    if (!replicas_change && !settings_change) {
      return Status::Validation("The provisioned throughput for the table will not change. The requested value "
                                "equals the current value.");
    }
    d.billing_mode = mode;
    d.provisioned_throughput = throughput;
    d.attribute_definitions = definitions;
    std::map<std::string, ReplicaStatus> statuses;
    for (const auto& rd : d.replicas) statuses[rd.region_name] = rd.replica_status;
    statuses[self] = ReplicaStatus::kActive;
    for (const auto& x : removed) statuses.erase(x);
    for (const auto& x : added) statuses[x] = ReplicaStatus::kCreating;
    d.replicas.clear();
    if (statuses.size() > 1) {
      for (const auto& [name, status] : statuses) d.replicas.push_back(ReplicaDescription{name, status});
    }

    Writes writes(this, apply);
    writes.use_op_clock = true;
    rocksdb::WriteBatch* batch = writes.batch();
    // The metadata replicas share: a new version when what they share changes.
    std::vector<std::string> destinations = PeersOf(d);
    destinations.insert(destinations.end(), removed.begin(), removed.end());
    if (replicas_change || (settings_change && !destinations.empty())) {
      MERIDIAN_ASSIGN_OR_RETURN(rec.meta_hlc, StampHlc(writes, rec.meta_hlc + 1));
      rec.meta_origin = self;
      for (const auto& x : removed) rec.joined_hlc.erase(x);
      for (const auto& x : added) rec.joined_hlc[x] = rec.meta_hlc;
      MERIDIAN_RETURN_IF_ERROR(AppendMetaRecord(writes, MetaOf(rec), destinations));
    }
    uint64_t seq = apply != nullptr ? apply->change_seq : 0;
    for (const auto& x : added) MERIDIAN_RETURN_IF_ERROR(PutBackfill(batch, r.table_name, x, seq));
    for (const auto& x : removed) {
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Delete(Handle(Cf::kRegion), global::BackfillKey(x, r.table_name))));
    }
    MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Put(catalog, TableKey(r.table_name), global::Pack(rec))));
    MERIDIAN_ASSIGN_OR_RETURN(uint64_t version, BumpCatalogVersion(batch));
    MERIDIAN_RETURN_IF_ERROR(writes.Commit());
    if (apply != nullptr) {
      pending_catalog_version.store(version, std::memory_order_release);
    } else {
      catalog_version = version;
      it->second = rec;
    }
    MERIDIAN_ASSIGN_OR_RETURN(TableDescription out, DescriptionWithCounters(rec));
    return UpdateTableResponse{std::move(out)};
  }

  // --- What this region knows of the others

  struct ReplicationView {
    std::map<std::string, uint64_t> cursors;                         // source -> applied here
    std::map<std::string, std::map<std::string, uint64_t>> knowledge;  // P -> (O -> P applied of O)
    uint64_t Cursor(const std::string& source) const {
      auto it = cursors.find(source);
      return it == cursors.end() ? 0 : it->second;
    }
    uint64_t Knows(const std::string& p, const std::string& o) const {
      auto it = knowledge.find(p);
      if (it == knowledge.end()) return 0;
      auto jt = it->second.find(o);
      return jt == it->second.end() ? 0 : jt->second;
    }
  };

  Result<ReplicationView> LoadView(const rocksdb::ReadOptions& ro) {
    ReplicationView view;
    MERIDIAN_ASSIGN_OR_RETURN(KeyValues cursors, ScanPrefix(Cf::kRegion, global::kCursorPrefix, ro, kRegionsMax));
    for (const auto& [key, value] : cursors) {
      view.cursors[key.substr(std::strlen(global::kCursorPrefix))] = global::DecodeBe64(value);
    }
    MERIDIAN_ASSIGN_OR_RETURN(KeyValues knowledge, ScanPrefix(Cf::kRegion, global::kKnowledgePrefix, ro, kRegionsMax));
    for (const auto& [key, value] : knowledge) {
      using Cursors = std::map<std::string, uint64_t>;
      MERIDIAN_ASSIGN_OR_RETURN(Cursors known, global::Unpack<Cursors>(value, "knowledge"));
      view.knowledge[key.substr(std::strlen(global::kKnowledgePrefix))] = std::move(known);
    }
    return view;
  }

  // --- ReplicationApply

  struct StagedItem {
    std::optional<Item> image;
    std::optional<global::VersionRecord> version;
  };

  // One ReplicationApply: the catalog and the items as this batch leaves them (the batch is not
  // readable until the caller writes it).
  struct ApplyContext {
    Writes* writes = nullptr;
    int64_t now_ms = 0;
    uint64_t change_seq = 0;
    std::string source;
    std::map<std::string, TableRecord> tables;
    std::set<std::string> changed_tables;
    uint64_t next_table_id = 1;
    std::map<std::string, StagedItem> items;  // by item key
    std::set<std::string> deleted_tombs;      // tombstone index keys this batch deletes
    std::map<std::string, uint64_t> tombs_added;  // origin -> lowest seq of index entries this batch adds
    ReplicationView view;
    std::vector<ConflictRecord> conflicts;
    ReplicationApplyResponse* out = nullptr;
    // The cut of every tombstone state this batch writes (storage/global_table.h, "Why a cut").
    std::map<std::string, uint64_t> cut;
  };

  Result<StagedItem> ReadStaged(ApplyContext& ctx, const std::string& key) {
    auto it = ctx.items.find(key);
    if (it != ctx.items.end()) return it->second;
    StagedItem s;
    MERIDIAN_ASSIGN_OR_RETURN(s.image, ReadItem(key));
    MERIDIAN_ASSIGN_OR_RETURN(s.version, ReadVersion(key));
    return s;
  }

  // Replaces an item's state (`old`) with `now`: item, counters, version, tombstone index.
  Status WriteStaged(ApplyContext& ctx, const TableRecord& table, const std::string& key, const StagedItem& old,
                     const StagedItem& now) {
    Writes& w = *ctx.writes;
    rocksdb::WriteBatch* batch = w.batch();
    rocksdb::ColumnFamilyHandle* region = Handle(Cf::kRegion);
    if (old.version && old.version->tombstone) {
      std::string tomb = global::TombKey(old.version->version.origin, old.version->origin_seq, key);
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Delete(region, tomb)));
      w.tombstone_delta -= 1;
      ctx.deleted_tombs.insert(std::move(tomb));
    }
    if (now.version && now.version->tombstone) {
      std::string tomb = global::TombKey(now.version->version.origin, now.version->origin_seq, key);
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Put(region, tomb, "")));
      w.tombstone_delta += 1;
      ctx.deleted_tombs.erase(tomb);
      auto [added, first] = ctx.tombs_added.emplace(now.version->version.origin, now.version->origin_seq);
      if (!first) added->second = std::min(added->second, now.version->origin_seq);
    }
    size_t old_size = old.image ? ItemSize(*old.image) : 0;
    size_t new_size = now.image ? ItemSize(*now.image) : 0;
    int64_t count_delta = (now.image ? 1 : 0) - (old.image ? 1 : 0);
    auto size_delta = static_cast<int64_t>(new_size) - static_cast<int64_t>(old_size);
    if (now.image) {
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Put(items, key, EncodeItem(*now.image))));
    } else if (old.image) {
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Delete(items, key)));
    }
    if (count_delta != 0) {
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Merge(catalog, ItemCountKey(table.id), EncodeInt64(count_delta))));
    }
    if (size_delta != 0) {
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Merge(catalog, SizeBytesKey(table.id), EncodeInt64(size_delta))));
    }
    if (now.version) {
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Put(Handle(Cf::kVersions), key, global::Pack(*now.version))));
    } else {
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Delete(Handle(Cf::kVersions), key)));
    }
    ctx.items[key] = now;
    return Status::Ok();
  }

  // One item change under the conflict rule (conflict/version.h).
  Status MergeItem(ApplyContext& ctx, const ReplicatedChange& c) {
    ReplicationApplyResponse& out = *ctx.out;
    auto t = ctx.tables.find(c.table);
    if (t == ctx.tables.end()) {  // not (or no longer) a replica here
      ++out.dropped;
      return Status::Ok();
    }
    const TableRecord& table = t->second;
    KeySchemaInfo schema = SchemaOf(table.desc);
    // A change that does not fit the table's key schema (a peer with another schema, or corrupt
    // data) is dropped: it must never crash the apply loop.
    if (!ValidateKey(schema, c.key).ok() ||
        (c.image && (!ValidateItem(schema, *c.image).ok() || !(KeyAttributesOf(schema, *c.image) == c.key)))) {
      ++out.dropped;
      return Status::Ok();
    }
    std::string key = ItemKeyOf(table.id, schema, c.key);
    MERIDIAN_ASSIGN_OR_RETURN(StagedItem old, ReadStaged(ctx, key));
    conflict::Versioned<Item> local, remote;
    if (old.version) {
      local.version = ToConflict(old.version->version);
      if (!old.version->tombstone) local.value = old.image;
    } else {
      local.value = old.image;  // an item written before versions existed: the empty version
    }
    remote.value = c.image;
    remote.version = ToConflict(c.version);
    conflict::MergeResult<Item> m;
    if (options.plant_no_lww) {
      m.state = remote;  // the planted bug: whatever arrives wins
      m.outcome = conflict::MergeOutcome::kApplied;
    } else {
      m = conflict::Merge(local, remote);
    }
    switch (m.outcome) {
      case conflict::MergeOutcome::kDropped:
        ++out.dropped;
        return Status::Ok();
      case conflict::MergeOutcome::kConflictLost: {
        // The local write stays; only the vector learns what the remote one had seen.
        StagedItem now = old;
        global::VersionRecord rec = old.version ? *old.version : global::VersionRecord{};
        rec.version.vv = m.state.version.vv;
        if (rec.tombstone) rec.cut = conflict::PointwiseMax(rec.cut, ctx.cut);  // it absorbed the loser
        now.version = rec;
        MERIDIAN_RETURN_IF_ERROR(FromRocks(ctx.writes->batch()->Put(Handle(Cf::kVersions), key, global::Pack(rec))));
        ctx.items[key] = now;
        break;
      }
      case conflict::MergeOutcome::kApplied:
      case conflict::MergeOutcome::kConflictWon: {
        StagedItem now;
        now.image = m.state.value;
        global::VersionRecord rec;
        rec.version = FromConflict(m.state.version);
        rec.tombstone = !now.image.has_value();
        rec.origin_seq = rec.tombstone ? c.seq : 0;
        if (rec.tombstone) rec.cut = ctx.cut;
        now.version = rec;
        MERIDIAN_RETURN_IF_ERROR(WriteStaged(ctx, table, key, old, now));
        ++out.applied;
        break;
      }
    }
    if (m.loser) {
      bool remote_won = m.outcome == conflict::MergeOutcome::kConflictWon;
      ConflictRecord record;
      record.table = c.table;
      record.key = c.key;
      record.loser = FromConflict(*m.loser);
      record.winner = remote_won ? c.version : FromConflict(local.version);
      record.loser_was_delete = remote_won ? !local.value.has_value() : !remote.value.has_value();
      record.time_ms = ctx.now_ms;
      ctx.conflicts.push_back(std::move(record));
      ++out.conflicts;
    }
    return Status::Ok();
  }

  static bool SameKeySchema(const KeySchemaInfo& a, const KeySchemaInfo& b) {
    return a.pk_name == b.pk_name && a.pk_type == b.pk_type && a.sk_name == b.sk_name &&
           (!a.sk_name || a.sk_type == b.sk_type);
  }

  // A table metadata change: create, update or drop the local replica (last writer wins on
  // (meta_hlc, meta_origin)), and relay it to regions that became replicas.
  Status ApplyMeta(ApplyContext& ctx, const ReplicatedChange& c) {
    ReplicationApplyResponse& out = *ctx.out;
    const std::string& self = options.region;
    TableMeta m = *c.meta;
    std::sort(m.replicas.begin(), m.replicas.end());
    m.replicas.erase(std::unique(m.replicas.begin(), m.replicas.end()), m.replicas.end());
    CreateTableRequest shape;
    shape.table_name = m.table_name;
    shape.key_schema = m.key_schema;
    shape.attribute_definitions = m.attribute_definitions;
    shape.billing_mode = m.billing_mode;
    if (m.billing_mode == BillingMode::kProvisioned) shape.provisioned_throughput = m.provisioned_throughput;
    bool valid = ValidateCreateTable(shape).ok();
    for (const auto& region : m.replicas) valid = valid && global::ValidateRegionName(region, "replicas").ok();
    if (!valid) {
      ++out.dropped;
      return Status::Ok();
    }
    bool self_in = std::binary_search(m.replicas.begin(), m.replicas.end(), self);
    auto it = ctx.tables.find(m.table_name);
    if (it == ctx.tables.end()) {
      if (!self_in) {
        ++out.dropped;
        return Status::Ok();
      }
      TableRecord rec;
      rec.id = ctx.next_table_id++;
      TableDescription& d = rec.desc;
      d.table_name = m.table_name;
      d.table_arn = "arn:aws:dynamodb:" + options.region + ":000000000000:table/" + m.table_name;
      d.creation_date_time_ms = ctx.now_ms;
      d.table_id = DerivedTableUuid(options.region, m.table_name, rec.id, ctx.now_ms);
      d.table_status = TableStatus::kActive;
      d.key_schema = m.key_schema;
      d.attribute_definitions = m.attribute_definitions;
      d.billing_mode = m.billing_mode;
      if (m.billing_mode == BillingMode::kProvisioned) d.provisioned_throughput = m.provisioned_throughput;
      if (m.replicas.size() > 1) {
        for (const auto& region : m.replicas) d.replicas.push_back(ReplicaDescription{region, ReplicaStatus::kActive});
      }
      rec.meta_hlc = m.meta_hlc;
      rec.meta_origin = m.meta_origin;
      rec.joined_hlc = m.joined_hlc;
      // Every replica region that joined before this one backfills it; until then no local writes.
      auto joined = [&](const std::string& region) {
        auto j = m.joined_hlc.find(region);
        return j == m.joined_hlc.end() ? uint64_t{0} : j->second;
      };
      for (const auto& region : m.replicas)
        if (region != self && joined(region) < joined(self)) rec.awaiting.push_back(region);
      if (!rec.awaiting.empty()) d.table_status = TableStatus::kCreating;
      ctx.tables[m.table_name] = std::move(rec);
      ctx.changed_tables.insert(m.table_name);
      ++out.applied;
      return Status::Ok();
    }
    TableRecord& rec = it->second;
    if (std::tie(m.meta_hlc, m.meta_origin) <= std::tie(rec.meta_hlc, rec.meta_origin)) {
      ++out.dropped;  // an older or the same metadata version
      return Status::Ok();
    }
    KeySchemaInfo mine = SchemaOf(rec.desc);
    KeySchemaInfo theirs = SchemaOf(TableDescription{.key_schema = m.key_schema, .attribute_definitions = m.attribute_definitions});
    if (!SameKeySchema(mine, theirs)) {
      ++out.dropped;  // a same-named table with another key: not a replica of this one
      return Status::Ok();
    }
    ctx.changed_tables.insert(m.table_name);
    if (!self_in) {
      MERIDIAN_RETURN_IF_ERROR(AddTableRemoval(rec, ctx.writes->batch()));
      ctx.tables.erase(it);
      ++out.applied;
      return Status::Ok();
    }
    std::vector<std::string> old_regions = RegionsOfTable(rec.desc);
    std::map<std::string, ReplicaStatus> old_status;
    for (const auto& rd : rec.desc.replicas) old_status[rd.region_name] = rd.replica_status;
    std::vector<std::string> gained, removed;
    for (const auto& region : m.replicas) {
      if (!std::binary_search(old_regions.begin(), old_regions.end(), region) && region != self && region != ctx.source) {
        gained.push_back(region);
      }
    }
    for (const auto& region : old_regions) {
      if (!std::binary_search(m.replicas.begin(), m.replicas.end(), region)) removed.push_back(region);
    }
    TableDescription& d = rec.desc;
    d.replicas.clear();
    if (m.replicas.size() > 1) {
      for (const auto& region : m.replicas) {
        ReplicaStatus status = ReplicaStatus::kActive;
        if (region == self) {
          status = ReplicaStatus::kActive;
        } else if (std::find(gained.begin(), gained.end(), region) != gained.end()) {
          status = ReplicaStatus::kCreating;
        } else if (auto s = old_status.find(region); s != old_status.end()) {
          status = s->second;
        }
        d.replicas.push_back(ReplicaDescription{region, status});
      }
    }
    d.attribute_definitions = m.attribute_definitions;
    d.billing_mode = m.billing_mode;
    d.provisioned_throughput = m.billing_mode == BillingMode::kProvisioned ? m.provisioned_throughput : ProvisionedThroughput{};
    rec.joined_hlc = m.joined_hlc;
    for (const auto& region : removed) std::erase(rec.awaiting, region);  // a removed region owes nothing
    if (rec.awaiting.empty()) d.table_status = TableStatus::kActive;
    rec.meta_hlc = m.meta_hlc;
    rec.meta_origin = m.meta_origin;
    rocksdb::WriteBatch* batch = ctx.writes->batch();
    for (const auto& region : removed) {
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Delete(Handle(Cf::kRegion), global::BackfillKey(region, m.table_name))));
    }
    // A region that joined through another one gets this region's items by a backfill, and the
    // table before any of this region's records for it (the relayed metadata comes first).
    for (const auto& region : gained) MERIDIAN_RETURN_IF_ERROR(PutBackfill(batch, m.table_name, region, ctx.change_seq));
    MERIDIAN_RETURN_IF_ERROR(AppendMetaRecord(*ctx.writes, m, gained));
    ++out.applied;
    return Status::Ok();
  }

  // The source has finished backfilling a replica created here: one region less to wait for.
  Status ApplyBackfillDoneMarker(ApplyContext& ctx, const ReplicatedChange& c) {
    auto it = ctx.tables.find(c.table);
    if (it == ctx.tables.end()) {
      ++ctx.out->dropped;
      return Status::Ok();
    }
    TableRecord& rec = it->second;
    auto pos = std::find(rec.awaiting.begin(), rec.awaiting.end(), ctx.source);
    if (pos == rec.awaiting.end()) {
      ++ctx.out->dropped;
      return Status::Ok();
    }
    rec.awaiting.erase(pos);
    rec.backfilled_through[ctx.source] = std::max(rec.backfilled_through[ctx.source], c.seq);
    if (rec.awaiting.empty()) rec.desc.table_status = TableStatus::kActive;
    ctx.changed_tables.insert(c.table);
    ++ctx.out->applied;
    return Status::Ok();
  }

  // A replica still being backfilled takes no local writes (TableRecord::awaiting); DynamoDB
  // answers ResourceNotFoundException for a table that is still CREATING.
  static Status CheckWritable(const TableRecord& table) {
    if (table.awaiting.empty()) return Status::Ok();
    return Status::NotFound("Requested resource not found: Table: " + table.desc.table_name +
                            " is being created as a replica (backfill in progress)");
  }

  // Whether every other replica region has everything the tombstone state absorbed: it has
  // applied every replica's stream up to the state's cut, raised to what the backfills into this
  // region carried (storage/global_table.h, "Why a cut").
  bool Stable(const TableRecord& table, const global::VersionRecord& tomb, const ReplicationView& view) const {
    std::vector<std::string> regions = RegionsOfTable(table.desc);
    std::map<std::string, uint64_t> cut = conflict::PointwiseMax(tomb.cut, table.backfilled_through);
    // The delete itself, for tombstones from before cuts existed.
    cut[tomb.version.origin] = std::max(cut[tomb.version.origin], tomb.origin_seq);
    for (const auto& p : regions) {
      if (p == options.region) continue;
      for (const auto& [q, at] : cut) {
        if (p == q || !std::binary_search(regions.begin(), regions.end(), q)) continue;
        if (view.Knows(p, q) < at) return false;
      }
    }
    return true;
  }

  // Whether the table's tombstones may be purged: not while a replica is being backfilled (the
  // backfill carries the tombstones the new replica never saw in the stream).
  bool PurgeAllowed(const TableRecord& table) const {
    if (!table.awaiting.empty()) return false;
    for (const auto& rd : table.desc.replicas)
      if (rd.replica_status != ReplicaStatus::kActive) return false;
    return true;
  }

  // The per-table conflict counts and the newest `recent_conflicts` records.
  Status WriteConflicts(ApplyContext& ctx) {
    rocksdb::WriteBatch* batch = ctx.writes->batch();
    rocksdb::ColumnFamilyHandle* region = Handle(Cf::kRegion);
    std::map<std::string, std::vector<const ConflictRecord*>> by_table;
    for (const auto& record : ctx.conflicts) by_table[record.table].push_back(&record);
    for (const auto& [table, records] : by_table) {
      MERIDIAN_ASSIGN_OR_RETURN(uint64_t count, ReadRegionU64(global::ConflictCountKey(table)));
      for (const ConflictRecord* record : records) {
        ++count;
        MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Put(region, global::ConflictKey(table, count), global::Pack(*record))));
      }
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Put(region, global::ConflictCountKey(table), global::EncodeBe64(count))));
      uint64_t keep = options.recent_conflicts;
      if (count > keep) {
        MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->DeleteRange(region, global::ConflictKey(table, 0),
                                                              global::ConflictKey(table, count - keep + 1))));
      }
    }
    return Status::Ok();
  }

  Result<ReplicationApplyResponse> ReplicationApply(const ReplicationApplyRequest& r, const ApplyOptions* apply) {
    MERIDIAN_RETURN_IF_ERROR(CheckRegion(r.source, "source"));
    if (r.source == options.region) {
      return Status::Validation("One or more parameter values were invalid: source is this region (" + r.source + ")");
    }
    if (!r.backfill && r.last_seq < r.after_seq) {
      return Status::Validation("One or more parameter values were invalid: last_seq is below after_seq");
    }
    if (r.changes.size() > kApplyChangesMax) {
      return ConstraintErrors({Constraint("'" + std::to_string(r.changes.size()) + "'", "changes",
                                          "Member must have length less than or equal to " + std::to_string(kApplyChangesMax))});
    }
    for (const auto& c : r.changes) {
      if (!r.backfill && (c.seq <= r.after_seq || c.seq > r.last_seq)) {
        return Status::Validation("One or more parameter values were invalid: change seq " + std::to_string(c.seq) +
                                  " is outside the batch (after_seq, last_seq]");
      }
    }
    if (r.source_cursors) {
      if (r.source_cursors->size() > kRegionsMax) return Status::Validation("Too many source_cursors");
      for (const auto& [region, seq] : *r.source_cursors) {
        MERIDIAN_RETURN_IF_ERROR(global::ValidateRegionName(region, "sourceCursors"));
      }
    }
    std::unique_lock lock(catalog_mutex);  // the batch may create, change or drop tables
    ReplicationApplyResponse out;
    MERIDIAN_ASSIGN_OR_RETURN(uint64_t cursor, ReadRegionU64(global::CursorKey(r.source)));
    out.cursor = cursor;
    if (!r.backfill && r.after_seq > cursor) {  // something between is missing: resend from cursor
      out.gap = true;
      return out;
    }
    Writes writes(this, apply);
    writes.use_op_clock = true;
    rocksdb::WriteBatch* batch = writes.batch();
    rocksdb::ColumnFamilyHandle* region = Handle(Cf::kRegion);
    ApplyContext ctx;
    ctx.writes = &writes;
    ctx.now_ms = apply != nullptr ? apply->now_ms : NowMs();
    ctx.change_seq = apply != nullptr ? apply->change_seq : 0;
    ctx.source = r.source;
    ctx.tables = tables;
    ctx.next_table_id = next_table_id;
    ctx.out = &out;
    MERIDIAN_ASSIGN_OR_RETURN(ctx.view, LoadView(rocksdb::ReadOptions()));
    ctx.cut = ctx.view.cursors;
    if (!r.backfill) ctx.cut[r.source] = std::max(cursor, r.last_seq);
    // This region's own writes are all in its stream, at or below its head.
    MERIDIAN_ASSIGN_OR_RETURN(ctx.cut[options.region], ReadRegionU64(global::kHeadKey));
    MERIDIAN_ASSIGN_OR_RETURN(conflict::HybridClock * clock, OpClock(writes));
    std::optional<int64_t> newest_time_ms;
    for (const auto& c : r.changes) {
      if (!r.backfill && c.seq <= cursor) {  // applied before: at-least-once delivery, exactly-once effect
        ++out.dropped;
        continue;
      }
      // The clock learns every remote timestamp, unless it is too far ahead (then only counted):
      // convergence never depends on the clocks, only the choice among concurrent writes does.
      clock->Update(c.meta ? c.meta->meta_hlc : c.version.hlc);
      newest_time_ms = std::max(newest_time_ms.value_or(c.time_ms), c.time_ms);
      if (c.meta && c.backfill_done) {
        MERIDIAN_RETURN_IF_ERROR(ApplyBackfillDoneMarker(ctx, c));
      } else if (c.meta) {
        MERIDIAN_RETURN_IF_ERROR(ApplyMeta(ctx, c));
      } else {
        MERIDIAN_RETURN_IF_ERROR(MergeItem(ctx, c));
      }
    }
    if (!r.backfill) {
      cursor = std::max(cursor, r.last_seq);
      out.cursor = cursor;
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Put(region, global::CursorKey(r.source), global::EncodeBe64(cursor))));
      ctx.view.cursors[r.source] = cursor;
      if (r.source_cursors) {
        std::map<std::string, uint64_t>& known = ctx.view.knowledge[r.source];
        known = conflict::PointwiseMax(known, *r.source_cursors);
        MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Put(region, global::KnowledgeKey(r.source), global::Pack(known))));
      }
      MERIDIAN_ASSIGN_OR_RETURN(std::optional<std::string> stored_lag, ReadRaw(Cf::kRegion, global::LagKey(r.source)));
      global::LagState lag;
      if (stored_lag) {
        MERIDIAN_ASSIGN_OR_RETURN(lag, global::Unpack<global::LagState>(*stored_lag, "lag"));
      }
      if (newest_time_ms) lag.newest_applied_time_ms = std::max(lag.newest_applied_time_ms, *newest_time_ms);
      lag.lag.source = r.source;
      lag.lag.cursor = cursor;
      lag.lag.source_head = r.source_head;
      lag.lag.lag_ms = cursor >= r.source_head || lag.newest_applied_time_ms == 0
                           ? 0
                           : std::max<int64_t>(0, ctx.now_ms - lag.newest_applied_time_ms);
      lag.lag.lag_records = r.source_head > cursor ? r.source_head - cursor : 0;
      lag.lag.last_batch_ms = ctx.now_ms;
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Put(region, global::LagKey(r.source), global::Pack(lag))));
    }
    if (clock->rejected() > 0) {
      MERIDIAN_ASSIGN_OR_RETURN(uint64_t rejections, ReadRegionU64(global::kClockRejectionsKey));
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Put(region, global::kClockRejectionsKey,
                                                    global::EncodeBe64(rejections + clock->rejected()))));
    }
    MERIDIAN_RETURN_IF_ERROR(WriteConflicts(ctx));
    std::optional<uint64_t> new_catalog_version;
    if (!ctx.changed_tables.empty()) {
      for (const auto& name : ctx.changed_tables) {
        auto t = ctx.tables.find(name);
        if (t != ctx.tables.end()) {
          MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Put(catalog, TableKey(name), global::Pack(t->second))));
        } else {
          MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Delete(catalog, TableKey(name))));
        }
      }
      if (ctx.next_table_id != next_table_id) {
        MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Put(catalog, kNextTableIdKey, EncodeU64(ctx.next_table_id))));
      }
      MERIDIAN_ASSIGN_OR_RETURN(new_catalog_version, BumpCatalogVersion(batch));
    }
    MERIDIAN_RETURN_IF_ERROR(Retention(ctx.tables, ctx.view, ctx.now_ms, writes, &ctx));
    MERIDIAN_RETURN_IF_ERROR(writes.Commit());
    if (new_catalog_version) {
      if (apply != nullptr) {
        pending_catalog_version.store(*new_catalog_version, std::memory_order_release);
      } else {
        MERIDIAN_RETURN_IF_ERROR(LoadCatalog());
      }
    }
    if (options.on_conflict) {
      for (const auto& record : ctx.conflicts) options.on_conflict(record);
    }
    return out;
  }

  // --- Retention and purge

  // On local writes, every kTimeRetentionEvery-th entry: records past max_retention_ms go even
  // when no ReplicationApply comes (a region whose peers are all gone).
  Status MaybeTimeRetention(Writes& w) {
    const ApplyOptions* apply = w.apply();
    if (apply == nullptr || apply->change_seq == 0 || apply->change_seq % kTimeRetentionEvery != 0) return Status::Ok();
    MERIDIAN_ASSIGN_OR_RETURN(ReplicationView view, LoadView(rocksdb::ReadOptions()));
    return Retention(tables, view, apply->now_ms, w, nullptr);
  }

  // Trims the stream's acknowledged (or expired, or excess) prefix and, with `ctx`, purges the
  // tombstones every replica region has received. Bounded work per call (kTrimPerCall,
  // kPurgePerOrigin): what is left waits for the next call.
  Status Retention(const std::map<std::string, TableRecord>& catalog_now, const ReplicationView& view, int64_t now_ms,
                   Writes& w, ApplyContext* ctx) {
    const std::string& self = options.region;
    rocksdb::WriteBatch* batch = w.batch();
    rocksdb::ColumnFamilyHandle* region = Handle(Cf::kRegion);
    uint64_t change_seq = w.apply() != nullptr ? w.apply()->change_seq : 0;

    int64_t retained = 0;
    MERIDIAN_RETURN_IF_ERROR(ReadCounter(global::kChangeCountKey, &retained));
    std::set<std::string> behind;
    std::optional<std::string> last_trimmed;
    int64_t trimmed = 0;
    {
      MERIDIAN_ASSIGN_OR_RETURN(std::string start, StreamTrimmed());
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), Handle(Cf::kChanges)));
      for (it->Seek(start); it->Valid() && trimmed < kTrimPerCall; it->Next()) {
        MERIDIAN_ASSIGN_OR_RETURN(ChangeRecord c, DecodeChange(it->key().ToStringView(), it->value().ToStringView()));
        bool acked = std::all_of(c.destinations.begin(), c.destinations.end(),
                                 [&](const std::string& p) { return view.Knows(p, self) >= c.seq; });
        bool expired = now_ms - c.time_ms > options.max_retention_ms;
        bool excess = retained - trimmed > static_cast<int64_t>(options.max_retention_records);
        if (!acked && !expired && !excess) break;
        if (!acked) {
          for (const auto& p : c.destinations)
            if (view.Knows(p, self) < c.seq) behind.insert(p);
        }
        // One point delete per record, not one DeleteRange of the prefix per call: RocksDB
        // (7.x) fragments every range tombstone of a memtable again for each new iterator, so a
        // range tombstone per ReplicationApply made each read of the stream cost every trim
        // since the last flush, and throughput decayed steadily while replication ran.
        MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Delete(Handle(Cf::kChanges), it->key())));
        last_trimmed = it->key().ToString();
        ++trimmed;
      }
      MERIDIAN_RETURN_IF_ERROR(FromRocks(it->status()));
    }
    if (last_trimmed) {
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Put(region, global::kTrimmedKey, *last_trimmed)));
      w.changes_trimmed += trimmed;
    }
    // A destination that had not received trimmed records gets every table it replicates again:
    // the table's metadata (the trimmed part may have held the record that creates it there), a
    // backfill of the current items, and the stream after this entry.
    for (const auto& peer : behind) {
      bool any = false;
      for (const auto& [name, rec] : catalog_now) {
        std::vector<std::string> regions = RegionsOfTable(rec.desc);
        if (!std::binary_search(regions.begin(), regions.end(), peer)) continue;
        MERIDIAN_RETURN_IF_ERROR(AppendMetaRecord(w, MetaOf(rec), {peer}));
        MERIDIAN_RETURN_IF_ERROR(PutBackfill(batch, name, peer, change_seq));
        any = true;
      }
      if (any) MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Put(region, global::BehindKey(peer), global::EncodeBe64(change_seq))));
    }
    if (ctx == nullptr) return Status::Ok();

    // Tombstone purge: (origin O, seq s) goes once every replica region P of its table other than
    // O has applied O's stream through s (P == this region: our cursor for O; others: what P last
    // told us, with a batch that reached P's head, so P's concurrent writes are already here).
    std::map<uint64_t, const TableRecord*> by_id;
    for (const auto& [name, rec] : catalog_now) by_id[rec.id] = &rec;
    std::map<uint64_t, global::VersionFloor> floors;  // of the tables with purges in this call
    // Each origin's index is read from its start (the seq below which every entry is gone), not
    // from the prefix: purged and replaced entries leave point tombstones until a compaction
    // drops them, and stepping over them from the first key made every ReplicationApply cost the
    // whole purged history. Origins: this region, every source applied here, every origin with a
    // start (a remote tombstone's origin gets one when its entry is added, below).
    std::set<std::string> origins = {self};
    for (const auto& [source, cursor] : view.cursors) origins.insert(source);
    std::map<std::string, uint64_t> starts;
    MERIDIAN_ASSIGN_OR_RETURN(KeyValues stored_starts,
                              ScanPrefix(Cf::kRegion, global::kTombStartPrefix, rocksdb::ReadOptions(), kRegionsMax));
    for (const auto& [key, value] : stored_starts) {
      std::string origin = key.substr(std::strlen(global::kTombStartPrefix));
      starts[origin] = global::DecodeBe64(value);
      origins.insert(origin);
    }
    for (const auto& [origin, seq] : ctx->tombs_added) origins.insert(origin);
    for (const std::string& origin : origins) {
      std::string prefix = global::TombOriginPrefix(origin);
      std::string end = PrefixEnd(prefix);  // see ScanPrefix
      rocksdb::Slice upper(end);
      rocksdb::ReadOptions ro;
      ro.iterate_upper_bound = &upper;
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, region));
      auto stored = starts.find(origin);
      uint64_t start = stored == starts.end() ? 0 : stored->second;
      // Entries this batch adds are not readable yet: the start stays at or below them.
      auto added = ctx->tombs_added.find(origin);
      uint64_t limit = added == ctx->tombs_added.end() ? UINT64_MAX : added->second;
      uint64_t new_start = start;
      bool all_gone = true;  // every entry read so far in this origin is gone after this batch
      size_t in_origin = 0;
      for (it->Seek(global::TombKey(origin, start, "")); it->Valid() && it->key().starts_with(prefix) &&
                                                          in_origin < kPurgePerOrigin;
           ++in_origin) {
        global::TombKeyParts parts;
        std::string key = it->key().ToString();
        if (!global::ParseTombKey(key, &parts)) return Status::Internal("tombstone index: bad key");
        it->Next();
        MERIDIAN_ASSIGN_OR_RETURN(bool gone, PurgeTomb(ctx, by_id, view, floors, key, parts, w));
        if (all_gone) {
          new_start = parts.origin_seq;  // when gone, others of this seq may still be left
          all_gone = gone;
        }
      }
      MERIDIAN_RETURN_IF_ERROR(FromRocks(it->status()));
      // Read to the end of the origin's entries, all gone: nothing at or below the last is left.
      if (all_gone && in_origin > 0 && !(it->Valid() && it->key().starts_with(prefix))) ++new_start;
      new_start = std::min(new_start, limit);
      if (stored == starts.end() || new_start != start) {
        MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Put(region, global::TombStartKey(origin), global::EncodeBe64(new_start))));
      }
    }
    for (const auto& [id, floor] : floors) {
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Put(region, global::FloorKey(id), global::Pack(floor))));
    }
    return Status::Ok();
  }

  // One tombstone index entry in the purge: purges the tombstone when every replica has it (see
  // Retention), drops the entry when purged or left behind by a dropped table. Whether the entry
  // is gone after this batch.
  Result<bool> PurgeTomb(ApplyContext* ctx, const std::map<uint64_t, const TableRecord*>& by_id,
                         const ReplicationView& view, std::map<uint64_t, global::VersionFloor>& floors,
                         const std::string& key, const global::TombKeyParts& parts, Writes& w) {
    rocksdb::WriteBatch* batch = w.batch();
    if (ctx->deleted_tombs.count(key)) return true;
    const TableRecord* table = nullptr;
    if (parts.item_key.size() >= 8) {
      auto t = by_id.find(DecodeU64(std::string_view(parts.item_key).substr(0, 8)));
      if (t != by_id.end()) table = t->second;
    }
    if (table != nullptr) {
      if (!PurgeAllowed(*table)) return false;
      MERIDIAN_ASSIGN_OR_RETURN(StagedItem state, ReadStaged(*ctx, parts.item_key));
      bool current = state.version && state.version->tombstone && state.version->version.origin == parts.origin &&
                     state.version->origin_seq == parts.origin_seq;
      if (current && !Stable(*table, *state.version, view)) return false;
      if (current) {
        auto floor = floors.find(table->id);
        if (floor == floors.end()) {
          MERIDIAN_ASSIGN_OR_RETURN(global::VersionFloor stored, ReadFloor(table->id));
          floor = floors.emplace(table->id, std::move(stored)).first;
        }
        floor->second.vv = conflict::PointwiseMax(floor->second.vv, state.version->version.vv);
        floor->second.hlc = std::max(floor->second.hlc, state.version->version.hlc);
        MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Delete(Handle(Cf::kVersions), parts.item_key)));
        state.version.reset();
        ctx->items[parts.item_key] = state;
      }
    }
    // Purged, or left behind by a dropped table.
    MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Delete(Handle(Cf::kRegion), key)));
    w.tombstone_delta -= 1;
    ctx->deleted_tombs.insert(key);
    return true;
  }

  // --- The replicator's reads

  Result<ReplicationReadChangesResponse> ReplicationReadChanges(const ReplicationReadChangesRequest& r) {
    MERIDIAN_RETURN_IF_ERROR(CheckRegion(r.peer, "peer"));
    MERIDIAN_RETURN_IF_ERROR(ValidateRange(r.max_records, 1, kReadChangesRecordsMax, "maxRecords"));
    MERIDIAN_RETURN_IF_ERROR(ValidateRange(r.max_bytes, 1, kReadChangesBytesMax, "maxBytes"));
    const rocksdb::Snapshot* snapshot = db->GetSnapshot();
    struct Release {
      rocksdb::DB* db;
      const rocksdb::Snapshot* s;
      ~Release() { db->ReleaseSnapshot(s); }
    } release{db, snapshot};
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot;
    ReplicationReadChangesResponse out;
    MERIDIAN_ASSIGN_OR_RETURN(out.head_seq, ReadRegionU64(global::kHeadKey, ro));
    uint64_t last_seq = r.after_seq;
    bool exhausted = true;
    if (r.after_seq < UINT64_MAX) {
      // A peer behind the trimmed prefix reads from where the stream starts (see StreamTrimmed).
      MERIDIAN_ASSIGN_OR_RETURN(std::string trimmed, StreamTrimmed(ro));
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, Handle(Cf::kChanges)));
      it->Seek(std::max(ChangeKey(r.after_seq + 1, 0), trimmed));
      size_t records = 0, bytes = 0, examined = 0;
      while (it->Valid()) {
        // One entry (seq) at a time: an entry is never split across answers.
        std::vector<ReplicatedChange> entry;
        size_t entry_bytes = 0;
        uint64_t seq = 0;
        for (bool first = true; it->Valid(); it->Next(), first = false) {
          MERIDIAN_ASSIGN_OR_RETURN(ChangeRecord c, DecodeChange(it->key().ToStringView(), it->value().ToStringView()));
          if (!first && c.seq != seq) break;
          seq = c.seq;
          ++examined;
          if (std::find(c.destinations.begin(), c.destinations.end(), r.peer) == c.destinations.end()) continue;
          entry_bytes += it->key().size() + it->value().size();
          entry.push_back(ReplicatedChange{c.seq, c.n, std::move(c.table), std::move(c.key), std::move(c.image),
                                           std::move(c.version), c.time_ms, std::move(c.meta), c.backfill_done});
        }
        MERIDIAN_RETURN_IF_ERROR(FromRocks(it->status()));
        if (!entry.empty() && !out.changes.empty() &&
            (records + entry.size() > r.max_records || bytes + entry_bytes > r.max_bytes)) {
          exhausted = false;  // this entry goes in the next answer
          break;
        }
        for (auto& c : entry) out.changes.push_back(std::move(c));
        records += entry.size();
        bytes += entry_bytes;
        last_seq = seq;
        if (records >= r.max_records || bytes >= r.max_bytes || examined >= kReadChangesExamineMax) {
          exhausted = !it->Valid();
          break;
        }
      }
      MERIDIAN_RETURN_IF_ERROR(FromRocks(it->status()));
    }
    if (exhausted) last_seq = std::max(last_seq, out.head_seq);
    out.last_seq = last_seq;
    out.at_head = last_seq >= out.head_seq;
    MERIDIAN_ASSIGN_OR_RETURN(KeyValues cursors, ScanPrefix(Cf::kRegion, global::kCursorPrefix, ro, kRegionsMax));
    for (const auto& [key, value] : cursors) {
      out.cursors[key.substr(std::strlen(global::kCursorPrefix))] = global::DecodeBe64(value);
    }
    out.cursors[options.region] = out.head_seq;
    MERIDIAN_ASSIGN_OR_RETURN(KeyValues backfills, ScanPrefix(Cf::kRegion, global::BackfillPeerPrefix(r.peer), ro, kBackfillsMax));
    for (const auto& [key, value] : backfills) {
      MERIDIAN_ASSIGN_OR_RETURN(PendingBackfill b, global::Unpack<PendingBackfill>(value, "pending backfill"));
      out.backfills.push_back(std::move(b));
    }
    return out;
  }

  Result<ReplicationReadTableResponse> ReplicationReadTable(const ReplicationReadTableRequest& r) {
    MERIDIAN_RETURN_IF_ERROR(ValidateTableName(r.table, "table"));
    MERIDIAN_RETURN_IF_ERROR(ValidateRange(r.limit, 1, kReadTableLimitMax, "limit"));
    std::shared_lock lock(catalog_mutex);
    auto t = tables.find(r.table);
    if (t == tables.end()) return Status::NotFound("Requested resource not found: Table: " + r.table + " not found");
    const TableRecord& table = t->second;
    KeySchemaInfo schema = SchemaOf(table.desc);
    std::optional<AttributeType> sk_type;
    if (schema.sk_name) sk_type = schema.sk_type;
    std::string lower = TablePrefix(table.id);
    std::string upper = TablePrefix(table.id + 1);
    std::string start = lower;
    if (r.exclusive_start) {
      if (r.exclusive_start->size() <= lower.size() || r.exclusive_start->compare(0, lower.size(), lower) != 0) {
        return Status::Validation("The provided starting key is invalid: it is not a key of table " + r.table);
      }
      start = *r.exclusive_start;
      start.push_back('\0');
    }
    const rocksdb::Snapshot* snapshot = db->GetSnapshot();
    struct Release {
      rocksdb::DB* db;
      const rocksdb::Snapshot* s;
      ~Release() { db->ReleaseSnapshot(s); }
    } release{db, snapshot};
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot;
    ReplicationReadTableResponse out;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, Handle(Cf::kVersions)));
    size_t bytes = 0;
    std::string last;
    for (it->Seek(start); it->Valid() && it->key().compare(upper) < 0; it->Next()) {
      if (out.items.size() >= r.limit || bytes >= kPageBytesMax) {
        out.last_key = last;  // more to come
        break;
      }
      std::string key = it->key().ToString();
      MERIDIAN_ASSIGN_OR_RETURN(global::VersionRecord v,
                                global::Unpack<global::VersionRecord>(it->value().ToStringView(), "item version"));
      ReplicatedChange c;
      c.table = r.table;
      c.version = std::move(v.version);
      if (v.tombstone) {
        DecodedItemKey decoded;
        if (!DecodeItemKey(key, schema.pk_type, sk_type, &decoded)) return Status::Internal("versions: bad item key");
        c.key.emplace(schema.pk_name, decoded.pk);
        if (schema.sk_name && decoded.sk) c.key.emplace(*schema.sk_name, *decoded.sk);
        c.seq = v.origin_seq;
      } else {
        MERIDIAN_ASSIGN_OR_RETURN(c.image, ReadItemAt(key, ro));
        if (!c.image) return Status::Internal("versions: a live version without its item");
        c.key = KeyAttributesOf(schema, *c.image);
        bytes += ItemSize(*c.image);
      }
      bytes += key.size();
      out.items.push_back(std::move(c));
      last = std::move(key);
    }
    MERIDIAN_RETURN_IF_ERROR(FromRocks(it->status()));
    return out;
  }

  Result<ReplicationBackfillDoneResponse> ReplicationBackfillDone(const ReplicationBackfillDoneRequest& r,
                                                                  const ApplyOptions* apply) {
    MERIDIAN_RETURN_IF_ERROR(ValidateTableName(r.table, "table"));
    MERIDIAN_RETURN_IF_ERROR(CheckRegion(r.peer, "peer"));
    std::unique_lock lock(catalog_mutex);
    Writes writes(this, apply);
    rocksdb::WriteBatch* batch = writes.batch();
    rocksdb::ColumnFamilyHandle* region = Handle(Cf::kRegion);
    std::string done_key = global::BackfillKey(r.peer, r.table);
    MERIDIAN_ASSIGN_OR_RETURN(std::optional<std::string> was_pending, ReadRaw(Cf::kRegion, done_key));
    MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Delete(region, done_key)));
    std::optional<uint64_t> version;
    auto t = tables.find(r.table);
    TableRecord rec;
    if (t != tables.end()) {
      rec = t->second;
      bool changed = false;
      for (auto& rd : rec.desc.replicas) {
        if (rd.region_name == r.peer && rd.replica_status != ReplicaStatus::kActive) {
          rd.replica_status = ReplicaStatus::kActive;
          changed = true;
        }
      }
      if (changed) {
        MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Put(catalog, TableKey(r.table), global::Pack(rec))));
        MERIDIAN_ASSIGN_OR_RETURN(version, BumpCatalogVersion(batch));
      }
      // The peer learns it in this region's stream, after everything the backfill covered.
      if (was_pending) MERIDIAN_RETURN_IF_ERROR(AppendMetaRecord(writes, MetaOf(rec), {r.peer}, true));
    }
    MERIDIAN_ASSIGN_OR_RETURN(KeyValues pending,
                              ScanPrefix(Cf::kRegion, global::BackfillPeerPrefix(r.peer), rocksdb::ReadOptions(), 2));
    bool more = std::any_of(pending.begin(), pending.end(), [&](const auto& kv) { return kv.first != done_key; });
    if (!more) MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->Delete(region, global::BehindKey(r.peer))));
    MERIDIAN_RETURN_IF_ERROR(writes.Commit());
    if (version) {
      if (apply != nullptr) {
        pending_catalog_version.store(*version, std::memory_order_release);
      } else {
        catalog_version = *version;
        t->second = rec;
      }
    }
    return ReplicationBackfillDoneResponse{};
  }

  Result<ReplicationStatusResponse> ReplicationStatus() {
    const rocksdb::Snapshot* snapshot = db->GetSnapshot();
    struct Release {
      rocksdb::DB* db;
      const rocksdb::Snapshot* s;
      ~Release() { db->ReleaseSnapshot(s); }
    } release{db, snapshot};
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot;
    const std::string& self = options.region;
    ReplicationStatusResponse out;
    out.region = self;
    MERIDIAN_ASSIGN_OR_RETURN(out.head_seq, ReadRegionU64(global::kHeadKey, ro));
    {
      MERIDIAN_ASSIGN_OR_RETURN(std::string trimmed, StreamTrimmed(ro));
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, Handle(Cf::kChanges)));
      it->Seek(trimmed);
      if (it->Valid()) {
        MERIDIAN_ASSIGN_OR_RETURN(ChangeRecord first, DecodeChange(it->key().ToStringView(), it->value().ToStringView()));
        out.first_retained_seq = first.seq;
      }
      MERIDIAN_RETURN_IF_ERROR(FromRocks(it->status()));
    }
    MERIDIAN_ASSIGN_OR_RETURN(KeyValues lags, ScanPrefix(Cf::kRegion, global::kLagPrefix, ro, kRegionsMax));
    for (const auto& [key, value] : lags) {
      MERIDIAN_ASSIGN_OR_RETURN(global::LagState lag, global::Unpack<global::LagState>(value, "lag"));
      out.lag.push_back(std::move(lag.lag));
    }
    MERIDIAN_ASSIGN_OR_RETURN(ReplicationView view, LoadView(ro));
    for (const auto& [peer, known] : view.knowledge) out.peer_acked[peer] = view.Knows(peer, self);
    MERIDIAN_ASSIGN_OR_RETURN(KeyValues behind, ScanPrefix(Cf::kRegion, global::kBehindPrefix, ro, kRegionsMax));
    for (const auto& [key, value] : behind) out.behind.push_back(key.substr(std::strlen(global::kBehindPrefix)));
    MERIDIAN_ASSIGN_OR_RETURN(KeyValues counts, ScanPrefix(Cf::kRegion, global::kConflictCountPrefix, ro, kTablesMax));
    for (const auto& [key, value] : counts) {
      std::string table = key.substr(std::strlen(global::kConflictCountPrefix));
      TableConflicts& tc = out.conflicts[table];
      tc.count = global::DecodeBe64(value);
      MERIDIAN_ASSIGN_OR_RETURN(KeyValues recent, ScanPrefix(Cf::kRegion, global::ConflictTablePrefix(table), ro,
                                                             options.recent_conflicts));
      for (const auto& [rk, rv] : recent) {
        MERIDIAN_ASSIGN_OR_RETURN(ConflictRecord record, global::Unpack<ConflictRecord>(rv, "conflict record"));
        tc.recent.push_back(std::move(record));
      }
    }
    MERIDIAN_ASSIGN_OR_RETURN(out.clock_rejections, ReadRegionU64(global::kClockRejectionsKey, ro));
    int64_t tombstones = 0;
    {
      std::string v;
      rocksdb::Status s = db->Get(ro, catalog, global::kTombstoneCountKey, &v);
      if (s.ok() && v.size() == 8) tombstones = DecodeInt64(v.data());
      else if (!s.IsNotFound()) MERIDIAN_RETURN_IF_ERROR(FromRocks(s));
    }
    out.tombstones = static_cast<uint64_t>(std::max<int64_t>(tombstones, 0));
    return out;
  }

  // --- The replicated apply path and state snapshots ---------------------------------------------

  // Runs one operation: brings the catalog cache up to date first, and turns exceptions into
  // statuses (nothing escapes the engine).
  template <typename F>
  auto Run(bool on_apply_path, F&& f) -> decltype(f()) {
    return Guarded([&]() -> decltype(f()) {
      MERIDIAN_RETURN_IF_ERROR(SyncCatalog(on_apply_path));
      return f();
    });
  }

  // Any request; writes go to apply->batch when `apply` is set, reads ignore it.
  Result<Response> Dispatch(const Request& request, const ApplyOptions* apply) {
    return Run(apply != nullptr, [&]() -> Result<Response> {
      return std::visit(
          [&](const auto& r) -> Result<Response> {
            using T = std::decay_t<decltype(r)>;
            auto wrap = [](auto result) -> Result<Response> {
              if (!result.ok()) return result.status();
              return Response(std::move(result).value());
            };
            if constexpr (std::is_same_v<T, CreateTableRequest>) return wrap(CreateTable(r, apply));
            else if constexpr (std::is_same_v<T, DescribeTableRequest>) return wrap(DescribeTable(r));
            else if constexpr (std::is_same_v<T, ListTablesRequest>) return wrap(ListTables(r));
            else if constexpr (std::is_same_v<T, DeleteTableRequest>) return wrap(DeleteTable(r, apply));
            else if constexpr (std::is_same_v<T, PutItemRequest>) return wrap(PutItem(r, apply));
            else if constexpr (std::is_same_v<T, GetItemRequest>) return wrap(GetItem(r));
            else if constexpr (std::is_same_v<T, DeleteItemRequest>) return wrap(DeleteItem(r, apply));
            else if constexpr (std::is_same_v<T, QueryRequest>) return wrap(Query(r));
            else if constexpr (std::is_same_v<T, ScanRequest>) return wrap(Scan(r));
            else if constexpr (std::is_same_v<T, BatchGetItemRequest>) return wrap(BatchGetItem(r));
            else if constexpr (std::is_same_v<T, BatchWriteItemRequest>) return wrap(BatchWriteItem(r, apply));
            else if constexpr (std::is_same_v<T, UpdateItemRequest>) return wrap(UpdateItem(r, apply));
            else if constexpr (std::is_same_v<T, UpdateTableRequest>) return wrap(UpdateTable(r, apply));
            else if constexpr (std::is_same_v<T, ReplicationReadChangesRequest>) return wrap(ReplicationReadChanges(r));
            else if constexpr (std::is_same_v<T, ReplicationApplyRequest>) return wrap(ReplicationApply(r, apply));
            else if constexpr (std::is_same_v<T, ReplicationReadTableRequest>) return wrap(ReplicationReadTable(r));
            else if constexpr (std::is_same_v<T, ReplicationBackfillDoneRequest>) return wrap(ReplicationBackfillDone(r, apply));
            else if constexpr (std::is_same_v<T, ReplicationStatusRequest>) return wrap(ReplicationStatus());
            else static_assert(sizeof(T) == 0, "unhandled request type");
          },
          request);
    });
  }

  // msgpack output appended to a std::string.
  struct StringSink {
    std::string* out;
    void write(const char* p, size_t n) { out->append(p, n); }
  };

  Result<std::string> DumpState(const rocksdb::Snapshot* snapshot) {
    // Without the caller's snapshot, one of our own, so the column families are one cut.
    const rocksdb::Snapshot* own = snapshot == nullptr ? db->GetSnapshot() : nullptr;
    struct ReleaseSnapshot {
      rocksdb::DB* db;
      const rocksdb::Snapshot* s;
      ~ReleaseSnapshot() {
        if (s != nullptr) db->ReleaseSnapshot(s);
      }
    } release{db, own};
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot != nullptr ? snapshot : own;
    ro.fill_cache = false;  // a full dump would evict the working set

    std::string out;
    StringSink sink{&out};
    msgpack::packer<StringSink> pk(sink);
    auto pack_str = [&](std::string_view v) {
      pk.pack_str(static_cast<uint32_t>(v.size()));
      pk.pack_str_body(v.data(), static_cast<uint32_t>(v.size()));
    };
    pk.pack_array(4);
    pack_str(kStateMagic);
    pk.pack_uint64(kStateFormat);
    pk.pack_array(static_cast<uint32_t>(kStateCfs.size()));
    for (Cf which : kStateCfs) {
      pk.pack_array(2);
      pack_str(CfName(which));
      // An array32 header whose count is filled in after the scan: keys and values alternate.
      size_t header_at = out.size();
      out.push_back(static_cast<char>(0xdd));
      out.append(4, '\0');
      uint64_t n = 0;
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, Handle(which)));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        for (const rocksdb::Slice& part : {it->key(), it->value()}) {
          pk.pack_bin(static_cast<uint32_t>(part.size()));
          pk.pack_bin_body(part.data(), static_cast<uint32_t>(part.size()));
        }
        n += 2;
        if (n > UINT32_MAX) return Status::Internal("state dump: too many keys in " + std::string(CfName(which)));
      }
      MERIDIAN_RETURN_IF_ERROR(FromRocks(it->status()));
      for (int i = 0; i < 4; ++i) out[header_at + 1 + i] = static_cast<char>((n >> (8 * (3 - i))) & 0xff);
    }
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(out.data()), out.size(), digest);
    pk.pack_bin(SHA256_DIGEST_LENGTH);
    pk.pack_bin_body(reinterpret_cast<const char*>(digest), SHA256_DIGEST_LENGTH);
    return out;
  }

  // Replays a caller's WriteBatch into another batch (RocksDB has no public append).
  class ReplayInto : public rocksdb::WriteBatch::Handler {
   public:
    ReplayInto(rocksdb::WriteBatch* out, const std::vector<rocksdb::ColumnFamilyHandle*>& handles)
        : out_(out), handles_(handles) {}
    rocksdb::Status PutCF(uint32_t id, const rocksdb::Slice& k, const rocksdb::Slice& v) override {
      auto* h = Find(id);
      return h != nullptr ? out_->Put(h, k, v) : Unknown(id);
    }
    rocksdb::Status DeleteCF(uint32_t id, const rocksdb::Slice& k) override {
      auto* h = Find(id);
      return h != nullptr ? out_->Delete(h, k) : Unknown(id);
    }
    rocksdb::Status SingleDeleteCF(uint32_t id, const rocksdb::Slice& k) override {
      auto* h = Find(id);
      return h != nullptr ? out_->SingleDelete(h, k) : Unknown(id);
    }
    rocksdb::Status DeleteRangeCF(uint32_t id, const rocksdb::Slice& b, const rocksdb::Slice& e) override {
      auto* h = Find(id);
      return h != nullptr ? out_->DeleteRange(h, b, e) : Unknown(id);
    }
    rocksdb::Status MergeCF(uint32_t id, const rocksdb::Slice& k, const rocksdb::Slice& v) override {
      auto* h = Find(id);
      return h != nullptr ? out_->Merge(h, k, v) : Unknown(id);
    }
    void LogData(const rocksdb::Slice& blob) override { out_->PutLogData(blob).PermitUncheckedError(); }

   private:
    rocksdb::ColumnFamilyHandle* Find(uint32_t id) const {
      for (auto* h : handles_)
        if (h->GetID() == id) return h;
      return nullptr;
    }
    static rocksdb::Status Unknown(uint32_t id) {
      return rocksdb::Status::InvalidArgument("unknown column family id " + std::to_string(id));
    }
    rocksdb::WriteBatch* out_;
    const std::vector<rocksdb::ColumnFamilyHandle*>& handles_;
  };

  Status InstallState(std::string_view dump, rocksdb::WriteBatch* extra) {
    auto bad = [](const std::string& why) { return Status::Internal("state dump does not decode: " + why); };
    // The dump ends with bin8(32) = 0xc4 0x20 + SHA-256 of every byte before it.
    constexpr size_t kTrailer = 2 + SHA256_DIGEST_LENGTH;
    if (dump.size() < kTrailer) return bad("too short");
    size_t body = dump.size() - kTrailer;
    if (static_cast<uint8_t>(dump[body]) != 0xc4 || static_cast<uint8_t>(dump[body + 1]) != SHA256_DIGEST_LENGTH) {
      return bad("no checksum");
    }
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(dump.data()), body, digest);
    if (std::memcmp(digest, dump.data() + body + 2, SHA256_DIGEST_LENGTH) != 0) return bad("checksum mismatch");

    msgpack::object_handle oh;
    try {
      size_t offset = 0;
      // Keys and values reference `dump` instead of being copied (it outlives the object).
      oh = msgpack::unpack(
          dump.data(), dump.size(), offset, [](msgpack::type::object_type, size_t, void*) { return true; }, nullptr,
          msgpack::unpack_limit(UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX, /*depth=*/8));
      if (offset != dump.size()) return bad("trailing bytes");
    } catch (const std::exception& e) {
      return bad(e.what());
    }
    const msgpack::object& root = oh.get();
    auto is_str = [](const msgpack::object& o, std::string_view want) {
      return o.type == msgpack::type::STR && std::string_view(o.via.str.ptr, o.via.str.size) == want;
    };
    if (root.type != msgpack::type::ARRAY || root.via.array.size != 4) return bad("not a state envelope");
    const msgpack::object* top = root.via.array.ptr;
    if (!is_str(top[0], kStateMagic)) return bad("not a state dump");
    if (top[1].type != msgpack::type::POSITIVE_INTEGER || (top[1].via.u64 != kStateFormat && top[1].via.u64 != 1)) {
      return bad("unknown format version");
    }
    // Format 1 (before global tables) has no versions family: it is left empty.
    std::vector<Cf> dumped(kStateCfs.begin(), kStateCfs.end());
    if (top[1].via.u64 == 1) dumped.assign(kStateCfsFormat1.begin(), kStateCfsFormat1.end());
    if (top[2].type != msgpack::type::ARRAY || top[2].via.array.size != dumped.size()) {
      return bad("wrong column families");
    }

    rocksdb::WriteBatch batch;
    MERIDIAN_RETURN_IF_ERROR(AddStateDeletes(&batch));
    for (size_t i = 0; i < dumped.size(); ++i) {
      const msgpack::object& cf = top[2].via.array.ptr[i];
      if (cf.type != msgpack::type::ARRAY || cf.via.array.size != 2 || !is_str(cf.via.array.ptr[0], CfName(dumped[i]))) {
        return bad("wrong column families");
      }
      const msgpack::object& kvs = cf.via.array.ptr[1];
      if (kvs.type != msgpack::type::ARRAY || kvs.via.array.size % 2 != 0) return bad("bad key/value list");
      rocksdb::ColumnFamilyHandle* h = Handle(dumped[i]);
      for (uint32_t k = 0; k < kvs.via.array.size; k += 2) {
        const msgpack::object& key = kvs.via.array.ptr[k];
        const msgpack::object& value = kvs.via.array.ptr[k + 1];
        if (key.type != msgpack::type::BIN || value.type != msgpack::type::BIN) return bad("key or value not binary");
        MERIDIAN_RETURN_IF_ERROR(FromRocks(batch.Put(h, rocksdb::Slice(key.via.bin.ptr, key.via.bin.size),
                                                     rocksdb::Slice(value.via.bin.ptr, value.via.bin.size))));
      }
    }
    if (extra != nullptr) {
      ReplayInto replay(&batch, handles);
      MERIDIAN_RETURN_IF_ERROR(FromRocks(extra->Iterate(&replay)));
    }
    // Always synced, whatever EngineOptions::sync says: a snapshot replaces the Raft log, so it
    // must be durable before the node acknowledges it. Rare, so the fsync costs nothing.
    rocksdb::WriteOptions wo = write_options;
    wo.sync = true;
    // Exclusive: no reader mixes the old catalog cache with the new items.
    std::unique_lock lock(catalog_mutex);
    MERIDIAN_RETURN_IF_ERROR(FromRocks(db->Write(wo, &batch)));
    return AfterInstall();
  }

  // A DeleteRange per state family covering everything present now: [ "", last key + "\0" ).
  Status AddStateDeletes(rocksdb::WriteBatch* batch) {
    for (Cf which : kStateCfs) {
      rocksdb::ColumnFamilyHandle* h = Handle(which);
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), h));
      it->SeekToLast();
      if (it->Valid()) {
        std::string end = it->key().ToString();
        end.push_back('\0');
        MERIDIAN_RETURN_IF_ERROR(FromRocks(batch->DeleteRange(h, rocksdb::Slice(), end)));
      }
      MERIDIAN_RETURN_IF_ERROR(FromRocks(it->status()));
    }
    return Status::Ok();
  }

  // After the state was replaced (catalog_mutex held exclusively).
  Status AfterInstall() {
    pending_catalog_version.store(0, std::memory_order_release);
    {
      // The normal path's clock and counter start again from the installed state.
      std::lock_guard guard(clock_mutex);
      normal_clock.reset();
      normal_counter.reset();
    }
    return LoadCatalog();
  }

  // ---- staged installs (storage/state_transfer.h) ----
  // In the default column family (node-local, never part of the state): the staging folder of
  // an install whose ingestion may not have happened yet.
  static constexpr char kStagedInstallKey[] = "meridian/staged-install";

  rocksdb::WriteOptions SyncedWrites() const {
    rocksdb::WriteOptions wo = write_options;
    wo.sync = true;
    return wo;
  }

  // The staged files that exist, each checked whole against its block checksums.
  Result<std::vector<std::pair<Cf, std::string>>> StagedFiles(const std::string& dir) {
    std::vector<std::pair<Cf, std::string>> files;
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) return Status::Internal("no staged state in " + dir);
    for (Cf which : kStateCfs) {
      std::string file = StagedFile(dir, which);
      if (!std::filesystem::exists(file, ec)) continue;
      rocksdb::Options o = db->GetOptions(Handle(which));
      rocksdb::SstFileReader reader(o);
      rocksdb::Status s = reader.Open(file);
      if (s.ok()) s = reader.VerifyChecksum();
      if (!s.ok()) return Status::Internal("staged state file " + file + " is damaged: " + s.ToString());
      files.emplace_back(which, std::move(file));
    }
    return files;
  }

  // Deletes the state and ingests the staged files. The files stay in `dir` (each is ingested
  // through a hard link that RocksDB moves in), so this can be done again after a crash.
  Status IngestStaged(const std::string& dir, const std::vector<std::pair<Cf, std::string>>& files) {
    rocksdb::WriteBatch deletes;
    MERIDIAN_RETURN_IF_ERROR(AddStateDeletes(&deletes));
    if (deletes.Count() > 0) MERIDIAN_RETURN_IF_ERROR(FromRocks(db->Write(SyncedWrites(), &deletes)));
    std::vector<rocksdb::IngestExternalFileArg> args;
    for (const auto& [which, file] : files) {
      std::string link = dir + "/ingest-" + CfName(which) + ".sst";
      std::error_code ec;
      std::filesystem::remove(link, ec);
      std::filesystem::create_hard_link(file, link, ec);
      if (ec) return Status::Internal("cannot link " + file + ": " + ec.message());
      rocksdb::IngestExternalFileArg arg;
      arg.column_family = Handle(which);
      arg.external_files = {link};
      arg.options.move_files = true;
      arg.options.allow_blocking_flush = true;  // the DeleteRange above is in the memtable
      args.push_back(std::move(arg));
    }
    if (!args.empty()) MERIDIAN_RETURN_IF_ERROR(FromRocks(db->IngestExternalFiles(args)));
    return Status::Ok();
  }

  Status InstallStagedState(const std::string& dir, rocksdb::WriteBatch* extra) {
    Result<std::vector<std::pair<Cf, std::string>>> files = StagedFiles(dir);
    if (!files.ok()) return files.status();
    std::unique_lock lock(catalog_mutex);
    rocksdb::WriteBatch batch;
    MERIDIAN_RETURN_IF_ERROR(AddStateDeletes(&batch));
    MERIDIAN_RETURN_IF_ERROR(FromRocks(batch.Put(handles[0], kStagedInstallKey, dir)));
    if (extra != nullptr) {
      ReplayInto replay(&batch, handles);
      MERIDIAN_RETURN_IF_ERROR(FromRocks(extra->Iterate(&replay)));
    }
    MERIDIAN_RETURN_IF_ERROR(FromRocks(db->Write(SyncedWrites(), &batch)));
    MERIDIAN_RETURN_IF_ERROR(IngestStaged(dir, *files));
    MERIDIAN_RETURN_IF_ERROR(FinishStagedInstall(dir));
    return AfterInstall();
  }

  Status FinishStagedInstall(const std::string& dir) {
    rocksdb::WriteBatch done;
    MERIDIAN_RETURN_IF_ERROR(FromRocks(done.Delete(handles[0], kStagedInstallKey)));
    MERIDIAN_RETURN_IF_ERROR(FromRocks(db->Write(SyncedWrites(), &done)));
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);  // a leftover folder is harmless: the next staging empties it
    return Status::Ok();
  }

  // At open: an install that stopped after its first write is finished from its staged files.
  Status FinishInterruptedInstall() {
    std::string dir;
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), handles[0], kStagedInstallKey, &dir);
    if (s.IsNotFound()) return Status::Ok();
    MERIDIAN_RETURN_IF_ERROR(FromRocks(s));
    Result<std::vector<std::pair<Cf, std::string>>> files = StagedFiles(dir);
    if (!files.ok()) {
      return Status::Internal("a snapshot install was interrupted and cannot be finished (" + files.status().message() +
                              "); empty this facility's data folder and let it rejoin its region");
    }
    MERIDIAN_RETURN_IF_ERROR(IngestStaged(dir, *files));
    return FinishStagedInstall(dir);
  }
};

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

Result<std::unique_ptr<Engine>> Engine::Open(const std::string& path, EngineOptions options) {
  return Guarded([&]() -> Result<std::unique_ptr<Engine>> {
    auto impl = std::make_unique<Impl>();
    impl->write_options.sync = options.sync;

    rocksdb::DBOptions db_options;
    if (options.env) db_options.env = options.env.get();  // kept alive by impl->options
    db_options.create_if_missing = true;
    // Column families added since a data folder was created ("region") are created on open.
    db_options.create_missing_column_families = true;
    // The memtable budget across all column families.
    db_options.db_write_buffer_size = options.write_buffer_bytes;

    rocksdb::BlockBasedTableOptions table_options;
    table_options.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
    rocksdb::ColumnFamilyOptions cf_options;
    cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));
    cf_options.write_buffer_size = std::max<size_t>(options.write_buffer_bytes / 2, 1 << 20);
    rocksdb::ColumnFamilyOptions catalog_options = cf_options;
    catalog_options.merge_operator = std::make_shared<Int64AddOperator>();

    // In Cf order after the default family (CfIndex).
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
        {rocksdb::kDefaultColumnFamilyName, cf_options},
        {kCfCatalog, catalog_options},
        {kCfItems, cf_options},
        {kCfRaftLog, cf_options},
        {kCfChanges, cf_options},
        {kCfRegion, cf_options},
        {kCfVersions, cf_options},
    };
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(db_options, path, cfs, &impl->handles, &db);
    if (!s.ok()) return Status::Internal("cannot open database at " + path + ": " + s.ToString());
    impl->db = db;
    impl->catalog = impl->Handle(Cf::kCatalog);
    impl->items = impl->Handle(Cf::kItems);
    impl->options = std::move(options);
    MERIDIAN_RETURN_IF_ERROR(impl->FinishInterruptedInstall());
    MERIDIAN_RETURN_IF_ERROR(impl->LoadCatalog());
    return std::unique_ptr<Engine>(new Engine(std::move(impl)));
  });
}

Result<CreateTableResponse> Engine::CreateTable(const CreateTableRequest& r) {
  return impl_->Run(false, [&] { return impl_->CreateTable(r, nullptr); });
}
Result<DescribeTableResponse> Engine::DescribeTable(const DescribeTableRequest& r) {
  return impl_->Run(false, [&] { return impl_->DescribeTable(r); });
}
Result<ListTablesResponse> Engine::ListTables(const ListTablesRequest& r) {
  return impl_->Run(false, [&] { return impl_->ListTables(r); });
}
Result<DeleteTableResponse> Engine::DeleteTable(const DeleteTableRequest& r) {
  return impl_->Run(false, [&] { return impl_->DeleteTable(r, nullptr); });
}
Result<PutItemResponse> Engine::PutItem(const PutItemRequest& r) {
  return impl_->Run(false, [&] { return impl_->PutItem(r, nullptr); });
}
Result<GetItemResponse> Engine::GetItem(const GetItemRequest& r) {
  return impl_->Run(false, [&] { return impl_->GetItem(r); });
}
Result<DeleteItemResponse> Engine::DeleteItem(const DeleteItemRequest& r) {
  return impl_->Run(false, [&] { return impl_->DeleteItem(r, nullptr); });
}
Result<UpdateItemResponse> Engine::UpdateItem(const UpdateItemRequest& r) {
  return impl_->Run(false, [&] { return impl_->UpdateItem(r, nullptr); });
}
Result<QueryResponse> Engine::Query(const QueryRequest& r) {
  return impl_->Run(false, [&] { return impl_->Query(r); });
}
Result<ScanResponse> Engine::Scan(const ScanRequest& r) {
  return impl_->Run(false, [&] { return impl_->Scan(r); });
}
Result<BatchGetItemResponse> Engine::BatchGetItem(const BatchGetItemRequest& r) {
  return impl_->Run(false, [&] { return impl_->BatchGetItem(r); });
}
Result<BatchWriteItemResponse> Engine::BatchWriteItem(const BatchWriteItemRequest& r) {
  return impl_->Run(false, [&] { return impl_->BatchWriteItem(r, nullptr); });
}
Result<UpdateTableResponse> Engine::UpdateTable(const UpdateTableRequest& r) {
  return impl_->Run(false, [&] { return impl_->UpdateTable(r, nullptr); });
}

Result<Response> Engine::Execute(const Request& request) { return impl_->Dispatch(request, nullptr); }

Result<Response> Engine::Execute(const Request& request, const ApplyOptions& apply) {
  if (apply.batch == nullptr) return Status::Internal("Execute: ApplyOptions::batch is null");
  return impl_->Dispatch(request, &apply);
}

Result<std::string> Engine::DumpState(const rocksdb::Snapshot* snapshot) {
  return Guarded([&] { return impl_->DumpState(snapshot); });
}

Status Engine::InstallState(std::string_view dump, rocksdb::WriteBatch* extra) {
  return Guarded([&] { return impl_->InstallState(dump, extra); });
}

Status Engine::InstallStagedState(const std::string& dir, rocksdb::WriteBatch* extra) {
  return Guarded([&] { return impl_->InstallStagedState(dir, extra); });
}

rocksdb::DB* Engine::db() { return impl_->db; }
rocksdb::ColumnFamilyHandle* Engine::cf(Cf which) { return impl_->Handle(which); }
const EngineOptions& Engine::options() const { return impl_->options; }

std::string ChangeKey(uint64_t seq, uint32_t n) {
  std::string k(12, '\0');
  for (int i = 0; i < 8; ++i) k[i] = static_cast<char>(seq >> (56 - 8 * i));
  for (int i = 0; i < 4; ++i) k[8 + i] = static_cast<char>(n >> (24 - 8 * i));
  return k;
}

Result<ChangeRecord> DecodeChange(std::string_view key, std::string_view value) {
  if (key.size() != 12) return Status::Internal("change record key of " + std::to_string(key.size()) + " bytes");
  ChangeRecord out;
  for (int i = 0; i < 8; ++i) out.seq = (out.seq << 8) | static_cast<uint8_t>(key[i]);
  for (int i = 0; i < 4; ++i) out.n = (out.n << 8) | static_cast<uint8_t>(key[8 + i]);
  try {
    msgpack::object_handle h = msgpack::unpack(value.data(), value.size());
    ChangeWire wire;
    h.get().convert(wire);
    out.table = std::move(wire.table);
    out.key = std::move(wire.key);
    out.image = std::move(wire.image);
    out.time_ms = wire.time_ms;
    out.version = std::move(wire.version);
    out.destinations = std::move(wire.destinations);
    out.meta = std::move(wire.meta);
    out.backfill_done = wire.backfill_done;
  } catch (const std::exception& e) {
    return Status::Internal(std::string("change record does not decode: ") + e.what());
  }
  return out;
}

}  // namespace meridian
