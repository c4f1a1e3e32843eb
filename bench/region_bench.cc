// The region benchmark (issue 5): durable replicated PutItem against a three-facility region of
// real `meridian start` processes on 127.0.0.1, beside, in the same run and on the same disk:
//   - a single durable node (`meridian start-single-node`, fsync per acknowledged write),
//   - raw RocksDB Put with sync=true (the storage floor) and the fsync floor of the disk,
//   - a three-member etcd cluster (Debian's etcd-server) loaded through its HTTP JSON gateway
//     (POST /v3/kv/put, base64 key and value), the closest well-known replicated store;
// every one closed loop, one client (and one connection) per client thread, 100-byte values,
// p50/p99 from every recorded latency (bench/closed_loop.h). Then the write-unavailability window
// after SIGKILL of the leader: one writer writes continuously (a short timeout per write, retrying
// through any member and following the leader), the bench kills the current leader K times,
// restarting it and waiting until all three members are up and caught up before the next kill;
// the window is the time from the kill to the first acknowledged write sent after it. The same
// for etcd with its default timing (100 ms heartbeat, 1 s election timeout).
//
//   build/bench/region_bench [--seconds 5] [--levels 1,16,64] [--kills 10] [--items 10000]
//       [--value-bytes 100] [--write-timeout-ms 100] [--meridian PATH] [--etcd PATH]
//       [--only region,http,failover,single,rocksdb,etcd,etcd-failover] [--dir /tmp]
//       [--json FILE] [--keep] [--no-install]
//
// Everything it starts (nodes, etcd members) is stopped when it ends, also on error, SIGINT and
// SIGTERM; its temporary folder is removed unless --keep.
//
// Thread-safety: a program; the load threads each own their client.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "bench/closed_loop.h"
#include "meridian/client.h"
#include "proto/node.h"
#include "storage/item_codec.h"
#include "tests/integration/process.h"

namespace meridian {
namespace {

using bench::Clock;
using bench::Measure;
using bench::Row;
using testing::ChildProcess;
using namespace std::chrono_literals;

struct Config {
  double seconds = 5;
  std::vector<int> levels = {1, 16, 64};
  int kills = 10;
  int items = 10000;
  int value_bytes = 100;
  std::chrono::milliseconds write_timeout{100};
  std::string meridian;
  std::string etcd = "/usr/bin/etcd";
  std::set<std::string> only;  // empty: everything
  std::string dir = "/tmp";
  std::string json_path;
  bool keep = false;
  bool install = true;

  bool Runs(const std::string& part) const { return only.empty() || only.count(part) > 0; }
};

const std::set<std::string> kParts = {"region", "http", "failover", "single", "rocksdb", "etcd", "etcd-failover"};

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

void Log(const std::string& line) {
  std::fprintf(stderr, "region_bench: %s\n", line.c_str());
}

// --- Children: every process the bench starts is registered here, so that SIGINT or SIGTERM of
// --- the bench kills them too (destructors do not run on a signal).

std::atomic<pid_t> g_children[64];

void RegisterChild(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t empty = 0;
    if (slot.compare_exchange_strong(empty, pid)) return;
  }
}

void UnregisterChild(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t expected = pid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

char g_folder[4096];  // the temporary folder, for the message below

extern "C" void KillChildrenAndExit(int sig) {
  for (auto& slot : g_children) {
    pid_t pid = slot.load();
    if (pid > 0) ::kill(pid, SIGKILL);
  }
  const char msg[] = "region_bench: interrupted; killed the processes it started; left its folder ";
  (void)!::write(2, msg, sizeof msg - 1);
  (void)!::write(2, g_folder, strnlen(g_folder, sizeof g_folder));
  (void)!::write(2, "\n", 1);
  _exit(128 + sig);
}

// A started process: registered while it runs.
class Child {
 public:
  Child(std::vector<std::string> argv, const std::filesystem::path& log)
      : process_(std::make_unique<ChildProcess>(std::move(argv), log)) {
    RegisterChild(process_->pid());
  }
  ~Child() { Kill(); }
  pid_t pid() const { return process_->pid(); }
  bool running() { return process_->running(); }
  // SIGKILL, then reap.
  void Kill() {
    if (!process_) return;
    process_->Signal(SIGKILL);
    process_->Wait(10s);
    UnregisterChild(process_->pid());
    process_.reset();
  }
  // SIGTERM, then up to `grace` for a clean exit, then SIGKILL. True when it exited by itself.
  bool Stop(std::chrono::milliseconds grace) {
    if (!process_) return true;
    process_->Signal(SIGTERM);
    bool clean = process_->Wait(grace) != -1;
    Kill();
    return clean;
  }

 private:
  std::unique_ptr<ChildProcess> process_;
};

// Free TCP ports on 127.0.0.1 (the integration tests' helper), or exit.
std::vector<int> FreePorts(int n) {
  std::vector<uint16_t> got = meridian::testing::FreeTcpPorts(n);
  if (static_cast<int>(got.size()) != n) {
    std::fprintf(stderr, "region_bench: cannot pick a free port\n");
    std::exit(1);
  }
  return std::vector<int>(got.begin(), got.end());
}

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The last `lines` lines of a log, for a failure report.
std::string Tail(const std::filesystem::path& p, int lines) {
  std::string text = ReadFile(p);
  if (text.empty()) return text;
  if (text.back() != '\n') text += '\n';
  size_t start = text.size() - 1;  // the last newline
  for (int i = 0; i < lines && start > 0; ++i) {
    size_t nl = text.rfind('\n', start - 1);
    if (nl == std::string::npos) return text;
    start = nl;
  }
  return text.substr(start + 1);
}

// Waits (bounded) until `data`/endpoints.json names `child`'s pid; returns its contents.
std::optional<nlohmann::json> WaitForEndpoints(const std::filesystem::path& data, Child& child,
                                               std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline && child.running()) {
    auto j = nlohmann::json::parse(ReadFile(data / "endpoints.json"), nullptr, false);
    if (j.is_object() && j.contains("native") && j.value("pid", 0) == child.pid()) return j;
    std::this_thread::sleep_for(20ms);
  }
  return std::nullopt;
}

std::string Base64(std::string_view in) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += table[(v >> s) & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += table[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string Key(uint64_t i) { return "key-" + std::to_string(i); }

Item MakeItem(uint64_t i, int value_bytes) {
  return Item{{"pk", AttributeValue::S(Key(i))}, {"v", AttributeValue::S(std::string(value_bytes, 'a' + i % 26))}};
}

// --- Meridian node status: one node's (Client::NodeStatus), or all three at once (the failover
// --- writer, which needs the answer of whichever member answers first).

zmq::context_t& StatusContext() {
  static zmq::context_t ctx(1);
  return ctx;
}

Result<proto::NodeStatus> QueryNodeStatus(const std::string& endpoint, std::chrono::milliseconds timeout) {
  return Client(ClientOptions{endpoint, timeout, std::nullopt}).NodeStatus();
}

// --- The failover probe: what a three-member cluster must offer to have its leader killed.

// One writer's view of the cluster (owned by one thread).
class ClusterWriter {
 public:
  virtual ~ClusterWriter() = default;
  // One write through `member`, within the writer's timeout; true when acknowledged.
  virtual bool Put(int member, uint64_t key) = 0;
  // Asks every member at once who leads and returns the one that says it leads itself (the
  // highest term's, should two say so), or -1 when none does within the writer's timeout. A
  // follower's word about who leads is not taken: it may name the leader that was just killed.
  virtual int FindLeader() = 0;
};

class Cluster {
 public:
  virtual ~Cluster() = default;
  virtual std::string name() const = 0;
  virtual std::string member_name(int member) const = 0;
  // The member that leads (the highest term's leader), polling for at most `budget`; -1 if none.
  virtual int FindLeader(std::chrono::milliseconds budget) = 0;
  virtual void Kill(int member) = 0;
  virtual bool Restart(int member) = 0;
  // True once every member answers, one leads, and each has applied what the leader had
  // committed when the wait began.
  virtual bool WaitCaughtUp(std::chrono::milliseconds budget) = 0;
  virtual std::unique_ptr<ClusterWriter> NewWriter(std::chrono::milliseconds timeout) = 0;
  virtual std::string LogTails() = 0;
};

struct KillResult {
  std::string killed, new_leader;
  double window_ms = -1;  // -1: no write acknowledged within the bound
  uint64_t failed_writes = 0;  // during the window
};

struct FailoverReport {
  std::string system;
  int write_timeout_ms = 0;
  std::vector<KillResult> kills;
  bool ok = true;
  std::string error;
  double Median() const {
    std::vector<double> w;
    for (const auto& k : kills)
      if (k.window_ms >= 0) w.push_back(k.window_ms);
    if (w.empty()) return -1;
    std::sort(w.begin(), w.end());
    return w.size() % 2 ? w[w.size() / 2] : (w[w.size() / 2 - 1] + w[w.size() / 2]) / 2;
  }
  double Max() const {
    double m = -1;
    for (const auto& k : kills) m = std::max(m, k.window_ms);
    return m;
  }
};

FailoverReport MeasureFailover(Cluster& cluster, int kills, int items, std::chrono::milliseconds write_timeout) {
  FailoverReport report;
  report.system = cluster.name();
  report.write_timeout_ms = static_cast<int>(write_timeout.count());
  int first = cluster.FindLeader(30s);
  if (first < 0) {
    report.ok = false;
    report.error = "no leader";
    return report;
  }
  std::atomic<bool> stop{false};
  std::atomic<int64_t> armed_after_ns{0};  // > 0: the next ack of a write sent after this ends the window
  std::atomic<int64_t> ack_ns{0};
  std::atomic<uint64_t> acked{0}, failed{0};
  // The writer: a client that writes to the leader it found and, when a write fails, asks every
  // member who leads now (every 5 ms until one says it does) and goes on there.
  std::thread writer([&] {
    auto w = cluster.NewWriter(write_timeout);
    int target = first;
    uint64_t seq = 0;
    while (!stop.load()) {
      int64_t start = NowNs();
      bool ok = w->Put(target, seq++ % items);
      int64_t end = NowNs();
      if (ok) {
        int64_t armed = armed_after_ns.load();
        if (armed > 0 && start >= armed) {
          ack_ns = end;
          armed_after_ns = 0;
        }
        acked++;
        continue;
      }
      failed++;
      while (!stop.load()) {
        int leader = w->FindLeader();
        if (leader >= 0) {
          target = leader;
          break;
        }
        std::this_thread::sleep_for(5ms);
      }
    }
  });

  auto wait_steady = [&](std::chrono::milliseconds budget) {
    auto deadline = Clock::now() + budget;
    uint64_t before = acked.load();
    while (Clock::now() < deadline) {
      std::this_thread::sleep_for(50ms);
      if (acked.load() >= before + 20) return true;
    }
    return false;
  };

  if (!wait_steady(30s)) {
    report.ok = false;
    report.error = "the writer got no acknowledgements before the first kill";
  }
  for (int k = 0; k < kills && report.ok; ++k) {
    int leader = cluster.FindLeader(30s);
    if (leader < 0) {
      report.ok = false;
      report.error = "no leader before kill " + std::to_string(k + 1);
      break;
    }
    KillResult r;
    r.killed = cluster.member_name(leader);
    ack_ns = 0;
    uint64_t failed_before = failed.load();
    int64_t kill_ns = NowNs();
    cluster.Kill(leader);  // SIGKILL and reap: no write sent after this can reach the old leader
    armed_after_ns = NowNs();
    auto deadline = Clock::now() + 30s;
    while (ack_ns.load() == 0 && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
    if (ack_ns.load() != 0) {
      r.window_ms = (ack_ns.load() - kill_ns) / 1e6;
      r.failed_writes = failed.load() - failed_before;
    } else {
      armed_after_ns = 0;
    }
    int now_leader = cluster.FindLeader(10s);
    r.new_leader = now_leader >= 0 ? cluster.member_name(now_leader) : "";
    Log(report.system + " kill " + std::to_string(k + 1) + "/" + std::to_string(kills) + ": leader " + r.killed +
        " -> " + (r.new_leader.empty() ? "?" : r.new_leader) + ", window " +
        (r.window_ms >= 0 ? std::to_string(r.window_ms) + " ms" : "none within 30 s"));
    report.kills.push_back(r);
    if (r.window_ms < 0) {
      report.ok = false;
      report.error = "no write acknowledged within 30 s after kill " + std::to_string(k + 1);
      break;
    }
    if (!cluster.Restart(leader)) {
      report.ok = false;
      report.error = "member " + r.killed + " did not come back after kill " + std::to_string(k + 1);
      break;
    }
    if (!cluster.WaitCaughtUp(120s)) {
      report.ok = false;
      report.error = "the members did not catch up after kill " + std::to_string(k + 1);
      break;
    }
    if (!wait_steady(30s)) {
      report.ok = false;
      report.error = "writes did not resume steadily after kill " + std::to_string(k + 1);
      break;
    }
    // Let the restarted member settle (it may still be compacting or sending) before the next kill.
    std::this_thread::sleep_for(1s);
  }
  stop = true;
  writer.join();
  if (!report.ok) Log(report.system + " failover: " + report.error);
  return report;
}

// --- A Meridian region of three `meridian start` processes.

class MeridianRegion : public Cluster {
 public:
  MeridianRegion(std::string binary, std::filesystem::path root) : binary_(std::move(binary)), root_(std::move(root)) {}
  ~MeridianRegion() override { Stop(); }

  std::string name() const override { return "meridian"; }
  std::string member_name(int i) const override { return kFacilities[i]; }

  bool Start() {
    std::filesystem::create_directories(root_ / "log");
    std::vector<int> ports = FreePorts(6);
    std::ostringstream y;
    y << "# Written by region_bench: one region of three facilities on 127.0.0.1.\nversion: 1\nregions:\n"
      << "  - name: bench\n    facilities:\n";
    for (int i = 0; i < 3; ++i) {
      y << "      - name: " << kFacilities[i] << "\n        host: 127.0.0.1\n        native_port: " << ports[i]
        << "\n        http_port: " << ports[3 + i] << "\n        data: " << kFacilities[i] << "\n";
      native_[i] = "tcp://127.0.0.1:" + std::to_string(ports[i]);
      http_port_[i] = ports[3 + i];
    }
    topology_ = root_ / "topology.yaml";
    std::ofstream(topology_) << y.str();
    for (int i = 0; i < 3; ++i)
      if (!Launch(i)) return false;
    return FindLeader(30s) >= 0;
  }

  void Stop() {
    for (int i = 0; i < 3; ++i) {
      if (children_[i] && !children_[i]->Stop(20s)) Log("facility " + member_name(i) + " did not stop on SIGTERM within 20 s");
      children_[i].reset();
    }
  }

  const std::string& native(int i) const { return native_[i]; }
  int http_port(int i) const { return http_port_[i]; }

  int FindLeader(std::chrono::milliseconds budget) override {
    auto deadline = Clock::now() + budget;
    do {
      int best = -1;
      uint64_t best_term = 0;
      for (int i = 0; i < 3; ++i) {
        auto s = QueryNodeStatus(native_[i], 200ms);
        if (s.ok() && s->role == "leader" && s->term >= best_term) {
          best = i;
          best_term = s->term;
        }
      }
      if (best >= 0) return best;
      std::this_thread::sleep_for(20ms);
    } while (Clock::now() < deadline);
    return -1;
  }

  void Kill(int i) override {
    if (children_[i]) children_[i]->Kill();
    children_[i].reset();
  }

  bool Restart(int i) override { return Launch(i); }

  bool WaitCaughtUp(std::chrono::milliseconds budget) override {
    auto deadline = Clock::now() + budget;
    std::optional<uint64_t> target;
    while (Clock::now() < deadline) {
      if (!target) {
        int l = FindLeader(1s);
        if (l >= 0) {
          auto s = QueryNodeStatus(native_[l], 200ms);
          if (s.ok() && s->role == "leader") target = s->commit_index;
        }
        continue;
      }
      bool all = true;
      for (int i = 0; i < 3 && all; ++i) {
        auto s = QueryNodeStatus(native_[i], 200ms);
        all = s.ok() && (s->role == "leader" || s->role == "follower") && s->applied_index >= *target;
      }
      if (all) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  class Writer : public ClusterWriter {
   public:
    Writer(const MeridianRegion& region, std::chrono::milliseconds timeout, int value_bytes)
        : timeout_(timeout), value_bytes_(value_bytes) {
      for (int i = 0; i < 3; ++i) {
        clients_.emplace_back(ClientOptions{region.native(i), timeout, std::nullopt});
        // One status socket per member, kept: ZeroMQ reconnects to a restarted member by itself,
        // and a late answer is told apart by its request id.
        status_.emplace_back(StatusContext(), zmq::socket_type::dealer);
        status_.back().set(zmq::sockopt::linger, 0);
        status_.back().set(zmq::sockopt::immediate, 1);
        status_.back().connect(region.native(i));
      }
    }
    bool Put(int member, uint64_t key) override {
      return clients_[member].PutItem(PutItemRequest{"bench", MakeItem(key, value_bytes_)}).ok();
    }
    int FindLeader() override {
      std::string id = "probe-" + std::to_string(++probes_);
      std::string frame = proto::EncodeNodeRequest(id, proto::NodeOp::kStatus, proto::NodeAdminArgs{});
      int asked = 0;
      for (auto& s : status_) {
        // Not connected (a dead member): the send fails at once instead of queueing.
        if (s.send(zmq::buffer(frame), zmq::send_flags::dontwait)) ++asked;
      }
      int leader = -1, answered = 0;
      uint64_t leader_term = 0;
      auto deadline = Clock::now() + timeout_;
      while (answered < asked && Clock::now() < deadline) {
        zmq::pollitem_t items[3];
        for (int i = 0; i < 3; ++i) items[i] = {status_[i].handle(), 0, ZMQ_POLLIN, 0};
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        zmq::poll(items, 3, std::max(left, 1ms));
        for (int i = 0; i < 3; ++i) {
          if (!(items[i].revents & ZMQ_POLLIN)) continue;
          zmq::message_t reply;
          if (!status_[i].recv(reply, zmq::recv_flags::dontwait)) continue;
          proto::RawFrame raw;
          if (!proto::DecodeFrame(reply.to_string_view(), &raw).ok() || raw.request_id != id) continue;  // stale
          ++answered;
          auto st = proto::DecodeNodeStatusReply(reply.to_string_view());
          if (st.ok() && st->role == "leader" && (leader < 0 || st->term > leader_term)) {
            leader = i;
            leader_term = st->term;
          }
        }
        if (leader >= 0) break;
      }
      return leader;
    }

   private:
    std::chrono::milliseconds timeout_;
    int value_bytes_;
    uint64_t probes_ = 0;
    std::vector<Client> clients_;
    std::vector<zmq::socket_t> status_;
  };

  std::unique_ptr<ClusterWriter> NewWriter(std::chrono::milliseconds timeout) override {
    return std::make_unique<Writer>(*this, timeout, value_bytes);
  }

  std::string LogTails() override {
    std::string out;
    for (int i = 0; i < 3; ++i) out += "--- facility " + member_name(i) + " log (tail):\n" + Tail(LogPath(i), 30);
    return out;
  }

  int value_bytes = 100;

 private:
  static constexpr const char* kFacilities[3] = {"a", "b", "c"};

  std::filesystem::path LogPath(int i) const { return root_ / "log" / ("bench-" + std::string(kFacilities[i]) + ".log"); }

  bool Launch(int i) {
    std::filesystem::path data = root_ / kFacilities[i];
    std::error_code ec;
    std::filesystem::remove(data / "endpoints.json", ec);
    children_[i] = std::make_unique<Child>(
        std::vector<std::string>{binary_, "start", "--topology", topology_.string(), "--region", "bench",
                                 "--facility", kFacilities[i], "--no-auth"},
        LogPath(i));
    if (!WaitForEndpoints(data, *children_[i], 60s)) {
      Log("facility " + std::string(kFacilities[i]) +
          (children_[i]->running() ? " did not write endpoints.json within 60 s" : " exited at start"));
      return false;
    }
    return true;
  }

  std::string binary_;
  std::filesystem::path root_, topology_;
  std::string native_[3];
  int http_port_[3] = {0, 0, 0};
  std::unique_ptr<Child> children_[3];
};

// --- Three etcd members on 127.0.0.1 (default timing: 100 ms heartbeat, 1 s election timeout).

// The leader id and indexes from POST /v3/maintenance/status (uint64s come as JSON strings).
struct EtcdStatus {
  std::string member_id, leader;
  uint64_t raft_index = 0, raft_applied_index = 0;
};

std::string JsonUintString(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return "";
  const auto& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_unsigned() || v.is_number_integer()) return std::to_string(v.get<uint64_t>());
  return "";
}

std::optional<EtcdStatus> QueryEtcdStatus(bench::KeepAliveHttpClient& http, std::chrono::milliseconds timeout) {
  auto reply = http.Post("/v3/maintenance/status", {{"Content-Type", "application/json"}}, "{}", timeout);
  if (!reply || reply->status != 200) return std::nullopt;
  auto j = nlohmann::json::parse(reply->body, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  EtcdStatus s;
  s.member_id = JsonUintString(j.value("header", nlohmann::json::object()), "member_id");
  s.leader = JsonUintString(j, "leader");
  std::string index = JsonUintString(j, "raftIndex"), applied = JsonUintString(j, "raftAppliedIndex");
  s.raft_index = index.empty() ? 0 : std::stoull(index);
  s.raft_applied_index = applied.empty() ? s.raft_index : std::stoull(applied);
  if (s.member_id.empty()) return std::nullopt;
  return s;
}

std::string EtcdPutBody(uint64_t key, const std::string& value_b64) {
  return R"({"key":")" + Base64(Key(key)) + R"(","value":")" + value_b64 + R"("})";
}

class EtcdCluster : public Cluster {
 public:
  EtcdCluster(std::string binary, std::filesystem::path root, int value_bytes)
      : binary_(std::move(binary)), root_(std::move(root)), value_b64_(Base64(std::string(value_bytes, 'e'))) {}
  ~EtcdCluster() override { Stop(); }

  std::string name() const override { return "etcd"; }
  std::string member_name(int i) const override { return "m" + std::to_string(i); }

  bool Start() {
    std::filesystem::create_directories(root_ / "log");
    std::vector<int> ports = FreePorts(6);
    for (int i = 0; i < 3; ++i) {
      client_port_[i] = ports[i];
      peer_port_[i] = ports[3 + i];
    }
    for (int i = 0; i < 3; ++i) {
      if (!cluster_.empty()) cluster_ += ",";
      cluster_ += member_name(i) + "=http://127.0.0.1:" + std::to_string(peer_port_[i]);
    }
    for (int i = 0; i < 3; ++i) {
      children_[i] = std::make_unique<Child>(Command(i), LogPath(i));
    }
    // Learn each member's id (stable across restarts) once all answer and one leads.
    auto deadline = Clock::now() + 60s;
    while (Clock::now() < deadline) {
      bool all = true;
      for (int i = 0; i < 3 && all; ++i) {
        bench::KeepAliveHttpClient http("127.0.0.1", static_cast<unsigned short>(client_port_[i]));
        auto s = QueryEtcdStatus(http, 500ms);
        all = s && !s->leader.empty() && s->leader != "0";
        if (all) ids_[i] = s->member_id;
      }
      if (all) return true;
      for (int i = 0; i < 3; ++i)
        if (!children_[i]->running()) return false;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  void Stop() {
    for (int i = 0; i < 3; ++i) {
      if (children_[i] && !children_[i]->Stop(20s)) Log("etcd member " + member_name(i) + " did not stop on SIGTERM within 20 s");
      children_[i].reset();
    }
  }

  int client_port(int i) const { return client_port_[i]; }
  const std::string& value_b64() const { return value_b64_; }

  int IndexOf(const std::string& id) const {
    for (int i = 0; i < 3; ++i)
      if (ids_[i] == id) return i;
    return -1;
  }

  int FindLeader(std::chrono::milliseconds budget) override {
    auto deadline = Clock::now() + budget;
    do {
      for (int i = 0; i < 3; ++i) {
        bench::KeepAliveHttpClient http("127.0.0.1", static_cast<unsigned short>(client_port_[i]));
        auto s = QueryEtcdStatus(http, 200ms);
        // A member names the leader; trust it only when the leader says so itself.
        if (s && s->leader == s->member_id) return i;
      }
      std::this_thread::sleep_for(20ms);
    } while (Clock::now() < deadline);
    return -1;
  }

  void Kill(int i) override {
    if (children_[i]) children_[i]->Kill();
    children_[i].reset();
  }

  bool Restart(int i) override {
    children_[i] = std::make_unique<Child>(Command(i), LogPath(i));
    auto deadline = Clock::now() + 60s;
    while (Clock::now() < deadline && children_[i]->running()) {
      bench::KeepAliveHttpClient http("127.0.0.1", static_cast<unsigned short>(client_port_[i]));
      if (QueryEtcdStatus(http, 500ms)) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  bool WaitCaughtUp(std::chrono::milliseconds budget) override {
    auto deadline = Clock::now() + budget;
    std::optional<uint64_t> target;
    while (Clock::now() < deadline) {
      if (!target) {
        int l = FindLeader(1s);
        if (l < 0) continue;
        bench::KeepAliveHttpClient http("127.0.0.1", static_cast<unsigned short>(client_port_[l]));
        auto s = QueryEtcdStatus(http, 200ms);
        if (s && s->leader == s->member_id) target = s->raft_index;
        continue;
      }
      bool all = true;
      for (int i = 0; i < 3 && all; ++i) {
        bench::KeepAliveHttpClient http("127.0.0.1", static_cast<unsigned short>(client_port_[i]));
        auto s = QueryEtcdStatus(http, 200ms);
        all = s && !s->leader.empty() && s->leader != "0" && s->raft_applied_index >= *target;
      }
      if (all) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  class Writer : public ClusterWriter {
   public:
    Writer(const EtcdCluster& cluster, std::chrono::milliseconds timeout) : cluster_(cluster), timeout_(timeout) {
      for (int i = 0; i < 3; ++i) {
        http_.push_back(std::make_unique<bench::KeepAliveHttpClient>("127.0.0.1", static_cast<unsigned short>(cluster.client_port(i))));
      }
    }
    bool Put(int member, uint64_t key) override {
      auto reply = http_[member]->Post("/v3/kv/put", {{"Content-Type", "application/json"}},
                                       EtcdPutBody(key, cluster_.value_b64()), timeout_);
      return reply && reply->status == 200;
    }
    int FindLeader() override {
      // One member after the other: a dead member refuses the connection at once.
      for (int i = 0; i < 3; ++i) {
        auto s = QueryEtcdStatus(*http_[i], timeout_);
        if (s && s->leader == s->member_id) return i;
      }
      return -1;
    }

   private:
    const EtcdCluster& cluster_;
    std::chrono::milliseconds timeout_;
    std::vector<std::unique_ptr<bench::KeepAliveHttpClient>> http_;
  };

  std::unique_ptr<ClusterWriter> NewWriter(std::chrono::milliseconds timeout) override {
    return std::make_unique<Writer>(*this, timeout);
  }

  std::string LogTails() override {
    std::string out;
    for (int i = 0; i < 3; ++i) out += "--- etcd " + member_name(i) + " log (tail):\n" + Tail(LogPath(i), 30);
    return out;
  }

 private:
  std::filesystem::path LogPath(int i) const { return root_ / "log" / (member_name(i) + ".log"); }

  std::vector<std::string> Command(int i) const {
    std::string client = "http://127.0.0.1:" + std::to_string(client_port_[i]);
    std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_[i]);
    return {binary_, "--name", member_name(i), "--data-dir", (root_ / member_name(i)).string(),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", cluster_, "--initial-cluster-state", "new",
            "--initial-cluster-token", "region-bench-" + std::to_string(::getpid()),
            "--logger", "zap", "--log-outputs", "stderr"};
  }

  std::string binary_;
  std::filesystem::path root_;
  std::string value_b64_;
  int client_port_[3] = {0, 0, 0}, peer_port_[3] = {0, 0, 0};
  std::string cluster_;
  std::string ids_[3];
  std::unique_ptr<Child> children_[3];
};

// --- The run.

bool CreateBenchTable(const std::string& endpoint) {
  Client admin(ClientOptions{endpoint, 10s, std::nullopt});
  CreateTableRequest create{"bench", {{"pk", KeyType::kHash}}, {{"pk", AttributeType::kS}},
                            BillingMode::kPayPerRequest, std::nullopt};
  auto deadline = Clock::now() + 30s;
  Status last;
  while (Clock::now() < deadline) {
    auto r = admin.CreateTable(create);
    if (r.ok() || r.status().code() == ErrorCode::kResourceInUse) {
      // The table takes writes once CreateTable is acknowledged; check with one.
      auto put = admin.PutItem(PutItemRequest{"bench", MakeItem(0, 100)});
      if (put.ok()) return true;
      last = put.status();
    } else {
      last = r.status();
    }
    std::this_thread::sleep_for(100ms);
  }
  Log("cannot create the table through " + endpoint + ": " + last.ToString());
  return false;
}

// One PutItem level per client count against one native endpoint.
void MeasureMeridianPuts(const std::string& name, const std::string& endpoint, const Config& cfg, std::vector<Row>* rows) {
  for (int n : cfg.levels) {
    std::vector<Client> clients;
    for (int t = 0; t < n; ++t) clients.emplace_back(ClientOptions{endpoint, 10s, std::nullopt});
    rows->push_back(Measure(name, n, cfg.seconds, [&](int t, std::mt19937_64& rng) {
      return clients[t].PutItem(PutItemRequest{"bench", MakeItem(rng() % cfg.items, cfg.value_bytes)}).ok();
    }));
    Log(name + " at " + std::to_string(n) + " clients: " + std::to_string(static_cast<int>(rows->back().ops_per_sec)) + " ops/s");
  }
}

std::string Command(int argc, char** argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) out += (i ? " " : "") + std::string(argv[i]);
  return out;
}

void PrintFailover(const FailoverReport& f) {
  std::printf("\nwrite unavailability after SIGKILL of the %s leader (writer timeout %d ms per write):\n",
              f.system.c_str(), f.write_timeout_ms);
  std::printf("%5s %8s %10s %12s %14s\n", "kill", "killed", "new leader", "window ms", "failed writes");
  for (size_t i = 0; i < f.kills.size(); ++i) {
    const KillResult& k = f.kills[i];
    std::printf("%5zu %8s %10s %12.1f %14llu\n", i + 1, k.killed.c_str(), k.new_leader.c_str(), k.window_ms,
                static_cast<unsigned long long>(k.failed_writes));
  }
  std::printf("median %.1f ms, max %.1f ms over %zu kills%s\n", f.Median(), f.Max(), f.kills.size(),
              f.ok ? "" : (" (stopped early: " + f.error + ")").c_str());
}

nlohmann::json FailoverJson(const FailoverReport& f) {
  nlohmann::json kills = nlohmann::json::array();
  for (const auto& k : f.kills) {
    kills.push_back({{"killed", k.killed}, {"new_leader", k.new_leader}, {"window_ms", k.window_ms},
                     {"failed_writes", k.failed_writes}});
  }
  return {{"system", f.system}, {"write_timeout_ms", f.write_timeout_ms}, {"kills", kills},
          {"median_ms", f.Median()}, {"max_ms", f.Max()}, {"ok", f.ok}, {"error", f.error}};
}

bool EnsureEtcd(Config& cfg) {
  if (::access(cfg.etcd.c_str(), X_OK) == 0) return true;
  if (!cfg.install || ::geteuid() != 0 || cfg.etcd != "/usr/bin/etcd") {
    Log("no etcd at " + cfg.etcd + ": install Debian's etcd-server (apt-get install -y etcd-server) or pass --etcd PATH");
    return false;
  }
  Log("no etcd at /usr/bin/etcd: installing Debian's etcd-server and etcd-client");
  int rc = std::system("DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server etcd-client >&2");
  return rc == 0 && ::access(cfg.etcd.c_str(), X_OK) == 0;
}

int Run(Config& cfg, const std::string& command) {
  std::string tmpl = (std::filesystem::path(cfg.dir) / "meridian-region-bench-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    Log("cannot create a folder in " + cfg.dir);
    return 1;
  }
  std::filesystem::path root = tmpl;
  std::snprintf(g_folder, sizeof g_folder, "%s", root.c_str());
  bench::Machine machine = bench::DescribeMachine(root);
  std::string load_before = bench::LoadAverage();
  std::printf("machine: %s\nload average: %s\nfolder: %s\ncommand: %s\n", bench::MachineLine(machine).c_str(),
              load_before.c_str(), root.c_str(), command.c_str());
  std::fflush(stdout);

  bool failed = false;
  std::vector<Row> rows;
  std::vector<FailoverReport> failovers;
  std::string etcd_version;
  rows.push_back(bench::MeasureFsyncFloor(root, std::min(cfg.seconds, 3.0)));
  rows.push_back(bench::MeasureZmqRoundTrip(std::min(cfg.seconds, 3.0)));

  if (cfg.Runs("region") || cfg.Runs("http") || cfg.Runs("failover")) {
    MeridianRegion region(cfg.meridian, root / "region");
    region.value_bytes = cfg.value_bytes;
    int leader = -1;
    if (!region.Start() || (leader = region.FindLeader(30s)) < 0 || !CreateBenchTable(region.native(leader))) {
      Log("the region did not come up");
      std::fprintf(stderr, "%s", region.LogTails().c_str());
      failed = true;
    } else {
      Log("region up; leader is facility " + region.member_name(leader));
      if (cfg.Runs("region")) {
        MeasureMeridianPuts("region PutItem (3 facilities)", region.native(leader), cfg, &rows);
      }
      if (cfg.Runs("http")) {
        // DynamoDB's JSON over HTTP to the leader, unsigned (--no-auth): the etcd gateway's peer.
        for (int n : cfg.levels) {
          std::vector<std::unique_ptr<bench::KeepAliveHttpClient>> http;
          for (int t = 0; t < n; ++t) http.push_back(std::make_unique<bench::KeepAliveHttpClient>("127.0.0.1", region.http_port(leader)));
          std::string value(cfg.value_bytes, 'h');
          rows.push_back(Measure("region PutItem over HTTP", n, cfg.seconds, [&](int t, std::mt19937_64& rng) {
            std::string body = R"({"TableName":"bench","Item":{"pk":{"S":")" + Key(rng() % cfg.items) +
                               R"("},"v":{"S":")" + value + R"("}}})";
            auto r = http[t]->Post("/", {{"Content-Type", "application/x-amz-json-1.0"},
                                         {"X-Amz-Target", "DynamoDB_20120810.PutItem"}}, body);
            return r && r->status == 200;
          }));
        }
      }
      int after = region.FindLeader(5s);
      if (after != leader) Log("note: the leader changed during the load (" + region.member_name(leader) + " -> " +
                               (after >= 0 ? region.member_name(after) : "none") + ")");
      if (cfg.Runs("failover") && cfg.kills > 0) {
        failovers.push_back(MeasureFailover(region, cfg.kills, cfg.items, cfg.write_timeout));
        if (!failovers.back().ok) {
          failed = true;
          std::fprintf(stderr, "%s", region.LogTails().c_str());
        }
      }
    }
    region.Stop();
  }

  if (cfg.Runs("single")) {
    std::filesystem::path data = root / "single";
    std::filesystem::create_directories(data);
    Child node({cfg.meridian, "start-single-node", "--data", data.string(), "--listen", "tcp://127.0.0.1:0", "--no-auth"},
               root / "single.log");
    auto endpoints = WaitForEndpoints(data, node, 30s);
    if (!endpoints || !CreateBenchTable((*endpoints)["native"].get<std::string>())) {
      Log("the single node did not come up:\n" + Tail(root / "single.log", 30));
      failed = true;
    } else {
      MeasureMeridianPuts("single-node PutItem (fsync)", (*endpoints)["native"].get<std::string>(), cfg, &rows);
    }
    node.Stop(20s);
  }

  if (cfg.Runs("rocksdb")) {
    std::vector<std::string> keys, values;
    for (int i = 0; i < cfg.items; ++i) {
      keys.push_back(Key(i));
      values.push_back(EncodeItem(MakeItem(i, cfg.value_bytes)));
    }
    auto raw = bench::MeasureRawRocksDb(root / "raw", keys, values, cfg.levels, cfg.seconds, false);
    if (raw.empty()) failed = true;
    for (Row& r : raw) rows.push_back(std::move(r));
  }

  if (cfg.Runs("etcd") || cfg.Runs("etcd-failover")) {
    if (!EnsureEtcd(cfg)) {
      failed = true;
    } else {
      testing::CommandResult version = testing::RunCommand({cfg.etcd, "--version"}, "", 10s);
      etcd_version = version.out.substr(0, version.out.find('\n'));
      EtcdCluster etcd(cfg.etcd, root / "etcd", cfg.value_bytes);
      int leader = -1;
      if (!etcd.Start() || (leader = etcd.FindLeader(30s)) < 0) {
        Log("etcd did not come up");
        std::fprintf(stderr, "%s", etcd.LogTails().c_str());
        failed = true;
      } else {
        if (cfg.Runs("etcd")) {
          for (int n : cfg.levels) {
            std::vector<std::unique_ptr<bench::KeepAliveHttpClient>> http;
            for (int t = 0; t < n; ++t) http.push_back(std::make_unique<bench::KeepAliveHttpClient>("127.0.0.1", etcd.client_port(leader)));
            rows.push_back(Measure("etcd put (3 members, HTTP gateway)", n, cfg.seconds, [&](int t, std::mt19937_64& rng) {
              auto r = http[t]->Post("/v3/kv/put", {{"Content-Type", "application/json"}},
                                     EtcdPutBody(rng() % cfg.items, etcd.value_b64()));
              return r && r->status == 200;
            }));
            Log("etcd put at " + std::to_string(n) + " clients: " + std::to_string(static_cast<int>(rows.back().ops_per_sec)) + " ops/s");
          }
        }
        if (cfg.Runs("etcd-failover") && cfg.kills > 0) {
          failovers.push_back(MeasureFailover(etcd, cfg.kills, cfg.items, cfg.write_timeout));
          if (!failovers.back().ok) {
            failed = true;
            std::fprintf(stderr, "%s", etcd.LogTails().c_str());
          }
        }
      }
      etcd.Stop();
    }
  }

  auto raw_put = [&](const Row& r) -> const Row* {
    if (r.name == "raw RocksDB Put (sync)" || r.name.rfind("fsync", 0) == 0 || r.name.rfind("ZeroMQ", 0) == 0) return nullptr;
    for (const Row& l : rows)
      if (l.name == "raw RocksDB Put (sync)" && l.threads == r.threads) return &l;
    return nullptr;
  };
  bench::PrintRows(rows, [&](const Row& r) {
    const Row* limit = raw_put(r);
    return limit ? std::to_string(r.ops_per_sec / limit->ops_per_sec).substr(0, 5) + "x of raw RocksDB Put (sync)" : std::string();
  });
  for (const auto& f : failovers) PrintFailover(f);
  std::string load_after = bench::LoadAverage();
  std::printf("\nload average: %s before, %s after%s%s\n", load_before.c_str(), load_after.c_str(),
              etcd_version.empty() ? "" : "; ", etcd_version.c_str());

  nlohmann::json out;
  out["machine"] = bench::MachineJson(machine);
  out["command"] = command;
  out["load_average"] = {{"before", load_before}, {"after", load_after}};
  if (!etcd_version.empty()) out["etcd_version"] = etcd_version;
  out["config"] = {{"seconds", cfg.seconds}, {"levels", cfg.levels}, {"kills", cfg.kills}, {"items", cfg.items},
                   {"value_bytes", cfg.value_bytes}, {"write_timeout_ms", cfg.write_timeout.count()}};
  out["rows"] = nlohmann::json::array();
  for (const Row& r : rows) {
    out["rows"].push_back(bench::RowJson(r));
    if (r.errors) failed = true;
  }
  out["failover"] = nlohmann::json::array();
  for (const auto& f : failovers) out["failover"].push_back(FailoverJson(f));
  out["ok"] = !failed;
  if (!cfg.json_path.empty()) std::ofstream(cfg.json_path) << out.dump(2) << "\n";

  if (cfg.keep) {
    std::printf("kept %s\n", root.c_str());
  } else {
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }
  return failed ? 1 : 0;
}

std::string DefaultMeridianBinary(const char* argv0) {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) self = argv0;
  for (auto candidate : {self.parent_path() / "meridian", self.parent_path().parent_path() / "bin" / "meridian"}) {
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return MERIDIAN_BINARY;
}

int Usage(const std::string& why) {
  std::fprintf(stderr,
               "region_bench: %s\n"
               "usage: region_bench [--seconds S] [--levels 1,16,64] [--kills K] [--items N] [--value-bytes B]\n"
               "                    [--write-timeout-ms MS] [--meridian PATH] [--etcd PATH]\n"
               "                    [--only region,http,failover,single,rocksdb,etcd,etcd-failover]\n"
               "                    [--dir DIR] [--json FILE] [--keep] [--no-install]\n",
               why.c_str());
  return 2;
}

}  // namespace
}  // namespace meridian

int main(int argc, char** argv) {
  using namespace meridian;
  Config cfg;
  cfg.meridian = DefaultMeridianBinary(argv[0]);
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--keep") {
      cfg.keep = true;
      continue;
    }
    if (k == "--no-install") {
      cfg.install = false;
      continue;
    }
    if (i + 1 >= argc) return Usage(k + " needs a value");
    std::string v = argv[++i];
    try {
      if (k == "--seconds") cfg.seconds = std::stod(v);
      else if (k == "--kills") cfg.kills = std::stoi(v);
      else if (k == "--items") cfg.items = std::max(1, std::stoi(v));
      else if (k == "--value-bytes") cfg.value_bytes = std::max(1, std::stoi(v));
      else if (k == "--write-timeout-ms") cfg.write_timeout = std::chrono::milliseconds(std::max(1, std::stoi(v)));
      else if (k == "--meridian") cfg.meridian = v;
      else if (k == "--etcd") cfg.etcd = v;
      else if (k == "--dir") cfg.dir = v;
      else if (k == "--json") cfg.json_path = v;
      else if (k == "--levels") {
        auto list = bench::ParseIntList(v);
        if (!list) return Usage("--levels takes positive integers separated by commas");
        cfg.levels = *list;
      } else if (k == "--only") {
        std::stringstream ss(v);
        std::string part;
        while (std::getline(ss, part, ',')) {
          if (!kParts.count(part)) return Usage("unknown part " + part);
          cfg.only.insert(part);
        }
      } else {
        return Usage("unknown option " + k);
      }
    } catch (const std::exception&) {
      return Usage("bad value for " + k + ": " + v);
    }
  }
  if (cfg.seconds <= 0 || cfg.kills < 0) return Usage("--seconds must be positive and --kills not negative");
  struct sigaction sa{};
  sa.sa_handler = KillChildrenAndExit;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // A node that dies under load must not take the bench with it through a broken pipe.
  signal(SIGPIPE, SIG_IGN);
  return Run(cfg, Command(argc, argv));
}
