#include "region/snapshot_transfer.h"

#include <cstdio>
#include <cstring>
#include <filesystem>

namespace meridian::region {
namespace {

constexpr char kDescriptorPrefix[] = "meridian-staged-state:";

void PackBin(msgpack::packer<msgpack::sbuffer>& pk, const std::string& data) {
  pk.pack_bin(static_cast<uint32_t>(data.size()));
  pk.pack_bin_body(data.data(), static_cast<uint32_t>(data.size()));
}

const msgpack::object* Fields(const msgpack::object& o, uint32_t n) {
  if (o.type != msgpack::type::ARRAY || o.via.array.size != n) throw msgpack::type_error();
  return o.via.array.ptr;
}

std::string Bin(const msgpack::object& o) {
  if (o.type != msgpack::type::BIN) throw msgpack::type_error();
  return std::string(o.via.bin.ptr, o.via.bin.size);
}

}  // namespace

std::string Sha256Stream::Final() {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx_.get(), d, &n);
  Reset();
  return std::string(reinterpret_cast<const char*>(d), n);
}

std::string PackChunk(const SnapshotChunk& c) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(&buf);
  pk.pack_array(8);
  pk.pack(c.transfer);
  pk.pack(c.from);
  pk.pack(c.seq);
  pk.pack(c.index);
  pk.pack(c.term);
  pk.pack(c.last);
  PackBin(pk, c.data);
  PackBin(pk, c.digest);
  return std::string(buf.data(), buf.size());
}

Result<SnapshotChunk> UnpackChunk(const msgpack::object& body) {
  try {
    const msgpack::object* f = Fields(body, 8);
    SnapshotChunk c;
    c.transfer = f[0].as<uint64_t>();
    c.from = f[1].as<uint64_t>();
    c.seq = f[2].as<uint64_t>();
    c.index = f[3].as<uint64_t>();
    c.term = f[4].as<uint64_t>();
    c.last = f[5].as<bool>();
    c.data = Bin(f[6]);
    c.digest = Bin(f[7]);
    return c;
  } catch (const std::exception& e) {
    return Status::Serialization(std::string("snapshot chunk does not decode: ") + e.what());
  }
}

std::string PackAck(const ChunkAck& a) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(&buf);
  pk.pack_array(4);
  pk.pack(a.transfer);
  pk.pack(a.next);
  pk.pack(a.ok);
  pk.pack(a.complete);
  return std::string(buf.data(), buf.size());
}

Result<ChunkAck> UnpackAck(const msgpack::object& body) {
  try {
    const msgpack::object* f = Fields(body, 4);
    ChunkAck a;
    a.transfer = f[0].as<uint64_t>();
    a.next = f[1].as<uint64_t>();
    a.ok = f[2].as<bool>();
    a.complete = f[3].as<bool>();
    return a;
  } catch (const std::exception& e) {
    return Status::Serialization(std::string("snapshot chunk ack does not decode: ") + e.what());
  }
}

std::string StagedDescriptor(uint64_t id) { return kDescriptorPrefix + std::to_string(id); }

std::optional<uint64_t> ParseStagedDescriptor(std::string_view data) {
  std::string_view prefix = kDescriptorPrefix;
  if (data.size() <= prefix.size() || data.size() > prefix.size() + 20 || data.substr(0, prefix.size()) != prefix) {
    return std::nullopt;
  }
  uint64_t id = 0;
  for (char c : data.substr(prefix.size())) {
    if (c < '0' || c > '9') return std::nullopt;
    id = id * 10 + static_cast<uint64_t>(c - '0');
  }
  return id;
}

// ---- the leader's side ----

OutgoingSnapshot::OutgoingSnapshot(Engine* engine, uint64_t id, uint64_t from, raft::Snapshot meta,
                                   std::shared_ptr<const rocksdb::Snapshot> state, Clock::time_point now)
    : id_(id), from_(from), meta_(std::move(meta)), state_(std::move(state)), reader_(engine, state_.get()),
      started_(now), last_progress_(now) {
  meta_.data.clear();
  sha_.Reset();
}

Result<std::vector<SnapshotChunk>> OutgoingSnapshot::Pump(size_t window, size_t chunk_bytes, Clock::time_point now) {
  std::vector<SnapshotChunk> out;
  while (!failed_ && !all_sent_ && next_ - acked_ < window) {
    SnapshotChunk c;
    c.transfer = id_;
    c.from = from_;
    c.seq = next_;
    c.index = meta_.index.value;
    c.term = meta_.term.value;
    Result<std::string> data = reader_.Next(chunk_bytes);
    if (!data.ok()) {
      failed_ = true;
      return data.status();
    }
    if (data->empty()) {
      c.last = true;
      c.digest = sha_.Final();
      all_sent_ = true;
    } else {
      sha_.Update(*data);
      c.data = std::move(data).value();
    }
    if (next_ == acked_) last_progress_ = now;  // the stall clock runs from the first outstanding chunk
    ++next_;
    out.push_back(std::move(c));
  }
  return out;
}

void OutgoingSnapshot::OnAck(const ChunkAck& ack, Clock::time_point now) {
  if (ack.transfer != id_ || failed_ || complete_) return;
  if (!ack.ok) {
    failed_ = true;
    return;
  }
  if (ack.next > acked_ && ack.next <= next_) {
    acked_ = ack.next;
    last_progress_ = now;
  }
  if (ack.complete && all_sent_ && acked_ == next_) complete_ = true;
}

bool OutgoingSnapshot::Stalled(Clock::time_point now, Clock::duration stall) const {
  return !complete_ && !failed_ && next_ > acked_ && now - last_progress_ > stall;
}

// ---- the follower's side ----

ChunkAck IncomingSnapshot::Fail(uint64_t transfer, const std::string& why) {
  std::fprintf(stderr, "replica: snapshot transfer %llu abandoned: %s\n", static_cast<unsigned long long>(transfer),
               why.c_str());
  Reset();
  return ChunkAck{transfer, 0, false, false};
}

void IncomingSnapshot::Reset() {
  stager_.reset();
  active_ = complete_ = false;
  transfer_ = index_ = term_ = next_ = 0;
}

bool IncomingSnapshot::DiscardIfStale(uint64_t applied, std::chrono::steady_clock::duration idle,
                                      std::chrono::steady_clock::time_point now) {
  if (!active_) return false;
  if (!(complete_ && applied >= index_) && now - last_chunk_ < idle) return false;
  Reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  return true;
}

ChunkAck IncomingSnapshot::OnChunk(const SnapshotChunk& c) {
  last_chunk_ = std::chrono::steady_clock::now();
  if (c.seq == 0) {
    // A new transfer replaces whatever was staged before.
    Reset();
    Result<std::unique_ptr<StateStager>> stager = StateStager::Create(engine_, dir_);
    if (!stager.ok()) return Fail(c.transfer, stager.status().ToString());
    stager_ = std::move(stager).value();
    active_ = true;
    transfer_ = c.transfer;
    index_ = c.index;
    term_ = c.term;
    sha_.Reset();
  }
  if (!active_ || c.transfer != transfer_ || c.index != index_ || c.term != term_) {
    return ChunkAck{c.transfer, 0, false, false};  // not the transfer in progress here
  }
  if (c.seq < next_ || complete_) return ChunkAck{transfer_, next_, true, complete_};  // a duplicate
  if (c.seq > next_) return Fail(c.transfer, "chunk " + std::to_string(c.seq) + " arrived before " + std::to_string(next_));
  if (c.last) {
    if (c.digest != sha_.Final()) return Fail(c.transfer, "the chunks' SHA-256 does not match the sender's");
    Status st = stager_->Finish();
    if (!st.ok()) return Fail(c.transfer, st.ToString());
    complete_ = true;
    std::fprintf(stderr, "replica: staged a snapshot at index %llu (%llu keys, %llu chunks) in %s\n",
                 static_cast<unsigned long long>(index_), static_cast<unsigned long long>(stager_->keys()),
                 static_cast<unsigned long long>(next_), dir_.c_str());
  } else {
    sha_.Update(c.data);
    Status st = stager_->Add(c.data);
    if (!st.ok()) return Fail(c.transfer, st.ToString());
  }
  ++next_;
  return ChunkAck{transfer_, next_, true, complete_};
}

bool IncomingSnapshot::Ready(uint64_t id, uint64_t index, uint64_t term) const {
  return active_ && complete_ && transfer_ == id && index_ == index && term_ == term;
}

}  // namespace meridian::region
