#include "storage/state_transfer.h"

#include <msgpack.hpp>
#include <rocksdb/db.h>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

namespace meridian {
namespace {

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  return Status::Internal(what + ": " + s.ToString());
}

struct StringSink {
  std::string* out;
  void write(const char* data, size_t size) { out->append(data, size); }
};

}  // namespace

std::string StagedFile(const std::string& dir, Cf which) {
  return dir + "/" + std::to_string(static_cast<int>(which)) + ".sst";
}

StateReader::StateReader(Engine* engine, const rocksdb::Snapshot* snapshot) : engine_(engine), snapshot_(snapshot) {}
StateReader::~StateReader() = default;

Result<std::string> StateReader::Next(size_t max_bytes) {
  while (family_ < kStateColumnFamilies.size()) {
    if (!it_) {
      rocksdb::ReadOptions ro;
      ro.snapshot = snapshot_;
      ro.fill_cache = false;  // a full read would evict the working set
      it_.reset(engine_->db()->NewIterator(ro, engine_->cf(kStateColumnFamilies[family_])));
      it_->SeekToFirst();
    }
    if (!it_->Valid()) {
      MERIDIAN_RETURN_IF_ERROR(FromRocks(it_->status(), "reading the state"));
      it_.reset();
      ++family_;
      continue;
    }
    // Keys and values alternate; the array header's count is filled in at the end.
    std::string out;
    StringSink sink{&out};
    msgpack::packer<StringSink> pk(sink);
    pk.pack_array(2);
    pk.pack_uint32(static_cast<uint32_t>(family_));
    size_t header_at = out.size();
    out.push_back(static_cast<char>(0xdd));  // array32
    out.append(4, '\0');
    uint32_t n = 0;
    for (; it_->Valid() && (n == 0 || out.size() < max_bytes); it_->Next()) {
      for (const rocksdb::Slice& part : {it_->key(), it_->value()}) {
        pk.pack_bin(static_cast<uint32_t>(part.size()));
        pk.pack_bin_body(part.data(), static_cast<uint32_t>(part.size()));
      }
      n += 2;
      ++keys_;
    }
    MERIDIAN_RETURN_IF_ERROR(FromRocks(it_->status(), "reading the state"));
    for (int i = 0; i < 4; ++i) out[header_at + 1 + i] = static_cast<char>((n >> (8 * (3 - i))) & 0xff);
    return out;
  }
  return std::string();
}

Result<std::unique_ptr<StateStager>> StateStager::Create(Engine* engine, std::string dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Internal("cannot create the staging folder " + dir + ": " + ec.message());
  return std::unique_ptr<StateStager>(new StateStager(engine, std::move(dir)));
}

StateStager::~StateStager() = default;

Status StateStager::CloseFile() {
  if (!writer_) return Status::Ok();
  std::unique_ptr<rocksdb::SstFileWriter> w = std::move(writer_);
  return FromRocks(w->Finish(), "finishing a staged state file");
}

Status StateStager::Add(std::string_view chunk) {
  if (failed_) return Status::Internal("the staging failed before");
  failed_ = true;  // until this chunk is in
  msgpack::object_handle oh;
  try {
    oh = msgpack::unpack(
        chunk.data(), chunk.size(), [](msgpack::type::object_type, size_t, void*) { return true; }, nullptr,
        msgpack::unpack_limit(UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX, /*depth=*/4));
  } catch (const std::exception& e) {
    return Status::Internal(std::string("a state chunk does not decode: ") + e.what());
  }
  const msgpack::object& root = oh.get();
  if (root.type != msgpack::type::ARRAY || root.via.array.size != 2 ||
      root.via.array.ptr[0].type != msgpack::type::POSITIVE_INTEGER ||
      root.via.array.ptr[1].type != msgpack::type::ARRAY || root.via.array.ptr[1].via.array.size % 2 != 0) {
    return Status::Internal("a state chunk is not [family, [key, value, ...]]");
  }
  uint64_t family = root.via.array.ptr[0].via.u64;
  if (family >= kStateColumnFamilies.size() || static_cast<int>(family) < family_) {
    return Status::Internal("a state chunk for family " + std::to_string(family) + " arrived out of order");
  }
  if (static_cast<int>(family) != family_) {
    MERIDIAN_RETURN_IF_ERROR(CloseFile());
    rocksdb::ColumnFamilyHandle* h = engine_->cf(kStateColumnFamilies[family]);
    writer_ = std::make_unique<rocksdb::SstFileWriter>(rocksdb::EnvOptions(), engine_->db()->GetOptions(h), h);
    MERIDIAN_RETURN_IF_ERROR(
        FromRocks(writer_->Open(StagedFile(dir_, kStateColumnFamilies[family])), "opening a staged state file"));
    family_ = static_cast<int>(family);
  }
  const msgpack::object& kvs = root.via.array.ptr[1];
  for (uint32_t i = 0; i < kvs.via.array.size; i += 2) {
    const msgpack::object& k = kvs.via.array.ptr[i];
    const msgpack::object& v = kvs.via.array.ptr[i + 1];
    if (k.type != msgpack::type::BIN || v.type != msgpack::type::BIN) {
      return Status::Internal("a state chunk holds a key or value that is not binary");
    }
    // SstFileWriter refuses a key that is not after the previous one.
    MERIDIAN_RETURN_IF_ERROR(FromRocks(
        writer_->Put(rocksdb::Slice(k.via.bin.ptr, k.via.bin.size), rocksdb::Slice(v.via.bin.ptr, v.via.bin.size)),
        "staging a state chunk"));
    ++keys_;
  }
  failed_ = false;
  return Status::Ok();
}

Status StateStager::Finish() {
  if (failed_) return Status::Internal("the staging failed before");
  MERIDIAN_RETURN_IF_ERROR(CloseFile());  // SstFileWriter::Finish syncs the file
  // The folder entries too, so the files are there after a crash.
  int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0 || ::fsync(fd) != 0) {
    if (fd >= 0) ::close(fd);
    return Status::Internal("cannot sync the staging folder " + dir_);
  }
  ::close(fd);
  return Status::Ok();
}

}  // namespace meridian
