// The stored state of global tables (storage/engine.h, "Global tables"): how item versions,
// tombstones, cursors, knowledge, pending backfills and conflict records are laid out in the
// engine's column families. Pure encodings, no IO, so the layout is written down in one place.
//
//   versions CF   <item key>                       -> VersionRecord (msgpack)
//   region CF     "hlc"                            -> the region clock's last timestamp (8 bytes BE)
//                 "vv_counter"                     -> the region's last version counter (8 bytes BE)
//                 "head"                           -> the highest seq ever appended to the stream
//                 "trimmed"                        -> the last change key trimmed from the stream:
//                                                     every record at or below it is gone
//                 "clock_rejections"               -> remote timestamps beyond the max clock offset
//                 "cursor/<source>"                -> how far this region applied source's stream
//                 "knowledge/<source>"             -> source's received cursors (msgpack map)
//                 "lag/<source>"                   -> LagState (msgpack)
//                 "backfill/<peer>\0<table>"       -> PendingBackfill (msgpack)
//                 "behind/<peer>"                  -> the change_seq at which peer fell behind
//                 "tomb/<origin>\0<seq 8 BE><item key>" -> "" (tombstone index, for purge)
//                 "tomb_start/<origin>"            -> a seq: origin's index entries below it are gone
//                                                     (where the purge starts reading)
//                 "conflict_count/<table>"         -> conflicts lost in table (8 bytes BE)
//                 "conflict/<table>\0<n 8 BE>"      -> ConflictRecord (msgpack), the recent ones
//                 "floor/<table id 8 BE>"          -> VersionFloor (msgpack): above every purged
//                                                     tombstone of the table
//   catalog CF    "replication/tombstones", "replication/change_records": int64 counters
//                 (the catalog family's add-merge operator).
//
// Version counters: a local write sets vv[region] to the region's next write counter (one
// counter per region, persisted, never reused), not to the item's counter + 1. Both tick on every
// write to the item; the region-wide one also makes counters of different items comparable, which
// the floor below needs.
//
// Why a floor: once a region has purged an item's tombstone it no longer knows the item's vector,
// and a new write there would start from an empty one, so that a region still holding the
// tombstone would find the new write dominated (its counters reused) and drop it. A write to an
// item with no version starts from the table's floor instead (the pointwise max of the vectors of
// its purged tombstones, and their highest hlc), which dominates every purged tombstone: the new
// write then replaces the tombstone everywhere, with the same vector. With per-item counters a
// floor built from other items' counters could dominate a write it has never seen, and regions
// could end with different vectors; with region-wide counters a floor entry (R, c) means "has
// seen R's writes up to c" for every item, so at worst a write the floor covers is classified as
// superseded instead of concurrent, the same way in every region.
//
// Why a cut: a tombstone's state is not only the delete. Its vector also holds what it absorbed:
// concurrent writes it beat (or lost to, for the vector), local or remote. Purging it when every
// replica has the delete (origin, seq) is not enough: a region that purged it, then receives a
// later write that dominates the delete but not an absorbed loser, keeps that write's vector,
// while a region that still had the absorbed loser in flight ends with the larger one. Every write
// merged into the state was, when it was written here, at or below this region's position in its
// origin's stream: the cut. The tombstone is purged once every other replica region has applied
// every replica's stream up to the cut (as it reported with a batch that reached its head, so
// its own concurrent writes are already here): then every region holds everything the state
// absorbed, and any later write there dominates it.
//
// Region names are [a-z0-9-]+ and table names [a-zA-Z0-9_.-]+, so neither holds the '\0' that
// separates them from what follows.
//
// Thread-safety: value types and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/operations.h"
#include "storage/status.h"

namespace meridian::global {

// The version of an item or a tombstone, as the versions column family holds it.
struct VersionRecord {
  ItemVersion version;
  bool tombstone = false;
  uint64_t origin_seq = 0;  // tombstones: the delete's seq in its origin region's stream
  // Tombstones: how far this region had applied each region's stream (itself: its own entry)
  // when it last wrote this state; see "Why a cut".
  std::map<std::string, uint64_t> cut;
  MSGPACK_DEFINE_MAP(version, tombstone, origin_seq, cut);
};

// The floor of a table's new versions (see "Why a floor").
struct VersionFloor {
  std::map<std::string, uint64_t> vv;
  uint64_t hlc = 0;
  MSGPACK_DEFINE_MAP(vv, hlc);
};

// The replication lag from one source, plus what computing it needs next time.
struct LagState {
  ReplicationLag lag;
  int64_t newest_applied_time_ms = 0;  // time_ms of the newest change applied from source
  MSGPACK_DEFINE_MAP(lag, newest_applied_time_ms);
};

inline constexpr char kHlcKey[] = "hlc";
inline constexpr char kVersionCounterKey[] = "vv_counter";
inline constexpr char kHeadKey[] = "head";
inline constexpr char kTrimmedKey[] = "trimmed";
inline constexpr char kClockRejectionsKey[] = "clock_rejections";
inline constexpr char kCursorPrefix[] = "cursor/";
inline constexpr char kKnowledgePrefix[] = "knowledge/";
inline constexpr char kLagPrefix[] = "lag/";
inline constexpr char kBackfillPrefix[] = "backfill/";
inline constexpr char kBehindPrefix[] = "behind/";
inline constexpr char kTombPrefix[] = "tomb/";
inline constexpr char kTombStartPrefix[] = "tomb_start/";
inline constexpr char kConflictCountPrefix[] = "conflict_count/";
inline constexpr char kConflictPrefix[] = "conflict/";
inline constexpr char kFloorPrefix[] = "floor/";
inline constexpr char kTombstoneCountKey[] = "replication/tombstones";
inline constexpr char kChangeCountKey[] = "replication/change_records";

std::string EncodeBe64(uint64_t v);
// Zero when `b` is not 8 bytes.
uint64_t DecodeBe64(std::string_view b);

std::string CursorKey(const std::string& source);
std::string KnowledgeKey(const std::string& source);
std::string LagKey(const std::string& source);
std::string BackfillKey(const std::string& peer, const std::string& table);
// The prefix of every pending backfill owed to `peer`.
std::string BackfillPeerPrefix(const std::string& peer);
std::string BehindKey(const std::string& peer);
std::string TombKey(const std::string& origin, uint64_t origin_seq, std::string_view item_key);
// The prefix of every tombstone index entry of `origin`.
std::string TombOriginPrefix(const std::string& origin);
std::string TombStartKey(const std::string& origin);
struct TombKeyParts {
  std::string origin;
  uint64_t origin_seq = 0;
  std::string item_key;
};
bool ParseTombKey(std::string_view key, TombKeyParts* out);
std::string ConflictCountKey(const std::string& table);
std::string ConflictKey(const std::string& table, uint64_t n);
std::string ConflictTablePrefix(const std::string& table);
std::string FloorKey(uint64_t table_id);

// msgpack helpers for the stored records; decoding errors are InternalServerError (stored data).
template <typename T>
std::string Pack(const T& v) {
  msgpack::sbuffer buf;
  msgpack::pack(buf, v);
  return std::string(buf.data(), buf.size());
}
template <typename T>
Result<T> Unpack(std::string_view bytes, const char* what) {
  try {
    msgpack::object_handle h = msgpack::unpack(bytes.data(), bytes.size());
    T out;
    h.get().convert(out);
    return out;
  } catch (const std::exception& e) {
    return Status::Internal(std::string("stored ") + what + " does not decode: " + e.what());
  }
}

// A region name as UpdateTable and the replication operations accept it: 1 to 64 characters of
// [a-z0-9-]. Errors are DynamoDB-style ValidationExceptions naming `field`.
Status ValidateRegionName(const std::string& name, const std::string& field);

// The region names of a replica list.
std::vector<std::string> RegionsOf(const std::vector<ReplicaDescription>& replicas);

}  // namespace meridian::global
