// Binary encoding of attribute values and items with msgpack: the form items take in RocksDB and
// on the native wire.
//
// An AttributeValue is packed as a two-element array [type, payload]: S as str, N as its
// canonical text (so a decoded number is re-validated), B as bin, BOOL as bool, NULL as nil, M as a
// map, L as an array, and sets as arrays of their members' encodings. Decoding a value checks
// every rule a value obeys (number syntax and range); it throws msgpack::type_error (or
// meridian::DecodeError) on anything else, which the callers below turn into a Status.
//
// Thread-safety: stateless functions.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#define MSGPACK_NO_BOOST 1
#include <msgpack.hpp>

#include "storage/attribute_value.h"
#include "storage/status.h"

namespace meridian {

// Thrown inside msgpack adaptors when bytes decode but break a rule (a bad number, a depth past the
// limit); never crosses a module boundary: callers catch it and return a Status.
class DecodeError : public std::runtime_error {
 public:
  explicit DecodeError(Status status)
      : std::runtime_error(status.message()), status_(std::move(status)) {}
  const Status& status() const { return status_; }

 private:
  Status status_;
};

// msgpack depth needed for kMaxNestingDepth levels of values ([type, payload] is two levels each)
// plus the request envelope around an item.
inline constexpr size_t kMaxMsgpackDepth = 2 * kMaxNestingDepth + 16;

std::string EncodeItem(const Item& item);
// ValidationException-coded Status when the bytes are not an item.
Result<Item> DecodeItem(std::string_view bytes);

}  // namespace meridian

namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
namespace adaptor {

template <>
struct pack<meridian::AttributeValue> {
  template <typename Stream>
  packer<Stream>& operator()(packer<Stream>& o, const meridian::AttributeValue& v) const;
};

template <>
struct convert<meridian::AttributeValue> {
  const msgpack::object& operator()(const msgpack::object& o, meridian::AttributeValue& v) const;
};

template <>
struct pack<meridian::Decimal> {
  template <typename Stream>
  packer<Stream>& operator()(packer<Stream>& o, const meridian::Decimal& d) const {
    std::string text = d.ToString();
    o.pack(text);
    return o;
  }
};

template <>
struct convert<meridian::Decimal> {
  const msgpack::object& operator()(const msgpack::object& o, meridian::Decimal& d) const;
};

template <typename Stream>
packer<Stream>& pack<meridian::AttributeValue>::operator()(packer<Stream>& o,
                                                           const meridian::AttributeValue& v) const {
  using meridian::AttributeType;
  o.pack_array(2);
  o.pack(static_cast<uint8_t>(v.type()));
  switch (v.type()) {
    case AttributeType::kS: o.pack(v.s()); break;
    case AttributeType::kN: o.pack(v.n()); break;
    case AttributeType::kB: o.pack_bin(static_cast<uint32_t>(v.b().size())); o.pack_bin_body(v.b().data(), static_cast<uint32_t>(v.b().size())); break;
    case AttributeType::kBool: o.pack(v.boolean()); break;
    case AttributeType::kNull: o.pack_nil(); break;
    case AttributeType::kM:
      o.pack_map(static_cast<uint32_t>(v.m().size()));
      for (const auto& [name, child] : v.m()) { o.pack(name); o.pack(child); }
      break;
    case AttributeType::kL:
      o.pack_array(static_cast<uint32_t>(v.l().size()));
      for (const auto& child : v.l()) o.pack(child);
      break;
    case AttributeType::kSS:
      o.pack_array(static_cast<uint32_t>(v.ss().size()));
      for (const auto& m : v.ss()) o.pack(m);
      break;
    case AttributeType::kNS:
      o.pack_array(static_cast<uint32_t>(v.ns().size()));
      for (const auto& m : v.ns()) o.pack(m);
      break;
    case AttributeType::kBS:
      o.pack_array(static_cast<uint32_t>(v.bs().size()));
      for (const auto& m : v.bs()) { o.pack_bin(static_cast<uint32_t>(m.bytes.size())); o.pack_bin_body(m.bytes.data(), static_cast<uint32_t>(m.bytes.size())); }
      break;
  }
  return o;
}

}  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE
}  // namespace msgpack
