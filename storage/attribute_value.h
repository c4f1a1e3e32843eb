// AttributeValue and Item: DynamoDB's data model.
//
// An AttributeValue is one of S, N, B, BOOL, NULL, M, L, SS, NS, BS
// (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_AttributeValue.html).
// An Item is a map from attribute name to value. Sets are kept sorted in their type's order (S and
// B by bytes, N numerically), which makes equality and encoding canonical; DynamoDB returns set
// members in no promised order, so clients cannot tell.
//
// Values are built freely; Validate* checks DynamoDB's rules (non-empty unique sets, nesting depth)
// where a request enters the engine, so that every wire format shares one set of rules.
//
// Thread-safety: value types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "storage/decimal.h"
#include "storage/status.h"

namespace meridian {

enum class AttributeType : uint8_t { kS, kN, kB, kBool, kNull, kM, kL, kSS, kNS, kBS };

// "S", "N", ..., "NULL", "SS"...: the JSON tag DynamoDB uses.
const char* AttributeTypeName(AttributeType t);
// Parses a tag; false if unknown.
bool ParseAttributeType(std::string_view name, AttributeType* out);

// Raw bytes of a B value or BS member (kept apart from std::string so the variant can tell S from B).
struct Binary {
  std::string bytes;
  bool operator==(const Binary& o) const { return bytes == o.bytes; }
  bool operator<(const Binary& o) const { return bytes < o.bytes; }
};

struct Null {
  bool operator==(const Null&) const { return true; }
};

class AttributeValue;
using AttributeMap = std::map<std::string, AttributeValue>;
using AttributeList = std::vector<AttributeValue>;
using Item = AttributeMap;

struct StringSet { std::vector<std::string> members; bool operator==(const StringSet& o) const { return members == o.members; } };
struct NumberSet { std::vector<Decimal> members; bool operator==(const NumberSet& o) const { return members == o.members; } };
struct BinarySet { std::vector<Binary> members; bool operator==(const BinarySet& o) const { return members == o.members; } };

class AttributeValue {
 public:
  // Alternatives in AttributeType order.
  using Storage = std::variant<std::string, Decimal, Binary, bool, Null, AttributeMap,
                               AttributeList, StringSet, NumberSet, BinarySet>;

  AttributeValue() : v_(Null{}) {}
  static AttributeValue S(std::string s) { return AttributeValue(Storage(std::in_place_index<0>, std::move(s))); }
  static AttributeValue N(Decimal d) { return AttributeValue(Storage(std::in_place_index<1>, std::move(d))); }
  static AttributeValue B(std::string bytes) { return AttributeValue(Storage(std::in_place_index<2>, Binary{std::move(bytes)})); }
  static AttributeValue Bool(bool b) { return AttributeValue(Storage(std::in_place_index<3>, b)); }
  static AttributeValue NullValue() { return AttributeValue(); }
  static AttributeValue M(AttributeMap m) { return AttributeValue(Storage(std::in_place_index<5>, std::move(m))); }
  static AttributeValue L(AttributeList l) { return AttributeValue(Storage(std::in_place_index<6>, std::move(l))); }
  // Set constructors sort their members; duplicates are kept so that Validate can report them.
  static AttributeValue SS(std::vector<std::string> members);
  static AttributeValue NS(std::vector<Decimal> members);
  static AttributeValue BS(std::vector<std::string> members);
  // N from text; ValidationException on a bad number.
  static Result<AttributeValue> ParseN(std::string_view text);

  AttributeType type() const { return static_cast<AttributeType>(v_.index()); }
  bool is(AttributeType t) const { return type() == t; }

  const std::string& s() const { return std::get<0>(v_); }
  const Decimal& n() const { return std::get<1>(v_); }
  const std::string& b() const { return std::get<2>(v_).bytes; }
  bool boolean() const { return std::get<3>(v_); }
  const AttributeMap& m() const { return std::get<5>(v_); }
  AttributeMap& m() { return std::get<5>(v_); }
  const AttributeList& l() const { return std::get<6>(v_); }
  AttributeList& l() { return std::get<6>(v_); }
  const std::vector<std::string>& ss() const { return std::get<7>(v_).members; }
  const std::vector<Decimal>& ns() const { return std::get<8>(v_).members; }
  const std::vector<Binary>& bs() const { return std::get<9>(v_).members; }

  const Storage& storage() const { return v_; }

  bool operator==(const AttributeValue& o) const { return v_ == o.v_; }
  bool operator!=(const AttributeValue& o) const { return !(v_ == o.v_); }

 private:
  explicit AttributeValue(Storage v) : v_(std::move(v)) {}
  Storage v_;
};

// DynamoDB's documented limits.
inline constexpr size_t kMaxItemSizeBytes = 400 * 1024;
inline constexpr size_t kMaxPartitionKeyBytes = 2048;
inline constexpr size_t kMaxSortKeyBytes = 1024;
inline constexpr int kMaxNestingDepth = 32;

// Size of a value as DynamoDB counts it toward the 400 KB item limit and capacity units
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):
// S and B their bytes; N 1 byte per two significant digits plus 1; BOOL and NULL 1; M and L 3 bytes
// plus, per element, 1 byte plus its size (and its name, for M); sets the sum of their members.
size_t AttributeValueSize(const AttributeValue& v);
// Names plus values.
size_t ItemSize(const Item& item);

// Whether `s` is well-formed UTF-8 (DynamoDB's strings and attribute names must be).
bool IsValidUtf8(std::string_view s);

// Checks the rules every stored value obeys: strings (and map keys) are UTF-8, sets non-empty and without duplicates, nesting at
// most kMaxNestingDepth. `depth` is the depth of `v` itself (a top-level attribute is 1).
Status ValidateAttributeValue(const AttributeValue& v, int depth = 1);

}  // namespace meridian
