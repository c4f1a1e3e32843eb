#include "topology/topology.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <span>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace meridian::topology {
namespace {

// ---------------------------------------------------------------------------------------------
// Addresses and names

// IPv6 literals are bracketed inside URLs ("tcp://[::1]:7001").
std::string HostForUrl(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

std::string Url(std::string_view scheme, const std::string& host, uint16_t port) {
  return std::string(scheme) + "://" + HostForUrl(host) + ":" + std::to_string(port);
}

bool IsWildcard(const std::string& host) {
  return host == "0.0.0.0" || host == "::" || host == "*";
}

// Empty when `host` is an IPv4 address, an IPv6 address (without brackets) or a host name
// (RFC 1123 labels; '_' is tolerated because Docker's DNS resolves such names); else what is wrong.
std::string HostProblem(const std::string& host) {
  if (host.empty()) return "is required";
  unsigned char buf[16];
  if (host.find(':') != std::string::npos) {
    if (host.front() == '[') return "'" + host + "': write IPv6 addresses without brackets";
    if (inet_pton(AF_INET6, host.c_str(), buf) == 1) return "";
    return "'" + host + "' is not an IPv6 address";
  }
  if (host.find_first_not_of("0123456789.") == std::string::npos) {
    if (inet_pton(AF_INET, host.c_str(), buf) == 1) return "";
    return "'" + host + "' is not an IPv4 address";
  }
  std::string bad = "'" + host + "' is not a host name or IP address";
  if (host.size() > 253) return bad;
  size_t start = 0;
  while (start <= host.size()) {
    size_t dot = host.find('.', start);
    if (dot == std::string::npos) dot = host.size();
    std::string_view label(host.data() + start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return bad;
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return bad;
    }
    start = dot + 1;
  }
  return "";
}

// Region and facility names become host names, file names and compose services: DNS labels.
std::string NameProblem(const std::string& name) {
  if (name.empty()) return "is required";
  bool ok = name.size() <= 63 && name.front() != '-' && name.back() != '-' &&
            std::all_of(name.begin(), name.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
            });
  if (ok) return "";
  return "'" + name +
         "' is not a valid name (lower-case letters, digits and '-', starting and ending with a "
         "letter or digit, at most 63 characters)";
}

// DynamoDB's table naming rule.
std::string TableNameProblem(const std::string& name) {
  bool ok = name.size() >= 3 && name.size() <= 255 &&
            std::all_of(name.begin(), name.end(), [](char c) {
              return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
            });
  if (ok) return "";
  return "'" + name + "' is not a table name (3-255 characters: letters, digits, '_', '-', '.')";
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string Child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}
std::string Index(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

// ---------------------------------------------------------------------------------------------
// Errors with file, line and field

// Field path ("regions[0].facilities[1].native_port") -> 1-based line in the file.
using LineMap = std::map<std::string, int, std::less<>>;

class Reporter {
 public:
  Reporter(std::string_view file, const LineMap* lines) : file_(file), lines_(lines) {}

  // Reports at the line recorded for `path`, or for its nearest recorded ancestor.
  void At(const std::string& path, const std::string& message) { Add(LineOf(path), path, message); }

  void Add(int line, const std::string& path, const std::string& message) {
    ++count_;
    if (errors_.size() >= kMaxReportedErrors) return;
    std::string out = file_;
    if (line > 0) out += ":" + std::to_string(line);
    out += ": ";
    if (!path.empty()) out += path + ": ";
    errors_.push_back(out + message);
  }

  int LineOf(std::string path) const {
    if (!lines_) return 0;
    while (!path.empty()) {
      auto it = lines_->find(path);
      if (it != lines_->end()) return it->second;
      size_t cut = path.find_last_of(".[");
      if (cut == std::string::npos) break;
      path.resize(cut);
    }
    return 0;
  }

  // " (line N)" for cross-references in messages, empty when unknown.
  std::string LineNote(const std::string& path) const {
    int line = LineOf(path);
    return line > 0 ? " (line " + std::to_string(line) + ")" : "";
  }

  bool ok() const { return count_ == 0; }

  Status ToStatus() const {
    if (count_ == 0) return Status::Ok();
    std::string text;
    for (const std::string& e : errors_) text += (text.empty() ? "" : "\n") + e;
    if (count_ > errors_.size()) {
      text += "\n... and " + std::to_string(count_ - errors_.size()) + " more problems";
    }
    return Status::Validation(text);
  }

 private:
  std::string file_;
  const LineMap* lines_;
  std::vector<std::string> errors_;
  size_t count_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Semantic validation, shared by parsed and built topologies

class Validator {
 public:
  Validator(const Topology& t, const ParseOptions& options, Reporter* r)
      : t_(t), options_(options), r_(r) {}

  void Run() {
    if (t_.regions.empty()) r_->At("regions", "at least one region is required");
    if (t_.regions.size() > kMaxRegions) {
      r_->At("regions", std::to_string(t_.regions.size()) + " regions; at most " +
                            std::to_string(kMaxRegions) + " are supported");
    }
    std::map<std::string, std::string> region_names;  // name -> path
    for (size_t i = 0; i < t_.regions.size(); ++i) {
      const Region& region = t_.regions[i];
      std::string path = Index("regions", i);
      bool name_ok = false;
      if (std::string p = NameProblem(region.name); !p.empty()) {
        r_->At(Child(path, "name"), p);
      } else if (auto [it, fresh] = region_names.emplace(region.name, Child(path, "name")); !fresh) {
        r_->At(Child(path, "name"), "duplicate region name '" + region.name + "', first at " +
                                        it->second + r_->LineNote(it->second));
      } else {
        name_ok = true;
      }
      CheckRegion(region, path, name_ok);
    }
    if (t_.max_clock_offset_ms < 1 || t_.max_clock_offset_ms > kMaxClockOffsetMsLimit) {
      r_->At("max_clock_offset_ms", std::to_string(t_.max_clock_offset_ms) +
                                        " is out of range (1-" +
                                        std::to_string(kMaxClockOffsetMsLimit) + ")");
    }
    if (t_.tls) {
      if (t_.tls->cert.empty()) r_->At("tls.cert", "is required when tls is given");
      if (t_.tls->key.empty()) r_->At("tls.key", "is required when tls is given");
    }
    CheckGlobalTables();
  }

 private:
  // `name_ok`: the region's name is valid and unique, so its process names can be claimed (a
  // duplicate region would otherwise also report every one of its facilities).
  void CheckRegion(const Region& region, const std::string& path, bool name_ok) {
    if (region.facilities.size() != kFacilitiesPerRegion) {
      r_->At(Child(path, "facilities"),
             "a region has exactly three facilities, got " + std::to_string(region.facilities.size()));
    }
    std::map<std::string, std::string> facility_names;
    for (size_t j = 0; j < region.facilities.size(); ++j) {
      const Facility& f = region.facilities[j];
      std::string fpath = Index(Child(path, "facilities"), j);
      std::string name_path = Child(fpath, "name");
      if (std::string p = NameProblem(f.name); !p.empty()) {
        r_->At(name_path, p);
      } else if (f.name == "replicator") {
        r_->At(name_path, "'replicator' is reserved for the region's replicator process");
      } else if (auto [it, fresh] = facility_names.emplace(f.name, name_path); !fresh) {
        r_->At(name_path, "duplicate facility name '" + f.name + "' in region '" + region.name +
                              "', first at " + it->second + r_->LineNote(it->second));
      } else if (name_ok) {
        ClaimProcessName(ProcessName(region.name, f.name), name_path);
      }
      CheckHosts(f.host, f.advertise, fpath);
      ClaimAddress(f.AdvertisedHost(), f.native_port, Child(fpath, "native_port"));
      ClaimAddress(f.AdvertisedHost(), f.http_port, Child(fpath, "http_port"));
      if (f.publish) {
        std::string ppath = Child(fpath, "publish");
        if (*f.publish == 0) {
          r_->At(ppath, "0 is not a port to publish (1-65535)");
        } else if (auto [it, fresh] = published_.emplace(*f.publish, ppath); !fresh) {
          r_->At(ppath, "host port " + std::to_string(*f.publish) + " is already published by " +
                            it->second + r_->LineNote(it->second));
        }
      }
      CheckData(f.data, Child(fpath, "data"));
    }
    if (region.replicator) {
      const Replicator& rep = *region.replicator;
      std::string rpath = Child(path, "replicator");
      if (name_ok) ClaimProcessName(ReplicatorProcessName(region.name), rpath);
      CheckHosts(rep.host, rep.advertise, rpath);
      ClaimAddress(rep.AdvertisedHost(), rep.port, Child(rpath, "port"));
      CheckData(rep.data, Child(rpath, "data"));
    }
  }

  void CheckHosts(const std::string& host, const std::string& advertise, const std::string& path) {
    if (std::string p = HostProblem(host); !p.empty()) r_->At(Child(path, "host"), p);
    if (!advertise.empty()) {
      if (std::string p = HostProblem(advertise); !p.empty()) {
        r_->At(Child(path, "advertise"), p);
      } else if (IsWildcard(advertise)) {
        r_->At(Child(path, "advertise"),
               "'" + advertise + "' cannot be dialled: give the address others use to reach it");
      }
    } else if (IsWildcard(host)) {
      r_->At(Child(path, "host"), "'" + host +
                                      "' listens on every interface but cannot be dialled: set "
                                      "advertise to the address others use to reach it");
    }
  }

  // Every address others dial (advertised host and port) must be unique; port 0 is picked at
  // launch and cannot collide.
  void ClaimAddress(const std::string& host, uint16_t port, const std::string& path) {
    if (port == 0 || host.empty()) return;
    std::string lower = host;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string address = HostForUrl(lower) + ":" + std::to_string(port);
    auto [it, fresh] = addresses_.emplace(address, path);
    if (!fresh) {
      r_->At(path, address + " is already used by " + it->second + r_->LineNote(it->second));
    }
  }

  void ClaimProcessName(const std::string& name, const std::string& path) {
    auto [it, fresh] = process_names_.emplace(name, path);
    if (!fresh) {
      r_->At(path, "process name '" + name + "' is also the name of " + it->second +
                       r_->LineNote(it->second) + " (names are <region>-<facility>)");
    }
  }

  void CheckData(const std::string& data, const std::string& path) {
    if (data.empty()) {
      r_->At(path, "is required");
      return;
    }
    if (!options_.check_data_parents) return;
    std::filesystem::path full = t_.DataPath(data);
    std::filesystem::path normal = full.lexically_normal();
    if (!normal.has_filename()) normal = normal.parent_path();  // "dir/" names dir
    std::filesystem::path parent = normal.parent_path();
    std::error_code ec;
    if (std::filesystem::exists(full, ec) && !std::filesystem::is_directory(full, ec)) {
      r_->At(path, full.string() + " exists and is not a folder");
    } else if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
      r_->At(path, "the parent folder " + parent.string() + " of " + data + " does not exist");
    }
  }

  void CheckGlobalTables() {
    if (t_.global_tables.size() > kMaxGlobalTables) {
      r_->At("global_tables", std::to_string(t_.global_tables.size()) + " tables; at most " +
                                  std::to_string(kMaxGlobalTables) + " are supported");
    }
    std::map<std::string, std::string> names;
    std::string known;
    for (const Region& r : t_.regions) known += (known.empty() ? "" : ", ") + r.name;
    for (size_t i = 0; i < t_.global_tables.size(); ++i) {
      const GlobalTable& table = t_.global_tables[i];
      std::string path = Index("global_tables", i);
      std::string name_path = Child(path, "name");
      if (std::string p = TableNameProblem(table.name); !p.empty()) {
        r_->At(name_path, p);
      } else if (auto [it, fresh] = names.emplace(table.name, name_path); !fresh) {
        r_->At(name_path, "duplicate global table '" + table.name + "', first at " + it->second +
                              r_->LineNote(it->second));
      }
      if (table.regions.empty()) r_->At(Child(path, "regions"), "at least one region is required");
      std::set<std::string> seen;
      for (size_t k = 0; k < table.regions.size(); ++k) {
        const std::string& name = table.regions[k];
        std::string rpath = Index(Child(path, "regions"), k);
        const Region* region = t_.FindRegion(name);
        if (!region) {
          r_->At(rpath, "unknown region '" + name + "' (regions are " + known + ")");
        } else if (!seen.insert(name).second) {
          r_->At(rpath, "region '" + name + "' is listed twice");
        } else if (!region->replicator && table.regions.size() > 1) {
          r_->At(rpath, "region '" + name + "' replicates this table but has no replicator");
        }
      }
    }
  }

  const Topology& t_;
  const ParseOptions& options_;
  Reporter* r_;
  std::map<std::string, std::string> addresses_;      // "host:port" -> field path
  std::map<uint16_t, std::string> published_;         // host port -> field path
  std::map<std::string, std::string> process_names_;  // "<region>-<facility>" -> field path
};

// ---------------------------------------------------------------------------------------------
// YAML -> Topology: structure and types; the rules are the Validator's

int LineOf(const YAML::Node& n) {
  YAML::Mark m = n.Mark();
  return m.line >= 0 ? m.line + 1 : 0;
}

std::string Describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar: return "'" + n.Scalar() + "'";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
    default: return "nothing";
  }
}

struct Field {
  YAML::Node key;
  YAML::Node value;
};

class Fields {
 public:
  Fields(std::string path, int line) : path_(std::move(path)), line_(line) {}
  const std::string& path() const { return path_; }
  int line() const { return line_; }
  const Field* Find(std::string_view key) const {
    auto it = fields_.find(key);
    return it == fields_.end() ? nullptr : &it->second;
  }
  bool Add(std::string key, Field f) { return fields_.emplace(std::move(key), std::move(f)).second; }

 private:
  std::string path_;
  int line_;
  std::map<std::string, Field, std::less<>> fields_;
};

class Parser {
 public:
  Parser(Reporter* r, LineMap* lines) : r_(r), lines_(lines) {}

  void ParseRoot(const YAML::Node& root, Topology* t) {
    if (!root.IsMap()) {
      r_->Add(LineOf(root), "",
              root.IsNull() ? "the file is empty: expected a map with 'regions'"
                            : "expected a map with 'regions', got " + Describe(root));
      return;
    }
    static constexpr std::string_view kKeys[] = {"version", "max_clock_offset_ms", "tls", "regions",
                                                 "global_tables"};
    std::optional<Fields> f = Map(root, "", LineOf(root), kKeys);
    if (!f) return;
    if (auto v = Int(*f, "version", false)) {
      if (*v != kTopologyVersion) {
        r_->Add(lines_->at("version"), "version",
                std::to_string(*v) + " is not a supported version (this build reads version " +
                    std::to_string(kTopologyVersion) + ")");
      }
    }
    if (auto v = Int(*f, "max_clock_offset_ms", false)) t->max_clock_offset_ms = *v;
    if (const Field* tls = f->Find("tls")) {
      static constexpr std::string_view kTlsKeys[] = {"cert", "key", "ca"};
      if (auto tf = Map(tls->value, "tls", LineOf(tls->key), kTlsKeys)) {
        TlsFiles files;
        files.cert = Str(*tf, "cert", true).value_or("");
        files.key = Str(*tf, "key", true).value_or("");
        files.ca = Str(*tf, "ca", false).value_or("");
        t->tls = files;
      }
    }
    if (const YAML::Node* regions = Seq(*f, "regions", true)) {
      for (size_t i = 0; i < regions->size(); ++i) {
        t->regions.push_back(ParseRegion((*regions)[i], Index("regions", i)));
      }
    }
    if (const YAML::Node* tables = Seq(*f, "global_tables", false)) {
      for (size_t i = 0; i < tables->size(); ++i) {
        t->global_tables.push_back(ParseTable((*tables)[i], Index("global_tables", i)));
      }
    }
  }

 private:
  Region ParseRegion(const YAML::Node& n, const std::string& path) {
    Region region;
    static constexpr std::string_view kKeys[] = {"name", "facilities", "replicator"};
    std::optional<Fields> f = Map(n, path, LineOf(n), kKeys);
    if (!f) return region;
    region.name = Str(*f, "name", true).value_or("");
    if (const YAML::Node* facilities = Seq(*f, "facilities", true)) {
      for (size_t j = 0; j < facilities->size(); ++j) {
        region.facilities.push_back(
            ParseFacility((*facilities)[j], Index(Child(path, "facilities"), j)));
      }
    }
    if (const Field* rep = f->Find("replicator")) {
      static constexpr std::string_view kRepKeys[] = {"host", "advertise", "port", "data"};
      if (auto rf = Map(rep->value, Child(path, "replicator"), LineOf(rep->key), kRepKeys)) {
        Replicator r;
        r.host = Str(*rf, "host", true).value_or("");
        r.advertise = Str(*rf, "advertise", false).value_or("");
        r.port = Port(*rf, "port", true, true).value_or(0);
        r.data = Str(*rf, "data", true).value_or("");
        region.replicator = r;
      }
    }
    return region;
  }

  Facility ParseFacility(const YAML::Node& n, const std::string& path) {
    Facility fac;
    static constexpr std::string_view kKeys[] = {"name",      "host",    "advertise", "native_port",
                                                 "http_port", "publish", "data"};
    std::optional<Fields> f = Map(n, path, LineOf(n), kKeys);
    if (!f) return fac;
    fac.name = Str(*f, "name", true).value_or("");
    fac.host = Str(*f, "host", true).value_or("");
    fac.advertise = Str(*f, "advertise", false).value_or("");
    fac.native_port = Port(*f, "native_port", true, true).value_or(0);
    fac.http_port = Port(*f, "http_port", true, true).value_or(0);
    fac.publish = Port(*f, "publish", false, false);
    fac.data = Str(*f, "data", true).value_or("");
    return fac;
  }

  GlobalTable ParseTable(const YAML::Node& n, const std::string& path) {
    GlobalTable table;
    static constexpr std::string_view kKeys[] = {"name", "regions", "hash_key", "range_key"};
    std::optional<Fields> f = Map(n, path, LineOf(n), kKeys);
    if (!f) return table;
    table.name = Str(*f, "name", true).value_or("");
    for (auto [field, type] : {std::pair{"hash_key", KeyType::kHash}, std::pair{"range_key", KeyType::kRange}}) {
      std::optional<std::string> spec = Str(*f, field, false);
      if (!spec) continue;
      size_t colon = spec->rfind(':');
      std::string attr = colon == std::string::npos ? "" : spec->substr(0, colon);
      std::string kind = colon == std::string::npos ? "" : spec->substr(colon + 1);
      AttributeType at = AttributeType::kS;
      if (kind == "N") at = AttributeType::kN;
      else if (kind == "B") at = AttributeType::kB;
      if (attr.empty() || (kind != "S" && kind != "N" && kind != "B")) {
        r_->At(Child(path, field), "expected NAME:TYPE with TYPE one of S, N, B (e.g. \"pk:S\"), got '" + *spec + "'");
        continue;
      }
      if (type == KeyType::kRange && table.key_schema.empty()) {
        r_->At(Child(path, field), "a range_key needs a hash_key");
        continue;
      }
      table.key_schema.push_back(KeySchemaElement{attr, type});
      table.attribute_definitions.push_back(AttributeDefinition{attr, at});
    }
    if (const YAML::Node* regions = Seq(*f, "regions", true)) {
      for (size_t k = 0; k < regions->size(); ++k) {
        YAML::Node item = (*regions)[k];
        std::string ipath = Index(Child(path, "regions"), k);
        (*lines_)[ipath] = LineOf(item);
        if (!item.IsScalar()) {
          r_->Add(LineOf(item), ipath, "expected a region name, got " + Describe(item));
          continue;
        }
        table.regions.push_back(item.Scalar());
      }
    }
    return table;
  }

  // The keys of map `n` at `path`, reporting unknown and duplicate keys (yaml-cpp keeps both
  // entries of a repeated key; a typo or a repeat must never pass silently). nullopt, reported,
  // when `n` is not a map.
  std::optional<Fields> Map(const YAML::Node& n, const std::string& path, int line,
                            std::span<const std::string_view> known) {
    if (!n.IsMap()) {
      r_->Add(LineOf(n) > 0 ? LineOf(n) : line, path, "expected a map, got " + Describe(n));
      return std::nullopt;
    }
    Fields fields(path, line);
    for (auto it = n.begin(); it != n.end(); ++it) {
      // The iterator yields a temporary pair: copy the nodes (handles to shared data) out of it.
      YAML::Node key = it->first;
      YAML::Node value = it->second;
      if (!key.IsScalar()) {
        r_->Add(LineOf(key), path, "keys must be plain names, got " + Describe(key));
        continue;
      }
      std::string name = key.Scalar();
      std::string field_path = Child(path, name);
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        r_->Add(LineOf(key), field_path, "unknown key" + Suggestion(name, known));
        continue;
      }
      if (const Field* first = fields.Find(name)) {
        r_->Add(LineOf(key), field_path,
                "duplicate key, first at line " + std::to_string(LineOf(first->key)));
        continue;
      }
      (*lines_)[field_path] = LineOf(key);
      fields.Add(name, Field{key, value});
    }
    return fields;
  }

  static std::string Suggestion(std::string_view name, std::span<const std::string_view> known) {
    std::string_view best;
    size_t best_distance = 3;  // suggest only close matches: a typo, not a different word
    for (std::string_view k : known) {
      size_t d = EditDistance(name, k);
      if (d < best_distance) best_distance = d, best = k;
    }
    if (!best.empty()) return " (did you mean '" + std::string(best) + "'?)";
    std::string list;
    for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    return " (expected one of: " + list + ")";
  }

  // A present field whose value is null counts as given but empty.
  const Field* Required(const Fields& f, std::string_view key, bool required) {
    const Field* field = f.Find(key);
    if (!field && required) r_->Add(f.line(), Child(f.path(), key), "is required");
    return field;
  }

  std::optional<std::string> Str(const Fields& f, std::string_view key, bool required) {
    const Field* field = Required(f, key, required);
    if (!field) return std::nullopt;
    const YAML::Node& v = field->value;
    std::string path = Child(f.path(), key);
    if (v.IsNull()) {
      if (required) r_->Add(LineOf(field->key), path, "is required (found nothing)");
      return std::nullopt;
    }
    if (!v.IsScalar()) {
      r_->Add(LineOf(field->key), path, "expected a string, got " + Describe(v));
      return std::nullopt;
    }
    if (required && v.Scalar().empty()) {
      r_->Add(LineOf(field->key), path, "must not be empty");
      return std::nullopt;
    }
    return v.Scalar();
  }

  std::optional<int64_t> Int(const Fields& f, std::string_view key, bool required) {
    const Field* field = Required(f, key, required);
    if (!field) return std::nullopt;
    const YAML::Node& v = field->value;
    std::string path = Child(f.path(), key);
    std::string text = v.IsScalar() ? v.Scalar() : "";
    std::string_view digits = text;
    if (!digits.empty() && digits.front() == '-') digits.remove_prefix(1);
    if (!v.IsScalar() || digits.empty() ||
        digits.find_first_not_of("0123456789") != std::string_view::npos) {
      r_->Add(LineOf(field->key), path, "expected an integer, got " + Describe(v));
      return std::nullopt;
    }
    if (digits.size() > 12) {  // beyond any value a field accepts; keeps stoll from overflowing
      r_->Add(LineOf(field->key), path, text + " is out of range");
      return std::nullopt;
    }
    return std::stoll(text);
  }

  std::optional<uint16_t> Port(const Fields& f, std::string_view key, bool required,
                               bool allow_zero) {
    std::optional<int64_t> v = Int(f, key, required);
    if (!v) return std::nullopt;
    if (*v < (allow_zero ? 0 : 1) || *v > 65535) {
      r_->Add(lines_->at(Child(f.path(), key)), Child(f.path(), key),
              std::to_string(*v) + " is not a port " +
                  (allow_zero ? "(1-65535, or 0 to pick one)" : "(1-65535)"));
      return std::nullopt;
    }
    return static_cast<uint16_t>(*v);
  }

  const YAML::Node* Seq(const Fields& f, std::string_view key, bool required) {
    const Field* field = Required(f, key, required);
    if (!field) return nullptr;
    if (!field->value.IsSequence()) {
      r_->Add(LineOf(field->key), Child(f.path(), key),
              "expected a list, got " + Describe(field->value));
      return nullptr;
    }
    return &field->value;
  }

  Reporter* r_;
  LineMap* lines_;
};

// ---------------------------------------------------------------------------------------------
// Topology -> YAML

// Plain when YAML reads it back as the same string, else double-quoted.
std::string Quote(const std::string& s) {
  static const std::set<std::string> kReserved = {"true", "false", "yes", "no", "on", "off",
                                                  "null", "y",    "n",   "~"};
  std::string lower = s;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  unsigned char dummy[4];
  bool plain = !s.empty() && !kReserved.count(lower) &&
               (std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '/' ||
                inet_pton(AF_INET, s.c_str(), dummy) == 1) &&
               std::all_of(s.begin(), s.end(), [](char c) {
                 return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                        c == '/' || c == '-';
               });
  if (plain) return s;
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::string Facility::NativeEndpoint() const { return Url("tcp", AdvertisedHost(), native_port); }
std::string Facility::HttpEndpoint(bool tls) const {
  return Url(tls ? "https" : "http", AdvertisedHost(), http_port);
}
std::string Facility::NativeBindEndpoint() const { return Url("tcp", host, native_port); }

std::string Replicator::Endpoint() const { return Url("tcp", AdvertisedHost(), port); }
std::string Replicator::BindEndpoint() const { return Url("tcp", host, port); }

const Facility* Region::FindFacility(std::string_view facility) const {
  for (const Facility& f : facilities) {
    if (f.name == facility) return &f;
  }
  return nullptr;
}

const Region* Topology::FindRegion(std::string_view region) const {
  for (const Region& r : regions) {
    if (r.name == region) return &r;
  }
  return nullptr;
}

const Facility* Topology::FindFacility(std::string_view region, std::string_view facility) const {
  const Region* r = FindRegion(region);
  return r ? r->FindFacility(facility) : nullptr;
}

std::filesystem::path Topology::DataPath(const std::string& data) const {
  std::filesystem::path p(data);
  if (p.is_absolute() || base_dir.empty()) return p;
  return base_dir / p;
}

std::string ProcessName(std::string_view region, std::string_view facility) {
  return std::string(region) + "-" + std::string(facility);
}
std::string ReplicatorProcessName(std::string_view region) { return ProcessName(region, "replicator"); }

Result<Topology> ParseTopology(std::string_view yaml_text, std::string_view file_name,
                               const ParseOptions& options) {
  LineMap lines;
  Reporter reporter(file_name, &lines);
  Topology topology;
  topology.base_dir = options.base_dir;
  try {
    YAML::Node root = YAML::Load(std::string(yaml_text));
    Parser(&reporter, &lines).ParseRoot(root, &topology);
  } catch (const YAML::Exception& e) {
    // Malformed YAML: yaml-cpp's message without its own "yaml-cpp: error at line..." prefix.
    reporter.Add(e.mark.line >= 0 ? e.mark.line + 1 : 0, "", "not valid YAML: " + e.msg);
  }
  // Rules run only on a well-formed model, so that a broken field does not cause a second,
  // misleading error (a facility that failed to parse is not "a region with two facilities").
  if (reporter.ok()) Validator(topology, options, &reporter).Run();
  MERIDIAN_RETURN_IF_ERROR(reporter.ToStatus());
  return topology;
}

Result<Topology> LoadTopology(const std::string& path, const ParseOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Validation("topology file " + path + " cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::Validation("topology file " + path + " cannot be read");
  ParseOptions with_base = options;
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(path, ec);
  with_base.base_dir = ec ? std::filesystem::path(path).parent_path() : abs.parent_path();
  return ParseTopology(text.str(), path, with_base);
}

Status ValidateTopology(const Topology& topology, const ParseOptions& options) {
  Reporter reporter("topology", nullptr);
  Validator(topology, options, &reporter).Run();
  return reporter.ToStatus();
}

std::string WriteTopology(const Topology& t) {
  std::string out =
      "# Meridian topology: regions, their three facilities, replicators and global tables.\n"
      "# Format: docs/topology.md.\n"
      "version: " + std::to_string(kTopologyVersion) + "\n" +
      "max_clock_offset_ms: " + std::to_string(t.max_clock_offset_ms) + "\n";
  if (t.tls) {
    out += "tls:\n";
    out += "  cert: " + Quote(t.tls->cert) + "\n";
    out += "  key: " + Quote(t.tls->key) + "\n";
    if (!t.tls->ca.empty()) out += "  ca: " + Quote(t.tls->ca) + "\n";
  }
  out += "regions:\n";
  for (const Region& r : t.regions) {
    out += "  - name: " + Quote(r.name) + "\n";
    out += "    facilities:\n";
    for (const Facility& f : r.facilities) {
      out += "      - name: " + Quote(f.name) + "\n";
      out += "        host: " + Quote(f.host) + "\n";
      if (!f.advertise.empty()) out += "        advertise: " + Quote(f.advertise) + "\n";
      out += "        native_port: " + std::to_string(f.native_port) + "\n";
      out += "        http_port: " + std::to_string(f.http_port) + "\n";
      if (f.publish) out += "        publish: " + std::to_string(*f.publish) + "\n";
      out += "        data: " + Quote(f.data) + "\n";
    }
    if (r.replicator) {
      out += "    replicator:\n";
      out += "      host: " + Quote(r.replicator->host) + "\n";
      if (!r.replicator->advertise.empty()) {
        out += "      advertise: " + Quote(r.replicator->advertise) + "\n";
      }
      out += "      port: " + std::to_string(r.replicator->port) + "\n";
      out += "      data: " + Quote(r.replicator->data) + "\n";
    }
  }
  if (!t.global_tables.empty()) {
    out += "global_tables:\n";
    for (const GlobalTable& g : t.global_tables) {
      out += "  - name: " + Quote(g.name) + "\n";
      out += "    regions: [";
      for (size_t i = 0; i < g.regions.size(); ++i) out += (i ? ", " : "") + Quote(g.regions[i]);
      out += "]\n";
      for (size_t i = 0; i < g.key_schema.size() && i < g.attribute_definitions.size(); ++i) {
        const AttributeType t = g.attribute_definitions[i].attribute_type;
        out += std::string("    ") + (g.key_schema[i].key_type == KeyType::kHash ? "hash_key" : "range_key") + ": " +
               Quote(g.key_schema[i].attribute_name + ":" + (t == AttributeType::kN ? "N" : t == AttributeType::kB ? "B" : "S")) + "\n";
      }
    }
  }
  return out;
}

std::string ResolveTopologyPath(const std::optional<std::string>& flag) {
  if (flag && !flag->empty()) return *flag;
  const char* env = std::getenv(std::string(kTopologyEnvVar).c_str());
  if (env && *env) return env;
  return std::string(kDefaultTopologyPath);
}

}  // namespace meridian::topology
