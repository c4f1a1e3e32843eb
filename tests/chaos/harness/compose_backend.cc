#include "tests/chaos/harness/compose_backend.h"

#include <fstream>
#include <sstream>
#include <thread>

#include "meridian/client.h"
#include "tests/chaos/harness/cluster_ops.h"
#include "tests/integration/process.h"
#include "topology/compose.h"

namespace meridian::chaos {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

Status Failed(const std::string& message) { return Status::Internal(message); }

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// The host port of the first line of `docker port` ("127.0.0.1:40005"); 0 when there is none.
uint16_t HostPort(const std::string& docker_port_output) {
  std::string first = docker_port_output.substr(0, docker_port_output.find('\n'));
  size_t colon = first.rfind(':');
  if (colon == std::string::npos) return 0;
  long port = std::strtol(first.c_str() + colon + 1, nullptr, 10);
  return port > 0 && port < 65536 ? static_cast<uint16_t>(port) : 0;
}

// What a docker command printed, or `fallback` when it failed.
std::string OutputOr(const Result<std::string>& r, const std::string& fallback) { return r.ok() ? r.value() : fallback; }

// The container folder of a facility's data (the compose volume), where conflicts.log is.
const std::string kContainerData = std::string(topology::kComposeVolumeDir) + "/data";

}  // namespace

ComposeBackend::ComposeBackend(ComposeBackendOptions options) : options_(std::move(options)) {}

ComposeBackend::~ComposeBackend() { StopAll(); }

bool ComposeBackend::Supports(const std::string& action) {
  static const std::set<std::string> supported = {"kill",       "pause",          "resume",        "stop",
                                                  "start",      "restart",        "cut-region",    "heal-network",
                                                  "heal-all",   "transfer-leader", "wait-healthy", "expect-no-acks",
                                                  "rolling-restart"};
  return supported.count(action) > 0;
}

Result<std::unique_ptr<ComposeBackend>> ComposeBackend::Create(ComposeBackendOptions options) {
  if (options.project.empty()) return Status::Validation("the compose backend needs the project name (-p)");
  std::unique_ptr<ComposeBackend> b(new ComposeBackend(std::move(options)));
  MERIDIAN_RETURN_IF_ERROR(b->Discover());
  return b;
}

Result<std::string> ComposeBackend::Docker(const std::vector<std::string>& args, std::chrono::seconds timeout) {
  std::vector<std::string> argv = {options_.docker};
  argv.insert(argv.end(), args.begin(), args.end());
  // Through sh -c with 2>&1, so that a refusal's message (docker prints it on stderr) reaches
  // the report.
  std::string command;
  for (const std::string& a : argv) {
    std::string quoted = "'";
    for (char ch : a) quoted += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    command += (command.empty() ? "" : " ") + quoted + "'";
  }
  testing::CommandResult r = testing::RunCommand({"/bin/sh", "-c", command + " 2>&1"}, "", timeout);
  if (r.exit_code != 0) {
    std::string said = args.empty() ? "docker" : "docker " + args.front();
    for (size_t i = 1; i < args.size() && i < 4; ++i) said += " " + args[i];
    return Failed(said + (r.exit_code < 0 ? " did not finish within " + std::to_string(timeout.count()) + " s"
                                          : " exited " + std::to_string(r.exit_code)) +
                  ": " + Trim(r.out).substr(0, 500));
  }
  return r.out;
}

Status ComposeBackend::Discover() {
  const fs::path& file = options_.compose_file;
  std::string name = file.stem().string();
  fs::path dir = file.parent_path();
  topology::ParseOptions parse;
  parse.check_data_parents = false;  // the folders are inside the containers
  MERIDIAN_ASSIGN_OR_RETURN(topology::Topology containers,
                            topology::LoadTopology((dir / (name + ".topology.yaml")).string(), parse));
  MERIDIAN_ASSIGN_OR_RETURN(credentials_, LoadSharedCredentials((dir / (name + ".credentials")).string(), "meridian"));

  auto container_of = [&](const std::string& service) -> Result<std::string> {
    MERIDIAN_ASSIGN_OR_RETURN(std::string ids,
                              Docker({"ps", "-aq", "--no-trunc", "--filter", "label=com.docker.compose.project=" + options_.project,
                                      "--filter", "label=com.docker.compose.service=" + service}));
    std::istringstream lines(ids);
    std::vector<std::string> found;
    for (std::string line; std::getline(lines, line);) {
      if (!Trim(line).empty()) found.push_back(Trim(line));
    }
    if (found.size() != 1) {
      return Failed("project " + options_.project + ": service " + service + " has " + std::to_string(found.size()) +
                    " containers, not 1 (is the deployment up?)");
    }
    return found.front();
  };

  client_topology_ = containers;
  for (topology::Region& region : client_topology_.regions) {
    for (topology::Facility& f : region.facilities) {
      std::string service = topology::ProcessName(region.name, f.name);
      MERIDIAN_ASSIGN_OR_RETURN(std::string id, container_of(service));
      MERIDIAN_ASSIGN_OR_RETURN(std::string native, Docker({"port", id, std::to_string(f.native_port) + "/tcp"}));
      MERIDIAN_ASSIGN_OR_RETURN(std::string http, Docker({"port", id, std::to_string(f.http_port) + "/tcp"}));
      uint16_t native_port = HostPort(native);
      uint16_t http_port = HostPort(http);
      if (native_port == 0 || http_port == 0) {
        return Failed(service + ": its native and HTTP ports must be published (meridian compose --publish-native); "
                      "docker port says '" + Trim(native) + "' and '" + Trim(http) + "'");
      }
      // Clients on the host: the published ports on 127.0.0.1 (compose publishes there unless
      // told otherwise, and a 0.0.0.0 publication answers there too).
      f.host = "127.0.0.1";
      f.advertise.clear();
      f.native_port = native_port;
      f.http_port = http_port;
      containers_[service] = Container{id, region.name, false};
      order_.push_back(service);
    }
    if (region.replicator) {
      std::string service = topology::ReplicatorProcessName(region.name);
      MERIDIAN_ASSIGN_OR_RETURN(std::string id, container_of(service));
      containers_[service] = Container{id, region.name, true};
      order_.push_back(service);
    }
  }
  std::error_code ec;
  fs::create_directories(options_.run_dir / "logs", ec);
  fs::create_directories(options_.run_dir / "conflicts", ec);
  return Status::Ok();
}

Result<ComposeBackend::Container*> ComposeBackend::Find(const std::string& process) {
  auto it = containers_.find(process);
  if (it == containers_.end()) return Status::Validation("no process '" + process + "' in the deployment");
  return &it->second;
}

ComposeBackend::State ComposeBackend::Inspect(const Container& c) {
  State s;
  Result<std::string> out = Docker(
      {"inspect", "-f",
       "{{.State.Running}} {{.State.Paused}} {{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{end}}",
       c.id},
      20s);
  if (!out.ok()) return s;
  std::istringstream words(out.value());
  std::string running, paused;
  words >> running >> paused >> s.exit_code >> s.health;
  s.known = true;
  s.running = running == "true";
  s.paused = paused == "true";
  return s;
}

bool ComposeBackend::running(const std::string& process) {
  auto it = containers_.find(process);
  return it != containers_.end() && Inspect(it->second).running;
}

bool ComposeBackend::paused(const std::string& process) {
  auto it = containers_.find(process);
  return it != containers_.end() && Inspect(it->second).paused;
}

Status ComposeBackend::WaitDown(const std::string& process, const Container& c) {
  auto deadline = Clock::now() + 20s;
  while (Clock::now() < deadline) {
    State s = Inspect(c);
    if (s.known && !s.running) return Status::Ok();
    std::this_thread::sleep_for(50ms);
  }
  return Failed(process + " still runs 20 s after it was killed or stopped");
}

Status ComposeBackend::Kill(const std::string& process) {
  MERIDIAN_ASSIGN_OR_RETURN(Container * c, Find(process));
  ++operations_["kill"];
  MERIDIAN_RETURN_IF_ERROR(Docker({"kill", "-s", "KILL", c->id}).status());
  return WaitDown(process, *c);
}

Status ComposeBackend::Pause(const std::string& process) {
  MERIDIAN_ASSIGN_OR_RETURN(Container * c, Find(process));
  ++operations_["pause"];
  return Docker({"pause", c->id}).status();
}

Status ComposeBackend::Resume(const std::string& process) {
  MERIDIAN_ASSIGN_OR_RETURN(Container * c, Find(process));
  ++operations_["unpause"];
  return Docker({"unpause", c->id}).status();
}

Status ComposeBackend::Stop(const std::string& process) {
  MERIDIAN_ASSIGN_OR_RETURN(Container * c, Find(process));
  ++operations_["stop"];
  MERIDIAN_RETURN_IF_ERROR(
      Docker({"stop", "-t", std::to_string(options_.stop_grace.count()), c->id}, options_.stop_grace + 30s).status());
  return WaitDown(process, *c);
}

Status ComposeBackend::WaitServing(const std::string& process, const Container& c) {
  auto deadline = Clock::now() + options_.start_timeout;
  const topology::Facility* facility = nullptr;
  if (!c.replicator) {
    facility = client_topology_.FindFacility(c.region, process.substr(c.region.size() + 1));
  }
  std::string last;
  while (Clock::now() < deadline) {
    State s = Inspect(c);
    if (s.known && !s.running) {
      last = "not running (exit code " + std::to_string(s.exit_code) + ")";
    } else if (facility) {
      // Serving: the node answers its status through the published native port.
      Result<proto::NodeStatus> status = FacilityStatus(credentials_, *facility);
      if (status.ok()) return Status::Ok();
      last = status.status().ToString();
    } else {
      if (s.health == "healthy") return Status::Ok();
      last = "health " + (s.health.empty() ? std::string("unknown") : s.health);
    }
    std::this_thread::sleep_for(200ms);
  }
  return Failed(process + " did not serve within " + std::to_string(options_.start_timeout.count()) +
                " ms of its start (" + last + "); see " + Diagnose(process));
}

Status ComposeBackend::Start(const std::string& process, const std::vector<std::string>& extra_args) {
  MERIDIAN_ASSIGN_OR_RETURN(Container * c, Find(process));
  if (!extra_args.empty()) {
    return Status::Validation("the compose backend cannot start " + process +
                              " with other arguments (its container's command is fixed)");
  }
  State s = Inspect(*c);
  if (s.running) return Failed(process + " is already running");
  ++operations_["start"];
  MERIDIAN_RETURN_IF_ERROR(Docker({"start", c->id}).status());
  return WaitServing(process, *c);
}

Result<int> ComposeBackend::WaitExit(const std::string& process, std::chrono::milliseconds timeout) {
  MERIDIAN_ASSIGN_OR_RETURN(Container * c, Find(process));
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    State s = Inspect(*c);
    if (s.known && !s.running) return s.exit_code;
    std::this_thread::sleep_for(100ms);
  }
  return Failed(process + " did not exit within " + std::to_string(timeout.count()) + " ms");
}

Status ComposeBackend::CutRegion(const std::string& region) {
  if (!client_topology_.FindRegion(region)) return Status::Validation("no region '" + region + "'");
  for (const std::string& process : order_) {
    const Container& c = containers_.at(process);
    if (c.region != region || disconnected_.count(process)) continue;
    ++operations_["network disconnect"];
    MERIDIAN_RETURN_IF_ERROR(Docker({"network", "disconnect", InterRegionNetwork(), c.id}).status());
    disconnected_.insert(process);
  }
  return Status::Ok();
}

Status ComposeBackend::CutFacility(const std::string& process) {
  return Status::Validation("the compose backend cannot cut " + process +
                            " off from its region alone (its region's network is also the way clients reach it)");
}

Status ComposeBackend::SetInterRegionFaults(const LinkFaults&) {
  return Status::Validation("the compose backend has no link latency or loss (no netem here, and no proxy "
                            "between containers)");
}

Status ComposeBackend::HealNetwork() {
  Status result;
  for (auto it = disconnected_.begin(); it != disconnected_.end();) {
    const Container& c = containers_.at(*it);
    ++operations_["network connect"];
    // The alias is the service name, which the other regions' processes dial.
    Status st = Docker({"network", "connect", "--alias", *it, InterRegionNetwork(), c.id}).status();
    if (!st.ok()) {
      result = st;
      ++it;
      continue;
    }
    it = disconnected_.erase(it);
  }
  return result;
}

Status ComposeBackend::FailFsync(const std::string& process, bool fail) {
  if (!fail) return Status::Ok();  // nothing to mend: no disk was made to fail
  return Status::Validation("the compose backend cannot make " + process + "'s disk fail fsync");
}

std::vector<std::string> ComposeBackend::ConflictLogLines(const std::string& process) {
  std::vector<std::string> lines;
  auto it = containers_.find(process);
  if (it == containers_.end() || it->second.replicator) return lines;
  // conflicts.log, then its rotations .1, .2, ... (region/conflict_log.h: .N is older than .N-1)
  // until one is missing; read back oldest first. docker cp works on a stopped container too.
  fs::path into = options_.run_dir / "conflicts" / process;
  std::error_code ec;
  fs::remove_all(into, ec);
  fs::create_directories(into, ec);
  std::vector<fs::path> files;
  for (int n = 0; n <= 16; ++n) {
    std::string name = n == 0 ? std::string("conflicts.log") : "conflicts.log." + std::to_string(n);
    if (!Docker({"cp", it->second.id + ":" + kContainerData + "/" + name, (into / name).string()}).ok()) break;
    files.push_back(into / name);
  }
  for (auto f = files.rbegin(); f != files.rend(); ++f) {
    std::ifstream in(*f);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) lines.push_back(line);
    }
  }
  return lines;
}

nlohmann::json ComposeBackend::NetworkReport() {
  nlohmann::json out = {{"project", options_.project}, {"docker_operations", operations_}};
  out["still_disconnected"] = std::vector<std::string>(disconnected_.begin(), disconnected_.end());
  return out;
}

nlohmann::json ComposeBackend::LinksOf(const std::string& process) {
  auto it = containers_.find(process);
  if (it == containers_.end()) return nlohmann::json::object();
  Result<std::string> networks = Docker({"inspect", "-f", "{{json .NetworkSettings.Networks}}", it->second.id}, 20s);
  auto j = networks.ok() ? nlohmann::json::parse(networks.value(), nullptr, false) : nlohmann::json();
  nlohmann::json out = nlohmann::json::object();
  if (j.is_object()) {
    for (const auto& [network, settings] : j.items()) out[network] = settings.value("IPAddress", "");
  }
  return {{"networks", out}, {"cut_off_from_inter_region", disconnected_.count(process) > 0}};
}

std::string ComposeBackend::Diagnose(const std::string& process) {
  auto it = containers_.find(process);
  if (it == containers_.end()) return "";
  std::string stem = "diagnosis-" + std::to_string(++diagnoses_) + "-" + process + ".txt";
  std::ofstream out(options_.run_dir / "logs" / stem);
  out << "# docker inspect\n" << OutputOr(Docker({"inspect", it->second.id}, 20s), "(failed)") << "\n";
  out << "# docker logs --tail 200\n" << OutputOr(Docker({"logs", "--tail", "200", it->second.id}, 20s), "(failed)");
  return "logs/" + stem;
}

void ComposeBackend::StopAll() {
  if (stopped_) return;
  stopped_ = true;
  (void)HealNetwork();
  for (const std::string& process : order_) {
    const Container& c = containers_.at(process);
    if (Inspect(c).paused) (void)Docker({"unpause", c.id});
    std::ofstream(options_.run_dir / "logs" / (process + ".log"))
        << OutputOr(Docker({"logs", "--timestamps", c.id}, 30s), "(docker logs failed)");
  }
}

}  // namespace meridian::chaos
