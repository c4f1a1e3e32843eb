// The checks of checker.h. The rules, exactly:
//
// Effect window. An op may take effect between its invoke_ns and its completion; an op of unknown
// outcome (or one without a completion, complete_ns == 0) may take effect at any time after its
// invocation or never, so its window has no end ("never" below is +infinity). A kFail write never
// took effect.
//
// Lost write (an acknowledged put, append or cas-append w of token t on key k):
//   - not lost if t is in the final value of k in some region (a region missing it while another
//     holds it is a divergence, reported as such);
//   - replaced: in every region, the final state of k names its last replacer, and that replacer
//     could have taken effect after w. The last replacer is the put p whose token begins the final
//     value if there is one (p's token is wiped by any later put or delete, so no put or delete
//     came after p), and otherwise (absent, or a value that begins with an append's token) it was a
//     delete. A candidate r (p, or any delete of k) qualifies when r is not w, r did not fail, and
//     r did not complete before w was invoked (its completion >= w.invoke_ns, or never). Sound: if
//     w's token was replaced, the last replacer was ordered after w, hence took effect after w's
//     invocation, hence completed after it. It is the brief's rule ("a put/delete whose invocation
//     is after w's, or that is ok/unknown and overlaps it") narrowed to the one replacer the final
//     value shows, which keeps an unrelated timed-out put from excusing every loss on its key;
//   - shared keys only, conflict loser: a ConflictNote for k whose loser_origin is a region whose
//     losing version could have carried t: w's own region, or the region of any write of k that
//     did not fail and did not complete before w was invoked (with three regions, a version from
//     region B that had received w's token and then lost to C's write takes the token with it,
//     and the record names B). Counted in conflict_losers, not a violation;
//   - otherwise lost: a "lost-write" violation, counted in `lost`.
//
// Linearizability (owned keys, ops of the owning region; other regions' writes to an owned key
// are noted and left out, their strong reads are not judged): Wing & Gong's search with Lowe's
// memoization, as Porcupine's checkSingle does it, over the model
//   state: the item's token list or absent (the table starts empty);
//   put t: [t]; append t: state ++ [t] (absent: [t]); delete: absent;
//   cas-append t, n: if present and len == n then state ++ [t], else no change; an acknowledged one
//     must find the condition true; a kFail whose error names ConditionalCheckFailed must find it
//     false (an observation); other kFail writes are left out (they did nothing);
//   strong read: the state must equal what it returned (kOk only; others observed nothing).
// Ops of unknown outcome return at +infinity, so they may be linearized anywhere after their
// invocation, or never: the search succeeds once every definite op is linearized.
//
// The search, and what keeps it small (each shortcut below is exact: it never changes a verdict,
// which the exhaustive comparison in checker_test.cc checks):
//   - States are interned in a trie (a state is a node id: equal lists are equal ids).
//   - Hidden tokens: a token no strong read returned can only be seen through the length, so a
//     state is (the list of tokens reads returned, in order; how many others it holds). A read
//     needs no hidden token; writes of the same hidden tokens in different orders meet in one state.
//   - Read prefixes: a token at index i of a value a read returned was written on exactly the i
//     tokens before it there (no wipe can have come between, or the token would be gone for good,
//     and without wipes the list only grows at its end), so a write is placed only on that state.
//     This prunes the orders of concurrent appends when they are placed, not at the next read.
//   - An unknown op is placed only where it changes the state (one that changes nothing, a
//     conditional append whose condition fails or a delete of an absent item, is the same as one
//     that never took effect).
//   - Unseen ops (unknown writes whose token no read returned) are kept out of Lowe's list, in
//     classes of the same kind and expected length, whose members are interchangeable: only the
//     number linearized matters, and the search tries one per class, the latest invoked (an
//     earlier one stays a candidate wherever a later one is). They are tried after the list's
//     candidates, as they are never needed by a read, only, at times, by a condition's length. An
//     unseen op that no condition decided after its invocation can observe is left out entirely,
//     and one is placed only if a condition comes after it before any put or delete (an unseen op
//     no condition sees before the wipe can be dropped from any linearization; see Run).
//   - The memo is keyed by (a 128-bit Zobrist hash of the linearized definite ops, state): a false
//     hit needs a 128-bit collision. Under a key it keeps the visited "signatures" (which seen
//     unknown ops are linearized, how many of each unseen class), and skips a configuration that a
//     visited one subsumes: the same key, a subset of the seen unknown ops, no more of any class.
//     A pending unknown op only adds choices, so the smaller configuration can do all the larger
//     can. Subsumption is sound for reachability in a finite DAG: take, among visited
//     configurations that can still succeed, one nearest success; a configuration subsuming it is
//     as near, and one of those was expanded, generating a successor nearer still: contradiction
//     unless the search succeeded.
// Lowe, "Testing for linearizability", 2017; Wing & Gong, "Testing and verifying concurrent
// objects", 1993; Horn & Kroening, "Faster linearizability checking via P-compositionality", 2015
// (keys are checked one by one).
#include "tests/chaos/checker.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace meridian::chaos {

namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
// Bounds on what a report lists, so a badly broken run still gives a readable result.
constexpr size_t kMaxDivergentKeysNamed = 10;
constexpr size_t kMaxTokensShown = 12;

using Value = std::optional<std::vector<std::string>>;

// The end of an op's effect window (see the top of this file).
int64_t EffectEnd(const Op& op) {
  if (op.outcome == Outcome::kUnknown || op.complete_ns == 0) return kNever;
  return std::max(op.complete_ns, op.invoke_ns);
}

bool WritesToken(OpType type) {
  return type == OpType::kPut || type == OpType::kAppend || type == OpType::kCasAppend;
}

bool IsRead(OpType type) { return type == OpType::kStrongRead || type == OpType::kEventualRead; }

bool IsConditionFailure(const Op& op) {
  return op.type == OpType::kCasAppend && op.outcome == Outcome::kFail &&
         op.error.find("ConditionalCheckFailed") != std::string::npos;
}

// r could have taken effect after w: the replacement rule's test (see the top of this file).
bool CouldFollow(const Op& r, const Op& w) {
  return &r != &w && r.outcome != Outcome::kFail && EffectEnd(r) >= w.invoke_ns;
}

std::string Render(const Value& value) {
  if (!value) return "absent";
  std::string out = "[";
  for (size_t i = 0; i < value->size(); ++i) {
    if (i == kMaxTokensShown) {
      out += ", ... (" + std::to_string(value->size()) + " tokens)";
      break;
    }
    if (i > 0) out += ", ";
    out += (*value)[i];
  }
  return out + "]";
}

std::string Describe(const Op& op) {
  std::string out = "#" + std::to_string(op.id) + " " + OpTypeName(op.type);
  if (!op.token.empty()) out += " " + op.token;
  if (op.type == OpType::kCasAppend) out += " if len=" + std::to_string(op.expected_len);
  if (IsRead(op.type) && op.outcome == Outcome::kOk) out += " -> " + Render(op.read);
  out += " (" + op.region + ", " + OutcomeName(op.outcome) + ", " + std::to_string(op.invoke_ns) + ".." +
         (EffectEnd(op) == kNever ? std::string("?") : std::to_string(op.complete_ns)) + ")";
  return out;
}

// One key's part of the history, by op id.
struct KeyHistory {
  std::vector<const Op*> ops;
  std::unordered_map<std::string, const Op*> writer_of;  // token -> the first op (by id) that wrote it
};

// ---- Linearizability -------------------------------------------------------------------------

// Token lists interned as paths of a trie: a state is a node id, so states compare, hash and copy
// as integers, and an append is one lookup.
class TokenTrie {
 public:
  static constexpr uint32_t kAbsent = 0;  // the item does not exist
  static constexpr uint32_t kEmpty = 1;   // the item exists with an empty list (the root of all lists)

  TokenTrie() : nodes_{{0, 0, 0}, {0, 0, 0}} {}

  uint32_t Child(uint32_t parent, uint32_t token) {
    assert(parent != kAbsent);
    auto [it, inserted] = children_.try_emplace((uint64_t{parent} << 32) | token, uint32_t(nodes_.size()));
    if (inserted) nodes_.push_back({parent, token, nodes_[parent].length + 1});
    return it->second;
  }
  uint32_t Length(uint32_t node) const { return nodes_[node].length; }
  // The token ids of a node, first to last.
  std::vector<uint32_t> Tokens(uint32_t node) const {
    std::vector<uint32_t> out;
    for (; node > kEmpty; node = nodes_[node].parent) out.push_back(nodes_[node].token);
    std::reverse(out.begin(), out.end());
    return out;
  }

 private:
  struct Node {
    uint32_t parent;
    uint32_t token;
    uint32_t length;
  };
  std::vector<Node> nodes_;
  std::unordered_map<uint64_t, uint32_t> children_;
};

constexpr uint32_t kNoPrefix = std::numeric_limits<uint32_t>::max();

// A register state as the search sees it: the trie node of the tokens some read returned, in order,
// and how many tokens it also holds that no read returned ("hidden"). Exact for everything the
// model lets anyone observe: a read needs hidden == 0 (a hidden token in the item would be in the
// value read), and then the item is the node's list; a condition sees the length, node + hidden.
// Which hidden tokens, and where they sit among the others, nothing can tell, so states that differ
// only there are one state, which spares the search the orders of writes nobody saw.
struct State {
  uint32_t node = TokenTrie::kAbsent;
  uint32_t hidden = 0;
  bool operator==(const State& o) const { return node == o.node && hidden == o.hidden; }
};

struct LinOp {
  enum class Kind { kPut, kAppend, kCasAppend, kCasRefused, kDelete, kRead };
  const Op* op = nullptr;
  Kind kind = Kind::kPut;
  bool optional = false;     // unknown outcome: may never have taken effect
  bool hidden = false;       // a write whose token no read returned: writes a hidden token
  // Optional hidden writes ("unseen" ops): kept out of Lowe's list, and interchangeable with the
  // others of their class (same kind and expected length).
  int symmetry_class = -1;
  int optional_bit = -1;     // seen optional ops: its bit in the set of linearized ones
  uint32_t token = 0;
  // Writes of a token some read returned: the node of the tokens before it in that read, which is
  // the state it must have been written on (see Build); kNoPrefix otherwise.
  uint32_t prefix_node = kNoPrefix;
  uint32_t read_node = 0;    // kRead: the state it returned
  int64_t call = 0;
  int64_t ret = 0;           // kNever for unknown outcomes
};

// splitmix64: fixed Zobrist keys, so a run is reproducible.
uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

class LinearizabilitySearch {
 public:
  enum class Verdict { kLinearizable, kNotLinearizable, kUnchecked };

  LinearizabilitySearch(const std::vector<const Op*>& ops, uint64_t max_steps) : max_steps_(max_steps) {
    Build(ops);
  }

  Verdict Run();
  size_t op_count() const { return ops_.size(); }
  size_t unknown_count() const { return optional_count_; }
  // After kNotLinearizable: why, with op ids and the state the deepest attempt reached.
  std::string Explain() const;

 private:
  struct Entry {
    int op;        // index into ops_
    bool call;
    int64_t time;
    int match;     // the call's return entry (calls only)
    int prev;
    int next;
  };
  struct MemoKey {
    uint64_t a;  // 128-bit Zobrist hash of the linearized definite ops
    uint64_t b;
    State state;
    bool owed;   // an unseen op awaits a condition (see Run)
    bool operator==(const MemoKey& o) const {
      return a == o.a && b == o.b && state == o.state && owed == o.owed;
    }
  };
  struct MemoHash {
    size_t operator()(const MemoKey& k) const {
      return k.a ^ ((uint64_t{k.state.node} << 21 | uint64_t{k.state.hidden} << 1 | k.owed) * 0x9E3779B97F4A7C15ull);
    }
  };

  void Build(const std::vector<const Op*>& ops);
  uint32_t Intern(const std::string& token);
  std::optional<State> Step(State state, const LinOp& op);
  // The unseen op of a class to try next: the latest invoked by `horizon` and not linearized (an
  // earlier one is a candidate wherever a later one is, so keeping it pending covers every choice
  // the later one would leave); -1 if none.
  int LatestPending(int symmetry_class, int64_t horizon) const;
  // Records a configuration; false if a visited one subsumes it (see the top of this file).
  bool Visit(const MemoKey& key, const std::vector<uint64_t>& signature);
  void Lift(int e);
  void Unlift(int e);
  std::string RenderState(State state) const;

  uint64_t max_steps_;
  uint64_t steps_ = 0;
  size_t definite_left_ = 0;  // definite ops not linearized yet: the search is done at zero
  size_t optional_count_ = 0;
  // A configuration's optional ops, as the memo compares them (its "signature"): a bit set of the
  // seen ones linearized (optional_words_ words), then per symmetry class how many are.
  size_t optional_words_ = 0;
  size_t symmetry_classes_ = 0;
  std::vector<LinOp> ops_;
  std::vector<uint64_t> zobrist_a_, zobrist_b_;
  std::vector<Entry> entries_;  // [0] head sentinel, [1] tail sentinel, then calls and returns
  // Unseen ops are not in the list: per symmetry class, by invocation, and which are linearized.
  std::vector<std::vector<int>> class_ops_;
  std::vector<bool> linearized_;
  // Per key, the signatures visited, one after another.
  std::unordered_map<MemoKey, std::vector<uint64_t>, MemoHash> memo_;
  TokenTrie trie_;
  std::unordered_map<std::string, uint32_t> token_ids_;
  std::vector<std::string> token_names_;  // id -> token (id 0 unused)
  // The deepest point the search reached, for Explain.
  int deepest_linearized_ = -1;
  int blocked_op_ = -1;
  State blocked_state_;
};

uint32_t LinearizabilitySearch::Intern(const std::string& token) {
  auto [it, inserted] = token_ids_.try_emplace(token, uint32_t(token_names_.size()));
  if (inserted) token_names_.push_back(token);
  return it->second;
}

void LinearizabilitySearch::Build(const std::vector<const Op*>& candidates) {
  token_names_.push_back("");
  // Which tokens reads observed, and the acknowledged or refused conditional appends: they decide
  // which unknown writes are unseen, and which can be left out (below).
  std::unordered_set<std::string> observed;
  std::vector<const Op*> conditions;
  for (const Op* op : candidates) {
    if (op->type == OpType::kStrongRead && op->outcome == Outcome::kOk && op->read) {
      observed.insert(op->read->begin(), op->read->end());
    }
    if (op->type == OpType::kCasAppend && (op->outcome == Outcome::kOk || IsConditionFailure(*op))) {
      conditions.push_back(op);
    }
  }

  // Read prefixes (see the top of this file): the first read that returned a token says what its
  // write was placed on.
  std::unordered_map<std::string, uint32_t> prefix_of;
  for (const Op* op : candidates) {
    if (op->type != OpType::kStrongRead || op->outcome != Outcome::kOk || !op->read) continue;
    uint32_t node = TokenTrie::kEmpty;
    for (const std::string& t : *op->read) {
      prefix_of.try_emplace(t, node);
      node = trie_.Child(node, Intern(t));
    }
  }

  std::map<std::pair<LinOp::Kind, int64_t>, int> symmetry_classes;
  for (const Op* op : candidates) {
    LinOp lin;
    lin.op = op;
    lin.call = op->invoke_ns;
    lin.ret = EffectEnd(*op);
    lin.optional = op->outcome == Outcome::kUnknown;
    if (op->type == OpType::kStrongRead) {
      if (op->outcome != Outcome::kOk) continue;  // observed nothing
      lin.kind = LinOp::Kind::kRead;
      if (!op->read) {
        lin.read_node = TokenTrie::kAbsent;
      } else {
        uint32_t node = TokenTrie::kEmpty;
        for (const std::string& t : *op->read) node = trie_.Child(node, Intern(t));
        lin.read_node = node;
      }
    } else if (op->outcome == Outcome::kFail) {
      if (!IsConditionFailure(*op)) continue;  // did nothing, observed nothing
      lin.kind = LinOp::Kind::kCasRefused;
    } else {
      switch (op->type) {
        case OpType::kPut: lin.kind = LinOp::Kind::kPut; break;
        case OpType::kAppend: lin.kind = LinOp::Kind::kAppend; break;
        case OpType::kCasAppend: lin.kind = LinOp::Kind::kCasAppend; break;
        case OpType::kDelete: lin.kind = LinOp::Kind::kDelete; break;
        default: continue;  // eventual reads are not part of this check
      }
      if (op->type != OpType::kDelete && !observed.count(op->token)) {
        lin.hidden = true;
        if (lin.optional) {
          // Unseen: if it took effect, a put or delete wiped it before any read. When every
          // condition was decided before it was invoked, nothing looked at the lengths in between
          // either, so leaving it out changes no outcome.
          if (std::all_of(conditions.begin(), conditions.end(),
                          [&](const Op* c) { return EffectEnd(*c) < op->invoke_ns; })) {
            continue;
          }
          int64_t expected = op->type == OpType::kCasAppend ? op->expected_len : 0;
          auto [cls, inserted] =
              symmetry_classes.try_emplace({lin.kind, expected}, int(symmetry_classes.size()));
          lin.symmetry_class = cls->second;
          symmetry_classes_ = symmetry_classes.size();
        }
      } else if (op->type != OpType::kDelete) {
        lin.token = Intern(op->token);
        if (auto it = prefix_of.find(op->token); it != prefix_of.end()) lin.prefix_node = it->second;
      }
    }
    ops_.push_back(lin);
  }

  for (size_t i = 0; i < ops_.size(); ++i) {
    zobrist_a_.push_back(SplitMix64(2 * i));
    zobrist_b_.push_back(SplitMix64(2 * i + 1) ^ 0x5DEECE66Dull);
  }

  // Events by time; at equal times calls first (the ops count as concurrent: the permissive
  // reading of equal timestamps). Among returns at +infinity the optional ops' come last, so the
  // search, which stops when no definite op is left, never has to place an optional op because
  // its return was reached.
  struct Event {
    int64_t time;
    bool call;
    bool optional;
    int op;
  };
  std::vector<Event> events;
  size_t seen_optional = 0;
  class_ops_.resize(symmetry_classes_);
  linearized_.assign(ops_.size(), false);
  for (size_t i = 0; i < ops_.size(); ++i) {
    if (ops_[i].optional) ++optional_count_;
    if (ops_[i].symmetry_class >= 0) {
      class_ops_[ops_[i].symmetry_class].push_back(int(i));
      continue;
    }
    events.push_back({ops_[i].call, true, ops_[i].optional, int(i)});
    events.push_back({std::max(ops_[i].ret, ops_[i].call), false, ops_[i].optional, int(i)});
    if (ops_[i].optional) {
      ops_[i].optional_bit = int(seen_optional++);
    } else {
      ++definite_left_;
    }
  }
  for (std::vector<int>& members : class_ops_) {
    std::stable_sort(members.begin(), members.end(), [&](int x, int y) { return ops_[x].call < ops_[y].call; });
  }
  optional_words_ = (seen_optional + 63) / 64;
  std::sort(events.begin(), events.end(), [](const Event& x, const Event& y) {
    if (x.time != y.time) return x.time < y.time;
    if (x.call != y.call) return x.call;
    if (x.optional != y.optional) return y.optional;
    return x.op < y.op;
  });
  entries_.assign(2, Entry{-1, false, 0, -1, -1, -1});
  std::vector<int> call_entry(ops_.size(), -1);
  int prev = 0;
  for (const Event& ev : events) {
    int e = int(entries_.size());
    entries_.push_back({ev.op, ev.call, ev.time, -1, prev, -1});
    entries_[prev].next = e;
    prev = e;
    if (ev.call) {
      call_entry[ev.op] = e;
    } else {
      entries_[call_entry[ev.op]].match = e;
    }
  }
  entries_[prev].next = 1;
  entries_[1].prev = prev;
}

std::optional<State> LinearizabilitySearch::Step(State s, const LinOp& op) {
  const bool present = s.node != TokenTrie::kAbsent;
  const bool condition_holds =
      present && int64_t{trie_.Length(s.node)} + int64_t{s.hidden} == op.op->expected_len;
  // A write of a token a read returned: on exactly the tokens before it there (see Build).
  auto off_prefix = [&](uint32_t base) {
    return op.prefix_node != kNoPrefix && (base != op.prefix_node || s.hidden != 0);
  };
  switch (op.kind) {
    case LinOp::Kind::kPut:
      if (op.hidden) return State{TokenTrie::kEmpty, 1};
      if (op.prefix_node != kNoPrefix && op.prefix_node != TokenTrie::kEmpty) return std::nullopt;
      return State{trie_.Child(TokenTrie::kEmpty, op.token), 0};
    case LinOp::Kind::kAppend: {
      uint32_t base = present ? s.node : TokenTrie::kEmpty;
      if (op.hidden) return State{base, s.hidden + 1};
      if (off_prefix(base)) return std::nullopt;
      return State{trie_.Child(base, op.token), s.hidden};
    }
    case LinOp::Kind::kCasAppend:
      if (!condition_holds) return std::nullopt;
      if (op.hidden) return State{s.node, s.hidden + 1};
      if (off_prefix(s.node)) return std::nullopt;
      return State{trie_.Child(s.node, op.token), s.hidden};
    case LinOp::Kind::kCasRefused:
      if (condition_holds) return std::nullopt;
      return s;
    case LinOp::Kind::kDelete:
      return State{TokenTrie::kAbsent, 0};
    case LinOp::Kind::kRead:
      if (s.hidden != 0 || s.node != op.read_node) return std::nullopt;
      return s;
  }
  return std::nullopt;
}

int LinearizabilitySearch::LatestPending(int symmetry_class, int64_t horizon) const {
  const std::vector<int>& members = class_ops_[symmetry_class];
  auto end = std::upper_bound(members.begin(), members.end(), horizon,
                              [&](int64_t t, int op) { return t < ops_[op].call; });
  for (auto it = end; it != members.begin();) {
    --it;
    if (!linearized_[*it]) return *it;
  }
  return -1;
}

bool LinearizabilitySearch::Visit(const MemoKey& key, const std::vector<uint64_t>& signature) {
  std::vector<uint64_t>& visited = memo_[key];
  // A visited signature subsumes this one if it linearized no optional op this one did not, and
  // no more of any symmetry class.
  for (size_t i = 0; i < visited.size(); i += signature.size()) {
    bool subsumes = true;
    for (size_t w = 0; w < signature.size() && subsumes; ++w) {
      subsumes = w < optional_words_ ? (visited[i + w] & ~signature[w]) == 0 : visited[i + w] <= signature[w];
    }
    if (subsumes) return false;
  }
  visited.insert(visited.end(), signature.begin(), signature.end());
  return true;
}

// Lowe's list operations: take a call and its return out of the list, and put them back.
void LinearizabilitySearch::Lift(int e) {
  Entry& call = entries_[e];
  entries_[call.prev].next = call.next;
  entries_[call.next].prev = call.prev;
  Entry& ret = entries_[call.match];
  entries_[ret.prev].next = ret.next;
  entries_[ret.next].prev = ret.prev;
}

void LinearizabilitySearch::Unlift(int e) {
  Entry& call = entries_[e];
  Entry& ret = entries_[call.match];
  entries_[ret.prev].next = call.match;
  entries_[ret.next].prev = call.match;
  entries_[call.prev].next = e;
  entries_[call.next].prev = e;
}

LinearizabilitySearch::Verdict LinearizabilitySearch::Run() {
  // A linearized op, to undo on backtracking: from the list (entry >= 0, the scan resumes after
  // it) or unseen (entry < 0, the scan resumes at the next class).
  struct Frame {
    int op;
    int entry;
    State state;
    bool owed;
    int first_return;  // unseen ops: the return that bounded the candidates
  };
  std::vector<Frame> stack;
  State state;
  // An unseen op matters only through the length a condition sees before the next put or delete
  // wipes it (no read can come between: its hidden token would show). So every linearization can
  // drop the unseen ops no condition follows before a wipe, and the search places one only on
  // that promise: once placed, no put or delete until a condition (an acknowledged, refused or
  // seen conditional append) has been placed.
  bool owed = false;
  uint64_t hash_a = 0, hash_b = 0;
  // Never empty, so that a configuration equal to a visited one is found subsumed.
  std::vector<uint64_t> signature(std::max<size_t>(1, optional_words_ + symmetry_classes_), 0);
  auto account = [&](int i, bool linearized) {
    const LinOp& op = ops_[i];
    linearized_[i] = linearized;
    if (!op.optional) {
      hash_a ^= zobrist_a_[i];
      hash_b ^= zobrist_b_[i];
      linearized ? --definite_left_ : ++definite_left_;
    } else if (op.symmetry_class >= 0) {
      uint64_t& count = signature[optional_words_ + op.symmetry_class];
      linearized ? ++count : --count;
    } else {
      signature[op.optional_bit / 64] ^= uint64_t{1} << (op.optional_bit % 64);
    }
  };
  // Tries to linearize op i next; true if it moved the search forward.
  auto advance = [&](int i, int entry, int first_return) {
    const LinOp& op = ops_[i];
    const bool wipe = op.kind == LinOp::Kind::kPut || op.kind == LinOp::Kind::kDelete;
    if (owed && wipe) return false;
    std::optional<State> next = Step(state, op);
    // An optional op that changes nothing is the same as one never applied (see the top).
    if (!next || (op.optional && *next == state)) return false;
    const bool condition =
        op.symmetry_class < 0 && (op.kind == LinOp::Kind::kCasAppend || op.kind == LinOp::Kind::kCasRefused);
    const bool next_owed = op.symmetry_class >= 0 || (owed && !condition);
    account(i, true);
    if (!Visit(MemoKey{hash_a, hash_b, *next, next_owed}, signature)) {
      account(i, false);
      return false;
    }
    stack.push_back({i, entry, state, owed, first_return});
    state = *next;
    owed = next_owed;
    if (entry >= 0) Lift(entry);
    return true;
  };

  // Lowe's scan: the calls before the first return in the list are the candidates to linearize
  // next; reaching that return means every candidate was tried. Then the unseen ops invoked by that
  // return's time are tried, one class at a time: they are never needed to match a read, only, at
  // times, a condition's length, and trying them last lets the configurations without them, which
  // subsume those with them, be visited first. After that the search backtracks.
  int e = entries_[0].next;
  int first_return = -1;  // >= 0 while trying unseen ops
  size_t next_class = 0;
  while (definite_left_ > 0) {
    if (++steps_ > max_steps_) return Verdict::kUnchecked;
    if (first_return < 0) {
      assert(e != 1);  // a definite op's return is still ahead
      const Entry& entry = entries_[e];
      if (!entry.call) {
        first_return = e;
        next_class = 0;
      } else if (advance(entry.op, e, -1)) {
        e = entries_[0].next;
      } else {
        e = entry.next;
      }
      continue;
    }
    if (next_class < symmetry_classes_) {
      int op = LatestPending(int(next_class++), entries_[first_return].time);
      if (op >= 0 && advance(op, -1, first_return)) {
        first_return = -1;
        e = entries_[0].next;
      }
      continue;
    }
    // Every candidate was tried: the op of the first return cannot go next from here.
    if (int(stack.size()) > deepest_linearized_) {
      deepest_linearized_ = int(stack.size());
      blocked_op_ = entries_[first_return].op;
      blocked_state_ = state;
    }
    if (stack.empty()) return Verdict::kNotLinearizable;
    Frame top = stack.back();
    stack.pop_back();
    account(top.op, false);
    state = top.state;
    owed = top.owed;
    if (top.entry >= 0) {
      Unlift(top.entry);
      e = entries_[top.entry].next;
      first_return = -1;
    } else {
      first_return = top.first_return;
      next_class = size_t(ops_[top.op].symmetry_class) + 1;
    }
  }
  return Verdict::kLinearizable;
}

std::string LinearizabilitySearch::RenderState(State state) const {
  if (state.node == TokenTrie::kAbsent) return "absent";
  std::vector<std::string> tokens;
  for (uint32_t t : trie_.Tokens(state.node)) tokens.push_back(token_names_[t]);
  std::string out = Render(tokens);
  if (state.hidden > 0) out += " and " + std::to_string(state.hidden) + " tokens of unknown writes no read saw";
  return out;
}

std::string LinearizabilitySearch::Explain() const {
  std::string out = "no linearization of " + std::to_string(ops_.size()) + " ops (" +
                    std::to_string(unknown_count()) + " of unknown outcome)";
  if (blocked_op_ >= 0) {
    out += "; the deepest attempt placed " + std::to_string(deepest_linearized_) + " ops, then " +
           Describe(*ops_[blocked_op_].op) + " could not take effect from state " + RenderState(blocked_state_);
  }
  return out;
}

// ---- The other checks ------------------------------------------------------------------------

class Checker {
 public:
  explicit Checker(const CheckInput& input) : in_(input) {}
  CheckResult Run();

 private:
  void Index();
  void CheckKey(const std::string& key);
  Value FinalValue(const std::string& region, const std::string& key) const;
  void CheckDivergence(const std::string& key);
  void CheckValues(const std::string& key, const KeyHistory& kh);
  void CheckLostWrites(const std::string& key, const KeyHistory& kh, bool shared);
  bool ReplacedInEveryRegion(const std::string& key, const KeyHistory& kh, const Op& w) const;
  const ConflictNote* ConflictExcuse(const std::string& key, const KeyHistory& kh, const Op& w) const;
  void CheckLinearizable(const std::string& key, const std::string& owner, const KeyHistory& kh);

  void Violate(std::string kind, const std::string& key, std::string detail) {
    result_.violations.push_back({std::move(kind), key, std::move(detail)});
  }

  const CheckInput& in_;
  CheckResult result_;
  std::map<std::string, KeyHistory> keys_;
  std::multimap<std::string, const ConflictNote*> conflicts_;  // by key
  size_t divergent_keys_ = 0;
};

Value Checker::FinalValue(const std::string& region, const std::string& key) const {
  const Contents& contents = in_.final_contents.at(region);
  auto it = contents.find(key);
  if (it == contents.end()) return std::nullopt;
  return it->second;
}

void Checker::Index() {
  std::vector<const Op*> by_id;
  for (const Op& op : in_.history) by_id.push_back(&op);
  std::stable_sort(by_id.begin(), by_id.end(), [](const Op* a, const Op* b) { return a->id < b->id; });

  std::vector<uint64_t> repeated_ids;
  for (size_t i = 0; i < by_id.size(); ++i) {
    const Op& op = *by_id[i];
    if (i > 0 && by_id[i - 1]->id == op.id) repeated_ids.push_back(op.id);
    KeyHistory& kh = keys_[op.key];
    kh.ops.push_back(&op);
    if (WritesToken(op.type)) {
      if (op.token.empty()) {
        result_.notes.push_back("history: " + Describe(op) + " writes no token");
        continue;
      }
      auto [it, inserted] = kh.writer_of.try_emplace(op.token, &op);
      if (!inserted) {
        result_.notes.push_back("history: token " + op.token + " written by #" + std::to_string(it->second->id) +
                                " and #" + std::to_string(op.id) + " (tokens must be unique; the first is used)");
      }
    }
  }
  if (!repeated_ids.empty()) {
    result_.notes.push_back("history: " + std::to_string(repeated_ids.size()) + " repeated op ids (first: #" +
                            std::to_string(repeated_ids.front()) + ")");
  }
  for (const ConflictNote& note : in_.conflicts) conflicts_.emplace(note.key, &note);
}

CheckResult Checker::Run() {
  result_.operations = in_.history.size();
  for (const Op& op : in_.history) {
    if (IsWrite(op.type) && op.outcome == Outcome::kOk) ++result_.acknowledged;
  }
  Index();
  if (in_.final_contents.empty()) {
    result_.notes.push_back("no final contents: lost writes, divergence and final values not checked");
  }
  std::set<std::string> keys;
  for (const auto& [key, kh] : keys_) keys.insert(key);
  for (const auto& [region, contents] : in_.final_contents) {
    for (const auto& [key, value] : contents) keys.insert(key);
  }
  for (const std::string& key : keys) CheckKey(key);
  if (divergent_keys_ > kMaxDivergentKeysNamed) {
    result_.notes.push_back("divergence: " + std::to_string(divergent_keys_ - kMaxDivergentKeysNamed) +
                            " more keys differ (not listed)");
  }
  return std::move(result_);
}

void Checker::CheckKey(const std::string& key) {
  static const KeyHistory kNoOps;
  auto it = keys_.find(key);
  const KeyHistory& kh = it == keys_.end() ? kNoOps : it->second;
  std::optional<std::string> owner = OwnerOf(key);
  CheckDivergence(key);
  CheckValues(key, kh);
  if (!in_.final_contents.empty()) CheckLostWrites(key, kh, !owner.has_value());
  if (owner) CheckLinearizable(key, *owner, kh);
}

void Checker::CheckDivergence(const std::string& key) {
  if (in_.final_contents.size() < 2) return;
  const Value first = FinalValue(in_.final_contents.begin()->first, key);
  bool same = true;
  std::string detail;
  for (const auto& [region, contents] : in_.final_contents) {
    Value v = FinalValue(region, key);
    same = same && v == first;
    detail += (detail.empty() ? "" : "; ") + region + ": " + Render(v);
  }
  if (same) return;
  if (++divergent_keys_ <= kMaxDivergentKeysNamed) Violate("divergence", key, "final values differ: " + detail);
}

// Duplicate-apply and phantom-read, over every value anyone saw: acknowledged reads (strong and
// eventual), then the final values.
void Checker::CheckValues(const std::string& key, const KeyHistory& kh) {
  struct Source {
    std::string what;
    const std::vector<std::string>* tokens;
  };
  std::vector<Source> sources;
  for (const Op* op : kh.ops) {
    if (IsRead(op->type) && op->outcome == Outcome::kOk && op->read) {
      sources.push_back({"read " + Describe(*op), &*op->read});
    }
  }
  for (const auto& [region, contents] : in_.final_contents) {
    auto it = contents.find(key);
    if (it != contents.end()) sources.push_back({"the final value in " + region, &it->second});
  }

  struct Finding {
    std::string first_seen;
    std::string why;
    size_t values = 0;
  };
  // Per token, in the order first seen.
  std::vector<std::string> dup_order, phantom_order;
  std::unordered_map<std::string, Finding> dups, phantoms;
  for (const Source& source : sources) {
    std::unordered_map<std::string, int> count;
    for (const std::string& t : *source.tokens) ++count[t];
    for (const auto& [token, n] : count) {
      if (n > 1) {
        auto [f, inserted] = dups.try_emplace(token);
        if (inserted) {
          dup_order.push_back(token);
          f->second.first_seen = source.what;
          f->second.why = std::to_string(n) + " times";
        }
        ++f->second.values;
      }
      auto writer = kh.writer_of.find(token);
      std::string why;
      if (writer == kh.writer_of.end()) {
        why = "no op wrote it to this key";
      } else if (writer->second->outcome == Outcome::kFail) {
        why = "written only by " + Describe(*writer->second) + ", which definitely did not apply";
      } else {
        continue;
      }
      auto [f, inserted] = phantoms.try_emplace(token);
      if (inserted) {
        phantom_order.push_back(token);
        f->second.first_seen = source.what;
        f->second.why = why;
      }
      ++f->second.values;
    }
  }
  // The unordered count map visits tokens in no fixed order; report in the order of the values.
  auto by_first_position = [&](std::vector<std::string>& order) {
    std::unordered_map<std::string, size_t> position;
    size_t i = 0;
    for (const Source& source : sources) {
      for (const std::string& t : *source.tokens) position.try_emplace(t, i++);
    }
    std::sort(order.begin(), order.end(),
              [&](const std::string& a, const std::string& b) { return position[a] < position[b]; });
  };
  by_first_position(dup_order);
  by_first_position(phantom_order);
  for (const std::string& token : dup_order) {
    const Finding& f = dups[token];
    Violate("duplicate-apply", key,
            "token " + token + " appears " + f.why + " in " + f.first_seen +
                (f.values > 1 ? " (and more than once in " + std::to_string(f.values - 1) + " other values)" : ""));
  }
  for (const std::string& token : phantom_order) {
    const Finding& f = phantoms[token];
    Violate("phantom-read", key,
            "token " + token + " in " + f.first_seen + ": " + f.why +
                (f.values > 1 ? " (also in " + std::to_string(f.values - 1) + " other values)" : ""));
  }
}

bool Checker::ReplacedInEveryRegion(const std::string& key, const KeyHistory& kh, const Op& w) const {
  for (const auto& [region, contents] : in_.final_contents) {
    Value value = FinalValue(region, key);
    const Op* last_put = nullptr;
    if (value && !value->empty()) {
      auto it = kh.writer_of.find(value->front());
      if (it != kh.writer_of.end() && it->second->type == OpType::kPut) last_put = it->second;
    }
    bool replaced = last_put ? CouldFollow(*last_put, w)
                             : std::any_of(kh.ops.begin(), kh.ops.end(), [&](const Op* op) {
                                 return op->type == OpType::kDelete && CouldFollow(*op, w);
                               });
    if (!replaced) return false;
  }
  return true;
}

const ConflictNote* Checker::ConflictExcuse(const std::string& key, const KeyHistory& kh, const Op& w) const {
  std::set<std::string> carriers = {w.region};
  for (const Op* op : kh.ops) {
    if (IsWrite(op->type) && CouldFollow(*op, w)) carriers.insert(op->region);
  }
  auto [begin, end] = conflicts_.equal_range(key);
  for (auto it = begin; it != end; ++it) {
    if (carriers.count(it->second->loser_origin)) return it->second;
  }
  return nullptr;
}

void Checker::CheckLostWrites(const std::string& key, const KeyHistory& kh, bool shared) {
  std::unordered_set<std::string> present;
  std::string finals;
  for (const auto& [region, contents] : in_.final_contents) {
    Value v = FinalValue(region, key);
    if (v) present.insert(v->begin(), v->end());
    finals += (finals.empty() ? "" : "; ") + region + ": " + Render(v);
  }
  for (const Op* w : kh.ops) {
    if (!WritesToken(w->type) || w->outcome != Outcome::kOk || w->token.empty()) continue;
    if (present.count(w->token) || ReplacedInEveryRegion(key, kh, *w)) continue;
    if (shared && ConflictExcuse(key, kh, *w) != nullptr) {
      ++result_.conflict_losers;
      continue;
    }
    ++result_.lost;
    Violate("lost-write", key,
            "acknowledged " + Describe(*w) + " is in no final value (" + finals +
                "), and no put or delete that could follow it replaced it" +
                (shared ? " and no conflict record excuses it" : ""));
  }
}

void Checker::CheckLinearizable(const std::string& key, const std::string& owner, const KeyHistory& kh) {
  std::vector<const Op*> ops;
  std::vector<uint64_t> foreign;
  for (const Op* op : kh.ops) {
    if (op->region != owner) {
      if (IsWrite(op->type)) foreign.push_back(op->id);
      continue;
    }
    if (op->type != OpType::kEventualRead) ops.push_back(op);
  }
  if (!foreign.empty()) {
    result_.notes.push_back("key " + key + " (owned by " + owner + "): " + std::to_string(foreign.size()) +
                            " writes from other regions (first: #" + std::to_string(foreign.front()) +
                            "), left out of the linearizability check");
  }
  if (ops.empty()) return;
  LinearizabilitySearch search(ops, in_.max_search_steps_per_key);
  switch (search.Run()) {
    case LinearizabilitySearch::Verdict::kLinearizable:
      return;
    case LinearizabilitySearch::Verdict::kNotLinearizable:
      Violate("non-linearizable", key, "in " + owner + ": " + search.Explain());
      return;
    case LinearizabilitySearch::Verdict::kUnchecked:
      result_.notes.push_back("key " + key + ": linearizability unchecked: the search exceeded " +
                              std::to_string(in_.max_search_steps_per_key) + " steps (" +
                              std::to_string(search.op_count()) + " ops, " +
                              std::to_string(search.unknown_count()) + " of unknown outcome)");
      return;
  }
}

}  // namespace

std::optional<std::string> OwnerOf(const std::string& key) {
  if (key.rfind("o-", 0) != 0) return std::nullopt;
  size_t dash = key.rfind('-');
  if (dash <= 2 || dash + 1 == key.size()) return std::nullopt;
  if (!std::all_of(key.begin() + dash + 1, key.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return key.substr(2, dash - 2);
}

CheckResult Check(const CheckInput& input) { return Checker(input).Run(); }

}  // namespace meridian::chaos
