// Multi-process tests of `meridian demo`: a real demo supervisor with its `meridian start` and
// `meridian replicator` children on 127.0.0.1, in a temporary folder. They check the folder layout
// of the operator conventions, a clean stop on SIGINT or SIGTERM (every child gone, pid files
// removed), that a second run on the same folder resumes (same ports, same keys, same data, in
// every region) and that a second demo on a folder in use is refused, that --restart brings back
// a node that was killed, the workload (--workload) against a running demo and as part of one, and
// a topology file run as given (--topology) with its usage errors. Scenarios share demo starts to
// keep the time down. Every wait is bounded.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "meridian/client.h"
#include "meridian/region_client.h"
#include "tests/integration/process.h"
#include "topology/topology.h"

namespace meridian {
namespace {

namespace fs = std::filesystem;
using testing::ChildProcess;
using testing::CommandResult;
using testing::RunCommand;
using testing::TempDir;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

const std::string kBinary = MERIDIAN_BINARY;
const std::vector<std::string> kFacilities = {"a", "b", "c"};

std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool PortIsFree(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return free;
}

// A base port whose demo block (base..base+2, base+300..base+302) is free now, below the
// ephemeral range (32768 and up) that port-0 servers of parallel tests take from. The demo moves
// to the next block itself if one is taken meanwhile.
int PickBasePort() {
  uint32_t seed = std::random_device{}();
  std::cout << "demo_test seed " << seed << std::endl;
  std::mt19937 rng(seed);
  for (int attempt = 0; attempt < 100; ++attempt) {
    int base = 12000 + 50 * static_cast<int>(rng() % 300);  // room for three regions (base..base+25)
    bool free = true;
    // The first region's block; the demo moves the whole block up by itself if another is taken.
    for (int p : {base, base + 1, base + 2, base + 5, base + 300, base + 301, base + 302}) free = free && PortIsFree(p);
    if (free) return base;
  }
  return 12000;
}

bool Alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

pid_t PidIn(const fs::path& file) {
  std::string text = ReadText(file);
  return text.empty() ? -1 : static_cast<pid_t>(std::strtol(text.c_str(), nullptr, 10));
}

// Waits (bounded) until `log` holds `needle` after byte `from`, while `process` runs.
bool WaitForOutput(const fs::path& log, const std::string& needle, ChildProcess& process,
                   std::chrono::milliseconds timeout, size_t from = 0) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    std::string text = ReadText(log);
    if (text.size() > from && text.find(needle, from) != std::string::npos) return true;
    if (!process.running()) return false;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

class DemoTest : public ::testing::Test {
 protected:
  fs::path Dir() const { return tmp_.path() / "demo"; }
  fs::path Out() const { return tmp_.path() / "demo-output.log"; }

  // Starts `meridian demo` on Dir() and waits for its ready line.
  std::unique_ptr<ChildProcess> StartDemo(std::vector<std::string> extra = {}) {
    size_t from = ReadText(Out()).size();
    std::vector<std::string> argv = {kBinary, "demo", "--data", Dir().string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto demo = std::make_unique<ChildProcess>(argv, Out());
    bool ready = WaitForOutput(Out(), "meridian demo: ready", *demo, 120s, from);
    EXPECT_TRUE(ready) << "the demo did not come up; its output:\n" << ReadText(Out()).substr(from);
    return ready ? std::move(demo) : nullptr;
  }

  // SIGINT (or `sig`), then checks that the demo exited 0 and took every node and pid file with it.
  void StopDemo(ChildProcess& demo, int sig = SIGINT) {
    std::vector<pid_t> pids;
    for (const auto& f : kFacilities) pids.push_back(PidIn(Dir() / "run" / ("us-east-" + f + ".pid")));
    demo.Signal(sig);
    EXPECT_EQ(demo.Wait(60s), 0) << ReadText(Out());
    for (pid_t pid : pids) {
      ASSERT_GT(pid, 0);
      EXPECT_FALSE(Alive(pid)) << "node pid " << pid << " outlived the demo";
    }
    for (const auto& f : kFacilities) EXPECT_FALSE(fs::exists(Dir() / "run" / ("us-east-" + f + ".pid")));
    EXPECT_FALSE(fs::exists(Dir() / "run" / "demo.pid"));
  }

  Credentials Creds() {
    auto c = LoadSharedCredentials((Dir() / "credentials").string());
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? c.value() : Credentials{};
  }

  std::string NativeEndpointOf(const std::string& facility) {
    auto j = nlohmann::json::parse(ReadText(Dir() / "us-east" / facility / "endpoints.json"), nullptr, false);
    return j.is_object() && j.contains("native") ? j["native"].get<std::string>() : "";
  }

  // Runs `call` until it succeeds or 60 s pass (the region elects its leader meanwhile); the
  // last status.
  template <typename F>
  Status Eventually(F call) {
    Status last = Status::Internal("not tried");
    for (auto deadline = Clock::now() + 60s; Clock::now() < deadline;) {
      last = call();
      if (last.ok()) return last;
      std::this_thread::sleep_for(200ms);
    }
    return last;
  }

  TempDir tmp_;
};

TEST_F(DemoTest, LaysOutTheFolderStopsCleanlyAndResumes) {
  const int base = PickBasePort();
  auto demo = StartDemo({"--base-port", std::to_string(base), "--regions", "1"});
  ASSERT_NE(demo, nullptr);

  // topology.yaml: one region, facilities a, b, c with real, distinct ports, data under DIR.
  Result<topology::Topology> t = topology::LoadTopology((Dir() / "topology.yaml").string());
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_EQ(t->regions.size(), 1u);
  const topology::Region& region = t->regions[0];
  EXPECT_EQ(region.name, "us-east");
  ASSERT_EQ(region.facilities.size(), 3u);
  std::set<int> ports;
  std::string output = ReadText(Out());
  for (size_t i = 0; i < 3; ++i) {
    const topology::Facility& f = region.facilities[i];
    EXPECT_EQ(f.name, kFacilities[i]);
    EXPECT_NE(f.native_port, 0);
    EXPECT_NE(f.http_port, 0);
    ports.insert(f.native_port);
    ports.insert(f.http_port);
    EXPECT_EQ(fs::weakly_canonical(t->DataPath(f.data)), fs::weakly_canonical(Dir() / "us-east" / f.name));
    // The printed endpoints are the topology's.
    EXPECT_NE(output.find(f.NativeEndpoint()), std::string::npos) << output;
    EXPECT_NE(output.find(t->HttpEndpoint(f)), std::string::npos) << output;
  }
  EXPECT_EQ(ports.size(), 6u);
  // The block at --base-port, or (when something took a port of it meanwhile) one 1000 up.
  EXPECT_GE(region.facilities[0].native_port, base);
  EXPECT_EQ((region.facilities[0].native_port - base) % 1000, 0);
  EXPECT_NE(output.find("aws --endpoint-url"), std::string::npos) << output;

  // Keys: the clients' side and the nodes' side of one key; run and log files per node.
  Credentials creds = Creds();
  EXPECT_FALSE(creds.access_key_id.empty());
  EXPECT_NE(ReadText(Dir() / "access.yaml").find(creds.access_key_id), std::string::npos);
  EXPECT_EQ(fs::status(Dir() / "credentials").permissions() & fs::perms::others_read, fs::perms::none);
  for (const auto& f : kFacilities) {
    pid_t pid = PidIn(Dir() / "run" / ("us-east-" + f + ".pid"));
    EXPECT_GT(pid, 0);
    EXPECT_TRUE(Alive(pid));
    EXPECT_TRUE(fs::exists(Dir() / "log" / ("us-east-" + f + ".log")));
    EXPECT_FALSE(NativeEndpointOf(f).empty());
  }
  EXPECT_EQ(PidIn(Dir() / "run" / "demo.pid"), demo->pid());

  // A second demo on the same folder is refused at once, and the first is untouched.
  CommandResult second = RunCommand({kBinary, "demo", "--data", Dir().string()}, "", 30s);
  EXPECT_EQ(second.exit_code, 2);
  EXPECT_TRUE(demo->running());

  // The workload against this running one-region demo: nothing to replicate, but it writes and
  // reads back.
  CommandResult workload = RunCommand({kBinary, "demo", "--workload", "--data", Dir().string()}, "", 120s);
  EXPECT_EQ(workload.exit_code, 0) << workload.out;
  EXPECT_NE(workload.out.find("nothing to replicate"), std::string::npos) << workload.out;
  EXPECT_TRUE(demo->running());

  // An item written through facility a's native endpoint (forwarded to the leader if a is not it).
  Client writer(ClientOptions{NativeEndpointOf("a"), 5s, creds});
  Status created = Eventually([&]() -> Status {
    CreateTableRequest create;
    create.table_name = "music";
    create.key_schema = {{"artist", KeyType::kHash}};
    create.attribute_definitions = {{"artist", AttributeType::kS}};
    create.billing_mode = BillingMode::kPayPerRequest;
    auto r = writer.CreateTable(create);
    // A retried create whose first try was applied finds the table there.
    if (!r.ok() && r.status().code() == ErrorCode::kResourceInUse) return Status::Ok();
    return r.ok() ? Status::Ok() : r.status();
  });
  ASSERT_TRUE(created.ok()) << created.ToString();
  PutItemRequest put;
  put.table_name = "music";
  put.item["artist"] = AttributeValue::S("Pärt");
  put.item["title"] = AttributeValue::S("Spiegel im Spiegel");
  Status written = Eventually([&]() -> Status {
    auto r = writer.PutItem(put);
    return r.ok() ? Status::Ok() : r.status();
  });
  ASSERT_TRUE(written.ok()) << written.ToString();

  const std::string topology_text = ReadText(Dir() / "topology.yaml");
  const std::string credentials_text = ReadText(Dir() / "credentials");
  const std::string access_text = ReadText(Dir() / "access.yaml");
  StopDemo(*demo);

  // A resumed folder keeps its number of regions.
  CommandResult mismatch = RunCommand({kBinary, "demo", "--data", Dir().string(), "--regions", "2"}, "", 30s);
  EXPECT_EQ(mismatch.exit_code, 2);

  // The second run reuses the topology (its ports) and the keys as they are, and the data.
  demo = StartDemo();
  ASSERT_NE(demo, nullptr);
  EXPECT_EQ(ReadText(Dir() / "topology.yaml"), topology_text);
  EXPECT_EQ(ReadText(Dir() / "credentials"), credentials_text);
  EXPECT_EQ(ReadText(Dir() / "access.yaml"), access_text);
  Client reader(ClientOptions{NativeEndpointOf("b"), 5s, creds});
  Status read = Eventually([&]() -> Status {
    GetItemRequest get;
    get.table_name = "music";
    get.key["artist"] = AttributeValue::S("Pärt");
    get.consistent_read = true;
    auto r = reader.GetItem(get);
    if (!r.ok()) return r.status();
    if (!r->item) return Status::NotFound("the item written before the restart is missing");
    if (r->item->at("title") != AttributeValue::S("Spiegel im Spiegel")) return Status::Internal("wrong title");
    return Status::Ok();
  });
  EXPECT_TRUE(read.ok()) << read.ToString();
  StopDemo(*demo);
}

TEST_F(DemoTest, RestartsANodeThatWasKilled) {
  auto demo = StartDemo({"--base-port", std::to_string(PickBasePort()), "--restart", "--regions", "1"});
  ASSERT_NE(demo, nullptr);
  const fs::path pid_file = Dir() / "run" / "us-east-b.pid";
  pid_t first = PidIn(pid_file);
  ASSERT_GT(first, 0);
  size_t from = ReadText(Out()).size();
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  // The supervisor reports the death (with the end of the node's log) and starts it again.
  EXPECT_TRUE(WaitForOutput(Out(), "us-east-b was killed by signal 9", *demo, 30s, from)) << ReadText(Out());
  EXPECT_TRUE(WaitForOutput(Out(), "restarting us-east-b", *demo, 30s, from)) << ReadText(Out());
  pid_t second = -1;
  for (auto deadline = Clock::now() + 30s; Clock::now() < deadline; std::this_thread::sleep_for(50ms)) {
    second = PidIn(pid_file);
    if (second > 0 && second != first) break;
  }
  EXPECT_GT(second, 0);
  EXPECT_NE(second, first);
  EXPECT_TRUE(Alive(second));
  StopDemo(*demo);
}

// Issues 6 and 7's acceptance: the default demo is three regions of three facilities and a
// replicator each; a table created in one region and given replicas with the AWS CLI
// (`update-table --replica-updates`) shows them ACTIVE in `describe-table`, and an item written in
// one region is read in the other two, through the client library and through the AWS CLI. The
// workload run against the demo reports every source -> destination pair and the status line
// shows the replication lag. Stopped with SIGTERM and started again on the same folder, the demo
// has the item in all three regions.
TEST_F(DemoTest, DefaultIsThreeRegionsReplicatesRunsTheWorkloadAndResumes) {
  auto demo = StartDemo({"--base-port", std::to_string(PickBasePort())});
  ASSERT_NE(demo, nullptr);
  Result<topology::Topology> t = topology::LoadTopology((Dir() / "topology.yaml").string());
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_EQ(t->regions.size(), 3u);
  for (const auto& region : t->regions) {
    ASSERT_TRUE(region.replicator.has_value()) << region.name;
    EXPECT_GT(PidIn(Dir() / "run" / (region.name + "-replicator.pid")), 0) << region.name;
  }
  Credentials creds = Creds();
  auto aws = [&](const topology::Region& region, std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/env",
                                     "AWS_SHARED_CREDENTIALS_FILE=" + (Dir() / "credentials").string(),
                                     "AWS_CONFIG_FILE=/nonexistent", "AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true",
                                     "/usr/bin/aws", "--profile", "meridian", "--region", region.name, "--output",
                                     "json", "--endpoint-url", t->HttpEndpoint(region.facilities[0]), "dynamodb"};
    argv.insert(argv.end(), args.begin(), args.end());
    CommandResult r = RunCommand(argv, "", 90s);
    return std::make_pair(r.exit_code, nlohmann::json::parse(r.out.empty() ? "{}" : r.out, nullptr, false));
  };
  const topology::Region& us = t->regions[0];
  auto [created, c] = aws(us, {"create-table", "--table-name", "music", "--attribute-definitions",
                               "AttributeName=artist,AttributeType=S", "--key-schema",
                               "AttributeName=artist,KeyType=HASH", "--billing-mode", "PAY_PER_REQUEST"});
  ASSERT_EQ(created, 0) << c.dump();
  auto [updated, u] = aws(us, {"update-table", "--table-name", "music", "--replica-updates",
                               R"([{"Create":{"RegionName":"eu-west"}},{"Create":{"RegionName":"ap-south"}}])"});
  ASSERT_EQ(updated, 0) << u.dump();
  nlohmann::json replicas;
  for (auto deadline = Clock::now() + 60s; Clock::now() < deadline; std::this_thread::sleep_for(300ms)) {
    auto [rc, d] = aws(us, {"describe-table", "--table-name", "music"});
    ASSERT_EQ(rc, 0) << d.dump();
    replicas = d["Table"]["Replicas"];
    int active = 0;
    for (const auto& r : replicas) active += r.value("ReplicaStatus", "") == "ACTIVE" ? 1 : 0;
    if (active == 3) break;
  }
  ASSERT_EQ(replicas.size(), 3u) << replicas.dump();
  for (const auto& r : replicas) EXPECT_EQ(r.value("ReplicaStatus", ""), "ACTIVE") << replicas.dump();

  // Written in eu-west with the client library; read in us-east and ap-south.
  RegionClientOptions o;
  o.region = t->regions[1];
  o.credentials = creds;
  RegionClient eu(o);
  PutItemRequest put;
  put.table_name = "music";
  put.item = Item{{"artist", AttributeValue::S("Pärt")}, {"title", AttributeValue::S("Fratres")}};
  Result<PutItemResponse> p = eu.PutItem(put);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  // Ok once `region` serves the item written above (an eventually consistent read).
  auto fratres_in = [&](const topology::Region& region) {
    RegionClientOptions ro;
    ro.region = region;
    ro.credentials = creds;
    RegionClient client(ro);
    return Eventually([&]() -> Status {
      GetItemRequest get;
      get.table_name = "music";
      get.key = Item{{"artist", AttributeValue::S("Pärt")}};
      auto g = client.GetItem(get);
      if (!g.ok()) return g.status();
      if (!g->item || g->item->at("title") != AttributeValue::S("Fratres")) return Status::NotFound("not there yet");
      return Status::Ok();
    });
  };
  for (int r : {0, 2}) {
    Status seen = fratres_in(t->regions[r]);
    EXPECT_TRUE(seen.ok()) << t->regions[r].name << ": " << seen.ToString();
  }
  // And with the AWS CLI in ap-south.
  auto [got, g] = aws(t->regions[2], {"get-item", "--table-name", "music", "--key", R"({"artist":{"S":"Pärt"}})"});
  EXPECT_EQ(got, 0) << g.dump();
  EXPECT_EQ(g["Item"]["title"]["S"], "Fratres") << g.dump();

  // The workload against the running demo: exit 0, every pair in the report, the same contended
  // items everywhere; meanwhile the status line shows the lag.
  size_t from = ReadText(Out()).size();
  CommandResult workload = RunCommand({kBinary, "demo", "--workload", "--data", Dir().string()}, "", 180s);
  EXPECT_EQ(workload.exit_code, 0) << workload.out;
  for (const auto& source : t->regions) {
    for (const auto& destination : t->regions) {
      if (source.name == destination.name) continue;
      std::string pair = source.name + " -> " + destination.name;
      EXPECT_NE(workload.out.find(pair), std::string::npos) << pair << " is not in the report:\n" << workload.out;
    }
  }
  EXPECT_NE(workload.out.find("conflicts resolved"), std::string::npos) << workload.out;
  EXPECT_NE(workload.out.find("identical in us-east, eu-west, ap-south"), std::string::npos) << workload.out;
  EXPECT_TRUE(WaitForOutput(Out(), " up, lag ", *demo, 30s, from)) << ReadText(Out()).substr(from);

  StopDemo(*demo, SIGTERM);
  for (const auto& region : t->regions) {
    EXPECT_FALSE(fs::exists(Dir() / "run" / (region.name + "-replicator.pid"))) << region.name;
  }

  // Started again on the same folder: the item is in every region.
  demo = StartDemo();
  ASSERT_NE(demo, nullptr);
  for (const auto& region : t->regions) {
    Status found = fratres_in(region);
    EXPECT_TRUE(found.ok()) << region.name << " after the restart: " << found.ToString();
  }
  StopDemo(*demo);
}

// `--topology FILE`: a two-region file written here (free ports, relative data folders), checked
// before anything starts (with --regions; a host that is not this machine; port 0), run with
// --workload (which reports both directions and leaves the demo serving), its data where the file
// says, and a later run with another file on the same folder refused.
TEST_F(DemoTest, RunsATopologyFileWithTheWorkload) {
  const fs::path files = tmp_.path() / "files";
  fs::create_directories(files);
  std::vector<uint16_t> ports = testing::FreeTcpPorts(14);
  ASSERT_EQ(ports.size(), 14u);
  const std::vector<std::string> regions = {"us-east", "eu-west"};
  // `host` of eu-west/b and `native` of us-east/a make the bad files; `offset` another topology.
  auto yaml = [&](const std::string& host, int native, int offset_ms) {
    std::string text = "version: 1\nmax_clock_offset_ms: " + std::to_string(offset_ms) + "\nregions:\n";
    size_t next = 0;
    for (const auto& region : regions) {
      text += "  - name: " + region + "\n    facilities:\n";
      for (const auto& f : kFacilities) {
        bool odd = region == "eu-west" && f == "b";
        bool first = region == "us-east" && f == "a";
        text += "      - name: " + f + "\n        host: " + (odd ? host : "127.0.0.1") +
                "\n        native_port: " + std::to_string(first ? native : ports[next]) +
                "\n        http_port: " + std::to_string(ports[next + 1]) + "\n        data: data/" + region + "-" + f +
                "\n";
        next += 2;
      }
      text += "    replicator:\n      host: 127.0.0.1\n      port: " + std::to_string(ports[next++]) +
              "\n      data: data/" + region + "-replicator\n";
    }
    return text;
  };
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(files / name) << text;
    return (files / name).string();
  };
  const std::string good = write("two.yaml", yaml("127.0.0.1", ports[0], 500));
  const std::string remote = write("remote.yaml", yaml("10.1.2.3", ports[0], 500));
  const std::string port0 = write("port0.yaml", yaml("127.0.0.1", 0, 500));
  const std::string other = write("other.yaml", yaml("127.0.0.1", ports[0], 400));
  // stderr too: the reasons are there.
  auto demo_command = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1", kBinary, "demo", "--data",
                                     Dir().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, "", 30s);
  };

  CommandResult both = demo_command({"--topology", good, "--regions", "2"});
  EXPECT_EQ(both.exit_code, 2) << both.out;
  EXPECT_NE(both.out.find("--topology and --regions"), std::string::npos) << both.out;
  CommandResult not_local = demo_command({"--topology", remote});
  EXPECT_EQ(not_local.exit_code, 2) << not_local.out;
  EXPECT_NE(not_local.out.find("10.1.2.3 is not this machine"), std::string::npos) << not_local.out;
  CommandResult zero = demo_command({"--topology", port0});
  EXPECT_EQ(zero.exit_code, 2) << zero.out;
  EXPECT_NE(zero.out.find("native_port is 0"), std::string::npos) << zero.out;
  EXPECT_FALSE(fs::exists(Dir())) << "a refused file left a folder";

  size_t from = ReadText(Out()).size();
  auto demo = StartDemo({"--topology", good, "--workload"});
  ASSERT_NE(demo, nullptr);
  ASSERT_TRUE(WaitForOutput(Out(), "the workload is done", *demo, 180s, from)) << ReadText(Out()).substr(from);
  std::string output = ReadText(Out()).substr(from);
  EXPECT_NE(output.find("us-east -> eu-west"), std::string::npos) << output;
  EXPECT_NE(output.find("eu-west -> us-east"), std::string::npos) << output;
  EXPECT_TRUE(demo->running());

  // DIR/topology.yaml is the file's, with its data folders resolved against the file's folder.
  Result<topology::Topology> copied = topology::LoadTopology((Dir() / "topology.yaml").string());
  ASSERT_TRUE(copied.ok()) << copied.status().ToString();
  ASSERT_EQ(copied->regions.size(), 2u);
  for (const auto& region : copied->regions) {
    for (const auto& f : region.facilities) {
      fs::path expected = files / "data" / (region.name + "-" + f.name);
      EXPECT_EQ(copied->DataPath(f.data), expected) << region.name << "/" << f.name;
      EXPECT_TRUE(fs::exists(expected / "endpoints.json")) << expected;
    }
  }
  EXPECT_NE(output.find((files / "data" / "eu-west-replicator").string()), std::string::npos) << output;
  StopDemo(*demo);

  // The folder now holds two.yaml's topology: another file is refused, and nothing starts.
  CommandResult mismatch = demo_command({"--topology", other});
  EXPECT_EQ(mismatch.exit_code, 2) << mismatch.out;
  EXPECT_NE(mismatch.out.find("is not the topology of"), std::string::npos) << mismatch.out;
}

TEST(DemoUsageTest, RejectsBadArguments) {
  TempDir tmp;
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"--regions", "0"}, {"--regions", "x"}, {"--base-port", "70000"}, {"extra"}}) {
    std::vector<std::string> argv = {kBinary, "demo", "--data", (tmp.path() / "d").string()};
    argv.insert(argv.end(), bad.begin(), bad.end());
    EXPECT_EQ(RunCommand(argv, "", 30s).exit_code, 2) << bad[0];
  }
}

}  // namespace
}  // namespace meridian
