// UpdateExpression: parsing, validation and application, table-driven against
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.UpdateExpressions.html
#include <gtest/gtest.h>

#include "storage/expression.h"
#include "storage/expression_test_values.h"

namespace meridian::expr {
namespace {

using namespace ::meridian::testing_values;  // NOLINT: S(), N(), ... builders

Item TestItem() {
  return {
      {"pk", S("p1")},
      {"n", N("5")},
      {"s", S("hello")},
      {"l", L({N("1"), N("2"), N("3")})},
      {"m", M({{"a", N("1")}, {"b", M({{"c", S("x")}})}})},
      {"ss", SS({"a", "b"})},
      {"ns", NS({"1", "2"})},
      {"big", N("12345678901234567890123456789012345678")},
      {"top", N("9.9999999999999999999999999999999999999E+125")},
      {"status", S("active")},
  };
}

const ExpressionAttributeNames& TestNames() {
  static const ExpressionAttributeNames kNames = {{"#st", "status"}, {"#a", "a"}};
  return kNames;
}

const ExpressionAttributeValues& TestValues() {
  static const ExpressionAttributeValues kValues = {
      {":one", N("1")}, {":o", N("1")}, {":two", N("2")}, {":ten", N("10")}, {":tenth", N("0.1")},
      {":max", N("9.9999999999999999999999999999999999999E+125")}, {":ulp", N("1E+88")},
      {":hello", S("hello")}, {":list45", L({N("4"), N("5")})}, {":empty", L({})},
      {":ssa", SS({"a"})}, {":ssab", SS({"a", "b"})}, {":ssc", SS({"c"})}, {":ns3", NS({"3"})},
      {":ns1", NS({"1"})}, {":m", M({{"k", S("v")}})},
  };
  return kValues;
}

Bindings TestBindings() { return Bindings{TestNames(), TestValues()}; }
const std::vector<std::string> kKeys = {"pk"};

Status RunExpr(std::string_view text, Item* item, UpdatedPaths* updated = nullptr) {
  MERIDIAN_ASSIGN_OR_RETURN(std::shared_ptr<const Update> u, ParseUpdate(text));
  MERIDIAN_RETURN_IF_ERROR(Validate(*u, TestBindings(), kKeys));
  return ApplyUpdate(*u, TestBindings(), item, updated);
}

// The value at a simple path "a.b[2].c" of the item (nullptr when absent).
const AttributeValue* Get(const Item& item, std::string_view path) {
  auto p = ParseProjection(path);
  if (!p.ok()) {  // a reserved word: a plain top-level name
    auto it = item.find(std::string(path));
    return it == item.end() ? nullptr : &it->second;
  }
  const Path& elements = (*p)->paths[0];
  auto it = item.find(elements[0].name);
  if (it == item.end()) return nullptr;
  const AttributeValue* cur = &it->second;
  for (size_t i = 1; i < elements.size(); ++i) {
    if (elements[i].type == PathElement::Type::kIndex) {
      if (!cur->is(AttributeType::kL) || elements[i].index >= cur->l().size()) return nullptr;
      cur = &cur->l()[elements[i].index];
    } else {
      if (!cur->is(AttributeType::kM)) return nullptr;
      auto mit = cur->m().find(elements[i].name);
      if (mit == cur->m().end()) return nullptr;
      cur = &mit->second;
    }
  }
  return cur;
}

struct Check {
  const char* path;
  std::optional<AttributeValue> value;  // nullopt: absent
};

struct ApplyCase {
  const char* text;
  std::vector<Check> checks;
};

class UpdateApplyTest : public testing::TestWithParam<ApplyCase> {};

TEST_P(UpdateApplyTest, Applies) {
  const ApplyCase& c = GetParam();
  Item item = TestItem();
  Status st = RunExpr(c.text, &item);
  ASSERT_TRUE(st.ok()) << c.text << ": " << st.ToString();
  for (const Check& check : c.checks) {
    const AttributeValue* v = Get(item, check.path);
    if (!check.value) {
      EXPECT_EQ(v, nullptr) << c.text << " at " << check.path;
    } else {
      ASSERT_NE(v, nullptr) << c.text << " at " << check.path;
      EXPECT_TRUE(*v == *check.value) << c.text << " at " << check.path;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, UpdateApplyTest,
    testing::Values(
        ApplyCase{"SET n = :one", {{"n", N("1")}}},
        ApplyCase{"SET n = n + :one", {{"n", N("6")}}},
        ApplyCase{"SET n = n - :ten", {{"n", N("-5")}}},
        ApplyCase{"SET n = :one + :two", {{"n", N("3")}}},
        ApplyCase{"SET n = (n + :one)", {{"n", N("6")}}},
        ApplyCase{"SET n = (n) + (:one)", {{"n", N("6")}}},
        ApplyCase{"SET n = n + :tenth", {{"n", N("5.1")}}},
        // Exact 38-digit arithmetic.
        ApplyCase{"SET big = big + :one", {{"big", N("12345678901234567890123456789012345679")}}},
        ApplyCase{"SET newattr = :one", {{"newattr", N("1")}}},
        ApplyCase{"SET n = :max - :ulp", {{"n", N("9.9999999999999999999999999999999999998E+125")}}},
        ApplyCase{"SET m.a = :two", {{"m.a", N("2")}, {"m.b.c", S("x")}}},
        ApplyCase{"SET m.k = :one", {{"m.k", N("1")}, {"m.a", N("1")}}},
        ApplyCase{"SET m.b.c = :one", {{"m.b.c", N("1")}}},
        ApplyCase{"SET m.b = :m", {{"m.b.k", S("v")}, {"m.b.c", std::nullopt}}},
        ApplyCase{"SET l[0] = :ten", {{"l[0]", N("10")}, {"l[1]", N("2")}}},
        // Past the end of a list: appended.
        ApplyCase{"SET l[9] = :ten", {{"l[3]", N("10")}, {"l[4]", std::nullopt}}},
        ApplyCase{"SET l = list_append(l, :list45)", {{"l[3]", N("4")}, {"l[4]", N("5")}, {"l[0]", N("1")}}},
        ApplyCase{"SET l = list_append(:list45, l)", {{"l[0]", N("4")}, {"l[2]", N("1")}}},
        ApplyCase{"SET nl = list_append(if_not_exists(nl, :empty), :list45)", {{"nl[0]", N("4")}, {"nl[1]", N("5")}}},
        ApplyCase{"SET x = if_not_exists(x, :one)", {{"x", N("1")}}},
        ApplyCase{"SET n = if_not_exists(n, :ten)", {{"n", N("5")}}},
        ApplyCase{"SET a = :one, b = :two", {{"a", N("1")}, {"b", N("2")}}},
        ApplyCase{"SET #st = :one", {{"status", N("1")}}},
        ApplyCase{"SET a = n", {{"a", N("5")}}},
        // Operands read the item as it was: s gets the old n.
        ApplyCase{"SET n = :one, s = n", {{"n", N("1")}, {"s", N("5")}}},
        ApplyCase{"REMOVE s", {{"s", std::nullopt}, {"n", N("5")}}},
        ApplyCase{"REMOVE absent", {{"n", N("5")}}},
        ApplyCase{"REMOVE l[0]", {{"l[0]", N("2")}, {"l[1]", N("3")}, {"l[2]", std::nullopt}}},
        // Indexes refer to the list before the update.
        ApplyCase{"REMOVE l[0], l[2]", {{"l[0]", N("2")}, {"l[1]", std::nullopt}}},
        ApplyCase{"REMOVE l[2], l[0]", {{"l[0]", N("2")}, {"l[1]", std::nullopt}}},
        ApplyCase{"REMOVE l[9]", {{"l[2]", N("3")}}},
        ApplyCase{"REMOVE m.a", {{"m.a", std::nullopt}, {"m.b.c", S("x")}}},
        ApplyCase{"REMOVE m.b.c", {{"m.b", M({})}}},
        ApplyCase{"ADD n :one", {{"n", N("6")}}},
        ApplyCase{"ADD newn :one", {{"newn", N("1")}}},
        ApplyCase{"ADD ss :ssc", {{"ss", SS({"a", "b", "c"})}}},
        ApplyCase{"ADD ss :ssa", {{"ss", SS({"a", "b"})}}},
        ApplyCase{"ADD newset :ssc", {{"newset", SS({"c"})}}},
        ApplyCase{"ADD ns :ns3", {{"ns", NS({"1", "2", "3"})}}},
        ApplyCase{"ADD m.a :one", {{"m.a", N("2")}}},
        ApplyCase{"DELETE ss :ssa", {{"ss", SS({"b"})}}},
        ApplyCase{"DELETE ss :ssab", {{"ss", std::nullopt}}},
        ApplyCase{"DELETE ss :ssc", {{"ss", SS({"a", "b"})}}},
        ApplyCase{"DELETE absent :ssa", {{"absent", std::nullopt}}},
        ApplyCase{"DELETE ns :ns1", {{"ns", NS({"2"})}}},
        ApplyCase{"SET a = :one REMOVE s ADD n :one DELETE ss :ssa",
                  {{"a", N("1")}, {"s", std::nullopt}, {"n", N("6")}, {"ss", SS({"b"})}}},
        ApplyCase{"delete ss :ssa add n :one remove s set a = :one",
                  {{"a", N("1")}, {"s", std::nullopt}, {"n", N("6")}, {"ss", SS({"b"})}}}));

struct ErrorCase {
  std::string text;
  std::string message;
};

class UpdateErrorTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(UpdateErrorTest, Fails) {
  const ErrorCase& c = GetParam();
  Item item = TestItem();
  Status st = RunExpr(c.text, &item);
  ASSERT_FALSE(st.ok()) << c.text;
  EXPECT_EQ(st.code(), ErrorCode::kValidation);
  EXPECT_EQ(st.message(), c.message) << c.text;
}

const std::string P = "Invalid UpdateExpression: ";
const std::string kBadType = "An operand in the update expression has an incorrect data type";
const std::string kBadPath = "The document path provided in the update expression is invalid for update";

INSTANTIATE_TEST_SUITE_P(
    Table, UpdateErrorTest,
    testing::Values(
        // Arithmetic leaving DynamoDB's number range.
        ErrorCase{"SET big = big + :tenth", "Attempting to store more than 38 significant digits in a Number"},
        ErrorCase{"SET top = top + :ulp",
                  "Number overflow. Attempting to store a number with magnitude larger than supported range"},
        ErrorCase{"ADD top :ulp",
                  "Number overflow. Attempting to store a number with magnitude larger than supported range"},
        ErrorCase{"ADD big :tenth", "Attempting to store more than 38 significant digits in a Number"},
        // Errors that depend on the item.
        ErrorCase{"SET s = s + :one", kBadType},
        ErrorCase{"SET l = list_append(s, :list45)", kBadType},
        ErrorCase{"SET x = absent + :one",
                  "The provided expression refers to an attribute that does not exist in the item"},
        ErrorCase{"SET x = absent", "The provided expression refers to an attribute that does not exist in the item"},
        ErrorCase{"SET nope.a = :one", kBadPath},
        ErrorCase{"SET s.a = :one", kBadPath},
        ErrorCase{"SET l[0].x = :one", kBadPath},
        ErrorCase{"SET m[0] = :one", kBadPath},
        ErrorCase{"SET l.a = :one", kBadPath},
        ErrorCase{"REMOVE nope.a", kBadPath},
        ErrorCase{"REMOVE nope[0]", kBadPath},
        ErrorCase{"ADD s :one", kBadType},
        ErrorCase{"ADD ss :one", kBadType},
        ErrorCase{"ADD ns :ssa", kBadType},
        ErrorCase{"DELETE ns :ssa", kBadType},
        // Errors found before reading the item.
        ErrorCase{"", P + "The expression can not be empty;"},
        ErrorCase{"SET", P + "Syntax error; token: \"<EOF>\", near: \"SET\""},
        ErrorCase{"n = :one", P + "Syntax error; token: \"n\", near: \"n\""},
        ErrorCase{"SET n :one", P + "Syntax error; token: \":one\", near: \"n :one\""},
        ErrorCase{"SET n = n + :one + :one", P + "Syntax error; token: \"+\", near: \":one +\""},
        ErrorCase{"SET a = :one b = :two", P + "Syntax error; token: \"b\", near: \":one b\""},
        ErrorCase{"ADD n n", P + "Syntax error; token: \"n\", near: \"n n\""},
        ErrorCase{"SET a = :one SET b = :two",
                  P + "The \"SET\" section can only be used once in an update expression;"},
        ErrorCase{"REMOVE a REMOVE b",
                  P + "The \"REMOVE\" section can only be used once in an update expression;"},
        ErrorCase{"SET a = :one, a = :two",
                  P + "Two document paths overlap with each other; must remove or rewrite one of these paths; "
                      "path one: [a], path two: [a]"},
        ErrorCase{"SET m = :one REMOVE m.a",
                  P + "Two document paths overlap with each other; must remove or rewrite one of these paths; "
                      "path one: [m], path two: [m, a]"},
        ErrorCase{"SET #a = :one REMOVE a",
                  P + "Two document paths overlap with each other; must remove or rewrite one of these paths; "
                      "path one: [a], path two: [a]"},
        ErrorCase{"SET l[0] = :one REMOVE l.a",
                  P + "Two document paths conflict with each other; must remove or rewrite one of these paths; "
                      "path one: [l, [0]], path two: [l, a]"},
        ErrorCase{"SET pk = :one", "Cannot update attribute pk. This attribute is part of the key"},
        ErrorCase{"REMOVE pk", "Cannot update attribute pk. This attribute is part of the key"},
        ErrorCase{"ADD n :hello",
                  P + "Incorrect operand type for operator or function; operator: ADD, operand type: STRING"},
        ErrorCase{"DELETE ss :one",
                  P + "Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER"},
        ErrorCase{"SET n = n + :hello",
                  P + "Incorrect operand type for operator or function; operator or function: +, operand type: S"},
        ErrorCase{"SET l = list_append(l, :one)",
                  P + "Incorrect operand type for operator or function; operator or function: list_append, "
                      "operand type: N"},
        ErrorCase{"SET n = if_not_exists(:one, n)",
                  P + "Operator or function requires a document path; operator or function: if_not_exists"},
        ErrorCase{"SET n = foo(n)", P + "Invalid function name; function: foo"},
        ErrorCase{"SET n = size(s)", P + "Invalid function name; function: size"},
        ErrorCase{"SET n = list_append(l)",
                  P + "Incorrect number of operands for operator or function; operator or function: list_append, "
                      "number of operands: 1"},
        ErrorCase{"SET status = :one", P + "Attribute name is a reserved keyword; reserved keyword: status"},
        ErrorCase{"SET #u = :one",
                  P + "An expression attribute name used in the document path is not defined; attribute name: #u"},
        ErrorCase{"SET n = :u",
                  P + "An expression attribute value used in expression is not defined; attribute value: :u"}));

TEST(UpdateLimits, Operators) {
  std::string text = "SET ";
  for (int i = 0; i < kMaxOperators; ++i) text += (i ? ",a" : "a") + std::to_string(i) + "=:o+:o";
  Item item = TestItem();
  EXPECT_TRUE(RunExpr(text, &item).ok()) << RunExpr(text, &item).ToString();
  text += ",b=:o+:o";
  EXPECT_EQ(RunExpr(text, &item).message(), P + "The expression contains too many operators; maximum: 300");
}

TEST(UpdatePaths, ReportsWhatWasUpdated) {
  Item before = TestItem();
  Item after = before;
  UpdatedPaths updated;
  ASSERT_TRUE(RunExpr("SET m.a = :two, n = n + :one REMOVE s", &after, &updated).ok());
  ASSERT_EQ(updated.size(), 3u);
  EXPECT_EQ(PathToString(updated[0]), "[m, a]");
  EXPECT_EQ(PathToString(updated[1]), "[n]");
  EXPECT_EQ(PathToString(updated[2]), "[s]");
  // UPDATED_NEW: only the updated paths, nested ones as nested maps.
  Item updated_new = ProjectPaths(updated, after);
  EXPECT_TRUE(updated_new == (Item{{"m", M({{"a", N("2")}})}, {"n", N("6")}}));
  Item updated_old = ProjectPaths(updated, before);
  EXPECT_TRUE(updated_old == (Item{{"m", M({{"a", N("1")}})}, {"n", N("5")}, {"s", S("hello")}}));
}

TEST(UpdateApply, MissingItemStartsEmpty) {
  Item item;
  ASSERT_TRUE(RunExpr("SET a = :one ADD c :ssa, n :one REMOVE x", &item).ok());
  EXPECT_TRUE(item == (Item{{"a", N("1")}, {"c", SS({"a"})}, {"n", N("1")}}));
  Item none;
  EXPECT_EQ(RunExpr("SET m.a = :one", &none).message(), kBadPath);
}

}  // namespace
}  // namespace meridian::expr
