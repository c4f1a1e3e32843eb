// `meridian status`: what every facility of every region says about its Raft group, as a table
// or as the operator conventions' JSON (../shared/DESIGN.md: fields are added, never renamed):
//   {"schema_version":1,"regions":[{"name","leader","facilities":[{"name","up","role","term",
//    "commit_index","applied_index","native_endpoint","http_endpoint"}],"replication":[],
//    "conflicts":{}}]}
// "replication" and "conflicts" fill in with the global-table issue.
//
// Thread-safety: one thread per facility, each with its own Client, joined before printing.
#include <iostream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "cli/region_commands.h"

namespace meridian::cli {
namespace {

constexpr std::chrono::milliseconds kDefaultStatusTimeout{1000};

struct FacilityAnswer {
  std::string region;
  std::string facility;
  std::string native_endpoint;  // from the topology; the node's own when it answers
  std::string http_endpoint;
  Result<proto::NodeStatus> status = Status(ErrorCode::kUnreachable, "not asked");
};

// Down: no answer at all. A node that answered with an error (a refused key...) is up.
bool IsDown(const Status& status) {
  return status.code() == ErrorCode::kUnreachable || status.code() == ErrorCode::kTimeout;
}

// The facility that answers that it leads, the highest term winning; nullptr when none does.
const FacilityAnswer* RegionLeader(const std::vector<const FacilityAnswer*>& facilities) {
  const FacilityAnswer* leader = nullptr;
  for (const FacilityAnswer* f : facilities) {
    if (!f->status.ok() || f->status->role != "leader") continue;
    if (!leader || f->status->term > leader->status->term) leader = f;
  }
  return leader;
}

nlohmann::ordered_json FacilityJson(const FacilityAnswer& f) {
  nlohmann::ordered_json j = {{"name", f.facility},
                      {"up", !IsDown(f.status.status())},
                      {"role", nullptr},
                      {"term", nullptr},
                      {"commit_index", nullptr},
                      {"applied_index", nullptr},
                      {"native_endpoint", f.native_endpoint},
                      {"http_endpoint", f.http_endpoint}};
  if (!f.status.ok()) {
    j["error"] = IsDown(f.status.status()) ? (f.status.status().code() == ErrorCode::kTimeout ? "timed out" : "unreachable")
                                           : f.status.status().ToString();
    return j;
  }
  const proto::NodeStatus& s = f.status.value();
  j["role"] = s.role;
  j["term"] = s.term;
  j["commit_index"] = s.commit_index;
  j["applied_index"] = s.applied_index;
  j["last_index"] = s.last_index;
  j["snapshot_index"] = s.snapshot_index;
  j["node_id"] = s.node_id;
  j["leader_facility"] = s.leader_facility.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(s.leader_facility);
  return j;
}

std::string Cell(const nlohmann::ordered_json& j) {
  if (j.is_null()) return "-";
  if (j.is_string()) return j.get<std::string>();
  return j.dump();
}

void PrintTable(const nlohmann::ordered_json& out) {
  std::vector<std::vector<std::string>> rows = {
      {"REGION", "FACILITY", "STATE", "ROLE", "TERM", "COMMIT", "APPLIED", "HTTP", ""}};
  for (const auto& region : out["regions"]) {
    for (const auto& f : region["facilities"]) {
      bool leads = region["leader"].is_string() && region["leader"] == f["name"];
      rows.push_back({region["name"].get<std::string>(), f["name"].get<std::string>() + (leads ? " *" : ""),
                      f["up"].get<bool>() ? "up" : "down", Cell(f["role"]), Cell(f["term"]),
                      Cell(f["commit_index"]), Cell(f["applied_index"]), Cell(f["http_endpoint"]),
                      f.contains("error") ? "(" + f["error"].get<std::string>() + ")" : ""});
    }
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::cout << line << "\n";
  }
  for (const auto& region : out["regions"]) {
    std::cout << region["name"].get<std::string>() << ": "
              << (region["leader"].is_string() ? "leader " + region["leader"].get<std::string>() + " (*)"
                                               : std::string("no leader answering"))
              << "\n";
  }
  std::cout.flush();
}

}  // namespace

int CmdStatus(const Args& args, const RegionCommandContext& context) {
  if (!args.positional().empty()) return UsageError("status takes no positional arguments");
  const std::chrono::milliseconds timeout = context.timeout.value_or(kDefaultStatusTimeout);

  std::vector<const topology::Region*> regions;
  if (context.region_given) {
    regions.push_back(&context.region());
  } else {
    for (const auto& r : context.topology.regions) regions.push_back(&r);
  }
  std::vector<FacilityAnswer> answers;
  for (const topology::Region* region : regions) {
    for (const topology::Facility& f : region->facilities) {
      answers.push_back({region->name, f.name, f.NativeEndpoint(), context.topology.HttpEndpoint(f)});
    }
  }
  // One thread per facility (at most kMaxRegions * 3), so a dead facility costs one timeout in
  // all, not one each.
  std::vector<std::thread> threads;
  threads.reserve(answers.size());
  for (FacilityAnswer& answer : answers) {
    threads.emplace_back([&answer, &context, timeout] {
      ClientOptions options;
      options.endpoint = answer.native_endpoint;
      options.timeout = timeout;
      options.credentials = context.credentials;
      options.fail_fast = true;  // a refused connection is "down" now, not in a second
      Client client(std::move(options));
      answer.status = client.NodeStatus();
    });
  }
  for (std::thread& t : threads) t.join();

  nlohmann::ordered_json out = {{"schema_version", 1}, {"regions", nlohmann::ordered_json::array()}};
  bool any_down = false, any_error = false;
  size_t next = 0;
  for (const topology::Region* region : regions) {
    std::vector<const FacilityAnswer*> mine;
    nlohmann::ordered_json facilities = nlohmann::ordered_json::array();
    for (size_t i = 0; i < region->facilities.size(); ++i) {
      FacilityAnswer& a = answers[next++];
      if (a.status.ok()) {
        if (!a.status->native_endpoint.empty()) a.native_endpoint = a.status->native_endpoint;
        if (!a.status->http_endpoint.empty()) a.http_endpoint = a.status->http_endpoint;
      } else if (IsDown(a.status.status())) {
        any_down = true;
      } else {
        any_error = true;
      }
      mine.push_back(&a);
      facilities.push_back(FacilityJson(a));
    }
    const FacilityAnswer* leader = RegionLeader(mine);
    out["regions"].push_back({{"name", region->name},
                              {"leader", leader ? nlohmann::ordered_json(leader->facility) : nlohmann::ordered_json(nullptr)},
                              {"facilities", std::move(facilities)},
                              {"replication", nlohmann::ordered_json::array()},
                              {"conflicts", nlohmann::ordered_json::object()}});
  }
  if (args.Has("json")) {
    std::cout << (args.Has("pretty") ? out.dump(2) : out.dump()) << std::endl;
  } else {
    PrintTable(out);
  }
  if (any_down) return kExitUnreachable;
  return any_error ? kExitApiError : kExitOk;
}

}  // namespace meridian::cli
