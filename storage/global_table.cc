#include "storage/global_table.h"

#include <algorithm>

namespace meridian::global {

std::string EncodeBe64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (56 - 8 * i)) & 0xff);
  return out;
}

uint64_t DecodeBe64(std::string_view b) {
  if (b.size() != 8) return 0;
  uint64_t v = 0;
  for (char c : b) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

std::string CursorKey(const std::string& source) { return kCursorPrefix + source; }
std::string KnowledgeKey(const std::string& source) { return kKnowledgePrefix + source; }
std::string LagKey(const std::string& source) { return kLagPrefix + source; }

std::string BackfillPeerPrefix(const std::string& peer) {
  std::string k = kBackfillPrefix + peer;
  k.push_back('\0');
  return k;
}
std::string BackfillKey(const std::string& peer, const std::string& table) { return BackfillPeerPrefix(peer) + table; }
std::string BehindKey(const std::string& peer) { return kBehindPrefix + peer; }

std::string TombOriginPrefix(const std::string& origin) {
  std::string k = kTombPrefix + origin;
  k.push_back('\0');
  return k;
}

std::string TombStartKey(const std::string& origin) { return kTombStartPrefix + origin; }

std::string TombKey(const std::string& origin, uint64_t origin_seq, std::string_view item_key) {
  std::string k = TombOriginPrefix(origin) + EncodeBe64(origin_seq);
  k.append(item_key);
  return k;
}

bool ParseTombKey(std::string_view key, TombKeyParts* out) {
  std::string_view prefix = kTombPrefix;
  if (key.substr(0, prefix.size()) != prefix) return false;
  key.remove_prefix(prefix.size());
  size_t zero = key.find('\0');
  if (zero == std::string_view::npos || key.size() < zero + 1 + 8) return false;
  out->origin = std::string(key.substr(0, zero));
  out->origin_seq = DecodeBe64(key.substr(zero + 1, 8));
  out->item_key = std::string(key.substr(zero + 9));
  return true;
}

std::string ConflictCountKey(const std::string& table) { return kConflictCountPrefix + table; }
std::string ConflictTablePrefix(const std::string& table) {
  std::string k = kConflictPrefix + table;
  k.push_back('\0');
  return k;
}
std::string ConflictKey(const std::string& table, uint64_t n) { return ConflictTablePrefix(table) + EncodeBe64(n); }

std::string FloorKey(uint64_t table_id) { return kFloorPrefix + EncodeBe64(table_id); }

Status ValidateRegionName(const std::string& name, const std::string& field) {
  bool pattern_ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
  std::string prefix = "1 validation error detected: Value '" + name + "' at '" + field + "' failed to satisfy constraint: ";
  if (!pattern_ok) return Status::Validation(prefix + "Member must satisfy regular expression pattern: [a-z0-9-]+");
  if (name.size() > 64) return Status::Validation(prefix + "Member must have length less than or equal to 64");
  return Status::Ok();
}

std::vector<std::string> RegionsOf(const std::vector<ReplicaDescription>& replicas) {
  std::vector<std::string> out;
  out.reserve(replicas.size());
  for (const auto& r : replicas) out.push_back(r.region_name);
  return out;
}

}  // namespace meridian::global
