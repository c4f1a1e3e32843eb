#include "storage/item_codec.h"

#include <algorithm>

namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
namespace adaptor {
namespace {

std::string BinOrStr(const msgpack::object& o) {
  if (o.type == msgpack::type::BIN) return std::string(o.via.bin.ptr, o.via.bin.size);
  if (o.type == msgpack::type::STR) return std::string(o.via.str.ptr, o.via.str.size);
  throw msgpack::type_error();
}

}  // namespace

const msgpack::object& convert<meridian::Decimal>::operator()(const msgpack::object& o,
                                                              meridian::Decimal& d) const {
  if (o.type != msgpack::type::STR) throw msgpack::type_error();
  auto r = meridian::Decimal::Parse(std::string_view(o.via.str.ptr, o.via.str.size));
  if (!r.ok()) throw meridian::DecodeError(r.status());
  d = std::move(r).value();
  return o;
}

const msgpack::object& convert<meridian::AttributeValue>::operator()(
    const msgpack::object& o, meridian::AttributeValue& v) const {
  using meridian::AttributeValue;
  if (o.type != msgpack::type::ARRAY || o.via.array.size != 2) throw msgpack::type_error();
  const msgpack::object& tag = o.via.array.ptr[0];
  const msgpack::object& body = o.via.array.ptr[1];
  if (tag.type != msgpack::type::POSITIVE_INTEGER || tag.via.u64 > 9) throw msgpack::type_error();
  switch (static_cast<meridian::AttributeType>(tag.via.u64)) {
    case meridian::AttributeType::kS: v = AttributeValue::S(body.as<std::string>()); break;
    case meridian::AttributeType::kN: v = AttributeValue::N(body.as<meridian::Decimal>()); break;
    case meridian::AttributeType::kB: v = AttributeValue::B(BinOrStr(body)); break;
    case meridian::AttributeType::kBool: v = AttributeValue::Bool(body.as<bool>()); break;
    case meridian::AttributeType::kNull:
      if (!body.is_nil()) throw msgpack::type_error();
      v = AttributeValue::NullValue();
      break;
    case meridian::AttributeType::kM: {
      if (body.type != msgpack::type::MAP) throw msgpack::type_error();
      meridian::AttributeMap m;
      for (uint32_t i = 0; i < body.via.map.size; ++i) {
        const auto& kv = body.via.map.ptr[i];
        m[kv.key.as<std::string>()] = kv.val.as<AttributeValue>();
      }
      v = AttributeValue::M(std::move(m));
      break;
    }
    case meridian::AttributeType::kL: v = AttributeValue::L(body.as<meridian::AttributeList>()); break;
    case meridian::AttributeType::kSS: v = AttributeValue::SS(body.as<std::vector<std::string>>()); break;
    case meridian::AttributeType::kNS: v = AttributeValue::NS(body.as<std::vector<meridian::Decimal>>()); break;
    case meridian::AttributeType::kBS: {
      if (body.type != msgpack::type::ARRAY) throw msgpack::type_error();
      std::vector<std::string> members;
      for (uint32_t i = 0; i < body.via.array.size; ++i) members.push_back(BinOrStr(body.via.array.ptr[i]));
      v = AttributeValue::BS(std::move(members));
      break;
    }
  }
  return o;
}

}  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE
}  // namespace msgpack

namespace meridian {

std::string EncodeItem(const Item& item) {
  msgpack::sbuffer buf;
  msgpack::pack(buf, item);
  return std::string(buf.data(), buf.size());
}

Result<Item> DecodeItem(std::string_view bytes) {
  try {
    // msgpack allocates an array's or map's elements as soon as it reads the header, before the
    // elements arrive, so a 5-byte header could ask for gigabytes. Every element takes at least
    // one byte of input (a map entry two), which bounds honest counts by the input's length.
    const size_t n = bytes.size();
    const auto bound = static_cast<uint32_t>(std::min<size_t>(n, 0xffffffff));
    msgpack::unpack_limit limit(bound, bound / 2, bound, bound, bound, kMaxMsgpackDepth);
    size_t offset = 0;
    msgpack::object_handle oh =
        msgpack::unpack(bytes.data(), bytes.size(), offset, nullptr, nullptr, limit);
    if (offset != bytes.size()) {
      return Status::Validation("bytes do not decode as an item: trailing bytes after the item");
    }
    return oh.get().as<Item>();
  } catch (const DecodeError& e) {
    return e.status();
  } catch (const std::exception& e) {
    return Status::Validation(std::string("bytes do not decode as an item: ") + e.what());
  }
}

}  // namespace meridian
