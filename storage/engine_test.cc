#include "storage/engine.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <stdlib.h>

#include <cctype>
#include <filesystem>
#include <set>
#include <thread>

namespace meridian {
namespace {

constexpr int64_t kNowMs = 1700000000123;

AttributeValue S(std::string s) { return AttributeValue::S(std::move(s)); }
AttributeValue N(const std::string& n) { return AttributeValue::ParseN(n).value(); }
AttributeValue B(std::string b) { return AttributeValue::B(std::move(b)); }

// A fresh directory under /tmp, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/meridian-engine-XXXXXX";
    char* p = mkdtemp(tmpl);
    EXPECT_NE(p, nullptr);
    path_ = p ? p : "/tmp/meridian-engine-fallback";
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    engine_.reset();
    EngineOptions o;
    o.sync = false;  // tests only: nothing here survives a machine crash
    o.clock_ms = [] { return kNowMs; };
    o.region = "us-test-1";
    o.block_cache_bytes = 8 << 20;
    o.write_buffer_bytes = 8 << 20;
    auto e = Engine::Open(dir_.path() + "/db", std::move(o));
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(e).value();
  }

  // Table `name` with pk "pk" of type pk_type and optionally sk "sk".
  void MakeTable(const std::string& name, AttributeType pk_type = AttributeType::kS,
                 std::optional<AttributeType> sk_type = std::nullopt) {
    CreateTableRequest r;
    r.table_name = name;
    r.key_schema.push_back({"pk", KeyType::kHash});
    r.attribute_definitions.push_back({"pk", pk_type});
    if (sk_type) {
      r.key_schema.push_back({"sk", KeyType::kRange});
      r.attribute_definitions.push_back({"sk", *sk_type});
    }
    r.billing_mode = BillingMode::kPayPerRequest;
    auto res = engine_->CreateTable(r);
    ASSERT_TRUE(res.ok()) << res.status().ToString();
  }

  Status Put(const std::string& table, Item item) {
    PutItemRequest r;
    r.table_name = table;
    r.item = std::move(item);
    return engine_->PutItem(r).status();
  }

  std::optional<Item> Get(const std::string& table, Item key) {
    GetItemRequest r;
    r.table_name = table;
    r.key = std::move(key);
    auto res = engine_->GetItem(r);
    EXPECT_TRUE(res.ok()) << res.status().ToString();
    return res.ok() ? res->item : std::nullopt;
  }

  TableDescription Describe(const std::string& table) {
    auto res = engine_->DescribeTable({table});
    EXPECT_TRUE(res.ok()) << res.status().ToString();
    return res.ok() ? res->table : TableDescription{};
  }

  // Every item of the table, through Scan pages.
  std::vector<Item> AllItems(const std::string& table) {
    std::vector<Item> out;
    ScanRequest r;
    r.table_name = table;
    for (int pages = 0; pages < 10000; ++pages) {
      auto res = engine_->Scan(r);
      EXPECT_TRUE(res.ok()) << res.status().ToString();
      if (!res.ok()) break;
      out.insert(out.end(), res->items.begin(), res->items.end());
      if (!res->last_evaluated_key) break;
      r.exclusive_start_key = res->last_evaluated_key;
    }
    return out;
  }

  // The table's visible state: items and counters. Rejected writes must leave it unchanged.
  struct TableState {
    std::vector<Item> items;
    int64_t item_count;
    int64_t size_bytes;
    bool operator==(const TableState&) const = default;
  };
  TableState State(const std::string& table) {
    TableDescription d = Describe(table);
    return {AllItems(table), d.item_count, d.table_size_bytes};
  }

  QueryResponse MustQuery(QueryRequest r) {
    auto res = engine_->Query(r);
    EXPECT_TRUE(res.ok()) << res.status().ToString();
    return res.ok() ? res.value() : QueryResponse{};
  }

  TempDir dir_;
  std::unique_ptr<Engine> engine_;
};

// 8-4-4-4-12 lowercase hex, version nibble 4, variant 8..b.
bool IsUuidV4(const std::string& u) {
  if (u.size() != 36) return false;
  for (size_t i = 0; i < u.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? u[i] != '-' : !std::isxdigit(static_cast<unsigned char>(u[i])) || std::isupper(static_cast<unsigned char>(u[i]))) return false;
  }
  return u[14] == '4' && std::string("89ab").find(u[19]) != std::string::npos;
}

void ExpectError(const Status& s, ErrorCode code, const std::string& message) {
  EXPECT_EQ(s.code(), code) << s.ToString();
  EXPECT_EQ(s.message(), message);
}

// --- Tables ---------------------------------------------------------------------------------------

TEST_F(EngineTest, CreateDescribeListDeleteTable) {
  CreateTableRequest r;
  r.table_name = "Music";
  r.key_schema = {{"Artist", KeyType::kHash}, {"Song", KeyType::kRange}};
  r.attribute_definitions = {{"Song", AttributeType::kS}, {"Artist", AttributeType::kS}};
  r.provisioned_throughput = ProvisionedThroughput{5, 7};
  auto created = engine_->CreateTable(r);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const TableDescription& d = created->table_description;
  EXPECT_EQ(d.table_name, "Music");
  EXPECT_EQ(d.table_status, TableStatus::kActive);
  EXPECT_EQ(d.table_arn, "arn:aws:dynamodb:us-test-1:000000000000:table/Music");
  EXPECT_TRUE(IsUuidV4(d.table_id)) << d.table_id;
  EXPECT_EQ(d.creation_date_time_ms, kNowMs);
  EXPECT_EQ(d.billing_mode, BillingMode::kProvisioned);
  EXPECT_EQ(d.provisioned_throughput, (ProvisionedThroughput{5, 7}));
  EXPECT_EQ(d.item_count, 0);

  ExpectError(engine_->CreateTable(r).status(), ErrorCode::kResourceInUse, "Table already exists: Music");

  TableDescription described = Describe("Music");
  EXPECT_EQ(described.table_id, d.table_id);
  EXPECT_EQ(described.key_schema, r.key_schema);
  ExpectError(engine_->DescribeTable({"Nope"}).status(), ErrorCode::kResourceNotFound,
              "Requested resource not found: Table: Nope not found");

  auto deleted = engine_->DeleteTable({"Music"});
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->table_description.table_status, TableStatus::kDeleting);
  EXPECT_EQ(deleted->table_description.table_id, d.table_id);
  EXPECT_EQ(engine_->DescribeTable({"Music"}).status().code(), ErrorCode::kResourceNotFound);
  ExpectError(engine_->DeleteTable({"Music"}).status(), ErrorCode::kResourceNotFound,
              "Requested resource not found: Table: Music not found");
}

TEST_F(EngineTest, RecreatedTableDoesNotSeeOldItems) {
  MakeTable("tb1");
  ASSERT_TRUE(Put("tb1", {{"pk", S("a")}, {"x", N("1")}}).ok());
  ASSERT_TRUE(engine_->DeleteTable({"tb1"}).ok());
  MakeTable("tb1");
  EXPECT_FALSE(Get("tb1", {{"pk", S("a")}}).has_value());
  EXPECT_TRUE(AllItems("tb1").empty());
  EXPECT_EQ(Describe("tb1").item_count, 0);
  EXPECT_EQ(Describe("tb1").table_size_bytes, 0);
}

TEST_F(EngineTest, ListTablesPages) {
  for (const char* n : {"ccc", "aaa", "bbb", "ddd", "eee"}) MakeTable(n);
  auto all = engine_->ListTables({});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->table_names, (std::vector<std::string>{"aaa", "bbb", "ccc", "ddd", "eee"}));
  EXPECT_FALSE(all->last_evaluated_table_name);

  ListTablesRequest r;
  r.limit = 2;
  std::vector<std::string> seen;
  for (int i = 0; i < 10; ++i) {
    auto page = engine_->ListTables(r);
    ASSERT_TRUE(page.ok());
    seen.insert(seen.end(), page->table_names.begin(), page->table_names.end());
    if (!page->last_evaluated_table_name) break;
    EXPECT_EQ(*page->last_evaluated_table_name, page->table_names.back());
    r.exclusive_start_table_name = page->last_evaluated_table_name;
  }
  EXPECT_EQ(seen, all->table_names);

  ListTablesRequest exact;
  exact.limit = 5;
  EXPECT_FALSE(engine_->ListTables(exact)->last_evaluated_table_name);

  ListTablesRequest bad;
  bad.limit = 0;
  ExpectError(engine_->ListTables(bad).status(), ErrorCode::kValidation,
              "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have "
              "value greater than or equal to 1");
  bad.limit = 101;
  ExpectError(engine_->ListTables(bad).status(), ErrorCode::kValidation,
              "1 validation error detected: Value '101' at 'limit' failed to satisfy constraint: Member must have "
              "value less than or equal to 100");
}

TEST_F(EngineTest, CreateTableValidation) {
  auto base = [] {
    CreateTableRequest r;
    r.table_name = "tbl";
    r.key_schema = {{"pk", KeyType::kHash}};
    r.attribute_definitions = {{"pk", AttributeType::kS}};
    r.billing_mode = BillingMode::kPayPerRequest;
    return r;
  };
  struct Case {
    std::function<void(CreateTableRequest&)> edit;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](auto& r) { r.table_name = "ab"; },
       "1 validation error detected: Value 'ab' at 'tableName' failed to satisfy constraint: Member must have length "
       "greater than or equal to 3"},
      {[](auto& r) { r.table_name = std::string(256, 'a'); },
       "1 validation error detected: Value '" + std::string(256, 'a') +
           "' at 'tableName' failed to satisfy constraint: Member must have length less than or equal to 255"},
      {[](auto& r) { r.table_name = "bad name"; },
       "1 validation error detected: Value 'bad name' at 'tableName' failed to satisfy constraint: Member must "
       "satisfy regular expression pattern: [a-zA-Z0-9_.-]+"},
      {[](auto& r) { r.table_name = "a$"; },
       "2 validation errors detected: Value 'a$' at 'tableName' failed to satisfy constraint: Member must satisfy "
       "regular expression pattern: [a-zA-Z0-9_.-]+; Value 'a$' at 'tableName' failed to satisfy constraint: Member "
       "must have length greater than or equal to 3"},
      {[](auto& r) { r.key_schema.clear(); },
       "1 validation error detected: Value null at 'keySchema' failed to satisfy constraint: Member must not be null"},
      {[](auto& r) { r.key_schema = {{"sk", KeyType::kRange}, {"pk", KeyType::kHash}}; r.attribute_definitions.push_back({"sk", AttributeType::kN}); },
       "Invalid KeySchema: The first KeySchemaElement is not a HASH key type"},
      {[](auto& r) { r.key_schema.push_back({"sk", KeyType::kHash}); r.attribute_definitions.push_back({"sk", AttributeType::kN}); },
       "Too many hash keys specified.  All Dynamo DB tables must have exactly one hash key"},
      {[](auto& r) { r.key_schema.push_back({"pk", KeyType::kRange}); },
       "Both the Hash Key and the Range Key element in the KeySchema have the same name"},
      {[](auto& r) { r.key_schema.push_back({"a", KeyType::kRange}); r.key_schema.push_back({"b", KeyType::kRange}); },
       "1 validation error detected: Value '3' at 'keySchema' failed to satisfy constraint: Member must have length "
       "less than or equal to 2"},
      {[](auto& r) { r.attribute_definitions = {{"other", AttributeType::kS}}; },
       "One or more parameter values were invalid: Some index key attributes are not defined in "
       "AttributeDefinitions. Keys: [pk], AttributeDefinitions: [other]"},
      {[](auto& r) { r.attribute_definitions.push_back({"extra", AttributeType::kS}); },
       "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number "
       "of attributes defined in AttributeDefinitions"},
      {[](auto& r) { r.attribute_definitions = {{"pk", AttributeType::kBool}}; },
       "1 validation error detected: Value 'BOOL' at 'attributeDefinitions.1.member.attributeType' failed to satisfy "
       "constraint: Member must satisfy enum value set: [B, N, S]"},
      {[](auto& r) { r.attribute_definitions.push_back({"pk", AttributeType::kS}); },
       "Cannot have two attributes with the same name"},
      {[](auto& r) { r.billing_mode.reset(); },
       "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified "
       "when BillingMode is PROVISIONED"},
      {[](auto& r) { r.provisioned_throughput = ProvisionedThroughput{1, 1}; },
       "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified "
       "when BillingMode is PAY_PER_REQUEST"},
      {[](auto& r) { r.billing_mode = BillingMode::kProvisioned; r.provisioned_throughput = ProvisionedThroughput{0, 1}; },
       "1 validation error detected: Value '0' at 'provisionedThroughput.readCapacityUnits' failed to satisfy "
       "constraint: Member must have value greater than or equal to 1"},
      {[](auto& r) { r.billing_mode = BillingMode::kProvisioned; r.provisioned_throughput = ProvisionedThroughput{1, 40001}; },
       "1 validation error detected: Value '40001' at 'provisionedThroughput.writeCapacityUnits' failed to satisfy "
       "constraint: Member must have value less than or equal to 40000"},
  };
  for (const auto& c : cases) {
    CreateTableRequest r = base();
    c.edit(r);
    ExpectError(engine_->CreateTable(r).status(), ErrorCode::kValidation, c.message);
  }
  EXPECT_TRUE(engine_->ListTables({})->table_names.empty()) << "a rejected CreateTable created a table";
  EXPECT_TRUE(engine_->CreateTable(base()).ok());
}

TEST_F(EngineTest, EveryOperationChecksTheTableName) {
  const std::string m = "1 validation error detected: Value 'x' at 'tableName' failed to satisfy constraint: Member "
                        "must have length greater than or equal to 3";
  ExpectError(engine_->DescribeTable({"x"}).status(), ErrorCode::kValidation, m);
  ExpectError(engine_->DeleteTable({"x"}).status(), ErrorCode::kValidation, m);
  ExpectError(engine_->PutItem({"x", {{"pk", S("a")}}}).status(), ErrorCode::kValidation, m);
  ExpectError(engine_->GetItem({"x", {{"pk", S("a")}}}).status(), ErrorCode::kValidation, m);
  ExpectError(engine_->DeleteItem({"x", {{"pk", S("a")}}}).status(), ErrorCode::kValidation, m);
  QueryRequest q;
  q.table_name = "x";
  ExpectError(engine_->Query(q).status(), ErrorCode::kValidation, m);
  ScanRequest s;
  s.table_name = "x";
  ExpectError(engine_->Scan(s).status(), ErrorCode::kValidation, m);
  // Unknown tables.
  ExpectError(engine_->PutItem({"missing", {{"pk", S("a")}}}).status(), ErrorCode::kResourceNotFound,
              "Requested resource not found");
  ExpectError(engine_->GetItem({"missing", {{"pk", S("a")}}}).status(), ErrorCode::kResourceNotFound,
              "Requested resource not found");
  ExpectError(engine_->DeleteItem({"missing", {{"pk", S("a")}}}).status(), ErrorCode::kResourceNotFound,
              "Requested resource not found");
  q.table_name = "missing";
  ExpectError(engine_->Query(q).status(), ErrorCode::kResourceNotFound, "Requested resource not found");
  s.table_name = "missing";
  ExpectError(engine_->Scan(s).status(), ErrorCode::kResourceNotFound, "Requested resource not found");
}

// --- Items ----------------------------------------------------------------------------------------

TEST_F(EngineTest, PutGetDeleteWithReturnValues) {
  MakeTable("items", AttributeType::kS, AttributeType::kN);
  Item v1 = {{"pk", S("a")}, {"sk", N("1")}, {"val", S("one")}, {"tags", AttributeValue::SS({"x", "y"})}};
  PutItemRequest put;
  put.table_name = "items";
  put.item = v1;
  put.return_values = ReturnValue::kAllOld;
  auto r1 = engine_->PutItem(put);
  ASSERT_TRUE(r1.ok()) << r1.status().ToString();
  EXPECT_FALSE(r1->attributes.has_value()) << "no old item";
  EXPECT_FALSE(r1->consumed_capacity.has_value());

  Item v2 = v1;
  v2["val"] = S("two");
  put.item = v2;
  auto r2 = engine_->PutItem(put);
  ASSERT_TRUE(r2.ok());
  ASSERT_TRUE(r2->attributes.has_value());
  EXPECT_EQ(*r2->attributes, v1);
  put.return_values = ReturnValue::kNone;
  auto r3 = engine_->PutItem(put);
  ASSERT_TRUE(r3.ok());
  EXPECT_FALSE(r3->attributes.has_value());

  EXPECT_EQ(Get("items", {{"pk", S("a")}, {"sk", N("1")}}), v2);
  EXPECT_EQ(Get("items", {{"pk", S("a")}, {"sk", N("1.0")}}), v2) << "numbers are keys by value";
  EXPECT_FALSE(Get("items", {{"pk", S("a")}, {"sk", N("2")}}).has_value());

  DeleteItemRequest del;
  del.table_name = "items";
  del.key = {{"pk", S("a")}, {"sk", N("1")}};
  del.return_values = ReturnValue::kAllOld;
  auto d1 = engine_->DeleteItem(del);
  ASSERT_TRUE(d1.ok());
  EXPECT_EQ(d1->attributes, v2);
  auto d2 = engine_->DeleteItem(del);
  ASSERT_TRUE(d2.ok());
  EXPECT_FALSE(d2->attributes.has_value());
  EXPECT_FALSE(Get("items", del.key).has_value());

  for (ReturnValue bad : {ReturnValue::kAllNew, ReturnValue::kUpdatedOld, ReturnValue::kUpdatedNew}) {
    put.return_values = bad;
    ExpectError(engine_->PutItem(put).status(), ErrorCode::kValidation, "Return values set to invalid value");
    del.return_values = bad;
    ExpectError(engine_->DeleteItem(del).status(), ErrorCode::kValidation, "Return values set to invalid value");
  }
  EXPECT_TRUE(AllItems("items").empty());
}

TEST_F(EngineTest, CountersFollowWrites) {
  MakeTable("cnt");
  Item a = {{"pk", S("a")}, {"v", S("12345")}};  // 2+1 + 1+5 = 9 bytes
  Item b = {{"pk", S("bb")}};                    // 4 bytes
  ASSERT_TRUE(Put("cnt", a).ok());
  ASSERT_TRUE(Put("cnt", b).ok());
  EXPECT_EQ(Describe("cnt").item_count, 2);
  EXPECT_EQ(Describe("cnt").table_size_bytes, 13);
  a["v"] = S("1");  // 5 bytes now
  ASSERT_TRUE(Put("cnt", a).ok());
  EXPECT_EQ(Describe("cnt").item_count, 2);
  EXPECT_EQ(Describe("cnt").table_size_bytes, 9);
  ASSERT_TRUE(engine_->DeleteItem({"cnt", {{"pk", S("bb")}}}).ok());
  ASSERT_TRUE(engine_->DeleteItem({"cnt", {{"pk", S("zz")}}}).ok());  // absent: no change
  EXPECT_EQ(Describe("cnt").item_count, 1);
  EXPECT_EQ(Describe("cnt").table_size_bytes, 5);
}

TEST_F(EngineTest, BadItemsAreRejectedAndChangeNothing) {
  MakeTable("val", AttributeType::kS, AttributeType::kB);
  ASSERT_TRUE(Put("val", {{"pk", S("keep")}, {"sk", B("\x01")}, {"v", N("7")}}).ok());
  const TableState before = State("val");

  struct Case {
    Item item;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{{"sk", B("x")}}, "One or more parameter values were invalid: Missing the key pk in the item"},
      {{{"pk", S("a")}}, "One or more parameter values were invalid: Missing the key sk in the item"},
      {{{"pk", N("1")}, {"sk", B("x")}},
       "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N"},
      {{{"pk", S("a")}, {"sk", S("x")}},
       "One or more parameter values were invalid: Type mismatch for key sk expected: B actual: S"},
      {{{"pk", S("")}, {"sk", B("x")}},
       "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty "
       "string value. Key: pk"},
      {{{"pk", S("a")}, {"sk", B("")}},
       "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty "
       "binary value. Key: sk"},
      {{{"pk", S(std::string(2049, 'p'))}, {"sk", B("x")}},
       "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes"},
      {{{"pk", S("a")}, {"sk", B(std::string(1025, 's'))}},
       "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of "
       "1024 bytes"},
      {{{"pk", S("a")}, {"sk", B("x")}, {"big", S(std::string(400 * 1024, 'b'))}},
       "Item size has exceeded the maximum allowed size"},
      {{{"pk", S("a")}, {"sk", B("x")}, {"set", AttributeValue::SS({"d", "d"})}},
       "One or more parameter values were invalid: Input collection contains duplicates"},
      {{{"pk", S("a")}, {"sk", B("x")}, {"set", AttributeValue::NS({})}},
       "One or more parameter values were invalid: An number set  may not be empty"},
      {{{"pk", S("a")}, {"sk", B("x")}, {"", S("empty name")}},
       "One or more parameter values were invalid: An attribute name must be 1 to 65535 bytes of UTF-8"},
      {{{"pk", S("a")}, {"sk", B("x")}, {"v", S("\xff not utf-8")}},
       "One or more parameter values were invalid: A string is not valid UTF-8"},
  };
  for (const auto& c : cases) {
    ExpectError(Put("val", c.item), ErrorCode::kValidation, c.message);
    EXPECT_EQ(State("val"), before) << c.message;
  }
  // The largest keys allowed are accepted.
  EXPECT_TRUE(Put("val", {{"pk", S(std::string(2048, 'p'))}, {"sk", B(std::string(1024, 's'))}}).ok());

  const std::vector<Item> bad_keys = {
      {{"pk", S("keep")}},
      {{"pk", S("keep")}, {"sk", B("\x01")}, {"v", N("7")}},
      {{"pk", S("keep")}, {"other", B("\x01")}},
      {{"pk", N("1")}, {"sk", B("\x01")}},
      {},
  };
  for (const auto& key : bad_keys) {
    ExpectError(engine_->GetItem({"val", key}).status(), ErrorCode::kValidation,
                "The provided key element does not match the schema");
    ExpectError(engine_->DeleteItem({"val", key}).status(), ErrorCode::kValidation,
                "The provided key element does not match the schema");
  }
  ExpectError(engine_->DeleteItem({"val", {{"pk", S("")}, {"sk", B("\x01")}}}).status(), ErrorCode::kValidation,
              "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an "
              "empty string value. Key: pk");
}

TEST_F(EngineTest, ReopenKeepsTablesItemsAndCounters) {
  MakeTable("persist", AttributeType::kN);
  MakeTable("gone");
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(Put("persist", {{"pk", N(std::to_string(i))}, {"v", S("x")}}).ok());
  ASSERT_TRUE(Put("gone", {{"pk", S("a")}}).ok());
  ASSERT_TRUE(engine_->DeleteTable({"gone"}).ok());
  const TableState before = State("persist");
  const TableDescription desc = Describe("persist");
  Reopen();
  EXPECT_EQ(State("persist"), before);
  EXPECT_EQ(before.item_count, 50);
  EXPECT_EQ(Describe("persist").table_id, desc.table_id);
  EXPECT_EQ(engine_->ListTables({})->table_names, std::vector<std::string>{"persist"});
  // The table id counter survives too: a table created after reopening sees nothing old.
  MakeTable("gone");
  EXPECT_TRUE(AllItems("gone").empty());
  ASSERT_TRUE(Put("persist", {{"pk", N("1000")}}).ok());
  EXPECT_EQ(Describe("persist").item_count, 51);
}

TEST_F(EngineTest, ConcurrentWritesToOneItemKeepCountersExact) {
  MakeTable("conc");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 100; ++i) {
        Item item = {{"pk", S("hot")}, {"v", S(std::string(1 + (i + t) % 7, 'x'))}};
        EXPECT_TRUE(Put("conc", item).ok());
        if (i % 10 == 0) {
          EXPECT_TRUE(engine_->DeleteItem({"conc", {{"pk", S("hot")}}}).ok());
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  auto items = AllItems("conc");
  TableDescription d = Describe("conc");
  EXPECT_EQ(d.item_count, static_cast<int64_t>(items.size()));
  int64_t size = 0;
  for (const auto& i : items) size += static_cast<int64_t>(ItemSize(i));
  EXPECT_EQ(d.table_size_bytes, size);
}

// --- Query ----------------------------------------------------------------------------------------

std::vector<AttributeValue> SortKeys(const std::vector<Item>& items) {
  std::vector<AttributeValue> out;
  for (const auto& i : items) out.push_back(i.at("sk"));
  return out;
}

TEST_F(EngineTest, QueryOrdersSortKeysOfEveryType) {
  struct Case {
    AttributeType type;
    std::vector<AttributeValue> ascending;
  };
  const std::vector<Case> cases = {
      {AttributeType::kN, {N("-1E+125"), N("-100"), N("-1.5"), N("-1"), N("-0.001"), N("0"), N("0.5"), N("1"),
                           N("2"), N("10"), N("1E+125")}},
      {AttributeType::kS, {S("A"), S("Z"), S("a"), S("aa"), S("ab"), S("b"), S("\xc3\xa9")}},
      {AttributeType::kB, {B(std::string("\0", 1)), B(std::string("\0\0", 2)), B("\x01"), B("\x7f"), B("\x80"),
                           B("\xff"), B("\xff\xff")}},
  };
  int n = 0;
  for (const auto& c : cases) {
    std::string table = "order" + std::to_string(n++);
    MakeTable(table, AttributeType::kS, c.type);
    // Insert in a scrambled order; another partition interleaves.
    for (size_t i = 0; i < c.ascending.size(); ++i) {
      const auto& v = c.ascending[(i * 5) % c.ascending.size()];
      ASSERT_TRUE(Put(table, {{"pk", S("p")}, {"sk", v}}).ok());
      ASSERT_TRUE(Put(table, {{"pk", S("q")}, {"sk", v}}).ok());
    }
    QueryRequest q;
    q.table_name = table;
    q.key_condition_expression = "pk = :p";
    q.expression_attribute_values = {{":p", S("p")}};
    auto fwd = MustQuery(q);
    EXPECT_EQ(SortKeys(fwd.items), c.ascending) << table;
    EXPECT_EQ(fwd.count, static_cast<int64_t>(c.ascending.size()));
    EXPECT_EQ(fwd.scanned_count, fwd.count);
    EXPECT_FALSE(fwd.last_evaluated_key);
    q.scan_index_forward = false;
    auto back = MustQuery(q);
    std::vector<AttributeValue> descending(c.ascending.rbegin(), c.ascending.rend());
    EXPECT_EQ(SortKeys(back.items), descending) << table;
  }
}

TEST_F(EngineTest, QuerySortKeyConditions) {
  MakeTable("cond", AttributeType::kS, AttributeType::kS);
  for (const char* sk : {"a", "ab", "abc", "abd", "b", "bta", "c"}) ASSERT_TRUE(Put("cond", {{"pk", S("p")}, {"sk", S(sk)}}).ok());
  ASSERT_TRUE(Put("cond", {{"pk", S("other")}, {"sk", S("ab")}}).ok());
  struct Case {
    std::string condition;
    ExpressionAttributeValues values;
    std::vector<std::string> want;
  };
  const std::vector<Case> cases = {
      {"sk = :v", {{":v", S("ab")}}, {"ab"}},
      {"sk = :v", {{":v", S("zz")}}, {}},
      {"sk < :v", {{":v", S("abc")}}, {"a", "ab"}},
      {"sk <= :v", {{":v", S("abc")}}, {"a", "ab", "abc"}},
      {"sk > :v", {{":v", S("b")}}, {"bta", "c"}},
      {"sk >= :v", {{":v", S("b")}}, {"b", "bta", "c"}},
      {"sk BETWEEN :v AND :w", {{":v", S("ab")}, {":w", S("b")}}, {"ab", "abc", "abd", "b"}},
      {"sk BETWEEN :v AND :w", {{":v", S("ab")}, {":w", S("ab")}}, {"ab"}},
      {"begins_with(sk, :v)", {{":v", S("ab")}}, {"ab", "abc", "abd"}},
      {"begins_with(sk, :v)", {{":v", S("b")}}, {"b", "bta"}},
      {"begins_with(sk, :v)", {{":v", S("")}}, {"a", "ab", "abc", "abd", "b", "bta", "c"}},
  };
  for (const auto& c : cases) {
    for (bool forward : {true, false}) {
      QueryRequest q;
      q.table_name = "cond";
      q.key_condition_expression = "pk = :p AND " + c.condition;
      q.expression_attribute_values = c.values;
      q.expression_attribute_values[":p"] = S("p");
      q.scan_index_forward = forward;
      auto res = MustQuery(q);
      std::vector<AttributeValue> want;
      for (const auto& s : c.want) want.push_back(S(s));
      if (!forward) std::reverse(want.begin(), want.end());
      EXPECT_EQ(SortKeys(res.items), want) << c.condition << (forward ? " forward" : " backward");
    }
  }
}

TEST_F(EngineTest, QueryBeginsWithOnBinaryEdgeBytes) {
  MakeTable("bin", AttributeType::kS, AttributeType::kB);
  for (std::string sk : {std::string("\xff", 1), std::string("\xff\x00", 2), std::string("\xff\xff", 2),
                         std::string("\xfe\xff", 2), std::string("\x00", 1)}) {
    ASSERT_TRUE(Put("bin", {{"pk", S("p")}, {"sk", B(sk)}}).ok());
  }
  QueryRequest q;
  q.table_name = "bin";
  q.key_condition_expression = "pk = :p AND begins_with(sk, :v)";
  q.expression_attribute_values = {{":p", S("p")}, {":v", B("\xff")}};
  EXPECT_EQ(SortKeys(MustQuery(q).items),
            (std::vector<AttributeValue>{B("\xff"), B(std::string("\xff\x00", 2)), B("\xff\xff")}));
}

TEST_F(EngineTest, QueryPagingVisitsEveryItemOnce) {
  MakeTable("page", AttributeType::kS, AttributeType::kN);
  constexpr int kItems = 57;
  for (int i = 0; i < kItems; ++i) ASSERT_TRUE(Put("page", {{"pk", S("p")}, {"sk", N(std::to_string(i - 20) + ".5")}}).ok());
  for (int other = 0; other < 10; ++other) ASSERT_TRUE(Put("page", {{"pk", S("x" + std::to_string(other))}, {"sk", N("1")}}).ok());
  for (bool forward : {true, false}) {
    for (int64_t limit : {1, 7, 57, 100}) {
      QueryRequest q;
      q.table_name = "page";
      q.key_condition_expression = "pk = :p";
      q.expression_attribute_values = {{":p", S("p")}};
      q.scan_index_forward = forward;
      q.limit = limit;
      std::vector<AttributeValue> seen;
      int pages = 0;
      while (pages++ < 200) {
        auto res = MustQuery(q);
        EXPECT_LE(res.count, limit);
        auto keys = SortKeys(res.items);
        seen.insert(seen.end(), keys.begin(), keys.end());
        if (res.count == limit) {
          // DynamoDB returns LastEvaluatedKey when Limit stopped the page, even at the very end.
          EXPECT_TRUE(res.last_evaluated_key.has_value());
        }
        if (!res.last_evaluated_key) break;
        EXPECT_EQ(res.last_evaluated_key->size(), 2u);
        EXPECT_EQ(res.last_evaluated_key->at("sk"), res.items.back().at("sk"));
        q.exclusive_start_key = res.last_evaluated_key;
      }
      ASSERT_EQ(seen.size(), static_cast<size_t>(kItems)) << "limit " << limit;
      for (size_t i = 1; i < seen.size(); ++i) {
        int cmp = seen[i - 1].n().Compare(seen[i].n());
        EXPECT_EQ(cmp, forward ? -1 : 1);
      }
    }
  }
}

TEST_F(EngineTest, QuerySelectCountAndErrors) {
  MakeTable("qerr", AttributeType::kS, AttributeType::kN);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Put("qerr", {{"pk", S("p")}, {"sk", N(std::to_string(i))}}).ok());
  QueryRequest base;
  base.table_name = "qerr";
  base.key_condition_expression = "pk = :p";
  base.expression_attribute_values = {{":p", S("p")}};

  QueryRequest count = base;
  count.select = Select::kCount;
  auto c = MustQuery(count);
  EXPECT_TRUE(c.count_only);
  EXPECT_TRUE(c.items.empty());
  EXPECT_EQ(c.count, 5);
  EXPECT_EQ(c.scanned_count, 5);

  QueryRequest r = base;
  r.limit = 0;
  ExpectError(engine_->Query(r).status(), ErrorCode::kValidation,
              "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value "
              "greater than or equal to 1");
  r = base;
  r.index_name = "byOther";
  ExpectError(engine_->Query(r).status(), ErrorCode::kValidation, "The table does not have the specified index: byOther");
  r = base;
  r.select = Select::kAllProjectedAttributes;
  ExpectError(engine_->Query(r).status(), ErrorCode::kValidation,
              "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName");
  r = base;
  r.select = Select::kSpecificAttributes;
  EXPECT_EQ(engine_->Query(r).status().code(), ErrorCode::kValidation);
  r = base;
  r.key_condition_expression = "sk = :p";
  r.expression_attribute_values = {{":p", N("1")}};
  ExpectError(engine_->Query(r).status(), ErrorCode::kValidation, "Query condition missed key schema element: pk");
  r = base;
  r.expression_attribute_values[":unused"] = S("x");
  ExpectError(engine_->Query(r).status(), ErrorCode::kValidation,
              "Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}");
  r = base;
  r.exclusive_start_key = Item{{"pk", S("p")}};
  ExpectError(engine_->Query(r).status(), ErrorCode::kValidation,
              "The provided starting key is invalid: The provided key element does not match the schema");
  r.exclusive_start_key = Item{{"pk", S("other")}, {"sk", N("1")}};
  ExpectError(engine_->Query(r).status(), ErrorCode::kValidation,
              "The provided starting key is outside query boundaries based on provided conditions");
  // A start key past the last item gives an empty page.
  r.exclusive_start_key = Item{{"pk", S("p")}, {"sk", N("100")}};
  auto empty = MustQuery(r);
  EXPECT_EQ(empty.count, 0);
  EXPECT_FALSE(empty.last_evaluated_key);
}

// 300 items of about 10 KB in one partition: each page stops once it has read 1 MB.
TEST_F(EngineTest, PagesStopAtOneMegabyte) {
  MakeTable("big", AttributeType::kS, AttributeType::kN);
  const std::string payload(10 * 1024, 'x');
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(Put("big", {{"pk", S("p")}, {"sk", N(std::to_string(i))}, {"data", S(payload)}}).ok());
  const size_t item_size = ItemSize({{"pk", S("p")}, {"sk", N("100")}, {"data", S(payload)}});
  const size_t per_page = ((1 << 20) + item_size - 1) / item_size;  // the item that reaches 1 MB is included

  QueryRequest q;
  q.table_name = "big";
  q.key_condition_expression = "pk = :p";
  q.expression_attribute_values = {{":p", S("p")}};
  std::set<std::string> seen;
  int pages = 0;
  while (true) {
    auto res = MustQuery(q);
    ++pages;
    size_t bytes = 0;
    for (const auto& i : res.items) bytes += ItemSize(i);
    if (res.last_evaluated_key) {
      EXPECT_GE(bytes, size_t{1} << 20);
      EXPECT_LT(bytes - ItemSize(res.items.back()), size_t{1} << 20);
    }
    for (const auto& i : res.items) EXPECT_TRUE(seen.insert(i.at("sk").n().ToString()).second);
    if (!res.last_evaluated_key || pages > 50) break;
    q.exclusive_start_key = res.last_evaluated_key;
  }
  EXPECT_EQ(seen.size(), 300u);
  EXPECT_GE(pages, 3);
  EXPECT_LE(pages, static_cast<int>(300 / (per_page - 1)) + 2);

  ScanRequest s;
  s.table_name = "big";
  auto first = engine_->Scan(s);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->last_evaluated_key.has_value());
  EXPECT_EQ(first->items.size(), per_page);
  EXPECT_EQ(AllItems("big").size(), 300u);
}

// --- Scan -----------------------------------------------------------------------------------------

TEST_F(EngineTest, ParallelScanSegmentsPartitionTheTable) {
  MakeTable("seg", AttributeType::kN, AttributeType::kS);
  constexpr int kItems = 400;
  for (int i = 0; i < kItems; ++i) ASSERT_TRUE(Put("seg", {{"pk", N(std::to_string(i % 100))}, {"sk", S(std::to_string(i))}}).ok());
  std::multiset<std::string> seen;
  for (int64_t seg = 0; seg < 4; ++seg) {
    ScanRequest s;
    s.table_name = "seg";
    s.segment = seg;
    s.total_segments = 4;
    s.limit = 13;
    int segment_items = 0;
    for (int pages = 0; pages < 1000; ++pages) {
      auto res = engine_->Scan(s);
      ASSERT_TRUE(res.ok()) << res.status().ToString();
      for (const auto& i : res->items) {
        seen.insert(i.at("pk").n().ToString() + "/" + i.at("sk").s());
        ++segment_items;
      }
      if (!res->last_evaluated_key) break;
      s.exclusive_start_key = res->last_evaluated_key;
    }
    EXPECT_GT(segment_items, 0) << "segment " << seg;
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kItems));
  for (const auto& k : seen) EXPECT_EQ(seen.count(k), 1u) << k;

  // A start key from another segment is refused.
  ScanRequest s;
  s.table_name = "seg";
  s.total_segments = 4;
  int refused = 0;
  for (int pk = 0; pk < 20; ++pk) {
    s.segment = 0;
    s.exclusive_start_key = Item{{"pk", N(std::to_string(pk))}, {"sk", S("x")}};
    int accepted = 0;
    for (int64_t seg = 0; seg < 4; ++seg) {
      s.segment = seg;
      auto res = engine_->Scan(s);
      if (res.ok()) {
        ++accepted;
      } else {
        ++refused;
        EXPECT_EQ(res.status().message(),
                  "The provided Exclusive start key does not map to the provided Segment and TotalSegments values.");
      }
    }
    EXPECT_EQ(accepted, 1);
  }
  EXPECT_EQ(refused, 60);
}

TEST_F(EngineTest, ScanParameterErrors) {
  MakeTable("scan");
  struct Case {
    std::optional<int64_t> segment, total, limit;
    std::string message;
  };
  const std::vector<Case> cases = {
      {1, std::nullopt, std::nullopt,
       "The TotalSegments parameter is required but was not present in the request when Segment parameter is present"},
      {std::nullopt, 2, std::nullopt,
       "The Segment parameter is required but was not present in the request when parameter TotalSegments is present"},
      {4, 4, std::nullopt,
       "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: 4 is not less than "
       "TotalSegments: 4"},
      {0, 0, std::nullopt,
       "1 validation error detected: Value '0' at 'totalSegments' failed to satisfy constraint: Member must have value "
       "greater than or equal to 1"},
      {0, 1000001, std::nullopt,
       "1 validation error detected: Value '1000001' at 'totalSegments' failed to satisfy constraint: Member must have "
       "value less than or equal to 1000000"},
      {-1, 2, std::nullopt,
       "1 validation error detected: Value '-1' at 'segment' failed to satisfy constraint: Member must have value "
       "greater than or equal to 0"},
      {std::nullopt, std::nullopt, 0,
       "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater "
       "than or equal to 1"},
  };
  for (const auto& c : cases) {
    ScanRequest s;
    s.table_name = "scan";
    s.segment = c.segment;
    s.total_segments = c.total;
    s.limit = c.limit;
    ExpectError(engine_->Scan(s).status(), ErrorCode::kValidation, c.message);
  }
  ScanRequest ok;
  ok.table_name = "scan";
  ok.segment = 999999;
  ok.total_segments = 1000000;
  ok.consistent_read = true;
  EXPECT_TRUE(engine_->Scan(ok).ok());
  ScanRequest idx;
  idx.table_name = "scan";
  idx.index_name = "gsi";
  ExpectError(engine_->Scan(idx).status(), ErrorCode::kValidation, "The table does not have the specified index: gsi");
  ScanRequest bad_start;
  bad_start.table_name = "scan";
  bad_start.exclusive_start_key = Item{{"nope", S("x")}};
  ExpectError(engine_->Scan(bad_start).status(), ErrorCode::kValidation,
              "The provided starting key is invalid: The provided key element does not match the schema");
}

TEST_F(EngineTest, ScanCountAndLimit) {
  MakeTable("scnt", AttributeType::kN);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(Put("scnt", {{"pk", N(std::to_string(i))}}).ok());
  ScanRequest s;
  s.table_name = "scnt";
  s.select = Select::kCount;
  auto res = engine_->Scan(s);
  ASSERT_TRUE(res.ok());
  EXPECT_TRUE(res->count_only);
  EXPECT_EQ(res->count, 10);
  EXPECT_TRUE(res->items.empty());
  s.limit = 10;
  res = engine_->Scan(s);
  EXPECT_EQ(res->count, 10);
  EXPECT_TRUE(res->last_evaluated_key.has_value()) << "Limit reached sets LastEvaluatedKey";
}

// --- Batches --------------------------------------------------------------------------------------

TEST_F(EngineTest, BatchWriteAndGet) {
  MakeTable("bta");
  MakeTable("btb", AttributeType::kN, AttributeType::kN);
  ASSERT_TRUE(Put("bta", {{"pk", S("old")}}).ok());
  BatchWriteItemRequest w;
  for (int i = 0; i < 10; ++i) w.request_items["bta"].push_back({Item{{"pk", S("k" + std::to_string(i))}}, std::nullopt});
  w.request_items["bta"].push_back({std::nullopt, Item{{"pk", S("old")}}});
  for (int i = 0; i < 14; ++i) w.request_items["btb"].push_back({Item{{"pk", N("1")}, {"sk", N(std::to_string(i))}}, std::nullopt});
  w.return_consumed_capacity = ReturnConsumedCapacity::kTotal;
  auto wr = engine_->BatchWriteItem(w);
  ASSERT_TRUE(wr.ok()) << wr.status().ToString();
  EXPECT_TRUE(wr->unprocessed_items.empty());
  ASSERT_EQ(wr->consumed_capacity.size(), 2u);
  EXPECT_EQ(wr->consumed_capacity[0].table_name, "bta");
  EXPECT_EQ(wr->consumed_capacity[0].capacity_units, 11);
  EXPECT_EQ(wr->consumed_capacity[1].write_capacity_units, 14);
  EXPECT_EQ(Describe("bta").item_count, 10);
  EXPECT_EQ(Describe("btb").item_count, 14);
  EXPECT_FALSE(Get("bta", {{"pk", S("old")}}));

  BatchGetItemRequest g;
  g.request_items["bta"].keys = {{{"pk", S("k1")}}, {{"pk", S("k2")}}, {{"pk", S("absent")}}};
  g.request_items["btb"].keys = {{{"pk", N("1")}, {"sk", N("13")}}};
  g.request_items["btb"].consistent_read = true;
  g.return_consumed_capacity = ReturnConsumedCapacity::kIndexes;
  auto gr = engine_->BatchGetItem(g);
  ASSERT_TRUE(gr.ok()) << gr.status().ToString();
  EXPECT_EQ(gr->responses["bta"].size(), 2u);
  ASSERT_EQ(gr->responses["btb"].size(), 1u);
  EXPECT_EQ(gr->responses["btb"][0].at("sk"), N("13"));
  EXPECT_TRUE(gr->unprocessed_keys.empty());
  ASSERT_EQ(gr->consumed_capacity.size(), 2u);
  EXPECT_EQ(gr->consumed_capacity[0].capacity_units, 1.5);  // three eventually consistent reads
  EXPECT_EQ(gr->consumed_capacity[1].read_capacity_units, 1);
  EXPECT_TRUE(gr->consumed_capacity[1].indexes);
}

TEST_F(EngineTest, BatchWriteRejectsBadBatchesAndAppliesNothing) {
  MakeTable("btw");
  ASSERT_TRUE(Put("btw", {{"pk", S("keep")}}).ok());
  const TableState before = State("btw");
  auto put = [](const std::string& pk) { return WriteRequest{Item{{"pk", S(pk)}}, std::nullopt}; };
  struct Case {
    BatchWriteItemRequest request;
    ErrorCode code;
    std::string message;  // empty: only the code is checked
  };
  std::vector<Case> cases;
  {
    BatchWriteItemRequest r;
    cases.push_back({r, ErrorCode::kValidation, ""});
  }
  {
    BatchWriteItemRequest r;
    for (int i = 0; i < 26; ++i) r.request_items["btw"].push_back(put("n" + std::to_string(i)));
    cases.push_back({r, ErrorCode::kValidation, ""});
  }
  {
    BatchWriteItemRequest r;
    r.request_items["btw"].push_back(put("a"));
    r.request_items["btw"].push_back(WriteRequest{std::nullopt, Item{{"pk", S("a")}}});
    cases.push_back({r, ErrorCode::kValidation, "Provided list of item keys contains duplicates"});
  }
  {
    BatchWriteItemRequest r;
    r.request_items["btw"].push_back(put("a"));
    r.request_items["btw"].push_back(WriteRequest{});
    cases.push_back({r, ErrorCode::kValidation, ""});
  }
  {
    BatchWriteItemRequest r;
    r.request_items["btw"].push_back(put("a"));
    r.request_items["btw"].push_back(WriteRequest{Item{{"pk", S("b")}}, Item{{"pk", S("b")}}});
    cases.push_back({r, ErrorCode::kValidation, ""});
  }
  {
    BatchWriteItemRequest r;
    r.request_items["btw"].push_back(put("a"));
    r.request_items["btw"].push_back(put(""));
    cases.push_back({r, ErrorCode::kValidation,
                     "One or more parameter values are not valid. The AttributeValue for a key attribute cannot "
                     "contain an empty string value. Key: pk"});
  }
  {
    BatchWriteItemRequest r;
    r.request_items["btw"].push_back(put("a"));
    r.request_items["btw"].push_back(WriteRequest{std::nullopt, Item{{"pk", N("1")}}});
    cases.push_back({r, ErrorCode::kValidation, "The provided key element does not match the schema"});
  }
  {
    BatchWriteItemRequest r;
    r.request_items["btw"].push_back(WriteRequest{std::nullopt, Item{{"pk", S("keep")}}});
    r.request_items["nosuchtable"].push_back(put("a"));
    cases.push_back({r, ErrorCode::kResourceNotFound, "Requested resource not found"});
  }
  for (const auto& c : cases) {
    auto res = engine_->BatchWriteItem(c.request);
    ASSERT_FALSE(res.ok());
    EXPECT_EQ(res.status().code(), c.code) << res.status().ToString();
    if (!c.message.empty()) {
      EXPECT_EQ(res.status().message(), c.message);
    }
    EXPECT_EQ(State("btw"), before) << res.status().ToString();
  }
}

TEST_F(EngineTest, BatchGetErrors) {
  MakeTable("btg");
  BatchGetItemRequest r;
  for (int i = 0; i < 101; ++i) r.request_items["btg"].keys.push_back({{"pk", S(std::to_string(i))}});
  ExpectError(engine_->BatchGetItem(r).status(), ErrorCode::kValidation, "Too many items requested for the BatchGetItem call");
  r.request_items["btg"].keys = {{{"pk", S("a")}}, {{"pk", S("a")}}};
  ExpectError(engine_->BatchGetItem(r).status(), ErrorCode::kValidation, "Provided list of item keys contains duplicates");
  r.request_items["btg"].keys = {{{"pk", S("a")}, {"x", S("y")}}};
  ExpectError(engine_->BatchGetItem(r).status(), ErrorCode::kValidation, "The provided key element does not match the schema");
  r.request_items["btg"].keys = {{{"pk", S("a")}}};
  r.request_items["nosuch"].keys = {{{"pk", S("a")}}};
  ExpectError(engine_->BatchGetItem(r).status(), ErrorCode::kResourceNotFound, "Requested resource not found");
  EXPECT_EQ(engine_->BatchGetItem(BatchGetItemRequest{}).status().code(), ErrorCode::kValidation);
  BatchGetItemRequest empty_keys;
  empty_keys.request_items["btg"];
  EXPECT_EQ(engine_->BatchGetItem(empty_keys).status().code(), ErrorCode::kValidation);
}

// 100 items of 390 KB are 39 MB: the keys past 16 MB come back unprocessed, and asking again for
// them eventually serves everything.
TEST_F(EngineTest, BatchGetLeavesKeysPastSixteenMegabytesUnprocessed) {
  MakeTable("huge", AttributeType::kN);
  const std::string payload(390 * 1024, 'z');
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(Put("huge", {{"pk", N(std::to_string(i))}, {"d", S(payload)}}).ok());
  BatchGetItemRequest r;
  for (int i = 0; i < 100; ++i) r.request_items["huge"].keys.push_back({{"pk", N(std::to_string(i))}});
  r.request_items["huge"].consistent_read = true;
  std::set<std::string> served;
  int rounds = 0;
  while (!r.request_items.empty() && rounds++ < 10) {
    auto res = engine_->BatchGetItem(r);
    ASSERT_TRUE(res.ok()) << res.status().ToString();
    size_t bytes = 0;
    for (const auto& i : res->responses["huge"]) {
      bytes += ItemSize(i);
      EXPECT_TRUE(served.insert(i.at("pk").n().ToString()).second);
    }
    EXPECT_LE(bytes, size_t{16} << 20);
    if (rounds == 1) {
      EXPECT_EQ(res->responses["huge"].size(), 42u);
      ASSERT_EQ(res->unprocessed_keys["huge"].keys.size(), 58u);
      EXPECT_TRUE(res->unprocessed_keys["huge"].consistent_read);
    }
    r.request_items = res->unprocessed_keys;
  }
  EXPECT_EQ(served.size(), 100u);
  EXPECT_EQ(rounds, 3);
}

// --- Capacity -------------------------------------------------------------------------------------

TEST_F(EngineTest, ConsumedCapacityForKnownSizes) {
  MakeTable("cap");
  // Item {pk: "a", d: n bytes} has size 3 + 1 + n.
  auto item = [](size_t size) { return Item{{"pk", S("a")}, {"d", S(std::string(size - 4, 'x'))}}; };
  PutItemRequest put;
  put.table_name = "cap";
  put.return_consumed_capacity = ReturnConsumedCapacity::kTotal;
  struct Step {
    size_t size;
    double units;  // ceil(max(old, new) / 1 KB)
  };
  for (const Step& s : std::vector<Step>{{1024, 1}, {1025, 2}, {100, 2}, {100, 1}, {3000, 3}}) {
    put.item = item(s.size);
    auto res = engine_->PutItem(put);
    ASSERT_TRUE(res.ok());
    ASSERT_TRUE(res->consumed_capacity.has_value());
    EXPECT_EQ(res->consumed_capacity->capacity_units, s.units) << s.size;
    EXPECT_EQ(res->consumed_capacity->write_capacity_units, s.units) << s.size;
    EXPECT_EQ(res->consumed_capacity->table_name, "cap");
    EXPECT_FALSE(res->consumed_capacity->indexes);
  }
  put.return_consumed_capacity = ReturnConsumedCapacity::kIndexes;
  put.item = item(8192);
  auto with_indexes = engine_->PutItem(put);
  EXPECT_EQ(with_indexes->consumed_capacity->capacity_units, 8);
  EXPECT_TRUE(with_indexes->consumed_capacity->indexes);

  GetItemRequest get;
  get.table_name = "cap";
  get.key = {{"pk", S("a")}};
  get.return_consumed_capacity = ReturnConsumedCapacity::kTotal;
  EXPECT_EQ(engine_->GetItem(get)->consumed_capacity->capacity_units, 1);  // 8 KB eventual: 2 / 2
  get.consistent_read = true;
  EXPECT_EQ(engine_->GetItem(get)->consumed_capacity->read_capacity_units, 2);
  put.return_consumed_capacity = ReturnConsumedCapacity::kNone;
  put.item = item(4097);
  ASSERT_TRUE(engine_->PutItem(put).ok());
  EXPECT_EQ(engine_->GetItem(get)->consumed_capacity->capacity_units, 2);
  get.consistent_read = false;
  get.key = {{"pk", S("missing")}};
  EXPECT_EQ(engine_->GetItem(get)->consumed_capacity->capacity_units, 0.5);
  get.return_consumed_capacity = ReturnConsumedCapacity::kNone;
  EXPECT_FALSE(engine_->GetItem(get)->consumed_capacity.has_value());

  DeleteItemRequest del;
  del.table_name = "cap";
  del.key = {{"pk", S("a")}};
  del.return_consumed_capacity = ReturnConsumedCapacity::kTotal;
  EXPECT_EQ(engine_->DeleteItem(del)->consumed_capacity->capacity_units, 5);  // the deleted 4097 bytes
  EXPECT_EQ(engine_->DeleteItem(del)->consumed_capacity->capacity_units, 1);  // nothing there

  // Query: the sizes of all items read, summed, then rounded up to 4 KB.
  MakeTable("capq", AttributeType::kS, AttributeType::kN);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Put("capq", {{"pk", S("p")}, {"sk", N(std::to_string(i))}, {"d", S(std::string(2000, 'y'))}}).ok());
  }
  QueryRequest q;
  q.table_name = "capq";
  q.key_condition_expression = "pk = :p";
  q.expression_attribute_values = {{":p", S("p")}};
  q.return_consumed_capacity = ReturnConsumedCapacity::kTotal;
  q.consistent_read = true;
  EXPECT_EQ(MustQuery(q).consumed_capacity->capacity_units, 2);  // ~6 KB
  q.consistent_read = false;
  EXPECT_EQ(MustQuery(q).consumed_capacity->capacity_units, 1);
  q.limit = 1;
  EXPECT_EQ(MustQuery(q).consumed_capacity->capacity_units, 0.5);
  q.expression_attribute_values[":p"] = S("nothing");
  EXPECT_EQ(MustQuery(q).consumed_capacity->capacity_units, 0.5);
}

TEST_F(EngineTest, ExecuteDispatchesEveryOperation) {
  std::vector<Request> requests;
  CreateTableRequest create;
  create.table_name = "exec";
  create.key_schema = {{"pk", KeyType::kHash}};
  create.attribute_definitions = {{"pk", AttributeType::kS}};
  create.billing_mode = BillingMode::kPayPerRequest;
  requests.push_back(create);
  requests.push_back(DescribeTableRequest{"exec"});
  requests.push_back(ListTablesRequest{});
  requests.push_back(PutItemRequest{"exec", {{"pk", S("a")}}});
  requests.push_back(GetItemRequest{"exec", {{"pk", S("a")}}});
  QueryRequest q;
  q.table_name = "exec";
  q.key_condition_expression = "pk = :p";
  q.expression_attribute_values = {{":p", S("a")}};
  requests.push_back(q);
  ScanRequest s;
  s.table_name = "exec";
  requests.push_back(s);
  BatchGetItemRequest bg;
  bg.request_items["exec"].keys = {{{"pk", S("a")}}};
  requests.push_back(bg);
  BatchWriteItemRequest bw;
  bw.request_items["exec"] = {WriteRequest{Item{{"pk", S("b")}}, std::nullopt}};
  requests.push_back(bw);
  requests.push_back(DeleteItemRequest{"exec", {{"pk", S("a")}}});
  requests.push_back(DeleteTableRequest{"exec"});
  for (const auto& r : requests) {
    auto res = engine_->Execute(r);
    ASSERT_TRUE(res.ok()) << OperationName(OperationOf(r)) << ": " << res.status().ToString();
    EXPECT_EQ(OperationOf(*res), OperationOf(r));
  }
  EXPECT_EQ(engine_->Execute(DescribeTableRequest{"exec"}).status().code(), ErrorCode::kResourceNotFound);
}

TEST(EngineOpenTest, UnopenablePathIsAnError) {
  EngineOptions o;
  auto e = Engine::Open("/proc/definitely/not/writable", o);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), ErrorCode::kInternalServerError);
}

}  // namespace
}  // namespace meridian

// --- Expressions through the engine (issue 3) ----------------------------------------------------

namespace meridian {
namespace {

class EngineExpressionTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    MakeTable("expr", AttributeType::kS, AttributeType::kN);
  }
  static Item Key(const std::string& pk, int sk) { return {{"pk", S(pk)}, {"sk", N(std::to_string(sk))}}; }
};

TEST_F(EngineExpressionTest, ConditionalPutThatLosesChangesNothing) {
  Item item = Key("a", 1);
  item["v"] = N("1");
  ASSERT_TRUE(Put("expr", item).ok());
  const TableState before = State("expr");

  PutItemRequest put;
  put.table_name = "expr";
  put.item = Key("a", 1);
  put.item["v"] = N("2");
  put.condition.condition_expression = "attribute_not_exists(pk)";
  auto r = engine_->PutItem(put);
  ASSERT_EQ(r.status().code(), ErrorCode::kConditionalCheckFailed);
  EXPECT_EQ(r.status().message(), "The conditional request failed");
  EXPECT_TRUE(r.status().item_payload().empty());
  EXPECT_EQ(State("expr"), before);

  put.condition.return_values_on_condition_check_failure = ReturnValuesOnConditionCheckFailure::kAllOld;
  r = engine_->PutItem(put);
  ASSERT_EQ(r.status().code(), ErrorCode::kConditionalCheckFailed);
  auto old = DecodeItem(r.status().item_payload());
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old.value(), item);

  // The same condition holds for a new key.
  put.item = Key("b", 1);
  EXPECT_TRUE(engine_->PutItem(put).ok());
  // A condition on the old value, with placeholders.
  put.item = Key("a", 1);
  put.item["v"] = N("3");
  put.condition = {};
  put.condition.condition_expression = "#v = :one";
  put.expression_attribute_names = {{"#v", "v"}};
  put.expression_attribute_values = {{":one", N("1")}};
  EXPECT_TRUE(engine_->PutItem(put).ok());
  EXPECT_EQ(Get("expr", Key("a", 1))->at("v"), N("3"));
}

TEST_F(EngineExpressionTest, ConditionalDeleteWithExpressionAndLegacyExpected) {
  Item item = Key("a", 1);
  item["v"] = N("2");
  ASSERT_TRUE(Put("expr", item).ok());
  DeleteItemRequest del;
  del.table_name = "expr";
  del.key = Key("a", 1);
  del.condition.expected = LegacyConditions{{"v", LegacyCondition{std::nullopt, {}, N("1"), std::nullopt}}};
  EXPECT_EQ(engine_->DeleteItem(del).status().code(), ErrorCode::kConditionalCheckFailed);
  EXPECT_TRUE(Get("expr", Key("a", 1)).has_value());
  del.condition.expected = LegacyConditions{{"v", LegacyCondition{"GE", {N("2")}, std::nullopt, std::nullopt}}};
  EXPECT_TRUE(engine_->DeleteItem(del).ok());
  EXPECT_FALSE(Get("expr", Key("a", 1)).has_value());
}

TEST_F(EngineExpressionTest, UpdateItemCreatesItemsAndAddsExactly) {
  UpdateItemRequest up;
  up.table_name = "expr";
  up.key = Key("n", 1);
  up.update_expression = "SET n = :big";
  up.expression_attribute_values = {{":big", N("12345678901234567890123456789012345678")}};
  up.return_values = ReturnValue::kAllNew;
  auto r = engine_->UpdateItem(up);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->attributes->at("pk"), S("n"));

  up.update_expression = "SET n = n + :one";
  up.expression_attribute_values = {{":one", N("1")}};
  r = engine_->UpdateItem(up);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->attributes->at("n").n().ToString(), "12345678901234567890123456789012345679");

  const TableState before = State("expr");
  // 39 significant digits.
  up.expression_attribute_values = {{":one", N("0.1")}};
  EXPECT_EQ(engine_->UpdateItem(up).status().code(), ErrorCode::kValidation);
  // Past the largest magnitude.
  up.key = Key("n", 2);
  ASSERT_TRUE(Put("expr", {{"pk", S("n")}, {"sk", N("2")}, {"n", N("9E+125")}}).ok());
  const TableState before2 = State("expr");
  up.expression_attribute_values = {{":one", N("9E+125")}};
  auto overflow = engine_->UpdateItem(up);
  EXPECT_EQ(overflow.status().code(), ErrorCode::kValidation);
  EXPECT_NE(overflow.status().message().find("overflow"), std::string::npos) << overflow.status().message();
  EXPECT_EQ(State("expr"), before2);
  (void)before;
}

TEST_F(EngineExpressionTest, UpdateReturnValuesAndKeyProtection) {
  ASSERT_TRUE(Put("expr", {{"pk", S("r")}, {"sk", N("1")}, {"a", N("1")}, {"b", S("keep")}}).ok());
  UpdateItemRequest up;
  up.table_name = "expr";
  up.key = Key("r", 1);
  up.update_expression = "SET a = a + :d, c = :c REMOVE b";
  up.expression_attribute_values = {{":d", N("5")}, {":c", S("new")}};
  up.return_values = ReturnValue::kUpdatedOld;
  auto r = engine_->UpdateItem(up);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r->attributes, (Item{{"a", N("1")}, {"b", S("keep")}}));

  up.update_expression = "SET a = a + :d";
  up.expression_attribute_values = {{":d", N("1")}};
  up.return_values = ReturnValue::kUpdatedNew;
  r = engine_->UpdateItem(up);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r->attributes, (Item{{"a", N("7")}}));

  up.return_values = ReturnValue::kAllOld;
  r = engine_->UpdateItem(up);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->attributes->at("a"), N("7"));
  EXPECT_EQ(r->attributes->at("c"), S("new"));

  const TableState before = State("expr");
  up.update_expression = "SET pk = :x";
  up.expression_attribute_values = {{":x", S("other")}};
  auto key_update = engine_->UpdateItem(up);
  EXPECT_EQ(key_update.status().code(), ErrorCode::kValidation);
  EXPECT_NE(key_update.status().message().find("part of the key"), std::string::npos) << key_update.status().message();

  // A failed condition on an update changes nothing.
  up.update_expression = "SET a = :x";
  up.condition.condition_expression = "a > :x";
  up.expression_attribute_values = {{":x", N("100")}};
  EXPECT_EQ(engine_->UpdateItem(up).status().code(), ErrorCode::kConditionalCheckFailed);
  EXPECT_EQ(State("expr"), before);

  // Legacy AttributeUpdates.
  UpdateItemRequest legacy;
  legacy.table_name = "expr";
  legacy.key = Key("r", 1);
  legacy.attribute_updates = LegacyAttributeUpdates{{"a", {"ADD", N("3")}}, {"c", {"DELETE", std::nullopt}}};
  legacy.return_values = ReturnValue::kAllNew;
  r = engine_->UpdateItem(legacy);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->attributes->at("a"), N("11"));  // 1 + 5 + 1 + 1 + 3
  EXPECT_EQ(r->attributes->count("c"), 0u);
}

TEST_F(EngineExpressionTest, QueryFilterAppliesAfterLimitAndProjectionShapesItems) {
  for (int i = 1; i <= 10; ++i) {
    ASSERT_TRUE(Put("expr", {{"pk", S("q")}, {"sk", N(std::to_string(i))}, {"v", N(std::to_string(i % 3))},
                             {"doc", AttributeValue::M({{"x", S("1")}, {"y", S("2")}})}})
                    .ok());
  }
  QueryRequest q;
  q.table_name = "expr";
  q.key_condition_expression = "pk = :p";
  q.filter_expression = "v = :zero";
  q.expression_attribute_values = {{":p", S("q")}, {":zero", N("0")}};
  q.limit = 6;
  QueryResponse r = MustQuery(q);
  EXPECT_EQ(r.scanned_count, 6);
  EXPECT_EQ(r.count, 2);  // sk 3 and 6
  ASSERT_TRUE(r.last_evaluated_key.has_value());
  EXPECT_EQ(r.last_evaluated_key->at("sk"), N("6"));

  q.limit.reset();
  q.filter_expression.reset();
  q.expression_attribute_values = {{":p", S("q")}};
  q.projection_expression = "sk, #d.x";
  q.expression_attribute_names = {{"#d", "doc"}};
  r = MustQuery(q);
  ASSERT_EQ(r.count, 10);
  EXPECT_EQ(r.items[0], (Item{{"sk", N("1")}, {"doc", AttributeValue::M({{"x", S("1")}})}}));

  // Legacy KeyConditions + QueryFilter + AttributesToGet.
  QueryRequest legacy;
  legacy.table_name = "expr";
  legacy.key_conditions = LegacyConditions{{"pk", {"EQ", {S("q")}, std::nullopt, std::nullopt}},
                                           {"sk", {"BETWEEN", {N("2"), N("5")}, std::nullopt, std::nullopt}}};
  legacy.query_filter = LegacyConditions{{"v", {"EQ", {N("1")}, std::nullopt, std::nullopt}}};
  legacy.attributes_to_get = std::vector<std::string>{"sk"};
  r = MustQuery(legacy);
  EXPECT_EQ(r.scanned_count, 4);
  ASSERT_EQ(r.count, 1);  // sk 4
  EXPECT_EQ(r.items[0], (Item{{"sk", N("4")}}));

  // A Query filter may not name a key attribute (the key condition is the place for those).
  QueryRequest on_key;
  on_key.table_name = "expr";
  on_key.key_condition_expression = "pk = :p";
  on_key.filter_expression = "#s > :one";
  on_key.expression_attribute_names = {{"#s", "sk"}};
  on_key.expression_attribute_values = {{":p", S("q")}, {":one", N("1")}};
  auto key_filter = engine_->Query(on_key);
  EXPECT_EQ(key_filter.status().code(), ErrorCode::kValidation);
  EXPECT_EQ(key_filter.status().message(),
            "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk");
  on_key.filter_expression = "size(pk) > :one";
  on_key.expression_attribute_names.clear();
  EXPECT_EQ(engine_->Query(on_key).status().code(), ErrorCode::kValidation);

  // Unused placeholders across all of a request's expressions are refused.
  q.projection_expression.reset();
  q.expression_attribute_names.clear();
  q.expression_attribute_values = {{":p", S("q")}, {":unused", S("x")}};
  auto unused = engine_->Query(q);
  EXPECT_EQ(unused.status().code(), ErrorCode::kValidation);
  EXPECT_NE(unused.status().message().find("unused"), std::string::npos) << unused.status().message();
  // A value used only by the filter is not unused.
  q.filter_expression = "v = :zero";
  q.expression_attribute_values = {{":p", S("q")}, {":zero", N("0")}};
  EXPECT_TRUE(engine_->Query(q).ok());
}

TEST_F(EngineExpressionTest, ScanFilterGetAndBatchGetProjection) {
  for (int i = 1; i <= 6; ++i) {
    ASSERT_TRUE(Put("expr", {{"pk", S("s" + std::to_string(i))}, {"sk", N("0")}, {"tag", S(i % 2 ? "odd" : "even")},
                             {"n", N(std::to_string(i))}})
                    .ok());
  }
  ScanRequest scan;
  scan.table_name = "expr";
  scan.filter_expression = "tag = :t AND n > :two";
  scan.expression_attribute_values = {{":t", S("odd")}, {":two", N("2")}};
  scan.select = Select::kCount;
  auto r = engine_->Scan(scan);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->count, 2);  // 3 and 5
  EXPECT_EQ(r->scanned_count, 6);

  ScanRequest legacy;
  legacy.table_name = "expr";
  legacy.scan_filter = LegacyConditions{{"tag", {"EQ", {S("even")}, std::nullopt, std::nullopt}},
                                        {"n", {"LT", {N("3")}, std::nullopt, std::nullopt}}};
  legacy.conditional_operator = "OR";
  r = engine_->Scan(legacy);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->count, 4);  // 1, 2, 4, 6

  GetItemRequest get;
  get.table_name = "expr";
  get.key = Key("s1", 0);
  get.projection_expression = "#t";
  get.expression_attribute_names = {{"#t", "tag"}};
  auto g = engine_->GetItem(get);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(*g->item, (Item{{"tag", S("odd")}}));

  BatchGetItemRequest batch;
  batch.request_items["expr"].keys = {Key("s1", 0), Key("s2", 0)};
  batch.request_items["expr"].projection_expression = "n";
  auto b = engine_->BatchGetItem(batch);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  for (const Item& item : b->responses["expr"]) EXPECT_EQ(item.size(), 1u);
}

TEST_F(EngineExpressionTest, StylesDoNotMixAndPlaceholdersNeedExpressions) {
  PutItemRequest put;
  put.table_name = "expr";
  put.item = Key("m", 1);
  put.condition.condition_expression = "attribute_not_exists(pk)";
  put.condition.expected = LegacyConditions{{"pk", {std::nullopt, {}, std::nullopt, false}}};
  auto mixed = engine_->PutItem(put);
  EXPECT_EQ(mixed.status().code(), ErrorCode::kValidation);
  EXPECT_NE(mixed.status().message().find("Can not use both expression and non-expression parameters"),
            std::string::npos)
      << mixed.status().message();

  put.condition = {};
  put.expression_attribute_values = {{":x", S("y")}};
  auto values_alone = engine_->PutItem(put);
  EXPECT_EQ(values_alone.status().code(), ErrorCode::kValidation);
  EXPECT_EQ(values_alone.status().message(), "ExpressionAttributeValues can only be specified when using expressions");

  put.expression_attribute_values.clear();
  put.condition.condition_expression = "attribute_not_exists(#undefined)";
  EXPECT_EQ(engine_->PutItem(put).status().code(), ErrorCode::kValidation);
  EXPECT_FALSE(Get("expr", Key("m", 1)).has_value());

  // A reserved word as a bare name is refused; through a placeholder it is fine.
  put.condition.condition_expression = "attribute_not_exists(size)";
  EXPECT_EQ(engine_->PutItem(put).status().code(), ErrorCode::kValidation);
}


// --- The replicated apply path and state snapshots -------------------------------------------------

std::unique_ptr<Engine> OpenEngine(const std::string& path, int64_t clock_ms) {
  EngineOptions o;
  o.sync = false;  // tests only
  o.clock_ms = [clock_ms] { return clock_ms; };
  o.region = "us-test-1";
  o.block_cache_bytes = 8 << 20;
  o.write_buffer_bytes = 8 << 20;
  auto e = Engine::Open(path, std::move(o));
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return e.ok() ? std::move(e).value() : nullptr;
}

using KeyValues = std::vector<std::pair<std::string, std::string>>;
KeyValues CfContents(Engine* engine, Cf which) {
  KeyValues out;
  std::unique_ptr<rocksdb::Iterator> it(engine->db()->NewIterator(rocksdb::ReadOptions(), engine->cf(which)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) out.emplace_back(it->key().ToString(), it->value().ToString());
  EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  return out;
}

CreateTableRequest TableRequest(const std::string& name) {
  CreateTableRequest r;
  r.table_name = name;
  r.key_schema.push_back({"pk", KeyType::kHash});
  r.attribute_definitions.push_back({"pk", AttributeType::kS});
  r.billing_mode = BillingMode::kPayPerRequest;
  return r;
}

PutItemRequest PutRequest(const std::string& table, const std::string& pk, Item rest = {}) {
  PutItemRequest r;
  r.table_name = table;
  r.item = std::move(rest);
  r.item["pk"] = S(pk);
  return r;
}

GetItemRequest GetRequest(const std::string& table, const std::string& pk) {
  GetItemRequest r;
  r.table_name = table;
  r.key = {{"pk", S(pk)}};
  return r;
}

void MustWrite(Engine* engine, rocksdb::WriteBatch* batch) {
  rocksdb::Status s = engine->db()->Write(rocksdb::WriteOptions(), batch);
  ASSERT_TRUE(s.ok()) << s.ToString();
  batch->Clear();
}

TEST(EngineApplyTest, WritesNothingUntilTheCallerWritesTheBatch) {
  TempDir dir;
  auto engine = OpenEngine(dir.path() + "/db", kNowMs);
  ASSERT_NE(engine, nullptr);
  rocksdb::WriteBatch batch;
  ApplyOptions apply{5000, &batch};

  auto created = engine->Execute(TableRequest("applied"), apply);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const TableDescription& d = std::get<CreateTableResponse>(*created).table_description;
  EXPECT_EQ(d.creation_date_time_ms, 5000);  // the entry's time, not the clock
  EXPECT_TRUE(IsUuidV4(d.table_id)) << d.table_id;
  EXPECT_GT(batch.Count(), 0u);
  EXPECT_EQ(engine->DescribeTable({"applied"}).status().code(), ErrorCode::kResourceNotFound);
  EXPECT_TRUE(engine->ListTables({})->table_names.empty());

  MustWrite(engine.get(), &batch);
  auto described = engine->DescribeTable({"applied"});
  ASSERT_TRUE(described.ok()) << described.status().ToString();
  EXPECT_EQ(described->table.creation_date_time_ms, 5000);
  EXPECT_EQ(described->table.table_id, d.table_id);

  // An item: invisible until written, then counted.
  ASSERT_TRUE(engine->Execute(PutRequest("applied", "a", {{"v", N("1")}}), apply).ok());
  EXPECT_FALSE(engine->GetItem(GetRequest("applied", "a"))->item.has_value());
  MustWrite(engine.get(), &batch);
  EXPECT_TRUE(engine->GetItem(GetRequest("applied", "a"))->item.has_value());
  EXPECT_EQ(engine->DescribeTable({"applied"})->table.item_count, 1);

  // A read through the apply path answers and adds nothing.
  auto read = engine->Execute(GetRequest("applied", "a"), apply);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_TRUE(std::get<GetItemResponse>(*read).item.has_value());
  EXPECT_EQ(batch.Count(), 0u);

  // A failed write adds nothing, and keeps what the caller had put in the batch before.
  ASSERT_TRUE(batch.Put(engine->cf(Cf::kRegion), "caller-key", "x").ok());
  std::string before = batch.Data();
  PutItemRequest conditional = PutRequest("applied", "a");
  conditional.condition.condition_expression = "attribute_not_exists(pk)";
  EXPECT_EQ(engine->Execute(conditional, apply).status().code(), ErrorCode::kConditionalCheckFailed);
  EXPECT_EQ(engine->Execute(PutRequest("missing", "a"), apply).status().code(), ErrorCode::kResourceNotFound);
  // A batch whose second write is invalid.
  BatchWriteItemRequest bw;
  bw.request_items["applied"].push_back({Item{{"pk", S("b1")}}, std::nullopt});
  bw.request_items["applied"].push_back({Item{{"pk", S("b2")}, {"big", S(std::string(500 * 1024, 'x'))}}, std::nullopt});
  EXPECT_EQ(engine->Execute(bw, apply).status().code(), ErrorCode::kValidation);
  EXPECT_EQ(batch.Data(), before);
  batch.Clear();

  // DeleteTable: the table stays until the batch is written.
  ASSERT_TRUE(engine->Execute(DeleteTableRequest{"applied"}, apply).ok());
  EXPECT_TRUE(engine->GetItem(GetRequest("applied", "a"))->item.has_value());
  MustWrite(engine.get(), &batch);
  EXPECT_EQ(engine->DescribeTable({"applied"}).status().code(), ErrorCode::kResourceNotFound);

  // A batch the caller drops changes nothing, and the next apply sees the state as written.
  ASSERT_TRUE(engine->Execute(TableRequest("dropped"), apply).ok());
  batch.Clear();
  EXPECT_EQ(engine->DescribeTable({"dropped"}).status().code(), ErrorCode::kResourceNotFound);
  ASSERT_TRUE(engine->Execute(TableRequest("dropped"), apply).ok());  // not "already exists"
  MustWrite(engine.get(), &batch);
  EXPECT_TRUE(engine->DescribeTable({"dropped"}).ok());

  // The apply state survives a restart: the catalog is read back from RocksDB.
  engine.reset();
  engine = OpenEngine(dir.path() + "/db", kNowMs);
  ASSERT_NE(engine, nullptr);
  EXPECT_TRUE(engine->DescribeTable({"dropped"}).ok());
  EXPECT_EQ(engine->DescribeTable({"applied"}).status().code(), ErrorCode::kResourceNotFound);

  EXPECT_EQ(engine->Execute(TableRequest("null-batch"), ApplyOptions{1, nullptr}).status().code(),
            ErrorCode::kInternalServerError);
}

// Every item an applied entry writes or deletes in a global table leaves a change record in the
// same batch, in stream order (entry index, then position in the entry).
TEST(EngineApplyTest, ItemWritesAppendChangeRecordsToTheSameBatch) {
  TempDir dir;
  auto engine = OpenEngine(dir.path() + "/db", kNowMs);
  ASSERT_NE(engine, nullptr);
  rocksdb::WriteBatch batch;
  ApplyOptions apply{7000, &batch, 9};
  ASSERT_TRUE(engine->Execute(TableRequest("changes"), apply).ok());
  MustWrite(engine.get(), &batch);
  apply.change_seq = 10;  // a replica elsewhere: a metadata record
  UpdateTableRequest add;
  add.table_name = "changes";
  add.replica_updates.push_back(ReplicaUpdate{std::string("eu-west"), std::nullopt});
  ASSERT_TRUE(engine->Execute(add, apply).ok());
  MustWrite(engine.get(), &batch);
  apply.change_seq = 11;
  ASSERT_TRUE(engine->Execute(PutRequest("changes", "a", {{"v", N("1")}}), apply).ok());
  MustWrite(engine.get(), &batch);
  apply.change_seq = 12;
  BatchWriteItemRequest bw;
  bw.request_items["changes"].push_back({Item{{"pk", S("b")}}, std::nullopt});
  bw.request_items["changes"].push_back({std::nullopt, Item{{"pk", S("a")}}});
  ASSERT_TRUE(engine->Execute(bw, apply).ok());
  MustWrite(engine.get(), &batch);
  apply.change_seq = 13;  // a failed write leaves no record
  PutItemRequest conditional = PutRequest("changes", "b");
  conditional.condition.condition_expression = "attribute_not_exists(pk)";
  EXPECT_FALSE(engine->Execute(conditional, apply).ok());
  MustWrite(engine.get(), &batch);

  std::vector<ChangeRecord> records;
  std::unique_ptr<rocksdb::Iterator> it(engine->db()->NewIterator(rocksdb::ReadOptions(), engine->cf(Cf::kChanges)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto r = DecodeChange(it->key().ToStringView(), it->value().ToStringView());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    records.push_back(*r);
  }
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0].seq, 10u);
  ASSERT_TRUE(records[0].meta.has_value());
  EXPECT_EQ(records[0].meta->replicas, (std::vector<std::string>{"eu-west", "us-test-1"}));
  EXPECT_EQ(records[0].destinations, std::vector<std::string>{"eu-west"});
  records.erase(records.begin());
  for (const auto& r : records) {
    EXPECT_EQ(r.destinations, std::vector<std::string>{"eu-west"});
    EXPECT_EQ(r.version.origin, "us-test-1");
    EXPECT_GE(r.version.vv.at("us-test-1"), 1u);
  }
  EXPECT_EQ(records[0].seq, 11u);
  EXPECT_EQ(records[0].table, "changes");
  EXPECT_EQ(records[0].key, (Item{{"pk", S("a")}}));
  ASSERT_TRUE(records[0].image.has_value());
  EXPECT_EQ(records[0].image->at("v"), N("1"));
  EXPECT_EQ(records[0].time_ms, 7000);
  EXPECT_EQ(records[1].seq, 12u);
  EXPECT_EQ(records[1].n, 0u);
  EXPECT_EQ(records[2].seq, 12u);
  EXPECT_EQ(records[2].n, 1u);
  EXPECT_FALSE(records[2].image.has_value());  // the delete of a
  EXPECT_EQ(records[1].key, (Item{{"pk", S("b")}}));
}

TEST(EngineApplyTest, NormalPathStillUsesTheClockAndRandomIds) {
  TempDir dir;
  auto engine = OpenEngine(dir.path() + "/db", kNowMs);
  ASSERT_NE(engine, nullptr);
  auto a = engine->Execute(TableRequest("one"));
  auto b = engine->Execute(TableRequest("two"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(std::get<CreateTableResponse>(*a).table_description.creation_date_time_ms, kNowMs);
  EXPECT_NE(std::get<CreateTableResponse>(*a).table_description.table_id,
            std::get<CreateTableResponse>(*b).table_description.table_id);
}

// The requests of a short history, each applied with its entry's time.
std::vector<std::pair<Request, int64_t>> ApplyHistory() {
  std::vector<std::pair<Request, int64_t>> h;
  int64_t t = 1000;
  h.emplace_back(TableRequest("music"), t++);
  h.emplace_back(TableRequest("books"), t++);
  for (int i = 0; i < 20; ++i) {
    h.emplace_back(PutRequest(i % 2 ? "music" : "books", "k" + std::to_string(i % 7), {{"n", N(std::to_string(i))}}), t++);
  }
  UpdateItemRequest u;
  u.table_name = "music";
  u.key = {{"pk", S("k1")}};
  u.update_expression = "ADD plays :one SET title = :t";
  u.expression_attribute_values = {{":one", N("1")}, {":t", S("Spiegel")}};
  h.emplace_back(u, t++);
  h.emplace_back(u, t++);
  BatchWriteItemRequest bw;
  bw.request_items["books"].push_back({Item{{"pk", S("b1")}, {"x", B(std::string("\0\1", 2))}}, std::nullopt});
  bw.request_items["books"].push_back({std::nullopt, Item{{"pk", S("k0")}}});
  h.emplace_back(bw, t++);
  DeleteItemRequest del;
  del.table_name = "music";
  del.key = {{"pk", S("k3")}};
  h.emplace_back(del, t++);
  h.emplace_back(DeleteTableRequest{"books"}, t++);
  h.emplace_back(TableRequest("books"), t++);  // recreated: a new internal id
  h.emplace_back(PutRequest("books", "again"), t++);
  PutItemRequest failing = PutRequest("music", "k1");
  failing.condition.condition_expression = "attribute_not_exists(pk)";
  h.emplace_back(failing, t++);
  return h;
}

TEST(EngineApplyTest, TwoEnginesApplyingTheSameEntriesWriteTheSameBytes) {
  TempDir dir;
  // Different clocks: the apply path must not look at them.
  auto a = OpenEngine(dir.path() + "/a", 111);
  auto b = OpenEngine(dir.path() + "/b", 999999);
  ASSERT_TRUE(a && b);
  for (const auto& [request, now_ms] : ApplyHistory()) {
    rocksdb::WriteBatch ba, bb;
    auto ra = a->Execute(request, ApplyOptions{now_ms, &ba});
    auto rb = b->Execute(request, ApplyOptions{now_ms, &bb});
    ASSERT_EQ(ra.ok(), rb.ok());
    ASSERT_EQ(ba.Data(), bb.Data()) << "request at " << now_ms;
    MustWrite(a.get(), &ba);
    MustWrite(b.get(), &bb);
  }
  for (Cf which : {Cf::kCatalog, Cf::kItems, Cf::kChanges, Cf::kRegion}) {
    EXPECT_EQ(CfContents(a.get(), which), CfContents(b.get(), which)) << static_cast<int>(which);
  }
  auto da = a->DumpState(nullptr);
  auto db = b->DumpState(nullptr);
  ASSERT_TRUE(da.ok() && db.ok());
  EXPECT_EQ(*da, *db);
  EXPECT_EQ(a->DescribeTable({"music"})->table.table_id, b->DescribeTable({"music"})->table.table_id);
}

TEST(EngineStateTest, DumpInstallReplacesEveryStateColumnFamily) {
  TempDir dir;
  auto a = OpenEngine(dir.path() + "/a", kNowMs);
  auto b = OpenEngine(dir.path() + "/b", kNowMs);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Execute(TableRequest("music")).ok());
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(a->Execute(PutRequest("music", "k" + std::to_string(i))).ok());
  ASSERT_TRUE(a->db()->Put(rocksdb::WriteOptions(), a->cf(Cf::kRegion), "applied_index", std::string(8, '\7')).ok());
  ASSERT_TRUE(a->db()->Put(rocksdb::WriteOptions(), a->cf(Cf::kChanges), std::string("c\0\xff", 3), "v").ok());
  // b has other content, some of it past a's last keys, and its own node-local raft_log key.
  ASSERT_TRUE(b->Execute(TableRequest("zzz-other")).ok());
  ASSERT_TRUE(b->Execute(PutRequest("zzz-other", "x")).ok());
  ASSERT_TRUE(b->db()->Put(rocksdb::WriteOptions(), b->cf(Cf::kRegion), "\xff\xff", "old").ok());
  ASSERT_TRUE(b->db()->Put(rocksdb::WriteOptions(), b->cf(Cf::kRaftLog), "n", "node-b").ok());

  // The dump is taken at a RocksDB snapshot: later writes to a are not in it.
  const Cf kState[] = {Cf::kCatalog, Cf::kItems, Cf::kChanges, Cf::kRegion};
  const rocksdb::Snapshot* snap = a->db()->GetSnapshot();
  KeyValues a_at_snapshot[4];
  for (int i = 0; i < 4; ++i) a_at_snapshot[i] = CfContents(a.get(), kState[i]);
  ASSERT_TRUE(a->Execute(PutRequest("music", "after-snapshot")).ok());
  auto dump = a->DumpState(snap);
  a->db()->ReleaseSnapshot(snap);
  ASSERT_TRUE(dump.ok()) << dump.status().ToString();

  KeyValues b_before[4];
  for (int i = 0; i < 4; ++i) b_before[i] = CfContents(b.get(), kState[i]);

  // Corrupted dumps: an error, and b unchanged.
  std::string flipped = *dump;
  flipped[flipped.size() / 2] ^= 0x01;
  std::string garbage(100, 'x');
  for (const std::string& bad : {flipped, dump->substr(0, dump->size() - 1), garbage, std::string()}) {
    EXPECT_EQ(b->InstallState(bad, nullptr).code(), ErrorCode::kInternalServerError);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(CfContents(b.get(), kState[i]), b_before[i]);
  }
  EXPECT_TRUE(b->DescribeTable({"zzz-other"}).ok());

  rocksdb::WriteBatch extra;
  ASSERT_TRUE(extra.Put(b->cf(Cf::kRaftLog), "s", "snapshot-meta").ok());
  Status st = b->InstallState(*dump, &extra);
  ASSERT_TRUE(st.ok()) << st.ToString();

  // Byte for byte, every state column family as a had it at the snapshot.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(CfContents(b.get(), kState[i]), a_at_snapshot[i]) << i;
  EXPECT_FALSE(a_at_snapshot[3].empty());
  // The extra writes went in, and raft_log (node-local) was otherwise left alone.
  KeyValues raft_log = CfContents(b.get(), Cf::kRaftLog);
  EXPECT_EQ(raft_log, (KeyValues{{"n", "node-b"}, {"s", "snapshot-meta"}}));
  // The catalog cache follows: b serves a's tables and no longer its own.
  EXPECT_EQ(b->DescribeTable({"zzz-other"}).status().code(), ErrorCode::kResourceNotFound);
  EXPECT_EQ(b->ListTables({})->table_names, std::vector<std::string>{"music"});
  EXPECT_EQ(b->DescribeTable({"music"})->table.item_count, 50);
  EXPECT_TRUE(b->GetItem(GetRequest("music", "k7"))->item.has_value());
  EXPECT_FALSE(b->GetItem(GetRequest("music", "after-snapshot"))->item.has_value());
  // And b goes on applying on top of it.
  rocksdb::WriteBatch batch;
  ASSERT_TRUE(b->Execute(TableRequest("next"), ApplyOptions{1, &batch}).ok());
  MustWrite(b.get(), &batch);
  EXPECT_TRUE(b->DescribeTable({"next"}).ok());
  // A dump of the same state is the same bytes.
  auto c = OpenEngine(dir.path() + "/c", kNowMs);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->InstallState(*dump, nullptr).ok());
  auto again = c->DumpState(nullptr);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *dump);
}

TEST(EngineStateTest, OldDataFolderWithoutRegionFamilyOpens) {
  TempDir dir;
  std::string path = dir.path() + "/db";
  {
    rocksdb::DBOptions o;
    o.create_if_missing = true;
    o.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const char* name : {"default", "catalog", "items", "raft_log", "changes"}) {
      cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, path, cfs, &handles, &raw).ok());
    for (auto* h : handles) ASSERT_TRUE(raw->DestroyColumnFamilyHandle(h).ok());
    delete raw;
  }
  auto engine = OpenEngine(path, kNowMs);
  ASSERT_NE(engine, nullptr);
  ASSERT_NE(engine->cf(Cf::kRegion), nullptr);
  EXPECT_TRUE(engine->db()->Put(rocksdb::WriteOptions(), engine->cf(Cf::kRegion), "k", "v").ok());
}

}  // namespace
}  // namespace meridian
