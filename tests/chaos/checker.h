// The chaos suite's checker: judges a history (history.h) and the final contents of every region
// after faults stop and the cluster quiesces. Each check names its violations so that a failing
// run says what broke, not only that something did:
//   1. "lost-write": an acknowledged put, append or cas-append whose token is in no region's final
//      value of its key, though no later write replaced it, and, for a shared key, no conflict
//      record excuses it. Replaced: in every region, the final state names its last replacer (the
//      put whose token begins the value, else a delete), and that op did not fail and did not
//      complete before the lost write was invoked. Excused (shared keys): a record for that key
//      whose loser came from a region whose version could have carried the token (the writer's,
//      or that of any write of the key that did not complete before it): a conflict loser,
//      counted, not lost. checker.cc states the rules in full and why they are sound.
//   2. "divergence": the regions' final contents differ (the first keys that differ are named,
//      each region's value shown).
//   3. "non-linearizable": the strongly consistent operations (all writes and kStrongRead) on an
//      owned key, in its owning region, have no linearization under the register-of-token-lists
//      model (Wing & Gong search with memoization, as Knossos and Porcupine do), starting from an
//      absent item (the harness creates the table per run). Unknown outcomes may take effect at
//      any point after their invocation, or never. Eventual reads are not checked here, but every
//      token a read returns or a final value holds must have been written to that key by some
//      operation that did not fail ("phantom-read").
//   4. "duplicate-apply": a token appears more than once in a value (read or final).
//   5. liveness is measured, not judged here: the harness records when writes succeed again.
// Notes (not violations): keys whose search exceeded the bound ("unchecked"), writes to an owned
// key from another region (left out of its linearizability check), history defects (repeated ids
// or tokens), divergent keys beyond those named.
// Output is deterministic: keys in order, and per key the divergence, duplicate-apply,
// phantom-read, lost-write and non-linearizable findings in that order, ops by id.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/chaos/history.h"

namespace meridian::chaos {

// A region's final contents: key -> tokens (absent keys are not in the map).
using Contents = std::map<std::string, std::vector<std::string>>;

struct ConflictNote {  // from the regions' conflict logs (DATA/conflicts.log)
  std::string region;         // the region that resolved it
  std::string key;
  std::string loser_origin;   // the region whose write lost
  std::string winner_origin;
};

struct CheckInput {
  std::vector<Op> history;
  std::map<std::string, Contents> final_contents;  // region -> contents
  std::vector<ConflictNote> conflicts;
  // The per-key search is bounded; a key whose search exceeds it is reported as "unchecked"
  // (a note, not a pass and not a violation).
  uint64_t max_search_steps_per_key = 2'000'000;
};

struct Violation {
  std::string kind;    // "lost-write", "divergence", "non-linearizable", "duplicate-apply", "phantom-read"
  std::string key;
  std::string detail;  // what, with op ids and tokens
};

struct CheckResult {
  std::vector<Violation> violations;
  std::vector<std::string> notes;  // unchecked keys and the like
  // Counts for the results table.
  uint64_t operations = 0;
  uint64_t acknowledged = 0;       // writes with kOk (deletes included)
  uint64_t lost = 0;               // acknowledged writes found lost
  uint64_t conflict_losers = 0;    // acknowledged writes excused as conflict losers
  bool ok() const { return violations.empty(); }
};

CheckResult Check(const CheckInput& input);

// Owner region of a key ("o-us-east-3" -> "us-east"); nullopt for shared keys ("s-3") and for any
// key not of the form o-<region>-<digits>.
std::optional<std::string> OwnerOf(const std::string& key);

}  // namespace meridian::chaos
