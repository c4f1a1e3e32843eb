// The fault proxy against an echo server on 127.0.0.1: bytes cross unchanged and in order under
// every fault, faults do what the header says (latency as a lower bound only: no timed
// assertions), and the proxy stays bounded and shuts down cleanly. Every test prints its seed.
#include "tests/chaos/fault_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

namespace meridian::chaos {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A generous bound on any one wait, so a broken proxy fails a test instead of hanging it.
constexpr auto kWait = 30s;

uint64_t NewSeed() {
  std::random_device rd;
  uint64_t seed = (uint64_t{rd()} << 32) ^ rd();
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  return seed;
}

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Every byte back, a FIN for a FIN.
class EchoServer {
 public:
  EchoServer() : acceptor_(io_, tcp::endpoint(net::ip::make_address_v4("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    Accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~EchoServer() {
    io_.stop();
    thread_.join();
  }
  uint16_t port() const { return port_; }

 private:
  struct Session : std::enable_shared_from_this<Session> {
    explicit Session(tcp::socket s) : socket(std::move(s)) {}
    void Read() {
      socket.async_read_some(net::buffer(buf), [self = shared_from_this()](boost::system::error_code ec, size_t n) {
        if (ec == net::error::eof) {
          self->socket.shutdown(tcp::socket::shutdown_send, ec);
          return;
        }
        if (ec) return;
        net::async_write(self->socket, net::buffer(self->buf.data(), n),
                         [self](boost::system::error_code wec, size_t) {
                           if (!wec) self->Read();
                         });
      });
    }
    tcp::socket socket;
    std::array<char, 64 << 10> buf;
  };

  void Accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      std::make_shared<Session>(std::move(s))->Read();
      Accept();
    });
  }

  net::io_context io_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::thread thread_;
};

// How a read ended.
enum class End { kComplete, kEof, kReset, kTimeout };

// A plain non-blocking socket with deadlines on every call, so the test controls timing.
class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = fd_ >= 0 && connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    if (connected_) connected_ = fcntl(fd_, F_SETFL, O_NONBLOCK) == 0;
  }
  ~Client() {
    if (fd_ >= 0) close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }

  // Sends every byte unless the peer fails or the timeout passes first.
  bool Send(std::string_view data, Clock::duration timeout = kWait) {
    Clock::time_point deadline = Clock::now() + timeout;
    while (!data.empty()) {
      ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<size_t>(n));
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (!Poll(POLLOUT, deadline)) return false;
      } else {
        return false;
      }
    }
    return true;
  }

  // As much of data as goes without waiting more than `quiet` for room; the bytes sent.
  size_t SendUntilBlocked(std::string_view data, Clock::duration quiet) {
    size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (!Poll(POLLOUT, Clock::now() + quiet)) break;
      } else {
        break;
      }
    }
    return sent;
  }

  void ShutdownWrite() { shutdown(fd_, SHUT_WR); }

  // Up to n bytes (SIZE_MAX: until the end), returned with how the read ended.
  std::string Read(size_t n, Clock::duration timeout, End* end) {
    Clock::time_point deadline = Clock::now() + timeout;
    std::string out;
    std::array<char, 64 << 10> buf;
    while (out.size() < n) {
      ssize_t got = recv(fd_, buf.data(), std::min(buf.size(), n - out.size()), 0);
      if (got > 0) {
        out.append(buf.data(), static_cast<size_t>(got));
      } else if (got == 0) {
        *end = End::kEof;
        return out;
      } else if (errno == EAGAIN || errno == EINTR) {
        if (!Poll(POLLIN, deadline)) {
          *end = End::kTimeout;
          return out;
        }
      } else {
        *end = End::kReset;
        return out;
      }
    }
    *end = End::kComplete;
    return out;
  }

  std::string ReadExactly(size_t n, Clock::duration timeout = kWait) {
    End end;
    return Read(n, timeout, &end);
  }

  // Reads to the end of the stream; the bytes read and whether it was an EOF or a reset.
  std::string ReadToEnd(End* end, Clock::duration timeout = kWait) { return Read(SIZE_MAX, timeout, end); }

  // One round trip through the echo server.
  bool Echo(std::string_view message) {
    return Send(message) && ReadExactly(message.size()) == message;
  }

 private:
  bool Poll(short events, Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms) return false;
    pollfd p{fd_, events, 0};
    int rc = poll(&p, 1, static_cast<int>(left.count()));
    return rc > 0 || (rc < 0 && errno == EINTR);
  }

  int fd_ = -1;
  bool connected_ = false;
};

bool Closed(End end) { return end == End::kEof || end == End::kReset; }

// Waits (bounded) until the link's stats satisfy pred: a stat is counted on the IO thread after
// the bytes it counts may already have been read by the client.
template <typename Pred>
LinkStats StatsWhen(const FaultProxy& proxy, const std::string& link, Pred pred) {
  Clock::time_point deadline = Clock::now() + kWait;
  while (true) {
    Result<LinkStats> stats = proxy.Stats(link);
    EXPECT_TRUE(stats.ok());
    if (!stats.ok() || pred(*stats) || Clock::now() > deadline) return stats.ok() ? *stats : LinkStats{};
    std::this_thread::sleep_for(10ms);
  }
}

uint16_t AddLinkOrDie(FaultProxy& proxy, const std::string& name, uint16_t target) {
  Result<uint16_t> port = proxy.AddLink(name, "127.0.0.1", target);
  EXPECT_TRUE(port.ok()) << port.status().ToString();
  return port.ok() ? *port : 0;
}

TEST(FaultProxyTest, LargeTransferCrossesUnchangedAndFinFollows) {
  uint64_t seed = NewSeed();
  std::mt19937_64 rng(seed);
  EchoServer echo;
  FaultProxy proxy(seed);
  uint16_t port = AddLinkOrDie(proxy, "a->b", echo.port());

  const std::string data = RandomBytes(rng, 8 << 20);
  Client client(port);
  ASSERT_TRUE(client.connected());
  // Sending and reading at once: the echo path holds far less than 8 MiB.
  bool sent = false;
  std::thread sender([&] {
    sent = client.Send(data, 120s);
    client.ShutdownWrite();
  });
  End end;
  std::string back = client.Read(data.size(), 120s, &end);
  sender.join();
  EXPECT_TRUE(sent);
  ASSERT_EQ(back.size(), data.size());
  EXPECT_TRUE(back == data) << "bytes changed in transit";
  // The client's FIN reached the echo server, whose FIN came back after the last byte.
  std::string rest = client.ReadToEnd(&end);
  EXPECT_EQ(end, End::kEof);
  EXPECT_TRUE(rest.empty());

  LinkStats stats = StatsWhen(proxy, "a->b", [&](const LinkStats& s) { return s.bytes_forwarded == 2 * data.size(); });
  EXPECT_EQ(stats.connections, 1u);
  EXPECT_EQ(stats.bytes_forwarded, 2 * data.size());
  EXPECT_EQ(stats.chunks_held, 0u);
  EXPECT_EQ(stats.connections_cut, 0u);
}

TEST(FaultProxyTest, HalfCloseDeliversBytesBeforeFin) {
  uint64_t seed = NewSeed();
  EchoServer echo;
  FaultProxy proxy(seed);
  uint16_t port = AddLinkOrDie(proxy, "a->b", echo.port());
  ASSERT_TRUE(proxy.Configure("a->b", LinkFaults{.latency_ms = 20}).ok());

  Client client(port);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send("hello, half-closed"));
  client.ShutdownWrite();  // the FIN is queued behind the delayed bytes, not ahead of them
  End end;
  EXPECT_EQ(client.ReadToEnd(&end), "hello, half-closed");
  EXPECT_EQ(end, End::kEof);
}

TEST(FaultProxyTest, LatencyDelaysEachCrossing) {
  uint64_t seed = NewSeed();
  EchoServer echo;
  FaultProxy proxy(seed);
  uint16_t port = AddLinkOrDie(proxy, "a->b", echo.port());
  ASSERT_TRUE(proxy.Configure("a->b", LinkFaults{.latency_ms = 100}).ok());

  Client client(port);
  ASSERT_TRUE(client.connected());
  for (int i = 0; i < 3; ++i) {
    Clock::time_point start = Clock::now();
    ASSERT_TRUE(client.Echo("ping " + std::to_string(i)));
    // A lower bound only: the request and the reply each cross the link once.
    EXPECT_GE(Clock::now() - start, 200ms);
  }
}

TEST(FaultProxyTest, JitterAndLossKeepOrderAndContent) {
  uint64_t seed = NewSeed();
  std::mt19937_64 rng(seed);
  EchoServer echo;
  FaultProxy proxy(seed);
  uint16_t port = AddLinkOrDie(proxy, "a->b", echo.port());
  ASSERT_TRUE(proxy.Configure("a->b", LinkFaults{.latency_ms = 5, .jitter_ms = 5, .loss = 0.3, .retransmit_ms = 20}).ok());

  Client client(port);
  ASSERT_TRUE(client.connected());
  // Round trips: each message crosses alone, so at least 2 chunks per message draw jitter and loss.
  constexpr int kRoundTrips = 60;
  for (int i = 0; i < kRoundTrips; ++i) {
    std::string message = RandomBytes(rng, 1 + rng() % 3000);
    ASSERT_TRUE(client.Echo(message)) << "round trip " << i;
  }
  // A stream of writes of random sizes: many chunks in flight at once, each with its own delay.
  std::string stream = RandomBytes(rng, 2 << 20);
  bool sent = true;
  std::thread sender([&] {
    std::mt19937_64 sizes(seed + 1);
    for (size_t at = 0; at < stream.size() && sent;) {
      size_t n = std::min<size_t>(stream.size() - at, 1 + sizes() % 20000);
      sent = client.Send(std::string_view(stream).substr(at, n));
      at += n;
    }
  });
  std::string back = client.ReadExactly(stream.size(), 120s);
  sender.join();
  EXPECT_TRUE(sent);
  ASSERT_EQ(back.size(), stream.size());
  EXPECT_TRUE(back == stream) << "order or content changed under jitter and loss";

  // At least 2 * kRoundTrips chunks each held with probability 0.3: none held is ~1e-19.
  Result<LinkStats> stats = proxy.Stats("a->b");
  ASSERT_TRUE(stats.ok());
  EXPECT_GT(stats->chunks_held, 0u);
}

TEST(FaultProxyTest, BlockedCutsAndRefusesUntilCleared) {
  uint64_t seed = NewSeed();
  EchoServer echo;
  FaultProxy proxy(seed);
  uint16_t port = AddLinkOrDie(proxy, "a->b", echo.port());

  Client open(port);
  ASSERT_TRUE(open.connected());
  ASSERT_TRUE(open.Echo("before the cut"));

  ASSERT_TRUE(proxy.Configure("a->b", LinkFaults{.blocked = true}).ok());
  End end;
  EXPECT_TRUE(open.ReadToEnd(&end).empty());
  EXPECT_TRUE(Closed(end)) << "the open connection was not cut";

  // A new connection is accepted by the kernel, then closed by the proxy; nothing is echoed.
  Client refused(port);
  if (refused.connected()) {
    (void)refused.Send("through the cut?");
    EXPECT_TRUE(refused.ReadToEnd(&end).empty());
    EXPECT_TRUE(Closed(end)) << "a new connection was not closed";
  }
  LinkStats stats = StatsWhen(proxy, "a->b", [](const LinkStats& s) { return s.connections_cut >= 2; });
  EXPECT_EQ(stats.connections, 2u);
  EXPECT_EQ(stats.connections_cut, 2u);

  ASSERT_TRUE(proxy.Configure("a->b", LinkFaults{}).ok());
  Client healed(port);
  ASSERT_TRUE(healed.connected());
  EXPECT_TRUE(healed.Echo("after the heal"));
}

TEST(FaultProxyTest, StallHoldsBytesAndFinThenReleasesThem) {
  uint64_t seed = NewSeed();
  EchoServer echo;
  FaultProxy proxy(seed);
  uint16_t port = AddLinkOrDie(proxy, "a->b", echo.port());

  Client before(port);
  ASSERT_TRUE(before.connected());
  ASSERT_TRUE(before.Echo("moving"));

  ASSERT_TRUE(proxy.Configure("a->b", LinkFaults{.stall = true}).ok());
  Client during(port);
  ASSERT_TRUE(during.connected());
  ASSERT_TRUE(before.Send("held"));
  ASSERT_TRUE(during.Send("held too"));
  during.ShutdownWrite();
  // While stalled nothing can arrive, however long we wait: this is not a timing assumption.
  End end;
  EXPECT_TRUE(before.Read(4, 300ms, &end).empty());
  EXPECT_EQ(end, End::kTimeout);
  EXPECT_TRUE(during.Read(8, 300ms, &end).empty());
  EXPECT_EQ(end, End::kTimeout) << "a stalled link moved bytes or a FIN";

  ASSERT_TRUE(proxy.Configure("a->b", LinkFaults{}).ok());
  EXPECT_EQ(before.ReadExactly(4), "held");
  EXPECT_EQ(during.ReadToEnd(&end), "held too");
  EXPECT_EQ(end, End::kEof);
  EXPECT_TRUE(before.Echo("moving again"));
}

TEST(FaultProxyTest, StallBoundsBufferedBytesByBackpressure) {
  uint64_t seed = NewSeed();
  std::mt19937_64 rng(seed);
  EchoServer echo;
  FaultProxy proxy(seed);
  uint16_t port = AddLinkOrDie(proxy, "a->b", echo.port());
  ASSERT_TRUE(proxy.Configure("a->b", LinkFaults{.stall = true}).ok());

  // 128 MiB offered; what the path can take is the kernel's socket buffers (tcp_wmem and
  // tcp_rmem maxima here: 4 and 32 MiB) plus the proxy's kPendingBytesMax. An unbounded proxy
  // would take all of it.
  const std::string block = RandomBytes(rng, 1 << 20);
  Client client(port);
  ASSERT_TRUE(client.connected());
  size_t sent = 0;
  for (int i = 0; i < 128; ++i) {
    size_t n = client.SendUntilBlocked(block, 1s);
    sent += n;
    if (n < block.size()) break;
  }
  std::printf("a stalled link took %zu bytes before the sender blocked\n", sent);
  EXPECT_LT(sent, size_t{64} << 20);

  // Released, the held bytes arrive whole and in order.
  proxy.ClearAll();
  std::string back = client.ReadExactly(sent, 120s);
  ASSERT_EQ(back.size(), sent);
  bool same = true;
  for (size_t at = 0; at < sent && same; at += block.size()) {
    size_t n = std::min(block.size(), sent - at);
    same = std::string_view(back).substr(at, n) == std::string_view(block).substr(0, n);
  }
  EXPECT_TRUE(same) << "bytes held by a stall changed";
}

TEST(FaultProxyTest, DownTargetClosesTheClient) {
  uint64_t seed = NewSeed();
  // A port nothing listens on: bound, then released.
  uint16_t dead_port;
  {
    net::io_context io;
    tcp::acceptor probe(io, tcp::endpoint(net::ip::make_address_v4("127.0.0.1"), 0));
    dead_port = probe.local_endpoint().port();
  }
  FaultProxy proxy(seed);
  uint16_t port = AddLinkOrDie(proxy, "a->down", dead_port);
  for (int i = 0; i < 3; ++i) {
    Client client(port);
    ASSERT_TRUE(client.connected());
    End end;
    EXPECT_TRUE(client.ReadToEnd(&end).empty());
    EXPECT_TRUE(Closed(end));
  }
  LinkStats stats = StatsWhen(proxy, "a->down", [](const LinkStats& s) { return s.connections == 3; });
  EXPECT_EQ(stats.connections, 3u);
  EXPECT_EQ(stats.bytes_forwarded, 0u);
}

TEST(FaultProxyTest, ConfigureMatchingByPrefix) {
  uint64_t seed = NewSeed();
  EchoServer echo;
  FaultProxy proxy(seed);
  const std::vector<std::string> names = {"eu-west-a->us-east-a", "eu-west-b->eu-west-a", "solo",
                                          "us-east-a->eu-west-a", "us-east-a->us-east-b"};
  std::map<std::string, uint16_t> ports;
  for (const auto& name : names) ports[name] = AddLinkOrDie(proxy, name, echo.port());
  EXPECT_EQ(proxy.Links(), names);

  LinkFaults slow{.latency_ms = 10};
  Result<size_t> matched = proxy.ConfigureMatching("us-east", "", slow);
  ASSERT_TRUE(matched.ok());
  EXPECT_EQ(*matched, 2u);
  EXPECT_EQ(*proxy.Faults("us-east-a->eu-west-a"), slow);
  EXPECT_EQ(*proxy.Faults("us-east-a->us-east-b"), slow);
  EXPECT_EQ(*proxy.Faults("eu-west-a->us-east-a"), LinkFaults{});

  // Cut everything into us-east: a link out of it stays up.
  LinkFaults cut{.blocked = true};
  matched = proxy.ConfigureMatching("", "us-east", cut);
  ASSERT_TRUE(matched.ok());
  EXPECT_EQ(*matched, 2u);
  EXPECT_EQ(*proxy.Faults("eu-west-a->us-east-a"), cut);
  EXPECT_EQ(*proxy.Faults("us-east-a->us-east-b"), cut);
  EXPECT_EQ(*proxy.Faults("us-east-a->eu-west-a"), slow);
  {
    Client into(ports["eu-west-a->us-east-a"]);
    End end;
    if (into.connected()) {
      (void)into.Send("x");
      EXPECT_TRUE(into.ReadToEnd(&end).empty());
      EXPECT_TRUE(Closed(end));
    }
    Client out(ports["us-east-a->eu-west-a"]);
    ASSERT_TRUE(out.connected());
    EXPECT_TRUE(out.Echo("still up"));
  }

  // Both prefixes at once; a name without "->" is all `from`.
  EXPECT_EQ(*proxy.ConfigureMatching("eu-west-b", "eu-west", slow), 1u);
  EXPECT_EQ(*proxy.ConfigureMatching("so", "", slow), 1u);
  EXPECT_EQ(*proxy.ConfigureMatching("solo", "x", slow), 0u);
  EXPECT_EQ(*proxy.ConfigureMatching("ap-south", "", slow), 0u);
  EXPECT_EQ(*proxy.ConfigureMatching("", "", slow), names.size());
  for (const auto& name : names) EXPECT_EQ(*proxy.Faults(name), slow) << name;

  proxy.ClearAll();
  for (const auto& name : names) EXPECT_EQ(*proxy.Faults(name), LinkFaults{}) << name;

  // Bad faults are refused and change nothing.
  EXPECT_EQ(proxy.ConfigureMatching("", "", LinkFaults{.loss = 1.5}).status().code(), ErrorCode::kValidation);
  EXPECT_EQ(proxy.Configure("solo", LinkFaults{.latency_ms = -1}).code(), ErrorCode::kValidation);
  EXPECT_EQ(proxy.Configure("solo", LinkFaults{.jitter_ms = -1}).code(), ErrorCode::kValidation);
  EXPECT_EQ(*proxy.Faults("solo"), LinkFaults{});
}

TEST(FaultProxyTest, StatsAndErrors) {
  uint64_t seed = NewSeed();
  std::mt19937_64 rng(seed);
  EchoServer echo;
  FaultProxy proxy(seed);
  uint16_t port = AddLinkOrDie(proxy, "a->b", echo.port());
  for (int i = 0; i < 3; ++i) {
    Client client(port);
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.Echo(RandomBytes(rng, 1000)));
  }
  LinkStats stats = StatsWhen(proxy, "a->b", [](const LinkStats& s) { return s.bytes_forwarded == 6000; });
  EXPECT_EQ(stats.connections, 3u);
  EXPECT_EQ(stats.bytes_forwarded, 6000u);
  EXPECT_EQ(stats.chunks_held, 0u);
  EXPECT_EQ(stats.connections_cut, 0u);

  EXPECT_EQ(proxy.AddLink("a->b", "127.0.0.1", echo.port()).status().code(), ErrorCode::kResourceInUse);
  // The port of link a->b is taken.
  EXPECT_EQ(proxy.AddLink("c->d", "127.0.0.1", echo.port(), port).status().code(), ErrorCode::kInternalServerError);
  EXPECT_EQ(proxy.Stats("nope").status().code(), ErrorCode::kResourceNotFound);
  EXPECT_EQ(proxy.Faults("nope").status().code(), ErrorCode::kResourceNotFound);
  EXPECT_EQ(proxy.Configure("nope", LinkFaults{}).code(), ErrorCode::kResourceNotFound);
  EXPECT_EQ(proxy.Links(), std::vector<std::string>{"a->b"});
}

TEST(FaultProxyTest, ManyLinksManyConnections) {
  uint64_t seed = NewSeed();
  EchoServer echo;
  FaultProxy proxy(seed);
  constexpr int kLinks = 60;
  constexpr int kConnectionsPerLink = 3;
  std::vector<std::unique_ptr<Client>> clients;
  for (int l = 0; l < kLinks; ++l) {
    std::string name = "n" + std::to_string(l) + "->echo";
    uint16_t port = AddLinkOrDie(proxy, name, echo.port());
    ASSERT_TRUE(proxy.Configure(name, LinkFaults{.latency_ms = l % 3, .jitter_ms = l % 2}).ok());
    for (int c = 0; c < kConnectionsPerLink; ++c) {
      clients.push_back(std::make_unique<Client>(port));
      ASSERT_TRUE(clients.back()->connected());
    }
  }
  // Every connection in flight at once, then every reply checked.
  for (size_t i = 0; i < clients.size(); ++i) ASSERT_TRUE(clients[i]->Send("message " + std::to_string(i)));
  for (size_t i = 0; i < clients.size(); ++i) {
    std::string expected = "message " + std::to_string(i);
    EXPECT_EQ(clients[i]->ReadExactly(expected.size()), expected);
  }
  EXPECT_EQ(proxy.Links().size(), size_t{kLinks});
}

TEST(FaultProxyTest, DestructionWithOpenConnectionsIsClean) {
  uint64_t seed = NewSeed();
  std::mt19937_64 rng(seed);
  EchoServer echo;
  auto proxy = std::make_unique<FaultProxy>(seed);
  uint16_t idle = AddLinkOrDie(*proxy, "idle", echo.port());
  uint16_t stalled = AddLinkOrDie(*proxy, "stalled", echo.port());
  uint16_t slow = AddLinkOrDie(*proxy, "slow", echo.port());
  ASSERT_TRUE(proxy->Configure("stalled", LinkFaults{.stall = true}).ok());
  ASSERT_TRUE(proxy->Configure("slow", LinkFaults{.latency_ms = 60000}).ok());

  Client a(idle), b(stalled), c(slow);
  ASSERT_TRUE(a.connected() && b.connected() && c.connected());
  ASSERT_TRUE(a.Echo("idle"));
  const std::string block = RandomBytes(rng, 1 << 20);
  EXPECT_GT(b.SendUntilBlocked(block, 200ms), 0u);  // bytes buffered in the proxy
  ASSERT_TRUE(c.Send("waiting a minute"));            // a chunk waiting on its timer
  StatsWhen(*proxy, "slow", [](const LinkStats& s) { return s.connections == 1; });

  proxy.reset();
  for (Client* client : {&a, &b, &c}) {
    End end;
    client->ReadToEnd(&end);
    EXPECT_TRUE(Closed(end)) << "a connection outlived the proxy";
  }
}

TEST(FaultProxyTest, KernelHasNetemAnswersOnceAndLeavesNoNamespace) {
  bool has = KernelHasNetem();
  std::printf("KernelHasNetem: %s\n", has ? "true" : "false");
  EXPECT_EQ(KernelHasNetem(), has);
  EXPECT_FALSE(std::filesystem::exists("/run/netns/meridian-netem-probe-" + std::to_string(getpid())));
}

}  // namespace
}  // namespace meridian::chaos
