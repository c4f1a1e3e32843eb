// Parsing of condition, update and projection expressions (see expression.h).
//
// A recursive-descent parser over storage/expression_tokenizer.h tokens. Recursion happens only
// on nesting (parentheses, NOT, function calls), and every nesting step goes through Enter(),
// which refuses more than kMaxExpressionNesting levels; AND and OR chains are loops that build one
// flattened node. Semantic errors found while parsing (reserved words, unknown functions, ...) are
// recorded by category and reported after the whole text parsed, so that a syntax error anywhere
// wins, as in DynamoDB.
#include <algorithm>
#include <array>
#include <charconv>

#include "storage/expression.h"
#include "storage/reserved_words.h"

namespace meridian::expr {

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kCondition: return "ConditionExpression";
    case Kind::kFilter: return "FilterExpression";
    case Kind::kKeyCondition: return "KeyConditionExpression";
    case Kind::kUpdate: return "UpdateExpression";
    case Kind::kProjection: return "ProjectionExpression";
  }
  return "Expression";
}

std::string PathToString(const ResolvedPath& path) {
  std::string out = "[";
  for (size_t i = 0; i < path.size(); ++i) {
    if (i > 0) out += ", ";
    if (path[i].is_index) {
      out += '[';
      out += std::to_string(path[i].index);
      out += ']';
    } else {
      out += path[i].name;
    }
  }
  return out + "]";
}

namespace {

// Deferred semantic errors, in the order DynamoDB reports them when several are present.
enum Category : int {
  kParens, kUnknownFunction, kMisusedFunction, kReserved, kSection, kOperandCount, kDocPath,
  kCategoryCount,
};

struct FunctionInfo {
  std::string_view name;
  Function function;
  int arity;
  bool condition;  // usable in conditions (else in updates)
  bool boolean;    // a condition on its own (else an operand)
};

constexpr FunctionInfo kFunctions[] = {
    {"attribute_exists", Function::kAttributeExists, 1, true, true},
    {"attribute_not_exists", Function::kAttributeNotExists, 1, true, true},
    {"attribute_type", Function::kAttributeType, 2, true, true},
    {"begins_with", Function::kBeginsWith, 2, true, true},
    {"contains", Function::kContains, 2, true, true},
    {"size", Function::kSize, 1, true, false},
    {"if_not_exists", Function::kIfNotExists, 2, false, false},
    {"list_append", Function::kListAppend, 2, false, false},
};

bool IsBooleanFunction(const Operand& o) {
  if (o.type != Operand::Type::kFunction) return false;
  switch (o.function) {
    case Function::kAttributeExists:
    case Function::kAttributeNotExists:
    case Function::kAttributeType:
    case Function::kBeginsWith:
    case Function::kContains:
      return true;
    default:
      return false;
  }
}

std::string_view FunctionName(Function f) {
  switch (f) {
    case Function::kPlus: return "+";
    case Function::kMinus: return "-";
    default: break;
  }
  for (const FunctionInfo& info : kFunctions) {
    if (info.function == f) return info.name;
  }
  return "?";
}

class Parser {
 public:
  Parser(std::string_view text, Kind kind)
      : text_(text), kind_(kind), prefix_("Invalid " + std::string(KindName(kind)) + ": ") {}

  Status Start() {
    if (text_.empty()) return Status::Validation(prefix_ + "The expression can not be empty;");
    MERIDIAN_ASSIGN_OR_RETURN(tokens_, Tokenize(text_, KindName(kind_)));
    return Status::Ok();
  }

  // A condition: the whole text is one OR-expression.
  Status ParseConditionText(Condition* out) {
    cond_ = out;
    Unit unit;
    MERIDIAN_RETURN_IF_ERROR(ParseOr(false, &unit));
    if (Cur().kind != TokenKind::kEnd) return SyntaxError();
    out->root = unit.node;
    return Finish(out);
  }

  Status ParseUpdateText(Update* out) {
    bool seen[4] = {false, false, false, false};
    static constexpr std::string_view kSections[4] = {"SET", "REMOVE", "ADD", "DELETE"};
    if (Cur().kind == TokenKind::kEnd) return SyntaxError();
    while (Cur().kind != TokenKind::kEnd) {
      int section = -1;
      for (int s = 0; s < 4; ++s) {
        if (IsKeyword(Cur(), kSections[s])) section = s;
      }
      if (section < 0) return SyntaxError();
      if (seen[section]) {
        Record(kSection, "The \"" + std::string(kSections[section]) +
                             "\" section can only be used once in an update expression;");
      }
      seen[section] = true;
      ++i_;
      while (true) {
        UpdateAction action;
        action.type = static_cast<UpdateAction::Type>(section);
        MERIDIAN_RETURN_IF_ERROR(ParsePath(&action.path));
        switch (action.type) {
          case UpdateAction::Type::kSet:
            MERIDIAN_RETURN_IF_ERROR(Expect(TokenKind::kEq));
            MERIDIAN_RETURN_IF_ERROR(ParseSetValue(&action.value));
            break;
          case UpdateAction::Type::kRemove:
            break;
          case UpdateAction::Type::kAdd:
          case UpdateAction::Type::kDelete:
            if (Cur().kind != TokenKind::kValueRef) return SyntaxError();
            MERIDIAN_RETURN_IF_ERROR(ParseValueRef(&action.value));
            break;
        }
        out->actions.push_back(std::move(action));
        if (Cur().kind != TokenKind::kComma) break;
        ++i_;
      }
    }
    return Finish(out);
  }

  Status ParseProjectionText(Projection* out) {
    while (true) {
      Path path;
      MERIDIAN_RETURN_IF_ERROR(ParsePath(&path));
      out->paths.push_back(std::move(path));
      if (Cur().kind == TokenKind::kEnd) break;
      MERIDIAN_RETURN_IF_ERROR(Expect(TokenKind::kComma));
    }
    return Finish(out);
  }

 private:
  // What a parse step produced: a condition node or (inside parentheses, or before a comparator)
  // an operand. `parenthesized` is true when the unit is exactly "( ... )", to find redundant
  // parentheses.
  struct Unit {
    bool is_node = false;
    uint32_t node = 0;
    Operand operand;
    bool parenthesized = false;
  };

  const Token& Cur() const { return tokens_[i_]; }
  const Token& Next() const { return tokens_[std::min(i_ + 1, tokens_.size() - 1)]; }

  Status SyntaxError() const {
    const Token& t = Cur();
    std::string token = t.kind == TokenKind::kEnd ? "<EOF>" : std::string(t.text);
    return Status::Validation(prefix_ + "Syntax error; token: \"" + token + "\", near: \"" +
                              NearText(text_, tokens_, i_) + "\"");
  }

  Status Expect(TokenKind kind) {
    if (Cur().kind != kind) return SyntaxError();
    ++i_;
    return Status::Ok();
  }

  Status Enter() {
    if (++depth_ > kMaxExpressionNesting) {
      return Status::Validation(prefix_ + "The expression has too many nesting levels; maximum: " +
                                std::to_string(kMaxExpressionNesting));
    }
    return Status::Ok();
  }
  void Leave() { --depth_; }

  Status CountOperator() {
    if (++operators_ > kMaxOperators) {
      return Status::Validation(prefix_ + "The expression contains too many operators; maximum: " +
                                std::to_string(kMaxOperators));
    }
    return Status::Ok();
  }

  void Record(Category c, std::string message) {
    if (errors_[c].empty()) errors_[c] = std::move(message);
  }

  Status Finish(ParsedExpression* out) {
    for (const std::string& e : errors_) {
      if (!e.empty()) return Status::Validation(prefix_ + e);
    }
    std::sort(names_.begin(), names_.end());
    names_.erase(std::unique(names_.begin(), names_.end()), names_.end());
    std::sort(values_.begin(), values_.end());
    values_.erase(std::unique(values_.begin(), values_.end()), values_.end());
    out->kind = kind_;
    out->name_refs = std::move(names_);
    out->value_refs = std::move(values_);
    return Status::Ok();
  }

  uint32_t AddNode(ConditionNode node) {
    cond_->nodes.push_back(std::move(node));
    return static_cast<uint32_t>(cond_->nodes.size() - 1);
  }

  // --- Paths and operands ---

  Status ParsePathName(Path* path) {
    const Token& t = Cur();
    PathElement e;
    if (t.kind == TokenKind::kIdentifier) {
      e.type = PathElement::Type::kName;
      e.name = std::string(t.text);
      if (IsReservedWord(t.text)) {
        Record(kReserved, "Attribute name is a reserved keyword; reserved keyword: " + e.name);
      }
    } else if (t.kind == TokenKind::kNameRef) {
      e.type = PathElement::Type::kNameRef;
      e.name = std::string(t.text);
      names_.push_back(e.name);
    } else {
      return SyntaxError();
    }
    ++i_;
    path->push_back(std::move(e));
    return Status::Ok();
  }

  Status ParsePath(Path* path) {
    MERIDIAN_RETURN_IF_ERROR(ParsePathName(path));
    while (true) {
      if (Cur().kind == TokenKind::kDot) {
        ++i_;
        MERIDIAN_RETURN_IF_ERROR(ParsePathName(path));
      } else if (Cur().kind == TokenKind::kLBracket) {
        ++i_;
        if (Cur().kind != TokenKind::kNumber) return SyntaxError();
        uint32_t index = 0;
        auto [ptr, ec] = std::from_chars(Cur().text.data(), Cur().text.data() + Cur().text.size(), index);
        if (ec != std::errc() || index > static_cast<uint32_t>(INT32_MAX)) return SyntaxError();
        ++i_;
        MERIDIAN_RETURN_IF_ERROR(Expect(TokenKind::kRBracket));
        PathElement e;
        e.type = PathElement::Type::kIndex;
        e.index = index;
        path->push_back(std::move(e));
      } else {
        break;
      }
      if (path->size() > static_cast<size_t>(kMaxPathDepth)) {
        return Status::Validation(prefix_ +
                                  "The document path has too many nesting levels; nesting levels: " +
                                  std::to_string(path->size()));
      }
    }
    return Status::Ok();
  }

  Status ParseValueRef(Operand* out) {
    out->type = Operand::Type::kValueRef;
    out->value_ref = std::string(Cur().text);
    values_.push_back(out->value_ref);
    ++i_;
    return Status::Ok();
  }

  // name '(' operand, ... ')'
  Status ParseFunctionCall(Operand* out) {
    std::string_view name = Cur().text;
    bool update = kind_ == Kind::kUpdate;
    const FunctionInfo* info = nullptr;
    for (const FunctionInfo& f : kFunctions) {
      if (f.name == name && f.condition != update) info = &f;
    }
    if (info == nullptr) Record(kUnknownFunction, "Invalid function name; function: " + std::string(name));
    i_ += 2;  // name and '('
    MERIDIAN_RETURN_IF_ERROR(Enter());
    MERIDIAN_RETURN_IF_ERROR(CountOperator());
    out->type = Operand::Type::kFunction;
    out->function = info != nullptr ? info->function : Function::kSize;
    while (true) {
      Operand arg;
      if (update) {
        MERIDIAN_RETURN_IF_ERROR(ParseUpdateOperand(&arg));
      } else {
        MERIDIAN_RETURN_IF_ERROR(ParseConditionOperand(&arg));
      }
      out->args.push_back(std::move(arg));
      if (Cur().kind != TokenKind::kComma) break;
      ++i_;
    }
    MERIDIAN_RETURN_IF_ERROR(Expect(TokenKind::kRParen));
    Leave();
    if (info == nullptr) return Status::Ok();
    if (static_cast<int>(out->args.size()) != info->arity) {
      Record(kOperandCount, "Incorrect number of operands for operator or function; operator or function: " +
                                std::string(name) + ", number of operands: " + std::to_string(out->args.size()));
      return Status::Ok();
    }
    bool needs_path = out->function == Function::kAttributeExists ||
                      out->function == Function::kAttributeNotExists ||
                      out->function == Function::kAttributeType ||
                      out->function == Function::kIfNotExists;
    if (needs_path && out->args[0].type != Operand::Type::kPath) {
      Record(kDocPath, "Operator or function requires a document path; operator or function: " + std::string(name));
    }
    if (!update) {
      for (const Operand& arg : out->args) CheckMisused(arg);
    }
    return Status::Ok();
  }

  // A function other than size used where a value is needed.
  void CheckMisused(const Operand& o) {
    if (o.type == Operand::Type::kFunction && o.function != Function::kSize) {
      Record(kMisusedFunction, "The function is not allowed to be used this way in an expression; function: " +
                                   std::string(FunctionName(o.function)));
    }
  }

  // --- Conditions ---

  Status ParseConditionOperand(Operand* out) {
    Unit unit;
    MERIDIAN_RETURN_IF_ERROR(ParseUnit(&unit));
    if (unit.is_node) return SyntaxError();
    *out = std::move(unit.operand);
    return Status::Ok();
  }

  // '(' or-expression ')' | function call | path | :value
  Status ParseUnit(Unit* out) {
    const Token& t = Cur();
    if (t.kind == TokenKind::kLParen) {
      ++i_;
      MERIDIAN_RETURN_IF_ERROR(Enter());
      Unit inner;
      MERIDIAN_RETURN_IF_ERROR(ParseOr(true, &inner));
      MERIDIAN_RETURN_IF_ERROR(Expect(TokenKind::kRParen));
      Leave();
      if (inner.parenthesized) Record(kParens, "The expression has redundant parentheses;");
      inner.parenthesized = true;
      *out = std::move(inner);
      return Status::Ok();
    }
    out->is_node = false;
    out->parenthesized = false;
    if (t.kind == TokenKind::kIdentifier && Next().kind == TokenKind::kLParen) {
      return ParseFunctionCall(&out->operand);
    }
    if (t.kind == TokenKind::kIdentifier || t.kind == TokenKind::kNameRef) {
      out->operand.type = Operand::Type::kPath;
      return ParsePath(&out->operand.path);
    }
    if (t.kind == TokenKind::kValueRef) return ParseValueRef(&out->operand);
    return SyntaxError();
  }

  static bool ComparatorOf(TokenKind kind, CompareOp* op) {
    switch (kind) {
      case TokenKind::kEq: *op = CompareOp::kEq; return true;
      case TokenKind::kNe: *op = CompareOp::kNe; return true;
      case TokenKind::kLt: *op = CompareOp::kLt; return true;
      case TokenKind::kLe: *op = CompareOp::kLe; return true;
      case TokenKind::kGt: *op = CompareOp::kGt; return true;
      case TokenKind::kGe: *op = CompareOp::kGe; return true;
      default: return false;
    }
  }

  Status ParsePredicate(bool allow_operand, Unit* out) {
    Unit unit;
    MERIDIAN_RETURN_IF_ERROR(ParseUnit(&unit));
    if (unit.is_node) {
      *out = std::move(unit);
      return Status::Ok();
    }
    ConditionNode node;
    CompareOp op;
    if (ComparatorOf(Cur().kind, &op)) {
      ++i_;
      MERIDIAN_RETURN_IF_ERROR(CountOperator());
      node.type = ConditionNode::Type::kCompare;
      node.op = op;
      node.operands.push_back(std::move(unit.operand));
      Operand rhs;
      MERIDIAN_RETURN_IF_ERROR(ParseConditionOperand(&rhs));
      node.operands.push_back(std::move(rhs));
    } else if (IsKeyword(Cur(), "BETWEEN")) {
      ++i_;
      MERIDIAN_RETURN_IF_ERROR(CountOperator());
      node.type = ConditionNode::Type::kBetween;
      node.operands.push_back(std::move(unit.operand));
      Operand low, high;
      MERIDIAN_RETURN_IF_ERROR(ParseConditionOperand(&low));
      if (!IsKeyword(Cur(), "AND")) return SyntaxError();
      ++i_;
      MERIDIAN_RETURN_IF_ERROR(ParseConditionOperand(&high));
      node.operands.push_back(std::move(low));
      node.operands.push_back(std::move(high));
    } else if (IsKeyword(Cur(), "IN")) {
      ++i_;
      MERIDIAN_RETURN_IF_ERROR(CountOperator());
      node.type = ConditionNode::Type::kIn;
      node.operands.push_back(std::move(unit.operand));
      MERIDIAN_RETURN_IF_ERROR(Expect(TokenKind::kLParen));
      while (true) {
        Operand candidate;
        MERIDIAN_RETURN_IF_ERROR(ParseConditionOperand(&candidate));
        node.operands.push_back(std::move(candidate));
        if (node.operands.size() - 1 > static_cast<size_t>(kMaxInOperands)) {
          return Status::Validation(prefix_ + "The IN operator has too many operands; maximum: " +
                                    std::to_string(kMaxInOperands));
        }
        if (Cur().kind != TokenKind::kComma) break;
        ++i_;
      }
      MERIDIAN_RETURN_IF_ERROR(Expect(TokenKind::kRParen));
    } else if (IsBooleanFunction(unit.operand)) {
      node.type = ConditionNode::Type::kFunction;
      node.operands.push_back(std::move(unit.operand));
      out->is_node = true;
      out->node = AddNode(std::move(node));
      out->parenthesized = false;
      return Status::Ok();
    } else if (allow_operand) {
      *out = std::move(unit);
      return Status::Ok();
    } else if (unit.operand.type == Operand::Type::kFunction) {
      // size(a) alone is not a condition.
      Record(kMisusedFunction, "The function is not allowed to be used this way in an expression; function: " +
                                   std::string(FunctionName(unit.operand.function)));
      node.type = ConditionNode::Type::kFunction;
      node.operands.push_back(std::move(unit.operand));
      out->is_node = true;
      out->node = AddNode(std::move(node));
      out->parenthesized = false;
      return Status::Ok();
    } else {
      return SyntaxError();
    }
    for (const Operand& o : node.operands) CheckMisused(o);
    out->is_node = true;
    out->parenthesized = false;
    out->node = AddNode(std::move(node));
    return Status::Ok();
  }

  Status ParseNot(bool allow_operand, Unit* out) {
    if (!IsKeyword(Cur(), "NOT")) return ParsePredicate(allow_operand, out);
    ++i_;
    MERIDIAN_RETURN_IF_ERROR(CountOperator());
    MERIDIAN_RETURN_IF_ERROR(Enter());
    Unit inner;
    MERIDIAN_RETURN_IF_ERROR(ParseNot(false, &inner));
    Leave();
    ConditionNode node;
    node.type = ConditionNode::Type::kNot;
    node.children.push_back(inner.node);
    out->is_node = true;
    out->parenthesized = false;
    out->node = AddNode(std::move(node));
    return Status::Ok();
  }

  // A chain `x KEYWORD y KEYWORD z` as one flattened node; `next` parses the operands.
  template <typename Next>
  Status ParseChain(bool allow_operand, std::string_view keyword, ConditionNode::Type type, Next next,
                    Unit* out) {
    Unit first;
    MERIDIAN_RETURN_IF_ERROR(next(allow_operand, &first));
    if (!IsKeyword(Cur(), keyword)) {
      *out = std::move(first);
      return Status::Ok();
    }
    if (!first.is_node) return SyntaxError();
    ConditionNode node;
    node.type = type;
    node.children.push_back(first.node);
    while (IsKeyword(Cur(), keyword)) {
      ++i_;
      MERIDIAN_RETURN_IF_ERROR(CountOperator());
      Unit more;
      MERIDIAN_RETURN_IF_ERROR(next(false, &more));
      node.children.push_back(more.node);
    }
    out->is_node = true;
    out->parenthesized = false;
    out->node = AddNode(std::move(node));
    return Status::Ok();
  }

  Status ParseAnd(bool allow_operand, Unit* out) {
    return ParseChain(allow_operand, "AND", ConditionNode::Type::kAnd,
                      [this](bool a, Unit* u) { return ParseNot(a, u); }, out);
  }

  Status ParseOr(bool allow_operand, Unit* out) {
    return ParseChain(allow_operand, "OR", ConditionNode::Type::kOr,
                      [this](bool a, Unit* u) { return ParseAnd(a, u); }, out);
  }

  // --- Updates ---

  // operand [('+' | '-') operand], optionally in parentheses as a whole.
  Status ParseSetValue(Operand* out) {
    Operand first;
    if (Cur().kind == TokenKind::kLParen) {
      ++i_;
      MERIDIAN_RETURN_IF_ERROR(Enter());
      MERIDIAN_RETURN_IF_ERROR(ParseUpdateOperand(&first));
      if (Cur().kind == TokenKind::kPlus || Cur().kind == TokenKind::kMinus) {
        MERIDIAN_RETURN_IF_ERROR(ParseArithmetic(std::move(first), out));
        MERIDIAN_RETURN_IF_ERROR(Expect(TokenKind::kRParen));
        Leave();
        return Status::Ok();
      }
      MERIDIAN_RETURN_IF_ERROR(Expect(TokenKind::kRParen));
      Leave();
    } else {
      MERIDIAN_RETURN_IF_ERROR(ParseUpdateOperand(&first));
    }
    if (Cur().kind == TokenKind::kPlus || Cur().kind == TokenKind::kMinus) {
      return ParseArithmetic(std::move(first), out);
    }
    *out = std::move(first);
    return Status::Ok();
  }

  Status ParseArithmetic(Operand first, Operand* out) {
    out->type = Operand::Type::kFunction;
    out->function = Cur().kind == TokenKind::kPlus ? Function::kPlus : Function::kMinus;
    ++i_;
    MERIDIAN_RETURN_IF_ERROR(CountOperator());
    Operand second;
    MERIDIAN_RETURN_IF_ERROR(ParseUpdateOperand(&second));
    out->args.push_back(std::move(first));
    out->args.push_back(std::move(second));
    return Status::Ok();
  }

  // '(' operand ')' | function call | path | :value
  Status ParseUpdateOperand(Operand* out) {
    const Token& t = Cur();
    if (t.kind == TokenKind::kLParen) {
      ++i_;
      MERIDIAN_RETURN_IF_ERROR(Enter());
      MERIDIAN_RETURN_IF_ERROR(ParseUpdateOperand(out));
      MERIDIAN_RETURN_IF_ERROR(Expect(TokenKind::kRParen));
      Leave();
      return Status::Ok();
    }
    if (t.kind == TokenKind::kIdentifier && Next().kind == TokenKind::kLParen) return ParseFunctionCall(out);
    if (t.kind == TokenKind::kIdentifier || t.kind == TokenKind::kNameRef) {
      out->type = Operand::Type::kPath;
      return ParsePath(&out->path);
    }
    if (t.kind == TokenKind::kValueRef) return ParseValueRef(out);
    return SyntaxError();
  }

  std::string_view text_;
  Kind kind_;
  std::string prefix_;
  std::vector<Token> tokens_;
  size_t i_ = 0;
  int depth_ = 0;
  int operators_ = 0;
  Condition* cond_ = nullptr;
  std::array<std::string, kCategoryCount> errors_;
  std::vector<std::string> names_;
  std::vector<std::string> values_;
};

}  // namespace

namespace {

// Parses `text` as one expression of `kind` into a fresh, then shared and immutable, T.
template <typename T>
Result<std::shared_ptr<const T>> ParseInto(std::string_view text, Kind kind, Status (Parser::*parse)(T*)) {
  Parser parser(text, kind);
  MERIDIAN_RETURN_IF_ERROR(parser.Start());
  auto out = std::make_shared<T>();
  MERIDIAN_RETURN_IF_ERROR((parser.*parse)(out.get()));
  return std::shared_ptr<const T>(std::move(out));
}

}  // namespace

Result<std::shared_ptr<const Condition>> ParseCondition(std::string_view text, Kind kind) {
  assert(kind == Kind::kCondition || kind == Kind::kFilter || kind == Kind::kKeyCondition);
  return ParseInto<Condition>(text, kind, &Parser::ParseConditionText);
}

Result<std::shared_ptr<const Update>> ParseUpdate(std::string_view text) {
  return ParseInto<Update>(text, Kind::kUpdate, &Parser::ParseUpdateText);
}

Result<std::shared_ptr<const Projection>> ParseProjection(std::string_view text) {
  return ParseInto<Projection>(text, Kind::kProjection, &Parser::ParseProjectionText);
}

}  // namespace meridian::expr
