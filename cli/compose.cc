// `meridian compose --topology FILE --out DIR/NAME.yml`: renders a topology as a Docker Compose
// deployment (topology/compose.h) and writes, in DIR, NAME.yml, NAME.topology.yaml (the topology
// the containers read) and the keys NAME.access.yaml and NAME.credentials, made once and kept, so
// that rendering again changes no key and running containers keep working.
#include "cli/compose.h"

#include <filesystem>
#include <iostream>

#include "cli/args.h"
#include "cli/common.h"
#include "topology/compose.h"
#include "topology/topology.h"

namespace meridian::cli {
namespace {

namespace fs = std::filesystem;

void Say(const std::string& line) { std::cout << "meridian compose: " << line << "\n"; }

// A ValidationException-style refusal: the topology or an option is wrong, nothing was written.
int Refuse(const Status& status) {
  std::cerr << "meridian compose: " << status.ToString() << "\n";
  return kExitUsage;
}

}  // namespace

int CmdCompose(int argc, char** argv) {
  Args args;
  std::string error;
  if (!args.Parse(argc, argv, 2, {"topology", "out", "image", "publish-host", "publish-base"}, {"publish-native"},
                  &error)) {
    return UsageError(error);
  }
  if (!args.positional().empty()) return UsageError("compose takes no argument '" + args.positional().front() + "'");
  std::optional<std::string> out = args.Get("out");
  if (!out || out->empty()) return UsageError("compose needs --out DIR/NAME.yml");
  const fs::path out_path(*out);
  if (out_path.extension() != ".yml" && out_path.extension() != ".yaml") {
    return UsageError("--out " + *out + ": the compose file's name ends in .yml (DIR/NAME.yml)");
  }

  topology::ComposeOptions options;
  options.name = out_path.stem().string();
  options.output_path = *out;
  options.topology_path = topology::ResolveTopologyPath(args.Get("topology"));
  if (auto image = args.Get("image")) options.image = *image;
  if (auto host = args.Get("publish-host")) options.publish_host = *host;
  if (args.Has("publish-base")) {
    std::optional<int64_t> base = IntArg(args, "publish-base");
    if (!base || *base < 1 || *base > 65535) return UsageError("--publish-base takes a port (1-65535)");
    options.publish_base = static_cast<uint16_t>(*base);
  }
  options.publish_native = args.Has("publish-native");

  topology::ParseOptions parse;
  parse.check_data_parents = false;  // the data folders are replaced by ones inside the containers
  Result<topology::Topology> topology = topology::LoadTopology(options.topology_path, parse);
  if (!topology.ok()) return Refuse(topology.status());
  Result<topology::ComposeRendering> rendering = topology::RenderCompose(*topology, options);
  if (!rendering.ok()) return Refuse(rendering.status());

  const fs::path dir = out_path.parent_path().empty() ? fs::path(".") : out_path.parent_path();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    std::cerr << "meridian compose: cannot create " << dir.string() << ": " << ec.message() << "\n";
    return 1;
  }
  const fs::path topology_file = dir / (options.name + ".topology.yaml");
  const fs::path access = dir / (options.name + ".access.yaml");
  const fs::path credentials = dir / (options.name + ".credentials");
  const std::string& first_region = rendering->topology.regions.front().name;
  bool generated = false;
  Status written = WriteFileAtomic(out_path, rendering->compose_yaml);
  if (written.ok()) written = WriteFileAtomic(topology_file, rendering->topology_yaml);
  if (written.ok()) written = EnsureKeyFiles(access, credentials, first_region, &generated);
  if (!written.ok()) {
    std::cerr << "meridian compose: " << written.message() << "\n";
    return 1;
  }

  size_t services = 0;
  for (const topology::Region& r : rendering->topology.regions) services += r.facilities.size() + (r.replicator ? 1 : 0);
  Say("wrote " + out_path.string() + " (" + std::to_string(services) + " services in " +
      std::to_string(rendering->topology.regions.size()) + " regions)");
  Say("wrote " + topology_file.string() + " (the topology as the containers see it)");
  Say(std::string(generated ? "generated" : "kept") + " the keys " + access.string() + " and " +
      credentials.string() + " (mounted in every container; never commit them)");

  const std::string dc = "docker-compose -p " + options.name + " -f " + out_path.string();
  const topology::Facility& first = rendering->topology.regions.front().facilities.front();
  const std::string host = options.publish_host == "0.0.0.0" ? "127.0.0.1" : options.publish_host;
  const std::string scheme = rendering->topology.tls ? "https" : "http";
  std::cout << "\nNext (the image " << options.image << " must exist; compose/build-image builds meridian:local):\n"
            << "  " << dc << " up -d\n"
            << "  " << dc << " ps  # until every service is healthy\n"
            << "  AWS_SHARED_CREDENTIALS_FILE=" << credentials.string() << " AWS_PROFILE=meridian aws --endpoint-url "
            << scheme << "://" << host << ":" << *first.publish << " --region " << first_region
            << (rendering->topology.tls ? " --no-verify-ssl" : "") << " dynamodb list-tables\n"
            << "  " << dc << " exec " << first.advertise << " meridian status\n"
            << "  " << dc << " down -v  # removes the containers and their data\n";
  return kExitOk;
}

}  // namespace meridian::cli
