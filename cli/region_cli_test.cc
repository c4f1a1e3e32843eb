// The CLI's region commands against fake facility nodes (client/testing/fake_node.h) on
// 127.0.0.1: --topology / --region / $MERIDIAN_TOPOLOGY for the request commands, `status` (its
// JSON shape and exit codes) and `admin`, and their usage errors. Runs the real binary.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "client/testing/fake_node.h"
#include "tests/integration/process.h"
#include "topology/topology.h"

namespace meridian {
namespace {

using testing::FakeNode;
using testing::RunCommand;

constexpr char kItem[] = R"({"pk":{"S":"k"}})";

class RegionCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* var : {"MERIDIAN_TOPOLOGY", "MERIDIAN_ENDPOINT", "AWS_ACCESS_KEY_ID",
                            "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"}) {
      ::unsetenv(var);
    }
    std::string yaml = "version: 1\nregions:\n";
    int http_port = 18000;
    for (const char* region : {"us-east", "eu-west"}) {
      yaml += std::string("  - name: ") + region + "\n    facilities:\n";
      for (const char* facility : {"a", "b", "c"}) {
        nodes_.push_back(std::make_unique<FakeNode>(region, facility));
        yaml += std::string("      - name: ") + facility + "\n        host: 127.0.0.1\n        native_port: " +
                std::to_string(nodes_.back()->port()) + "\n        http_port: " + std::to_string(http_port++) +
                "\n        data: " + region + "-" + facility + "\n";
      }
    }
    topology_ = (dir_.path() / "topology.yaml").string();
    std::ofstream(topology_) << yaml;
    std::ofstream(dir_.path() / "credentials")
        << "[meridian]\naws_access_key_id = MERCLITEST\naws_secret_access_key = secret\n";
    // us-east: b leads; eu-west: nobody does.
    node(0).SetStatus("follower", 2, "b");
    node(1).SetStatus("leader", 2, "b");
    node(2).SetStatus("follower", 2, "b");
  }

  void TearDown() override {
    for (const char* var : {"MERIDIAN_TOPOLOGY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}) ::unsetenv(var);
  }

  // 0-2: us-east a, b, c; 3-5: eu-west a, b, c.
  FakeNode& node(size_t i) { return *nodes_[i]; }

  testing::CommandResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), MERIDIAN_BINARY);
    return RunCommand(args, "", std::chrono::seconds(60));
  }

  testing::TempDir dir_;
  std::string topology_;
  std::vector<std::unique_ptr<FakeNode>> nodes_;
};

TEST_F(RegionCliTest, StatusJsonHasTheConventionsShape) {
  testing::CommandResult r = Run({"status", "--topology", topology_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["schema_version"], 1);
  ASSERT_EQ(j["regions"].size(), 2u);
  const auto& us = j["regions"][0];
  EXPECT_EQ(us["name"], "us-east");
  EXPECT_EQ(us["leader"], "b");
  EXPECT_TRUE(us["replication"].is_array());
  EXPECT_TRUE(us["conflicts"].is_object());
  ASSERT_EQ(us["facilities"].size(), 3u);
  for (const auto& f : us["facilities"]) {
    for (const char* field : {"name", "up", "role", "term", "commit_index", "applied_index", "native_endpoint",
                              "http_endpoint"}) {
      EXPECT_TRUE(f.contains(field)) << field << " in " << f.dump();
    }
    EXPECT_EQ(f["up"], true);
  }
  EXPECT_EQ(us["facilities"][1]["role"], "leader");
  EXPECT_EQ(us["facilities"][1]["term"], 2);
  EXPECT_EQ(us["facilities"][0]["native_endpoint"], node(0).endpoint());
  EXPECT_EQ(us["facilities"][0]["http_endpoint"], "http://127.0.0.1:18000");
  EXPECT_TRUE(j["regions"][1]["leader"].is_null());

  // --region limits it to one region.
  r = Run({"status", "--topology", topology_, "--json", "--region", "eu-west"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["regions"].size(), 1u);
  EXPECT_EQ(j["regions"][0]["name"], "eu-west");
}

TEST_F(RegionCliTest, StatusExitsThreeWhenAFacilityIsDownAndStillPrintsEverything) {
  node(5).Stop();
  testing::CommandResult r = Run({"status", "--topology", topology_, "--json", "--timeout-ms", "300"});
  ASSERT_EQ(r.exit_code, 3) << r.out;
  nlohmann::json j = nlohmann::json::parse(r.out);
  const auto& c = j["regions"][1]["facilities"][2];
  EXPECT_EQ(c["name"], "c");
  EXPECT_EQ(c["up"], false);
  EXPECT_TRUE(c["role"].is_null());
  EXPECT_EQ(j["regions"][0]["facilities"].size(), 3u);

  r = Run({"status", "--topology", topology_, "--timeout-ms", "300"});
  ASSERT_EQ(r.exit_code, 3) << r.out;
  EXPECT_NE(r.out.find("REGION"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("b *"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("down"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("us-east: leader b"), std::string::npos) << r.out;
}

// The first line of `text` that contains `part`, "" when none does.
std::string LineWith(const std::string& text, const std::string& part) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(part) != std::string::npos) return line;
  }
  return "";
}

// A ReplicationStatus answer: lag from each source, `conflicts` conflicts on table "music" of which
// the engine keeps the last 12 (newest last), one on "other".
ReplicationStatusResponse ScriptedReplication(const std::string& region, std::vector<std::string> sources,
                                              int64_t lag_ms, uint64_t conflicts) {
  ReplicationStatusResponse r;
  r.region = region;
  for (const std::string& source : sources) {
    ReplicationLag lag;
    lag.source = source;
    lag.lag_ms = lag_ms;
    lag.lag_records = static_cast<uint64_t>(lag_ms / 10);
    r.lag.push_back(lag);
  }
  TableConflicts& music = r.conflicts["music"];
  music.count = conflicts;
  for (uint64_t i = conflicts > 12 ? conflicts - 12 : 0; i < conflicts; ++i) {
    ConflictRecord c;
    c.table = "music";
    c.key = {{"pk", AttributeValue::S("k" + std::to_string(i))}};
    c.loser = {{{"eu-west", 3}, {"us-east", 5}}, (uint64_t{1714566896789} << 16) | 2, "eu-west"};
    c.winner = {{{"eu-west", 2}, {"us-east", 6}}, (uint64_t{1714566896790} << 16), "us-east"};
    c.loser_was_delete = i % 2 == 0;
    c.time_ms = 1714566896800 + static_cast<int64_t>(i);
    music.recent.push_back(c);
  }
  r.conflicts["other"].count = 1;
  return r;
}

TEST_F(RegionCliTest, StatusShowsReplicationLagAndConflictsPerRegion) {
  // us-east: the leader's answer wins over a follower's; eu-west has no leader, so any facility's.
  node(0).SetResponse(ScriptedReplication("us-east", {"eu-west"}, 999999, 1));
  node(1).SetResponse(ScriptedReplication("us-east", {"eu-west", "ap-south"}, 120, 15));
  node(3).FailAllRequests(Status::Internal("not implemented yet"));
  node(4).SetResponse(ScriptedReplication("eu-west", {"us-east"}, 40, 0));
  node(5).FailAllRequests(Status::Internal("not implemented yet"));

  testing::CommandResult r = Run({"status", "--topology", topology_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  nlohmann::json j = nlohmann::json::parse(r.out);
  const auto& us = j["regions"][0];
  ASSERT_EQ(us["facilities"].size(), 3u) << "the facilities are all still there";
  EXPECT_EQ(us["leader"], "b");
  // Sorted by source, each the lag of source -> this region, with exactly the schema's fields.
  EXPECT_EQ(us["replication"], nlohmann::json::parse(R"([
      {"source":"ap-south","destination":"us-east","lag_ms":120,"lag_records":12},
      {"source":"eu-west","destination":"us-east","lag_ms":120,"lag_records":12}])"));
  ASSERT_TRUE(us["conflicts"].contains("music")) << us["conflicts"].dump();
  const auto& music = us["conflicts"]["music"];
  EXPECT_EQ(music["count"], 15);
  ASSERT_EQ(music["recent"].size(), 10u) << "10 recent by default";
  // The newest ten of the twelve kept, newest last, each as the conflict log writes it.
  EXPECT_EQ(music["recent"][0]["key"], nlohmann::json::parse(R"({"pk":{"S":"k5"}})"));
  EXPECT_EQ(music["recent"][9], nlohmann::json::parse(R"({
      "time":"2024-05-01T12:34:56.814Z","table":"music","key":{"pk":{"S":"k14"}},
      "loser":{"vv":{"eu-west":3,"us-east":5},"hlc":112365856147963906,"origin":"eu-west"},
      "winner":{"vv":{"eu-west":2,"us-east":6},"hlc":112365856148029440,"origin":"us-east"},
      "loser_was_delete":true})"));
  EXPECT_EQ(us["conflicts"]["other"], nlohmann::json::parse(R"({"count":1,"recent":[]})"));
  const auto& eu = j["regions"][1];
  EXPECT_EQ(eu["replication"], nlohmann::json::parse(R"([{"source":"us-east","destination":"eu-west","lag_ms":40,"lag_records":4}])"));
  EXPECT_EQ(eu["conflicts"]["music"]["count"], 0);

  // --conflicts N: the N newest; 0 keeps only the counts.
  r = Run({"status", "--topology", topology_, "--json", "--conflicts", "2", "--region", "us-east"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  j = nlohmann::json::parse(r.out);
  const auto& recent = j["regions"][0]["conflicts"]["music"]["recent"];
  ASSERT_EQ(recent.size(), 2u);
  EXPECT_EQ(recent[0]["key"]["pk"]["S"], "k13");
  EXPECT_EQ(recent[1]["key"]["pk"]["S"], "k14");
  r = Run({"status", "--topology", topology_, "--json", "--conflicts", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["regions"][0]["conflicts"]["music"]["recent"].empty());
  EXPECT_EQ(j["regions"][0]["conflicts"]["music"]["count"], 15);

  // The table shows the same at a glance.
  r = Run({"status", "--topology", topology_, "--conflicts", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("us-east: leader b"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("REPLICATION"), std::string::npos) << r.out;
  EXPECT_EQ(LineWith(r.out, "eu-west -> us-east"), "eu-west -> us-east   120     12") << r.out;
  EXPECT_EQ(LineWith(r.out, "us-east -> eu-west"), "us-east -> eu-west   40      4") << r.out;
  EXPECT_NE(r.out.find("CONFLICTS"), std::string::npos) << r.out;
  EXPECT_EQ(LineWith(r.out, "music  15"), "us-east    music  15") << r.out;
  EXPECT_EQ(LineWith(r.out, "other"), "us-east    other  1") << r.out;
  EXPECT_NE(r.out.find(R"(key {"pk":{"S":"k14"}})"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("eu-west@2024-05-01T12:34:56.789Z+2 {eu-west:3, us-east:5} (a delete)"), std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("k13"), std::string::npos) << "--conflicts 1 shows one: " << r.out;
}

TEST_F(RegionCliTest, StatusWithoutReplicationStatusShowsEmptyNotAnError) {
  // Nodes whose engine does not serve ReplicationStatus yet.
  for (size_t i = 0; i < nodes_.size(); ++i) node(i).FailAllRequests(Status::Internal("not implemented yet"));
  testing::CommandResult r = Run({"status", "--topology", topology_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  nlohmann::json j = nlohmann::json::parse(r.out);
  for (const auto& region : j["regions"]) {
    EXPECT_EQ(region["replication"], nlohmann::json::array()) << region.dump();
    EXPECT_EQ(region["conflicts"], nlohmann::json::object()) << region.dump();
    EXPECT_EQ(region["facilities"].size(), 3u);
  }
  r = Run({"status", "--topology", topology_});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("us-east: no replication status (InternalServerError: not implemented yet)"), std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("REPLICATION"), std::string::npos) << r.out;

  // A whole region down: its facilities are not asked twice, and the other region still shows.
  for (size_t i = 3; i < 6; ++i) node(i).Stop();
  node(1).FailAllRequests(std::nullopt);
  node(1).SetResponse(ScriptedReplication("us-east", {"eu-west"}, 5, 0));
  r = Run({"status", "--topology", topology_, "--json", "--timeout-ms", "300"});
  ASSERT_EQ(r.exit_code, 3) << r.out;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["regions"][0]["replication"].size(), 1u) << r.out;
  EXPECT_EQ(j["regions"][1]["replication"], nlohmann::json::array());
  EXPECT_EQ(j["regions"][1]["conflicts"], nlohmann::json::object());
}

TEST_F(RegionCliTest, RequestsGoThroughTheRegionWithTheTopologysCredentials) {
  testing::CommandResult r = Run({"put", "t", kItem, "--topology", topology_});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  ASSERT_EQ(node(1).requests().size(), 1u);
  EXPECT_EQ(node(1).requests()[0].operation, Operation::kPutItem);
  EXPECT_EQ(node(1).requests()[0].key_id, "MERCLITEST");

  // Global options may come first; eventually consistent reads need no leader.
  r = Run({"--topology", topology_, "--region", "eu-west", "get", "t", kItem});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("served_by"), std::string::npos) << r.out;
  EXPECT_EQ(node(3).requests().size() + node(4).requests().size() + node(5).requests().size(), 1u);

  r = Run({"tables", "--topology", topology_});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(node(1).requests().back().operation, Operation::kListTables);

  r = Run({"call", "DescribeTable", R"({"TableName":"t"})", "--topology", topology_, "--credentials",
           (dir_.path() / "other").string()});
  EXPECT_EQ(r.exit_code, 2) << "a missing --credentials file is a usage error";
}

TEST_F(RegionCliTest, MeridianTopologyIsTheDefaultButEndpointStillWins) {
  ::setenv("MERIDIAN_TOPOLOGY", topology_.c_str(), 1);
  // An AWS key in the environment does not shadow the topology's own key file...
  ::setenv("AWS_ACCESS_KEY_ID", "AKIAFORAWSITSELF", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "x", 1);
  testing::CommandResult r = Run({"put", "t", kItem});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  ASSERT_EQ(node(1).requests().size(), 1u);
  EXPECT_EQ(node(1).requests()[0].key_id, "MERCLITEST");

  // An explicit single node is used as before, and status still finds the topology.
  // ...while a single node gets the environment's key, as before.
  r = Run({"put", "t", kItem, "--endpoint", node(3).endpoint()});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  ASSERT_EQ(node(3).requests().size(), 1u);
  EXPECT_EQ(node(3).requests()[0].key_id, "AKIAFORAWSITSELF");
  EXPECT_EQ(node(1).requests().size(), 1u);
  r = Run({"status", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
}

TEST_F(RegionCliTest, AdminSendsToTheLeader) {
  testing::CommandResult r = Run({"admin", "transfer-leader", "--topology", topology_, "--to", "c"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("fake b did op 2 for 'c'"), std::string::npos) << r.out;
  ASSERT_EQ(node(1).admin_requests().size(), 1u);
  EXPECT_EQ(node(1).admin_requests()[0].op, proto::NodeOp::kTransferLeader);
  EXPECT_EQ(node(1).admin_requests()[0].facility, "c");
  EXPECT_EQ(node(1).admin_requests()[0].key_id, "MERCLITEST");

  r = Run({"admin", "replace-facility", "--topology", topology_, "--region", "us-east", "--facility", "a", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["leader"], "b");
  EXPECT_EQ(j["region"], "us-east");
  ASSERT_EQ(node(1).admin_requests().size(), 2u);
  EXPECT_EQ(node(1).admin_requests()[1].op, proto::NodeOp::kReplaceFacility);
  EXPECT_EQ(node(1).admin_requests()[1].facility, "a");

  // An API error: its JSON on stdout, exit 1.
  node(1).FailAllRequests(Status(ErrorCode::kAccessDenied, "not an admin key"));
  r = Run({"admin", "transfer-leader", "--topology", topology_});
  ASSERT_EQ(r.exit_code, 1) << r.out;
  j = nlohmann::json::parse(r.out);
  EXPECT_NE(j["__type"].get<std::string>().find("AccessDeniedException"), std::string::npos) << r.out;
}

// --region alone implies the topology lookup down to /etc/meridian/topology.yaml (where
// `meridian compose` mounts it), rather than falling back to a single node.
TEST_F(RegionCliTest, RegionAloneLooksUpTheDefaultTopology) {
  if (std::filesystem::exists(topology::kDefaultTopologyPath)) GTEST_SKIP() << "this machine has /etc/meridian/topology.yaml";
  // stderr is where usage errors go; RunCommand captures stdout only.
  testing::CommandResult r = RunCommand(
      {"/bin/sh", "-c", std::string(MERIDIAN_BINARY) + " put t '" + kItem + "' --region us-east 2>&1"}, "",
      std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find(std::string(topology::kDefaultTopologyPath)), std::string::npos) << r.out;
  for (size_t i = 0; i < nodes_.size(); ++i) EXPECT_TRUE(node(i).requests().empty()) << i;
}

TEST_F(RegionCliTest, UnreachableRegionExitsThree) {
  for (size_t i = 0; i < 3; ++i) node(i).Stop();
  testing::CommandResult r = Run({"put", "t", kItem, "--topology", topology_, "--timeout-ms", "600"});
  EXPECT_EQ(r.exit_code, 3) << r.out;
  r = Run({"admin", "transfer-leader", "--topology", topology_, "--timeout-ms", "600"});
  EXPECT_EQ(r.exit_code, 3) << r.out;
}

TEST_F(RegionCliTest, UsageErrors) {
  const std::string missing = (dir_.path() / "missing.yaml").string();
  std::vector<std::vector<std::string>> cases = {
      {"put", "t", kItem, "--topology", topology_, "--endpoint", "tcp://127.0.0.1:1"},
      {"put", "t", kItem, "--topology", topology_, "--region", "nowhere"},
      {"put", "t", kItem, "--topology", missing},
      {"put", "t", kItem, "--region", "us-east", "--endpoint", "tcp://127.0.0.1:1"},
      {"status", "--topology", missing},
      {"status", "--topology", topology_, "extra"},
      {"status", "--topology", topology_, "--endpoint", "tcp://127.0.0.1:1"},
      {"status", "--topology", topology_, "--conflicts", "-1"},
      {"status", "--topology", topology_, "--conflicts", "ten"},
      {"status", "--topology", topology_, "--conflicts"},
      {"admin", "--topology", topology_},
      {"admin", "rename", "--topology", topology_},
      {"admin", "replace-facility", "--topology", topology_},
      {"admin", "replace-facility", "--topology", topology_, "--facility", "z"},
      {"admin", "transfer-leader", "--topology", topology_, "--to", "z"},
      {"admin", "transfer-leader", "--topology", topology_, "--facility", "a"},
  };
  for (const auto& args : cases) {
    testing::CommandResult r = Run(args);
    std::string line;
    for (const auto& a : args) line += a + " ";
    EXPECT_EQ(r.exit_code, 2) << line << "\n" << r.out;
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    EXPECT_TRUE(node(i).requests().empty()) << i;
    EXPECT_TRUE(node(i).admin_requests().empty()) << i;
  }
}

}  // namespace
}  // namespace meridian
