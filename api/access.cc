#include "api/access.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace meridian::api {
namespace {

bool Matches(const std::vector<std::string>& allowed, std::string_view name) {
  return std::any_of(allowed.begin(), allowed.end(),
                     [&](const std::string& a) { return a == "*" || a == name; });
}

// Random characters from `alphabet` (rejection sampling keeps them uniform).
std::string RandomString(size_t n, std::string_view alphabet) {
  std::string out;
  while (out.size() < n) {
    unsigned char buf[64];
    if (RAND_bytes(buf, sizeof buf) != 1) std::abort();  // no entropy: never issue a weak key
    for (unsigned char b : buf) {
      size_t limit = 256 - 256 % alphabet.size();
      if (b < limit && out.size() < n) out.push_back(alphabet[b % alphabet.size()]);
    }
  }
  return out;
}

Status WritePrivateFile(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Internal("cannot write " + tmp.string());
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) {
      ::close(fd);
      return Status::Internal("cannot write " + tmp.string());
    }
    done += static_cast<size_t>(n);
  }
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  std::error_code ec;
  if (ok) std::filesystem::rename(tmp, path, ec);
  if (!ok || ec) return Status::Internal("cannot write " + path.string());
  return Status::Ok();
}

std::string YamlQuoted(const std::string& s) {
  // Ids and secrets are from our alphabets or the user's file; quote so YAML never reinterprets.
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

bool AccessKey::AllowsTable(std::string_view table) const { return Matches(tables, table); }
bool AccessKey::AllowsAction(std::string_view action) const { return Matches(actions, action); }

AccessStore::AccessStore(std::vector<AccessKey> keys) : keys_(std::move(keys)) {
  for (size_t i = 0; i < keys_.size(); ++i) by_id_.emplace(keys_[i].access_key_id, i);
}

Result<AccessStore> AccessStore::Load(const std::filesystem::path& path) {
  auto bad = [&](const std::string& what) {
    return Status::Validation("access file " + path.string() + ": " + what);
  };
  std::ifstream in(path);
  if (!in) return bad("cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  std::vector<AccessKey> keys;
  std::set<std::string> seen;
  try {
    YAML::Node root = YAML::Load(text.str());
    if (!root.IsMap() || !root["keys"] || !root["keys"].IsSequence()) {
      return bad("expected a map with a 'keys' list");
    }
    for (const YAML::Node& k : root["keys"]) {
      if (!k.IsMap()) return bad("every entry of 'keys' must be a map");
      AccessKey key;
      if (!k["access_key_id"] || !k["secret_access_key"]) {
        return bad("every key needs access_key_id and secret_access_key");
      }
      key.access_key_id = k["access_key_id"].as<std::string>();
      key.secret_access_key = k["secret_access_key"].as<std::string>();
      if (key.access_key_id.empty() || key.secret_access_key.empty()) {
        return bad("empty access_key_id or secret_access_key");
      }
      if (!seen.insert(key.access_key_id).second) return bad("duplicate key " + key.access_key_id);
      for (const char* field : {"tables", "actions"}) {
        std::vector<std::string>& list = std::string(field) == "tables" ? key.tables : key.actions;
        if (!k[field]) continue;  // absent: everything
        list.clear();
        if (k[field].IsScalar()) {
          list.push_back(k[field].as<std::string>());
        } else if (k[field].IsSequence()) {
          for (const YAML::Node& v : k[field]) list.push_back(v.as<std::string>());
        } else {
          return bad(std::string("'") + field + "' of " + key.access_key_id + " must be a list");
        }
      }
      for (const std::string& action : key.actions) {
        Operation op;
        if (action != "*" && action != "DescribeEndpoints" && !ParseOperationName(action, &op)) {
          return bad("unknown action '" + action + "' for " + key.access_key_id);
        }
      }
      keys.push_back(std::move(key));
    }
  } catch (const YAML::Exception& e) {
    return bad(e.what());
  }
  return AccessStore(std::move(keys));
}

const AccessKey* AccessStore::Find(std::string_view id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &keys_[it->second];
}

std::optional<std::string> AccessStore::Secret(std::string_view id) const {
  const AccessKey* k = Find(id);
  if (!k) return std::nullopt;
  return k->secret_access_key;
}

Status AccessStore::Authorize(std::string_view id, std::string_view action,
                              const std::vector<std::string>& tables, std::string_view region) const {
  const AccessKey* key = Find(id);
  if (!key) {
    return Status(ErrorCode::kUnrecognizedClient, "The security token included in the request is invalid.");
  }
  std::string arn_prefix = "arn:aws:dynamodb:" + std::string(region) + ":000000000000:table/";
  auto denied = [&](const std::string& resource) {
    return Status(ErrorCode::kAccessDenied, "User: " + std::string(id) +
                                                " is not authorized to perform: dynamodb:" +
                                                std::string(action) + " on resource: " + resource);
  };
  if (tables.empty()) {
    if (!key->AllowsAction(action)) return denied(arn_prefix + "*");
    return Status::Ok();
  }
  for (const std::string& t : tables) {
    if (!key->AllowsAction(action) || !key->AllowsTable(t)) return denied(arn_prefix + t);
  }
  return Status::Ok();
}

std::vector<std::string> TablesOf(const Request& request) {
  return std::visit(
      [](const auto& r) -> std::vector<std::string> {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, ListTablesRequest>) {
          return {};
        } else if constexpr (std::is_same_v<T, BatchGetItemRequest> ||
                             std::is_same_v<T, BatchWriteItemRequest>) {
          std::vector<std::string> out;
          for (const auto& [name, unused] : r.request_items) out.push_back(name);
          return out;
        } else if constexpr (requires { r.table_name; }) {
          return {r.table_name};
        } else {
          return {};  // the replicator's internal operations: only the action is checked
        }
      },
      request);
}

std::string RenderAccessYaml(const std::vector<AccessKey>& keys) {
  std::string out =
      "# Meridian access keys: who may call this node (HTTP SigV4 and the native protocol).\n"
      "# tables: table names or \"*\"; actions: operation names (PutItem, Query, ...) or \"*\".\n"
      "keys:\n";
  auto list = [](const std::vector<std::string>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + YamlQuoted(v[i]);
    return s + "]";
  };
  for (const AccessKey& k : keys) {
    out += "  - access_key_id: " + YamlQuoted(k.access_key_id) + "\n";
    out += "    secret_access_key: " + YamlQuoted(k.secret_access_key) + "\n";
    out += "    tables: " + list(k.tables) + "\n";
    out += "    actions: " + list(k.actions) + "\n";
  }
  return out;
}

std::string RenderCredentialsIni(const AccessKey& key, std::string_view profile,
                                 std::string_view region) {
  return "[" + std::string(profile) + "]\naws_access_key_id = " + key.access_key_id +
         "\naws_secret_access_key = " + key.secret_access_key + "\nregion = " + std::string(region) +
         "\n";
}

AccessKey GenerateKey() {
  AccessKey key;
  key.access_key_id = "MER" + RandomString(17, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
  key.secret_access_key = RandomString(
      40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
  return key;
}

Result<AccessKey> GenerateAccessFiles(const std::filesystem::path& dir) {
  AccessKey key = GenerateKey();
  MERIDIAN_RETURN_IF_ERROR(WritePrivateFile(dir / "access.yaml", RenderAccessYaml({key})));
  MERIDIAN_RETURN_IF_ERROR(
      WritePrivateFile(dir / "credentials", RenderCredentialsIni(key, "meridian", "us-east-1")));
  return key;
}

}  // namespace meridian::api
