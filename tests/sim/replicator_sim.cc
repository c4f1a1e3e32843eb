#include "tests/sim/replicator_sim.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <memory>
#include <utility>

#include "storage/attribute_value.h"

namespace meridian::sim {

const char* ReplicationBugName(ReplicationBug bug) {
  switch (bug) {
    case ReplicationBug::kNone: return "None";
    case ReplicationBug::kNoGapCheck: return "NoGapCheck";
    case ReplicationBug::kNoCursorDedupe: return "NoCursorDedupe";
    case ReplicationBug::kCursorWithoutMerge: return "CursorWithoutMerge";
    case ReplicationBug::kStampIgnoresOldHlc: return "StampIgnoresOldHlc";
  }
  return "?";
}

namespace {

conflict::Version ToVersion(const ItemVersion& v) { return conflict::Version{v.vv, v.hlc, v.origin}; }
ItemVersion ToItemVersion(const conflict::Version& v) {
  ItemVersion out;
  out.vv = v.vv;
  out.hlc = v.hlc;
  out.origin = v.origin;
  return out;
}

Item KeyItem(const std::string& key) { return Item{{"pk", AttributeValue::S(key)}}; }

std::string KeyOf(const Item& key) {
  auto it = key.find("pk");
  return it != key.end() && it->second.is(AttributeType::kS) ? it->second.s() : std::string();
}

std::string Describe(const conflict::Version& v) {
  std::string s = "{vv=[";
  for (const auto& [r, n] : v.vv) s += r + ":" + std::to_string(n) + " ";
  if (!v.vv.empty()) s.pop_back();
  return s + "] hlc=" + std::to_string(conflict::HlcPhysicalMs(v.hlc)) + "." +
         std::to_string(conflict::HlcLogical(v.hlc)) + " origin=" + v.origin + "}";
}

std::string DescribeValue(const std::optional<Item>& image) {
  if (!image) return "(deleted)";
  auto it = image->find("val");
  return it != image->end() && it->second.is(AttributeType::kS) ? it->second.s() : "(item)";
}

uint64_t ChangeBytes(const ReplicatedChange& c) {
  return 48 + c.table.size() + ItemSize(c.key) + (c.image ? ItemSize(*c.image) : 0) + c.version.origin.size();
}

}  // namespace

// --- RegionModel --------------------------------------------------------------------------------

RegionModel::RegionModel(std::string name, std::function<int64_t()> wall_ms, int64_t max_clock_offset_ms,
                         ReplicationBug bug, uint64_t bug_seed)
    : name_(std::move(name)),
      max_clock_offset_ms_(max_clock_offset_ms),
      clock_(std::move(wall_ms), max_clock_offset_ms),
      bug_(bug),
      bug_rng_(bug_seed) {}

void RegionModel::CreateTable(const std::string& table, std::set<std::string> replicas) {
  tables_[table].replicas = std::move(replicas);
}

uint64_t RegionModel::AddReplica(const std::string& table, const std::string& region, int64_t now_ms) {
  Table& t = tables_.at(table);
  t.replicas.insert(region);
  StreamEntry e;
  e.seq = ++applied_index_;
  for (const std::string& r : t.replicas) {
    if (r != name_) e.destinations.insert(r);
  }
  ReplicatedChange c;
  c.seq = e.seq;
  c.n = 0;
  c.table = table;
  c.time_ms = now_ms;
  TableMeta meta;
  meta.table_name = table;
  meta.replicas.assign(t.replicas.begin(), t.replicas.end());
  meta.meta_hlc = clock_.Now();
  meta.meta_origin = name_;
  c.meta = std::move(meta);
  e.changes.push_back(std::move(c));
  stream_.push_back(std::move(e));
  PendingBackfill p;
  p.table = table;
  p.peer = region;
  p.after_seq = stream_.back().seq;
  backfills_.push_back(p);
  return p.after_seq;
}

std::vector<ReplicatedChange> RegionModel::LocalWrite(const std::string& table, const std::vector<Write>& writes,
                                                      int64_t now_ms) {
  Table& t = tables_.at(table);
  StreamEntry e;
  e.seq = ++applied_index_;
  for (const std::string& r : t.replicas) {
    if (r != name_) e.destinations.insert(r);
  }
  uint32_t n = 0;
  for (const Write& w : writes) {
    auto [it, inserted] = t.items.try_emplace(w.key);
    Stored& s = it->second;
    if (inserted) s.key = KeyItem(w.key);
    // A leader's stamp: its own counter one past the local version's, and a timestamp above both
    // its clock and the version it replaces (so a write that follows another wins over it, even
    // when this clock is behind the writer of that one).
    conflict::Version v;
    v.vv = s.state.version.vv;
    v.vv[name_] += 1;
    v.hlc = bug_ == ReplicationBug::kStampIgnoresOldHlc ? clock_.Now()
                                                        : std::max(clock_.Now(), s.state.version.hlc + 1);
    clock_.Restore(v.hlc);
    v.origin = name_;
    s.state.value = w.image;
    s.state.version = v;
    s.time_ms = now_ms;
    ReplicatedChange c;
    c.seq = e.seq;
    c.n = n++;
    c.table = table;
    c.key = s.key;
    c.image = w.image;
    c.version = ToItemVersion(v);
    c.time_ms = now_ms;
    e.changes.push_back(std::move(c));
  }
  stream_.push_back(std::move(e));
  return stream_.back().changes;
}

uint64_t RegionModel::cursor(const std::string& source) const {
  auto it = cursors_.find(source);
  return it == cursors_.end() ? 0 : it->second;
}

uint64_t RegionModel::LastSeqFor(const std::string& peer) const {
  for (auto it = stream_.rbegin(); it != stream_.rend(); ++it) {
    if (it->destinations.count(peer)) return it->seq;
  }
  return 0;
}

ReplicationReadChangesResponse RegionModel::ReadChanges(const ReplicationReadChangesRequest& request) const {
  ReplicationReadChangesResponse out;
  out.head_seq = applied_index_;
  out.last_seq = std::max(request.after_seq, uint64_t{0});
  // A bound on the entries looked at per read, as the engine must have one: skipped entries
  // cost a scan too.
  const uint64_t scan_limit = 4 * static_cast<uint64_t>(std::max<uint32_t>(request.max_records, 1));
  auto it = std::upper_bound(stream_.begin(), stream_.end(), request.after_seq,
                             [](uint64_t seq, const StreamEntry& e) { return seq < e.seq; });
  uint64_t records = 0, bytes = 0, scanned = 0;
  bool stopped = false;
  for (; it != stream_.end(); ++it) {
    if (it->destinations.count(request.peer)) {
      uint64_t entry_bytes = 0;
      for (const ReplicatedChange& c : it->changes) entry_bytes += ChangeBytes(c);
      // Never split an entry; a first entry goes even when it alone is over the limits.
      if (records > 0 && (records + it->changes.size() > request.max_records ||
                          bytes + entry_bytes > request.max_bytes)) {
        stopped = true;
        break;
      }
      out.changes.insert(out.changes.end(), it->changes.begin(), it->changes.end());
      records += it->changes.size();
      bytes += entry_bytes;
    }
    out.last_seq = it->seq;
    if (++scanned >= scan_limit) {
      stopped = std::next(it) != stream_.end();
      break;
    }
  }
  // Everything after after_seq was looked at: the answer covers up to the head, including the
  // indexes that are not in the stream (replicated writes from other regions).
  if (!stopped) out.last_seq = std::max(out.last_seq, applied_index_);
  out.at_head = out.last_seq == out.head_seq;
  if (out.at_head) out.cursors = cursors_;
  for (const PendingBackfill& p : backfills_) {
    if (p.peer == request.peer) out.backfills.push_back(p);
  }
  return out;
}

void RegionModel::MergeChange(const ReplicatedChange& change, int64_t now_ms, ReplicationApplyResponse* response) {
  if (change.meta) {
    // A table's metadata change: the replica set grows (the model never removes replicas).
    Table& t = tables_[change.table];
    for (const std::string& r : change.meta->replicas) t.replicas.insert(r);
    ++response->applied;
    return;
  }
  auto tit = tables_.find(change.table);
  if (tit == tables_.end()) {
    if (!model_violation_) {
      model_violation_ = name_ + " got a change of table " + change.table + " it does not have";
    }
    return;
  }
  clock_.Update(change.version.hlc);  // rejected (and counted) when too far ahead
  const std::string key = KeyOf(change.key);
  auto [it, inserted] = tit->second.items.try_emplace(key);
  Stored& s = it->second;
  if (inserted) s.key = change.key;
  conflict::Versioned<Item> remote{change.image, ToVersion(change.version)};
  conflict::MergeResult<Item> r = conflict::Merge(s.state, remote);
  switch (r.outcome) {
    case conflict::MergeOutcome::kDropped:
      ++response->dropped;
      break;
    case conflict::MergeOutcome::kApplied:
      ++response->applied;
      s.time_ms = change.time_ms;
      break;
    case conflict::MergeOutcome::kConflictWon:
      ++response->applied;
      ++response->conflicts;
      ++conflicts_;
      s.time_ms = change.time_ms;
      break;
    case conflict::MergeOutcome::kConflictLost:
      ++response->conflicts;
      ++conflicts_;
      break;
  }
  s.state = std::move(r.state);
  (void)now_ms;
}

ReplicationApplyResponse RegionModel::Apply(const ReplicationApplyRequest& request, int64_t now_ms) {
  ReplicationApplyResponse out;
  uint64_t& cursor = cursors_[request.source];
  if (request.backfill) {
    // Every item merged; the cursor is not the backfill's business.
    ++applied_index_;
    for (const ReplicatedChange& c : request.changes) MergeChange(c, now_ms, &out);
    out.cursor = cursor;
    return out;
  }
  if (request.after_seq > cursor && bug_ != ReplicationBug::kNoGapCheck) {
    out.cursor = cursor;
    out.gap = true;
    return out;
  }
  // One Raft entry: the changes past the cursor merged, and the cursor moved, together.
  ++applied_index_;
  const bool lose_merges = bug_ == ReplicationBug::kCursorWithoutMerge &&
                           std::uniform_real_distribution<double>(0, 1)(bug_rng_) < 0.1;
  for (const ReplicatedChange& c : request.changes) {
    if (c.seq <= cursor && bug_ != ReplicationBug::kNoCursorDedupe) {
      ++out.dropped;
      continue;
    }
    uint32_t& passes = passed_[{request.source, c.seq, c.n}];
    if (++passes > 1 && !exactly_once_violation_) {
      exactly_once_violation_ = "change (" + request.source + ", seq " + std::to_string(c.seq) + ", n " +
                                std::to_string(c.n) + ") passed " + name_ + "'s cursor filter " +
                                std::to_string(passes) + " times";
    }
    if (lose_merges) {
      ++merges_lost_to_bug_;
      continue;
    }
    MergeChange(c, now_ms, &out);
  }
  // The cursor never moves back: a duplicate of an old batch (or a probe, covering (0, 0]) leaves
  // it where it is. "The cursor becomes last_seq" in storage/operations.h is read as this.
  cursor = std::max(cursor, request.last_seq);
  out.cursor = cursor;
  return out;
}

bool RegionModel::ReadTable(const ReplicationReadTableRequest& request, ReplicationReadTableResponse* out) const {
  auto tit = tables_.find(request.table);
  if (tit == tables_.end()) return false;
  const auto& items = tit->second.items;
  auto it = request.exclusive_start ? items.upper_bound(*request.exclusive_start) : items.begin();
  const uint32_t limit = std::max<uint32_t>(request.limit, 1);
  out->items.clear();
  out->last_key.reset();
  for (; it != items.end() && out->items.size() < limit; ++it) {
    ReplicatedChange c;
    c.table = request.table;
    c.key = it->second.key;
    c.image = it->second.state.value;
    c.version = ToItemVersion(it->second.state.version);
    c.time_ms = it->second.time_ms;
    out->items.push_back(std::move(c));
  }
  if (it != items.end()) out->last_key = KeyOf(out->items.back().key);
  return true;
}

void RegionModel::RecordBackfillDone(const std::string& table, const std::string& peer) {
  std::erase_if(backfills_, [&](const PendingBackfill& p) { return p.table == table && p.peer == peer; });
}

void RegionModel::ChangeLeader(std::function<int64_t()> wall_ms) {
  clock_rejections_ += clock_.rejected();
  uint64_t floor = std::max(max_hlc_, clock_.last());
  max_hlc_ = floor;
  clock_ = conflict::HybridClock(std::move(wall_ms), max_clock_offset_ms_);
  clock_.Restore(floor);
}

// --- The simulation -----------------------------------------------------------------------------

namespace {

constexpr int64_t kEpochMs = 1'700'000'000'000;
constexpr int kRegions = 3;
// Table "t1" is replicated by all three from the start; "t2" by the first two, and the third may
// join it mid-run.
const std::array<std::string, kRegions> kNames = {"us-east", "eu-west", "ap-south"};
constexpr int kJoiner = 2;

enum class EventKind { kBatch, kAck, kStreamRead, kTableRead, kDoneRecord };

struct Event {
  EventKind kind = EventKind::kBatch;
  int64_t at = 0;
  uint64_t order = 0;  // random tie-break: reordering within a tick
  int from = 0;        // kBatch: sender -> receiver; kAck: receiver -> the shipper's region
  int to = 0;
  int peer = 0;        // local operations: the region `to` runs them for its shipper to `peer`
  uint64_t session = 0;
  uint64_t batch_id = 0;
  ReplicationApplyRequest batch;
  ReplicationApplyResponse ack;
  ReplicationReadChangesRequest read;
  ReplicationReadTableRequest table_read;
  std::string table;
};

struct ShipperSlot {
  std::unique_ptr<replicator::PeerShipper> shipper;
  uint64_t session = 0;  // tags its batches and local reads; a new shipper never sees the old ones
};

struct Region {
  std::unique_ptr<RegionModel> model;
  int64_t clock_offset_ms = 0;  // the leader's wall clock minus true time
  bool replicator_up = true;
  int64_t down_until = 0;
  int64_t leader_change_until = 0;
  std::map<int, ShipperSlot> shippers;  // by peer
};

struct WriteRecord {
  int region = 0;
  std::string table;
  std::string key;
  std::optional<Item> image;
  conflict::Version version;
  int64_t time_ms = 0;
};

class Simulation {
 public:
  explicit Simulation(const ReplicatorSimOptions& o) : o_(o), rng_(o.seed) {
    shipper_options_ = o_.shipper;
    // Bounds drawn from the seed: some runs have one batch in flight, some tiny pages, some a
    // byte credit that bites before the batch count does.
    shipper_options_.max_batches_in_flight = 1 + static_cast<uint32_t>(rng_() % 6);
    shipper_options_.max_records_per_batch = 1 + static_cast<uint32_t>(rng_() % 8);
    shipper_options_.table_page = 1 + static_cast<uint32_t>(rng_() % 5);
    if (rng_() % 3 == 0) shipper_options_.max_bytes_in_flight = 1200;
    if (rng_() % 3 == 0) shipper_options_.max_bytes_per_batch = 500;
    shipper_options_.ack_timeout_ms = o_.shipper.ack_timeout_ms / 2 + static_cast<int64_t>(rng_() % o_.shipper.ack_timeout_ms);
    for (int i = 0; i < kRegions; ++i) {
      Region& r = regions_[i];
      r.clock_offset_ms = RandomOffset();
      r.model = std::make_unique<RegionModel>(kNames[i], WallClock(i), o_.max_clock_offset_ms, o_.bug, rng_());
      r.model->CreateTable("t1", {kNames[0], kNames[1], kNames[2]});
      if (i != kJoiner) r.model->CreateTable("t2", {kNames[0], kNames[1]});
    }
    if (Chance(o_.add_region)) {
      add_at_ = static_cast<int64_t>(o_.fault_ms * (0.15 + 0.5 * Uniform()));
      second_add_at_ = add_at_ + static_cast<int64_t>(rng_() % 300);
      result_.region_added = true;
    }
    for (int i = 0; i < kRegions; ++i) StartReplicator(i);
    Trace("shippers: batches_in_flight=" + std::to_string(shipper_options_.max_batches_in_flight) +
          " bytes_in_flight=" + std::to_string(shipper_options_.max_bytes_in_flight) +
          " records_per_batch=" + std::to_string(shipper_options_.max_records_per_batch) +
          " bytes_per_batch=" + std::to_string(shipper_options_.max_bytes_per_batch) +
          " table_page=" + std::to_string(shipper_options_.table_page) +
          " ack_timeout_ms=" + std::to_string(shipper_options_.ack_timeout_ms) +
          (result_.region_added ? " joiner at t=" + std::to_string(add_at_) : ""));
  }

  ReplicatorSimResult Run() {
    for (now_ = 0; now_ < o_.fault_ms && result_.ok; now_ += o_.tick_ms) Step(/*faults=*/true);
    if (!result_.ok) return Finish();
    // The faults stop: links heal, replicators come back, leaders settle.
    faults_ = false;
    cut_until_ = {};
    for (int i = 0; i < kRegions; ++i) {
      regions_[i].leader_change_until = 0;
      if (!regions_[i].replicator_up) StartReplicator(i);
    }
    Trace("faults stop:" + States());
    const int64_t stop = now_;
    bool quiet = false;
    for (; now_ < stop + o_.quiesce_bound_ms && result_.ok; now_ += o_.tick_ms) {
      Step(false);
      if ((now_ - stop) % 500 == 0) Trace("catching up:" + States());
      if (Quiescent()) {
        quiet = true;
        break;
      }
    }
    if (!result_.ok) return Finish();
    if (!quiet) {
      Fail("liveness", "not quiescent " + std::to_string(o_.quiesce_bound_ms) +
                           " ms after the faults stopped:" + States());
      return Finish();
    }
    result_.quiesced_after_ms = now_ - stop;
    Trace("quiescent after " + std::to_string(result_.quiesced_after_ms) + " ms");
    for (const int64_t settle_end = now_ + o_.settle_ms; now_ < settle_end && result_.ok; now_ += o_.tick_ms) {
      Step(false);
    }
    if (result_.ok && !Quiescent()) Fail("liveness", "quiescence lost while settling:" + States());
    if (result_.ok) CheckConvergence();
    if (result_.ok) CheckNoLoss();
    return Finish();
  }

 private:
  bool Chance(double p) { return Uniform() < p; }
  double Uniform() { return std::uniform_real_distribution<double>(0, 1)(rng_); }
  int64_t RandomOffset() {
    return static_cast<int64_t>(rng_() % (2 * o_.clock_offset_ms_max + 1)) - o_.clock_offset_ms_max;
  }
  std::function<int64_t()> WallClock(int i) {
    return [this, i] { return kEpochMs + now_ + regions_[i].clock_offset_ms; };
  }
  RegionModel& Model(int i) { return *regions_[i].model; }
  bool LeaderChanging(int i) const { return now_ < regions_[i].leader_change_until; }
  bool Cut(int a, int b) const { return a != b && now_ < cut_until_[std::min(a, b)][std::max(a, b)]; }

  void Trace(const std::string& s) {
    if (o_.verbose) std::fprintf(stderr, "[t=%lld] %s\n", static_cast<long long>(now_), s.c_str());
  }

  void Fail(const std::string& checker, const std::string& detail) {
    if (!result_.ok) return;
    result_.ok = false;
    result_.checker = checker;
    result_.detail = detail;
    result_.time_ms = now_;
    Trace("FAIL " + checker + ": " + detail);
  }

  ReplicatorSimResult Finish() {
    for (int i = 0; i < kRegions; ++i) {
      for (auto& [p, slot] : regions_[i].shippers) Account(*slot.shipper);
      regions_[i].shippers.clear();
      result_.conflicts += Model(i).conflicts();
      result_.clock_rejections += Model(i).clock_rejections();
      result_.merges_lost_to_bug += Model(i).merges_lost_to_bug();
    }
    result_.writes = writes_.size();
    return result_;
  }

  void Account(const replicator::PeerShipper& s) {
    const auto& c = s.counters();
    result_.go_backs += c.go_backs;
    result_.resent += c.batches_resent;
    result_.backfill_pages += c.backfill_pages_sent;
    result_.backfills_done += c.backfills_done;
  }

  // --- Replicators -------------------------------------------------------------------------------

  void StartReplicator(int i) {
    Region& r = regions_[i];
    r.replicator_up = true;
    for (int p = 0; p < kRegions; ++p) {
      if (p == i) continue;
      ShipperSlot slot;
      slot.shipper = std::make_unique<replicator::PeerShipper>(kNames[i], kNames[p], shipper_options_);
      slot.session = ++sessions_;
      r.shippers[p] = std::move(slot);
    }
    Trace("replicator " + kNames[i] + " starts");
  }

  void StopReplicator(int i) {
    Region& r = regions_[i];
    for (auto& [p, slot] : r.shippers) Account(*slot.shipper);
    r.shippers.clear();
    r.replicator_up = false;
    r.down_until = now_ + static_cast<int64_t>(rng_() % (o_.down_ms_max + 1));
    ++result_.restarts;
    Trace("replicator " + kNames[i] + " restarts, down until " + std::to_string(r.down_until));
  }

  replicator::PeerShipper* Shipper(int region, int peer, uint64_t session) {
    Region& r = regions_[region];
    if (!r.replicator_up) return nullptr;
    auto it = r.shippers.find(peer);
    if (it == r.shippers.end() || it->second.session != session) return nullptr;
    return it->second.shipper.get();
  }

  // --- One tick ----------------------------------------------------------------------------------

  void Step(bool faults) {
    if (faults) InjectFaults();
    for (int i = 0; i < kRegions; ++i) {
      if (!regions_[i].replicator_up && now_ >= regions_[i].down_until) StartReplicator(i);
    }
    MaybeAddRegion();
    if (faults) LocalWrites();
    Deliver();
    if (!result_.ok) return;
    for (int i = 0; i < kRegions; ++i) {
      if (!regions_[i].replicator_up) continue;
      for (auto& [p, slot] : regions_[i].shippers) {
        std::vector<replicator::Action> actions = slot.shipper->Poll(now_);
        Perform(i, p, slot.session, actions);
      }
    }
  }

  void InjectFaults() {
    for (int a = 0; a < kRegions; ++a) {
      for (int b = a + 1; b < kRegions; ++b) {
        int64_t& until = cut_until_[a][b];
        if (until > 0 && now_ >= until) {
          until = 0;
          Trace("heal " + kNames[a] + " <-> " + kNames[b]);
        } else if (until == 0 && Chance(o_.partition_per_tick)) {
          until = now_ + 50 + static_cast<int64_t>(rng_() % o_.partition_ms_max);
          ++result_.partitions;
          Trace("partition " + kNames[a] + " <-> " + kNames[b] + " until " + std::to_string(until));
          // Half the time the shells notice the broken connection.
          if (Chance(0.5)) {
            ResetShipper(a, b);
            ResetShipper(b, a);
          }
        }
      }
    }
    for (int i = 0; i < kRegions; ++i) {
      Region& r = regions_[i];
      if (r.replicator_up && Chance(o_.restart_per_tick)) StopReplicator(i);
      if (!LeaderChanging(i) && Chance(o_.leader_change_per_tick)) {
        r.leader_change_until = now_ + 20 + static_cast<int64_t>(rng_() % o_.leader_change_ms_max);
        // The new leader is another facility, with a clock of its own.
        r.clock_offset_ms = RandomOffset();
        r.model->ChangeLeader(WallClock(i));
        ++result_.leader_changes;
        Trace("leader change in " + kNames[i] + " until " + std::to_string(r.leader_change_until));
      }
      if (Chance(o_.clock_jump_per_tick)) {
        int64_t jump = 1 + static_cast<int64_t>(rng_() % o_.clock_jump_ms_max);
        r.clock_offset_ms -= jump;
        Trace("clock of " + kNames[i] + " jumps back " + std::to_string(jump) + " ms");
      }
      for (auto& [p, slot] : r.shippers) {
        if (Chance(o_.reset_per_tick)) ResetShipper(i, p);
      }
    }
  }

  void ResetShipper(int region, int peer) {
    Region& r = regions_[region];
    if (!r.replicator_up) return;
    r.shippers.at(peer).shipper->Reset(now_);
    ++result_.resets;
    Trace("reset " + kNames[region] + " -> " + kNames[peer]);
  }

  void MaybeAddRegion() {
    // UpdateTable adds the joiner in the first region; the second learns of it a little later.
    // Each owes the joiner a backfill from that point of its own stream.
    if (add_at_ >= 0 && !added_first_ && now_ >= add_at_ && !LeaderChanging(0)) {
      added_first_ = true;
      uint64_t seq = Model(0).AddReplica("t2", kNames[kJoiner], now_);
      Model(kJoiner).CreateTable("t2", {kNames[0], kNames[1], kNames[2]});
      Trace("t2 gets replica " + kNames[kJoiner] + " at " + kNames[0] + " seq " + std::to_string(seq));
    }
    if (added_first_ && !added_second_ && now_ >= second_add_at_ && !LeaderChanging(1)) {
      added_second_ = true;
      uint64_t seq = Model(1).AddReplica("t2", kNames[kJoiner], now_);
      Trace("t2 gets replica " + kNames[kJoiner] + " at " + kNames[1] + " seq " + std::to_string(seq));
    }
  }

  void LocalWrites() {
    for (int i = 0; i < kRegions; ++i) {
      if (LeaderChanging(i) || !Chance(o_.write_per_tick)) continue;
      RegionModel& m = Model(i);
      std::string table = m.HasTable("t2") && Chance(0.5) ? "t2" : "t1";
      int count = 1 + static_cast<int>(rng_() % 3);
      std::vector<RegionModel::Write> writes;
      std::set<std::string> keys;
      for (int n = 0; n < count; ++n) {
        std::string key = "k" + std::to_string(rng_() % o_.keys);
        if (!keys.insert(key).second) continue;  // one change per key in an entry
        RegionModel::Write w;
        w.key = key;
        if (!Chance(o_.delete_fraction)) {
          w.image = Item{{"pk", AttributeValue::S(key)},
                         {"val", AttributeValue::S(kNames[i] + "#" + std::to_string(writes_.size() + n))}};
        }
        writes.push_back(std::move(w));
      }
      for (const ReplicatedChange& c : m.LocalWrite(table, writes, now_)) {
        WriteRecord rec;
        rec.region = i;
        rec.table = table;
        rec.key = KeyOf(c.key);
        rec.image = c.image;
        rec.version = ToVersion(c.version);
        rec.time_ms = now_;
        writes_.push_back(std::move(rec));
      }
    }
  }

  // --- Actions and events ------------------------------------------------------------------------

  int64_t LocalDelay() { return static_cast<int64_t>(rng_() % (2 * o_.tick_ms + 1)); }

  void Push(Event e) {
    e.order = rng_();
    auto key = std::make_pair(e.at, e.order);
    events_.emplace(key, std::move(e));
  }

  // Over the network: cut links and loss drop it, duplication sends it twice, each copy with its
  // own delay (so copies and messages overtake each other).
  void NetSend(Event e) {
    if (Cut(e.from, e.to)) return;
    if (faults_ && Chance(o_.loss)) return;
    int copies = faults_ && Chance(o_.duplicate) ? 2 : 1;
    for (int c = 0; c < copies; ++c) {
      Event copy = c + 1 < copies ? e : std::move(e);
      copy.at = now_ + 1 + static_cast<int64_t>(rng_() % o_.delay_max_ms);
      Push(std::move(copy));
    }
  }

  void Perform(int region, int peer, uint64_t session, std::vector<replicator::Action>& actions) {
    for (replicator::Action& a : actions) {
      Event e;
      e.from = region;
      e.to = region;
      e.peer = peer;
      e.session = session;
      e.at = now_ + LocalDelay();
      switch (a.kind) {
        case replicator::Action::Kind::kReadStream:
          e.kind = EventKind::kStreamRead;
          e.read = std::move(a.read);
          Push(std::move(e));
          break;
        case replicator::Action::Kind::kReadTable:
          e.kind = EventKind::kTableRead;
          e.table_read = std::move(a.table_read);
          e.table = e.table_read.table;
          Push(std::move(e));
          break;
        case replicator::Action::Kind::kBackfillDone:
          e.kind = EventKind::kDoneRecord;
          e.table = std::move(a.table);
          Push(std::move(e));
          break;
        case replicator::Action::Kind::kSend:
          e.kind = EventKind::kBatch;
          e.to = peer;
          e.batch_id = a.batch_id;
          e.batch = std::move(a.batch);
          NetSend(std::move(e));
          break;
      }
    }
  }

  // Everything due, in (time, random order) order.
  void Deliver() {
    while (!events_.empty() && events_.begin()->first.first <= now_ && result_.ok) {
      auto node = events_.extract(events_.begin());
      Handle(node.mapped());
    }
  }

  void Handle(Event& e) {
    switch (e.kind) {
      case EventKind::kStreamRead: {
        replicator::PeerShipper* s = Shipper(e.to, e.peer, e.session);
        if (!s) return;  // the replicator that asked is gone
        if (LeaderChanging(e.to)) {
          s->OnStreamReadFailed(now_);
        } else {
          s->OnStreamRead(Model(e.to).ReadChanges(e.read), now_);
        }
        return;
      }
      case EventKind::kTableRead: {
        replicator::PeerShipper* s = Shipper(e.to, e.peer, e.session);
        if (!s) return;
        ReplicationReadTableResponse page;
        if (LeaderChanging(e.to) || !Model(e.to).ReadTable(e.table_read, &page)) {
          s->OnTableReadFailed(e.table, now_);
        } else {
          s->OnTableRead(e.table, page, now_);
        }
        return;
      }
      case EventKind::kDoneRecord: {
        replicator::PeerShipper* s = Shipper(e.to, e.peer, e.session);
        if (!s) return;
        if (LeaderChanging(e.to)) {
          s->OnBackfillDoneRecorded(e.table, false, now_);
        } else {
          Model(e.to).RecordBackfillDone(e.table, kNames[e.peer]);
          ++backfills_recorded_;
          Trace("backfill of " + e.table + " from " + kNames[e.to] + " to " + kNames[e.peer] + " recorded");
          s->OnBackfillDoneRecorded(e.table, true, now_);
        }
        return;
      }
      case EventKind::kBatch: {
        // The receiving replicator submits it to its region and acks once committed; a region
        // without a leader commits nothing, and nothing is acked.
        if (Cut(e.from, e.to) || !regions_[e.to].replicator_up || LeaderChanging(e.to)) return;
        RegionModel& m = Model(e.to);
        ReplicationApplyResponse r = m.Apply(e.batch, now_);
        if (m.exactly_once_violation()) {
          Fail("exactly-once", *m.exactly_once_violation());
          return;
        }
        if (m.model_violation()) {
          Fail("model", *m.model_violation());
          return;
        }
        if (r.gap) {
          ++result_.gaps;
        } else {
          ++result_.batches_applied;
        }
        Event ack;
        ack.kind = EventKind::kAck;
        ack.from = e.to;
        ack.to = e.from;
        ack.session = e.session;
        ack.batch_id = e.batch_id;
        ack.ack = r;
        NetSend(std::move(ack));
        return;
      }
      case EventKind::kAck: {
        if (Cut(e.from, e.to)) return;
        if (replicator::PeerShipper* s = Shipper(e.to, e.from, e.session)) s->OnAck(e.batch_id, e.ack, now_);
        return;
      }
    }
  }

  // --- Checkers ----------------------------------------------------------------------------------

  bool Quiescent() {
    for (int i = 0; i < kRegions; ++i) {
      if (!Model(i).backfills().empty()) return false;
    }
    for (int src = 0; src < kRegions; ++src) {
      for (int dst = 0; dst < kRegions; ++dst) {
        if (src != dst && Model(dst).cursor(kNames[src]) < Model(src).LastSeqFor(kNames[dst])) return false;
      }
    }
    return true;
  }

  std::string States() {
    std::string s;
    for (int i = 0; i < kRegions; ++i) {
      const RegionModel& m = Model(i);
      s += " " + kNames[i] + "{head=" + std::to_string(m.head_seq()) + " cursors=";
      for (int p = 0; p < kRegions; ++p) {
        if (p != i) s += kNames[p] + ":" + std::to_string(m.cursor(kNames[p])) + "/" +
                         std::to_string(Model(p).LastSeqFor(kNames[i])) + " ";
      }
      s += "backfills=" + std::to_string(m.backfills().size());
      for (const auto& [p, slot] : regions_[i].shippers) {
        const auto& sh = *slot.shipper;
        s += " ->" + kNames[p] + "[acked=" + (sh.acked_cursor() ? std::to_string(*sh.acked_cursor()) : "?") +
             " pos=" + std::to_string(sh.read_position()) + " inflight=" + std::to_string(sh.batches_in_flight()) +
             " backfill=" + sh.backfill_in_progress().value_or("-") + "]";
      }
      s += "}";
    }
    return s;
  }

  void CheckConvergence() {
    std::set<std::string> tables;
    for (int i = 0; i < kRegions; ++i) {
      for (const auto& [name, t] : Model(i).tables()) tables.insert(name);
    }
    for (const std::string& table : tables) {
      int first = -1;
      for (int i = 0; i < kRegions && result_.ok; ++i) {
        if (!Model(i).HasTable(table)) continue;
        if (first < 0) {
          first = i;
          continue;
        }
        const RegionModel::Table& a = Model(first).tables().at(table);
        const RegionModel::Table& b = Model(i).tables().at(table);
        if (a.replicas != b.replicas) {
          Fail("convergence", table + ": replica sets differ between " + kNames[first] + " and " + kNames[i]);
          return;
        }
        std::set<std::string> keys;
        for (const auto& [k, v] : a.items) keys.insert(k);
        for (const auto& [k, v] : b.items) keys.insert(k);
        for (const std::string& k : keys) {
          auto ia = a.items.find(k), ib = b.items.find(k);
          auto show = [&](const auto& items, auto it) {
            return it == items.end() ? std::string("(absent)")
                                     : DescribeValue(it->second.state.value) + " " + Describe(it->second.state.version);
          };
          bool same = ia != a.items.end() && ib != b.items.end() && ia->second.state == ib->second.state;
          if (!same) {
            Fail("convergence", table + "/" + k + ": " + kNames[first] + " has " + show(a.items, ia) + ", " +
                                    kNames[i] + " has " + show(b.items, ib));
            return;
          }
        }
      }
    }
  }

  void CheckNoLoss() {
    for (const WriteRecord& w : writes_) {
      for (int i = 0; i < kRegions; ++i) {
        if (!Model(i).HasTable(w.table)) continue;
        const auto& items = Model(i).tables().at(w.table).items;
        auto it = items.find(w.key);
        std::string what = "write " + DescribeValue(w.image) + " " + Describe(w.version) + " of " + w.table + "/" +
                           w.key + " by " + kNames[w.region] + " at t=" + std::to_string(w.time_ms);
        if (it == items.end()) {
          Fail("no loss", what + " never reached " + kNames[i]);
          return;
        }
        const conflict::Version& f = it->second.state.version;
        conflict::Order order = conflict::Compare(w.version.vv, f.vv);
        bool covered = order == conflict::Order::kBefore || order == conflict::Order::kEqual;
        bool same_write = f.hlc == w.version.hlc && f.origin == w.version.origin;
        bool explained = same_write ? it->second.state.value == w.image : conflict::WinsOver(f, w.version);
        if (!covered || !explained) {
          Fail("no loss", what + " is not reflected in " + kNames[i] + ", which holds " +
                              DescribeValue(it->second.state.value) + " " + Describe(f));
          return;
        }
      }
    }
  }

  const ReplicatorSimOptions& o_;
  std::mt19937_64 rng_;
  replicator::ShipperOptions shipper_options_;
  ReplicatorSimResult result_;
  int64_t now_ = 0;
  bool faults_ = true;
  std::array<Region, kRegions> regions_;
  std::array<std::array<int64_t, kRegions>, kRegions> cut_until_{};
  std::multimap<std::pair<int64_t, uint64_t>, Event> events_;  // by (at, order)
  std::vector<WriteRecord> writes_;
  uint64_t sessions_ = 0;
  uint64_t backfills_recorded_ = 0;
  int64_t add_at_ = -1;
  int64_t second_add_at_ = -1;
  bool added_first_ = false;
  bool added_second_ = false;
};

}  // namespace

ReplicatorSimResult RunReplicatorSimulation(const ReplicatorSimOptions& options) {
  Simulation sim(options);
  return sim.Run();
}

}  // namespace meridian::sim
