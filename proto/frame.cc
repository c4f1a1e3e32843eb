#include "proto/frame.h"

#include <algorithm>
#include <utility>

namespace meridian::proto {
namespace {

struct ErrorBody {
  int code = 0;
  std::string type;
  std::string message;
  MSGPACK_DEFINE_MAP(code, type, message);
};

template <typename Variant>
void PackFrame(msgpack::sbuffer* buf, FrameKind kind, uint16_t op, std::string_view request_id,
               const Variant& body) {
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_array(5);
  pk.pack(kProtocolVersion);
  pk.pack(static_cast<uint8_t>(kind));
  pk.pack(op);
  pk.pack(request_id);
  std::visit([&](const auto& b) { pk.pack(b); }, body);
}

// Converts a msgpack object into the alternative `index` of a variant (requests or responses).
template <typename Variant, size_t I = 0>
Variant ConvertAlternative(size_t index, const msgpack::object& o) {
  if constexpr (I < std::variant_size_v<Variant>) {
    if (index == I) {
      std::variant_alternative_t<I, Variant> v;
      o.convert(v);
      return Variant(std::in_place_index<I>, std::move(v));
    }
    return ConvertAlternative<Variant, I + 1>(index, o);
  } else {
    throw msgpack::type_error();
  }
}

msgpack::unpack_limit Limits(size_t frame_bytes) {
  // Bounds every container by what the frame can hold (each element takes at least one byte), so
  // a small hostile frame cannot claim a huge allocation, and bounds the nesting so it cannot
  // exhaust the stack.
  size_t bound = std::max<size_t>(frame_bytes, 1);
  return msgpack::unpack_limit(bound, bound / 2 + 1, bound, bound, bound, kMaxMsgpackDepth);
}

struct Envelope {
  msgpack::object_handle handle;
  FrameKind kind = FrameKind::kRequest;
  uint16_t op = 0;
  std::string request_id;
  const msgpack::object* body = nullptr;
};

// Parses the five-element envelope. Throws msgpack errors on malformed input.
Status ParseEnvelope(std::string_view bytes, Envelope* env) {
  if (bytes.size() > kMaxFrameBytes) {
    return Status::Validation("Frame of " + std::to_string(bytes.size()) +
                              " bytes exceeds the limit of " + std::to_string(kMaxFrameBytes));
  }
  size_t offset = 0;
  env->handle = msgpack::unpack(bytes.data(), bytes.size(), offset, nullptr, nullptr, Limits(bytes.size()));
  if (offset != bytes.size()) return Status::Serialization("trailing bytes after the frame");
  const msgpack::object& o = env->handle.get();
  if (o.type != msgpack::type::ARRAY || o.via.array.size != 5) {
    return Status::Serialization("frame is not a five-element array");
  }
  const msgpack::object* f = o.via.array.ptr;
  if (f[3].type == msgpack::type::STR) env->request_id.assign(f[3].via.str.ptr, f[3].via.str.size);
  if (f[0].type != msgpack::type::POSITIVE_INTEGER || f[0].via.u64 != kProtocolVersion) {
    return Status::Serialization("unsupported protocol version");
  }
  if (f[1].type != msgpack::type::POSITIVE_INTEGER || f[1].via.u64 < 1 || f[1].via.u64 > 3) {
    return Status::Serialization("bad frame kind");
  }
  env->kind = static_cast<FrameKind>(f[1].via.u64);
  if (f[2].type != msgpack::type::POSITIVE_INTEGER || f[2].via.u64 > 0xffff) {
    return Status::Serialization("bad operation number");
  }
  env->op = static_cast<uint16_t>(f[2].via.u64);
  if (f[3].type != msgpack::type::STR) return Status::Serialization("bad request id");
  env->body = &f[4];
  return Status::Ok();
}

bool KnownOperation(uint16_t op) { return op >= 1 && op <= kOperationCount; }

}  // namespace

std::string EncodeRequest(std::string_view request_id, const Request& request) {
  msgpack::sbuffer buf;
  PackFrame(&buf, FrameKind::kRequest, static_cast<uint16_t>(OperationOf(request)), request_id, request);
  return std::string(buf.data(), buf.size());
}

std::string EncodeResponse(std::string_view request_id, const Response& response) {
  msgpack::sbuffer buf;
  PackFrame(&buf, FrameKind::kResponse, static_cast<uint16_t>(OperationOf(response)), request_id, response);
  return std::string(buf.data(), buf.size());
}

std::string EncodeError(std::string_view request_id, Operation op, const Status& error) {
  msgpack::sbuffer buf;
  ErrorBody body{static_cast<int>(error.code()), ErrorTypeString(error.code()), error.message()};
  PackFrame(&buf, FrameKind::kError, static_cast<uint16_t>(op), request_id, std::variant<ErrorBody>(body));
  return std::string(buf.data(), buf.size());
}

DecodedRequest DecodeRequest(std::string_view bytes) {
  DecodedRequest out;
  Envelope env;
  try {
    Status st = ParseEnvelope(bytes, &env);
    out.request_id = env.request_id;
    if (!st.ok()) {
      out.request = st;
      return out;
    }
    if (env.kind != FrameKind::kRequest) {
      out.request = Status::Serialization("expected a request frame");
      return out;
    }
    if (!KnownOperation(env.op)) {
      out.request = Status(ErrorCode::kUnknownOperation,
                           "Unknown operation number " + std::to_string(env.op));
      return out;
    }
    out.operation = static_cast<Operation>(env.op);
    out.request = ConvertAlternative<Request>(env.op - 1, *env.body);
  } catch (const DecodeError& e) {
    out.request = e.status();
  } catch (const std::exception& e) {
    out.request = Status::Serialization(std::string("frame does not decode: ") + e.what());
  }
  return out;
}

DecodedReply DecodeReply(std::string_view bytes) {
  DecodedReply out;
  Envelope env;
  try {
    Status st = ParseEnvelope(bytes, &env);
    out.request_id = env.request_id;
    if (!st.ok()) {
      out.response = st;
      return out;
    }
    if (env.kind == FrameKind::kError) {
      ErrorBody body;
      env.body->convert(body);
      ErrorCode code = ErrorCodeFromName(body.type);
      out.response = Status(code == ErrorCode::kOk ? ErrorCode::kInternalServerError : code, body.message);
      return out;
    }
    if (env.kind != FrameKind::kResponse || !KnownOperation(env.op)) {
      out.response = Status::Serialization("expected a response frame");
      return out;
    }
    out.response = ConvertAlternative<Response>(env.op - 1, *env.body);
  } catch (const DecodeError& e) {
    out.response = e.status();
  } catch (const std::exception& e) {
    out.response = Status::Serialization(std::string("frame does not decode: ") + e.what());
  }
  return out;
}

}  // namespace meridian::proto
