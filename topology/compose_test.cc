#include "topology/compose.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

namespace meridian::topology {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Golden files: the examples of topology/examples/ rendered as `meridian compose --topology
// topology/examples/NAME.yaml --out compose/NAME.yml` does, compared byte for byte with the
// checked-in compose/NAME.yml and compose/NAME.topology.yaml. A change to the rendering that is
// meant: run this test with MERIDIAN_UPDATE_GOLDEN=1, review the diff, commit it.

std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void CheckGolden(const fs::path& path, const std::string& rendered) {
  const char* update = std::getenv("MERIDIAN_UPDATE_GOLDEN");
  if (update && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << rendered;
    std::cout << "MERIDIAN_UPDATE_GOLDEN=1: rewrote " << path.string() << "\n";
    return;
  }
  ASSERT_TRUE(fs::exists(path)) << path << " is missing; run with MERIDIAN_UPDATE_GOLDEN=1 to write it";
  EXPECT_EQ(ReadText(path), rendered)
      << "the rendering of " << path.filename().string() << " changed; if that is meant, run this test with "
      << "MERIDIAN_UPDATE_GOLDEN=1 and review the diff of " << path.string();
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, MatchesCheckedInFiles) {
  const std::string name = GetParam();
  const fs::path source = MERIDIAN_SOURCE_DIR;
  ParseOptions parse;
  parse.check_data_parents = false;
  Result<Topology> in = LoadTopology((source / "topology/examples" / (name + ".yaml")).string(), parse);
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  ComposeOptions options;
  options.name = name;
  options.topology_path = "topology/examples/" + name + ".yaml";
  options.output_path = "compose/" + name + ".yml";
  Result<ComposeRendering> r = RenderCompose(*in, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  CheckGolden(source / "compose" / (name + ".yml"), r->compose_yaml);
  CheckGolden(source / "compose" / (name + ".topology.yaml"), r->topology_yaml);
}

INSTANTIATE_TEST_SUITE_P(Examples, Golden, ::testing::Values("two-regions", "three-regions"));

// ---------------------------------------------------------------------------------------------
// The rules, on topologies built here.

Facility MakeFacility(std::string name, uint16_t native_port, uint16_t http_port) {
  Facility f;
  f.name = std::move(name);
  f.host = "127.0.0.1";
  f.native_port = native_port;
  f.http_port = http_port;
  f.data = "/nowhere/" + f.name;
  return f;
}

// `regions` regions of facilities a, b, c with replicators; ports 0 when `zero_ports`, else
// distinct real ones.
Topology MakeTopology(size_t regions, bool zero_ports) {
  static const char* kNames[] = {"us-east", "eu-west", "ap-south", "sa-east"};
  Topology t;
  for (size_t i = 0; i < regions; ++i) {
    Region r;
    r.name = kNames[i];
    for (int j = 0; j < 3; ++j) {
      uint16_t base = static_cast<uint16_t>(20000 + 100 * i + j);
      r.facilities.push_back(MakeFacility(std::string(1, static_cast<char>('a' + j)), zero_ports ? 0 : base,
                                          zero_ports ? 0 : static_cast<uint16_t>(base + 10)));
    }
    Replicator rep;
    rep.host = "127.0.0.1";
    rep.port = zero_ports ? 0 : static_cast<uint16_t>(20090 + 100 * i);
    rep.data = "/nowhere/replicator";
    r.replicator = rep;
    t.regions.push_back(r);
  }
  GlobalTable g;
  g.name = "orders";
  for (const Region& r : t.regions) g.regions.push_back(r.name);
  t.global_tables.push_back(g);
  return t;
}

ComposeOptions Options() {
  ComposeOptions o;
  o.name = "test";
  o.topology_path = "in.yaml";
  o.output_path = "out/test.yml";
  return o;
}

std::vector<std::string> Strings(const YAML::Node& list) {
  std::vector<std::string> out;
  for (const YAML::Node& n : list) out.push_back(n.as<std::string>());
  return out;
}

TEST(Compose, ServicesCommandsNetworksVolumesAndHealthChecks) {
  Result<ComposeRendering> r = RenderCompose(MakeTopology(2, false), Options());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  YAML::Node doc = YAML::Load(r->compose_yaml);
  EXPECT_FALSE(doc["version"]) << "the Compose Specification has no version key";

  std::vector<std::string> names;
  for (const auto& s : doc["services"]) names.push_back(s.first.as<std::string>());
  EXPECT_EQ(names, (std::vector<std::string>{"us-east-a", "us-east-b", "us-east-c", "us-east-replicator", "eu-west-a",
                                             "eu-west-b", "eu-west-c", "eu-west-replicator"}));

  YAML::Node a = doc["services"]["eu-west-b"];
  EXPECT_EQ(a["image"].as<std::string>(), "meridian:local");
  EXPECT_EQ(Strings(a["command"]), (std::vector<std::string>{"meridian", "start", "--topology",
                                                             "/etc/meridian/topology.yaml", "--region", "eu-west",
                                                             "--facility", "b"}));
  EXPECT_FALSE(a["container_name"]) << "several projects (-p) must be able to run side by side";
  EXPECT_EQ(a["restart"].as<std::string>(), "unless-stopped");
  EXPECT_EQ(Strings(a["networks"]), (std::vector<std::string>{"eu-west", "inter-region"}));
  EXPECT_EQ(Strings(a["ports"]), (std::vector<std::string>{"127.0.0.1:20111:20111"}));
  EXPECT_EQ(Strings(a["volumes"]),
            (std::vector<std::string>{"eu-west-b-data:/var/lib/meridian",
                                      "./test.topology.yaml:/etc/meridian/topology.yaml:ro",
                                      "./test.credentials:/etc/meridian/credentials:ro",
                                      "./test.access.yaml:/etc/meridian/access.yaml:ro"}));
  EXPECT_EQ(Strings(a["healthcheck"]["test"]),
            (std::vector<std::string>{"CMD", "meridian", "health", "http://127.0.0.1:20111/"}));
  EXPECT_EQ(a["healthcheck"]["interval"].as<std::string>(), "2s");
  EXPECT_TRUE(a["healthcheck"]["start_period"]);

  YAML::Node rep = doc["services"]["us-east-replicator"];
  EXPECT_EQ(Strings(rep["command"]), (std::vector<std::string>{"meridian", "replicator", "--topology",
                                                               "/etc/meridian/topology.yaml", "--region", "us-east"}));
  EXPECT_EQ(Strings(rep["networks"]), (std::vector<std::string>{"us-east", "inter-region"}));
  EXPECT_FALSE(rep["ports"]) << "replicators talk to each other over inter-region, not through the host";
  EXPECT_EQ(Strings(rep["healthcheck"]["test"]),
            (std::vector<std::string>{"CMD", "meridian", "health", "tcp://127.0.0.1:20090"}));
  EXPECT_EQ(rep["volumes"][0].as<std::string>(), "us-east-replicator-data:/var/lib/meridian");

  std::vector<std::string> networks;
  for (const auto& n : doc["networks"]) networks.push_back(n.first.as<std::string>());
  EXPECT_EQ(networks, (std::vector<std::string>{"us-east", "eu-west", "inter-region"}));
  EXPECT_TRUE(doc["networks"]["inter-region"]["internal"].as<bool>());
  EXPECT_EQ(doc["volumes"].size(), 8u);
  for (const std::string& n : names) EXPECT_TRUE(doc["volumes"][n + "-data"]) << n;
}

TEST(Compose, ContainerTopologyIsValidAndRoundTrips) {
  Topology in = MakeTopology(3, false);
  in.max_clock_offset_ms = 250;
  Result<ComposeRendering> r = RenderCompose(in, Options());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Topology& t = r->topology;
  ParseOptions parse;
  parse.check_data_parents = false;
  EXPECT_TRUE(ValidateTopology(t, parse).ok());
  Result<Topology> back = ParseTopology(r->topology_yaml, "test.topology.yaml", parse);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, t);

  EXPECT_EQ(t.max_clock_offset_ms, 250);
  EXPECT_EQ(t.global_tables, in.global_tables);
  const Facility& f = t.regions[1].facilities[2];
  EXPECT_EQ(f.host, "0.0.0.0");
  EXPECT_EQ(f.advertise, "eu-west-c");
  EXPECT_EQ(f.native_port, 20102);
  EXPECT_EQ(f.http_port, 20112);
  EXPECT_EQ(f.publish, 20112);
  EXPECT_EQ(f.data, "/var/lib/meridian/data");
  EXPECT_EQ(f.NativeEndpoint(), "tcp://eu-west-c:20102");
  const Replicator& rep = *t.regions[2].replicator;
  EXPECT_EQ(rep.host, "0.0.0.0");
  EXPECT_EQ(rep.advertise, "ap-south-replicator");
  EXPECT_EQ(rep.port, 20290);
  EXPECT_EQ(rep.data, "/var/lib/meridian/data");
}

TEST(Compose, ZeroPortsGetTheContainerDefaults) {
  ComposeOptions o = Options();
  o.publish_base = 18000;
  Result<ComposeRendering> r = RenderCompose(MakeTopology(2, true), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  for (const Region& region : r->topology.regions) {
    for (const Facility& f : region.facilities) {
      EXPECT_EQ(f.native_port, kComposeNativePort);
      EXPECT_EQ(f.http_port, kComposeHttpPort);
    }
    EXPECT_EQ(region.replicator->port, kComposeReplicatorPort);
  }
  YAML::Node doc = YAML::Load(r->compose_yaml);
  EXPECT_EQ(Strings(doc["services"]["eu-west-a"]["ports"]), (std::vector<std::string>{"127.0.0.1:18010:8000"}));
}

TEST(Compose, ZeroPortsWithoutPublishPortsCollideOnTheHost) {
  Result<ComposeRendering> r = RenderCompose(MakeTopology(1, true), Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kValidation);
  EXPECT_NE(r.status().message().find("host port 8000 is already published"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("publish base"), std::string::npos) << r.status().message();
}

TEST(Compose, PublishedPorts) {
  Topology in = MakeTopology(2, false);
  in.regions[1].facilities[1].publish = 30000;
  ComposeOptions o = Options();
  o.publish_host = "0.0.0.0";

  // Without a base: `publish` when set, else the HTTP port.
  Result<ComposeRendering> r = RenderCompose(in, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  YAML::Node doc = YAML::Load(r->compose_yaml);
  EXPECT_EQ(doc["services"]["eu-west-b"]["ports"][0].as<std::string>(), "0.0.0.0:30000:20111");
  EXPECT_EQ(doc["services"]["eu-west-c"]["ports"][0].as<std::string>(), "0.0.0.0:20112:20112");
  EXPECT_EQ(r->topology.regions[1].facilities[1].publish, 30000);

  // With a base: base + 10 * region + facility, except where `publish` is set.
  o.publish_base = 40000;
  r = RenderCompose(in, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  doc = YAML::Load(r->compose_yaml);
  EXPECT_EQ(doc["services"]["us-east-a"]["ports"][0].as<std::string>(), "0.0.0.0:40000:20010");
  EXPECT_EQ(doc["services"]["us-east-c"]["ports"][0].as<std::string>(), "0.0.0.0:40002:20012");
  EXPECT_EQ(doc["services"]["eu-west-a"]["ports"][0].as<std::string>(), "0.0.0.0:40010:20110");
  EXPECT_EQ(doc["services"]["eu-west-b"]["ports"][0].as<std::string>(), "0.0.0.0:30000:20111");
  EXPECT_EQ(r->topology.regions[1].facilities[2].publish, 40012);

  o.publish_base = 65530;
  r = RenderCompose(in, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("beyond port 65535"), std::string::npos) << r.status().message();
}

TEST(Compose, PublishedNativePorts) {
  Topology in = MakeTopology(2, false);
  ComposeOptions o = Options();
  o.publish_native = true;

  // Without a base: each native port on itself, beside the HTTP port.
  Result<ComposeRendering> r = RenderCompose(in, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  YAML::Node doc = YAML::Load(r->compose_yaml);
  EXPECT_EQ(Strings(doc["services"]["us-east-a"]["ports"]),
            (std::vector<std::string>{"127.0.0.1:20010:20010", "127.0.0.1:20000:20000"}));
  EXPECT_FALSE(doc["services"]["us-east-replicator"]["ports"]);  // clients never dial a replicator

  // With a base: base + 10 * region + 5 + facility.
  o.publish_base = 40000;
  r = RenderCompose(in, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  doc = YAML::Load(r->compose_yaml);
  EXPECT_EQ(Strings(doc["services"]["us-east-a"]["ports"]),
            (std::vector<std::string>{"127.0.0.1:40000:20010", "127.0.0.1:40005:20000"}));
  EXPECT_EQ(Strings(doc["services"]["eu-west-c"]["ports"]),
            (std::vector<std::string>{"127.0.0.1:40012:20112", "127.0.0.1:40017:20102"}));
  EXPECT_NE(r->compose_yaml.find("--publish-base 40000 --publish-native\n"), std::string::npos);

  // A native port published where a facility's `publish` already is.
  in.regions[1].facilities[0].publish = 40006;
  r = RenderCompose(in, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kValidation);
  EXPECT_NE(r.status().message().find("host port 40006, which regions[1].facilities[0] (HTTP) already takes"),
            std::string::npos)
      << r.status().message();
}

TEST(Compose, OptionsAppearInTheFile) {
  ComposeOptions o = Options();
  o.image = "registry.example.com/meridian:1.2";
  o.publish_base = 18000;
  Result<ComposeRendering> r = RenderCompose(MakeTopology(1, false), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  YAML::Node doc = YAML::Load(r->compose_yaml);
  EXPECT_EQ(doc["services"]["us-east-replicator"]["image"].as<std::string>(), "registry.example.com/meridian:1.2");
  // The header says how to regenerate the file, options included.
  EXPECT_NE(r->compose_yaml.find("meridian compose --topology in.yaml --out out/test.yml --image "
                                 "registry.example.com/meridian:1.2 --publish-base 18000\n"),
            std::string::npos)
      << r->compose_yaml;
  EXPECT_NE(r->compose_yaml.find("docker-compose -p test -f out/test.yml up -d"), std::string::npos);
}

TEST(Compose, TlsChecksHealthOverHttps) {
  Topology in = MakeTopology(1, false);
  in.tls = TlsFiles{"/etc/meridian/tls/cert.pem", "/etc/meridian/tls/key.pem", ""};
  Result<ComposeRendering> r = RenderCompose(in, Options());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->topology.tls, in.tls);
  YAML::Node doc = YAML::Load(r->compose_yaml);
  EXPECT_EQ(doc["services"]["us-east-a"]["healthcheck"]["test"][3].as<std::string>(), "https://127.0.0.1:20010/");
}

TEST(Compose, RegionWithoutReplicatorHasNoReplicatorService) {
  Topology in = MakeTopology(1, false);
  in.regions[0].replicator.reset();
  in.global_tables.clear();
  Result<ComposeRendering> r = RenderCompose(in, Options());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  YAML::Node doc = YAML::Load(r->compose_yaml);
  EXPECT_EQ(doc["services"].size(), 3u);
  EXPECT_FALSE(r->topology.regions[0].replicator);
}

TEST(Compose, OutputIsDeterministic) {
  Topology in = MakeTopology(3, false);
  Result<ComposeRendering> first = RenderCompose(in, Options());
  Result<ComposeRendering> second = RenderCompose(in, Options());
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->compose_yaml, second->compose_yaml);
  EXPECT_EQ(first->topology_yaml, second->topology_yaml);
  // The input's own hosts and data folders do not reach the output.
  Topology moved = in;
  for (Region& region : moved.regions) {
    for (Facility& f : region.facilities) {
      f.host = "10.1.2.3";
      f.data = "/elsewhere/" + f.name;
    }
  }
  Result<ComposeRendering> third = RenderCompose(moved, Options());
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(first->compose_yaml, third->compose_yaml);
  EXPECT_EQ(first->topology_yaml, third->topology_yaml);
}

TEST(Compose, BadOptionsAndNamesAreRefused) {
  struct BadCase {
    const char* label;
    ComposeOptions options;
    std::string fragment;
  };
  std::vector<BadCase> cases;
  cases.push_back({"empty name", Options(), "is not a compose project name"});
  cases.back().options.name = "";
  cases.push_back({"name with a dot", Options(), "is not a compose project name"});
  cases.back().options.name = "my.stack";
  cases.push_back({"upper-case name", Options(), "is not a compose project name"});
  cases.back().options.name = "Prod";
  cases.push_back({"image with a space", Options(), "is not a Docker image reference"});
  cases.back().options.image = "meridian local";
  cases.push_back({"publish host name", Options(), "is not an IPv4 address"});
  cases.back().options.publish_host = "localhost";
  cases.push_back({"publish base 0", Options(), "publish base 0"});
  cases.back().options.publish_base = 0;
  for (const BadCase& c : cases) {
    Result<ComposeRendering> r = RenderCompose(MakeTopology(1, false), c.options);
    ASSERT_FALSE(r.ok()) << c.label;
    EXPECT_EQ(r.status().code(), ErrorCode::kValidation) << c.label;
    EXPECT_NE(r.status().message().find(c.fragment), std::string::npos) << c.label << ": " << r.status().message();
  }

  Topology clash = MakeTopology(2, false);
  clash.regions[1].name = "inter-region";
  clash.global_tables.clear();
  Result<ComposeRendering> r = RenderCompose(clash, Options());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("regions[1].name: 'inter-region'"), std::string::npos) << r.status().message();

  EXPECT_FALSE(RenderCompose(Topology(), Options()).ok());
}

}  // namespace
}  // namespace meridian::topology
