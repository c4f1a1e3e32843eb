// The Raft wire codec: round trips, and any bytes decode to messages or an error, never a crash.
#include "region/raft_codec.h"

#include <gtest/gtest.h>

#include <random>

namespace meridian::region {
namespace {

raft::Message Sample() {
  raft::Message m;
  m.group = raft::GroupId{1};
  m.type = raft::MessageType::kAppend;
  m.from = raft::NodeId{1};
  m.to = raft::NodeId{(7ull << 2) | 2};
  m.term = raft::Term{5};
  m.index = raft::LogIndex{41};
  m.log_term = raft::Term{4};
  m.entries.push_back({raft::Term{5}, raft::LogIndex{42}, raft::EntryType::kNormal, std::string("a\0b", 3)});
  m.entries.push_back({raft::Term{5}, raft::LogIndex{43}, raft::EntryType::kConfChange, "cc"});
  m.commit = raft::LogIndex{40};
  m.reject = true;
  m.reject_hint = raft::LogIndex{39};
  m.force = true;
  m.context = 99;
  return m;
}

TEST(RaftCodec, RoundTripsEveryField) {
  raft::Message a = Sample();
  raft::Message b = Sample();
  b.type = raft::MessageType::kSnapshot;
  b.entries.clear();
  b.snapshot = raft::Snapshot{raft::LogIndex{100}, raft::Term{3}, {raft::NodeId{1}, raft::NodeId{2}}, "state"};
  std::string frame = EncodePeerFrame({a, b}, nullptr);
  proto::RawFrame raw;
  ASSERT_TRUE(proto::DecodeFrame(frame, &raw).ok());
  EXPECT_EQ(raw.kind, proto::FrameKind::kPeer);
  auto out = UnpackRaftMessages(*raw.body);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out.value().size(), 2u);
  const raft::Message& x = out.value()[0];
  EXPECT_EQ(x.group, a.group);
  EXPECT_EQ(x.type, a.type);
  EXPECT_EQ(x.from, a.from);
  EXPECT_EQ(x.to, a.to);
  EXPECT_EQ(x.term, a.term);
  EXPECT_EQ(x.index, a.index);
  EXPECT_EQ(x.log_term, a.log_term);
  EXPECT_EQ(x.entries, a.entries);
  EXPECT_EQ(x.commit, a.commit);
  EXPECT_EQ(x.reject, a.reject);
  EXPECT_EQ(x.reject_hint, a.reject_hint);
  EXPECT_EQ(x.force, a.force);
  EXPECT_EQ(x.context, a.context);
  const raft::Message& y = out.value()[1];
  ASSERT_TRUE(y.snapshot.has_value());
  EXPECT_EQ(y.snapshot->index, raft::LogIndex{100});
  EXPECT_EQ(y.snapshot->voters.size(), 2u);
  EXPECT_EQ(y.snapshot->data, "state");
}

TEST(RaftCodec, GarbageNeverCrashes) {
  uint64_t seed = std::random_device{}();
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  std::string good = EncodePeerFrame({Sample()}, nullptr);
  for (int i = 0; i < 20000; ++i) {
    std::string bytes = good;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    if (rng() % 4 == 0) bytes.resize(rng() % bytes.size());
    proto::RawFrame raw;
    if (!proto::DecodeFrame(bytes, &raw).ok()) continue;
    (void)UnpackRaftMessages(*raw.body);  // ok or an error; either way no crash
  }
}

}  // namespace
}  // namespace meridian::region
