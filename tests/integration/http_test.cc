// The DynamoDB HTTP API against a real `meridian start-single-node --http` process with auth on:
// the unmodified AWS CLI (/usr/bin/aws), a boto3 script (tests/integration/boto3_test.py), the
// hostile-request suite (tests/integration/http_hostile_test.py) and HTTPS with a self-signed
// certificate. Every wait is bounded; everything binds 127.0.0.1; the node is stopped at the end.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/integration/process.h"

namespace meridian {
namespace {

using testing::ChildProcess;
using testing::CommandResult;
using testing::RunCommand;
using testing::TempDir;

const std::string kBinary = MERIDIAN_BINARY;
const std::string kSourceDir = MERIDIAN_SOURCE_DIR;

class HttpTest : public ::testing::Test {
 protected:
  // Starts a node serving HTTP. With `access_file`, that file is the key store; otherwise the node
  // generates DIR/access.yaml and DIR/credentials.
  void Start(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {kBinary, "start-single-node", "--data", data().string(),
                                     "--listen", "tcp://127.0.0.1:0", "--http", "127.0.0.1:0",
                                     "--http-header-timeout-ms", "2000", "--no-sync"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    node_ = std::make_unique<ChildProcess>(argv, dir_.path() / "node.log");
    ASSERT_FALSE(testing::WaitForEndpoint(data(), *node_).empty())
        << "the node did not start; see " << (dir_.path() / "node.log");
    std::ifstream in(data() / "endpoints.json");
    std::stringstream ss;
    ss << in.rdbuf();
    auto j = nlohmann::json::parse(ss.str());
    ASSERT_TRUE(j.contains("http")) << j;
    http_ = j["http"].get<std::string>();
  }

  void TearDown() override {
    if (node_ && node_->running()) {
      node_->Signal(SIGTERM);
      EXPECT_EQ(node_->Wait(std::chrono::seconds(20)), 0);
    }
  }

  std::filesystem::path data() const { return dir_.path() / "data"; }

  // Runs /usr/bin/aws with the given credentials file; returns exit code and parsed stdout.
  std::pair<int, nlohmann::json> Aws(const std::filesystem::path& credentials, std::vector<std::string> args,
                                     const std::string& profile = "meridian") {
    std::vector<std::string> argv = {"/usr/bin/env",
                                     "AWS_SHARED_CREDENTIALS_FILE=" + credentials.string(),
                                     "AWS_CONFIG_FILE=/nonexistent",
                                     "AWS_DEFAULT_REGION=us-east-1",
                                     "AWS_PAGER=",
                                     "AWS_EC2_METADATA_DISABLED=true",
                                     "/usr/bin/aws", "--profile", profile, "--output", "json",
                                     "--cli-read-timeout", "30", "--cli-connect-timeout", "10",
                                     "dynamodb"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--endpoint-url");
    argv.push_back(http_);
    if (http_.rfind("https", 0) == 0) argv.push_back("--no-verify-ssl");
    CommandResult r = RunCommand(argv, "", std::chrono::seconds(90));
    return {r.exit_code, nlohmann::json::parse(r.out.empty() ? "{}" : r.out, nullptr, false)};
  }

  // Runs a Python script of tests/integration with /usr/bin/python3; prints its output on failure.
  void Python(const std::string& script, std::vector<std::string> args) {
    std::vector<std::string> argv = {"/bin/sh", "-c", ""};
    std::string cmd = "exec /usr/bin/python3 " + kSourceDir + "/tests/integration/" + script;
    for (const auto& a : args) cmd += " '" + a + "'";
    argv[2] = cmd + " 2>&1";
    CommandResult r = RunCommand(argv, "", std::chrono::seconds(240));
    EXPECT_EQ(r.exit_code, 0) << script << " output:\n" << r.out;
  }

  TempDir dir_;
  std::unique_ptr<ChildProcess> node_;
  std::string http_;
};

TEST_F(HttpTest, AwsCliWithGeneratedCredentials) {
  Start();
  std::filesystem::path creds = data() / "credentials";
  ASSERT_TRUE(std::filesystem::exists(creds));
  ASSERT_TRUE(std::filesystem::exists(data() / "access.yaml"));
  EXPECT_EQ(std::filesystem::status(data() / "access.yaml").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

  auto [rc, created] = Aws(creds, {"create-table", "--table-name", "music",
                                   "--attribute-definitions", "AttributeName=artist,AttributeType=S",
                                   "AttributeName=song,AttributeType=N",
                                   "--key-schema", "AttributeName=artist,KeyType=HASH",
                                   "AttributeName=song,KeyType=RANGE",
                                   "--billing-mode", "PAY_PER_REQUEST"});
  ASSERT_EQ(rc, 0) << created;
  EXPECT_EQ(created["TableDescription"]["TableStatus"], "ACTIVE");

  auto [lrc, listed] = Aws(creds, {"list-tables"});
  ASSERT_EQ(lrc, 0);
  EXPECT_EQ(listed["TableNames"], nlohmann::json::array({"music"}));
  auto [drc, described] = Aws(creds, {"describe-table", "--table-name", "music"});
  ASSERT_EQ(drc, 0);
  EXPECT_EQ(described["Table"]["KeySchema"][1]["AttributeName"], "song");

  for (int i = 1; i <= 3; ++i) {
    std::string item = R"({"artist":{"S":"Pärt"},"song":{"N":")" + std::to_string(i) + R"("},"title":{"S":"t)" +
                       std::to_string(i) + R"("}})";
    ASSERT_EQ(Aws(creds, {"put-item", "--table-name", "music", "--item", item}).first, 0);
  }
  const std::string key = R"({"artist":{"S":"Pärt"},"song":{"N":"2"}})";
  auto [grc, got] = Aws(creds, {"get-item", "--table-name", "music", "--key", key, "--consistent-read"});
  ASSERT_EQ(grc, 0) << got;
  EXPECT_EQ(got["Item"]["title"]["S"], "t2");

  // update-item (the expression language); kept only because this build accepts it.
  auto [urc, updated] = Aws(creds, {"update-item", "--table-name", "music", "--key", key,
                                    "--update-expression", "SET plays = :p",
                                    "--expression-attribute-values", R"({":p":{"N":"7"}})",
                                    "--return-values", "ALL_NEW"});
  ASSERT_EQ(urc, 0) << updated;
  EXPECT_EQ(updated["Attributes"]["plays"]["N"], "7");

  auto [qrc, q] = Aws(creds, {"query", "--table-name", "music", "--key-condition-expression",
                              "artist = :a AND song >= :s", "--expression-attribute-values",
                              R"({":a":{"S":"Pärt"},":s":{"N":"2"}})"});
  ASSERT_EQ(qrc, 0) << q;
  EXPECT_EQ(q["Count"], 2);
  auto [src, scan] = Aws(creds, {"scan", "--table-name", "music"});
  ASSERT_EQ(src, 0);
  EXPECT_EQ(scan["Count"], 3);
  ASSERT_EQ(Aws(creds, {"delete-item", "--table-name", "music", "--key", key}).first, 0);

  std::string writes = R"({"music":[{"PutRequest":{"Item":{"artist":{"S":"B"},"song":{"N":"1"}}}},
                                    {"PutRequest":{"Item":{"artist":{"S":"B"},"song":{"N":"2"}}}},
                                    {"DeleteRequest":{"Key":{"artist":{"S":"Pärt"},"song":{"N":"1"}}}}]})";
  auto [brc, bw] = Aws(creds, {"batch-write-item", "--request-items", writes});
  ASSERT_EQ(brc, 0) << bw;
  EXPECT_TRUE(bw["UnprocessedItems"].empty());
  std::string keys = R"({"music":{"Keys":[{"artist":{"S":"B"},"song":{"N":"1"}},{"artist":{"S":"B"},"song":{"N":"2"}},
                                         {"artist":{"S":"Pärt"},"song":{"N":"3"}}]}})";
  auto [bgrc, bg] = Aws(creds, {"batch-get-item", "--request-items", keys});
  ASSERT_EQ(bgrc, 0) << bg;
  EXPECT_EQ(bg["Responses"]["music"].size(), 3u);

  // Errors come back as the CLI knows them (exit 254/255 with the message on stderr).
  EXPECT_NE(Aws(creds, {"describe-table", "--table-name", "nope"}).first, 0);
  ASSERT_EQ(Aws(creds, {"delete-table", "--table-name", "music"}).first, 0);
  EXPECT_EQ(Aws(creds, {"list-tables"}).second["TableNames"], nlohmann::json::array());

  // The same key signs the native protocol: `meridian call` with DIR/credentials.
  CommandResult call = RunCommand({kBinary, "--data", data().string(), "tables"});
  EXPECT_EQ(call.exit_code, 0) << call.out;

  // A wrong secret is refused.
  std::ofstream(dir_.path() / "bad-credentials")
      << "[meridian]\naws_access_key_id = " << [&] {
           std::ifstream in(creds);
           std::string line;
           while (std::getline(in, line)) {
             if (line.rfind("aws_access_key_id = ", 0) == 0) return line.substr(20);
           }
           return std::string();
         }() << "\naws_secret_access_key = wrongwrongwrongwrongwrongwrongwrongwrong\n";
  EXPECT_NE(Aws(dir_.path() / "bad-credentials", {"list-tables"}).first, 0);
}

class HttpTwoKeysTest : public HttpTest {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(data());
    std::ofstream(dir_.path() / "access.yaml")
        << "keys:\n"
           "  - access_key_id: MERADMINADMINADMIN01\n"
           "    secret_access_key: admin-secret-admin-secret-admin-secret00\n"
           "    tables: ['*']\n"
           "    actions: ['*']\n"
           "  - access_key_id: MERLIMITEDLIMITED001\n"
           "    secret_access_key: limited-secret-limited-secret-limited-s0\n"
           "    tables: [allowed]\n"
           "    actions: [GetItem, PutItem, DescribeTable]\n";
    std::ofstream(dir_.path() / "credentials")
        << "[meridian]\naws_access_key_id = MERADMINADMINADMIN01\n"
           "aws_secret_access_key = admin-secret-admin-secret-admin-secret00\n"
           "[limited]\naws_access_key_id = MERLIMITEDLIMITED001\n"
           "aws_secret_access_key = limited-secret-limited-secret-limited-s0\n";
  }
  std::vector<std::string> AccessFlags() { return {"--access", (dir_.path() / "access.yaml").string()}; }
};

TEST_F(HttpTwoKeysTest, Boto3ResourceAndClientApis) {
  Start(AccessFlags());
  EXPECT_FALSE(std::filesystem::exists(data() / "credentials"));  // --access: nothing generated
  Python("boto3_test.py", {http_, (dir_.path() / "credentials").string()});
  // The limited key through the AWS CLI too.
  EXPECT_NE(Aws(dir_.path() / "credentials", {"list-tables"}, "limited").first, 0);
}

TEST_F(HttpTwoKeysTest, HostileRequestsAndTheNodeServesOthersThroughout) {
  Start(AccessFlags());
  Python("http_hostile_test.py", {http_, (dir_.path() / "credentials").string(), "2"});
}

TEST_F(HttpTest, HttpsWithSelfSignedCertificate) {
  Start({"--tls-self-signed"});
  ASSERT_EQ(http_.rfind("https://127.0.0.1:", 0), 0u) << http_;
  EXPECT_TRUE(std::filesystem::exists(data() / "tls" / "cert.pem"));
  auto [rc, listed] = Aws(data() / "credentials", {"list-tables"});
  ASSERT_EQ(rc, 0) << listed;
  EXPECT_TRUE(listed["TableNames"].is_array());
}

TEST_F(HttpTest, NoAuthServesUnsignedRequestsAndSaysSoLoudly) {
  Start({"--no-auth"});
  EXPECT_FALSE(std::filesystem::exists(data() / "access.yaml"));
  CommandResult r = RunCommand({"/usr/bin/python3", "-c",
                                "import sys,urllib.request as u;"
                                "q=u.Request(sys.argv[1]+'/',data=b'{}',headers={'Content-Type':'application/x-amz-json-1.0',"
                                "'X-Amz-Target':'DynamoDB_20120810.ListTables'});print(u.urlopen(q,timeout=10).read().decode())",
                                http_});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("TableNames"), std::string::npos) << r.out;
  std::ifstream log(dir_.path() / "node.log");
  std::stringstream ss;
  ss << log.rdbuf();
  EXPECT_NE(ss.str().find("AUTHENTICATION IS OFF"), std::string::npos);
}

}  // namespace
}  // namespace meridian
