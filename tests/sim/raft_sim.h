// A deterministic simulator for the Raft core (region/raft.h), in the manner of TigerBeetle's
// VOPR and ScyllaDB's raft nemesis test.
//
// One run drives 3 to 5 real raft::Raft instances through logical ticks. Everything random comes
// from one seed, so a run replays exactly from its seed. The simulated world:
//   - network: every message is delayed 1..max_delay_ticks (which reorders them), may be lost or
//     duplicated, and partitions split the nodes into two sides until they heal (bounded);
//   - disk, per node: the node writes a Ready's snapshot, entries and hard state, then fsyncs,
//     then sends the Ready's messages. A crash discards whatever was written but not fsync'd and
//     the node restarts from what was, with fresh volatile state;
//   - clients propose entries to whoever they think leads, throughout; the application compacts
//     its log into snapshots now and then, so lagging nodes get InstallSnapshot.
// After `fault_ticks` the faults stop (partitions heal, crashed nodes restart, no loss) and the
// liveness checker starts its clock.
//
// Checkers (thesis Figure 3.2 properties):
//   - election safety: at most one leader per term;
//   - log matching: two persisted entries with the same index and term are identical and follow
//     the same previous term (which by induction makes the logs identical up to there);
//   - leader completeness: a leader's log holds every entry applied anywhere before it took office;
//   - state-machine safety: no two nodes apply different entries at one index;
//   - liveness: after the faults stop, a leader is elected and a new entry is applied on every
//     voter of its configuration within `liveness_ticks`.
//
// Thread-safety: RunSimulation is a pure function of its options.
#pragma once

#include <cstdint>
#include <string>

#include "region/raft.h"

namespace meridian::sim {

struct SimOptions {
  uint64_t seed = 1;
  int nodes = 0;  // 3..5; 0 picks from the seed
  int fault_ticks = 250;
  int liveness_ticks = 250;
  int max_delay_ticks = 3;
  double loss = 0.05;
  double duplicate = 0.03;
  double partition_per_tick = 0.01;
  int partition_ticks_max = 40;
  double crash_per_tick = 0.004;  // per node
  int down_ticks_max = 30;
  double crash_before_fsync = 0.002;  // per Ready: written but not fsync'd when the crash hits
  // A pause (SIGSTOP, a long GC, a VM stall): the node neither ticks nor processes anything, and
  // messages to it wait; then it resumes with the state it had, believing what it believed.
  double pause_per_tick = 0.006;  // per node
  int pause_ticks_max = 60;
  double propose_per_tick = 0.4;
  // Each tick, every node that believes it leads starts a ReadIndex read with this probability.
  double read_per_tick = 0.3;
  double transfer_per_tick = 0.005;
  int compact_after_entries = 24;
  // Membership: one more node than `nodes` starts outside the configuration, and the leader adds
  // or removes one voter at a time (keeping 3 to 5 voters).
  double conf_change_per_tick = 0.01;  // a node compacts once this many applied entries are in its log
  raft::TestingBug bug = raft::TestingBug::kNone;
  bool verbose = false;  // prints a trace to stderr (for replaying a seed)
};

struct SimResult {
  bool ok = true;
  std::string checker;  // which checker failed: "election safety", "log matching", ...
  std::string detail;
  int64_t tick = 0;     // when it failed
  int nodes = 0;
  uint64_t entries_applied = 0;  // distinct indexes applied somewhere
  uint64_t leaders = 0;          // distinct (term, leader) pairs seen
  uint64_t crashes = 0;
  uint64_t pauses = 0;
  uint64_t snapshots_installed = 0;
  uint64_t conf_changes = 0;  // accepted proposals
  uint64_t reads_served = 0;  // ReadIndex answers checked by the read checker
  // With a planted bug: the first internal invariant the core found broken (it records instead of
  // aborting then). Informational; the checkers above decide ok.
  std::string core_violation;
};

SimResult RunSimulation(const SimOptions& options);

}  // namespace meridian::sim
