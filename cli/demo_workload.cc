// `meridian demo --workload`: see cli/demo_workload.h.
#include "cli/demo_workload.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <cstdio>
#include <iostream>
#include <latch>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "meridian/client.h"
#include "meridian/region_client.h"
#include "topology/topology.h"

namespace meridian::cli {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;

constexpr char kTable[] = "demo-workload";
constexpr char kKey[] = "pk";
constexpr char kRunAttribute[] = "run";        // the run's id: an earlier run's item never counts
constexpr char kWriterAttribute[] = "writer";  // the region that wrote the item

// DynamoDB's limit of keys in one BatchGetItem.
constexpr size_t kBatchGetKeys = 100;
// A reader's pause between two rounds: the resolution of the measured lag, at a load (a few
// hundred small reads a second) that a 2-core machine running the whole demo takes in its stride.
constexpr auto kReadInterval = 10ms;
constexpr auto kSetupInterval = 200ms;
// One call of a writer or of the setup, retries included (a region still electing its leader).
constexpr auto kWriteDeadline = 20s;
// One call of a reader: short, so that a reader notices soon that its time is up.
constexpr auto kReadDeadline = 5s;
// After the contended keys agree everywhere, until every region has applied everything the
// others wrote, so that the losing writes still in flight are counted as conflicts too.
constexpr auto kSettleTimeout = 10s;
constexpr size_t kConflictExamples = 3;
constexpr size_t kMissingShown = 5;

void Say(const std::string& line) { std::cout << "meridian demo: workload: " << line << std::endl; }
void Row(const std::string& line) { std::cout << "  " << line << std::endl; }

std::string Seconds(Clock::duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", std::chrono::duration<double>(d).count());
  return buf;
}

std::string Millis(Clock::duration d) {
  double ms = std::chrono::duration<double, std::milli>(d).count();
  char buf[32];
  std::snprintf(buf, sizeof buf, ms < 10 ? "%.1f ms" : "%.0f ms", ms);
  return buf;
}

std::string Join(const std::vector<std::string>& parts, const std::string& sep = ", ") {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

std::string Padded(const std::string& s, size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

std::string OwnedKey(const std::string& region, int i) { return region + "-" + std::to_string(i); }
std::string ContendedKey(int i) { return "contended-" + std::to_string(i); }

std::string StringAttribute(const Item& item, const std::string& name) {
  auto it = item.find(name);
  return it != item.end() && it->second.type() == AttributeType::kS ? it->second.s() : std::string();
}

RegionClient MakeClient(const topology::Region& region, const Credentials& credentials,
                        std::chrono::milliseconds deadline) {
  RegionClientOptions options;
  options.region = region;
  options.credentials = credentials;
  options.deadline = deadline;
  return RegionClient(std::move(options));
}

Result<ReplicationStatusResponse> AskReplicationStatus(RegionClient& client) {
  Result<Response> r = client.Call(Request(ReplicationStatusRequest{}));
  if (!r.ok()) return r.status();
  if (auto* status = std::get_if<ReplicationStatusResponse>(&r.value())) return std::move(*status);
  return Status::Internal("ReplicationStatus was answered with another response");
}

std::string_view ReplicaStatusName(ReplicaStatus s) {
  switch (s) {
    case ReplicaStatus::kCreating: return "CREATING";
    case ReplicaStatus::kCreationFailed: return "CREATION_FAILED";
    case ReplicaStatus::kUpdating: return "UPDATING";
    case ReplicaStatus::kDeleting: return "DELETING";
    case ReplicaStatus::kActive: return "ACTIVE";
  }
  return "?";
}

}  // namespace

// The table in the first region, with every region as a replica, ACTIVE in every region (a write
// to a region whose replica is not there yet would be refused). See cli/demo_workload.h.
Status SetUpGlobalTable(std::vector<RegionClient>& clients, const topology::Topology& t,
                        const CreateTableRequest& create, Clock::time_point deadline,
                        const std::function<void(const std::string&)>& say) {
  RegionClient& first = clients.front();
  const std::string& first_name = t.regions.front().name;
  const std::string& table = create.table_name;
  // A table left by an earlier run is reused.
  if (auto r = first.CreateTable(create); !r.ok() && r.status().code() != ErrorCode::kResourceInUse) {
    return Status(r.status().code(), "creating " + table + " in " + first_name + ": " +
                                         r.status().ToString());
  }
  bool replicas_requested = false;
  std::string waiting_for;
  for (;;) {
    auto d = first.DescribeTable({create.table_name});
    if (!d.ok()) {
      return Status(d.status().code(), "describing " + table + " in " + first_name + ": " +
                                           d.status().ToString());
    }
    const TableDescription& described = d->table;
    if (described.key_schema != create.key_schema) {
      return Status::Validation("the table " + table + " in " + first_name +
                                " has another key schema than the one asked for; delete it and run again");
    }
    std::vector<std::string> missing, pending;
    if (t.regions.size() > 1) {
      for (const auto& region : t.regions) {
        auto it = std::find_if(described.replicas.begin(), described.replicas.end(),
                               [&](const ReplicaDescription& r) { return r.region_name == region.name; });
        if (it == described.replicas.end()) {
          missing.push_back(region.name);
        } else if (it->replica_status != ReplicaStatus::kActive) {
          pending.push_back(region.name + " " + std::string(ReplicaStatusName(it->replica_status)));
        }
      }
    }
    if (described.table_status == TableStatus::kActive && missing.empty() && pending.empty()) break;
    if (described.table_status == TableStatus::kActive && !missing.empty() && !replicas_requested) {
      UpdateTableRequest update;
      update.table_name = table;
      std::vector<std::string> added;
      for (const auto& name : missing) {
        // The table's own region becomes a replica by itself once there is another one.
        if (name == first_name) continue;
        update.replica_updates.push_back({.create = name});
        added.push_back(name);
      }
      if (auto u = first.Call(Request(update)); !u.ok()) {
        return Status(u.status().code(), "adding " + Join(added) + " as replicas of " + table + ": " +
                                             u.status().ToString());
      }
      replicas_requested = true;
      say("added " + Join(added) + (added.size() == 1 ? " as a replica" : " as replicas") +
          " (UpdateTable ReplicaUpdates); waiting for every replica to be ACTIVE");
    }
    for (auto& m : missing) m += " missing";
    missing.insert(missing.end(), pending.begin(), pending.end());
    waiting_for = missing.empty() ? "the table " + table + " to be ACTIVE" : Join(missing);
    if (Clock::now() > deadline) {
      return Status(ErrorCode::kTimeout, "the replicas of " + table + " are not all ACTIVE in time (" +
                                             waiting_for + ")");
    }
    std::this_thread::sleep_for(kSetupInterval);
  }
  // Every replica is ACTIVE as the first region sees it; each region's own table must exist too.
  for (size_t r = 1; r < t.regions.size(); ++r) {
    for (;;) {
      auto d = clients[r].DescribeTable({create.table_name});
      if (d.ok() && d->table.table_status == TableStatus::kActive) break;
      if (!d.ok() && d.status().code() != ErrorCode::kResourceNotFound) {
        return Status(d.status().code(), "describing " + table + " in " + t.regions[r].name + ": " +
                                             d.status().ToString());
      }
      if (Clock::now() > deadline) {
        return Status(ErrorCode::kTimeout, "the replica of " + table + " in " + t.regions[r].name +
                                               " is not there in time");
      }
      std::this_thread::sleep_for(kSetupInterval);
    }
  }
  return Status::Ok();
}

namespace {

PutItemRequest Put(const std::string& key, const std::string& run, const std::string& writer) {
  PutItemRequest put;
  put.table_name = kTable;
  put.item = Item{{kKey, AttributeValue::S(key)},
                  {kRunAttribute, AttributeValue::S(run)},
                  {kWriterAttribute, AttributeValue::S(writer)}};
  return put;
}

// One region's writes: its own keys one after the other (each acknowledgement timed), then, once
// every region is there, the contended keys. Stops at the first write that fails.
struct Writes {
  std::vector<std::optional<Clock::time_point>> acked;  // per owned key
  Status error;
};

void WriteRegion(RegionClient& client, const std::string& region, const std::string& run, int owned, int contended,
                 std::latch& together, Writes& out) {
  out.acked.assign(static_cast<size_t>(owned), std::nullopt);
  for (int i = 0; i < owned && out.error.ok(); ++i) {
    std::string key = OwnedKey(region, i);
    auto r = client.PutItem(Put(key, run, region));
    if (r.ok()) {
      out.acked[static_cast<size_t>(i)] = Clock::now();
    } else {
      out.error = Status(r.status().code(), "writing " + key + " in " + region + ": " + r.status().ToString());
    }
  }
  // Every region writes the contended keys at the same moment, so that the writes overlap.
  together.arrive_and_wait();
  for (int i = 0; i < contended && out.error.ok(); ++i) {
    auto r = client.PutItem(Put(ContendedKey(i), run, region));
    if (!r.ok()) {
      out.error = Status(r.status().code(), "writing " + ContendedKey(i) + " in " + region + ": " +
                                                r.status().ToString());
    }
  }
}

// What one region read of the other regions' keys: when each was first seen with this run's id.
struct Arrivals {
  std::vector<std::optional<Clock::time_point>> seen;  // per key of `keys`, this region's own unused
  Status last_error;
};

// Polls (eventually consistent BatchGetItem) every key not owned by region `self` until all have
// arrived or the time in `stop_at` (steady clock ticks) passes.
void ReadRegion(RegionClient& client, size_t self, const std::vector<std::string>& keys,
                const std::vector<size_t>& owner, const std::string& run, const std::atomic<Clock::rep>& stop_at,
                Arrivals& out) {
  out.seen.assign(keys.size(), std::nullopt);
  std::map<std::string, size_t> index;
  std::vector<size_t> pending;
  for (size_t k = 0; k < keys.size(); ++k) {
    if (owner[k] == self) continue;
    index[keys[k]] = k;
    pending.push_back(k);
  }
  while (!pending.empty() && Clock::now().time_since_epoch().count() <= stop_at.load()) {
    for (size_t from = 0; from < pending.size(); from += kBatchGetKeys) {
      BatchGetItemRequest get;
      KeysAndAttributes& wanted = get.request_items[kTable];
      for (size_t k = from; k < std::min(pending.size(), from + kBatchGetKeys); ++k) {
        wanted.keys.push_back(Item{{kKey, AttributeValue::S(keys[pending[k]])}});
      }
      auto r = client.BatchGetItem(get);
      auto now = Clock::now();
      if (!r.ok()) {
        out.last_error = r.status();
        continue;
      }
      auto items = r->responses.find(kTable);
      if (items == r->responses.end()) continue;
      for (const Item& item : items->second) {
        if (StringAttribute(item, kRunAttribute) != run) continue;  // an earlier run's, or not yet
        auto it = index.find(StringAttribute(item, kKey));
        if (it != index.end() && !out.seen[it->second]) out.seen[it->second] = now;
      }
    }
    std::erase_if(pending, [&](size_t k) { return out.seen[k].has_value(); });
    if (!pending.empty()) std::this_thread::sleep_for(kReadInterval);
  }
}

// The contended keys as every region holds them (strongly consistent reads), until all regions
// hold the same item of this run for every key or `deadline` passes. [region][key].
std::vector<std::vector<std::optional<Item>>> ReadContended(std::vector<RegionClient>& clients, int contended,
                                                            const std::string& run, Clock::time_point deadline,
                                                            bool* agreed) {
  std::vector<std::vector<std::optional<Item>>> held(clients.size());
  for (;;) {
    for (size_t r = 0; r < clients.size(); ++r) {
      held[r].assign(static_cast<size_t>(contended), std::nullopt);
      BatchGetItemRequest get;
      KeysAndAttributes& wanted = get.request_items[kTable];
      wanted.consistent_read = true;
      for (int i = 0; i < contended; ++i) wanted.keys.push_back(Item{{kKey, AttributeValue::S(ContendedKey(i))}});
      auto got = clients[r].BatchGetItem(get);
      if (!got.ok()) continue;
      for (const Item& item : got->responses[kTable]) {
        std::string key = StringAttribute(item, kKey);
        for (int i = 0; i < contended; ++i) {
          if (key == ContendedKey(i)) held[r][static_cast<size_t>(i)] = item;
        }
      }
    }
    *agreed = true;
    for (size_t i = 0; i < static_cast<size_t>(contended); ++i) {
      const std::optional<Item>& first = held[0][i];
      if (!first || StringAttribute(*first, kRunAttribute) != run) {
        *agreed = false;
        continue;
      }
      for (size_t r = 1; r < clients.size(); ++r) *agreed = *agreed && held[r][i] == first;
    }
    if (*agreed || Clock::now() > deadline) return held;
    std::this_thread::sleep_for(kSetupInterval);
  }
}

}  // namespace

// Every region's ReplicationStatus, once every region has applied all that the others had written
// (each cursor at its source's head) or `deadline` passed (`*settled` false). A region that does
// not answer is left out.
std::vector<std::optional<ReplicationStatusResponse>> SettledReplicationStatus(std::vector<RegionClient>& clients,
                                                                               const topology::Topology& t,
                                                                               Clock::time_point deadline,
                                                                               bool* settled) {
  std::vector<std::optional<ReplicationStatusResponse>> status(clients.size());
  for (;;) {
    for (size_t r = 0; r < clients.size(); ++r) {
      auto s = AskReplicationStatus(clients[r]);
      status[r] = s.ok() ? std::optional(std::move(s.value())) : std::nullopt;
    }
    *settled = true;
    for (size_t d = 0; d < clients.size(); ++d) {
      for (size_t s = 0; s < clients.size(); ++s) {
        if (s == d) continue;
        if (!status[d] || !status[s]) {
          *settled = false;
          continue;
        }
        auto lag = std::find_if(status[d]->lag.begin(), status[d]->lag.end(),
                                [&](const ReplicationLag& l) { return l.source == t.regions[s].name; });
        *settled = *settled && lag != status[d]->lag.end() && lag->cursor >= status[s]->head_seq;
      }
    }
    if (*settled || Clock::now() > deadline) return status;
    std::this_thread::sleep_for(kSetupInterval);
  }
}

namespace {

uint64_t ConflictCount(const std::optional<ReplicationStatusResponse>& status) {
  if (!status) return 0;
  auto it = status->conflicts.find(kTable);
  return it == status->conflicts.end() ? 0 : it->second.count;
}

int OneRegion(RegionClient& client, const topology::Region& region, const std::string& run, int owned,
              Clock::time_point started) {
  for (int i = 0; i < owned; ++i) {
    if (auto r = client.PutItem(Put(OwnedKey(region.name, i), run, region.name)); !r.ok()) {
      Say("FAILED: writing " + OwnedKey(region.name, i) + ": " + r.status().ToString());
      return kExitFailed;
    }
  }
  int read = 0;
  for (int i = 0; i < owned; ++i) {
    GetItemRequest get;
    get.table_name = kTable;
    get.key = Item{{kKey, AttributeValue::S(OwnedKey(region.name, i))}};
    get.consistent_read = true;
    auto r = client.GetItem(get);
    if (r.ok() && r->item && StringAttribute(*r->item, kRunAttribute) == run) ++read;
  }
  if (read != owned) {
    Say("FAILED: read back " + std::to_string(read) + " of the " + std::to_string(owned) + " items written");
    return kExitFailed;
  }
  Say("one region (" + region.name + "): nothing to replicate; wrote " + std::to_string(owned) +
      " items and read them back (done in " + Seconds(Clock::now() - started) + ")");
  return kExitOk;
}

}  // namespace

int RunDemoWorkload(const DemoWorkloadOptions& options) {
  const auto started = Clock::now();
  const int64_t started_wall_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  topology::ParseOptions parse;
  parse.check_data_parents = false;  // the demo's nodes made them; the workload only dials
  Result<topology::Topology> loaded = topology::LoadTopology(options.topology.string(), parse);
  if (!loaded.ok()) {
    Say("FAILED: " + loaded.status().message());
    return kExitFailed;
  }
  const topology::Topology& t = loaded.value();
  Result<Credentials> credentials = LoadSharedCredentials(options.credentials.string(), "meridian");
  if (!credentials.ok()) {
    Say("FAILED: " + credentials.status().message());
    return kExitFailed;
  }
  const size_t regions = t.regions.size();
  const int owned = options.items_per_region;
  const int contended = options.contended_keys;
  char run[16];
  std::snprintf(run, sizeof run, "%08x", static_cast<unsigned>(std::random_device{}()));

  std::vector<RegionClient> writers, readers;
  for (const auto& region : t.regions) {
    writers.push_back(MakeClient(region, *credentials, kWriteDeadline));
    readers.push_back(MakeClient(region, *credentials, kReadDeadline));
  }
  Say("run " + std::string(run) + ": table " + kTable + " in " + t.regions.front().name +
      (regions > 1 ? " with every region as a replica" : ""));
  CreateTableRequest create;
  create.table_name = kTable;
  create.key_schema = {{kKey, KeyType::kHash}};
  create.attribute_definitions = {{kKey, AttributeType::kS}};
  create.billing_mode = BillingMode::kPayPerRequest;
  if (Status st = SetUpGlobalTable(writers, t, create, Clock::now() + options.setup_timeout, Say); !st.ok()) {
    Say("FAILED: " + st.ToString());
    return kExitFailed;
  }
  if (regions == 1) return OneRegion(writers.front(), t.regions.front(), run, owned, started);

  std::vector<uint64_t> conflicts_before(regions);
  for (size_t r = 0; r < regions; ++r) {
    auto s = AskReplicationStatus(readers[r]);
    conflicts_before[r] = s.ok() ? ConflictCount(s.value()) : 0;
  }
  std::vector<std::string> keys;
  std::vector<size_t> owner;
  for (size_t r = 0; r < regions; ++r) {
    for (int i = 0; i < owned; ++i) {
      keys.push_back(OwnedKey(t.regions[r].name, i));
      owner.push_back(r);
    }
  }
  Say("writing " + std::to_string(owned) + " items in each of " + std::to_string(regions) + " regions, then " +
      std::to_string(contended) + " keys written by every region at once; reading them in every other region");

  // Readers first, so that an item arriving while the others are still written is seen at once.
  std::atomic<Clock::rep> stop_at{Clock::time_point::max().time_since_epoch().count()};
  std::vector<Arrivals> arrivals(regions);
  std::vector<Writes> writes(regions);
  {
    std::vector<std::jthread> threads;
    for (size_t r = 0; r < regions; ++r) {
      threads.emplace_back([&, r] { ReadRegion(readers[r], r, keys, owner, run, stop_at, arrivals[r]); });
    }
    std::latch together(static_cast<std::ptrdiff_t>(regions));
    {
      std::vector<std::jthread> writing;
      for (size_t r = 0; r < regions; ++r) {
        writing.emplace_back(
            [&, r] { WriteRegion(writers[r], t.regions[r].name, run, owned, contended, together, writes[r]); });
      }
    }
    bool all_written = std::all_of(writes.begin(), writes.end(), [](const Writes& w) { return w.error.ok(); });
    stop_at = (all_written ? Clock::now() + options.arrival_timeout : Clock::now()).time_since_epoch().count();
  }
  bool failed = false;
  for (const Writes& w : writes) {
    if (!w.error.ok()) {
      Say("FAILED: " + w.error.message());
      failed = true;
    }
  }
  if (failed) return kExitFailed;

  // Per (source -> destination): how many arrived, and the lag of those that did.
  std::vector<std::string> pairs;
  for (size_t s = 0; s < regions; ++s) {
    for (size_t d = 0; d < regions; ++d) {
      if (s != d) pairs.push_back(t.regions[s].name + " -> " + t.regions[d].name);
    }
  }
  size_t width = std::string("SOURCE -> DESTINATION").size();
  for (const auto& p : pairs) width = std::max(width, p.size());
  Say("arrivals (eventually consistent reads in the destination; lag from the write's acknowledgement):");
  Row(Padded("SOURCE -> DESTINATION", width) + "  ARRIVED  LAG P50   LAG MAX");
  std::vector<std::string> missing_report;
  size_t pair = 0;
  for (size_t s = 0; s < regions; ++s) {
    for (size_t d = 0; d < regions; ++d) {
      if (s == d) continue;
      std::vector<Clock::duration> lags;
      std::vector<std::string> missing;
      for (size_t k = 0; k < keys.size(); ++k) {
        if (owner[k] != s) continue;
        const auto& seen = arrivals[d].seen[k];
        const auto& acked = writes[s].acked[k - s * static_cast<size_t>(owned)];
        if (!seen) {
          missing.push_back(keys[k]);
        } else if (acked) {
          // Seen before the writer had its acknowledgement in hand: no lag to speak of.
          lags.push_back(std::max<Clock::duration>(*seen - *acked, Clock::duration::zero()));
        }
      }
      std::sort(lags.begin(), lags.end());
      std::string arrived = std::to_string(static_cast<size_t>(owned) - missing.size()) + "/" + std::to_string(owned);
      std::string p50 = lags.empty() ? "-" : Millis(lags[(lags.size() - 1) / 2]);
      std::string max = lags.empty() ? "-" : Millis(lags.back());
      Row(Padded(pairs[pair++], width) + "  " + Padded(arrived, 7) + "  " + Padded(p50, 8) + "  " + max);
      if (!missing.empty()) {
        std::vector<std::string> shown(missing.begin(), missing.begin() + std::min(missing.size(), kMissingShown));
        missing_report.push_back(t.regions[s].name + " -> " + t.regions[d].name + ": " + Join(shown) +
                                 (missing.size() > shown.size() ? ", ..." : "") + " (" +
                                 std::to_string(missing.size()) + " of " + std::to_string(owned) + ")");
        if (!arrivals[d].last_error.ok()) missing_report.back() += "; last read error: " + arrivals[d].last_error.ToString();
      }
    }
  }
  if (!missing_report.empty()) {
    Say("FAILED: items still missing " + Seconds(options.arrival_timeout) + " after the last write:");
    for (const auto& m : missing_report) Row(m);
    Say("see `meridian status --topology " + options.topology.string() + "` (replication lag per source) and " +
        "the replicators' logs");
    return kExitFailed;
  }

  // The contended keys: every region ends with the same item.
  bool agreed = false;
  auto held = ReadContended(writers, contended, run, Clock::now() + options.arrival_timeout, &agreed);
  std::vector<std::string> region_names;
  for (const auto& region : t.regions) region_names.push_back(region.name);
  if (agreed) {
    Say("contended keys (written by every region at once), as every region now holds them:");
    for (int i = 0; i < contended; ++i) {
      Row(ContendedKey(i) + "  " + StringAttribute(*held[0][static_cast<size_t>(i)], kWriterAttribute) +
          "'s write, identical in " + Join(region_names));
    }
  } else {
    Say("FAILED: the regions do not agree on the contended keys after " + Seconds(options.arrival_timeout) + ":");
    for (int i = 0; i < contended; ++i) {
      std::vector<std::string> views;
      for (size_t r = 0; r < regions; ++r) {
        const auto& item = held[r][static_cast<size_t>(i)];
        views.push_back(t.regions[r].name + ": " +
                        (!item ? std::string("no item")
                         : StringAttribute(*item, kRunAttribute) != run
                             ? std::string("an earlier run's item")
                             : StringAttribute(*item, kWriterAttribute) + "'s write"));
      }
      Row(ContendedKey(i) + "  " + Join(views));
    }
    return kExitFailed;
  }

  // The conflicts this run made, once every losing write has reached every region.
  bool settled = false;
  auto status = SettledReplicationStatus(readers, t, Clock::now() + kSettleTimeout, &settled);
  uint64_t total = 0;
  std::vector<std::string> per_region;
  std::vector<std::string> examples;
  std::set<std::string> shown_keys;
  for (size_t r = 0; r < regions; ++r) {
    if (!status[r]) {
      per_region.push_back(t.regions[r].name + " ?");
      continue;
    }
    uint64_t count = ConflictCount(status[r]);
    count = count >= conflicts_before[r] ? count - conflicts_before[r] : count;
    total += count;
    per_region.push_back(t.regions[r].name + " " + std::to_string(count));
    auto table = status[r]->conflicts.find(kTable);
    if (table == status[r]->conflicts.end()) continue;
    // One example per region: its newest conflict of this run on a key not shown yet.
    const auto& recent = table->second.recent;
    auto newest = std::find_if(recent.rbegin(), recent.rend(), [&](const ConflictRecord& c) {
      return c.time_ms >= started_wall_ms && !shown_keys.contains(StringAttribute(c.key, kKey));
    });
    if (newest != recent.rend()) {
      shown_keys.insert(StringAttribute(newest->key, kKey));
      examples.push_back(StringAttribute(newest->key, kKey) + " (resolved in " + t.regions[r].name + "): won by " +
                         newest->winner.origin + ", over " + newest->loser.origin + "'s write");
    }
  }
  Say("conflicts resolved by last-writer-wins in this run: " + std::to_string(total) + " (" + Join(per_region) + ")" +
      (settled ? "" : "; replication was still catching up, so more may follow (see `meridian status`)"));
  if (examples.size() > kConflictExamples) examples.resize(kConflictExamples);
  for (const auto& e : examples) Row(e);
  if (total == 0) {
    Row("none this time: each region saw the others' writes of the contended keys before writing its own");
  }
  Say("done in " + Seconds(Clock::now() - started) + ": every item arrived in every region, and every region "
      "holds the same contended items");
  return kExitOk;
}

}  // namespace meridian::cli
