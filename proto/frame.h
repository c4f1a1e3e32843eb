// The native wire: msgpack frames over ZeroMQ, client DEALER to node ROUTER.
//
// A frame is one ZeroMQ message holding a msgpack array
//   [version, kind, operation, request_id, body]
// where version is kProtocolVersion, kind is request/response/error, operation the
// storage/operations.h wire number, request_id the client's id for the request (echoed in the
// reply; later also the idempotency key for retried writes) and body the operation's
// request/response map, or for an error {"code": int, "type": "__type", "message": text}.
//
// Decoding is total: any bytes give either a frame or a Status saying what is wrong
// (SerializationException for undecodable bytes, ValidationException for a frame over
// kMaxFrameBytes or a bad value inside, UnknownOperationException for an operation number this
// build does not know). A server answers such a frame with an error frame and goes on.
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

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

enum class FrameKind : uint8_t { kRequest = 1, kResponse = 2, kError = 3 };

struct DecodedRequest {
  std::string request_id;  // empty if the frame was too broken to carry one
  Operation operation = Operation::kGetItem;
  Result<Request> request = Status::Serialization("empty frame");
};

std::string EncodeRequest(std::string_view request_id, const Request& request);
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

}  // namespace meridian::proto
