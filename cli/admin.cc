// `meridian admin`: operator requests to a region's leader (proto/node.h), found and reached
// through the region-aware client:
//   admin transfer-leader [--to FACILITY]     hand leadership to FACILITY (any follower without --to)
//   admin replace-facility --facility NAME    make the node now running at NAME (started empty,
//                                             joined as a new member) the voter for that facility
// Prints the node's message (with --json: {"region","leader","message"}). Exit codes as the
// operator conventions: 0 ok, 1 an API error (its JSON on stdout), 2 usage, 3 unreachable or
// timed out.
//
// Thread-safety: runs on the main thread.
#include <iostream>

#include <nlohmann/json.hpp>

#include "api/json_codec.h"
#include "cli/common.h"
#include "cli/region_commands.h"

namespace meridian::cli {
namespace {

constexpr std::chrono::milliseconds kDefaultAdminDeadline{10000};

// The named facility of the chosen region, or a usage error naming the ones there are.
bool CheckFacility(const RegionCommandContext& context, const std::string& flag, const std::string& name,
                   int* rc) {
  if (context.region().FindFacility(name)) return true;
  std::string known;
  for (const auto& f : context.region().facilities) known += (known.empty() ? "" : ", ") + f.name;
  *rc = UsageError("--" + flag + " " + name + ": region " + context.region().name + " has no such facility (it has " +
                   known + ")");
  return false;
}

}  // namespace

int CmdAdmin(const Args& args, const RegionCommandContext& context) {
  const auto& pos = args.positional();
  if (pos.size() != 1) return UsageError("admin transfer-leader [--to FACILITY] | admin replace-facility --facility NAME");
  proto::NodeOp op;
  proto::NodeAdminArgs admin_args;
  int rc = kExitOk;
  if (pos[0] == "transfer-leader") {
    if (args.Has("facility")) return UsageError("transfer-leader names its target with --to FACILITY");
    op = proto::NodeOp::kTransferLeader;
    if (auto to = args.Get("to")) {
      if (!CheckFacility(context, "to", *to, &rc)) return rc;
      admin_args.facility = *to;
    }
  } else if (pos[0] == "replace-facility") {
    if (args.Has("to")) return UsageError("replace-facility names the facility with --facility NAME");
    auto facility = args.Get("facility");
    if (!facility) return UsageError("replace-facility needs --facility NAME");
    if (!CheckFacility(context, "facility", *facility, &rc)) return rc;
    op = proto::NodeOp::kReplaceFacility;
    admin_args.facility = *facility;
  } else {
    return UsageError("unknown admin command '" + pos[0] + "' (transfer-leader, replace-facility)");
  }

  RegionClient client(RegionClientOptionsFrom(context, kDefaultAdminDeadline));
  Result<proto::NodeAdminResult> result = client.NodeAdmin(op, admin_args);
  bool pretty = args.Has("pretty");
  if (!result.ok()) {
    const Status& error = result.status();
    if (error.code() == ErrorCode::kUnreachable || error.code() == ErrorCode::kTimeout) {
      std::cerr << "meridian: " << error.message() << "\n";
      return kExitUnreachable;
    }
    nlohmann::json j = api::EncodeError(error);
    std::cout << (pretty ? j.dump(2) : j.dump()) << std::endl;
    return kExitApiError;
  }
  if (args.Has("json")) {
    nlohmann::json j = {{"region", client.region()}, {"leader", client.leader()}, {"message", result->message}};
    std::cout << (pretty ? j.dump(2) : j.dump()) << std::endl;
  } else {
    std::cout << result->message << std::endl;
  }
  return kExitOk;
}

}  // namespace meridian::cli
