// Test helpers for multi-process tests: a temporary folder, a child process with its output in a
// log file, and running a command to completion with its stdout captured. Every wait is bounded.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace meridian::testing {

// A fresh folder under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A child process (execv of argv[0]) with stdout and stderr appended to `log`.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, const std::filesystem::path& log);
  ~ChildProcess();  // SIGKILLs if still running
  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // Waits up to `timeout` for the exit; returns the exit status (or 128+signal), -1 on timeout.
  int Wait(std::chrono::milliseconds timeout);
  bool running();

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = -1;
};

struct CommandResult {
  int exit_code = -1;  // -1: did not finish within the timeout (it was killed)
  std::string out;
};
// Runs argv to completion (at most `timeout`), feeding `input` on stdin; captures stdout.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input = "",
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Starts `meridian start-single-node` on port 0 in `data` and waits (bounded) for its
// DIR/endpoints.json. Returns the native endpoint, or "" if it did not come up.
std::string WaitForEndpoint(const std::filesystem::path& data, ChildProcess& node,
                            std::chrono::milliseconds timeout = std::chrono::seconds(20));

}  // namespace meridian::testing
