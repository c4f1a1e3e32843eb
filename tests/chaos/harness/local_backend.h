// The local backend: a topology of R regions x 3 `meridian start` processes plus one `meridian
// replicator` per region, as children of the harness on 127.0.0.1, with every path between them
// crossing a user-space FaultProxy (fault_proxy.h) so that faults can be directed per link.
//
// How the paths are made to cross the proxy. Each process gets ITS OWN topology file, in its own
// folder (run/procs/<process>/topology.yaml, with access.yaml and credentials copied beside it,
// where LoadServerKeys looks). In it, the process's own entry keeps its real ports (a node binds
// host:native_port of its own entry, a replicator its own port) and every OTHER process's native
// port (facilities) or port (replicators) is the listening port of the proxy link
// "<this>-><other>", which forwards to the other's real port. A node dials its peers, a follower
// forwards to its leader and a replicator dials its region's facilities and the other replicators
// through those entries, so every inter-facility and inter-region connection is on a named link.
// HTTP ports stay real: no process dials another's HTTP port.
// Clients (workers, final scans, leader look-ups) use run/topology.yaml with the real ports: client
// traffic is not subject to link faults.
//
// Folder layout (run = --out):
//   run/topology.yaml, run/access.yaml, run/credentials   the clients' view and the one key set
//   run/procs/<process>/{topology.yaml,access.yaml,credentials}
//   run/data/<process>/     data folders (endpoints.json, db, conflicts.log)
//   run/logs/<process>.log  stdout and stderr of every incarnation, with harness notes between
//   run/faults/<process>.fail-fsync   present while that node's disk fails fsync
//
// Thread-safety: main thread only (see backend.h and supervised_process.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/chaos/fault_proxy.h"
#include "tests/chaos/harness/backend.h"
#include "tests/chaos/harness/supervised_process.h"

namespace meridian::chaos {

struct LocalBackendOptions {
  std::string binary;              // the `meridian` executable
  std::filesystem::path run_dir;   // created when missing
  int regions = 2;                 // 1..3
  uint64_t seed = 1;               // the proxy's jitter and loss
  // Started with --fail-fsync-file run/faults/<process>.fail-fsync (the product's test hook).
  bool fsync_hook = false;
  // Extra arguments of every `meridian start` (e.g. a shorter snapshot interval).
  std::vector<std::string> start_args;
  std::chrono::milliseconds start_timeout{30000};  // until a started process serves
  std::chrono::milliseconds stop_grace{10000};     // SIGTERM until SIGKILL
};

class LocalBackend : public Backend {
 public:
  // Writes the folder layout above and the proxy links; starts nothing.
  static Result<std::unique_ptr<LocalBackend>> Create(LocalBackendOptions options);
  ~LocalBackend() override;

  // Starts every facility, waits until each serves, then the replicators.
  Status StartAll();

  std::string name() const override { return "local"; }
  const topology::Topology& client_topology() const override { return client_topology_; }
  const Credentials& credentials() const override { return credentials_; }
  std::vector<std::string> processes() const override;
  bool running(const std::string& process) override;
  bool paused(const std::string& process) override;
  Status Kill(const std::string& process) override;
  Status Pause(const std::string& process) override;
  Status Resume(const std::string& process) override;
  Status Stop(const std::string& process) override;
  Status Start(const std::string& process, const std::vector<std::string>& extra_args = {}) override;
  Result<int> WaitExit(const std::string& process, std::chrono::milliseconds timeout) override;
  Status CutRegion(const std::string& region) override;
  Status CutFacility(const std::string& process) override;
  Status SetInterRegionFaults(const LinkFaults& faults) override;
  Status HealNetwork() override;
  Status FailFsync(const std::string& process, bool fail) override;
  std::vector<std::string> ConflictLogLines(const std::string& process) override;
  // Proxy counters summed over the intra-region and the inter-region links.
  nlohmann::json NetworkReport() override;
  nlohmann::json LinksOf(const std::string& process) override;
  std::string Diagnose(const std::string& process) override;
  void StopAll() override;

  const std::filesystem::path& run_dir() const { return options_.run_dir; }
  FaultProxy& proxy() { return *proxy_; }

 private:
  struct Proc {
    std::string region;
    bool replicator = false;
    std::filesystem::path data;
    std::unique_ptr<SupervisedProcess> process;
  };

  explicit LocalBackend(LocalBackendOptions options);
  Status Build();
  Result<Proc*> Find(const std::string& process);
  Status WaitServing(const std::string& name, Proc& p);
  // Every thread's stack of a live process (gdb, when installed) into `file`; false without gdb.
  bool DumpStacks(const Proc& p, const std::filesystem::path& file);
  // Sets `faults` on every link for which `pick(from, to)` holds (process names).
  Status ConfigureLinks(const std::function<bool(const std::string&, const std::string&)>& pick,
                        const std::function<void(LinkFaults&)>& change);

  LocalBackendOptions options_;
  topology::Topology client_topology_;
  Credentials credentials_;
  std::unique_ptr<FaultProxy> proxy_;
  std::vector<std::string> order_;
  std::map<std::string, Proc> procs_;
  std::map<std::string, LinkFaults> link_faults_;  // what each link has now ("from->to")
  std::map<std::string, uint16_t> link_ports_;     // where each link listens
  std::map<std::string, uint16_t> real_ports_;     // each process's own (native or replicator) port
  int diagnoses_ = 0;
};

}  // namespace meridian::chaos
