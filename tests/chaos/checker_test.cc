// The chaos history and checker (history.h, checker.h). Each check is shown to fail on a
// hand-built history that breaks it, and to pass on one that does not. Randomized (seeds printed;
// MERIDIAN_SIM_SEEDS and MERIDIAN_SIM_FIRST as for the simulators): histories of ~200 ops from a
// sequential simulation must pass, and fail once one strong read is made stale; small histories,
// valid or broken at random, must get the verdict an exhaustive search gives.
#include "tests/chaos/checker.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <fstream>
#include <random>

#include "tests/chaos/history.h"
#include "tests/sim/seeds.h"

namespace meridian::chaos {
namespace {

const std::string kOwned = "o-us-east-0";  // written only by us-east
const std::string kShared = "s-0";
const Outcome kOk = Outcome::kOk;
const Outcome kFail = Outcome::kFail;
const Outcome kUnknown = Outcome::kUnknown;
using Tokens = std::vector<std::string>;

// Builds a history op by op; ids in call order.
class History {
 public:
  Op& Write(OpType type, const std::string& key, const std::string& token, int64_t invoke, int64_t complete,
            Outcome outcome = kOk, const std::string& region = "us-east") {
    Op op;
    op.id = next_id_++;
    op.worker = int(op.id % 4);
    op.region = region;
    op.type = type;
    op.key = key;
    op.token = token;
    op.outcome = outcome;
    op.invoke_ns = invoke;
    op.complete_ns = complete;
    if (outcome == kFail) op.error = "ValidationException: refused";
    ops_.push_back(op);
    return ops_.back();
  }
  Op& Append(const std::string& key, const std::string& token, int64_t invoke, int64_t complete,
             Outcome outcome = kOk, const std::string& region = "us-east") {
    return Write(OpType::kAppend, key, token, invoke, complete, outcome, region);
  }
  Op& Put(const std::string& key, const std::string& token, int64_t invoke, int64_t complete,
          Outcome outcome = kOk, const std::string& region = "us-east") {
    return Write(OpType::kPut, key, token, invoke, complete, outcome, region);
  }
  Op& Delete(const std::string& key, int64_t invoke, int64_t complete, Outcome outcome = kOk,
             const std::string& region = "us-east") {
    return Write(OpType::kDelete, key, "", invoke, complete, outcome, region);
  }
  Op& Cas(const std::string& key, const std::string& token, int64_t expected_len, int64_t invoke, int64_t complete,
          Outcome outcome = kOk, const std::string& region = "us-east") {
    Op& op = Write(OpType::kCasAppend, key, token, invoke, complete, outcome, region);
    op.expected_len = expected_len;
    if (outcome == kFail) op.error = "ConditionalCheckFailedException: The conditional request failed";
    return op;
  }
  Op& Read(const std::string& key, std::optional<Tokens> read, int64_t invoke, int64_t complete,
           const std::string& region = "us-east", OpType type = OpType::kStrongRead) {
    Op& op = Write(type, key, "", invoke, complete, kOk, region);
    op.read = std::move(read);
    return op;
  }

  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
  uint64_t next_id_ = 1;
};

// Two regions holding the same contents.
CheckInput Converged(const History& h, const Contents& contents) {
  CheckInput in;
  in.history = h.ops();
  in.final_contents = {{"us-east", contents}, {"eu-west", contents}};
  return in;
}

std::vector<std::string> Kinds(const CheckResult& r) {
  std::vector<std::string> kinds;
  for (const Violation& v : r.violations) kinds.push_back(v.kind);
  return kinds;
}

std::string Dump(const CheckResult& r) {
  std::string out;
  for (const Violation& v : r.violations) out += "  violation " + v.kind + " " + v.key + ": " + v.detail + "\n";
  for (const std::string& n : r.notes) out += "  note " + n + "\n";
  return out;
}

bool AnyNoteContains(const CheckResult& r, const std::string& text) {
  return std::any_of(r.notes.begin(), r.notes.end(),
                     [&](const std::string& n) { return n.find(text) != std::string::npos; });
}

TEST(OwnerOf, ParsesOwnedKeysOnly) {
  EXPECT_EQ(OwnerOf("o-us-east-3"), "us-east");
  EXPECT_EQ(OwnerOf("o-eu-12"), "eu");
  EXPECT_EQ(OwnerOf("s-3"), std::nullopt);
  EXPECT_EQ(OwnerOf("o-3"), std::nullopt);
  EXPECT_EQ(OwnerOf("o--3"), std::nullopt);
  EXPECT_EQ(OwnerOf("o-us-east-"), std::nullopt);
  EXPECT_EQ(OwnerOf("o-us-east-x"), std::nullopt);
}

// Every kind of operation, with overlapping calls, and the lengths a conditional append expects.
History ValidConcurrentHistory() {
  History h;
  h.Append(kOwned, "a", 0, 10);
  h.Append(kOwned, "b", 5, 15);        // overlaps a: b may go first
  h.Read(kOwned, Tokens{"b", "a"}, 12, 20);
  h.Cas(kOwned, "c", 2, 21, 30);
  h.Cas(kOwned, "d", 2, 31, 40, kFail);  // the length is 3 by now
  h.Read(kOwned, Tokens{"b", "a", "c"}, 41, 50);
  h.Put(kOwned, "p", 51, 60);
  h.Append(kOwned, "e", 55, 70);       // overlaps the put: after it, as the read shows
  h.Read(kOwned, Tokens{"p", "e"}, 71, 80);
  h.Delete(kOwned, 81, 90);
  h.Read(kOwned, Tokens{"p"}, 85, 86, "eu-west", OpType::kEventualRead);  // stale, allowed
  h.Read(kOwned, std::nullopt, 91, 95);
  h.Append(kOwned, "f", 96, 100);
  h.Append(kShared, "g", 0, 10, kOk, "us-east");
  h.Append(kShared, "h", 20, 30, kOk, "eu-west");
  return h;
}

TEST(Checker, ValidConcurrentHistoryPasses) {
  History h = ValidConcurrentHistory();
  CheckResult r = Check(Converged(h, {{kOwned, {"f"}}, {kShared, {"g", "h"}}}));
  EXPECT_TRUE(r.ok()) << Dump(r);
  EXPECT_TRUE(r.notes.empty()) << Dump(r);
  EXPECT_EQ(r.operations, h.ops().size());
  EXPECT_EQ(r.acknowledged, 9u);  // a b c p e delete f g h
  EXPECT_EQ(r.lost, 0u);
  EXPECT_EQ(r.conflict_losers, 0u);
}

TEST(Checker, StaleStrongReadIsNotLinearizable) {
  History h;
  h.Append(kOwned, "a", 0, 10);
  h.Read(kOwned, Tokens{"a"}, 20, 30);
  h.Read(kOwned, std::nullopt, 40, 50);  // the item cannot have gone: nothing deleted it
  CheckResult r = Check(Converged(h, {{kOwned, {"a"}}}));
  ASSERT_EQ(Kinds(r), std::vector<std::string>{"non-linearizable"}) << Dump(r);
  EXPECT_EQ(r.violations[0].key, kOwned);
  EXPECT_NE(r.violations[0].detail.find("#3 strong-read -> absent"), std::string::npos) << Dump(r);

  // The same read served by an eventually consistent read is allowed to be stale.
  History eventual;
  eventual.Append(kOwned, "a", 0, 10);
  eventual.Read(kOwned, std::nullopt, 40, 50, "us-east", OpType::kEventualRead);
  EXPECT_TRUE(Check(Converged(eventual, {{kOwned, {"a"}}})).ok());
}

TEST(Checker, RefusedConditionThatHeldIsNotLinearizable) {
  History h;
  h.Append(kOwned, "a", 0, 10);
  h.Cas(kOwned, "b", 1, 20, 30, kFail);  // ConditionalCheckFailed, yet the length was 1
  CheckResult r = Check(Converged(h, {{kOwned, {"a"}}}));
  EXPECT_EQ(Kinds(r), std::vector<std::string>{"non-linearizable"}) << Dump(r);

  // A failure that is not the condition's (refused before evaluating anything) observed nothing.
  History validation;
  validation.Append(kOwned, "a", 0, 10);
  validation.Cas(kOwned, "b", 1, 20, 30, kFail).error = "ValidationException: bad expression";
  EXPECT_TRUE(Check(Converged(validation, {{kOwned, {"a"}}})).ok());

  // An acknowledged conditional append whose condition could not have held.
  History acked;
  acked.Append(kOwned, "a", 0, 10);
  acked.Cas(kOwned, "b", 2, 20, 30);
  EXPECT_EQ(Kinds(Check(Converged(acked, {{kOwned, {"a", "b"}}}))), std::vector<std::string>{"non-linearizable"});
}

TEST(Checker, LostAcknowledgedAppend) {
  History h;
  h.Append(kOwned, "a", 0, 10);
  h.Append(kOwned, "b", 20, 30);
  CheckResult r = Check(Converged(h, {{kOwned, {"a"}}}));
  ASSERT_EQ(Kinds(r), std::vector<std::string>{"lost-write"}) << Dump(r);
  EXPECT_NE(r.violations[0].detail.find("#2 append b"), std::string::npos) << Dump(r);
  EXPECT_EQ(r.lost, 1u);

  // An unacknowledged (unknown) append that is missing was not lost: it may never have applied.
  History unknown;
  unknown.Append(kOwned, "a", 0, 10);
  unknown.Append(kOwned, "b", 20, 0, kUnknown);
  EXPECT_TRUE(Check(Converged(unknown, {{kOwned, {"a"}}})).ok());
}

TEST(Checker, LostWriteExcusedOnlyByAReplacementThatCouldFollowIt) {
  // A put that completed after the append was invoked may have replaced it.
  History put_after;
  put_after.Append(kOwned, "a", 0, 10);
  put_after.Put(kOwned, "p", 5, 20);
  CheckResult r = Check(Converged(put_after, {{kOwned, {"p"}}}));
  EXPECT_TRUE(r.ok()) << Dump(r);

  // A put that completed before the append was invoked cannot have replaced it.
  History put_before;
  put_before.Put(kOwned, "p", 0, 5);
  put_before.Append(kOwned, "a", 10, 20);
  r = Check(Converged(put_before, {{kOwned, {"p"}}}));
  EXPECT_EQ(Kinds(r), std::vector<std::string>{"lost-write"}) << Dump(r);

  // A delete that could follow explains an item that is gone...
  History deleted;
  deleted.Append(kOwned, "a", 0, 10);
  deleted.Delete(kOwned, 20, 0, kUnknown);
  EXPECT_TRUE(Check(Converged(deleted, {})).ok());

  // ...but a put that could follow does not explain a final value it is not in: the value shows
  // that the last replacer was a delete, and no delete came after the append.
  History unrelated_put;
  unrelated_put.Delete(kOwned, 0, 5);
  unrelated_put.Append(kOwned, "a", 10, 20);
  unrelated_put.Put(kOwned, "p", 15, 0, kUnknown);
  unrelated_put.Append(kOwned, "b", 30, 40);
  r = Check(Converged(unrelated_put, {{kOwned, {"b"}}}));
  EXPECT_EQ(Kinds(r), std::vector<std::string>{"lost-write"}) << Dump(r);
  EXPECT_NE(r.violations[0].detail.find("append a"), std::string::npos) << Dump(r);

  // A failed put replaces nothing (and its token in a final value is a phantom).
  History failed_put;
  failed_put.Append(kOwned, "a", 0, 10);
  failed_put.Put(kOwned, "p", 5, 20, kFail);
  r = Check(Converged(failed_put, {{kOwned, {"p"}}}));
  EXPECT_EQ(Kinds(r), (std::vector<std::string>{"phantom-read", "lost-write"})) << Dump(r);
}

TEST(Checker, AppendAppliedTwice) {
  History h;
  h.Append(kOwned, "a", 0, 10);
  h.Read(kOwned, Tokens{"a", "a"}, 20, 30, "eu-west", OpType::kEventualRead);
  CheckResult r = Check(Converged(h, {{kOwned, {"a", "a"}}}));
  ASSERT_EQ(Kinds(r), std::vector<std::string>{"duplicate-apply"}) << Dump(r);
  EXPECT_NE(r.violations[0].detail.find("token a appears 2 times in read #2"), std::string::npos) << Dump(r);
  EXPECT_NE(r.violations[0].detail.find("2 other values"), std::string::npos) << Dump(r);

  // A strong read seeing it twice is also not linearizable.
  History strong;
  strong.Append(kOwned, "a", 0, 10);
  strong.Read(kOwned, Tokens{"a", "a"}, 20, 30);
  EXPECT_EQ(Kinds(Check(Converged(strong, {{kOwned, {"a"}}}))),
            (std::vector<std::string>{"duplicate-apply", "non-linearizable"}));
}

TEST(Checker, DivergentRegions) {
  History h;
  h.Append(kShared, "a", 0, 10, kOk, "us-east");
  h.Append(kShared, "b", 20, 30, kOk, "eu-west");
  h.Append("s-1", "c", 0, 10, kOk, "eu-west");
  CheckInput in;
  in.history = h.ops();
  in.final_contents = {{"us-east", {{kShared, {"a"}}}}, {"eu-west", {{kShared, {"a", "b"}}, {"s-1", {"c"}}}}};
  CheckResult r = Check(in);
  ASSERT_EQ(Kinds(r), (std::vector<std::string>{"divergence", "divergence"})) << Dump(r);
  EXPECT_EQ(r.violations[0].key, kShared);  // keys in order
  EXPECT_EQ(r.violations[0].detail, "final values differ: eu-west: [a, b]; us-east: [a]");
  EXPECT_EQ(r.violations[1].key, "s-1");
  EXPECT_EQ(r.violations[1].detail, "final values differ: eu-west: [c]; us-east: absent");
}

TEST(Checker, PhantomRead) {
  History h;
  h.Append(kShared, "a", 0, 10);
  h.Read(kShared, Tokens{"a", "zz"}, 20, 30, "eu-west", OpType::kEventualRead);
  CheckResult r = Check(Converged(h, {{kShared, {"a"}}}));
  ASSERT_EQ(Kinds(r), std::vector<std::string>{"phantom-read"}) << Dump(r);
  EXPECT_NE(r.violations[0].detail.find("token zz in read #2"), std::string::npos) << Dump(r);

  // The token of a write that definitely failed, in a final value.
  History failed;
  failed.Put(kShared, "x", 0, 10, kFail);
  r = Check(Converged(failed, {{kShared, {"x"}}}));
  ASSERT_EQ(Kinds(r), std::vector<std::string>{"phantom-read"}) << Dump(r);
  EXPECT_NE(r.violations[0].detail.find("definitely did not apply"), std::string::npos) << Dump(r);

  // A token written to another key.
  History other_key;
  other_key.Append("s-1", "y", 0, 10);
  r = Check(Converged(other_key, {{"s-1", {"y"}}, {kShared, {"y"}}}));
  EXPECT_EQ(Kinds(r), std::vector<std::string>{"phantom-read"}) << Dump(r);
}

TEST(Checker, SharedKeyLossExcusedByAConflictRecord) {
  History h;
  h.Append(kShared, "a", 0, 10, kOk, "us-east");
  h.Append(kShared, "b", 0, 10, kOk, "eu-west");  // concurrent: eu-west's version won
  CheckInput in = Converged(h, {{kShared, {"b"}}});

  CheckResult r = Check(in);
  EXPECT_EQ(Kinds(r), std::vector<std::string>{"lost-write"}) << Dump(r);
  EXPECT_EQ(r.lost, 1u);
  EXPECT_EQ(r.conflict_losers, 0u);

  in.conflicts = {{"us-east", kShared, "ap-south", "eu-west"}};  // another region's loss
  EXPECT_EQ(Kinds(Check(in)), std::vector<std::string>{"lost-write"});

  in.conflicts = {{"us-east", kShared, "us-east", "eu-west"}};
  r = Check(in);
  EXPECT_TRUE(r.ok()) << Dump(r);
  EXPECT_EQ(r.lost, 0u);
  EXPECT_EQ(r.conflict_losers, 1u);

  // The record is for another key.
  in.conflicts = {{"us-east", "s-1", "us-east", "eu-west"}};
  EXPECT_EQ(Kinds(Check(in)), std::vector<std::string>{"lost-write"});

  // An owned key is written by one region: no conflict excuses a loss there.
  History owned;
  owned.Append(kOwned, "a", 0, 10);
  owned.Append(kOwned, "b", 20, 30);
  CheckInput owned_in = Converged(owned, {{kOwned, {"a"}}});
  owned_in.conflicts = {{"eu-west", kOwned, "us-east", "eu-west"}};
  EXPECT_EQ(Kinds(Check(owned_in)), std::vector<std::string>{"lost-write"});
}

TEST(Checker, ConflictLoserCarriedInAnotherRegionsVersion) {
  // eu-west appended b on top of us-east's a, and that version lost to ap-south's put (a higher
  // timestamp from a fast clock): the record names eu-west, whose version carried a.
  History h;
  h.Put(kShared, "c", 0, 5, kOk, "ap-south");
  h.Append(kShared, "a", 10, 20, kOk, "us-east");
  h.Append(kShared, "b", 30, 40, kOk, "eu-west");
  CheckInput in = Converged(h, {{kShared, {"c"}}});
  EXPECT_EQ(Kinds(Check(in)), (std::vector<std::string>{"lost-write", "lost-write"}));
  in.conflicts = {{"us-east", kShared, "eu-west", "ap-south"}};
  CheckResult r = Check(in);
  EXPECT_TRUE(r.ok()) << Dump(r);
  EXPECT_EQ(r.conflict_losers, 2u);
}

TEST(Checker, UnknownWritesThatDidOrDidNotTakeEffect) {
  // Took effect (seen by a read and in the final value), without a completion time.
  History took;
  took.Append(kOwned, "a", 0, 10);
  took.Append(kOwned, "u", 20, 0, kUnknown);
  took.Read(kOwned, Tokens{"a", "u"}, 30, 40);
  CheckResult r = Check(Converged(took, {{kOwned, {"a", "u"}}}));
  EXPECT_TRUE(r.ok()) << Dump(r);

  // Took effect after the harness gave up on it and after a read that did not see it.
  History late;
  late.Append(kOwned, "a", 0, 10);
  late.Append(kOwned, "u", 20, 25, kUnknown);
  late.Read(kOwned, Tokens{"a"}, 30, 40);
  late.Read(kOwned, Tokens{"a", "u"}, 50, 60);
  r = Check(Converged(late, {{kOwned, {"a", "u"}}}));
  EXPECT_TRUE(r.ok()) << Dump(r);

  // Never took effect.
  History never;
  never.Append(kOwned, "a", 0, 10);
  never.Append(kOwned, "u", 20, 25, kUnknown);
  never.Put(kOwned, "v", 22, 0, kUnknown);
  never.Read(kOwned, Tokens{"a"}, 30, 40);
  never.Read(kOwned, Tokens{"a"}, 50, 60);
  r = Check(Converged(never, {{kOwned, {"a"}}}));
  EXPECT_TRUE(r.ok()) << Dump(r);

  // Never took effect, with a condition decided after it (the search must consider it).
  History never_cas;
  never_cas.Append(kOwned, "a", 0, 10);
  never_cas.Append(kOwned, "u", 20, 25, kUnknown);
  never_cas.Cas(kOwned, "c", 1, 30, 40);
  never_cas.Read(kOwned, Tokens{"a", "c"}, 50, 60);
  r = Check(Converged(never_cas, {{kOwned, {"a", "c"}}}));
  EXPECT_TRUE(r.ok()) << Dump(r);

  // Took effect unseen, wiped by a delete, and only the condition's length shows it.
  History unseen_cas;
  unseen_cas.Append(kOwned, "a", 0, 10);
  unseen_cas.Append(kOwned, "u", 20, 25, kUnknown);
  unseen_cas.Cas(kOwned, "c", 2, 30, 40);
  unseen_cas.Delete(kOwned, 50, 60);
  unseen_cas.Read(kOwned, std::nullopt, 70, 80);
  r = Check(Converged(unseen_cas, {}));
  EXPECT_TRUE(r.ok()) << Dump(r);

  // The same, where only one order works: the delete before the put it overlaps, then the unseen
  // append. The search meets (put and delete done, item absent) both with the append placed and
  // without it; only the configuration without it may stand for both.
  History order;
  order.Put(kOwned, "p", 4555, 5769);
  order.Delete(kOwned, 5730, 14157);
  order.Append(kOwned, "u", 7777, 0, kUnknown);
  order.Cas(kOwned, "c", 2, 16793, 20869);
  r = Check(Converged(order, {{kOwned, {"p", "u", "c"}}}));
  EXPECT_TRUE(r.ok()) << Dump(r);

  // An unseen append that only the last condition needs, after a refusal that must not see it.
  History late_need;
  late_need.Append(kOwned, "a", 4040, 19186);
  late_need.Append(kOwned, "b", 6154, 22303);
  late_need.Append(kOwned, "c", 6265, 23828);
  late_need.Delete(kOwned, 6857, 11121);
  late_need.Cas(kOwned, "d", 3, 13385, 29686);
  late_need.Cas(kOwned, "e", 5, 22027, 29574, kFail);
  late_need.Append(kOwned, "u", 25299, 37107, kUnknown);
  late_need.Cas(kOwned, "f", 5, 26676, 39143);
  r = Check(Converged(late_need, {{kOwned, {"a", "b", "c", "d", "u", "f"}}}));
  EXPECT_TRUE(r.ok()) << Dump(r);

  // But an unknown write cannot take effect before it was invoked.
  History early;
  early.Read(kOwned, Tokens{"u"}, 0, 10);
  early.Append(kOwned, "u", 20, 0, kUnknown);
  r = Check(Converged(early, {{kOwned, {"u"}}}));
  EXPECT_EQ(Kinds(r), std::vector<std::string>{"non-linearizable"}) << Dump(r);
}

TEST(Checker, SearchBoundLeavesTheKeyUnchecked) {
  CheckInput in = Converged(ValidConcurrentHistory(), {{kOwned, {"f"}}, {kShared, {"g", "h"}}});
  in.max_search_steps_per_key = 5;
  CheckResult r = Check(in);
  EXPECT_TRUE(r.ok()) << Dump(r);
  ASSERT_EQ(r.notes.size(), 1u) << Dump(r);
  EXPECT_NE(r.notes[0].find("key o-us-east-0: linearizability unchecked"), std::string::npos) << Dump(r);
}

TEST(Checker, ForeignWritesToAnOwnedKeyAreNoted) {
  History h;
  h.Append(kOwned, "a", 0, 10);
  h.Append(kOwned, "x", 20, 30, kOk, "eu-west");
  h.Read(kOwned, Tokens{"a"}, 40, 50);  // us-east has not seen x yet: not judged with eu-west's write
  CheckResult r = Check(Converged(h, {{kOwned, {"a", "x"}}}));
  EXPECT_TRUE(r.ok()) << Dump(r);
  EXPECT_TRUE(AnyNoteContains(r, "1 writes from other regions (first: #2)")) << Dump(r);
}

TEST(Checker, NoFinalContentsIsNoted) {
  History h;
  h.Append(kOwned, "a", 0, 10);
  CheckInput in;
  in.history = h.ops();
  CheckResult r = Check(in);
  EXPECT_TRUE(r.ok()) << Dump(r);
  EXPECT_TRUE(AnyNoteContains(r, "no final contents")) << Dump(r);
}

TEST(History, JsonRoundTrip) {
  Op op;
  op.id = 42;
  op.worker = 3;
  op.region = "eu-west";
  op.type = OpType::kCasAppend;
  op.key = "o-eu-west-7";
  op.token = "3-17";
  op.expected_len = 4;
  op.outcome = Outcome::kFail;
  op.error = "ConditionalCheckFailedException: \"quoted\"\n";
  op.invoke_ns = 1'700'000'000'000'000'000;
  op.complete_ns = 1'700'000'000'000'000'123;
  for (std::optional<Tokens> read : {std::optional<Tokens>(), std::optional<Tokens>(Tokens{}),
                                     std::optional<Tokens>(Tokens{"1-1", "2-5"})}) {
    op.read = read;
    std::string line = OpToJson(op);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    Result<Op> back = OpFromJson(line);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->id, op.id);
    EXPECT_EQ(back->worker, op.worker);
    EXPECT_EQ(back->region, op.region);
    EXPECT_EQ(back->type, op.type);
    EXPECT_EQ(back->key, op.key);
    EXPECT_EQ(back->token, op.token);
    EXPECT_EQ(back->expected_len, op.expected_len);
    EXPECT_EQ(back->read, op.read);
    EXPECT_EQ(back->outcome, op.outcome);
    EXPECT_EQ(back->error, op.error);
    EXPECT_EQ(back->invoke_ns, op.invoke_ns);
    EXPECT_EQ(back->complete_ns, op.complete_ns);
  }
  for (OpType t : {OpType::kPut, OpType::kAppend, OpType::kCasAppend, OpType::kDelete, OpType::kStrongRead,
                   OpType::kEventualRead}) {
    op.type = t;
    EXPECT_EQ(OpFromJson(OpToJson(op))->type, t) << OpTypeName(t);
  }
  for (Outcome o : {kOk, kFail, kUnknown}) {
    op.outcome = o;
    EXPECT_EQ(OpFromJson(OpToJson(op))->outcome, o) << OutcomeName(o);
  }
}

TEST(History, BadLinesAreValidationErrors) {
  for (const char* line : {
           "", "{", "[]", "{\"id\":1}",
           R"({"id":-1,"worker":0,"region":"r","type":"put","key":"k","outcome":"ok","invoke_ns":1})",
           R"({"id":1,"worker":0,"region":"r","type":"get","key":"k","outcome":"ok","invoke_ns":1})",
           R"({"id":1,"worker":0,"region":"r","type":"put","key":"k","outcome":"maybe","invoke_ns":1})",
           R"({"id":1,"worker":0,"region":"r","type":"put","key":7,"outcome":"ok","invoke_ns":1})",
           R"({"id":1,"worker":0,"region":"r","type":"put","key":"k","outcome":"ok","invoke_ns":"1"})",
           R"({"id":1,"worker":0,"region":"r","type":"put","key":"k","outcome":"ok","invoke_ns":1.5})",
           R"({"id":1,"worker":0,"region":"r","type":"put","key":"k","outcome":"ok","invoke_ns":1,"read":[1]})",
           R"({"id":1,"worker":0,"region":"r","type":"put","key":"k","outcome":"ok","invoke_ns":1,"read":"a"})",
           R"({"id":1,"worker":0,"region":"r","type":"put","key":"k","outcome":"ok","invoke_ns":9223372036854775808})",
       }) {
    Result<Op> op = OpFromJson(line);
    ASSERT_FALSE(op.ok()) << line;
    EXPECT_EQ(op.status().code(), ErrorCode::kValidation) << line;
  }
  // The optional fields may be missing.
  Result<Op> minimal =
      OpFromJson(R"({"id":1,"worker":0,"region":"r","type":"delete","key":"k","outcome":"unknown","invoke_ns":1})");
  ASSERT_TRUE(minimal.ok()) << minimal.status().ToString();
  EXPECT_EQ(minimal->read, std::nullopt);
  EXPECT_EQ(minimal->complete_ns, 0);
}

class HistoryFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "meridian-chaos-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "history.jsonl").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::vector<Op> WriteThree() {
    std::vector<Op> ops = ValidConcurrentHistory().ops();
    ops.resize(3);
    auto writer = HistoryWriter::Open(path_);
    EXPECT_TRUE(writer.ok()) << writer.status().ToString();
    for (const Op& op : ops) (*writer)->Append(op);
    EXPECT_TRUE((*writer)->status().ok());
    return ops;
  }
  void AppendRaw(const std::string& text) {
    std::ofstream out(path_, std::ios::app | std::ios::binary);
    out << text;
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(HistoryFile, WrittenAndReadBack) {
  std::vector<Op> ops = WriteThree();
  AppendRaw("\n");  // a blank line is skipped
  Result<std::vector<Op>> back = ReadHistory(path_);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->size(), 3u);
  for (size_t i = 0; i < ops.size(); ++i) EXPECT_EQ(OpToJson((*back)[i]), OpToJson(ops[i]));

  // Open truncates: a history is one run.
  auto writer = HistoryWriter::Open(path_);
  ASSERT_TRUE(writer.ok());
  (*writer)->Append(ops[0]);
  EXPECT_EQ(ReadHistory(path_)->size(), 1u);
}

TEST_F(HistoryFile, TruncatedLastLineIsSkipped) {
  std::vector<Op> ops = WriteThree();
  std::string cut = OpToJson(ops[0]);
  AppendRaw(cut.substr(0, cut.size() / 2));  // a crash in the middle of a write
  Result<std::vector<Op>> back = ReadHistory(path_);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->size(), 3u);
}

TEST_F(HistoryFile, CompleteLastLineWithoutNewlineIsRead) {
  std::vector<Op> ops = WriteThree();
  AppendRaw(OpToJson(ops[0]));
  Result<std::vector<Op>> back = ReadHistory(path_);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->size(), 4u);
}

TEST_F(HistoryFile, BadLineInTheMiddleNamesItsNumber) {
  std::vector<Op> ops = WriteThree();
  AppendRaw("{\"id\": 9, oops\n" + OpToJson(ops[0]) + "\n");
  Result<std::vector<Op>> back = ReadHistory(path_);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), ErrorCode::kValidation);
  EXPECT_NE(back.status().message().find("line 4: not valid JSON"), std::string::npos) << back.status().ToString();

  // A bad last line that does end with a newline was written whole: an error, not a crash's cut.
  WriteThree();
  AppendRaw("{\"id\": 9, oops\n");
  EXPECT_FALSE(ReadHistory(path_).ok());
}

TEST_F(HistoryFile, MissingFile) {
  Result<std::vector<Op>> back = ReadHistory((dir_ / "nope.jsonl").string());
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), ErrorCode::kValidation);
  EXPECT_FALSE(HistoryWriter::Open((dir_ / "no" / "such" / "dir").string()).ok());
}

// ---- Randomized: histories from a sequential simulation ----------------------------------------

// A history of one owned key: `workers` clients, each issuing ops one after another with random
// gaps and durations, every op taking effect at a random instant within its call (or, for some
// unknown outcomes, never). The effects applied in instant order give each read its value and
// each conditional append its outcome, so the history is linearizable by construction.
using Value = std::optional<std::vector<std::string>>;
struct Generated {
  std::vector<Op> history;
  Value final_value;
};

Generated GenerateLinearizable(uint64_t seed, int workers, int ops_per_worker, int unknown_percent = 10) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  struct Planned {
    Op op;
    int64_t instant;  // when it takes effect; -1 for an unknown op that never does
  };
  std::vector<Planned> planned;
  for (int w = 0; w < workers; ++w) {
    int64_t t = uniform(0, 5'000);
    for (int i = 0; i < ops_per_worker; ++i) {
      Op op;
      op.worker = w;
      op.region = "us-east";
      op.key = kOwned;
      op.token = std::to_string(w) + "-" + std::to_string(i);
      op.invoke_ns = t + uniform(1'000, 3'000);
      op.complete_ns = op.invoke_ns + uniform(1'000, 20'000);
      t = op.complete_ns;
      planned.push_back({op, uniform(op.invoke_ns, op.complete_ns)});
    }
  }
  std::sort(planned.begin(), planned.end(), [](const Planned& a, const Planned& b) {
    return a.instant != b.instant ? a.instant < b.instant : a.op.token < b.op.token;
  });

  Value state;
  for (Planned& p : planned) {
    Op& op = p.op;
    int64_t roll = uniform(0, 99);
    op.type = roll < 35   ? OpType::kAppend
              : roll < 45 ? OpType::kPut
              : roll < 60 ? OpType::kCasAppend
              : roll < 64 ? OpType::kDelete
                          : OpType::kStrongRead;
    op.outcome = kOk;
    if (op.type == OpType::kStrongRead) {
      op.token.clear();
      op.read = state;
      continue;
    }
    if (op.type == OpType::kDelete) op.token.clear();
    if (op.type == OpType::kCasAppend) {
      int64_t len = state ? int64_t(state->size()) : 0;
      op.expected_len = uniform(0, 2) == 0 ? len + uniform(-1, 1) : len;
    }
    if (uniform(0, 99) < unknown_percent) {  // an unknown outcome: applied or not, answer lost
      op.outcome = kUnknown;
      op.complete_ns = uniform(0, 1) == 0 ? 0 : op.complete_ns;
      if (uniform(0, 1) == 0) {
        p.instant = -1;
        continue;
      }
    }
    switch (op.type) {
      case OpType::kPut:
        state = Tokens{op.token};
        break;
      case OpType::kAppend:
        if (!state) state = Tokens{};
        state->push_back(op.token);
        break;
      case OpType::kCasAppend:
        if (state && int64_t(state->size()) == op.expected_len) {
          state->push_back(op.token);
        } else if (op.outcome == kOk) {
          op.outcome = kFail;
          op.error = "ConditionalCheckFailedException: The conditional request failed";
        }
        break;
      case OpType::kDelete:
        state.reset();
        break;
      default:
        break;
    }
  }

  Generated g;
  for (Planned& p : planned) g.history.push_back(p.op);
  std::sort(g.history.begin(), g.history.end(),
            [](const Op& a, const Op& b) { return a.invoke_ns < b.invoke_ns; });
  for (size_t i = 0; i < g.history.size(); ++i) g.history[i].id = i + 1;
  g.final_value = state;
  return g;
}

// Makes one acknowledged strong read stale: it drops a token y whose append completed before the
// read was invoked, from a value whose first token was written before y's append was invoked. No
// linearization can produce that value: the first token shows nothing wiped the item since before
// y's append, so y must be there. Returns the read's id, or 0 if the history has no such read.
uint64_t MakeOneReadStale(std::vector<Op>& history) {
  std::map<std::string, const Op*> writer;
  for (const Op& op : history) {
    if (!op.token.empty()) writer[op.token] = &op;
  }
  for (Op& read : history) {
    if (read.type != OpType::kStrongRead || read.outcome != kOk || !read.read || read.read->size() < 2) continue;
    const Op* first = writer.at(read.read->front());
    for (size_t i = 1; i < read.read->size(); ++i) {
      const Op* y = writer.at((*read.read)[i]);
      if (y->outcome == kOk && y->complete_ns < read.invoke_ns && first->outcome == kOk &&
          first->complete_ns < y->invoke_ns) {
        read.read->erase(read.read->begin() + i);
        return read.id;
      }
    }
  }
  return 0;
}

// Seeds: MERIDIAN_SIM_SEEDS (default 8) from MERIDIAN_SIM_FIRST (default 1), as the simulators.
TEST(CheckerRandomized, GeneratedHistoriesPassAndStaleReadsFail) {
  const uint64_t first = sim::EnvU64("MERIDIAN_SIM_FIRST", 1);
  for (uint64_t seed = first; seed < first + sim::SimSeedCount(8); ++seed) {
    int workers = 2 + int(seed % 3);
    std::printf("seed=%llu workers=%d\n", static_cast<unsigned long long>(seed), workers);
    Generated g = GenerateLinearizable(seed, workers, 200 / workers);
    Contents contents;
    if (g.final_value) contents[kOwned] = *g.final_value;
    CheckInput in;
    in.history = g.history;
    in.final_contents = {{"us-east", contents}, {"eu-west", contents}};
    CheckResult r = Check(in);
    EXPECT_TRUE(r.ok()) << "seed=" << seed << "\n" << Dump(r);
    EXPECT_TRUE(r.notes.empty()) << "seed=" << seed << "\n" << Dump(r);

    uint64_t stale = MakeOneReadStale(in.history);
    ASSERT_NE(stale, 0u) << "seed=" << seed << ": no read to make stale";
    r = Check(in);
    ASSERT_EQ(Kinds(r), std::vector<std::string>{"non-linearizable"}) << "seed=" << seed << " read #" << stale
                                                                       << "\n" << Dump(r);
  }
}

// The model of checker.cc by exhaustion: every order of the ops that respects real time, with every
// unknown op either placed or left out. For a handful of ops only.
bool BruteForceLinearizable(const std::vector<Op>& history) {
  std::vector<const Op*> ops;
  for (const Op& op : history) {
    bool refusal = op.type == OpType::kCasAppend && op.outcome == kFail &&
                   op.error.find("ConditionalCheckFailed") != std::string::npos;
    if (op.type == OpType::kEventualRead || (op.outcome == kFail && !refusal)) continue;
    if (op.type == OpType::kStrongRead && op.outcome != kOk) continue;
    ops.push_back(&op);
  }
  const size_t n = ops.size();
  std::vector<bool> placed(n, false);
  auto completes_before = [&](const Op& a, const Op& b) {
    return a.outcome != kUnknown && a.complete_ns < b.invoke_ns;
  };
  std::function<bool(const Value&)> search = [&](const Value& state) {
    bool all_definite = true;
    for (size_t i = 0; i < n; ++i) all_definite = all_definite && (placed[i] || ops[i]->outcome == kUnknown);
    if (all_definite) return true;
    for (size_t i = 0; i < n; ++i) {
      if (placed[i]) continue;
      bool ready = true;
      for (size_t j = 0; j < n && ready; ++j) {
        ready = placed[j] || ops[j]->outcome == kUnknown || !completes_before(*ops[j], *ops[i]);
      }
      if (!ready) continue;
      const Op& op = *ops[i];
      Value next = state;
      bool holds = state && int64_t(state->size()) == op.expected_len;
      switch (op.type) {
        case OpType::kPut: next = Tokens{op.token}; break;
        case OpType::kAppend:
          if (!next) next = Tokens{};
          next->push_back(op.token);
          break;
        case OpType::kCasAppend:
          if (op.outcome == kFail) {
            if (holds) continue;
          } else if (holds) {
            next->push_back(op.token);
          } else if (op.outcome == kOk) {
            continue;
          }
          break;
        case OpType::kDelete: next.reset(); break;
        case OpType::kStrongRead:
          if (op.read != state) continue;
          break;
        default: break;
      }
      placed[i] = true;
      bool ok = search(next);
      placed[i] = false;
      if (ok) return true;
    }
    return false;
  };
  return search(std::nullopt);
}

// Small histories, linearizable as generated or made faulty by a random change, judged by the
// checker and by exhaustion: the verdicts must agree. This is what keeps the search's shortcuts
// (hidden tokens, unseen unknown writes, subsumption, read prefixes) honest.
TEST(CheckerRandomized, AgreesWithExhaustiveSearchOnSmallHistories) {
  const uint64_t first = sim::EnvU64("MERIDIAN_SIM_FIRST", 1);
  int linearizable = 0, not_linearizable = 0;
  for (uint64_t seed = first; seed < first + sim::SimSeedCount(400); ++seed) {
    std::mt19937_64 rng(seed);
    auto uniform = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
    int workers = int(uniform(2, 3));
    Generated g = GenerateLinearizable(seed, workers, int(uniform(2, 8 / workers)), 30);
    std::vector<Op>& h = g.history;
    switch (uniform(0, 3)) {
      case 0: break;  // as generated
      case 1: {       // a read returns another value: another read's, or one token fewer, or absent
        std::vector<Op*> reads;
        for (Op& op : h) {
          if (op.type == OpType::kStrongRead) reads.push_back(&op);
        }
        if (reads.empty()) break;
        Op* r = reads[uniform(0, int64_t(reads.size()) - 1)];
        int64_t how = uniform(0, 2);
        if (how == 0) {
          r->read = reads[uniform(0, int64_t(reads.size()) - 1)]->read;
        } else if (how == 1 && r->read && !r->read->empty()) {
          r->read->erase(r->read->begin() + uniform(0, int64_t(r->read->size()) - 1));
        } else {
          r->read.reset();
        }
        break;
      }
      case 2: {       // a conditional append's outcome flipped
        for (Op& op : h) {
          if (op.type != OpType::kCasAppend || op.outcome == kUnknown) continue;
          op.outcome = op.outcome == kOk ? kFail : kOk;
          op.error = op.outcome == kFail ? "ConditionalCheckFailedException: flipped" : "";
          break;
        }
        break;
      }
      case 3: {       // an op moved in time
        Op& op = h[uniform(0, int64_t(h.size()) - 1)];
        int64_t shift = uniform(-20'000, 20'000);
        op.invoke_ns = std::max<int64_t>(1, op.invoke_ns + shift);
        if (op.complete_ns != 0) op.complete_ns = std::max(op.invoke_ns, op.complete_ns + shift);
        break;
      }
    }
    const bool expected = BruteForceLinearizable(h);
    (expected ? linearizable : not_linearizable)++;
    CheckInput in;
    in.history = h;
    CheckResult r = Check(in);
    bool judged_linearizable = std::none_of(r.violations.begin(), r.violations.end(),
                                            [](const Violation& v) { return v.kind == "non-linearizable"; });
    ASSERT_FALSE(AnyNoteContains(r, "unchecked")) << "seed=" << seed;
    ASSERT_EQ(judged_linearizable, expected) << "seed=" << seed << " (" << h.size() << " ops)\n" << Dump(r);
  }
  std::printf("exhaustive comparison: %d linearizable, %d not\n", linearizable, not_linearizable);
  EXPECT_GT(linearizable, 0);
  EXPECT_GT(not_linearizable, 0);
}

}  // namespace
}  // namespace meridian::chaos
