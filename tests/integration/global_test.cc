// Multi-process tests of global tables (issue 6's acceptance): three regions of three real
// `meridian start` processes each, plus one `meridian replicator` per region, on 127.0.0.1 with
// auth on (every frame between processes is signed). One topology is started for the whole suite
// (twelve processes on a small machine); each test uses its own table.
//   - replicas added with UpdateTable ReplicaUpdates: the new regions are backfilled and every
//     region converges (same items, same versions), DescribeTable lists the replicas ACTIVE;
//   - concurrent conflicting writes to the same keys in all regions while the replicators are
//     stopped (SIGSTOP: no replication traffic at all), then healed: all regions identical, each
//     key's winner the one the rule picks among the three versions each region held, losers
//     counted and listed in ReplicationStatus;
//   - a replicator SIGKILLed and a region leader SIGKILLed while a writer loads the table: every
//     acknowledged write arrives, with no conflict (a double apply of an older write would show);
//   - a region added to a live two-region table under writes in both: it converges.
// Every wait is bounded and says what it waited for; nothing is timed. On a failure the folder
// (topology, logs, data) is kept and named.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "api/access.h"
#include "meridian/client.h"
#include "meridian/region_client.h"
#include "proto/node.h"
#include "storage/item_codec.h"
#include "tests/integration/process.h"
#include "topology/topology.h"

namespace meridian {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::ChildProcess;
using testing::TempDir;

const std::string kBinary = MERIDIAN_BINARY;
const char* const kRegions[] = {"us-east", "eu-west", "ap-south"};
constexpr int kRegionCount = 3;
const char* const kFacilities[] = {"a", "b", "c"};

constexpr auto kStartWait = 30s;
constexpr auto kConvergeWait = 60s;  // replication after the writes stop (or a heal)

struct Process {
  std::string name;
  std::vector<std::string> argv;
  std::filesystem::path data;  // where it writes endpoints.json
  std::unique_ptr<ChildProcess> child;
};

// One table's content in one region: key (encoded) -> (image or tombstone, version).
struct Entry {
  std::optional<Item> image;
  ItemVersion version;
  bool operator==(const Entry&) const = default;
};
using Content = std::map<std::string, Entry>;

std::string Describe(const ItemVersion& v) {
  std::string out = "{";
  for (const auto& [r, c] : v.vv) out += r + ":" + std::to_string(c) + " ";
  return out + "hlc " + std::to_string(v.hlc) + " " + v.origin + "}";
}

class GlobalTableTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    std::vector<uint16_t> ports = testing::FreeTcpPorts(kRegionCount * 7);
    ASSERT_EQ(ports.size(), size_t{kRegionCount * 7});
    topology::Topology topo;
    for (int r = 0; r < kRegionCount; ++r) {
      topology::Region region;
      region.name = kRegions[r];
      for (int f = 0; f < 3; ++f) {
        topology::Facility fac;
        fac.name = kFacilities[f];
        fac.host = "127.0.0.1";
        fac.native_port = ports[r * 7 + f];
        fac.http_port = ports[r * 7 + 3 + f];
        fac.data = std::string(kRegions[r]) + "/" + kFacilities[f];
        region.facilities.push_back(fac);
      }
      topology::Replicator rep;
      rep.host = "127.0.0.1";
      rep.port = ports[r * 7 + 6];
      rep.data = std::string(kRegions[r]) + "/replicator";
      region.replicator = rep;
      topo.regions.push_back(region);
    }
    // A global table declared in the topology: the first listed region's replicator creates it.
    topology::GlobalTable declared;
    declared.name = "declared";
    declared.regions = {kRegions[0], kRegions[1], kRegions[2]};
    declared.key_schema = {{"pk", KeyType::kHash}};
    declared.attribute_definitions = {{"pk", AttributeType::kS}};
    topo.global_tables.push_back(declared);
    for (int r = 0; r < kRegionCount; ++r) std::filesystem::create_directories(dir_->path() / kRegions[r]);
    std::filesystem::create_directories(dir_->path() / "log");
    topology_path_ = new std::filesystem::path(dir_->path() / "topology.yaml");
    { std::ofstream(*topology_path_) << topology::WriteTopology(topo); }
    Result<topology::Topology> loaded = topology::LoadTopology(topology_path_->string());
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    topology_ = new topology::Topology(loaded.value());
    Result<api::AccessKey> key = api::GenerateAccessFiles(dir_->path());
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    credentials_ = new Credentials{key->access_key_id, key->secret_access_key};
    std::cerr << "[ global ] 3 regions in " << dir_->path().string() << "\n";

    processes_ = new std::vector<Process>();
    for (int r = 0; r < kRegionCount; ++r) {
      for (int f = 0; f < 3; ++f) {
        Process p;
        p.name = std::string(kRegions[r]) + "-" + kFacilities[f];
        p.argv = {kBinary, "start", "--topology", topology_path_->string(), "--region", kRegions[r],
                  "--facility", kFacilities[f]};
        p.data = dir_->path() / kRegions[r] / kFacilities[f];
        processes_->push_back(std::move(p));
      }
    }
    for (int r = 0; r < kRegionCount; ++r) {
      Process p;
      p.name = std::string(kRegions[r]) + "-replicator";
      p.argv = {kBinary, "replicator", "--topology", topology_path_->string(), "--region", kRegions[r]};
      p.data = dir_->path() / kRegions[r] / "replicator";
      processes_->push_back(std::move(p));
    }
    for (size_t i = 0; i < processes_->size(); ++i) Launch(i);
    for (size_t i = 0; i < processes_->size(); ++i) ASSERT_NO_FATAL_FAILURE(WaitStarted(i));
  }

  static void TearDownTestSuite() {
    if (processes_) {
      for (auto& p : *processes_) p.child.reset();
    }
    if (failed_) {
      dir_->Keep();
      std::cerr << "[ global ] kept " << dir_->path().string() << " (logs in log/)\n";
    }
    delete processes_;
    delete topology_;
    delete topology_path_;
    delete credentials_;
    delete dir_;
  }

  void TearDown() override {
    if (HasFailure()) {
      failed_ = true;
      for (const auto& p : *processes_) {
        std::cerr << "---- " << p.name << " (log tail)\n"
                  << testing::TailFile(dir_->path() / "log" / (p.name + ".log"), 8);
      }
    }
    // Whatever a test stopped or paused comes back for the next one.
    for (size_t i = 0; i < processes_->size(); ++i) {
      Process& p = (*processes_)[i];
      if (p.child && p.child->running()) {
        p.child->Signal(SIGCONT);
      } else {
        Launch(i);
        WaitStarted(i);
      }
    }
  }

  static void Launch(size_t i) {
    Process& p = (*processes_)[i];
    std::error_code ec;
    std::filesystem::remove(p.data / "endpoints.json", ec);
    std::filesystem::path log = dir_->path() / "log" / (p.name + ".log");
    { std::ofstream(log, std::ios::app) << "---- test: starting " << p.name << "\n"; }
    p.child = std::make_unique<ChildProcess>(p.argv, log);
  }
  static void WaitStarted(size_t i) {
    Process& p = (*processes_)[i];
    std::optional<testing::NodeEndpoints> e = testing::WaitForNodeEndpoints(p.data, *p.child, kStartWait);
    ASSERT_TRUE(e.has_value()) << p.name << " did not write its endpoints.json within 30 s";
  }
  static size_t IndexOf(const std::string& name) {
    for (size_t i = 0; i < processes_->size(); ++i) {
      if ((*processes_)[i].name == name) return i;
    }
    return processes_->size();
  }
  static size_t ReplicatorOf(int region) { return IndexOf(std::string(kRegions[region]) + "-replicator"); }

  static RegionClient ClientOf(int region, std::chrono::milliseconds deadline = 15s) {
    RegionClientOptions o;
    o.region = *topology_->FindRegion(kRegions[region]);
    o.credentials = *credentials_;
    o.deadline = deadline;
    return RegionClient(std::move(o));
  }

  static void CreateTable(const std::string& table) {
    RegionClient c = ClientOf(0);
    CreateTableRequest create;
    create.table_name = table;
    create.key_schema = {{"pk", KeyType::kHash}};
    create.attribute_definitions = {{"pk", AttributeType::kS}};
    create.billing_mode = BillingMode::kPayPerRequest;
    Result<CreateTableResponse> r = c.CreateTable(create);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  static void AddReplicas(int from, const std::string& table, std::vector<int> regions) {
    RegionClient c = ClientOf(from);
    UpdateTableRequest u;
    u.table_name = table;
    for (int r : regions) u.replica_updates.push_back(ReplicaUpdate{std::string(kRegions[r]), std::nullopt});
    Result<Response> r = c.Call(Request{u});
    ASSERT_TRUE(r.ok()) << "UpdateTable: " << r.status().ToString();
  }

  // Waits until DescribeTable in `region` lists every region of `expected` ACTIVE.
  static bool WaitReplicasActive(int region, const std::string& table, const std::vector<int>& expected,
                                 std::string* last) {
    auto deadline = Clock::now() + kConvergeWait;
    do {
      RegionClient c = ClientOf(region, 5s);
      Result<DescribeTableResponse> d = c.DescribeTable(DescribeTableRequest{table});
      if (d.ok()) {
        *last = "";
        size_t active = 0;
        for (const auto& rep : d->table.replicas) {
          *last += rep.region_name + "=" + std::to_string(static_cast<int>(rep.replica_status)) + " ";
          for (int e : expected) {
            if (rep.region_name == kRegions[e] && rep.replica_status == ReplicaStatus::kActive) ++active;
          }
        }
        if (active == expected.size()) return true;
      } else {
        *last = d.status().ToString();
      }
      std::this_thread::sleep_for(200ms);
    } while (Clock::now() < deadline);
    return false;
  }

  static Result<Content> ContentOf(int region, const std::string& table) {
    RegionClient c = ClientOf(region);
    Content out;
    ReplicationReadTableRequest req;
    req.table = table;
    for (int page = 0; page < 10000; ++page) {
      Result<Response> r = c.Call(Request{req});
      if (!r.ok()) return r.status();
      const auto& resp = std::get<ReplicationReadTableResponse>(r.value());
      for (const ReplicatedChange& ch : resp.items) out[EncodeItem(ch.key)] = Entry{ch.image, ch.version};
      if (!resp.last_key) return out;
      req.exclusive_start = resp.last_key;
    }
    return Status::Internal("too many pages");
  }

  // Waits until every region in `regions` holds the same content of `table`, with at least
  // `min_items` live items; the content in *out.
  static bool WaitConverged(const std::string& table, const std::vector<int>& regions, size_t min_items,
                            Content* out, std::string* why) {
    auto deadline = Clock::now() + kConvergeWait;
    do {
      std::vector<Content> contents;
      bool ok = true;
      for (int r : regions) {
        Result<Content> c = ContentOf(r, table);
        if (!c.ok()) {
          *why = std::string(kRegions[r]) + ": " + c.status().ToString();
          ok = false;
          break;
        }
        contents.push_back(std::move(c).value());
      }
      if (ok) {
        size_t live = 0;
        for (const auto& [k, e] : contents[0]) live += e.image ? 1 : 0;
        bool same = true;
        for (size_t i = 1; i < contents.size(); ++i) same = same && contents[i] == contents[0];
        *why = "";
        for (size_t i = 0; i < contents.size(); ++i) {
          *why += std::string(kRegions[regions[i]]) + " holds " + std::to_string(contents[i].size()) + " entries; ";
        }
        if (same && live >= min_items) {
          *out = contents[0];
          return true;
        }
      }
      std::this_thread::sleep_for(300ms);
    } while (Clock::now() < deadline);
    return false;
  }

  static Result<PutItemResponse> Put(RegionClient& c, const std::string& table, const std::string& pk,
                                     const std::string& v) {
    PutItemRequest put;
    put.table_name = table;
    put.item = Item{{"pk", AttributeValue::S(pk)}, {"v", AttributeValue::S(v)}};
    return c.PutItem(put);
  }

  static int LeaderOf(int region) {
    const topology::Region* r = topology_->FindRegion(kRegions[region]);
    for (int f = 0; f < 3; ++f) {
      ClientOptions o;
      o.endpoint = r->facilities[f].NativeEndpoint();
      o.timeout = 1s;
      o.credentials = *credentials_;
      Result<proto::NodeStatus> s = Client(o).NodeStatus();
      if (s.ok() && s->role == "leader") return f;
    }
    return -1;
  }

  static void Kill(size_t i) {
    Process& p = (*processes_)[i];
    std::cerr << "[ global ] SIGKILL " << p.name << "\n";
    p.child->Signal(SIGKILL);
    p.child->Wait(10s);
    p.child.reset();
  }

  static TempDir* dir_;
  static std::filesystem::path* topology_path_;
  static topology::Topology* topology_;
  static Credentials* credentials_;
  static std::vector<Process>* processes_;
  static bool failed_;
};

TempDir* GlobalTableTest::dir_ = nullptr;
std::filesystem::path* GlobalTableTest::topology_path_ = nullptr;
topology::Topology* GlobalTableTest::topology_ = nullptr;
Credentials* GlobalTableTest::credentials_ = nullptr;
std::vector<Process>* GlobalTableTest::processes_ = nullptr;
bool GlobalTableTest::failed_ = false;

TEST_F(GlobalTableTest, ReplicasAddedWithUpdateTableAreBackfilledAndConverge) {
  const std::string table = "orders";
  ASSERT_NO_FATAL_FAILURE(CreateTable(table));
  RegionClient us = ClientOf(0);
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(Put(us, table, "before-" + std::to_string(i), "x").ok());
  ASSERT_NO_FATAL_FAILURE(AddReplicas(0, table, {1, 2}));
  std::string last;
  EXPECT_TRUE(WaitReplicasActive(0, table, {0, 1, 2}, &last)) << "replicas in us-east: " << last;
  // Writes in every region after the replicas exist.
  for (int r = 0; r < kRegionCount; ++r) {
    RegionClient c = ClientOf(r);
    for (int i = 0; i < 20; ++i) {
      Result<PutItemResponse> p = Put(c, table, std::string(kRegions[r]) + "-" + std::to_string(i), "y");
      ASSERT_TRUE(p.ok()) << kRegions[r] << ": " << p.status().ToString();
    }
  }
  Content content;
  std::string why;
  ASSERT_TRUE(WaitConverged(table, {0, 1, 2}, 100, &content, &why)) << "not converged: " << why;
  EXPECT_EQ(content.size(), 100u);
  // Through the ordinary read path too, in a region that only received: eventually consistent.
  RegionClient ap = ClientOf(2);
  GetItemRequest get;
  get.table_name = table;
  get.key = Item{{"pk", AttributeValue::S("us-east-7")}};
  Result<GetItemResponse> g = ap.GetItem(get);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  ASSERT_TRUE(g->item.has_value()) << "us-east-7 not readable in ap-south";
  EXPECT_EQ(g->item->at("v").s(), "y");
  for (int r = 1; r < kRegionCount; ++r) {
    EXPECT_TRUE(WaitReplicasActive(r, table, {0, 1, 2}, &last)) << "replicas in " << kRegions[r] << ": " << last;
  }
}

TEST_F(GlobalTableTest, TableDeclaredInTheTopologyIsCreatedAndReplicated) {
  const std::string table = "declared";
  std::string last;
  for (int r = 0; r < kRegionCount; ++r) {
    ASSERT_TRUE(WaitReplicasActive(r, table, {0, 1, 2}, &last)) << "replicas in " << kRegions[r] << ": " << last;
  }
  RegionClient ap = ClientOf(2);
  ASSERT_TRUE(Put(ap, table, "from-ap-south", "z").ok());
  Content content;
  std::string why;
  ASSERT_TRUE(WaitConverged(table, {0, 1, 2}, 1, &content, &why)) << "not converged: " << why;
}

TEST_F(GlobalTableTest, ConflictingWritesWhileCutOffConvergeToTheRulesWinner) {
  const std::string table = "conflicts";
  ASSERT_NO_FATAL_FAILURE(CreateTable(table));
  ASSERT_NO_FATAL_FAILURE(AddReplicas(0, table, {1, 2}));
  std::string last;
  ASSERT_TRUE(WaitReplicasActive(0, table, {0, 1, 2}, &last)) << last;
  for (int r = 1; r < kRegionCount; ++r) ASSERT_TRUE(WaitReplicasActive(r, table, {0, 1, 2}, &last)) << last;

  // Cut the regions off from each other: no replicator runs.
  for (int r = 0; r < kRegionCount; ++r) (*processes_)[ReplicatorOf(r)].child->Signal(SIGSTOP);
  constexpr int kKeys = 15;
  for (int r = 0; r < kRegionCount; ++r) {
    RegionClient c = ClientOf(r);
    for (int k = 0; k < kKeys; ++k) {
      std::string pk = "key-" + std::to_string(k);
      if (r == 1 && k % 5 == 0) {  // a delete: a tombstone with its version
        ASSERT_TRUE(Put(c, table, pk, kRegions[r]).ok());
        DeleteItemRequest del;
        del.table_name = table;
        del.key = Item{{"pk", AttributeValue::S(pk)}};
        ASSERT_TRUE(c.DeleteItem(del).ok());
      } else {
        ASSERT_TRUE(Put(c, table, pk, kRegions[r]).ok());
      }
    }
  }
  // What each region holds while cut off: its own write of every key.
  std::vector<Content> before;
  for (int r = 0; r < kRegionCount; ++r) {
    Result<Content> c = ContentOf(r, table);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    before.push_back(std::move(c).value());
  }
  for (int r = 0; r < kRegionCount; ++r) (*processes_)[ReplicatorOf(r)].child->Signal(SIGCONT);

  Content after;
  std::string why;
  ASSERT_TRUE(WaitConverged(table, {0, 1, 2}, 0, &after, &why)) << "not converged after the heal: " << why;
  for (const auto& [key, entry] : before[0]) {
    // The rule: the three versions are concurrent; the highest (hlc, origin) wins.
    const Entry* winner = nullptr;
    for (int r = 0; r < kRegionCount; ++r) {
      const Entry& e = before[r].at(key);
      if (!winner || e.version.hlc > winner->version.hlc ||
          (e.version.hlc == winner->version.hlc && e.version.origin > winner->version.origin)) {
        winner = &e;
      }
    }
    ASSERT_TRUE(after.count(key)) << "key lost";
    const Entry& got = after.at(key);
    EXPECT_EQ(got.image, winner->image) << "winner of a key: expected the write of " << winner->version.origin;
    EXPECT_EQ(got.version.origin, winner->version.origin);
    EXPECT_EQ(got.version.hlc, winner->version.hlc);
    for (int r = 0; r < kRegionCount; ++r) {
      EXPECT_EQ(got.version.vv.at(kRegions[r]), before[r].at(key).version.vv.at(kRegions[r]))
          << "the merged vector is the pointwise maximum";
    }
  }
  // Losers are counted and listed: every region lost (or overrode) kKeys writes of each other
  // region; each region records the remote writes it resolved against its own.
  uint64_t total = 0;
  for (int r = 0; r < kRegionCount; ++r) {
    RegionClient c = ClientOf(r);
    Result<Response> s = c.Call(Request{ReplicationStatusRequest{}});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    const auto& status = std::get<ReplicationStatusResponse>(s.value());
    auto it = status.conflicts.find(table);
    ASSERT_NE(it, status.conflicts.end()) << kRegions[r] << " lists no conflict for " << table;
    EXPECT_GE(it->second.count, uint64_t{kKeys}) << kRegions[r];
    EXPECT_FALSE(it->second.recent.empty());
    for (const ConflictRecord& c : it->second.recent) {
      EXPECT_TRUE(c.winner.hlc > c.loser.hlc || (c.winner.hlc == c.loser.hlc && c.winner.origin > c.loser.origin))
          << "loser " << Describe(c.loser) << " winner " << Describe(c.winner);
    }
    total += it->second.count;
  }
  std::cerr << "[ global ] conflicts resolved: " << total << "\n";
}

TEST_F(GlobalTableTest, ReplicatorAndLeaderKilledDuringReplicationLoseNothing) {
  const std::string table = "steady";
  ASSERT_NO_FATAL_FAILURE(CreateTable(table));
  ASSERT_NO_FATAL_FAILURE(AddReplicas(0, table, {1}));
  std::string last;
  ASSERT_TRUE(WaitReplicasActive(0, table, {0, 1}, &last)) << last;

  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::string> acked;
  std::thread writer([&] {
    RegionClient c = ClientOf(0, 20s);
    for (int i = 0; i < 100000 && !stop.load(); ++i) {
      std::string pk = "w" + std::to_string(i);
      if (Put(c, table, pk, "v" + std::to_string(i)).ok()) {
        std::lock_guard lock(mu);
        acked.push_back(pk);
      }
    }
  });
  auto acked_count = [&] {
    std::lock_guard lock(mu);
    return acked.size();
  };
  auto wait_more = [&](size_t n) {
    size_t target = acked_count() + n;
    for (auto deadline = Clock::now() + 30s; Clock::now() < deadline && acked_count() < target;) {
      std::this_thread::sleep_for(20ms);
    }
    return acked_count() >= target;
  };
  EXPECT_TRUE(wait_more(100));
  // The sending region's replicator, mid-stream.
  size_t rep = ReplicatorOf(0);
  Kill(rep);
  EXPECT_TRUE(wait_more(100));
  Launch(rep);
  WaitStarted(rep);
  EXPECT_TRUE(wait_more(100));
  // The receiving region's leader, while batches are being applied.
  int leader = LeaderOf(1);
  ASSERT_GE(leader, 0) << "eu-west has no leader";
  size_t node = IndexOf(std::string("eu-west-") + kFacilities[leader]);
  Kill(node);
  EXPECT_TRUE(wait_more(100));
  // And the receiving region's replicator.
  Kill(ReplicatorOf(1));
  EXPECT_TRUE(wait_more(50));
  Launch(ReplicatorOf(1));
  WaitStarted(ReplicatorOf(1));
  Launch(node);
  WaitStarted(node);
  EXPECT_TRUE(wait_more(100));
  stop = true;
  writer.join();

  Content content;
  std::string why;
  ASSERT_TRUE(WaitConverged(table, {0, 1}, acked.size(), &content, &why)) << "not converged: " << why;
  size_t missing = 0;
  for (const std::string& pk : acked) {
    auto it = content.find(EncodeItem(Item{{"pk", AttributeValue::S(pk)}}));
    if (it == content.end() || !it->second.image) ++missing;
  }
  EXPECT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged writes";
  RegionClient c = ClientOf(1);
  Result<Response> s = c.Call(Request{ReplicationStatusRequest{}});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const auto& status = std::get<ReplicationStatusResponse>(s.value());
  auto it = status.conflicts.find(table);
  EXPECT_TRUE(it == status.conflicts.end() || it->second.count == 0)
      << "a single writer region cannot conflict with itself: a write was applied twice out of order";
  std::cerr << "[ global ] " << acked.size() << " writes acknowledged in us-east, all in eu-west\n";
}

TEST_F(GlobalTableTest, RegionAddedToALiveTableUnderWritesConverges) {
  const std::string table = "grow";
  ASSERT_NO_FATAL_FAILURE(CreateTable(table));
  ASSERT_NO_FATAL_FAILURE(AddReplicas(0, table, {1}));
  std::string last;
  ASSERT_TRUE(WaitReplicasActive(0, table, {0, 1}, &last)) << last;

  std::atomic<bool> stop{false};
  std::atomic<size_t> written{0};
  auto write_in = [&](int region) {
    RegionClient c = ClientOf(region, 20s);
    for (int i = 0; i < 100000 && !stop.load(); ++i) {
      if (Put(c, table, std::string(kRegions[region]) + "-" + std::to_string(i), "v").ok()) written++;
    }
  };
  std::thread w0(write_in, 0), w1(write_in, 1);
  for (auto deadline = Clock::now() + 30s; Clock::now() < deadline && written.load() < 200;) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_NO_FATAL_FAILURE(AddReplicas(1, table, {2}));
  size_t at_add = written.load();
  for (auto deadline = Clock::now() + 30s; Clock::now() < deadline && written.load() < at_add + 300;) {
    std::this_thread::sleep_for(20ms);
  }
  stop = true;
  w0.join();
  w1.join();
  Content content;
  std::string why;
  ASSERT_TRUE(WaitConverged(table, {0, 1, 2}, written.load(), &content, &why)) << "not converged: " << why;
  EXPECT_TRUE(WaitReplicasActive(1, table, {0, 1, 2}, &last)) << last;
  std::cerr << "[ global ] " << written.load() << " writes, " << at_add << " before ap-south was added\n";
}

}  // namespace
}  // namespace meridian
