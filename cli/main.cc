// `meridian`: the one binary. Subcommands:
//   start-single-node  serve one node (development mode; stays after the replica group arrives)
//   call               any DynamoDB operation, request and response in DynamoDB's JSON
//   tables | create-table | delete-table | put | get | delete | query | scan   shortcuts
//   status | admin     a topology's facilities (cli/status.cc, cli/admin.cc)
//   compose | health   a Docker Compose deployment and its health check (cli/compose.cc, cli/health.cc)
// Exit codes (../shared/DESIGN.md): 0 ok, 1 an API error (its JSON on stdout), 2 usage,
// 3 unreachable or timed out.
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <sys/resource.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "api/access.h"
#include "api/http_server.h"
#include "api/json_codec.h"
#include "api/tls.h"
#include "cli/args.h"
#include "cli/common.h"
#include "cli/compose.h"
#include "cli/bench.h"
#include "cli/demo.h"
#include "cli/health.h"
#include "cli/region_commands.h"
#include "meridian/client.h"
#include "meridian/region_client.h"
#include "topology/topology.h"
#include "region/node_server.h"
#include "region/request_executor.h"
#include "storage/engine.h"

namespace meridian::cli {
namespace {

constexpr char kDefaultEndpoint[] = "tcp://127.0.0.1:7700";
constexpr char kDefaultDataDir[] = "meridian-data";

constexpr char kUsage[] = R"(usage: meridian <command> [options]

Server:
  start --topology FILE --region NAME --facility NAME [--join] [--no-auth] [--workers N]
        [--snapshot-entries N] [--block-cache-mb N] [--write-buffer-mb N]
      Serve one facility node of a region (Raft replica group of three facilities): the native
      protocol and DynamoDB's HTTP API on the facility's ports in the topology. Keys come from
      access.yaml beside the topology; peers are signed with its `credentials` file. A node
      started on an empty data folder while its region runs joins as a new member: make it a
      voter with `meridian admin replace-facility`. SIGTERM: a leader hands over first.
      Memory: RocksDB's block cache (default 64 MiB) and memtables (default 32 MiB in all);
      with the defaults a node stays near 300 MiB of RSS at 10^7 items (docs/benchmarks.md).
  replicator --topology FILE --region NAME [--no-auth]
      The region's replicator: ships its change stream to every other region's replicator and
      applies theirs to this region (global tables). Stateless: its cursors live in the regions.
      Creates the topology's global tables this region is first to list.
  demo [--regions N [--base-port P] | --topology FILE] [--data DIR] [--no-auth] [--restart]
       [--workload]
      N local regions (default 3) of three facility nodes each on 127.0.0.1, plus a replicator
      per region when N > 1 (native ports base+10i+5), supervised; DIR
      (default ./meridian-demo) holds topology.yaml with the ports (from 7700 native, 8000 HTTP,
      or the next free block), credentials, access.yaml, run/*.pid, log/*.log and the data. A
      second run on DIR resumes it. Ctrl-C stops every node; --restart restarts nodes that exit.
      --topology FILE runs FILE's regions instead (hosts 127.0.0.1, localhost or ::1; real
      ports), copied to DIR/topology.yaml; the data folders stay where FILE puts them.
      --workload: once the demo is up, a global-table workload: items written in every region,
      their arrival elsewhere and its lag, the conflicts resolved, the final values. With a demo
      already running on DIR it runs against that one and exits (0 when every item arrived).
  start-single-node --data DIR [--listen tcp://127.0.0.1:7700] [--workers N] [--no-sync]
                    [--http 127.0.0.1:8000] [--access FILE] [--no-auth]
                    [--tls-cert FILE --tls-key FILE | --tls-self-signed]
      Serve one node: the native protocol on --listen, DynamoDB's HTTP API on --http. Port 0
      picks a free port; the addresses are written to DIR/endpoints.json. Auth is on: keys come
      from --access FILE (default DIR/access.yaml, generated with DIR/credentials on first start).

Deployment:
  compose --topology FILE --out DIR/NAME.yml [--image IMG] [--publish-host H] [--publish-base P]
          [--publish-native]
      Render the topology as a Docker Compose deployment: a service per facility
      (<region>-<facility>) and per replicator (<region>-replicator), a network per region plus
      inter-region, a volume each, health checks, restart: unless-stopped, each facility's HTTP
      port published on H (default 127.0.0.1) at its `publish` port, else P+10*region+facility
      with --publish-base, else its HTTP port. --publish-native also publishes each native port
      (what the C++ client library dials) on P+10*region+5+facility, else on the port itself.
      Writes NAME.yml, NAME.topology.yaml (container
      addresses) and, when missing, the keys NAME.credentials and NAME.access.yaml in DIR, all
      mounted in every container under /etc/meridian/. IMG default meridian:local.
  health URL [--timeout-ms N]
      Exit 0 when URL is healthy, 3 when not within N ms (default 2000): http(s)://HOST:PORT/PATH
      answers GET with a 2xx (https unverified), tcp://HOST:PORT accepts a connection. The
      containers' health check.

Benchmark:
  bench [--regions N[,N...] | --demo-dir DIR | --topology FILE] [--workload A,B,C,D,E,F]
        [--distribution uniform|zipfian|latest] [--records N] [--value-bytes N] [--clients N[,N...]]
        [--duration S] [--target-rate R] [--consistent-reads] [--json FILE] [--plots DIR]
        [--report [--report-file FILE]] [--limit-seconds S] [--work-dir DIR] [--seed N]
      The YCSB core workloads (A 50/50 read/update, B 95/5, C read only, D read latest, E short
      range queries, F read-modify-write as a conditional update), each for S seconds (default
      30) at each client count (default 16), after loading N records (default 100000) of
      --value-bytes (default 100). Distribution: YCSB's default per workload (zipfian; latest for
      D). --target-rate R: open loop at R ops/s, latency counted from when each operation was due;
      default closed loop. Default topology: its own `meridian demo` per --regions count (default
      1) in a folder under --work-dir (default /var/tmp), stopped and removed at the end.
      Reports throughput and latency p50/p95/p99/p99.9/max per operation type, errors,
      throttles, condition failures, the peak memory of the topology's processes, the
      replication lag with several regions, and beside them the limits measured first (raw
      RocksDB with the same items and sync=true, the disk's fsync floor, a ZeroMQ round trip;
      --limit-seconds each, default 3). --json FILE: the report (shape in bench/bench_report.h);
      --plots DIR: latency over time and latency CDF PNGs (gnuplot); --report: rewrites the bench
      section of docs/benchmarks.md (or FILE). Exit 0 when it ran, 1 when the topology failed or
      on Ctrl-C, 2 usage, 3 when --topology/--demo-dir does not answer.

Requests (DynamoDB's JSON in and out):
  call OPERATION ['REQUEST_JSON' | --input FILE | --input -]
  tables                                  list every table
  create-table TABLE PK:TYPE [SK:TYPE]    TYPE is S, N or B (on-demand billing)
  delete-table TABLE
  put TABLE 'ITEM_JSON'                   e.g. '{"pk":{"S":"a"},"n":{"N":"1"}}'
  get TABLE 'KEY_JSON' [--consistent]
  delete TABLE 'KEY_JSON'
  update TABLE 'KEY_JSON' 'UPDATE_EXPRESSION' [--values JSON] [--names JSON] [--condition EXPR]
         [--return NONE|ALL_OLD|UPDATED_OLD|ALL_NEW|UPDATED_NEW]   (default ALL_NEW)
  query TABLE 'KEY_CONDITION' [--values JSON] [--names JSON] [--limit N] [--desc] [--count]
  scan TABLE [--limit N] [--segment I --total-segments N] [--count]

Options for requests:
  --topology FILE [--region NAME]
                               send to a region (default: the file's first region) through the
                               region-aware client: writes, table operations and --consistent
                               reads to its leader, other reads to any facility, retried with
                               backoff within --timeout-ms. The topology: --topology FILE, else
                               $MERIDIAN_TOPOLOGY, else /etc/meridian/topology.yaml; used when
                               --topology or --region is given or $MERIDIAN_TOPOLOGY is set (and
                               no --endpoint or --data), else one node as below
  --endpoint tcp://HOST:PORT   one node (default: $MERIDIAN_ENDPOINT, else DIR/endpoints.json of
                               --data DIR or ./meridian-data, else tcp://127.0.0.1:7700)
  --data DIR                   find the endpoint in DIR/endpoints.json
  --timeout-ms N               per request, with its retries (default 10000)
  --credentials FILE           AWS shared-credentials file that signs requests (profile
                               --profile NAME, default meridian; else $AWS_ACCESS_KEY_ID and
                               $AWS_SECRET_ACCESS_KEY; else DIR/credentials of --data DIR.
                               With a topology: `credentials` beside it comes first)
  --pretty                     indent the JSON output

Operators (topology: --topology FILE, else $MERIDIAN_TOPOLOGY, else /etc/meridian/topology.yaml;
credentials as for requests):
  status [--region NAME] [--json] [--pretty] [--timeout-ms N] [--conflicts N]
      Every facility's Raft view (role, term, commit and applied index), asked in parallel (1 s
      each by default); the leader is marked *. Per region, its replication lag from every other
      region (ms, records) and the writes lost to conflicts per table: the count and the N most
      recent (default 10) with key, losing and winning versions.
      --json: {"schema_version":1,"regions":[...]}. Exit 0 when every facility answered, 3 when
      any is down.
  admin transfer-leader [--region NAME] [--to FACILITY]
      Ask the region's leader to hand leadership to FACILITY (default: the best follower).
  admin replace-facility [--region NAME] --facility NAME
      Make the node now running at facility NAME (started on an empty folder, joined as a new
      member) the voter for that facility in place of the lost one.

Exit codes: 0 ok, 1 API error (JSON on stdout), 2 usage, 3 unreachable or timed out.
)";

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<std::string> EndpointFromDataDir(const std::filesystem::path& dir) {
  auto text = ReadFile((dir / "endpoints.json").string());
  if (!text) return std::nullopt;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_object() && j.contains("native") && j["native"].is_string()) return j["native"].get<std::string>();
  return std::nullopt;
}

std::string ResolveEndpoint(const Args& args) {
  if (auto e = args.Get("endpoint")) return *e;
  if (const char* env = std::getenv("MERIDIAN_ENDPOINT"); env && *env) return env;
  if (auto d = args.Get("data")) {
    if (auto e = EndpointFromDataDir(*d)) return *e;
  } else if (auto e = EndpointFromDataDir(kDefaultDataDir)) {
    return *e;
  }
  return kDefaultEndpoint;
}

// Who signs requests: --credentials FILE (profile --profile, else $AWS_PROFILE, else meridian),
// else $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY, else DIR/credentials of --data DIR (or
// ./meridian-data), else nobody (a node with auth on refuses unsigned requests).
// With a topology, its folder's `credentials` replaces DIR/credentials (`fallback_dir`).
std::optional<Credentials> ResolveCredentials(const Args& args, std::string* error,
                                              const std::optional<std::filesystem::path>& fallback_dir = std::nullopt) {
  std::string profile = "meridian";
  if (const char* p = std::getenv("AWS_PROFILE"); p && *p) profile = p;
  if (auto p = args.Get("profile")) profile = *p;
  if (auto file = args.Get("credentials")) {
    Result<Credentials> c = LoadSharedCredentials(*file, profile);
    if (!c.ok()) {
      *error = c.status().message();
      return std::nullopt;
    }
    return c.value();
  }
  if (auto env = CredentialsFromEnvironment()) return env;
  std::filesystem::path dir = fallback_dir ? *fallback_dir : std::filesystem::path(args.GetOr("data", kDefaultDataDir));
  if (std::filesystem::exists(dir / "credentials")) {
    Result<Credentials> c = LoadSharedCredentials((dir / "credentials").string(), profile);
    if (c.ok()) return c.value();
  }
  return std::nullopt;
}

const std::set<std::string> kRequestValueFlags = {"endpoint", "data", "timeout-ms", "input", "credentials", "profile",
                                                   "topology", "region", "to", "facility",
                                                   "values", "names", "limit", "segment",
                                                   "total-segments", "condition", "return", "conflicts"};
const std::set<std::string> kRequestBoolFlags = {"pretty", "consistent", "desc", "count", "json"};

void PrintJson(const nlohmann::json& j, bool pretty) {
  std::cout << (pretty ? j.dump(2) : j.dump()) << std::endl;
}

// --timeout-ms, when given; a usage exit code when it is not a positive number.
int TimeoutFrom(const Args& args, std::optional<std::chrono::milliseconds>* timeout) {
  if (auto t = args.Get("timeout-ms")) {
    char* end = nullptr;
    long ms = std::strtol(t->c_str(), &end, 10);
    if (*end != '\0' || ms <= 0) return UsageError("--timeout-ms takes a positive number");
    *timeout = std::chrono::milliseconds(ms);
  }
  return kExitOk;
}

// The node's address, credentials and timeout from the request options; a usage exit code on a
// bad option.
int ClientOptionsFrom(const Args& args, ClientOptions* options) {
  if (args.Has("region")) return UsageError("--region names a region of a topology: not with --endpoint or --data");
  options->endpoint = ResolveEndpoint(args);
  std::string credentials_error;
  options->credentials = ResolveCredentials(args, &credentials_error);
  if (!credentials_error.empty()) return UsageError(credentials_error);
  std::optional<std::chrono::milliseconds> timeout;
  if (int rc = TimeoutFrom(args, &timeout); rc != kExitOk) return rc;
  if (timeout) options->timeout = *timeout;
  return kExitOk;
}

// The topology (--topology FILE, else $MERIDIAN_TOPOLOGY, else /etc/meridian/topology.yaml), the
// region (--region NAME, else the first), credentials (--credentials FILE, else `credentials` beside
// the topology file, else the environment) and --timeout-ms; a usage exit code when any is bad.
int RegionContextFrom(const Args& args, RegionCommandContext* context) {
  context->topology_path = topology::ResolveTopologyPath(args.Get("topology"));
  topology::ParseOptions parse;
  parse.check_data_parents = false;  // a client's machine need not have the nodes' folders
  Result<topology::Topology> loaded = topology::LoadTopology(context->topology_path, parse);
  if (!loaded.ok()) return UsageError(loaded.status().message());
  context->topology = std::move(loaded.value());
  if (context->topology.regions.empty()) return UsageError(context->topology_path + " names no region");
  if (auto region = args.Get("region")) {
    const topology::Region* found = context->topology.FindRegion(*region);
    if (!found) {
      std::string known;
      for (const auto& r : context->topology.regions) known += (known.empty() ? "" : ", ") + r.name;
      return UsageError("no region " + *region + " in " + context->topology_path + " (it has " + known + ")");
    }
    context->region_index = static_cast<size_t>(found - context->topology.regions.data());
    context->region_given = true;
  }
  // The topology's own key file comes before $AWS_ACCESS_KEY_ID, which may well hold a key for
  // AWS itself; its profile is --profile or meridian (not $AWS_PROFILE, for the same reason).
  std::filesystem::path beside = context->topology.base_dir / "credentials";
  if (!args.Has("credentials") && std::filesystem::exists(beside)) {
    Result<Credentials> c = LoadSharedCredentials(beside.string(), args.GetOr("profile", "meridian"));
    if (c.ok()) context->credentials = c.value();
  }
  if (!context->credentials) {
    std::string credentials_error;
    context->credentials = ResolveCredentials(args, &credentials_error, context->topology.base_dir);
    if (!credentials_error.empty()) return UsageError(credentials_error);
  }
  return TimeoutFrom(args, &context->timeout);
}

// Where the request commands send: one node (ClientOptionsFrom), or, with --topology FILE or
// $MERIDIAN_TOPOLOGY (and no --endpoint or --data), a region through the region-aware client.
struct RequestTarget {
  std::unique_ptr<Client> node;
  std::unique_ptr<RegionClient> region;

  Result<Response> Call(const Request& request) { return region ? region->Call(request) : node->Call(request); }
  Result<ListTablesResponse> ListTables(const ListTablesRequest& r) {
    return region ? region->ListTables(r) : node->ListTables(r);
  }
};

int RequestTargetFrom(const Args& args, RequestTarget* target) {
  const bool single_node = args.Has("endpoint") || args.Has("data");
  if (args.Has("topology") && single_node) return UsageError("--topology excludes --endpoint and --data");
  const char* env = std::getenv(std::string(topology::kTopologyEnvVar).c_str());
  // --region names a region of a topology, so it implies the topology lookup (down to
  // /etc/meridian/topology.yaml, where `meridian compose` mounts it in every container).
  if (args.Has("topology") || (!single_node && (args.Has("region") || (env && *env)))) {
    RegionCommandContext context;
    if (int rc = RegionContextFrom(args, &context); rc != kExitOk) return rc;
    target->region = std::make_unique<RegionClient>(RegionClientOptionsFrom(context, std::chrono::milliseconds(10000)));
    return kExitOk;
  }
  ClientOptions options;
  if (int rc = ClientOptionsFrom(args, &options); rc != kExitOk) return rc;
  target->node = std::make_unique<Client>(std::move(options));
  return kExitOk;
}

// Prints a failed call as the conventions say: unreachable or timed out on stderr (exit 3), an
// API error as DynamoDB's error JSON on stdout (exit 1).
int ReportFailure(const Status& status, bool pretty) {
  if (status.code() == ErrorCode::kUnreachable || status.code() == ErrorCode::kTimeout) {
    std::cerr << "meridian: " << status.message() << "\n";
    return kExitUnreachable;
  }
  PrintJson(api::EncodeError(status), pretty);
  return kExitApiError;
}

// Decodes a DynamoDB JSON request, sends it, prints the answer. The one path every request
// command takes, so the shortcuts behave exactly like `call`.
int SendJson(const Args& args, const std::string& operation, const std::string& body) {
  bool pretty = args.Has("pretty");
  Result<Request> request = api::DecodeRequest(operation, body);
  if (!request.ok()) {
    PrintJson(api::EncodeError(request.status()), pretty);
    return kExitApiError;
  }
  RequestTarget target;
  if (int rc = RequestTargetFrom(args, &target); rc != kExitOk) return rc;
  Result<Response> response = target.Call(request.value());
  if (!response.ok()) return ReportFailure(response.status(), pretty);
  PrintJson(api::EncodeResponse(response.value()), pretty);
  return kExitOk;
}

// Parses a JSON argument of a shortcut; nullopt (after a usage message) when it is not JSON.
std::optional<nlohmann::json> JsonArg(const std::string& what, const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    UsageError(what + " is not valid JSON: " + text);
    return std::nullopt;
  }
  return j;
}


int CmdCall(const Args& args) {
  const auto& pos = args.positional();
  if (pos.empty()) return UsageError("call needs an OPERATION");
  std::string body;
  if (auto input = args.Get("input")) {
    if (pos.size() > 1) return UsageError("give the request either inline or with --input, not both");
    if (*input == "-") {
      std::stringstream ss;
      ss << std::cin.rdbuf();
      body = ss.str();
    } else {
      auto text = ReadFile(*input);
      if (!text) return UsageError("cannot read " + *input);
      body = *text;
    }
  } else if (pos.size() == 2) {
    body = pos[1];
  } else if (pos.size() == 1) {
    body = "{}";
  } else {
    return UsageError("call takes one OPERATION and one REQUEST_JSON");
  }
  return SendJson(args, pos[0], body);
}

int CmdTables(const Args& args) {
  // Follows LastEvaluatedTableName to the end and prints one merged list.
  nlohmann::json all = nlohmann::json::array();
  std::optional<std::string> start;
  RequestTarget client;
  if (int rc = RequestTargetFrom(args, &client); rc != kExitOk) return rc;
  for (int page = 0; page < 100000; ++page) {
    ListTablesRequest r;
    r.exclusive_start_table_name = start;
    Result<ListTablesResponse> resp = client.ListTables(r);
    if (!resp.ok()) return ReportFailure(resp.status(), args.Has("pretty"));
    for (const auto& n : resp->table_names) all.push_back(n);
    if (!resp->last_evaluated_table_name) break;
    start = resp->last_evaluated_table_name;
  }
  PrintJson({{"TableNames", all}}, args.Has("pretty"));
  return kExitOk;
}

int CmdCreateTable(const Args& args) {
  const auto& pos = args.positional();
  if (pos.size() < 2 || pos.size() > 3) return UsageError("create-table TABLE PK:TYPE [SK:TYPE]");
  nlohmann::json body = {{"TableName", pos[0]}, {"BillingMode", "PAY_PER_REQUEST"}};
  body["KeySchema"] = nlohmann::json::array();
  body["AttributeDefinitions"] = nlohmann::json::array();
  for (size_t i = 1; i < pos.size(); ++i) {
    auto colon = pos[i].rfind(':');
    if (colon == std::string::npos || colon == 0) return UsageError("key attribute as NAME:TYPE, e.g. pk:S");
    std::string name = pos[i].substr(0, colon);
    body["KeySchema"].push_back({{"AttributeName", name}, {"KeyType", i == 1 ? "HASH" : "RANGE"}});
    body["AttributeDefinitions"].push_back({{"AttributeName", name}, {"AttributeType", pos[i].substr(colon + 1)}});
  }
  return SendJson(args, "CreateTable", body.dump());
}

int CmdTableOnly(const Args& args, const char* operation) {
  if (args.positional().size() != 1) return UsageError(std::string("needs exactly one TABLE"));
  return SendJson(args, operation, nlohmann::json{{"TableName", args.positional()[0]}}.dump());
}

int CmdItem(const Args& args, const char* operation, const char* member) {
  const auto& pos = args.positional();
  if (pos.size() != 2) return UsageError(std::string("needs TABLE and '") + member + "_JSON'");
  auto j = JsonArg(member, pos[1]);
  if (!j) return kExitUsage;
  nlohmann::json body = {{"TableName", pos[0]}, {member, *j}};
  if (args.Has("consistent")) body["ConsistentRead"] = true;
  return SendJson(args, operation, body.dump());
}

// Adds --values and --names (JSON maps) to a request body; false after a usage message.
bool AddPlaceholders(const Args& args, nlohmann::json* body) {
  for (const auto& [flag, member] : {std::pair{"values", "ExpressionAttributeValues"},
                                     std::pair{"names", "ExpressionAttributeNames"}}) {
    auto text = args.Get(flag);
    if (!text) continue;
    auto j = JsonArg(std::string("--") + flag, *text);
    if (!j) return false;
    (*body)[member] = *j;
  }
  return true;
}

int CmdUpdate(const Args& args) {
  const auto& pos = args.positional();
  if (pos.size() != 3) return UsageError("update TABLE 'KEY_JSON' 'UPDATE_EXPRESSION'");
  auto key = JsonArg("KEY_JSON", pos[1]);
  if (!key) return kExitUsage;
  nlohmann::json body = {{"TableName", pos[0]}, {"Key", *key}, {"UpdateExpression", pos[2]},
                         {"ReturnValues", args.GetOr("return", "ALL_NEW")}};
  if (auto c = args.Get("condition")) body["ConditionExpression"] = *c;
  if (!AddPlaceholders(args, &body)) return kExitUsage;
  return SendJson(args, "UpdateItem", body.dump());
}

int CmdQueryOrScan(const Args& args, bool query) {
  const auto& pos = args.positional();
  if (query ? pos.size() != 2 : pos.size() != 1) {
    return UsageError(query ? "query TABLE 'KEY_CONDITION'" : "scan TABLE");
  }
  nlohmann::json body = {{"TableName", pos[0]}};
  if (query) {
    body["KeyConditionExpression"] = pos[1];
    if (!AddPlaceholders(args, &body)) return kExitUsage;
    if (args.Has("desc")) body["ScanIndexForward"] = false;
  }
  for (const char* name : {"limit", "segment", "total-segments"}) {
    if (!args.Get(name)) continue;
    auto n = IntArg(args, name);
    if (!n) return UsageError(std::string("--") + name + " takes a number");
    body[name == std::string("limit") ? "Limit" : name == std::string("segment") ? "Segment" : "TotalSegments"] = *n;
  }
  if (args.Has("count")) body["Select"] = "COUNT";
  if (args.Has("consistent")) body["ConsistentRead"] = true;
  return SendJson(args, query ? "Query" : "Scan", body.dump());
}

// --- start-single-node ----------------------------------------------------------------------


int CmdStartSingleNode(int argc, char** argv) {
  Args args;
  std::string error;
  if (!args.Parse(argc, argv, 2,
                  {"data", "listen", "workers", "http", "access", "tls-cert", "tls-key",
                   "http-header-timeout-ms", "http-max-connections"},
                  {"no-sync", "no-auth", "tls-self-signed"}, &error)) {
    return UsageError(error);
  }
  if (args.Has("tls-cert") != args.Has("tls-key")) return UsageError("--tls-cert and --tls-key go together");
  if (args.Has("tls-cert") && args.Has("tls-self-signed")) {
    return UsageError("give either --tls-cert/--tls-key or --tls-self-signed");
  }
  if (args.Has("no-auth") && args.Has("access")) return UsageError("--no-auth and --access exclude each other");
  if (!args.positional().empty()) return UsageError("start-single-node takes no positional arguments");
  auto data = args.Get("data");
  if (!data) return UsageError("start-single-node needs --data DIR");
  std::filesystem::path dir(*data);
  std::error_code ec;
  std::filesystem::create_directories(dir / "run", ec);
  if (ec) {
    std::cerr << "meridian: cannot create " << dir << ": " << ec.message() << "\n";
    return kExitUsage;
  }

  EngineOptions engine_options;
  engine_options.sync = !args.Has("no-sync");
  if (!engine_options.sync) {
    std::cerr << "meridian: WARNING: --no-sync: writes are acknowledged before they are on disk; "
                 "a crash loses recent writes. For experiments only.\n";
  }
  Result<std::unique_ptr<Engine>> engine = Engine::Open((dir / "db").string(), engine_options);
  if (!engine.ok()) {
    std::cerr << "meridian: cannot open the data in " << dir << ": " << engine.status().ToString() << "\n";
    return 1;
  }

  // Block the stop signals before any thread starts, so only sigwait below receives them.
  sigset_t stop_signals = BlockStopSignals();

  // Access keys: auth is on unless --no-auth.
  std::optional<api::AccessStore> access;
  if (args.Has("no-auth")) {
    std::cerr << "meridian: WARNING: *** --no-auth: AUTHENTICATION IS OFF. Anyone who can reach "
                 "this node's ports can read, change and delete every table. For local "
                 "experiments only. ***\n";
  } else {
    std::filesystem::path access_path = args.GetOr("access", (dir / "access.yaml").string());
    if (!args.Has("access") && !std::filesystem::exists(access_path)) {
      Result<api::AccessKey> key = api::GenerateAccessFiles(dir);
      if (!key.ok()) {
        std::cerr << "meridian: " << key.status().message() << "\n";
        return 1;
      }
      std::cout << "meridian: generated access key " << key->access_key_id << " (may do everything) in "
                << access_path.string() << "\n"
                << "meridian: its client side is in " << (dir / "credentials").string()
                << " (AWS shared-credentials file, profile meridian)" << std::endl;
    }
    Result<api::AccessStore> loaded = api::AccessStore::Load(access_path);
    if (!loaded.ok()) {
      std::cerr << "meridian: " << loaded.status().message() << "\n";
      return kExitUsage;
    }
    access = std::move(loaded.value());
  }
  RequestExecutorOptions executor_options;
  executor_options.access = access ? &*access : nullptr;
  RequestExecutor executor(engine.value().get(), executor_options);

  NodeServerOptions server_options;
  server_options.listen = args.GetOr("listen", kDefaultEndpoint);
  if (auto w = IntArg(args, "workers")) server_options.workers = static_cast<int>(std::clamp<int64_t>(*w, 1, 256));
  NodeServer server(&executor, server_options);
  if (Status st = server.Start(); !st.ok()) {
    std::cerr << "meridian: " << st.message() << "\n";
    return kExitUnreachable;
  }

  std::unique_ptr<api::HttpServer> http;
  if (auto listen = args.Get("http")) {
    api::HttpServerOptions http_options;
    http_options.listen = *listen;
    http_options.worker_threads = server_options.workers;
    if (auto t = IntArg(args, "http-header-timeout-ms")) {
      http_options.header_timeout = std::chrono::milliseconds(std::clamp<int64_t>(*t, 100, 3600000));
    }
    if (auto m = IntArg(args, "http-max-connections")) {
      http_options.max_connections = static_cast<size_t>(std::clamp<int64_t>(*m, 1, 1000000));
    }
    if (args.Has("tls-cert")) {
      http_options.tls = api::TlsFiles{*args.Get("tls-cert"), *args.Get("tls-key")};
    } else if (args.Has("tls-self-signed")) {
      Result<api::TlsFiles> files = api::EnsureSelfSignedCertificate(dir);
      if (!files.ok()) {
        std::cerr << "meridian: " << files.status().message() << "\n";
        return 1;
      }
      std::cout << "meridian: self-signed TLS certificate " << files->cert.string() << std::endl;
      http_options.tls = files.value();
    }
    // Each connection is a descriptor: lift the soft limit so max_connections is reachable.
    rlimit nofile{};
    if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
      nofile.rlim_cur = std::min<rlim_t>(nofile.rlim_max, http_options.max_connections + 1024);
      (void)::setrlimit(RLIMIT_NOFILE, &nofile);
    }
    http = std::make_unique<api::HttpServer>(&executor, http_options);
    if (Status st = http->Start(); !st.ok()) {
      std::cerr << "meridian: " << st.message() << "\n";
      return kExitUnreachable;
    }
  } else if (args.Has("tls-cert") || args.Has("tls-self-signed")) {
    return UsageError("TLS options need --http HOST:PORT");
  }

  nlohmann::json endpoints = {{"native", server.endpoint()}, {"pid", ::getpid()}};
  if (http) endpoints["http"] = http->endpoint();
  if (!WriteFileAtomic(dir / "endpoints.json", endpoints.dump() + "\n").ok() ||
      !WriteFileAtomic(dir / "run" / "single-node.pid", std::to_string(::getpid()) + "\n").ok()) {
    std::cerr << "meridian: cannot write " << (dir / "endpoints.json") << "\n";
    return 1;
  }
  std::cout << "meridian: single node serving " << server.endpoint() << " (data " << dir.string()
            << ", pid " << ::getpid() << ")" << std::endl;
  std::cout << "meridian: try  meridian --data " << dir.string() << " tables" << std::endl;
  if (http) {
    std::cout << "meridian: DynamoDB HTTP API on " << http->endpoint() << std::endl;
    std::cout << "meridian: try  " << (access ? "AWS_SHARED_CREDENTIALS_FILE=" + (dir / "credentials").string() + " " : std::string())
              << "aws " << (access ? "--profile meridian " : "") << "dynamodb list-tables --endpoint-url "
              << http->endpoint() << (http->endpoint().rfind("https", 0) == 0 ? " --no-verify-ssl" : "")
              << std::endl;
  }

  int signal = 0;
  sigwait(&stop_signals, &signal);
  std::cout << "meridian: stopping (signal " << signal << ")" << std::endl;
  if (http) http->Stop();
  server.Stop();
  engine.value().reset();
  std::filesystem::remove(dir / "run" / "single-node.pid", ec);
  std::filesystem::remove(dir / "endpoints.json", ec);
  return kExitOk;
}

}  // namespace

int Main(int argc, char** argv) {
  // Global options may come before the command: `meridian --data d tables`.
  int first = 1;
  std::vector<char*> reordered(argv, argv + argc);
  while (first < argc && std::string(argv[first]).rfind("--", 0) == 0 &&
         std::string(argv[first]) != "--help") {
    std::string a = argv[first];
    bool takes_value = a.find('=') == std::string::npos && kRequestValueFlags.count(a.substr(2));
    first += takes_value ? 2 : 1;
  }
  if (first >= argc) {
    std::cerr << kUsage;
    return kExitUsage;
  }
  std::string command = argv[first];
  // Move the command to position 1 so every parser below sees `meridian COMMAND options...`.
  reordered.erase(reordered.begin() + first);
  reordered.insert(reordered.begin() + 1, argv[first]);
  argv = reordered.data();

  if (command == "help" || command == "--help" || command == "-h") {
    std::cout << kUsage;
    return kExitOk;
  }
  if (command == "version") {
    std::cout << "meridian 0.1.0 (protocol 1)\n";
    return kExitOk;
  }
  if (command == "start-single-node") return CmdStartSingleNode(argc, argv);
  if (command == "start") return CmdStart(argc, argv);
  if (command == "replicator") return CmdReplicator(argc, argv);
  if (command == "demo") return CmdDemo(argc, argv);
  if (command == "compose") return CmdCompose(argc, argv);
  if (command == "health") return CmdHealth(argc, argv);
  if (command == "bench") return CmdBench(argc, argv);

  Args args;
  std::string error;
  if (!args.Parse(argc, argv, 2, kRequestValueFlags, kRequestBoolFlags, &error)) return UsageError(error);
  if (command == "call") return CmdCall(args);
  if (command == "tables") return CmdTables(args);
  if (command == "create-table") return CmdCreateTable(args);
  if (command == "delete-table") return CmdTableOnly(args, "DeleteTable");
  if (command == "describe-table") return CmdTableOnly(args, "DescribeTable");
  if (command == "put") return CmdItem(args, "PutItem", "Item");
  if (command == "get") return CmdItem(args, "GetItem", "Key");
  if (command == "delete") return CmdItem(args, "DeleteItem", "Key");
  if (command == "update") return CmdUpdate(args);
  if (command == "query") return CmdQueryOrScan(args, true);
  if (command == "scan") return CmdQueryOrScan(args, false);
  if (command == "status" || command == "admin") {
    if (args.Has("endpoint") || args.Has("data")) return UsageError(command + " reads the topology: --topology FILE");
    RegionCommandContext context;
    if (int rc = RegionContextFrom(args, &context); rc != kExitOk) return rc;
    return command == "status" ? CmdStatus(args, context) : CmdAdmin(args, context);
  }
  return UsageError("unknown command '" + command + "'");
}

}  // namespace meridian::cli

int main(int argc, char** argv) {
  try {
    return meridian::cli::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "meridian: internal error: " << e.what() << "\n";
    return 1;
  }
}
