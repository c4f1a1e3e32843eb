#include "storage/attribute_value.h"

#include <gtest/gtest.h>

#include <string>

namespace meridian {
namespace {

Decimal D(std::string_view s) { return Decimal::Parse(s).value(); }
AttributeValue N(std::string_view s) { return AttributeValue::N(D(s)); }

// A value whose own depth is `depth`: L(L(...(S "x"))).
AttributeValue NestedList(int depth) {
  AttributeValue v = AttributeValue::S("x");
  for (int i = 1; i < depth; ++i) v = AttributeValue::L({std::move(v)});
  return v;
}

AttributeValue NestedMap(int depth) {
  AttributeValue v = AttributeValue::S("x");
  for (int i = 1; i < depth; ++i) v = AttributeValue::M({{"k", std::move(v)}});
  return v;
}

TEST(AttributeTypeTest, NamesRoundTrip) {
  const char* names[] = {"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"};
  for (int i = 0; i < 10; ++i) {
    auto t = static_cast<AttributeType>(i);
    EXPECT_STREQ(AttributeTypeName(t), names[i]);
    AttributeType parsed;
    ASSERT_TRUE(ParseAttributeType(names[i], &parsed));
    EXPECT_EQ(parsed, t);
  }
  AttributeType t;
  EXPECT_FALSE(ParseAttributeType("s", &t));
  EXPECT_FALSE(ParseAttributeType("", &t));
  EXPECT_FALSE(ParseAttributeType("STRING", &t));
}

TEST(AttributeValueTest, ConstructorsAndAccessors) {
  EXPECT_EQ(AttributeValue::S("x").s(), "x");
  EXPECT_TRUE(AttributeValue::S("x").is(AttributeType::kS));
  EXPECT_EQ(N("1.50").n(), D("1.5"));
  EXPECT_EQ(AttributeValue::B(std::string("\0\1", 2)).b(), std::string("\0\1", 2));
  EXPECT_TRUE(AttributeValue::Bool(true).boolean());
  EXPECT_EQ(AttributeValue().type(), AttributeType::kNull);
  EXPECT_EQ(AttributeValue::NullValue(), AttributeValue());
  EXPECT_NE(AttributeValue::S("1"), N("1"));
  EXPECT_NE(AttributeValue::S("x"), AttributeValue::B("x"));
  EXPECT_EQ(AttributeValue::ParseN("1e2").value(), N("100"));
  EXPECT_EQ(AttributeValue::ParseN("x").status().code(), ErrorCode::kValidation);
}

TEST(AttributeValueTest, SetsAreSortedInTheirTypesOrder) {
  EXPECT_EQ(AttributeValue::SS({"b", "a", "ab"}).ss(), (std::vector<std::string>{"a", "ab", "b"}));
  // Numerically, not as text.
  auto ns = AttributeValue::NS({D("10"), D("9"), D("-1"), D("1.5")});
  EXPECT_EQ(ns.ns(), (std::vector<Decimal>{D("-1"), D("1.5"), D("9"), D("10")}));
  // Bytes compare unsigned... as std::string does: by char value.
  auto bs = AttributeValue::BS({"b", "a"});
  ASSERT_EQ(bs.bs().size(), 2u);
  EXPECT_EQ(bs.bs()[0].bytes, "a");
  // Order of construction does not matter for equality.
  EXPECT_EQ(AttributeValue::SS({"x", "y"}), AttributeValue::SS({"y", "x"}));
  EXPECT_EQ(AttributeValue::NS({D("2"), D("1")}), AttributeValue::NS({D("1"), D("2.0")}));
}

// Sizes follow https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
TEST(AttributeValueSizeTest, Scalars) {
  EXPECT_EQ(AttributeValueSize(AttributeValue::S("")), 0u);
  EXPECT_EQ(AttributeValueSize(AttributeValue::S("abc")), 3u);
  EXPECT_EQ(AttributeValueSize(AttributeValue::S("\xc3\xa9")), 2u);  // UTF-8 bytes, not characters
  EXPECT_EQ(AttributeValueSize(AttributeValue::B("")), 0u);
  EXPECT_EQ(AttributeValueSize(AttributeValue::B(std::string(4, '\0'))), 4u);
  EXPECT_EQ(AttributeValueSize(AttributeValue::Bool(false)), 1u);
  EXPECT_EQ(AttributeValueSize(AttributeValue::NullValue()), 1u);
}

TEST(AttributeValueSizeTest, NumbersCountSignificantDigits) {
  EXPECT_EQ(AttributeValueSize(N("0")), 1u);
  EXPECT_EQ(AttributeValueSize(N("1")), 2u);
  EXPECT_EQ(AttributeValueSize(N("12")), 2u);
  EXPECT_EQ(AttributeValueSize(N("123")), 3u);
  EXPECT_EQ(AttributeValueSize(N("1234")), 3u);
  EXPECT_EQ(AttributeValueSize(N("-1234")), 3u);
  EXPECT_EQ(AttributeValueSize(N("1.234")), 3u);
  // Leading and trailing zeros are trimmed before counting.
  EXPECT_EQ(AttributeValueSize(N("1000000")), 2u);
  EXPECT_EQ(AttributeValueSize(N("0.00012")), 2u);
  EXPECT_EQ(AttributeValueSize(N("1E+125")), 2u);
  EXPECT_EQ(AttributeValueSize(N(std::string(38, '9'))), 20u);
  EXPECT_EQ(AttributeValueSize(N(std::string(37, '9'))), 20u);
}

TEST(AttributeValueSizeTest, Documents) {
  EXPECT_EQ(AttributeValueSize(AttributeValue::M({})), 3u);
  EXPECT_EQ(AttributeValueSize(AttributeValue::L({})), 3u);
  // 3 + (1 + "a" + "xy")
  EXPECT_EQ(AttributeValueSize(AttributeValue::M({{"a", AttributeValue::S("xy")}})), 7u);
  // 3 + (1 + "x") + (1 + N"1")
  EXPECT_EQ(AttributeValueSize(AttributeValue::L({AttributeValue::S("x"), N("1")})), 8u);
  // Nested: outer 3 + (1 + "m" + inner(3 + (1 + "b" + BOOL 1))) = 3 + 1 + 1 + 6 = 11
  AttributeValue inner = AttributeValue::M({{"b", AttributeValue::Bool(true)}});
  EXPECT_EQ(AttributeValueSize(inner), 6u);
  EXPECT_EQ(AttributeValueSize(AttributeValue::M({{"m", inner}})), 11u);
  // A list inside a list: 3 + (1 + (3 + (1 + NULL 1))) = 9
  EXPECT_EQ(AttributeValueSize(AttributeValue::L({AttributeValue::L({AttributeValue::NullValue()})})), 9u);
}

TEST(AttributeValueSizeTest, SetsSumTheirMembers) {
  EXPECT_EQ(AttributeValueSize(AttributeValue::SS({"a", "bc"})), 3u);
  EXPECT_EQ(AttributeValueSize(AttributeValue::NS({D("1"), D("22"), D("333")})), 2u + 2u + 3u);
  EXPECT_EQ(AttributeValueSize(AttributeValue::BS({"abc", std::string(10, 'x')})), 13u);
}

TEST(AttributeValueSizeTest, ItemsCountNamesAndValues) {
  EXPECT_EQ(ItemSize({}), 0u);
  Item item = {{"pk", AttributeValue::S("abc")}, {"n", N("12")}};
  EXPECT_EQ(ItemSize(item), 2u + 3u + 1u + 2u);
  Item big = {{"data", AttributeValue::B(std::string(kMaxItemSizeBytes - 4, 'x'))}};
  EXPECT_EQ(ItemSize(big), kMaxItemSizeBytes);
}

TEST(ValidateAttributeValueTest, AcceptsOrdinaryValues) {
  for (const auto& v : {AttributeValue::S(""), N("1"), AttributeValue::B(""), AttributeValue::Bool(true),
                        AttributeValue::NullValue(), AttributeValue::M({}), AttributeValue::L({}),
                        AttributeValue::SS({"a"}), AttributeValue::NS({D("1"), D("2")}),
                        AttributeValue::BS({"a", "b"})}) {
    EXPECT_TRUE(ValidateAttributeValue(v).ok()) << AttributeTypeName(v.type());
  }
}

TEST(ValidateAttributeValueTest, RefusesEmptySets) {
  Status s = ValidateAttributeValue(AttributeValue::SS({}));
  EXPECT_EQ(s.code(), ErrorCode::kValidation);
  EXPECT_EQ(s.message(), "One or more parameter values were invalid: An string set  may not be empty");
  EXPECT_EQ(ValidateAttributeValue(AttributeValue::NS({})).message(),
            "One or more parameter values were invalid: An number set  may not be empty");
  EXPECT_EQ(ValidateAttributeValue(AttributeValue::BS({})).message(),
            "One or more parameter values were invalid: An binary set  may not be empty");
  // Also inside documents.
  EXPECT_EQ(ValidateAttributeValue(AttributeValue::L({AttributeValue::M({{"s", AttributeValue::SS({})}})})).code(),
            ErrorCode::kValidation);
}

TEST(ValidateAttributeValueTest, RefusesDuplicateMembers) {
  constexpr char kDuplicates[] =
      "One or more parameter values were invalid: Input collection contains duplicates";
  EXPECT_EQ(ValidateAttributeValue(AttributeValue::SS({"a", "b", "a"})).message(), kDuplicates);
  EXPECT_EQ(ValidateAttributeValue(AttributeValue::BS({"x", "x"})).message(), kDuplicates);
  EXPECT_EQ(ValidateAttributeValue(AttributeValue::NS({D("2"), D("2")})).message(), kDuplicates);
  // Numerically equal spellings are the same member.
  EXPECT_EQ(ValidateAttributeValue(AttributeValue::NS({D("1"), D("1.0")})).message(), kDuplicates);
  EXPECT_EQ(ValidateAttributeValue(AttributeValue::NS({D("100"), D("1E+2"), D("3")})).message(), kDuplicates);
  // Distinct values are fine, including strings that differ only in case or binary that differs
  // by a byte.
  EXPECT_TRUE(ValidateAttributeValue(AttributeValue::SS({"a", "A"})).ok());
  EXPECT_TRUE(ValidateAttributeValue(AttributeValue::BS({std::string(1, '\0'), std::string(2, '\0')})).ok());
  EXPECT_TRUE(ValidateAttributeValue(AttributeValue::NS({D("1"), D("1.0000000000000000000000000000000000001")})).ok());
}

TEST(ValidateAttributeValueTest, NestingLimit) {
  EXPECT_TRUE(ValidateAttributeValue(NestedList(kMaxNestingDepth)).ok());
  EXPECT_TRUE(ValidateAttributeValue(NestedMap(kMaxNestingDepth)).ok());
  for (const auto& v : {NestedList(kMaxNestingDepth + 1), NestedMap(kMaxNestingDepth + 1)}) {
    Status s = ValidateAttributeValue(v);
    EXPECT_EQ(s.code(), ErrorCode::kValidation);
    EXPECT_EQ(s.message(), "Nesting Levels have exceeded supported limits");
  }
  // `depth` is where the value sits: one level deeper leaves one level less.
  EXPECT_TRUE(ValidateAttributeValue(NestedList(kMaxNestingDepth - 1), 2).ok());
  EXPECT_FALSE(ValidateAttributeValue(NestedList(kMaxNestingDepth), 2).ok());
  // Empty containers at the limit count as a level themselves.
  AttributeValue v = AttributeValue::L({});
  for (int i = 1; i < kMaxNestingDepth; ++i) v = AttributeValue::L({v});
  EXPECT_TRUE(ValidateAttributeValue(v).ok());
  EXPECT_FALSE(ValidateAttributeValue(AttributeValue::L({v})).ok());
}

}  // namespace
}  // namespace meridian

namespace meridian {
namespace {

TEST(Utf8Test, WellFormedOnly) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("Arvo P\xc3\xa4rt \xe2\x82\xac \xf0\x9f\x8e\xb5"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_EQ(ValidateAttributeValue(AttributeValue::S("\xff")).code(), ErrorCode::kValidation);
  EXPECT_EQ(ValidateAttributeValue(AttributeValue::SS({"ok", "\xff"})).code(), ErrorCode::kValidation);
  EXPECT_EQ(ValidateAttributeValue(AttributeValue::M({{"\xff", AttributeValue::S("v")}})).code(),
            ErrorCode::kValidation);
  EXPECT_TRUE(ValidateAttributeValue(AttributeValue::B("\xff")).ok());  // binary is bytes
}

}  // namespace
}  // namespace meridian
