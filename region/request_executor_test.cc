#include "region/request_executor.h"

#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

namespace meridian {
namespace {

class RequestExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "meridian-exec-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    EngineOptions o;
    o.sync = false;
    auto e = Engine::Open((dir_ / "db").string(), o);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(e.value());
    CreateTableRequest c;
    c.table_name = "tbl";
    c.key_schema = {{"pk", KeyType::kHash}};
    c.attribute_definitions = {{"pk", AttributeType::kS}};
    c.billing_mode = BillingMode::kPayPerRequest;
    auto created = engine_->Execute(c);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  }
  void TearDown() override {
    engine_.reset();
    std::filesystem::remove_all(dir_);
  }

  static PutItemRequest Put(const std::string& pk, const std::string& v) {
    PutItemRequest p;
    p.table_name = "tbl";
    p.item["pk"] = AttributeValue::S(pk);
    p.item["v"] = AttributeValue::S(v);
    p.return_values = ReturnValue::kAllOld;
    return p;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(RequestExecutorTest, RetriedWriteIsAppliedOnceAndGetsTheSameAnswer) {
  RequestExecutor ex(engine_.get(), {});
  RequestContext ctx{"id-1", std::nullopt};
  auto first = ex.Execute(ctx, Put("a", "1"));
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(std::get<PutItemResponse>(first.value()).attributes);  // nothing before
  // Another write in between; the retry of id-1 must not overwrite it and must answer as before.
  ASSERT_TRUE(ex.Execute({"id-2", std::nullopt}, Put("a", "2")).ok());
  auto retry = ex.Execute(ctx, Put("a", "1"));
  ASSERT_TRUE(retry.ok());
  EXPECT_FALSE(std::get<PutItemResponse>(retry.value()).attributes);
  GetItemRequest g;
  g.table_name = "tbl";
  g.key["pk"] = AttributeValue::S("a");
  auto got = ex.Execute({"", std::nullopt}, g);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(std::get<GetItemResponse>(got.value()).item->at("v"), AttributeValue::S("2"));
  EXPECT_EQ(ex.stats().replayed, 1u);
}

TEST_F(RequestExecutorTest, ErrorsAreRememberedToo) {
  RequestExecutor ex(engine_.get(), {});
  PutItemRequest bad = Put("a", "1");
  bad.table_name = "missing";
  EXPECT_EQ(ex.Execute({"x", std::nullopt}, bad).status().code(), ErrorCode::kResourceNotFound);
  EXPECT_EQ(ex.Execute({"x", std::nullopt}, bad).status().code(), ErrorCode::kResourceNotFound);
  EXPECT_EQ(ex.stats().replayed, 1u);
}

TEST_F(RequestExecutorTest, WindowIsBoundedByCountAndTime) {
  auto now = std::chrono::steady_clock::now();
  RequestExecutorOptions o;
  o.request_id_max_entries = 10;
  o.request_id_window = std::chrono::seconds(60);
  o.now = [&] { return now; };
  RequestExecutor ex(engine_.get(), o);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(ex.Execute({"id" + std::to_string(i), std::nullopt}, Put("k", "v")).ok());
  EXPECT_LE(ex.stats().remembered, 11u);
  now += std::chrono::seconds(61);
  ASSERT_TRUE(ex.Execute({"late", std::nullopt}, Put("k", "v")).ok());
  EXPECT_EQ(ex.stats().remembered, 1u);
  // The id is forgotten after the window: the same id applies again.
  ASSERT_TRUE(ex.Execute({"id49", std::nullopt}, Put("k", "v")).ok());
  EXPECT_EQ(ex.stats().replayed, 0u);
}

TEST_F(RequestExecutorTest, IdsAreScopedByPrincipal) {
  api::AccessStore store({api::AccessKey{"A", "s", {"*"}, {"*"}}, api::AccessKey{"B", "s", {"*"}, {"*"}}});
  RequestExecutorOptions o;
  o.access = &store;
  RequestExecutor ex(engine_.get(), o);
  ASSERT_TRUE(ex.Execute({"same", "A"}, Put("a", "1")).ok());
  auto b = ex.Execute({"same", "B"}, Put("a", "2"));
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(std::get<PutItemResponse>(b.value()).attributes);  // B's write was applied
}

TEST_F(RequestExecutorTest, AuthorizesAgainstTheAccessStore) {
  api::AccessStore store({api::AccessKey{"ONE", "s", {"tbl"}, {"GetItem"}}});
  RequestExecutorOptions o;
  o.access = &store;
  RequestExecutor ex(engine_.get(), o);
  Status st = ex.Execute({"i", "ONE"}, Put("a", "1")).status();
  EXPECT_EQ(st.code(), ErrorCode::kAccessDenied);
  EXPECT_EQ(st.message(), "User: ONE is not authorized to perform: dynamodb:PutItem on resource: "
                          "arn:aws:dynamodb:us-east-1:000000000000:table/tbl");
  EXPECT_EQ(ex.Execute({"i", std::nullopt}, Put("a", "1")).status().code(),
            ErrorCode::kMissingAuthenticationToken);
  GetItemRequest g;
  g.table_name = "tbl";
  g.key["pk"] = AttributeValue::S("a");
  EXPECT_TRUE(ex.Execute({"", "ONE"}, g).ok());
  EXPECT_EQ(ex.stats().denied, 1u);
}

TEST_F(RequestExecutorTest, ConcurrentDuplicatesApplyOnce) {
  RequestExecutor ex(engine_.get(), {});
  std::vector<std::thread> threads;
  std::atomic<int> without_old{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto r = ex.Execute({"dup", std::nullopt}, Put("c", "1"));
      if (r.ok() && !std::get<PutItemResponse>(r.value()).attributes) without_old++;
    });
  }
  for (auto& t : threads) t.join();
  // Every caller sees the first application's answer (no old item).
  EXPECT_EQ(without_old.load(), 8);
}

}  // namespace
}  // namespace meridian
