#include "storage/item_codec.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <random>
#include <string>

namespace meridian {
namespace {

Decimal D(std::string_view s) { return Decimal::Parse(s).value(); }

Item EveryType() {
  Item item;
  item["s"] = AttributeValue::S("hello \xe2\x98\x83");
  item["s_empty"] = AttributeValue::S("");
  item["n"] = AttributeValue::N(D("-12.5"));
  item["n_big"] = AttributeValue::N(D("9.9999999999999999999999999999999999999E+125"));
  item["n_small"] = AttributeValue::N(D("1E-130"));
  item["n_zero"] = AttributeValue::N(D("0"));
  item["b"] = AttributeValue::B(std::string("\x00\x01\xff", 3));
  item["b_empty"] = AttributeValue::B("");
  item["t"] = AttributeValue::Bool(true);
  item["f"] = AttributeValue::Bool(false);
  item["null"] = AttributeValue::NullValue();
  item["m_empty"] = AttributeValue::M({});
  item["l_empty"] = AttributeValue::L({});
  item["m"] = AttributeValue::M(
      {{"inner", AttributeValue::L({AttributeValue::S(""), AttributeValue::B(""), AttributeValue::N(D("1")),
                                    AttributeValue::M({{"deep", AttributeValue::SS({"x"})}})})},
       {"", AttributeValue::NullValue()}});
  item["ss"] = AttributeValue::SS({"b", "a", ""});
  item["ns"] = AttributeValue::NS({D("3"), D("-1"), D("2.5")});
  item["bs"] = AttributeValue::BS({std::string(1, '\0'), "", "zz"});
  item[""] = AttributeValue::S("empty name");
  return item;
}

// A value whose own depth is `depth`.
AttributeValue Nested(int depth) {
  AttributeValue v = AttributeValue::N(D("1"));
  for (int i = 1; i < depth; ++i) {
    v = i % 2 ? AttributeValue::L({std::move(v)}) : AttributeValue::M({{"k", std::move(v)}});
  }
  return v;
}

void ExpectDecodeFails(std::string_view bytes) {
  Result<Item> r = DecodeItem(bytes);
  EXPECT_FALSE(r.ok()) << "decoded " << r->size() << " attributes";
  if (!r.ok()) EXPECT_EQ(r.status().code(), ErrorCode::kValidation) << r.status().ToString();
}

TEST(ItemCodecTest, RoundTripsEveryType) {
  Item item = EveryType();
  std::string bytes = EncodeItem(item);
  Result<Item> back = DecodeItem(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, item);
  EXPECT_EQ(EncodeItem(*back), bytes);  // canonical
}

TEST(ItemCodecTest, RoundTripsEachTypeAlone) {
  for (const auto& [name, value] : EveryType()) {
    SCOPED_TRACE(name);
    Item one = {{"a", value}};
    Result<Item> back = DecodeItem(EncodeItem(one));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, one);
    EXPECT_EQ(back->at("a").type(), value.type());
  }
  Result<Item> empty = DecodeItem(EncodeItem({}));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(ItemCodecTest, KeepsSAndBApartAndEmptyValuesDistinct) {
  Item item = {{"s", AttributeValue::S("")}, {"b", AttributeValue::B("")}, {"l", AttributeValue::L({})},
               {"m", AttributeValue::M({})}};
  Result<Item> back = DecodeItem(EncodeItem(item));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->at("s").type(), AttributeType::kS);
  EXPECT_EQ(back->at("b").type(), AttributeType::kB);
  EXPECT_EQ(back->at("l").type(), AttributeType::kL);
  EXPECT_EQ(back->at("m").type(), AttributeType::kM);
}

TEST(ItemCodecTest, RoundTripsDeepAndLargeValues) {
  Item deep = {{"d", Nested(kMaxNestingDepth)}};
  ASSERT_TRUE(ValidateAttributeValue(deep.at("d")).ok());
  ASSERT_FALSE(ValidateAttributeValue(Nested(kMaxNestingDepth + 1)).ok());
  Result<Item> back = DecodeItem(EncodeItem(deep));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, deep);

  Item large = {{"blob", AttributeValue::B(std::string(kMaxItemSizeBytes, '\x7f'))},
                {"text", AttributeValue::S(std::string(70000, 'x'))}};
  back = DecodeItem(EncodeItem(large));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, large);
}

TEST(ItemCodecTest, RefusesGarbage) {
  for (std::string_view bytes :
       {std::string_view(""), std::string_view("\xc1", 1), std::string_view("\x90", 1),  // an array, not a map
        std::string_view("\xa3" "abc", 4), std::string_view("\x01", 1), std::string_view("\xc0", 1),
        std::string_view("\x81\x01\x02", 3),             // key not a string
        std::string_view("\x81\xa1" "a\x01", 4),         // value not [type, payload]
        std::string_view("\x81\xa1" "a\x91\x00", 5),     // one-element array
        std::string_view("\x81\xa1" "a\x92\x0a\xc0", 6), // type tag 10
        std::string_view("\x81\xa1" "a\x92\xff\xc0", 6), // negative type tag
        std::string_view("\x81\xa1" "a\x92\x04\x01", 6), // NULL with a payload
        std::string_view("\x81\xa1" "a\x92\x03\x01", 6), // BOOL with an integer
        std::string_view("\x81\xa1" "a\x92\x01\x01", 6), // N with an integer
        std::string_view("\x81\xa1" "a\x92\x05\x90", 6), // M with an array
        std::string_view("\x81\xa1" "a\x92\x07\x91\x01", 7)}) {  // SS with an integer member
    SCOPED_TRACE(testing::PrintToString(std::string(bytes)));
    ExpectDecodeFails(bytes);
  }
}

TEST(ItemCodecTest, RefusesHugeDeclaredLengthsWithoutAllocatingThem) {
  // Headers that announce 4 billion elements or bytes with nothing behind them.
  ExpectDecodeFails(std::string_view("\xdd\xff\xff\xff\xff", 5));  // array32
  ExpectDecodeFails(std::string_view("\xdf\xff\xff\xff\xff", 5));  // map32
  ExpectDecodeFails(std::string_view("\xdb\xff\xff\xff\xff", 5));  // str32
  ExpectDecodeFails(std::string_view("\xc6\xff\xff\xff\xff", 5));  // bin32
  ExpectDecodeFails(std::string_view("\x81\xa1" "a\x92\x06\xdd\x10\x00\x00\x00", 10));  // L of 2^28
}

TEST(ItemCodecTest, RefusesTrailingBytes) {
  std::string bytes = EncodeItem({{"a", AttributeValue::S("x")}});
  ExpectDecodeFails(bytes + "junk");
  ExpectDecodeFails(bytes + bytes);
}

TEST(ItemCodecTest, RefusesEveryTruncation) {
  std::string bytes = EncodeItem(EveryType());
  for (size_t len = 0; len < bytes.size(); ++len) {
    SCOPED_TRACE(len);
    ExpectDecodeFails(std::string_view(bytes).substr(0, len));
  }
}

TEST(ItemCodecTest, RefusesNumbersOutOfRange) {
  auto encode_n = [](std::string_view text) {
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> p(buf);
    p.pack_map(1);
    p.pack(std::string("a"));
    p.pack_array(2);
    p.pack(static_cast<uint8_t>(AttributeType::kN));
    p.pack(std::string(text));
    return std::string(buf.data(), buf.size());
  };
  ASSERT_TRUE(DecodeItem(encode_n("1E+125")).ok());
  for (const char* bad : {"1E+126", "1E-131", "123456789012345678901234567890123456789", "abc", ""}) {
    SCOPED_TRACE(bad);
    Result<Item> r = DecodeItem(encode_n(bad));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), ErrorCode::kValidation);
  }
  EXPECT_NE(DecodeItem(encode_n("1E+126")).status().message().find("overflow"), std::string::npos);
  EXPECT_NE(DecodeItem(encode_n("1E-131")).status().message().find("underflow"), std::string::npos);

  // Also as a set member.
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> p(buf);
  p.pack_map(1);
  p.pack(std::string("ns"));
  p.pack_array(2);
  p.pack(static_cast<uint8_t>(AttributeType::kNS));
  p.pack_array(2);
  p.pack(std::string("1"));
  p.pack(std::string("1E+999"));
  EXPECT_FALSE(DecodeItem(std::string_view(buf.data(), buf.size())).ok());
}

TEST(ItemCodecTest, RefusesNestingBeyondTheMsgpackLimit) {
  // Far deeper than any valid value: refused by the unpacker's depth limit, not by recursion.
  std::string bytes = "\x81\xa1" "a";
  constexpr int kDepth = 100000;
  for (int i = 0; i < kDepth; ++i) bytes += "\x92\x06\x91";  // [L, [ ...
  bytes += "\x92\x04\xc0";                                    // [NULL, nil]
  ExpectDecodeFails(bytes);
}

uint64_t TestSeed() {
  if (const char* env = std::getenv("MERIDIAN_SEED")) return std::strtoull(env, nullptr, 10);
  return std::random_device{}();
}

TEST(ItemCodecFuzzTest, RandomAndMutatedBytesNeverCrash) {
  uint64_t seed = TestSeed();
  std::cout << "seed=" << seed << "\n";
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const std::string valid = EncodeItem(EveryType());
  int decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes;
    if (i % 2 == 0) {
      bytes.resize(rng() % 64);
      for (auto& c : bytes) c = static_cast<char>(rng());
    } else {
      bytes = valid;
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    }
    Result<Item> r = DecodeItem(bytes);
    if (r.ok()) {
      ++decoded;
      // Whatever decodes re-encodes and decodes to the same item.
      Result<Item> again = DecodeItem(EncodeItem(*r));
      ASSERT_TRUE(again.ok());
      EXPECT_EQ(*again, *r);
    } else {
      EXPECT_EQ(r.status().code(), ErrorCode::kValidation);
    }
  }
  std::cout << decoded << " of 20000 inputs decoded\n";
}

}  // namespace
}  // namespace meridian
