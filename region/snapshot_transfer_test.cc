// OutgoingSnapshot -> IncomingSnapshot between two real engines, with the frames passed by hand:
// in order, with a lost chunk, a lost acknowledgement, a wrong digest, and a transfer replaced.
#include "region/snapshot_transfer.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <filesystem>

#include "tests/integration/process.h"

namespace meridian::region {
namespace {

using Clock = std::chrono::steady_clock;

using testing::TempDir;

std::unique_ptr<Engine> OpenEngine(const std::string& path) {
  EngineOptions o;
  o.sync = false;
  o.block_cache_bytes = 8 << 20;
  o.write_buffer_bytes = 8 << 20;
  auto e = Engine::Open(path, std::move(o));
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return e.ok() ? std::move(e).value() : nullptr;
}

class SnapshotTransferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    leader_ = OpenEngine(tmp_.path().string() + "/leader");
    follower_ = OpenEngine(tmp_.path().string() + "/follower");
    CreateTableRequest c;
    c.table_name = "tbl";
    c.key_schema.push_back({"pk", KeyType::kHash});
    c.attribute_definitions.push_back({"pk", AttributeType::kS});
    c.billing_mode = BillingMode::kPayPerRequest;
    ASSERT_TRUE(leader_->CreateTable(c).ok());
    for (int i = 0; i < 1500; ++i) {
      PutItemRequest p;
      p.table_name = "tbl";
      p.item["pk"] = AttributeValue::S("k" + std::to_string(i));
      p.item["v"] = AttributeValue::S(std::string(700, 'x'));
      ASSERT_TRUE(leader_->PutItem(p).ok());
    }
    rocksdb::DB* db = leader_->db();
    state_ = std::shared_ptr<const rocksdb::Snapshot>(db->GetSnapshot(),
                                                      [db](const rocksdb::Snapshot* s) { db->ReleaseSnapshot(s); });
    meta_.index = raft::LogIndex{42};
    meta_.term = raft::Term{3};
    meta_.voters = {raft::NodeId{1}, raft::NodeId{2}, raft::NodeId{3}};
  }
  void TearDown() override { state_.reset(); }

  std::unique_ptr<OutgoingSnapshot> Outgoing(uint64_t id) {
    return std::make_unique<OutgoingSnapshot>(leader_.get(), id, 1, meta_, state_, Clock::now());
  }

  // Passes frames both ways (through their wire encoding) until the transfer completes, fails
  // or `max_rounds` pass; `drop(seq)` loses that chunk once.
  void Run(OutgoingSnapshot* out, IncomingSnapshot* in, int max_rounds, std::function<bool(uint64_t)> drop = {}) {
    for (int round = 0; round < max_rounds && !out->complete() && !out->failed(); ++round) {
      auto chunks = out->Pump(4, 16 << 10, Clock::now());
      ASSERT_TRUE(chunks.ok());
      for (const SnapshotChunk& c : *chunks) {
        if (drop && drop(c.seq)) continue;
        std::string wire = PackChunk(c);
        msgpack::object_handle h = msgpack::unpack(wire.data(), wire.size());
        auto back = UnpackChunk(h.get());
        ASSERT_TRUE(back.ok());
        std::string ack = PackAck(in->OnChunk(*back));
        msgpack::object_handle ah = msgpack::unpack(ack.data(), ack.size());
        auto a = UnpackAck(ah.get());
        ASSERT_TRUE(a.ok());
        out->OnAck(*a, Clock::now());
      }
    }
  }

  std::string Dump(Engine* e) { return e->DumpState(nullptr).value(); }

  TempDir tmp_;
  std::unique_ptr<Engine> leader_, follower_;
  std::shared_ptr<const rocksdb::Snapshot> state_;
  raft::Snapshot meta_;
};

TEST_F(SnapshotTransferTest, TheStateArrivesWholeAndInstalls) {
  auto out = Outgoing(7);
  IncomingSnapshot in(follower_.get(), (tmp_.path().string() + "/staging"));
  Run(out.get(), &in, 10000);
  ASSERT_TRUE(out->complete());
  EXPECT_GT(out->chunks_sent(), 30u) << "about 1 MB in 16 KB chunks";
  EXPECT_TRUE(in.Ready(7, 42, 3));
  EXPECT_FALSE(in.Ready(8, 42, 3));
  EXPECT_FALSE(in.Ready(7, 43, 3));
  ASSERT_TRUE(follower_->InstallStagedState(in.dir(), nullptr).ok());
  EXPECT_EQ(Dump(follower_.get()), Dump(leader_.get()));
}

TEST_F(SnapshotTransferTest, ALostChunkFailsTheTransferAndANewOneSucceeds) {
  auto out = Outgoing(7);
  IncomingSnapshot in(follower_.get(), (tmp_.path().string() + "/staging"));
  Run(out.get(), &in, 10000, [](uint64_t seq) { return seq == 5; });
  EXPECT_TRUE(out->failed()) << "the follower saw chunk 6 before 5";
  EXPECT_FALSE(in.Ready(7, 42, 3));
  auto again = Outgoing(8);
  Run(again.get(), &in, 10000);
  ASSERT_TRUE(again->complete());
  ASSERT_TRUE(follower_->InstallStagedState(in.dir(), nullptr).ok());
  EXPECT_EQ(Dump(follower_.get()), Dump(leader_.get()));
}

TEST_F(SnapshotTransferTest, NoAnswerStallsAndAWindowBoundsWhatIsOutstanding) {
  auto out = Outgoing(7);
  auto t0 = Clock::now();
  auto chunks = out->Pump(4, 16 << 10, t0);
  ASSERT_TRUE(chunks.ok());
  EXPECT_EQ(chunks->size(), 4u);
  EXPECT_TRUE(out->Pump(4, 16 << 10, t0)->empty()) << "nothing more until an acknowledgement";
  EXPECT_FALSE(out->Stalled(t0 + std::chrono::seconds(5), std::chrono::seconds(10)));
  EXPECT_TRUE(out->Stalled(t0 + std::chrono::seconds(11), std::chrono::seconds(10)));
  out->OnAck(ChunkAck{7, 2, true, false}, t0 + std::chrono::seconds(11));
  EXPECT_FALSE(out->Stalled(t0 + std::chrono::seconds(12), std::chrono::seconds(10)));
  EXPECT_EQ(out->Pump(4, 16 << 10, t0)->size(), 2u);
  out->OnAck(ChunkAck{99, 6, true, true}, t0);  // another transfer's: ignored
  EXPECT_FALSE(out->complete());
}

TEST_F(SnapshotTransferTest, AWrongDigestIsRefused) {
  auto out = Outgoing(7);
  IncomingSnapshot in(follower_.get(), (tmp_.path().string() + "/staging"));
  bool refused = false;
  for (int round = 0; round < 10000 && !refused; ++round) {
    auto chunks = out->Pump(4, 64 << 10, Clock::now());
    ASSERT_TRUE(chunks.ok());
    ASSERT_FALSE(chunks->empty());
    for (SnapshotChunk c : *chunks) {
      if (c.last) c.digest[0] ^= 1;
      ChunkAck a = in.OnChunk(c);
      if (c.last) {
        EXPECT_FALSE(a.ok);
        refused = true;
      }
      out->OnAck(a, Clock::now());
    }
  }
  EXPECT_TRUE(refused);
  EXPECT_TRUE(out->failed());
  EXPECT_FALSE(in.Ready(7, 42, 3));
}

TEST_F(SnapshotTransferTest, ChunksOfAnotherTransferAreRefusedMidWay) {
  auto out = Outgoing(7);
  IncomingSnapshot in(follower_.get(), (tmp_.path().string() + "/staging"));
  auto chunks = out->Pump(2, 16 << 10, Clock::now());
  ASSERT_TRUE(chunks.ok());
  EXPECT_TRUE(in.OnChunk((*chunks)[0]).ok);
  SnapshotChunk stray = (*chunks)[1];
  stray.transfer = 9;
  EXPECT_FALSE(in.OnChunk(stray).ok);
  EXPECT_TRUE(in.OnChunk((*chunks)[1]).ok) << "the transfer in progress goes on";
}

TEST_F(SnapshotTransferTest, AStagingNoLongerNeededOrLeftIdleIsDropped) {
  auto out = Outgoing(7);
  IncomingSnapshot in(follower_.get(), tmp_.path().string() + "/staging");
  Run(out.get(), &in, 10000);
  ASSERT_TRUE(in.Ready(7, 42, 3));
  auto now = Clock::now();
  EXPECT_FALSE(in.DiscardIfStale(41, std::chrono::seconds(60), now)) << "still needed: the state is behind it";
  EXPECT_TRUE(std::filesystem::exists(in.dir()));
  EXPECT_TRUE(in.DiscardIfStale(42, std::chrono::seconds(60), now)) << "the state reached it another way";
  EXPECT_FALSE(in.Ready(7, 42, 3));
  EXPECT_FALSE(std::filesystem::exists(in.dir()));

  auto half = Outgoing(8);
  auto chunks = half->Pump(2, 16 << 10, Clock::now());
  ASSERT_TRUE(chunks.ok());
  for (const SnapshotChunk& c : *chunks) EXPECT_TRUE(in.OnChunk(c).ok);
  EXPECT_FALSE(in.DiscardIfStale(0, std::chrono::seconds(60), Clock::now()));
  EXPECT_TRUE(in.DiscardIfStale(0, std::chrono::seconds(60), Clock::now() + std::chrono::seconds(61)))
      << "no chunk for a minute: its leader went away";
  EXPECT_FALSE(std::filesystem::exists(in.dir()));
}

TEST(StagedDescriptorTest, RoundTripsAndRefusesOtherData) {
  EXPECT_EQ(ParseStagedDescriptor(StagedDescriptor(1234567890123ull)), 1234567890123ull);
  EXPECT_FALSE(ParseStagedDescriptor("meridian-state"));
  EXPECT_FALSE(ParseStagedDescriptor("meridian-staged-state:"));
  EXPECT_FALSE(ParseStagedDescriptor("meridian-staged-state:12x"));
  EXPECT_FALSE(ParseStagedDescriptor(""));
}

}  // namespace
}  // namespace meridian::region
