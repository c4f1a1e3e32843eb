// Test helpers for multi-process tests: a temporary folder, a child process with its output in a
// log file, and running a command to completion with its stdout captured. Every wait is bounded.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace meridian::testing {

// A fresh folder under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  // Leaves the folder in place on destruction (a failed test keeps its logs and data to inspect).
  void Keep() { keep_ = true; }

 private:
  std::filesystem::path path_;
  bool keep_ = false;
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

// `n` distinct free TCP ports on 127.0.0.1 (all held open until every one is picked, then
// released, so another process could still take one before the caller binds it: rare, and the
// node then fails to start with a clear message).
std::vector<uint16_t> FreeTcpPorts(int n);

// What a facility node (`meridian start`) writes to DATA/endpoints.json once it serves.
struct NodeEndpoints {
  std::string native;
  std::string http;
  int64_t pid = 0;
  uint64_t node_id = 0;
};
// Waits (bounded) until DATA/endpoints.json names `node`'s pid — a file left by an earlier,
// killed process of the same facility does not count. nullopt if the node exits or the time runs
// out first.
std::optional<NodeEndpoints> WaitForNodeEndpoints(const std::filesystem::path& data, ChildProcess& node,
                                                  std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The whole file; "" when it cannot be read.
std::string ReadFileText(const std::filesystem::path& path);
// The last `lines` lines of a file (a node's log in a failure message).
std::string TailFile(const std::filesystem::path& path, int lines);

}  // namespace meridian::testing
