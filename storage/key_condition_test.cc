#include "storage/key_condition.h"

#include <gtest/gtest.h>

#include "storage/expression_tokenizer.h"

namespace meridian {
namespace {

AttributeValue S(const char* s) { return AttributeValue::S(s); }
AttributeValue N(const char* n) { return AttributeValue::ParseN(n).value(); }

KeySchemaInfo StringNumberSchema() {
  KeySchemaInfo k;
  k.pk_name = "pk";
  k.pk_type = AttributeType::kS;
  k.sk_name = "sk";
  k.sk_type = AttributeType::kN;
  return k;
}

struct OkCase {
  const char* expression;
  ExpressionAttributeNames names;
  ExpressionAttributeValues values;
  std::optional<SortKeyOp> op;  // empty: no sort-key condition
};

TEST(KeyConditionTest, AcceptsDynamoDbForms) {
  const ExpressionAttributeValues v1 = {{":p", S("a")}};
  const ExpressionAttributeValues v2 = {{":p", S("a")}, {":s", N("1")}};
  const ExpressionAttributeValues v3 = {{":p", S("a")}, {":lo", N("-1")}, {":hi", N("2.5")}};
  const std::vector<OkCase> cases = {
      {"pk = :p", {}, v1, std::nullopt},
      {"  pk=:p  ", {}, v1, std::nullopt},
      {"#k = :p", {{"#k", "pk"}}, v1, std::nullopt},
      {"(pk = :p)", {}, v1, std::nullopt},
      {"((pk = :p))", {}, v1, std::nullopt},
      {"pk = :p AND sk = :s", {}, v2, SortKeyOp::kEq},
      {"pk = :p and sk < :s", {}, v2, SortKeyOp::kLt},
      {"pk = :p And sk <= :s", {}, v2, SortKeyOp::kLe},
      {"pk = :p AND sk > :s", {}, v2, SortKeyOp::kGt},
      {"pk = :p AND sk >= :s", {}, v2, SortKeyOp::kGe},
      {":s > sk AND pk = :p", {}, v2, SortKeyOp::kLt},  // mirrored
      {"sk >= :s AND pk = :p", {}, v2, SortKeyOp::kGe},
      {"(pk = :p) AND (sk = :s)", {}, v2, SortKeyOp::kEq},
      {"(pk = :p AND sk = :s)", {}, v2, SortKeyOp::kEq},
      {"#a = :p AND #b BETWEEN :lo AND :hi", {{"#a", "pk"}, {"#b", "sk"}}, v3, SortKeyOp::kBetween},
      {"pk = :p AND sk between :lo and :hi", {}, v3, SortKeyOp::kBetween},
  };
  for (const auto& c : cases) {
    auto r = ParseKeyCondition(c.expression, c.names, c.values, StringNumberSchema());
    ASSERT_TRUE(r.ok()) << c.expression << ": " << r.status().ToString();
    EXPECT_EQ(r->pk, S("a")) << c.expression;
    ASSERT_EQ(r->sk.has_value(), c.op.has_value()) << c.expression;
    if (c.op) {
      EXPECT_EQ(r->sk->op, *c.op) << c.expression;
    }
  }
  auto between = ParseKeyCondition("pk = :p AND sk BETWEEN :lo AND :hi", {}, v3, StringNumberSchema());
  ASSERT_TRUE(between.ok());
  EXPECT_EQ(between->sk->value, N("-1"));
  EXPECT_EQ(between->sk->upper, N("2.5"));
}

TEST(KeyConditionTest, BeginsWithOnStringSortKey) {
  KeySchemaInfo k = StringNumberSchema();
  k.sk_type = AttributeType::kS;
  for (const char* e : {"pk = :p AND begins_with(sk, :s)", "begins_with ( #s , :s ) and pk = :p",
                        "pk = :p AND BEGINS_WITH(sk, :s)", "(pk = :p) AND (begins_with(sk, :s))"}) {
    ExpressionAttributeNames names;
    if (std::string(e).find("#s") != std::string::npos) names["#s"] = "sk";
    auto r = ParseKeyCondition(e, names, {{":p", S("a")}, {":s", S("pre")}}, k);
    ASSERT_TRUE(r.ok()) << e << ": " << r.status().ToString();
    EXPECT_EQ(r->sk->op, SortKeyOp::kBeginsWith);
    EXPECT_EQ(r->sk->value, S("pre"));
  }
}

struct ErrorCase {
  std::string expression;
  ExpressionAttributeNames names;
  ExpressionAttributeValues values;
  std::string message;  // the exact message, or a prefix when it ends with "..."
};

TEST(KeyConditionTest, RejectsWithDynamoDbMessages) {
  const ExpressionAttributeValues v1 = {{":p", S("a")}};
  const ExpressionAttributeValues v2 = {{":p", S("a")}, {":s", N("1")}};
  const std::vector<ErrorCase> cases = {
      {"", {}, v1, "Invalid KeyConditionExpression: The expression can not be empty;"},
      {"pk =", {}, v1, "Invalid KeyConditionExpression: Syntax error; token: \"<EOF>\", near: \"=\""},
      {"pk = :p AND", {}, v1, "Invalid KeyConditionExpression: Syntax error; token: \"<EOF>\", near: \"AND\""},
      {"pk = :p $", {}, v1, "Invalid KeyConditionExpression: Syntax error; token: \"$\", near: \":p $\""},
      {"(pk = :p", {}, v1, "Invalid KeyConditionExpression: Syntax error; token: \"<EOF>\", near: \":p\""},
      {"pk = :p)", {}, v1, "Invalid KeyConditionExpression: Syntax error; token: \")\", near: \":p)\""},
      {"pk = :p sk", {}, v1, "Invalid KeyConditionExpression: Syntax error; token: \"sk\", near: \":p sk\""},
      {"pk = :p OR sk = :s", {}, v2, "Invalid operator used in KeyConditionExpression: OR"},
      {"NOT pk = :p", {}, v1, "Invalid operator used in KeyConditionExpression: NOT"},
      {"pk <> :p", {}, v1, "Invalid operator used in KeyConditionExpression: <>"},
      {"pk = :p AND contains(sk, :s)", {}, v2, "Invalid KeyConditionExpression: Invalid function name; function: contains"},
      {"pk = :q", {}, v1, "An expression attribute value used in expression is not defined; attribute value: :q"},
      {"#x = :p", {}, v1, "An expression attribute name used in expression is not defined; attribute name: #x"},
      {"pk = :p", {}, {{":p", S("a")}, {":x", S("b")}}, "Value provided in ExpressionAttributeValues unused in expressions: keys: {:x}"},
      {"pk = :p", {{"#x", "pk"}}, v1, "Value provided in ExpressionAttributeNames unused in expressions: keys: {#x}"},
      {"sk = :s", {}, {{":s", N("1")}}, "Query condition missed key schema element: pk"},
      {"pk = :p AND other = :s", {}, v2, "Query condition missed key schema element: sk"},
      {"pk = :p AND pk = :p", {}, v1, "KeyConditionExpressions must only contain one condition per key"},
      {"pk = :p AND sk = :s AND sk < :s", {}, v2, "KeyConditionExpressions must only contain one condition per key"},
      {"pk < :p", {}, v1, "Query key condition not supported"},
      {"pk = :s", {}, {{":s", N("1")}}, "One or more parameter values were invalid: Condition parameter type does not match schema type"},
      {"pk = :p AND sk = :p", {}, v1, "One or more parameter values were invalid: Condition parameter type does not match schema type"},
      {"pk = :p AND begins_with(sk, :s)", {}, v2, "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"},
      {"pk = :p AND sk BETWEEN :hi AND :lo", {}, {{":p", S("a")}, {":lo", N("1")}, {":hi", N("2")}},
       "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:2}, upper bound operand: AttributeValue: {N:1}"},
      {"pk = :e", {}, {{":e", S("")}}, "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk"},
      {"pk = pk", {}, {}, "Invalid KeyConditionExpression: A key condition must compare..."},
      {"pk.a = :p", {}, v1, "Invalid KeyConditionExpression: Key attribute names must be top-level..."},
      {"pk = :p AND " + std::string(5000, ' '), {}, v1, "Invalid KeyConditionExpression: Expression size has exceeded..."},
  };
  for (const auto& c : cases) {
    auto r = ParseKeyCondition(c.expression, c.names, c.values, StringNumberSchema());
    ASSERT_FALSE(r.ok()) << c.expression;
    EXPECT_EQ(r.status().code(), ErrorCode::kValidation) << c.expression;
    if (c.message.size() > 3 && c.message.substr(c.message.size() - 3) == "...") {
      EXPECT_EQ(r.status().message().substr(0, c.message.size() - 3), c.message.substr(0, c.message.size() - 3))
          << c.expression << " gave " << r.status().message();
    } else {
      EXPECT_EQ(r.status().message(), c.message) << c.expression;
    }
  }
}

TEST(KeyConditionTest, HashOnlyTableRejectsOtherAttributes) {
  KeySchemaInfo k;
  k.pk_name = "id";
  k.pk_type = AttributeType::kB;
  auto r = ParseKeyCondition("id = :p AND x = :s", {}, {{":p", AttributeValue::B("\x01")}, {":s", S("x")}}, k);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "Query key condition not supported");
  auto ok = ParseKeyCondition("id = :p", {}, {{":p", AttributeValue::B("\x01")}}, k);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_FALSE(ok->sk.has_value());
}

TEST(KeyConditionTest, DeeplyNestedParenthesesDoNotRecurse) {
  std::string e = std::string(2000, '(') + "pk = :p" + std::string(2000, ')');
  auto r = ParseKeyCondition(e, {}, {{":p", S("a")}}, StringNumberSchema());
  EXPECT_TRUE(r.ok()) << r.status().ToString();
}

TEST(TokenizerTest, SplitsAllTokenKinds) {
  auto t = Tokenize("a.b[1] <> #n, :v <= >= < > = ( ) + -", "UpdateExpression");
  ASSERT_TRUE(t.ok());
  std::vector<TokenKind> kinds;
  for (const auto& tok : *t) kinds.push_back(tok.kind);
  std::vector<TokenKind> want = {TokenKind::kIdentifier, TokenKind::kDot, TokenKind::kIdentifier,
                                 TokenKind::kLBracket, TokenKind::kNumber, TokenKind::kRBracket,
                                 TokenKind::kNe, TokenKind::kNameRef, TokenKind::kComma, TokenKind::kValueRef,
                                 TokenKind::kLe, TokenKind::kGe, TokenKind::kLt, TokenKind::kGt, TokenKind::kEq,
                                 TokenKind::kLParen, TokenKind::kRParen, TokenKind::kPlus, TokenKind::kMinus,
                                 TokenKind::kEnd};
  EXPECT_EQ(kinds, want);
  auto bad = Tokenize("a = #", "ConditionExpression");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "Invalid ConditionExpression: Syntax error; token: \"#\", near: \"= #\"");
}

}  // namespace
}  // namespace meridian
