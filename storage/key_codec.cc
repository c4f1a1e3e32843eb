#include "storage/key_codec.h"

#include <openssl/sha.h>

#include <cassert>

namespace meridian {
namespace {

constexpr uint8_t kSignNegative = 0x01;
constexpr uint8_t kSignZero = 0x02;
constexpr uint8_t kSignPositive = 0x03;
// Adjusted exponents run from -130 to 125: biased by 130 they fill one byte exactly.
constexpr int kExponentBias = -Decimal::kMinAdjustedExponent;
static_assert(Decimal::kMaxAdjustedExponent + kExponentBias <= 255);

void AppendBigEndian(uint64_t v, int bytes, std::string* out) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t ReadBigEndian(std::string_view in, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

void AppendNumber(const Decimal& d, std::string* out) {
  if (d.is_zero()) {
    out->push_back(static_cast<char>(kSignZero));
    return;
  }
  const uint8_t mask = d.is_negative() ? 0xff : 0x00;
  out->push_back(static_cast<char>(d.is_negative() ? kSignNegative : kSignPositive));
  int biased = d.adjusted_exponent() + kExponentBias;
  assert(biased >= 0 && biased <= 255);
  out->push_back(static_cast<char>(static_cast<uint8_t>(biased) ^ mask));
  for (char c : d.digits()) out->push_back(static_cast<char>(static_cast<uint8_t>(c - '0' + 1) ^ mask));
  out->push_back(static_cast<char>(mask));  // terminator: 0x00, or 0xFF once inverted
}

bool DecodeNumber(std::string_view* in, AttributeValue* out) {
  if (in->empty()) return false;
  uint8_t sign = static_cast<uint8_t>((*in)[0]);
  if (sign == kSignZero) {
    in->remove_prefix(1);
    *out = AttributeValue::N(Decimal());
    return true;
  }
  if (sign != kSignNegative && sign != kSignPositive) return false;
  const uint8_t mask = sign == kSignNegative ? 0xff : 0x00;
  if (in->size() < 3) return false;
  int adjusted = static_cast<int>(static_cast<uint8_t>((*in)[1]) ^ mask) - kExponentBias;
  std::string digits;
  size_t i = 2;
  for (;; ++i) {
    if (i >= in->size() || digits.size() > static_cast<size_t>(Decimal::kMaxDigits)) return false;
    uint8_t b = static_cast<uint8_t>((*in)[i]) ^ mask;
    if (b == 0) break;
    if (b > 10) return false;
    digits.push_back(static_cast<char>('0' + b - 1));
  }
  if (digits.empty() || digits.back() == '0' || digits.front() == '0') return false;
  in->remove_prefix(i + 1);
  std::string text = sign == kSignNegative ? "-" : "";
  text += digits;
  text += "E";
  text += std::to_string(adjusted - static_cast<int>(digits.size()) + 1);
  auto d = Decimal::Parse(text);
  if (!d.ok()) return false;
  *out = AttributeValue::N(std::move(d).value());
  return true;
}

bool DecodeBytes(std::string_view* in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in->size(); ++i) {
    char c = (*in)[i];
    if (c != '\0') {
      out->push_back(c);
      continue;
    }
    if (i + 1 >= in->size()) return false;
    uint8_t next = static_cast<uint8_t>((*in)[i + 1]);
    if (next == 0xff) {
      out->push_back('\0');
      ++i;
    } else if (next == 0x01) {
      in->remove_prefix(i + 2);
      return true;
    } else {
      return false;
    }
  }
  return false;
}

}  // namespace

void AppendEscapedPrefix(std::string_view bytes, std::string* out) {
  for (char c : bytes) {
    out->push_back(c);
    if (c == '\0') out->push_back(static_cast<char>(0xff));
  }
}

void AppendKeyValue(const AttributeValue& v, std::string* out) {
  switch (v.type()) {
    case AttributeType::kS:
    case AttributeType::kB:
      AppendEscapedPrefix(v.is(AttributeType::kS) ? v.s() : v.b(), out);
      out->push_back('\0');
      out->push_back('\x01');
      return;
    case AttributeType::kN:
      AppendNumber(v.n(), out);
      return;
    default:
      assert(false && "key values are S, N or B");
  }
}

std::string EncodeKeyValue(const AttributeValue& v) {
  std::string out;
  AppendKeyValue(v, &out);
  return out;
}

bool DecodeKeyValue(AttributeType type, std::string_view* in, AttributeValue* out) {
  switch (type) {
    case AttributeType::kS: {
      std::string s;
      if (!DecodeBytes(in, &s)) return false;
      *out = AttributeValue::S(std::move(s));
      return true;
    }
    case AttributeType::kB: {
      std::string b;
      if (!DecodeBytes(in, &b)) return false;
      *out = AttributeValue::B(std::move(b));
      return true;
    }
    case AttributeType::kN:
      return DecodeNumber(in, out);
    default:
      return false;
  }
}

uint32_t PartitionHash(std::string_view encoded_pk) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(encoded_pk.data()), encoded_pk.size(), digest);
  return (uint32_t{digest[0]} << 24) | (uint32_t{digest[1]} << 16) | (uint32_t{digest[2]} << 8) |
         uint32_t{digest[3]};
}

std::string TablePrefix(uint64_t table_id) {
  std::string out;
  AppendBigEndian(table_id, 8, &out);
  return out;
}

std::string HashRangeStart(uint64_t table_id, uint32_t hash) {
  std::string out = TablePrefix(table_id);
  AppendBigEndian(hash, 4, &out);
  return out;
}

std::string PartitionPrefix(uint64_t table_id, const AttributeValue& pk) {
  std::string encoded = EncodeKeyValue(pk);
  std::string out = HashRangeStart(table_id, PartitionHash(encoded));
  out += encoded;
  return out;
}

std::string ItemKey(uint64_t table_id, const AttributeValue& pk, const AttributeValue* sk) {
  std::string out = PartitionPrefix(table_id, pk);
  if (sk != nullptr) AppendKeyValue(*sk, &out);
  return out;
}

std::string PrefixSuccessor(std::string prefix) {
  while (!prefix.empty()) {
    uint8_t last = static_cast<uint8_t>(prefix.back());
    if (last != 0xff) {
      prefix.back() = static_cast<char>(last + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;
}

bool DecodeItemKey(std::string_view key, AttributeType pk_type,
                   std::optional<AttributeType> sk_type, DecodedItemKey* out) {
  if (key.size() < 12) return false;
  out->table_id = ReadBigEndian(key, 8);
  out->partition_hash = static_cast<uint32_t>(ReadBigEndian(key.substr(8), 4));
  std::string_view rest = key.substr(12);
  std::string_view pk_start = rest;
  if (!DecodeKeyValue(pk_type, &rest, &out->pk)) return false;
  if (PartitionHash(pk_start.substr(0, pk_start.size() - rest.size())) != out->partition_hash) {
    return false;
  }
  out->sk.reset();
  if (sk_type) {
    AttributeValue sk;
    if (!DecodeKeyValue(*sk_type, &rest, &sk)) return false;
    out->sk = std::move(sk);
  }
  return rest.empty();
}

}  // namespace meridian
