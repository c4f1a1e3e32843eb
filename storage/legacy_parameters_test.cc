// The legacy conditional parameters (Expected, QueryFilter, ScanFilter, KeyConditions,
// AttributesToGet, AttributeUpdates) mapped onto expression trees, table-driven against
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/LegacyConditionalParameters.html
#include <gtest/gtest.h>

#include "storage/expression.h"
#include "storage/expression_test_values.h"

namespace meridian::expr {
namespace {

using namespace ::meridian::testing_values;  // NOLINT: S(), N(), ... builders

const Item& TestItem() {
  static const Item kItem = {
      {"pk", S("p1")}, {"n", N("5")}, {"s", S("hello")}, {"ss", SS({"a", "b"})},
      {"l", L({S("a"), N("1")})}, {"b", B("\x01\x02")},
  };
  return kItem;
}

LegacyCondition Op(std::string op, std::vector<AttributeValue> values = {}) {
  LegacyCondition c;
  c.comparison_operator = std::move(op);
  c.attribute_value_list = std::move(values);
  return c;
}

LegacyCondition ValueCondition(std::optional<AttributeValue> value, std::optional<bool> exists) {
  LegacyCondition c;
  c.value = std::move(value);
  c.exists = exists;
  return c;
}

Result<bool> Eval(const LegacyConditions& conditions, std::optional<std::string> op = std::nullopt,
                  LegacyKind kind = LegacyKind::kExpected) {
  MERIDIAN_ASSIGN_OR_RETURN(std::shared_ptr<const Condition> c, ConvertLegacyConditions(conditions, op, kind));
  MERIDIAN_RETURN_IF_ERROR(Validate(*c, NoBindings()));
  return Evaluate(*c, TestItem(), NoBindings());
}

struct EvalCase {
  const char* name;
  std::string attr;
  LegacyCondition condition;
  bool expected;
};

class LegacyEvalTest : public testing::TestWithParam<EvalCase> {};

TEST_P(LegacyEvalTest, Evaluates) {
  const EvalCase& c = GetParam();
  for (LegacyKind kind : {LegacyKind::kExpected, LegacyKind::kQueryFilter, LegacyKind::kScanFilter}) {
    if (kind != LegacyKind::kExpected && !c.condition.comparison_operator) continue;
    Result<bool> r = Eval({{c.attr, c.condition}}, std::nullopt, kind);
    ASSERT_TRUE(r.ok()) << c.name << ": " << r.status().ToString();
    EXPECT_EQ(*r, c.expected) << c.name;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, LegacyEvalTest,
    testing::Values(
        EvalCase{"value equal", "n", ValueCondition(N("5"), std::nullopt), true},
        EvalCase{"value differs", "n", ValueCondition(N("6"), true), false},
        EvalCase{"value on missing", "x", ValueCondition(N("6"), true), false},
        EvalCase{"not exists, missing", "x", ValueCondition(std::nullopt, false), true},
        EvalCase{"not exists, present", "n", ValueCondition(std::nullopt, false), false},
        EvalCase{"EQ", "n", Op("EQ", {N("5")}), true},
        EvalCase{"EQ set", "ss", Op("EQ", {SS({"b", "a"})}), true},
        EvalCase{"EQ other type", "n", Op("EQ", {S("5")}), false},
        EvalCase{"NE", "n", Op("NE", {N("5")}), false},
        EvalCase{"NE missing", "x", Op("NE", {N("5")}), true},
        EvalCase{"LT", "n", Op("LT", {N("6")}), true},
        EvalCase{"LE", "n", Op("LE", {N("5")}), true},
        EvalCase{"GT", "s", Op("GT", {S("hello")}), false},
        EvalCase{"GE", "s", Op("GE", {S("hello")}), true},
        EvalCase{"GE other type", "s", Op("GE", {N("1")}), false},
        EvalCase{"NOT_NULL", "n", Op("NOT_NULL"), true},
        EvalCase{"NOT_NULL missing", "x", Op("NOT_NULL"), false},
        EvalCase{"NULL", "x", Op("NULL"), true},
        EvalCase{"NULL present", "n", Op("NULL"), false},
        EvalCase{"CONTAINS substring", "s", Op("CONTAINS", {S("ell")}), true},
        EvalCase{"CONTAINS member", "ss", Op("CONTAINS", {S("a")}), true},
        EvalCase{"CONTAINS list element", "l", Op("CONTAINS", {N("1")}), true},
        EvalCase{"CONTAINS binary", "b", Op("CONTAINS", {B("\x02")}), true},
        EvalCase{"NOT_CONTAINS", "ss", Op("NOT_CONTAINS", {S("c")}), true},
        EvalCase{"NOT_CONTAINS present", "ss", Op("NOT_CONTAINS", {S("a")}), false},
        EvalCase{"BEGINS_WITH", "s", Op("BEGINS_WITH", {S("he")}), true},
        EvalCase{"BEGINS_WITH binary", "b", Op("BEGINS_WITH", {B("\x01")}), true},
        EvalCase{"IN", "n", Op("IN", {N("1"), N("5")}), true},
        EvalCase{"IN none", "n", Op("IN", {N("1"), N("2")}), false},
        EvalCase{"BETWEEN", "n", Op("BETWEEN", {N("1"), N("5")}), true},
        EvalCase{"BETWEEN outside", "n", Op("BETWEEN", {N("6"), N("7")}), false}),
    [](const testing::TestParamInfo<EvalCase>& info) {
      std::string name;
      for (char c : std::string(info.param.name)) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

TEST(LegacyConditions, ConditionalOperator) {
  LegacyConditions two = {{"n", Op("EQ", {N("6")})}, {"s", Op("EQ", {S("hello")})}};
  EXPECT_FALSE(*Eval(two));
  EXPECT_FALSE(*Eval(two, "AND"));
  EXPECT_TRUE(*Eval(two, "OR"));
  EXPECT_TRUE(*Eval({}));  // nothing expected: the write goes ahead
  EXPECT_EQ(Eval(two, "XOR").status().message(),
            "1 validation error detected: Value 'XOR' at 'conditionalOperator' failed to satisfy constraint: "
            "Member must satisfy enum value set: [AND, OR]");
}

struct ErrorCase {
  const char* name;
  LegacyCondition condition;
  LegacyKind kind;
  std::string message;
};

class LegacyErrorTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(LegacyErrorTest, Fails) {
  const ErrorCase& c = GetParam();
  Result<bool> r = Eval({{"a", c.condition}}, std::nullopt, c.kind);
  ASSERT_FALSE(r.ok()) << c.name;
  EXPECT_EQ(r.status().code(), ErrorCode::kValidation);
  EXPECT_EQ(r.status().message(), c.message) << c.name;
}

const std::string P = "One or more parameter values were invalid: ";

LegacyCondition Both() {
  LegacyCondition c = Op("EQ", {S("x")});
  c.value = S("x");
  return c;
}

LegacyCondition OpWithExists() {
  LegacyCondition c = Op("EQ", {S("x")});
  c.exists = true;
  return c;
}

LegacyCondition ListWithoutOp() {
  LegacyCondition c;
  c.attribute_value_list = {S("x")};
  return c;
}

INSTANTIATE_TEST_SUITE_P(
    Table, LegacyErrorTest,
    testing::Values(
        ErrorCase{"exists true", ValueCondition(std::nullopt, true), LegacyKind::kExpected,
                  P + "Value must be provided when Exists is true for Attribute: a"},
        ErrorCase{"exists null", ValueCondition(std::nullopt, std::nullopt), LegacyKind::kExpected,
                  P + "Value must be provided when Exists is null for Attribute: a"},
        ErrorCase{"exists false", ValueCondition(S("x"), false), LegacyKind::kExpected,
                  P + "Value cannot be used when Exists is false for Attribute: a"},
        ErrorCase{"both", Both(), LegacyKind::kExpected,
                  P + "Value and AttributeValueList cannot be used together for Attribute: a"},
        ErrorCase{"op and exists", OpWithExists(), LegacyKind::kExpected,
                  P + "Exists and ComparisonOperator cannot be used together for Attribute: a"},
        ErrorCase{"list without op", ListWithoutOp(), LegacyKind::kExpected,
                  P + "AttributeValueList can only be used with a ComparisonOperator for Attribute: a"},
        ErrorCase{"no values", Op("EQ"), LegacyKind::kExpected,
                  P + "Value or AttributeValueList must be used with ComparisonOperator: EQ for Attribute: a"},
        ErrorCase{"no values filter", Op("EQ"), LegacyKind::kScanFilter,
                  P + "Invalid number of argument(s) for the EQ ComparisonOperator"},
        ErrorCase{"between one", Op("BETWEEN", {S("x")}), LegacyKind::kExpected,
                  P + "Invalid number of argument(s) for the BETWEEN ComparisonOperator"},
        ErrorCase{"null with value", Op("NULL", {S("x")}), LegacyKind::kQueryFilter,
                  P + "Invalid number of argument(s) for the NULL ComparisonOperator"},
        ErrorCase{"lt set", Op("LT", {SS({"x"})}), LegacyKind::kExpected,
                  P + "ComparisonOperator LT is not valid for SS AttributeValue type"},
        ErrorCase{"begins_with number", Op("BEGINS_WITH", {N("1")}), LegacyKind::kQueryFilter,
                  P + "ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type"},
        ErrorCase{"mixed types", Op("IN", {S("x"), N("1")}), LegacyKind::kExpected,
                  P + "AttributeValues inside AttributeValueList must be of same type"},
        ErrorCase{"between reversed", Op("BETWEEN", {N("5"), N("1")}), LegacyKind::kExpected,
                  "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound"},
        ErrorCase{"key condition NE", Op("NE", {S("x")}), LegacyKind::kKeyConditions,
                  "Attempted conditional constraint is not an indexable operation"},
        ErrorCase{"filter without op", ValueCondition(S("x"), std::nullopt), LegacyKind::kScanFilter,
                  P + "ComparisonOperator must be specified for Attribute: a"}),
    [](const testing::TestParamInfo<ErrorCase>& info) {
      std::string name;
      for (char c : std::string(info.param.name)) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

TEST(LegacyKeyConditions, MapOntoKeyConditionTrees) {
  LegacyConditions kc = {{"pk", Op("EQ", {S("p1")})}, {"n", Op("BETWEEN", {N("1"), N("9")})}};
  auto c = ConvertLegacyConditions(kc, std::nullopt, LegacyKind::kKeyConditions);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ((*c)->kind, Kind::kKeyCondition);
  Result<std::vector<std::string>> keys = CheckKeyConditionShape(**c, NoBindings());
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(*keys, (std::vector<std::string>{"n", "pk"}));
  EXPECT_TRUE(*Evaluate(**c, TestItem(), NoBindings()));
}

TEST(LegacyAttributesToGet, IsAProjectionOfTopLevelNames) {
  // Legacy names are literal: reserved words and any characters are fine.
  auto p = ConvertAttributesToGet({"n", "status", "we.ird", "missing"});
  ASSERT_TRUE(p.ok());
  Item item = TestItem();
  item["status"] = S("on");
  item["we.ird"] = N("1");
  Result<Item> r = Project(**p, NoBindings(), item);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(*r == (Item{{"n", N("5")}, {"status", S("on")}, {"we.ird", N("1")}}));
  EXPECT_EQ(ConvertAttributesToGet({"a", "b", "a"}).status().message(),
            P + "Duplicate value in attribute name: a");
}

LegacyAttributeUpdate Action(std::optional<std::string> action, std::optional<AttributeValue> value) {
  LegacyAttributeUpdate u;
  u.action = std::move(action);
  u.value = std::move(value);
  return u;
}

TEST(LegacyAttributeUpdates, MapOntoUpdateActions) {
  LegacyAttributeUpdates updates = {
      {"new", Action(std::nullopt, S("v"))},  // PUT by default
      {"s", Action("PUT", N("1"))},
      {"n", Action("ADD", N("2"))},
      {"ss", Action("DELETE", SS({"a"}))},
      {"l", Action("DELETE", std::nullopt)},
      {"count", Action("ADD", N("1"))},
  };
  std::vector<std::string> keys = {"pk"};
  auto u = ConvertAttributeUpdates(updates, keys);
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  ASSERT_TRUE(Validate(**u, NoBindings(), keys).ok());
  Item item = TestItem();
  UpdatedPaths updated;
  ASSERT_TRUE(ApplyUpdate(**u, NoBindings(), &item, &updated).ok());
  EXPECT_TRUE(item == (Item{{"pk", S("p1")}, {"n", N("7")}, {"s", N("1")}, {"ss", SS({"b"})},
                            {"b", B("\x01\x02")}, {"new", S("v")}, {"count", N("1")}}));
  EXPECT_EQ(updated.size(), 6u);

  struct Case {
    LegacyAttributeUpdates updates;
    std::string message;
  };
  for (const Case& c : {
           Case{{{"pk", Action("PUT", S("x"))}}, P + "Cannot update attribute pk. This attribute is part of the key"},
           Case{{{"a", Action("PUT", std::nullopt)}},
                P + "Only DELETE action is allowed when no attribute value is specified"},
           Case{{{"a", Action("ADD", S("x"))}}, P + "ADD action is not supported for the type S"},
           Case{{{"a", Action("DELETE", N("1"))}}, P + "DELETE action with value is not supported for the type N"},
           Case{{{"a", Action("REPLACE", N("1"))}},
                "1 validation error detected: Value 'REPLACE' at 'attributeUpdates.a.member.action' failed to "
                "satisfy constraint: Member must satisfy enum value set: [ADD, PUT, DELETE]"},
       }) {
    EXPECT_EQ(ConvertAttributeUpdates(c.updates, keys).status().message(), c.message);
  }
  // Type errors that depend on the item surface when applying.
  auto bad = ConvertAttributeUpdates({{"s", Action("ADD", N("1"))}}, keys).value();
  Item copy = TestItem();
  EXPECT_EQ(ApplyUpdate(*bad, NoBindings(), &copy, nullptr).message(),
            "An operand in the update expression has an incorrect data type");
}

TEST(LegacyMixing, ExpressionAndNonExpressionParameters) {
  EXPECT_TRUE(CheckNoMixedParameters({"Expected"}, {}).ok());
  EXPECT_TRUE(CheckNoMixedParameters({}, {"ConditionExpression"}).ok());
  EXPECT_EQ(CheckNoMixedParameters({"Expected"}, {"ConditionExpression"}).message(),
            "Can not use both expression and non-expression parameters in the same request: Non-expression "
            "parameters: {Expected} Expression parameters: {ConditionExpression}");
  EXPECT_EQ(CheckNoMixedParameters({"AttributeUpdates", "Expected"}, {"UpdateExpression"}).message(),
            "Can not use both expression and non-expression parameters in the same request: Non-expression "
            "parameters: {AttributeUpdates, Expected} Expression parameters: {UpdateExpression}");
}

TEST(LegacyWire, MsgpackRoundTrip) {
  LegacyConditions in = {{"a", Op("BETWEEN", {N("1"), N("2")})}, {"b", ValueCondition(S("x"), true)}};
  msgpack::sbuffer buf;
  msgpack::pack(buf, in);
  msgpack::object_handle oh = msgpack::unpack(buf.data(), buf.size());
  LegacyConditions out = oh.get().as<LegacyConditions>();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out["a"].comparison_operator, "BETWEEN");
  EXPECT_EQ(out["a"].attribute_value_list.size(), 2u);
  EXPECT_TRUE(*out["b"].value == S("x"));
  EXPECT_EQ(out["b"].exists, true);
  EXPECT_FALSE(out["a"].exists.has_value());

  LegacyAttributeUpdates updates = {{"n", Action("ADD", N("1"))}};
  msgpack::sbuffer buf2;
  msgpack::pack(buf2, updates);
  msgpack::object_handle oh2 = msgpack::unpack(buf2.data(), buf2.size());
  LegacyAttributeUpdates back = oh2.get().as<LegacyAttributeUpdates>();
  EXPECT_EQ(back["n"].action, "ADD");
  EXPECT_TRUE(*back["n"].value == N("1"));
}

}  // namespace
}  // namespace meridian::expr
