// ConditionExpression / FilterExpression: parsing, validation and evaluation, table-driven against
// the developer guide's operator and function reference
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.OperatorsAndFunctions.html).
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <thread>

#include "storage/expression.h"
#include "storage/expression_test_values.h"

namespace meridian::expr {
namespace {

using namespace ::meridian::testing_values;  // NOLINT: S(), N(), ... builders

const Item& TestItem() {
  static const Item kItem = {
      {"pk", S("p1")},
      {"n", N("5")},
      {"s", S("hello")},
      {"b", B(std::string("\x01\x02\xff", 3))},
      {"t", AttributeValue::Bool(true)},
      {"z", AttributeValue::NullValue()},
      {"l", L({N("1"), S("two"), M({{"x", N("3")}})})},
      {"m", M({{"a", N("1")}, {"b", M({{"c", S("deep")}})}, {"lst", L({S("x")})}})},
      {"ss", SS({"a", "b"})},
      {"ns", NS({"1", "2"})},
      {"bs", BS({std::string("\x01", 1)})},
      {"big", N("12345678901234567890123456789012345678")},
      {"status", S("active")},
      {"u", S("\xc3\xa9t\xc3\xa9")},  // "été": 3 characters, 5 bytes
  };
  return kItem;
}

const ExpressionAttributeNames& TestNames() {
  static const ExpressionAttributeNames kNames = {{"#st", "status"}, {"#b", "b"}, {"#m", "m"}};
  return kNames;
}

const ExpressionAttributeValues& TestValues() {
  static const ExpressionAttributeValues kValues = {
      {":zero", N("0")}, {":one", N("1")}, {":two", N("2")}, {":three", N("3")}, {":four", N("4")},
      {":five", N("5")}, {":fivezero", N("5.00")}, {":six", N("6")}, {":seven", N("7")},
      {":big", N("12345678901234567890123456789012345678")},
      {":bigless", N("12345678901234567890123456789012345677")},
      {":hello", S("hello")}, {":he", S("he")}, {":ell", S("ell")}, {":hi", S("hi")},
      {":a", S("a")}, {":c", S("c")}, {":z", S("z")}, {":x", S("x")}, {":twos", S("two")},
      {":deep", S("deep")}, {":active", S("active")}, {":eacute", S("\xc3\xa9")},
      {":b1", B(std::string("\x01", 1))}, {":bff", B(std::string("\xff", 1))},
      {":N", S("N")}, {":S", S("S")}, {":SS", S("SS")}, {":NULL", S("NULL")}, {":BOOL", S("BOOL")},
      {":XX", S("XX")}, {":mcopy", M({{"a", N("1")}, {"b", M({{"c", S("deep")}})}, {"lst", L({S("x")})}})},
      {":list", L({N("1")})}, {":elem", M({{"x", N("3")}})},
  };
  return kValues;
}

Bindings TestBindings() { return Bindings{TestNames(), TestValues()}; }

// Parses, validates and evaluates; the Status of the first failing step.
Result<bool> RunExpr(std::string_view text, const Item& item = TestItem(), Kind kind = Kind::kCondition) {
  MERIDIAN_ASSIGN_OR_RETURN(std::shared_ptr<const Condition> c, ParseCondition(text, kind));
  MERIDIAN_RETURN_IF_ERROR(Validate(*c, TestBindings()));
  return Evaluate(*c, item, TestBindings());
}

struct EvalCase {
  const char* text;
  bool expected;
};

class ConditionEvalTest : public testing::TestWithParam<EvalCase> {};

TEST_P(ConditionEvalTest, Evaluates) {
  const EvalCase& c = GetParam();
  Result<bool> r = RunExpr(c.text);
  ASSERT_TRUE(r.ok()) << c.text << ": " << r.status().ToString();
  EXPECT_EQ(*r, c.expected) << c.text;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ConditionEvalTest,
    testing::Values(
        // Comparators on numbers: exact decimal comparison.
        EvalCase{"n = :five", true}, EvalCase{"n = :fivezero", true}, EvalCase{"n <> :five", false},
        EvalCase{"n < :six", true}, EvalCase{"n <= :five", true}, EvalCase{"n > :four", true},
        EvalCase{"n >= :six", false}, EvalCase{":six > n", true},
        EvalCase{"big = :big", true}, EvalCase{"big > :bigless", true}, EvalCase{"big < :bigless", false},
        // Different types: = < > are false, <> is true; a absent attribute likewise.
        EvalCase{"s = :five", false}, EvalCase{"s <> :five", true}, EvalCase{"s < :five", false},
        EvalCase{"absent = :five", false}, EvalCase{"absent <> :five", true},
        EvalCase{"absent < :five", false}, EvalCase{"absent >= :five", false},
        // Strings by UTF-8 bytes, binaries by unsigned bytes.
        EvalCase{"s < :hi", true}, EvalCase{":eacute > :z", true}, EvalCase{"b > :b1", true},
        EvalCase{"b < :bff", true},
        // Non-scalar types: equality is deep, ordering is false.
        EvalCase{"m = :mcopy", true}, EvalCase{"m <> :mcopy", false}, EvalCase{"l < :list", false},
        EvalCase{"l[2] = :elem", true},
        // BETWEEN and IN.
        EvalCase{"n BETWEEN :four AND :six", true}, EvalCase{"n BETWEEN :five AND :five", true},
        EvalCase{"n BETWEEN :six AND :seven", false}, EvalCase{"s BETWEEN :a AND :z", true},
        EvalCase{"absent BETWEEN :four AND :six", false}, EvalCase{"s BETWEEN :four AND :six", false},
        EvalCase{"n IN (:four, :five)", true}, EvalCase{"n IN (:four, :six)", false},
        EvalCase{"s IN (:hello)", true}, EvalCase{"absent IN (:hello)", false},
        // Logical operators and precedence: comparisons > NOT > AND > OR.
        EvalCase{"n = :five AND s = :hello", true}, EvalCase{"n = :four OR s = :hello", true},
        EvalCase{"NOT n = :four", true}, EvalCase{"NOT n = :five OR s = :hello", true},
        EvalCase{"NOT (n = :five OR s = :hello)", false},
        EvalCase{"n = :four AND s = :hello OR n = :five", true},
        EvalCase{"n = :five OR s = :x AND n = :four", true},
        EvalCase{"n = :four OR n = :five AND s = :x", false},
        EvalCase{"NOT NOT n = :five", true},
        EvalCase{"(n = :four OR n = :five) AND s = :hello", true},
        EvalCase{"(n = :five)", true}, EvalCase{"(n) = :five", true}, EvalCase{"n = (:five)", true},
        EvalCase{"n between :four and :six", true}, EvalCase{"not n = :four", true},
        EvalCase{"n in (:five)", true},
        // Functions.
        EvalCase{"attribute_exists(n)", true}, EvalCase{"attribute_exists(absent)", false},
        EvalCase{"attribute_not_exists(absent)", true}, EvalCase{"attribute_not_exists(n)", false},
        EvalCase{"attribute_exists(m.b.c)", true}, EvalCase{"attribute_exists(l[2].x)", true},
        EvalCase{"attribute_exists(l[3])", false}, EvalCase{"attribute_exists(s.x)", false},
        EvalCase{"attribute_exists(m[0])", false},
        EvalCase{"attribute_type(n, :N)", true}, EvalCase{"attribute_type(ss, :SS)", true},
        EvalCase{"attribute_type(z, :NULL)", true}, EvalCase{"attribute_type(t, :BOOL)", true},
        EvalCase{"attribute_type(n, :S)", false}, EvalCase{"attribute_type(absent, :S)", false},
        EvalCase{"begins_with(s, :he)", true}, EvalCase{"begins_with(s, :ell)", false},
        EvalCase{"begins_with(b, :b1)", true}, EvalCase{"begins_with(n, :he)", false},
        EvalCase{"contains(s, :ell)", true}, EvalCase{"contains(s, :z)", false},
        EvalCase{"contains(ss, :a)", true}, EvalCase{"contains(ss, :c)", false},
        EvalCase{"contains(ns, :one)", true}, EvalCase{"contains(ns, :three)", false},
        EvalCase{"contains(l, :twos)", true}, EvalCase{"contains(l, :elem)", true},
        EvalCase{"contains(l, :three)", false}, EvalCase{"contains(bs, :b1)", true},
        EvalCase{"contains(n, :five)", false}, EvalCase{"contains(absent, :a)", false},
        EvalCase{"NOT contains(ss, :c)", true},
        // size(): S in characters, B in bytes, collections by element count; none for N.
        EvalCase{"size(s) = :five", true}, EvalCase{"size(u) = :three", true},
        EvalCase{"size(b) = :three", true}, EvalCase{"size(l) = :three", true},
        EvalCase{"size(m) = :three", true}, EvalCase{"size(ss) = :two", true},
        EvalCase{"size(m.lst) = :one", true}, EvalCase{"n = size(s)", true},
        EvalCase{"size(n) > :zero", false}, EvalCase{"size(absent) < :five", false},
        EvalCase{"size(s) BETWEEN :four AND :six", true},
        // Names: placeholders anywhere in a path.
        EvalCase{"#st = :active", true}, EvalCase{"#m.#b.c = :deep", true}, EvalCase{"m.lst[0] = :x", true},
        EvalCase{"m.#b.c = :deep", true}));

TEST(ConditionEval, EmptyItemMeansNoAttributes) {
  Item none;
  EXPECT_TRUE(*RunExpr("attribute_not_exists(pk)", none));
  EXPECT_FALSE(*RunExpr("pk = :one", none));
  EXPECT_TRUE(*RunExpr("pk <> :one", none));
}

struct ErrorCase {
  std::string text;
  std::string message;  // the whole message
};

class ConditionErrorTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(ConditionErrorTest, Fails) {
  const ErrorCase& c = GetParam();
  Result<bool> r = RunExpr(c.text);
  ASSERT_FALSE(r.ok()) << c.text;
  EXPECT_EQ(r.status().code(), ErrorCode::kValidation);
  EXPECT_EQ(r.status().message(), c.message) << c.text;
}

const std::string P = "Invalid ConditionExpression: ";

INSTANTIATE_TEST_SUITE_P(
    Table, ConditionErrorTest,
    testing::Values(
        ErrorCase{"", P + "The expression can not be empty;"},
        ErrorCase{"n =", P + "Syntax error; token: \"<EOF>\", near: \"=\""},
        ErrorCase{"n = :five extra", P + "Syntax error; token: \"extra\", near: \":five extra\""},
        ErrorCase{"n = 5", P + "Syntax error; token: \"5\", near: \"= 5\""},
        ErrorCase{"n", P + "Syntax error; token: \"<EOF>\", near: \"n\""},
        ErrorCase{"n = :five AND", P + "Syntax error; token: \"<EOF>\", near: \"AND\""},
        ErrorCase{"n = :one = :two", P + "Syntax error; token: \"=\", near: \":one =\""},
        ErrorCase{"l[-1] = :five", P + "Syntax error; token: \"-\", near: \"[-\""},
        ErrorCase{"n BETWEEN :one", P + "Syntax error; token: \"<EOF>\", near: \":one\""},
        ErrorCase{"n IN ()", P + "Syntax error; token: \")\", near: \"()\""},
        ErrorCase{"n = :five $", P + "Syntax error; token: \"$\", near: \":five $\""},
        ErrorCase{"size = :five", P + "Attribute name is a reserved keyword; reserved keyword: size"},
        ErrorCase{"m.Status = :five", P + "Attribute name is a reserved keyword; reserved keyword: Status"},
        ErrorCase{"#undefined = :five",
                  P + "An expression attribute name used in the document path is not defined; attribute name: "
                      "#undefined"},
        ErrorCase{"n = :undefined",
                  P + "An expression attribute value used in expression is not defined; attribute value: "
                      ":undefined"},
        ErrorCase{"foo(n)", P + "Invalid function name; function: foo"},
        ErrorCase{"begins_with(n)",
                  P + "Incorrect number of operands for operator or function; operator or function: begins_with, "
                      "number of operands: 1"},
        ErrorCase{"attribute_exists(:five)",
                  P + "Operator or function requires a document path; operator or function: attribute_exists"},
        ErrorCase{"attribute_type(n, :XX)",
                  P + "Invalid attribute type name found; type: XX, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}"},
        ErrorCase{"attribute_type(n, :five)",
                  P + "Incorrect operand type for operator or function; operator or function: attribute_type, "
                      "operand type: N"},
        ErrorCase{"begins_with(s, :five)",
                  P + "Incorrect operand type for operator or function; operator or function: begins_with, "
                      "operand type: N"},
        ErrorCase{"size(:five) = :one",
                  P + "Incorrect operand type for operator or function; operator or function: size, operand "
                      "type: N"},
        ErrorCase{"n BETWEEN :six AND :four",
                  P + "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; "
                      "lower bound operand: AttributeValue: {N:6}, upper bound operand: AttributeValue: {N:4}"},
        ErrorCase{"n BETWEEN :four AND :hello",
                  P + "The BETWEEN operator requires same data type for lower and upper bounds; lower bound "
                      "operand: AttributeValue: {N:4}, upper bound operand: AttributeValue: {S:hello}"},
        ErrorCase{"((n = :five))", P + "The expression has redundant parentheses;"},
        ErrorCase{"((n)) = :five", P + "The expression has redundant parentheses;"},
        ErrorCase{"size(s)", P + "The function is not allowed to be used this way in an expression; function: size"},
        ErrorCase{"attribute_exists(n) = :five",
                  P + "The function is not allowed to be used this way in an expression; function: "
                      "attribute_exists"},
        ErrorCase{"contains(attribute_exists(n), :a)",
                  P + "The function is not allowed to be used this way in an expression; function: "
                      "attribute_exists"},
        ErrorCase{"n = n",
                  P + "The first operand must be distinct from the remaining operands for this operator or "
                      "function; operator: =, first operand: [n]"},
        ErrorCase{"contains(m.a, m.a)",
                  P + "The first operand must be distinct from the remaining operands for this operator or "
                      "function; operator: contains, first operand: [m, a]"},
        // A syntax error anywhere wins over a semantic error earlier in the text.
        ErrorCase{"size = :five AND", P + "Syntax error; token: \"<EOF>\", near: \"AND\""}));

TEST(ConditionLimits, InOperands) {
  std::string ok = "n IN (:one";
  for (int i = 1; i < kMaxInOperands; ++i) ok += ", :one";
  EXPECT_TRUE(RunExpr(ok + ")").ok());
  Result<bool> r = RunExpr(ok + ", :one)");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), P + "The IN operator has too many operands; maximum: 100");
}

TEST(ConditionLimits, Nesting) {
  std::string deep = std::string(kMaxExpressionNesting, '(') + "n = :five" + std::string(kMaxExpressionNesting, ')');
  // Within the bound, only the redundant-parentheses rule applies.
  EXPECT_EQ(RunExpr(deep).status().message(), P + "The expression has redundant parentheses;");
  std::string deeper = "(" + deep + ")";
  EXPECT_EQ(RunExpr(deeper).status().message(), P + "The expression has too many nesting levels; maximum: 64");
  std::string nots;
  for (int i = 0; i < 200; ++i) nots += "NOT ";
  EXPECT_EQ(RunExpr(nots + "n = :five").status().message(),
            P + "The expression has too many nesting levels; maximum: 64");
}

TEST(ConditionLimits, Operators) {
  std::string text = "n = :five";
  for (int i = 1; i < 150; ++i) text += " AND n = :five";
  EXPECT_TRUE(RunExpr(text).ok()) << RunExpr(text).status().ToString();  // 299 operators
  text += " AND n = :five";                                       // 301
  EXPECT_EQ(RunExpr(text).status().message(), P + "The expression contains too many operators; maximum: 300");
}

TEST(ConditionLimits, ExpressionSizeAndPathDepth) {
  std::string big = "n = :five" + std::string(kMaxExpressionBytes, ' ');
  Result<bool> r = RunExpr(big);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("Expression size has exceeded the maximum allowed size"), std::string::npos);
  std::string path = "a";
  for (int i = 1; i < kMaxPathDepth; ++i) path += ".a";
  EXPECT_TRUE(RunExpr("attribute_exists(" + path + ")").ok());
  EXPECT_EQ(RunExpr("attribute_exists(" + path + ".a)").status().message(),
            P + "The document path has too many nesting levels; nesting levels: 33");
}

TEST(ConditionParse, KindNamesThePrefix) {
  Result<std::shared_ptr<const Condition>> r = ParseCondition("n =", Kind::kFilter);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("Invalid FilterExpression: Syntax error;", 0), 0u);
}

TEST(ConditionParse, RecordsPlaceholders) {
  auto c = ParseCondition("#st = :a AND (#st = :b OR m.#m = :a)", Kind::kCondition).value();
  EXPECT_EQ(c->name_refs, (std::vector<std::string>{"#m", "#st"}));
  EXPECT_EQ(c->value_refs, (std::vector<std::string>{":a", ":b"}));
}

TEST(Placeholders, UnusedAcrossExpressions) {
  ExpressionAttributeNames names = {{"#a", "a"}, {"#b", "b"}, {"#c", "c"}};
  ExpressionAttributeValues values = {{":x", N("1")}, {":y", N("2")}};
  Bindings b{names, values};
  auto cond = ParseCondition("#a = :x", Kind::kCondition).value();
  auto proj = ParseProjection("#b").value();
  const ParsedExpression* both[] = {cond.get(), proj.get()};
  EXPECT_EQ(CheckPlaceholdersUsed(both, b).message(),
            "Value provided in ExpressionAttributeNames unused in expressions: keys: {#c}");
  names.erase("#c");
  EXPECT_EQ(CheckPlaceholdersUsed(both, b).message(),
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:y}");
  values.erase(":y");
  EXPECT_TRUE(CheckPlaceholdersUsed(both, b).ok());
  names["#d"] = "d";
  names["#e"] = "e";
  const ParsedExpression* with_null[] = {cond.get(), nullptr, proj.get()};
  EXPECT_EQ(CheckPlaceholdersUsed(with_null, b).message(),
            "Value provided in ExpressionAttributeNames unused in expressions: keys: {#d, #e}");
}

TEST(Placeholders, SizeLimits) {
  ExpressionAttributeValues values;
  ExpressionAttributeNames names = {{"#" + std::string(254, 'a'), "a"}};
  auto c = ParseCondition("#" + std::string(254, 'a') + " = :x", Kind::kCondition);
  ASSERT_TRUE(c.ok());
  const ParsedExpression* one[] = {c->get()};
  EXPECT_TRUE(CheckPlaceholdersUsed(one, Bindings{names, values}).ok());  // 255 bytes with the '#'
  names = {{"#" + std::string(255, 'a'), "a"}};
  EXPECT_EQ(CheckPlaceholdersUsed(one, Bindings{names, values}).message().rfind(
                "ExpressionAttributeNames contains invalid key: longer than 255 bytes", 0),
            0u);
  names.clear();
  values = {{":x", AttributeValue::S(std::string(2 * 1024 * 1024, 'v'))}};
  EXPECT_EQ(CheckPlaceholdersUsed(one, Bindings{names, values}).message(),
            "The total size of ExpressionAttributeNames and ExpressionAttributeValues exceeds 2 MB");
}

TEST(KeyCondition, ParsesWithTheSameParser) {
  auto ok = ParseCondition("pk = :one AND begins_with(#st, :a)", Kind::kKeyCondition).value();
  Result<std::vector<std::string>> keys = CheckKeyConditionShape(*ok, TestBindings());
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(*keys, (std::vector<std::string>{"pk", "status"}));
  struct Case {
    const char* text;
    const char* message;
  };
  for (const Case& c : {
           Case{"pk = :one OR sk = :two", "Invalid operator used in KeyConditionExpression: OR"},
           Case{"NOT pk = :one", "Invalid operator used in KeyConditionExpression: NOT"},
           Case{"pk = :one AND sk <> :two", "Invalid operator used in KeyConditionExpression: <>"},
           Case{"pk IN (:one)", "Invalid operator used in KeyConditionExpression: IN"},
           Case{"pk = :one AND attribute_exists(sk)",
                "Invalid operator used in KeyConditionExpression: attribute_exists"},
           Case{"pk = :one AND pk = :two", "KeyConditionExpressions must only contain one condition per key"},
           Case{"pk.x = :one", "KeyConditionExpressions cannot have conditions on nested attributes"},
           Case{"pk = sk", "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition"},
           Case{":one = :two", "Invalid condition in KeyConditionExpression: No key attribute specified"},
           Case{"pk = :one AND size(sk) = :two", "KeyConditionExpressions cannot contain nested operations"},
       }) {
    auto parsed = ParseCondition(c.text, Kind::kKeyCondition);
    ASSERT_TRUE(parsed.ok()) << c.text << parsed.status().ToString();
    EXPECT_EQ(CheckKeyConditionShape(**parsed, TestBindings()).status().message(), c.message) << c.text;
  }
}

TEST(Cache, HitsMissesAndEviction) {
  ExpressionCache cache(2);
  auto a1 = cache.GetCondition("n = :one", Kind::kCondition).value();
  auto a2 = cache.GetCondition("n = :one", Kind::kCondition).value();
  EXPECT_EQ(a1.get(), a2.get());
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 1u);
  // Same text, another kind: another entry (the messages differ).
  auto f = cache.GetCondition("n = :one", Kind::kFilter).value();
  EXPECT_NE(f.get(), a1.get());
  EXPECT_EQ(f->kind, Kind::kFilter);
  EXPECT_TRUE(cache.GetProjection("a, b").ok());
  EXPECT_EQ(cache.size(), 2u);
  // Failures are not cached.
  EXPECT_FALSE(cache.GetUpdate("SET").ok());
  EXPECT_EQ(cache.size(), 2u);
}

TEST(Cache, ConcurrentReaders) {
  ExpressionCache cache(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      for (int i = 0; i < 500; ++i) {
        std::string text = "n = :v" + std::to_string((i + t) % 16);
        auto c = cache.GetCondition(text, Kind::kCondition);
        ASSERT_TRUE(c.ok());
        ASSERT_EQ((*c)->value_refs.size(), 1u);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_LE(cache.size(), 8u);
  EXPECT_EQ(cache.hits() + cache.misses(), 2000u);
}

// Random well-formed conditions: NOT flips the result, (E) AND (E) and (E) OR (E) keep it.
uint64_t Seed() {
  const char* env = std::getenv("MERIDIAN_SEED");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : std::random_device{}();
}

std::string RandomCondition(std::mt19937_64& rng, int depth) {
  static const char* kAtoms[] = {
      "n = :five", "n < :four", "s BETWEEN :a AND :z", "contains(ss, :a)", "attribute_exists(m.b.c)",
      "size(l) >= :three", "n IN (:one, :five)", "begins_with(s, :ell)", "#st <> :active", "absent = :one",
  };
  int choice = depth >= 4 ? 0 : static_cast<int>(rng() % 4);
  switch (choice) {
    case 0: return kAtoms[rng() % std::size(kAtoms)];
    case 1: return "NOT (" + RandomCondition(rng, depth + 1) + ")";
    case 2: return "(" + RandomCondition(rng, depth + 1) + ") AND (" + RandomCondition(rng, depth + 1) + ")";
    default: return "(" + RandomCondition(rng, depth + 1) + ") OR (" + RandomCondition(rng, depth + 1) + ")";
  }
}

TEST(ConditionProperty, RandomExpressions) {
  uint64_t seed = Seed();
  std::cout << "seed=" << seed << std::endl;
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 300; ++i) {
    std::string e = RandomCondition(rng, 0);
    Result<bool> r = RunExpr(e);
    ASSERT_TRUE(r.ok()) << "seed=" << seed << " " << e << ": " << r.status().ToString();
    Result<bool> negated = RunExpr("NOT (" + e + ")");
    ASSERT_TRUE(negated.ok()) << "seed=" << seed << " " << e;
    EXPECT_EQ(*negated, !*r) << "seed=" << seed << " " << e;
    EXPECT_EQ(*RunExpr("(" + e + ") AND (" + e + ")"), *r) << "seed=" << seed << " " << e;
    EXPECT_EQ(*RunExpr("(" + e + ") OR (" + e + ")"), *r) << "seed=" << seed << " " << e;
  }
}

}  // namespace
}  // namespace meridian::expr
