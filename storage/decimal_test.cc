#include "storage/decimal.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

namespace meridian {
namespace {

constexpr char kBadNumber[] = "A value provided cannot be converted into a number";
constexpr char kOverflow[] =
    "Number overflow. Attempting to store a number with magnitude larger than supported range";
constexpr char kUnderflow[] =
    "Number underflow. Attempting to store a number with magnitude smaller than supported range";
constexpr char kTooPrecise[] = "Attempting to store more than 38 significant digits in a Number";

Decimal D(std::string_view s) {
  auto r = Decimal::Parse(s);
  EXPECT_TRUE(r.ok()) << s << ": " << r.status().ToString();
  return r.ok() ? *r : Decimal();
}

std::string Canon(std::string_view s) { return D(s).ToString(); }

void ExpectRefused(std::string_view text, const char* message) {
  auto r = Decimal::Parse(text);
  ASSERT_FALSE(r.ok()) << "'" << text << "' parsed as " << r->ToString();
  EXPECT_EQ(r.status().code(), ErrorCode::kValidation);
  EXPECT_EQ(r.status().message(), message) << "'" << text << "'";
}

std::string Sum(std::string_view a, std::string_view b) {
  auto r = Decimal::Add(D(a), D(b));
  return r.ok() ? r->ToString() : r.status().ToString();
}

std::string Difference(std::string_view a, std::string_view b) {
  auto r = Decimal::Subtract(D(a), D(b));
  return r.ok() ? r->ToString() : r.status().ToString();
}

const std::string k38Nines(38, '9');
const std::string kMax = "9.9999999999999999999999999999999999999E+125";

TEST(DecimalTest, ParsesEverySyntaxForm) {
  EXPECT_EQ(Canon("0"), "0");
  EXPECT_EQ(Canon("7"), "7");
  EXPECT_EQ(Canon("+7"), "7");
  EXPECT_EQ(Canon("-7"), "-7");
  EXPECT_EQ(Canon("007"), "7");
  EXPECT_EQ(Canon("1.5"), "1.5");
  EXPECT_EQ(Canon(".5"), "0.5");
  EXPECT_EQ(Canon("5."), "5");
  EXPECT_EQ(Canon("-.5"), "-0.5");
  EXPECT_EQ(Canon("1e2"), "100");
  EXPECT_EQ(Canon("1E2"), "100");
  EXPECT_EQ(Canon("1E+2"), "100");
  EXPECT_EQ(Canon("1e-2"), "0.01");
  EXPECT_EQ(Canon("1.5e1"), "15");
  EXPECT_EQ(Canon(".5E1"), "5");
  EXPECT_EQ(Canon("5.E-1"), "0.5");
  EXPECT_EQ(Canon("-1.25E+002"), "-125");
  EXPECT_EQ(Canon("12345.6789e-3"), "12.3456789");
}

TEST(DecimalTest, RefusesBadSyntax) {
  for (const char* text : {"", "abc", "1e", "1e+", "1e-", ".", "-", "+", "--1", "+-1", " 1", "1 ",
                           "0x10", "Infinity", "-Infinity", "NaN", "inf", "1..2", "1.2.3", "1e1.5",
                           "1e1e1", "e5", ".e5", "1,000", "1_000", "١"}) {
    SCOPED_TRACE(text);
    ExpectRefused(text, kBadNumber);
  }
  ExpectRefused(std::string_view("1\0", 2), kBadNumber);
  ExpectRefused(std::string(Decimal::kMaxTextLength + 1, '1'), kBadNumber);
}

TEST(DecimalTest, PrintsCanonically) {
  EXPECT_EQ(Canon("1E+2"), "100");
  EXPECT_EQ(Canon("0.50"), "0.5");
  EXPECT_EQ(Canon("-0"), "0");
  EXPECT_EQ(Canon("-0.000e5"), "0");
  EXPECT_EQ(Canon("0e999999999999999999"), "0");
  EXPECT_EQ(Canon("000.000"), "0");
  EXPECT_EQ(Canon("0.000123"), "0.000123");
  EXPECT_EQ(Canon("1.23e-4"), "0.000123");
  EXPECT_EQ(Canon("100.00"), "100");
  EXPECT_EQ(Canon("1e-130"), "0." + std::string(129, '0') + "1");
  EXPECT_EQ(Canon(kMax), k38Nines + std::string(88, '0'));
  EXPECT_EQ(Canon("-" + kMax), "-" + k38Nines + std::string(88, '0'));
  // Canonical text parses back to the same value.
  for (const char* text : {"1e-130", "9.9999999999999999999999999999999999999E+125", "0.000123", "-42.5"}) {
    EXPECT_EQ(D(D(text).ToString()), D(text));
  }
}

TEST(DecimalTest, KeepsOneRepresentationPerValue) {
  EXPECT_EQ(D("1"), D("1.0"));
  EXPECT_EQ(D("1"), D("0.1e1"));
  EXPECT_EQ(D("100"), D("1e2"));
  EXPECT_EQ(D("0"), D("-0"));
  EXPECT_FALSE(D("-0").is_negative());
  EXPECT_EQ(D("1.50").digits(), "15");
  EXPECT_EQ(D("1.50").exponent(), -1);
  EXPECT_EQ(D("1.50").adjusted_exponent(), 0);
  EXPECT_EQ(D("1200").digits(), "12");
  EXPECT_EQ(D("1200").exponent(), 2);
  EXPECT_TRUE(D("0").digits().empty());
}

TEST(DecimalTest, CountsSignificantDigitsOnly) {
  std::string digits38 = "12345678901234567890123456789012345678";
  EXPECT_EQ(Canon(digits38), digits38);
  ExpectRefused(digits38 + "9", kTooPrecise);
  ExpectRefused("1." + digits38, kTooPrecise);
  // Leading and trailing zeros do not count.
  EXPECT_EQ(Canon("000" + digits38 + "000"), digits38 + "000");
  EXPECT_EQ(Canon("0.000" + digits38), "0.000" + digits38);
  EXPECT_EQ(Canon(digits38 + ".000000"), digits38);
  EXPECT_EQ(Canon("1E+100"), "1" + std::string(100, '0'));
  EXPECT_EQ(Canon("1" + std::string(100, '0')), "1" + std::string(100, '0'));
}

TEST(DecimalTest, RefusesOverflowAndUnderflow) {
  ExpectRefused("1E+126", kOverflow);
  ExpectRefused("-1E+126", kOverflow);
  ExpectRefused("10E+125", kOverflow);
  ExpectRefused("1E+999999999999999999999", kOverflow);
  EXPECT_EQ(Canon("1E+125"), "1" + std::string(125, '0'));
  ExpectRefused("1E-131", kUnderflow);
  ExpectRefused("-0.1E-130", kUnderflow);
  ExpectRefused("1E-999999999999999999999", kUnderflow);
  EXPECT_TRUE(Decimal::Parse("1E-130").ok());
  EXPECT_TRUE(Decimal::Parse("1.5E-130").ok());
}

TEST(DecimalTest, FromInt64) {
  EXPECT_EQ(Decimal::FromInt64(0).ToString(), "0");
  EXPECT_EQ(Decimal::FromInt64(-1).ToString(), "-1");
  EXPECT_EQ(Decimal::FromInt64(1000).ToString(), "1000");
  EXPECT_EQ(Decimal::FromInt64(INT64_MAX).ToString(), "9223372036854775807");
  EXPECT_EQ(Decimal::FromInt64(INT64_MIN).ToString(), "-9223372036854775808");
  EXPECT_EQ(Decimal::FromInt64(1000), D("1e3"));
}

TEST(DecimalTest, Compares) {
  std::vector<std::string> ascending = {"-" + kMax, "-1E+100", "-100", "-12", "-1.5", "-1", "-0.5",
                                        "-1e-130", "0", "1e-130", "0.000123", "0.5", "1", "1.05",
                                        "1.5", "10", "12", "100", "1E+100", kMax};
  for (size_t i = 0; i < ascending.size(); ++i) {
    for (size_t j = 0; j < ascending.size(); ++j) {
      int expected = i < j ? -1 : (i > j ? 1 : 0);
      EXPECT_EQ(D(ascending[i]).Compare(D(ascending[j])), expected) << ascending[i] << " vs " << ascending[j];
      EXPECT_EQ(D(ascending[i]) < D(ascending[j]), i < j);
    }
  }
  EXPECT_EQ(D("1.0").Compare(D("1")), 0);
  EXPECT_EQ(D("-0").Compare(D("0")), 0);
  EXPECT_TRUE(D("1") != D("2"));
}

TEST(DecimalTest, AddsAndSubtractsExactly) {
  EXPECT_EQ(Sum("12345678901234567890123456789012345678", "1"), "12345678901234567890123456789012345679");
  EXPECT_EQ(Sum("0.1", "0.2"), "0.3");
  EXPECT_EQ(Sum("1", "-1"), "0");
  EXPECT_EQ(Sum("-5", "3"), "-2");
  EXPECT_EQ(Sum("5", "-3"), "2");
  EXPECT_EQ(Sum("-5", "-3"), "-8");
  EXPECT_EQ(Sum("0", "-3.5"), "-3.5");
  EXPECT_EQ(Sum("-3.5", "0"), "-3.5");
  EXPECT_EQ(Sum("99", "1"), "100");
  EXPECT_EQ(Sum("1E+10", "1E-10"), "10000000000.0000000001");
  EXPECT_EQ(Sum(k38Nines, "1"), "1" + std::string(38, '0'));  // 1E+38: one significant digit
  EXPECT_EQ(Difference("1", "0.0001"), "0.9999");
  EXPECT_EQ(Difference("0.3", "0.1"), "0.2");
  EXPECT_EQ(Difference("-1", "-1"), "0");
  EXPECT_EQ(Difference("1E+125", "1E+125"), "0");
  EXPECT_EQ(Difference("1", "3"), "-2");
  for (const char* x : {"1", "-7.25", "1E+125", "1e-130", "12345678901234567890123456789012345678"}) {
    auto r = Decimal::Add(D(x), D(x).Negated());
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->is_zero());
    EXPECT_FALSE(r->is_negative());
    EXPECT_EQ(r->ToString(), "0");
  }
}

TEST(DecimalTest, RefusesSumsOutsideTheLimits) {
  EXPECT_EQ(Sum("12345678901234567890123456789012345678", "0.1"), std::string("ValidationException: ") + kTooPrecise);
  EXPECT_EQ(Sum("1E+100", "1"), std::string("ValidationException: ") + kTooPrecise);
  EXPECT_EQ(Sum(kMax, "1E+88"), std::string("ValidationException: ") + kOverflow);
  EXPECT_EQ(Sum("9E+125", "9E+125"), std::string("ValidationException: ") + kOverflow);
  EXPECT_EQ(Difference("-9E+125", "9E+125"), std::string("ValidationException: ") + kOverflow);
  // 1.0000000000000000000000000000000000001E-129 - 1E-129 = 1E-166.
  EXPECT_EQ(Difference("1.0000000000000000000000000000000000001E-129", "1E-129"),
            std::string("ValidationException: ") + kUnderflow);
  // Right at the edges is fine.
  EXPECT_EQ(Sum("9.9999999999999999999999999999999999998E+125", "1E+88"), Canon(kMax));
  EXPECT_EQ(Difference("2E-130", "1E-130"), Canon("1E-130"));
}

// --- Randomized: Add and Compare against __int128 ------------------------------------------------

uint64_t TestSeed() {
  if (const char* env = std::getenv("MERIDIAN_SEED")) return std::strtoull(env, nullptr, 10);
  return std::random_device{}();
}

std::string Int128ToString(__int128 v) {
  if (v == 0) return "0";
  bool negative = v < 0;
  unsigned __int128 m = negative ? -static_cast<unsigned __int128>(v) : static_cast<unsigned __int128>(v);
  std::string s;
  while (m > 0) {
    s.push_back(static_cast<char>('0' + static_cast<int>(m % 10)));
    m /= 10;
  }
  if (negative) s.push_back('-');
  std::reverse(s.begin(), s.end());
  return s;
}

// Values are coefficient × 10^exponent with up to 15 digits and exponents in [-20, 0], so that
// value × 10^20 (the fixed-point reference) stays below 10^35 and sums fit in __int128.
constexpr int kScale = 20;

struct Sample {
  std::string text;
  __int128 scaled;  // value × 10^kScale
};

Sample RandomSample(std::mt19937_64& rng) {
  int digits = 1 + static_cast<int>(rng() % 15);
  __int128 coefficient = 0;
  std::string coefficient_text;
  for (int i = 0; i < digits; ++i) {
    int d = static_cast<int>(rng() % 10);
    coefficient = coefficient * 10 + d;
    coefficient_text.push_back(static_cast<char>('0' + d));
  }
  int exponent = -static_cast<int>(rng() % (kScale + 1));
  bool negative = rng() % 2 == 0;
  __int128 scaled = coefficient;
  for (int i = 0; i < exponent + kScale; ++i) scaled *= 10;
  if (negative) scaled = -scaled;
  std::string text = (negative ? "-" : "") + coefficient_text;
  // Half the time the exponent is written out, half the time as a decimal point.
  if (rng() % 2 == 0 || -exponent >= digits) {
    text += "E" + std::to_string(exponent);
  } else if (exponent < 0) {
    text.insert(text.size() + exponent, ".");
  }
  return {text, scaled};
}

Decimal FromScaled(__int128 scaled) {
  return D(Int128ToString(scaled) + "E-" + std::to_string(kScale));
}

TEST(DecimalPropertyTest, AddAndCompareAgreeWithInt128) {
  uint64_t seed = TestSeed();
  std::cout << "seed=" << seed << "\n";
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 20000; ++i) {
    Sample a = RandomSample(rng);
    Sample b = RandomSample(rng);
    SCOPED_TRACE(a.text + " , " + b.text);
    Decimal da = D(a.text);
    Decimal db = D(b.text);
    ASSERT_EQ(da, FromScaled(a.scaled));

    auto sum = Decimal::Add(da, db);
    ASSERT_TRUE(sum.ok()) << sum.status().ToString();
    EXPECT_EQ(*sum, FromScaled(a.scaled + b.scaled));
    auto difference = Decimal::Subtract(da, db);
    ASSERT_TRUE(difference.ok()) << difference.status().ToString();
    EXPECT_EQ(*difference, FromScaled(a.scaled - b.scaled));
    EXPECT_EQ(*Decimal::Add(db, da), *sum);  // commutative

    int expected = a.scaled < b.scaled ? -1 : (a.scaled > b.scaled ? 1 : 0);
    EXPECT_EQ(da.Compare(db), expected);
    EXPECT_EQ(db.Compare(da), -expected);

    // Printing and parsing back is the identity, and keeps the order.
    Decimal ra = D(da.ToString());
    Decimal rb = D(db.ToString());
    EXPECT_EQ(ra, da);
    EXPECT_EQ(ra.Compare(rb), expected);
  }
}

TEST(DecimalPropertyTest, CompareIsATotalOrderOverTheWholeRange) {
  uint64_t seed = TestSeed();
  std::cout << "seed=" << seed << "\n";
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::vector<Decimal> values;
  for (int i = 0; i < 400; ++i) {
    int digits = 1 + static_cast<int>(rng() % Decimal::kMaxDigits);
    std::string text = rng() % 2 ? "-" : "";
    text.push_back(static_cast<char>('1' + rng() % 9));
    for (int d = 1; d < digits; ++d) text.push_back(static_cast<char>('0' + rng() % 10));
    int adjusted = Decimal::kMinAdjustedExponent +
                   static_cast<int>(rng() % (Decimal::kMaxAdjustedExponent - Decimal::kMinAdjustedExponent + 1));
    text += "E" + std::to_string(adjusted - (digits - 1));
    values.push_back(D(text));
  }
  for (const auto& a : values) {
    Decimal round_trip = D(a.ToString());
    EXPECT_EQ(round_trip, a);
    for (const auto& b : values) {
      EXPECT_EQ(a.Compare(b), -b.Compare(a));
      // a - b has the sign of the comparison whenever it is representable.
      auto diff = Decimal::Subtract(a, b);
      if (diff.ok()) {
        int sign = diff->is_zero() ? 0 : (diff->is_negative() ? -1 : 1);
        EXPECT_EQ(a.Compare(b), sign) << a.ToString() << " vs " << b.ToString();
      }
    }
  }
  std::sort(values.begin(), values.end());
  for (size_t i = 1; i < values.size(); ++i) EXPECT_LE(values[i - 1].Compare(values[i]), 0);
}

}  // namespace
}  // namespace meridian
