// Item versions and the last-writer-wins merge rule of global tables (../shared/DESIGN.md, "The
// conflict rule").
//
// Every item version carries (vv, hlc, origin): a vector of per-region counters, the writing
// leader's hybrid logical timestamp (conflict/hlc.h) and the region that wrote it. When a version
// `r` arrives for an item whose local version is `l`:
//   - r.vv <= l.vv (dominated or equal): dropped, a stale or duplicate delivery;
//   - l.vv <  r.vv (dominates): applied;
//   - concurrent: the higher (hlc, origin) wins, and the loser is recorded as a conflict.
// The stored vector is the pointwise maximum of both. A delete is a version too (a tombstone).
//
// Why this converges whatever the delivery order: a region's leader folds every version it
// receives into its clock (HybridClock::Update) and ticks it for its own writes, so a version
// that causally follows another (dominates it in vv) also has a higher hlc. The merged state is
// then (pointwise-max vector, the (hlc, origin)-greatest write): the join of two semilattices,
// hence commutative, associative and idempotent. conflict_test.cc checks it on random histories.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace meridian::conflict {

using VersionVector = std::map<std::string, uint64_t>;  // region -> counter; absent = 0

enum class Order { kEqual, kBefore, kAfter, kConcurrent };
// How `a` relates to `b`: kBefore when a < b (b dominates), kAfter when a > b.
Order Compare(const VersionVector& a, const VersionVector& b);
VersionVector PointwiseMax(const VersionVector& a, const VersionVector& b);

struct Version {
  VersionVector vv;
  uint64_t hlc = 0;
  std::string origin;  // region that wrote it
  bool operator==(const Version&) const = default;
};

// (hlc, origin) order: which of two concurrent writes wins.
bool WinsOver(const Version& a, const Version& b);

// An item's replicated state in one region: its value (nullopt: a tombstone) and version.
template <typename Value>
struct Versioned {
  std::optional<Value> value;
  Version version;
  bool operator==(const Versioned&) const = default;
};

enum class MergeOutcome {
  kDropped,         // remote dominated or equal: nothing changes
  kApplied,         // remote dominates: it replaces the local state
  kConflictWon,     // concurrent, remote wins: applied, the local write is the loser
  kConflictLost,    // concurrent, local wins: only the vector moves; the remote write is the loser
};

template <typename Value>
struct MergeResult {
  Versioned<Value> state;
  MergeOutcome outcome = MergeOutcome::kDropped;
  std::optional<Version> loser;  // set for the two conflict outcomes
};

template <typename Value>
MergeResult<Value> Merge(const Versioned<Value>& local, const Versioned<Value>& remote) {
  MergeResult<Value> out;
  switch (Compare(remote.version.vv, local.version.vv)) {
    case Order::kEqual:
    case Order::kBefore:
      out.state = local;
      out.outcome = MergeOutcome::kDropped;
      return out;
    case Order::kAfter:
      out.state = remote;
      out.outcome = MergeOutcome::kApplied;
      return out;
    case Order::kConcurrent:
      break;
  }
  bool remote_wins = WinsOver(remote.version, local.version);
  out.state = remote_wins ? remote : local;
  out.state.version.vv = PointwiseMax(local.version.vv, remote.version.vv);
  out.outcome = remote_wins ? MergeOutcome::kConflictWon : MergeOutcome::kConflictLost;
  out.loser = remote_wins ? local.version : remote.version;
  return out;
}

}  // namespace meridian::conflict
