// A deterministic simulation of global-table replication across 3 regions, in the manner of the
// Raft simulator (raft_sim.h): the real shipping logic (replicator/shipper.h) against an
// in-memory model of each region, on a simulated network, driven by one seed.
//
// Each region has:
//   - a RegionModel (below): the region's side of the replication protocol exactly as
//     storage/operations.h ("Global tables") documents it: a change stream of local writes, the
//     received cursors, ReplicationApply with its gap rule, cursor dedupe and the conflict rule
//     (conflict/version.h) per item with tombstones, ReadChanges, ReadTable pages and the pending
//     backfills. Local writes stamp versions as a region leader does: vv[self] + 1 over the local
//     version, hlc = max(HybridClock::Now(), old hlc + 1), with a per-region wall clock that has an
//     offset and may jump backwards; a leader change brings a new clock (another facility's), which
//     is restored to the highest timestamp committed;
//   - a replicator shell: a PeerShipper per peer region, polled every tick; reads of the own region
//     take 0..2 ticks and fail while the region changes leader; batches and acks cross the network.
// Faults while `fault_ms` lasts: messages lost, duplicated, delayed 1..delay_max_ms (so
// reordered); partitions between two regions; replicator restarts (its shippers are recreated:
// their state is lost, the region's is kept); connection resets (PeerShipper::Reset); leader
// changes (the region's reads, applies and records fail for a while); clock jumps. Local writes
// and deletes on a small key space happen in every region meanwhile, and with probability
// `add_region` the third region joins table "t2" (until then replicated by two regions only): each
// existing region adds it at some point of its own stream (a metadata change), which owes the new
// region a backfill from there, and the table is created in the new region.
// Then the faults stop and the run goes on until quiescent: no backfill owed anywhere and every
// region's cursor for every other region at the last change of that region's stream destined to
// it; then a little longer, for stray duplicates.
//
// Checkers:
//   - convergence: every replica of a table holds identical items and versions (and replica set);
//   - exactly-once effect: each change (source, seq, n) passes a region's cursor filter at most
//     once (counted in the model, checked as it happens);
//   - no loss: every local write is either the final value (same hlc and origin, same image), or
//     lost to the conflict rule: its vector is dominated by the final one and the final version
//     wins over it by (hlc, origin);
//   - liveness: quiescence within quiesce_bound_ms after the faults stop.
//
// Thread-safety: RunReplicatorSimulation is a pure function of its options.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "conflict/hlc.h"
#include "conflict/version.h"
#include "replicator/shipper.h"
#include "storage/operations.h"

namespace meridian::sim {

// Bugs the model can be built with, to show the checkers catch them. Testing only.
enum class ReplicationBug {
  kNone,
  kNoGapCheck,          // applies a batch whatever its after_seq (and moves the cursor)
  kNoCursorDedupe,      // merges changes at or below the cursor again
  kCursorWithoutMerge,  // now and then the cursor moves but the merge is lost (not one entry)
  kStampIgnoresOldHlc,  // a local write's hlc is the clock's alone, not above the version it replaces
};
const char* ReplicationBugName(ReplicationBug bug);

// One region's side of the replication protocol, in memory (see the file comment).
class RegionModel {
 public:
  struct Stored {
    Item key;
    conflict::Versioned<Item> state;
    int64_t time_ms = 0;
    bool operator==(const Stored&) const = default;
  };
  struct Table {
    std::set<std::string> replicas;
    std::map<std::string, Stored> items;  // by the key's "pk" string
  };
  struct StreamEntry {
    uint64_t seq = 0;
    std::set<std::string> destinations;
    std::vector<ReplicatedChange> changes;
  };
  // A change to write locally: the key's "pk" and the new image (nullopt: a delete).
  struct Write {
    std::string key;
    std::optional<Item> image;
  };

  RegionModel(std::string name, std::function<int64_t()> wall_ms, int64_t max_clock_offset_ms,
              ReplicationBug bug = ReplicationBug::kNone, uint64_t bug_seed = 0);

  const std::string& name() const { return name_; }

  // Tables.
  void CreateTable(const std::string& table, std::set<std::string> replicas);
  // UpdateTable adding `region` as a replica: one stream entry (a metadata change) destined to
  // every other replica, and a backfill owed to `region` from that entry. Returns its seq.
  uint64_t AddReplica(const std::string& table, const std::string& region, int64_t now_ms);
  bool HasTable(const std::string& table) const { return tables_.count(table) > 0; }
  const std::map<std::string, Table>& tables() const { return tables_; }

  // A local write of 1..3 changes to one table: one stream entry. Returns the changes as written
  // (with their versions).
  std::vector<ReplicatedChange> LocalWrite(const std::string& table, const std::vector<Write>& writes,
                                           int64_t now_ms);

  // The internal operations (storage/operations.h).
  ReplicationReadChangesResponse ReadChanges(const ReplicationReadChangesRequest& request) const;
  ReplicationApplyResponse Apply(const ReplicationApplyRequest& request, int64_t now_ms);
  // False when the table does not exist here.
  bool ReadTable(const ReplicationReadTableRequest& request, ReplicationReadTableResponse* out) const;
  void RecordBackfillDone(const std::string& table, const std::string& peer);

  // A leader change: the new leader's clock reads `wall_ms` and starts above every committed
  // timestamp.
  void ChangeLeader(std::function<int64_t()> wall_ms);

  uint64_t head_seq() const { return applied_index_; }
  uint64_t cursor(const std::string& source) const;
  const std::vector<StreamEntry>& stream() const { return stream_; }
  const std::vector<PendingBackfill>& backfills() const { return backfills_; }
  // The seq of the last stream entry destined to `peer` (0: none).
  uint64_t LastSeqFor(const std::string& peer) const;

  // Exactly-once accounting: the first change that passed the cursor filter twice, if any.
  const std::optional<std::string>& exactly_once_violation() const { return exactly_once_violation_; }
  // Anything else the model found impossible (a change for a table that does not exist).
  const std::optional<std::string>& model_violation() const { return model_violation_; }
  uint64_t conflicts() const { return conflicts_; }
  uint64_t clock_rejections() const { return clock_rejections_ + clock_.rejected(); }
  uint64_t merges_lost_to_bug() const { return merges_lost_to_bug_; }

 private:
  void MergeChange(const ReplicatedChange& change, int64_t now_ms, ReplicationApplyResponse* response);

  std::string name_;
  int64_t max_clock_offset_ms_;
  conflict::HybridClock clock_;
  uint64_t clock_rejections_ = 0;  // of the clocks replaced by leader changes
  uint64_t max_hlc_ = 0;           // the highest timestamp committed here
  ReplicationBug bug_;
  std::mt19937_64 bug_rng_;

  uint64_t applied_index_ = 0;  // the Raft index: every entry, local or replicated
  std::map<std::string, Table> tables_;
  std::vector<StreamEntry> stream_;
  std::map<std::string, uint64_t> cursors_;
  std::vector<PendingBackfill> backfills_;
  std::map<std::tuple<std::string, uint64_t, uint32_t>, uint32_t> passed_;
  std::optional<std::string> exactly_once_violation_;
  std::optional<std::string> model_violation_;
  uint64_t conflicts_ = 0;
  uint64_t merges_lost_to_bug_ = 0;
};

// Small bounds, so that credits, pipelining and paging are exercised by a few hundred writes.
inline replicator::ShipperOptions SimShipperOptions() {
  replicator::ShipperOptions o;
  o.max_batches_in_flight = 4;
  o.max_bytes_in_flight = 64 << 10;
  o.max_records_per_batch = 6;
  o.max_bytes_per_batch = 16 << 10;
  o.ack_timeout_ms = 300;
  o.heartbeat_ms = 100;
  o.table_page = 3;
  o.retry_ms = 20;
  return o;
}

struct ReplicatorSimOptions {
  uint64_t seed = 1;
  int64_t tick_ms = 5;
  int64_t fault_ms = 3000;
  int64_t quiesce_bound_ms = 20000;
  int64_t settle_ms = 300;  // after quiescence, for duplicates still on the wire
  int keys = 6;             // per table
  double write_per_tick = 0.12;  // per region
  double delete_fraction = 0.25;
  double add_region = 0.5;  // the third region joins "t2" mid-run
  // Network.
  int64_t delay_max_ms = 60;
  double loss = 0.08;
  double duplicate = 0.05;
  double partition_per_tick = 0.003;  // per region pair
  int64_t partition_ms_max = 800;
  // Replicators and regions.
  double restart_per_tick = 0.001;  // per region: the replicator process restarts
  int64_t down_ms_max = 300;
  double reset_per_tick = 0.001;  // per shipper: the connection is lost (Reset)
  double leader_change_per_tick = 0.0015;  // per region
  int64_t leader_change_ms_max = 400;
  // Clocks: every region's wall clock is off by up to clock_offset_ms_max, and jumps back by up to
  // clock_jump_ms_max now and then.
  int64_t clock_offset_ms_max = 150;
  double clock_jump_per_tick = 0.002;
  int64_t clock_jump_ms_max = 400;
  int64_t max_clock_offset_ms = 500;  // the HLC's bound on remote timestamps
  // The shippers' options; credits, batch and page sizes are drawn from the seed around these.
  replicator::ShipperOptions shipper = SimShipperOptions();
  ReplicationBug bug = ReplicationBug::kNone;
  bool verbose = false;  // a trace on stderr (for replaying a seed)

};

struct ReplicatorSimResult {
  bool ok = true;
  std::string checker;  // "convergence", "exactly-once", "no loss", "liveness", "model"
  std::string detail;
  int64_t time_ms = 0;  // when it failed
  bool region_added = false;
  int64_t quiesced_after_ms = 0;  // after the faults stopped
  uint64_t writes = 0;            // local changes written
  uint64_t batches_applied = 0;   // ReplicationApply calls that were not refused
  uint64_t gaps = 0;              // refused
  uint64_t conflicts = 0;
  uint64_t backfills_done = 0;
  uint64_t backfill_pages = 0;
  uint64_t go_backs = 0;
  uint64_t resent = 0;
  uint64_t restarts = 0;
  uint64_t resets = 0;
  uint64_t partitions = 0;
  uint64_t leader_changes = 0;
  uint64_t clock_rejections = 0;
  uint64_t merges_lost_to_bug = 0;
};

ReplicatorSimResult RunReplicatorSimulation(const ReplicatorSimOptions& options);

}  // namespace meridian::sim
