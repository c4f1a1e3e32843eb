#include "region/conflict_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <exception>
#include <system_error>
#include <utility>

#include "api/json_codec.h"

namespace meridian {
namespace {

constexpr char kFileName[] = "conflicts.log";

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string ErrnoText(int error_number) { return std::error_code(error_number, std::generic_category()).message(); }

}  // namespace

std::string FormatIso8601Utc(int64_t epoch_ms) {
  // Floor division, so times before 1970 still print a millisecond part in 0..999.
  int64_t seconds = epoch_ms / 1000;
  int64_t millis = epoch_ms % 1000;
  if (millis < 0) {
    millis += 1000;
    seconds -= 1;
  }
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return "invalid-time(" + std::to_string(epoch_ms) + ")";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  return buf;
}

nlohmann::ordered_json ItemVersionToJson(const ItemVersion& version) {
  nlohmann::ordered_json vv = nlohmann::ordered_json::object();
  for (const auto& [region, counter] : version.vv) vv[region] = counter;
  return {{"vv", std::move(vv)}, {"hlc", version.hlc}, {"origin", version.origin}};
}

nlohmann::ordered_json ConflictRecordToJson(const ConflictRecord& record) {
  nlohmann::ordered_json j;
  j["time"] = record.time_ms > 0 ? nlohmann::ordered_json(FormatIso8601Utc(record.time_ms))
                                 : nlohmann::ordered_json(nullptr);
  j["table"] = record.table;
  j["key"] = nlohmann::ordered_json(api::ItemToJson(record.key));
  j["loser"] = ItemVersionToJson(record.loser);
  j["winner"] = ItemVersionToJson(record.winner);
  j["loser_was_delete"] = record.loser_was_delete;
  return j;
}

ConflictLog::ConflictLog(std::filesystem::path dir, size_t max_bytes_per_file, int max_files)
    : dir_(std::move(dir)),
      max_bytes_per_file_(max_bytes_per_file == 0 ? 1 : max_bytes_per_file),
      max_files_(max_files < 1 ? 1 : max_files) {}

ConflictLog::~ConflictLog() {
  std::lock_guard lock(mu_);
  CloseLocked();
}

std::filesystem::path ConflictLog::file_path(int n) const {
  return n == 0 ? dir_ / kFileName : dir_ / (std::string(kFileName) + "." + std::to_string(n));
}

void ConflictLog::FailLocked(const std::string& what, int error_number) {
  ++stats_.io_errors;
  stats_.last_error = what + ": " + ErrnoText(error_number);
}

void ConflictLog::CloseLocked() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  size_ = 0;
}

bool ConflictLog::OpenLocked() {
  if (fd_ >= 0) return true;
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) {
    FailLocked("cannot create " + dir_.string(), ec.value());
    return false;
  }
  const std::string path = file_path(0).string();
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    FailLocked("cannot open " + path, errno);
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    FailLocked("cannot stat " + path, errno);
    ::close(fd);
    return false;
  }
  fd_ = fd;
  size_ = static_cast<size_t>(st.st_size);
  // A line torn by an earlier failure (or a crash mid-write) must not swallow the next one.
  needs_newline_ = false;
  if (size_ > 0) {
    int rfd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    char last = '\n';
    if (rfd >= 0) {
      if (::pread(rfd, &last, 1, static_cast<off_t>(size_ - 1)) != 1) last = '\n';
      ::close(rfd);
    }
    needs_newline_ = last != '\n';
  }
  return true;
}

bool ConflictLog::RotateLocked() {
  CloseLocked();
  std::error_code ec;
  // Drop the oldest, then shift .N-1 -> .N ... .1 -> .2, then conflicts.log -> .1. With one file
  // in all, the current file is simply dropped.
  std::filesystem::remove(file_path(max_files_ - 1), ec);
  if (ec) {
    FailLocked("cannot remove " + file_path(max_files_ - 1).string(), ec.value());
    return false;
  }
  for (int n = max_files_ - 2; n >= 0; --n) {
    const std::filesystem::path from = file_path(n);
    if (!std::filesystem::exists(from, ec)) continue;
    std::filesystem::rename(from, file_path(n + 1), ec);
    if (ec) {
      FailLocked("cannot rename " + from.string(), ec.value());
      return false;
    }
  }
  ++stats_.rotations;
  return OpenLocked();
}

void ConflictLog::Append(const ConflictRecord& record) noexcept {
  std::lock_guard lock(mu_);
  try {
    std::string line;
    {
      nlohmann::ordered_json j = ConflictRecordToJson(record);
      if (record.time_ms <= 0) j["time"] = FormatIso8601Utc(WallClockMs());
      // An S value that is not valid UTF-8 (possible over the native protocol) is replaced, not
      // thrown about: the line must be written.
      line = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    }
    line.push_back('\n');
    if (!OpenLocked()) {
      ++stats_.lost;
      return;
    }
    // Rotate first when the line would take the file past its bound; a line longer than the
    // bound then goes alone into the fresh file.
    if (size_ > 0 && size_ + line.size() + (needs_newline_ ? 1 : 0) > max_bytes_per_file_) {
      if (!RotateLocked()) {
        ++stats_.lost;
        return;
      }
    }
    if (needs_newline_) line.insert(line.begin(), '\n');
    size_t written = 0;
    while (written < line.size()) {
      ssize_t n = ::write(fd_, line.data() + written, line.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        // Closed, so the next Append reopens and looks at how the file ends (a torn line gets
        // its newline then).
        FailLocked("cannot write " + file_path(0).string(), n < 0 ? errno : EIO);
        ++stats_.lost;
        CloseLocked();
        return;
      }
      written += static_cast<size_t>(n);
    }
    size_ += written;
    needs_newline_ = false;
    ++stats_.appended;
  } catch (const std::exception& e) {
    ++stats_.io_errors;
    ++stats_.lost;
    stats_.last_error = std::string("cannot format a conflict: ") + e.what();
  } catch (...) {
    ++stats_.io_errors;
    ++stats_.lost;
    stats_.last_error = "cannot format a conflict";
  }
}

ConflictLogStats ConflictLog::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

Status ConflictLog::status() const {
  std::lock_guard lock(mu_);
  if (stats_.io_errors == 0) return Status::Ok();
  return Status::Internal("conflict log " + file_path(0).string() + ": " + std::to_string(stats_.io_errors) +
                          " IO error(s), " + std::to_string(stats_.lost) + " line(s) lost; last: " +
                          stats_.last_error);
}

}  // namespace meridian
