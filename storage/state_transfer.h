// Moving the replicated state between nodes in bounded memory (a Raft snapshot for a follower far
// behind, or a facility rebuilt from nothing).
//
// The sender reads its state through a StateReader: chunks of about a megabyte, each one column
// family's keys in order, read from a RocksDB snapshot the caller holds for as long as it reads.
// The receiver hands each chunk, in order, to a StateStager, which writes them into one SST file
// per column family (rocksdb::SstFileWriter) in a staging folder; Engine::InstallStagedState then
// ingests those files. Neither side holds more than a chunk in memory, whatever the size of the
// state: the whole-state DumpState/InstallState (one message, one WriteBatch) held it several
// times over, and could not be sent at all past the 24 MB frame limit (proto/frame.h).
//
// Chunk: msgpack [family (uint, index into kStateColumnFamilies), [bin key, bin value, ...]].
// Integrity beyond the transport is the caller's: region/replica.cc numbers the chunks and checks
// a SHA-256 of them all before it installs.
//
// Thread-safety: one thread per object.
#pragma once

#include <rocksdb/iterator.h>
#include <rocksdb/sst_file_writer.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "storage/engine.h"
#include "storage/status.h"

namespace meridian {

class StateReader {
 public:
  // `snapshot` must outlive the reader (the caller holds it).
  StateReader(Engine* engine, const rocksdb::Snapshot* snapshot);
  ~StateReader();
  StateReader(const StateReader&) = delete;
  StateReader& operator=(const StateReader&) = delete;

  // The next chunk: keys of one column family up to about `max_bytes` (at least one key), or an
  // empty string once every family has been read.
  Result<std::string> Next(size_t max_bytes);
  uint64_t keys() const { return keys_; }

 private:
  Engine* engine_;
  const rocksdb::Snapshot* snapshot_;
  size_t family_ = 0;
  std::unique_ptr<rocksdb::Iterator> it_;
  uint64_t keys_ = 0;
};

class StateStager {
 public:
  // Empties `dir` (creating it) and stages into it.
  static Result<std::unique_ptr<StateStager>> Create(Engine* engine, std::string dir);
  ~StateStager();
  StateStager(const StateStager&) = delete;
  StateStager& operator=(const StateStager&) = delete;

  // A chunk from StateReader::Next, in order. A chunk out of order (a family before the current
  // one, or a key not after the previous key of its family) or one that does not decode is an
  // error, and the staging is then unusable.
  Status Add(std::string_view chunk);
  // Finishes and syncs the files and the folder: `dir` is then ready for InstallStagedState.
  Status Finish();
  const std::string& dir() const { return dir_; }
  uint64_t keys() const { return keys_; }

 private:
  StateStager(Engine* engine, std::string dir) : engine_(engine), dir_(std::move(dir)) {}
  Status CloseFile();

  Engine* engine_;
  std::string dir_;
  int family_ = -1;  // the family the open writer is for
  std::unique_ptr<rocksdb::SstFileWriter> writer_;
  uint64_t keys_ = 0;
  bool failed_ = false;
};

// The file a StateStager writes for a column family in `dir`.
std::string StagedFile(const std::string& dir, Cf which);

}  // namespace meridian
