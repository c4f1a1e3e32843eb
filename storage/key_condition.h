// Query's KeyConditionExpression: parsing and checking against a table's key schema.
//
// Accepts DynamoDB's key condition grammar
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.KeyConditionExpressions.html):
// `pk = :v`, optionally AND one sort-key condition: `=, <, <=, >, >=`, `BETWEEN :a AND :b` or
// `begins_with(sk, :v)`; in either order, each optionally in parentheses; names literal or
// #placeholders, values :placeholders; keywords case-insensitive. Errors are
// ValidationExceptions worded as DynamoDB words them.
//
// Built on storage/expression_tokenizer.h; the parser is a loop over tokens (no recursion on
// untrusted input), and the input is at most kMaxExpressionBytes.
//
// Thread-safety: stateless functions.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "storage/attribute_value.h"
#include "storage/operations.h"
#include "storage/status.h"

namespace meridian {

// The key attributes of the queried table (or, later, index).
struct KeySchemaInfo {
  std::string pk_name;
  AttributeType pk_type = AttributeType::kS;
  std::optional<std::string> sk_name;
  AttributeType sk_type = AttributeType::kS;
};

enum class SortKeyOp { kEq, kLt, kLe, kGt, kGe, kBetween, kBeginsWith };

struct SortKeyCondition {
  SortKeyOp op = SortKeyOp::kEq;
  AttributeValue value;  // the operand; the lower bound for BETWEEN
  AttributeValue upper;  // BETWEEN's upper bound
};

struct KeyCondition {
  AttributeValue pk;  // the partition key value (always an equality)
  std::optional<SortKeyCondition> sk;
};

// The placeholders a key condition used.
struct KeyConditionRefs {
  std::set<std::string> names;
  std::set<std::string> values;
};

// Parses `expression` and resolves its placeholders. Every placeholder used must be given. When
// `refs` is null every one given must be used too; otherwise the ones used are stored in `*refs`
// and the caller checks "unused" across all the request's expressions (a FilterExpression may use
// the rest).
Result<KeyCondition> ParseKeyCondition(std::string_view expression,
                                       const ExpressionAttributeNames& names,
                                       const ExpressionAttributeValues& values,
                                       const KeySchemaInfo& schema, KeyConditionRefs* refs = nullptr);

// The legacy KeyConditions parameter, checked against the schema the same way.
Result<KeyCondition> KeyConditionFromLegacy(const LegacyConditions& key_conditions,
                                            const KeySchemaInfo& schema);

}  // namespace meridian
