// Raft consensus as a pure state machine: no IO, no clock, no threads.
//
// The shape follows etcd/raft and ScyllaDB's raft::fsm. The caller (the node runtime, or the
// deterministic simulator in tests/sim/) feeds it inputs and reads its outputs:
//   - Step(message) for every message received from a peer,
//   - Tick() once per logical tick (the election and heartbeat timeouts are counted in ticks),
//   - Propose(data) / ProposeConfChange(change) / TransferLeadership(target) from the application,
//   - Compact(index, data) once the application has taken a snapshot of its state,
// and then, while HasReady(), processes GetReady() in this order and acknowledges it:
//   1. install Ready::snapshot (if any) and write Ready::entries (they may overwrite a suffix of the
//      log: drop every stored entry at or after the first new index) and Ready::hard_state,
//   2. fsync. Only then
//   3. send Ready::messages. A vote or an append acknowledgement promises that the state behind it
//      is durable; sending before the fsync breaks that promise (thesis §3.8: "servers persist
//      their state before responding").
//   4. apply Ready::committed_entries in order (apply may see an entry again after a crash),
//   5. Advance(ready).
//
// Environment contract: messages may be lost, delayed, duplicated and reordered, never corrupted.
// Messages carry the group id; a node that later hosts many groups routes by it.
//
// Thesis references are to Diego Ongaro, "Consensus: Bridging Theory and Practice" (2014).
//
// Thread-safety: none. One Raft instance is driven by one thread.
#pragma once

#include <algorithm>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace meridian::raft {

// A 64-bit number with a type of its own, so that a term is never passed where an index belongs.
template <typename Tag>
struct Strong {
  uint64_t value = 0;
  constexpr Strong() = default;
  constexpr explicit Strong(uint64_t v) : value(v) {}
  friend constexpr auto operator<=>(Strong, Strong) = default;
  friend constexpr Strong operator+(Strong a, uint64_t n) { return Strong(a.value + n); }
  friend constexpr Strong operator-(Strong a, uint64_t n) { return Strong(a.value - n); }
};

using Term = Strong<struct TermTag>;
using LogIndex = Strong<struct LogIndexTag>;
using NodeId = Strong<struct NodeIdTag>;
using GroupId = Strong<struct GroupIdTag>;

// Node id 0 means "nobody": no vote cast, no leader known.
inline constexpr NodeId kNoNode{0};

enum class EntryType : uint8_t {
  kNormal,      // application data
  kNoop,        // appended by a new leader (thesis §3.6.2, §6.4)
  kConfChange,  // one-server membership change (thesis §4.1); data is EncodeConfChange()
};

struct Entry {
  Term term;
  LogIndex index;
  EntryType type = EntryType::kNormal;
  std::string data;
  bool operator==(const Entry&) const = default;
};

// Adding or removing one voter (thesis §4.1). Takes effect on every server as soon as the entry
// is appended to its log, whether or not it is committed.
// The entry carries the whole configuration after the change, so that a new member that receives
// only the log learns the full membership.
struct ConfChange {
  enum class Kind : uint8_t { kAddNode, kRemoveNode };
  Kind kind = Kind::kAddNode;
  NodeId node;
  std::vector<NodeId> voters;  // after the change, sorted; filled in by ProposeConfChange
};
std::string EncodeConfChange(const ConfChange& change);
std::optional<ConfChange> DecodeConfChange(std::string_view data);

// What must be durable before any message of the same Ready leaves the node.
struct HardState {
  Term term;
  NodeId vote;
  LogIndex commit;
  bool operator==(const HardState&) const = default;
};

// The application's state as of `index` (inclusive) plus the membership at that index.
// index 0 means "no snapshot".
struct Snapshot {
  LogIndex index;
  Term term;
  std::vector<NodeId> voters;
  std::string data;
};

enum class MessageType : uint8_t {
  kPreVote,         // thesis §9.6; term = the term the sender would campaign in
  kPreVoteResp,
  kVote,            // RequestVote, thesis §3.4
  kVoteResp,
  kAppend,          // AppendEntries, thesis §3.5
  kAppendResp,
  kHeartbeat,       // an AppendEntries without entries, carrying min(match, commit)
  kHeartbeatResp,
  kSnapshot,        // InstallSnapshot, thesis §5.1 (sent whole: the sim's snapshots are small)
  kTimeoutNow,      // leader transfer, thesis §3.10
};
std::string_view MessageTypeName(MessageType type);

struct Message {
  GroupId group;
  MessageType type = MessageType::kAppend;
  NodeId from;
  NodeId to;
  Term term;
  // kAppend: the index and term of the entry before `entries`. kVote/kPreVote: the candidate's
  // last index and term. kAppendResp: the last index known to match (accept) or the rejected
  // prev index (reject). kAppendResp reject: log_term is the follower's term at reject_hint.
  LogIndex index;
  Term log_term;
  std::vector<Entry> entries;
  LogIndex commit;
  bool reject = false;
  LogIndex reject_hint;
  // kVote from a TimeoutNow: voters must not ignore it for having a recent leader (§3.10).
  bool force = false;
  std::optional<Snapshot> snapshot;
  // kHeartbeat sent for a ReadIndex round, echoed in its kHeartbeatResp; 0 for a plain heartbeat.
  uint64_t context = 0;
};

// The answer to ReadIndex(context): a read may be served once the state machine has applied
// `index`. index 0: the request was dropped (the node lost leadership first); retry elsewhere.
struct ReadState {
  uint64_t context = 0;
  LogIndex index;
};

// Switches that plant known bugs, so that tests can show the simulator's checkers catch them.
// Never set outside tests. With a bug planted, a broken internal invariant is recorded (see
// Raft::invariant_violation) instead of aborting, so the checkers get to see the damage.
enum class TestingBug : uint8_t {
  kNone,
  kDoubleVote,        // grants a second vote in a term it already voted in
  kMinorityCommit,    // leader counts a commit on floor(n/2) servers instead of a majority
  kAckBeforePersist,  // a follower's append ack leaves in a Ready that withholds the entries
  kReadWithoutQuorum, // ReadIndex answers at once, without confirming leadership with a majority
};

struct Config {
  NodeId id;
  GroupId group;
  // The initial voters (including `id`) when the persisted state has no snapshot.
  std::vector<NodeId> peers;
  // A follower campaigns after a random timeout in [election_tick, 2 * election_tick) ticks
  // without hearing from a leader (thesis §3.4). heartbeat_tick must be smaller.
  int election_tick = 10;
  int heartbeat_tick = 1;
  bool pre_vote = true;      // thesis §9.6
  bool check_quorum = true;  // thesis §6.2: a leader without a quorum of recent contacts steps down
  // Bounds on replication. An append carries at most max_entries_per_msg entries and at most
  // max_bytes_per_msg bytes of entry data (but always at least one entry, so a big entry moves);
  // at most max_inflight_msgs appends are unacknowledged per follower (pipelining window).
  size_t max_entries_per_msg = 64;
  size_t max_bytes_per_msg = 1 << 20;
  size_t max_inflight_msgs = 16;
  // A leader refuses proposals while this many entries are uncommitted, so a leader cut off from
  // its followers does not grow its log without bound (etcd's MaxUncommittedEntriesSize).
  size_t max_uncommitted_entries = 4096;
  // At most this many committed entries per Ready, so one Ready stays small.
  size_t max_committed_per_ready = 256;
  // Seeds this instance's election-timeout RNG. Never a global or time-seeded generator.
  uint64_t seed = 1;
  TestingBug testing_bug = TestingBug::kNone;
};

// What a restarting node read back from its disk.
struct PersistedState {
  HardState hard_state;
  Snapshot snapshot;           // index 0: none
  std::vector<Entry> entries;  // contiguous, starting at snapshot.index + 1
};

struct Ready {
  std::optional<HardState> hard_state;  // set when changed since the last Ready
  std::vector<Entry> entries;           // to append; may overwrite a suffix of the stored log
  std::optional<Snapshot> snapshot;     // to install (replaces the whole stored log)
  std::vector<Message> messages;        // send only after the above are fsync'd
  std::vector<Entry> committed_entries; // to apply, in order
  std::vector<ReadState> read_states;   // answered ReadIndex requests (need no fsync)
};

enum class Role : uint8_t { kFollower, kPreCandidate, kCandidate, kLeader };
std::string_view RoleName(Role role);

enum class ProposeCode : uint8_t {
  kOk,
  kNotLeader,         // leader_hint() names the leader if known
  kTransferring,      // a leader transfer is in progress; retry on the new leader
  kConfChangePending, // a membership change is not committed yet, or no entry of this term is
  kInvalid,           // e.g. adding a member twice
  kOverloaded,        // max_uncommitted_entries reached; retry later
};

// The answer to a proposal. On success, index() and term() say where the entry went: it is
// committed once an entry with that index and term is applied.
class [[nodiscard]] ProposeStatus {
 public:
  static ProposeStatus Ok(LogIndex index, Term term) { return {ProposeCode::kOk, kNoNode, index, term}; }
  static ProposeStatus Error(ProposeCode code, NodeId leader_hint = kNoNode) {
    return {code, leader_hint, LogIndex{}, Term{}};
  }
  bool ok() const { return code_ == ProposeCode::kOk; }
  ProposeCode code() const { return code_; }
  NodeId leader_hint() const { return leader_hint_; }
  LogIndex index() const { return index_; }
  Term term() const { return term_; }

 private:
  ProposeStatus(ProposeCode c, NodeId hint, LogIndex i, Term t)
      : code_(c), leader_hint_(hint), index_(i), term_(t) {}
  ProposeCode code_;
  NodeId leader_hint_;
  LogIndex index_;
  Term term_;
};

// The leader's view of one follower (etcd's Progress): thesis §3.5 nextIndex/matchIndex, plus the
// state of the replication stream.
struct Progress {
  enum class State : uint8_t {
    kProbe,      // one append at a time until the follower's log position is found
    kReplicate,  // pipelined: up to max_inflight_msgs appends outstanding
    kSnapshot,   // an InstallSnapshot is outstanding; appends wait
  };
  LogIndex match;
  LogIndex next;
  State state = State::kProbe;
  bool probe_sent = false;
  std::deque<LogIndex> inflight;  // last index of each unacknowledged append, bounded
  LogIndex pending_snapshot;
  bool recent_active = false;     // heard from within the last election timeout (check-quorum)
};

class Raft {
 public:
  Raft(Config config, PersistedState persisted);

  // Handles one message from a peer. Messages of another group or to another node are a caller bug.
  void Step(const Message& m);
  // Advances logical time by one tick.
  void Tick();

  // Appends `data` to the log if this node leads. See ProposeStatus.
  ProposeStatus Propose(std::string data);
  // Proposes adding or removing one voter (thesis §4.1). Refused while an earlier change is
  // uncommitted or before the leader has committed an entry of its own term (the fix to the
  // single-server change bug Ongaro described on raft-dev, 2015).
  ProposeStatus ProposeConfChange(const ConfChange& change);
  // Hands leadership to `target` (thesis §3.10): catches it up, then sends TimeoutNow.
  // Proposals are refused until the transfer completes or aborts (after an election timeout).
  ProposeStatus TransferLeadership(NodeId target);
  // Linearizable reads without a log write (thesis §6.4, "ReadIndex"): the leader records its
  // commit index, confirms it still leads by a round of heartbeats acknowledged by a majority, and
  // then answers with a ReadState in a later Ready; the caller serves the read once it has applied
  // that index. `context` identifies the request; it must increase from call to call on this
  // instance (one call may stand for many reads). kNotLeader on a follower; kConfChangePending
  // until the leader has committed an entry of its own term (before that its commit index may be
  // behind the real one).
  ProposeStatus ReadIndex(uint64_t context);
  // The application has a snapshot of its state through `index` (<= applied()). Entries up to
  // `index` are dropped from the log; a follower that needs them gets the snapshot instead.
  void Compact(LogIndex index, std::string data);

  bool HasReady() const;
  // Moves the pending output into a Ready. Call Advance(ready) once it has been processed.
  Ready GetReady();
  void Advance(const Ready& ready);

  // Introspection, for the runtime's status report and for tests.
  NodeId id() const { return cfg_.id; }
  GroupId group() const { return cfg_.group; }
  Role role() const { return role_; }
  Term term() const { return term_; }
  NodeId vote() const { return vote_; }
  NodeId leader() const { return leader_; }
  LogIndex commit() const { return commit_; }
  LogIndex applied() const { return applied_; }
  LogIndex FirstIndex() const { return snapshot_.index + 1; }
  LogIndex LastIndex() const { return snapshot_.index + log_.size(); }
  // The last index already handed out in a Ready for persisting; Compact() may not go past it.
  LogIndex LastStableIndex() const { return std::min(unstable_from_ - 1, LastIndex()); }
  Term LastTerm() const;
  // The term of the entry at `index`; the snapshot's term at its index; nullopt when compacted
  // or beyond the log.
  std::optional<Term> TermAt(LogIndex index) const;
  // The entry at `index`, or nullptr when compacted or beyond the log.
  const Entry* EntryAt(LogIndex index) const;
  const Snapshot& snapshot() const { return snapshot_; }
  const std::vector<NodeId>& voters() const { return voters_; }
  const Progress* progress(NodeId node) const;
  NodeId transferee() const { return transferee_; }
  // With a TestingBug planted: the first broken internal invariant, else empty.
  const std::string& invariant_violation() const { return violation_; }

 private:
  enum class CampaignType { kPreElection, kElection, kTransfer };

  void BecomeFollower(Term term, NodeId leader);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();
  void Reset(Term term);
  void Campaign(CampaignType type);
  // Records a vote response; returns +1 won, -1 lost, 0 pending.
  int Poll(NodeId from, bool granted);
  bool Promotable() const;
  bool IsVoter(NodeId node) const;
  size_t Quorum() const { return voters_.size() / 2 + 1; }

  void StepLeader(const Message& m);
  void StepCandidate(const Message& m);
  void StepFollower(const Message& m);
  void HandleVoteRequest(const Message& m);
  void HandleAppend(const Message& m);
  void HandleHeartbeat(const Message& m);
  void HandleSnapshot(const Message& m);
  void HandleAppendResp(const Message& m);
  void HandleHeartbeatResp(const Message& m);

  void TickElection();
  void TickHeartbeat();
  bool QuorumActive();

  void Send(Message m);
  bool SendAppend(NodeId to, bool send_if_empty);
  void BroadcastAppend();
  void BroadcastHeartbeat();
  void SendTimeoutNow(NodeId to);
  bool MaybeCommit();
  void CommitTo(LogIndex index);

  bool IsUpToDate(LogIndex last_index, Term last_term) const;
  bool MatchTerm(LogIndex index, Term term) const;
  LogIndex FindConflictByTerm(LogIndex index, Term term) const;
  void AppendAsLeader(EntryType type, std::string data);
  // Appends entries that follow the log at entries.front().index - 1, truncating a conflicting
  // suffix first.
  void TruncateAndAppend(const std::vector<Entry>& entries, size_t from);
  void ApplyConfEntry(const Entry& e);
  std::vector<NodeId> ConfigAt(LogIndex index) const;
  void RebuildConfig();
  void AddProgress(NodeId node);
  void ResetRandomizedElectionTimeout();

  void Violated(const char* what, const char* file, int line);

  Config cfg_;
  std::mt19937_64 rng_;
  std::string violation_;

  // Persistent state (thesis Figure 3.1).
  Term term_;
  NodeId vote_;
  LogIndex commit_;
  Snapshot snapshot_;
  std::vector<Entry> log_;  // entries snapshot_.index + 1 .. LastIndex()

  // Volatile state.
  LogIndex applied_;
  Role role_ = Role::kFollower;
  NodeId leader_;
  LogIndex unstable_from_;  // first log index not yet handed out in a Ready
  std::optional<Snapshot> pending_snapshot_;
  HardState last_hard_state_;
  std::vector<Message> msgs_;

  // Membership: the latest configuration in the log (thesis §4.1), and where it changed.
  std::vector<NodeId> base_voters_;  // as of snapshot_.index
  std::vector<std::pair<LogIndex, std::vector<NodeId>>> conf_log_;
  std::vector<NodeId> voters_;
  LogIndex pending_conf_index_;

  std::map<NodeId, Progress> progress_;  // leader only
  std::map<NodeId, bool> votes_;         // (pre)candidate only
  struct PendingRead {
    uint64_t context;
    LogIndex index;
    std::vector<NodeId> acks;
  };
  std::deque<PendingRead> pending_reads_;  // leader only, in context order
  std::vector<ReadState> read_states_;

  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;
  NodeId transferee_;
};

}  // namespace meridian::raft
