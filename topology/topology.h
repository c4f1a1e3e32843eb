// The topology: which regions exist, the three facility nodes of each, their replicators, and the
// global tables. One file describes a whole deployment; every process (facility node, replicator,
// client, `meridian demo`, `meridian compose`) reads the same file, and later issues extend this
// one format rather than adding another. The format, every field, its defaults and the validation
// rules are in docs/topology.md; examples in topology/examples/.
//
// Loading is strict: an unknown key, a value of the wrong type or any rule broken makes the whole
// file invalid, with ValidationException messages of the form
//   topology.yaml:12: regions[0].facilities[1].native_port: 70000 is not a port (1-65535, or 0 to pick one)
// naming the file, the line and the field. Every problem found is reported, one per line of the
// message (at most kMaxReportedErrors): first the structural ones (YAML syntax, unknown or
// duplicate keys, wrong types, missing fields), then, once the structure is sound, the rules
// (names, addresses, ports, the three facilities, global tables, data folders).
//
// Thread-safety: values with no shared state; a loaded Topology is immutable by convention and
// may be read from any number of threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/status.h"
#include "storage/operations.h"

namespace meridian::topology {

// The contract's unit of a region: three facilities, any one of which may be lost.
inline constexpr size_t kFacilitiesPerRegion = 3;
// Vector timestamps carry one counter per region, so the number of regions is kept small.
inline constexpr size_t kMaxRegions = 32;
// DynamoDB's default quota of tables per region.
inline constexpr size_t kMaxGlobalTables = 2500;
inline constexpr int64_t kDefaultMaxClockOffsetMs = 500;
// A clock more than a minute off means broken time synchronization, not a setting to tune.
inline constexpr int64_t kMaxClockOffsetMsLimit = 60'000;
// Bounds the error message of a badly broken file.
inline constexpr size_t kMaxReportedErrors = 20;
inline constexpr int kTopologyVersion = 1;
inline constexpr std::string_view kDefaultTopologyPath = "/etc/meridian/topology.yaml";
inline constexpr std::string_view kTopologyEnvVar = "MERIDIAN_TOPOLOGY";

// One facility node (`meridian start --region R --facility F`).
struct Facility {
  std::string name;       // unique in its region; [a-z0-9][a-z0-9-]*, not "replicator"
  std::string host;       // the address the node listens on (may be 0.0.0.0)
  std::string advertise;  // the address others use to reach it; empty: the same as host
  uint16_t native_port = 0;  // 0: pick one (local launches); the node writes DIR/endpoints.json
  uint16_t http_port = 0;
  std::optional<uint16_t> publish;  // host port that `meridian compose` maps to http_port
  std::string data;  // data folder; relative paths are relative to the topology file's folder

  const std::string& AdvertisedHost() const { return advertise.empty() ? host : advertise; }
  // Addresses others dial, in the operator conventions: "tcp://HOST:PORT", "http://HOST:PORT"
  // ("https://" when `tls`). IPv6 hosts are bracketed.
  std::string NativeEndpoint() const;
  std::string HttpEndpoint(bool tls = false) const;
  // The address the node binds its native ROUTER to: "tcp://HOST:PORT" with the listen host.
  std::string NativeBindEndpoint() const;

  bool operator==(const Facility&) const = default;
};

// The replicator of a region (`meridian replicator --region R`).
struct Replicator {
  std::string host;
  std::string advertise;  // empty: the same as host
  uint16_t port = 0;
  std::string data;

  const std::string& AdvertisedHost() const { return advertise.empty() ? host : advertise; }
  std::string Endpoint() const;      // "tcp://ADVERTISE:PORT"
  std::string BindEndpoint() const;  // "tcp://HOST:PORT"

  bool operator==(const Replicator&) const = default;
};

struct Region {
  std::string name;  // [a-z0-9][a-z0-9-]*
  std::vector<Facility> facilities;  // exactly kFacilitiesPerRegion
  // Optional so that a single-region local launch needs none; required for every region named
  // by a global table.
  std::optional<Replicator> replicator;

  const Facility* FindFacility(std::string_view facility) const;
  bool operator==(const Region&) const = default;
};

// TLS material for the HTTP API (CURVE keys for ZeroMQ links come with the security issue).
// Paths as seen by the processes; not checked for existence here (a node checks when it starts).
struct TlsFiles {
  std::string cert;
  std::string key;
  std::string ca;  // optional: empty when clients verify against the system store

  bool operator==(const TlsFiles&) const = default;
};

struct GlobalTable {
  std::string name;                  // a DynamoDB table name
  std::vector<std::string> regions;  // replica regions, each named in `regions`
  // Optional key schema (YAML `hash_key: "pk:S"`, `range_key: "sk:N"`): with it the table's first
  // region's replicator creates the table at start when it does not exist; without it the table
  // must be created by hand, and the replicator then adds the other regions as replicas.
  std::vector<KeySchemaElement> key_schema;
  std::vector<AttributeDefinition> attribute_definitions;

  bool operator==(const GlobalTable&) const = default;
};

struct Topology {
  std::vector<Region> regions;
  int64_t max_clock_offset_ms = kDefaultMaxClockOffsetMs;
  std::optional<TlsFiles> tls;
  std::vector<GlobalTable> global_tables;
  // The folder relative data paths are resolved against: the topology file's folder when loaded
  // from a file, else as given in ParseOptions. Not part of the YAML.
  std::filesystem::path base_dir;

  const Region* FindRegion(std::string_view region) const;
  const Facility* FindFacility(std::string_view region, std::string_view facility) const;
  // The facility's HTTP endpoint with the scheme the topology implies (https when tls is set).
  std::string HttpEndpoint(const Facility& facility) const { return facility.HttpEndpoint(tls.has_value()); }
  // `data` made absolute against base_dir (unchanged when already absolute).
  std::filesystem::path DataPath(const std::string& data) const;

  bool operator==(const Topology&) const = default;
};

// Names used for pid files, logs and compose services: "<region>-<facility>" and
// "<region>-replicator". Validation keeps them unique across the topology.
std::string ProcessName(std::string_view region, std::string_view facility);
std::string ReplicatorProcessName(std::string_view region);

struct ParseOptions {
  // Check that the parent folder of every data folder exists (the node creates the folder
  // itself). Off for `meridian compose`, whose paths are inside containers.
  bool check_data_parents = true;
  // Base for relative data paths when parsing text (LoadTopology sets the file's folder).
  std::filesystem::path base_dir;
};

// Reads and validates a topology file. ValidationException naming the file when it cannot be
// read or is not valid.
Result<Topology> LoadTopology(const std::string& path, const ParseOptions& options = {});
// Parses and validates YAML text; `file_name` only names the source in messages.
Result<Topology> ParseTopology(std::string_view yaml_text, std::string_view file_name,
                               const ParseOptions& options = {});
// Validates a topology built in code (the demo's): the same rules, messages without line numbers.
Status ValidateTopology(const Topology& topology, const ParseOptions& options = {});

// The YAML text of `topology` (unset optional fields left out; version and max_clock_offset_ms
// always written); ParseTopology of it gives `topology` back.
std::string WriteTopology(const Topology& topology);

// The operator conventions' lookup order: `flag` (--topology FILE) when given and non-empty,
// else $MERIDIAN_TOPOLOGY when set and non-empty, else /etc/meridian/topology.yaml.
std::string ResolveTopologyPath(const std::optional<std::string>& flag);

}  // namespace meridian::topology
