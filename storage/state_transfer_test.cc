// StateReader -> StateStager -> Engine::InstallStagedState: the state moves whole, in bounded
// chunks, and an install interrupted after its first write is finished when the engine opens.
#include "storage/state_transfer.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <filesystem>

#include "tests/integration/process.h"
#include <fstream>

namespace meridian {
namespace {

using testing::TempDir;

std::unique_ptr<Engine> OpenEngine(const std::string& path) {
  EngineOptions o;
  o.sync = false;
  o.clock_ms = [] { return int64_t{1700000000123}; };
  o.block_cache_bytes = 8 << 20;
  o.write_buffer_bytes = 8 << 20;
  auto e = Engine::Open(path, std::move(o));
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return e.ok() ? std::move(e).value() : nullptr;
}

void Fill(Engine* e, const std::string& table, int items, size_t value_bytes) {
  CreateTableRequest c;
  c.table_name = table;
  c.key_schema.push_back({"pk", KeyType::kHash});
  c.attribute_definitions.push_back({"pk", AttributeType::kS});
  c.billing_mode = BillingMode::kPayPerRequest;
  ASSERT_TRUE(e->CreateTable(c).ok());
  for (int i = 0; i < items; ++i) {
    PutItemRequest p;
    p.table_name = table;
    p.item["pk"] = AttributeValue::S("key-" + std::to_string(i));
    p.item["v"] = AttributeValue::S(std::string(value_bytes, static_cast<char>('a' + i % 26)));
    ASSERT_TRUE(e->PutItem(p).ok());
  }
}

// Streams `from`'s whole state into a staging folder of `to`, `chunk_bytes` at a time.
std::string Stage(Engine* from, Engine* to, const std::string& dir, size_t chunk_bytes, size_t* chunks) {
  const rocksdb::Snapshot* snap = from->db()->GetSnapshot();
  StateReader reader(from, snap);
  auto stager = StateStager::Create(to, dir);
  EXPECT_TRUE(stager.ok());
  *chunks = 0;
  for (;;) {
    Result<std::string> chunk = reader.Next(chunk_bytes);
    EXPECT_TRUE(chunk.ok()) << chunk.status().ToString();
    if (!chunk.ok() || chunk->empty()) break;
    EXPECT_LE(chunk->size(), chunk_bytes + 4096) << "a chunk far over its bound";
    Status st = (*stager)->Add(*chunk);
    EXPECT_TRUE(st.ok()) << st.ToString();
    ++*chunks;
  }
  EXPECT_TRUE((*stager)->Finish().ok());
  EXPECT_EQ((*stager)->keys(), reader.keys());
  from->db()->ReleaseSnapshot(snap);
  return dir;
}

std::string Dump(Engine* e) {
  auto d = e->DumpState(nullptr);
  EXPECT_TRUE(d.ok());
  return d.ok() ? *d : "";
}

TEST(StateTransferTest, MovesTheWholeStateInBoundedChunksAndReplacesWhatWasThere) {
  TempDir tmp;
  auto a = OpenEngine(tmp.path().string() + "/a");
  auto b = OpenEngine(tmp.path().string() + "/b");
  ASSERT_NO_FATAL_FAILURE(Fill(a.get(), "tbl", 2000, 1000));
  ASSERT_NO_FATAL_FAILURE(Fill(b.get(), "old", 50, 10));  // replaced, not merged
  size_t chunks = 0;
  std::string dir = Stage(a.get(), b.get(), (tmp.path().string() + "/staging"), 64 << 10, &chunks);
  EXPECT_GT(chunks, 20u) << "2 MB of state in 64 KB chunks";

  rocksdb::WriteBatch extra;
  ASSERT_TRUE(extra.Put(b->cf(Cf::kRaftLog), "marker", "x").ok());
  Status st = b->InstallStagedState(dir, &extra);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(Dump(b.get()), Dump(a.get()));
  std::string v;
  EXPECT_TRUE(b->db()->Get(rocksdb::ReadOptions(), b->cf(Cf::kRaftLog), "marker", &v).ok());
  EXPECT_FALSE(std::filesystem::exists(dir)) << "the staging folder is removed once installed";

  // The installed state serves reads and takes writes like any other.
  GetItemRequest g;
  g.table_name = "tbl";
  g.key["pk"] = AttributeValue::S("key-1999");
  auto got = b->GetItem(g);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->item.has_value());
  ListTablesRequest l;
  auto tables = b->ListTables(l);
  ASSERT_TRUE(tables.ok());
  EXPECT_EQ(tables->table_names, std::vector<std::string>{"tbl"});
}

TEST(StateTransferTest, AnEmptyStateInstallsAsEmpty) {
  TempDir tmp;
  auto a = OpenEngine(tmp.path().string() + "/a");
  auto b = OpenEngine(tmp.path().string() + "/b");
  ASSERT_NO_FATAL_FAILURE(Fill(b.get(), "old", 5, 10));
  size_t chunks = 0;
  std::string dir = Stage(a.get(), b.get(), (tmp.path().string() + "/staging"), 1 << 20, &chunks);
  ASSERT_TRUE(b->InstallStagedState(dir, nullptr).ok());
  EXPECT_EQ(Dump(b.get()), Dump(a.get()));
}

TEST(StateTransferTest, ChunksOutOfOrderOrUndecodableAreRefused) {
  TempDir tmp;
  auto a = OpenEngine(tmp.path().string() + "/a");
  auto b = OpenEngine(tmp.path().string() + "/b");
  ASSERT_NO_FATAL_FAILURE(Fill(a.get(), "tbl", 300, 1000));
  const rocksdb::Snapshot* snap = a->db()->GetSnapshot();
  StateReader reader(a.get(), snap);
  std::vector<std::string> chunks;
  for (;;) {
    auto c = reader.Next(16 << 10);
    ASSERT_TRUE(c.ok());
    if (c->empty()) break;
    chunks.push_back(*c);
  }
  a->db()->ReleaseSnapshot(snap);
  ASSERT_GT(chunks.size(), 3u);
  {
    auto stager = StateStager::Create(b.get(), (tmp.path().string() + "/s1"));
    ASSERT_TRUE(stager.ok());
    ASSERT_TRUE((*stager)->Add(chunks[0]).ok());
    ASSERT_TRUE((*stager)->Add(chunks[2]).ok());
    EXPECT_FALSE((*stager)->Add(chunks[1]).ok()) << "keys going backwards";
    EXPECT_FALSE((*stager)->Finish().ok()) << "a failed staging cannot be finished";
  }
  {
    auto stager = StateStager::Create(b.get(), (tmp.path().string() + "/s2"));
    ASSERT_TRUE(stager.ok());
    EXPECT_FALSE((*stager)->Add("not msgpack \xc1").ok());
    auto other = StateStager::Create(b.get(), (tmp.path().string() + "/s3"));
    EXPECT_FALSE((*other)->Add(std::string("\x92\x09\x90", 3)).ok()) << "family 9 does not exist";
  }
}

TEST(StateTransferTest, ADamagedStagedFileChangesNothing) {
  TempDir tmp;
  auto a = OpenEngine(tmp.path().string() + "/a");
  auto b = OpenEngine(tmp.path().string() + "/b");
  ASSERT_NO_FATAL_FAILURE(Fill(a.get(), "tbl", 500, 1000));
  ASSERT_NO_FATAL_FAILURE(Fill(b.get(), "old", 5, 10));
  std::string before = Dump(b.get());
  size_t chunks = 0;
  std::string dir = Stage(a.get(), b.get(), (tmp.path().string() + "/staging"), 1 << 20, &chunks);
  std::string items = StagedFile(dir, Cf::kItems);
  {
    std::fstream f(items, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.write("garbage!", 8);
  }
  Status st = b->InstallStagedState(dir, nullptr);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("damaged"), std::string::npos) << st.ToString();
  EXPECT_EQ(Dump(b.get()), before);
}

// A node that stopped after the install's first write (deletes, extra, marker) but before the
// ingestion: the next open finishes it from the staged files.
TEST(StateTransferTest, AnInterruptedInstallIsFinishedWhenTheEngineOpens) {
  TempDir tmp;
  auto a = OpenEngine(tmp.path().string() + "/a");
  auto b = OpenEngine(tmp.path().string() + "/b");
  ASSERT_NO_FATAL_FAILURE(Fill(a.get(), "tbl", 800, 500));
  ASSERT_NO_FATAL_FAILURE(Fill(b.get(), "old", 5, 10));
  size_t chunks = 0;
  std::string dir = Stage(a.get(), b.get(), (tmp.path().string() + "/staging"), 32 << 10, &chunks);
  // What the first write leaves (the ranges deleted are not needed for the check: the redo
  // deletes what is there).
  rocksdb::WriteOptions wo;
  wo.sync = true;
  ASSERT_TRUE(b->db()->Put(wo, b->db()->DefaultColumnFamily(), "meridian/staged-install", dir).ok());
  b.reset();
  b = OpenEngine(tmp.path().string() + "/b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(Dump(b.get()), Dump(a.get()));
  EXPECT_FALSE(std::filesystem::exists(dir));
  // Opening again does nothing more.
  b.reset();
  b = OpenEngine(tmp.path().string() + "/b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(Dump(b.get()), Dump(a.get()));
}

TEST(StateTransferTest, AnInterruptedInstallWhoseFilesAreGoneStopsTheOpenWithAClearError) {
  TempDir tmp;
  {
    auto b = OpenEngine(tmp.path().string() + "/b");
    rocksdb::WriteOptions wo;
    wo.sync = true;
    ASSERT_TRUE(
        b->db()->Put(wo, b->db()->DefaultColumnFamily(), "meridian/staged-install", (tmp.path().string() + "/gone")).ok());
  }
  EngineOptions o;
  o.sync = false;
  auto e = Engine::Open((tmp.path().string() + "/b"), std::move(o));
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("empty this facility's data folder"), std::string::npos)
      << e.status().ToString();
}

}  // namespace
}  // namespace meridian
