#include "region/raft_storage.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <memory>

#define MSGPACK_NO_BOOST 1
#include <msgpack.hpp>

namespace meridian::region {
namespace {

// raft_log CF.
constexpr char kEntryPrefix = 'e';
constexpr char kEntryPrefixEnd[] = "f";  // the prefix successor of "e": every entry key sorts below
constexpr char kHardStateKey[] = "h";
constexpr char kSnapshotKey[] = "s";
constexpr char kNodeIdKey[] = "n";

// region CF.
constexpr char kAppliedKey[] = "applied_index";
constexpr char kRecordPrefix[] = "q/";
constexpr char kTimeIndexPrefix[] = "t/";
constexpr char kTimeIndexEnd[] = "t0";  // the prefix successor of "t/"
constexpr char kCountKey[] = "m/count";
constexpr char kSeqKey[] = "m/seq";
constexpr char kLowKey[] = "m/low";

void AppendU64(uint64_t v, std::string* out) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
std::string U64(uint64_t v) {
  std::string out;
  AppendU64(v, &out);
  return out;
}
uint64_t ReadU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

std::string EntryKey(uint64_t index) {
  std::string k(1, kEntryPrefix);
  AppendU64(index, &k);
  return k;
}
bool IsEntryKey(const rocksdb::Slice& k) { return k.size() == 9 && k[0] == kEntryPrefix; }

// The "t/" suffix of a record: time with its sign bit flipped (so RocksDB order is numeric order
// for negative times too), then the sequence number.
std::string TimeSuffix(int64_t time_ms, uint64_t seq) {
  std::string s;
  AppendU64(static_cast<uint64_t>(time_ms) ^ (uint64_t{1} << 63), &s);
  AppendU64(seq, &s);
  return s;
}
int64_t TimeOfSuffix(std::string_view suffix) {
  return static_cast<int64_t>(ReadU64(suffix.data()) ^ (uint64_t{1} << 63));
}

Status FromRocks(const rocksdb::Status& s) {
  if (s.ok()) return Status::Ok();
  return Status::Internal("storage error: " + s.ToString());
}

// msgpack output appended to a std::string.
struct StringSink {
  std::string* out;
  void write(const char* p, size_t n) { out->append(p, n); }
};

void PackBin(msgpack::packer<StringSink>& pk, std::string_view b) {
  pk.pack_bin(static_cast<uint32_t>(b.size()));
  pk.pack_bin_body(b.data(), static_cast<uint32_t>(b.size()));
}

std::string EncodeEntry(const raft::Entry& e) {
  std::string out;
  StringSink sink{&out};
  msgpack::packer<StringSink> pk(sink);
  pk.pack_array(4);
  pk.pack_uint64(e.term.value);
  pk.pack_uint64(e.index.value);
  pk.pack_uint8(static_cast<uint8_t>(e.type));
  PackBin(pk, e.data);
  return out;
}

std::string EncodeHardState(const raft::HardState& hs) {
  std::string out;
  StringSink sink{&out};
  msgpack::packer<StringSink> pk(sink);
  pk.pack_array(3);
  pk.pack_uint64(hs.term.value);
  pk.pack_uint64(hs.vote.value);
  pk.pack_uint64(hs.commit.value);
  return out;
}

std::string EncodeSnapshotMeta(raft::LogIndex index, raft::Term term, const std::vector<raft::NodeId>& voters) {
  std::string out;
  StringSink sink{&out};
  msgpack::packer<StringSink> pk(sink);
  pk.pack_array(3);
  pk.pack_uint64(index.value);
  pk.pack_uint64(term.value);
  pk.pack_array(static_cast<uint32_t>(voters.size()));
  for (raft::NodeId v : voters) pk.pack_uint64(v.value);
  return out;
}

std::string EncodeRecord(int64_t time_ms, uint64_t seq, std::string_view answer) {
  std::string out;
  StringSink sink{&out};
  msgpack::packer<StringSink> pk(sink);
  pk.pack_array(3);
  pk.pack_int64(time_ms);
  pk.pack_uint64(seq);
  PackBin(pk, answer);
  return out;
}

// Decoding: our own bytes, but checked as if they were not (a corrupt disk gives an error, never
// a crash). The limits keep a corrupt length from allocating much.
msgpack::object_handle Unpack(std::string_view bytes) {
  size_t offset = 0;
  msgpack::object_handle oh = msgpack::unpack(bytes.data(), bytes.size(), offset, nullptr, nullptr,
                                              msgpack::unpack_limit(1 << 20, 0, UINT32_MAX, UINT32_MAX, 0, 4));
  if (offset != bytes.size()) throw std::runtime_error("trailing bytes");
  return oh;
}

const msgpack::object* Array(const msgpack::object& o, uint32_t size) {
  if (o.type != msgpack::type::ARRAY || o.via.array.size != size) throw std::runtime_error("unexpected shape");
  return o.via.array.ptr;
}

uint64_t U64Of(const msgpack::object& o) {
  if (o.type != msgpack::type::POSITIVE_INTEGER) throw std::runtime_error("expected an unsigned integer");
  return o.via.u64;
}

std::string BinOf(const msgpack::object& o) {
  if (o.type != msgpack::type::BIN) throw std::runtime_error("expected binary");
  return std::string(o.via.bin.ptr, o.via.bin.size);
}

Result<raft::Entry> DecodeEntry(std::string_view bytes) {
  try {
    msgpack::object_handle oh = Unpack(bytes);
    const msgpack::object* a = Array(oh.get(), 4);
    raft::Entry e;
    e.term = raft::Term(U64Of(a[0]));
    e.index = raft::LogIndex(U64Of(a[1]));
    uint64_t type = U64Of(a[2]);
    if (type > static_cast<uint64_t>(raft::EntryType::kConfChange)) throw std::runtime_error("unknown entry type");
    e.type = static_cast<raft::EntryType>(type);
    e.data = BinOf(a[3]);
    return e;
  } catch (const std::exception& ex) {
    return Status::Internal(std::string("raft log: entry does not decode: ") + ex.what());
  }
}

Result<raft::HardState> DecodeHardState(std::string_view bytes) {
  try {
    msgpack::object_handle oh = Unpack(bytes);
    const msgpack::object* a = Array(oh.get(), 3);
    return raft::HardState{raft::Term(U64Of(a[0])), raft::NodeId(U64Of(a[1])), raft::LogIndex(U64Of(a[2]))};
  } catch (const std::exception& ex) {
    return Status::Internal(std::string("raft log: hard state does not decode: ") + ex.what());
  }
}

Result<raft::Snapshot> DecodeSnapshotMeta(std::string_view bytes) {
  try {
    msgpack::object_handle oh = Unpack(bytes);
    const msgpack::object* a = Array(oh.get(), 3);
    raft::Snapshot s;
    s.index = raft::LogIndex(U64Of(a[0]));
    s.term = raft::Term(U64Of(a[1]));
    if (a[2].type != msgpack::type::ARRAY) throw std::runtime_error("voters not an array");
    for (uint32_t i = 0; i < a[2].via.array.size; ++i) s.voters.emplace_back(U64Of(a[2].via.array.ptr[i]));
    return s;
  } catch (const std::exception& ex) {
    return Status::Internal(std::string("raft log: snapshot metadata does not decode: ") + ex.what());
  }
}

struct Record {
  int64_t time_ms = 0;
  uint64_t seq = 0;
  std::string answer;
};

Result<Record> DecodeRecord(std::string_view bytes) {
  try {
    msgpack::object_handle oh = Unpack(bytes);
    const msgpack::object* a = Array(oh.get(), 3);
    Record r;
    if (a[0].type == msgpack::type::POSITIVE_INTEGER) {
      if (a[0].via.u64 > static_cast<uint64_t>(INT64_MAX)) throw std::runtime_error("time out of range");
      r.time_ms = static_cast<int64_t>(a[0].via.u64);
    } else if (a[0].type == msgpack::type::NEGATIVE_INTEGER) {
      r.time_ms = a[0].via.i64;
    } else {
      throw std::runtime_error("time not an integer");
    }
    r.seq = U64Of(a[1]);
    r.answer = BinOf(a[2]);
    return r;
  } catch (const std::exception& ex) {
    return Status::Internal(std::string("request log: record does not decode: ") + ex.what());
  }
}

// A value read with Get: nullopt when absent.
Result<std::optional<std::string>> Read(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const rocksdb::Slice& key) {
  std::string value;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), cf, key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  MERIDIAN_RETURN_IF_ERROR(FromRocks(s));
  return std::optional<std::string>(std::move(value));
}

// An 8-byte big-endian integer; 0 when absent.
Result<uint64_t> ReadU64Key(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const rocksdb::Slice& key,
                            const char* what) {
  MERIDIAN_ASSIGN_OR_RETURN(std::optional<std::string> v, Read(db, cf, key));
  if (!v) return uint64_t{0};
  if (v->size() != 8) return Status::Internal(std::string("bad stored ") + what);
  return ReadU64(v->data());
}

// Takes back what was added to a caller's batch since construction, unless Keep() is called: an
// operation that fails part-way leaves the batch as it found it.
class SavePoint {
 public:
  explicit SavePoint(rocksdb::WriteBatch* batch) : batch_(batch) { batch_->SetSavePoint(); }
  ~SavePoint() {
    if (batch_ != nullptr) batch_->RollbackToSavePoint().PermitUncheckedError();
  }
  SavePoint(const SavePoint&) = delete;
  SavePoint& operator=(const SavePoint&) = delete;
  Status Keep() {
    rocksdb::WriteBatch* b = batch_;
    batch_ = nullptr;
    return FromRocks(b->PopSavePoint());
  }

 private:
  rocksdb::WriteBatch* batch_;
};

rocksdb::WriteOptions WriteOptionsWithSync(bool sync) {
  rocksdb::WriteOptions o;
  o.sync = sync;
  return o;
}

}  // namespace

// --- RaftStorage -----------------------------------------------------------------------------------

RaftStorage::RaftStorage(Engine* engine, bool sync)
    : sync_(sync), db_(engine->db()), log_(engine->cf(Cf::kRaftLog)), region_(engine->cf(Cf::kRegion)) {}

Result<raft::PersistedState> RaftStorage::Load() {
  raft::PersistedState out;
  MERIDIAN_ASSIGN_OR_RETURN(std::optional<std::string> hs, Read(db_, log_, kHardStateKey));
  if (hs) {
    MERIDIAN_ASSIGN_OR_RETURN(out.hard_state, DecodeHardState(*hs));
  }
  MERIDIAN_ASSIGN_OR_RETURN(std::optional<std::string> snap, Read(db_, log_, kSnapshotKey));
  if (snap) {
    MERIDIAN_ASSIGN_OR_RETURN(out.snapshot, DecodeSnapshotMeta(*snap));
  }

  uint64_t expected = out.snapshot.index.value + 1;
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper(kEntryPrefixEnd);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, log_));
  for (it->Seek(EntryKey(expected)); it->Valid(); it->Next()) {
    if (!IsEntryKey(it->key())) return Status::Internal("raft log: bad entry key");
    uint64_t index = ReadU64(it->key().data() + 1);
    if (index != expected) {
      return Status::Internal("raft log: hole after the snapshot: expected entry " + std::to_string(expected) +
                              ", found " + std::to_string(index));
    }
    MERIDIAN_ASSIGN_OR_RETURN(raft::Entry e, DecodeEntry(std::string_view(it->value().data(), it->value().size())));
    if (e.index.value != index) {
      return Status::Internal("raft log: entry " + std::to_string(index) + " stored under another index");
    }
    out.entries.push_back(std::move(e));
    ++expected;
  }
  MERIDIAN_RETURN_IF_ERROR(FromRocks(it->status()));
  if (!out.entries.empty()) {
    last_entry_ = out.entries.back().index.value;
  } else {
    last_entry_.reset();
  }
  return out;
}

Result<uint64_t> RaftStorage::LastStoredIndex() {
  if (last_entry_) return *last_entry_;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), log_));
  it->SeekForPrev(EntryKey(UINT64_MAX));
  uint64_t last = 0;
  if (it->Valid() && IsEntryKey(it->key())) last = ReadU64(it->key().data() + 1);
  MERIDIAN_RETURN_IF_ERROR(FromRocks(it->status()));
  last_entry_ = last;
  return last;
}

Status RaftStorage::Persist(const raft::Ready& ready) {
  if (ready.entries.empty() && !ready.hard_state) return Status::Ok();
  rocksdb::WriteBatch batch;
  if (!ready.entries.empty()) {
    uint64_t first = ready.entries.front().index.value;
    for (size_t i = 0; i < ready.entries.size(); ++i) {
      if (ready.entries[i].index.value != first + i) {
        return Status::Internal("raft storage: entries to persist are not contiguous");
      }
    }
    uint64_t new_last = ready.entries.back().index.value;
    MERIDIAN_ASSIGN_OR_RETURN(uint64_t stored_last, LastStoredIndex());
    // Entries first..new_last are overwritten by the puts below; a stored suffix beyond them
    // belongs to a log that conflicted and goes. In the common case (appending) there is none, and
    // no range tombstone is written.
    if (stored_last > new_last) {
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch.DeleteRange(log_, EntryKey(new_last + 1), EntryKey(stored_last + 1))));
    }
    for (const raft::Entry& e : ready.entries) {
      MERIDIAN_RETURN_IF_ERROR(FromRocks(batch.Put(log_, EntryKey(e.index.value), EncodeEntry(e))));
    }
  }
  if (ready.hard_state) {
    MERIDIAN_RETURN_IF_ERROR(FromRocks(batch.Put(log_, kHardStateKey, EncodeHardState(*ready.hard_state))));
  }
  // Only new entries and a new term or vote must be on disk before messages leave (a vote or an
  // append acknowledgement promises them). A hard state that changed only its commit index needs
  // no fsync (etcd's MustSync): a commit index lost in a crash is learned again from the leader,
  // and an apply that survived the crash was written after it in the same WAL, so it cannot
  // outlive it. Without this, every commit advance would cost an fsync of its own.
  bool must_sync = !ready.entries.empty();
  if (ready.hard_state &&
      (!synced_hs_ || synced_hs_->term != ready.hard_state->term || synced_hs_->vote != ready.hard_state->vote)) {
    must_sync = true;
  }
  rocksdb::Status s = db_->Write(WriteOptionsWithSync(sync_ && must_sync), &batch);
  if (!s.ok()) {
    last_entry_.reset();  // unknown: read it back next time
    return FromRocks(s);
  }
  if (!ready.entries.empty()) last_entry_ = ready.entries.back().index.value;
  if (ready.hard_state && must_sync) synced_hs_ = *ready.hard_state;
  return Status::Ok();
}

Status RaftStorage::Compact(raft::LogIndex index, raft::Term term, const std::vector<raft::NodeId>& voters) {
  rocksdb::WriteBatch batch;
  MERIDIAN_RETURN_IF_ERROR(FromRocks(batch.Put(log_, kSnapshotKey, EncodeSnapshotMeta(index, term, voters))));
  MERIDIAN_RETURN_IF_ERROR(FromRocks(batch.DeleteRange(log_, EntryKey(0), EntryKey(index.value + 1))));
  rocksdb::WriteOptions o;
  o.sync = false;  // see the header comment: a later synced write makes it durable
  rocksdb::Status s = db_->Write(o, &batch);
  if (!s.ok()) {
    last_entry_.reset();
    return FromRocks(s);
  }
  if (last_entry_ && *last_entry_ <= index.value) last_entry_ = 0;
  return Status::Ok();
}

void RaftStorage::AddInstallSnapshot(const raft::Snapshot& meta, const std::optional<raft::HardState>& hs,
                                     rocksdb::WriteBatch* batch) {
  // WriteBatch only fails these for a column family it does not know or sizes past 4 GB.
  batch->Put(log_, kSnapshotKey, EncodeSnapshotMeta(meta.index, meta.term, meta.voters)).PermitUncheckedError();
  batch->DeleteRange(log_, EntryKey(0), kEntryPrefixEnd).PermitUncheckedError();
  if (hs) batch->Put(log_, kHardStateKey, EncodeHardState(*hs)).PermitUncheckedError();
  last_entry_.reset();  // the caller writes the batch later (or not): read it back next time
}

Result<raft::LogIndex> RaftStorage::LoadApplied() {
  MERIDIAN_ASSIGN_OR_RETURN(uint64_t v, ReadU64Key(db_, region_, kAppliedKey, "applied index"));
  return raft::LogIndex(v);
}

void RaftStorage::SetApplied(raft::LogIndex index, rocksdb::WriteBatch* batch) {
  batch->Put(region_, kAppliedKey, U64(index.value)).PermitUncheckedError();
}

Result<uint64_t> RaftStorage::LoadNodeId() { return ReadU64Key(db_, log_, kNodeIdKey, "node id"); }

Status RaftStorage::SaveNodeId(uint64_t id) {
  return FromRocks(db_->Put(WriteOptionsWithSync(sync_), log_, kNodeIdKey, U64(id)));
}

// --- RequestLog ------------------------------------------------------------------------------------

RequestLog::RequestLog(Engine* engine, int64_t window_ms, size_t max_records)
    : db_(engine->db()),
      region_(engine->cf(Cf::kRegion)),
      window_ms_(window_ms),
      max_records_(std::max<size_t>(max_records, 1)) {}

Result<std::optional<std::string>> RequestLog::Lookup(std::string_view key) {
  MERIDIAN_ASSIGN_OR_RETURN(std::optional<std::string> v, Read(db_, region_, std::string(kRecordPrefix) += key));
  if (!v) return std::optional<std::string>();
  MERIDIAN_ASSIGN_OR_RETURN(Record r, DecodeRecord(*v));
  return std::optional<std::string>(std::move(r.answer));
}

Result<uint64_t> RequestLog::Count() { return ReadU64Key(db_, region_, kCountKey, "request log count"); }

Status RequestLog::Remember(std::string_view key, int64_t now_ms, std::string_view answer, rocksdb::WriteBatch* batch) {
  MERIDIAN_ASSIGN_OR_RETURN(uint64_t count, Count());
  MERIDIAN_ASSIGN_OR_RETURN(uint64_t seq, ReadU64Key(db_, region_, kSeqKey, "request log seq"));
  MERIDIAN_ASSIGN_OR_RETURN(std::optional<std::string> low, Read(db_, region_, kLowKey));
  const std::string record_key = std::string(kRecordPrefix) += key;
  MERIDIAN_ASSIGN_OR_RETURN(std::optional<std::string> existing, Read(db_, region_, record_key));

  SavePoint save(batch);  // an error adds nothing to `batch`
  rocksdb::WriteBatch& staged = *batch;
  auto check = [](const rocksdb::Status& s) { return FromRocks(s); };
  // A record with this key already (the runtime normally answers a retry from Lookup and does not
  // apply it again; this keeps the records consistent if it remembers the key anew): it is
  // replaced, and its time-index entry goes.
  std::optional<std::string> replaced_suffix;
  if (existing) {
    MERIDIAN_ASSIGN_OR_RETURN(Record old, DecodeRecord(*existing));
    replaced_suffix = TimeSuffix(old.time_ms, old.seq);
    MERIDIAN_RETURN_IF_ERROR(check(staged.Delete(region_, kTimeIndexPrefix + *replaced_suffix)));
    if (count > 0) --count;
  }
  const std::string new_suffix = TimeSuffix(now_ms, seq);
  MERIDIAN_RETURN_IF_ERROR(check(staged.Put(region_, record_key, EncodeRecord(now_ms, seq, answer))));
  MERIDIAN_RETURN_IF_ERROR(check(staged.Put(region_, kTimeIndexPrefix + new_suffix, rocksdb::Slice(key.data(), key.size()))));
  ++seq;
  ++count;

  // Evict from the oldest: expired records (a bounded number per call), then any beyond
  // max_records. The iterator sees RocksDB, not the batch: the new record is not in it (and is never
  // evicted), and the replaced one's index entry is skipped.
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper(kTimeIndexEnd);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, region_));
  it->Seek(low && low->size() == 16 ? kTimeIndexPrefix + *low : std::string(kTimeIndexPrefix));
  size_t expired_evicted = 0;
  std::optional<std::string> first_live;
  for (; it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key();
    if (k.size() != 2 + 16) return Status::Internal("request log: bad time index key");
    std::string suffix(k.data() + 2, 16);
    if (replaced_suffix && suffix == *replaced_suffix) continue;
    int64_t time_ms = TimeOfSuffix(suffix);
    // Expired once window_ms have passed since its time (unsigned: no overflow on any times).
    bool expired = time_ms <= now_ms &&
                   static_cast<uint64_t>(now_ms) - static_cast<uint64_t>(time_ms) >= static_cast<uint64_t>(window_ms_);
    bool over = count > max_records_;
    if (!(over || (expired && expired_evicted < kMaxExpiredPerRemember))) {
      first_live = std::move(suffix);
      break;
    }
    if (!over) ++expired_evicted;
    MERIDIAN_RETURN_IF_ERROR(check(staged.Delete(region_, k)));
    MERIDIAN_RETURN_IF_ERROR(
        check(staged.Delete(region_, std::string(kRecordPrefix) += std::string_view(it->value().data(), it->value().size()))));
    --count;
  }
  MERIDIAN_RETURN_IF_ERROR(FromRocks(it->status()));
  // No live index entry is below the new low mark: the first one the scan kept, or the new record.
  std::string new_low = first_live ? std::min(*first_live, new_suffix) : new_suffix;
  MERIDIAN_RETURN_IF_ERROR(check(staged.Put(region_, kLowKey, new_low)));
  MERIDIAN_RETURN_IF_ERROR(check(staged.Put(region_, kCountKey, U64(count))));
  MERIDIAN_RETURN_IF_ERROR(check(staged.Put(region_, kSeqKey, U64(seq))));

  return save.Keep();
}

}  // namespace meridian::region
