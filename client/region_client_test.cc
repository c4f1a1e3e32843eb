// RegionClient against three fake facility nodes on 127.0.0.1 (client/testing/fake_node.h):
// leader discovery, routing, moving to a new leader, retries with one request id, errors that
// must not be retried, and the deadline error.
#include "meridian/region_client.h"

#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <thread>

#include "client/testing/fake_node.h"

namespace meridian {
namespace {

using testing::FakeNode;
using std::chrono::milliseconds;

constexpr uint64_t kSeed = 20240611;

class RegionClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::cout << "seed " << kSeed << std::endl;
    region_.name = "us-east";
    for (const char* name : {"a", "b", "c"}) {
      nodes_.push_back(std::make_unique<FakeNode>("us-east", name));
      topology::Facility f;
      f.name = name;
      f.host = "127.0.0.1";
      f.native_port = nodes_.back()->port();
      region_.facilities.push_back(f);
    }
  }

  FakeNode& node(size_t i) { return *nodes_[i]; }

  RegionClientOptions Options(milliseconds attempt = milliseconds(300), milliseconds deadline = milliseconds(5000)) {
    RegionClientOptions o;
    o.region = region_;
    o.credentials = Credentials{"MERTESTKEY", "secret"};
    o.attempt_timeout = attempt;
    o.deadline = deadline;
    o.backoff_initial = milliseconds(5);
    o.backoff_max = milliseconds(50);
    o.seed = kSeed;
    return o;
  }

  // b leads term 2; a and c follow it.
  void LeaderB() {
    node(0).SetStatus("follower", 2, "b");
    node(1).SetStatus("leader", 2, "b");
    node(2).SetStatus("follower", 2, "b");
  }

  static PutItemRequest Put() {
    PutItemRequest put;
    put.table_name = "t";
    put.item["pk"] = AttributeValue::S("k");
    return put;
  }

  static GetItemRequest Get(bool consistent) {
    GetItemRequest get;
    get.table_name = "t";
    get.key["pk"] = AttributeValue::S("k");
    get.consistent_read = consistent;
    return get;
  }

  static std::string ServedBy(const GetItemResponse& r) {
    if (!r.item || !r.item->count("served_by")) return "";
    return std::get<std::string>(r.item->at("served_by").storage());
  }

  topology::Region region_;
  std::vector<std::unique_ptr<FakeNode>> nodes_;
};

TEST_F(RegionClientTest, FindsTheLeaderAndSendsWritesThere) {
  LeaderB();
  RegionClient client(Options());
  EXPECT_EQ(client.leader(), "");
  ASSERT_TRUE(client.PutItem(Put()).ok());
  EXPECT_EQ(client.leader(), "b");
  ASSERT_EQ(node(1).requests().size(), 1u);
  EXPECT_EQ(node(1).requests()[0].key_id, "MERTESTKEY");
  EXPECT_TRUE(node(0).requests().empty());
  EXPECT_TRUE(node(2).requests().empty());

  // The leader is cached: no second round of status requests.
  int probes = node(0).status_requests() + node(1).status_requests() + node(2).status_requests();
  ASSERT_TRUE(client.PutItem(Put()).ok());
  ASSERT_TRUE(client.CreateTable(CreateTableRequest{}).ok());
  EXPECT_EQ(node(0).status_requests() + node(1).status_requests() + node(2).status_requests(), probes);
  EXPECT_EQ(node(1).requests().size(), 3u);
  EXPECT_EQ(client.stats().attempts, 3u);
  EXPECT_EQ(client.stats().retries, 0u);
  EXPECT_EQ(client.stats().leader_changes, 0u);
  EXPECT_EQ(node(1).requests()[2].operation, Operation::kCreateTable);
}

TEST_F(RegionClientTest, FindLeaderAnswersWithTheFacilityName) {
  node(0).SetStatus("follower", 4, "c");
  node(1).SetStatus("follower", 4, "c");
  node(2).SetStatus("leader", 4, "c");
  RegionClient client(Options());
  Result<std::string> leader = client.FindLeader();
  ASSERT_TRUE(leader.ok()) << leader.status().ToString();
  EXPECT_EQ(leader.value(), "c");
  EXPECT_EQ(client.leader(), "c");
}

TEST_F(RegionClientTest, StrongReadsGoToTheLeaderOthersToAnyFacility) {
  LeaderB();
  RegionClient client(Options());
  Result<GetItemResponse> strong = client.GetItem(Get(true));
  ASSERT_TRUE(strong.ok()) << strong.status().ToString();
  EXPECT_EQ(ServedBy(strong.value()), "b");

  // Eventually consistent reads: one facility, the same while it answers, no status requests.
  int probes = node(0).status_requests() + node(1).status_requests() + node(2).status_requests();
  std::string first;
  for (int i = 0; i < 5; ++i) {
    Result<GetItemResponse> r = client.GetItem(Get(false));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    if (i == 0) first = ServedBy(r.value());
    EXPECT_EQ(ServedBy(r.value()), first);
  }
  EXPECT_FALSE(first.empty());
  EXPECT_EQ(node(0).status_requests() + node(1).status_requests() + node(2).status_requests(), probes);

  // When it stops, the next facility serves.
  nodes_[first[0] - 'a']->Stop();
  Result<GetItemResponse> moved = client.GetItem(Get(false));
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_NE(ServedBy(moved.value()), first);
  EXPECT_GE(client.stats().retries, 1u);
}

TEST_F(RegionClientTest, EventuallyConsistentReadsNeedNoLeader) {
  RegionClient client(Options());  // every node: follower, leader unknown
  Result<GetItemResponse> r = client.GetItem(Get(false));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(client.leader(), "");
}

TEST_F(RegionClientTest, MovesToTheNewLeaderWhenTheLeaderStopsAnswering) {
  LeaderB();
  RegionClient client(Options());
  ASSERT_TRUE(client.PutItem(Put()).ok());
  ASSERT_EQ(client.leader(), "b");

  // b hangs (answers nothing, not even status); a and c elect c.
  node(1).SetSilent(true);
  node(0).SetStatus("follower", 3, "c");
  node(2).SetStatus("leader", 3, "c");
  Result<PutItemResponse> r = client.PutItem(Put());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(client.leader(), "c");
  EXPECT_EQ(client.stats().leader_changes, 1u);
  EXPECT_GE(client.stats().retries, 1u);

  // The try that timed out on b and the one c applied carry the same request id.
  ASSERT_EQ(node(1).requests().size(), 2u);
  ASSERT_EQ(node(2).requests().size(), 1u);
  EXPECT_EQ(node(1).requests()[1].request_id, node(2).requests()[0].request_id);
  EXPECT_NE(node(1).requests()[0].request_id, node(1).requests()[1].request_id);
}

TEST_F(RegionClientTest, MovesToTheNewLeaderWhenTheLeaderDies) {
  LeaderB();
  RegionClient client(Options());
  ASSERT_TRUE(client.PutItem(Put()).ok());
  node(1).Stop();
  node(0).SetStatus("leader", 3, "a");
  node(2).SetStatus("follower", 3, "a");
  Result<PutItemResponse> r = client.PutItem(Put());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(client.leader(), "a");
  EXPECT_EQ(node(0).requests().size(), 1u);
}

TEST_F(RegionClientTest, RetriesKeepTheSameRequestId) {
  LeaderB();
  node(1).FailNextRequests(Status(ErrorCode::kServiceUnavailable, "leader stepping down"), 1);
  node(1).FailNextRequests(Status::Internal("disk hiccup"), 1);
  RegionClient client(Options());
  Result<PutItemResponse> r = client.PutItem(Put());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::vector<FakeNode::Received> got = node(1).requests();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].request_id, got[1].request_id);
  EXPECT_EQ(got[1].request_id, got[2].request_id);
  EXPECT_EQ(client.stats().attempts, 3u);
  EXPECT_EQ(client.stats().retries, 2u);

  // The next call is another logical write: another id.
  ASSERT_TRUE(client.PutItem(Put()).ok());
  EXPECT_NE(node(1).requests().back().request_id, got[0].request_id);
}

TEST_F(RegionClientTest, NonRetryableErrorsComeBackAtOnce) {
  LeaderB();
  RegionClient client(Options());
  for (ErrorCode code : {ErrorCode::kConditionalCheckFailed, ErrorCode::kValidation,
                         ErrorCode::kResourceNotFound, ErrorCode::kAccessDenied}) {
    size_t before = node(1).requests().size();
    node(1).FailNextRequests(Status(code, "no"), 1);
    Result<PutItemResponse> r = client.PutItem(Put());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), code);
    EXPECT_EQ(r.status().message(), "no");
    EXPECT_EQ(node(1).requests().size(), before + 1);
  }
  EXPECT_EQ(client.stats().retries, 0u);
}

TEST_F(RegionClientTest, TheDeadlineErrorNamesEveryFacility) {
  node(0).Stop();  // a: dead
  node(1).FailAllRequests(Status(ErrorCode::kServiceUnavailable, "region us-east has no leader"));  // b: no leader
  node(2).SetSilent(true);  // c: hung
  RegionClient client(Options(milliseconds(500), milliseconds(3000)));
  Result<PutItemResponse> r = client.PutItem(Put());
  ASSERT_FALSE(r.ok());
  const std::string& m = r.status().message();
  EXPECT_EQ(r.status().code(), ErrorCode::kServiceUnavailable) << m;
  EXPECT_NE(m.find("no leader reachable in region us-east: "), std::string::npos) << m;
  EXPECT_NE(m.find("a: unreachable"), std::string::npos) << m;
  EXPECT_NE(m.find("b: ServiceUnavailable (region us-east has no leader)"), std::string::npos) << m;
  EXPECT_NE(m.find("c: timed out"), std::string::npos) << m;
  // Every try carried the one id of this call.
  std::vector<FakeNode::Received> got = node(1).requests();
  ASSERT_GE(got.size(), 1u);
  for (const auto& g : got) EXPECT_EQ(g.request_id, got[0].request_id);
}

TEST_F(RegionClientTest, ReadsReportEveryFacilityWhenNoneAnswers) {
  for (auto& n : nodes_) n->Stop();
  RegionClient client(Options(milliseconds(100), milliseconds(800)));
  Result<GetItemResponse> r = client.GetItem(Get(false));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kUnreachable);
  EXPECT_EQ(r.status().message(),
            "no facility answered in region us-east: a: unreachable, b: unreachable, c: unreachable");
}

TEST_F(RegionClientTest, AdminRequestsGoToTheLeaderAndAreNotRetriedAfterATimeout) {
  LeaderB();
  RegionClient client(Options());
  Result<proto::NodeAdminResult> r = client.NodeAdmin(proto::NodeOp::kTransferLeader, {"c"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->message.empty());
  ASSERT_EQ(node(1).admin_requests().size(), 1u);
  EXPECT_EQ(node(1).admin_requests()[0].op, proto::NodeOp::kTransferLeader);
  EXPECT_EQ(node(1).admin_requests()[0].facility, "c");
  EXPECT_EQ(node(1).admin_requests()[0].key_id, "MERTESTKEY");

  // It may have been applied: a timeout comes back as it is.
  node(1).SetSilent(true);
  Result<proto::NodeAdminResult> timed_out = client.NodeAdmin(proto::NodeOp::kReplaceFacility, {"a"});
  ASSERT_FALSE(timed_out.ok());
  EXPECT_EQ(timed_out.status().code(), ErrorCode::kTimeout);
  EXPECT_EQ(node(1).admin_requests().size(), 2u);
  EXPECT_TRUE(node(0).admin_requests().empty());
  EXPECT_TRUE(node(2).admin_requests().empty());
}

TEST_F(RegionClientTest, AdminRequestsWaitForALeader) {
  // Nobody leads: the admin request is never sent to a follower.
  RegionClient client(Options(milliseconds(100), milliseconds(600)));
  Result<proto::NodeAdminResult> r = client.NodeAdmin(proto::NodeOp::kTransferLeader, {""});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kServiceUnavailable);
  EXPECT_NE(r.status().message().find("a: follower in term 1, leader unknown"), std::string::npos)
      << r.status().message();
  for (auto& n : nodes_) EXPECT_TRUE(n->admin_requests().empty());
}

TEST_F(RegionClientTest, ClientCallUsesTheGivenRequestId) {
  Client client({.endpoint = node(0).endpoint(), .timeout = milliseconds(2000)});
  ASSERT_TRUE(client.Call(Request(Put()), "my-retry-key").ok());
  ASSERT_EQ(node(0).requests().size(), 1u);
  EXPECT_EQ(node(0).requests()[0].request_id, "my-retry-key");
  EXPECT_EQ(client.Call(Request(Put()), "").status().code(), ErrorCode::kValidation);
  EXPECT_EQ(client.Call(Request(Put()), std::string(129, 'x')).status().code(), ErrorCode::kValidation);

  node(0).SetStatus("leader", 7, "a");
  Result<proto::NodeStatus> status = client.NodeStatus();
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(status->role, "leader");
  EXPECT_EQ(status->term, 7u);
  EXPECT_EQ(status->facility, "a");
  EXPECT_EQ(status->region, "us-east");
}

TEST_F(RegionClientTest, FailFastClientsSeeARefusedOrLostConnectionAtOnce) {
  // A long timeout: only the connection watch can end these calls with these messages.
  node(0).Stop();
  Client refused({.endpoint = node(0).endpoint(), .timeout = milliseconds(60000), .fail_fast = true});
  Result<Response> r = refused.Call(Request(Put()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kUnreachable);
  EXPECT_NE(r.status().message().find("the connection failed"), std::string::npos) << r.status().message();

  // Sent, then the node dies before answering: may have been applied, so kTimeout.
  node(1).SetSilent(true);
  Client lost({.endpoint = node(1).endpoint(), .timeout = milliseconds(60000), .fail_fast = true});
  Result<Response> answer = Status(ErrorCode::kInternalServerError, "not run");
  std::thread call([&] { answer = lost.Call(Request(Put())); });
  for (int i = 0; i < 2000 && node(1).requests().empty(); ++i) std::this_thread::sleep_for(milliseconds(5));
  node(1).Stop();
  call.join();
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.status().code(), ErrorCode::kTimeout);
  EXPECT_NE(answer.status().message().find("lost the connection"), std::string::npos) << answer.status().message();
}

}  // namespace
}  // namespace meridian
