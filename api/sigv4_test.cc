#include "api/sigv4.h"

#include <gtest/gtest.h>

namespace meridian::api {
namespace {

constexpr char kKey[] = "AKIDEXAMPLE";
constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
// 2015-08-30T12:36:00Z, the date of AWS's SigV4 test suite.
constexpr int64_t kSuiteTime = 1440938160;

SecretLookup Secrets() {
  return [](std::string_view id) -> std::optional<std::string> {
    if (id == kKey) return std::string(kSecret);
    return std::nullopt;
  };
}

SigV4Options SuiteOptions() {
  SigV4Options o;
  o.service = "service";
  return o;
}

// AWS's Signature Version 4 test suite (docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html):
// get-vanilla and post-vanilla, region us-east-1, service "service".
TEST(SigV4, AwsTestSuiteGetVanilla) {
  SignableRequest r;
  r.method = "GET";
  r.headers = {{"Host", "example.amazonaws.com"},
               {"X-Amz-Date", "20150830T123600Z"},
               {"Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                "SignedHeaders=host;x-amz-date, "
                "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"}};
  auto id = VerifySigV4(r, Secrets(), kSuiteTime, SuiteOptions());
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(id->access_key_id, kKey);
  EXPECT_EQ(id->region, "us-east-1");

  auto canonical = CanonicalRequest(r, {"host", "x-amz-date"});
  ASSERT_TRUE(canonical.ok());
  EXPECT_EQ(canonical.value(),
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(SigV4, AwsTestSuitePostVanilla) {
  SignableRequest r;
  r.method = "POST";
  r.headers = {{"Host", "example.amazonaws.com"}};
  SignSigV4(&r, kKey, kSecret, "us-east-1", "service", kSuiteTime);
  EXPECT_NE(r.headers.back().second.find(
                "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
            std::string::npos)
      << r.headers.back().second;
  EXPECT_TRUE(VerifySigV4(r, Secrets(), kSuiteTime, SuiteOptions()).ok());
}

// The S3 GET Object example of "Authenticating Requests (AWS Signature Version 4)".
TEST(SigV4, AwsS3DocumentationExample) {
  SignableRequest r;
  r.method = "GET";
  r.target = "/test.txt";
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"Range", "bytes=0-9"},
               {"x-amz-content-sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
               {"x-amz-date", "20130524T000000Z"},
               {"Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
                "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"}};
  SigV4Options o;
  o.service = "s3";
  auto secrets = [](std::string_view) -> std::optional<std::string> {
    return std::string("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  };
  auto id = VerifySigV4(r, secrets, *ParseAmzDate("20130524T000000Z"), o);
  EXPECT_TRUE(id.ok()) << id.status().ToString();
}

SignableRequest DynamoRequest(int64_t now, const std::string& secret = kSecret) {
  SignableRequest r;
  r.body = R"({"TableName":"music"})";
  r.headers = {{"Host", "127.0.0.1:8000"},
               {"Content-Type", "application/x-amz-json-1.0"},
               {"X-Amz-Target", "DynamoDB_20120810.DescribeTable"}};
  SignSigV4(&r, kKey, secret, "eu-west-1", "dynamodb", now);
  return r;
}

TEST(SigV4, RoundTripWithOwnSigner) {
  int64_t now = 1700000000;
  SignableRequest r = DynamoRequest(now);
  auto id = VerifySigV4(r, Secrets(), now + 60);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(id->region, "eu-west-1");
}

TEST(SigV4, WrongSecretIsInvalidSignature) {
  int64_t now = 1700000000;
  auto st = VerifySigV4(DynamoRequest(now, "not-the-secret"), Secrets(), now).status();
  EXPECT_EQ(st.code(), ErrorCode::kInvalidSignature);
  EXPECT_NE(st.message().find("does not match the signature you provided"), std::string::npos);
}

TEST(SigV4, TamperedBodyOrHeaderIsInvalidSignature) {
  int64_t now = 1700000000;
  SignableRequest r = DynamoRequest(now);
  std::string other = R"({"TableName":"other"})";
  r.body = other;
  EXPECT_EQ(VerifySigV4(r, Secrets(), now).status().code(), ErrorCode::kInvalidSignature);
  r = DynamoRequest(now);
  r.headers[2].second = "DynamoDB_20120810.DeleteTable";
  EXPECT_EQ(VerifySigV4(r, Secrets(), now).status().code(), ErrorCode::kInvalidSignature);
}

TEST(SigV4, ExpiredAndFutureSignatures) {
  int64_t now = 1700000000;
  auto st = VerifySigV4(DynamoRequest(now - 16 * 60), Secrets(), now).status();
  EXPECT_EQ(st.code(), ErrorCode::kInvalidSignature);
  EXPECT_EQ(st.message().rfind("Signature expired: ", 0), 0u) << st.message();
  EXPECT_EQ(VerifySigV4(DynamoRequest(now + 16 * 60), Secrets(), now).status().code(),
            ErrorCode::kInvalidSignature);
  EXPECT_TRUE(VerifySigV4(DynamoRequest(now - 14 * 60), Secrets(), now).ok());
}

TEST(SigV4, MissingUnknownAndMalformed) {
  int64_t now = 1700000000;
  SignableRequest r;
  r.headers = {{"Host", "h"}};
  auto st = VerifySigV4(r, Secrets(), now).status();
  EXPECT_EQ(st.code(), ErrorCode::kMissingAuthenticationToken);
  EXPECT_EQ(st.message(), "Request is missing Authentication Token");

  r = DynamoRequest(now);
  auto none = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
  st = VerifySigV4(r, none, now).status();
  EXPECT_EQ(st.code(), ErrorCode::kUnrecognizedClient);
  EXPECT_EQ(st.message(), "The security token included in the request is invalid.");

  // Malformed headers are IncompleteSignatureException, as DynamoDB answers them.
  for (const char* bad : {"AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=x", "Basic abc"}) {
    SignableRequest m = DynamoRequest(now);
    m.headers.back().second = bad;
    EXPECT_EQ(VerifySigV4(m, Secrets(), now).status().code(), ErrorCode::kIncompleteSignature) << bad;
  }
  // A well-formed header scoped to another service is a bad signature.
  SignableRequest s3 = DynamoRequest(now);
  s3.headers.back().second = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/r/s3/aws4_request, "
                             "SignedHeaders=host;x-amz-date, Signature=00";
  EXPECT_EQ(VerifySigV4(s3, Secrets(), now).status().code(), ErrorCode::kInvalidSignature);
  // Two Authorization headers.
  SignableRequest twice = DynamoRequest(now);
  twice.headers.push_back(twice.headers.back());
  EXPECT_EQ(VerifySigV4(twice, Secrets(), now).status().code(), ErrorCode::kIncompleteSignature);
}

TEST(SigV4, RegionIsCheckedWhenConfigured) {
  int64_t now = 1700000000;
  SigV4Options o;
  o.region = "us-east-1";
  auto st = VerifySigV4(DynamoRequest(now), Secrets(), now, o).status();
  EXPECT_EQ(st.code(), ErrorCode::kInvalidSignature);
  EXPECT_NE(st.message().find("eu-west-1"), std::string::npos);
}

TEST(SigV4, AmzDate) {
  EXPECT_EQ(ParseAmzDate("20150830T123600Z"), kSuiteTime);
  EXPECT_EQ(FormatAmzDate(kSuiteTime), "20150830T123600Z");
  EXPECT_FALSE(ParseAmzDate("2015-08-30T12:36:00Z"));
  EXPECT_FALSE(ParseAmzDate("20151330T123600Z"));
  EXPECT_FALSE(ParseAmzDate(""));
}

}  // namespace
}  // namespace meridian::api
