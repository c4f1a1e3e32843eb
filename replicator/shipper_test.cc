// Unit tests of the replicator's pure shipping state (replicator/shipper.h): each behaviour of the
// protocol driven by hand, with no IO. tests/sim/replicator_sim.h drives it under faults.
#include "replicator/shipper.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace meridian::replicator {
namespace {

using Kind = Action::Kind;

ShipperOptions SmallOptions() {
  ShipperOptions o;
  o.max_batches_in_flight = 3;
  o.max_bytes_in_flight = 1 << 20;
  o.max_records_per_batch = 10;
  o.max_bytes_per_batch = 4096;
  o.ack_timeout_ms = 1000;
  o.heartbeat_ms = 500;
  o.table_page = 2;
  o.retry_ms = 20;
  return o;
}

ReplicatedChange Change(uint64_t seq, const std::string& key, uint32_t n = 0) {
  ReplicatedChange c;
  c.seq = seq;
  c.n = n;
  c.table = "t";
  c.key = Item{{"pk", AttributeValue::S(key)}};
  c.image = Item{{"pk", AttributeValue::S(key)}, {"v", AttributeValue::S("x")}};
  c.version.vv = {{"us", seq}};
  c.version.hlc = seq;
  c.version.origin = "us";
  return c;
}

ReplicationReadChangesResponse Answer(std::vector<uint64_t> seqs, uint64_t last_seq, uint64_t head_seq) {
  ReplicationReadChangesResponse r;
  for (uint64_t s : seqs) r.changes.push_back(Change(s, "k" + std::to_string(s)));
  r.last_seq = last_seq;
  r.head_seq = head_seq;
  r.at_head = last_seq == head_seq;
  r.cursors = {{"ap", 7}, {"eu", 3}};
  return r;
}

ReplicationApplyResponse Ack(uint64_t cursor, bool gap = false) {
  ReplicationApplyResponse r;
  r.cursor = cursor;
  r.gap = gap;
  return r;
}

std::vector<Action> OfKind(const std::vector<Action>& actions, Kind kind) {
  std::vector<Action> out;
  for (const Action& a : actions) {
    if (a.kind == kind) out.push_back(a);
  }
  return out;
}

// A shipper whose probe has been acked with `cursor`: the next Poll reads the stream.
class ShipperTest : public ::testing::Test {
 protected:
  PeerShipper shipper_{"us", "eu", SmallOptions()};
  int64_t now_ = 1000;

  void LearnCursor(uint64_t cursor) {
    auto actions = shipper_.Poll(now_);
    ASSERT_EQ(actions.size(), 1u);
    ASSERT_EQ(actions[0].kind, Kind::kSend);
    shipper_.OnAck(actions[0].batch_id, Ack(cursor), now_);
    ASSERT_EQ(shipper_.acked_cursor(), cursor);
  }

  // Polls, expecting one stream read from `after_seq`, and answers it with `answer`.
  std::vector<Action> ReadAndAnswer(uint64_t after_seq, const ReplicationReadChangesResponse& answer) {
    auto actions = shipper_.Poll(now_);
    auto reads = OfKind(actions, Kind::kReadStream);
    EXPECT_EQ(reads.size(), 1u);
    if (reads.size() != 1) return actions;
    EXPECT_EQ(reads[0].read.after_seq, after_seq);
    shipper_.OnStreamRead(answer, now_);
    return actions;
  }

  // Polls and returns the single batch sent.
  Action PollOneSend() {
    auto sends = OfKind(shipper_.Poll(now_), Kind::kSend);
    EXPECT_EQ(sends.size(), 1u);
    return sends.empty() ? Action{} : sends[0];
  }
};

TEST_F(ShipperTest, ProbesFirstAndReadsNothingUntilTheCursorIsKnown) {
  EXPECT_FALSE(shipper_.acked_cursor());
  auto actions = shipper_.Poll(now_);
  ASSERT_EQ(actions.size(), 1u);
  const Action& probe = actions[0];
  EXPECT_EQ(probe.kind, Kind::kSend);
  EXPECT_EQ(probe.batch.source, "us");
  EXPECT_EQ(probe.batch.after_seq, 0u);
  EXPECT_EQ(probe.batch.last_seq, 0u);
  EXPECT_TRUE(probe.batch.changes.empty());
  EXPECT_FALSE(probe.batch.backfill);
  // One probe at a time, and no read before its ack.
  EXPECT_TRUE(shipper_.Poll(now_ + 10).empty());
  shipper_.OnAck(probe.batch_id, Ack(42), now_ + 20);
  EXPECT_EQ(shipper_.acked_cursor(), 42u);
  EXPECT_EQ(shipper_.read_position(), 42u);
  auto next = shipper_.Poll(now_ + 20);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].kind, Kind::kReadStream);
  EXPECT_EQ(next[0].read.peer, "eu");
  EXPECT_EQ(next[0].read.after_seq, 42u);
  EXPECT_EQ(next[0].read.max_records, 10u);
  EXPECT_EQ(next[0].read.max_bytes, 4096u);
}

TEST_F(ShipperTest, AProbeWithoutAnAckIsSentAgainAfterTheTimeout) {
  auto first = shipper_.Poll(now_);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(shipper_.Poll(now_ + 999).empty());
  auto again = shipper_.Poll(now_ + 1000);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].kind, Kind::kSend);
  EXPECT_GT(again[0].batch_id, first[0].batch_id);
  // The first probe's late ack is ignored; the second one teaches the cursor.
  shipper_.OnAck(first[0].batch_id, Ack(5), now_ + 1001);
  EXPECT_FALSE(shipper_.acked_cursor());
  shipper_.OnAck(again[0].batch_id, Ack(5), now_ + 1002);
  EXPECT_EQ(shipper_.acked_cursor(), 5u);
  EXPECT_EQ(shipper_.counters().timeouts, 1u);
  EXPECT_EQ(shipper_.counters().ignored_acks, 1u);
}

TEST_F(ShipperTest, EachAnswerBecomesOneBatchAndReadingIsPipelined) {
  LearnCursor(10);
  ReadAndAnswer(10, Answer({12, 15}, 16, 30));
  auto actions = shipper_.Poll(now_);
  auto sends = OfKind(actions, Kind::kSend);
  ASSERT_EQ(sends.size(), 1u);
  const auto& b = sends[0].batch;
  EXPECT_EQ(b.source, "us");
  EXPECT_EQ(b.after_seq, 10u);
  EXPECT_EQ(b.last_seq, 16u);
  EXPECT_EQ(b.source_head, 30u);
  EXPECT_EQ(b.source_time_ms, now_);
  EXPECT_FALSE(b.backfill);
  ASSERT_EQ(b.changes.size(), 2u);
  EXPECT_EQ(b.changes[0].seq, 12u);
  EXPECT_FALSE(b.source_cursors) << "cursors only when the batch reached the head";
  // The next read starts where the answer ended, before any ack.
  auto reads = OfKind(actions, Kind::kReadStream);
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_EQ(reads[0].read.after_seq, 16u);
  shipper_.OnStreamRead(Answer({30}, 30, 30), now_);
  auto last = PollOneSend();
  EXPECT_EQ(last.batch.after_seq, 16u);
  EXPECT_EQ(last.batch.last_seq, 30u);
  ASSERT_TRUE(last.batch.source_cursors);
  EXPECT_EQ(last.batch.source_cursors->at("ap"), 7u);
  EXPECT_EQ(shipper_.batches_in_flight(), 2u);
  EXPECT_EQ(shipper_.read_position(), 30u);
}

TEST_F(ShipperTest, SkippedRecordsStillMoveThePeersCursor) {
  LearnCursor(0);
  ReadAndAnswer(0, Answer({}, 9, 9));  // nine records, none for this peer
  auto b = PollOneSend();
  EXPECT_EQ(b.batch.after_seq, 0u);
  EXPECT_EQ(b.batch.last_seq, 9u);
  EXPECT_TRUE(b.batch.changes.empty());
}

TEST_F(ShipperTest, BatchCreditsBoundWhatIsInFlight) {
  LearnCursor(0);
  uint64_t pos = 0;
  std::vector<uint64_t> ids;
  for (int i = 0; i < 3; ++i) {
    auto actions = shipper_.Poll(now_);
    for (auto& s : OfKind(actions, Kind::kSend)) ids.push_back(s.batch_id);
    auto reads = OfKind(actions, Kind::kReadStream);
    ASSERT_EQ(reads.size(), 1u) << i;
    shipper_.OnStreamRead(Answer({pos + 1}, pos + 1, 100), now_);
    ++pos;
  }
  // Third answer read with the last credit; it is sent and no further read is issued.
  auto actions = shipper_.Poll(now_);
  for (auto& s : OfKind(actions, Kind::kSend)) ids.push_back(s.batch_id);
  EXPECT_TRUE(OfKind(actions, Kind::kReadStream).empty());
  EXPECT_EQ(shipper_.batches_in_flight(), 3u);
  EXPECT_TRUE(shipper_.Poll(now_ + 1).empty());
  // An ack frees a credit: reading resumes.
  shipper_.OnAck(ids[0], Ack(1), now_ + 2);
  EXPECT_EQ(shipper_.batches_in_flight(), 2u);
  auto resumed = shipper_.Poll(now_ + 2);
  ASSERT_EQ(OfKind(resumed, Kind::kReadStream).size(), 1u);
  EXPECT_EQ(OfKind(resumed, Kind::kReadStream)[0].read.after_seq, 3u);
}

TEST(ShipperCredits, ByteCreditsHoldABatchUntilAnAckFreesThem) {
  ShipperOptions o = SmallOptions();
  o.max_batches_in_flight = 8;
  o.max_bytes_in_flight = 600;  // about two batches of these changes
  PeerShipper s("us", "eu", o);
  auto probe = s.Poll(0);
  s.OnAck(probe[0].batch_id, Ack(0), 0);
  std::vector<uint64_t> ids;
  uint64_t pos = 0;
  int held_at = -1;
  for (int i = 0; i < 6 && held_at < 0; ++i) {
    auto actions = s.Poll(0);
    for (auto& a : OfKind(actions, Kind::kSend)) ids.push_back(a.batch_id);
    auto reads = OfKind(actions, Kind::kReadStream);
    if (reads.empty()) {
      held_at = i;
      break;
    }
    s.OnStreamRead(Answer({pos + 1, pos + 2}, pos + 2, 100), 0);
    pos += 2;
  }
  ASSERT_GE(held_at, 1) << "the byte credit never ran out";
  EXPECT_LE(s.bytes_in_flight(), 600u);
  uint32_t in_flight = s.batches_in_flight();
  EXPECT_LT(in_flight, 8u);
  EXPECT_TRUE(OfKind(s.Poll(1), Kind::kSend).empty()) << "a batch waits for byte credit";
  s.OnAck(ids[0], Ack(2), 2);
  auto after = OfKind(s.Poll(2), Kind::kSend);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].batch.after_seq, pos - 2);
}

TEST_F(ShipperTest, HeartbeatAtTheHeadAtMostEveryHeartbeatPeriod) {
  LearnCursor(5);  // the probe was sent at now_
  ReadAndAnswer(5, Answer({}, 5, 5));
  EXPECT_TRUE(OfKind(shipper_.Poll(now_), Kind::kSend).empty()) << "the probe went out just now";
  // Nothing new: the region is asked again only after retry_ms.
  EXPECT_TRUE(shipper_.Poll(now_ + 19).empty());
  now_ += 500;
  ReadAndAnswer(5, Answer({}, 5, 5));
  auto hb = PollOneSend();
  EXPECT_EQ(hb.batch.after_seq, 5u);
  EXPECT_EQ(hb.batch.last_seq, 5u);
  EXPECT_TRUE(hb.batch.changes.empty());
  ASSERT_TRUE(hb.batch.source_cursors);
  EXPECT_EQ(hb.batch.source_cursors->at("eu"), 3u);
  shipper_.OnAck(hb.batch_id, Ack(5), now_);
  now_ += 100;
  ReadAndAnswer(5, Answer({}, 5, 5));
  EXPECT_TRUE(OfKind(shipper_.Poll(now_), Kind::kSend).empty()) << "only 100 ms since the last";
  now_ += 400;
  ReadAndAnswer(5, Answer({}, 5, 5));
  EXPECT_EQ(OfKind(shipper_.Poll(now_), Kind::kSend).size(), 1u);
  EXPECT_EQ(shipper_.counters().heartbeats_sent, 2u);
}

TEST_F(ShipperTest, NoHeartbeatWhileAStreamBatchIsInFlight) {
  LearnCursor(0);
  ReadAndAnswer(0, Answer({1}, 1, 1));
  auto actions = shipper_.Poll(now_);
  ASSERT_EQ(OfKind(actions, Kind::kSend).size(), 1u);
  now_ += 600;  // heartbeat due, but batch 1 is unacked: a heartbeat at 1 would find a gap
  shipper_.OnStreamRead(Answer({}, 1, 1), now_);
  EXPECT_TRUE(OfKind(shipper_.Poll(now_), Kind::kSend).empty());
}

TEST_F(ShipperTest, AcksMoveTheCursorToTheMaximumSeen) {
  LearnCursor(0);
  ReadAndAnswer(0, Answer({1}, 1, 9));
  auto a1 = shipper_.Poll(now_);
  shipper_.OnStreamRead(Answer({2}, 2, 9), now_);
  auto a2 = shipper_.Poll(now_);
  uint64_t id1 = OfKind(a1, Kind::kSend)[0].batch_id;
  uint64_t id2 = OfKind(a2, Kind::kSend)[0].batch_id;
  shipper_.OnAck(id2, Ack(2), now_);
  EXPECT_EQ(shipper_.acked_cursor(), 2u);
  // Batch 1 is covered by cursor 2: applied whatever became of its ack, its credit is free.
  EXPECT_EQ(shipper_.batches_in_flight(), 0u);
  shipper_.OnAck(id1, Ack(1), now_);  // late: ignored, the cursor does not move back
  EXPECT_EQ(shipper_.acked_cursor(), 2u);
}

TEST_F(ShipperTest, AGapSendsTheShipperBackToTheAckedCursor) {
  LearnCursor(0);
  ReadAndAnswer(0, Answer({1, 2}, 2, 9));
  auto a1 = shipper_.Poll(now_);
  shipper_.OnStreamRead(Answer({3}, 3, 9), now_);
  auto a2 = shipper_.Poll(now_);
  uint64_t id1 = OfKind(a1, Kind::kSend)[0].batch_id;
  uint64_t id2 = OfKind(a2, Kind::kSend)[0].batch_id;
  // A read is outstanding from 3 when the gap arrives: its answer must be dropped.
  ASSERT_EQ(OfKind(a2, Kind::kReadStream).size(), 1u);
  // Batch 1 was lost: batch 2 finds a gap at the peer, whose cursor is 0.
  shipper_.OnAck(id2, Ack(0, /*gap=*/true), now_);
  EXPECT_EQ(shipper_.counters().gaps, 1u);
  EXPECT_EQ(shipper_.batches_in_flight(), 0u);
  EXPECT_EQ(shipper_.read_position(), 0u);
  shipper_.OnAck(id2, Ack(0, true), now_);  // a duplicate of a forgotten batch: no second go-back
  EXPECT_EQ(shipper_.counters().go_backs, 1u);
  EXPECT_EQ(shipper_.counters().ignored_acks, 1u);
  shipper_.OnStreamRead(Answer({9}, 9, 9), now_);  // the stale answer
  EXPECT_TRUE(OfKind(shipper_.Poll(now_), Kind::kSend).empty());
  EXPECT_EQ(shipper_.read_position(), 0u);
  // Read again from the acked cursor; the resent batch covers (0, 2] again.
  shipper_.OnStreamRead(Answer({1, 2}, 2, 9), now_);  // answers the read that Poll issued
  auto resent = OfKind(shipper_.Poll(now_), Kind::kSend);
  ASSERT_EQ(resent.size(), 1u);
  EXPECT_EQ(resent[0].batch.after_seq, 0u);
  EXPECT_EQ(resent[0].batch.last_seq, 2u);
  EXPECT_EQ(shipper_.counters().batches_resent, 1u);
  // The original batch 1 turned up after all: its ack is for a forgotten id, so nothing in
  // flight changes, but the peer's cursor it carries is taken; the resent (0, 2] is covered.
  shipper_.OnAck(id1, Ack(2), now_);
  EXPECT_EQ(shipper_.counters().ignored_acks, 2u);
  EXPECT_EQ(shipper_.counters().go_backs, 1u);
  EXPECT_EQ(shipper_.acked_cursor(), 2u);
  EXPECT_EQ(shipper_.batches_in_flight(), 0u);
}

TEST_F(ShipperTest, AcksSlowerThanTheTimeoutStillMoveTheShipperOn) {
  LearnCursor(0);
  ReadAndAnswer(0, Answer({1, 2, 3}, 3, 9));
  auto a1 = shipper_.Poll(now_);
  uint64_t id1 = OfKind(a1, Kind::kSend)[0].batch_id;
  shipper_.OnStreamRead(Answer({}, 3, 9), now_);
  now_ += 1000;
  auto reads = OfKind(shipper_.Poll(now_), Kind::kReadStream);  // timeout: back to 0
  EXPECT_EQ(shipper_.counters().timeouts, 1u);
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_EQ(reads[0].read.after_seq, 0u);
  shipper_.OnAck(id1, Ack(3), now_ + 1);  // the ack, 1001 ms late
  EXPECT_EQ(shipper_.acked_cursor(), 3u);
  shipper_.OnStreamRead(Answer({1, 2, 3, 4}, 4, 9), now_ + 1);
  auto sent = OfKind(shipper_.Poll(now_ + 1), Kind::kSend);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].batch.after_seq, 0u);
  now_ += 1001;
  shipper_.Poll(now_);  // times out again; this time the go-back starts at 3
  EXPECT_EQ(shipper_.counters().timeouts, 2u);
  EXPECT_EQ(shipper_.read_position(), 3u);
}

TEST_F(ShipperTest, AGapAnswerTeachesAHigherCursor) {
  LearnCursor(0);
  ReadAndAnswer(0, Answer({1}, 1, 9));
  auto a1 = shipper_.Poll(now_);
  shipper_.OnStreamRead(Answer({5}, 5, 9), now_);
  shipper_.OnAck(OfKind(a1, Kind::kSend)[0].batch_id, Ack(4, true), now_);
  EXPECT_EQ(shipper_.acked_cursor(), 4u);
  EXPECT_EQ(shipper_.read_position(), 4u);
}

TEST_F(ShipperTest, NoAckForTheOldestBatchWithinTheTimeoutGoesBack) {
  LearnCursor(3);
  ReadAndAnswer(3, Answer({4}, 4, 9));
  auto a1 = shipper_.Poll(now_);
  now_ += 600;
  shipper_.OnStreamRead(Answer({6}, 6, 9), now_);
  auto a2 = shipper_.Poll(now_);
  ASSERT_EQ(OfKind(a2, Kind::kSend).size(), 1u);
  shipper_.OnStreamRead(Answer({}, 6, 9), now_);  // nothing more for now
  EXPECT_TRUE(OfKind(shipper_.Poll(now_ + 399), Kind::kSend).empty());
  EXPECT_EQ(shipper_.counters().timeouts, 0u);
  // Batch 1 has waited 1000 ms: everything is read again from 3.
  // (That Poll asked the region again from 6; the answer comes after the go-back.)
  now_ += 400;
  auto actions = shipper_.Poll(now_);
  EXPECT_EQ(shipper_.counters().timeouts, 1u);
  EXPECT_EQ(shipper_.batches_in_flight(), 0u);
  EXPECT_TRUE(OfKind(actions, Kind::kReadStream).empty()) << "the read from 6 is outstanding";
  shipper_.OnStreamRead(Answer({7}, 7, 9), now_);  // stale: dropped
  auto reads = OfKind(shipper_.Poll(now_), Kind::kReadStream);
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_EQ(reads[0].read.after_seq, 3u);
}

TEST_F(ShipperTest, AFailedReadIsRetriedAfterTheRetryDelay) {
  LearnCursor(0);
  auto actions = shipper_.Poll(now_);
  ASSERT_EQ(OfKind(actions, Kind::kReadStream).size(), 1u);
  shipper_.OnStreamReadFailed(now_);
  EXPECT_TRUE(shipper_.Poll(now_ + 19).empty());
  auto retry = OfKind(shipper_.Poll(now_ + 20), Kind::kReadStream);
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_EQ(retry[0].read.after_seq, 0u);
  EXPECT_EQ(shipper_.counters().failed_reads, 1u);
}

TEST_F(ShipperTest, AnAnswerOutsideTheReadRangeIsNotShipped) {
  LearnCursor(10);
  ReadAndAnswer(10, Answer({9, 11}, 11, 11));  // seq 9 is not after 10: a broken answer
  EXPECT_TRUE(OfKind(shipper_.Poll(now_), Kind::kSend).empty());
  EXPECT_EQ(shipper_.read_position(), 10u);
  EXPECT_EQ(shipper_.counters().failed_reads, 1u);
}

TEST_F(ShipperTest, ResetForgetsInFlightAndProbesAgain) {
  LearnCursor(0);
  ReadAndAnswer(0, Answer({1}, 1, 9));
  auto a1 = shipper_.Poll(now_);
  uint64_t id1 = OfKind(a1, Kind::kSend)[0].batch_id;
  ASSERT_EQ(OfKind(a1, Kind::kReadStream).size(), 1u);  // outstanding across the Reset
  shipper_.Reset(now_);
  EXPECT_FALSE(shipper_.acked_cursor());
  EXPECT_EQ(shipper_.batches_in_flight(), 0u);
  EXPECT_EQ(shipper_.bytes_in_flight(), 0u);
  shipper_.OnAck(id1, Ack(1), now_);
  EXPECT_FALSE(shipper_.acked_cursor()) << "an ack from before the Reset teaches nothing";
  auto probe = shipper_.Poll(now_);
  ASSERT_EQ(probe.size(), 1u);
  EXPECT_EQ(probe[0].batch.last_seq, 0u);
  shipper_.OnAck(probe[0].batch_id, Ack(1), now_);
  // The read issued before the Reset is still outstanding: no second read until it is answered,
  // and its answer (from position 1 of the old run) is dropped.
  EXPECT_TRUE(OfKind(shipper_.Poll(now_), Kind::kReadStream).empty());
  shipper_.OnStreamRead(Answer({5}, 5, 9), now_);
  EXPECT_TRUE(OfKind(shipper_.Poll(now_), Kind::kSend).empty());
  EXPECT_EQ(shipper_.read_position(), 1u);
}

// --- Backfills ----------------------------------------------------------------------------------

ReplicationReadTableResponse Page(std::vector<std::string> keys, std::optional<std::string> last_key) {
  ReplicationReadTableResponse r;
  for (const auto& k : keys) {
    ReplicatedChange c = Change(0, k);
    c.seq = 0;
    r.items.push_back(c);
  }
  r.last_key = std::move(last_key);
  return r;
}

ReplicationReadChangesResponse WithBackfill(ReplicationReadChangesResponse r, const std::string& table,
                                            const std::string& peer, uint64_t after_seq) {
  PendingBackfill p;
  p.table = table;
  p.peer = peer;
  p.after_seq = after_seq;
  r.backfills.push_back(p);
  return r;
}

TEST_F(ShipperTest, BackfillStartsOnceThePeerHasTheChangeThatAddedIt) {
  LearnCursor(0);
  ReadAndAnswer(0, WithBackfill(Answer({3}, 3, 3), "t", "eu", 3));
  auto actions = shipper_.Poll(now_);
  EXPECT_TRUE(OfKind(actions, Kind::kReadTable).empty()) << "the peer's cursor is still 0";
  EXPECT_FALSE(shipper_.backfill_in_progress());
  EXPECT_EQ(shipper_.backfills_pending(), 1u);
  shipper_.OnAck(OfKind(actions, Kind::kSend)[0].batch_id, Ack(3), now_);
  auto started = OfKind(shipper_.Poll(now_), Kind::kReadTable);
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].table_read.table, "t");
  EXPECT_FALSE(started[0].table_read.exclusive_start);
  EXPECT_EQ(started[0].table_read.limit, 2u);
  EXPECT_EQ(shipper_.backfill_in_progress(), "t");
}

TEST_F(ShipperTest, BackfillsOwedToOtherPeersAreNotOurs) {
  LearnCursor(5);
  ReadAndAnswer(5, WithBackfill(Answer({}, 5, 5), "t", "ap", 1));
  EXPECT_TRUE(OfKind(shipper_.Poll(now_), Kind::kReadTable).empty());
  EXPECT_EQ(shipper_.backfills_pending(), 0u);
}

// A shipper at cursor 5 whose region owes the peer a backfill of table "t" from seq 5.
class BackfillTest : public ShipperTest {
 protected:
  void SetUp() override {
    LearnCursor(5);
    ReadAndAnswer(5, WithBackfill(Answer({}, 5, 5), "t", "eu", 5));
  }

  // Expects a table read from `start` (issued by an earlier PollPage, or by a Poll now), answers
  // it with `page`, and returns the page batch.
  Action ReadPage(std::optional<std::string> start, const ReplicationReadTableResponse& page) {
    if (!table_read_) {
      auto reads = OfKind(shipper_.Poll(now_), Kind::kReadTable);
      EXPECT_EQ(reads.size(), 1u);
      if (reads.empty()) return Action{};
      table_read_ = reads[0];
    }
    EXPECT_EQ(table_read_->table_read.exclusive_start, start);
    table_read_.reset();
    shipper_.OnTableRead("t", page, now_);
    return PollPage();
  }

  // Polls: returns the page batch sent, and keeps the next table read if one was issued.
  Action PollPage() {
    Action page;
    bool sent = false;
    for (auto& a : shipper_.Poll(now_)) {
      if (a.kind == Kind::kSend && a.batch.backfill) {
        page = a;
        sent = true;
      }
      if (a.kind == Kind::kReadTable) table_read_ = a;
    }
    EXPECT_TRUE(sent) << "no page sent";
    return page;
  }

  std::optional<Action> table_read_;

  std::vector<Action> DoneActions() { return OfKind(shipper_.Poll(now_), Kind::kBackfillDone); }
};

TEST_F(BackfillTest, PagesBecomeBackfillBatchesAndTheLastAckRecordsTheBackfill) {
  Action p0 = ReadPage(std::nullopt, Page({"a", "b"}, "b"));
  EXPECT_TRUE(p0.batch.backfill);
  EXPECT_EQ(p0.batch.after_seq, 0u);
  EXPECT_EQ(p0.batch.last_seq, 0u);
  ASSERT_EQ(p0.batch.changes.size(), 2u);
  EXPECT_EQ(p0.batch.changes[1].key.at("pk").s(), "b");
  Action p1 = ReadPage("b", Page({"c"}, std::nullopt));
  EXPECT_TRUE(OfKind(shipper_.Poll(now_), Kind::kReadTable).empty()) << "the table is done";
  // Acks out of order: the backfill is done only when every page is acked.
  shipper_.OnAck(p1.batch_id, Ack(5), now_);
  EXPECT_TRUE(DoneActions().empty());
  shipper_.OnAck(p0.batch_id, Ack(5), now_);
  auto done = DoneActions();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].table, "t");
  EXPECT_TRUE(DoneActions().empty()) << "asked once until answered";
  // A failed record is retried after retry_ms.
  shipper_.OnBackfillDoneRecorded("t", false, now_);
  EXPECT_TRUE(DoneActions().empty());
  now_ += 20;
  ASSERT_EQ(DoneActions().size(), 1u);
  shipper_.OnBackfillDoneRecorded("t", true, now_);
  EXPECT_FALSE(shipper_.backfill_in_progress());
  EXPECT_EQ(shipper_.backfills_pending(), 0u);
  EXPECT_EQ(shipper_.counters().backfills_done, 1u);
}

TEST_F(BackfillTest, AListingReadBeforeTheRecordDoesNotStartItAgain) {
  // A stream read goes out while the backfill runs; its answer (still listing "t") arrives after
  // the record.
  auto p0 = ReadPage(std::nullopt, Page({"a"}, std::nullopt));
  shipper_.OnAck(p0.batch_id, Ack(5), now_);
  now_ += 20;
  auto actions = shipper_.Poll(now_);
  ASSERT_EQ(OfKind(actions, Kind::kReadStream).size(), 1u);
  ASSERT_EQ(OfKind(actions, Kind::kBackfillDone).size(), 1u);
  shipper_.OnBackfillDoneRecorded("t", true, now_);
  shipper_.OnStreamRead(WithBackfill(Answer({}, 5, 5), "t", "eu", 5), now_);
  EXPECT_EQ(shipper_.backfills_pending(), 0u);
  EXPECT_TRUE(OfKind(shipper_.Poll(now_), Kind::kReadTable).empty());
  // A read issued after the record is believed: the table was added again.
  now_ += 20;
  ReadAndAnswer(5, WithBackfill(Answer({}, 5, 5), "t", "eu", 5));
  EXPECT_EQ(OfKind(shipper_.Poll(now_), Kind::kReadTable).size(), 1u);
}

TEST_F(BackfillTest, PagesShareTheCreditsWithTheStream) {
  now_ += 20;
  auto first = shipper_.Poll(now_);
  ASSERT_EQ(OfKind(first, Kind::kReadStream).size(), 1u);
  ASSERT_EQ(OfKind(first, Kind::kReadTable).size(), 1u);
  shipper_.OnStreamRead(Answer({6}, 6, 20), now_);
  shipper_.OnTableRead("t", Page({"a", "b"}, "b"), now_);
  auto second = shipper_.Poll(now_);
  EXPECT_EQ(OfKind(second, Kind::kSend).size(), 2u);  // (5, 6] and page 0
  ASSERT_EQ(OfKind(second, Kind::kReadStream).size(), 1u);
  ASSERT_EQ(OfKind(second, Kind::kReadTable).size(), 1u);
  shipper_.OnStreamRead(Answer({7}, 7, 20), now_);
  shipper_.OnTableRead("t", Page({"c", "d"}, "d"), now_);
  // One credit of three is left: the stream batch takes it, the page waits, nothing is read.
  auto third = shipper_.Poll(now_);
  auto sent = OfKind(third, Kind::kSend);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_FALSE(sent[0].batch.backfill);
  EXPECT_TRUE(OfKind(third, Kind::kReadStream).empty());
  EXPECT_TRUE(OfKind(third, Kind::kReadTable).empty());
  EXPECT_EQ(shipper_.batches_in_flight(), 3u);
  EXPECT_TRUE(shipper_.Poll(now_).empty());
  // An ack frees a credit: the waiting page goes.
  shipper_.OnAck(sent[0].batch_id, Ack(7), now_);
  auto fourth = OfKind(shipper_.Poll(now_), Kind::kSend);
  ASSERT_EQ(fourth.size(), 1u);
  EXPECT_TRUE(fourth[0].batch.backfill);
  EXPECT_EQ(fourth[0].batch.changes[0].key.at("pk").s(), "c");
}

TEST_F(BackfillTest, AGoBackResumesAfterTheLastAckedPage) {
  Action p0 = ReadPage(std::nullopt, Page({"a", "b"}, "b"));
  Action p1 = ReadPage("b", Page({"c", "d"}, "d"));
  shipper_.OnAck(p0.batch_id, Ack(5), now_);
  // Page 1 is lost: after the timeout the backfill resumes from "b", not from the start.
  now_ += 1000;
  EXPECT_TRUE(OfKind(shipper_.Poll(now_), Kind::kReadTable).empty()) << "the read from d is outstanding";
  EXPECT_EQ(shipper_.counters().timeouts, 1u);
  ASSERT_TRUE(table_read_);
  shipper_.OnTableRead("t", Page({"e"}, std::nullopt), now_);  // from before the go-back: dropped
  auto actions = shipper_.Poll(now_);
  EXPECT_TRUE(OfKind(actions, Kind::kSend).empty());
  auto reads = OfKind(actions, Kind::kReadTable);
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_EQ(reads[0].table_read.exclusive_start, "b");
  shipper_.OnAck(p1.batch_id, Ack(5), now_);  // forgotten
  EXPECT_EQ(shipper_.counters().ignored_acks, 1u);
}

TEST_F(BackfillTest, ResetRestartsTheBackfillFromItsFirstPage) {
  Action p0 = ReadPage(std::nullopt, Page({"a", "b"}, "b"));
  shipper_.OnAck(p0.batch_id, Ack(5), now_);
  ReadPage("b", Page({"c", "d"}, "d"));
  shipper_.Reset(now_);
  EXPECT_FALSE(shipper_.backfill_in_progress());
  EXPECT_EQ(shipper_.backfills_pending(), 1u);
  auto probe = shipper_.Poll(now_);
  ASSERT_EQ(probe.size(), 1u);
  shipper_.OnAck(probe[0].batch_id, Ack(5), now_);
  ASSERT_TRUE(table_read_);
  shipper_.OnTableRead("t", Page({"e"}, std::nullopt), now_);  // from before the Reset: dropped
  auto reads = OfKind(shipper_.Poll(now_), Kind::kReadTable);
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_FALSE(reads[0].table_read.exclusive_start);
  EXPECT_EQ(shipper_.backfill_in_progress(), "t");
}

TEST_F(BackfillTest, AFailedTableReadIsRetried) {
  auto reads = OfKind(shipper_.Poll(now_), Kind::kReadTable);
  ASSERT_EQ(reads.size(), 1u);
  shipper_.OnTableReadFailed("t", now_);
  EXPECT_TRUE(OfKind(shipper_.Poll(now_ + 19), Kind::kReadTable).empty());
  auto retry = OfKind(shipper_.Poll(now_ + 20), Kind::kReadTable);
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_FALSE(retry[0].table_read.exclusive_start);
}

TEST_F(BackfillTest, AnEmptyTableIsOnePage) {
  Action p0 = ReadPage(std::nullopt, Page({}, std::nullopt));
  EXPECT_TRUE(p0.batch.changes.empty());
  shipper_.OnAck(p0.batch_id, Ack(5), now_);
  EXPECT_EQ(DoneActions().size(), 1u);
}

}  // namespace
}  // namespace meridian::replicator
