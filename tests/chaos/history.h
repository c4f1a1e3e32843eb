// The chaos suite's history: every client operation as invoked and completed, in the manner of
// Jepsen. Workers append Ops; the checker (checker.h) judges the whole history once faults stop
// and the cluster has quiesced. One JSON object per line on disk (history.jsonl in the run's
// folder), so a failing run can be read, replayed through the checker, and plotted.
//
// The data model the workers use (what makes the checks possible):
//   - a table `chaos` with partition key `k` (S); every item holds `v`, a list of tokens (S);
//   - a token is unique to one operation ("<worker>-<seq>"), so an item shows which writes it
//     holds, and a token present twice means a write applied twice;
//   - key spaces: `o-<region>-<i>` written only by workers of <region> (loss and per-region
//     linearizability), `s-<i>` written by every region (conflicts and convergence).
// Operations on an item:
//   kPut          PutItem {k, v: [token]}                      v := [token]
//   kAppend       UpdateItem SET v = list_append(if_not_exists(v, :empty), :token)
//                                                              v := v ++ [token]  (absent: [token])
//   kCasAppend    the same with ConditionExpression size(v) = :expected_len
//                                                              ok: v := v ++ [token]; fail: unchanged
//                 (the condition never holds on an absent item: in DynamoDB a function of a
//                 missing attribute makes the comparison false, so workers expect a length >= 1;
//                 a kFail whose error names ConditionalCheckFailed is an observation too: the
//                 condition did not hold at some instant within the operation's interval)
//   kDelete       DeleteItem                                   absent
//   kStrongRead   GetItem ConsistentRead=true                  returns v (or absent)
//   kEventualRead GetItem ConsistentRead=false                 returns v (or absent), may be stale
//
// Thread-safety: HistoryWriter is thread-safe (workers share one); the rest are plain values.
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "storage/status.h"

namespace meridian::chaos {

enum class OpType { kPut, kAppend, kCasAppend, kDelete, kStrongRead, kEventualRead };

// kOk: acknowledged. kFail: definitely not applied (ConditionalCheckFailedException, a
// ValidationException, or an error the node returns before doing anything). kUnknown: may or may
// not have been applied (timeout, unreachable after sending, ServiceUnavailable after a forward):
// the checker lets it take effect at any time after its invocation, or never.
enum class Outcome { kOk, kFail, kUnknown };

struct Op {
  uint64_t id = 0;           // unique in the history, in invocation order per worker
  int worker = 0;
  std::string region;        // where the worker sends (its region client's region)
  OpType type = OpType::kPut;
  std::string key;
  std::string token;         // writes: the token written ("" for deletes and reads)
  int64_t expected_len = 0;  // kCasAppend: the length the condition expects
  // Reads that are kOk: the tokens read; nullopt when the item was absent.
  std::optional<std::vector<std::string>> read;
  Outcome outcome = Outcome::kUnknown;
  std::string error;         // the error's __type and message when not kOk
  int64_t invoke_ns = 0;     // steady clock of the harness process
  int64_t complete_ns = 0;   // 0 when the harness stopped before the answer (then kUnknown)
};

const char* OpTypeName(OpType type);      // "put", "append", "cas-append", "delete", "strong-read", "eventual-read"
const char* OutcomeName(Outcome outcome); // "ok", "fail", "unknown"
bool IsWrite(OpType type);

// One line, no newline: every field of Op, `type` and `outcome` by name, `read` null when nullopt
// (so an absent item and an empty list stay distinct).
std::string OpToJson(const Op& op);
// ValidationException on a line that is not such an object (bad JSON, a field of the wrong type,
// an unknown type or outcome name). `token`, `expected_len`, `read`, `error` and `complete_ns` may
// be missing (their defaults); the other fields are required.
Result<Op> OpFromJson(const std::string& line);

// Appends ops as JSON lines to a file (created or truncated by Open: a history is one run), flushed
// per op, so a crashed harness leaves a readable prefix.
class HistoryWriter {
 public:
  static Result<std::unique_ptr<HistoryWriter>> Open(const std::string& path);
  void Append(const Op& op);
  // The first write or flush failure of any Append (sticky), OK if none: a history that was not
  // fully written cannot be judged, so the harness checks this before running the checker.
  Status status();

 private:
  std::mutex mu_;
  std::ofstream out_;   // guarded by mu_
  Status status_;       // guarded by mu_
};

// Reads a history written by HistoryWriter. Blank lines are skipped. A last line that has no
// newline and does not parse is the op a crash interrupted mid-write: it is skipped, so the rest of
// the history can be read (the skipped op's token, if applied, then reads as a phantom: a crashed
// harness's history is for inspection, not for a verdict). Any other bad line is a
// ValidationException that names its line number (1-based); so is a file that cannot be opened.
Result<std::vector<Op>> ReadHistory(const std::string& path);

}  // namespace meridian::chaos
