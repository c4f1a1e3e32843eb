// Scenario tests for the Raft core, in the manner of etcd/raft's: a small in-memory cluster whose
// messages are delivered until quiet, with links cut on demand.
#include "region/raft.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace meridian::raft {
namespace {

constexpr GroupId kGroup{1};

NodeId N(uint64_t v) { return NodeId{v}; }
LogIndex I(uint64_t v) { return LogIndex{v}; }
Term T(uint64_t v) { return Term{v}; }

class Cluster {
 public:
  explicit Cluster(int n, std::function<void(Config&)> tweak = {}) : tweak_(std::move(tweak)) {
    for (int i = 1; i <= n; ++i) voters_.push_back(N(i));
    for (NodeId id : voters_) Add(id, voters_);
  }

  // Starts a node (a new member has no voters of its own until it receives the log).
  void Add(NodeId id, std::vector<NodeId> peers, PersistedState ps = {}) {
    Config c;
    c.id = id;
    c.group = kGroup;
    c.peers = std::move(peers);
    c.election_tick = 10;
    c.heartbeat_tick = 1;
    c.max_entries_per_msg = 4;
    c.max_inflight_msgs = 2;
    c.seed = id.value;
    if (tweak_) tweak_(c);
    disks_[id] = ps;
    nodes_[id] = std::make_unique<Raft>(c, std::move(ps));
  }

  Raft& operator[](uint64_t id) { return *nodes_.at(N(id)); }

  void Cut(uint64_t a, uint64_t b) {
    cut_.insert({N(a), N(b)});
    cut_.insert({N(b), N(a)});
  }
  void Isolate(uint64_t a) {
    for (auto& [id, r] : nodes_) {
      if (id != N(a)) Cut(a, id.value);
    }
  }
  void Heal() { cut_.clear(); }

  // Processes every node's Ready and delivers messages until nothing moves.
  void Stabilize() {
    for (int round = 0; round < 10000; ++round) {
      bool moved = false;
      for (auto& [id, r] : nodes_) {
        if (!r->HasReady()) continue;
        moved = true;
        Ready rd = r->GetReady();
        PersistedState& d = disks_[id];
        if (rd.snapshot) {
          d.snapshot = *rd.snapshot;
          d.entries.clear();
        }
        if (!rd.entries.empty()) {
          d.entries.resize(rd.entries.front().index.value - d.snapshot.index.value - 1);
          d.entries.insert(d.entries.end(), rd.entries.begin(), rd.entries.end());
        }
        if (rd.hard_state) d.hard_state = *rd.hard_state;
        for (Message& m : rd.messages) {
          ASSERT_EQ(m.group, kGroup);
          sent_.push_back(m);
          queue_.push_back(std::move(m));
        }
        for (const Entry& e : rd.committed_entries) applied_[id].push_back(e);
        for (const ReadState& rs : rd.read_states) reads_[id].push_back(rs);
        r->Advance(rd);
      }
      std::vector<Message> q = std::move(queue_);
      queue_.clear();
      for (const Message& m : q) {
        moved = true;
        if (cut_.count({m.from, m.to}) || !nodes_.count(m.to)) continue;
        if (drop_ && drop_(m)) continue;
        nodes_.at(m.to)->Step(m);
      }
      if (!moved) return;
    }
    FAIL() << "cluster did not stabilize";
  }

  void Tick(uint64_t id, int times) {
    for (int i = 0; i < times; ++i) {
      (*this)[id].Tick();
      Stabilize();
    }
  }
  void TickAll(int times) {
    for (int i = 0; i < times; ++i) {
      for (auto& [id, r] : nodes_) r->Tick();
      Stabilize();
    }
  }
  void TickNodes(std::vector<uint64_t> ids, int times) {
    for (int i = 0; i < times; ++i) {
      for (uint64_t id : ids) (*this)[id].Tick();
      Stabilize();
    }
  }
  // The leader of the highest term among `ids`, or 0.
  uint64_t LeaderAmong(std::vector<uint64_t> ids) {
    uint64_t best = 0;
    for (uint64_t id : ids) {
      if ((*this)[id].role() == Role::kLeader && (best == 0 || (*this)[id].term() > (*this)[best].term())) best = id;
    }
    return best;
  }
  // Lets `id` time out (the others do not tick) and run its election.
  void Elect(uint64_t id) { Tick(id, 20); }

  void ProposeOk(uint64_t id, const std::string& data) {
    ProposeStatus st = (*this)[id].Propose(data);
    ASSERT_TRUE(st.ok());
    Stabilize();
  }

  int Count(MessageType type) const {
    int n = 0;
    for (const Message& m : sent_) n += m.type == type;
    return n;
  }

  std::vector<Message> sent_;
  std::function<bool(const Message&)> drop_;
  std::map<NodeId, std::vector<Entry>> applied_;
  std::map<NodeId, std::vector<ReadState>> reads_;
  std::map<NodeId, PersistedState> disks_;

 private:
  std::function<void(Config&)> tweak_;
  std::vector<NodeId> voters_;
  std::map<NodeId, std::unique_ptr<Raft>> nodes_;
  std::set<std::pair<NodeId, NodeId>> cut_;
  std::vector<Message> queue_;
};

void ExpectSameLog(Raft& a, Raft& b) {
  ASSERT_EQ(a.LastIndex(), b.LastIndex());
  for (LogIndex i = std::max(a.FirstIndex(), b.FirstIndex()); i <= a.LastIndex(); i = i + 1) {
    ASSERT_TRUE(a.EntryAt(i) && b.EntryAt(i));
    EXPECT_EQ(*a.EntryAt(i), *b.EntryAt(i)) << "index " << i.value;
  }
}

TEST(Raft, ElectsALeaderAndCommitsItsNoop) {
  Cluster c(3);
  c.Elect(1);
  EXPECT_EQ(c[1].role(), Role::kLeader);
  EXPECT_EQ(c[1].term(), T(1));
  for (uint64_t i : {2, 3}) {
    EXPECT_EQ(c[i].role(), Role::kFollower);
    EXPECT_EQ(c[i].leader(), N(1));
    EXPECT_EQ(c[i].vote(), N(1));
  }
  // Thesis §3.6.2: the new leader's no-op commits everywhere.
  for (uint64_t i : {1, 2, 3}) {
    EXPECT_EQ(c[i].commit(), I(1));
    ASSERT_EQ(c.applied_[N(i)].size(), 1u);
    EXPECT_EQ(c.applied_[N(i)][0].type, EntryType::kNoop);
  }
}

TEST(Raft, ProposeOnAFollowerNamesTheLeader) {
  Cluster c(3);
  c.Elect(1);
  ProposeStatus st = c[2].Propose("x");
  EXPECT_EQ(st.code(), ProposeCode::kNotLeader);
  EXPECT_EQ(st.leader_hint(), N(1));
  c.ProposeOk(1, "x");
  EXPECT_EQ(c.applied_[N(3)].back().data, "x");
}

TEST(Raft, ReadIndexWaitsForAQuorumOfHeartbeats) {
  Cluster c(3);
  c.Elect(1);
  c.ProposeOk(1, "x");
  c.Isolate(1);
  ASSERT_TRUE(c[1].ReadIndex(7).ok());
  c.Stabilize();
  EXPECT_TRUE(c.reads_[N(1)].empty()) << "a leader cut off from its followers must not answer";
  c.Heal();
  c.Tick(1, 1);  // the next heartbeat carries the read's context again
  ASSERT_EQ(c.reads_[N(1)].size(), 1u);
  EXPECT_EQ(c.reads_[N(1)][0].context, 7u);
  EXPECT_EQ(c.reads_[N(1)][0].index, c[1].commit());
}

TEST(Raft, ReadIndexOnAFollowerOrALeaderWithoutACommitOfItsTermIsRefused) {
  Cluster c(3);
  c.Elect(1);
  EXPECT_EQ(c[2].ReadIndex(1).code(), ProposeCode::kNotLeader);
  EXPECT_EQ(c[2].ReadIndex(1).leader_hint(), N(1));
  // A leader whose no-op has not committed yet may not know the commit index: it refuses.
  Cluster d(3);
  d.Cut(1, 2);
  d.Cut(1, 3);
  d.Heal();
  d.drop_ = [](const Message& m) { return m.type == MessageType::kAppendResp; };
  d.Elect(1);
  ASSERT_EQ(d[1].role(), Role::kLeader);
  EXPECT_EQ(d[1].ReadIndex(1).code(), ProposeCode::kConfChangePending);
}

TEST(Raft, ReadIndexPendingWhenLeadershipIsLostFailsWithIndexZero) {
  Cluster c(3);
  c.Elect(1);
  c.Isolate(1);
  ASSERT_TRUE(c[1].ReadIndex(3).ok());
  c.Tick(1, 25);  // check-quorum: the isolated leader steps down
  EXPECT_NE(c[1].role(), Role::kLeader);
  ASSERT_EQ(c.reads_[N(1)].size(), 1u);
  EXPECT_EQ(c.reads_[N(1)][0].context, 3u);
  EXPECT_EQ(c.reads_[N(1)][0].index, I(0));
}

TEST(Raft, VotesOncePerTerm) {
  Cluster c(3, [](Config& cfg) { cfg.pre_vote = false; });
  Raft& r = c[3];
  Message m;
  m.group = kGroup;
  m.type = MessageType::kVote;
  m.from = N(1);
  m.to = N(3);
  m.term = T(1);
  r.Step(m);
  m.from = N(2);
  r.Step(m);
  Ready rd = r.GetReady();
  ASSERT_EQ(rd.messages.size(), 2u);
  EXPECT_FALSE(rd.messages[0].reject);
  EXPECT_TRUE(rd.messages[1].reject);
  // The vote is in the hard state that must be durable before the response leaves.
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->vote, N(1));
}

TEST(Raft, PreVoteKeepsAPartitionedNodeFromDisruptingTheLeader) {
  Cluster c(3);
  c.Elect(1);
  c.Isolate(3);
  c.Tick(3, 100);  // many election timeouts alone
  EXPECT_EQ(c[3].term(), T(1)) << "a pre-candidate never raises its term (thesis §9.6)";
  c.Heal();
  c.TickAll(5);
  EXPECT_EQ(c[1].role(), Role::kLeader);
  EXPECT_EQ(c[1].term(), T(1));
  EXPECT_EQ(c[3].leader(), N(1));
}

TEST(Raft, WithoutPreVoteAPartitionedNodeDisruptsTheLeader) {
  // The contrast to the test above: shows what pre-vote buys.
  Cluster c(3, [](Config& cfg) {
    cfg.pre_vote = false;
    cfg.check_quorum = false;
  });
  c.Elect(1);
  c.Isolate(3);
  c.Tick(3, 100);
  EXPECT_GT(c[3].term(), T(1));
  c.Heal();
  c.TickAll(20);
  EXPECT_GT(c[1].term(), T(1));
}

TEST(Raft, CheckQuorumMakesAnIsolatedLeaderStepDown) {
  Cluster c(3);
  c.Elect(1);
  c.Isolate(1);
  c.Tick(1, 20);  // within two election timeouts without hearing from anyone
  EXPECT_NE(c[1].role(), Role::kLeader);
  EXPECT_EQ(c[1].Propose("x").code(), ProposeCode::kNotLeader);
}

TEST(Raft, CheckQuorumLeaseIgnoresVotesWhileALeaderIsHeard) {
  Cluster c(3, [](Config& cfg) { cfg.pre_vote = false; });
  c.Elect(1);
  c.Cut(1, 3);  // 3 stops hearing the leader, 2 still does
  c.Tick(3, 25);
  EXPECT_GT(c[3].term(), T(1));
  EXPECT_EQ(c[2].term(), T(1)) << "2 heard from its leader recently, so ignores 3 (thesis §4.2.3)";
  EXPECT_EQ(c[1].role(), Role::kLeader);
}

TEST(Raft, RepairsAConflictingLog) {
  Cluster c(3);
  c.Elect(1);
  c.Isolate(1);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c[1].Propose("lost" + std::to_string(i)).ok());
  c.Stabilize();
  EXPECT_EQ(c[1].LastIndex(), I(6));
  EXPECT_EQ(c[1].commit(), I(1));
  c.TickNodes({2, 3}, 40);  // 2 and 3 stop hearing from 1 and elect one of themselves
  uint64_t l = c.LeaderAmong({2, 3});
  ASSERT_NE(l, 0u);
  for (int i = 0; i < 3; ++i) c.ProposeOk(l, "kept" + std::to_string(i));
  c.Heal();
  c.TickAll(3);
  EXPECT_EQ(c[1].role(), Role::kFollower);
  EXPECT_EQ(c[1].leader(), N(l));
  ExpectSameLog(c[1], c[l]);
  for (const Entry& e : c.applied_[N(1)]) EXPECT_EQ(e.data.find("lost"), std::string::npos);
  EXPECT_EQ(c.applied_[N(1)].back().data, "kept2");
}

TEST(Raft, RejectHintSkipsAWholeTermPerRoundTrip) {
  // Node 3 holds 40 entries of an old term that nobody else has. With one-by-one backtracking
  // the leader would need ~40 rejects; the hint (thesis §3.5) needs a couple.
  PersistedState ps;
  ps.hard_state.term = T(2);
  for (uint64_t i = 1; i <= 40; ++i) ps.entries.push_back(Entry{T(1), I(i), EntryType::kNormal, "old"});
  PersistedState empty;
  empty.hard_state.term = T(2);
  Cluster c(3);
  c.Add(N(1), {N(1), N(2), N(3)}, empty);
  c.Add(N(2), {N(1), N(2), N(3)}, empty);
  c.Add(N(3), {N(1), N(2), N(3)}, ps);
  c.Isolate(3);
  c.Elect(1);  // term 3 (pre-vote needs 2's grant only: 1's log is empty but 3 is unreachable)
  ASSERT_EQ(c[1].role(), Role::kLeader);
  c.ProposeOk(1, "new");
  c.Heal();
  c.sent_.clear();
  c.TickAll(2);
  int rejects = 0;
  for (const Message& m : c.sent_) rejects += m.type == MessageType::kAppendResp && m.reject && m.from == N(3);
  EXPECT_LE(rejects, 3);
  ExpectSameLog(c[1], c[3]);
}

TEST(Raft, OldTermEntryIsNotCommittedByCountingReplicas) {
  // Thesis §3.6.2, Figure 3.7: node 1 was leader of term 2 and wrote index 2; now it leads term 4.
  // Index 2 reaching a majority does not commit it; only the term-4 no-op reaching a majority does.
  PersistedState ps;
  ps.hard_state.term = T(3);
  ps.entries = {Entry{T(1), I(1), EntryType::kNoop, ""}, Entry{T(2), I(2), EntryType::kNormal, "x"}};
  Config cfg;
  cfg.id = N(1);
  cfg.group = kGroup;
  cfg.peers = {N(1), N(2), N(3)};
  Raft r(cfg, ps);
  for (int i = 0; i < 20 && r.role() == Role::kFollower; ++i) r.Tick();
  ASSERT_EQ(r.role(), Role::kPreCandidate);
  auto reply = [&](MessageType type, Term term, LogIndex index) {
    Message m;
    m.group = kGroup;
    m.type = type;
    m.from = N(2);
    m.to = N(1);
    m.term = term;
    m.index = index;
    r.Step(m);
  };
  reply(MessageType::kPreVoteResp, T(4), I(0));
  ASSERT_EQ(r.role(), Role::kCandidate);
  reply(MessageType::kVoteResp, T(4), I(0));
  ASSERT_EQ(r.role(), Role::kLeader);
  ASSERT_EQ(r.term(), T(4));
  ASSERT_EQ(r.LastIndex(), I(3));  // the no-op
  reply(MessageType::kAppendResp, T(4), I(2));
  EXPECT_EQ(r.commit(), I(0)) << "index 2 (term 2) is on a majority but must not commit by counting";
  reply(MessageType::kAppendResp, T(4), I(3));
  EXPECT_EQ(r.commit(), I(3)) << "the term-4 entry commits, and index 2 with it";
}

TEST(Raft, LaggingFollowerGetsASnapshot) {
  Cluster c(3);
  c.Elect(1);
  c.Isolate(3);
  for (int i = 0; i < 12; ++i) c.ProposeOk(1, "v" + std::to_string(i));
  ASSERT_EQ(c[1].applied(), I(13));
  c[1].Compact(I(10), "state@10");
  c[2].Compact(I(10), "state@10");
  EXPECT_EQ(c[1].FirstIndex(), I(11));
  c.Heal();
  c.TickAll(3);
  EXPECT_GE(c.Count(MessageType::kSnapshot), 1);
  EXPECT_EQ(c[3].snapshot().index, I(10));
  EXPECT_EQ(c.disks_[N(3)].snapshot.data, "state@10");
  EXPECT_EQ(c[3].commit(), I(13));
  EXPECT_EQ(c[3].applied(), I(13));
  ExpectSameLog(c[1], c[3]);
  // After the snapshot, node 3 applied only what followed it.
  ASSERT_FALSE(c.applied_[N(3)].empty());
  EXPECT_EQ(c.applied_[N(3)].back().data, "v11");
}

TEST(Raft, SnapshotSurvivesARestart) {
  Cluster c(3);
  c.Elect(1);
  for (int i = 0; i < 5; ++i) c.ProposeOk(1, "v" + std::to_string(i));
  c[2].Compact(I(4), "s4");
  c.disks_[N(2)].snapshot = c[2].snapshot();
  auto& e = c.disks_[N(2)].entries;
  e.erase(e.begin(), e.begin() + 4);
  c.Add(N(2), {N(1), N(2), N(3)}, c.disks_[N(2)]);  // restart from disk
  EXPECT_EQ(c[2].FirstIndex(), I(5));
  EXPECT_EQ(c[2].LastIndex(), I(6));
  EXPECT_EQ(c[2].applied(), I(4));
  c.TickAll(2);
  EXPECT_EQ(c[2].applied(), I(6));
}

TEST(Raft, LeaderTransfer) {
  Cluster c(3);
  c.Elect(1);
  c.Isolate(3);
  c.ProposeOk(1, "a");  // 3 lags: the leader must catch it up before TimeoutNow
  c.Heal();
  ASSERT_TRUE(c[1].TransferLeadership(N(3)).ok());
  EXPECT_EQ(c[1].Propose("b").code(), ProposeCode::kTransferring);
  c.Stabilize();
  EXPECT_EQ(c.Count(MessageType::kTimeoutNow), 1);
  EXPECT_EQ(c[3].role(), Role::kLeader);
  EXPECT_EQ(c[3].term(), T(2));
  EXPECT_EQ(c[1].role(), Role::kFollower);
  EXPECT_EQ(c[1].leader(), N(3));
  c.ProposeOk(3, "c");
  EXPECT_EQ(c.applied_[N(1)].back().data, "c");
}

TEST(Raft, LeaderTransferToAnUnreachableNodeAborts) {
  Cluster c(3);
  c.Elect(1);
  c.Isolate(3);
  ASSERT_TRUE(c[1].TransferLeadership(N(3)).ok());
  c.Tick(1, 10);  // one election timeout
  EXPECT_EQ(c[1].transferee(), kNoNode);
  c.Heal();
  c.ProposeOk(1, "after");
}

TEST(Raft, AddsAndRemovesMembersOneAtATime) {
  Cluster c(3);
  c.Elect(1);
  c.ProposeOk(1, "a");
  c.Add(N(4), {});  // knows no voters: waits for the leader
  ProposeStatus st = c[1].ProposeConfChange({ConfChange::Kind::kAddNode, N(4)});
  ASSERT_TRUE(st.ok());
  // Thesis §4.1: the configuration takes effect on append, and one change at a time.
  EXPECT_EQ(c[1].voters().size(), 4u);
  EXPECT_EQ(c[1].ProposeConfChange({ConfChange::Kind::kRemoveNode, N(2)}).code(),
            ProposeCode::kConfChangePending);
  c.Stabilize();
  c.TickAll(3);
  for (uint64_t i : {1, 2, 3, 4}) {
    EXPECT_EQ(c[i].voters(), (std::vector<NodeId>{N(1), N(2), N(3), N(4)})) << i;
    EXPECT_EQ(c[i].commit(), c[1].LastIndex()) << i;
  }
  ExpectSameLog(c[1], c[4]);
  EXPECT_EQ(c[1].ProposeConfChange({ConfChange::Kind::kAddNode, N(4)}).code(), ProposeCode::kInvalid);

  // Remove the leader itself: it steps down once the removal commits (thesis §4.2.2).
  ASSERT_TRUE(c[1].ProposeConfChange({ConfChange::Kind::kRemoveNode, N(1)}).ok());
  c.Stabilize();
  EXPECT_NE(c[1].role(), Role::kLeader);
  c.Tick(1, 50);
  EXPECT_NE(c[1].role(), Role::kLeader) << "a removed node never campaigns";
  c.TickNodes({2, 3, 4}, 40);
  uint64_t l = c.LeaderAmong({2, 3, 4});
  ASSERT_NE(l, 0u);
  EXPECT_EQ(c[l].voters(), (std::vector<NodeId>{N(2), N(3), N(4)}));
  c.ProposeOk(l, "after removal");
  EXPECT_EQ(c.applied_[N(4)].back().data, "after removal");
}

TEST(Raft, TruncatedConfChangeIsRevertedOnAFollower) {
  Cluster c(3);
  c.Elect(1);
  c.ProposeOk(1, "a");
  c.Isolate(1);
  ASSERT_TRUE(c[1].ProposeConfChange({ConfChange::Kind::kRemoveNode, N(3)}).ok());
  EXPECT_EQ(c[1].voters().size(), 2u);
  c.Stabilize();
  c.TickNodes({2, 3}, 40);
  uint64_t l = c.LeaderAmong({2, 3});
  ASSERT_NE(l, 0u);
  c.ProposeOk(l, "b");
  c.Heal();
  c.TickAll(3);
  EXPECT_EQ(c[1].voters(), (std::vector<NodeId>{N(1), N(2), N(3)}));
  ExpectSameLog(c[1], c[l]);
}

TEST(Raft, BatchesAndBoundsTheInflightWindow) {
  Cluster c(3);
  c.Elect(1);
  c.Isolate(2);
  c.Isolate(3);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(c[1].Propose("e" + std::to_string(i)).ok());
  c.Heal();
  c.sent_.clear();
  c.TickAll(10);
  for (const Message& m : c.sent_) {
    if (m.type == MessageType::kAppend) {
      EXPECT_LE(m.entries.size(), 4u);
    }
  }
  const Progress* p = c[1].progress(N(2));
  ASSERT_NE(p, nullptr);
  EXPECT_LE(p->inflight.size(), 2u);
  EXPECT_EQ(c[2].commit(), c[1].LastIndex());
  ExpectSameLog(c[1], c[2]);
}

TEST(Raft, BoundsBytesPerMessageButMovesABigEntry) {
  Cluster c(3, [](Config& cfg) { cfg.max_bytes_per_msg = 10; });
  c.Elect(1);
  c.Isolate(2);
  c.Isolate(3);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c[1].Propose("12345678").ok());
  ASSERT_TRUE(c[1].Propose(std::string(100, 'x')).ok());
  c.Heal();
  c.sent_.clear();
  c.TickAll(5);
  for (const Message& m : c.sent_) {
    if (m.type == MessageType::kAppend) {
      EXPECT_LE(m.entries.size(), 1u);
    }
  }
  ExpectSameLog(c[1], c[2]);
}

TEST(Raft, RefusesProposalsBeyondTheUncommittedBound) {
  Cluster c(3, [](Config& cfg) { cfg.max_uncommitted_entries = 3; });
  c.Elect(1);
  c.Isolate(1);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c[1].Propose("x").ok());
  EXPECT_EQ(c[1].Propose("x").code(), ProposeCode::kOverloaded);
}

TEST(Raft, SurvivesLostAppendsInThePipeline) {
  Cluster c(3);
  c.Elect(1);
  int dropped = 0;
  c.drop_ = [&](const Message& m) {
    return m.type == MessageType::kAppend && !m.entries.empty() && m.to == N(2) && dropped++ < 3;
  };
  for (int i = 0; i < 10; ++i) c.ProposeOk(1, "e" + std::to_string(i));
  c.drop_ = nullptr;
  c.TickAll(5);
  EXPECT_EQ(c[2].LastIndex(), c[1].LastIndex());
  ExpectSameLog(c[1], c[2]);
}

TEST(Raft, MessagesOfAnotherGroupAreRejected) {
  Cluster c(1);
  Message m;
  m.group = GroupId{99};
  m.to = N(1);
  EXPECT_DEATH(c[1].Step(m), "group");
}

TEST(Raft, ConfChangeEncoding) {
  auto c = DecodeConfChange(EncodeConfChange({ConfChange::Kind::kRemoveNode, N(42), {N(1), N(3)}}));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->kind, ConfChange::Kind::kRemoveNode);
  EXPECT_EQ(c->node, N(42));
  EXPECT_EQ(c->voters, (std::vector<NodeId>{N(1), N(3)}));
  EXPECT_FALSE(DecodeConfChange("remove 3 1,3").has_value());
  EXPECT_FALSE(DecodeConfChange("add 3 1,,3").has_value());
  EXPECT_FALSE(DecodeConfChange("add x").has_value());
  EXPECT_FALSE(DecodeConfChange("add 0").has_value());
  EXPECT_FALSE(DecodeConfChange("").has_value());
}

}  // namespace
}  // namespace meridian::raft
