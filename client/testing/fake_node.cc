#include "client/testing/fake_node.h"

#include <chrono>
#include <utility>

#include "proto/frame.h"

namespace meridian::testing {
namespace {

template <size_t... I>
Response EmptyResponse(size_t index, std::index_sequence<I...>) {
  Response r;
  ((I == index ? (void)r.emplace<I>() : (void)0), ...);
  return r;
}

// The empty response of `op`: the alternative of Response at the operation's index.
Response EmptyResponse(Operation op) {
  return EmptyResponse(static_cast<size_t>(op) - 1, std::make_index_sequence<std::variant_size_v<Response>>());
}

}  // namespace

FakeNode::FakeNode(std::string region, std::string facility)
    : region_(std::move(region)), facility_(std::move(facility)) {
  status_.region = region_;
  status_.facility = facility_;
  status_.role = "follower";
  status_.term = 1;
  socket_.emplace(context_, zmq::socket_type::router);
  socket_->set(zmq::sockopt::linger, 0);
  socket_->bind("tcp://127.0.0.1:*");
  std::string bound = socket_->get(zmq::sockopt::last_endpoint);
  port_ = static_cast<uint16_t>(std::stoi(bound.substr(bound.rfind(':') + 1)));
  status_.native_endpoint = endpoint();
  thread_ = std::thread([this] { Serve(); });
}

FakeNode::~FakeNode() { Stop(); }

void FakeNode::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void FakeNode::SetStatus(const std::string& role, uint64_t term, const std::string& leader_facility) {
  std::lock_guard lock(mu_);
  status_.role = role;
  status_.term = term;
  status_.leader_facility = leader_facility;
}

void FakeNode::FailNextRequests(Status error, int count) {
  std::lock_guard lock(mu_);
  for (int i = 0; i < count; ++i) next_errors_.push_back(error);
}

void FakeNode::FailAllRequests(std::optional<Status> error) {
  std::lock_guard lock(mu_);
  all_error_ = std::move(error);
}

void FakeNode::SetResponse(Response response) {
  std::lock_guard lock(mu_);
  Operation op = OperationOf(response);
  responses_.insert_or_assign(op, std::move(response));
}

void FakeNode::SetSilent(bool silent) {
  std::lock_guard lock(mu_);
  silent_ = silent;
}

std::vector<FakeNode::Received> FakeNode::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

int FakeNode::status_requests() const {
  std::lock_guard lock(mu_);
  return status_requests_;
}

std::vector<FakeNode::AdminReceived> FakeNode::admin_requests() const {
  std::lock_guard lock(mu_);
  return admin_requests_;
}

void FakeNode::Serve() {
  while (!stop_) {
    zmq::pollitem_t in[] = {{socket_->handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(in, 1, std::chrono::milliseconds(20));
    if (!(in[0].revents & ZMQ_POLLIN)) continue;
    zmq::message_t identity, payload;
    if (!socket_->recv(identity, zmq::recv_flags::dontwait)) continue;
    if (!identity.more() || !socket_->recv(payload, zmq::recv_flags::dontwait)) continue;
    while (payload.more()) {  // not our protocol; drain it
      if (!socket_->recv(payload, zmq::recv_flags::dontwait)) break;
    }
    std::string answer = Answer(payload.to_string());
    if (answer.empty()) continue;
    socket_->send(identity, zmq::send_flags::sndmore);
    socket_->send(zmq::buffer(answer), zmq::send_flags::dontwait);
  }
  socket_.reset();  // closes the port: a dead node
}

// The reply to one frame; "" for none.
std::string FakeNode::Answer(const std::string& bytes) {
  std::lock_guard lock(mu_);
  std::optional<proto::FrameKind> kind = proto::PeekFrameKind(bytes);
  if (kind == proto::FrameKind::kNode) {
    proto::RawFrame frame;
    if (!proto::DecodeFrame(bytes, &frame).ok()) return "";
    auto op = static_cast<proto::NodeOp>(frame.op);
    std::string key_id = frame.auth ? frame.auth->key_id : "";
    if (op == proto::NodeOp::kStatus) {
      ++status_requests_;
      if (silent_) return "";
      return proto::EncodeNodeStatusReply(frame.request_id, status_);
    }
    proto::NodeAdminArgs args;
    try {
      frame.body->convert(args);
    } catch (const std::exception&) {
    }
    admin_requests_.push_back({op, args.facility, key_id});
    if (silent_) return "";
    if (all_error_) return proto::EncodeNodeError(frame.request_id, op, *all_error_);
    return proto::EncodeNodeAdminReply(frame.request_id, op,
                                       {"fake " + facility_ + " did op " + std::to_string(frame.op) +
                                        " for '" + args.facility + "'"});
  }
  proto::DecodedRequest request = proto::DecodeRequest(bytes);
  requests_.push_back({request.request_id, request.operation, request.auth ? request.auth->key_id : ""});
  if (silent_) return "";
  if (!request.request.ok()) return proto::EncodeError(request.request_id, request.operation, request.request.status());
  if (!next_errors_.empty()) {
    Status error = next_errors_.front();
    next_errors_.pop_front();
    return proto::EncodeError(request.request_id, request.operation, error);
  }
  if (all_error_) return proto::EncodeError(request.request_id, request.operation, *all_error_);
  auto scripted = responses_.find(request.operation);
  Response response = scripted != responses_.end() ? scripted->second : EmptyResponse(request.operation);
  if (auto* get = std::get_if<GetItemResponse>(&response)) {
    Item item;
    item["served_by"] = AttributeValue::S(facility_);
    get->item = std::move(item);
  }
  return proto::EncodeResponse(request.request_id, response);
}

}  // namespace meridian::testing
