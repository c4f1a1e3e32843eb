// The compose backend: the Docker Compose deployment of the topology issue (`meridian compose`,
// compose/README.md), already up, driven with the Docker CLI. Real containers with their own
// addresses and networks:
//   kill            docker kill -s KILL      (restart: unless-stopped keeps it down until a start)
//   pause / resume  docker pause / unpause   (the cgroup freezer: SIGSTOP for every process in it)
//   stop            docker stop -t GRACE
//   start           docker start, then wait until it serves (a facility answers its status on its
//                   published native port; a replicator is running and its health check passes)
//   cut-region      docker network disconnect PROJECT_inter-region, for each container of the
//                   region; healed with docker network connect --alias SERVICE (the alias is
//                   what the other regions dial)
// A region's own network is never touched, so clients reach every facility through its published
// ports (the region network is the containers' gateway: inter-region is internal).
// What a container cannot do without being re-created (other arguments, a disk that fails
// fsync, link latency or loss: the kernel here has no netem) is refused up front: Supports().
//
// The deployment must publish native ports (`meridian compose --publish-native`): the harness's
// clients are the C++ client library on the host. The backend never brings the deployment up or
// down (tests/integration/compose_lib.sh does, once for the test and its chaos scenarios); at the
// end it leaves every container running, unpaused and connected, with its logs in the run folder.
//
// Thread-safety: main thread only (see backend.h).
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tests/chaos/harness/backend.h"

namespace meridian::chaos {

struct ComposeBackendOptions {
  std::filesystem::path compose_file;  // DIR/NAME.yml; NAME.topology.yaml and NAME.credentials beside it
  std::string project;                 // the docker-compose project (-p) it runs under
  std::filesystem::path run_dir;       // logs/ and conflicts/ go here
  std::string docker = "/usr/bin/docker";
  std::chrono::milliseconds start_timeout{60000};  // until a started container serves
  std::chrono::seconds stop_grace{10};             // docker stop -t
};

class ComposeBackend : public Backend {
 public:
  // Finds every service's container (by the compose labels) and its published ports; fails when a
  // service has no container or a facility's native port is not published.
  static Result<std::unique_ptr<ComposeBackend>> Create(ComposeBackendOptions options);
  ~ComposeBackend() override;

  // The actions of scenario.h this backend can carry out; for a refusal before the run.
  static bool Supports(const std::string& action);

  std::string name() const override { return "compose"; }
  const topology::Topology& client_topology() const override { return client_topology_; }
  const Credentials& credentials() const override { return credentials_; }
  std::vector<std::string> processes() const override { return order_; }
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
  nlohmann::json NetworkReport() override;
  nlohmann::json LinksOf(const std::string& process) override;
  std::string Diagnose(const std::string& process) override;
  // Heals what this backend did (network cuts, pauses) and saves every container's log; stops
  // nothing: the deployment belongs to whoever brought it up.
  void StopAll() override;

 private:
  struct Container {
    std::string id;
    std::string region;
    bool replicator = false;
  };
  struct State {
    bool known = false;  // docker inspect answered
    bool running = false;
    bool paused = false;
    int exit_code = 0;
    std::string health;  // "healthy", "starting", "unhealthy", "" without a health check
  };

  explicit ComposeBackend(ComposeBackendOptions options);
  Status Discover();
  Result<Container*> Find(const std::string& process);
  // `docker ARGS...`, bounded; its stdout, or an error with what it printed.
  Result<std::string> Docker(const std::vector<std::string>& args, std::chrono::seconds timeout = std::chrono::seconds(60));
  State Inspect(const Container& c);
  Status WaitServing(const std::string& process, const Container& c);
  Status WaitDown(const std::string& process, const Container& c);
  std::string InterRegionNetwork() const { return options_.project + "_inter-region"; }

  ComposeBackendOptions options_;
  topology::Topology client_topology_;
  Credentials credentials_;
  std::vector<std::string> order_;
  std::map<std::string, Container> containers_;
  std::set<std::string> disconnected_;  // processes cut off from the inter-region network
  std::map<std::string, int> operations_;  // docker operations done, for result.json
  int diagnoses_ = 0;
  bool stopped_ = false;
};

}  // namespace meridian::chaos
