// The access file: who may call this node, with which secret, on which tables and operations.
//
// DIR/access.yaml (or --access FILE), read with yaml-cpp:
//
//   keys:
//     - access_key_id: MERIDIANAAAAAAAAAAAA
//       secret_access_key: "40 characters"
//       tables: ["*"]            # table names, or "*" for every table
//       actions: ["*"]           # operation names ("PutItem", "Query", ...), or "*"
//
// The same keys sign HTTP requests (SigV4, api/sigv4.h) and native frames (proto/frame.h), so no
// port bypasses them. A node given no access file on first start generates one key that may do
// everything (GenerateAccessFiles), writes it here (mode 0600) and writes the client side to
// DIR/credentials as an AWS shared-credentials file (profile `meridian`).
//
// Authorization follows DynamoDB's IAM wording: AccessDeniedException "User: <key> is not
// authorized to perform: dynamodb:<Op> on resource: <table arn>".
//
// Thread-safety: an AccessStore is immutable after Load; share it freely between threads.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/operations.h"
#include "storage/status.h"

namespace meridian::api {

struct AccessKey {
  std::string access_key_id;
  std::string secret_access_key;
  std::vector<std::string> tables = {"*"};
  std::vector<std::string> actions = {"*"};

  bool AllowsTable(std::string_view table) const;
  bool AllowsAction(std::string_view action) const;
};

class AccessStore {
 public:
  AccessStore() = default;
  explicit AccessStore(std::vector<AccessKey> keys);

  // Reads an access file. ValidationException naming the file and the problem when it is not
  // valid (not YAML, a key without id or secret, a duplicate id).
  static Result<AccessStore> Load(const std::filesystem::path& path);

  const AccessKey* Find(std::string_view access_key_id) const;
  std::optional<std::string> Secret(std::string_view access_key_id) const;

  // OK when `access_key_id` may perform `action` on every table in `tables` (none for ListTables
  // and DescribeEndpoints: then only the action is checked). `region` names the table ARNs in
  // the error.
  Status Authorize(std::string_view access_key_id, std::string_view action,
                   const std::vector<std::string>& tables, std::string_view region) const;

  const std::vector<AccessKey>& keys() const { return keys_; }

 private:
  std::vector<AccessKey> keys_;
  std::map<std::string, size_t, std::less<>> by_id_;
};

// The tables a request touches (one for most operations, every table of a batch, none for
// ListTables).
std::vector<std::string> TablesOf(const Request& request);

// The YAML text of an access file holding `keys`.
std::string RenderAccessYaml(const std::vector<AccessKey>& keys);
// An AWS shared-credentials INI with one profile.
std::string RenderCredentialsIni(const AccessKey& key, std::string_view profile,
                                 std::string_view region);

// A fresh key (random id "MER" + 17 upper-case letters and digits, 40-character secret) allowed
// everything.
AccessKey GenerateKey();
// Generates a key and writes `dir`/access.yaml (0600) and `dir`/credentials (0600, profile
// `meridian`, region us-east-1). Non-OK if either cannot be written.
Result<AccessKey> GenerateAccessFiles(const std::filesystem::path& dir);

}  // namespace meridian::api
