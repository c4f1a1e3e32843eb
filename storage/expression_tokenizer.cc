#include "storage/expression_tokenizer.h"

namespace meridian {
namespace {

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

Result<std::vector<Token>> Tokenize(std::string_view expression, std::string_view what) {
  std::string prefix = "Invalid " + std::string(what) + ": ";
  if (expression.size() > kMaxExpressionBytes) {
    return Status::Validation(prefix + "Expression size has exceeded the maximum allowed size; expression size: " +
                              std::to_string(expression.size()));
  }
  std::vector<Token> tokens;
  size_t i = 0;
  auto syntax_error = [&](size_t start, size_t end) {
    std::string_view bad = expression.substr(start, end - start);
    size_t near_start = tokens.empty() ? start : tokens.back().offset;
    return Status::Validation(prefix + "Syntax error; token: \"" + std::string(bad) + "\", near: \"" +
                              std::string(expression.substr(near_start, end - near_start)) + "\"");
  };
  while (i < expression.size()) {
    char c = expression[i];
    if (IsSpace(c)) {
      ++i;
      continue;
    }
    size_t start = i;
    TokenKind kind;
    if (IsAlpha(c)) {
      while (i < expression.size() && IsAlnum(expression[i])) ++i;
      kind = TokenKind::kIdentifier;
    } else if (IsDigit(c)) {
      while (i < expression.size() && IsDigit(expression[i])) ++i;
      kind = TokenKind::kNumber;
    } else if (c == '#' || c == ':') {
      ++i;
      while (i < expression.size() && IsAlnum(expression[i])) ++i;
      if (i == start + 1) return syntax_error(start, i);
      kind = c == '#' ? TokenKind::kNameRef : TokenKind::kValueRef;
    } else {
      char next = i + 1 < expression.size() ? expression[i + 1] : '\0';
      i += 1;
      switch (c) {
        case '=': kind = TokenKind::kEq; break;
        case '<':
          if (next == '=') { kind = TokenKind::kLe; ++i; }
          else if (next == '>') { kind = TokenKind::kNe; ++i; }
          else kind = TokenKind::kLt;
          break;
        case '>':
          if (next == '=') { kind = TokenKind::kGe; ++i; }
          else kind = TokenKind::kGt;
          break;
        case '(': kind = TokenKind::kLParen; break;
        case ')': kind = TokenKind::kRParen; break;
        case '[': kind = TokenKind::kLBracket; break;
        case ']': kind = TokenKind::kRBracket; break;
        case ',': kind = TokenKind::kComma; break;
        case '.': kind = TokenKind::kDot; break;
        case '+': kind = TokenKind::kPlus; break;
        case '-': kind = TokenKind::kMinus; break;
        default: return syntax_error(start, i);
      }
    }
    tokens.push_back(Token{kind, expression.substr(start, i - start), start});
  }
  tokens.push_back(Token{TokenKind::kEnd, std::string_view(), expression.size()});
  return tokens;
}

bool IsKeyword(const Token& token, std::string_view keyword) {
  if (token.kind != TokenKind::kIdentifier || token.text.size() != keyword.size()) return false;
  for (size_t i = 0; i < keyword.size(); ++i) {
    if (Lower(token.text[i]) != Lower(keyword[i])) return false;
  }
  return true;
}

std::string NearText(std::string_view expression, const std::vector<Token>& tokens, size_t index) {
  size_t start = index > 0 ? tokens[index - 1].offset : tokens[index].offset;
  size_t end = tokens[index].offset + tokens[index].text.size();
  return std::string(expression.substr(start, end - start));
}

}  // namespace meridian
