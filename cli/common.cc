#include "cli/common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <system_error>

namespace meridian::cli {

int UsageError(const std::string& message) {
  std::cerr << "meridian: " << message << "\n(run `meridian help` for usage)\n";
  return kExitUsage;
}

std::optional<int64_t> IntArg(const Args& args, const std::string& name) {
  auto v = args.Get(name);
  if (!v) return std::nullopt;
  char* end = nullptr;
  long long n = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0') return std::nullopt;
  return n;
}

sigset_t BlockStopSignals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  return stop_signals;
}

// Writes `text` to `path` through a temporary file and a rename, so a reader (or a crash) never
// sees half a file. `mode` 0600 for key material.
Status WriteFileAtomic(const std::filesystem::path& path, const std::string& text, mode_t mode) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::Internal("cannot write " + tmp.string() + ": " + std::strerror(errno));
  (void)::fchmod(fd, mode);  // O_CREAT's mode is only used for a new file
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return Status::Internal("cannot write " + tmp.string() + ": " + std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return Status::Internal("cannot write " + tmp.string() + ": " + std::strerror(errno));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::Internal("cannot rename " + tmp.string() + ": " + ec.message());
  return Status::Ok();
}

Status EnsureKeyFiles(const std::filesystem::path& access, const std::filesystem::path& credentials,
                      const std::string& region, bool* generated) {
  *generated = false;
  std::error_code ec;
  bool have_access = std::filesystem::exists(access, ec);
  bool have_credentials = std::filesystem::exists(credentials, ec);
  if (have_access) {
    MERIDIAN_ASSIGN_OR_RETURN(api::AccessStore store, api::AccessStore::Load(access));
    if (store.keys().empty()) return Status::Validation(access.string() + " holds no key");
    if (!have_credentials) {
      MERIDIAN_RETURN_IF_ERROR(
          WriteFileAtomic(credentials, api::RenderCredentialsIni(store.keys().front(), "meridian", region), 0600));
    }
    return Status::Ok();
  }
  api::AccessKey key;
  if (have_credentials) {
    MERIDIAN_ASSIGN_OR_RETURN(Credentials c, LoadSharedCredentials(credentials.string(), "meridian"));
    key.access_key_id = c.access_key_id;
    key.secret_access_key = c.secret_access_key;
  } else {
    key = api::GenerateKey();
    *generated = true;
    MERIDIAN_RETURN_IF_ERROR(WriteFileAtomic(credentials, api::RenderCredentialsIni(key, "meridian", region), 0600));
  }
  return WriteFileAtomic(access, api::RenderAccessYaml({key}), 0600);
}

std::optional<ServerKeys> LoadServerKeys(const Args& args, const std::filesystem::path& topology_dir) {
  ServerKeys keys;
  if (args.Has("no-auth")) {
    std::cerr << "meridian: WARNING: *** --no-auth: AUTHENTICATION IS OFF. For local experiments only. ***\n";
    return keys;
  }
  Result<api::AccessStore> loaded = api::AccessStore::Load(args.GetOr("access", (topology_dir / "access.yaml").string()));
  if (!loaded.ok()) {
    std::cerr << "meridian: " << loaded.status().message()
              << "\nmeridian: a server process needs the topology's access file (or --no-auth); "
                 "`meridian demo` writes one\n";
    return std::nullopt;
  }
  keys.access = std::move(loaded.value());
  Result<Credentials> creds = LoadSharedCredentials(args.GetOr("credentials", (topology_dir / "credentials").string()),
                                                    "meridian");
  if (!creds.ok()) {
    std::cerr << "meridian: " << creds.status().message() << "\n";
    return std::nullopt;
  }
  keys.credentials = creds.value();
  return keys;
}

}  // namespace meridian::cli
