// The chaos suite's fault hooks (region/fault_hooks.h) below the process level: the planted-bug
// list and its warnings, the file system whose syncs fail under a real engine, and the planted
// merge without the conflict rule. The process-level behaviour (a node that stops, the region
// going on, an offset clock) is in tests/integration/fault_hooks_test.cc.
#include "region/fault_hooks.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "conflict/hlc.h"
#include "storage/engine.h"

namespace meridian::region {
namespace {

constexpr int64_t kT0 = 1700000000000;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/meridian-faults-XXXXXX";
    char* p = mkdtemp(tmpl);
    EXPECT_NE(p, nullptr);
    path_ = p ? p : "/tmp/meridian-faults-fallback";
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

TEST(PlantedBugs, ParsesTheKnownNames) {
  Result<PlantedBugs> none = ParsePlantedBugs("");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->ack_before_commit || none->no_lww || none->follower_strong_read);

  Result<PlantedBugs> one = ParsePlantedBugs("no-lww");
  ASSERT_TRUE(one.ok());
  EXPECT_TRUE(one->no_lww);
  EXPECT_FALSE(one->ack_before_commit || one->follower_strong_read);

  Result<PlantedBugs> all = ParsePlantedBugs(" ack-before-commit, follower-strong-read ,no-lww,");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_TRUE(all->ack_before_commit && all->no_lww && all->follower_strong_read);
}

TEST(PlantedBugs, RefusesAnUnknownName) {
  Result<PlantedBugs> r = ParsePlantedBugs("no-lww,ack-before-comit");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kValidation);
  EXPECT_NE(r.status().message().find("'ack-before-comit'"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("follower-strong-read"), std::string::npos) << "lists the known names";
}

TEST(PlantedBugs, ReadFromTheEnvironment) {
  ASSERT_EQ(::unsetenv(kPlantEnvironmentVariable), 0);
  Result<PlantedBugs> unset = PlantedBugsFromEnvironment();
  ASSERT_TRUE(unset.ok());
  EXPECT_FALSE(unset->ack_before_commit || unset->no_lww || unset->follower_strong_read);
  ASSERT_EQ(::setenv(kPlantEnvironmentVariable, "follower-strong-read", 1), 0);
  Result<PlantedBugs> set = PlantedBugsFromEnvironment();
  ASSERT_EQ(::setenv(kPlantEnvironmentVariable, "nonsense", 1), 0);
  Result<PlantedBugs> bad = PlantedBugsFromEnvironment();
  ASSERT_EQ(::unsetenv(kPlantEnvironmentVariable), 0);
  ASSERT_TRUE(set.ok());
  EXPECT_TRUE(set->follower_strong_read);
  EXPECT_FALSE(bad.ok());
}

TEST(FaultHookWarnings, NoneWhenOffOneLoudLinePerHookWhenOn) {
  EXPECT_TRUE(FaultHookWarnings(FaultHooks{}).empty());
  FaultHooks hooks;
  hooks.clock_offset_ms = -250;
  hooks.fail_fsync_file = "/tmp/x";
  hooks.plants = PlantedBugs{true, true, true};
  std::vector<std::string> lines = FaultHookWarnings(hooks);
  ASSERT_EQ(lines.size(), 5u);
  for (const std::string& line : lines) EXPECT_EQ(line.rfind("meridian: WARNING: ", 0), 0u) << line;
  EXPECT_NE(lines[0].find("-250"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("/tmp/x"), std::string::npos) << lines[1];
  for (size_t i = 2; i < lines.size(); ++i) {
    EXPECT_NE(lines[i].find("PLANTED BUG"), std::string::npos) << lines[i];
    EXPECT_NE(lines[i].find("for the chaos suite's self-test"), std::string::npos) << lines[i];
  }
}

PutItemRequest Put(const std::string& pk, const std::string& v) {
  PutItemRequest put;
  put.table_name = "tab";
  put.item = {{"pk", AttributeValue::S(pk)}, {"v", AttributeValue::S(v)}};
  return put;
}

CreateTableRequest Table() {
  CreateTableRequest create;
  create.table_name = "tab";
  create.key_schema = {{"pk", KeyType::kHash}};
  create.attribute_definitions = {{"pk", AttributeType::kS}};
  create.billing_mode = BillingMode::kPayPerRequest;
  return create;
}

std::string ValueOf(Engine& engine, const std::string& pk) {
  GetItemRequest get;
  get.table_name = "tab";
  get.key = {{"pk", AttributeValue::S(pk)}};
  Result<GetItemResponse> r = engine.GetItem(get);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() && r->item ? r->item->at("v").s() : "<none>";
}

// Synced writes through RocksDB with the failing file system: they work until the file exists,
// then fail, and keep failing once it is gone (RocksDB keeps its background error: a failed sync
// is not retried). Reopened, the engine has every write acknowledged before the failure.
TEST(FailFsyncEnv, SyncedWritesFailWhileTheFileExistsAndTheEngineDoesNotRetry) {
  TempDir dir;
  std::filesystem::path fail = dir.path() / "fail-fsync";
  auto open = [&] {
    EngineOptions o;
    o.sync = true;
    o.block_cache_bytes = 4 << 20;
    o.write_buffer_bytes = 4 << 20;
    o.env = NewFailFsyncEnv(fail.string());
    return Engine::Open((dir.path() / "db").string(), std::move(o));
  };
  {
    Result<std::unique_ptr<Engine>> engine = open();
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    Result<CreateTableResponse> created = engine.value()->CreateTable(Table());
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    ASSERT_TRUE(engine.value()->PutItem(Put("before", "1")).ok());

    { std::ofstream(fail) << "fail\n"; }
    Result<PutItemResponse> failed = engine.value()->PutItem(Put("during", "2"));
    ASSERT_FALSE(failed.ok());
    EXPECT_NE(failed.status().message().find("injected fsync failure"), std::string::npos)
        << failed.status().ToString();

    std::filesystem::remove(fail);
    Result<PutItemResponse> after = engine.value()->PutItem(Put("after", "3"));
    EXPECT_FALSE(after.ok()) << "a write after a failed sync must not succeed on the same open database";
  }
  Result<std::unique_ptr<Engine>> reopened = open();
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ(ValueOf(*reopened.value(), "before"), "1");
  EXPECT_EQ(ValueOf(*reopened.value(), "after"), "<none>");
  ASSERT_TRUE(reopened.value()->PutItem(Put("reopened", "4")).ok());
}

// The planted bug no-lww against the real merge: a concurrent remote version that loses under
// the conflict rule (a lower hybrid timestamp) is dropped normally and overwrites under the plant.
TEST(PlantNoLww, AReplicatedVersionThatLosesTheConflictOverwritesAnyway) {
  for (bool planted : {false, true}) {
    SCOPED_TRACE(planted ? "planted" : "not planted");
    TempDir dir;
    EngineOptions o;
    o.sync = false;
    o.region = "us-east";
    o.block_cache_bytes = 4 << 20;
    o.write_buffer_bytes = 4 << 20;
    o.plant_no_lww = planted;
    Result<std::unique_ptr<Engine>> opened = Engine::Open((dir.path() / "db").string(), std::move(o));
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    Engine& engine = *opened.value();
    uint64_t seq = 0;
    auto apply = [&](const Request& r) {
      rocksdb::WriteBatch batch;
      ApplyOptions a{kT0, &batch, ++seq};
      Result<Response> out = engine.Execute(r, a);
      EXPECT_TRUE(engine.db()->Write(rocksdb::WriteOptions(), &batch).ok());
      return out;
    };
    Result<Response> created = apply(Table());
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    UpdateTableRequest replicas;
    replicas.table_name = "tab";
    replicas.replica_updates.push_back(ReplicaUpdate{std::string("eu-west"), std::nullopt});
    ASSERT_TRUE(apply(replicas).ok());
    ASSERT_TRUE(apply(Put("k", "local")).ok());

    ReplicatedChange change;
    change.seq = 1;
    change.table = "tab";
    change.key = {{"pk", AttributeValue::S("k")}};
    change.image = Item{{"pk", AttributeValue::S("k")}, {"v", AttributeValue::S("remote")}};
    change.version = ItemVersion{{{"eu-west", 1}}, conflict::MakeHlc(kT0 - 60000, 0), "eu-west"};
    change.time_ms = kT0 - 60000;
    ReplicationApplyRequest batch;
    batch.source = "eu-west";
    batch.after_seq = 0;
    batch.last_seq = 1;
    batch.source_head = 1;
    batch.changes.push_back(change);
    Result<Response> r = apply(batch);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(ValueOf(engine, "k"), planted ? "remote" : "local");
  }
}

}  // namespace
}  // namespace meridian::region
