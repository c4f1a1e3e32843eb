#include "region/raft_storage.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <stdlib.h>

#include <filesystem>
#include <random>

namespace meridian::region {
namespace {

using raft::Entry;
using raft::EntryType;
using raft::HardState;
using raft::LogIndex;
using raft::NodeId;
using raft::Term;

// A fresh directory under /tmp, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/meridian-raft-storage-XXXXXX";
    char* p = mkdtemp(tmpl);
    EXPECT_NE(p, nullptr);
    path_ = p ? p : "/tmp/meridian-raft-storage-fallback";
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::unique_ptr<Engine> OpenEngine(const std::string& path) {
  EngineOptions o;
  o.sync = false;  // tests only
  o.clock_ms = [] { return int64_t{1}; };
  o.block_cache_bytes = 8 << 20;
  o.write_buffer_bytes = 8 << 20;
  auto e = Engine::Open(path, std::move(o));
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return e.ok() ? std::move(e).value() : nullptr;
}

Entry E(uint64_t index, uint64_t term, std::string data = "", EntryType type = EntryType::kNormal) {
  if (data.empty()) data = "entry " + std::to_string(index) + std::string("\0\xff", 2);
  return Entry{Term(term), LogIndex(index), type, std::move(data)};
}

std::vector<Entry> Range(uint64_t from, uint64_t to, uint64_t term) {
  std::vector<Entry> out;
  for (uint64_t i = from; i <= to; ++i) out.push_back(E(i, term));
  return out;
}

void MustWrite(Engine* engine, rocksdb::WriteBatch* batch) {
  rocksdb::Status s = engine->db()->Write(rocksdb::WriteOptions(), batch);
  ASSERT_TRUE(s.ok()) << s.ToString();
  batch->Clear();
}

class RaftStorageTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    storage_.reset();
    engine_.reset();
    engine_ = OpenEngine(dir_.path() + "/db");
    ASSERT_NE(engine_, nullptr);
    storage_ = std::make_unique<RaftStorage>(engine_.get(), /*sync=*/false);
  }
  raft::PersistedState MustLoad() {
    auto s = storage_->Load();
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : raft::PersistedState{};
  }
  void MustPersist(std::vector<Entry> entries, std::optional<HardState> hs = std::nullopt) {
    raft::Ready ready;
    ready.entries = std::move(entries);
    ready.hard_state = hs;
    Status st = storage_->Persist(ready);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  TempDir dir_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<RaftStorage> storage_;
};

TEST_F(RaftStorageTest, EmptyFolderLoadsEmptyState) {
  raft::PersistedState s = MustLoad();
  EXPECT_EQ(s.hard_state, HardState{});
  EXPECT_EQ(s.snapshot.index, LogIndex(0));
  EXPECT_TRUE(s.entries.empty());
  EXPECT_EQ(storage_->LoadApplied().value(), LogIndex(0));
  EXPECT_EQ(storage_->LoadNodeId().value(), 0u);
  EXPECT_TRUE(storage_->Persist(raft::Ready{}).ok());  // nothing to persist: nothing written
}

TEST_F(RaftStorageTest, PersistLoadAndOverwriteASuffix) {
  std::vector<Entry> first = Range(1, 5, 1);
  first[2].type = EntryType::kNoop;
  first[2].data.clear();
  first[3].type = EntryType::kConfChange;
  MustPersist(first, HardState{Term(1), NodeId(2), LogIndex(3)});
  raft::PersistedState s = MustLoad();
  EXPECT_EQ(s.entries, first);
  EXPECT_EQ(s.hard_state, (HardState{Term(1), NodeId(2), LogIndex(3)}));

  // A new leader's entries from index 3 on: the stored 3..5 go, even 5 which is not rewritten.
  std::vector<Entry> second = Range(3, 4, 2);
  MustPersist(second, HardState{Term(2), NodeId(3), LogIndex(3)});
  std::vector<Entry> want = {first[0], first[1], second[0], second[1]};
  EXPECT_EQ(MustLoad().entries, want);

  // Read back by a new Engine over the same folder.
  Reopen();
  s = MustLoad();
  EXPECT_EQ(s.entries, want);
  EXPECT_EQ(s.hard_state, (HardState{Term(2), NodeId(3), LogIndex(3)}));

  // After a restart (no cached last index), an overwrite from index 2 still drops 3 and 4.
  Reopen();
  MustPersist({E(2, 3)});
  EXPECT_EQ(MustLoad().entries, (std::vector<Entry>{first[0], E(2, 3)}));
  // Appending continues the log; a hard state alone is persisted too.
  MustPersist(Range(3, 6, 3));
  MustPersist({}, HardState{Term(3), NodeId(0), LogIndex(6)});
  Reopen();
  s = MustLoad();
  ASSERT_EQ(s.entries.size(), 6u);
  EXPECT_EQ(s.entries.back(), E(6, 3));
  EXPECT_EQ(s.hard_state, (HardState{Term(3), NodeId(0), LogIndex(6)}));

  // Entries that are not contiguous are refused, and nothing is written.
  raft::Ready bad;
  bad.entries = {E(7, 3), E(9, 3)};
  bad.hard_state = HardState{Term(9), NodeId(9), LogIndex(9)};
  EXPECT_EQ(storage_->Persist(bad).code(), ErrorCode::kInternalServerError);
  EXPECT_EQ(MustLoad().hard_state.term, Term(3));
  EXPECT_EQ(MustLoad().entries.size(), 6u);
}

TEST_F(RaftStorageTest, CompactKeepsMetadataAndDropsCoveredEntries) {
  MustPersist(Range(1, 10, 2), HardState{Term(2), NodeId(1), LogIndex(10)});
  std::vector<NodeId> voters = {NodeId(1), NodeId(2), NodeId(3)};
  ASSERT_TRUE(storage_->Compact(LogIndex(6), Term(2), voters).ok());
  raft::PersistedState s = MustLoad();
  EXPECT_EQ(s.snapshot.index, LogIndex(6));
  EXPECT_EQ(s.snapshot.term, Term(2));
  EXPECT_EQ(s.snapshot.voters, voters);
  EXPECT_TRUE(s.snapshot.data.empty());
  EXPECT_EQ(s.entries, Range(7, 10, 2));

  Reopen();
  s = MustLoad();
  EXPECT_EQ(s.snapshot.index, LogIndex(6));
  EXPECT_EQ(s.entries, Range(7, 10, 2));
  // The covered entries are really gone, not just skipped.
  std::string value;
  std::string key6("e\0\0\0\0\0\0\0\x06", 9);
  EXPECT_TRUE(engine_->db()->Get(rocksdb::ReadOptions(), engine_->cf(Cf::kRaftLog), key6, &value).IsNotFound());

  // Compacting everything leaves an empty log that appends go on from.
  ASSERT_TRUE(storage_->Compact(LogIndex(10), Term(2), voters).ok());
  EXPECT_TRUE(MustLoad().entries.empty());
  MustPersist(Range(11, 12, 3));
  EXPECT_EQ(MustLoad().entries, Range(11, 12, 3));
}

TEST_F(RaftStorageTest, AHoleAfterTheSnapshotIsAnError) {
  MustPersist(Range(1, 5, 1));
  std::string key3("e\0\0\0\0\0\0\0\x03", 9);
  ASSERT_TRUE(engine_->db()->Delete(rocksdb::WriteOptions(), engine_->cf(Cf::kRaftLog), key3).ok());
  auto s = storage_->Load();
  EXPECT_EQ(s.status().code(), ErrorCode::kInternalServerError);
  EXPECT_NE(s.status().message().find("hole"), std::string::npos) << s.status().message();

  // A corrupt entry is an error too, never a crash.
  std::string key1("e\0\0\0\0\0\0\0\x01", 9);
  MustPersist({E(3, 1)});  // no hole any more
  EXPECT_EQ(MustLoad().entries.size(), 3u);
  ASSERT_TRUE(engine_->db()->Put(rocksdb::WriteOptions(), engine_->cf(Cf::kRaftLog), key1, "\xc1garbage").ok());
  s = storage_->Load();
  EXPECT_EQ(s.status().code(), ErrorCode::kInternalServerError);
  EXPECT_NE(s.status().message().find("does not decode"), std::string::npos) << s.status().message();
}

TEST_F(RaftStorageTest, AddInstallSnapshotMakesTheSnapshotTheBase) {
  MustPersist(Range(1, 5, 1), HardState{Term(1), NodeId(1), LogIndex(5)});
  raft::Snapshot meta{LogIndex(20), Term(3), {NodeId(1), NodeId(4), NodeId(5)}, "ignored: the state is elsewhere"};
  rocksdb::WriteBatch batch;
  storage_->AddInstallSnapshot(meta, HardState{Term(3), NodeId(4), LogIndex(20)}, &batch);
  EXPECT_EQ(MustLoad().entries.size(), 5u);  // nothing until the caller writes
  MustWrite(engine_.get(), &batch);
  raft::PersistedState s = MustLoad();
  EXPECT_EQ(s.snapshot.index, LogIndex(20));
  EXPECT_EQ(s.snapshot.term, Term(3));
  EXPECT_EQ(s.snapshot.voters, meta.voters);
  EXPECT_TRUE(s.snapshot.data.empty());
  EXPECT_TRUE(s.entries.empty());
  EXPECT_EQ(s.hard_state, (HardState{Term(3), NodeId(4), LogIndex(20)}));
  MustPersist(Range(21, 22, 3));
  EXPECT_EQ(MustLoad().entries, Range(21, 22, 3));

  // Without a hard state, the stored one stays.
  storage_->AddInstallSnapshot(raft::Snapshot{LogIndex(30), Term(4), {NodeId(1)}, ""}, std::nullopt, &batch);
  MustWrite(engine_.get(), &batch);
  s = MustLoad();
  EXPECT_EQ(s.snapshot.index, LogIndex(30));
  EXPECT_TRUE(s.entries.empty());
  EXPECT_EQ(s.hard_state.term, Term(3));
}

TEST_F(RaftStorageTest, InstallStateWithTheLogBaseInOneWrite) {
  // A leader's state at index 40, installed with the log changes and applied index as extra.
  TempDir other;
  auto leader = OpenEngine(other.path() + "/db");
  ASSERT_NE(leader, nullptr);
  RaftStorage leader_storage(leader.get(), false);
  rocksdb::WriteBatch applied;
  leader_storage.SetApplied(LogIndex(40), &applied);
  MustWrite(leader.get(), &applied);
  ASSERT_TRUE(leader_storage.SaveNodeId(1).ok());
  auto dump = leader->DumpState(nullptr);
  ASSERT_TRUE(dump.ok());

  ASSERT_TRUE(storage_->SaveNodeId(2).ok());
  MustPersist(Range(1, 3, 1));
  rocksdb::WriteBatch extra;
  raft::Snapshot meta{LogIndex(40), Term(5), {NodeId(1), NodeId(2), NodeId(3)}, *dump};
  storage_->AddInstallSnapshot(meta, HardState{Term(5), NodeId(0), LogIndex(40)}, &extra);
  storage_->SetApplied(meta.index, &extra);
  Status st = engine_->InstallState(*dump, &extra);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(storage_->LoadApplied().value(), LogIndex(40));
  EXPECT_EQ(storage_->LoadNodeId().value(), 2u);  // node-local: not taken from the leader
  raft::PersistedState s = MustLoad();
  EXPECT_EQ(s.snapshot.index, LogIndex(40));
  EXPECT_TRUE(s.entries.empty());
  MustPersist(Range(41, 41, 5));
  EXPECT_EQ(MustLoad().entries, Range(41, 41, 5));
}

TEST_F(RaftStorageTest, AppliedIndexAndNodeId) {
  rocksdb::WriteBatch batch;
  storage_->SetApplied(LogIndex(42), &batch);
  EXPECT_EQ(storage_->LoadApplied().value(), LogIndex(0));
  MustWrite(engine_.get(), &batch);
  EXPECT_EQ(storage_->LoadApplied().value(), LogIndex(42));
  ASSERT_TRUE(storage_->SaveNodeId(0x0102030405060708).ok());
  Reopen();
  EXPECT_EQ(storage_->LoadApplied().value(), LogIndex(42));
  EXPECT_EQ(storage_->LoadNodeId().value(), 0x0102030405060708u);
  // The node id is not part of the replicated state.
  auto dump = engine_->DumpState(nullptr);
  ASSERT_TRUE(dump.ok());
  EXPECT_EQ(dump->find(std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8)), std::string::npos);
}

// --- RequestLog ------------------------------------------------------------------------------------

class RequestLogTest : public RaftStorageTest {
 protected:
  void Remember(RequestLog& log, const std::string& key, int64_t now_ms, const std::string& answer) {
    rocksdb::WriteBatch batch;
    Status st = log.Remember(key, now_ms, answer, &batch);
    ASSERT_TRUE(st.ok()) << st.ToString();
    MustWrite(engine_.get(), &batch);
  }
  std::optional<std::string> Lookup(RequestLog& log, const std::string& key) {
    auto r = log.Lookup(key);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : std::nullopt;
  }
  uint64_t Count(RequestLog& log) { return log.Count().value(); }
};

TEST_F(RequestLogTest, RemembersUntilTheBatchIsWrittenAndThenAnswers) {
  RequestLog log(engine_.get());
  rocksdb::WriteBatch batch;
  ASSERT_TRUE(log.Remember("key-a", 1000, std::string("answer\0a", 8), &batch).ok());
  EXPECT_EQ(Lookup(log, "key-a"), std::nullopt);
  MustWrite(engine_.get(), &batch);
  EXPECT_EQ(Lookup(log, "key-a"), std::string("answer\0a", 8));
  EXPECT_EQ(Lookup(log, "key-b"), std::nullopt);
  EXPECT_EQ(Count(log), 1u);
  // The same key again replaces the record; the count stays.
  Remember(log, "key-a", 1001, "second");
  EXPECT_EQ(Lookup(log, "key-a"), "second");
  EXPECT_EQ(Count(log), 1u);
  // Records survive a restart (they are in RocksDB).
  Reopen();
  RequestLog reopened(engine_.get());
  EXPECT_EQ(Lookup(reopened, "key-a"), "second");
}

TEST_F(RequestLogTest, WindowByTime) {
  RequestLog log(engine_.get(), /*window_ms=*/1000, /*max_records=*/100);
  Remember(log, "a", 0, "A");
  Remember(log, "b", 500, "B");
  Remember(log, "c", 999, "C");
  EXPECT_EQ(Count(log), 3u);
  EXPECT_EQ(Lookup(log, "a"), "A");
  Remember(log, "d", 1000, "D");  // a is 1000 ms old: expired
  EXPECT_EQ(Lookup(log, "a"), std::nullopt);
  EXPECT_EQ(Lookup(log, "b"), "B");
  EXPECT_EQ(Count(log), 3u);
  Remember(log, "e", 1999, "E");  // b and c expire; d (at 1000) does not
  EXPECT_EQ(Lookup(log, "b"), std::nullopt);
  EXPECT_EQ(Lookup(log, "c"), std::nullopt);
  EXPECT_EQ(Lookup(log, "d"), "D");
  EXPECT_EQ(Count(log), 2u);
  // Far later: everything older goes, the new record stays.
  Remember(log, "f", 100000, "F");
  EXPECT_EQ(Lookup(log, "d"), std::nullopt);
  EXPECT_EQ(Lookup(log, "e"), std::nullopt);
  EXPECT_EQ(Lookup(log, "f"), "F");
  EXPECT_EQ(Count(log), 1u);
}

TEST_F(RequestLogTest, WindowByCountEvictsTheOldestFirst) {
  RequestLog log(engine_.get(), /*window_ms=*/600000, /*max_records=*/3);
  for (int i = 0; i < 6; ++i) Remember(log, "k" + std::to_string(i), 100 + i, "v" + std::to_string(i));
  EXPECT_EQ(Count(log), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Lookup(log, "k" + std::to_string(i)), std::nullopt) << i;
  for (int i = 3; i < 6; ++i) EXPECT_EQ(Lookup(log, "k" + std::to_string(i)), "v" + std::to_string(i)) << i;
  // Entry times may go backwards (a new leader's clock): eviction follows entry time, and the
  // record being added is never the one evicted.
  Remember(log, "old", 50, "O");
  EXPECT_EQ(Lookup(log, "old"), "O");
  EXPECT_EQ(Lookup(log, "k3"), std::nullopt);
  Remember(log, "new", 200, "N");
  EXPECT_EQ(Lookup(log, "old"), std::nullopt);  // the oldest by time
  EXPECT_EQ(Lookup(log, "k4"), "v4");
  EXPECT_EQ(Lookup(log, "k5"), "v5");
  EXPECT_EQ(Count(log), 3u);
}

TEST_F(RequestLogTest, ExpiredRecordsGoInBoundedSteps) {
  RequestLog log(engine_.get(), /*window_ms=*/10, /*max_records=*/100000);
  const int n = static_cast<int>(RequestLog::kMaxExpiredPerRemember) + 100;
  for (int i = 0; i < n; ++i) Remember(log, "k" + std::to_string(i), 0, "v");
  EXPECT_EQ(Count(log), static_cast<uint64_t>(n));
  Remember(log, "late-1", 1000, "v");
  EXPECT_EQ(Count(log), static_cast<uint64_t>(n - RequestLog::kMaxExpiredPerRemember + 1));
  Remember(log, "late-2", 1000, "v");
  EXPECT_EQ(Count(log), 2u);
  EXPECT_EQ(Lookup(log, "k0"), std::nullopt);
  EXPECT_EQ(Lookup(log, "late-1"), "v");
}

TEST_F(RequestLogTest, AFailureAddsNothingToTheBatch) {
  RequestLog log(engine_.get());
  Remember(log, "k", 1, "v");
  // A corrupt record for the key being remembered: an error, and the caller's batch unchanged.
  ASSERT_TRUE(engine_->db()->Put(rocksdb::WriteOptions(), engine_->cf(Cf::kRegion), "q/k", "\xc1").ok());
  rocksdb::WriteBatch batch;
  ASSERT_TRUE(batch.Put(engine_->cf(Cf::kRegion), "caller", "x").ok());
  std::string before = batch.Data();
  EXPECT_EQ(log.Remember("k", 2, "w", &batch).code(), ErrorCode::kInternalServerError);
  EXPECT_EQ(batch.Data(), before);
  EXPECT_EQ(log.Lookup("k").status().code(), ErrorCode::kInternalServerError);
}

// Two replicas fed the same entries (writes with their request-log records and applied index)
// hold byte-identical replicated state.
TEST(RequestLogDeterminismTest, TwoEnginesHoldTheSameBytes) {
  uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::printf("RequestLogDeterminismTest seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  TempDir dir;
  auto a = OpenEngine(dir.path() + "/a");
  auto b = OpenEngine(dir.path() + "/b");
  ASSERT_TRUE(a && b);
  RaftStorage sa(a.get(), false), sb(b.get(), false);
  RequestLog la(a.get(), 5000, 50), lb(b.get(), 5000, 50);

  CreateTableRequest create;
  create.table_name = "det";
  create.key_schema.push_back({"pk", KeyType::kHash});
  create.attribute_definitions.push_back({"pk", AttributeType::kS});
  create.billing_mode = BillingMode::kPayPerRequest;
  int64_t now_ms = 1700000000000;
  for (uint64_t index = 1; index <= 400; ++index) {
    // Mostly forward, sometimes a step back (a new leader's clock).
    now_ms += static_cast<int64_t>(rng() % 200) - 20;
    Request request = create;
    if (index > 1) {
      PutItemRequest put;
      put.table_name = "det";
      put.item["pk"] = AttributeValue::S("k" + std::to_string(rng() % 30));
      put.item["n"] = AttributeValue::ParseN(std::to_string(rng() % 1000)).value();
      request = put;
    }
    std::string key = "req-" + std::to_string(rng() % 120);  // retries reuse keys
    for (auto [engine, storage, log] : {std::tuple{a.get(), &sa, &la}, std::tuple{b.get(), &sb, &lb}}) {
      rocksdb::WriteBatch batch;
      auto found = log->Lookup(key);
      ASSERT_TRUE(found.ok());
      if (!found.value()) {
        auto r = engine->Execute(request, ApplyOptions{now_ms, &batch});
        ASSERT_TRUE(log->Remember(key, now_ms, r.ok() ? "ok" : r.status().ToString(), &batch).ok());
      }
      storage->SetApplied(LogIndex(index), &batch);
      MustWrite(engine, &batch);
    }
  }
  for (Cf which : {Cf::kCatalog, Cf::kItems, Cf::kChanges, Cf::kRegion}) {
    std::string da, db;
    for (auto [engine, out] : {std::pair{a.get(), &da}, std::pair{b.get(), &db}}) {
      std::unique_ptr<rocksdb::Iterator> it(engine->db()->NewIterator(rocksdb::ReadOptions(), engine->cf(which)));
      for (it->SeekToFirst(); it->Valid(); it->Next()) *out += it->key().ToString() + "=" + it->value().ToString() + ";";
    }
    EXPECT_EQ(da, db) << static_cast<int>(which);
    if (which != Cf::kChanges) {  // changes: unused yet
      EXPECT_FALSE(da.empty()) << static_cast<int>(which);
    }
  }
  EXPECT_GT(la.Count().value(), 0u);
  EXPECT_LE(la.Count().value(), 50u);
  EXPECT_EQ(sa.LoadApplied().value(), LogIndex(400));
  EXPECT_EQ(a->DumpState(nullptr).value(), b->DumpState(nullptr).value());
}

}  // namespace
}  // namespace meridian::region
