#include "topology/topology.h"

#include <stdlib.h>

#include <fstream>

#include <gtest/gtest.h>

namespace meridian::topology {
namespace {

// A valid two-region topology; the line numbers in the comments are what the cases below cite.
const char kBase[] =
    "regions:\n"                      // 1
    "  - name: us-east\n"             // 2
    "    facilities:\n"               // 3
    "      - name: a\n"               // 4
    "        host: 127.0.0.1\n"       // 5
    "        native_port: 7001\n"     // 6
    "        http_port: 8001\n"       // 7
    "        data: /tmp/meridian-topology-test-a\n"          // 8
    "      - name: b\n"               // 9
    "        host: 127.0.0.1\n"       // 10
    "        native_port: 7002\n"     // 11
    "        http_port: 8002\n"       // 12
    "        data: /tmp/meridian-topology-test-b\n"          // 13
    "      - name: c\n"               // 14
    "        host: 127.0.0.1\n"       // 15
    "        native_port: 7003\n"     // 16
    "        http_port: 8003\n"       // 17
    "        data: /tmp/meridian-topology-test-c\n"          // 18
    "    replicator:\n"               // 19
    "      host: 127.0.0.1\n"         // 20
    "      port: 7009\n"              // 21
    "      data: /tmp/meridian-topology-test-r1\n"           // 22
    "  - name: eu-west\n"             // 23
    "    facilities:\n"               // 24
    "      - name: a\n"               // 25
    "        host: 127.0.0.1\n"       // 26
    "        native_port: 7101\n"     // 27
    "        http_port: 8101\n"       // 28
    "        data: /tmp/meridian-topology-test-d\n"          // 29
    "      - name: b\n"               // 30
    "        host: 127.0.0.1\n"       // 31
    "        native_port: 7102\n"     // 32
    "        http_port: 8102\n"       // 33
    "        data: /tmp/meridian-topology-test-e\n"          // 34
    "      - name: c\n"               // 35
    "        host: 127.0.0.1\n"       // 36
    "        native_port: 7103\n"     // 37
    "        http_port: 8103\n"       // 38
    "        data: /tmp/meridian-topology-test-f\n"          // 39
    "    replicator:\n"               // 40
    "      host: 127.0.0.1\n"         // 41
    "      port: 7109\n"              // 42
    "      data: /tmp/meridian-topology-test-r2\n"           // 43
    "global_tables:\n"                // 44
    "  - name: orders\n"              // 45
    "    regions: [us-east, eu-west]\n";  // 46

// Replaces the first occurrence of `from` after the text `after` (so a case can aim at one of
// several identical lines).
struct Edit {
  std::string after;
  std::string from;
  std::string to;
};

std::string Apply(std::string text, const std::vector<Edit>& edits) {
  for (const Edit& e : edits) {
    size_t start = text.find(e.after);
    EXPECT_NE(start, std::string::npos) << e.after;
    size_t at = text.find(e.from, start);
    EXPECT_NE(at, std::string::npos) << e.from;
    if (at == std::string::npos) continue;
    text.replace(at, e.from.size(), e.to);
  }
  return text;
}

TEST(Topology, BaseIsValid) {
  auto t = ParseTopology(kBase, "topology.yaml");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->regions.size(), 2u);
}

struct Case {
  const char* label;
  std::vector<Edit> edits;
  int line;            // 0: the message has no line
  std::string field;   // "" : the message names no field
  std::string fragment;
};

class Mistakes : public ::testing::TestWithParam<Case> {};

TEST_P(Mistakes, AreReportedWithFileLineAndField) {
  const Case& c = GetParam();
  std::string text = Apply(kBase, c.edits);
  auto t = ParseTopology(text, "topology.yaml");
  ASSERT_FALSE(t.ok()) << c.label << "\n" << text;
  EXPECT_EQ(t.status().code(), ErrorCode::kValidation);
  std::string expected = "topology.yaml";
  if (c.line > 0) expected += ":" + std::to_string(c.line);
  expected += ": ";
  if (!c.field.empty()) expected += c.field + ": ";
  expected += c.fragment;
  // The first problem reported is the one the case plants.
  std::string first = t.status().message().substr(0, t.status().message().find('\n'));
  EXPECT_EQ(first.substr(0, expected.size()), expected)
      << c.label << "\nwhole message: " << t.status().message();
}

const Case kCases[] = {
    {"global table key of an unknown type",
     {{"", "    regions: [us-east, eu-west]\n", "    regions: [us-east, eu-west]\n    hash_key: \"pk:X\"\n"}},
     47, "global_tables[0].hash_key", "expected NAME:TYPE with TYPE one of S, N, B"},
    {"global table range key without a hash key",
     {{"", "    regions: [us-east, eu-west]\n", "    regions: [us-east, eu-west]\n    range_key: \"sk:N\"\n"}},
     47, "global_tables[0].range_key", "a range_key needs a hash_key"},
    {"unknown facility key (typo)",
     {{"name: b", "        data: /tmp/meridian-topology-test-b\n", "        data: /tmp/meridian-topology-test-b\n        advertize: x\n"}},
     14, "regions[0].facilities[1].advertize", "unknown key (did you mean 'advertise'?)"},
    {"unknown top-level key",
     {{"", "global_tables:", "globl_tables:"}},
     44, "globl_tables", "unknown key (did you mean 'global_tables'?)"},
    {"unknown key with no close match lists the known ones",
     {{"", "    replicator:\n", "    zone: x\n    replicator:\n"}},
     19, "regions[0].zone", "unknown key (expected one of: name, facilities, replicator)"},
    {"duplicate key",
     {{"", "        host: 127.0.0.1\n", "        host: 127.0.0.1\n        host: 127.0.0.2\n"}},
     6, "regions[0].facilities[0].host", "duplicate key, first at line 5"},
    {"duplicate region name",
     {{"", "  - name: eu-west", "  - name: us-east"}},
     23, "regions[1].name", "duplicate region name 'us-east', first at regions[0].name (line 2)"},
    {"duplicate facility name",
     {{"", "      - name: b", "      - name: a"}},
     9, "regions[0].facilities[1].name", "duplicate facility name 'a' in region 'us-east', first at regions[0].facilities[0].name (line 4)"},
    {"facility named replicator",
     {{"", "      - name: c", "      - name: replicator"}},
     14, "regions[0].facilities[2].name", "'replicator' is reserved"},
    {"process names collide across regions",
     {{"", "  - name: eu-west", "  - name: us"},
      {"name: us\n", "      - name: a", "      - name: east-a"},
      {"", "[us-east, eu-west]", "[us-east, us]"}},
     25, "regions[1].facilities[0].name", "process name 'us-east-a' is also the name of regions[0].facilities[0].name (line 4)"},
    {"invalid region name",
     {{"", "  - name: eu-west", "  - name: EU West"}},
     23, "regions[1].name", "'EU West' is not a valid name"},
    {"duplicate host:port in a region",
     {{"name: b", "native_port: 7002", "native_port: 7001"}},
     11, "regions[0].facilities[1].native_port", "127.0.0.1:7001 is already used by regions[0].facilities[0].native_port (line 6)"},
    {"duplicate host:port across regions and kinds",
     {{"", "http_port: 8101", "http_port: 7009"}},
     28, "regions[1].facilities[0].http_port", "127.0.0.1:7009 is already used by regions[0].replicator.port (line 21)"},
    {"duplicate published port",
     {{"", "        data: /tmp/meridian-topology-test-a\n", "        data: /tmp/meridian-topology-test-a\n        publish: 9000\n"},
      {"", "        data: /tmp/meridian-topology-test-d\n", "        data: /tmp/meridian-topology-test-d\n        publish: 9000\n"}},
     31, "regions[1].facilities[0].publish", "host port 9000 is already published by regions[0].facilities[0].publish (line 9)"},
    {"region with two facilities",
     {{"", "      - name: c\n        host: 127.0.0.1\n        native_port: 7003\n        http_port: 8003\n        data: /tmp/meridian-topology-test-c\n", ""}},
     3, "regions[0].facilities", "a region has exactly three facilities, got 2"},
    {"region with four facilities",
     {{"", "    replicator:\n", "      - name: d\n        host: 127.0.0.1\n        native_port: 7004\n        http_port: 8004\n        data: /tmp/meridian-topology-test-x\n    replicator:\n"}},
     3, "regions[0].facilities", "a region has exactly three facilities, got 4"},
    {"unknown region in a global table",
     {{"", "[us-east, eu-west]", "[us-east, eu-wset]"}},
     46, "global_tables[0].regions[1]", "unknown region 'eu-wset' (regions are us-east, eu-west)"},
    {"region listed twice in a global table",
     {{"", "[us-east, eu-west]", "[us-east, us-east]"}},
     46, "global_tables[0].regions[1]", "region 'us-east' is listed twice"},
    {"global table region without a replicator",
     {{"", "    replicator:\n      host: 127.0.0.1\n      port: 7109\n      data: /tmp/meridian-topology-test-r2\n", ""}},
     42, "global_tables[0].regions[1]", "region 'eu-west' replicates this table but has no replicator"},
    {"duplicate global table",
     {{"", "    regions: [us-east, eu-west]\n", "    regions: [us-east, eu-west]\n  - name: orders\n    regions: [us-east]\n"}},
     47, "global_tables[1].name", "duplicate global table 'orders', first at global_tables[0].name (line 45)"},
    {"bad table name",
     {{"", "  - name: orders", "  - name: o"}},
     45, "global_tables[0].name", "'o' is not a table name"},
    {"malformed IPv4 host",
     {{"", "host: 127.0.0.1", "host: 127.0.0.300"}},
     5, "regions[0].facilities[0].host", "'127.0.0.300' is not an IPv4 address"},
    {"malformed host name",
     {{"name: b", "host: 127.0.0.1", "host: my host"}},
     10, "regions[0].facilities[1].host", "'my host' is not a host name or IP address"},
    {"malformed IPv6 host",
     {{"", "host: 127.0.0.1", "host: \"fe80::1::2\""}},
     5, "regions[0].facilities[0].host", "'fe80::1::2' is not an IPv6 address"},
    {"bracketed IPv6 host",
     {{"", "host: 127.0.0.1", "host: \"[::1]\""}},
     5, "regions[0].facilities[0].host", "'[::1]': write IPv6 addresses without brackets"},
    {"wildcard host without advertise",
     {{"", "host: 127.0.0.1", "host: 0.0.0.0"}},
     5, "regions[0].facilities[0].host", "'0.0.0.0' listens on every interface but cannot be dialled"},
    {"wildcard advertise",
     {{"", "        host: 127.0.0.1\n", "        host: 0.0.0.0\n        advertise: 0.0.0.0\n"}},
     6, "regions[0].facilities[0].advertise", "'0.0.0.0' cannot be dialled"},
    {"malformed replicator host",
     {{"    replicator:", "host: 127.0.0.1", "host: -bad-"}},
     20, "regions[0].replicator.host", "'-bad-' is not a host name or IP address"},
    {"port out of range",
     {{"name: b", "native_port: 7002", "native_port: 70000"}},
     11, "regions[0].facilities[1].native_port", "70000 is not a port (1-65535, or 0 to pick one)"},
    {"negative port",
     {{"", "http_port: 8001", "http_port: -1"}},
     7, "regions[0].facilities[0].http_port", "-1 is not a port (1-65535, or 0 to pick one)"},
    {"port that is not a number",
     {{"", "port: 7009", "port: seven"}},
     21, "regions[0].replicator.port", "expected an integer, got 'seven'"},
    {"huge port",
     {{"", "http_port: 8001", "http_port: 123456789012345678901"}},
     7, "regions[0].facilities[0].http_port", "123456789012345678901 is out of range"},
    {"data folder with a trailing slash whose parent does not exist",
     {{"", "data: /tmp/meridian-topology-test-b", "data: /nonexistent-meridian-parent/b/"}},
     13, "regions[0].facilities[1].data", "the parent folder /nonexistent-meridian-parent of"},
    {"publish port 0",
     {{"", "        data: /tmp/meridian-topology-test-a\n", "        data: /tmp/meridian-topology-test-a\n        publish: 0\n"}},
     9, "regions[0].facilities[0].publish", "0 is not a port (1-65535)"},
    {"missing required field",
     {{"", "        native_port: 7001\n", ""}},
     4, "regions[0].facilities[0].native_port", "is required"},
    {"field given but empty",
     {{"", "        host: 127.0.0.1\n", "        host:\n"}},
     5, "regions[0].facilities[0].host", "is required (found nothing)"},
    {"data folder whose parent does not exist",
     {{"", "data: /tmp/meridian-topology-test-b", "data: /nonexistent-meridian-parent/b"}},
     13, "regions[0].facilities[1].data", "the parent folder /nonexistent-meridian-parent of /nonexistent-meridian-parent/b does not exist"},
    {"wrong type: a list for a string",
     {{"", "  - name: us-east", "  - name: [us, east]"}},
     2, "regions[0].name", "expected a string, got a list"},
    {"wrong type: a map for a list",
     {{"", "[us-east, eu-west]", "{us-east: 1}"}},
     46, "global_tables[0].regions", "expected a list, got a map"},
    {"wrong type: a list for a map",
     {{"", "    replicator:\n      host: 127.0.0.1\n      port: 7009\n      data: /tmp/meridian-topology-test-r1\n", "    replicator: [127.0.0.1, 7009]\n"}},
     19, "regions[0].replicator", "expected a map, got a list"},
    {"wrong type: a scalar for a facility",
     {{"", "      - name: c\n        host: 127.0.0.1\n        native_port: 7003\n        http_port: 8003\n        data: /tmp/meridian-topology-test-c\n", "      - c\n"}},
     14, "regions[0].facilities[2]", "expected a map, got 'c'"},
    {"wrong type: regions is a string",
     {{"", kBase, "regions: many\n"}},
     1, "regions", "expected a list, got 'many'"},
    {"max clock offset out of range",
     {{"", "regions:\n", "max_clock_offset_ms: 0\nregions:\n"}},
     1, "max_clock_offset_ms", "0 is out of range (1-60000)"},
    {"tls without key",
     {{"", "regions:\n", "tls:\n  cert: /etc/c.pem\nregions:\n"}},
     1, "tls.key", "is required"},
    {"unsupported version",
     {{"", "regions:\n", "version: 2\nregions:\n"}},
     1, "version", "2 is not a supported version"},
    {"empty file", {{"", kBase, "# nothing\n"}}, 0, "", "the file is empty"},
    {"malformed YAML: unclosed flow list",
     {{"", "[us-east, eu-west]\n", "[us-east, eu-west\n"}},
     47, "", "not valid YAML: "},
    {"malformed YAML: bad indentation",
     {{"name: b", "        http_port: 8002\n", "       http_port: 8002\n"}},
     12, "", "not valid YAML: "},
    {"malformed YAML: tab",
     {{"name: b", "        http_port: 8002\n", "\thttp_port: 8002\n"}},
     12, "", "not valid YAML: "},
};

INSTANTIATE_TEST_SUITE_P(Topology, Mistakes, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           std::string name;
                           for (const char* p = info.param.label; *p; ++p) {
                             name += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
                           }
                           return name;
                         });

// The field-rename typo also leaves the real field missing: both are reported, one per line.
TEST(Topology, EveryProblemIsReported) {
  std::string text = Apply(kBase, {{"name: b", "native_port: 7002", "nativ_port: 7002"}});
  auto t = ParseTopology(text, "topology.yaml");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(),
            "topology.yaml:11: regions[0].facilities[1].nativ_port: unknown key (did you mean "
            "'native_port'?)\n"
            "topology.yaml:9: regions[0].facilities[1].native_port: is required");
}

TEST(Topology, ManyProblemsAreBounded) {
  std::string text = "regions:\n";
  for (int i = 0; i < 50; ++i) text += "  - nme" + std::to_string(i) + ": x\n";
  auto t = ParseTopology(text, "t.yaml");
  ASSERT_FALSE(t.ok());
  const std::string& m = t.status().message();
  EXPECT_EQ(std::count(m.begin(), m.end(), '\n'), static_cast<long>(kMaxReportedErrors));
  EXPECT_NE(m.find("more problems"), std::string::npos);
}

TEST(Topology, DataParentCheckCanBeTurnedOff) {
  std::string text = Apply(kBase, {{"", "data: /tmp/meridian-topology-test-b", "data: /var/lib/meridian/in-container/b"}});
  EXPECT_FALSE(ParseTopology(text, "t.yaml").ok());
  ParseOptions options;
  options.check_data_parents = false;
  auto t = ParseTopology(text, "t.yaml", options);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
}

TEST(Topology, DataThatIsAFileIsRejected) {
  std::string text = Apply(kBase, {{"", "data: /tmp/meridian-topology-test-b", "data: /etc/hostname"}});
  auto t = ParseTopology(text, "t.yaml");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("t.yaml:13: regions[0].facilities[1].data: /etc/hostname exists and is not a folder"),
            std::string::npos)
      << t.status().message();
}

TEST(Topology, GlobalTableKeySchemaParsesAndRoundTrips) {
  std::string text = std::string(kBase) + "    hash_key: \"customer:S\"\n    range_key: \"order:N\"\n";
  auto t = ParseTopology(text, "t.yaml");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_EQ(t->global_tables.size(), 1u);
  const GlobalTable& g = t->global_tables[0];
  ASSERT_EQ(g.key_schema.size(), 2u);
  EXPECT_EQ(g.key_schema[0], (KeySchemaElement{"customer", KeyType::kHash}));
  EXPECT_EQ(g.key_schema[1], (KeySchemaElement{"order", KeyType::kRange}));
  EXPECT_EQ(g.attribute_definitions[1], (AttributeDefinition{"order", AttributeType::kN}));
  auto again = ParseTopology(WriteTopology(*t), "t.yaml");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->global_tables, t->global_tables);
}

TEST(Topology, Defaults) {
  auto t = ParseTopology(kBase, "topology.yaml");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->max_clock_offset_ms, 500);
  EXPECT_FALSE(t->tls.has_value());
  const Facility& a = t->regions[0].facilities[0];
  EXPECT_EQ(a.advertise, "");
  EXPECT_EQ(a.AdvertisedHost(), "127.0.0.1");
  EXPECT_FALSE(a.publish.has_value());
  EXPECT_EQ(a.NativeEndpoint(), "tcp://127.0.0.1:7001");
  EXPECT_EQ(a.HttpEndpoint(), "http://127.0.0.1:8001");
  EXPECT_EQ(t->HttpEndpoint(a), "http://127.0.0.1:8001");
  EXPECT_EQ(t->regions[0].replicator->Endpoint(), "tcp://127.0.0.1:7009");
  EXPECT_EQ(t->global_tables.size(), 1u);
}

TEST(Topology, PortZeroIsAllowedAndNeverCollides) {
  std::string text = kBase;
  for (const char* port : {"7001", "7002", "7003", "8001", "8002", "8003", "7009"}) {
    text = Apply(text, {{"", std::string(": ") + port + "\n", ": 0\n"}});
  }
  auto t = ParseTopology(text, "t.yaml");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->regions[0].facilities[1].native_port, 0);
  EXPECT_EQ(t->regions[0].facilities[1].NativeEndpoint(), "tcp://127.0.0.1:0");
}

TEST(Topology, AdvertiseTlsAndPublish) {
  std::string text =
      "max_clock_offset_ms: 250\n"
      "tls: {cert: /etc/meridian/tls/cert.pem, key: /etc/meridian/tls/key.pem}\n" +
      Apply(kBase, {{"", "        host: 127.0.0.1\n",
                     "        host: 0.0.0.0\n        advertise: us-east-a\n        publish: 18001\n"}});
  auto t = ParseTopology(text, "t.yaml");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  const Facility& a = t->regions[0].facilities[0];
  EXPECT_EQ(t->max_clock_offset_ms, 250);
  EXPECT_EQ(a.NativeBindEndpoint(), "tcp://0.0.0.0:7001");
  EXPECT_EQ(a.NativeEndpoint(), "tcp://us-east-a:7001");
  EXPECT_EQ(t->HttpEndpoint(a), "https://us-east-a:8001");
  EXPECT_EQ(a.publish, 18001);
  ASSERT_TRUE(t->tls.has_value());
  EXPECT_EQ(t->tls->key, "/etc/meridian/tls/key.pem");
  EXPECT_EQ(t->tls->ca, "");
}

TEST(Topology, Ipv6EndpointsAreBracketed) {
  Facility f{"a", "::", "::1", 7001, 8001, std::nullopt, "/tmp/a"};
  EXPECT_EQ(f.NativeBindEndpoint(), "tcp://[::]:7001");
  EXPECT_EQ(f.NativeEndpoint(), "tcp://[::1]:7001");
  EXPECT_EQ(f.HttpEndpoint(true), "https://[::1]:8001");
}

TEST(Topology, Lookups) {
  auto t = ParseTopology(kBase, "t.yaml");
  ASSERT_TRUE(t.ok());
  ASSERT_NE(t->FindFacility("eu-west", "b"), nullptr);
  EXPECT_EQ(t->FindFacility("eu-west", "b")->native_port, 7102);
  EXPECT_EQ(t->FindFacility("eu-west", "z"), nullptr);
  EXPECT_EQ(t->FindRegion("ap-south"), nullptr);
  EXPECT_EQ(ProcessName("us-east", "a"), "us-east-a");
  EXPECT_EQ(ReplicatorProcessName("us-east"), "us-east-replicator");
}

std::string ExamplePath(const char* name) { return std::string(MERIDIAN_TOPOLOGY_EXAMPLES) + "/" + name; }

TEST(Topology, ExamplesLoad) {
  auto two = LoadTopology(ExamplePath("two-regions.yaml"));
  ASSERT_TRUE(two.ok()) << two.status().ToString();
  EXPECT_EQ(two->regions.size(), 2u);
  auto three = LoadTopology(ExamplePath("three-regions.yaml"));
  ASSERT_TRUE(three.ok()) << three.status().ToString();
  ASSERT_EQ(three->regions.size(), 3u);
  for (const Topology* t : {&*two, &*three}) {
    for (const Region& r : t->regions) {
      EXPECT_EQ(r.facilities.size(), kFacilitiesPerRegion);
      EXPECT_TRUE(r.replicator.has_value()) << r.name;
      for (const Facility& f : r.facilities) {
        EXPECT_EQ(f.host, "127.0.0.1");
        EXPECT_NE(f.native_port, 0);
        EXPECT_NE(f.http_port, 0);
      }
    }
    ASSERT_FALSE(t->global_tables.empty());
    EXPECT_EQ(t->global_tables[0].regions.size(), t->regions.size());
  }
  EXPECT_EQ(three->regions[2].name, "ap-south");
}

TEST(Topology, RoundTripOfExamples) {
  for (const char* name : {"two-regions.yaml", "three-regions.yaml"}) {
    auto t = LoadTopology(ExamplePath(name));
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    std::string text = WriteTopology(*t);
    ParseOptions options;
    options.base_dir = t->base_dir;
    auto back = ParseTopology(text, "written.yaml", options);
    ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << text;
    EXPECT_EQ(*back, *t) << text;
    EXPECT_EQ(WriteTopology(*back), text);
  }
}

TEST(Topology, RoundTripOfEveryField) {
  Topology t;
  t.max_clock_offset_ms = 1234;
  t.tls = TlsFiles{"/etc/tls/cert.pem", "/etc/tls/key.pem", "/etc/tls/ca.pem"};
  for (const char* region : {"us-east", "yes"}) {  // "yes" must be quoted to stay a string
    Region r;
    r.name = region;
    for (const char* f : {"a", "b", "c"}) {
      static uint16_t port = 9000;
      r.facilities.push_back(Facility{f, "0.0.0.0", std::string(region) + "-" + f, ++port, ++port,
                                      static_cast<uint16_t>(port + 100),
                                      std::string("/tmp/dir with \"quotes\" and: colon/") + f});
    }
    r.facilities[1].host = "::";
    r.facilities[1].advertise = "fd00::1";
    r.facilities[2].publish.reset();
    r.replicator = Replicator{"0.0.0.0", std::string(region) + "-replicator", 0, "/tmp/r"};
    t.regions.push_back(r);
  }
  t.global_tables.push_back(GlobalTable{"orders", {"us-east", "yes"}});
  t.global_tables.push_back(GlobalTable{"1.sessions", {"yes"}});
  ParseOptions options;
  options.check_data_parents = false;
  ASSERT_TRUE(ValidateTopology(t, options).ok()) << ValidateTopology(t, options).ToString();
  std::string text = WriteTopology(t);
  auto back = ParseTopology(text, "written.yaml", options);
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << text;
  EXPECT_EQ(*back, t) << text;
}

TEST(Topology, ValidateBuiltTopologyHasNoLines) {
  auto t = ParseTopology(kBase, "t.yaml");
  ASSERT_TRUE(t.ok());
  Topology bad = *t;
  bad.regions[1].facilities.pop_back();
  Status s = ValidateTopology(bad);
  EXPECT_EQ(s.message(), "topology: regions[1].facilities: a region has exactly three facilities, got 2");
}

std::filesystem::path TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "meridian-topology-XXXXXX").string();
  return mkdtemp(tmpl.data());
}

TEST(Topology, RelativeDataIsRelativeToTheFile) {
  auto dir = TempDir();
  std::string text = kBase;
  for (const char* d : {"a", "b", "c", "d", "e", "f", "r1", "r2"}) {
    text = Apply(text, {{"", std::string("data: /tmp/meridian-topology-test-") + d + "\n", std::string("data: data/") + d + "\n"}});
  }
  {
    std::ofstream out(dir / "topology.yaml");
    out << text;
  }
  // The parent dir/data does not exist yet: named with its full path.
  auto t = LoadTopology((dir / "topology.yaml").string());
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("the parent folder " + (dir / "data").string()), std::string::npos)
      << t.status().message();
  std::filesystem::create_directory(dir / "data");
  t = LoadTopology((dir / "topology.yaml").string());
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->DataPath(t->regions[0].facilities[0].data), dir / "data/a");
  EXPECT_EQ(t->DataPath("/abs"), std::filesystem::path("/abs"));
  std::filesystem::remove_all(dir);
}

TEST(Topology, UnreadableFile) {
  auto t = LoadTopology("/nonexistent/topology.yaml");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), ErrorCode::kValidation);
  EXPECT_EQ(t.status().message(), "topology file /nonexistent/topology.yaml cannot be read");
}

TEST(Topology, LookupOrder) {
  ::unsetenv("MERIDIAN_TOPOLOGY");
  EXPECT_EQ(ResolveTopologyPath(std::nullopt), "/etc/meridian/topology.yaml");
  EXPECT_EQ(ResolveTopologyPath(std::string("")), "/etc/meridian/topology.yaml");
  ::setenv("MERIDIAN_TOPOLOGY", "/env/t.yaml", 1);
  EXPECT_EQ(ResolveTopologyPath(std::nullopt), "/env/t.yaml");
  EXPECT_EQ(ResolveTopologyPath(std::string("/flag/t.yaml")), "/flag/t.yaml");
  ::setenv("MERIDIAN_TOPOLOGY", "", 1);
  EXPECT_EQ(ResolveTopologyPath(std::nullopt), "/etc/meridian/topology.yaml");
  ::unsetenv("MERIDIAN_TOPOLOGY");
}

}  // namespace
}  // namespace meridian::topology
