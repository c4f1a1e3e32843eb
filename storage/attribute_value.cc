#include "storage/attribute_value.h"

#include <algorithm>
#include <array>

namespace meridian {
namespace {

constexpr std::array<const char*, 10> kTypeNames = {"S", "N", "B", "BOOL", "NULL",
                                                    "M", "L", "SS", "NS", "BS"};

// The size of a number as DynamoDB counts it: 1 byte per two significant digits, plus 1.
size_t NumberSize(const Decimal& d) { return (d.digits().size() + 1) / 2 + 1; }

template <typename T, typename Less>
bool HasAdjacentDuplicate(const std::vector<T>& sorted, Less less) {
  for (size_t i = 1; i < sorted.size(); ++i)
    if (!less(sorted[i - 1], sorted[i])) return true;
  return false;
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return false;
    }
    i += len;
  }
  return true;
}

const char* AttributeTypeName(AttributeType t) { return kTypeNames[static_cast<size_t>(t)]; }

bool ParseAttributeType(std::string_view name, AttributeType* out) {
  for (size_t i = 0; i < kTypeNames.size(); ++i) {
    if (name == kTypeNames[i]) {
      *out = static_cast<AttributeType>(i);
      return true;
    }
  }
  return false;
}

AttributeValue AttributeValue::SS(std::vector<std::string> members) {
  std::sort(members.begin(), members.end());
  return AttributeValue(Storage(std::in_place_index<7>, StringSet{std::move(members)}));
}

AttributeValue AttributeValue::NS(std::vector<Decimal> members) {
  std::sort(members.begin(), members.end());
  return AttributeValue(Storage(std::in_place_index<8>, NumberSet{std::move(members)}));
}

AttributeValue AttributeValue::BS(std::vector<std::string> members) {
  std::vector<Binary> bins;
  bins.reserve(members.size());
  for (auto& m : members) bins.push_back(Binary{std::move(m)});
  std::sort(bins.begin(), bins.end());
  return AttributeValue(Storage(std::in_place_index<9>, BinarySet{std::move(bins)}));
}

Result<AttributeValue> AttributeValue::ParseN(std::string_view text) {
  MERIDIAN_ASSIGN_OR_RETURN(Decimal d, Decimal::Parse(text));
  return N(std::move(d));
}

size_t AttributeValueSize(const AttributeValue& v) {
  switch (v.type()) {
    case AttributeType::kS: return v.s().size();
    case AttributeType::kN: return NumberSize(v.n());
    case AttributeType::kB: return v.b().size();
    case AttributeType::kBool:
    case AttributeType::kNull: return 1;
    case AttributeType::kM: {
      size_t size = 3;
      for (const auto& [name, child] : v.m()) size += 1 + name.size() + AttributeValueSize(child);
      return size;
    }
    case AttributeType::kL: {
      size_t size = 3;
      for (const auto& child : v.l()) size += 1 + AttributeValueSize(child);
      return size;
    }
    case AttributeType::kSS: {
      size_t size = 0;
      for (const auto& m : v.ss()) size += m.size();
      return size;
    }
    case AttributeType::kNS: {
      size_t size = 0;
      for (const auto& m : v.ns()) size += NumberSize(m);
      return size;
    }
    case AttributeType::kBS: {
      size_t size = 0;
      for (const auto& m : v.bs()) size += m.bytes.size();
      return size;
    }
  }
  return 0;
}

size_t ItemSize(const Item& item) {
  size_t size = 0;
  for (const auto& [name, value] : item) size += name.size() + AttributeValueSize(value);
  return size;
}

Status ValidateAttributeValue(const AttributeValue& v, int depth) {
  if (depth > kMaxNestingDepth) {
    return Status::Validation("Nesting Levels have exceeded supported limits");
  }
  constexpr char kEmptySet[] = "One or more parameter values were invalid: An %s set  may not be empty";
  auto empty_set = [&](const char* kind) {
    std::string m = kEmptySet;
    m.replace(m.find("%s"), 2, kind);
    return Status::Validation(m);
  };
  constexpr char kDuplicates[] = "One or more parameter values were invalid: Input collection contains duplicates";
  constexpr char kBadUtf8[] = "One or more parameter values were invalid: A string is not valid UTF-8";
  switch (v.type()) {
    case AttributeType::kS:
      if (!IsValidUtf8(v.s())) return Status::Validation(kBadUtf8);
      return Status::Ok();
    case AttributeType::kM:
      for (const auto& [name, child] : v.m()) {
        if (!IsValidUtf8(name)) return Status::Validation(kBadUtf8);
        MERIDIAN_RETURN_IF_ERROR(ValidateAttributeValue(child, depth + 1));
      }
      return Status::Ok();
    case AttributeType::kL:
      for (const auto& child : v.l()) MERIDIAN_RETURN_IF_ERROR(ValidateAttributeValue(child, depth + 1));
      return Status::Ok();
    case AttributeType::kSS:
      if (v.ss().empty()) return empty_set("string");
      for (const auto& m : v.ss())
        if (!IsValidUtf8(m)) return Status::Validation(kBadUtf8);
      if (HasAdjacentDuplicate(v.ss(), std::less<>())) return Status::Validation(kDuplicates);
      return Status::Ok();
    case AttributeType::kNS:
      if (v.ns().empty()) return empty_set("number");
      if (HasAdjacentDuplicate(v.ns(), std::less<>())) return Status::Validation(kDuplicates);
      return Status::Ok();
    case AttributeType::kBS:
      if (v.bs().empty()) return empty_set("binary");
      if (HasAdjacentDuplicate(v.bs(), std::less<>())) return Status::Validation(kDuplicates);
      return Status::Ok();
    default:
      return Status::Ok();
  }
}

}  // namespace meridian
