// The native wire: msgpack frames over ZeroMQ, client DEALER to node ROUTER.
//
// A frame is one ZeroMQ message holding a msgpack array
//   [version, kind, operation, request_id, body]            (unsigned)
//   [version, kind, operation, request_id, body, auth]      (a signed request)
// where version is kProtocolVersion, kind is request/response/error, operation the
// storage/operations.h wire number, request_id the client's id for the request (echoed in the
// reply; later also the idempotency key for retried writes) and body the operation's
// request/response map, or for an error {"code": int, "type": "__type", "message": text}.
//
// auth is the map {"key_id": access key id, "ts": epoch seconds, "sig": hex HMAC-SHA256}; the
// HMAC is keyed with the key's secret (the same keys as SigV4, api/access.h) and covers
//   "meridian-frame-v1\n" key_id "\n" ts "\n" <the encoded bytes of the first five elements>
// so nothing in the frame can change without the server noticing. The server refuses a ts outside
// its skew window (15 minutes, as SigV4), which bounds replays; a replayed write inside the window
// carries its original request id and is answered from the request-id window
// (region/request_executor.h) instead of being applied again. Unsigned five-element frames still
// decode (older clients, --no-auth nodes); a node with auth on refuses them. Replies are unsigned.
//
// Decoding is total: any bytes give either a frame or a Status saying what is wrong
// (SerializationException for undecodable bytes, ValidationException for a frame over
// kMaxFrameBytes or a bad value inside, UnknownOperationException for an operation number this
// build does not know). A server answers such a frame with an error frame and goes on.
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <msgpack.hpp>

#include "storage/operations.h"
#include "storage/status.h"

namespace meridian::proto {

inline constexpr uint8_t kProtocolVersion = 1;
// Largest frame a node decodes. DynamoDB's largest messages are a 16 MB BatchWriteItem request and
// a 16 MB BatchGetItem response; the rest is headroom for encoding overhead.
inline constexpr size_t kMaxFrameBytes = 24u << 20;
// Hard ceiling set as ZMQ_MAXMSGSIZE on sockets: ZeroMQ drops a peer that sends more, so frames
// between kMaxFrameBytes and this still reach the decoder and get an error reply.
inline constexpr int64_t kSocketMaxMessageBytes = 64ll << 20;

// kNode: an operator request to one facility node (proto/node.h), answered by kResponse/kError.
// kPeer: Raft traffic between the facilities of a region (region/raft_codec.h), never answered.
enum class FrameKind : uint8_t { kRequest = 1, kResponse = 2, kError = 3, kNode = 4, kPeer = 5 };
inline constexpr uint8_t kMaxFrameKind = 5;

// The signature part of a signed request frame, with the bytes it covers.
struct FrameAuth {
  std::string key_id;
  int64_t timestamp = 0;  // epoch seconds
  std::string signature;  // lower-case hex
  std::string signed_bytes;  // the encoded first five elements
};

struct DecodedRequest {
  std::string request_id;  // empty if the frame was too broken to carry one
  Operation operation = Operation::kGetItem;
  Result<Request> request = Status::Serialization("empty frame");
  std::optional<FrameAuth> auth;  // present for a signed frame
};

// Who signs request frames.
struct FrameCredentials {
  std::string access_key_id;
  std::string secret_access_key;
};

// Signed when `credentials` is given (at `now_epoch_seconds`, or the wall clock when 0).
std::string EncodeRequest(std::string_view request_id, const Request& request,
                          const FrameCredentials* credentials = nullptr,
                          int64_t now_epoch_seconds = 0);
// The hex HMAC-SHA256 a signed frame carries (see the top of this file).
std::string FrameSignature(std::string_view secret, std::string_view key_id, int64_t timestamp,
                           std::string_view signed_bytes);
// Checks `auth` against `secret` (constant-time compare) and `now` within `max_skew_seconds`.
// InvalidSignatureException on a mismatch or an expired timestamp.
Status VerifyFrameAuth(const FrameAuth& auth, std::string_view secret, int64_t now_epoch_seconds,
                       int64_t max_skew_seconds = 15 * 60);
std::string EncodeResponse(std::string_view request_id, const Response& response);
std::string EncodeError(std::string_view request_id, Operation op, const Status& error);

// Decodes a request frame. The request is an error Status when the frame does not decode.
DecodedRequest DecodeRequest(std::string_view bytes);

struct DecodedReply {
  std::string request_id;
  // The response, or the error the server sent, or a decoding error.
  Result<Response> response = Status::Serialization("empty frame");
};
DecodedReply DecodeReply(std::string_view bytes);

// The generic layer under the typed frames, for the node and peer kinds.
// Encodes [version, kind, op, request_id, <body: already msgpack-encoded bytes>] and signs it
// when `credentials` is given, exactly as EncodeRequest does.
std::string EncodeFrame(FrameKind kind, uint16_t op, std::string_view request_id,
                        std::string_view packed_body, const FrameCredentials* credentials = nullptr,
                        int64_t now_epoch_seconds = 0);
struct RawFrame {
  FrameKind kind = FrameKind::kRequest;
  uint16_t op = 0;
  std::string request_id;
  std::optional<FrameAuth> auth;
  msgpack::object_handle handle;      // owns the decoded objects
  const msgpack::object* body = nullptr;  // into handle
};
// Decodes the envelope of any kind (same bounds and errors as DecodeRequest).
Status DecodeFrame(std::string_view bytes, RawFrame* out);
// The Status an error frame's body carries. Throws msgpack errors on a malformed body.
Status DecodeErrorBody(const msgpack::object& body);
// The kind of a frame, without decoding the body; nullopt when it is not a frame.
std::optional<FrameKind> PeekFrameKind(std::string_view bytes);

}  // namespace meridian::proto
