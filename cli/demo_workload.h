// `meridian demo --workload`: a ready-made global-table workload against the regions of a demo,
// through the region-aware client library (meridian/region_client.h), that shows what global
// tables do: items written in every region arrive in every other one (how many, and how long after
// the write's acknowledgement), concurrent writes to the same keys are resolved by last-writer-wins
// (how many, which region won) and every region ends with the same values.
//
// The steps, each bounded in time:
//   1. the table `demo-workload` (pk S, on demand) in the first region, every region a replica
//      (UpdateTable ReplicaUpdates), until DescribeTable shows every replica ACTIVE;
//   2. one writer thread per region: `items_per_region` items whose keys the region owns
//      ("us-east-17"), then, all regions at once, the same `contended_keys` keys ("contended-3");
//   3. meanwhile one reader thread per region polls (BatchGetItem, eventually consistent) the other
//      regions' items until each has arrived: the arrival lag is the time from the write's
//      acknowledgement to its first successful read elsewhere, on the one clock of this process;
//   4. the contended keys, read in every region (strongly consistent) until all regions hold the
//      same item; the conflicts each region resolved meanwhile (ReplicationStatus, as
//      `meridian status` shows them).
// Every item carries the run's id, so a rerun on the same demo never counts an earlier run's item
// as arrived. With one region there is nothing to replicate: it writes and reads back.
//
// Thread-safety: RunDemoWorkload starts and joins its own threads (one RegionClient each); call it
// from one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "meridian/region_client.h"
#include "storage/operations.h"
#include "topology/topology.h"

namespace meridian::cli {

struct DemoWorkloadOptions {
  std::filesystem::path topology;     // the demo's DIR/topology.yaml
  std::filesystem::path credentials;  // its DIR/credentials (profile meridian)
  int items_per_region = 20;
  int contended_keys = 5;
  // For the table to become ACTIVE everywhere, and then for every item to arrive everywhere.
  std::chrono::seconds setup_timeout{60};
  std::chrono::seconds arrival_timeout{60};
};

// Runs the workload and prints its report on stdout. 0 when every item arrived and every region
// agrees on the contended keys; 1 (after saying what is missing) otherwise.
int RunDemoWorkload(const DemoWorkloadOptions& options);

// The table `create` in the first region of `t`, with every other region added as a replica
// (UpdateTable ReplicaUpdates), until DescribeTable shows it ACTIVE everywhere; `clients` holds
// one client per region of `t`, in its order. A table of that name left by an earlier run is
// reused when its key schema is the same. `say` is told what is being waited for. Also used by
// `meridian bench` (cli/bench.cc). A timeout or the first API error otherwise.
Status SetUpGlobalTable(std::vector<RegionClient>& clients, const topology::Topology& t,
                        const CreateTableRequest& create, std::chrono::steady_clock::time_point deadline,
                        const std::function<void(const std::string&)>& say);

// Every region's ReplicationStatus, once every region has applied all that the others had written
// (each cursor at its source's head) or `deadline` passed (`*settled` false). A region that does
// not answer is left out. `clients`: one per region of `t`, in order.
std::vector<std::optional<ReplicationStatusResponse>> SettledReplicationStatus(std::vector<RegionClient>& clients,
                                                                               const topology::Topology& t,
                                                                               std::chrono::steady_clock::time_point deadline,
                                                                               bool* settled);

}  // namespace meridian::cli
