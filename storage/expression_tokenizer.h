// Tokenizer for DynamoDB's expression language
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.html).
//
// Shared by every expression parser: the KeyConditionExpression parser now, the full condition,
// projection and update expression engine later. It only splits text into tokens; keywords are
// plain identifiers that parsers compare case-insensitively (IsKeyword), because DynamoDB's
// keywords (AND, OR, NOT, BETWEEN, IN, SET, ...) are case-insensitive.
//
// Bounded: the input is at most kMaxExpressionBytes (DynamoDB's 4 KB limit), so the token list
// is bounded too; no recursion.
//
// Thread-safety: stateless functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "storage/status.h"

namespace meridian {

// "The maximum length of any expression string is 4 KB."
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html)
inline constexpr size_t kMaxExpressionBytes = 4096;

enum class TokenKind {
  kIdentifier,    // an attribute name, function name or keyword: [A-Za-z_][A-Za-z0-9_]*
  kNameRef,       // #name: an ExpressionAttributeNames placeholder
  kValueRef,      // :value: an ExpressionAttributeValues placeholder
  kNumber,        // digits (list indexes in document paths)
  kEq, kNe, kLt, kLe, kGt, kGe,
  kLParen, kRParen, kLBracket, kRBracket, kComma, kDot, kPlus, kMinus,
  kEnd,           // end of input; always the last token
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string_view text;  // a view into the tokenized expression
  size_t offset = 0;
};

// Splits `expression` into tokens ending with one kEnd. `what` names the expression in error
// messages ("KeyConditionExpression"). Errors are ValidationExceptions in DynamoDB's wording:
// "Invalid KeyConditionExpression: Syntax error; token: \"$\", near: \"a $\"".
Result<std::vector<Token>> Tokenize(std::string_view expression, std::string_view what);

// Case-insensitive comparison of an identifier token with a keyword.
bool IsKeyword(const Token& token, std::string_view keyword);

// DynamoDB's "near" context for syntax errors: the previous token and this one.
std::string NearText(std::string_view expression, const std::vector<Token>& tokens, size_t index);

}  // namespace meridian
