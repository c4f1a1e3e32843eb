// Order-preserving binary encoding of key values and item keys in the "items" column family.
//
// The bytewise order of encodings equals DynamoDB's order of key values
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html):
// S by UTF-8 bytes, B by unsigned bytes, N numerically. Every encoding is self-delimiting (no
// encoding is a proper prefix of another of the same type), so a partition key's encoding is a
// prefix of exactly the item keys of that partition.
//
//   S, B: the bytes with 0x00 escaped as 0x00 0xFF, then the terminator 0x00 0x01.
//   N:    a sign byte (0x01 negative < 0x02 zero < 0x03 positive); zero ends there. Otherwise the
//         adjusted exponent + 130 (one byte, 0..255), then one byte per significant digit
//         (digit + 1), then the terminator 0x00; all of it after the sign byte inverted (~) for
//         negatives, so that larger magnitudes sort first.
//
// Item key: [table_id: 8 bytes BE][partition_hash: 4 bytes BE][encoded pk][encoded sk if any],
// where partition_hash is the first 4 bytes of SHA-256 of the encoded pk. The hash spreads
// partitions over the key space as DynamoDB hashes partition keys, and makes parallel Scan
// segment i of N exactly the contiguous hash range [floor(i*2^32/N), floor((i+1)*2^32/N)).
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "storage/attribute_value.h"

namespace meridian {

// Whether a value has a key type (S, N or B).
inline bool IsKeyType(AttributeType t) {
  return t == AttributeType::kS || t == AttributeType::kN || t == AttributeType::kB;
}

// Appends the encoding of `v`, which must be S, N or B.
void AppendKeyValue(const AttributeValue& v, std::string* out);
std::string EncodeKeyValue(const AttributeValue& v);
// Appends the escaped bytes of an S or B value without the terminator: the prefix shared by the
// encodings of every value that begins with `bytes` (begins_with ranges).
void AppendEscapedPrefix(std::string_view bytes, std::string* out);

// Decodes one value of type `type` from the front of `*in` and advances past it. False when the
// bytes are not a valid encoding.
bool DecodeKeyValue(AttributeType type, std::string_view* in, AttributeValue* out);

// First 4 bytes (big-endian) of SHA-256 of the encoded partition key.
uint32_t PartitionHash(std::string_view encoded_pk);

// 8-byte big-endian table id: the prefix of all of a table's items.
std::string TablePrefix(uint64_t table_id);
// Table prefix followed by a 4-byte big-endian hash: the start of a hash range.
std::string HashRangeStart(uint64_t table_id, uint32_t hash);
// [table_id][hash][encoded pk]: the prefix of every item key in the partition.
std::string PartitionPrefix(uint64_t table_id, const AttributeValue& pk);
// The full item key; `sk` is null for tables without a sort key.
std::string ItemKey(uint64_t table_id, const AttributeValue& pk, const AttributeValue* sk);

// The smallest string greater than every string that starts with `prefix`; empty when none
// exists (the prefix is all 0xFF).
std::string PrefixSuccessor(std::string prefix);

struct DecodedItemKey {
  uint64_t table_id = 0;
  uint32_t partition_hash = 0;
  AttributeValue pk;
  std::optional<AttributeValue> sk;
};
// Decodes an item key given the table's key types (`sk_type` empty for hash-only tables). False
// on malformed bytes, trailing bytes, or a hash that does not match the pk.
bool DecodeItemKey(std::string_view key, AttributeType pk_type,
                   std::optional<AttributeType> sk_type, DecodedItemKey* out);

}  // namespace meridian
