// Helpers shared by the subcommands of the `meridian` binary (cli/*.cc).
#pragma once

#include <sys/types.h>

#include <csignal>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "api/access.h"
#include "cli/args.h"
#include "meridian/client.h"

namespace meridian::cli {

// Exit codes (DESIGN.md, operator conventions).
inline constexpr int kExitOk = 0;
inline constexpr int kExitApiError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;

// Prints "meridian: MESSAGE" and a hint to stderr; returns kExitUsage.
int UsageError(const std::string& message);
// The integer value of --name, or nullopt when absent or not an integer.
std::optional<int64_t> IntArg(const Args& args, const std::string& name);
// Writes `text` to `path` through a temporary file, an fsync and a rename, so a reader (or a
// crash) never sees half a file. `mode` 0600 for key material.
Status WriteFileAtomic(const std::filesystem::path& path, const std::string& text, mode_t mode = 0644);

// One key set for a whole topology: the access file (the servers' side) and the shared-credentials
// file (the clients' side, profile `meridian`, default region `region`). Whatever of the two
// exists is kept; a missing one is derived from the other, and both are generated (0600) when
// neither exists (`*generated` then true). Used by `meridian demo` and `meridian compose`.
Status EnsureKeyFiles(const std::filesystem::path& access, const std::filesystem::path& credentials,
                      const std::string& region, bool* generated);

// Blocks SIGINT and SIGTERM in the calling thread (and every thread it starts afterwards), so
// that only a sigwait on the returned set receives them. Call before starting any thread.
sigset_t BlockStopSignals();

// The keys of a server process of a topology (`meridian start`, `meridian replicator`): the access
// file that verifies what it receives (--access FILE, else access.yaml beside the topology) and
// the `meridian` profile of the credentials that sign what it sends (--credentials FILE, else
// `credentials` beside it). With --no-auth neither (and a loud warning).
struct ServerKeys {
  std::optional<api::AccessStore> access;
  std::optional<Credentials> credentials;
};
// nullopt after printing why (a missing or bad file): the caller exits with kExitUsage.
std::optional<ServerKeys> LoadServerKeys(const Args& args, const std::filesystem::path& topology_dir);

// `meridian start --topology FILE --region NAME --facility NAME`: one facility node (cli/start.cc).
int CmdStart(int argc, char** argv);
// `meridian replicator --topology FILE --region NAME` (cli/replicator.cc).
int CmdReplicator(int argc, char** argv);

}  // namespace meridian::cli
