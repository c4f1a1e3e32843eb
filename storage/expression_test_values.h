// Compact builders of attribute values for the expression tests.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "storage/attribute_value.h"

namespace meridian::testing_values {

inline AttributeValue S(std::string s) { return AttributeValue::S(std::move(s)); }
inline AttributeValue N(std::string_view text) { return AttributeValue::ParseN(text).value(); }
inline AttributeValue B(std::string bytes) { return AttributeValue::B(std::move(bytes)); }
inline AttributeValue L(std::vector<AttributeValue> l) { return AttributeValue::L(std::move(l)); }
inline AttributeValue M(AttributeMap m) { return AttributeValue::M(std::move(m)); }
inline AttributeValue SS(std::vector<std::string> v) { return AttributeValue::SS(std::move(v)); }
inline AttributeValue NS(std::vector<std::string_view> v) {
  std::vector<Decimal> d;
  for (std::string_view s : v) d.push_back(Decimal::Parse(s).value());
  return AttributeValue::NS(std::move(d));
}
inline AttributeValue BS(std::vector<std::string> v) { return AttributeValue::BS(std::move(v)); }

}  // namespace meridian::testing_values
