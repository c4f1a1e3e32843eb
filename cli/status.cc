// `meridian status`: what every facility of every region says about its Raft group, and what each
// region says about its replication (global tables), as a table or as the operator conventions'
// JSON (../shared/DESIGN.md: fields are added, never renamed):
//   {"schema_version":1,"regions":[{"name","leader","facilities":[{"name","up","role","term",
//    "commit_index","applied_index","native_endpoint","http_endpoint",...,"rss_bytes",
//    "peak_rss_bytes"}],
//    "replication":[{"source","destination","lag_ms","lag_records"}],
//    "conflicts":{"TABLE":{"count","recent":[{"time","table","key","loser","winner",
//                                              "loser_was_delete"}]}}}]}
// "replication" has one entry per source region this region has heard from: the lag of
// source -> this region. "recent" holds at most --conflicts N (default 10) of the newest
// conflicts, newest last, each as the conflict log writes it (region/conflict_log.h:
// ConflictRecordToJson: time ISO-8601 UTC, key in DynamoDB JSON, versions {vv, hlc, origin}).
//
// The replication view comes from ReplicationStatus, asked of every facility that answered its
// NodeStatus (on the same client, in the same thread); the leader's answer is preferred, else any
// other's (the state is replicated through Raft, so a follower's is at most a little older). When
// no facility answers it (a node without global tables answers an error, e.g. "not implemented
// yet") the region shows an empty list and an empty object: that is not an error and does not
// change the exit code, which still says only whether every facility answered its NodeStatus.
//
// Thread-safety: one thread per facility, each with its own Client, joined before printing.
#include <algorithm>
#include <iostream>
#include <optional>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/json_codec.h"
#include "cli/common.h"
#include "cli/region_commands.h"
#include "conflict/hlc.h"
#include "region/conflict_log.h"

namespace meridian::cli {
namespace {

constexpr std::chrono::milliseconds kDefaultStatusTimeout{1000};
constexpr int64_t kDefaultRecentConflicts = 10;

using ojson = nlohmann::ordered_json;

struct FacilityAnswer {
  std::string region;
  std::string facility;
  std::string native_endpoint;  // from the topology; the node's own when it answers
  std::string http_endpoint;
  Result<proto::NodeStatus> status = Status(ErrorCode::kUnreachable, "not asked");
  // Asked only of a facility that answered its NodeStatus.
  Result<ReplicationStatusResponse> replication = Status(ErrorCode::kUnreachable, "not asked");
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

// The region's replication view: the leader's answer, else the first other facility's; nullptr
// when none answered. `why_none` gets a reason for the human output.
const ReplicationStatusResponse* RegionReplication(const std::vector<const FacilityAnswer*>& facilities,
                                                   const FacilityAnswer* leader, std::string* why_none) {
  if (leader && leader->replication.ok()) return &leader->replication.value();
  for (const FacilityAnswer* f : facilities) {
    if (f->replication.ok()) return &f->replication.value();
  }
  *why_none = "no facility answered";
  for (const FacilityAnswer* f : facilities) {
    if (f->status.ok()) {  // up, so it was asked: its answer says why
      *why_none = f->replication.status().ToString();
      break;
    }
  }
  return nullptr;
}

Result<ReplicationStatusResponse> AskReplicationStatus(Client& client) {
  Result<Response> r = client.Call(Request(ReplicationStatusRequest{}));
  if (!r.ok()) return r.status();
  if (auto* status = std::get_if<ReplicationStatusResponse>(&r.value())) return std::move(*status);
  return Status::Internal("ReplicationStatus was answered with a " +
                          std::string(OperationName(OperationOf(r.value()))) + " response");
}

ojson FacilityJson(const FacilityAnswer& f) {
  ojson j = {{"name", f.facility},
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
  j["leader_facility"] = s.leader_facility.empty() ? ojson(nullptr) : ojson(s.leader_facility);
  j["rss_bytes"] = s.rss_kib > 0 ? ojson(s.rss_kib * 1024) : ojson(nullptr);
  j["peak_rss_bytes"] = s.peak_rss_kib > 0 ? ojson(s.peak_rss_kib * 1024) : ojson(nullptr);
  return j;
}

// "replication": one entry per source, sorted by source so the output is stable.
ojson ReplicationJson(const ReplicationStatusResponse* r, const std::string& destination) {
  ojson out = ojson::array();
  if (r == nullptr) return out;
  std::vector<const ReplicationLag*> lags;
  for (const ReplicationLag& lag : r->lag) lags.push_back(&lag);
  std::sort(lags.begin(), lags.end(), [](const auto* a, const auto* b) { return a->source < b->source; });
  for (const ReplicationLag* lag : lags) {
    out.push_back({{"source", lag->source},
                   {"destination", destination},
                   {"lag_ms", lag->lag_ms},
                   {"lag_records", lag->lag_records}});
  }
  return out;
}

// "conflicts": per table, the count and the newest `recent_max` of the recent ones, newest last.
ojson ConflictsJson(const ReplicationStatusResponse* r, size_t recent_max) {
  ojson out = ojson::object();
  if (r == nullptr) return out;
  for (const auto& [table, conflicts] : r->conflicts) {
    ojson recent = ojson::array();
    size_t skip = conflicts.recent.size() > recent_max ? conflicts.recent.size() - recent_max : 0;
    for (size_t i = skip; i < conflicts.recent.size(); ++i) recent.push_back(ConflictRecordToJson(conflicts.recent[i]));
    out[table] = {{"count", conflicts.count}, {"recent", std::move(recent)}};
  }
  return out;
}

std::string Cell(const ojson& j) {
  if (j.is_null()) return "-";
  if (j.is_string()) return j.get<std::string>();
  return j.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

// Prints rows as left-aligned columns two spaces apart, trailing blanks trimmed.
void PrintRows(const std::vector<std::vector<std::string>>& rows, const std::string& indent = "") {
  std::vector<size_t> width(rows.empty() ? 0 : rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line = indent;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size() && i < width.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::cout << line << "\n";
  }
}

// A version for people: "eu-west@2024-05-01T12:34:56.789Z+3 {eu-west:3, us-east:5}" (origin, the
// hybrid timestamp's physical time and logical counter, the version vector).
std::string VersionText(const ojson& v) {
  std::string text = Cell(v["origin"]);
  if (v["hlc"].is_number_unsigned()) {
    uint64_t hlc = v["hlc"].get<uint64_t>();
    text += "@" + FormatIso8601Utc(static_cast<int64_t>(conflict::HlcPhysicalMs(hlc))) + "+" +
            std::to_string(conflict::HlcLogical(hlc));
  }
  std::string vv;
  for (auto it = v["vv"].begin(); it != v["vv"].end(); ++it) {
    vv += (vv.empty() ? "" : ", ") + it.key() + ":" + Cell(it.value());
  }
  return text + " {" + vv + "}";
}

// A facility's resident set as "123 MiB", or "-" when unknown (a facility down has no field).
std::string RssCell(const ojson& facility) {
  auto it = facility.find("rss_bytes");
  if (it == facility.end() || !it->is_number_unsigned()) return "-";
  return std::to_string(it->get<uint64_t>() >> 20) + " MiB";
}

void PrintTable(const ojson& out, const std::vector<std::string>& replication_notes) {
  std::vector<std::vector<std::string>> rows = {
      {"REGION", "FACILITY", "STATE", "ROLE", "TERM", "COMMIT", "APPLIED", "RSS", "HTTP", ""}};
  for (const auto& region : out["regions"]) {
    for (const auto& f : region["facilities"]) {
      bool leads = region["leader"].is_string() && region["leader"] == f["name"];
      rows.push_back({region["name"].get<std::string>(), f["name"].get<std::string>() + (leads ? " *" : ""),
                      f["up"].get<bool>() ? "up" : "down", Cell(f["role"]), Cell(f["term"]),
                      Cell(f["commit_index"]), Cell(f["applied_index"]), RssCell(f), Cell(f["http_endpoint"]),
                      f.contains("error") ? "(" + f["error"].get<std::string>() + ")" : ""});
    }
  }
  PrintRows(rows);
  for (const auto& region : out["regions"]) {
    std::cout << region["name"].get<std::string>() << ": "
              << (region["leader"].is_string() ? "leader " + region["leader"].get<std::string>() + " (*)"
                                               : std::string("no leader answering"))
              << "\n";
  }

  // Replication lag, one row per (source -> region).
  std::vector<std::vector<std::string>> lag_rows = {{"REPLICATION", "LAG_MS", "LAG_RECORDS"}};
  for (const auto& region : out["regions"]) {
    for (const auto& lag : region["replication"]) {
      lag_rows.push_back({Cell(lag["source"]) + " -> " + Cell(lag["destination"]), Cell(lag["lag_ms"]),
                          Cell(lag["lag_records"])});
    }
  }
  if (lag_rows.size() > 1) {
    std::cout << "\n";
    PrintRows(lag_rows);
  }

  // Conflicts: the count per (region, table), then the recent ones of each table, newest last.
  std::vector<std::vector<std::string>> count_rows = {{"CONFLICTS", "TABLE", "COUNT"}};
  for (const auto& region : out["regions"]) {
    for (auto it = region["conflicts"].begin(); it != region["conflicts"].end(); ++it) {
      count_rows.push_back({region["name"].get<std::string>(), it.key(), Cell(it.value()["count"])});
    }
  }
  if (count_rows.size() > 1) {
    std::cout << "\n";
    PrintRows(count_rows);
    for (const auto& region : out["regions"]) {
      for (auto it = region["conflicts"].begin(); it != region["conflicts"].end(); ++it) {
        if (it.value()["recent"].empty()) continue;
        std::cout << "recent conflicts in " << region["name"].get<std::string>() << ", table " << it.key()
                  << " (newest last):\n";
        for (const auto& c : it.value()["recent"]) {
          std::cout << "  " << Cell(c["time"]) << "  key " << Cell(c["key"]) << "  lost "
                    << VersionText(c["loser"]) << (c["loser_was_delete"] == true ? " (a delete)" : "") << "  won "
                    << VersionText(c["winner"]) << "\n";
        }
      }
    }
  }
  for (const std::string& note : replication_notes) std::cout << note << "\n";
  std::cout.flush();
}

}  // namespace

int CmdStatus(const Args& args, const RegionCommandContext& context) {
  if (!args.positional().empty()) return UsageError("status takes no positional arguments");
  const std::chrono::milliseconds timeout = context.timeout.value_or(kDefaultStatusTimeout);
  int64_t recent_max = kDefaultRecentConflicts;
  if (args.Get("conflicts")) {
    std::optional<int64_t> n = IntArg(args, "conflicts");
    if (!n || *n < 0) return UsageError("--conflicts takes a number of recent conflicts to show (0 or more)");
    recent_max = *n;
  }

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
      // A facility that did not answer its status is not asked again: one timeout per facility.
      if (answer.status.ok()) answer.replication = AskReplicationStatus(client);
    });
  }
  for (std::thread& t : threads) t.join();

  ojson out = {{"schema_version", 1}, {"regions", ojson::array()}};
  std::vector<std::string> replication_notes;
  bool any_down = false, any_error = false;
  size_t next = 0;
  for (const topology::Region* region : regions) {
    std::vector<const FacilityAnswer*> mine;
    ojson facilities = ojson::array();
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
    std::string why_none;
    const ReplicationStatusResponse* replication = RegionReplication(mine, leader, &why_none);
    if (replication == nullptr) {
      replication_notes.push_back(region->name + ": no replication status (" + why_none + ")");
    }
    out["regions"].push_back({{"name", region->name},
                              {"leader", leader ? ojson(leader->facility) : ojson(nullptr)},
                              {"facilities", std::move(facilities)},
                              {"replication", ReplicationJson(replication, region->name)},
                              {"conflicts", ConflictsJson(replication, static_cast<size_t>(recent_max))}});
  }
  if (args.Has("json")) {
    // Keys of conflicts are user data: a string that is not UTF-8 is replaced, not fatal.
    std::cout << out.dump(args.Has("pretty") ? 2 : -1, ' ', false, ojson::error_handler_t::replace) << std::endl;
  } else {
    PrintTable(out, replication_notes);
  }
  if (any_down) return kExitUnreachable;
  return any_error ? kExitApiError : kExitOk;
}

}  // namespace meridian::cli
