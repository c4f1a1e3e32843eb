// `meridian start --topology FILE --region NAME --facility NAME`: one facility node of a region.
//
// The node opens its RocksDB under the facility's data folder, joins (or bootstraps) its region's
// Raft group, and serves the native protocol and DynamoDB's HTTP API on the topology's ports.
// Auth: access.yaml beside the topology file holds the keys every facility accepts; the node signs
// its own frames to its peers with the `meridian` profile of the credentials file beside it.
// SIGTERM/SIGINT: a leader hands leadership to the most up-to-date follower first, then the node
// stops; SIGKILL loses nothing acknowledged (every acknowledged write is fsync'd on two of three).
// Test-only fault hooks for the chaos suite (--clock-offset-ms, --fail-fsync-file and the
// MERIDIAN_TEST_PLANT environment variable) are described in region/fault_hooks.h.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "api/access.h"
#include "api/http_server.h"
#include "cli/common.h"
#include "meridian/client.h"
#include "proto/node.h"
#include "region/conflict_log.h"
#include "region/fault_hooks.h"
#include "region/node_server.h"
#include "region/region_backend.h"
#include "region/replica.h"
#include "region/request_executor.h"
#include "storage/engine.h"
#include "topology/topology.h"

namespace meridian::cli {
namespace {

// Whether the region's leader remembers this facility holding data (a member at this facility
// with a match index above zero) or no longer counts it as a member: then a node starting on an
// empty data folder lost its disk (or was replaced) and must join under a new id rather than
// bootstrap — under its old id it could vote twice in one term. A facility of a region that is
// still forming (its peers started earlier, it never held anything) bootstraps normally.
bool LeaderRemembersThisFacility(const topology::Region& region, size_t self,
                                 const std::optional<proto::FrameCredentials>& credentials) {
  for (size_t i = 0; i < region.facilities.size(); ++i) {
    if (i == self) continue;
    ClientOptions probe;
    probe.endpoint = region.facilities[i].NativeEndpoint();
    probe.timeout = std::chrono::milliseconds(500);
    probe.fail_fast = true;
    if (credentials) probe.credentials = Credentials{credentials->access_key_id, credentials->secret_access_key};
    Result<proto::NodeStatus> s = Client(probe).NodeStatus();
    if (!s.ok() || s->role != "leader") continue;
    bool member_here = false;
    for (const proto::MemberStatus& m : s->members) {
      if (region::FacilityIndexOfNode(m.node_id) != self) continue;
      member_here = true;
      if (m.match_index > 0) return true;
    }
    if (!member_here) return true;
  }
  return false;
}

}  // namespace

int CmdStart(int argc, char** argv) {
  Args args;
  std::string error;
  if (!args.Parse(argc, argv, 2,
                  {"topology", "region", "facility", "workers", "access", "credentials", "snapshot-entries",
                   "tick-ms", "election-ticks", "clock-offset-ms", "fail-fsync-file", "block-cache-mb",
                   "write-buffer-mb"},
                  {"no-auth", "join"}, &error)) {
    return UsageError(error);
  }
  if (!args.positional().empty()) return UsageError("start takes no positional arguments");
  // RocksDB's block cache and its memtable budget across the column families (storage/engine.h
  // defaults: 64 and 32 MiB).
  struct {
    std::optional<size_t> block_cache_bytes, write_buffer_bytes;
  } memory;
  for (auto [flag, bytes] : {std::pair{"block-cache-mb", &memory.block_cache_bytes},
                             std::pair{"write-buffer-mb", &memory.write_buffer_bytes}}) {
    if (!args.Get(flag)) continue;
    std::optional<int64_t> mb = IntArg(args, flag);
    if (!mb || *mb < 1 || *mb > 65536) {
      return UsageError(std::string("--") + flag + " takes a whole number of MiB from 1 to 65536");
    }
    *bytes = static_cast<size_t>(*mb) << 20;
  }
  auto region_name = args.Get("region");
  auto facility_name = args.Get("facility");
  if (!region_name || !facility_name) return UsageError("start needs --region NAME and --facility NAME");
  std::string topology_path = topology::ResolveTopologyPath(args.Get("topology"));
  Result<topology::Topology> topo = topology::LoadTopology(topology_path);
  if (!topo.ok()) {
    std::cerr << "meridian: " << topo.status().message() << "\n";
    return kExitUsage;
  }
  const topology::Region* region = topo->FindRegion(*region_name);
  if (!region) return UsageError("no region '" + *region_name + "' in " + topology_path);
  size_t index = 0;
  while (index < region->facilities.size() && region->facilities[index].name != *facility_name) ++index;
  if (index == region->facilities.size()) {
    return UsageError("no facility '" + *facility_name + "' in region " + *region_name + " of " + topology_path);
  }
  const topology::Facility& facility = region->facilities[index];

  // Test hooks, read once here (region/fault_hooks.h); each component gets only its own setting.
  region::FaultHooks hooks;
  if (args.Has("clock-offset-ms")) {
    // A day is more than any scenario needs, and keeps the shifted time far from overflowing.
    constexpr int64_t kMaxOffsetMs = 24 * 3600 * 1000;
    std::optional<int64_t> offset = IntArg(args, "clock-offset-ms");
    if (!offset || *offset < -kMaxOffsetMs || *offset > kMaxOffsetMs) {
      return UsageError("--clock-offset-ms takes an integer number of milliseconds within a day either way");
    }
    hooks.clock_offset_ms = *offset;
  }
  if (auto path = args.Get("fail-fsync-file")) {
    if (path->empty()) return UsageError("--fail-fsync-file needs a path");
    hooks.fail_fsync_file = std::filesystem::absolute(*path).string();
  }
  Result<region::PlantedBugs> plants = region::PlantedBugsFromEnvironment();
  if (!plants.ok()) return UsageError(plants.status().message());
  hooks.plants = plants.value();
  for (const std::string& warning : region::FaultHookWarnings(hooks)) std::cerr << warning << "\n";
  std::cerr << std::flush;
  if (facility.native_port == 0 || facility.http_port == 0) {
    return UsageError("facility " + *facility_name + " needs real native_port and http_port in " + topology_path +
                      " (the nodes of a region find each other by them)");
  }
  std::filesystem::path topo_dir = std::filesystem::absolute(topology_path).parent_path();
  std::filesystem::path dir = topo->DataPath(facility.data);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    std::cerr << "meridian: cannot create " << dir << ": " << ec.message() << "\n";
    return kExitUsage;
  }

  // Keys: every facility of the topology accepts the same ones (access.yaml beside the topology).
  std::optional<ServerKeys> keys = LoadServerKeys(args, topo_dir);
  if (!keys) return kExitUsage;
  std::optional<api::AccessStore>& access = keys->access;
  std::optional<proto::FrameCredentials> credentials;
  if (keys->credentials) {
    credentials = proto::FrameCredentials{keys->credentials->access_key_id, keys->credentials->secret_access_key};
  }

  bool fresh = !std::filesystem::exists(dir / "db");
  bool join = args.Has("join");
  if (fresh && !join && LeaderRemembersThisFacility(*region, index, credentials)) {
    std::cerr << "meridian: the data folder " << dir.string() << " is new but region " << *region_name
              << " is already running: joining as a new member. Make it a voter with\n"
              << "meridian:   meridian admin replace-facility --topology " << topology_path << " --region "
              << *region_name << " --facility " << *facility_name << "\n";
    join = true;
  }

  EngineOptions engine_options;
  // The Raft log is the durable copy of every write (synced before anything is acknowledged);
  // applying to the item store needs no fsync of its own (region/replica.h).
  engine_options.sync = false;
  engine_options.region = *region_name;
  engine_options.max_clock_offset_ms = topo->max_clock_offset_ms;
  // The node's memory bounds (checked at the start, with the other usage errors).
  if (memory.block_cache_bytes) engine_options.block_cache_bytes = *memory.block_cache_bytes;
  if (memory.write_buffer_bytes) engine_options.write_buffer_bytes = *memory.write_buffer_bytes;
  for (const auto& r : topo->regions) engine_options.known_regions.push_back(r.name);
  // Every write this node's region loses to conflict resolution, one JSON line each, bounded and
  // rotated, in the facility's data folder (the count and the recent ones are replicated state).
  auto conflict_log = std::make_shared<ConflictLog>(dir);
  engine_options.on_conflict = [conflict_log](const ConflictRecord& c) { conflict_log->Append(c); };
  if (hooks.clock_offset_ms != 0) {
    engine_options.clock_ms = [offset = hooks.clock_offset_ms] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch()).count() + offset;
    };
  }
  if (!hooks.fail_fsync_file.empty()) engine_options.env = region::NewFailFsyncEnv(hooks.fail_fsync_file);
  engine_options.plant_no_lww = hooks.plants.no_lww;
  Result<std::unique_ptr<Engine>> engine = Engine::Open((dir / "db").string(), engine_options);
  if (!engine.ok()) {
    std::cerr << "meridian: cannot open the data in " << dir << ": " << engine.status().ToString() << "\n";
    return 1;
  }

  // Block the stop signals before any thread starts, so only sigwait below receives them.
  sigset_t stop_signals = BlockStopSignals();

  region::ReplicaOptions replica_options;
  replica_options.region = *region;
  replica_options.facility_index = index;
  replica_options.join = join;
  replica_options.access = access ? &*access : nullptr;
  replica_options.credentials = credentials;
  replica_options.clock_offset_ms = hooks.clock_offset_ms;
  replica_options.plant_ack_before_commit = hooks.plants.ack_before_commit;
  if (auto n = IntArg(args, "snapshot-entries")) replica_options.snapshot_entries = std::max<int64_t>(*n, 1);
  if (auto n = IntArg(args, "tick-ms")) replica_options.tick_ms = static_cast<int>(std::clamp<int64_t>(*n, 1, 1000));
  if (auto n = IntArg(args, "election-ticks")) replica_options.election_tick = static_cast<int>(std::clamp<int64_t>(*n, 5, 1000));
  region::Replica replica(engine.value().get(), replica_options);
  if (Status st = replica.Start(); !st.ok()) {
    std::cerr << "meridian: " << st.message() << "\n";
    return 1;
  }
  region::RegionBackendOptions backend_options;
  backend_options.plant_follower_strong_read = hooks.plants.follower_strong_read;
  region::RegionBackend backend(engine.value().get(), &replica, access ? &*access : nullptr, backend_options);

  RequestExecutorOptions executor_options;
  executor_options.access = access ? &*access : nullptr;
  executor_options.region = *region_name;
  executor_options.backend = [&backend](const RequestContext& ctx, const Request& request) {
    return backend.Execute(ctx, request);
  };
  RequestExecutor executor(engine.value().get(), executor_options);

  NodeServerOptions server_options;
  server_options.listen = facility.NativeBindEndpoint();
  if (auto w = IntArg(args, "workers")) server_options.workers = static_cast<int>(std::clamp<int64_t>(*w, 1, 256));
  else server_options.workers = 16;  // a worker waits for a commit; more of them means more writes per fsync
  server_options.on_peer_frame = [&replica](std::string frame) { replica.DeliverPeerFrame(std::move(frame)); };
  server_options.on_node_frame = [&backend](const proto::RawFrame& frame, const std::optional<std::string>& principal) {
    return backend.HandleNodeFrame(frame, principal);
  };
  NodeServer server(&executor, server_options);
  if (Status st = server.Start(); !st.ok()) {
    std::cerr << "meridian: " << st.message() << "\n";
    replica.Stop();
    return kExitUnreachable;
  }

  api::HttpServerOptions http_options;
  http_options.listen = facility.host + ":" + std::to_string(facility.http_port);
  http_options.worker_threads = server_options.workers;
  http_options.region = *region_name;
  if (topo->tls) http_options.tls = api::TlsFiles{topo->DataPath(topo->tls->cert), topo->DataPath(topo->tls->key)};
  api::HttpServer http(&executor, http_options);
  if (Status st = http.Start(); !st.ok()) {
    std::cerr << "meridian: " << st.message() << "\n";
    server.Stop();
    replica.Stop();
    return kExitUnreachable;
  }
  replica.SetHttpEndpoint(topo->HttpEndpoint(facility));

  nlohmann::json endpoints = {{"native", facility.NativeEndpoint()},
                              {"http", topo->HttpEndpoint(facility)},
                              {"pid", ::getpid()},
                              {"node_id", replica.node_id()}};
  if (!WriteFileAtomic(dir / "endpoints.json", endpoints.dump() + "\n").ok()) {
    std::cerr << "meridian: cannot write " << (dir / "endpoints.json") << "\n";
  }
  std::cout << "meridian: facility " << *region_name << "/" << *facility_name << " (node " << replica.node_id()
            << ") serving " << facility.NativeEndpoint() << " and " << topo->HttpEndpoint(facility) << " (data "
            << dir.string() << ", pid " << ::getpid() << ")" << std::endl;

  int signal = 0;
  sigwait(&stop_signals, &signal);
  std::cout << "meridian: stopping (signal " << signal << ")" << std::endl;
  // docker stop / rolling restarts: hand leadership over before going, so writes barely pause.
  replica.HandOver(std::chrono::milliseconds(1500));
  http.Stop();
  server.Stop();
  replica.Stop();
  engine.value().reset();
  std::filesystem::remove(dir / "endpoints.json", ec);
  return kExitOk;
}

}  // namespace meridian::cli
