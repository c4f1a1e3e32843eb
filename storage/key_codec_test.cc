#include "storage/key_codec.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <random>

namespace meridian {
namespace {

// Seeded per test; MERIDIAN_SEED overrides so that a failure replays.
uint64_t TestSeed() {
  uint64_t seed = 20240611;
  if (const char* env = std::getenv("MERIDIAN_SEED")) seed = std::strtoull(env, nullptr, 10);
  std::cout << "seed=" << seed << std::endl;
  return seed;
}

int Sign(int c) { return c < 0 ? -1 : (c > 0 ? 1 : 0); }

Decimal MustParse(const std::string& text) {
  auto d = Decimal::Parse(text);
  EXPECT_TRUE(d.ok()) << text << ": " << d.status().ToString();
  return d.ok() ? d.value() : Decimal();
}

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  // Short strings over a small alphabet that includes the escape-relevant bytes, so equal
  // prefixes, embedded zeros and 0xFF are common.
  std::string Bytes() {
    static constexpr char kAlphabet[] = {'\0', '\x01', 'a', 'b', '\x7f', '\x80', '\xfe', '\xff'};
    std::string s(Uniform(0, 6), '\0');
    for (char& c : s) c = kAlphabet[Uniform(0, sizeof(kAlphabet) - 1)];
    return s;
  }

  Decimal Number() {
    if (Uniform(0, 20) == 0) return Decimal();
    int ndigits = Uniform(0, 3) == 0 ? Uniform(1, Decimal::kMaxDigits) : Uniform(1, 4);
    std::string digits(ndigits, '0');
    for (char& c : digits) c = static_cast<char>('0' + Uniform(0, 9));
    digits[0] = static_cast<char>('1' + Uniform(0, 8));
    int adjusted = Uniform(0, 2) == 0
                       ? Uniform(Decimal::kMinAdjustedExponent, Decimal::kMaxAdjustedExponent)
                       : Uniform(-3, 3);
    int exponent = adjusted - ndigits + 1;
    std::string text = (Uniform(0, 1) ? "-" : "") + digits + "E" + std::to_string(exponent);
    return MustParse(text);
  }

  // A number near `d`: the same digits with one changed, dropped or appended, so that
  // comparisons hinge on the last digits.
  Decimal NumberNear(const Decimal& d) {
    if (d.is_zero()) return Number();
    std::string digits = d.digits();
    int exponent = d.exponent();
    switch (Uniform(0, 2)) {
      case 0: digits[Uniform(0, static_cast<int>(digits.size()) - 1)] = static_cast<char>('0' + Uniform(0, 9)); break;
      case 1:
        if (digits.size() > 1) { digits.pop_back(); ++exponent; }
        break;
      default:
        if (digits.size() < Decimal::kMaxDigits) { digits.push_back(static_cast<char>('1' + Uniform(0, 8))); --exponent; }
        break;
    }
    std::string text = (d.is_negative() != (Uniform(0, 9) == 0) ? "-" : "") + digits + "E" + std::to_string(exponent);
    auto r = Decimal::Parse(text);
    return r.ok() ? r.value() : d;
  }

 private:
  std::mt19937_64 rng_;
};

void ExpectRoundTrip(const AttributeValue& v) {
  std::string enc = EncodeKeyValue(v);
  std::string_view in = enc;
  AttributeValue back;
  ASSERT_TRUE(DecodeKeyValue(v.type(), &in, &back));
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(back, v);
}

TEST(KeyCodecTest, PropertyOrderMatchesValueOrder) {
  Generator gen(TestSeed());
  constexpr int kPairsPerType = 40000;  // 120,000 pairs in all
  for (int i = 0; i < kPairsPerType; ++i) {
    std::string a = gen.Bytes(), b = gen.Bytes();
    int want = Sign(a.compare(b));
    ASSERT_EQ(Sign(EncodeKeyValue(AttributeValue::S(a)).compare(EncodeKeyValue(AttributeValue::S(b)))), want)
        << "S pair " << i;
    ASSERT_EQ(Sign(EncodeKeyValue(AttributeValue::B(b)).compare(EncodeKeyValue(AttributeValue::B(a)))), -want)
        << "B pair " << i;
    if (i % 97 == 0) ExpectRoundTrip(AttributeValue::S(a));
  }
  for (int i = 0; i < kPairsPerType; ++i) {
    Decimal a = gen.Number();
    Decimal b = gen.Uniform(0, 1) ? gen.NumberNear(a) : gen.Number();
    std::string ea = EncodeKeyValue(AttributeValue::N(a));
    std::string eb = EncodeKeyValue(AttributeValue::N(b));
    ASSERT_EQ(Sign(ea.compare(eb)), a.Compare(b)) << "N pair " << i << ": " << a.ToString() << " vs " << b.ToString();
    if (i % 97 == 0) ExpectRoundTrip(AttributeValue::N(a));
  }
}

TEST(KeyCodecTest, FixedNumberOrder) {
  const std::vector<std::string> ascending = {
      "-9.9999999999999999999999999999999999999E+125", "-1E+125", "-100", "-99.5", "-1", "-0.55", "-0.5",
      "-1E-130", "0", "1E-130", "0.5", "0.55", "1", "9", "10", "99.5", "100", "1E+125",
      "9.9999999999999999999999999999999999999E+125"};
  for (size_t i = 0; i + 1 < ascending.size(); ++i) {
    auto a = EncodeKeyValue(AttributeValue::N(MustParse(ascending[i])));
    auto b = EncodeKeyValue(AttributeValue::N(MustParse(ascending[i + 1])));
    EXPECT_LT(a, b) << ascending[i] << " < " << ascending[i + 1];
    ExpectRoundTrip(AttributeValue::N(MustParse(ascending[i])));
  }
  // Equal values in different spellings encode identically.
  EXPECT_EQ(EncodeKeyValue(AttributeValue::N(MustParse("1.50"))),
            EncodeKeyValue(AttributeValue::N(MustParse("15E-1"))));
}

TEST(KeyCodecTest, StringAndBinaryOrderAndEscaping) {
  auto s = [](std::string v) { return EncodeKeyValue(AttributeValue::S(std::move(v))); };
  EXPECT_LT(s("a"), s("ab"));
  EXPECT_LT(s("a"), s(std::string("a\0", 2)));
  EXPECT_LT(s(std::string("a\0", 2)), s("a\x01"));
  EXPECT_LT(s("Z"), s("a"));
  EXPECT_LT(s("a"), s("\xc3\xa9"));  // UTF-8 bytes, unsigned
  auto b = [](std::string v) { return EncodeKeyValue(AttributeValue::B(std::move(v))); };
  EXPECT_LT(b("\x7f"), b("\x80"));
  EXPECT_LT(b(""), b(std::string("\0", 1)));
  EXPECT_EQ(b(std::string("x\0y", 3)), std::string("x\0\xffy\0\x01", 6));
  ExpectRoundTrip(AttributeValue::B(std::string("\0\0\xff\x01", 4)));
  ExpectRoundTrip(AttributeValue::S(""));
}

TEST(KeyCodecTest, PartitionKeyIsPrefixOfItsItems) {
  Generator gen(TestSeed() + 1);
  for (int i = 0; i < 2000; ++i) {
    AttributeValue pk = AttributeValue::S(gen.Bytes());
    AttributeValue other = AttributeValue::S(gen.Bytes());
    AttributeValue sk = AttributeValue::N(gen.Number());
    std::string prefix = PartitionPrefix(7, pk);
    std::string key = ItemKey(7, pk, &sk);
    ASSERT_EQ(key.compare(0, prefix.size(), prefix), 0);
    std::string other_key = ItemKey(7, other, &sk);
    if (!(other == pk)) {
      EXPECT_NE(other_key.compare(0, prefix.size(), prefix), 0) << "a different pk shares the prefix";
    }
    // Keys of one partition lie in [prefix, successor(prefix)).
    EXPECT_LT(key, PrefixSuccessor(prefix));

    DecodedItemKey decoded;
    ASSERT_TRUE(DecodeItemKey(key, AttributeType::kS, AttributeType::kN, &decoded));
    EXPECT_EQ(decoded.table_id, 7u);
    EXPECT_EQ(decoded.pk, pk);
    ASSERT_TRUE(decoded.sk.has_value());
    EXPECT_EQ(*decoded.sk, sk);
  }
}

TEST(KeyCodecTest, ItemKeyLayout) {
  AttributeValue pk = AttributeValue::S("user#1");
  std::string key = ItemKey(0x0102030405060708ull, pk, nullptr);
  EXPECT_EQ(key.substr(0, 8), std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  std::string enc = EncodeKeyValue(pk);
  uint32_t h = PartitionHash(enc);
  EXPECT_EQ(key.substr(8, 4), HashRangeStart(0, h).substr(8));
  EXPECT_EQ(key.substr(12), enc);
  DecodedItemKey decoded;
  ASSERT_TRUE(DecodeItemKey(key, AttributeType::kS, std::nullopt, &decoded));
  EXPECT_EQ(decoded.partition_hash, h);
  EXPECT_FALSE(decoded.sk.has_value());
  // Tables never share a prefix range.
  EXPECT_LT(key, TablePrefix(0x0102030405060709ull));
}

TEST(KeyCodecTest, MalformedEncodingsAreRejected) {
  AttributeValue out;
  for (std::string bad : {std::string(""), std::string("abc"), std::string("a\0", 2),
                          std::string("a\0\x02", 3)}) {
    std::string_view in = bad;
    EXPECT_FALSE(DecodeKeyValue(AttributeType::kS, &in, &out));
  }
  for (std::string bad : {std::string(""), std::string("\x04"), std::string("\x03\x80", 2),
                          std::string("\x03\x80\x0b\x00", 4), std::string("\x03\x80\x01\x00", 4)}) {
    std::string_view in = bad;
    EXPECT_FALSE(DecodeKeyValue(AttributeType::kN, &in, &out));
  }
  DecodedItemKey decoded;
  std::string key = ItemKey(1, AttributeValue::S("a"), nullptr);
  key[9] ^= 1;  // wrong hash
  EXPECT_FALSE(DecodeItemKey(key, AttributeType::kS, std::nullopt, &decoded));
  EXPECT_FALSE(DecodeItemKey(ItemKey(1, AttributeValue::S("a"), nullptr) + "x", AttributeType::kS,
                             std::nullopt, &decoded));
}

}  // namespace
}  // namespace meridian
