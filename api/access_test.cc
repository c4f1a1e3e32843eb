#include "api/access.h"

#include <sys/stat.h>

#include <fstream>

#include <gtest/gtest.h>

namespace meridian::api {
namespace {

std::filesystem::path TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "meridian-access-XXXXXX").string();
  return mkdtemp(tmpl.data());
}

TEST(Access, GeneratedFilesLoadAndAllowEverything) {
  auto dir = TempDir();
  auto key = GenerateAccessFiles(dir);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(key->access_key_id.size(), 20u);
  EXPECT_EQ(key->secret_access_key.size(), 40u);
  struct stat st{};
  ASSERT_EQ(::stat((dir / "access.yaml").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto store = AccessStore::Load(dir / "access.yaml");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(store->Secret(key->access_key_id), key->secret_access_key);
  EXPECT_TRUE(store->Authorize(key->access_key_id, "PutItem", {"any"}, "us-east-1").ok());
  std::ifstream creds(dir / "credentials");
  std::string text((std::istreambuf_iterator<char>(creds)), {});
  EXPECT_NE(text.find("[meridian]"), std::string::npos);
  EXPECT_NE(text.find("aws_access_key_id = " + key->access_key_id), std::string::npos);
  EXPECT_NE(text.find("region = us-east-1"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(Access, TablesAndActionsAreEnforced) {
  AccessStore store({AccessKey{"READER", "s", {"music"}, {"GetItem", "Query"}}});
  EXPECT_TRUE(store.Authorize("READER", "GetItem", {"music"}, "us-east-1").ok());
  Status st = store.Authorize("READER", "PutItem", {"music"}, "us-east-1");
  EXPECT_EQ(st.code(), ErrorCode::kAccessDenied);
  EXPECT_EQ(st.message(),
            "User: READER is not authorized to perform: dynamodb:PutItem on resource: "
            "arn:aws:dynamodb:us-east-1:000000000000:table/music");
  EXPECT_EQ(store.Authorize("READER", "GetItem", {"music", "other"}, "r").code(), ErrorCode::kAccessDenied);
  EXPECT_EQ(store.Authorize("READER", "ListTables", {}, "r").code(), ErrorCode::kAccessDenied);
  EXPECT_EQ(store.Authorize("NOBODY", "GetItem", {"music"}, "r").code(), ErrorCode::kUnrecognizedClient);
}

TEST(Access, LoadRefusesBadFiles) {
  auto dir = TempDir();
  auto write = [&](const std::string& text) {
    std::ofstream(dir / "a.yaml") << text;
    return AccessStore::Load(dir / "a.yaml");
  };
  EXPECT_FALSE(write("keys: [").ok());
  EXPECT_FALSE(write("nothing: 1").ok());
  EXPECT_FALSE(write("keys:\n  - access_key_id: A\n").ok());
  EXPECT_FALSE(write("keys:\n  - {access_key_id: A, secret_access_key: s}\n  - {access_key_id: A, secret_access_key: t}\n").ok());
  EXPECT_FALSE(write("keys:\n  - {access_key_id: A, secret_access_key: s, actions: [Frobnicate]}\n").ok());
  auto ok = write("keys:\n  - {access_key_id: A, secret_access_key: s, tables: t1, actions: [\"*\"]}\n");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(ok->Authorize("A", "DeleteTable", {"t1"}, "r").ok());
  EXPECT_FALSE(ok->Authorize("A", "DeleteTable", {"t2"}, "r").ok());
  EXPECT_FALSE(AccessStore::Load(dir / "missing.yaml").ok());
  // Round trip through the renderer.
  std::ofstream(dir / "b.yaml") << RenderAccessYaml({AccessKey{"K\"1", "s:ec ret", {"a"}, {"GetItem"}}});
  auto again = AccessStore::Load(dir / "b.yaml");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->Secret("K\"1"), "s:ec ret");
  std::filesystem::remove_all(dir);
}

TEST(Access, TablesOfRequests) {
  BatchWriteItemRequest b;
  b.request_items["x"];
  b.request_items["y"];
  EXPECT_EQ(TablesOf(Request(b)), (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(TablesOf(Request(ListTablesRequest{})).empty());
  GetItemRequest g;
  g.table_name = "t";
  EXPECT_EQ(TablesOf(Request(g)), (std::vector<std::string>{"t"}));
}

TEST(Access, UpdateTableIsAuthorizedOnItsTable) {
  UpdateTableRequest u;
  u.table_name = "music";
  u.replica_updates = {ReplicaUpdate{"eu-west", std::nullopt}};
  ASSERT_EQ(TablesOf(Request(u)), (std::vector<std::string>{"music"}));
  AccessStore store({AccessKey{"ADMIN", "s", {"music"}, {"UpdateTable"}}});
  EXPECT_TRUE(store.Authorize("ADMIN", "UpdateTable", TablesOf(Request(u)), "us-east").ok());
  u.table_name = "other";
  Status st = store.Authorize("ADMIN", "UpdateTable", TablesOf(Request(u)), "us-east");
  EXPECT_EQ(st.code(), ErrorCode::kAccessDenied);
  EXPECT_EQ(st.message(),
            "User: ADMIN is not authorized to perform: dynamodb:UpdateTable on resource: "
            "arn:aws:dynamodb:us-east:000000000000:table/other");
  EXPECT_EQ(store.Authorize("ADMIN", "DeleteTable", {"music"}, "us-east").code(), ErrorCode::kAccessDenied);
}

}  // namespace
}  // namespace meridian::api
