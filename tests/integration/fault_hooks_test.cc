// The chaos suite's fault hooks inside `meridian start` (region/fault_hooks.h), on a real region of
// three processes on 127.0.0.1:
//   - --clock-offset-ms: the entry times an offset node stamps as leader (CreationDateTime shows
//     them) are shifted by its offset, +250 ms and -250 ms, and the region works under each leader;
//   - --fail-fsync-file: the file created for a follower, then for a leader, under a write load:
//     the node exits with kExitDiskFailed (74) and says why, the region goes on (a new leader when
//     it was the leader), no acknowledged write is lost, and restarted without the file the node
//     catches up from its log and the leader;
//   - MERIDIAN_TEST_PLANT: an unknown name is refused at start; ack-before-commit acknowledges a
//     write no majority has, which is then lost; follower-strong-read answers a ConsistentRead
//     with a stale value. These two show the planted bugs do what the suite's self-test needs.
// Every wait is bounded and says what it waited for; a failure keeps the folder and prints each
// node's log. Nothing is timed.
//
// Thread-safety: GoogleTest fixtures; the writer thread owns its own RegionClient and shares only
// its mutex-guarded record of acknowledged keys.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "meridian/client.h"
#include "meridian/region_client.h"
#include "proto/node.h"
#include "tests/integration/load_writer.h"
#include "tests/integration/process.h"
#include "topology/topology.h"

namespace meridian {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::ChildProcess;
using testing::CommandResult;
using testing::RunCommand;
using testing::TempDir;

const std::string kBinary = MERIDIAN_BINARY;
const std::string kRegion = "us-east-1";
const std::string& kTable = testing::kLoadTable;  // the table LoadWriter writes
constexpr int kNodes = 3;
const char* const kFacilityNames[kNodes] = {"a", "b", "c"};
// region/replica.h, kExitDiskFailed (the test does not link the runtime).
constexpr int kExitDiskFailed = 74;

// Bounds of the waits: limits so that a stuck test fails with a message, not assertions of speed.
constexpr auto kStartWait = 30s;
constexpr auto kLeaderWait = 30s;
constexpr auto kProgressWait = 30s;
constexpr auto kCatchUpWait = 60s;
constexpr auto kExitWait = 30s;  // a node whose fsync fails stops at its next synced write

using testing::KeyOf;
using testing::LoadWriter;
using testing::MissingKeys;
using testing::ValueOf;

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

PutItemRequest Put(const std::string& pk, const std::string& v) {
  PutItemRequest put;
  put.table_name = kTable;
  put.item = Item{{"pk", AttributeValue::S(pk)}, {"v", AttributeValue::S(v)}};
  return put;
}

GetItemRequest StrongGet(const std::string& pk) {
  GetItemRequest get;
  get.table_name = kTable;
  get.key = Item{{"pk", AttributeValue::S(pk)}};
  get.consistent_read = true;
  return get;
}

CreateTableRequest NewTable(const std::string& name) {
  CreateTableRequest create;
  create.table_name = name;
  create.key_schema = {{"pk", KeyType::kHash}};
  create.attribute_definitions = {{"pk", AttributeType::kS}};
  create.billing_mode = BillingMode::kPayPerRequest;
  return create;
}



std::string Head(const std::vector<std::string>& lines, size_t n = 10) {
  std::string out;
  for (size_t i = 0; i < lines.size() && i < n; ++i) out += "  " + lines[i] + "\n";
  if (lines.size() > n) out += "  ... and " + std::to_string(lines.size() - n) + " more\n";
  return out;
}

class FaultHooksTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (writer_) writer_->Stop();
    if (HasFailure()) {
      dir_.Keep();
      std::cerr << Diagnostics();
    }
    for (auto& node : nodes_) node.reset();
  }

  // Writes the topology of one region of three facilities (auth off: the hooks are the subject).
  void WriteTopology() {
    std::vector<uint16_t> ports = testing::FreeTcpPorts(2 * kNodes);
    ASSERT_EQ(ports.size(), size_t{2 * kNodes}) << "cannot pick free ports on 127.0.0.1";
    topology::Topology topo;
    topology::Region region;
    region.name = kRegion;
    for (int i = 0; i < kNodes; ++i) {
      topology::Facility f;
      f.name = kFacilityNames[i];
      f.host = "127.0.0.1";
      f.native_port = ports[i];
      f.http_port = ports[kNodes + i];
      f.data = kFacilityNames[i];
      region.facilities.push_back(f);
    }
    topo.regions.push_back(region);
    topology_path_ = dir_.path() / "topology.yaml";
    { std::ofstream(topology_path_) << topology::WriteTopology(topo); }
    Result<topology::Topology> loaded = topology::LoadTopology(topology_path_.string());
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    region_ = *loaded->FindRegion(kRegion);
    std::filesystem::create_directories(dir_.path() / "log");
  }

  // Starts the three facilities, `extra[i]` appended to facility i's arguments and `plant` (if
  // any) in every node's MERIDIAN_TEST_PLANT; waits for a leader and creates the load table.
  void Boot(std::vector<std::vector<std::string>> extra, std::string plant = "") {
    extra.resize(kNodes);
    extra_ = std::move(extra);
    plant_ = std::move(plant);
    ASSERT_NO_FATAL_FAILURE(WriteTopology());
    std::cerr << "[ region ] " << kRegion << " in " << dir_.path().string() << "\n";
    for (int i = 0; i < kNodes; ++i) Launch(i);
    for (int i = 0; i < kNodes; ++i) ASSERT_NO_FATAL_FAILURE(WaitStarted(i));
    for (int i = 0; i < kNodes; ++i) {
      ASSERT_EQ(node_ids_[i], static_cast<uint64_t>(i + 1)) << "facility " << kFacilityNames[i] << " joined late";
    }
    ASSERT_GE(WaitForLeader(kLeaderWait), 0) << "no leader within 30 s of starting the region";
    RegionClient client = NewRegionClient(1);
    Result<CreateTableResponse> created = client.CreateTable(NewTable(kTable));
    ASSERT_TRUE(created.ok()) << "CreateTable: " << created.status().ToString();
  }

  std::filesystem::path DataOf(int i) const { return dir_.path() / kFacilityNames[i]; }
  std::filesystem::path LogOf(int i) const { return dir_.path() / "log" / (std::string(kFacilityNames[i]) + ".log"); }
  std::filesystem::path FailFileOf(int i) const { return dir_.path() / ("fail-fsync-" + std::string(kFacilityNames[i])); }

  std::vector<std::string> StartArgs(int i) const {
    std::vector<std::string> argv;
    // env(1) sets the plant for the node only, without touching this process's environment.
    if (!plant_.empty()) argv = {"/usr/bin/env", "MERIDIAN_TEST_PLANT=" + plant_};
    for (const std::string& a : {kBinary, std::string("start"), std::string("--topology"), topology_path_.string(),
                                 std::string("--region"), kRegion, std::string("--facility"),
                                 std::string(kFacilityNames[i]), std::string("--no-auth")}) {
      argv.push_back(a);
    }
    for (const std::string& a : extra_[i]) argv.push_back(a);
    return argv;
  }
  void Launch(int i) {
    std::error_code ec;
    std::filesystem::remove(DataOf(i) / "endpoints.json", ec);
    { std::ofstream(LogOf(i), std::ios::app) << "---- test: starting facility " << kFacilityNames[i] << "\n"; }
    nodes_[i] = std::make_unique<ChildProcess>(StartArgs(i), LogOf(i));
  }
  void WaitStarted(int i) {
    std::optional<testing::NodeEndpoints> e = testing::WaitForNodeEndpoints(DataOf(i), *nodes_[i], kStartWait);
    ASSERT_TRUE(e.has_value()) << "facility " << kFacilityNames[i] << " did not write its endpoints.json within 30 s"
                               << " (exited: " << !nodes_[i]->running() << ")";
    node_ids_[i] = e->node_id;
  }
  void Restart(int i) {
    Launch(i);
    WaitStarted(i);
  }
  void Kill(int i) {
    ASSERT_TRUE(Running(i)) << "facility " << kFacilityNames[i] << " is not running";
    std::cerr << "[ region ] SIGKILL facility " << kFacilityNames[i] << "\n";
    nodes_[i]->Signal(SIGKILL);
    EXPECT_EQ(nodes_[i]->Wait(10s), 128 + SIGKILL);
    nodes_[i].reset();
  }
  bool Running(int i) { return nodes_[i] && nodes_[i]->running(); }

  Client NewClient(int i, std::chrono::milliseconds timeout = 2s) {
    ClientOptions o;
    o.endpoint = region_.facilities[i].NativeEndpoint();
    o.timeout = timeout;
    return Client(std::move(o));
  }
  RegionClient NewRegionClient(uint64_t seed, std::chrono::milliseconds deadline = 10s) {
    RegionClientOptions o;
    o.region = region_;
    o.deadline = deadline;
    o.seed = seed;
    return RegionClient(std::move(o));
  }
  Result<proto::NodeStatus> StatusOf(int i) { return NewClient(i, 1s).NodeStatus(); }

  int WaitForLeader(std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    do {
      int best = -1;
      uint64_t best_term = 0;
      for (int i = 0; i < kNodes; ++i) {
        if (!Running(i)) continue;
        Result<proto::NodeStatus> s = StatusOf(i);
        if (s.ok() && s->role == "leader" && s->term >= best_term) {
          best = i;
          best_term = s->term;
        }
      }
      if (best >= 0) return best;
      std::this_thread::sleep_for(50ms);
    } while (Clock::now() < deadline);
    return -1;
  }

  // Hands leadership to facility `target` (asking whoever leads) and waits until it leads.
  void MoveLeadership(int target) {
    auto deadline = Clock::now() + kLeaderWait;
    std::string last;
    while (Clock::now() < deadline) {
      int leader = WaitForLeader(kLeaderWait);
      ASSERT_GE(leader, 0) << "no leader";
      if (leader == target) return;
      Result<proto::NodeAdminResult> r =
          NewClient(leader, 10s).NodeAdmin(proto::NodeOp::kTransferLeader, proto::NodeAdminArgs{kFacilityNames[target]});
      if (!r.ok()) last = r.status().ToString();
      std::this_thread::sleep_for(50ms);
    }
    FAIL() << "facility " << kFacilityNames[target] << " did not become the leader within 30 s; last: " << last;
  }

  bool WaitForApplied(int i, uint64_t index, std::chrono::milliseconds timeout, proto::NodeStatus* last) {
    auto deadline = Clock::now() + timeout;
    do {
      Result<proto::NodeStatus> s = StatusOf(i);
      if (s.ok()) {
        *last = s.value();
        if (s->applied_index >= index && s->role != "joining") return true;
      }
      std::this_thread::sleep_for(50ms);
    } while (Clock::now() < deadline);
    return false;
  }
  // Waits until facility i has applied everything the current leader has committed.
  void ExpectCaughtUp(int i) {
    int leader = WaitForLeader(kLeaderWait);
    ASSERT_GE(leader, 0);
    Result<proto::NodeStatus> s = StatusOf(leader);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    proto::NodeStatus last;
    EXPECT_TRUE(WaitForApplied(i, s->commit_index, kCatchUpWait, &last))
        << "facility " << kFacilityNames[i] << " applied " << last.applied_index << " (role " << last.role
        << "), the leader's commit index is " << s->commit_index;
  }

  void StartLoad(uint64_t seed) {
    writer_ = std::make_unique<LoadWriter>(region_, std::nullopt, seed);
    writer_->Start();
  }
  void ExpectProgress(uint64_t more, const std::string& when) {
    uint64_t target = writer_->acked() + more;
    EXPECT_TRUE(writer_->WaitForAcks(target, kProgressWait))
        << "the writer did not get " << more << " more writes acknowledged within 30 s " << when << ": "
        << writer_->Summary();
  }
  // Stops the load; every acknowledged key is read back with ConsistentRead through the region and,
  // once it has caught up, from facility `local`'s own data (an eventually consistent read).
  void StopLoadAndVerify(int local) {
    writer_->Stop();
    std::cerr << "[ load ] " << writer_->Summary() << "\n";
    std::vector<uint64_t> acked = writer_->AckedKeys();
    ASSERT_GT(acked.size(), 0u) << writer_->Summary();
    RegionClient reader = NewRegionClient(2, 30s);
    std::vector<std::string> missing = MissingKeys(reader, acked, /*consistent=*/true);
    EXPECT_TRUE(missing.empty()) << missing.size() << " of " << acked.size()
                                 << " acknowledged writes not read back with ConsistentRead:\n" << Head(missing);
    ASSERT_NO_FATAL_FAILURE(ExpectCaughtUp(local));
    Client own = NewClient(local, 10s);
    missing = MissingKeys(own, acked, /*consistent=*/false);
    EXPECT_TRUE(missing.empty()) << missing.size() << " of " << acked.size() << " acknowledged writes not in facility "
                                 << kFacilityNames[local] << "'s own data:\n" << Head(missing);
  }

  // Creates the fail file of facility i and waits for the node to stop on its next synced write.
  void FailDiskAndExpectStop(int i) {
    std::cerr << "[ region ] failing the disk of facility " << kFacilityNames[i] << "\n";
    { std::ofstream(FailFileOf(i)) << "fsync fails while this file exists\n"; }
    int rc = nodes_[i]->Wait(kExitWait);
    EXPECT_EQ(rc, kExitDiskFailed) << "facility " << kFacilityNames[i]
                                   << " should exit 74 once its fsync fails (-1: still running after 30 s)";
    std::cerr << "[ region ] facility " << kFacilityNames[i] << " exited " << rc << "; its log ends:\n"
              << testing::TailFile(LogOf(i), 2);
    std::string log = testing::ReadFileText(LogOf(i));
    EXPECT_NE(log.find("injected fsync failure"), std::string::npos) << "the log names the failed sync";
    EXPECT_NE(log.find("this node stops"), std::string::npos) << "the log says the node stops and why";
    nodes_[i].reset();
  }
  void HealDisk(int i) {
    std::error_code ec;
    std::filesystem::remove(FailFileOf(i), ec);
    ASSERT_FALSE(ec) << ec.message();
  }

  std::string Diagnostics() {
    std::ostringstream out;
    out << "==== region " << kRegion << ": topology " << topology_path_.string() << " (folder kept)\n";
    for (int i = 0; i < kNodes && i < static_cast<int>(region_.facilities.size()); ++i) {
      out << "facility " << kFacilityNames[i] << ": " << region_.facilities[i].NativeEndpoint() << ", ";
      if (Running(i)) {
        Result<proto::NodeStatus> s = StatusOf(i);
        if (s.ok()) {
          out << "role " << s->role << " term " << s->term << " commit " << s->commit_index << " applied "
              << s->applied_index << " leader " << (s->leader_facility.empty() ? "?" : s->leader_facility);
        } else {
          out << "status: " << s.status().ToString();
        }
      } else {
        out << "not running";
      }
      out << "\n";
    }
    if (writer_) out << "load: " << writer_->Summary() << "\n";
    for (int i = 0; i < kNodes; ++i) out << "---- tail of " << LogOf(i).string() << "\n" << testing::TailFile(LogOf(i), 30);
    out << "====\n";
    return out.str();
  }

  TempDir dir_;  // first: destroyed last, after every process is gone
  std::filesystem::path topology_path_;
  topology::Region region_;
  std::vector<std::vector<std::string>> extra_;
  std::string plant_;
  std::unique_ptr<ChildProcess> nodes_[kNodes];
  uint64_t node_ids_[kNodes] = {0, 0, 0};
  std::unique_ptr<LoadWriter> writer_;
};

int Other(int a, int b = -1) {
  for (int i = 0; i < kNodes; ++i) {
    if (i != a && i != b) return i;
  }
  return -1;
}

// The chaos scenario "clock offset of 250 ms on one node", both ways: each node leads in turn; the
// CreationDateTime of a table created under it is its entry time, which must lie between the
// test's clock readings before and after the call, shifted by that node's offset.
TEST_F(FaultHooksTest, ClockOffsetShiftsTheEntryTimesAnOffsetLeaderStamps) {
  const int64_t offsets[kNodes] = {250, 0, -250};
  ASSERT_NO_FATAL_FAILURE(Boot({{"--clock-offset-ms", "250"}, {}, {"--clock-offset-ms=-250"}}));
  EXPECT_NE(testing::ReadFileText(LogOf(0)).find("meridian: WARNING: test hook --clock-offset-ms 250"), std::string::npos);
  EXPECT_EQ(testing::ReadFileText(LogOf(1)).find("test hook"), std::string::npos) << "no hook, no warning";

  RegionClient client = NewRegionClient(3);
  std::vector<uint64_t> written;
  uint64_t next = 0;
  for (int i : {0, 2, 1, 0}) {
    ASSERT_NO_FATAL_FAILURE(MoveLeadership(i));
    std::string table = "created-under-" + std::string(kFacilityNames[i]) + "-" + std::to_string(next);
    int64_t before = WallMs();
    Result<CreateTableResponse> created = NewClient(i, 10s).CreateTable(NewTable(table));
    int64_t after = WallMs();
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    int64_t stamped = created->table_description.creation_date_time_ms;
    EXPECT_GE(stamped, before + offsets[i]) << "table " << table << " created under facility " << kFacilityNames[i];
    EXPECT_LE(stamped, after + offsets[i]) << "table " << table << " created under facility " << kFacilityNames[i];
    // Writes through the region under this leader, read back strongly (they cross leaders whose
    // clocks disagree by up to 500 ms).
    for (int n = 0; n < 20; ++n, ++next) {
      Result<PutItemResponse> put = client.PutItem(Put(KeyOf(next), ValueOf(next)));
      ASSERT_TRUE(put.ok()) << put.status().ToString();
      written.push_back(next);
    }
  }
  std::vector<std::string> missing = MissingKeys(client, written, /*consistent=*/true);
  EXPECT_TRUE(missing.empty()) << Head(missing);
}

TEST_F(FaultHooksTest, FailedFsyncStopsAFollowerTheRegionGoesOnAndItRecovers) {
  std::vector<std::vector<std::string>> extra;
  for (int i = 0; i < kNodes; ++i) extra.push_back({"--fail-fsync-file", FailFileOf(i).string()});
  ASSERT_NO_FATAL_FAILURE(Boot(extra));
  StartLoad(41);
  ASSERT_TRUE(writer_->WaitForAcks(100, kProgressWait)) << "no steady load: " << writer_->Summary();
  int leader = WaitForLeader(kLeaderWait);
  ASSERT_GE(leader, 0);
  int follower = Other(leader);
  ASSERT_NO_FATAL_FAILURE(FailDiskAndExpectStop(follower));
  ExpectProgress(200, "with the failed follower stopped");

  ASSERT_NO_FATAL_FAILURE(HealDisk(follower));
  ASSERT_NO_FATAL_FAILURE(Restart(follower));
  ExpectProgress(100, "after the follower restarted");
  ASSERT_NO_FATAL_FAILURE(StopLoadAndVerify(follower));
}

TEST_F(FaultHooksTest, FailedFsyncStopsTheLeaderANewLeaderTakesOverNothingAcknowledgedLost) {
  std::vector<std::vector<std::string>> extra;
  for (int i = 0; i < kNodes; ++i) extra.push_back({"--fail-fsync-file", FailFileOf(i).string()});
  ASSERT_NO_FATAL_FAILURE(Boot(extra));
  StartLoad(51);
  ASSERT_TRUE(writer_->WaitForAcks(100, kProgressWait)) << "no steady load: " << writer_->Summary();
  int old_leader = WaitForLeader(kLeaderWait);
  ASSERT_GE(old_leader, 0);
  ASSERT_NO_FATAL_FAILURE(FailDiskAndExpectStop(old_leader));
  int leader = WaitForLeader(kLeaderWait);
  ASSERT_GE(leader, 0) << "no new leader within 30 s of the leader's disk failing";
  EXPECT_NE(leader, old_leader);
  ExpectProgress(200, "after the leader's disk failed");

  ASSERT_NO_FATAL_FAILURE(HealDisk(old_leader));
  ASSERT_NO_FATAL_FAILURE(Restart(old_leader));
  ExpectProgress(100, "after the old leader restarted");
  ASSERT_NO_FATAL_FAILURE(StopLoadAndVerify(old_leader));
}

TEST_F(FaultHooksTest, BadHookValuesAreRefusedAtStart) {
  ASSERT_NO_FATAL_FAILURE(WriteTopology());
  std::string start = kBinary + " start --topology '" + topology_path_.string() + "' --region " + kRegion +
                      " --facility a --no-auth";
  CommandResult plant = RunCommand({"/bin/sh", "-c", "MERIDIAN_TEST_PLANT=no-lww,ack-before-comit exec " + start + " 2>&1"}, "", 30s);
  EXPECT_EQ(plant.exit_code, 2) << plant.out;
  EXPECT_NE(plant.out.find("unknown planted bug 'ack-before-comit'"), std::string::npos) << plant.out;
  CommandResult offset = RunCommand({"/bin/sh", "-c", "exec " + start + " --clock-offset-ms 25ms 2>&1"}, "", 30s);
  EXPECT_EQ(offset.exit_code, 2) << offset.out;
  EXPECT_NE(offset.out.find("--clock-offset-ms"), std::string::npos) << offset.out;
  EXPECT_FALSE(std::filesystem::exists(DataOf(0) / "db")) << "a refused start must not create its data";
}

// ack-before-commit: with both followers down the leader cannot commit, yet it acknowledges; the
// followers then elect a leader of their own, and the acknowledged write is not there. Ticks of
// 50 ms give the write 1.5 s at least before check-quorum deposes the lone leader (at the default
// 10 ms a busy machine could take longer than 300 ms between the kills and the write).
TEST_F(FaultHooksTest, PlantedAckBeforeCommitAcknowledgesAWriteThatIsThenLost) {
  std::vector<std::string> slow = {"--tick-ms", "50"};
  ASSERT_NO_FATAL_FAILURE(Boot({slow, slow, slow}, "ack-before-commit"));
  EXPECT_NE(testing::ReadFileText(LogOf(0)).find("WARNING: PLANTED BUG ack-before-commit"), std::string::npos);
  int leader = WaitForLeader(kLeaderWait);
  ASSERT_GE(leader, 0);
  int f1 = Other(leader), f2 = Other(leader, f1);
  ASSERT_NO_FATAL_FAILURE(Kill(f1));
  ASSERT_NO_FATAL_FAILURE(Kill(f2));
  Result<PutItemResponse> put = NewClient(leader, 5s).PutItem(Put("lost", "acked"));
  ASSERT_TRUE(put.ok()) << "the planted bug acknowledges without a majority: " << put.status().ToString();

  ASSERT_NO_FATAL_FAILURE(Kill(leader));
  ASSERT_NO_FATAL_FAILURE(Restart(f1));
  ASSERT_NO_FATAL_FAILURE(Restart(f2));
  RegionClient client = NewRegionClient(4, 30s);
  Result<GetItemResponse> got = client.GetItem(StrongGet("lost"));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_FALSE(got->item.has_value()) << "the write was in the old leader's log only";
}

// follower-strong-read: a follower that missed a write (it was down), alone after the others die,
// answers a ConsistentRead from its own stale state instead of failing for want of a leader.
// (Killed rather than paused: a paused node would still find the write in its socket buffers.)
TEST_F(FaultHooksTest, PlantedFollowerStrongReadServesAStaleValue) {
  ASSERT_NO_FATAL_FAILURE(Boot({}, "follower-strong-read"));
  RegionClient client = NewRegionClient(5);
  ASSERT_TRUE(client.PutItem(Put("x", "1")).ok());
  int leader = WaitForLeader(kLeaderWait);
  ASSERT_GE(leader, 0);
  int stale = Other(leader), other = Other(leader, stale);
  ASSERT_NO_FATAL_FAILURE(ExpectCaughtUp(stale));
  ASSERT_NO_FATAL_FAILURE(Kill(stale));
  Result<PutItemResponse> second = client.PutItem(Put("x", "2"));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ASSERT_NO_FATAL_FAILURE(Kill(leader));
  ASSERT_NO_FATAL_FAILURE(Kill(other));
  ASSERT_NO_FATAL_FAILURE(Restart(stale));
  Result<GetItemResponse> got = NewClient(stale, 5s).GetItem(StrongGet("x"));
  ASSERT_TRUE(got.ok()) << "the planted bug serves the read locally: " << got.status().ToString();
  ASSERT_TRUE(got->item.has_value());
  EXPECT_EQ(got->item->at("v").s(), "1") << "a stale strong read: 2 was acknowledged before it";
}

}  // namespace
}  // namespace meridian
