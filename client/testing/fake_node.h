// FakeNode: a stand-in for one facility node in tests of the region-aware client and the CLI. A
// ZeroMQ ROUTER on 127.0.0.1 (a free port) that answers kStatus with a scripted NodeStatus, admin
// requests with a NodeAdminResult, and DynamoDB requests with an empty response of the right
// operation (a GetItem answer carries {"served_by": facility}) or a scripted error; it can also go
// silent (a hung node) or stop (a dead node: connections refused). It records what it received.
//
// Thread-safety: the setters and accessors may be called from any thread while the node's own
// thread serves; one mutex guards the script and the records.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "proto/node.h"
#include "storage/operations.h"
#include "storage/status.h"

namespace meridian::testing {

class FakeNode {
 public:
  // Binds tcp://127.0.0.1:<free port> and starts serving. Status answers say `facility` of
  // `region`, role "follower", term 1, no leader, until SetStatus.
  FakeNode(std::string region, std::string facility);
  ~FakeNode();  // Stop()
  FakeNode(const FakeNode&) = delete;
  FakeNode& operator=(const FakeNode&) = delete;

  uint16_t port() const { return port_; }
  std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  const std::string& facility() const { return facility_; }

  // What kStatus answers: role "leader"/"follower"/..., the term, and the leader it names.
  void SetStatus(const std::string& role, uint64_t term, const std::string& leader_facility);
  // The next `count` DynamoDB requests get `error` (then normal answers again).
  void FailNextRequests(Status error, int count);
  // Every DynamoDB request gets `error` until cleared with nullopt.
  void FailAllRequests(std::optional<Status> error);
  // Requests of OperationOf(response) are answered with `response` instead of an empty one (e.g.
  // a scripted ReplicationStatus for the CLI's status tests).
  void SetResponse(Response response);
  // Silent: receive and record everything, answer nothing.
  void SetSilent(bool silent);
  // Closes the socket (a dead node: its port refuses connections). Idempotent.
  void Stop();

  struct Received {
    std::string request_id;
    Operation operation = Operation::kGetItem;
    std::string key_id;  // the signing access key, "" when unsigned
  };
  std::vector<Received> requests() const;  // DynamoDB requests, in arrival order
  int status_requests() const;
  struct AdminReceived {
    proto::NodeOp op = proto::NodeOp::kStatus;
    std::string facility;
    std::string key_id;
  };
  std::vector<AdminReceived> admin_requests() const;

 private:
  void Serve();
  std::string Answer(const std::string& bytes);

  const std::string region_;
  const std::string facility_;
  zmq::context_t context_{1};
  std::optional<zmq::socket_t> socket_;  // used only by thread_ once it runs
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;

  mutable std::mutex mu_;
  proto::NodeStatus status_;
  std::deque<Status> next_errors_;
  std::optional<Status> all_error_;
  std::map<Operation, Response> responses_;
  bool silent_ = false;
  std::vector<Received> requests_;
  std::vector<AdminReceived> admin_requests_;
  int status_requests_ = 0;
};

}  // namespace meridian::testing
