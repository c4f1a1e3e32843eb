// One child process of the chaos harness (a `meridian start` or `meridian replicator`), with the
// operations the faults need: SIGKILL, SIGSTOP/SIGCONT, SIGTERM with a bounded wait, and a start
// again with the same argv. Unlike tests/integration/process.h's ChildProcess, it keeps its argv
// for restarts, tracks paused/down state, and asks the kernel to SIGKILL the child when the
// harness dies (PR_SET_PDEATHSIG), so no node outlives a crashed or interrupted run. The child
// inherits no descriptor of the harness but its stdout/stderr (the log) and stdin (/dev/null).
//
// PR_SET_PDEATHSIG fires when the forking *thread* exits, so every Start must happen on the
// harness's main thread (which lives as long as the run).
//
// Thread-safety: not thread-safe; the harness drives every process from its main thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace meridian::chaos {

class SupervisedProcess {
 public:
  enum class State { kDown, kRunning, kPaused };

  // `log` receives the child's stdout and stderr (appended across restarts).
  SupervisedProcess(std::string name, std::vector<std::string> argv, std::filesystem::path log);
  ~SupervisedProcess();  // SIGKILLs a live child and reaps it
  SupervisedProcess(const SupervisedProcess&) = delete;
  SupervisedProcess& operator=(const SupervisedProcess&) = delete;

  const std::string& name() const { return name_; }
  // The argv of the next Start: the base argv plus `extra` (a fault such as a clock offset that
  // stays for the rest of the run).
  void SetExtraArgs(std::vector<std::string> extra) { extra_ = std::move(extra); }
  std::vector<std::string> argv() const;

  // Forks and execs; false when the process is not down or the fork fails.
  bool Start();
  void Kill();                                   // SIGKILL (SIGCONT first is not needed) and reap
  void Pause();                                  // SIGSTOP
  void Resume();                                 // SIGCONT
  // SIGCONT (so a paused node can act on it) and SIGTERM; returns at once.
  void Terminate();
  // Terminate, then SIGKILL once `grace` passes. Returns the exit status (or 128+signal).
  int Stop(std::chrono::milliseconds grace);
  // Waits up to `timeout` for the child to exit by itself; its exit status, nullopt if it did not.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout);

  // Reaps a child that exited by itself (a crash, an fsync failure) and reports the state.
  State state();
  pid_t pid() const { return pid_; }
  int last_exit() const { return last_exit_; }  // -1 before the first exit
  int starts() const { return starts_; }

 private:
  void Reaped(int status);
  void Note(const std::string& line);  // a harness line in the child's log, for reading it later

  std::string name_;
  std::vector<std::string> base_;
  std::vector<std::string> extra_;
  std::filesystem::path log_;
  pid_t pid_ = -1;
  State state_ = State::kDown;
  int last_exit_ = -1;
  int starts_ = 0;
};

}  // namespace meridian::chaos
