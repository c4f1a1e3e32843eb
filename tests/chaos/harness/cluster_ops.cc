#include "tests/chaos/harness/cluster_ops.h"

#include <thread>

#include "meridian/region_client.h"
#include "proto/node.h"

namespace meridian::chaos {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

RegionClient ClientOf(const ClusterAccess& c, const std::string& region, std::chrono::milliseconds deadline) {
  RegionClientOptions o;
  o.region = *c.topology.FindRegion(region);
  o.credentials = c.credentials;
  o.attempt_timeout = std::min<std::chrono::milliseconds>(deadline, 2000ms);
  o.deadline = deadline;
  return RegionClient(std::move(o));
}

Status NoRegion(const std::string& region) { return Status::Validation("no region '" + region + "'"); }

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

Result<std::string> FindLeader(const ClusterAccess& c, const std::string& region, std::chrono::milliseconds timeout) {
  if (!c.topology.FindRegion(region)) return NoRegion(region);
  RegionClient client = ClientOf(c, region, timeout);
  Result<std::string> leader = client.FindLeader();
  if (!leader.ok()) return leader.status();
  return topology::ProcessName(region, leader.value());
}

Result<proto::NodeStatus> FacilityStatus(const Credentials& credentials, const topology::Facility& facility) {
  ClientOptions o;
  o.endpoint = facility.NativeEndpoint();
  o.timeout = 1000ms;
  o.fail_fast = true;
  o.credentials = credentials;
  return Client(o).NodeStatus();
}

Status WaitRegionHealthy(const ClusterAccess& c, const std::string& region, std::chrono::milliseconds timeout,
                         uint64_t max_behind) {
  const topology::Region* r = c.topology.FindRegion(region);
  if (!r) return NoRegion(region);
  auto deadline = Clock::now() + timeout;
  std::string why;
  do {
    std::vector<proto::NodeStatus> statuses;
    why.clear();
    for (const topology::Facility& f : r->facilities) {
      Result<proto::NodeStatus> s = FacilityStatus(c.credentials, f);
      if (!s.ok()) {
        why += f.name + ": " + s.status().ToString() + "; ";
        continue;
      }
      statuses.push_back(s.value());
    }
    // Each facility's own view, for a report when the region does not become healthy.
    std::string views;
    for (const auto& s : statuses) {
      views += s.facility + ": " + s.role + " term " + std::to_string(s.term) + " leader '" + s.leader_facility +
               "' commit " + std::to_string(s.commit_index) + " applied " + std::to_string(s.applied_index) +
               " last " + std::to_string(s.last_index) + "; ";
    }
    if (statuses.size() == r->facilities.size()) {
      const proto::NodeStatus* leader = nullptr;
      for (const auto& s : statuses) {
        if (s.role == "leader") leader = &s;
      }
      if (!leader) {
        why = "no leader";
      } else {
        for (const auto& s : statuses) {
          if (s.leader_facility != leader->facility) why += s.facility + " names leader '" + s.leader_facility + "'; ";
        }
        if (leader->members.size() != r->facilities.size()) {
          why += "the leader counts " + std::to_string(leader->members.size()) + " voters; ";
        }
        for (const auto& m : leader->members) {
          if (m.match_index + max_behind < leader->last_index) {
            why += m.facility + " is at " + std::to_string(m.match_index) + " of " + std::to_string(leader->last_index) + "; ";
          }
        }
      }
    }
    if (why.empty()) return Status::Ok();
    why += "(" + views + ")";
    std::this_thread::sleep_for(200ms);
  } while (Clock::now() < deadline);
  return Status(ErrorCode::kServiceUnavailable, "region " + region + " not healthy: " + why);
}

Status TransferLeader(const ClusterAccess& c, const std::string& region, const std::string& facility) {
  if (!c.topology.FindRegion(region)) return NoRegion(region);
  RegionClient client = ClientOf(c, region, 10s);
  proto::NodeAdminArgs args;
  args.facility = facility;
  return client.NodeAdmin(proto::NodeOp::kTransferLeader, args).status();
}

Status CreateGlobalTable(const ClusterAccess& c, const std::string& table, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  auto left = [&] {
    return std::max(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()), 1000ms);
  };
  const std::string& first = c.topology.regions.front().name;
  {
    RegionClient client = ClientOf(c, first, left());
    CreateTableRequest create;
    create.table_name = table;
    create.key_schema = {{"k", KeyType::kHash}};
    create.attribute_definitions = {{"k", AttributeType::kS}};
    create.billing_mode = BillingMode::kPayPerRequest;
    Result<CreateTableResponse> r = client.CreateTable(create);
    if (!r.ok() && r.status().code() != ErrorCode::kResourceInUse) return r.status();
  }
  if (c.topology.regions.size() > 1) {
    RegionClient client = ClientOf(c, first, left());
    UpdateTableRequest update;
    update.table_name = table;
    for (size_t i = 1; i < c.topology.regions.size(); ++i) {
      update.replica_updates.push_back(ReplicaUpdate{c.topology.regions[i].name, std::nullopt});
    }
    Result<Response> r = client.Call(Request{update});
    if (!r.ok()) return Status(r.status().code(), "UpdateTable ReplicaUpdates: " + r.status().message());
  }
  for (const topology::Region& region : c.topology.regions) {
    std::string last;
    for (;;) {
      RegionClient client = ClientOf(c, region.name, 3000ms);
      Result<DescribeTableResponse> d = client.DescribeTable(DescribeTableRequest{table});
      if (d.ok()) {
        size_t active = 0;
        last = "";
        for (const auto& rep : d->table.replicas) {
          last += rep.region_name + "=" + std::to_string(static_cast<int>(rep.replica_status)) + " ";
          if (rep.replica_status == ReplicaStatus::kActive) ++active;
        }
        bool done = c.topology.regions.size() == 1 ? d->table.table_status == TableStatus::kActive
                                                   : active == c.topology.regions.size();
        if (done) break;
      } else {
        last = d.status().ToString();
      }
      if (Clock::now() >= deadline) {
        return Status(ErrorCode::kServiceUnavailable, "table " + table + " not ACTIVE everywhere in " + region.name +
                                                          " (replicas: " + last + ")");
      }
      std::this_thread::sleep_for(200ms);
    }
  }
  return Status::Ok();
}

Result<Contents> ReadContents(const ClusterAccess& c, const std::string& region, const std::string& table) {
  if (!c.topology.FindRegion(region)) return NoRegion(region);
  RegionClient client = ClientOf(c, region, 10s);
  Contents out;
  ScanRequest scan;
  scan.table_name = table;
  scan.consistent_read = true;
  constexpr int kMaxPages = 10000;  // far beyond the workload's key spaces
  for (int page = 0; page < kMaxPages; ++page) {
    Result<ScanResponse> r = client.Scan(scan);
    if (!r.ok()) return r.status();
    for (const Item& item : r->items) {
      auto k = item.find("k");
      if (k == item.end() || !k->second.is(AttributeType::kS)) continue;
      std::vector<std::string>& tokens = out[k->second.s()];
      auto v = item.find("v");
      if (v == item.end() || !v->second.is(AttributeType::kL)) continue;
      for (const AttributeValue& t : v->second.l()) tokens.push_back(t.is(AttributeType::kS) ? t.s() : "?");
    }
    if (!r->last_evaluated_key) return out;
    scan.exclusive_start_key = r->last_evaluated_key;
  }
  return Status::Internal("scan of " + table + " in " + region + " did not end within " + std::to_string(kMaxPages) +
                          " pages");
}

Quiescence WaitQuiescent(const ClusterAccess& c, const std::string& table, std::chrono::milliseconds timeout) {
  Quiescence q;
  auto start = Clock::now();
  auto deadline = start + timeout;
  constexpr auto kSettled = 10s;
  std::map<std::string, Contents> settled;  // contents that differ, and since when unchanged
  auto settled_since = start;
  for (;;) {
    q.detail.clear();
    // Each region's head and its cursors of the others.
    std::map<std::string, ReplicationStatusResponse> status;
    for (const topology::Region& region : c.topology.regions) {
      RegionClient client = ClientOf(c, region.name, 3000ms);
      Result<Response> r = client.Call(Request{ReplicationStatusRequest{}});
      if (!r.ok()) {
        q.detail += region.name + ": ReplicationStatus " + r.status().ToString() + "; ";
        continue;
      }
      status[region.name] = std::get<ReplicationStatusResponse>(r.value());
    }
    if (status.size() == c.topology.regions.size()) {
      for (const auto& [to, s] : status) {
        for (const auto& [from, other] : status) {
          if (from == to) continue;
          uint64_t cursor = 0;
          for (const ReplicationLag& lag : s.lag) {
            if (lag.source == from) cursor = lag.cursor;
          }
          if (cursor < other.head_seq) {
            q.detail += to + " has " + from + " up to " + std::to_string(cursor) + " of " +
                        std::to_string(other.head_seq) + "; ";
          }
        }
      }
    }
    if (q.detail.empty()) {
      q.contents.clear();
      for (const topology::Region& region : c.topology.regions) {
        Result<Contents> contents = ReadContents(c, region.name, table);
        if (!contents.ok()) {
          q.detail += region.name + ": Scan " + contents.status().ToString() + "; ";
          continue;
        }
        q.contents[region.name] = std::move(contents).value();
      }
      if (q.detail.empty()) {
        bool same = true;
        for (const auto& [region, contents] : q.contents) same = same && contents == q.contents.begin()->second;
        if (same) {
          q.converged = true;
          q.seconds = Seconds(Clock::now() - start);
          return q;
        }
        q.detail = "cursors caught up but the contents differ";
        // Nothing is in flight and nothing changes: waiting longer cannot make them converge.
        if (q.contents != settled) {
          settled = q.contents;
          settled_since = Clock::now();
        } else if (Clock::now() - settled_since >= kSettled) {
          q.detail += " (and stayed so for " + std::to_string(kSettled.count()) + " s)";
          q.seconds = Seconds(Clock::now() - start);
          return q;
        }
      }
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(300ms);
  }
  q.seconds = Seconds(Clock::now() - start);
  // Not converged: read what each region holds now, for the checker to name the difference.
  q.contents.clear();
  for (const topology::Region& region : c.topology.regions) {
    Result<Contents> contents = ReadContents(c, region.name, table);
    if (contents.ok()) q.contents[region.name] = std::move(contents).value();
  }
  return q;
}

}  // namespace meridian::chaos
