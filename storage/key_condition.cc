#include "storage/key_condition.h"

#include <set>
#include <vector>

#include "storage/expression_tokenizer.h"
#include "storage/key_codec.h"

namespace meridian {
namespace {

constexpr char kWhat[] = "KeyConditionExpression";
constexpr char kInvalid[] = "Invalid KeyConditionExpression: ";
constexpr char kTypeMismatch[] =
    "One or more parameter values were invalid: Condition parameter type does not match schema type";
constexpr char kNotSupported[] = "Query key condition not supported";

// A condition as written, before placeholders are resolved.
struct Operand {
  const Token* token = nullptr;
  bool is_value() const { return token->kind == TokenKind::kValueRef; }
};

enum class RawOp { kEq, kLt, kLe, kGt, kGe, kBetween, kBeginsWith };

struct RawCondition {
  RawOp op = RawOp::kEq;
  Operand lhs, rhs, upper;  // upper only for BETWEEN
};

bool IsOperandToken(const Token& t) {
  if (t.kind == TokenKind::kNameRef || t.kind == TokenKind::kValueRef) return true;
  if (t.kind != TokenKind::kIdentifier) return false;
  for (const char* kw : {"AND", "OR", "NOT", "BETWEEN", "IN"})
    if (IsKeyword(t, kw)) return false;
  return true;
}

class Parser {
 public:
  Parser(std::string_view expression, const std::vector<Token>& tokens)
      : expression_(expression), tokens_(tokens) {}

  // Parses the flat AND-list; parentheses group but, with AND as the only connective, do not
  // change the meaning, so a depth counter is all they need.
  Result<std::vector<RawCondition>> Run() {
    std::vector<RawCondition> conditions;
    int depth = 0;
    bool expect_condition = true;
    while (true) {
      const Token& t = tokens_[i_];
      if (expect_condition) {
        if (t.kind == TokenKind::kLParen) {
          ++depth;
          ++i_;
          continue;
        }
        if (IsKeyword(t, "NOT")) return Status::Validation("Invalid operator used in KeyConditionExpression: NOT");
        RawCondition c;
        MERIDIAN_RETURN_IF_ERROR(ParseCondition(&c));
        conditions.push_back(c);
        expect_condition = false;
        continue;
      }
      if (t.kind == TokenKind::kRParen) {
        if (depth == 0) return SyntaxError();
        --depth;
        ++i_;
      } else if (IsKeyword(t, "AND")) {
        expect_condition = true;
        ++i_;
      } else if (IsKeyword(t, "OR")) {
        return Status::Validation("Invalid operator used in KeyConditionExpression: OR");
      } else if (t.kind == TokenKind::kEnd) {
        if (depth != 0) return SyntaxError();
        return conditions;
      } else {
        return SyntaxError();
      }
    }
  }

 private:
  Status SyntaxError() const {
    const Token& t = tokens_[i_];
    std::string text = t.kind == TokenKind::kEnd ? "<EOF>" : std::string(t.text);
    return Status::Validation(std::string(kInvalid) + "Syntax error; token: \"" + text + "\", near: \"" +
                              NearText(expression_, tokens_, i_) + "\"");
  }

  Status ExpectOperand(Operand* out) {
    const Token& t = tokens_[i_];
    if (!IsOperandToken(t)) return SyntaxError();
    // A document path (a.b, a[0]) or a function call is never a key attribute.
    const Token& next = tokens_[i_ + 1];
    if (t.kind != TokenKind::kValueRef &&
        (next.kind == TokenKind::kDot || next.kind == TokenKind::kLBracket)) {
      return Status::Validation(std::string(kInvalid) +
                                "Key attribute names must be top-level attributes; got a document path");
    }
    out->token = &t;
    ++i_;
    return Status::Ok();
  }

  Status Expect(TokenKind kind) {
    if (tokens_[i_].kind != kind) return SyntaxError();
    ++i_;
    return Status::Ok();
  }

  Status ParseCondition(RawCondition* c) {
    const Token& t = tokens_[i_];
    if (t.kind == TokenKind::kIdentifier && tokens_[i_ + 1].kind == TokenKind::kLParen) {
      if (!IsKeyword(t, "begins_with")) {
        return Status::Validation(std::string(kInvalid) + "Invalid function name; function: " + std::string(t.text));
      }
      i_ += 2;
      c->op = RawOp::kBeginsWith;
      MERIDIAN_RETURN_IF_ERROR(ExpectOperand(&c->lhs));
      MERIDIAN_RETURN_IF_ERROR(Expect(TokenKind::kComma));
      MERIDIAN_RETURN_IF_ERROR(ExpectOperand(&c->rhs));
      return Expect(TokenKind::kRParen);
    }
    MERIDIAN_RETURN_IF_ERROR(ExpectOperand(&c->lhs));
    const Token& op = tokens_[i_];
    if (IsKeyword(op, "BETWEEN")) {
      ++i_;
      c->op = RawOp::kBetween;
      MERIDIAN_RETURN_IF_ERROR(ExpectOperand(&c->rhs));
      if (!IsKeyword(tokens_[i_], "AND")) return SyntaxError();
      ++i_;
      return ExpectOperand(&c->upper);
    }
    switch (op.kind) {
      case TokenKind::kEq: c->op = RawOp::kEq; break;
      case TokenKind::kLt: c->op = RawOp::kLt; break;
      case TokenKind::kLe: c->op = RawOp::kLe; break;
      case TokenKind::kGt: c->op = RawOp::kGt; break;
      case TokenKind::kGe: c->op = RawOp::kGe; break;
      case TokenKind::kNe:
        return Status::Validation("Invalid operator used in KeyConditionExpression: <>");
      default:
        if (IsKeyword(op, "IN")) return Status::Validation("Invalid operator used in KeyConditionExpression: IN");
        return SyntaxError();
    }
    ++i_;
    return ExpectOperand(&c->rhs);
  }

  std::string_view expression_;
  const std::vector<Token>& tokens_;
  size_t i_ = 0;
};

// Resolves placeholders, recording which were used.
class Resolver {
 public:
  Resolver(const ExpressionAttributeNames& names, const ExpressionAttributeValues& values)
      : names_(names), values_(values) {}

  Status Name(const Operand& o, std::string* out) {
    if (o.token->kind == TokenKind::kIdentifier) {
      *out = std::string(o.token->text);
      return Status::Ok();
    }
    std::string ref(o.token->text);
    auto it = names_.find(ref);
    if (it == names_.end()) {
      return Status::Validation("An expression attribute name used in expression is not defined; attribute name: " + ref);
    }
    used_names_.insert(ref);
    *out = it->second;
    return Status::Ok();
  }

  Status Value(const Operand& o, const AttributeValue** out) {
    std::string ref(o.token->text);
    auto it = values_.find(ref);
    if (it == values_.end()) {
      return Status::Validation("An expression attribute value used in expression is not defined; attribute value: " + ref);
    }
    used_values_.insert(ref);
    *out = &it->second;
    return Status::Ok();
  }

  const std::set<std::string>& used_names() const { return used_names_; }
  const std::set<std::string>& used_values() const { return used_values_; }

  Status CheckAllUsed() const {
    auto unused = [](const auto& map, const std::set<std::string>& used) {
      std::string list;
      for (const auto& [key, v] : map) {
        if (used.count(key)) continue;
        list += list.empty() ? "" : ", ";
        list += key;
      }
      return list;
    };
    std::string v = unused(values_, used_values_);
    if (!v.empty()) return Status::Validation("Value provided in ExpressionAttributeValues unused in expressions: keys: {" + v + "}");
    std::string n = unused(names_, used_names_);
    if (!n.empty()) return Status::Validation("Value provided in ExpressionAttributeNames unused in expressions: keys: {" + n + "}");
    return Status::Ok();
  }

 private:
  const ExpressionAttributeNames& names_;
  const ExpressionAttributeValues& values_;
  std::set<std::string> used_names_, used_values_;
};

struct ResolvedCondition {
  RawOp op;
  std::string name;
  const AttributeValue* value = nullptr;
  const AttributeValue* upper = nullptr;
};

RawOp Mirror(RawOp op) {
  switch (op) {
    case RawOp::kLt: return RawOp::kGt;
    case RawOp::kLe: return RawOp::kGe;
    case RawOp::kGt: return RawOp::kLt;
    case RawOp::kGe: return RawOp::kLe;
    default: return op;
  }
}

Status Resolve(const RawCondition& c, Resolver* r, ResolvedCondition* out) {
  out->op = c.op;
  const Operand* name = &c.lhs;
  const Operand* value = &c.rhs;
  if (c.op != RawOp::kBetween && c.op != RawOp::kBeginsWith && c.lhs.is_value() && !c.rhs.is_value()) {
    // `:v < sk` means `sk > :v`.
    std::swap(name, value);
    out->op = Mirror(c.op);
  }
  // Resolve every placeholder first so that undefined ones are reported before shape errors.
  std::string resolved_name;
  const AttributeValue* v = nullptr;
  for (const Operand* o : {&c.lhs, &c.rhs, &c.upper}) {
    if (o->token == nullptr) continue;
    if (o->is_value()) {
      MERIDIAN_RETURN_IF_ERROR(r->Value(*o, &v));
    } else {
      MERIDIAN_RETURN_IF_ERROR(r->Name(*o, &resolved_name));
    }
  }
  if (name->is_value() || !value->is_value() || (c.upper.token != nullptr && !c.upper.is_value())) {
    return Status::Validation(std::string(kInvalid) +
                              "A key condition must compare a key attribute name with an expression attribute value");
  }
  MERIDIAN_RETURN_IF_ERROR(r->Name(*name, &out->name));
  MERIDIAN_RETURN_IF_ERROR(r->Value(*value, &out->value));
  if (c.upper.token != nullptr) MERIDIAN_RETURN_IF_ERROR(r->Value(c.upper, &out->upper));
  return Status::Ok();
}

std::string Describe(const AttributeValue& v) {
  std::string text;
  switch (v.type()) {
    case AttributeType::kS: text = v.s(); break;
    case AttributeType::kN: text = v.n().ToString(); break;
    case AttributeType::kB: text = "<" + std::to_string(v.b().size()) + " bytes>"; break;
    default: break;
  }
  return std::string("AttributeValue: {") + AttributeTypeName(v.type()) + ":" + text + "}";
}

Status CheckKeyValue(const AttributeValue& v, AttributeType type, const std::string& name, bool allow_empty) {
  if (!v.is(type)) return Status::Validation(kTypeMismatch);
  if (!allow_empty && type == AttributeType::kS && v.s().empty()) {
    return Status::Validation(
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an "
        "empty string value. Key: " + name);
  }
  if (!allow_empty && type == AttributeType::kB && v.b().empty()) {
    return Status::Validation(
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an "
        "empty binary value. Key: " + name);
  }
  return Status::Ok();
}

}  // namespace

// Checks resolved conditions against the key schema and builds the KeyCondition.
Result<KeyCondition> BuildKeyCondition(const std::vector<ResolvedCondition>& conditions,
                                       const KeySchemaInfo& schema) {
  const ResolvedCondition* pk = nullptr;
  const ResolvedCondition* sk = nullptr;
  bool other = false;
  for (const auto& c : conditions) {
    const ResolvedCondition** slot = nullptr;
    if (c.name == schema.pk_name) slot = &pk;
    else if (schema.sk_name && c.name == *schema.sk_name) slot = &sk;
    if (slot == nullptr) {
      other = true;
      continue;
    }
    if (*slot != nullptr) return Status::Validation("KeyConditionExpressions must only contain one condition per key");
    *slot = &c;
  }
  if (pk == nullptr) return Status::Validation("Query condition missed key schema element: " + schema.pk_name);
  if (other) {
    if (schema.sk_name && sk == nullptr) {
      return Status::Validation("Query condition missed key schema element: " + *schema.sk_name);
    }
    return Status::Validation(kNotSupported);
  }
  if (pk->op != RawOp::kEq) return Status::Validation(kNotSupported);
  MERIDIAN_RETURN_IF_ERROR(CheckKeyValue(*pk->value, schema.pk_type, schema.pk_name, false));

  KeyCondition out;
  out.pk = *pk->value;
  if (sk != nullptr) {
    SortKeyCondition s;
    switch (sk->op) {
      case RawOp::kEq: s.op = SortKeyOp::kEq; break;
      case RawOp::kLt: s.op = SortKeyOp::kLt; break;
      case RawOp::kLe: s.op = SortKeyOp::kLe; break;
      case RawOp::kGt: s.op = SortKeyOp::kGt; break;
      case RawOp::kGe: s.op = SortKeyOp::kGe; break;
      case RawOp::kBetween: s.op = SortKeyOp::kBetween; break;
      case RawOp::kBeginsWith: s.op = SortKeyOp::kBeginsWith; break;
    }
    if (s.op == SortKeyOp::kBeginsWith && schema.sk_type == AttributeType::kN) {
      return Status::Validation(std::string(kInvalid) +
                                "Incorrect operand type for operator or function; operator or function: "
                                "begins_with, operand type: N");
    }
    bool allow_empty = s.op == SortKeyOp::kBeginsWith;
    MERIDIAN_RETURN_IF_ERROR(CheckKeyValue(*sk->value, schema.sk_type, *schema.sk_name, allow_empty));
    s.value = *sk->value;
    if (s.op == SortKeyOp::kBetween) {
      MERIDIAN_RETURN_IF_ERROR(CheckKeyValue(*sk->upper, schema.sk_type, *schema.sk_name, false));
      s.upper = *sk->upper;
      if (EncodeKeyValue(s.value) > EncodeKeyValue(s.upper)) {
        return Status::Validation(std::string(kInvalid) +
                                  "The BETWEEN operator requires upper bound to be greater than or equal to lower "
                                  "bound; lower bound operand: " + Describe(s.value) +
                                  ", upper bound operand: " + Describe(s.upper));
      }
    }
    out.sk = std::move(s);
  }
  return out;
}

Result<KeyCondition> ParseKeyCondition(std::string_view expression,
                                       const ExpressionAttributeNames& names,
                                       const ExpressionAttributeValues& values,
                                       const KeySchemaInfo& schema, KeyConditionRefs* refs) {
  if (expression.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Status::Validation(std::string(kInvalid) + "The expression can not be empty;");
  }
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(expression, kWhat));
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<RawCondition> raw, Parser(expression, tokens).Run());

  Resolver resolver(names, values);
  std::vector<ResolvedCondition> conditions(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) MERIDIAN_RETURN_IF_ERROR(Resolve(raw[i], &resolver, &conditions[i]));
  if (refs == nullptr) {
    MERIDIAN_RETURN_IF_ERROR(resolver.CheckAllUsed());
  } else {
    refs->names = resolver.used_names();
    refs->values = resolver.used_values();
  }
  return BuildKeyCondition(conditions, schema);
}

Result<KeyCondition> KeyConditionFromLegacy(const LegacyConditions& key_conditions,
                                            const KeySchemaInfo& schema) {
  // KeyConditions: {attr: {ComparisonOperator, AttributeValueList}}, EQ on the partition key and
  // one of EQ LE LT GE GT BEGINS_WITH BETWEEN on the sort key
  // (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Query.html#DDB-Query-request-KeyConditions).
  std::vector<ResolvedCondition> conditions;
  for (const auto& [name, c] : key_conditions) {
    if (!c.comparison_operator) {
      return Status::Validation("One or more parameter values were invalid: Invalid KeyConditions: "
                                "ComparisonOperator is required for attribute " + name);
    }
    if (c.value || c.exists) {
      return Status::Validation("One or more parameter values were invalid: Value and Exists are not allowed "
                                "in KeyConditions");
    }
    static const std::pair<const char*, std::pair<RawOp, size_t>> kOps[] = {
        {"EQ", {RawOp::kEq, 1}}, {"LE", {RawOp::kLe, 1}}, {"LT", {RawOp::kLt, 1}}, {"GE", {RawOp::kGe, 1}},
        {"GT", {RawOp::kGt, 1}}, {"BEGINS_WITH", {RawOp::kBeginsWith, 1}}, {"BETWEEN", {RawOp::kBetween, 2}}};
    const std::pair<RawOp, size_t>* op = nullptr;
    for (const auto& [text, spec] : kOps)
      if (*c.comparison_operator == text) op = &spec;
    if (op == nullptr) {
      return Status::Validation("One or more parameter values were invalid: Unsupported operator on KeyCondition: " +
                                *c.comparison_operator);
    }
    if (c.attribute_value_list.size() != op->second) {
      return Status::Validation("One or more parameter values were invalid: Invalid number of argument(s) for the " +
                                *c.comparison_operator + " ComparisonOperator");
    }
    ResolvedCondition r;
    r.op = op->first;
    r.name = name;
    r.value = &c.attribute_value_list[0];
    if (op->second == 2) r.upper = &c.attribute_value_list[1];
    conditions.push_back(r);
  }
  return BuildKeyCondition(conditions, schema);
}

}  // namespace meridian
