#include "cli/common.h"

#include <cstdlib>
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

bool WriteFileAtomically(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return false;
    out << text;
    if (!out.flush()) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
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
