#include "proto/frame.h"

#include <gtest/gtest.h>

#include <random>

namespace meridian::proto {
namespace {

PutItemRequest SamplePut() {
  PutItemRequest put;
  put.table_name = "t";
  put.item["pk"] = AttributeValue::S("a");
  put.item["n"] = AttributeValue::N(Decimal::Parse("-12.5e3").value());
  put.item["b"] = AttributeValue::B(std::string("\0\1\2", 3));
  put.item["m"] = AttributeValue::M({{"x", AttributeValue::L({AttributeValue::Bool(true), AttributeValue::NullValue()})}});
  put.item["ss"] = AttributeValue::SS({"b", "a"});
  put.item["ns"] = AttributeValue::NS({Decimal::FromInt64(3), Decimal::FromInt64(-1)});
  put.item["bs"] = AttributeValue::BS({"z", ""});
  put.return_values = ReturnValue::kAllOld;
  return put;
}

TEST(FrameTest, RequestRoundTrip) {
  std::string bytes = EncodeRequest("id-1", Request(SamplePut()));
  DecodedRequest d = DecodeRequest(bytes);
  ASSERT_TRUE(d.request.ok()) << d.request.status().ToString();
  EXPECT_EQ(d.request_id, "id-1");
  EXPECT_EQ(d.operation, Operation::kPutItem);
  const auto& put = std::get<PutItemRequest>(d.request.value());
  EXPECT_EQ(put.item, SamplePut().item);
  EXPECT_EQ(put.return_values, ReturnValue::kAllOld);
}

TEST(FrameTest, EveryOperationRoundTrips) {
  std::vector<Request> requests = {
      CreateTableRequest{"t", {{"pk", KeyType::kHash}}, {{"pk", AttributeType::kS}}, BillingMode::kPayPerRequest, std::nullopt},
      DescribeTableRequest{"t"}, ListTablesRequest{"a", 5}, DeleteTableRequest{"t"}, SamplePut(),
      GetItemRequest{"t", {{"pk", AttributeValue::S("a")}}, true, ReturnConsumedCapacity::kTotal},
      DeleteItemRequest{"t", {{"pk", AttributeValue::S("a")}}, ReturnValue::kAllOld, ReturnConsumedCapacity::kNone},
      QueryRequest{}, ScanRequest{}, BatchGetItemRequest{}, BatchWriteItemRequest{}};
  for (const Request& r : requests) {
    DecodedRequest d = DecodeRequest(EncodeRequest("x", r));
    ASSERT_TRUE(d.request.ok()) << OperationName(OperationOf(r));
    EXPECT_EQ(OperationOf(d.request.value()), OperationOf(r));
  }
}

TEST(FrameTest, ResponseAndErrorRoundTrip) {
  QueryResponse q;
  q.items.push_back(SamplePut().item);
  q.count = 1;
  q.scanned_count = 2;
  q.last_evaluated_key = Item{{"pk", AttributeValue::S("a")}};
  DecodedReply r = DecodeReply(EncodeResponse("id", Response(q)));
  ASSERT_TRUE(r.response.ok());
  const auto& got = std::get<QueryResponse>(r.response.value());
  EXPECT_EQ(got.items, q.items);
  EXPECT_EQ(got.scanned_count, 2);
  EXPECT_EQ(got.last_evaluated_key, q.last_evaluated_key);

  DecodedReply e = DecodeReply(EncodeError("id2", Operation::kPutItem,
                                           Status(ErrorCode::kConditionalCheckFailed, "nope")));
  EXPECT_EQ(e.request_id, "id2");
  ASSERT_FALSE(e.response.ok());
  EXPECT_EQ(e.response.status().code(), ErrorCode::kConditionalCheckFailed);
  EXPECT_EQ(e.response.status().message(), "nope");
}

TEST(FrameTest, BadFramesAreErrorsNotCrashes) {
  EXPECT_EQ(DecodeRequest("").request.status().code(), ErrorCode::kSerialization);
  EXPECT_EQ(DecodeRequest("\xc1").request.status().code(), ErrorCode::kSerialization);
  EXPECT_EQ(DecodeRequest("hello").request.status().code(), ErrorCode::kSerialization);

  std::string good = EncodeRequest("abc", Request(SamplePut()));
  EXPECT_EQ(DecodeRequest(good + "x").request.status().code(), ErrorCode::kSerialization);
  // A five-byte header claiming four billion elements is refused without allocating for them.
  EXPECT_FALSE(DecodeRequest(std::string("\xdd\xff\xff\xff\xff", 5)).request.ok());
  for (size_t cut = 0; cut < good.size(); cut += 3) {
    DecodedRequest d = DecodeRequest(std::string_view(good).substr(0, cut));
    EXPECT_FALSE(d.request.ok()) << cut;
  }

  auto frame = [](uint64_t version, uint64_t kind, uint64_t op, auto body) {
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(&buf);
    pk.pack_array(5);
    pk.pack(version);
    pk.pack(kind);
    pk.pack(op);
    pk.pack(std::string("rid"));
    pk.pack(body);
    return std::string(buf.data(), buf.size());
  };
  EXPECT_EQ(DecodeRequest(frame(2, 1, 5, 0)).request.status().code(), ErrorCode::kSerialization);
  DecodedRequest unknown = DecodeRequest(frame(1, 1, 999, 0));
  EXPECT_EQ(unknown.request.status().code(), ErrorCode::kUnknownOperation);
  EXPECT_EQ(unknown.request_id, "rid");
  EXPECT_EQ(DecodeRequest(frame(1, 2, 5, 0)).request.status().code(), ErrorCode::kSerialization);
  EXPECT_EQ(DecodeRequest(frame(1, 1, 5, std::string("not a map"))).request.status().code(),
            ErrorCode::kSerialization);

  // A number that breaks DynamoDB's range inside a well-formed frame is a ValidationException.
  msgpack::sbuffer item;
  {
    msgpack::packer<msgpack::sbuffer> pk(&item);
    pk.pack_array(5);
    pk.pack(1);
    pk.pack(1);
    pk.pack(5);
    pk.pack(std::string("r"));
    pk.pack_map(2);
    pk.pack(std::string("table_name"));
    pk.pack(std::string("t"));
    pk.pack(std::string("item"));
    pk.pack_map(1);
    pk.pack(std::string("n"));
    pk.pack_array(2);
    pk.pack(1);
    pk.pack(std::string("1E+999"));
  }
  DecodedRequest bad_number = DecodeRequest(std::string_view(item.data(), item.size()));
  EXPECT_EQ(bad_number.request.status().code(), ErrorCode::kValidation);
  EXPECT_NE(bad_number.request.status().message().find("overflow"), std::string::npos);
}

TEST(FrameTest, OversizeFrameIsRefusedBeforeDecoding) {
  std::string huge(kMaxFrameBytes + 1, '\x90');
  EXPECT_EQ(DecodeRequest(huge).request.status().code(), ErrorCode::kValidation);
}

TEST(FrameTest, DeepNestingIsRefusedWithoutStackOverflow) {
  // 100,000 nested one-element arrays: refused by the unpack depth limit.
  std::string deep(100000, '\x91');
  deep.push_back('\x00');
  EXPECT_FALSE(DecodeRequest(deep).request.ok());
}

TEST(FrameTest, RandomBytesNeverCrash) {
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("MERIDIAN_SEED")) seed = std::stoull(s);
  std::printf("seed=%llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  std::string good = EncodeRequest("abc", Request(SamplePut()));
  for (int i = 0; i < 20000; ++i) {
    std::string mutated = good;
    int flips = 1 + static_cast<int>(rng() % 8);
    for (int f = 0; f < flips; ++f) mutated[rng() % mutated.size()] = static_cast<char>(rng());
    DecodedRequest d = DecodeRequest(mutated);
    (void)d;
  }
}

}  // namespace
}  // namespace meridian::proto
