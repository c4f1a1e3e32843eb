#include "tests/chaos/fault_proxy.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <future>
#include <map>
#include <random>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_set>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

extern char** environ;

namespace meridian::chaos {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

// One read's worth of bytes: the unit that latency, jitter and loss apply to (a TCP segment's
// role), and small enough that a held chunk does not hold much.
constexpr size_t kChunkBytes = 64 << 10;
// After an accept error (EMFILE, ENOBUFS), wait this long before accepting again rather than spin.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);

Status ValidateFaults(const LinkFaults& f) {
  if (f.latency_ms < 0 || f.jitter_ms < 0 || f.retransmit_ms < 0) {
    return Status::Validation("latency_ms, jitter_ms and retransmit_ms must not be negative");
  }
  if (!(f.loss >= 0 && f.loss <= 1)) return Status::Validation("loss must be within [0, 1]");
  return Status::Ok();
}

// A link's own RNG stream (the proxy's seed and an FNV-1a hash of its name), so that adding a
// link or traffic on one link does not change the draws of another.
uint64_t LinkSeed(uint64_t seed, const std::string& name) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ULL;
  return seed ^ (h * 0x9e3779b97f4a7c15ULL);
}

// Closing with SO_LINGER 0 sends an RST, which is what a peer across a cut link sees.
void Reset(tcp::socket& s) {
  error_code ec;
  s.set_option(tcp::socket::linger(true, 0), ec);
  s.close(ec);
}

class Connection;

// Everything here is touched on the IO thread only.
struct Link {
  Link(net::io_context& io, std::string link_name, std::vector<tcp::endpoint> endpoints, uint64_t seed)
      : name(std::move(link_name)), target(std::move(endpoints)), acceptor(io), accept_retry(io),
        rng(seed) {}

  const std::string name;
  const std::vector<tcp::endpoint> target;
  tcp::acceptor acceptor;
  net::steady_timer accept_retry;
  LinkFaults faults;
  LinkStats stats;
  std::mt19937_64 rng;
  // Owns the open connections; a connection removes itself when it ends.
  std::unordered_set<std::shared_ptr<Connection>> connections;
};

// One client connection and its connection to the target: two directions, each a queue of chunks
// with delivery times, a reader that fills it (until kPendingBytesMax) and a writer that drains it
// in order when each chunk is due and the link is not stalled.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Link> link, tcp::socket client)
      : link_(std::move(link)),
        client_(std::move(client)),
        server_(client_.get_executor()),
        up_(client_, server_),
        down_(server_, client_) {}

  void Start() {
    net::async_connect(server_, link_->target,
                       [self = shared_from_this()](const error_code& ec, const tcp::endpoint&) {
                         if (self->closed_) return;
                         if (ec) {
                           self->Abort();  // the target is down: the client sees a reset
                           return;
                         }
                         error_code ignored;  // Nagle would only add delay the link did not ask for
                         self->client_.set_option(tcp::no_delay(true), ignored);
                         self->server_.set_option(tcp::no_delay(true), ignored);
                         self->Read(self->up_);
                         self->Read(self->down_);
                       });
  }

  // Ends the connection at once: both sides reset, queued bytes dropped. Idempotent.
  void Abort() {
    if (closed_) return;
    auto self = shared_from_this();  // the link's set may hold the last reference
    closed_ = true;
    Reset(client_);
    Reset(server_);
    up_.timer.cancel();
    down_.timer.cancel();
    link_->connections.erase(self);
  }

  // The link's faults changed (a stall cleared): writers idle for it may go on.
  void Kick() {
    Write(up_);
    Write(down_);
  }

 private:
  struct Chunk {
    std::string bytes;
    Clock::time_point due;
  };

  struct Direction {
    Direction(tcp::socket& source, tcp::socket& sink) : src(source), dst(sink), timer(source.get_executor()) {}
    tcp::socket& src;
    tcp::socket& dst;
    std::array<char, kChunkBytes> buf;
    std::deque<Chunk> queue;
    size_t pending_bytes = 0;
    net::steady_timer timer;  // waits for the queue's first chunk to be due
    bool reading = false;
    bool writing = false;
    bool waiting = false;
    bool eof = false;        // the source sent FIN
    bool shut_down = false;  // the FIN was forwarded
  };

  void Read(Direction& d) {
    if (closed_ || d.reading || d.eof || d.pending_bytes >= kPendingBytesMax) return;
    d.reading = true;
    d.src.async_read_some(net::buffer(d.buf), [self = shared_from_this(), &d](const error_code& ec, size_t n) {
      d.reading = false;
      if (self->closed_) return;
      if (n > 0) self->Enqueue(d, n);
      if (ec == net::error::eof) {
        d.eof = true;
      } else if (ec) {
        self->Abort();  // a reset on one side is passed on as a reset to the other
        return;
      }
      self->Read(d);
      self->Write(d);
    });
  }

  void Enqueue(Direction& d, size_t n) {
    const LinkFaults& f = link_->faults;
    int delay_ms = f.latency_ms;
    if (f.jitter_ms > 0) {
      delay_ms += std::uniform_int_distribution<int>(-f.jitter_ms, f.jitter_ms)(link_->rng);
    }
    if (f.loss > 0 && std::bernoulli_distribution(f.loss)(link_->rng)) {
      delay_ms += f.retransmit_ms;
      ++link_->stats.chunks_held;
    }
    // The queue is drained in order, so a chunk never overtakes the one before it: as in TCP, a
    // held chunk holds those behind it.
    Clock::time_point due = Clock::now() + std::chrono::milliseconds(std::max(delay_ms, 0));
    d.queue.push_back(Chunk{std::string(d.buf.data(), n), due});
    d.pending_bytes += n;
  }

  void Write(Direction& d) {
    if (closed_ || d.writing || d.waiting || link_->faults.stall) return;
    if (d.queue.empty()) {
      if (d.eof && !d.shut_down) {
        d.shut_down = true;
        error_code ec;
        d.dst.shutdown(tcp::socket::shutdown_send, ec);
        if (ec) {
          Abort();
          return;
        }
        if (up_.shut_down && down_.shut_down) Finish();
      }
      return;
    }
    if (d.queue.front().due > Clock::now()) {
      d.waiting = true;
      d.timer.expires_at(d.queue.front().due);
      d.timer.async_wait([self = shared_from_this(), &d](const error_code&) {
        d.waiting = false;
        self->Write(d);
      });
      return;
    }
    d.writing = true;
    net::async_write(d.dst, net::buffer(d.queue.front().bytes),
                     [self = shared_from_this(), &d](const error_code& ec, size_t n) {
                       d.writing = false;
                       if (self->closed_) return;
                       if (ec) {
                         self->Abort();
                         return;
                       }
                       self->link_->stats.bytes_forwarded += n;
                       d.pending_bytes -= d.queue.front().bytes.size();
                       d.queue.pop_front();
                       self->Read(d);  // it may have stopped at kPendingBytesMax
                       self->Write(d);
                     });
  }

  // Both sides have sent FIN and every byte was delivered: a clean close.
  void Finish() {
    auto self = shared_from_this();
    closed_ = true;
    error_code ignored;
    client_.close(ignored);
    server_.close(ignored);
    link_->connections.erase(self);
  }

  std::shared_ptr<Link> link_;
  tcp::socket client_;
  tcp::socket server_;
  Direction up_;    // client -> target
  Direction down_;  // target -> client
  bool closed_ = false;
};

}  // namespace

struct FaultProxy::Impl {
  explicit Impl(uint64_t proxy_seed)
      : seed(proxy_seed), work(net::make_work_guard(io)), thread([this] { io.run(); }) {}

  ~Impl() {
    Call([this] {
      for (auto& [name, link] : links) {
        error_code ignored;
        link->acceptor.close(ignored);
        link->accept_retry.cancel();
        for (const auto& c : std::vector(link->connections.begin(), link->connections.end())) c->Abort();
      }
    });
    // Handlers still queued (aborted reads, cancelled timers) are destroyed with the io_context.
    work.reset();
    io.stop();
    thread.join();
  }

  // Runs f on the IO thread (which owns every link) and returns its result.
  template <typename F>
  std::invoke_result_t<F&> Call(F f) {
    if (io.get_executor().running_in_this_thread()) return f();
    std::packaged_task<std::invoke_result_t<F&>()> task(std::move(f));
    auto result = task.get_future();
    net::post(io, [&task] { task(); });
    return result.get();
  }

  void Accept(const std::shared_ptr<Link>& link) {
    link->acceptor.async_accept([this, link](const error_code& ec, tcp::socket client) {
      if (!link->acceptor.is_open()) return;  // shutting down
      if (ec) {
        link->accept_retry.expires_after(kAcceptRetryDelay);
        link->accept_retry.async_wait([this, link](const error_code& wait_ec) {
          if (!wait_ec) Accept(link);
        });
        return;
      }
      ++link->stats.connections;
      if (link->faults.blocked) {
        Reset(client);
        ++link->stats.connections_cut;
      } else {
        auto c = std::make_shared<Connection>(link, std::move(client));
        link->connections.insert(c);
        c->Start();
      }
      Accept(link);
    });
  }

  void Apply(Link& link, const LinkFaults& faults) {
    bool unstalled = link.faults.stall && !faults.stall;
    link.faults = faults;
    // Copies: Abort removes the connection from the set.
    std::vector<std::shared_ptr<Connection>> open(link.connections.begin(), link.connections.end());
    if (faults.blocked) {
      for (const auto& c : open) c->Abort();
      link.stats.connections_cut += open.size();
    } else if (unstalled) {
      for (const auto& c : open) c->Kick();
    }
  }

  net::io_context io;
  const uint64_t seed;
  net::executor_work_guard<net::io_context::executor_type> work;
  std::map<std::string, std::shared_ptr<Link>> links;  // IO thread only
  std::thread thread;                                  // last: it starts running at construction
};

FaultProxy::FaultProxy(uint64_t seed) : impl_(std::make_unique<Impl>(seed)) {}

FaultProxy::~FaultProxy() = default;

Result<uint16_t> FaultProxy::AddLink(const std::string& name, const std::string& target_host,
                                     uint16_t target_port, uint16_t listen_port) {
  // Resolved once, here, so a connect never waits on a resolver on the IO thread.
  error_code ec;
  tcp::resolver resolver(impl_->io);
  auto resolved = resolver.resolve(target_host, std::to_string(target_port), ec);
  if (ec) return Status::Internal("link " + name + ": cannot resolve " + target_host + ": " + ec.message());
  std::vector<tcp::endpoint> target;
  for (const auto& entry : resolved) target.push_back(entry.endpoint());

  return impl_->Call([&]() -> Result<uint16_t> {
    if (impl_->links.count(name)) return Status::InUse("link " + name + " already exists");
    auto link = std::make_shared<Link>(impl_->io, name, std::move(target), LinkSeed(impl_->seed, name));
    tcp::endpoint local(net::ip::make_address_v4("127.0.0.1"), listen_port);
    error_code e;
    link->acceptor.open(local.protocol(), e);
    if (!e) link->acceptor.set_option(tcp::acceptor::reuse_address(true), e);
    if (!e) link->acceptor.bind(local, e);
    if (!e) link->acceptor.listen(net::socket_base::max_listen_connections, e);
    if (e) {
      return Status::Internal("link " + name + ": cannot listen on 127.0.0.1:" + std::to_string(listen_port) +
                              ": " + e.message());
    }
    uint16_t port = link->acceptor.local_endpoint().port();
    impl_->links.emplace(name, link);
    impl_->Accept(link);
    return port;
  });
}

Status FaultProxy::Configure(const std::string& name, const LinkFaults& faults) {
  MERIDIAN_RETURN_IF_ERROR(ValidateFaults(faults));
  return impl_->Call([&]() -> Status {
    auto it = impl_->links.find(name);
    if (it == impl_->links.end()) return Status::NotFound("no link " + name);
    impl_->Apply(*it->second, faults);
    return Status::Ok();
  });
}

Result<size_t> FaultProxy::ConfigureMatching(const std::string& from, const std::string& to,
                                             const LinkFaults& faults) {
  MERIDIAN_RETURN_IF_ERROR(ValidateFaults(faults));
  return impl_->Call([&]() -> Result<size_t> {
    size_t matched = 0;
    for (auto& [name, link] : impl_->links) {
      size_t arrow = name.find("->");
      std::string_view src = std::string_view(name).substr(0, arrow);
      std::string_view dst = arrow == std::string::npos ? std::string_view() : std::string_view(name).substr(arrow + 2);
      if (!src.starts_with(from) || !dst.starts_with(to)) continue;
      impl_->Apply(*link, faults);
      ++matched;
    }
    return matched;
  });
}

void FaultProxy::ClearAll() {
  impl_->Call([&] {
    for (auto& [name, link] : impl_->links) impl_->Apply(*link, LinkFaults{});
  });
}

Result<LinkFaults> FaultProxy::Faults(const std::string& name) const {
  return impl_->Call([&]() -> Result<LinkFaults> {
    auto it = impl_->links.find(name);
    if (it == impl_->links.end()) return Status::NotFound("no link " + name);
    return it->second->faults;
  });
}

Result<LinkStats> FaultProxy::Stats(const std::string& name) const {
  return impl_->Call([&]() -> Result<LinkStats> {
    auto it = impl_->links.find(name);
    if (it == impl_->links.end()) return Status::NotFound("no link " + name);
    return it->second->stats;
  });
}

std::vector<std::string> FaultProxy::Links() const {
  return impl_->Call([&] {
    std::vector<std::string> names;
    for (const auto& [name, link] : impl_->links) names.push_back(name);
    return names;
  });
}

namespace {

// The full path of an executable named `name` in $PATH or the sbin folders (where `ip` and `tc`
// live, often outside a user's PATH); empty when there is none.
std::string FindTool(const std::string& name) {
  const char* env = std::getenv("PATH");
  std::string dirs = std::string(env ? env : "") + ":/usr/sbin:/sbin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (!dir.empty()) {
      std::string path = dir + "/" + name;
      if (access(path.c_str(), X_OK) == 0) return path;
    }
    start = end + 1;
  }
  return "";
}

// Runs argv (argv[0] a full path) with its output discarded; true when it exits 0.
bool RunQuietly(std::vector<std::string> argv) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return false;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return false;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

bool KernelHasNetem() {
  static const bool has_netem = [] {
    std::string ip = FindTool("ip");
    std::string tc = FindTool("tc");
    if (ip.empty() || tc.empty()) return false;
    // A namespace of our own, so the probe's qdisc touches no interface anything else uses.
    std::string ns = "meridian-netem-probe-" + std::to_string(getpid());
    if (!RunQuietly({ip, "netns", "add", ns})) return false;
    bool ok = RunQuietly({ip, "netns", "exec", ns, tc, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "0ms"});
    // The answer stands even if the delete fails; the namespace is then left named for its pid.
    RunQuietly({ip, "netns", "delete", ns});
    return ok;
  }();
  return has_netem;
}

}  // namespace meridian::chaos
