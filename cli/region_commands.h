// The `meridian` commands that address a topology's regions rather than one node: what they share
// (the topology, the chosen region, the credentials, resolved once in cli/main.cc beside the
// single-node client options), `meridian status` (cli/status.cc) and `meridian admin`
// (cli/admin.cc).
//
// Thread-safety: each command runs on the main thread; status asks its facilities from threads of
// its own, one Client each.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "cli/args.h"
#include "meridian/client.h"
#include "meridian/region_client.h"
#include "topology/topology.h"

namespace meridian::cli {

struct RegionCommandContext {
  topology::Topology topology;
  std::string topology_path;
  size_t region_index = 0;   // --region NAME, else the topology's first region
  bool region_given = false;  // --region was given
  // --credentials FILE, else `credentials` beside the topology file (profile --profile or
  // meridian), else $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY; none when none of them exists.
  std::optional<Credentials> credentials;
  std::optional<std::chrono::milliseconds> timeout;  // --timeout-ms

  const topology::Region& region() const { return topology.regions[region_index]; }
};

// RegionClient options for the chosen region: --timeout-ms (else `default_deadline`) bounds a whole
// call with its retries; one try gets at most the client's default attempt timeout.
inline RegionClientOptions RegionClientOptionsFrom(const RegionCommandContext& context,
                                                   std::chrono::milliseconds default_deadline) {
  RegionClientOptions options;
  options.region = context.region();
  options.credentials = context.credentials;
  options.deadline = context.timeout.value_or(default_deadline);
  options.attempt_timeout = std::min(options.attempt_timeout, options.deadline);
  return options;
}

// `meridian status [--topology FILE] [--region NAME] [--json] [--pretty] [--timeout-ms N]
// [--conflicts N]`: every facility's NodeStatus and each region's ReplicationStatus (lag per
// source, conflicts per table), asked in parallel (1 s each unless --timeout-ms). Exit 0 when every
// facility answered, 3 when any is down, else 1 when any answered with an error.
int CmdStatus(const Args& args, const RegionCommandContext& context);

// `meridian admin transfer-leader [--to FACILITY]` and `meridian admin replace-facility --facility
// NAME` (with --topology FILE [--region NAME]): the operator request to the region's leader.
int CmdAdmin(const Args& args, const RegionCommandContext& context);

}  // namespace meridian::cli
