// What a chaos scenario can do to a topology, whatever runs it: local processes behind a fault
// proxy (local_backend.h) or, later, the Docker Compose deployment (`docker kill`, `docker pause`,
// `docker network disconnect`). Scenarios (scenario.h) speak only this interface, so the same
// scenario names run on every backend.
//
// Process names are the topology's ("us-east-a", "us-east-replicator": topology::ProcessName).
// Every operation is bounded in time and returns an error naming what did not happen.
//
// Thread-safety: the harness calls a backend from its main thread only.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "meridian/client.h"
#include "storage/status.h"
#include "tests/chaos/fault_proxy.h"
#include "topology/topology.h"

namespace meridian::chaos {

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string name() const = 0;  // "local", "compose"

  // The topology as clients see it (real addresses: client traffic does not cross the link
  // faults) and the key that signs client requests.
  virtual const topology::Topology& client_topology() const = 0;
  virtual const Credentials& credentials() const = 0;

  // Every facility and replicator, in topology order.
  virtual std::vector<std::string> processes() const = 0;
  virtual bool running(const std::string& process) = 0;  // started, not killed, not exited (paused counts)
  virtual bool paused(const std::string& process) = 0;

  virtual Status Kill(const std::string& process) = 0;   // SIGKILL
  virtual Status Pause(const std::string& process) = 0;  // SIGSTOP
  virtual Status Resume(const std::string& process) = 0; // SIGCONT
  virtual Status Stop(const std::string& process) = 0;   // SIGTERM, then SIGKILL after a bound
  // Starts a process that is down with its argv, plus `extra_args` from now on when non-empty
  // (e.g. {"--clock-offset-ms", "250"}), and waits until it serves.
  virtual Status Start(const std::string& process, const std::vector<std::string>& extra_args = {}) = 0;
  // Waits (bounded) for a process to exit by itself; its exit status.
  virtual Result<int> WaitExit(const std::string& process, std::chrono::milliseconds timeout) = 0;

  // Links between processes. A link is directed (from -> to: the connections `from` opens);
  // faults apply to both directions of the bytes on it.
  virtual Status CutRegion(const std::string& region) = 0;     // every link between it and the others
  virtual Status CutFacility(const std::string& process) = 0;  // every link between it and its region
  virtual Status SetInterRegionFaults(const LinkFaults& faults) = 0;
  virtual Status HealNetwork() = 0;

  // The disk of a facility starts failing fsync (the node was started with the hook), or stops.
  virtual Status FailFsync(const std::string& process, bool fail) = 0;

  // Each facility's conflict log lines (DATA/conflicts.log and its rotations), for the checker.
  virtual std::vector<std::string> ConflictLogLines(const std::string& process) = 0;

  // What the network saw (bytes, connections cut...), for result.json: shows that a fault bit.
  virtual nlohmann::json NetworkReport() = 0;
  // The same for each link to or from one process (a report on a process that did not recover).
  virtual nlohmann::json LinksOf(const std::string& process) = 0;
  // Writes what can be seen of a process that did not recover (its sockets, its threads' stacks)
  // into the run folder; says where.
  virtual std::string Diagnose(const std::string& process) = 0;

  // Stops every process (bounded). Also what the destructor does.
  virtual void StopAll() = 0;
};

}  // namespace meridian::chaos
