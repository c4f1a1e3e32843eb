// `meridian compose`: a Docker Compose deployment rendered from a topology. A pure function of
// the topology and the options (no files, no clock), so the rendering of the examples is
// checked in under compose/ and compared byte for byte by a golden test.
//
// The mapping (docs/topology.md, "Under Docker Compose"):
// - one service per facility, `<region>-<facility>` (`meridian start`), and one per replicator,
//   `<region>-replicator` (`meridian replicator`); no container_name, so several projects
//   (`docker-compose -p`) can run side by side;
// - a network per region, named after it, joined by the region's services, and `inter-region`,
//   joined by every service: cutting a region off is disconnecting its containers from
//   `<project>_inter-region`. `inter-region` is `internal` (no route out of the host), which also
//   makes Docker's DNS answer a region's own names with their address on the region network, so
//   a region cut off still reaches its own facilities under the same names;
// - a named volume per service at /var/lib/meridian holding its data;
// - the unauthenticated `GET /` (facilities) or a TCP connect (replicators) through
//   `meridian health` as the health check; `restart: unless-stopped`;
// - each facility's HTTP port published on the host; the container topology, the credentials
//   and the access file mounted read-only under /etc/meridian/.
//
// Thread-safety: a pure function; call it from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "storage/status.h"
#include "topology/topology.h"

namespace meridian::topology {

// Where the rendered file mounts what `meridian compose` writes beside it, and where the
// processes in the containers find it by default (kDefaultTopologyPath).
inline constexpr std::string_view kComposeConfigDir = "/etc/meridian";
// Each service's named volume.
inline constexpr std::string_view kComposeVolumeDir = "/var/lib/meridian";
// Ports for facilities and replicators that the topology leaves at 0 (pick at launch): each
// container has its own address, so fixed ports cannot collide.
inline constexpr uint16_t kComposeNativePort = 7000;
inline constexpr uint16_t kComposeHttpPort = 8000;
inline constexpr uint16_t kComposeReplicatorPort = 7090;
// The network every service joins; a region cannot have this name.
inline constexpr std::string_view kInterRegionNetwork = "inter-region";

struct ComposeOptions {
  // NAME: the mounted files are ./NAME.topology.yaml, ./NAME.credentials and ./NAME.access.yaml
  // beside the compose file, and NAME is the project name the header suggests. A compose project
  // name: [a-z0-9][a-z0-9_-]*.
  std::string name;
  std::string image = "meridian:local";
  // The host address facility ports are published on: an IPv4 address.
  std::string publish_host = "127.0.0.1";
  // When set, a facility without `publish` is published on publish_base + 10 * (region index) +
  // (facility index); else on its HTTP port.
  std::optional<uint16_t> publish_base;
  // Also publish each facility's native port (what the C++ client library dials), on
  // publish_base + 10 * (region index) + 5 + (facility index) with a publish base, else on the
  // native port itself; so that clients on the host reach every facility of every region.
  bool publish_native = false;
  // Only for the header's "how to regenerate" line: the topology file and the output file as
  // the operator named them.
  std::string topology_path;
  std::string output_path;
};

struct ComposeRendering {
  std::string compose_yaml;  // NAME.yml
  Topology topology;         // the container topology (addresses inside the compose networks)
  std::string topology_yaml;  // NAME.topology.yaml: a header comment and WriteTopology(topology)
};

// Renders `in` for Docker Compose. Only names, ports, `publish`, the replicators, TLS,
// max_clock_offset_ms and the global tables of `in` are used; hosts and data folders are
// replaced by container ones. ValidationException when an option is malformed, a region is named
// `inter-region`, or the container topology is not valid (e.g. two facilities published on the
// same host port).
Result<ComposeRendering> RenderCompose(const Topology& in, const ComposeOptions& options);

}  // namespace meridian::topology
