// The legacy conditional parameters mapped onto expression trees (see expression.h):
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/LegacyConditionalParameters.html
// Names are literal (no reserved-word rule applies to them) and values become literals of the
// tree, so evaluation needs no bindings.
#include <algorithm>

#include "storage/expression.h"

namespace meridian::expr {
namespace {

constexpr char kInvalid[] = "One or more parameter values were invalid: ";

struct OperatorInfo {
  std::string_view name;
  int min_values;
  int max_values;
  // Types an AttributeValueList member may have; empty = any.
  std::vector<AttributeType> types;
};

const std::vector<AttributeType> kScalar = {AttributeType::kS, AttributeType::kN, AttributeType::kB};

const OperatorInfo* FindOperator(std::string_view name) {
  static const OperatorInfo kOperators[] = {
      {"EQ", 1, 1, {}},
      {"NE", 1, 1, {}},
      {"LE", 1, 1, kScalar},
      {"LT", 1, 1, kScalar},
      {"GE", 1, 1, kScalar},
      {"GT", 1, 1, kScalar},
      {"NOT_NULL", 0, 0, {}},
      {"NULL", 0, 0, {}},
      {"CONTAINS", 1, 1, kScalar},
      {"NOT_CONTAINS", 1, 1, kScalar},
      {"BEGINS_WITH", 1, 1, {AttributeType::kS, AttributeType::kB}},
      {"IN", 1, 1 << 30, kScalar},
      {"BETWEEN", 2, 2, kScalar},
  };
  for (const OperatorInfo& op : kOperators) {
    if (op.name == name) return &op;
  }
  return nullptr;
}

bool KeyConditionOperator(std::string_view name) {
  return name == "EQ" || name == "LE" || name == "LT" || name == "GE" || name == "GT" ||
         name == "BEGINS_WITH" || name == "BETWEEN";
}

class Builder {
 public:
  explicit Builder(ParsedExpression* e) : e_(e) {}

  Operand Literal(const AttributeValue& v) {
    Operand o;
    o.type = Operand::Type::kLiteral;
    o.literal = static_cast<uint32_t>(e_->literals.size());
    e_->literals.push_back(v);
    return o;
  }

  static Operand Name(const std::string& name) {
    Operand o;
    o.type = Operand::Type::kPath;
    PathElement e;
    e.type = PathElement::Type::kName;
    e.name = name;
    o.path.push_back(std::move(e));
    return o;
  }

  static Operand Call(Function f, std::vector<Operand> args) {
    Operand o;
    o.type = Operand::Type::kFunction;
    o.function = f;
    o.args = std::move(args);
    return o;
  }

 private:
  ParsedExpression* e_;
};

uint32_t Add(Condition* c, ConditionNode node) {
  c->nodes.push_back(std::move(node));
  return static_cast<uint32_t>(c->nodes.size() - 1);
}

// One legacy condition on `attr` -> a node of `c`.
Result<uint32_t> ConvertOne(Condition* c, const std::string& attr, const LegacyCondition& cond, LegacyKind kind) {
  Builder b(c);
  ConditionNode node;
  if (!cond.comparison_operator) {
    if (kind != LegacyKind::kExpected) {
      return Status::Validation(std::string(kInvalid) + "ComparisonOperator must be specified for Attribute: " + attr);
    }
    if (!cond.attribute_value_list.empty()) {
      return Status::Validation(std::string(kInvalid) +
                                "AttributeValueList can only be used with a ComparisonOperator for Attribute: " + attr);
    }
    bool exists = cond.exists.value_or(true);
    if (exists && !cond.value) {
      return Status::Validation(std::string(kInvalid) + "Value must be provided when Exists is " +
                                (cond.exists ? "true" : "null") + " for Attribute: " + attr);
    }
    if (!exists && cond.value) {
      return Status::Validation(std::string(kInvalid) + "Value cannot be used when Exists is false for Attribute: " + attr);
    }
    if (exists) {
      node.type = ConditionNode::Type::kCompare;
      node.op = CompareOp::kEq;
      node.operands = {Builder::Name(attr), b.Literal(*cond.value)};
    } else {
      node.type = ConditionNode::Type::kFunction;
      node.operands = {Builder::Call(Function::kAttributeNotExists, {Builder::Name(attr)})};
    }
    return Add(c, std::move(node));
  }

  const std::string& op_name = *cond.comparison_operator;
  if (kind == LegacyKind::kKeyConditions && !KeyConditionOperator(op_name)) {
    return Status::Validation("Attempted conditional constraint is not an indexable operation");
  }
  const OperatorInfo* op = FindOperator(op_name);
  if (op == nullptr) return Status::Validation(std::string(kInvalid) + "Unknown ComparisonOperator: " + op_name);
  if (cond.exists) {
    return Status::Validation(std::string(kInvalid) + "Exists and ComparisonOperator cannot be used together for Attribute: " + attr);
  }
  if (cond.value && !cond.attribute_value_list.empty()) {
    return Status::Validation(std::string(kInvalid) + "Value and AttributeValueList cannot be used together for Attribute: " + attr);
  }
  std::vector<AttributeValue> values = cond.attribute_value_list;
  if (cond.value) values.push_back(*cond.value);
  if (values.empty() && op->min_values > 0 && kind == LegacyKind::kExpected) {
    return Status::Validation(std::string(kInvalid) + "Value or AttributeValueList must be used with ComparisonOperator: " +
                              op_name + " for Attribute: " + attr);
  }
  int count = static_cast<int>(values.size());
  if (count < op->min_values || count > op->max_values) {
    return Status::Validation(std::string(kInvalid) + "Invalid number of argument(s) for the " + op_name +
                              " ComparisonOperator");
  }
  for (const AttributeValue& v : values) {
    if (v.type() != values[0].type()) {
      return Status::Validation(std::string(kInvalid) + "AttributeValues inside AttributeValueList must be of same type");
    }
    if (!op->types.empty() && std::find(op->types.begin(), op->types.end(), v.type()) == op->types.end()) {
      return Status::Validation(std::string(kInvalid) + "ComparisonOperator " + op_name + " is not valid for " +
                                AttributeTypeName(v.type()) + " AttributeValue type");
    }
  }
  if (op_name == "BETWEEN") {
    bool reversed = false;
    if (values[0].is(AttributeType::kN)) reversed = values[0].n().Compare(values[1].n()) > 0;
    if (values[0].is(AttributeType::kS)) reversed = values[0].s() > values[1].s();
    if (values[0].is(AttributeType::kB)) reversed = values[0].b() > values[1].b();
    if (reversed) {
      return Status::Validation("The BETWEEN condition was provided a range where the lower bound is greater than the upper bound");
    }
  }

  Operand attr_op = Builder::Name(attr);
  auto compare = [&](CompareOp cmp) {
    node.type = ConditionNode::Type::kCompare;
    node.op = cmp;
    node.operands = {attr_op, b.Literal(values[0])};
  };
  auto function = [&](Function f, bool with_value) {
    node.type = ConditionNode::Type::kFunction;
    std::vector<Operand> args = {attr_op};
    if (with_value) args.push_back(b.Literal(values[0]));
    node.operands = {Builder::Call(f, std::move(args))};
  };
  if (op_name == "EQ") compare(CompareOp::kEq);
  else if (op_name == "NE") compare(CompareOp::kNe);
  else if (op_name == "LE") compare(CompareOp::kLe);
  else if (op_name == "LT") compare(CompareOp::kLt);
  else if (op_name == "GE") compare(CompareOp::kGe);
  else if (op_name == "GT") compare(CompareOp::kGt);
  else if (op_name == "NOT_NULL") function(Function::kAttributeExists, false);
  else if (op_name == "NULL") function(Function::kAttributeNotExists, false);
  else if (op_name == "CONTAINS" || op_name == "NOT_CONTAINS") function(Function::kContains, true);
  else if (op_name == "BEGINS_WITH") function(Function::kBeginsWith, true);
  else if (op_name == "IN") {
    node.type = ConditionNode::Type::kIn;
    node.operands = {attr_op};
    for (const AttributeValue& v : values) node.operands.push_back(b.Literal(v));
  } else {  // BETWEEN
    node.type = ConditionNode::Type::kBetween;
    node.operands = {attr_op, b.Literal(values[0]), b.Literal(values[1])};
  }
  uint32_t index = Add(c, std::move(node));
  if (op_name == "NOT_CONTAINS") {
    ConditionNode negation;
    negation.type = ConditionNode::Type::kNot;
    negation.children = {index};
    index = Add(c, std::move(negation));
  }
  return index;
}

}  // namespace

Result<std::shared_ptr<const Condition>> ConvertLegacyConditions(
    const LegacyConditions& conditions, const std::optional<std::string>& conditional_operator, LegacyKind kind) {
  auto c = std::make_shared<Condition>();
  c->kind = kind == LegacyKind::kExpected      ? Kind::kCondition
            : kind == LegacyKind::kKeyConditions ? Kind::kKeyCondition
                                                 : Kind::kFilter;
  ConditionNode top;
  top.type = ConditionNode::Type::kAnd;
  if (conditional_operator) {
    if (kind == LegacyKind::kKeyConditions) {
      return Status::Validation(std::string(kInvalid) + "ConditionalOperator cannot be used with KeyConditions");
    }
    if (*conditional_operator == "OR") {
      top.type = ConditionNode::Type::kOr;
    } else if (*conditional_operator != "AND") {
      return Status::Validation("1 validation error detected: Value '" + *conditional_operator +
                                "' at 'conditionalOperator' failed to satisfy constraint: Member must satisfy enum "
                                "value set: [AND, OR]");
    }
  }
  for (const auto& [attr, cond] : conditions) {
    MERIDIAN_ASSIGN_OR_RETURN(uint32_t index, ConvertOne(c.get(), attr, cond, kind));
    top.children.push_back(index);
  }
  // An AND of nothing is true; a single condition needs no wrapper.
  if (top.children.size() == 1) {
    c->root = top.children[0];
  } else {
    c->root = Add(c.get(), std::move(top));
  }
  return std::shared_ptr<const Condition>(std::move(c));
}

Result<std::shared_ptr<const Projection>> ConvertAttributesToGet(const std::vector<std::string>& attributes) {
  auto p = std::make_shared<Projection>();
  p->kind = Kind::kProjection;
  std::vector<std::string> sorted = attributes;
  std::sort(sorted.begin(), sorted.end());
  auto dup = std::adjacent_find(sorted.begin(), sorted.end());
  if (dup != sorted.end()) {
    return Status::Validation(std::string(kInvalid) + "Duplicate value in attribute name: " + *dup);
  }
  for (const std::string& a : attributes) p->paths.push_back(Builder::Name(a).path);
  return std::shared_ptr<const Projection>(std::move(p));
}

Result<std::shared_ptr<const Update>> ConvertAttributeUpdates(const LegacyAttributeUpdates& updates,
                                                              const std::vector<std::string>& key_attributes) {
  auto u = std::make_shared<Update>();
  u->kind = Kind::kUpdate;
  Builder b(u.get());
  for (const auto& [attr, update] : updates) {
    if (std::find(key_attributes.begin(), key_attributes.end(), attr) != key_attributes.end()) {
      return Status::Validation(std::string(kInvalid) + "Cannot update attribute " + attr +
                                ". This attribute is part of the key");
    }
    std::string action = update.action.value_or("PUT");
    UpdateAction a;
    a.path = Builder::Name(attr).path;
    if (action == "PUT" || action == "ADD") {
      if (!update.value) {
        return Status::Validation(std::string(kInvalid) +
                                  "Only DELETE action is allowed when no attribute value is specified");
      }
      a.type = action == "PUT" ? UpdateAction::Type::kSet : UpdateAction::Type::kAdd;
      if (a.type == UpdateAction::Type::kAdd) {
        AttributeType t = update.value->type();
        if (t != AttributeType::kN && t != AttributeType::kSS && t != AttributeType::kNS && t != AttributeType::kBS) {
          return Status::Validation(std::string(kInvalid) + "ADD action is not supported for the type " +
                                    AttributeTypeName(t));
        }
      }
      a.value = b.Literal(*update.value);
    } else if (action == "DELETE") {
      if (update.value) {
        AttributeType t = update.value->type();
        if (t != AttributeType::kSS && t != AttributeType::kNS && t != AttributeType::kBS) {
          return Status::Validation(std::string(kInvalid) + "DELETE action with value is not supported for the type " +
                                    AttributeTypeName(t));
        }
        a.type = UpdateAction::Type::kDelete;
        a.value = b.Literal(*update.value);
      } else {
        a.type = UpdateAction::Type::kRemove;
      }
    } else {
      return Status::Validation("1 validation error detected: Value '" + action + "' at 'attributeUpdates." + attr +
                                ".member.action' failed to satisfy constraint: Member must satisfy enum value set: "
                                "[ADD, PUT, DELETE]");
    }
    u->actions.push_back(std::move(a));
  }
  return std::shared_ptr<const Update>(std::move(u));
}

Status CheckNoMixedParameters(const std::vector<std::string>& non_expression_parameters,
                              const std::vector<std::string>& expression_parameters) {
  if (non_expression_parameters.empty() || expression_parameters.empty()) return Status::Ok();
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
  };
  return Status::Validation("Can not use both expression and non-expression parameters in the same request: "
                            "Non-expression parameters: {" + join(non_expression_parameters) +
                            "} Expression parameters: {" + join(expression_parameters) + "}");
}

}  // namespace meridian::expr
