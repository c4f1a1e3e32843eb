#include "region/raft.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace meridian::raft {

namespace {

[[noreturn]] void Die(const char* what, const char* file, int line) {
  std::fprintf(stderr, "raft invariant failed: %s at %s:%d\n", what, file, line);
  std::abort();
}

}  // namespace

// Always on, in every build: these guard the safety argument, not performance.
#define RAFT_ASSERT(cond)                                 \
  do {                                                    \
    if (!(cond)) Die(#cond, __FILE__, __LINE__);          \
  } while (0)
// Like RAFT_ASSERT, but a planted testing bug records the violation and continues, so that the
// simulator's checkers see the consequences.
#define RAFT_INVARIANT(cond)                              \
  do {                                                    \
    if (!(cond)) Violated(#cond, __FILE__, __LINE__);     \
  } while (0)

// Text, because it is tiny and readable in a log dump: "add 4 1,2,3,4" or "remove 2 1,3".
std::string EncodeConfChange(const ConfChange& change) {
  std::string s = (change.kind == ConfChange::Kind::kAddNode ? "add " : "remove ") +
                  std::to_string(change.node.value) + " ";
  for (size_t i = 0; i < change.voters.size(); ++i) {
    if (i > 0) s += ",";
    s += std::to_string(change.voters[i].value);
  }
  return s;
}

namespace {

// A positive decimal node id (no sign, no leading garbage), or nullopt.
std::optional<NodeId> ParseNodeId(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(ch - '0');
  }
  if (v == 0) return std::nullopt;
  return NodeId{v};
}

}  // namespace

std::optional<ConfChange> DecodeConfChange(std::string_view data) {
  ConfChange c;
  if (data.starts_with("add ")) {
    c.kind = ConfChange::Kind::kAddNode;
    data.remove_prefix(4);
  } else if (data.starts_with("remove ")) {
    c.kind = ConfChange::Kind::kRemoveNode;
    data.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  size_t space = data.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  auto node = ParseNodeId(data.substr(0, space));
  if (!node) return std::nullopt;
  c.node = *node;
  std::string_view list = data.substr(space + 1);
  while (!list.empty()) {
    size_t comma = list.find(',');
    auto v = ParseNodeId(list.substr(0, comma));
    if (!v || c.voters.size() >= 1024) return std::nullopt;  // bounded: configurations are small
    c.voters.push_back(*v);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  }
  std::sort(c.voters.begin(), c.voters.end());
  bool member = std::find(c.voters.begin(), c.voters.end(), c.node) != c.voters.end();
  if (member != (c.kind == ConfChange::Kind::kAddNode)) return std::nullopt;
  return c;
}

std::string_view MessageTypeName(MessageType type) {
  switch (type) {
    case MessageType::kPreVote: return "PreVote";
    case MessageType::kPreVoteResp: return "PreVoteResp";
    case MessageType::kVote: return "Vote";
    case MessageType::kVoteResp: return "VoteResp";
    case MessageType::kAppend: return "Append";
    case MessageType::kAppendResp: return "AppendResp";
    case MessageType::kHeartbeat: return "Heartbeat";
    case MessageType::kHeartbeatResp: return "HeartbeatResp";
    case MessageType::kSnapshot: return "Snapshot";
    case MessageType::kTimeoutNow: return "TimeoutNow";
  }
  return "?";
}

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kFollower: return "follower";
    case Role::kPreCandidate: return "pre-candidate";
    case Role::kCandidate: return "candidate";
    case Role::kLeader: return "leader";
  }
  return "?";
}

Raft::Raft(Config config, PersistedState persisted) : cfg_(std::move(config)) {
  RAFT_ASSERT(cfg_.id != kNoNode);
  RAFT_ASSERT(cfg_.heartbeat_tick >= 1 && cfg_.election_tick > cfg_.heartbeat_tick);
  RAFT_ASSERT(cfg_.max_inflight_msgs >= 1 && cfg_.max_entries_per_msg >= 1);
  RAFT_ASSERT(cfg_.max_committed_per_ready >= 1);
  rng_.seed(cfg_.seed * 0x9E3779B97F4A7C15ULL + cfg_.id.value);

  snapshot_ = std::move(persisted.snapshot);
  log_ = std::move(persisted.entries);
  for (size_t i = 0; i < log_.size(); ++i) {
    RAFT_ASSERT(log_[i].index == snapshot_.index + (i + 1));
    RAFT_ASSERT(i == 0 ? log_[i].term >= snapshot_.term : log_[i].term >= log_[i - 1].term);
  }
  term_ = persisted.hard_state.term;
  vote_ = persisted.hard_state.vote;
  commit_ = std::max(persisted.hard_state.commit, snapshot_.index);
  RAFT_INVARIANT(commit_ <= LastIndex());
  commit_ = std::min(commit_, LastIndex());
  applied_ = snapshot_.index;
  unstable_from_ = LastIndex() + 1;
  last_hard_state_ = persisted.hard_state;

  base_voters_ = snapshot_.index > LogIndex{0} ? snapshot_.voters : cfg_.peers;
  RebuildConfig();
  BecomeFollower(term_, kNoNode);
}

void Raft::Violated(const char* what, const char* file, int line) {
  if (cfg_.testing_bug == TestingBug::kNone) Die(what, file, line);
  if (violation_.empty()) {
    violation_ = std::string(what) + " at " + file + ":" + std::to_string(line);
  }
}

// ---- log access ------------------------------------------------------------------------------

Term Raft::LastTerm() const { return log_.empty() ? snapshot_.term : log_.back().term; }

std::optional<Term> Raft::TermAt(LogIndex index) const {
  if (index == snapshot_.index) return snapshot_.term;
  if (index < snapshot_.index || index > LastIndex()) return std::nullopt;
  return log_[index.value - snapshot_.index.value - 1].term;
}

const Entry* Raft::EntryAt(LogIndex index) const {
  if (index <= snapshot_.index || index > LastIndex()) return nullptr;
  return &log_[index.value - snapshot_.index.value - 1];
}

const Progress* Raft::progress(NodeId node) const {
  auto it = progress_.find(node);
  return it == progress_.end() ? nullptr : &it->second;
}

bool Raft::MatchTerm(LogIndex index, Term term) const {
  auto t = TermAt(index);
  return t && *t == term;
}

// Thesis §3.5 (the optimization at the end): the largest index <= `index` whose term is <= `term`.
// Everything above it certainly conflicts with a log whose entry at `index` has term `term`.
LogIndex Raft::FindConflictByTerm(LogIndex index, Term term) const {
  index = std::min(index, LastIndex());
  while (index > snapshot_.index) {
    auto t = TermAt(index);
    if (t && *t <= term) break;
    index = index - 1;
  }
  return index;
}

// Thesis §3.6.1: a candidate's log is at least as up-to-date as ours.
bool Raft::IsUpToDate(LogIndex last_index, Term last_term) const {
  return last_term > LastTerm() || (last_term == LastTerm() && last_index >= LastIndex());
}

// ---- membership (thesis §4.1) -----------------------------------------------------------------

std::vector<NodeId> Raft::ConfigAt(LogIndex index) const {
  for (auto it = conf_log_.rbegin(); it != conf_log_.rend(); ++it) {
    if (it->first <= index) return it->second;
  }
  return base_voters_;
}

void Raft::RebuildConfig() {
  conf_log_.clear();
  voters_ = base_voters_;
  pending_conf_index_ = snapshot_.index;
  for (const Entry& e : log_) {
    if (e.type == EntryType::kConfChange) ApplyConfEntry(e);
  }
}

bool Raft::IsVoter(NodeId node) const {
  return std::find(voters_.begin(), voters_.end(), node) != voters_.end();
}

bool Raft::Promotable() const { return IsVoter(cfg_.id); }

// The new configuration takes effect as soon as its entry is in the log, committed or not
// (thesis §4.1); a truncated configuration entry reverts it (TruncateAndAppend).
void Raft::ApplyConfEntry(const Entry& e) {
  auto change = DecodeConfChange(e.data);
  RAFT_ASSERT(change.has_value());
  voters_ = change->voters;
  conf_log_.emplace_back(e.index, voters_);
  pending_conf_index_ = std::max(pending_conf_index_, e.index);
  if (role_ == Role::kLeader) {
    for (NodeId v : voters_) {
      if (v != cfg_.id && !progress_.count(v)) AddProgress(v);
    }
    for (auto p = progress_.begin(); p != progress_.end();) {
      if (!IsVoter(p->first) && p->first != cfg_.id) {
        if (transferee_ == p->first) transferee_ = kNoNode;
        p = progress_.erase(p);
      } else {
        ++p;
      }
    }
  }
}

void Raft::AddProgress(NodeId node) {
  Progress p;
  p.next = LastIndex() + 1;
  p.recent_active = true;  // a new member gets a grace period before check-quorum counts it
  progress_[node] = std::move(p);
}

// ---- roles -------------------------------------------------------------------------------------

void Raft::ResetRandomizedElectionTimeout() {
  // Thesis §3.4: randomized in [T, 2T) so that split votes are rare.
  std::uniform_int_distribution<int> d(cfg_.election_tick, 2 * cfg_.election_tick - 1);
  randomized_election_timeout_ = d(rng_);
}

void Raft::Reset(Term term) {
  RAFT_ASSERT(term >= term_);  // terms never decrease (thesis §3.3)
  if (term != term_) {
    term_ = term;
    vote_ = kNoNode;
  }
  leader_ = kNoNode;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  ResetRandomizedElectionTimeout();
  transferee_ = kNoNode;
  votes_.clear();
  progress_.clear();
  // A read waiting for a leadership check fails when leadership may have changed: index 0 tells
  // the caller to retry (on the new leader).
  for (const PendingRead& r : pending_reads_) read_states_.push_back(ReadState{r.context, LogIndex{}});
  pending_reads_.clear();
}

void Raft::BecomeFollower(Term term, NodeId leader) {
  Reset(term);
  role_ = Role::kFollower;
  leader_ = leader;
}

void Raft::BecomePreCandidate() {
  RAFT_ASSERT(role_ != Role::kLeader);
  // Thesis §9.6: a pre-candidate changes neither its term nor its vote.
  votes_.clear();
  leader_ = kNoNode;
  role_ = Role::kPreCandidate;
  election_elapsed_ = 0;
  ResetRandomizedElectionTimeout();
}

void Raft::BecomeCandidate() {
  RAFT_ASSERT(role_ != Role::kLeader);
  Reset(term_ + 1);
  vote_ = cfg_.id;
  role_ = Role::kCandidate;
}

void Raft::BecomeLeader() {
  RAFT_ASSERT(role_ == Role::kCandidate);
  Reset(term_);
  role_ = Role::kLeader;
  leader_ = cfg_.id;
  for (NodeId v : voters_) {
    if (v != cfg_.id) AddProgress(v);
  }
  // Thesis §3.6.2 / §6.4: a no-op of the new term lets the leader commit (and learn the commit of)
  // entries of earlier terms.
  AppendAsLeader(EntryType::kNoop, "");
  BroadcastAppend();
}

void Raft::Campaign(CampaignType type) {
  Term vote_term;
  MessageType mt;
  if (type == CampaignType::kPreElection) {
    BecomePreCandidate();
    vote_term = term_ + 1;
    mt = MessageType::kPreVote;
  } else {
    BecomeCandidate();
    vote_term = term_;
    mt = MessageType::kVote;
  }
  if (Poll(cfg_.id, true) > 0) {  // a group of one
    if (type == CampaignType::kPreElection) {
      Campaign(CampaignType::kElection);
    } else {
      BecomeLeader();
    }
    return;
  }
  for (NodeId v : voters_) {
    if (v == cfg_.id) continue;
    Message m;
    m.type = mt;
    m.to = v;
    m.term = vote_term;
    m.index = LastIndex();
    m.log_term = LastTerm();
    m.force = type == CampaignType::kTransfer;
    Send(std::move(m));
  }
}

int Raft::Poll(NodeId from, bool granted) {
  votes_.emplace(from, granted);  // the first answer from a voter counts; duplicates do not
  size_t yes = 0, no = 0;
  for (auto& [node, g] : votes_) {
    if (!IsVoter(node)) continue;
    (g ? yes : no)++;
  }
  if (yes >= Quorum()) return 1;
  if (no >= Quorum()) return -1;
  return 0;
}

// ---- ticks -------------------------------------------------------------------------------------

void Raft::Tick() {
  if (role_ == Role::kLeader) {
    TickHeartbeat();
  } else {
    TickElection();
  }
}

void Raft::TickElection() {
  ++election_elapsed_;
  if (Promotable() && election_elapsed_ >= randomized_election_timeout_) {
    election_elapsed_ = 0;
    Campaign(cfg_.pre_vote ? CampaignType::kPreElection : CampaignType::kElection);
  }
}

void Raft::TickHeartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= cfg_.election_tick) {
    election_elapsed_ = 0;
    if (cfg_.check_quorum && !QuorumActive()) {
      // Thesis §6.2: a leader that cannot reach a majority for an election timeout steps down,
      // so clients go looking for the real leader.
      BecomeFollower(term_, kNoNode);
      return;
    }
    // Thesis §3.10: a transfer that did not finish within an election timeout is abandoned.
    transferee_ = kNoNode;
  }
  if (heartbeat_elapsed_ >= cfg_.heartbeat_tick) {
    heartbeat_elapsed_ = 0;
    BroadcastHeartbeat();
  }
}

bool Raft::QuorumActive() {
  size_t active = 0;
  for (NodeId v : voters_) {
    if (v == cfg_.id) {
      ++active;
      continue;
    }
    auto it = progress_.find(v);
    if (it != progress_.end() && it->second.recent_active) ++active;
  }
  for (auto& [node, p] : progress_) p.recent_active = false;
  return active >= Quorum();
}

// ---- sending -----------------------------------------------------------------------------------

void Raft::Send(Message m) {
  RAFT_ASSERT(m.to != cfg_.id);
  m.group = cfg_.group;
  m.from = cfg_.id;
  if (m.type != MessageType::kPreVote && m.type != MessageType::kPreVoteResp &&
      m.type != MessageType::kVote && m.type != MessageType::kVoteResp) {
    m.term = term_;
  }
  msgs_.push_back(std::move(m));
}

static bool IsPaused(const Progress& p, size_t max_inflight) {
  switch (p.state) {
    case Progress::State::kProbe: return p.probe_sent;
    case Progress::State::kReplicate: return p.inflight.size() >= max_inflight;
    case Progress::State::kSnapshot: return true;
  }
  return true;
}

static void BecomeProbe(Progress& p) {
  // After a snapshot, probing starts just past it.
  LogIndex from = p.state == Progress::State::kSnapshot ? std::max(p.match, p.pending_snapshot)
                                                        : p.match;
  p.state = Progress::State::kProbe;
  p.probe_sent = false;
  p.inflight.clear();
  p.pending_snapshot = LogIndex{0};
  p.next = from + 1;
}

static void BecomeReplicate(Progress& p) {
  p.state = Progress::State::kReplicate;
  p.probe_sent = false;
  p.inflight.clear();
  p.next = p.match + 1;
}

// Sends the entries `to` needs next, or the snapshot when they are compacted away. Bounded by
// max_entries_per_msg and max_bytes_per_msg; in kReplicate, by max_inflight_msgs.
bool Raft::SendAppend(NodeId to, bool send_if_empty) {
  auto it = progress_.find(to);
  if (it == progress_.end()) return false;
  Progress& pr = it->second;
  if (IsPaused(pr, cfg_.max_inflight_msgs)) return false;

  LogIndex prev = pr.next - 1;
  auto prev_term = TermAt(prev);
  if (!prev_term) {
    // Thesis §5.1: the entries this follower needs are gone; send the snapshot instead.
    RAFT_ASSERT(prev < snapshot_.index);
    Message m;
    m.type = MessageType::kSnapshot;
    m.to = to;
    m.snapshot = snapshot_;
    pr.state = Progress::State::kSnapshot;
    pr.pending_snapshot = snapshot_.index;
    pr.inflight.clear();
    Send(std::move(m));
    return true;
  }
  Message m;
  m.type = MessageType::kAppend;
  m.to = to;
  m.index = prev;
  m.log_term = *prev_term;
  m.commit = commit_;
  size_t bytes = 0;
  for (LogIndex i = pr.next; i <= LastIndex() && m.entries.size() < cfg_.max_entries_per_msg;
       i = i + 1) {
    const Entry* e = EntryAt(i);
    if (!m.entries.empty() && bytes + e->data.size() > cfg_.max_bytes_per_msg) break;
    bytes += e->data.size();
    m.entries.push_back(*e);
  }
  if (m.entries.empty() && !send_if_empty) return false;
  if (pr.state == Progress::State::kReplicate) {
    if (!m.entries.empty()) {
      // Pipelining (thesis §10.2.1): assume success and move on; a reject rewinds.
      LogIndex last = m.entries.back().index;
      pr.next = last + 1;
      pr.inflight.push_back(last);
    }
  } else {
    pr.probe_sent = true;
  }
  Send(std::move(m));
  return true;
}

void Raft::BroadcastAppend() {
  for (auto& [node, p] : progress_) SendAppend(node, true);
}

void Raft::BroadcastHeartbeat() {
  for (auto& [node, p] : progress_) {
    Message m;
    m.type = MessageType::kHeartbeat;
    m.to = node;
    // Never tell a follower to commit past what it is known to hold.
    m.commit = std::min(p.match, commit_);
    // Re-asks for the newest waiting read, in case its own heartbeats were lost.
    m.context = pending_reads_.empty() ? 0 : pending_reads_.back().context;
    Send(std::move(m));
  }
}

void Raft::SendTimeoutNow(NodeId to) {
  Message m;
  m.type = MessageType::kTimeoutNow;
  m.to = to;
  Send(std::move(m));
}

// ---- commit (thesis §3.6.2, Figure 3.7) --------------------------------------------------------

bool Raft::MaybeCommit() {
  std::vector<LogIndex> matches;
  for (NodeId v : voters_) {
    if (v == cfg_.id) {
      matches.push_back(LastIndex());
    } else {
      auto it = progress_.find(v);
      matches.push_back(it == progress_.end() ? LogIndex{0} : it->second.match);
    }
  }
  if (matches.empty()) return false;
  std::sort(matches.begin(), matches.end(), std::greater<>());
  size_t quorum = Quorum();
  if (cfg_.testing_bug == TestingBug::kMinorityCommit) quorum = std::max<size_t>(1, voters_.size() / 2);
  LogIndex candidate = matches[quorum - 1];
  // Only an entry of the current term is committed by counting replicas; earlier entries commit
  // indirectly through it (Figure 3.7).
  if (candidate > commit_ && TermAt(candidate) == term_) {
    CommitTo(candidate);
    return true;
  }
  return false;
}

void Raft::CommitTo(LogIndex index) {
  if (index <= commit_) return;
  RAFT_INVARIANT(index <= LastIndex());  // never commit past the last index
  commit_ = std::min(index, LastIndex());
  // Thesis §4.2.2: a leader removed from the configuration steps down once the removal commits.
  if (role_ == Role::kLeader && !IsVoter(cfg_.id) && commit_ >= pending_conf_index_) {
    BecomeFollower(term_, kNoNode);
  }
}

// ---- the application's inputs ------------------------------------------------------------------

void Raft::AppendAsLeader(EntryType type, std::string data) {
  Entry e;
  e.term = term_;
  e.index = LastIndex() + 1;
  e.type = type;
  e.data = std::move(data);
  log_.push_back(std::move(e));
  if (log_.back().type == EntryType::kConfChange) ApplyConfEntry(log_.back());
  MaybeCommit();  // a group of one commits at once
}

ProposeStatus Raft::Propose(std::string data) {
  if (role_ != Role::kLeader) return ProposeStatus::Error(ProposeCode::kNotLeader, leader_);
  if (transferee_ != kNoNode) return ProposeStatus::Error(ProposeCode::kTransferring, transferee_);
  if (LastIndex().value - commit_.value >= cfg_.max_uncommitted_entries) {
    return ProposeStatus::Error(ProposeCode::kOverloaded, cfg_.id);
  }
  AppendAsLeader(EntryType::kNormal, std::move(data));
  LogIndex index = LastIndex();
  for (auto& [node, p] : progress_) SendAppend(node, false);
  return ProposeStatus::Ok(index, term_);
}

ProposeStatus Raft::ProposeConfChange(const ConfChange& change) {
  if (role_ != Role::kLeader) return ProposeStatus::Error(ProposeCode::kNotLeader, leader_);
  if (transferee_ != kNoNode) return ProposeStatus::Error(ProposeCode::kTransferring, transferee_);
  if (change.node == kNoNode) return ProposeStatus::Error(ProposeCode::kInvalid);
  bool member = IsVoter(change.node);
  if ((change.kind == ConfChange::Kind::kAddNode) == member) {
    return ProposeStatus::Error(ProposeCode::kInvalid);
  }
  if (pending_conf_index_ > commit_ || TermAt(commit_) != term_) {
    return ProposeStatus::Error(ProposeCode::kConfChangePending);
  }
  if (change.kind == ConfChange::Kind::kRemoveNode && voters_.size() == 1) {
    return ProposeStatus::Error(ProposeCode::kInvalid);
  }
  ConfChange full = change;
  full.voters = voters_;
  if (change.kind == ConfChange::Kind::kAddNode) {
    full.voters.push_back(change.node);
  } else {
    std::erase(full.voters, change.node);
  }
  std::sort(full.voters.begin(), full.voters.end());
  AppendAsLeader(EntryType::kConfChange, EncodeConfChange(full));
  LogIndex index = LastIndex();
  BroadcastAppend();
  return ProposeStatus::Ok(index, term_);
}

ProposeStatus Raft::TransferLeadership(NodeId target) {
  if (role_ != Role::kLeader) return ProposeStatus::Error(ProposeCode::kNotLeader, leader_);
  if (target == cfg_.id || !IsVoter(target)) return ProposeStatus::Error(ProposeCode::kInvalid);
  if (transferee_ == target) return ProposeStatus::Ok(LastIndex(), term_);
  transferee_ = target;
  election_elapsed_ = 0;  // the transfer has one election timeout to finish
  const Progress& pr = progress_.at(target);
  if (pr.match == LastIndex()) {
    SendTimeoutNow(target);
  } else {
    SendAppend(target, true);
  }
  return ProposeStatus::Ok(LastIndex(), term_);
}

void Raft::Compact(LogIndex index, std::string data) {
  if (index <= snapshot_.index) return;
  RAFT_ASSERT(index <= applied_);
  RAFT_ASSERT(index < unstable_from_);
  Snapshot s;
  s.index = index;
  s.term = *TermAt(index);
  s.voters = ConfigAt(index);
  s.data = std::move(data);
  log_.erase(log_.begin(), log_.begin() + static_cast<ptrdiff_t>(index.value - snapshot_.index.value));
  snapshot_ = std::move(s);
  base_voters_ = snapshot_.voters;
  std::erase_if(conf_log_, [&](const auto& c) { return c.first <= index; });
}

// ---- Ready -------------------------------------------------------------------------------------

bool Raft::HasReady() const {
  if (HardState{term_, vote_, commit_} != last_hard_state_) return true;
  if (pending_snapshot_ || !msgs_.empty() || unstable_from_ <= LastIndex()) return true;
  if (!read_states_.empty()) return true;
  return applied_ < commit_;
}

Ready Raft::GetReady() {
  Ready rd;
  HardState hs{term_, vote_, commit_};
  if (hs != last_hard_state_) rd.hard_state = hs;
  rd.snapshot = pending_snapshot_;
  bool withhold = false;
  if (cfg_.testing_bug == TestingBug::kAckBeforePersist && role_ == Role::kFollower) {
    for (const Message& m : msgs_) {
      if (m.type == MessageType::kAppendResp && !m.reject) withhold = true;
    }
  }
  if (!withhold) {
    for (LogIndex i = std::max(unstable_from_, FirstIndex()); i <= LastIndex(); i = i + 1) {
      rd.entries.push_back(*EntryAt(i));
    }
  }
  rd.messages = std::move(msgs_);
  msgs_.clear();
  rd.read_states = std::move(read_states_);
  read_states_.clear();
  RAFT_INVARIANT(commit_ <= LastIndex());
  if (!pending_snapshot_) {
    for (LogIndex i = applied_ + 1;
         i <= commit_ && i <= LastIndex() && rd.committed_entries.size() < cfg_.max_committed_per_ready;
         i = i + 1) {
      rd.committed_entries.push_back(*EntryAt(i));
    }
  }
  return rd;
}

void Raft::Advance(const Ready& rd) {
  if (rd.hard_state) last_hard_state_ = *rd.hard_state;
  if (rd.snapshot) {
    applied_ = std::max(applied_, rd.snapshot->index);
    if (pending_snapshot_ && pending_snapshot_->index == rd.snapshot->index) pending_snapshot_.reset();
  }
  if (!rd.entries.empty()) {
    const Entry& last = rd.entries.back();
    if (MatchTerm(last.index, last.term)) unstable_from_ = std::max(unstable_from_, last.index + 1);
  }
  if (!rd.committed_entries.empty()) {
    LogIndex last = rd.committed_entries.back().index;
    RAFT_INVARIANT(last <= commit_);
    applied_ = std::max(applied_, std::min(last, commit_));
  }
}

// ---- Step --------------------------------------------------------------------------------------

void Raft::Step(const Message& m) {
  RAFT_ASSERT(m.group == cfg_.group);
  RAFT_ASSERT(m.to == cfg_.id);
  const bool is_vote = m.type == MessageType::kVote || m.type == MessageType::kPreVote;
  const bool from_leader = m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat ||
                           m.type == MessageType::kSnapshot;

  // Thesis §3.3: terms order everything.
  if (m.term > term_) {
    if (is_vote && !m.force && cfg_.check_quorum && leader_ != kNoNode &&
        election_elapsed_ < cfg_.election_tick) {
      // Thesis §4.2.3 / §9.6: we heard from a leader within the minimum election timeout, so
      // this vote request comes from a disruptive server (partitioned or removed); ignore it.
      return;
    }
    if (m.type == MessageType::kPreVote) {
      // A pre-vote never changes our term.
    } else if (m.type == MessageType::kPreVoteResp && !m.reject) {
      // The granted term is the one we would campaign in; the election will move us there.
    } else {
      BecomeFollower(m.term, from_leader ? m.from : kNoNode);
    }
  } else if (m.term < term_) {
    if ((cfg_.check_quorum || cfg_.pre_vote) &&
        (m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat)) {
      // A stale leader (e.g. one that was partitioned away) learns our term and steps down.
      // Without this, with pre-vote, a node with a higher term could never be reached.
      Message r;
      r.type = MessageType::kAppendResp;
      r.to = m.from;
      r.reject = true;
      r.index = m.index;
      r.reject_hint = LastIndex();
      Send(std::move(r));
    } else if (m.type == MessageType::kPreVote) {
      Message r;
      r.type = MessageType::kPreVoteResp;
      r.to = m.from;
      r.term = term_;
      r.reject = true;
      Send(std::move(r));
    }
    return;  // everything else from an old term is stale
  }

  if (is_vote) {
    HandleVoteRequest(m);
    return;
  }
  switch (role_) {
    case Role::kLeader: StepLeader(m); break;
    case Role::kPreCandidate:
    case Role::kCandidate: StepCandidate(m); break;
    case Role::kFollower: StepFollower(m); break;
  }
}

void Raft::HandleVoteRequest(const Message& m) {
  const bool pre = m.type == MessageType::kPreVote;
  // Thesis §3.4: one vote per term, first come first served. A pre-vote for a future term is
  // always possible (§9.6).
  bool can_vote = vote_ == m.from || (vote_ == kNoNode && leader_ == kNoNode) || (pre && m.term > term_);
  if (!pre && cfg_.testing_bug == TestingBug::kDoubleVote) can_vote = true;
  Message r;
  r.type = pre ? MessageType::kPreVoteResp : MessageType::kVoteResp;
  r.to = m.from;
  if (can_vote && IsUpToDate(m.index, m.log_term)) {
    r.term = m.term;
    r.reject = false;
    if (!pre) {
      election_elapsed_ = 0;
      vote_ = m.from;  // durable (hard state) before the response leaves: see Ready
    }
  } else {
    r.term = term_;
    r.reject = true;
  }
  Send(std::move(r));
}

void Raft::StepCandidate(const Message& m) {
  switch (m.type) {
    case MessageType::kAppend:
      BecomeFollower(m.term, m.from);
      HandleAppend(m);
      break;
    case MessageType::kHeartbeat:
      BecomeFollower(m.term, m.from);
      HandleHeartbeat(m);
      break;
    case MessageType::kSnapshot:
      BecomeFollower(m.term, m.from);
      HandleSnapshot(m);
      break;
    case MessageType::kPreVoteResp:
    case MessageType::kVoteResp: {
      bool mine = (role_ == Role::kPreCandidate) == (m.type == MessageType::kPreVoteResp);
      if (!mine) break;
      int result = Poll(m.from, !m.reject);
      if (result > 0) {
        if (role_ == Role::kPreCandidate) {
          Campaign(CampaignType::kElection);
        } else {
          BecomeLeader();
        }
      } else if (result < 0) {
        BecomeFollower(term_, kNoNode);
      }
      break;
    }
    default: break;
  }
}

void Raft::StepFollower(const Message& m) {
  switch (m.type) {
    case MessageType::kAppend:
      election_elapsed_ = 0;
      leader_ = m.from;
      HandleAppend(m);
      break;
    case MessageType::kHeartbeat:
      election_elapsed_ = 0;
      leader_ = m.from;
      HandleHeartbeat(m);
      break;
    case MessageType::kSnapshot:
      election_elapsed_ = 0;
      leader_ = m.from;
      HandleSnapshot(m);
      break;
    case MessageType::kTimeoutNow:
      // Thesis §3.10: start an election at once, without pre-vote, and tell voters not to ignore
      // it for having a leader.
      if (Promotable()) Campaign(CampaignType::kTransfer);
      break;
    default: break;
  }
}

void Raft::StepLeader(const Message& m) {
  switch (m.type) {
    case MessageType::kAppendResp: HandleAppendResp(m); break;
    case MessageType::kHeartbeatResp: HandleHeartbeatResp(m); break;
    default: break;
  }
}

// Thesis §3.5, Figure 3.1 (AppendEntries receiver).
void Raft::HandleAppend(const Message& m) {
  Message r;
  r.type = MessageType::kAppendResp;
  r.to = m.from;
  if (m.index < commit_) {
    // Everything up to our commit index is known to match; say so and let the leader skip ahead.
    r.index = commit_;
    Send(std::move(r));
    return;
  }
  if (MatchTerm(m.index, m.log_term)) {
    size_t from = 0;
    while (from < m.entries.size() && MatchTerm(m.entries[from].index, m.entries[from].term)) ++from;
    if (from < m.entries.size()) TruncateAndAppend(m.entries, from);
    LogIndex last_new = m.index + m.entries.size();
    // Only what is verified to match the leader may be committed here.
    CommitTo(std::min(m.commit, last_new));
    r.index = last_new;
    Send(std::move(r));
    return;
  }
  // Reject with a hint (thesis §3.5, end): the leader can skip a whole term per round trip.
  LogIndex hint = FindConflictByTerm(std::min(m.index, LastIndex()), m.log_term);
  r.reject = true;
  r.index = m.index;
  r.reject_hint = hint;
  r.log_term = TermAt(hint).value_or(Term{0});
  Send(std::move(r));
}

void Raft::TruncateAndAppend(const std::vector<Entry>& entries, size_t from) {
  LogIndex first = entries[from].index;
  RAFT_ASSERT(first > snapshot_.index && first <= LastIndex() + 1);
  if (first <= commit_) {
    // Log Matching plus Leader Completeness say this cannot happen: a committed entry is never
    // overwritten.
    RAFT_INVARIANT(first > commit_);
    commit_ = first - 1;
    applied_ = std::min(applied_, commit_);
  }
  bool had_conf = false;
  for (LogIndex i = first; i <= LastIndex(); i = i + 1) {
    if (EntryAt(i)->type == EntryType::kConfChange) had_conf = true;
  }
  log_.resize(first.value - snapshot_.index.value - 1);
  unstable_from_ = std::min(unstable_from_, first);
  if (had_conf) {
    // A truncated configuration entry no longer applies (thesis §4.1).
    std::erase_if(conf_log_, [&](const auto& c) { return c.first >= first; });
    voters_ = conf_log_.empty() ? base_voters_ : conf_log_.back().second;
    pending_conf_index_ = conf_log_.empty() ? snapshot_.index : conf_log_.back().first;
  }
  for (size_t i = from; i < entries.size(); ++i) {
    RAFT_ASSERT(entries[i].index == LastIndex() + 1);
    RAFT_ASSERT(entries[i].term >= LastTerm());
    log_.push_back(entries[i]);
    if (entries[i].type == EntryType::kConfChange) ApplyConfEntry(entries[i]);
  }
}

void Raft::HandleHeartbeat(const Message& m) {
  CommitTo(std::min(m.commit, LastIndex()));
  Message r;
  r.type = MessageType::kHeartbeatResp;
  r.to = m.from;
  r.context = m.context;
  Send(std::move(r));
}

ProposeStatus Raft::ReadIndex(uint64_t context) {
  if (role_ != Role::kLeader) return ProposeStatus::Error(ProposeCode::kNotLeader, leader_);
  // Thesis §6.4 step 1: until an entry of this term commits, commit_ may lag the true commit index.
  if (TermAt(commit_) != term_) return ProposeStatus::Error(ProposeCode::kConfChangePending);
  if (Quorum() <= 1 || cfg_.testing_bug == TestingBug::kReadWithoutQuorum) {
    read_states_.push_back(ReadState{context, commit_});
    return ProposeStatus::Ok(commit_, term_);
  }
  RAFT_ASSERT(pending_reads_.empty() || pending_reads_.back().context < context);
  pending_reads_.push_back(PendingRead{context, commit_, {cfg_.id}});
  for (auto& [node, p] : progress_) {
    Message m;
    m.type = MessageType::kHeartbeat;
    m.to = node;
    m.commit = std::min(p.match, commit_);
    m.context = context;
    Send(std::move(m));
  }
  return ProposeStatus::Ok(commit_, term_);
}

// Thesis §5.1, Figure 5.3 (InstallSnapshot receiver).
void Raft::HandleSnapshot(const Message& m) {
  RAFT_ASSERT(m.snapshot.has_value());
  const Snapshot& s = *m.snapshot;
  Message r;
  r.type = MessageType::kAppendResp;
  r.to = m.from;
  if (s.index <= commit_) {
    r.index = commit_;
    Send(std::move(r));
    return;
  }
  if (MatchTerm(s.index, s.term)) {
    // We already hold the snapshot's last entry, so the log agrees up to it: just commit.
    CommitTo(s.index);
    r.index = commit_;
    Send(std::move(r));
    return;
  }
  snapshot_ = s;
  log_.clear();
  commit_ = s.index;
  base_voters_ = s.voters;
  RebuildConfig();
  unstable_from_ = s.index + 1;
  pending_snapshot_ = s;
  r.index = s.index;
  Send(std::move(r));
}

void Raft::HandleAppendResp(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  if (m.reject) {
    // Stale rejects (for an index we already know matches, or not our current probe) are ignored.
    if (pr.state == Progress::State::kReplicate) {
      if (m.index <= pr.match) return;
      BecomeProbe(pr);  // next = match + 1
    } else {
      if (pr.next - 1 != m.index) return;
      LogIndex probe = m.log_term > Term{0} ? FindConflictByTerm(m.reject_hint, m.log_term)
                                            : m.reject_hint;
      pr.next = std::max(std::min(m.index, probe + 1), pr.match + 1);
      pr.probe_sent = false;
      if (pr.state == Progress::State::kSnapshot) BecomeProbe(pr);
    }
    SendAppend(m.from, true);
    return;
  }
  bool was_paused = IsPaused(pr, cfg_.max_inflight_msgs);
  if (m.index > pr.match) {
    pr.match = m.index;
    pr.next = std::max(pr.next, m.index + 1);
    pr.probe_sent = false;
    switch (pr.state) {
      case Progress::State::kProbe: BecomeReplicate(pr); break;
      case Progress::State::kSnapshot:
        if (pr.match >= pr.pending_snapshot) {
          BecomeProbe(pr);
          BecomeReplicate(pr);
        }
        break;
      case Progress::State::kReplicate:
        while (!pr.inflight.empty() && pr.inflight.front() <= m.index) pr.inflight.pop_front();
        break;
    }
    if (MaybeCommit()) {
      if (role_ != Role::kLeader) return;  // stepped down after committing its own removal
      BroadcastAppend();
    } else if (was_paused) {
      SendAppend(m.from, false);
    }
    while (SendAppend(m.from, false)) {
    }
    if (m.from == transferee_ && pr.match == LastIndex()) SendTimeoutNow(m.from);
  } else {
    pr.next = std::max(pr.next, m.index + 1);
  }
}

void Raft::HandleHeartbeatResp(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  pr.probe_sent = false;
  if (pr.state == Progress::State::kReplicate && pr.inflight.size() >= cfg_.max_inflight_msgs) {
    // An append may have been lost; free a slot so the stream moves (a gap makes the follower
    // reject, which rewinds us to probing).
    pr.inflight.pop_front();
  }
  if (pr.state == Progress::State::kSnapshot) BecomeProbe(pr);  // the snapshot may have been lost
  if (pr.match < LastIndex()) SendAppend(m.from, true);
  if (m.context != 0 && IsVoter(m.from)) {
    // The answer to the heartbeat of read `context` confirms this leader at a time after every
    // read up to `context` was registered, so it counts for all of them (thesis §6.4 step 3).
    for (PendingRead& r : pending_reads_) {
      if (r.context > m.context) break;
      if (std::find(r.acks.begin(), r.acks.end(), m.from) == r.acks.end()) r.acks.push_back(m.from);
    }
    while (!pending_reads_.empty()) {
      const PendingRead& r = pending_reads_.front();
      size_t votes = 0;
      for (NodeId n : r.acks) votes += IsVoter(n) ? 1 : 0;
      if (votes < Quorum()) break;
      read_states_.push_back(ReadState{r.context, r.index});
      pending_reads_.pop_front();
    }
  }
}

}  // namespace meridian::raft
