// The conflict log: every write a region discards under the last-writer-wins rule, one JSON line
// each, so that what LWW loses stays visible (../shared/DESIGN.md, contract 6: "counted, logged
// (bounded, rotated)"). The count and the recent ones also live in the replicated state
// (ReplicationStatusResponse::conflicts); this file is the longer, node-local history an operator
// can grep.
//
// DIR/conflicts.log holds the newest lines; when appending a line would take it past
// `max_bytes_per_file`, it is renamed conflicts.log.1, an existing .1 becomes .2 and so on, and
// the oldest (.max_files-1) is dropped. So at most `max_files` files exist (conflicts.log and
// conflicts.log.1 .. .max_files-1) and the log never takes more than max_files *
// max_bytes_per_file bytes. The one exception to the per-file bound is a single line longer than
// the bound: it goes alone into a fresh file (a line is bounded anyway: a key is at most 3 KB and
// a version vector has one entry per region).
//
// One line (ConflictRecordToJson, then a newline):
//   {"time":"2024-05-01T12:34:56.789Z","table":"music","key":{"pk":{"S":"a"}},
//    "loser":{"vv":{"eu-west":3,"us-east":5},"hlc":..,"origin":"eu-west"},
//    "winner":{"vv":{...},"hlc":..,"origin":"us-east"},"loser_was_delete":false}
// `time` is the record's time_ms (when the region resolved the conflict) in ISO-8601 UTC; Append
// uses its wall clock when time_ms is 0 (ConflictRecordToJson then gives null). `key` is DynamoDB
// JSON (api/json_codec's item encoder).
//
// Errors: Append never throws and never crashes the caller. A failure to create the folder, open,
// write or rotate is counted and kept (stats(), status()); the line is lost, and the next Append
// tries again from a fresh open. Lines are written with write(2) without fsync: the log is for
// people, the replicated state is the record, and a process crash loses nothing already written.
//
// Thread-safety: all methods may be called from any thread; one mutex serializes appends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "storage/operations.h"
#include "storage/status.h"

namespace meridian {

struct ConflictLogStats {
  uint64_t appended = 0;   // lines written whole
  uint64_t io_errors = 0;  // failed creates, opens, writes and rotations (each line lost counts once)
  uint64_t lost = 0;       // lines not written because of an IO error
  uint64_t rotations = 0;
  std::string last_error;  // the most recent IO error, "" when none ever happened
};

class ConflictLog {
 public:
  // 8 MiB and 4 files: 32 MiB at most, some 40,000 conflicts of small keys.
  static constexpr size_t kDefaultMaxBytesPerFile = size_t{8} << 20;
  static constexpr int kDefaultMaxFiles = 4;

  // Nothing is touched until the first Append (which creates `dir` if needed). `max_files` below
  // 1 is taken as 1 (conflicts.log alone, emptied when full), `max_bytes_per_file` 0 as 1.
  explicit ConflictLog(std::filesystem::path dir, size_t max_bytes_per_file = kDefaultMaxBytesPerFile,
                       int max_files = kDefaultMaxFiles);
  ~ConflictLog();
  ConflictLog(const ConflictLog&) = delete;
  ConflictLog& operator=(const ConflictLog&) = delete;

  // Writes one line for `record`, rotating first when the line would not fit. Never throws; an IO
  // error is counted in stats() and reported by status().
  void Append(const ConflictRecord& record) noexcept;

  ConflictLogStats stats() const;
  // OK while no IO error has happened; otherwise InternalServerError naming the file, the number
  // of errors and the last one.
  Status status() const;

  // DIR/conflicts.log, and DIR/conflicts.log.N for N >= 1.
  std::filesystem::path file_path(int n = 0) const;
  size_t max_bytes_per_file() const { return max_bytes_per_file_; }
  int max_files() const { return max_files_; }

 private:
  bool OpenLocked();
  bool RotateLocked();
  void CloseLocked();
  void FailLocked(const std::string& what, int error_number);

  const std::filesystem::path dir_;
  const size_t max_bytes_per_file_;
  const int max_files_;

  mutable std::mutex mu_;
  int fd_ = -1;             // GUARDED_BY(mu_): conflicts.log, open for append; -1 when closed
  size_t size_ = 0;         // GUARDED_BY(mu_): its size while open
  bool needs_newline_ = false;  // GUARDED_BY(mu_): it ends in a torn line (a failed write)
  ConflictLogStats stats_;  // GUARDED_BY(mu_)
};

// "2024-05-01T12:34:56.789Z" for epoch milliseconds (UTC, millisecond precision).
std::string FormatIso8601Utc(int64_t epoch_ms);

// One conflict as the log writes it (see above), also used by `meridian status` for the recent
// conflicts. Keys follow insertion order so lines read time first.
nlohmann::ordered_json ConflictRecordToJson(const ConflictRecord& record);
// An item version: {"vv":{region: counter},"hlc":N,"origin":"region"}.
nlohmann::ordered_json ItemVersionToJson(const ItemVersion& version);

}  // namespace meridian
