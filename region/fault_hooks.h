// Fault hooks for the chaos suite (tests/chaos, issue 8): test-only ways to make one facility node
// fail the way real machines fail, and planted bugs that show the suite bites. Every hook is off
// by default, and a node started with one says so on stderr, loudly, before it serves anything.
//
//   meridian start ... --clock-offset-ms N   this node's wall clock reads N ms off (N may be
//                                            negative): the Raft entry time it stamps as leader
//                                            (hence the region clock, versions, CreationDateTime,
//                                            request-log expiry) and the engine's own clock.
//   meridian start ... --fail-fsync-file P   while file P exists, every sync of the node's RocksDB
//                                            fails (WAL and table files, directories): the node
//                                            stops at its next durable write (Replica's fatal
//                                            path) and recovers from its log when restarted.
//   MERIDIAN_TEST_PLANT=a,b (environment)    planted bugs, read once at start:
//       ack-before-commit     the leader answers an item write as soon as the entry is in its
//                             own (synced) log, before a majority has it and before it is applied;
//       no-lww                ReplicationApply merges without the conflict rule: the incoming
//                             version always replaces the local one;
//       follower-strong-read  a follower serves ConsistentRead from its own state instead of
//                             forwarding it to the leader (no ReadIndex).
//
// The flags are for faults an operator would name per node; the plants are an environment variable
// so that a harness can switch them on for every process it starts without changing any argv.
// cli/start.cc reads both once and hands each component only its own setting in its option struct
// (EngineOptions, ReplicaOptions, RegionBackend): a hook that is off costs a test of a bool.
//
// What the clock offset does not shift: signature timestamps and their 15-minute window (SigV4,
// native frame auth, peer frames), local log lines, and every timeout (those run on the monotonic
// clock, as does ReadIndex: there are no leases). A skew below 15 minutes cannot change an auth
// outcome, so the hook stays out of the auth code.
//
// Thread-safety: plain values and pure functions; the Env returned by NewFailFsyncEnv is as
// thread-safe as RocksDB's default one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "storage/status.h"

namespace rocksdb {
class Env;
}

namespace meridian::region {

inline constexpr char kPlantEnvironmentVariable[] = "MERIDIAN_TEST_PLANT";

struct PlantedBugs {
  bool ack_before_commit = false;
  bool no_lww = false;
  bool follower_strong_read = false;
};

// Parses a comma-separated list of bug names (blanks around a name and empty items are ignored;
// "" plants nothing). ValidationException naming the unknown name and the known ones.
Result<PlantedBugs> ParsePlantedBugs(std::string_view list);
// ParsePlantedBugs of $MERIDIAN_TEST_PLANT (unset: nothing planted).
Result<PlantedBugs> PlantedBugsFromEnvironment();

struct FaultHooks {
  int64_t clock_offset_ms = 0;
  std::string fail_fsync_file;  // "": off
  PlantedBugs plants;
};

// One line per hook that is on, each starting "meridian: WARNING: " (none when all are off).
std::vector<std::string> FaultHookWarnings(const FaultHooks& hooks);

// A RocksDB Env (the default one for everything but files) whose writable files fail Sync, Fsync
// and RangeSync, and whose directories fail Fsync, with an IOError naming `path`, whenever `path`
// exists: one stat per sync, which only a test pays. For EngineOptions::env.
std::shared_ptr<rocksdb::Env> NewFailFsyncEnv(const std::string& path);

}  // namespace meridian::region
