// Multi-process tests: a real `meridian start-single-node` process on 127.0.0.1, driven through
// the C++ client library, the `meridian` CLI, and raw ZeroMQ frames.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "meridian/client.h"
#include "proto/frame.h"
#include "tests/integration/process.h"

namespace meridian {
namespace {

using testing::ChildProcess;
using testing::CommandResult;
using testing::RunCommand;
using testing::TempDir;

const std::string kBinary = MERIDIAN_BINARY;

class SingleNodeTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(); }

  void Start() {
    node_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{kBinary, "start-single-node", "--data", (dir_.path() / "data").string(),
                                 "--listen", "tcp://127.0.0.1:0"},
        dir_.path() / "node.log");
    endpoint_ = testing::WaitForEndpoint(dir_.path() / "data", *node_);
    ASSERT_FALSE(endpoint_.empty()) << "the node did not start; see " << (dir_.path() / "node.log");
  }

  // Runs the CLI against the node; returns exit code and parsed stdout (null if not JSON).
  std::pair<int, nlohmann::json> Cli(std::vector<std::string> args, const std::string& input = "") {
    std::vector<std::string> argv = {kBinary};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--endpoint");
    argv.push_back(endpoint_);
    // The node runs with auth on and wrote its generated key's client side here.
    argv.push_back("--credentials");
    argv.push_back((dir_.path() / "data" / "credentials").string());
    CommandResult r = RunCommand(argv, input);
    return {r.exit_code, nlohmann::json::parse(r.out, nullptr, false)};
  }

  Credentials Creds() {
    auto c = LoadSharedCredentials((dir_.path() / "data" / "credentials").string());
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? c.value() : Credentials{};
  }
  Client NewClient() { return Client(ClientOptions{endpoint_, std::chrono::seconds(30), Creds()}); }

  static std::string Type(const nlohmann::json& j) {
    return j.is_object() && j.contains("__type") ? j["__type"].get<std::string>() : "";
  }

  TempDir dir_;
  std::unique_ptr<ChildProcess> node_;
  std::string endpoint_;
};

TEST_F(SingleNodeTest, CliCreatesWritesReadsQueriesAndScans) {
  auto [rc, created] = Cli({"create-table", "music", "artist:S", "song:N"});
  ASSERT_EQ(rc, 0) << created;
  EXPECT_EQ(created["TableDescription"]["TableName"], "music");
  EXPECT_EQ(created["TableDescription"]["TableStatus"], "ACTIVE");

  for (int i = 1; i <= 5; ++i) {
    std::string item = R"({"artist":{"S":"Pärt"},"song":{"N":")" + std::to_string(i) +
                       R"("},"title":{"S":"t)" + std::to_string(i) + R"("}})";
    auto [prc, put] = Cli({"put", "music", item});
    ASSERT_EQ(prc, 0) << put;
  }
  auto [grc, got] = Cli({"get", "music", R"({"artist":{"S":"Pärt"},"song":{"N":"3"}})", "--consistent"});
  ASSERT_EQ(grc, 0);
  EXPECT_EQ(got["Item"]["title"]["S"], "t3");

  auto [qrc, q] = Cli({"query", "music", "artist = :a AND song BETWEEN :lo AND :hi", "--values",
                       R"({":a":{"S":"Pärt"},":lo":{"N":"2"},":hi":{"N":"4"}})", "--desc"});
  ASSERT_EQ(qrc, 0) << q;
  ASSERT_EQ(q["Count"], 3);
  EXPECT_EQ(q["Items"][0]["song"]["N"], "4");
  EXPECT_EQ(q["Items"][2]["song"]["N"], "2");

  auto [urc, updated] = Cli({"update", "music", R"({"artist":{"S":"Pärt"},"song":{"N":"2"}})",
                             "SET plays = if_not_exists(plays, :zero) + :one", "--values",
                             R"({":zero":{"N":"0"},":one":{"N":"1"}})", "--condition", "attribute_exists(title)"});
  ASSERT_EQ(urc, 0) << updated;
  EXPECT_EQ(updated["Attributes"]["plays"]["N"], "1");
  EXPECT_EQ(updated["Attributes"]["title"]["S"], "t2");

  auto [src, s] = Cli({"scan", "music", "--count"});
  ASSERT_EQ(src, 0);
  EXPECT_EQ(s["Count"], 5);
  EXPECT_FALSE(s.contains("Items"));

  auto [lrc, tables] = Cli({"tables"});
  ASSERT_EQ(lrc, 0);
  EXPECT_EQ(tables["TableNames"], nlohmann::json::array({"music"}));

  // The same request through `call`, inline, from stdin and from a file.
  std::string get_req = R"({"TableName":"music","Key":{"artist":{"S":"Pärt"},"song":{"N":"1"}}})";
  EXPECT_EQ(Cli({"call", "GetItem", get_req}).second["Item"]["title"]["S"], "t1");
  EXPECT_EQ(Cli({"call", "GetItem", "--input", "-"}, get_req).second["Item"]["title"]["S"], "t1");
  std::string file = (dir_.path() / "req.json").string();
  { std::ofstream(file) << get_req; }
  EXPECT_EQ(Cli({"call", "GetItem", "--input", file}).second["Item"]["title"]["S"], "t1");

  auto [drc, del] = Cli({"call", "DeleteItem",
                         R"({"TableName":"music","Key":{"artist":{"S":"Pärt"},"song":{"N":"1"}},"ReturnValues":"ALL_OLD"})"});
  ASSERT_EQ(drc, 0);
  EXPECT_EQ(del["Attributes"]["title"]["S"], "t1");
  auto [dtrc, desc] = Cli({"call", "DescribeTable", R"({"TableName":"music"})"});
  ASSERT_EQ(dtrc, 0);
  EXPECT_EQ(desc["Table"]["ItemCount"], 4);
}

TEST_F(SingleNodeTest, MalformedRequestsGetDynamoErrorsAndChangeNothing) {
  ASSERT_EQ(Cli({"create-table", "tbl", "pk:S"}).first, 0);
  ASSERT_EQ(Cli({"put", "tbl", R"({"pk":{"S":"keep"},"v":{"N":"1"}})"}).first, 0);

  struct Case {
    std::string operation, body, type, fragment;
  };
  const std::string big(410 * 1024, 'x');
  std::vector<Case> cases = {
      {"PutItem", "{not json", "com.amazon.coral.service#SerializationException", ""},
      {"PutItem", R"({"TableName":"tbl","Item":[]})", "com.amazon.coral.service#SerializationException", ""},
      {"PutItem", R"({"TableName":"tbl","Item":{"pk":{"S":"a"},"n":{"N":"1E+999"}}})",
       "com.amazon.coral.validate#ValidationException", "overflow"},
      {"PutItem", R"({"TableName":"tbl","Item":{"pk":{"S":"a"},"n":{"N":"abc"}}})",
       "com.amazon.coral.validate#ValidationException", "number"},
      {"PutItem", R"({"TableName":"tbl","Item":{"v":{"S":"no key"}}})",
       "com.amazon.coral.validate#ValidationException", "Missing the key"},
      {"PutItem", R"({"TableName":"tbl","Item":{"pk":{"N":"1"}}})",
       "com.amazon.coral.validate#ValidationException", "Type mismatch"},
      {"PutItem", R"({"TableName":"tbl","Item":{"pk":{"S":"a"},"big":{"S":")" + big + R"("}}})",
       "com.amazon.coral.validate#ValidationException", "size"},
      {"PutItem", R"({"TableName":"nope","Item":{"pk":{"S":"a"}}})",
       "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", ""},
      {"PutItem", R"({"TableName":"tbl","Item":{"pk":{"S":"a"},"s":{"SS":[]}}})",
       "com.amazon.coral.validate#ValidationException", "empty"},
      {"DeleteItem", R"({"TableName":"tbl","Key":{"pk":{"S":"keep"},"extra":{"S":"x"}}})",
       "com.amazon.coral.validate#ValidationException", ""},
      {"Frobnicate", "{}", "com.amazon.coral.service#UnknownOperationException", ""},
      {"CreateTable", R"({"TableName":"tbl","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST"})",
       "com.amazonaws.dynamodb.v20120810#ResourceInUseException", ""},
  };
  for (const Case& c : cases) {
    std::string file = (dir_.path() / "body.json").string();
    { std::ofstream(file) << c.body; }  // the 410 KB body is too long for an argv entry on some systems
    auto [rc, err] = Cli({"call", c.operation, "--input", file});
    EXPECT_EQ(rc, 1) << c.operation << " " << c.body.substr(0, 100);
    EXPECT_EQ(Type(err), c.type) << c.body.substr(0, 100) << " -> " << err.dump().substr(0, 300);
    if (!c.fragment.empty()) {
      EXPECT_NE(err["message"].get<std::string>().find(c.fragment), std::string::npos) << err;
    }
  }
  // Nothing changed.
  auto [src, scan] = Cli({"scan", "tbl"});
  ASSERT_EQ(src, 0);
  ASSERT_EQ(scan["Count"], 1);
  EXPECT_EQ(scan["Items"][0]["pk"]["S"], "keep");
  EXPECT_EQ(scan["Items"][0]["v"]["N"], "1");

  // Usage errors exit 2; an unreachable node exits 3.
  EXPECT_EQ(Cli({"frobnicate"}).first, 2);
  EXPECT_EQ(Cli({"get", "tbl"}).first, 2);
  CommandResult unreachable = RunCommand({kBinary, "tables", "--endpoint", "tcp://127.0.0.1:1", "--timeout-ms", "300"});
  EXPECT_EQ(unreachable.exit_code, 3);
}

// Issue 3's acceptance through the CLI: conditional writes and exact 38-digit arithmetic.
TEST_F(SingleNodeTest, CliConditionalWritesAndExactCounters) {
  ASSERT_EQ(Cli({"create-table", "ctr", "pk:S"}).first, 0);
  ASSERT_EQ(Cli({"put", "ctr", R"({"pk":{"S":"c"},"n":{"N":"12345678901234567890123456789012345678"}})"}).first, 0);

  // A conditional put that loses: ConditionalCheckFailedException, nothing changes.
  auto [lost_rc, lost] = Cli({"call", "PutItem",
                              R"({"TableName":"ctr","Item":{"pk":{"S":"c"},"n":{"N":"0"}},)"
                              R"json("ConditionExpression":"attribute_not_exists(pk)","ReturnValuesOnConditionCheckFailure":"ALL_OLD"})json"});
  EXPECT_EQ(lost_rc, 1);
  EXPECT_EQ(Type(lost), "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException");
  EXPECT_EQ(lost["Item"]["n"]["N"], "12345678901234567890123456789012345678");
  auto [grc, got] = Cli({"get", "ctr", R"({"pk":{"S":"c"}})"});
  ASSERT_EQ(grc, 0);
  EXPECT_EQ(got["Item"]["n"]["N"], "12345678901234567890123456789012345678");

  // SET n = n + :one, exactly.
  const std::string add = R"({"TableName":"ctr","Key":{"pk":{"S":"c"}},"UpdateExpression":"SET n = n + :one",)"
                          R"("ExpressionAttributeValues":{":one":{"N":"ONE"}},"ReturnValues":"UPDATED_NEW"})";
  auto with = [&](const std::string& one) {
    std::string body = add;
    body.replace(body.find("ONE"), 3, one);
    return body;
  };
  auto [urc, updated] = Cli({"call", "UpdateItem", with("1")});
  ASSERT_EQ(urc, 0) << updated;
  EXPECT_EQ(updated["Attributes"]["n"]["N"], "12345678901234567890123456789012345679");

  // 39 significant digits, and past 9.9999999999999999999999999999999999999E+125: refused.
  auto [prc, precision] = Cli({"call", "UpdateItem", with("0.1")});
  EXPECT_EQ(prc, 1);
  EXPECT_EQ(Type(precision), "com.amazon.coral.validate#ValidationException");
  ASSERT_EQ(Cli({"put", "ctr", R"({"pk":{"S":"big"},"n":{"N":"9.9999999999999999999999999999999999999E+125"}})"}).first, 0);
  std::string big = with("1E+125");
  big.replace(big.find(R"("S":"c")"), 7, R"("S":"big")");
  auto [orc, overflow] = Cli({"call", "UpdateItem", big});
  EXPECT_EQ(orc, 1);
  EXPECT_EQ(Type(overflow), "com.amazon.coral.validate#ValidationException") << overflow;
  auto [g2rc, after] = Cli({"get", "ctr", R"({"pk":{"S":"c"}})"});
  EXPECT_EQ(after["Item"]["n"]["N"], "12345678901234567890123456789012345679");
}

TEST_F(SingleNodeTest, BadFramesGetErrorRepliesAndTheNodeServesOn) {
  zmq::context_t ctx(1);
  zmq::socket_t raw(ctx, zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.set(zmq::sockopt::rcvtimeo, 10000);
  raw.connect(endpoint_);
  auto exchange = [&](const std::string& bytes) -> Result<Response> {
    raw.send(zmq::buffer(bytes), zmq::send_flags::none);
    zmq::message_t reply;
    if (!raw.recv(reply)) return Status(ErrorCode::kTimeout, "no reply");
    return proto::DecodeReply(reply.to_string_view()).response;
  };
  EXPECT_EQ(exchange("garbage").status().code(), ErrorCode::kSerialization);
  EXPECT_EQ(exchange("").status().code(), ErrorCode::kSerialization);
  std::string oversize(proto::kMaxFrameBytes + 1024, 'x');
  EXPECT_EQ(exchange(oversize).status().code(), ErrorCode::kValidation);
  std::string deep(100000, '\x91');
  EXPECT_FALSE(exchange(deep).ok());

  Client client = NewClient();
  CreateTableRequest create{"tbl", {{"pk", KeyType::kHash}}, {{"pk", AttributeType::kS}},
                            BillingMode::kPayPerRequest, std::nullopt};
  ASSERT_TRUE(client.CreateTable(create).ok());
  Credentials c = Creds();
  proto::FrameCredentials signer{c.access_key_id, c.secret_access_key};
  EXPECT_EQ(exchange(proto::EncodeRequest("r1", Request(DescribeTableRequest{"tbl"}), &signer)).ok(), true);

  // Auth is on by default: unsigned, badly signed, unknown-key and expired frames are refused.
  EXPECT_EQ(exchange(proto::EncodeRequest("r2", Request(DescribeTableRequest{"tbl"}))).status().code(),
            ErrorCode::kMissingAuthenticationToken);
  proto::FrameCredentials wrong{c.access_key_id, "not-the-secret"};
  EXPECT_EQ(exchange(proto::EncodeRequest("r3", Request(DescribeTableRequest{"tbl"}), &wrong)).status().code(),
            ErrorCode::kInvalidSignature);
  proto::FrameCredentials unknown{"MERNOSUCHKEY", c.secret_access_key};
  EXPECT_EQ(exchange(proto::EncodeRequest("r4", Request(DescribeTableRequest{"tbl"}), &unknown)).status().code(),
            ErrorCode::kUnrecognizedClient);
  int64_t old = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count() - 20 * 60;
  auto expired = exchange(proto::EncodeRequest("r5", Request(DescribeTableRequest{"tbl"}), &signer, old));
  EXPECT_EQ(expired.status().code(), ErrorCode::kInvalidSignature);
  // A signed frame whose body was changed after signing.
  std::string frame = proto::EncodeRequest("r6", Request(DescribeTableRequest{"tbl"}), &signer);
  frame[frame.find("tbl")] = 'x';
  EXPECT_EQ(exchange(frame).status().code(), ErrorCode::kInvalidSignature);
  EXPECT_EQ(RunCommand({kBinary, "tables", "--endpoint", endpoint_, "--credentials", "/nonexistent"}).exit_code, 2);
  // Without credentials the node refuses (an API error, exit 1).
  EXPECT_EQ(RunCommand({kBinary, "tables", "--endpoint", endpoint_, "--data", "/nonexistent"}).exit_code, 1);
}

TEST_F(SingleNodeTest, RetriedWriteWithTheSameRequestIdIsAppliedOnce) {
  Client client = NewClient();
  CreateTableRequest create{"tbl", {{"pk", KeyType::kHash}}, {{"pk", AttributeType::kS}},
                            BillingMode::kPayPerRequest, std::nullopt};
  ASSERT_TRUE(client.CreateTable(create).ok());
  zmq::context_t ctx(1);
  zmq::socket_t raw(ctx, zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.set(zmq::sockopt::rcvtimeo, 10000);
  raw.connect(endpoint_);
  Credentials c = Creds();
  proto::FrameCredentials signer{c.access_key_id, c.secret_access_key};
  auto put = [&](const std::string& id, const std::string& v) -> Result<Response> {
    PutItemRequest p;
    p.table_name = "tbl";
    p.item = {{"pk", AttributeValue::S("k")}, {"v", AttributeValue::S(v)}};
    p.return_values = ReturnValue::kAllOld;
    raw.send(zmq::buffer(proto::EncodeRequest(id, Request(p), &signer)), zmq::send_flags::none);
    zmq::message_t reply;
    if (!raw.recv(reply)) return Status(ErrorCode::kTimeout, "no reply");
    return proto::DecodeReply(reply.to_string_view()).response;
  };
  ASSERT_TRUE(put("w1", "first").ok());
  ASSERT_TRUE(put("w2", "second").ok());
  auto retry = put("w1", "first");  // a retry of w1: answered as the first time, not applied
  ASSERT_TRUE(retry.ok());
  EXPECT_FALSE(std::get<PutItemResponse>(retry.value()).attributes);
  GetItemRequest g;
  g.table_name = "tbl";
  g.key = {{"pk", AttributeValue::S("k")}};
  g.consistent_read = true;
  auto got = client.GetItem(g);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->item->at("v"), AttributeValue::S("second"));
}

// 100,000 items of 1 KB through the client library: loaded, read back, queried by sort-key
// range and scanned in 4 parallel segments, every item accounted for.
TEST_F(SingleNodeTest, HundredThousandItems) {
  constexpr int kPartitions = 1000;
  constexpr int kPerPartition = 100;
  constexpr int kThreads = 4;
  Client admin = NewClient();
  CreateTableRequest create{"big",
                            {{"pk", KeyType::kHash}, {"sk", KeyType::kRange}},
                            {{"pk", AttributeType::kS}, {"sk", AttributeType::kN}},
                            BillingMode::kPayPerRequest, std::nullopt};
  ASSERT_TRUE(admin.CreateTable(create).ok());
  auto payload = [](int p, int s) {
    std::string v = "p" + std::to_string(p) + "s" + std::to_string(s) + ":";
    v.resize(1000, static_cast<char>('a' + (p + s) % 26));
    return v;
  };
  auto key = [](int p, int s) {
    return Item{{"pk", AttributeValue::S("part-" + std::to_string(p))},
                {"sk", AttributeValue::N(Decimal::FromInt64(s))}};
  };

  std::atomic<int> errors{0};
  auto parallel = [&](auto body) {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) threads.emplace_back([&, t] { body(t); });
    for (auto& th : threads) th.join();
  };

  // Load: batches of 25.
  parallel([&](int t) {
    Client c = NewClient();
    BatchWriteItemRequest batch;
    auto flush = [&] {
      if (batch.request_items.empty()) return;
      auto r = c.BatchWriteItem(batch);
      if (!r.ok() || !r->unprocessed_items.empty()) errors++;
      batch.request_items.clear();
    };
    for (int p = t; p < kPartitions; p += kThreads) {
      for (int s = 0; s < kPerPartition; ++s) {
        Item item = key(p, s);
        item["v"] = AttributeValue::S(payload(p, s));
        batch.request_items["big"].push_back(WriteRequest{item, std::nullopt});
        if (batch.request_items["big"].size() == 25) flush();
      }
    }
    flush();
  });
  ASSERT_EQ(errors.load(), 0);

  // Read back every item (BatchGetItem, 100 keys a call), checking each payload.
  std::atomic<int64_t> read{0};
  parallel([&](int t) {
    Client c = NewClient();
    for (int p = t; p < kPartitions; p += kThreads) {
      BatchGetItemRequest get;
      for (int s = 0; s < kPerPartition; ++s) get.request_items["big"].keys.push_back(key(p, s));
      auto r = c.BatchGetItem(get);
      if (!r.ok() || !r->unprocessed_keys.empty()) {
        errors++;
        continue;
      }
      for (const Item& item : r->responses["big"]) {
        int s = std::stoi(item.at("sk").n().ToString());
        if (item.at("v").s() != payload(p, s)) errors++;
        read++;
      }
    }
  });
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(read.load(), kPartitions * kPerPartition);

  // Query a sort-key range in every partition, following pages.
  std::atomic<int64_t> queried{0};
  parallel([&](int t) {
    Client c = NewClient();
    for (int p = t; p < kPartitions; p += kThreads) {
      QueryRequest q;
      q.table_name = "big";
      q.key_condition_expression = "pk = :p AND sk BETWEEN :lo AND :hi";
      q.expression_attribute_values = {{":p", AttributeValue::S("part-" + std::to_string(p))},
                                       {":lo", AttributeValue::N(Decimal::FromInt64(10))},
                                       {":hi", AttributeValue::N(Decimal::FromInt64(59))}};
      q.limit = 20;
      int expected_sk = 10;
      for (int page = 0; page < 10; ++page) {
        auto r = c.Query(q);
        if (!r.ok()) {
          errors++;
          break;
        }
        for (const Item& item : r->items) {
          if (item.at("sk").n() != Decimal::FromInt64(expected_sk++)) errors++;
          queried++;
        }
        if (!r->last_evaluated_key) break;
        q.exclusive_start_key = r->last_evaluated_key;
      }
      if (expected_sk != 60) errors++;
    }
  });
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(queried.load(), kPartitions * 50);

  // Scan in 4 parallel segments: every item exactly once.
  std::vector<std::set<std::string>> seen(4);
  parallel([&](int segment) {
    Client c = NewClient();
    ScanRequest scan;
    scan.table_name = "big";
    scan.segment = segment;
    scan.total_segments = 4;
    for (int page = 0; page < 100000; ++page) {
      auto r = c.Scan(scan);
      if (!r.ok()) {
        errors++;
        break;
      }
      for (const Item& item : r->items) {
        if (!seen[segment].insert(item.at("pk").s() + "/" + item.at("sk").n().ToString()).second) errors++;
      }
      if (!r->last_evaluated_key) break;
      scan.exclusive_start_key = r->last_evaluated_key;
    }
  });
  EXPECT_EQ(errors.load(), 0);
  std::set<std::string> all;
  for (const auto& s : seen) {
    EXPECT_GT(s.size(), 0u);  // hash partitioning spreads keys over every segment
    all.insert(s.begin(), s.end());
  }
  size_t sum = seen[0].size() + seen[1].size() + seen[2].size() + seen[3].size();
  EXPECT_EQ(sum, static_cast<size_t>(kPartitions * kPerPartition)) << "segments overlap";
  EXPECT_EQ(all.size(), static_cast<size_t>(kPartitions * kPerPartition));

  auto desc = admin.DescribeTable({"big"});
  ASSERT_TRUE(desc.ok());
  EXPECT_EQ(desc->table.item_count, kPartitions * kPerPartition);
}

TEST_F(SingleNodeTest, AcknowledgedWritesSurviveSigkillAndSigtermStopsCleanly) {
  Client client = NewClient();
  CreateTableRequest create{"tbl", {{"pk", KeyType::kHash}}, {{"pk", AttributeType::kS}},
                            BillingMode::kPayPerRequest, std::nullopt};
  ASSERT_TRUE(client.CreateTable(create).ok());
  for (int i = 0; i < 200; ++i) {
    PutItemRequest put{"tbl", {{"pk", AttributeValue::S("k" + std::to_string(i))}}};
    ASSERT_TRUE(client.PutItem(put).ok());
  }
  node_->Signal(SIGKILL);
  EXPECT_EQ(node_->Wait(std::chrono::seconds(10)), 128 + SIGKILL);
  std::filesystem::remove(dir_.path() / "data" / "endpoints.json");
  Start();
  Client again = NewClient();
  ScanRequest scan;
  scan.table_name = "tbl";
  scan.select = Select::kCount;
  auto r = again.Scan(scan);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->count, 200);

  node_->Signal(SIGTERM);
  EXPECT_EQ(node_->Wait(std::chrono::seconds(20)), 0);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "data" / "run" / "single-node.pid"));
}

}  // namespace
}  // namespace meridian
