#include "proto/node.h"

namespace meridian::proto {
namespace {

template <typename T>
std::string Packed(const T& value) {
  msgpack::sbuffer buf;
  msgpack::pack(buf, value);
  return std::string(buf.data(), buf.size());
}

template <typename T>
Result<T> DecodeNodeReply(std::string_view bytes) {
  RawFrame frame;
  MERIDIAN_RETURN_IF_ERROR(DecodeFrame(bytes, &frame));
  try {
    if (frame.kind == FrameKind::kError) return DecodeErrorBody(*frame.body);
    if (frame.kind != FrameKind::kResponse) return Status::Serialization("expected a node reply frame");
    T out;
    frame.body->convert(out);
    return out;
  } catch (const std::exception& e) {
    return Status::Serialization(std::string("node reply does not decode: ") + e.what());
  }
}

}  // namespace

std::string EncodeNodeRequest(std::string_view request_id, NodeOp op, const NodeAdminArgs& args,
                              const FrameCredentials* credentials) {
  return EncodeFrame(FrameKind::kNode, static_cast<uint16_t>(op), request_id, Packed(args), credentials);
}

std::string EncodeNodeStatusReply(std::string_view request_id, const NodeStatus& status) {
  return EncodeFrame(FrameKind::kResponse, static_cast<uint16_t>(NodeOp::kStatus), request_id,
                     Packed(status));
}

std::string EncodeNodeAdminReply(std::string_view request_id, NodeOp op, const NodeAdminResult& r) {
  return EncodeFrame(FrameKind::kResponse, static_cast<uint16_t>(op), request_id, Packed(r));
}

std::string EncodeNodeError(std::string_view request_id, NodeOp op, const Status& error) {
  return EncodeError(request_id, static_cast<Operation>(static_cast<uint16_t>(op)), error);
}

Result<NodeStatus> DecodeNodeStatusReply(std::string_view bytes) {
  return DecodeNodeReply<NodeStatus>(bytes);
}

Result<NodeAdminResult> DecodeNodeAdminReply(std::string_view bytes) {
  return DecodeNodeReply<NodeAdminResult>(bytes);
}

}  // namespace meridian::proto
