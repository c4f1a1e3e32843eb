// ProjectionExpression: parsing, validation and projection, table-driven against
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ProjectionExpressions.html
#include <gtest/gtest.h>

#include "storage/expression.h"
#include "storage/expression_test_values.h"
#include "storage/reserved_words.h"

namespace meridian::expr {
namespace {

using namespace ::meridian::testing_values;  // NOLINT: S(), N(), ... builders

const Item& TestItem() {
  static const Item kItem = {
      {"a", S("x")},
      {"b", M({{"c", N("1")}, {"d", L({S("x"), M({{"e", N("2")}, {"f", N("3")}}), S("z")})}})},
      {"l", L({N("0"), N("1"), N("2"), N("3"), N("4")})},
      {"status", S("on")},
  };
  return kItem;
}

const ExpressionAttributeNames& TestNames() {
  static const ExpressionAttributeNames kNames = {{"#st", "status"}, {"#b", "b"}};
  return kNames;
}

Result<Item> RunExpr(std::string_view text) {
  static const ExpressionAttributeValues kNoValues;
  Bindings bindings{TestNames(), kNoValues};
  MERIDIAN_ASSIGN_OR_RETURN(std::shared_ptr<const Projection> p, ParseProjection(text));
  MERIDIAN_RETURN_IF_ERROR(Validate(*p, bindings));
  return Project(*p, bindings, TestItem());
}

struct ProjectCase {
  const char* text;
  Item expected;
};

class ProjectionTest : public testing::TestWithParam<ProjectCase> {};

TEST_P(ProjectionTest, Projects) {
  const ProjectCase& c = GetParam();
  Result<Item> r = RunExpr(c.text);
  ASSERT_TRUE(r.ok()) << c.text << ": " << r.status().ToString();
  EXPECT_TRUE(*r == c.expected) << c.text;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ProjectionTest,
    testing::Values(
        ProjectCase{"a", {{"a", S("x")}}},
        ProjectCase{"a, absent", {{"a", S("x")}}},
        ProjectCase{"absent", {}},
        ProjectCase{"b.c", {{"b", M({{"c", N("1")}})}}},
        ProjectCase{"b.d[1].e", {{"b", M({{"d", L({M({{"e", N("2")}})})}})}}},
        // List elements: in index order, compacted.
        ProjectCase{"l[1], l[3]", {{"l", L({N("1"), N("3")})}}},
        ProjectCase{"l[3], l[1]", {{"l", L({N("1"), N("3")})}}},
        ProjectCase{"l[4], l[9]", {{"l", L({N("4")})}}},
        ProjectCase{"l[9]", {}},
        ProjectCase{"b.c, b.d[0], a", {{"a", S("x")}, {"b", M({{"c", N("1")}, {"d", L({S("x")})}})}}},
        ProjectCase{"b.d[1].e, b.d[1].f", {{"b", M({{"d", L({M({{"e", N("2")}, {"f", N("3")}})})}})}}},
        ProjectCase{"#st", {{"status", S("on")}}},
        ProjectCase{"#b.c", {{"b", M({{"c", N("1")}})}}},
        // Paths that lead nowhere project nothing, not an empty parent.
        ProjectCase{"b.nope", {}},
        ProjectCase{"a.x", {}},
        ProjectCase{"l[0].x", {}},
        ProjectCase{"b[0]", {}}));

struct ErrorCase {
  std::string text;
  std::string message;
};

class ProjectionErrorTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(ProjectionErrorTest, Fails) {
  const ErrorCase& c = GetParam();
  Result<Item> r = RunExpr(c.text);
  ASSERT_FALSE(r.ok()) << c.text;
  EXPECT_EQ(r.status().code(), ErrorCode::kValidation);
  EXPECT_EQ(r.status().message(), c.message) << c.text;
}

const std::string P = "Invalid ProjectionExpression: ";

INSTANTIATE_TEST_SUITE_P(
    Table, ProjectionErrorTest,
    testing::Values(
        ErrorCase{"", P + "The expression can not be empty;"},
        ErrorCase{"a,", P + "Syntax error; token: \"<EOF>\", near: \",\""},
        ErrorCase{"a b", P + "Syntax error; token: \"b\", near: \"a b\""},
        ErrorCase{"a[x]", P + "Syntax error; token: \"x\", near: \"[x\""},
        ErrorCase{"a.", P + "Syntax error; token: \"<EOF>\", near: \".\""},
        ErrorCase{":v", P + "Syntax error; token: \":v\", near: \":v\""},
        ErrorCase{"a, a",
                  P + "Two document paths overlap with each other; must remove or rewrite one of these paths; "
                      "path one: [a], path two: [a]"},
        ErrorCase{"b, b.c",
                  P + "Two document paths overlap with each other; must remove or rewrite one of these paths; "
                      "path one: [b], path two: [b, c]"},
        ErrorCase{"b.d[1].e, b.d",
                  P + "Two document paths overlap with each other; must remove or rewrite one of these paths; "
                      "path one: [b, d, [1], e], path two: [b, d]"},
        ErrorCase{"#st, status", P + "Attribute name is a reserved keyword; reserved keyword: status"},
        ErrorCase{"l[0], l.x",
                  P + "Two document paths conflict with each other; must remove or rewrite one of these paths; "
                      "path one: [l, [0]], path two: [l, x]"},
        ErrorCase{"#u", P + "An expression attribute name used in the document path is not defined; attribute name: #u"}));

TEST(ReservedWords, TheWholeListCaseInsensitively) {
  EXPECT_EQ(kReservedWordCount, 573u);
  for (const char* w : {"ABORT", "zone", "Status", "name", "DATA", "ttl", "Size", "VALUE", "year"}) {
    Result<Item> r = RunExpr(w);
    ASSERT_FALSE(r.ok()) << w;
    EXPECT_EQ(r.status().message(), P + "Attribute name is a reserved keyword; reserved keyword: " + w);
  }
  for (const char* w : {"a", "names2", "statuses", "zones", "_x"}) EXPECT_TRUE(RunExpr(w).ok()) << w;
}

}  // namespace
}  // namespace meridian::expr
