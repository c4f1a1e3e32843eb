#include "proto/frame.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <chrono>
#include <utility>

namespace meridian::proto {
namespace {

struct ErrorBody {
  int code = 0;
  std::string type;
  std::string message;
  std::optional<Item> item;  // the item some errors carry (Status::item_payload)
  MSGPACK_DEFINE_MAP(code, type, message, item);
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

struct AuthWire {
  std::string key_id;
  int64_t ts = 0;
  std::string sig;
  MSGPACK_DEFINE_MAP(key_id, ts, sig);
};

struct Envelope {
  msgpack::object_handle handle;
  std::optional<FrameAuth> auth;
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
  if (o.type != msgpack::type::ARRAY || (o.via.array.size != 5 && o.via.array.size != 6)) {
    return Status::Serialization("frame is not a five- or six-element array");
  }
  const msgpack::object* f = o.via.array.ptr;
  if (o.via.array.size == 6) {
    // The signed span is everything between the one-byte array header and the auth map. The
    // auth map's length is found by packing it again: a sender that encoded it another way only
    // makes its own signature fail.
    if (static_cast<uint8_t>(bytes[0]) != 0x96 || f[5].type != msgpack::type::MAP) {
      return Status::Serialization("malformed frame signature");
    }
    AuthWire wire;
    f[5].convert(wire);
    msgpack::sbuffer again;
    msgpack::pack(again, f[5]);
    if (again.size() + 1 > bytes.size()) return Status::Serialization("malformed frame signature");
    env->auth = FrameAuth{wire.key_id, wire.ts, wire.sig,
                          std::string(bytes.substr(1, bytes.size() - 1 - again.size()))};
  }
  if (f[3].type == msgpack::type::STR) env->request_id.assign(f[3].via.str.ptr, f[3].via.str.size);
  if (f[0].type != msgpack::type::POSITIVE_INTEGER || f[0].via.u64 != kProtocolVersion) {
    return Status::Serialization("unsupported protocol version");
  }
  if (f[1].type != msgpack::type::POSITIVE_INTEGER || f[1].via.u64 < 1 || f[1].via.u64 > kMaxFrameKind) {
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


std::string SignPacked(const msgpack::sbuffer& buf, const FrameCredentials* credentials, int64_t now) {
  if (!credentials) return std::string(buf.data(), buf.size());
  if (now == 0) {
    now = std::chrono::duration_cast<std::chrono::seconds>(
              std::chrono::system_clock::now().time_since_epoch()).count();
  }
  // Same elements under a six-element header (fixarray 0x95 -> 0x96), then the auth map.
  std::string_view elements(buf.data() + 1, buf.size() - 1);
  AuthWire wire{credentials->access_key_id, now,
                FrameSignature(credentials->secret_access_key, credentials->access_key_id, now, elements)};
  msgpack::sbuffer auth;
  msgpack::pack(auth, wire);
  std::string out;
  out.reserve(buf.size() + auth.size());
  out.push_back(static_cast<char>(0x96));
  out.append(elements);
  out.append(auth.data(), auth.size());
  return out;
}

}  // namespace

std::string EncodeRequest(std::string_view request_id, const Request& request,
                          const FrameCredentials* credentials, int64_t now) {
  msgpack::sbuffer buf;
  PackFrame(&buf, FrameKind::kRequest, static_cast<uint16_t>(OperationOf(request)), request_id, request);
  return SignPacked(buf, credentials, now);
}

std::string EncodeFrame(FrameKind kind, uint16_t op, std::string_view request_id,
                        std::string_view packed_body, const FrameCredentials* credentials,
                        int64_t now) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(&buf);
  pk.pack_array(5);
  pk.pack(kProtocolVersion);
  pk.pack(static_cast<uint8_t>(kind));
  pk.pack(op);
  pk.pack(request_id);
  buf.write(packed_body.data(), packed_body.size());
  return SignPacked(buf, credentials, now);
}

Status DecodeFrame(std::string_view bytes, RawFrame* out) {
  Envelope env;
  try {
    Status st = ParseEnvelope(bytes, &env);
    out->request_id = env.request_id;
    out->auth = std::move(env.auth);
    if (!st.ok()) return st;
    out->kind = env.kind;
    out->op = env.op;
    out->handle = std::move(env.handle);
    out->body = env.body;
  } catch (const DecodeError& e) {
    return e.status();
  } catch (const std::exception& e) {
    return Status::Serialization(std::string("frame does not decode: ") + e.what());
  }
  return Status::Ok();
}

std::optional<FrameKind> PeekFrameKind(std::string_view bytes) {
  // [0x95|0x96, version (positive fixint), kind (positive fixint), ...]
  if (bytes.size() < 3) return std::nullopt;
  uint8_t header = static_cast<uint8_t>(bytes[0]);
  uint8_t kind = static_cast<uint8_t>(bytes[2]);
  if ((header != 0x95 && header != 0x96) || static_cast<uint8_t>(bytes[1]) != kProtocolVersion ||
      kind < 1 || kind > kMaxFrameKind) {
    return std::nullopt;
  }
  return static_cast<FrameKind>(kind);
}

std::string FrameSignature(std::string_view secret, std::string_view key_id, int64_t timestamp,
                           std::string_view signed_bytes) {
  std::string prefix = "meridian-frame-v1\n" + std::string(key_id) + "\n" + std::to_string(timestamp) + "\n";
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC_CTX* ctx = HMAC_CTX_new();
  HMAC_Init_ex(ctx, secret.data(), static_cast<int>(secret.size()), EVP_sha256(), nullptr);
  HMAC_Update(ctx, reinterpret_cast<const unsigned char*>(prefix.data()), prefix.size());
  HMAC_Update(ctx, reinterpret_cast<const unsigned char*>(signed_bytes.data()), signed_bytes.size());
  HMAC_Final(ctx, out, &len);
  HMAC_CTX_free(ctx);
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned i = 0; i < len; ++i) {
    hex.push_back(kHex[out[i] >> 4]);
    hex.push_back(kHex[out[i] & 15]);
  }
  return hex;
}

Status VerifyFrameAuth(const FrameAuth& auth, std::string_view secret, int64_t now,
                       int64_t max_skew_seconds) {
  std::string expected = FrameSignature(secret, auth.key_id, auth.timestamp, auth.signed_bytes);
  if (auth.signature.size() != expected.size() ||
      CRYPTO_memcmp(auth.signature.data(), expected.data(), expected.size()) != 0) {
    return Status(ErrorCode::kInvalidSignature,
                  "The request signature we calculated does not match the signature you provided. "
                  "Check your AWS Secret Access Key and signing method.");
  }
  if (auth.timestamp < now - max_skew_seconds || auth.timestamp > now + max_skew_seconds) {
    return Status(ErrorCode::kInvalidSignature,
                  "Signature expired: frame signed at " + std::to_string(auth.timestamp) +
                      " is outside the " + std::to_string(max_skew_seconds / 60) +
                      " min. window around " + std::to_string(now) + " (epoch seconds)");
  }
  return Status::Ok();
}

std::string EncodeResponse(std::string_view request_id, const Response& response) {
  msgpack::sbuffer buf;
  PackFrame(&buf, FrameKind::kResponse, static_cast<uint16_t>(OperationOf(response)), request_id, response);
  return std::string(buf.data(), buf.size());
}

std::string EncodeError(std::string_view request_id, Operation op, const Status& error) {
  msgpack::sbuffer buf;
  ErrorBody body{static_cast<int>(error.code()), ErrorTypeString(error.code()), error.message(), std::nullopt};
  if (!error.item_payload().empty()) {
    if (auto item = DecodeItem(error.item_payload()); item.ok()) body.item = std::move(item).value();
  }
  PackFrame(&buf, FrameKind::kError, static_cast<uint16_t>(op), request_id, std::variant<ErrorBody>(body));
  return std::string(buf.data(), buf.size());
}

Status DecodeErrorBody(const msgpack::object& o) {
  ErrorBody body;
  o.convert(body);
  ErrorCode code = ErrorCodeFromName(body.type);
  Status error(code == ErrorCode::kOk ? ErrorCode::kInternalServerError : code, body.message);
  if (body.item) error = std::move(error).WithItemPayload(EncodeItem(*body.item));
  return error;
}

DecodedRequest DecodeRequest(std::string_view bytes) {
  DecodedRequest out;
  Envelope env;
  try {
    Status st = ParseEnvelope(bytes, &env);
    out.request_id = env.request_id;
    out.auth = std::move(env.auth);
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
      out.response = DecodeErrorBody(*env.body);
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
