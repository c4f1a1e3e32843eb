// Helpers shared by the subcommands of the `meridian` binary (cli/*.cc).
#pragma once

#include <csignal>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "cli/args.h"

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
// Writes `text` to `path` through a temporary file and a rename, so readers never see half.
bool WriteFileAtomically(const std::filesystem::path& path, const std::string& text);

// Blocks SIGINT and SIGTERM in the calling thread (and every thread it starts afterwards), so
// that only a sigwait on the returned set receives them. Call before starting any thread.
sigset_t BlockStopSignals();

// `meridian start --topology FILE --region NAME --facility NAME`: one facility node (cli/start.cc).
int CmdStart(int argc, char** argv);

}  // namespace meridian::cli
