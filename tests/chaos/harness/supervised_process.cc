#include "tests/chaos/harness/supervised_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <thread>

namespace meridian::chaos {
namespace {

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string WallTime() {
  char buf[64];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(buf, sizeof buf, "%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

SupervisedProcess::SupervisedProcess(std::string name, std::vector<std::string> argv, std::filesystem::path log)
    : name_(std::move(name)), base_(std::move(argv)), log_(std::move(log)) {}

SupervisedProcess::~SupervisedProcess() {
  if (state() != State::kDown) Kill();
}

std::vector<std::string> SupervisedProcess::argv() const {
  std::vector<std::string> out = base_;
  out.insert(out.end(), extra_.begin(), extra_.end());
  return out;
}

void SupervisedProcess::Note(const std::string& line) {
  std::ofstream(log_, std::ios::app) << "---- chaos " << WallTime() << ": " << line << "\n";
}

bool SupervisedProcess::Start() {
  if (state() != State::kDown) return false;
  std::vector<std::string> args = argv();
  std::string command;
  for (const auto& a : args) command += (command.empty() ? "" : " ") + a;
  Note("start " + command);
  // Everything the child needs is prepared before fork: between fork and exec only
  // async-signal-safe calls are allowed (workers are running in other threads).
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    if (fd >= 0) ::close(fd);
    return false;
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(127);  // the harness died before prctl took effect
    ::setpgid(0, 0);  // a terminal's Ctrl-C reaches the harness only; it stops the children
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the harness blocks the stop signals
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    // Nothing else of the harness may live on in the child: an inherited copy of one of the fault
    // proxy's connections would keep it open after the proxy closes it, so the peer would never
    // see the close and would write into a connection nobody reads (a restarted follower that no
    // longer hears its leader). The proxy's sockets are not close-on-exec.
    ::close_range(3, ~0U, 0);
    ::execv(cargs[0], cargs.data());
    _exit(127);
  }
  if (fd >= 0) ::close(fd);
  pid_ = pid;
  state_ = State::kRunning;
  ++starts_;
  return true;
}

void SupervisedProcess::Reaped(int status) {
  last_exit_ = DecodeStatus(status);
  Note("exited " + std::to_string(last_exit_) + " (pid " + std::to_string(pid_) + ")");
  pid_ = -1;
  state_ = State::kDown;
}

SupervisedProcess::State SupervisedProcess::state() {
  if (state_ == State::kDown) return state_;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) Reaped(status);
  return state_;
}

void SupervisedProcess::Kill() {
  if (state() == State::kDown) return;
  Note("SIGKILL");
  ::kill(pid_, SIGKILL);
  int status = 0;
  // SIGKILL cannot be caught, ignored or held by SIGSTOP: the wait ends.
  if (::waitpid(pid_, &status, 0) == pid_) Reaped(status);
}

void SupervisedProcess::Pause() {
  if (state() != State::kRunning) return;
  Note("SIGSTOP");
  ::kill(pid_, SIGSTOP);
  state_ = State::kPaused;
}

void SupervisedProcess::Resume() {
  if (state() != State::kPaused) return;
  Note("SIGCONT");
  ::kill(pid_, SIGCONT);
  state_ = State::kRunning;
}

std::optional<int> SupervisedProcess::WaitExit(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (state() != State::kDown) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return last_exit_;
}

void SupervisedProcess::Terminate() {
  if (state() == State::kDown) return;
  Note("SIGTERM");
  ::kill(pid_, SIGCONT);
  state_ = State::kRunning;
  ::kill(pid_, SIGTERM);
}

int SupervisedProcess::Stop(std::chrono::milliseconds grace) {
  Terminate();
  if (state() == State::kDown) return last_exit_;
  if (std::optional<int> code = WaitExit(grace)) return *code;
  Kill();
  return last_exit_;
}

}  // namespace meridian::chaos
