#include "tests/chaos/harness/local_backend.h"

#include <unistd.h>

#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "api/access.h"
#include "tests/integration/process.h"

namespace meridian::chaos {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const char* const kRegionNames[] = {"us-east", "eu-west", "ap-south"};
const char* const kFacilityNames[] = {"a", "b", "c"};
constexpr int kMaxRegions = 3;

Status Failed(const std::string& message) { return Status::Internal(message); }

std::string LinkName(const std::string& from, const std::string& to) { return from + "->" + to; }

Status WriteText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Failed("cannot write " + path.string());
  return Status::Ok();
}

}  // namespace

LocalBackend::LocalBackend(LocalBackendOptions options) : options_(std::move(options)) {}

LocalBackend::~LocalBackend() { StopAll(); }

Result<std::unique_ptr<LocalBackend>> LocalBackend::Create(LocalBackendOptions options) {
  if (options.regions < 1 || options.regions > kMaxRegions) {
    return Status::Validation("the local backend runs 1 to 3 regions, not " + std::to_string(options.regions));
  }
  std::unique_ptr<LocalBackend> b(new LocalBackend(std::move(options)));
  MERIDIAN_RETURN_IF_ERROR(b->Build());
  return b;
}

Status LocalBackend::Build() {
  const fs::path& run = options_.run_dir;
  std::error_code ec;
  for (const char* sub : {"procs", "data", "logs", "faults"}) {
    fs::create_directories(run / sub, ec);
    if (ec) return Failed("cannot create " + (run / sub).string() + ": " + ec.message());
  }
  Result<api::AccessKey> key = api::GenerateAccessFiles(run);
  if (!key.ok()) return key.status();
  credentials_ = Credentials{key->access_key_id, key->secret_access_key};

  // Real ports (native and HTTP for each facility, one for each replicator) and a listening port
  // for each directed link between two processes, all picked at once so that none repeats.
  const int per_region = 7;
  const int processes = options_.regions * 4;
  const int wanted = options_.regions * per_region + processes * (processes - 1);
  std::vector<uint16_t> ports = testing::FreeTcpPorts(wanted);
  if (ports.size() != static_cast<size_t>(wanted)) return Failed("not enough free ports");
  size_t next_link_port = static_cast<size_t>(options_.regions * per_region);
  topology::Topology topo;
  for (int r = 0; r < options_.regions; ++r) {
    topology::Region region;
    region.name = kRegionNames[r];
    for (int f = 0; f < 3; ++f) {
      topology::Facility fac;
      fac.name = kFacilityNames[f];
      fac.host = "127.0.0.1";
      fac.native_port = ports[r * per_region + f];
      fac.http_port = ports[r * per_region + 3 + f];
      fac.data = (run / "data" / topology::ProcessName(region.name, fac.name)).string();
      region.facilities.push_back(fac);
    }
    topology::Replicator rep;
    rep.host = "127.0.0.1";
    rep.port = ports[r * per_region + 6];
    rep.data = (run / "data" / topology::ReplicatorProcessName(region.name)).string();
    region.replicator = rep;
    topo.regions.push_back(region);
  }
  MERIDIAN_RETURN_IF_ERROR(WriteText(run / "topology.yaml", topology::WriteTopology(topo)));
  Result<topology::Topology> loaded = topology::LoadTopology((run / "topology.yaml").string());
  if (!loaded.ok()) return loaded.status();
  client_topology_ = loaded.value();

  // Every process, its real port (the proxy's target) and the entry that holds it.
  struct Endpoint {
    std::string name;
    std::string region;
    bool replicator;
    uint16_t port;
  };
  std::vector<Endpoint> endpoints;
  auto remember = [&](const Endpoint& e) {
    real_ports_[e.name] = e.port;
    endpoints.push_back(e);
  };
  for (const auto& region : topo.regions) {
    for (const auto& f : region.facilities) {
      remember({topology::ProcessName(region.name, f.name), region.name, false, f.native_port});
    }
    remember({topology::ReplicatorProcessName(region.name), region.name, true, region.replicator->port});
  }

  proxy_ = std::make_unique<FaultProxy>(options_.seed);
  for (const Endpoint& self : endpoints) {
    topology::Topology view = topo;
    for (const Endpoint& other : endpoints) {
      if (other.name == self.name) continue;
      std::string link = LinkName(self.name, other.name);
      Result<uint16_t> port = proxy_->AddLink(link, "127.0.0.1", other.port, ports.at(next_link_port++));
      if (!port.ok()) return Failed("proxy link " + link + ": " + port.status().ToString());
      link_faults_[link] = LinkFaults{};
      link_ports_[link] = port.value();
      for (auto& region : view.regions) {
        if (region.name != other.region) continue;
        if (other.replicator) {
          region.replicator->port = port.value();
        } else {
          for (auto& f : region.facilities) {
            if (topology::ProcessName(region.name, f.name) == other.name) f.native_port = port.value();
          }
        }
      }
    }
    fs::path dir = run / "procs" / self.name;
    fs::create_directories(dir, ec);
    MERIDIAN_RETURN_IF_ERROR(WriteText(dir / "topology.yaml", topology::WriteTopology(view)));
    for (const char* file : {"access.yaml", "credentials"}) {
      fs::copy_file(run / file, dir / file, fs::copy_options::overwrite_existing, ec);
      if (ec) return Failed("cannot copy " + std::string(file) + " to " + dir.string() + ": " + ec.message());
    }
    Result<topology::Topology> check = topology::LoadTopology((dir / "topology.yaml").string());
    if (!check.ok()) return check.status();

    std::string topo_file = (dir / "topology.yaml").string();
    std::vector<std::string> argv;
    if (self.replicator) {
      argv = {options_.binary, "replicator", "--topology", topo_file, "--region", self.region};
    } else {
      std::string facility = self.name.substr(self.region.size() + 1);
      argv = {options_.binary, "start", "--topology", topo_file, "--region", self.region, "--facility", facility};
      if (options_.fsync_hook) {
        argv.push_back("--fail-fsync-file");
        argv.push_back((run / "faults" / (self.name + ".fail-fsync")).string());
      }
      argv.insert(argv.end(), options_.start_args.begin(), options_.start_args.end());
    }
    Proc p;
    p.region = self.region;
    p.replicator = self.replicator;
    p.data = run / "data" / self.name;
    p.process = std::make_unique<SupervisedProcess>(self.name, argv, run / "logs" / (self.name + ".log"));
    order_.push_back(self.name);
    procs_.emplace(self.name, std::move(p));
  }
  return Status::Ok();
}

std::vector<std::string> LocalBackend::processes() const { return order_; }

Result<LocalBackend::Proc*> LocalBackend::Find(const std::string& process) {
  auto it = procs_.find(process);
  if (it == procs_.end()) return Status::Validation("no process '" + process + "' in this topology");
  return &it->second;
}

bool LocalBackend::running(const std::string& process) {
  auto it = procs_.find(process);
  return it != procs_.end() && it->second.process->state() != SupervisedProcess::State::kDown;
}

bool LocalBackend::paused(const std::string& process) {
  auto it = procs_.find(process);
  return it != procs_.end() && it->second.process->state() == SupervisedProcess::State::kPaused;
}

Status LocalBackend::WaitServing(const std::string& name, Proc& p) {
  // endpoints.json naming this incarnation's pid: a file left by a killed one does not count.
  auto deadline = Clock::now() + options_.start_timeout;
  while (Clock::now() < deadline) {
    if (p.process->state() == SupervisedProcess::State::kDown) {
      return Failed(name + " exited (" + std::to_string(p.process->last_exit()) + ") while starting; see logs/" +
                    name + ".log:\n" + testing::TailFile(options_.run_dir / "logs" / (name + ".log"), 6));
    }
    auto j = nlohmann::json::parse(testing::ReadFileText(p.data / "endpoints.json"), nullptr, false);
    if (j.is_object() && j.contains("pid") && j["pid"].is_number_integer() &&
        j["pid"].get<int64_t>() == p.process->pid()) {
      return Status::Ok();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Where it is stuck, for the report: every thread's stack.
  std::string where;
  fs::path stacks = options_.run_dir / "logs" / (name + ".stacks.txt");
  if (DumpStacks(p, stacks)) where = "; its threads' stacks are in logs/" + stacks.filename().string();
  return Failed(name + " did not serve within " + std::to_string(options_.start_timeout.count()) + " ms" + where);
}

Status LocalBackend::StartAll() {
  // Facilities first, all at once (a region elects only with two of its three up), then the
  // replicators, which dial their region at start.
  for (bool replicators : {false, true}) {
    for (const std::string& name : order_) {
      Proc& p = procs_.at(name);
      if (p.replicator != replicators) continue;
      std::error_code ec;
      fs::remove(p.data / "endpoints.json", ec);
      if (!p.process->Start()) return Failed("cannot start " + name);
    }
    for (const std::string& name : order_) {
      Proc& p = procs_.at(name);
      if (p.replicator == replicators) MERIDIAN_RETURN_IF_ERROR(WaitServing(name, p));
    }
  }
  return Status::Ok();
}

Status LocalBackend::Kill(const std::string& process) {
  MERIDIAN_ASSIGN_OR_RETURN(Proc * p, Find(process));
  p->process->Kill();
  return Status::Ok();
}

Status LocalBackend::Pause(const std::string& process) {
  MERIDIAN_ASSIGN_OR_RETURN(Proc * p, Find(process));
  if (p->process->state() != SupervisedProcess::State::kRunning) return Failed(process + " is not running");
  p->process->Pause();
  return Status::Ok();
}

Status LocalBackend::Resume(const std::string& process) {
  MERIDIAN_ASSIGN_OR_RETURN(Proc * p, Find(process));
  p->process->Resume();
  return Status::Ok();
}

Status LocalBackend::Stop(const std::string& process) {
  MERIDIAN_ASSIGN_OR_RETURN(Proc * p, Find(process));
  p->process->Stop(options_.stop_grace);
  return Status::Ok();
}

Status LocalBackend::Start(const std::string& process, const std::vector<std::string>& extra_args) {
  MERIDIAN_ASSIGN_OR_RETURN(Proc * p, Find(process));
  if (p->process->state() != SupervisedProcess::State::kDown) return Failed(process + " is already running");
  if (!extra_args.empty()) p->process->SetExtraArgs(extra_args);
  std::error_code ec;
  fs::remove(p->data / "endpoints.json", ec);
  if (!p->process->Start()) return Failed("cannot start " + process);
  return WaitServing(process, *p);
}

Result<int> LocalBackend::WaitExit(const std::string& process, std::chrono::milliseconds timeout) {
  MERIDIAN_ASSIGN_OR_RETURN(Proc * p, Find(process));
  std::optional<int> code = p->process->WaitExit(timeout);
  if (!code) return Failed(process + " did not exit within " + std::to_string(timeout.count()) + " ms");
  return *code;
}

Status LocalBackend::ConfigureLinks(const std::function<bool(const std::string&, const std::string&)>& pick,
                                    const std::function<void(LinkFaults&)>& change) {
  for (auto& [link, faults] : link_faults_) {
    size_t arrow = link.find("->");
    if (!pick(link.substr(0, arrow), link.substr(arrow + 2))) continue;
    LinkFaults next = faults;
    change(next);
    MERIDIAN_RETURN_IF_ERROR(proxy_->Configure(link, next));
    faults = next;
  }
  return Status::Ok();
}

Status LocalBackend::CutRegion(const std::string& region) {
  if (!client_topology_.FindRegion(region)) return Status::Validation("no region '" + region + "'");
  return ConfigureLinks(
      [&](const std::string& from, const std::string& to) {
        const std::string& rf = procs_.at(from).region;
        const std::string& rt = procs_.at(to).region;
        return rf != rt && (rf == region || rt == region);
      },
      [](LinkFaults& f) { f.blocked = true; });
}

Status LocalBackend::CutFacility(const std::string& process) {
  MERIDIAN_ASSIGN_OR_RETURN(Proc * p, Find(process));
  std::string region = p->region;
  return ConfigureLinks(
      [&](const std::string& from, const std::string& to) {
        return (from == process && procs_.at(to).region == region) ||
               (to == process && procs_.at(from).region == region);
      },
      [](LinkFaults& f) { f.blocked = true; });
}

Status LocalBackend::SetInterRegionFaults(const LinkFaults& faults) {
  return ConfigureLinks([&](const std::string& from,
                     const std::string& to) { return procs_.at(from).region != procs_.at(to).region; },
                 [&](LinkFaults& f) {
                   bool blocked = f.blocked;
                   f = faults;
                   f.blocked = f.blocked || blocked;
                 });
}

Status LocalBackend::HealNetwork() {
  proxy_->ClearAll();
  for (auto& [link, faults] : link_faults_) faults = LinkFaults{};
  return Status::Ok();
}

Status LocalBackend::FailFsync(const std::string& process, bool fail) {
  MERIDIAN_ASSIGN_OR_RETURN(Proc * p, Find(process));
  if (p->replicator || !options_.fsync_hook) {
    return Status::Validation(process + " was not started with --fail-fsync-file");
  }
  fs::path file = options_.run_dir / "faults" / (process + ".fail-fsync");
  if (fail) return WriteText(file, "chaos: fsync fails while this file exists\n");
  std::error_code ec;
  fs::remove(file, ec);
  if (ec) return Failed("cannot remove " + file.string() + ": " + ec.message());
  return Status::Ok();
}

std::vector<std::string> LocalBackend::ConflictLogLines(const std::string& process) {
  std::vector<std::string> lines;
  auto it = procs_.find(process);
  if (it == procs_.end() || it->second.replicator) return lines;
  // Oldest rotation first (region/conflict_log.h: conflicts.log.N is older than .N-1).
  for (int n = 16; n >= 0; --n) {
    fs::path file = it->second.data / (n == 0 ? std::string("conflicts.log") : "conflicts.log." + std::to_string(n));
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) lines.push_back(line);
    }
  }
  return lines;
}

nlohmann::json LocalBackend::NetworkReport() {
  nlohmann::json out;
  for (const auto& [link, faults] : link_faults_) {
    Result<LinkStats> s = proxy_->Stats(link);
    if (!s.ok()) continue;
    size_t arrow = link.find("->");
    bool inter = procs_.at(link.substr(0, arrow)).region != procs_.at(link.substr(arrow + 2)).region;
    nlohmann::json& sum = out[inter ? "inter_region_links" : "intra_region_links"];
    if (sum.is_null()) sum = nlohmann::json::object();
    sum["links"] = sum.value("links", 0) + 1;
    sum["connections"] = sum.value("connections", uint64_t{0}) + s->connections;
    sum["bytes_forwarded"] = sum.value("bytes_forwarded", uint64_t{0}) + s->bytes_forwarded;
    sum["chunks_held"] = sum.value("chunks_held", uint64_t{0}) + s->chunks_held;
    sum["connections_cut"] = sum.value("connections_cut", uint64_t{0}) + s->connections_cut;
  }
  return out;
}

bool LocalBackend::DumpStacks(const Proc& p, const fs::path& file) {
  if (!fs::exists("/usr/bin/gdb") || p.process->pid() <= 0) return false;
  testing::CommandResult r = testing::RunCommand(
      {"/usr/bin/gdb", "-p", std::to_string(p.process->pid()), "-batch", "-ex", "thread apply all bt"}, "",
      std::chrono::seconds(60));
  std::ofstream(file) << r.out;
  return true;
}

std::string LocalBackend::Diagnose(const std::string& process) {
  auto it = procs_.find(process);
  if (it == procs_.end()) return "";
  std::string stem = "diagnosis-" + std::to_string(++diagnoses_) + "-" + process;
  fs::path dir = options_.run_dir / "logs";
  // The sockets of every process and of the proxy (this process), with the port of every link and
  // process, so a connection can be followed through the proxy.
  std::ofstream out(dir / (stem + ".txt"));
  out << "# pids\n";
  for (const auto& [name, p] : procs_) out << name << " " << p.process->pid() << "\n";
  out << "# harness (proxy) " << ::getpid() << "\n# real ports\n";
  for (const auto& [name, port] : real_ports_) out << name << " " << port << "\n";
  out << "# link ports\n";
  for (const auto& [link, port] : link_ports_) out << link << " " << port << "\n";
  out << "# ss -tanpi\n" << testing::RunCommand({"/usr/bin/ss", "-tanpi"}, "", std::chrono::seconds(20)).out;
  out.close();
  std::string said = "logs/" + stem + ".txt";
  if (it->second.process->state() != SupervisedProcess::State::kDown && DumpStacks(it->second, dir / (stem + ".stacks.txt"))) {
    said += ", logs/" + stem + ".stacks.txt";
  }
  return said;
}

nlohmann::json LocalBackend::LinksOf(const std::string& process) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [link, faults] : link_faults_) {
    size_t arrow = link.find("->");
    if (link.substr(0, arrow) != process && link.substr(arrow + 2) != process) continue;
    Result<LinkStats> s = proxy_->Stats(link);
    if (!s.ok()) continue;
    out[link] = {{"connections", s->connections}, {"bytes_forwarded", s->bytes_forwarded},
                 {"connections_cut", s->connections_cut}, {"blocked", faults.blocked}};
  }
  return out;
}

void LocalBackend::StopAll() {
  // All at once (a leader's hand-over takes up to 1.5 s), then SIGKILL what is left at the bound.
  for (const std::string& name : order_) procs_.at(name).process->Terminate();
  auto deadline = Clock::now() + options_.stop_grace;
  for (const std::string& name : order_) {
    SupervisedProcess& p = *procs_.at(name).process;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (!p.WaitExit(std::max(left, std::chrono::milliseconds(0)))) p.Kill();
  }
}

}  // namespace meridian::chaos
