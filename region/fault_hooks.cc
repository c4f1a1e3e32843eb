#include "region/fault_hooks.h"

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <sys/stat.h>

#include <cstdlib>

namespace meridian::region {
namespace {

constexpr const char* kPlantNames = "ack-before-commit, no-lww, follower-strong-read";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The injected failure, checked on every sync: the file's existence is the switch, so a harness
// fails a disk (and heals it) with touch and rm while the node runs.
class FsyncSwitch {
 public:
  explicit FsyncSwitch(std::string path) : path_(std::move(path)) {}
  rocksdb::IOStatus Check() const {
    struct stat st;
    if (::stat(path_.c_str(), &st) != 0) return rocksdb::IOStatus::OK();
    return rocksdb::IOStatus::IOError("injected fsync failure: " + path_ + " exists (meridian start --fail-fsync-file)");
  }

 private:
  std::string path_;
};

class FailFsyncFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FailFsyncFile(std::unique_ptr<rocksdb::FSWritableFile> file, std::shared_ptr<const FsyncSwitch> fail)
      : FSWritableFileOwnerWrapper(std::move(file)), fail_(std::move(fail)) {}

  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = fail_->Check();
    return s.ok() ? target()->Sync(options, dbg) : s;
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = fail_->Check();
    return s.ok() ? target()->Fsync(options, dbg) : s;
  }
  rocksdb::IOStatus RangeSync(uint64_t offset, uint64_t nbytes, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = fail_->Check();
    return s.ok() ? target()->RangeSync(offset, nbytes, options, dbg) : s;
  }

 private:
  std::shared_ptr<const FsyncSwitch> fail_;
};

class FailFsyncDirectory : public rocksdb::FSDirectoryWrapper {
 public:
  FailFsyncDirectory(std::unique_ptr<rocksdb::FSDirectory> dir, std::shared_ptr<const FsyncSwitch> fail)
      : FSDirectoryWrapper(std::move(dir)), fail_(std::move(fail)) {}

  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = fail_->Check();
    return s.ok() ? FSDirectoryWrapper::Fsync(options, dbg) : s;
  }
  rocksdb::IOStatus FsyncWithDirOptions(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg,
                                        const rocksdb::DirFsyncOptions& dir_options) override {
    rocksdb::IOStatus s = fail_->Check();
    return s.ok() ? FSDirectoryWrapper::FsyncWithDirOptions(options, dbg, dir_options) : s;
  }

 private:
  std::shared_ptr<const FsyncSwitch> fail_;
};

class FailFsyncFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit FailFsyncFileSystem(const std::string& path)
      : FileSystemWrapper(rocksdb::FileSystem::Default()), fail_(std::make_shared<FsyncSwitch>(path)) {}

  const char* Name() const override { return "MeridianFailFsyncFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    return Wrap(target()->NewWritableFile(f, o, r, dbg), r);
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* dbg) override {
    return Wrap(target()->ReopenWritableFile(f, o, r, dbg), r);
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old, const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                      rocksdb::IODebugContext* dbg) override {
    return Wrap(target()->ReuseWritableFile(f, old, o, r, dbg), r);
  }
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& o,
                                 std::unique_ptr<rocksdb::FSDirectory>* r, rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewDirectory(name, o, r, dbg);
    if (s.ok()) *r = std::make_unique<FailFsyncDirectory>(std::move(*r), fail_);
    return s;
  }

 private:
  rocksdb::IOStatus Wrap(rocksdb::IOStatus s, std::unique_ptr<rocksdb::FSWritableFile>* r) const {
    if (s.ok()) *r = std::make_unique<FailFsyncFile>(std::move(*r), fail_);
    return s;
  }

  std::shared_ptr<const FsyncSwitch> fail_;
};

}  // namespace

Result<PlantedBugs> ParsePlantedBugs(std::string_view list) {
  PlantedBugs out;
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view name = Trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (name.empty()) continue;
    if (name == "ack-before-commit") {
      out.ack_before_commit = true;
    } else if (name == "no-lww") {
      out.no_lww = true;
    } else if (name == "follower-strong-read") {
      out.follower_strong_read = true;
    } else {
      return Status::Validation(std::string(kPlantEnvironmentVariable) + ": unknown planted bug '" +
                                std::string(name) + "' (known: " + kPlantNames + ")");
    }
  }
  return out;
}

Result<PlantedBugs> PlantedBugsFromEnvironment() {
  const char* list = std::getenv(kPlantEnvironmentVariable);
  return ParsePlantedBugs(list ? list : "");
}

std::vector<std::string> FaultHookWarnings(const FaultHooks& hooks) {
  std::vector<std::string> out;
  if (hooks.clock_offset_ms != 0) {
    out.push_back("meridian: WARNING: test hook --clock-offset-ms " + std::to_string(hooks.clock_offset_ms) +
                  ": this node's wall clock is shifted by " + std::to_string(hooks.clock_offset_ms) +
                  " ms (entry times, the region clock, the engine's clock)");
  }
  if (!hooks.fail_fsync_file.empty()) {
    out.push_back("meridian: WARNING: test hook --fail-fsync-file " + hooks.fail_fsync_file +
                  ": every fsync of this node fails while that file exists");
  }
  auto planted = [&](bool on, const char* name, const char* what) {
    if (on) {
      out.push_back(std::string("meridian: WARNING: PLANTED BUG ") + name + " (" + what +
                    ") for the chaos suite's self-test; this node is NOT SAFE (" + kPlantEnvironmentVariable +
                    ")");
    }
  };
  planted(hooks.plants.ack_before_commit, "ack-before-commit",
          "the leader acknowledges item writes once they are in its own log, before they commit");
  planted(hooks.plants.no_lww, "no-lww", "replicated changes overwrite local items without the conflict rule");
  planted(hooks.plants.follower_strong_read, "follower-strong-read",
          "followers serve ConsistentRead from their own state");
  return out;
}

std::shared_ptr<rocksdb::Env> NewFailFsyncEnv(const std::string& path) {
  return rocksdb::NewCompositeEnv(std::make_shared<FailFsyncFileSystem>(path));
}

}  // namespace meridian::region
