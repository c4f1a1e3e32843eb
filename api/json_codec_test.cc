#include "api/json_codec.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>

namespace meridian::api {
namespace {

using json = nlohmann::json;

Decimal D(std::string_view s) { return Decimal::Parse(s).value(); }

// A body with one member replaced or added.
std::string PutBody(const std::string& extra = "") {
  std::string body = R"({"TableName":"t","Item":{"pk":{"S":"a"}})";
  if (!extra.empty()) body += "," + extra;
  return body + "}";
}

Status DecodeStatus(std::string_view op, std::string_view body) {
  auto r = DecodeRequest(op, body);
  return r.ok() ? Status::Ok() : r.status();
}

void ExpectError(const Status& s, ErrorCode code, std::string_view substring = "") {
  EXPECT_EQ(s.code(), code) << s.ToString();
  if (!substring.empty()) {
    EXPECT_NE(s.message().find(substring), std::string::npos)
        << "message: " << s.message() << "\nwanted: " << substring;
  }
}

Status AvStatus(const std::string& text) {
  auto r = AttributeValueFromJson(json::parse(text));
  return r.ok() ? Status::Ok() : r.status();
}

// {"L":[{"L":[...{"S":"x"}...]}]}: a value whose own depth is `depth` (a scalar is depth 1).
std::string NestedText(int depth) {
  std::string s;
  for (int i = 1; i < depth; ++i) s += R"({"L":[)";
  s += R"({"S":"x"})";
  for (int i = 1; i < depth; ++i) s += "]}";
  return s;
}

// --- AttributeValue ------------------------------------------------------------------------------

TEST(JsonCodecAttributeValueTest, RoundTripsEveryType) {
  const char* cases[] = {
      R"({"S":"hello"})",
      R"({"S":""})",
      R"({"S":"h\u00e9llo \u2603"})",
      R"({"N":"1.5"})",
      R"({"N":"-0.000123"})",
      R"({"N":"12345678901234567890123456789012345678"})",
      R"({"B":"AAEC/w=="})",
      R"({"B":""})",
      R"({"BOOL":true})",
      R"({"BOOL":false})",
      R"({"NULL":true})",
      R"({"M":{}})",
      R"({"M":{"a":{"S":"x"},"b":{"M":{"c":{"N":"2"}}}}})",
      R"({"L":[]})",
      R"({"L":[{"S":"x"},{"N":"1"},{"L":[{"NULL":true}]}]})",
      R"({"SS":["a","b","c"]})",
      R"({"NS":["-1","2.5","100"]})",
      R"({"BS":["AA==","AQ==","Ag=="]})",
  };
  for (const char* text : cases) {
    SCOPED_TRACE(text);
    json in = json::parse(text);
    auto v = AttributeValueFromJson(in);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    EXPECT_EQ(AttributeValueToJson(*v), in);
    auto again = AttributeValueFromJson(AttributeValueToJson(*v));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *v);
  }
}

TEST(JsonCodecAttributeValueTest, DecodesToTheRightInternalValues) {
  EXPECT_EQ(*AttributeValueFromJson(json::parse(R"({"S":"x"})")), AttributeValue::S("x"));
  EXPECT_EQ(*AttributeValueFromJson(json::parse(R"({"N":"1E+2"})")), AttributeValue::N(D("100")));
  EXPECT_EQ(*AttributeValueFromJson(json::parse(R"({"B":"AAEC/w=="})")),
            AttributeValue::B(std::string("\x00\x01\x02\xff", 4)));
  EXPECT_EQ(*AttributeValueFromJson(json::parse(R"({"BOOL":false})")), AttributeValue::Bool(false));
  EXPECT_EQ(*AttributeValueFromJson(json::parse(R"({"NULL":true})")), AttributeValue::NullValue());
  EXPECT_EQ(*AttributeValueFromJson(json::parse(R"({"SS":["b","a"]})")), AttributeValue::SS({"a", "b"}));
  EXPECT_EQ(*AttributeValueFromJson(json::parse(R"({"NS":["10","9"]})")),
            AttributeValue::NS({D("9"), D("10")}));
  EXPECT_EQ(*AttributeValueFromJson(json::parse(R"({"BS":["AQ==","AA=="]})")),
            AttributeValue::BS({std::string(1, '\0'), std::string(1, '\1')}));
  // A type key whose value is null is absent, as in DynamoDB.
  EXPECT_EQ(*AttributeValueFromJson(json::parse(R"({"S":null,"N":"1"})")), AttributeValue::N(D("1")));
}

TEST(JsonCodecAttributeValueTest, PrintsNumbersCanonically) {
  EXPECT_EQ(AttributeValueToJson(*AttributeValueFromJson(json::parse(R"({"N":"1E+2"})"))),
            json::parse(R"({"N":"100"})"));
  EXPECT_EQ(AttributeValueToJson(*AttributeValueFromJson(json::parse(R"({"N":"0.50"})"))),
            json::parse(R"({"N":"0.5"})"));
  EXPECT_EQ(AttributeValueToJson(*AttributeValueFromJson(json::parse(R"({"NS":["1.0","-0"]})"))),
            json::parse(R"({"NS":["0","1"]})"));
}

TEST(JsonCodecAttributeValueTest, KeepsSetDuplicatesForTheEngineToReport) {
  auto v = AttributeValueFromJson(json::parse(R"({"NS":["1","1.0"]})"));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->ns().size(), 2u);
  EXPECT_EQ(ValidateAttributeValue(*v).code(), ErrorCode::kValidation);
  auto empty = AttributeValueFromJson(json::parse(R"({"SS":[]})"));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(ValidateAttributeValue(*empty).code(), ErrorCode::kValidation);
}

TEST(JsonCodecAttributeValueTest, EncodesAllByteValuesInBase64) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t len : {0u, 1u, 2u, 3u, 4u, 5u, 256u}) {
    AttributeValue v = AttributeValue::B(all.substr(0, len));
    json j = AttributeValueToJson(v);
    EXPECT_EQ(j["B"].get<std::string>().size(), 4 * ((len + 2) / 3));
    auto back = AttributeValueFromJson(j);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, v);
  }
  EXPECT_EQ(AttributeValueToJson(AttributeValue::B("foobar"))["B"], "Zm9vYmFy");
  EXPECT_EQ(AttributeValueToJson(AttributeValue::B("fo"))["B"], "Zm8=");
}

TEST(JsonCodecAttributeValueTest, RefusesWrongPayloadTypes) {
  ExpectError(AvStatus(R"({"N":1.5})"), ErrorCode::kSerialization, "NUMBER_VALUE cannot be converted to String");
  ExpectError(AvStatus(R"({"S":5})"), ErrorCode::kSerialization, "NUMBER_VALUE cannot be converted to String");
  ExpectError(AvStatus(R"({"S":{}})"), ErrorCode::kSerialization, "Start of structure or map");
  ExpectError(AvStatus(R"({"BOOL":"true"})"), ErrorCode::kSerialization, "STRING_VALUE cannot be converted to Boolean");
  ExpectError(AvStatus(R"({"M":[]})"), ErrorCode::kSerialization, "Start of list");
  ExpectError(AvStatus(R"({"L":{}})"), ErrorCode::kSerialization, "Start of structure or map");
  ExpectError(AvStatus(R"({"SS":["a",1]})"), ErrorCode::kSerialization, "NUMBER_VALUE");
  ExpectError(AvStatus(R"({"NS":"1"})"), ErrorCode::kSerialization);
  ExpectError(AvStatus(R"("x")"), ErrorCode::kSerialization, "STRING_VALUE cannot be converted to AttributeValue");
  ExpectError(AvStatus(R"([])"), ErrorCode::kSerialization);
  ExpectError(AvStatus(R"({"X":"1"})"), ErrorCode::kSerialization, "'X'");
  ExpectError(AvStatus(R"({"s":"1"})"), ErrorCode::kSerialization);
}

TEST(JsonCodecAttributeValueTest, RefusesEmptyAndMultiTypedValues) {
  ExpectError(AvStatus(R"({})"), ErrorCode::kValidation,
              "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes");
  ExpectError(AvStatus(R"({"S":null})"), ErrorCode::kValidation, "Supplied AttributeValue is empty");
  ExpectError(AvStatus(R"({"S":"a","N":"1"})"), ErrorCode::kValidation,
              "Supplied AttributeValue has more than one datatypes set, must contain exactly one of "
              "the supported datatypes");
}

TEST(JsonCodecAttributeValueTest, RefusesNullFalse) {
  ExpectError(AvStatus(R"({"NULL":false})"), ErrorCode::kValidation,
              "Null attribute value types must have the true value");
}

TEST(JsonCodecAttributeValueTest, RefusesBadNumbersWithDecimalsMessages) {
  for (const char* n : {"abc", "", "1e", "0x10", "NaN", " 1"}) {
    ExpectError(AvStatus(std::string(R"({"N":")") + n + "\"}"), ErrorCode::kValidation,
                "A value provided cannot be converted into a number");
  }
  ExpectError(AvStatus(R"({"N":"1E+126"})"), ErrorCode::kValidation, "Number overflow");
  ExpectError(AvStatus(R"({"N":"1E-131"})"), ErrorCode::kValidation, "Number underflow");
  ExpectError(AvStatus(R"({"N":"1234567890123456789012345678901234567890"})"), ErrorCode::kValidation,
              "38 significant digits");
  ExpectError(AvStatus(R"({"NS":["1","x"]})"), ErrorCode::kValidation, "cannot be converted into a number");
}

TEST(JsonCodecAttributeValueTest, RefusesBadBase64) {
  ExpectError(AvStatus(R"({"B":"abc"})"), ErrorCode::kSerialization,
              "Base64 encoded length is expected a multiple of 4 bytes but found: 3");
  for (const char* bad : {"ab$=", "=AAA", "A===", "AA=A", " AAA", "AAA\\n", "AA==AAAA", "\u00e9AAA"}) {
    SCOPED_TRACE(bad);
    ExpectError(AvStatus(std::string(R"({"B":")") + bad + "\"}"), ErrorCode::kSerialization);
  }
  ExpectError(AvStatus(R"({"BS":["AA==","A"]})"), ErrorCode::kSerialization, "multiple of 4");
  // Padding is not counted as data.
  EXPECT_EQ(AttributeValueFromJson(json::parse(R"({"B":"AA=="})"))->b(), std::string(1, '\0'));
  EXPECT_EQ(AttributeValueFromJson(json::parse(R"({"B":"AAA="})"))->b(), std::string(2, '\0'));
  EXPECT_EQ(AttributeValueFromJson(json::parse(R"({"B":"AAAA"})"))->b(), std::string(3, '\0'));
}

TEST(JsonCodecAttributeValueTest, NestingUpToTheLimitIsAccepted) {
  auto v = AttributeValueFromJson(json::parse(NestedText(kMaxNestingDepth)));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  // The codec and the engine's validation agree on where the limit is.
  EXPECT_TRUE(ValidateAttributeValue(*v).ok());
  ExpectError(AvStatus(NestedText(kMaxNestingDepth + 1)), ErrorCode::kValidation,
              "Nesting Levels have exceeded supported limits");
  // The same through maps.
  std::string m = R"({"S":"x"})";
  for (int i = 1; i < kMaxNestingDepth; ++i) m = R"({"M":{"k":)" + m + "}}";
  EXPECT_TRUE(AvStatus(m).ok());
  ExpectError(AvStatus(R"({"M":{"k":)" + m + "}}"), ErrorCode::kValidation, "Nesting Levels");
}

TEST(JsonCodecAttributeValueTest, ItemAttributesStartAtDepthOne) {
  json item = json::object();
  item["a"] = json::parse(NestedText(kMaxNestingDepth));
  EXPECT_TRUE(ItemFromJson(item).ok());
  item["a"] = json::parse(NestedText(kMaxNestingDepth + 1));
  EXPECT_EQ(ItemFromJson(item).status().code(), ErrorCode::kValidation);
  EXPECT_EQ(ItemFromJson(json::array()).status().code(), ErrorCode::kSerialization);
  EXPECT_EQ(ItemFromJson(json("x")).status().code(), ErrorCode::kSerialization);
}

TEST(JsonCodecAttributeValueTest, VeryDeepInputIsRefusedWithoutStackOverflow) {
  constexpr int kDepth = 100000;
  std::string deep;
  deep.reserve(kDepth * 16);
  deep += R"({"TableName":"t","Item":{"a":)";
  for (int i = 0; i < kDepth; ++i) deep += R"({"L":[)";
  deep += R"({"S":"x"})";
  for (int i = 0; i < kDepth; ++i) deep += "]}";
  deep += "}}";
  ExpectError(DecodeStatus("PutItem", deep), ErrorCode::kValidation, "Nesting Levels");

  // Plain deep arrays: as the body, and inside a member that is ignored.
  std::string arrays = std::string(kDepth, '[') + std::string(kDepth, ']');
  ExpectError(DecodeStatus("PutItem", arrays), ErrorCode::kSerialization);
  EXPECT_TRUE(DecodeStatus("PutItem", PutBody("\"Unknown\":" + arrays)).ok());
  // Unbalanced: malformed.
  ExpectError(DecodeStatus("PutItem", std::string(kDepth, '[')), ErrorCode::kSerialization);
}

// --- Request decoding errors ---------------------------------------------------------------------

TEST(JsonCodecRequestTest, MalformedJsonIsSerializationException) {
  for (const char* body : {"", "{", "{\"TableName\":}", "{'TableName':'t'}", "{\"a\":1,}", "nul",
                           "{\"TableName\":\"t\"} x"}) {
    SCOPED_TRACE(body);
    ExpectError(DecodeStatus("DescribeTable", body), ErrorCode::kSerialization);
  }
  // Ill-formed UTF-8 inside a string.
  ExpectError(DecodeStatus("DescribeTable", "{\"TableName\":\"\xff\xfe\"}"), ErrorCode::kSerialization);
}

TEST(JsonCodecRequestTest, NonObjectBodyIsSerializationException) {
  for (const char* body : {"[]", "5", "\"x\"", "null", "true"}) {
    SCOPED_TRACE(body);
    ExpectError(DecodeStatus("ListTables", body), ErrorCode::kSerialization);
  }
  ExpectError(DecodeRequest(Operation::kListTables, json::array()).status(), ErrorCode::kSerialization);
}

TEST(JsonCodecRequestTest, UnknownOperation) {
  for (const char* op : {"Foo", "", "putitem", "TransactWriteItems"}) {
    SCOPED_TRACE(op);
    ExpectError(DecodeStatus(op, "{}"), ErrorCode::kUnknownOperation);
  }
  EXPECT_EQ(EncodeError(DecodeRequest("Foo", "{}").status())["__type"],
            "com.amazon.coral.service#UnknownOperationException");
}

TEST(JsonCodecRequestTest, InternalOperationsAreUnknownOverJson) {
  // The replicator's operations exist only on the native protocol: over JSON they get exactly
  // what an operation that does not exist gets, whatever the body.
  const std::string unknown = DecodeStatus("Frobnicate", "{}").message();
  EXPECT_EQ(unknown, "Operation Frobnicate is not served by Meridian");
  for (uint16_t n = kDynamoOperationCount + 1; n <= kOperationCount; ++n) {
    auto op = static_cast<Operation>(n);
    std::string name = OperationName(op);
    SCOPED_TRACE(name);
    ASSERT_EQ(name.rfind("Replication", 0), 0u);
    EXPECT_FALSE(IsDynamoOperation(op));
    for (const char* body : {"{}", "[]", "not json", R"({"source":"eu-west","changes":[]})"}) {
      Status st = DecodeStatus(name, body);
      ExpectError(st, ErrorCode::kUnknownOperation);
      EXPECT_EQ(st.message(), "Operation " + name + " is not served by Meridian");
      EXPECT_EQ(EncodeError(st)["__type"], "com.amazon.coral.service#UnknownOperationException");
    }
    ExpectError(DecodeRequest(op, json::object()).status(), ErrorCode::kUnknownOperation);
    ExpectError(DecodeRequest(op, json::array()).status(), ErrorCode::kUnknownOperation);
    ExpectError(DecodeResponse(op, json::object()).status(), ErrorCode::kUnknownOperation);
  }
  for (uint16_t n = 1; n <= kDynamoOperationCount; ++n) {
    EXPECT_TRUE(IsDynamoOperation(static_cast<Operation>(n))) << n;
  }
  EXPECT_FALSE(IsDynamoOperation(static_cast<Operation>(0)));
  EXPECT_FALSE(IsDynamoOperation(static_cast<Operation>(kOperationCount + 1)));
  ExpectError(DecodeRequest(static_cast<Operation>(0), json::object()).status(), ErrorCode::kUnknownOperation);
  ExpectError(DecodeRequest(static_cast<Operation>(999), json::object()).status(), ErrorCode::kUnknownOperation);
}

TEST(JsonCodecRequestTest, InternalTypesEncodeAsEmptyObjects) {
  ReplicationApplyRequest apply;
  apply.source = "eu-west";
  apply.changes.resize(2);
  for (const Request& r : {Request(apply), Request(ReplicationStatusRequest{}),
                           Request(ReplicationReadChangesRequest{"eu-west", 5}),
                           Request(ReplicationReadTableRequest{"t"}), Request(ReplicationBackfillDoneRequest{"t", "p"})}) {
    EXPECT_EQ(EncodeRequest(r), json::object()) << OperationName(OperationOf(r));
  }
  ReplicationStatusResponse status;
  status.region = "us-east";
  status.conflicts["t"].count = 3;
  for (const Response& r : {Response(status), Response(ReplicationApplyResponse{7}), Response(ReplicationReadChangesResponse{}),
                            Response(ReplicationReadTableResponse{}), Response(ReplicationBackfillDoneResponse{})}) {
    EXPECT_EQ(EncodeResponse(r), json::object()) << OperationName(OperationOf(r));
  }
}

TEST(JsonCodecRequestTest, WrongMemberTypesAreSerializationExceptions) {
  ExpectError(DecodeStatus("DescribeTable", R"({"TableName":5})"), ErrorCode::kSerialization,
              "NUMBER_VALUE cannot be converted to String");
  ExpectError(DecodeStatus("PutItem", R"({"TableName":"t","Item":[]})"), ErrorCode::kSerialization,
              "Start of list found where not expected");
  ExpectError(DecodeStatus("PutItem", R"({"TableName":"t","Item":"x"})"), ErrorCode::kSerialization,
              "STRING_VALUE cannot be converted to Map");
  ExpectError(DecodeStatus("Scan", R"({"TableName":"t","Limit":"x"})"), ErrorCode::kSerialization,
              "STRING_VALUE cannot be converted to Long");
  ExpectError(DecodeStatus("Scan", R"({"TableName":"t","Limit":1.5})"), ErrorCode::kSerialization);
  ExpectError(DecodeStatus("Scan", R"({"TableName":"t","Limit":18446744073709551615})"),
              ErrorCode::kSerialization, "out of range");
  ExpectError(DecodeStatus("GetItem", R"({"TableName":"t","Key":{},"ConsistentRead":"yes"})"),
              ErrorCode::kSerialization, "STRING_VALUE cannot be converted to Boolean");
  ExpectError(DecodeStatus("PutItem", PutBody(R"("ReturnValues":1)")), ErrorCode::kSerialization);
  ExpectError(DecodeStatus("Query", R"({"TableName":"t","KeyConditionExpression":"a = :a","ExpressionAttributeNames":{"#a":1}})"),
              ErrorCode::kSerialization);
  ExpectError(DecodeStatus("Query", R"({"TableName":"t","KeyConditionExpression":"a = :a","ExpressionAttributeValues":[]})"),
              ErrorCode::kSerialization);
  ExpectError(DecodeStatus("CreateTable", R"({"TableName":"t","KeySchema":{},"AttributeDefinitions":[]})"),
              ErrorCode::kSerialization);
  ExpectError(DecodeStatus("CreateTable", R"({"TableName":"t","KeySchema":[],"AttributeDefinitions":[],"ProvisionedThroughput":{"ReadCapacityUnits":"1","WriteCapacityUnits":1}})"),
              ErrorCode::kSerialization);
  ExpectError(DecodeStatus("BatchGetItem", R"({"RequestItems":{"t":{"Keys":{}}}})"), ErrorCode::kSerialization);
  ExpectError(DecodeStatus("BatchWriteItem", R"({"RequestItems":{"t":{}}})"), ErrorCode::kSerialization);
  ExpectError(DecodeStatus("BatchWriteItem", R"({"RequestItems":{"t":[{"PutRequest":[]}]}})"),
              ErrorCode::kSerialization);
  ExpectError(DecodeStatus("ListTables", R"({"ExclusiveStartTableName":true})"), ErrorCode::kSerialization,
              "VALUE_TRUE cannot be converted to String");
  // An integral double is an integer.
  auto r = DecodeRequest("Scan", R"({"TableName":"t","Limit":5.0})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<ScanRequest>(*r).limit, 5);
}

TEST(JsonCodecRequestTest, BadEnumValuesAreValidationExceptions) {
  ExpectError(DecodeStatus("PutItem", PutBody(R"("ReturnValues":"BAD")")), ErrorCode::kValidation,
              "1 validation error detected: Value 'BAD' at 'returnValues' failed to satisfy "
              "constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, "
              "NONE, UPDATED_NEW]");
  ExpectError(DecodeStatus("PutItem", PutBody(R"("ReturnConsumedCapacity":"ALL")")), ErrorCode::kValidation,
              "Value 'ALL' at 'returnConsumedCapacity' failed to satisfy constraint: Member must "
              "satisfy enum value set: [INDEXES, TOTAL, NONE]");
  ExpectError(DecodeStatus("Scan", R"({"TableName":"t","Select":"SOME"})"), ErrorCode::kValidation,
              "at 'select' failed to satisfy constraint: Member must satisfy enum value set: "
              "[SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]");
  ExpectError(DecodeStatus("CreateTable", R"({"TableName":"t","KeySchema":[],"AttributeDefinitions":[],"BillingMode":"FREE"})"),
              ErrorCode::kValidation, "at 'billingMode' failed to satisfy constraint: Member must "
                                      "satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]");
  ExpectError(DecodeStatus("CreateTable", R"({"TableName":"t","KeySchema":[{"AttributeName":"a","KeyType":"HASH"},{"AttributeName":"b","KeyType":"SORT"}],"AttributeDefinitions":[]})"),
              ErrorCode::kValidation, "Value 'SORT' at 'keySchema.2.member.keyType'");
  ExpectError(DecodeStatus("CreateTable", R"({"TableName":"t","KeySchema":[],"AttributeDefinitions":[{"AttributeName":"a","AttributeType":"BOOL"}]})"),
              ErrorCode::kValidation,
              "Value 'BOOL' at 'attributeDefinitions.1.member.attributeType' failed to satisfy "
              "constraint: Member must satisfy enum value set: [B, N, S]");
  // Enum values are case-sensitive, as in DynamoDB.
  ExpectError(DecodeStatus("PutItem", PutBody(R"("ReturnValues":"all_old")")), ErrorCode::kValidation);
}

TEST(JsonCodecRequestTest, MissingRequiredMembersAreValidationExceptions) {
  ExpectError(DecodeStatus("DescribeTable", "{}"), ErrorCode::kValidation,
              "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: "
              "Member must not be null");
  ExpectError(DecodeStatus("DescribeTable", R"({"TableName":null})"), ErrorCode::kValidation, "'tableName'");
  ExpectError(DecodeStatus("PutItem", R"({"TableName":"t"})"), ErrorCode::kValidation, "'item'");
  ExpectError(DecodeStatus("GetItem", R"({"TableName":"t"})"), ErrorCode::kValidation, "'key'");
  ExpectError(DecodeStatus("DeleteItem", R"({"TableName":"t"})"), ErrorCode::kValidation, "'key'");
  ExpectError(DecodeStatus("CreateTable", R"({"TableName":"t","AttributeDefinitions":[]})"),
              ErrorCode::kValidation, "'keySchema'");
  ExpectError(DecodeStatus("CreateTable", R"({"TableName":"t","KeySchema":[{"AttributeName":"a"}],"AttributeDefinitions":[]})"),
              ErrorCode::kValidation, "'keySchema.1.member.keyType'");
  ExpectError(DecodeStatus("CreateTable", R"({"TableName":"t","KeySchema":[],"AttributeDefinitions":[],"ProvisionedThroughput":{"ReadCapacityUnits":1}})"),
              ErrorCode::kValidation, "'provisionedThroughput.writeCapacityUnits'");
  ExpectError(DecodeStatus("BatchGetItem", "{}"), ErrorCode::kValidation, "'requestItems'");
  ExpectError(DecodeStatus("BatchWriteItem", "{}"), ErrorCode::kValidation, "'requestItems'");
  ExpectError(DecodeStatus("Query", R"({"TableName":"t"})"), ErrorCode::kValidation,
              "Either the KeyConditions or KeyConditionExpression parameter must be specified");
  ExpectError(DecodeStatus("BatchWriteItem", R"({"RequestItems":{"t":[{}]}})"), ErrorCode::kValidation,
              "exactly one of PutRequest or DeleteRequest");
  ExpectError(DecodeStatus("BatchWriteItem",
                           R"({"RequestItems":{"t":[{"PutRequest":{"Item":{}},"DeleteRequest":{"Key":{}}}]}})"),
              ErrorCode::kValidation, "exactly one of PutRequest or DeleteRequest");
}

TEST(JsonCodecRequestTest, UnknownMembersAndNullsAreIgnored) {
  auto r = DecodeRequest("PutItem", PutBody(R"("Whatever":{"x":[1,2]},"ReturnValues":null)"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(std::get<PutItemRequest>(*r).return_values, ReturnValue::kNone);
}

TEST(JsonCodecRequestTest, UnsupportedFeaturesAreRefused) {
  for (const char* member :
       {"GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification", "SSESpecification"}) {
    SCOPED_TRACE(member);
    std::string extra = std::string("\"") + member + "\":\"x\"";
    ExpectError(DecodeStatus("PutItem", PutBody(extra)), ErrorCode::kValidation,
                std::string(member) + " is not supported by Meridian yet");
  }
  ExpectError(DecodeStatus("CreateTable", R"({"TableName":"t","KeySchema":[],"AttributeDefinitions":[],"GlobalSecondaryIndexes":[]})"),
              ErrorCode::kValidation, "GlobalSecondaryIndexes is not supported by Meridian yet");
  // ReturnItemCollectionMetrics: NONE is what Meridian does anyway.
  EXPECT_TRUE(DecodeStatus("PutItem", PutBody(R"("ReturnItemCollectionMetrics":"NONE")")).ok());
  ExpectError(DecodeStatus("PutItem", PutBody(R"("ReturnItemCollectionMetrics":"SIZE")")),
              ErrorCode::kValidation, "ReturnItemCollectionMetrics is not supported by Meridian yet");
  ExpectError(DecodeStatus("BatchWriteItem", R"({"RequestItems":{},"ReturnItemCollectionMetrics":"SIZE"})"),
              ErrorCode::kValidation, "ReturnItemCollectionMetrics is not supported by Meridian yet");
  ExpectError(DecodeStatus("PutItem", PutBody(R"("ReturnItemCollectionMetrics":"BAD")")),
              ErrorCode::kValidation, "enum value set: [SIZE, NONE]");
  // A null member is absent, so it asks for nothing.
  EXPECT_TRUE(DecodeStatus("PutItem", PutBody(R"("ConditionExpression":null)")).ok());
}

// --- Global tables: UpdateTable -------------------------------------------------------------------

Status UpdateTableStatus(const std::string& members) {
  return DecodeStatus("UpdateTable", R"({"TableName":"t")" + (members.empty() ? "" : "," + members) + "}");
}

TEST(JsonCodecUpdateTableTest, DecodesDynamoDbsShape) {
  auto r = DecodeRequest("UpdateTable", R"({"TableName":"Music",
      "AttributeDefinitions":[{"AttributeName":"Artist","AttributeType":"S"}],
      "BillingMode":"PROVISIONED","ProvisionedThroughput":{"ReadCapacityUnits":5,"WriteCapacityUnits":6},
      "ReplicaUpdates":[{"Create":{"RegionName":"eu-west"}},{"Delete":{"RegionName":"ap-south"}},
                        {"Create":{"RegionName":"us-west"},"Delete":null}],
      "MultiRegionConsistency":"EVENTUAL","Whatever":1})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(std::holds_alternative<UpdateTableRequest>(*r));
  const auto& u = std::get<UpdateTableRequest>(*r);
  EXPECT_EQ(u.table_name, "Music");
  ASSERT_TRUE(u.attribute_definitions.has_value());
  EXPECT_EQ(*u.attribute_definitions, (std::vector<AttributeDefinition>{{"Artist", AttributeType::kS}}));
  EXPECT_EQ(u.billing_mode, BillingMode::kProvisioned);
  EXPECT_EQ(u.provisioned_throughput, (ProvisionedThroughput{5, 6}));
  ASSERT_EQ(u.replica_updates.size(), 3u);
  EXPECT_EQ(u.replica_updates[0].create, "eu-west");
  EXPECT_FALSE(u.replica_updates[0].remove.has_value());
  EXPECT_EQ(u.replica_updates[1].remove, "ap-south");
  EXPECT_FALSE(u.replica_updates[1].create.has_value());
  EXPECT_EQ(u.replica_updates[2].create, "us-west");

  // Only a table name: everything else absent (the engine decides whether that is a change).
  auto minimal = DecodeRequest("UpdateTable", R"({"TableName":"t"})");
  ASSERT_TRUE(minimal.ok()) << minimal.status().ToString();
  const auto& m = std::get<UpdateTableRequest>(*minimal);
  EXPECT_FALSE(m.attribute_definitions || m.billing_mode || m.provisioned_throughput);
  EXPECT_TRUE(m.replica_updates.empty());
  EXPECT_TRUE(std::get<UpdateTableRequest>(DecodeRequest("UpdateTable", R"({"TableName":"t","ReplicaUpdates":[]})").value())
                  .replica_updates.empty());
}

TEST(JsonCodecUpdateTableTest, EachDecodeError) {
  ExpectError(DecodeStatus("UpdateTable", "{}"), ErrorCode::kValidation,
              "Value null at 'tableName' failed to satisfy constraint: Member must not be null");
  ExpectError(DecodeStatus("UpdateTable", R"({"TableName":7})"), ErrorCode::kSerialization,
              "NUMBER_VALUE cannot be converted to String");
  ExpectError(DecodeStatus("UpdateTable", "[]"), ErrorCode::kSerialization);
  // ReplicaUpdates: a list of objects.
  ExpectError(UpdateTableStatus(R"("ReplicaUpdates":{})"), ErrorCode::kSerialization,
              "Start of structure or map found where not expected");
  ExpectError(UpdateTableStatus(R"("ReplicaUpdates":"eu-west")"), ErrorCode::kSerialization,
              "STRING_VALUE cannot be converted to List");
  ExpectError(UpdateTableStatus(R"("ReplicaUpdates":["eu-west"])"), ErrorCode::kSerialization,
              "STRING_VALUE cannot be converted to Structure");
  ExpectError(UpdateTableStatus(R"("ReplicaUpdates":[[]])"), ErrorCode::kSerialization,
              "Start of list found where not expected");
  // Exactly one of Create and Delete.
  for (const char* entry : {"{}", R"({"Create":null,"Delete":null})",
                            R"({"Create":{"RegionName":"a"},"Delete":{"RegionName":"b"}})"}) {
    SCOPED_TRACE(entry);
    ExpectError(UpdateTableStatus(std::string(R"("ReplicaUpdates":[)") + entry + "]"), ErrorCode::kValidation,
                "a ReplicaUpdates entry must contain exactly one of Create or Delete");
  }
  // Update and any other member are refused by name, even beside a valid action.
  ExpectError(UpdateTableStatus(R"("ReplicaUpdates":[{"Update":{"RegionName":"eu-west"}}])"), ErrorCode::kValidation,
              "ReplicaUpdates Update (per-replica settings) is not supported by Meridian");
  ExpectError(UpdateTableStatus(R"("ReplicaUpdates":[{"Create":{"RegionName":"a"}},{"Delete":{"RegionName":"b"},"Update":{}}])"),
              ErrorCode::kValidation, "ReplicaUpdates Update (per-replica settings) is not supported");
  ExpectError(UpdateTableStatus(R"("ReplicaUpdates":[{"Create":{"RegionName":"a"},"Frob\u0001":1}])"),
              ErrorCode::kValidation, "ReplicaUpdates member 'Frob?' is not supported by Meridian");
  // The action's RegionName.
  ExpectError(UpdateTableStatus(R"("ReplicaUpdates":[{"Create":{}}])"), ErrorCode::kValidation,
              "Value null at 'replicaUpdates.1.member.create.regionName'");
  ExpectError(UpdateTableStatus(R"("ReplicaUpdates":[{"Create":{"RegionName":"a"}},{"Delete":{"RegionName":null}}])"),
              ErrorCode::kValidation, "Value null at 'replicaUpdates.2.member.delete.regionName'");
  ExpectError(UpdateTableStatus(R"("ReplicaUpdates":[{"Create":{"RegionName":1}}])"), ErrorCode::kSerialization,
              "NUMBER_VALUE cannot be converted to String");
  ExpectError(UpdateTableStatus(R"("ReplicaUpdates":[{"Create":"eu-west"}])"), ErrorCode::kSerialization,
              "STRING_VALUE cannot be converted to Structure");
  ExpectError(UpdateTableStatus(R"("ReplicaUpdates":[{"Delete":[]}])"), ErrorCode::kSerialization,
              "Start of list found where not expected");
  // Per-replica options Meridian does not have.
  for (const char* option : {"KMSMasterKeyId", "ProvisionedThroughputOverride", "OnDemandThroughputOverride",
                             "GlobalSecondaryIndexes", "TableClassOverride"}) {
    SCOPED_TRACE(option);
    ExpectError(UpdateTableStatus(std::string(R"("ReplicaUpdates":[{"Create":{"RegionName":"a",")") + option +
                                  R"(":{}}}])"),
                ErrorCode::kValidation, std::string("ReplicaUpdates Create ") + option + " is not supported");
  }
  // The table-level members.
  ExpectError(UpdateTableStatus(R"("BillingMode":"FREE")"), ErrorCode::kValidation,
              "Value 'FREE' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: "
              "[PROVISIONED, PAY_PER_REQUEST]");
  ExpectError(UpdateTableStatus(R"("ProvisionedThroughput":{"ReadCapacityUnits":1})"), ErrorCode::kValidation,
              "'provisionedThroughput.writeCapacityUnits'");
  ExpectError(UpdateTableStatus(R"("ProvisionedThroughput":[])"), ErrorCode::kSerialization);
  ExpectError(UpdateTableStatus(R"("AttributeDefinitions":[{"AttributeName":"a","AttributeType":"X"}])"),
              ErrorCode::kValidation, "Value 'X' at 'attributeDefinitions.1.member.attributeType'");
  ExpectError(UpdateTableStatus(R"("AttributeDefinitions":{})"), ErrorCode::kSerialization);
  ExpectError(UpdateTableStatus(R"("GlobalSecondaryIndexUpdates":[])"), ErrorCode::kValidation,
              "GlobalSecondaryIndexUpdates is not supported by Meridian yet");
  ExpectError(UpdateTableStatus(R"("StreamSpecification":{"StreamEnabled":true})"), ErrorCode::kValidation,
              "StreamSpecification is not supported by Meridian yet");
  ExpectError(UpdateTableStatus(R"("MultiRegionConsistency":"STRONG")"), ErrorCode::kValidation,
              "MultiRegionConsistency STRONG is not supported by Meridian yet");
  ExpectError(UpdateTableStatus(R"("MultiRegionConsistency":"SOMETIMES")"), ErrorCode::kValidation,
              "enum value set: [EVENTUAL, STRONG]");
  ExpectError(UpdateTableStatus(R"("MultiRegionConsistency":true)"), ErrorCode::kSerialization);
}

TEST(JsonCodecUpdateTableTest, EncodesRequestsAndResponsesInDynamoDbsShape) {
  UpdateTableRequest u;
  u.table_name = "Music";
  u.billing_mode = BillingMode::kPayPerRequest;
  u.replica_updates = {ReplicaUpdate{"eu-west", std::nullopt}, ReplicaUpdate{std::nullopt, "ap-south"}};
  EXPECT_EQ(EncodeRequest(u), json::parse(R"({"TableName":"Music","BillingMode":"PAY_PER_REQUEST",
      "ReplicaUpdates":[{"Create":{"RegionName":"eu-west"}},{"Delete":{"RegionName":"ap-south"}}]})"));
  EXPECT_EQ(EncodeRequest(UpdateTableRequest{.table_name = "t"}), json::parse(R"({"TableName":"t"})"));
  // An entry with both set (possible only over the native protocol) shows both, and is refused
  // when decoded back.
  UpdateTableRequest both{.table_name = "t", .replica_updates = {ReplicaUpdate{"a", "b"}}};
  ExpectError(DecodeRequest(Operation::kUpdateTable, EncodeRequest(both)).status(), ErrorCode::kValidation,
              "exactly one of Create or Delete");

  TableDescription t;
  t.table_name = "Music";
  t.table_arn = "arn:aws:dynamodb:us-east:000000000000:table/Music";
  t.table_id = "id";
  t.table_status = TableStatus::kUpdating;
  t.key_schema = {{"pk", KeyType::kHash}};
  t.attribute_definitions = {{"pk", AttributeType::kS}};
  t.billing_mode = BillingMode::kPayPerRequest;
  t.creation_date_time_ms = 1000;
  t.replicas = {{"us-east", ReplicaStatus::kActive}, {"eu-west", ReplicaStatus::kCreating}};
  json j = EncodeResponse(UpdateTableResponse{t});
  EXPECT_EQ(j, json::parse(R"({"TableDescription":{
      "AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],
      "TableName":"Music",
      "KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],
      "TableStatus":"UPDATING",
      "CreationDateTime":1.0,
      "ProvisionedThroughput":{"NumberOfDecreasesToday":0,"ReadCapacityUnits":0,"WriteCapacityUnits":0},
      "TableSizeBytes":0,
      "ItemCount":0,
      "TableArn":"arn:aws:dynamodb:us-east:000000000000:table/Music",
      "TableId":"id",
      "BillingModeSummary":{"BillingMode":"PAY_PER_REQUEST"},
      "Replicas":[{"RegionName":"us-east","ReplicaStatus":"ACTIVE"},
                  {"RegionName":"eu-west","ReplicaStatus":"CREATING"}],
      "GlobalTableVersion":"2019.11.21"}})"));
  // Every TableDescription carries them: DescribeTable, CreateTable, DeleteTable.
  EXPECT_EQ(EncodeResponse(DescribeTableResponse{t})["Table"]["GlobalTableVersion"], "2019.11.21");
  EXPECT_EQ(EncodeResponse(CreateTableResponse{t})["TableDescription"]["Replicas"].size(), 2u);
  EXPECT_EQ(EncodeResponse(DeleteTableResponse{t})["TableDescription"]["Replicas"].size(), 2u);
  // Every replica status by name.
  for (auto [status, name] : {std::pair{ReplicaStatus::kCreating, "CREATING"},
                              {ReplicaStatus::kCreationFailed, "CREATION_FAILED"},
                              {ReplicaStatus::kUpdating, "UPDATING"},
                              {ReplicaStatus::kDeleting, "DELETING"},
                              {ReplicaStatus::kActive, "ACTIVE"}}) {
    TableDescription one = t;
    one.replicas = {{"r", status}};
    EXPECT_EQ(EncodeResponse(DescribeTableResponse{one})["Table"]["Replicas"][0]["ReplicaStatus"], name);
    auto back = DecodeResponse(Operation::kDescribeTable, EncodeResponse(DescribeTableResponse{one}));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(std::get<DescribeTableResponse>(*back).table.replicas, one.replicas);
  }
  // No replica elsewhere: neither member, as DynamoDB shows a table that is not global.
  t.replicas.clear();
  json plain = EncodeResponse(UpdateTableResponse{t})["TableDescription"];
  EXPECT_FALSE(plain.contains("Replicas"));
  EXPECT_FALSE(plain.contains("GlobalTableVersion"));
  // Decoding a response refuses a replica status outside the set and wrong types.
  ExpectError(DecodeResponse(Operation::kUpdateTable,
                             json::parse(R"({"TableDescription":{"Replicas":[{"RegionName":"a","ReplicaStatus":"GONE"}]}})"))
                  .status(),
              ErrorCode::kValidation, "[CREATING, CREATION_FAILED, UPDATING, DELETING, ACTIVE]");
  ExpectError(DecodeResponse(Operation::kUpdateTable, json::parse(R"({"TableDescription":{"Replicas":{}}})")).status(),
              ErrorCode::kSerialization);
}

TEST(JsonCodecRequestTest, ExpressionAndLegacyMembersDecode) {
  auto put = DecodeRequest("PutItem", PutBody(R"("ConditionExpression":"#a <> :v","ExpressionAttributeNames":{"#a":"a"},"ExpressionAttributeValues":{":v":{"N":"1"}},"ReturnValuesOnConditionCheckFailure":"ALL_OLD")"));
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  const auto& p = std::get<PutItemRequest>(put.value());
  EXPECT_EQ(p.condition.condition_expression, "#a <> :v");
  EXPECT_EQ(p.expression_attribute_names.at("#a"), "a");
  EXPECT_EQ(p.condition.return_values_on_condition_check_failure, ReturnValuesOnConditionCheckFailure::kAllOld);

  auto update = DecodeRequest("UpdateItem", R"({"TableName":"t","Key":{"pk":{"S":"a"}},"AttributeUpdates":{"n":{"Action":"ADD","Value":{"N":"2"}}},"Expected":{"n":{"ComparisonOperator":"GT","AttributeValueList":[{"N":"0"}]}},"ConditionalOperator":"AND","ReturnValues":"UPDATED_NEW"})");
  ASSERT_TRUE(update.ok()) << update.status().ToString();
  const auto& u = std::get<UpdateItemRequest>(update.value());
  EXPECT_EQ(u.attribute_updates->at("n").action, "ADD");
  EXPECT_EQ(u.condition.expected->at("n").comparison_operator, "GT");
  EXPECT_EQ(u.return_values, ReturnValue::kUpdatedNew);
  // Round trip through the encoder.
  auto again = DecodeRequest(Operation::kUpdateItem, EncodeRequest(update.value()));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(EncodeRequest(again.value()), EncodeRequest(update.value()));

  auto query = DecodeRequest("Query", R"({"TableName":"t","KeyConditions":{"pk":{"ComparisonOperator":"EQ","AttributeValueList":[{"S":"a"}]}},"QueryFilter":{"x":{"ComparisonOperator":"NOT_NULL"}},"AttributesToGet":["x"]})");
  ASSERT_TRUE(query.ok()) << query.status().ToString();
  EXPECT_TRUE(std::get<QueryRequest>(query.value()).key_conditions.has_value());
  ExpectError(DecodeStatus("PutItem", PutBody(R"("ReturnValuesOnConditionCheckFailure":"ALL_NEW")")),
              ErrorCode::kValidation, "[ALL_OLD, NONE]");
  ExpectError(DecodeStatus("PutItem", PutBody(R"("Expected":[])")), ErrorCode::kSerialization);
}

TEST(JsonCodecErrorTest, ConditionalCheckFailedCarriesTheOldItem) {
  Item old = {{"pk", AttributeValue::S("a")}};
  Status failed = Status(ErrorCode::kConditionalCheckFailed, "The conditional request failed")
                      .WithItemPayload(EncodeItem(old));
  nlohmann::json j = EncodeError(failed);
  EXPECT_EQ(j["Item"]["pk"]["S"], "a");
  Status back = ErrorFromJson(j);
  EXPECT_EQ(back.code(), ErrorCode::kConditionalCheckFailed);
  EXPECT_EQ(DecodeItem(back.item_payload()).value(), old);
}

TEST(JsonCodecRequestTest, ErrorsInsideItemsPropagate) {
  ExpectError(DecodeStatus("PutItem", R"({"TableName":"t","Item":{"a":{"N":"x"}}})"), ErrorCode::kValidation,
              "cannot be converted into a number");
  ExpectError(DecodeStatus("GetItem", R"({"TableName":"t","Key":{"a":{}}})"), ErrorCode::kValidation,
              "Supplied AttributeValue is empty");
  ExpectError(DecodeStatus("Query", R"({"TableName":"t","KeyConditionExpression":"a = :a","ExpressionAttributeValues":{":a":{"B":"x"}}})"),
              ErrorCode::kSerialization, "multiple of 4");
  ExpectError(DecodeStatus("BatchWriteItem", R"({"RequestItems":{"t":[{"DeleteRequest":{"Key":{"a":{"NULL":false}}}}]}})"),
              ErrorCode::kValidation, "Null attribute value");
}

// --- Round trips ---------------------------------------------------------------------------------

Item SampleItem() {
  Item item;
  item["pk"] = AttributeValue::S("user#1");
  item["sk"] = AttributeValue::N(D("42.5"));
  item["bin"] = AttributeValue::B(std::string("\x00\xff", 2));
  item["flag"] = AttributeValue::Bool(true);
  item["nothing"] = AttributeValue::NullValue();
  item["map"] = AttributeValue::M({{"x", AttributeValue::L({AttributeValue::S(""), AttributeValue::N(D("-1"))})}});
  item["ss"] = AttributeValue::SS({"a", "b"});
  item["ns"] = AttributeValue::NS({D("1"), D("2")});
  item["bs"] = AttributeValue::BS({"x", "y"});
  return item;
}

Item SampleKey() { return {{"pk", AttributeValue::S("user#1")}, {"sk", AttributeValue::N(D("1"))}}; }

// Encodes, dumps to text, decodes from text, and checks that re-encoding gives the same JSON.
void ExpectRequestRoundTrip(const Request& request) {
  json encoded = EncodeRequest(request);
  std::string text = encoded.dump();
  SCOPED_TRACE(text);
  auto decoded = DecodeRequest(OperationName(OperationOf(request)), text);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(OperationOf(*decoded), OperationOf(request));
  EXPECT_EQ(EncodeRequest(*decoded), encoded);
}

void ExpectResponseRoundTrip(const Response& response) {
  json encoded = EncodeResponse(response);
  SCOPED_TRACE(encoded.dump());
  auto decoded = DecodeResponse(OperationOf(response), json::parse(encoded.dump()));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(OperationOf(*decoded), OperationOf(response));
  EXPECT_EQ(EncodeResponse(*decoded), encoded);
}

TEST(JsonCodecRoundTripTest, EveryRequest) {
  CreateTableRequest create;
  create.table_name = "Music";
  create.key_schema = {{"Artist", KeyType::kHash}, {"Song", KeyType::kRange}};
  create.attribute_definitions = {{"Artist", AttributeType::kS}, {"Song", AttributeType::kN},
                                  {"Blob", AttributeType::kB}};
  create.billing_mode = BillingMode::kProvisioned;
  create.provisioned_throughput = ProvisionedThroughput{5, 7};
  ExpectRequestRoundTrip(create);
  CreateTableRequest create_on_demand;
  create_on_demand.table_name = "t2";
  create_on_demand.key_schema = {{"pk", KeyType::kHash}};
  create_on_demand.attribute_definitions = {{"pk", AttributeType::kS}};
  create_on_demand.billing_mode = BillingMode::kPayPerRequest;
  ExpectRequestRoundTrip(create_on_demand);

  ExpectRequestRoundTrip(DescribeTableRequest{"Music"});
  ExpectRequestRoundTrip(DeleteTableRequest{"Music"});
  ExpectRequestRoundTrip(ListTablesRequest{});
  ExpectRequestRoundTrip(ListTablesRequest{"Music", 10});

  PutItemRequest put;
  put.table_name = "Music";
  put.item = SampleItem();
  put.return_values = ReturnValue::kAllOld;
  put.return_consumed_capacity = ReturnConsumedCapacity::kTotal;
  ExpectRequestRoundTrip(put);

  GetItemRequest get;
  get.table_name = "Music";
  get.key = SampleKey();
  get.consistent_read = true;
  get.return_consumed_capacity = ReturnConsumedCapacity::kIndexes;
  ExpectRequestRoundTrip(get);

  DeleteItemRequest del;
  del.table_name = "Music";
  del.key = SampleKey();
  del.return_values = ReturnValue::kAllOld;
  ExpectRequestRoundTrip(del);

  QueryRequest query;
  query.table_name = "Music";
  query.index_name = "ByYear";
  query.key_condition_expression = "#a = :a AND #s BETWEEN :lo AND :hi";
  query.expression_attribute_names = {{"#a", "Artist"}, {"#s", "Song"}};
  query.expression_attribute_values = {{":a", AttributeValue::S("x")}, {":lo", AttributeValue::N(D("1"))},
                                       {":hi", AttributeValue::N(D("9"))}};
  query.scan_index_forward = false;
  query.limit = 25;
  query.select = Select::kCount;
  query.exclusive_start_key = SampleKey();
  query.consistent_read = true;
  query.return_consumed_capacity = ReturnConsumedCapacity::kTotal;
  ExpectRequestRoundTrip(query);
  QueryRequest minimal_query;
  minimal_query.table_name = "Music";
  minimal_query.key_condition_expression = "pk = :p";
  ExpectRequestRoundTrip(minimal_query);

  ScanRequest scan;
  scan.table_name = "Music";
  scan.index_name = "idx";
  scan.limit = 3;
  scan.select = Select::kAllAttributes;
  scan.exclusive_start_key = SampleKey();
  scan.segment = 1;
  scan.total_segments = 4;
  scan.consistent_read = true;
  ExpectRequestRoundTrip(scan);
  ExpectRequestRoundTrip(ScanRequest{.table_name = "Music"});

  BatchGetItemRequest batch_get;
  batch_get.request_items["Music"] = KeysAndAttributes{{SampleKey(), {{"pk", AttributeValue::S("b")}}}, true};
  batch_get.request_items["Other"] = KeysAndAttributes{{{{"id", AttributeValue::B("k")}}}, false};
  batch_get.return_consumed_capacity = ReturnConsumedCapacity::kTotal;
  ExpectRequestRoundTrip(batch_get);

  BatchWriteItemRequest batch_write;
  batch_write.request_items["Music"] = {WriteRequest{SampleItem(), std::nullopt},
                                        WriteRequest{std::nullopt, SampleKey()}};
  batch_write.return_consumed_capacity = ReturnConsumedCapacity::kIndexes;
  ExpectRequestRoundTrip(batch_write);

  UpdateTableRequest update_table;
  update_table.table_name = "Music";
  update_table.attribute_definitions = std::vector<AttributeDefinition>{{"Artist", AttributeType::kS}};
  update_table.billing_mode = BillingMode::kProvisioned;
  update_table.provisioned_throughput = ProvisionedThroughput{3, 4};
  update_table.replica_updates = {ReplicaUpdate{"eu-west", std::nullopt}, ReplicaUpdate{std::nullopt, "ap-south"}};
  ExpectRequestRoundTrip(update_table);
  ExpectRequestRoundTrip(UpdateTableRequest{.table_name = "Music"});
}

TEST(JsonCodecRoundTripTest, RequestShapesAreDynamoDbs) {
  auto r = DecodeRequest("PutItem",
                         R"({"TableName":"Music","Item":{"Artist":{"S":"No One"},"Year":{"N":"2015"}},
                             "ReturnValues":"ALL_OLD","ReturnConsumedCapacity":"TOTAL"})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& put = std::get<PutItemRequest>(*r);
  EXPECT_EQ(put.table_name, "Music");
  EXPECT_EQ(put.item.at("Artist"), AttributeValue::S("No One"));
  EXPECT_EQ(put.item.at("Year"), AttributeValue::N(D("2015")));
  EXPECT_EQ(put.return_values, ReturnValue::kAllOld);
  EXPECT_EQ(put.return_consumed_capacity, ReturnConsumedCapacity::kTotal);

  auto q = DecodeRequest("Query", R"({"TableName":"t","KeyConditionExpression":"pk = :p"})");
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(std::get<QueryRequest>(*q).scan_index_forward);
  EXPECT_FALSE(std::get<QueryRequest>(*q).consistent_read);
  EXPECT_FALSE(std::get<QueryRequest>(*q).limit.has_value());

  BatchWriteItemRequest w;
  w.request_items["t"] = {WriteRequest{std::nullopt, Item{{"k", AttributeValue::S("v")}}}};
  EXPECT_EQ(EncodeRequest(w), json::parse(R"({"RequestItems":{"t":[{"DeleteRequest":{"Key":{"k":{"S":"v"}}}}]}})"));

  CreateTableRequest c;
  c.table_name = "t";
  c.key_schema = {{"k", KeyType::kHash}};
  c.attribute_definitions = {{"k", AttributeType::kN}};
  EXPECT_EQ(EncodeRequest(c), json::parse(R"({"TableName":"t","KeySchema":[{"AttributeName":"k","KeyType":"HASH"}],
                                              "AttributeDefinitions":[{"AttributeName":"k","AttributeType":"N"}]})"));
}

TableDescription SampleTable() {
  TableDescription t;
  t.table_name = "Music";
  t.table_arn = "arn:aws:dynamodb:us-east-1:000000000000:table/Music";
  t.table_id = "0b6c7a54-1d2e-4a1b-9c3d-5e6f7a8b9c0d";
  t.table_status = TableStatus::kActive;
  t.key_schema = {{"Artist", KeyType::kHash}, {"Song", KeyType::kRange}};
  t.attribute_definitions = {{"Artist", AttributeType::kS}, {"Song", AttributeType::kS}};
  t.item_count = 12;
  t.table_size_bytes = 3456;
  t.creation_date_time_ms = 1700000000123;
  t.billing_mode = BillingMode::kPayPerRequest;
  t.provisioned_throughput = {0, 0};
  return t;
}

TEST(JsonCodecRoundTripTest, EveryResponse) {
  ExpectResponseRoundTrip(CreateTableResponse{SampleTable()});
  ExpectResponseRoundTrip(DescribeTableResponse{SampleTable()});
  ExpectResponseRoundTrip(DeleteTableResponse{SampleTable()});
  ExpectResponseRoundTrip(ListTablesResponse{{"a", "b"}, "b"});
  ExpectResponseRoundTrip(ListTablesResponse{});

  ConsumedCapacity write_cc{"Music", 1.0, 0, 1.0, false};
  ConsumedCapacity read_cc{"Music", 0.5, 0.5, 0, true};
  ExpectResponseRoundTrip(PutItemResponse{SampleItem(), write_cc});
  ExpectResponseRoundTrip(PutItemResponse{});
  ExpectResponseRoundTrip(DeleteItemResponse{SampleKey(), write_cc});
  ExpectResponseRoundTrip(GetItemResponse{SampleItem(), read_cc});
  ExpectResponseRoundTrip(GetItemResponse{});

  QueryResponse query;
  query.items = {SampleItem(), SampleKey()};
  query.count = 2;
  query.scanned_count = 3;
  query.last_evaluated_key = SampleKey();
  query.consumed_capacity = read_cc;
  ExpectResponseRoundTrip(query);
  ScanResponse count_only;
  count_only.count_only = true;
  count_only.count = 7;
  count_only.scanned_count = 9;
  ExpectResponseRoundTrip(count_only);

  BatchGetItemResponse batch_get;
  batch_get.responses["Music"] = {SampleItem()};
  batch_get.unprocessed_keys["Music"] = KeysAndAttributes{{SampleKey()}, true};
  batch_get.consumed_capacity = {read_cc};
  ExpectResponseRoundTrip(batch_get);
  ExpectResponseRoundTrip(BatchGetItemResponse{});

  BatchWriteItemResponse batch_write;
  batch_write.unprocessed_items["Music"] = {WriteRequest{SampleItem(), std::nullopt}};
  batch_write.consumed_capacity = {write_cc};
  ExpectResponseRoundTrip(batch_write);
  ExpectResponseRoundTrip(BatchWriteItemResponse{});

  TableDescription global = SampleTable();
  global.replicas = {{"us-east", ReplicaStatus::kActive}, {"eu-west", ReplicaStatus::kCreationFailed}};
  ExpectResponseRoundTrip(UpdateTableResponse{global});
  ExpectResponseRoundTrip(UpdateTableResponse{SampleTable()});
  ExpectResponseRoundTrip(DescribeTableResponse{global});
}

TEST(JsonCodecResponseTest, TableDescriptionShape) {
  json j = EncodeResponse(DescribeTableResponse{SampleTable()});
  json expected = json::parse(R"({"Table":{
      "AttributeDefinitions":[{"AttributeName":"Artist","AttributeType":"S"},{"AttributeName":"Song","AttributeType":"S"}],
      "TableName":"Music",
      "KeySchema":[{"AttributeName":"Artist","KeyType":"HASH"},{"AttributeName":"Song","KeyType":"RANGE"}],
      "TableStatus":"ACTIVE",
      "CreationDateTime":1700000000.123,
      "ProvisionedThroughput":{"NumberOfDecreasesToday":0,"ReadCapacityUnits":0,"WriteCapacityUnits":0},
      "TableSizeBytes":3456,
      "ItemCount":12,
      "TableArn":"arn:aws:dynamodb:us-east-1:000000000000:table/Music",
      "TableId":"0b6c7a54-1d2e-4a1b-9c3d-5e6f7a8b9c0d",
      "BillingModeSummary":{"BillingMode":"PAY_PER_REQUEST"}}})");
  EXPECT_EQ(j, expected);
  EXPECT_NE(j.dump().find("\"CreationDateTime\":1700000000.123"), std::string::npos) << j.dump();
  EXPECT_TRUE(EncodeResponse(CreateTableResponse{SampleTable()}).contains("TableDescription"));
  EXPECT_TRUE(EncodeResponse(DeleteTableResponse{SampleTable()}).contains("TableDescription"));
  for (auto [status, name] : {std::pair{TableStatus::kCreating, "CREATING"}, {TableStatus::kDeleting, "DELETING"},
                              {TableStatus::kUpdating, "UPDATING"}}) {
    TableDescription t = SampleTable();
    t.table_status = status;
    EXPECT_EQ(EncodeResponse(DescribeTableResponse{t})["Table"]["TableStatus"], name);
  }
}

TEST(JsonCodecResponseTest, ItemResponseShapes) {
  EXPECT_EQ(EncodeResponse(GetItemResponse{}).dump(), "{}");
  EXPECT_EQ(EncodeResponse(PutItemResponse{}).dump(), "{}");
  EXPECT_EQ(EncodeResponse(GetItemResponse{Item{{"a", AttributeValue::S("x")}}, std::nullopt}),
            json::parse(R"({"Item":{"a":{"S":"x"}}})"));
  EXPECT_EQ(EncodeResponse(PutItemResponse{std::nullopt, ConsumedCapacity{"t", 1.0, 0, 1.0, false}}),
            json::parse(R"({"ConsumedCapacity":{"TableName":"t","CapacityUnits":1.0,"WriteCapacityUnits":1.0}})"));
  EXPECT_EQ(EncodeResponse(GetItemResponse{std::nullopt, ConsumedCapacity{"t", 0.5, 0.5, 0, true}}),
            json::parse(R"({"ConsumedCapacity":{"TableName":"t","CapacityUnits":0.5,"ReadCapacityUnits":0.5,
                                                "Table":{"CapacityUnits":0.5,"ReadCapacityUnits":0.5}}})"));
  EXPECT_EQ(EncodeResponse(ListTablesResponse{{"a"}, std::nullopt}), json::parse(R"({"TableNames":["a"]})"));
  EXPECT_EQ(EncodeResponse(ListTablesResponse{}), json::parse(R"({"TableNames":[]})"));
}

TEST(JsonCodecResponseTest, PageShapes) {
  QueryResponse q;
  q.items = {Item{{"a", AttributeValue::N(D("1"))}}};
  q.count = 1;
  q.scanned_count = 1;
  EXPECT_EQ(EncodeResponse(q), json::parse(R"({"Items":[{"a":{"N":"1"}}],"Count":1,"ScannedCount":1})"));
  ScanResponse s;
  s.count_only = true;
  s.count = 4;
  s.scanned_count = 10;
  s.last_evaluated_key = Item{{"k", AttributeValue::S("z")}};
  EXPECT_EQ(EncodeResponse(s),
            json::parse(R"({"Count":4,"ScannedCount":10,"LastEvaluatedKey":{"k":{"S":"z"}}})"));
  QueryResponse empty;
  EXPECT_EQ(EncodeResponse(empty), json::parse(R"({"Items":[],"Count":0,"ScannedCount":0})"));
}

TEST(JsonCodecResponseTest, BatchShapes) {
  EXPECT_EQ(EncodeResponse(BatchGetItemResponse{}), json::parse(R"({"Responses":{},"UnprocessedKeys":{}})"));
  EXPECT_EQ(EncodeResponse(BatchWriteItemResponse{}), json::parse(R"({"UnprocessedItems":{}})"));
  BatchGetItemResponse g;
  g.responses["t"] = {Item{{"k", AttributeValue::S("a")}}};
  g.unprocessed_keys["t"] = KeysAndAttributes{{Item{{"k", AttributeValue::S("b")}}}, true};
  g.consumed_capacity = {ConsumedCapacity{"t", 1.0, 1.0, 0, false}};
  EXPECT_EQ(EncodeResponse(g), json::parse(R"({
      "Responses":{"t":[{"k":{"S":"a"}}]},
      "UnprocessedKeys":{"t":{"Keys":[{"k":{"S":"b"}}],"ConsistentRead":true}},
      "ConsumedCapacity":[{"TableName":"t","CapacityUnits":1.0,"ReadCapacityUnits":1.0}]})"));
  BatchWriteItemResponse w;
  w.unprocessed_items["t"] = {WriteRequest{Item{{"k", AttributeValue::S("a")}}, std::nullopt}};
  w.consumed_capacity = {ConsumedCapacity{"t", 2.0, 0, 2.0, false}};
  EXPECT_EQ(EncodeResponse(w), json::parse(R"({
      "UnprocessedItems":{"t":[{"PutRequest":{"Item":{"k":{"S":"a"}}}}]},
      "ConsumedCapacity":[{"TableName":"t","CapacityUnits":2.0,"WriteCapacityUnits":2.0}]})"));
}

TEST(JsonCodecResponseTest, DecodeResponseRefusesWrongTypes) {
  EXPECT_EQ(DecodeResponse(Operation::kGetItem, json::parse(R"({"Item":[]})")).status().code(),
            ErrorCode::kSerialization);
  EXPECT_EQ(DecodeResponse(Operation::kQuery, json::parse(R"({"Count":"1"})")).status().code(),
            ErrorCode::kSerialization);
  EXPECT_EQ(DecodeResponse(Operation::kListTables, json::parse(R"({"TableNames":[1]})")).status().code(),
            ErrorCode::kSerialization);
  EXPECT_EQ(DecodeResponse(Operation::kDescribeTable, json::parse(R"({"Table":{"CreationDateTime":"x"}})")).status().code(),
            ErrorCode::kSerialization);
  EXPECT_EQ(DecodeResponse(Operation::kDescribeTable, json::parse(R"({"Table":{"CreationDateTime":1e300}})")).status().code(),
            ErrorCode::kSerialization);
  EXPECT_EQ(DecodeResponse(Operation::kScan, json::array()).status().code(), ErrorCode::kSerialization);
  auto count_only = DecodeResponse(Operation::kScan, json::parse(R"({"Count":3,"ScannedCount":5})"));
  ASSERT_TRUE(count_only.ok());
  EXPECT_TRUE(std::get<ScanResponse>(*count_only).count_only);
  EXPECT_EQ(std::get<ScanResponse>(*count_only).count, 3);
}

// --- Errors --------------------------------------------------------------------------------------

TEST(JsonCodecErrorTest, EncodesDynamoDbErrorShape) {
  EXPECT_EQ(EncodeError(Status::Validation("bad")),
            json::parse(R"({"__type":"com.amazon.coral.validate#ValidationException","message":"bad"})"));
  EXPECT_EQ(EncodeError(Status::Serialization("x"))["__type"], "com.amazon.coral.service#SerializationException");
  EXPECT_EQ(EncodeError(Status::NotFound("Requested resource not found"))["__type"],
            "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException");
  EXPECT_EQ(EncodeError(Status(ErrorCode::kConditionalCheckFailed, "The conditional request failed"))["__type"],
            "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException");
}

TEST(JsonCodecErrorTest, DecodesErrorBodies) {
  Status s = ErrorFromJson(EncodeError(Status::InUse("Table already exists: t")));
  EXPECT_EQ(s.code(), ErrorCode::kResourceInUse);
  EXPECT_EQ(s.message(), "Table already exists: t");
  s = ErrorFromJson(json::parse(R"({"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","Message":"nope"})"));
  EXPECT_EQ(s.code(), ErrorCode::kResourceNotFound);
  EXPECT_EQ(s.message(), "nope");
  EXPECT_EQ(ErrorFromJson(json::array()).code(), ErrorCode::kInternalServerError);
  EXPECT_EQ(ErrorFromJson(json::parse(R"({"__type":"OK"})")).code(), ErrorCode::kInternalServerError);
}

TEST(JsonCodecErrorTest, ErrorMessagesDumpEvenForHostileInput) {
  // Values echoed into messages are reduced to printable ASCII, so the error always dumps.
  json body = {{"TableName", "t"}, {"Item", {{"a", {{"S", "x"}}}}}, {"ReturnValues", "\xc3\xa9\x01"}};
  Status s = DecodeRequest(Operation::kPutItem, body).status();
  EXPECT_EQ(s.code(), ErrorCode::kValidation);
  EXPECT_NO_THROW(EncodeError(s).dump());
}

// --- Totality ------------------------------------------------------------------------------------

uint64_t TestSeed() {
  if (const char* env = std::getenv("MERIDIAN_SEED")) return std::strtoull(env, nullptr, 10);
  return std::random_device{}();
}

TEST(JsonCodecFuzzTest, MutatedBodiesNeverCrashOrThrow) {
  uint64_t seed = TestSeed();
  std::cout << "seed=" << seed << "\n";
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const std::vector<std::pair<const char*, std::string>> seeds = {
      {"PutItem", EncodeRequest(PutItemRequest{"t", SampleItem(), ReturnValue::kAllOld,
                                               ReturnConsumedCapacity::kTotal}).dump()},
      {"Query", R"({"TableName":"t","KeyConditionExpression":"a = :a","ExpressionAttributeValues":{":a":{"NS":["1","2"]}},"Limit":3,"Select":"COUNT"})"},
      {"BatchWriteItem", R"({"RequestItems":{"t":[{"PutRequest":{"Item":{"a":{"B":"AAEC"}}}},{"DeleteRequest":{"Key":{"a":{"L":[{"M":{}}]}}}}]}})"},
      {"CreateTable", R"({"TableName":"t","KeySchema":[{"AttributeName":"a","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"a","AttributeType":"S"}],"ProvisionedThroughput":{"ReadCapacityUnits":1,"WriteCapacityUnits":1}})"},
  };
  const std::string alphabet = "{}[]\":,0123456789.eE+-SNBLMnulltrue \\\x80\xff";
  int ok = 0;
  for (int i = 0; i < 4000; ++i) {
    const auto& [op, base] = seeds[rng() % seeds.size()];
    std::string text = base;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      size_t pos = rng() % text.size();
      switch (rng() % 3) {
        case 0: text[pos] = alphabet[rng() % alphabet.size()]; break;
        case 1: text.erase(pos, 1 + rng() % 8); break;
        default: text.insert(pos, 1, alphabet[rng() % alphabet.size()]); break;
      }
    }
    Result<Request> r = DecodeRequest(op, text);
    if (r.ok()) {
      ++ok;
      EXPECT_NO_THROW(EncodeRequest(*r).dump());
    } else {
      EXPECT_NE(r.status().code(), ErrorCode::kInternalServerError) << text;
      EXPECT_NO_THROW(EncodeError(r.status()).dump());
    }
  }
  std::cout << ok << " of 4000 mutated bodies decoded\n";
}

TEST(JsonCodecFuzzTest, WrongTypeAtEveryMemberIsAnErrorNotACrash) {
  // Replace each member of a full request, at every depth, by each JSON type in turn.
  json base = EncodeRequest(QueryRequest{.table_name = "t",
                                         .index_name = "i",
                                         .key_condition_expression = "k = :k",
                                         .expression_attribute_names = {{"#k", "k"}},
                                         .expression_attribute_values = {{":k", AttributeValue::S("v")}},
                                         .scan_index_forward = false,
                                         .limit = 5,
                                         .select = Select::kAllAttributes,
                                         .exclusive_start_key = SampleItem(),
                                         .consistent_read = true,
                                         .return_consumed_capacity = ReturnConsumedCapacity::kTotal});
  json flat = base.flatten();
  const json replacements[] = {json(5), json(1.5), json("s"), json(true), json::array(), json::object()};
  int checked = 0;
  for (auto it = flat.begin(); it != flat.end(); ++it) {
    for (const auto& rep : replacements) {
      json mutated = base;
      mutated[json::json_pointer(it.key())] = rep;
      Result<Request> r = DecodeRequest(Operation::kQuery, mutated);
      if (!r.ok()) EXPECT_NE(r.status().code(), ErrorCode::kInternalServerError);
      ++checked;
    }
  }
  EXPECT_GT(checked, 100);
}

}  // namespace
}  // namespace meridian::api
