#include "tests/sim/raft_sim.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <utility>
#include <vector>

namespace meridian::sim {

namespace {

using raft::Entry;
using raft::HardState;
using raft::LogIndex;
using raft::Message;
using raft::NodeId;
using raft::Raft;
using raft::Ready;
using raft::Role;
using raft::Snapshot;
using raft::Term;

constexpr raft::GroupId kGroup{7};

uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
  return h;
}

uint64_t HashEntry(const Entry& e) {
  uint64_t h = Mix(e.term.value, static_cast<uint64_t>(e.type));
  for (unsigned char c : e.data) h = Mix(h, c);
  return h;
}

// What survives a crash.
struct Disk {
  HardState hard_state;
  Snapshot snapshot;
  std::vector<Entry> entries;  // from snapshot.index + 1

  std::optional<Term> TermAt(LogIndex i) const {
    if (i == snapshot.index) return snapshot.term;
    if (i < snapshot.index || i.value > snapshot.index.value + entries.size()) return std::nullopt;
    return entries[i.value - snapshot.index.value - 1].term;
  }
};

struct Node {
  NodeId id;
  std::unique_ptr<Raft> raft;  // null while crashed
  int64_t down_until = 0;
  int64_t paused_until = 0;  // while tick < paused_until the node is frozen
  Disk disk;
  // The application's state machine: a digest of everything applied, and how far.
  LogIndex sm_applied;
  uint64_t sm_digest = 0;
  // ReadIndex requests in flight: context -> the highest index applied anywhere when the read
  // began. Contexts increase across the node's restarts.
  uint64_t next_read = 0;
  std::map<uint64_t, uint64_t> reads;
};

struct InFlight {
  int64_t deliver_at;
  uint64_t order;  // random tie-break: reordering within a tick
  Message msg;
};

class Simulation {
 public:
  explicit Simulation(const SimOptions& o) : o_(o), rng_(o.seed) {
    int n = o_.nodes > 0 ? o_.nodes : 3 + static_cast<int>(rng_() % 3);
    result_.nodes = n;
    for (int i = 1; i <= n; ++i) {
      voters_.push_back(NodeId{static_cast<uint64_t>(i)});
    }
    for (int i = 1; i <= n + 1; ++i) {
      NodeId id{static_cast<uint64_t>(i)};
      auto node = std::make_unique<Node>();
      node->id = id;
      nodes_.push_back(std::move(node));
    }
    side_.assign(n + 2, 0);
    for (auto& node : nodes_) Start(*node);
  }

  SimResult Run() {
    for (tick_ = 0; tick_ < o_.fault_ticks && result_.ok; ++tick_) Step(/*faults=*/true);
    if (!result_.ok) return result_;
    // The faults stop: heal, restart everyone, and start the liveness clock.
    std::fill(side_.begin(), side_.end(), 0);
    partition_until_ = 0;
    for (auto& node : nodes_) {
      if (!node->raft) Start(*node);
    }
    int64_t deadline = tick_ + o_.liveness_ticks;
    for (; tick_ < deadline && result_.ok; ++tick_) {
      Step(/*faults=*/false);
      if (LivenessReached()) return result_;
    }
    if (result_.ok) {
      Fail("liveness", "no leader with a newly committed entry on every node within " +
                           std::to_string(o_.liveness_ticks) + " ticks after the faults stopped;" +
                           NodeStates());
    }
    return result_;
  }

 private:
  raft::Config ConfigFor(NodeId id) {
    raft::Config c;
    c.id = id;
    c.group = kGroup;
    c.peers = voters_;  // the configuration at index 0, the same on every node
    c.election_tick = 10;
    c.heartbeat_tick = 2;
    c.max_entries_per_msg = 8;
    c.max_bytes_per_msg = 256;
    c.max_inflight_msgs = 4;
    c.seed = rng_();
    c.testing_bug = o_.bug;
    return c;
  }

  void Trace(const std::string& s) {
    if (o_.verbose) std::fprintf(stderr, "[t=%lld] %s\n", static_cast<long long>(tick_), s.c_str());
  }

  void Fail(const std::string& checker, const std::string& detail) {
    if (!result_.ok) return;
    result_.ok = false;
    result_.checker = checker;
    result_.detail = detail;
    result_.tick = tick_;
    Trace("FAIL " + checker + ": " + detail);
  }

  // Restart from what the disk holds; volatile state (including the state machine) is rebuilt
  // from the snapshot, and committed entries are applied again.
  void Start(Node& n) {
    raft::PersistedState ps;
    ps.hard_state = n.disk.hard_state;
    ps.snapshot = n.disk.snapshot;
    ps.entries = n.disk.entries;
    n.raft = std::make_unique<Raft>(ConfigFor(n.id), std::move(ps));
    n.sm_applied = n.disk.snapshot.index;
    n.sm_digest = ParseDigest(n.disk.snapshot);
    Trace("start n" + std::to_string(n.id.value) + " term=" + std::to_string(n.raft->term().value));
  }

  void Crash(Node& n) {
    ++result_.crashes;
    n.raft.reset();
    n.down_until = tick_ + 1 + static_cast<int64_t>(rng_() % o_.down_ticks_max);
    Trace("crash n" + std::to_string(n.id.value));
  }

  static uint64_t ParseDigest(const Snapshot& s) {
    return s.data.empty() ? 0 : std::stoull(s.data);
  }

  bool Paused(const Node& n) const { return tick_ < n.paused_until; }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  Node& At(NodeId id) { return *nodes_[id.value - 1]; }
  bool Connected(NodeId a, NodeId b) const { return side_[a.value] == side_[b.value]; }

  void Step(bool faults) {
    if (faults) InjectFaults();
    // Client reads arrive before the tick's peer messages: a leader resuming from a pause serves
    // them with the beliefs it had when it stopped (the dangerous moment for a read).
    if (faults) StartReads();
    Deliver();
    for (auto& node : nodes_) {
      if (!node->raft || Paused(*node)) continue;
      node->raft->Tick();
      ObserveRole(*node);
    }
    if (faults) {
      Propose();
      if (Chance(o_.transfer_per_tick)) Transfer();
      if (Chance(o_.conf_change_per_tick)) ChangeMembership();
    }
    for (auto& node : nodes_) {
      if (node->raft && !Paused(*node)) MaybeCompact(*node);
    }
    for (auto& node : nodes_) {
      if (node->raft && !Paused(*node)) HandleReady(*node, faults);
    }
    // With a planted bug the core records a broken invariant instead of aborting; the checkers
    // must still find the damage, so the run goes on.
    for (auto& node : nodes_) {
      if (node->raft && result_.core_violation.empty() && !node->raft->invariant_violation().empty()) {
        result_.core_violation = "n" + std::to_string(node->id.value) + ": " +
                                 node->raft->invariant_violation();
        Trace("core invariant broken: " + result_.core_violation);
      }
    }
  }

  void InjectFaults() {
    if (partition_until_ > 0 && tick_ >= partition_until_) {
      std::fill(side_.begin(), side_.end(), 0);
      partition_until_ = 0;
      Trace("heal");
    } else if (partition_until_ == 0 && Chance(o_.partition_per_tick)) {
      std::string desc;
      for (NodeId id : voters_) {
        side_[id.value] = static_cast<int>(rng_() % 2);
        desc += " n" + std::to_string(id.value) + ":" + std::to_string(side_[id.value]);
      }
      partition_until_ = tick_ + 1 + static_cast<int64_t>(rng_() % o_.partition_ticks_max);
      Trace("partition" + desc);
    }
    for (auto& node : nodes_) {
      if (!node->raft && tick_ >= node->down_until) {
        Start(*node);
      } else if (node->raft && Chance(o_.crash_per_tick)) {
        Crash(*node);
      } else if (node->raft && !Paused(*node) && Chance(o_.pause_per_tick)) {
        node->paused_until = tick_ + 1 + static_cast<int64_t>(rng_() % o_.pause_ticks_max);
        ++result_.pauses;
        Trace("pause n" + std::to_string(node->id.value) + " until " + std::to_string(node->paused_until));
      }
    }
  }

  void Deliver() {
    std::vector<InFlight> due;
    std::vector<InFlight> later;
    for (auto& f : net_) (f.deliver_at <= tick_ ? due : later).push_back(std::move(f));
    net_ = std::move(later);
    std::sort(due.begin(), due.end(), [](const InFlight& a, const InFlight& b) {
      return a.deliver_at != b.deliver_at ? a.deliver_at < b.deliver_at : a.order < b.order;
    });
    for (auto& f : due) {
      Node& to = At(f.msg.to);
      if (to.raft && Paused(to)) {  // waits in the socket buffer until the node runs again
        f.deliver_at = to.paused_until;
        net_.push_back(std::move(f));
        continue;
      }
      if (!to.raft || !Connected(f.msg.from, f.msg.to)) continue;
      to.raft->Step(f.msg);
      ObserveRole(to);
      if (!result_.ok) return;
    }
  }

  void Send(const Message& m, bool faults) {
    if (!Connected(m.from, m.to)) return;
    if (faults && Chance(o_.loss)) return;
    int copies = faults && Chance(o_.duplicate) ? 2 : 1;
    for (int i = 0; i < copies; ++i) {
      InFlight f;
      f.deliver_at = tick_ + 1 + static_cast<int64_t>(rng_() % o_.max_delay_ticks);
      f.order = rng_();
      f.msg = m;
      net_.push_back(std::move(f));
    }
  }

  void Propose() {
    if (!Chance(o_.propose_per_tick)) return;
    std::string data = "c" + std::to_string(++proposals_);
    Node* n = nodes_[rng_() % nodes_.size()].get();
    for (int hop = 0; hop < 2 && n && n->raft && !Paused(*n); ++hop) {
      auto st = n->raft->Propose(data);
      if (st.ok() || st.leader_hint() == raft::kNoNode) return;
      n = &At(st.leader_hint());
    }
  }

  Node* Leader() {
    Node* leader = nullptr;
    for (auto& node : nodes_) {
      if (node->raft && node->raft->role() == Role::kLeader &&
          (!leader || node->raft->term() > leader->raft->term())) {
        leader = node.get();
      }
    }
    return leader;
  }

  void ChangeMembership() {
    Node* leader = Leader();
    if (!leader) return;
    std::vector<NodeId> voters = leader->raft->voters();
    raft::ConfChange cc;
    if (voters.size() > 3 && (voters.size() == 5 || Chance(0.5))) {
      cc.kind = raft::ConfChange::Kind::kRemoveNode;
      cc.node = voters[rng_() % voters.size()];
    } else {
      std::vector<NodeId> outside;
      for (auto& node : nodes_) {
        if (std::find(voters.begin(), voters.end(), node->id) == voters.end()) outside.push_back(node->id);
      }
      if (outside.empty()) return;
      cc.kind = raft::ConfChange::Kind::kAddNode;
      cc.node = outside[rng_() % outside.size()];
    }
    if (leader->raft->ProposeConfChange(cc).ok()) {
      ++result_.conf_changes;
      Trace(std::string(cc.kind == raft::ConfChange::Kind::kAddNode ? "add n" : "remove n") +
            std::to_string(cc.node.value));
    }
  }

  void Transfer() {
    for (auto& node : nodes_) {
      if (node->raft && node->raft->role() == Role::kLeader) {
        const auto& voters = node->raft->voters();
        NodeId target = voters[rng_() % voters.size()];
        if (target != node->id) {
          (void)node->raft->TransferLeadership(target);
          Trace("transfer n" + std::to_string(node->id.value) + " -> n" +
                std::to_string(target.value));
        }
        return;
      }
    }
  }

  // The application snapshots its state machine; the snapshot is saved (and fsync'd) before the
  // core drops the entries it covers.
  void MaybeCompact(Node& n) {
    Raft& r = *n.raft;
    if (n.sm_applied.value < r.FirstIndex().value + o_.compact_after_entries) return;
    if (n.sm_applied != r.applied()) return;
    // Only what is on disk may be compacted (with kAckBeforePersist, applied entries may not be).
    if (n.sm_applied > r.LastStableIndex()) return;
    LogIndex at = n.sm_applied;
    r.Compact(at, std::to_string(n.sm_digest));
    n.disk.snapshot = r.snapshot();
    auto& e = n.disk.entries;
    e.erase(e.begin(), std::find_if(e.begin(), e.end(), [&](const Entry& x) { return x.index > at; }));
  }

  // Linearizable reads (thesis §6.4): a read may be served at the index a ReadState names only if
  // that index covers every write that completed before the read began. Anything applied on any
  // node has committed (and may have been acknowledged), so the read index must be at least the
  // highest index applied anywhere when the read was issued. A deposed leader that answered from
  // its own stale commit index fails this.
  void StartReads() {
    for (auto& node : nodes_) {
      if (!node->raft || Paused(*node) || node->raft->role() != raft::Role::kLeader ||
          !Chance(o_.read_per_tick)) {
        continue;
      }
      uint64_t ctx = ++node->next_read;
      if (node->raft->ReadIndex(ctx).ok()) {
        node->reads[ctx] = applied_.empty() ? 0 : applied_.size() - 1;
      }
    }
  }

  void CheckReads(Node& n, const Ready& rd) {
    for (const raft::ReadState& rs : rd.read_states) {
      auto it = n.reads.find(rs.context);
      if (it == n.reads.end()) continue;
      uint64_t need = it->second;
      n.reads.erase(it);
      if (rs.index.value == 0) continue;  // dropped: the caller retries elsewhere
      ++result_.reads_served;
      if (rs.index.value < need) {
        Fail("read linearizability", "n" + std::to_string(n.id.value) + " answered read " +
                                         std::to_string(rs.context) + " at index " + std::to_string(rs.index.value) +
                                         " but index " + std::to_string(need) + " was applied before it began");
        return;
      }
    }
  }

  void HandleReady(Node& n, bool faults) {
    if (!n.raft->HasReady()) return;
    Ready rd = n.raft->GetReady();
    // The writes land in the page cache; a crash before the fsync loses them all, and the
    // messages (which promise durability) never leave.
    if (faults && Chance(o_.crash_before_fsync)) {
      Crash(n);
      return;
    }
    Persist(n, rd);
    if (!result_.ok) return;
    CheckReads(n, rd);
    if (!result_.ok) return;
    for (const Message& m : rd.messages) Send(m, faults);
    if (rd.snapshot) {
      n.sm_applied = rd.snapshot->index;
      n.sm_digest = ParseDigest(*rd.snapshot);
      ++result_.snapshots_installed;
      CheckDigest(n);
    }
    for (const Entry& e : rd.committed_entries) Apply(n, e);
    n.raft->Advance(rd);
  }

  void Persist(Node& n, const Ready& rd) {
    Disk& d = n.disk;
    if (rd.snapshot) {
      d.snapshot = *rd.snapshot;
      d.entries.clear();
    }
    if (!rd.entries.empty()) {
      LogIndex first = rd.entries.front().index;
      if (first <= d.snapshot.index || first.value > d.snapshot.index.value + d.entries.size() + 1) {
        Fail("log matching", "n" + std::to_string(n.id.value) + " wrote a non-contiguous entry at " +
                                 std::to_string(first.value));
        return;
      }
      d.entries.resize(first.value - d.snapshot.index.value - 1);
      for (const Entry& e : rd.entries) {
        CheckLogMatching(n, e, *d.TermAt(e.index - 1));
        d.entries.push_back(e);
      }
    }
    if (rd.hard_state) d.hard_state = *rd.hard_state;
  }

  // Log matching (thesis §3.5): an (index, term) pair names one entry, and that entry always
  // follows the same previous term.
  void CheckLogMatching(const Node& n, const Entry& e, Term prev_term) {
    auto key = std::make_pair(e.index.value, e.term.value);
    auto value = std::make_pair(HashEntry(e), prev_term.value);
    auto [it, inserted] = log_ids_.emplace(key, value);
    if (!inserted && it->second != value) {
      Fail("log matching", "n" + std::to_string(n.id.value) + " holds a different entry at index " +
                               std::to_string(e.index.value) + " term " + std::to_string(e.term.value));
    }
  }

  void Apply(Node& n, const Entry& e) {
    if (e.index != n.sm_applied + 1 && e.index > n.sm_applied) {
      Fail("state-machine safety", "n" + std::to_string(n.id.value) + " applied index " +
                                       std::to_string(e.index.value) + " after " +
                                       std::to_string(n.sm_applied.value));
      return;
    }
    if (applied_.size() <= e.index.value) applied_.resize(e.index.value + 1);
    auto& slot = applied_[e.index.value];
    if (!slot) {
      slot = e;
      ++result_.entries_applied;
    } else if (!(*slot == e)) {
      Fail("state-machine safety", "n" + std::to_string(n.id.value) + " applied a different entry at index " +
                                       std::to_string(e.index.value) + " (term " + std::to_string(e.term.value) +
                                       " '" + e.data + "' vs term " + std::to_string(slot->term.value) + " '" +
                                       slot->data + "')");
      return;
    }
    n.sm_applied = e.index;
    n.sm_digest = Mix(n.sm_digest, HashEntry(e));
    CheckDigest(n);
  }

  // Every node's state machine must be in the same state after applying the same prefix.
  void CheckDigest(const Node& n) {
    auto [it, inserted] = digests_.emplace(n.sm_applied.value, n.sm_digest);
    if (!inserted && it->second != n.sm_digest) {
      Fail("state-machine safety", "n" + std::to_string(n.id.value) + " state differs after index " +
                                       std::to_string(n.sm_applied.value));
    }
  }

  void ObserveRole(Node& n) {
    const Raft& r = *n.raft;
    if (r.role() != Role::kLeader) return;
    // The term in which each index first committed: a leader's commit index moves only in its own
    // term, so the first leader seen at or past an index committed it.
    for (uint64_t i = std::max<uint64_t>(commit_term_.size(), 1); i <= r.commit().value; ++i) {
      commit_term_.resize(i + 1, 0);
      commit_term_[i] = r.term().value;
    }
    auto [it, inserted] = leaders_.emplace(r.term().value, n.id.value);
    if (!inserted) {
      if (it->second != n.id.value) {
        Fail("election safety", "term " + std::to_string(r.term().value) + " has two leaders: n" +
                                    std::to_string(it->second) + " and n" + std::to_string(n.id.value));
      }
      return;
    }
    ++result_.leaders;
    Trace("leader n" + std::to_string(n.id.value) + " term " + std::to_string(r.term().value));
    // Leader completeness (thesis §3.6.3): an entry committed in an earlier term must be in the
    // new leader's log (or under its snapshot). Entries committed in a later term are exempt: a
    // candidate paused with its votes in flight may win a term older than the current one.
    for (uint64_t i = r.FirstIndex().value; i < applied_.size(); ++i) {
      if (!applied_[i]) continue;
      if (i >= commit_term_.size() || commit_term_[i] == 0 || commit_term_[i] >= r.term().value) continue;
      const Entry* mine = r.EntryAt(LogIndex{i});
      if (!mine || !(*mine == *applied_[i])) {
        Fail("leader completeness", "n" + std::to_string(n.id.value) + " leads term " +
                                        std::to_string(r.term().value) + " without committed index " +
                                        std::to_string(i));
        return;
      }
    }
  }

  std::string NodeStates() {
    std::string s;
 for (auto& node : nodes_) {
      if (!node->raft) continue;
      const Raft& r = *node->raft;
      s += " n" + std::to_string(node->id.value) + "{" + std::string(raft::RoleName(r.role())) +
           " term=" + std::to_string(r.term().value) + " commit=" + std::to_string(r.commit().value) +
           " applied=" + std::to_string(r.applied().value) + " first=" + std::to_string(r.FirstIndex().value) +
           " last=" + std::to_string(r.LastIndex().value);
      for (auto& other : nodes_) {
        NodeId v = other->id;
        if (const raft::Progress* p = r.progress(v)) {
          s += " p" + std::to_string(v.value) + "=" + std::to_string(p->match.value) + "/" +
               std::to_string(p->next.value) + "/" + std::to_string(static_cast<int>(p->state)) +
               (p->probe_sent ? "s" : "") + std::to_string(p->inflight.size());
        }
      }
      s += "}";
    }
    return s;
  }

  bool LivenessReached() {
    Node* leader = Leader();
    if (!leader) return false;
    if (marker_.empty() || leader->raft->term() != marker_term_) {
      marker_ = "live" + std::to_string(tick_);
      auto st = leader->raft->Propose(marker_);
      if (!st.ok()) {
        marker_.clear();
        return false;
      }
      marker_term_ = st.term();
      marker_index_ = st.index();
    }
    // Applied directly or covered by an installed snapshot: the state-machine checkers vouch that
    // the prefix is the same everywhere.
    const uint64_t i = marker_index_.value;
    if (i >= applied_.size() || !applied_[i] || applied_[i]->data != marker_) return false;
    for (NodeId v : leader->raft->voters()) {
      if (At(v).sm_applied < marker_index_) return false;
    }
    return true;
  }

  const SimOptions& o_;
  std::mt19937_64 rng_;
  SimResult result_;
  int64_t tick_ = 0;
  std::vector<NodeId> voters_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<InFlight> net_;
  std::vector<int> side_;
  int64_t partition_until_ = 0;
  uint64_t proposals_ = 0;
  std::map<uint64_t, uint64_t> leaders_;  // term -> leader
  std::map<std::pair<uint64_t, uint64_t>, std::pair<uint64_t, uint64_t>> log_ids_;
  std::vector<std::optional<Entry>> applied_;  // by index: the entry applied there
  std::vector<uint64_t> commit_term_;          // by index: the term it first committed in
  std::map<uint64_t, uint64_t> digests_;       // applied index -> state digest
  std::string marker_;
  Term marker_term_;
  LogIndex marker_index_;
};

}  // namespace

SimResult RunSimulation(const SimOptions& options) {
  Simulation sim(options);
  return sim.Run();
}

}  // namespace meridian::sim
