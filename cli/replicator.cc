// `meridian replicator --topology FILE --region NAME`: the replicator of one region.
//
// Ships the region's change stream to every other region's replicator and applies theirs to this
// region (replicator/replicator.h). It keeps no state of its own: the cursors live in the regions,
// so it can be killed and restarted at any time. Auth as `meridian start`: access.yaml and the
// `meridian` profile of credentials beside the topology (the same keys on every process).
// On start it also makes sure the topology's global tables that list this region exist here: the
// first region a table lists creates it (from its key schema in the topology) and asks for the
// other regions as replicas; the rest follows by replication.
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "api/access.h"
#include "cli/args.h"
#include "cli/common.h"
#include "meridian/client.h"
#include "meridian/region_client.h"
#include "replicator/replicator.h"
#include "topology/topology.h"

namespace meridian::cli {
namespace {

// Creates the declared global tables this region is first to list, and adds the missing replica
// regions. Retries until the region answers (it may still be electing), bounded by `give_up`.
void EnsureGlobalTables(const topology::Topology& topo, const std::string& region_name,
                        const std::optional<Credentials>& credentials) {
  const topology::Region* region = topo.FindRegion(region_name);
  for (const topology::GlobalTable& table : topo.global_tables) {
    if (table.regions.empty() || table.regions.front() != region_name) continue;
    RegionClientOptions o;
    o.region = *region;
    o.credentials = credentials;
    o.deadline = std::chrono::milliseconds(30000);
    RegionClient client(o);
    DescribeTableRequest describe{table.name};
    Result<DescribeTableResponse> d = client.DescribeTable(describe);
    if (!d.ok() && d.status().code() == ErrorCode::kResourceNotFound) {
      if (table.key_schema.empty()) {
        std::cerr << "meridian: global table " << table.name << " does not exist in " << region_name
                  << " and the topology gives no key schema for it: create it, then it is replicated\n";
        continue;
      }
      CreateTableRequest create;
      create.table_name = table.name;
      create.key_schema = table.key_schema;
      create.attribute_definitions = table.attribute_definitions;
      create.billing_mode = BillingMode::kPayPerRequest;
      Result<CreateTableResponse> c = client.CreateTable(create);
      if (!c.ok() && c.status().code() != ErrorCode::kResourceInUse) {
        std::cerr << "meridian: creating global table " << table.name << ": " << c.status().ToString() << "\n";
        continue;
      }
      d = client.DescribeTable(describe);
    }
    if (!d.ok()) {
      std::cerr << "meridian: global table " << table.name << ": " << d.status().ToString() << "\n";
      continue;
    }
    UpdateTableRequest update;
    update.table_name = table.name;
    for (const std::string& r : table.regions) {
      if (r == region_name) continue;
      bool present = false;
      for (const auto& replica : d->table.replicas) present = present || replica.region_name == r;
      if (!present) update.replica_updates.push_back(ReplicaUpdate{r, std::nullopt});
    }
    if (update.replica_updates.empty()) continue;
    Result<Response> u = client.Call(Request{update});
    if (!u.ok()) {
      std::cerr << "meridian: adding replicas of " << table.name << ": " << u.status().ToString() << "\n";
    } else {
      std::cout << "meridian: global table " << table.name << ": added " << update.replica_updates.size()
                << " replica region(s)" << std::endl;
    }
  }
}

}  // namespace

int CmdReplicator(int argc, char** argv) {
  Args args;
  std::string error;
  if (!args.Parse(argc, argv, 2, {"topology", "region", "access", "credentials"}, {"no-auth"}, &error)) {
    return UsageError(error);
  }
  if (!args.positional().empty()) return UsageError("replicator takes no positional arguments");
  auto region_name = args.Get("region");
  if (!region_name) return UsageError("replicator needs --region NAME");
  std::string topology_path = topology::ResolveTopologyPath(args.Get("topology"));
  Result<topology::Topology> topo = topology::LoadTopology(topology_path);
  if (!topo.ok()) {
    std::cerr << "meridian: " << topo.status().message() << "\n";
    return kExitUsage;
  }
  const topology::Region* region = topo->FindRegion(*region_name);
  if (!region) return UsageError("no region '" + *region_name + "' in " + topology_path);
  if (!region->replicator) return UsageError("region " + *region_name + " has no replicator in " + topology_path);
  std::filesystem::path topo_dir = std::filesystem::absolute(topology_path).parent_path();

  std::optional<ServerKeys> keys = LoadServerKeys(args, topo_dir);
  if (!keys) return kExitUsage;
  std::optional<api::AccessStore>& access = keys->access;
  std::optional<Credentials>& credentials = keys->credentials;
  std::filesystem::path dir = topo->DataPath(region->replicator->data.empty()
                                                 ? *region_name + "/replicator"
                                                 : region->replicator->data);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);

  sigset_t stop_signals = BlockStopSignals();
  replicator::ReplicatorOptions options;
  options.topology = topo.value();
  options.region = *region_name;
  options.credentials = credentials;
  options.access = access ? &*access : nullptr;
  replicator::Replicator rep(std::move(options));
  if (Status st = rep.Start(); !st.ok()) {
    std::cerr << "meridian: " << st.message() << "\n";
    return kExitUnreachable;
  }
  nlohmann::json endpoints = {{"native", rep.endpoint()}, {"pid", ::getpid()}};
  if (!WriteFileAtomic(dir / "endpoints.json", endpoints.dump() + "\n").ok()) {
    std::cerr << "meridian: cannot write " << (dir / "endpoints.json") << "\n";
  }
  std::cout << "meridian: replicator of " << *region_name << " serving " << rep.endpoint() << " (pid " << ::getpid()
            << ")" << std::endl;
  EnsureGlobalTables(topo.value(), *region_name, credentials);

  int signal = 0;
  sigwait(&stop_signals, &signal);
  std::cout << "meridian: stopping (signal " << signal << ")" << std::endl;
  rep.Stop();
  std::filesystem::remove(dir / "endpoints.json", ec);
  return kExitOk;
}

}  // namespace meridian::cli
