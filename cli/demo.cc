// `meridian demo`: plans (or reloads, or copies from --topology FILE) a local topology, launches
// one `meridian start` child per facility and a `meridian replicator` per region, prints how to
// reach them, supervises them and stops them cleanly. See cli/demo.h.
//
// The supervisor is one thread: the stop signals and SIGCHLD are blocked and taken with
// sigtimedwait in the main loop, so a child's exit, Ctrl-C and the periodic status all happen at
// well-defined points and no signal handler touches shared state. Children run in their own
// process group (a terminal's Ctrl-C reaches only the supervisor, which then stops them in order)
// and get SIGTERM if the supervisor dies (PR_SET_PDEATHSIG), so no node outlives its demo.
#include "cli/demo.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "api/access.h"
#include "cli/args.h"
#include "cli/common.h"
#include "cli/demo_workload.h"
#include "meridian/client.h"
#include "meridian/region_client.h"
#include "proto/frame.h"
#include "proto/node.h"
#include "topology/topology.h"

namespace meridian::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Not an API error, but the conventions' 1: the demo could not do what it was asked.
constexpr int kExitFailed = 1;

constexpr char kDefaultDir[] = "meridian-demo";
constexpr int kDefaultRegions = 3;
constexpr int kDefaultBasePort = 7700;
// Region i's facilities take native ports base+10i+{0,1,2} and HTTP ports base+300+10i+{0,1,2}
// (7700-7702 and 8000-8002 for the first region, the single node's 7700 and 8000); its
// replicator takes base+10i+5.
constexpr int kRegionPortStride = 10;
constexpr int kHttpPortOffset = 300;
constexpr int kReplicatorPortOffset = 5;
// When a port of the block is taken, the whole block moves 1000 up, at most this many times.
constexpr int kBlockStep = 1000;
constexpr int kBlockAttempts = 20;

constexpr auto kReadyTimeout = 60s;   // until every node has written its endpoints.json
constexpr auto kLeaderTimeout = 20s;  // then, until every region has elected a leader
constexpr auto kStatusInterval = 5s;  // the one-line status
constexpr auto kStatusTimeout = 1s;   // for the status answers of all nodes together
constexpr auto kLagTimeout = 300ms;   // for one region's replication status, in the status line
constexpr auto kStopTimeout = 10s;    // after SIGTERM, before SIGKILL
constexpr auto kRestartDelay = 1s;
// --restart gives up on a node that exits this often within a minute: it will not come up by
// itself, and restarting it forever would bury its first error in the log.
constexpr int kMaxRestartsPerMinute = 5;
constexpr size_t kLogTailLines = 12;
constexpr auto kTick = 200ms;  // the main loop's longest sleep

const char* const kFacilityNames[] = {"a", "b", "c"};
const char* const kRegionNames[] = {"us-east", "eu-west", "ap-south"};

// Everything the demo prints goes through here: one prefix, flushed at once (the output is often
// a file or a pipe that a test or an operator tails).
void Say(const std::string& line) { std::cout << "meridian demo: " << line << std::endl; }
void Warn(const std::string& line) { std::cerr << "meridian demo: " << line << std::endl; }

std::string RegionName(int index) {
  if (index < 3) return kRegionNames[index];
  return "region-" + std::to_string(index + 1);
}

// `p` relative to the working folder when it is below it (shorter to copy), else absolute.
std::string Shown(const fs::path& p) {
  std::error_code ec;
  fs::path abs = fs::absolute(p, ec).lexically_normal();
  fs::path rel = abs.lexically_relative(fs::current_path(ec));
  if (!rel.empty() && *rel.begin() != "..") return rel.string();
  return abs.string();
}

std::string ShellQuoted(const std::string& s) {
  if (s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@") ==
      std::string::npos) {
    return s;
  }
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::optional<std::string> ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The last `lines` lines of a log, for reporting a node that died.
std::string LogTail(const fs::path& path, size_t lines) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  constexpr std::streamoff kTailBytes = 16 * 1024;
  in.seekg(size > kTailBytes ? size - kTailBytes : 0);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> all;
  std::istringstream ss(text);
  for (std::string line; std::getline(ss, line);) all.push_back(line);
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) {
    out += (out.empty() ? "" : "\n") + std::string("    | ") + all[i];
  }
  return out;
}

// True when nothing listens on or holds 127.0.0.1:`port`. SO_REUSEADDR as the servers set it, so
// a port only in TIME_WAIT from a previous run counts as free.
bool PortIsFree(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return free;
}

std::optional<pid_t> ReadPidFile(const fs::path& path) {
  auto text = ReadText(path);
  if (!text) return std::nullopt;
  char* end = nullptr;
  long pid = std::strtol(text->c_str(), &end, 10);
  if (end == text->c_str() || pid <= 0) return std::nullopt;
  return static_cast<pid_t>(pid);
}

// A running meridian process with this pid (not a zombie, not a reused pid of something else).
bool IsLiveMeridian(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  auto cmdline = ReadText("/proc/" + std::to_string(pid) + "/cmdline");
  return cmdline && cmdline->find("meridian") != std::string::npos;
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    return std::string("was killed by signal ") + std::to_string(sig) + " (" + ::strsignal(sig) + ")";
  }
  return "stopped (status " + std::to_string(status) + ")";
}

std::string WallClock() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&now, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

// --- the folder -----------------------------------------------------------------------------

struct DemoFolder {
  fs::path dir;  // absolute
  fs::path topology() const { return dir / "topology.yaml"; }
  fs::path credentials() const { return dir / "credentials"; }
  fs::path access() const { return dir / "access.yaml"; }
  fs::path run() const { return dir / "run"; }
  fs::path log() const { return dir / "log"; }
  fs::path pid_file(const std::string& name) const { return run() / (name + ".pid"); }
  fs::path log_file(const std::string& name) const { return log() / (name + ".log"); }
  fs::path demo_pid_file() const { return run() / "demo.pid"; }
};

// A fresh topology: `regions` regions of facilities a, b, c on 127.0.0.1, in the first block of
// ports at or above `base_port` (moving 1000 up at a time) whose every port is free.
Result<topology::Topology> PlanTopology(const DemoFolder& folder, int regions, int base_port) {
  const int http_offset = std::max(kHttpPortOffset, kRegionPortStride * regions);
  const int span = http_offset + kRegionPortStride * (regions - 1) + 3;
  std::string busy_report;
  for (int attempt = 0; attempt < kBlockAttempts; ++attempt) {
    int base = base_port + attempt * kBlockStep;
    if (base + span > 65536) break;
    topology::Topology t;
    t.base_dir = folder.dir;
    std::vector<int> busy;
    for (int r = 0; r < regions; ++r) {
      topology::Region region;
      region.name = RegionName(r);
      for (int f = 0; f < 3; ++f) {
        topology::Facility facility;
        facility.name = kFacilityNames[f];
        facility.host = "127.0.0.1";
        int native = base + kRegionPortStride * r + f;
        int http = base + http_offset + kRegionPortStride * r + f;
        for (int port : {native, http}) {
          if (!PortIsFree(port)) busy.push_back(port);
        }
        facility.native_port = static_cast<uint16_t>(native);
        facility.http_port = static_cast<uint16_t>(http);
        // Relative, so the folder can be moved or copied as a whole.
        facility.data = region.name + "/" + facility.name;
        region.facilities.push_back(std::move(facility));
      }
      if (regions > 1) {  // one region has no one to replicate with
        topology::Replicator replicator;
        replicator.host = "127.0.0.1";
        int replicator_port = base + kRegionPortStride * r + kReplicatorPortOffset;
        if (!PortIsFree(replicator_port)) busy.push_back(replicator_port);
        replicator.port = static_cast<uint16_t>(replicator_port);
        replicator.data = region.name + "/replicator";
        region.replicator = replicator;
      }
      t.regions.push_back(std::move(region));
    }
    if (busy.empty()) {
      if (attempt > 0) Say("ports from " + std::to_string(base_port) + " were taken (" + busy_report + "); using " +
                           std::to_string(base) + " and up");
      return t;
    }
    if (busy_report.empty()) {
      for (size_t i = 0; i < busy.size() && i < 5; ++i) busy_report += (i ? ", " : "") + std::to_string(busy[i]);
      if (busy.size() > 5) busy_report += ", ...";
    }
  }
  return Status::Validation("no free block of ports at or above " + std::to_string(base_port) +
                            " (taken: " + busy_report + "); try --base-port");
}

std::string Join(const std::vector<std::string>& parts, const std::string& separator = ", ") {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : separator) + p;
  return out;
}

// The hosts a demo can launch on: it starts every node on this machine.
bool IsLocalHost(const std::string& host) { return host == "127.0.0.1" || host == "localhost" || host == "::1"; }

// The topology of `--topology FILE` as the demo runs it, its base folder the demo's `dir`: every
// host local and every port a real one (else ValidationException listing each problem), and the
// data folders and TLS files made absolute against FILE's folder, so that DIR/topology.yaml (which
// lives elsewhere) names the very folders and files FILE does.
Result<topology::Topology> TopologyFromFile(const std::string& file, const fs::path& dir) {
  topology::ParseOptions options;
  options.check_data_parents = false;  // the demo creates them before it validates the copy
  MERIDIAN_ASSIGN_OR_RETURN(topology::Topology t, topology::LoadTopology(file, options));
  std::vector<std::string> problems;
  auto check_host = [&](const std::string& where, const std::string& field, const std::string& host) {
    if (!host.empty() && !IsLocalHost(host)) {
      problems.push_back(where + ": " + field + " " + host + " is not this machine (127.0.0.1, localhost or ::1)");
    }
  };
  auto check_port = [&](const std::string& where, const std::string& field, uint16_t port) {
    if (port == 0) problems.push_back(where + ": " + field + " is 0; the demo needs a real port");
  };
  auto absolute = [&](std::string& path) {
    if (!path.empty()) path = t.DataPath(path).lexically_normal().string();
  };
  for (auto& region : t.regions) {
    for (auto& f : region.facilities) {
      std::string where = "region " + region.name + ", facility " + f.name;
      check_host(where, "host", f.host);
      check_host(where, "advertise", f.advertise);
      check_port(where, "native_port", f.native_port);
      check_port(where, "http_port", f.http_port);
      absolute(f.data);
    }
    if (region.replicator) {
      std::string where = "region " + region.name + ", replicator";
      check_host(where, "host", region.replicator->host);
      check_host(where, "advertise", region.replicator->advertise);
      check_port(where, "port", region.replicator->port);
      absolute(region.replicator->data);
    }
  }
  if (t.tls) {
    absolute(t.tls->cert);
    absolute(t.tls->key);
    absolute(t.tls->ca);
  }
  if (!problems.empty()) {
    return Status::Validation(file + ": the demo launches every node on this machine, so it cannot run this topology:\n  " +
                              Join(problems, "\n  ") +
                              "\n(`meridian start` runs one node of it on its own machine, `meridian compose` all of "
                              "them in containers)");
  }
  t.base_dir = dir;
  return t;
}

// The first thing that differs between a resumed folder's topology and FILE's, for the message
// that refuses to mix them.
std::string FirstDifference(const topology::Topology& here, const topology::Topology& file) {
  std::vector<std::string> here_names, file_names;
  for (const auto& r : here.regions) here_names.push_back(r.name);
  for (const auto& r : file.regions) file_names.push_back(r.name);
  if (here_names != file_names) {
    return "regions " + Join(here_names) + " in the folder, " + Join(file_names) + " in the file";
  }
  for (size_t i = 0; i < here.regions.size(); ++i) {
    const topology::Region& a = here.regions[i];
    const topology::Region& b = file.regions[i];
    for (size_t f = 0; f < a.facilities.size() && f < b.facilities.size(); ++f) {
      if (a.facilities[f] != b.facilities[f]) return "facility " + a.name + "/" + a.facilities[f].name;
    }
    if (a != b) return "region " + a.name;
  }
  if (here.global_tables != file.global_tables) return "global_tables";
  if (here.max_clock_offset_ms != file.max_clock_offset_ms) return "max_clock_offset_ms";
  return "tls";
}

// Creates the parent of every data folder: the node creates its own folder, but validation wants
// each one's parent to exist.
void CreateDataParents(const topology::Topology& t) {
  std::error_code ec;
  for (const auto& region : t.regions) {
    for (const auto& facility : region.facilities) fs::create_directories(t.DataPath(facility.data).parent_path(), ec);
    if (region.replicator) fs::create_directories(t.DataPath(region.replicator->data).parent_path(), ec);
  }
}

// Loads DIR/topology.yaml when it is there (a resumed demo; it must be `from_file` when that is
// given), else writes `from_file` there, or plans a topology and writes it.
Result<topology::Topology> LoadOrCreateTopology(const DemoFolder& folder, std::optional<int> regions_flag,
                                                const std::optional<topology::Topology>& from_file,
                                                const std::string& file_name, int base_port, bool* created) {
  *created = false;
  std::error_code ec;
  if (fs::exists(folder.topology(), ec)) {
    auto text = ReadText(folder.topology());
    topology::ParseOptions no_parents;
    no_parents.check_data_parents = false;
    no_parents.base_dir = folder.dir;
    if (text) {
      if (auto parsed = topology::ParseTopology(*text, folder.topology().string(), no_parents); parsed.ok()) {
        CreateDataParents(*parsed);
      }
    }
    MERIDIAN_ASSIGN_OR_RETURN(topology::Topology t, topology::LoadTopology(folder.topology().string()));
    if (regions_flag && static_cast<size_t>(*regions_flag) != t.regions.size()) {
      return Status::Validation(Shown(folder.dir) + " holds a demo of " + std::to_string(t.regions.size()) +
                                " region(s) (its topology.yaml); --regions " + std::to_string(*regions_flag) +
                                " needs another --data folder, or remove this one to start afresh");
    }
    if (from_file) {
      topology::Topology same_base = t;
      same_base.base_dir = from_file->base_dir;
      if (same_base != *from_file) {
        return Status::Validation(Shown(folder.topology()) + " is not the topology of " + file_name + " (" +
                                  FirstDifference(t, *from_file) + " differs): " + Shown(folder.dir) +
                                  " holds another demo; use another --data folder, or remove this one to start "
                                  "afresh");
      }
    }
    for (const auto& region : t.regions) {
      for (const auto& facility : region.facilities) {
        if (facility.native_port == 0 || facility.http_port == 0) {
          return Status::Validation(folder.topology().string() + ": " + region.name + "/" + facility.name +
                                    " has port 0; the nodes of a region find each other by the "
                                    "topology's ports, so the demo needs real ones");
        }
      }
    }
    return t;
  }
  topology::ParseOptions options;
  options.base_dir = folder.dir;
  if (from_file) {
    CreateDataParents(*from_file);
    MERIDIAN_RETURN_IF_ERROR(topology::ValidateTopology(*from_file, options));
    MERIDIAN_RETURN_IF_ERROR(WriteFileAtomic(folder.topology(), topology::WriteTopology(*from_file), 0644));
  } else {
    int regions = regions_flag.value_or(kDefaultRegions);
    for (int r = 0; r < regions; ++r) fs::create_directories(folder.dir / RegionName(r), ec);
    MERIDIAN_ASSIGN_OR_RETURN(topology::Topology t, PlanTopology(folder, regions, base_port));
    MERIDIAN_RETURN_IF_ERROR(topology::ValidateTopology(t, options));
    MERIDIAN_RETURN_IF_ERROR(WriteFileAtomic(folder.topology(), topology::WriteTopology(t), 0644));
  }
  *created = true;
  // Read back what was written, so a first run and a resumed one start from the same thing.
  return topology::LoadTopology(folder.topology().string());
}

// Refuses a folder that a live demo (or a node left over from one) is using; removes the pid
// files of processes that are gone (a demo that was SIGKILLed).
Status CheckNoLiveDemo(const DemoFolder& folder) {
  std::error_code ec;
  std::vector<std::string> live;
  for (const auto& entry : fs::directory_iterator(folder.run(), ec)) {
    if (entry.path().extension() != ".pid") continue;
    auto pid = ReadPidFile(entry.path());
    if (pid && *pid != ::getpid() && IsLiveMeridian(*pid)) {
      live.push_back(entry.path().stem().string() + " (pid " + std::to_string(*pid) + ")");
    } else {
      Say("removing stale " + Shown(entry.path()) + " (its process is gone)");
      fs::remove(entry.path(), ec);
    }
  }
  if (live.empty()) return Status::Ok();
  std::string list;
  for (const auto& l : live) list += (list.empty() ? "" : ", ") + l;
  return Status::Validation("a demo is already running on " + Shown(folder.dir) + ": " + list +
                            ". Stop it first (Ctrl-C in its terminal, or kill -TERM the pid in " +
                            Shown(folder.demo_pid_file()) + ")");
}

// --- the supervised nodes -------------------------------------------------------------------

struct Node {
  std::string region;
  std::string facility;  // empty for the region's replicator
  std::string name;  // <region>-<facility>: its pid file and log
  fs::path data;
  pid_t pid = -1;  // -1: not running
  bool ready = false;
  std::string native_endpoint;
  std::string http_endpoint;
  // --restart bookkeeping.
  std::optional<Clock::time_point> restart_at;
  std::deque<Clock::time_point> restarts;
};

// The endpoints a started node wrote: {"native","http","pid"}. Only a file written by this very
// process counts, so a stale one left by a SIGKILLed run is never taken for a ready node.
bool ReadEndpoints(Node& node) {
  auto text = ReadText(node.data / "endpoints.json");
  if (!text) return false;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.contains("native") || !j["native"].is_string()) return false;
  if (j.contains("pid") && j["pid"].is_number_integer() && j["pid"].get<int64_t>() != node.pid) return false;
  node.native_endpoint = j["native"].get<std::string>();
  node.http_endpoint = j.contains("http") && j["http"].is_string() ? j["http"].get<std::string>() : "";
  return true;
}

// What one node said to a status request: nothing (down or silent), an error (it runs but does
// not answer status), or its Raft status.
struct Probe {
  bool answered = false;
  std::optional<proto::NodeStatus> status;
};

class Supervisor {
 public:
  Supervisor(DemoFolder folder, topology::Topology topology, bool no_auth, bool restart, bool workload,
             const sigset_t& signals)
      : folder_(std::move(folder)), topology_(std::move(topology)), no_auth_(no_auth), restart_(restart),
        workload_(workload), signals_(signals) {
    char exe[4096];
    ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe_ = n > 0 ? std::string(exe, static_cast<size_t>(n)) : "meridian";
    std::optional<Credentials> credentials;
    if (auto c = LoadSharedCredentials(folder_.credentials().string(), "meridian"); c.ok()) {
      frame_credentials_ = proto::FrameCredentials{c->access_key_id, c->secret_access_key};
      credentials = c.value();
    }
    // One region has no replication lag to show.
    for (size_t r = 0; topology_.regions.size() > 1 && r < topology_.regions.size(); ++r) {
      RegionClientOptions options;
      options.region = topology_.regions[r];
      options.credentials = credentials;
      options.attempt_timeout = kLagTimeout;
      options.deadline = kLagTimeout;
      lag_clients_.emplace_back(std::move(options));
    }
    for (const auto& region : topology_.regions) {
      for (const auto& facility : region.facilities) {
        Node node;
        node.region = region.name;
        node.facility = facility.name;
        node.name = topology::ProcessName(region.name, facility.name);
        node.data = topology_.DataPath(facility.data);
        node.native_endpoint = facility.NativeEndpoint();
        node.http_endpoint = topology_.HttpEndpoint(facility);
        nodes_.push_back(std::move(node));
      }
    }
    for (const auto& region : topology_.regions) {
      if (!region.replicator) continue;
      Node node;
      node.region = region.name;
      node.name = topology::ReplicatorProcessName(region.name);
      node.data = topology_.DataPath(region.replicator->data);
      node.native_endpoint = region.replicator->Endpoint();
      nodes_.push_back(std::move(node));
    }
  }

  // Launches every node, waits for them, prints how to use them, supervises until a stop signal.
  int Run() {
    for (auto& node : nodes_) {
      if (!Launch(node)) {
        StopAll();
        return kExitFailed;
      }
    }
    Say("started " + std::to_string(nodes_.size()) + " nodes; waiting for them (at most " +
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(kReadyTimeout).count()) + " s)");
    if (std::optional<int> rc = WaitUntilReady()) return *rc;
    PrintUsage();
    if (workload_) LaunchWorkload();
    return Supervise();
  }

 private:
  // fork + exec of this same binary as `meridian start` (or `meridian replicator`), its output
  // appended to its log. False (after saying why) when the process could not be created.
  bool Launch(Node& node) {
    std::error_code ec;
    fs::create_directories(node.data.parent_path(), ec);
    // Readiness is "endpoints.json written by this pid"; drop what an earlier run left.
    fs::remove(node.data / "endpoints.json", ec);

    std::vector<std::string> argv = {exe_, "start", "--topology", folder_.topology().string(),
                                      "--region", node.region, "--facility", node.facility};
    if (node.facility.empty()) {
      argv = {exe_, "replicator", "--topology", folder_.topology().string(), "--region", node.region};
    }
    if (no_auth_) argv.push_back("--no-auth");

    fs::path log = folder_.log_file(node.name);
    int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      Warn("cannot open " + log.string() + ": " + std::strerror(errno));
      return false;
    }
    std::string header = "--- meridian demo: starting " + node.name + " at " + WallClock() + " ---\n";
    (void)!::write(log_fd, header.data(), header.size());
    pid_t pid = Spawn(argv, log_fd);
    ::close(log_fd);
    if (pid < 0) return false;
    node.pid = pid;
    node.ready = false;
    if (Status st = WriteFileAtomic(folder_.pid_file(node.name), std::to_string(pid) + "\n", 0644); !st.ok()) {
      Warn(st.message());
    }
    return true;
  }

  // `meridian demo --workload` against this very demo (it finds the live run/demo.pid), its report
  // on the supervisor's own output. A child process rather than a thread: the supervisor's loop
  // stays what it is, and Ctrl-C stops the workload like any node.
  void LaunchWorkload() {
    workload_pid_ = Spawn({exe_, "demo", "--workload", "--data", folder_.dir.string()}, -1);
    if (workload_pid_ < 0) workload_failed_ = true;
  }

  // fork + exec of this same binary with `argv`, stdin from /dev/null, stdout and stderr to
  // `out_fd` (-1: the supervisor's own), in its own process group (a terminal's Ctrl-C reaches
  // only the supervisor), SIGTERMed if the supervisor dies. The pid, or -1 after saying why.
  pid_t Spawn(std::vector<std::string> argv, int out_fd) {
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0) {
      Warn(std::string("cannot open /dev/null: ") + std::strerror(errno));
      return -1;
    }
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
      Warn(std::string("fork failed: ") + std::strerror(errno));
      ::close(null_fd);
      return -1;
    }
    if (pid == 0) {
      // Only async-signal-safe calls until exec: the parent may have other threads.
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(127);  // the supervisor died before prctl took effect
      ::dup2(null_fd, 0);
      if (out_fd >= 0) {
        ::dup2(out_fd, 1);
        ::dup2(out_fd, 2);
      }
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the supervisor's blocked signals are its own
      ::signal(SIGPIPE, SIG_DFL);                   // and so is its ignored SIGPIPE
      ::execv("/proc/self/exe", cargv.data());
      static const char kFailed[] = "meridian demo: exec of /proc/self/exe failed\n";
      (void)!::write(2, kFailed, sizeof kFailed - 1);
      ::_exit(127);
    }
    ::close(null_fd);
    return pid;
  }

  Node* FindByPid(pid_t pid) {
    for (auto& node : nodes_) {
      if (node.pid == pid) return &node;
    }
    return nullptr;
  }

  // Reaps every child that has exited; returns the nodes that did, with how.
  std::vector<std::pair<Node*, int>> Reap() {
    std::vector<std::pair<Node*, int>> exited;
    for (;;) {
      int status = 0;
      pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      if (pid == workload_pid_) {
        workload_pid_ = -1;
        workload_exit_ = status;
        continue;
      }
      Node* node = FindByPid(pid);
      if (node == nullptr) continue;
      node->pid = -1;
      node->ready = false;
      std::error_code ec;
      fs::remove(folder_.pid_file(node->name), ec);
      exited.emplace_back(node, status);
    }
    return exited;
  }

  size_t Running() const {
    size_t n = 0;
    for (const auto& node : nodes_) n += node.pid > 0 ? 1 : 0;
    return n;
  }

  // Waits up to `timeout` for a stop signal or a child's exit. Returns the stop signal taken, or 0.
  int WaitForSignal(std::chrono::milliseconds timeout) {
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    ts.tv_nsec = static_cast<long>((timeout.count() % 1000) * 1000000);
    siginfo_t info{};
    int sig = ::sigtimedwait(&signals_, &info, &ts);
    if (sig == SIGCHLD || sig < 0) return 0;
    return sig;
  }

  void ReportExit(const Node& node, int status) {
    fs::path log = folder_.log_file(node.name);
    Warn(node.name + " " + DescribeWaitStatus(status) + "; the end of " + Shown(log) + ":\n" +
         LogTail(log, kLogTailLines));
  }

  // Nothing once every node is up (and each region has a leader, within bounds); else the exit
  // code after stopping the nodes (a stop signal, a node that died, or the deadline).
  std::optional<int> WaitUntilReady() {
    auto deadline = Clock::now() + kReadyTimeout;
    for (;;) {
      if (int sig = WaitForSignal(kTick); sig != 0) {
        Say(std::string("stopping (") + ::strsignal(sig) + ") before every node was up");
        StopAll();
        return kExitOk;
      }
      auto exited = Reap();
      if (!exited.empty()) {
        for (const auto& [node, status] : exited) ReportExit(*node, status);
        Warn("a node did not start; stopping the others");
        StopAll();
        return kExitFailed;
      }
      size_t ready = 0;
      for (auto& node : nodes_) {
        if (!node.ready) node.ready = ReadEndpoints(node);
        ready += node.ready ? 1 : 0;
      }
      if (ready == nodes_.size()) return WaitForLeaders();
      if (Clock::now() > deadline) {
        for (const auto& node : nodes_) {
          if (node.ready) continue;
          fs::path log = folder_.log_file(node.name);
          Warn(node.name + " did not write " + Shown(node.data / "endpoints.json") + " in time; the end of " +
               Shown(log) + ":\n" + LogTail(log, kLogTailLines));
        }
        StopAll();
        return kExitFailed;
      }
    }
  }

  // Every node is up; give each region a moment to elect its leader, so that "ready" means a
  // write would be taken. A region that elects none in time is reported, not fatal: the
  // supervisor goes on and the status line shows it.
  std::optional<int> WaitForLeaders() {
    auto deadline = Clock::now() + kLeaderTimeout;
    for (;;) {
      std::vector<std::string> leaderless;
      for (const RegionView& v : RegionViews(ProbeAll())) {
        if (v.leader.empty()) leaderless.push_back(v.name);
      }
      // Nodes that do not serve status at all cannot be waited for.
      if (leaderless.empty() || !any_answered_) return std::nullopt;
      if (Clock::now() > deadline) {
        std::string list;
        for (const auto& l : leaderless) list += (list.empty() ? "" : ", ") + l;
        Warn("no leader yet in " + list + " after " +
             std::to_string(std::chrono::duration_cast<std::chrono::seconds>(kLeaderTimeout).count()) +
             " s; going on (see the status lines and the logs)");
        return std::nullopt;
      }
      if (int sig = WaitForSignal(300ms); sig != 0) {
        Say(std::string("stopping (") + ::strsignal(sig) + ") before every region had a leader");
        StopAll();
        return kExitOk;
      }
      auto exited = Reap();
      if (!exited.empty()) {
        for (const auto& [node, status] : exited) ReportExit(*node, status);
        Warn("a node stopped while its region was electing; stopping the others");
        StopAll();
        return kExitFailed;
      }
    }
  }

  void PrintUsage() {
    std::ostringstream out;
    out << "\n";
    std::string last_region;
    for (const auto& node : nodes_) {
      if (node.facility.empty()) continue;
      out << "  " << (node.region == last_region ? std::string(node.region.size(), ' ') : node.region) << "  "
          << node.facility << "  native " << node.native_endpoint << "  http " << node.http_endpoint << "  (pid "
          << node.pid << ")\n";
      last_region = node.region;
    }
    for (const auto& node : nodes_) {
      if (!node.facility.empty()) continue;
      out << "  " << node.region << "  replicator " << node.native_endpoint << "  (pid " << node.pid << ")\n";
    }
    const Node& first = nodes_.front();
    std::string topology = ShellQuoted(Shown(folder_.topology()));
    out << "\nTry it (any facility takes any request; writes are forwarded to the region's leader):\n";
    if (!no_auth_) {
      out << "  export AWS_SHARED_CREDENTIALS_FILE=" << ShellQuoted(fs::absolute(folder_.credentials()).string())
          << " AWS_PROFILE=meridian\n";
    }
    out << "  aws --endpoint-url " << first.http_endpoint << " --region " << first.region
        << " dynamodb list-tables\n";
    out << "  " << ShellQuoted(Shown(exe_)) << " call --topology " << topology << " --region " << first.region
        << " ListTables\n";
    out << "  " << ShellQuoted(Shown(exe_)) << " status --topology " << topology << "\n";
    out << "  " << ShellQuoted(Shown(exe_)) << " demo --workload --data " << ShellQuoted(Shown(folder_.dir))
        << "    (writes in every region, shows the items arrive elsewhere)\n";
    out << "  (or export MERIDIAN_TOPOLOGY=" << ShellQuoted(fs::absolute(folder_.topology()).string())
        << " and leave out --topology; the credentials beside it sign the requests)\n";
    out << "Logs in " << Shown(folder_.log()) << "/, pids in " << Shown(folder_.run())
        << "/. Ctrl-C stops every node; running the demo again on " << Shown(folder_.dir)
        << " resumes the data.\n";
    if (no_auth_) out << "WARNING: --no-auth: the nodes accept unsigned requests from anyone who can reach them.\n";
    std::cout << out.str();
    size_t regions = topology_.regions.size();
    Say("ready: " + std::to_string(regions) + " region" + (regions == 1 ? "" : "s") + ", " +
        std::to_string(nodes_.size()) + " nodes (supervisor pid " + std::to_string(::getpid()) + ")");
  }

  // Asks every running node for its status at once, answers within kStatusTimeout.
  std::vector<Probe> ProbeAll() {
    std::vector<Probe> probes(nodes_.size());
    std::vector<std::unique_ptr<zmq::socket_t>> sockets(nodes_.size());
    std::vector<zmq::pollitem_t> items;
    std::vector<size_t> index_of_item;
    const proto::FrameCredentials* creds = frame_credentials_ ? &*frame_credentials_ : nullptr;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i].pid <= 0 || nodes_[i].facility.empty()) continue;  // replicators serve no node status
      try {
        auto socket = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::dealer);
        socket->set(zmq::sockopt::linger, 0);
        socket->set(zmq::sockopt::maxmsgsize, proto::kSocketMaxMessageBytes);
        socket->connect(nodes_[i].native_endpoint);
        std::string frame = proto::EncodeNodeRequest("demo-status-" + std::to_string(++request_counter_),
                                                     proto::NodeOp::kStatus, proto::NodeAdminArgs{}, creds);
        if (!socket->send(zmq::buffer(frame), zmq::send_flags::dontwait)) continue;
        sockets[i] = std::move(socket);
        items.push_back({sockets[i]->handle(), 0, ZMQ_POLLIN, 0});
        index_of_item.push_back(i);
      } catch (const zmq::error_t&) {
        // An endpoint that cannot be dialled is a node that is not up.
      }
    }
    auto deadline = Clock::now() + kStatusTimeout;
    size_t pending = items.size();
    while (pending > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) break;
      try {
        zmq::poll(items.data(), items.size(), left);
      } catch (const zmq::error_t&) {
        break;
      }
      for (size_t k = 0; k < items.size(); ++k) {
        if (!(items[k].revents & ZMQ_POLLIN)) continue;
        items[k].events = 0;  // one answer per node
        items[k].revents = 0;
        --pending;
        size_t i = index_of_item[k];
        zmq::message_t reply;
        try {
          if (!sockets[i]->recv(reply, zmq::recv_flags::dontwait)) continue;
        } catch (const zmq::error_t&) {
          continue;
        }
        probes[i].answered = true;
        auto status = proto::DecodeNodeStatusReply(std::string_view(static_cast<const char*>(reply.data()), reply.size()));
        if (status.ok()) probes[i].status = status.value();
      }
    }
    return probes;
  }

  // One region as the status answers show it.
  struct RegionView {
    std::string name;
    std::string leader;  // a facility that says it leads (the highest term wins); "" if none
    uint64_t leader_term = 0;
    std::string hinted_leader;  // the leader a follower names, when none says it leads itself
    int up = 0;
    int facilities = 0;
    std::vector<std::string> down;
  };

  std::vector<RegionView> RegionViews(const std::vector<Probe>& probes) {
    for (const auto& p : probes) any_answered_ = any_answered_ || p.answered;
    std::vector<RegionView> views;
    for (const auto& r : topology_.regions) {
      RegionView v;
      v.name = r.name;
      v.facilities = static_cast<int>(r.facilities.size());
      for (size_t i = 0; i < nodes_.size(); ++i) {
        if (nodes_[i].region != r.name) continue;
        if (nodes_[i].facility.empty()) {
          if (nodes_[i].pid <= 0) v.down.push_back("replicator down");
          continue;
        }
        bool is_up = probes[i].answered || (nodes_[i].pid > 0 && nodes_[i].ready && !any_answered_);
        if (is_up) {
          ++v.up;
        } else {
          v.down.push_back(nodes_[i].facility + (nodes_[i].pid > 0 ? " not answering" : " down"));
        }
        if (const auto& s = probes[i].status) {
          if (s->role == "leader" && s->term >= v.leader_term) {
            v.leader = s->facility.empty() ? nodes_[i].facility : s->facility;
            v.leader_term = s->term;
          }
          if (!s->leader_facility.empty()) v.hinted_leader = s->leader_facility;
        }
      }
      views.push_back(std::move(v));
    }
    return views;
  }

  // The replication lag into region `r` (its largest over the sources it has heard from), as its
  // ReplicationStatus says; nullopt when it does not answer within kLagTimeout or has heard from
  // no source yet. One request to any facility: cheap enough for every status line.
  std::optional<int64_t> LagMs(size_t r) {
    if (r >= lag_clients_.size()) return std::nullopt;
    Result<Response> answer = lag_clients_[r].Call(Request(ReplicationStatusRequest{}));
    if (!answer.ok()) return std::nullopt;
    const auto* status = std::get_if<ReplicationStatusResponse>(&answer.value());
    if (status == nullptr || status->lag.empty()) return std::nullopt;
    int64_t max = 0;
    for (const ReplicationLag& lag : status->lag) max = std::max(max, lag.lag_ms);
    return max;
  }

  // "[12:00:05] us-east: leader b (term 3), 3/3 up, lag 4 ms; eu-west: no leader, 1/3 up (b down,
  // c down)". The lag only for regions with replicas elsewhere that answer.
  std::string StatusLine() {
    std::string line = "[" + WallClock() + "]";
    size_t r = 0;
    for (const RegionView& v : RegionViews(ProbeAll())) {
      line += " " + v.name + ": ";
      if (!v.leader.empty()) {
        line += "leader " + v.leader + " (term " + std::to_string(v.leader_term) + ")";
      } else if (!v.hinted_leader.empty()) {
        line += "leader " + v.hinted_leader + "?";
      } else {
        line += "no leader";
      }
      line += ", " + std::to_string(v.up) + "/" + std::to_string(v.facilities) + " up";
      if (!v.down.empty()) {
        std::string list;
        for (const auto& d : v.down) list += (list.empty() ? "" : ", ") + d;
        line += " (" + list + ")";
      }
      // A region none of whose facilities answers would only cost the timeout.
      if (std::optional<int64_t> lag = v.up > 0 ? LagMs(r) : std::nullopt) {
        line += ", lag " + std::to_string(*lag) + " ms";
      }
      ++r;
      line += ";";
    }
    line.pop_back();
    return line;
  }

  // After a node's unexpected exit: schedule its restart (--restart) or say that it stays down.
  void HandleExit(Node& node, int status) {
    ReportExit(node, status);
    if (!restart_) {
      Warn(node.name + " stays down (run the demo with --restart to restart nodes that exit)");
      return;
    }
    auto now = Clock::now();
    while (!node.restarts.empty() && now - node.restarts.front() > 60s) node.restarts.pop_front();
    if (static_cast<int>(node.restarts.size()) >= kMaxRestartsPerMinute) {
      Warn(node.name + " exited " + std::to_string(kMaxRestartsPerMinute) +
           " times within a minute; not restarting it again");
      return;
    }
    node.restart_at = now + kRestartDelay;
  }

  int Supervise() {
    auto next_status = Clock::now();
    for (;;) {
      auto now = Clock::now();
      auto wait = std::min<Clock::duration>(kTick, std::max<Clock::duration>(next_status - now, 0ms));
      if (int sig = WaitForSignal(std::chrono::duration_cast<std::chrono::milliseconds>(wait)); sig != 0) {
        Say(std::string("stopping (") + ::strsignal(sig) + ")");
        StopAll();
        return workload_failed_ ? kExitFailed : kExitOk;
      }
      for (const auto& [node, status] : Reap()) HandleExit(*node, status);
      if (workload_exit_) {
        if (WIFEXITED(*workload_exit_) && WEXITSTATUS(*workload_exit_) == 0) {
          Say("the workload is done; the demo keeps serving until Ctrl-C");
        } else {
          workload_failed_ = true;
          Warn("the workload " + DescribeWaitStatus(*workload_exit_) +
               " (its report is above); the demo keeps serving until Ctrl-C, and then exits with 1");
        }
        workload_exit_.reset();
      }
      now = Clock::now();
      for (auto& node : nodes_) {
        if (!node.restart_at || now < *node.restart_at) continue;
        node.restart_at.reset();
        node.restarts.push_back(now);
        Say("restarting " + node.name);
        (void)Launch(node);  // on failure it said why; the node stays down
      }
      for (auto& node : nodes_) {
        if (node.pid > 0 && !node.ready) node.ready = ReadEndpoints(node);
      }
      bool any_pending = false;
      for (const auto& node : nodes_) any_pending = any_pending || node.restart_at.has_value();
      if (Running() == 0 && !any_pending) {
        Warn("every node has stopped; the demo ends");
        StopAll();
        return kExitFailed;
      }
      if (Clock::now() >= next_status) {
        Say(StatusLine());
        next_status = Clock::now() + kStatusInterval;
      }
    }
  }

  // SIGTERM to every node (a leader hands leadership over first), SIGKILL to those still there
  // after kStopTimeout or a second Ctrl-C, then the pid files go.
  void StopAll() {
    // The workload first: it would only report the nodes going away as failures.
    if (workload_pid_ > 0) ::kill(workload_pid_, SIGTERM);
    for (auto& node : nodes_) {
      node.restart_at.reset();
      if (node.pid > 0) ::kill(node.pid, SIGTERM);
    }
    auto deadline = Clock::now() + kStopTimeout;
    bool hurry = false;
    while ((Running() > 0 || workload_pid_ > 0) && Clock::now() < deadline && !hurry) {
      if (int sig = WaitForSignal(100ms); sig != 0) {
        Say("second stop signal: killing the nodes that are still running");
        hurry = true;
      }
      for (const auto& [node, status] : Reap()) {
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) ReportExit(*node, status);
      }
    }
    for (auto& node : nodes_) {
      if (node.pid <= 0) continue;
      if (!hurry) Warn(node.name + " (pid " + std::to_string(node.pid) + ") did not stop within " +
                       std::to_string(std::chrono::duration_cast<std::chrono::seconds>(kStopTimeout).count()) +
                       " s; killing it");
      ::kill(node.pid, SIGKILL);
      int status = 0;
      ::waitpid(node.pid, &status, 0);  // SIGKILL cannot be ignored: this returns promptly
      node.pid = -1;
    }
    if (workload_pid_ > 0) {
      ::kill(workload_pid_, SIGKILL);
      ::waitpid(workload_pid_, nullptr, 0);
      workload_pid_ = -1;
    }
    workload_exit_.reset();  // stopped by us: not a result
    std::error_code ec;
    for (const auto& node : nodes_) fs::remove(folder_.pid_file(node.name), ec);
    Say("stopped; the data stays (run the demo again on " + Shown(folder_.dir) + " to resume it)");
  }

  DemoFolder folder_;
  topology::Topology topology_;
  bool no_auth_;
  bool restart_;
  bool workload_;
  sigset_t signals_;
  std::string exe_;
  std::optional<proto::FrameCredentials> frame_credentials_;
  std::vector<Node> nodes_;
  zmq::context_t context_{1};
  uint64_t request_counter_ = 0;
  // Until some node answers a status request, "up" falls back to "its process runs and wrote its
  // endpoints" (a node that does not serve status at all would otherwise always look down).
  bool any_answered_ = false;
  // One per region when there are several, for the lag in the status line.
  std::vector<RegionClient> lag_clients_;
  // --workload: the child running it (-1 when none), its exit status until reported, and whether
  // it failed (the demo's exit code once stopped).
  pid_t workload_pid_ = -1;
  std::optional<int> workload_exit_;
  bool workload_failed_ = false;
};

std::optional<int> IntFlag(const Args& args, const std::string& name, int lo, int hi, std::string* error) {
  auto v = args.Get(name);
  if (!v) return std::nullopt;
  char* end = nullptr;
  long n = std::strtol(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || n < lo || n > hi) {
    *error = "--" + name + " takes a number from " + std::to_string(lo) + " to " + std::to_string(hi);
    return std::nullopt;
  }
  return static_cast<int>(n);
}

}  // namespace

int CmdDemo(int argc, char** argv) {
  Args args;
  std::string error;
  if (!args.Parse(argc, argv, 2, {"regions", "data", "base-port", "topology"}, {"no-auth", "restart", "workload"},
                  &error)) {
    return UsageError(error);
  }
  if (!args.positional().empty()) return UsageError("demo takes no positional arguments");
  std::optional<int> regions = IntFlag(args, "regions", 1, static_cast<int>(topology::kMaxRegions), &error);
  if (!error.empty()) return UsageError(error);
  std::optional<int> base_port = IntFlag(args, "base-port", 1, 65535, &error);
  if (!error.empty()) return UsageError(error);
  const std::optional<std::string> topology_file = args.Get("topology");
  if (topology_file && regions) {
    return UsageError("--topology and --regions do not go together: the file says which regions run");
  }
  if (topology_file && base_port) {
    return UsageError("--topology and --base-port do not go together: the file says which ports the nodes take");
  }

  std::error_code ec;
  DemoFolder folder{fs::absolute(args.GetOr("data", kDefaultDir), ec).lexically_normal()};

  // --workload with a demo already running on DIR: run it against that demo and exit. (Before the
  // stop signals are blocked: Ctrl-C ends this process like any client.)
  if (args.Has("workload")) {
    auto pid = ReadPidFile(folder.demo_pid_file());
    if (pid && *pid != ::getpid() && IsLiveMeridian(*pid)) {
      std::vector<std::string> ignored;
      for (const char* flag : {"regions", "topology", "base-port", "no-auth", "restart"}) {
        if (args.Has(flag)) ignored.push_back(std::string("--") + flag);
      }
      Say("a demo is running on " + Shown(folder.dir) + " (pid " + std::to_string(*pid) +
          "): running the workload against it" +
          (ignored.empty() ? std::string() : " (" + Join(ignored) + " ignored: the demo runs as it was started)"));
      return RunDemoWorkload({.topology = folder.topology(), .credentials = folder.credentials()});
    }
  }

  // FILE is checked before anything is created, so that a mistake in it leaves no trace.
  std::optional<topology::Topology> from_file;
  if (topology_file) {
    Result<topology::Topology> t = TopologyFromFile(*topology_file, folder.dir);
    if (!t.ok()) {
      Warn(t.status().message());
      return kExitUsage;
    }
    from_file = std::move(t.value());
  }

  // Blocked before any thread exists (ZeroMQ starts some), so only sigtimedwait takes them.
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&signals, sig);
  ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // Output piped into something that exits (`meridian demo | head`) must not kill the supervisor
  // on its next line and leave the nodes without one.
  ::signal(SIGPIPE, SIG_IGN);

  for (const fs::path& d : {folder.dir, folder.run(), folder.log()}) {
    fs::create_directories(d, ec);
    if (ec) {
      Warn("cannot create " + d.string() + ": " + ec.message());
      return kExitFailed;
    }
  }

  // One demo per folder: the lock covers two demos started at the same moment, the pid files a
  // demo whose supervisor was killed while its nodes still run.
  int lock_fd = ::open((folder.run() / "demo.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    auto pid = ReadPidFile(folder.demo_pid_file());
    Warn("a demo is already running on " + Shown(folder.dir) +
         (pid ? " (pid " + std::to_string(*pid) + ")" : std::string()) + "; stop it first");
    return kExitUsage;
  }
  if (Status st = CheckNoLiveDemo(folder); !st.ok()) {
    Warn(st.message());
    return kExitUsage;
  }

  bool created = false;
  Result<topology::Topology> topology = LoadOrCreateTopology(
      folder, regions, from_file, topology_file.value_or(""), base_port.value_or(kDefaultBasePort), &created);
  if (!topology.ok()) {
    Warn(topology.status().message());
    return kExitUsage;
  }
  if (created && from_file) {
    std::ostringstream out;
    out << "meridian demo: new demo in " << Shown(folder.dir) << ": copied " << *topology_file << " to "
        << Shown(folder.topology()) << "; the data folders are the file's (relative ones resolved against its "
        << "folder), not under " << Shown(folder.dir) << ":\n";
    for (const auto& region : topology->regions) {
      for (const auto& facility : region.facilities) {
        out << "  " << topology::ProcessName(region.name, facility.name) << "  "
            << topology->DataPath(facility.data).string() << "\n";
      }
      if (region.replicator) {
        out << "  " << topology::ReplicatorProcessName(region.name) << "  "
            << topology->DataPath(region.replicator->data).string() << "\n";
      }
    }
    std::cout << out.str() << std::flush;
  } else if (created) {
    Say("new demo in " + Shown(folder.dir) + ": wrote " + Shown(folder.topology()));
  } else {
    Say("resuming the demo in " + Shown(folder.dir) + " (its " + Shown(folder.topology()) + ")");
    if (base_port) Say("--base-port is ignored: the ports are those of the existing topology");
  }
  // A port taken by something else would only show up as a node failing to bind; say it now. (A
  // planned topology took free ones.)
  if (!created || from_file) {
    std::vector<std::string> busy;
    for (const auto& region : topology->regions) {
      for (const auto& facility : region.facilities) {
        for (int port : {facility.native_port, facility.http_port}) {
          if (!PortIsFree(port)) busy.push_back(std::to_string(port));
        }
      }
      if (region.replicator && !PortIsFree(region.replicator->port)) {
        busy.push_back(std::to_string(region.replicator->port));
      }
    }
    if (!busy.empty()) {
      Warn("port(s) " + Join(busy) + " of " + Shown(folder.topology()) + " are in use by another program; free them" +
           (from_file ? "" : " (or remove the folder to plan new ports)"));
      return kExitFailed;
    }
  }
  bool generated = false;
  if (Status st = EnsureKeyFiles(folder.access(), folder.credentials(), topology->regions.front().name, &generated); !st.ok()) {
    Warn(st.message());
    return kExitFailed;
  }
  if (generated) {
    Say("generated an access key for every node in " + Shown(folder.access()) + "; its client side is " +
        Shown(folder.credentials()) + " (AWS shared-credentials file, profile meridian)");
  }
  if (Status st = WriteFileAtomic(folder.demo_pid_file(), std::to_string(::getpid()) + "\n", 0644); !st.ok()) {
    Warn(st.message());
    return kExitFailed;
  }

  int rc;
  {
    Supervisor supervisor(folder, std::move(topology.value()), args.Has("no-auth"), args.Has("restart"),
                          args.Has("workload"), signals);
    rc = supervisor.Run();
  }
  fs::remove(folder.demo_pid_file(), ec);
  ::close(lock_fd);
  return rc;
}

}  // namespace meridian::cli
