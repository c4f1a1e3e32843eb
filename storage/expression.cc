// Validation and evaluation of parsed expressions (see expression.h).
#include "storage/expression.h"

#include <algorithm>
#include <map>
#include <set>

namespace meridian::expr {
namespace {

constexpr char kNotDefinedName[] =
    "An expression attribute name used in the document path is not defined; attribute name: ";
constexpr char kNotDefinedValue[] =
    "An expression attribute value used in expression is not defined; attribute value: ";
constexpr char kInvalidPathForUpdate[] =
    "The document path provided in the update expression is invalid for update";
constexpr char kIncorrectOperandType[] =
    "An operand in the update expression has an incorrect data type";
constexpr char kMissingOperand[] =
    "The provided expression refers to an attribute that does not exist in the item";

std::string Prefix(Kind kind) { return "Invalid " + std::string(KindName(kind)) + ": "; }

// --- Placeholder resolution ---

// The attribute name an element stands for; nullptr when a #placeholder is not defined.
const std::string* ElementName(const PathElement& e, const Bindings& b) {
  if (e.type == PathElement::Type::kName) return &e.name;
  auto it = b.names.find(e.name);
  return it == b.names.end() ? nullptr : &it->second;
}

Result<ResolvedPath> Resolve(const Path& path, const Bindings& b, Kind kind) {
  ResolvedPath out;
  out.reserve(path.size());
  for (const PathElement& e : path) {
    ResolvedElement r;
    if (e.type == PathElement::Type::kIndex) {
      r.is_index = true;
      r.index = e.index;
    } else {
      const std::string* name = ElementName(e, b);
      if (name == nullptr) return Status::Validation(Prefix(kind) + kNotDefinedName + e.name);
      r.name = *name;
    }
    out.push_back(std::move(r));
  }
  return out;
}

// The value an operand names directly (a :value or a literal); nullptr for others or when
// undefined.
const AttributeValue* ConstantOf(const Operand& o, const ParsedExpression& e, const Bindings& b) {
  if (o.type == Operand::Type::kLiteral) return o.literal < e.literals.size() ? &e.literals[o.literal] : nullptr;
  if (o.type != Operand::Type::kValueRef) return nullptr;
  auto it = b.values.find(o.value_ref);
  return it == b.values.end() ? nullptr : &it->second;
}

// Checks every placeholder of an operand is defined (depth-first, bounded by the parse depth).
Status CheckDefined(const Operand& o, const ParsedExpression& e, const Bindings& b) {
  switch (o.type) {
    case Operand::Type::kPath:
      for (const PathElement& pe : o.path) {
        if (pe.type == PathElement::Type::kNameRef && ElementName(pe, b) == nullptr) {
          return Status::Validation(Prefix(e.kind) + kNotDefinedName + pe.name);
        }
      }
      return Status::Ok();
    case Operand::Type::kValueRef:
      if (b.values.find(o.value_ref) == b.values.end()) {
        return Status::Validation(Prefix(e.kind) + kNotDefinedValue + o.value_ref);
      }
      return Status::Ok();
    case Operand::Type::kLiteral:
      return Status::Ok();
    case Operand::Type::kFunction:
      for (const Operand& a : o.args) MERIDIAN_RETURN_IF_ERROR(CheckDefined(a, e, b));
      return Status::Ok();
  }
  return Status::Ok();
}

// DynamoDB's rendering of a value in BETWEEN messages: "AttributeValue: {N:5}".
std::string Base64(std::string_view in) {
  static constexpr char kTable[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += {kTable[n >> 18], kTable[(n >> 12) & 63], kTable[(n >> 6) & 63], kTable[n & 63]};
  }
  if (i + 1 == in.size()) {
    uint32_t n = uint8_t(in[i]) << 16;
    out += {kTable[n >> 18], kTable[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += {kTable[n >> 18], kTable[(n >> 12) & 63], kTable[(n >> 6) & 63], '='};
  }
  return out;
}

std::string Render(const AttributeValue& v) {
  std::string body;
  switch (v.type()) {
    case AttributeType::kS: body = v.s(); break;
    case AttributeType::kN: body = v.n().ToString(); break;
    case AttributeType::kB: body = Base64(v.b()); break;
    default: body = "..."; break;
  }
  return "AttributeValue: {" + std::string(AttributeTypeName(v.type())) + ":" + body + "}";
}

// -1/0/+1 for two scalars of one type (S, N or B); nullopt otherwise.
std::optional<int> CompareScalars(const AttributeValue& a, const AttributeValue& b) {
  if (a.type() != b.type()) return std::nullopt;
  switch (a.type()) {
    case AttributeType::kS: {
      int c = a.s().compare(b.s());  // char_traits<char>::compare is memcmp: unsigned bytes
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    case AttributeType::kB: {
      int c = a.b().compare(b.b());
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    case AttributeType::kN:
      return a.n().Compare(b.n());
    default:
      return std::nullopt;
  }
}

// The type names update messages use ("operator: ADD, operand type: STRING").
const char* UpdateTypeName(AttributeType t) {
  switch (t) {
    case AttributeType::kS: return "STRING";
    case AttributeType::kN: return "NUMBER";
    case AttributeType::kB: return "BINARY";
    case AttributeType::kBool: return "BOOLEAN";
    case AttributeType::kNull: return "NULL";
    case AttributeType::kL: return "LIST";
    case AttributeType::kM: return "MAP";
    default: return AttributeTypeName(t);
  }
}

bool IsSet(AttributeType t) {
  return t == AttributeType::kSS || t == AttributeType::kNS || t == AttributeType::kBS;
}

std::string_view FunctionLabel(Function f) {
  switch (f) {
    case Function::kAttributeExists: return "attribute_exists";
    case Function::kAttributeNotExists: return "attribute_not_exists";
    case Function::kAttributeType: return "attribute_type";
    case Function::kBeginsWith: return "begins_with";
    case Function::kContains: return "contains";
    case Function::kSize: return "size";
    case Function::kIfNotExists: return "if_not_exists";
    case Function::kListAppend: return "list_append";
    case Function::kPlus: return "+";
    case Function::kMinus: return "-";
  }
  return "?";
}

std::string_view CompareLabel(CompareOp op) {
  switch (op) {
    case CompareOp::kEq: return "=";
    case CompareOp::kNe: return "<>";
    case CompareOp::kLt: return "<";
    case CompareOp::kLe: return "<=";
    case CompareOp::kGt: return ">";
    case CompareOp::kGe: return ">=";
  }
  return "?";
}

// "Two document paths overlap/conflict" between any two of `paths` (update targets, projections).
Status CheckOverlaps(const std::vector<ResolvedPath>& paths, Kind kind) {
  for (size_t j = 1; j < paths.size(); ++j) {
    for (size_t i = 0; i < j; ++i) {
      const ResolvedPath& a = paths[i];
      const ResolvedPath& b = paths[j];
      size_t n = std::min(a.size(), b.size());
      bool differ = false;
      for (size_t k = 0; k < n && !differ; ++k) {
        if (a[k].is_index != b[k].is_index) {
          return Status::Validation(Prefix(kind) +
                                    "Two document paths conflict with each other; must remove or rewrite one of "
                                    "these paths; path one: " + PathToString(a) + ", path two: " + PathToString(b));
        }
        differ = !(a[k] == b[k]);
      }
      if (!differ) {
        return Status::Validation(Prefix(kind) +
                                  "Two document paths overlap with each other; must remove or rewrite one of these "
                                  "paths; path one: " + PathToString(a) + ", path two: " + PathToString(b));
      }
    }
  }
  return Status::Ok();
}

// --- Condition checks that need values ---

class ConditionValidator {
 public:
  ConditionValidator(const Condition& c, const Bindings& b) : c_(c), b_(b), prefix_(Prefix(c.kind)) {}

  Status Run() {
    for (const ConditionNode& node : c_.nodes) {
      for (const Operand& o : node.operands) MERIDIAN_RETURN_IF_ERROR(CheckDefined(o, c_, b_));
    }
    for (const ConditionNode& node : c_.nodes) MERIDIAN_RETURN_IF_ERROR(CheckNode(node));
    return Status::Ok();
  }

 private:
  Status Distinct(std::string_view op, const Operand& a, const Operand& b) {
    if (a.type != Operand::Type::kPath || b.type != Operand::Type::kPath) return Status::Ok();
    MERIDIAN_ASSIGN_OR_RETURN(ResolvedPath pa, Resolve(a.path, b_, c_.kind));
    MERIDIAN_ASSIGN_OR_RETURN(ResolvedPath pb, Resolve(b.path, b_, c_.kind));
    if (pa != pb) return Status::Ok();
    return Status::Validation(prefix_ +
                              "The first operand must be distinct from the remaining operands for this operator or "
                              "function; operator: " + std::string(op) + ", first operand: " + PathToString(pa));
  }

  Status OperandType(std::string_view fn, AttributeType type) {
    return Status::Validation(prefix_ + "Incorrect operand type for operator or function; operator or function: " +
                              std::string(fn) + ", operand type: " + AttributeTypeName(type));
  }

  Status CheckOperand(const Operand& o) {
    if (o.type != Operand::Type::kFunction) return Status::Ok();
    for (const Operand& a : o.args) MERIDIAN_RETURN_IF_ERROR(CheckOperand(a));
    if (o.function == Function::kSize && !o.args.empty()) {
      const AttributeValue* v = ConstantOf(o.args[0], c_, b_);
      if (v != nullptr && (v->is(AttributeType::kN) || v->is(AttributeType::kBool) || v->is(AttributeType::kNull))) {
        return OperandType("size", v->type());
      }
    }
    return Status::Ok();
  }

  Status CheckNode(const ConditionNode& node) {
    for (const Operand& o : node.operands) MERIDIAN_RETURN_IF_ERROR(CheckOperand(o));
    switch (node.type) {
      case ConditionNode::Type::kCompare:
        return Distinct(CompareLabel(node.op), node.operands[0], node.operands[1]);
      case ConditionNode::Type::kBetween: {
        const AttributeValue* low = ConstantOf(node.operands[1], c_, b_);
        const AttributeValue* high = ConstantOf(node.operands[2], c_, b_);
        if (low == nullptr || high == nullptr) return Status::Ok();
        if (low->type() != high->type()) {
          return Status::Validation(prefix_ +
                                    "The BETWEEN operator requires same data type for lower and upper bounds; lower "
                                    "bound operand: " + Render(*low) + ", upper bound operand: " + Render(*high));
        }
        std::optional<int> c = CompareScalars(*low, *high);
        if (c && *c > 0) {
          return Status::Validation(prefix_ +
                                    "The BETWEEN operator requires upper bound to be greater than or equal to lower "
                                    "bound; lower bound operand: " + Render(*low) + ", upper bound operand: " +
                                    Render(*high));
        }
        return Status::Ok();
      }
      case ConditionNode::Type::kFunction: {
        const Operand& call = node.operands[0];
        if (call.args.size() != 2) return Status::Ok();
        switch (call.function) {
          case Function::kBeginsWith:
            for (const Operand& a : call.args) {
              const AttributeValue* v = ConstantOf(a, c_, b_);
              if (v != nullptr && !v->is(AttributeType::kS) && !v->is(AttributeType::kB)) {
                return OperandType("begins_with", v->type());
              }
            }
            return Distinct("begins_with", call.args[0], call.args[1]);
          case Function::kContains:
            return Distinct("contains", call.args[0], call.args[1]);
          case Function::kAttributeType: {
            const AttributeValue* v = ConstantOf(call.args[1], c_, b_);
            if (v == nullptr) {
              return Status::Validation(prefix_ +
                                        "Incorrect operand type for operator or function; operator or function: "
                                        "attribute_type, operand type: {NS,SS,L,BS,N,M,B,BOOL,NULL,S}");
            }
            if (!v->is(AttributeType::kS)) return OperandType("attribute_type", v->type());
            AttributeType t;
            if (!ParseAttributeType(v->s(), &t)) {
              return Status::Validation(prefix_ + "Invalid attribute type name found; type: " + v->s() +
                                        ", valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}");
            }
            return Status::Ok();
          }
          default:
            return Status::Ok();
        }
      }
      default:
        return Status::Ok();
    }
  }

  const Condition& c_;
  const Bindings& b_;
  std::string prefix_;
};

// --- Evaluation ---

// An operand's value during evaluation: a pointer into the item or the bindings, or a value
// computed here (size).
struct Val {
  const AttributeValue* p = nullptr;
  AttributeValue owned;
  bool present() const { return p != nullptr; }
};

// The value at a path in the item, or nullptr (missing, wrong container, undefined placeholder).
const AttributeValue* Lookup(const Item& item, const Path& path, const Bindings& b) {
  if (path.empty() || path[0].type == PathElement::Type::kIndex) return nullptr;
  const std::string* name = ElementName(path[0], b);
  if (name == nullptr) return nullptr;
  auto it = item.find(*name);
  if (it == item.end()) return nullptr;
  const AttributeValue* cur = &it->second;
  for (size_t i = 1; i < path.size(); ++i) {
    const PathElement& e = path[i];
    if (e.type == PathElement::Type::kIndex) {
      if (!cur->is(AttributeType::kL) || e.index >= cur->l().size()) return nullptr;
      cur = &cur->l()[e.index];
    } else {
      if (!cur->is(AttributeType::kM)) return nullptr;
      const std::string* n = ElementName(e, b);
      if (n == nullptr) return nullptr;
      auto mit = cur->m().find(*n);
      if (mit == cur->m().end()) return nullptr;
      cur = &mit->second;
    }
  }
  return cur;
}

// Length in UTF-16 code units, as DynamoDB (a JVM service) counts a string's size.
size_t Utf16Length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) n += (c >= 0xF0) ? 2 : 1;
  }
  return n;
}

std::optional<size_t> SizeOf(const AttributeValue& v) {
  switch (v.type()) {
    case AttributeType::kS: return Utf16Length(v.s());
    case AttributeType::kB: return v.b().size();
    case AttributeType::kM: return v.m().size();
    case AttributeType::kL: return v.l().size();
    case AttributeType::kSS: return v.ss().size();
    case AttributeType::kNS: return v.ns().size();
    case AttributeType::kBS: return v.bs().size();
    default: return std::nullopt;
  }
}

class Evaluator {
 public:
  Evaluator(const Condition& c, const Item& item, const Bindings& b) : c_(c), item_(item), b_(b) {}

  bool Node(uint32_t index) {
    const ConditionNode& n = c_.nodes[index];
    switch (n.type) {
      case ConditionNode::Type::kOr:
        for (uint32_t child : n.children) {
          if (Node(child)) return true;
        }
        return false;
      case ConditionNode::Type::kAnd:
        for (uint32_t child : n.children) {
          if (!Node(child)) return false;
        }
        return true;
      case ConditionNode::Type::kNot:
        return !Node(n.children[0]);
      case ConditionNode::Type::kCompare: {
        Val a = Value(n.operands[0]);
        Val b = Value(n.operands[1]);
        if (n.op == CompareOp::kNe) return !(a.present() && b.present() && *a.p == *b.p);
        if (!a.present() || !b.present()) return false;
        if (n.op == CompareOp::kEq) return *a.p == *b.p;
        std::optional<int> c = CompareScalars(*a.p, *b.p);
        if (!c) return false;
        switch (n.op) {
          case CompareOp::kLt: return *c < 0;
          case CompareOp::kLe: return *c <= 0;
          case CompareOp::kGt: return *c > 0;
          case CompareOp::kGe: return *c >= 0;
          default: return false;
        }
      }
      case ConditionNode::Type::kBetween: {
        Val a = Value(n.operands[0]);
        Val low = Value(n.operands[1]);
        Val high = Value(n.operands[2]);
        if (!a.present() || !low.present() || !high.present()) return false;
        std::optional<int> c1 = CompareScalars(*a.p, *low.p);
        std::optional<int> c2 = CompareScalars(*a.p, *high.p);
        return c1 && c2 && *c1 >= 0 && *c2 <= 0;
      }
      case ConditionNode::Type::kIn: {
        Val a = Value(n.operands[0]);
        if (!a.present()) return false;
        for (size_t i = 1; i < n.operands.size(); ++i) {
          Val candidate = Value(n.operands[i]);
          if (candidate.present() && *candidate.p == *a.p) return true;
        }
        return false;
      }
      case ConditionNode::Type::kFunction:
        return Call(n.operands[0]);
    }
    return false;
  }

 private:
  Val Value(const Operand& o) {
    Val v;
    switch (o.type) {
      case Operand::Type::kPath:
        v.p = Lookup(item_, o.path, b_);
        break;
      case Operand::Type::kValueRef:
      case Operand::Type::kLiteral:
        v.p = ConstantOf(o, c_, b_);
        break;
      case Operand::Type::kFunction:
        if (o.function == Function::kSize && o.args.size() == 1) {
          Val arg = Value(o.args[0]);
          if (!arg.present()) break;
          std::optional<size_t> size = SizeOf(*arg.p);
          if (!size) break;
          v.owned = AttributeValue::N(Decimal::FromInt64(static_cast<int64_t>(*size)));
          v.p = &v.owned;
        }
        break;
    }
    return v;
  }

  static bool StartsWith(const std::string& s, const std::string& prefix) {
    return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
  }

  bool Call(const Operand& call) {
    switch (call.function) {
      case Function::kAttributeExists:
        return Value(call.args[0]).present();
      case Function::kAttributeNotExists:
        return !Value(call.args[0]).present();
      case Function::kAttributeType: {
        Val a = Value(call.args[0]);
        Val t = Value(call.args[1]);
        return a.present() && t.present() && t.p->is(AttributeType::kS) &&
               t.p->s() == AttributeTypeName(a.p->type());
      }
      case Function::kBeginsWith: {
        Val a = Value(call.args[0]);
        Val p = Value(call.args[1]);
        if (!a.present() || !p.present() || a.p->type() != p.p->type()) return false;
        if (a.p->is(AttributeType::kS)) return StartsWith(a.p->s(), p.p->s());
        if (a.p->is(AttributeType::kB)) return StartsWith(a.p->b(), p.p->b());
        return false;
      }
      case Function::kContains: {
        Val a = Value(call.args[0]);
        Val x = Value(call.args[1]);
        if (!a.present() || !x.present()) return false;
        const AttributeValue& h = *a.p;
        const AttributeValue& n = *x.p;
        switch (h.type()) {
          case AttributeType::kS:
            return n.is(AttributeType::kS) && h.s().find(n.s()) != std::string::npos;
          case AttributeType::kB:
            return n.is(AttributeType::kB) && h.b().find(n.b()) != std::string::npos;
          case AttributeType::kSS:
            return n.is(AttributeType::kS) && std::binary_search(h.ss().begin(), h.ss().end(), n.s());
          case AttributeType::kNS:
            return n.is(AttributeType::kN) && std::binary_search(h.ns().begin(), h.ns().end(), n.n());
          case AttributeType::kBS:
            return n.is(AttributeType::kB) &&
                   std::binary_search(h.bs().begin(), h.bs().end(), Binary{n.b()});
          case AttributeType::kL:
            return std::find(h.l().begin(), h.l().end(), n) != h.l().end();
          default:
            return false;
        }
      }
      default:
        return false;  // size alone never passes Validate
    }
  }

  const Condition& c_;
  const Item& item_;
  const Bindings& b_;
};

// --- Updates ---

// The container holding the last element of `path` (an M or L value, or the item itself as
// nullptr with *top = true). Fails with kInvalidPathForUpdate when a parent is missing or of the
// wrong type.
Result<AttributeValue*> ParentOf(Item* item, const ResolvedPath& path) {
  assert(path.size() >= 2 && !path[0].is_index);
  auto it = item->find(path[0].name);
  if (it == item->end()) return Status::Validation(kInvalidPathForUpdate);
  AttributeValue* cur = &it->second;
  for (size_t i = 1; i + 1 < path.size(); ++i) {
    const ResolvedElement& e = path[i];
    if (e.is_index) {
      if (!cur->is(AttributeType::kL) || e.index >= cur->l().size()) return Status::Validation(kInvalidPathForUpdate);
      cur = &cur->l()[e.index];
    } else {
      if (!cur->is(AttributeType::kM)) return Status::Validation(kInvalidPathForUpdate);
      auto mit = cur->m().find(e.name);
      if (mit == cur->m().end()) return Status::Validation(kInvalidPathForUpdate);
      cur = &mit->second;
    }
  }
  const ResolvedElement& last = path.back();
  if (last.is_index ? !cur->is(AttributeType::kL) : !cur->is(AttributeType::kM)) {
    return Status::Validation(kInvalidPathForUpdate);
  }
  return cur;
}

// The current value at `path` for ADD and DELETE (nullptr when absent), checking that the parent
// exists.
Result<AttributeValue*> Target(Item* item, const ResolvedPath& path) {
  if (path.size() == 1) {
    auto it = item->find(path[0].name);
    return it == item->end() ? nullptr : &it->second;
  }
  MERIDIAN_ASSIGN_OR_RETURN(AttributeValue * parent, ParentOf(item, path));
  const ResolvedElement& last = path.back();
  if (last.is_index) return last.index < parent->l().size() ? &parent->l()[last.index] : nullptr;
  auto it = parent->m().find(last.name);
  return it == parent->m().end() ? nullptr : &it->second;
}

Status SetAt(Item* item, const ResolvedPath& path, AttributeValue value) {
  if (path.size() == 1) {
    (*item)[path[0].name] = std::move(value);
    return Status::Ok();
  }
  MERIDIAN_ASSIGN_OR_RETURN(AttributeValue * parent, ParentOf(item, path));
  const ResolvedElement& last = path.back();
  if (last.is_index) {
    // "If you use SET to add an element past the end of the list, it is appended."
    AttributeList& l = parent->l();
    if (last.index < l.size()) {
      l[last.index] = std::move(value);
    } else {
      l.push_back(std::move(value));
    }
  } else {
    parent->m()[last.name] = std::move(value);
  }
  return Status::Ok();
}

Status RemoveAt(Item* item, const ResolvedPath& path) {
  if (path.size() == 1) {
    item->erase(path[0].name);
    return Status::Ok();
  }
  MERIDIAN_ASSIGN_OR_RETURN(AttributeValue * parent, ParentOf(item, path));
  const ResolvedElement& last = path.back();
  if (last.is_index) {
    AttributeList& l = parent->l();
    if (last.index < l.size()) l.erase(l.begin() + last.index);
  } else {
    parent->m().erase(last.name);
  }
  return Status::Ok();
}

template <typename T>
std::vector<T> Union(const std::vector<T>& a, const std::vector<T>& b) {
  std::vector<T> out;
  out.reserve(a.size() + b.size());
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

template <typename T>
std::vector<T> Difference(const std::vector<T>& a, const std::vector<T>& b) {
  std::vector<T> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

std::vector<std::string> BinaryBytes(const std::vector<Binary>& v) {
  std::vector<std::string> out;
  out.reserve(v.size());
  for (const Binary& b : v) out.push_back(b.bytes);
  return out;
}

// Union (add) or difference (!add) of two sets of the same type.
AttributeValue SetOp(const AttributeValue& a, const AttributeValue& b, bool add) {
  switch (a.type()) {
    case AttributeType::kSS:
      return AttributeValue::SS(add ? Union(a.ss(), b.ss()) : Difference(a.ss(), b.ss()));
    case AttributeType::kNS:
      return AttributeValue::NS(add ? Union(a.ns(), b.ns()) : Difference(a.ns(), b.ns()));
    default:
      return AttributeValue::BS(BinaryBytes(add ? Union(a.bs(), b.bs()) : Difference(a.bs(), b.bs())));
  }
}

size_t SetSize(const AttributeValue& v) {
  switch (v.type()) {
    case AttributeType::kSS: return v.ss().size();
    case AttributeType::kNS: return v.ns().size();
    case AttributeType::kBS: return v.bs().size();
    default: return 0;
  }
}

class UpdateEvaluator {
 public:
  UpdateEvaluator(const Update& u, const Item& item, const Bindings& b) : u_(u), item_(item), b_(b) {}

  Result<AttributeValue> Value(const Operand& o) {
    switch (o.type) {
      case Operand::Type::kPath: {
        const AttributeValue* v = Lookup(item_, o.path, b_);
        if (v == nullptr) return Status::Validation(kMissingOperand);
        return *v;
      }
      case Operand::Type::kValueRef:
      case Operand::Type::kLiteral: {
        const AttributeValue* v = ConstantOf(o, u_, b_);
        if (v == nullptr) return Status::Validation(Prefix(Kind::kUpdate) + kNotDefinedValue + o.value_ref);
        return *v;
      }
      case Operand::Type::kFunction:
        break;
    }
    if (o.args.size() != 2) return Status::Validation(kIncorrectOperandType);
    switch (o.function) {
      case Function::kIfNotExists: {
        const AttributeValue* v = o.args[0].type == Operand::Type::kPath ? Lookup(item_, o.args[0].path, b_) : nullptr;
        if (v != nullptr) return *v;
        return Value(o.args[1]);
      }
      case Function::kListAppend: {
        MERIDIAN_ASSIGN_OR_RETURN(AttributeValue a, Value(o.args[0]));
        MERIDIAN_ASSIGN_OR_RETURN(AttributeValue b, Value(o.args[1]));
        if (!a.is(AttributeType::kL) || !b.is(AttributeType::kL)) return Status::Validation(kIncorrectOperandType);
        AttributeList& l = a.l();
        l.insert(l.end(), b.l().begin(), b.l().end());
        return a;
      }
      case Function::kPlus:
      case Function::kMinus: {
        MERIDIAN_ASSIGN_OR_RETURN(AttributeValue a, Value(o.args[0]));
        MERIDIAN_ASSIGN_OR_RETURN(AttributeValue b, Value(o.args[1]));
        if (!a.is(AttributeType::kN) || !b.is(AttributeType::kN)) return Status::Validation(kIncorrectOperandType);
        Result<Decimal> r = o.function == Function::kPlus ? Decimal::Add(a.n(), b.n()) : Decimal::Subtract(a.n(), b.n());
        if (!r.ok()) return r.status();
        return AttributeValue::N(std::move(r).value());
      }
      default:
        return Status::Validation(kIncorrectOperandType);
    }
  }

 private:
  const Update& u_;
  const Item& item_;
  const Bindings& b_;
};

// A projection tree: the union of the projected paths.
struct ProjectionNode {
  bool leaf = false;
  std::map<std::string, std::unique_ptr<ProjectionNode>> names;
  std::map<uint32_t, std::unique_ptr<ProjectionNode>> indexes;
};

void AddToTree(ProjectionNode* root, const ResolvedPath& path) {
  ProjectionNode* cur = root;
  for (const ResolvedElement& e : path) {
    std::unique_ptr<ProjectionNode>& next = e.is_index ? cur->indexes[e.index] : cur->names[e.name];
    if (!next) next = std::make_unique<ProjectionNode>();
    cur = next.get();
  }
  cur->leaf = true;
}

// The projected part of `v`, or nullopt when nothing projected exists. Recursion depth is the
// longest path (at most kMaxPathDepth).
std::optional<AttributeValue> ProjectValue(const ProjectionNode& node, const AttributeValue& v) {
  if (node.leaf) return v;
  if (v.is(AttributeType::kM) && !node.names.empty()) {
    AttributeMap out;
    for (const auto& [name, child] : node.names) {
      auto it = v.m().find(name);
      if (it == v.m().end()) continue;
      std::optional<AttributeValue> p = ProjectValue(*child, it->second);
      if (p) out.emplace(name, std::move(*p));
    }
    if (out.empty()) return std::nullopt;
    return AttributeValue::M(std::move(out));
  }
  if (v.is(AttributeType::kL) && !node.indexes.empty()) {
    AttributeList out;
    for (const auto& [index, child] : node.indexes) {
      if (index >= v.l().size()) break;
      std::optional<AttributeValue> p = ProjectValue(*child, v.l()[index]);
      if (p) out.push_back(std::move(*p));
    }
    if (out.empty()) return std::nullopt;
    return AttributeValue::L(std::move(out));
  }
  return std::nullopt;
}

Item ProjectTree(const ProjectionNode& root, const Item& item) {
  Item out;
  for (const auto& [name, child] : root.names) {
    auto it = item.find(name);
    if (it == item.end()) continue;
    std::optional<AttributeValue> p = ProjectValue(*child, it->second);
    if (p) out.emplace(name, std::move(*p));
  }
  return out;
}

}  // namespace

const Bindings& NoBindings() {
  static const ExpressionAttributeNames kNames;
  static const ExpressionAttributeValues kValues;
  static const Bindings kEmpty{kNames, kValues};
  return kEmpty;
}

// --- Validation ---

Status Validate(const Condition& condition, const Bindings& bindings) {
  return ConditionValidator(condition, bindings).Run();
}

Status Validate(const Update& update, const Bindings& bindings,
                const std::vector<std::string>& key_attributes) {
  std::string prefix = Prefix(Kind::kUpdate);
  for (const UpdateAction& a : update.actions) {
    Operand target;
    target.path = a.path;
    MERIDIAN_RETURN_IF_ERROR(CheckDefined(target, update, bindings));
    if (a.type != UpdateAction::Type::kRemove) MERIDIAN_RETURN_IF_ERROR(CheckDefined(a.value, update, bindings));
  }
  std::vector<ResolvedPath> paths;
  paths.reserve(update.actions.size());
  for (const UpdateAction& a : update.actions) {
    MERIDIAN_ASSIGN_OR_RETURN(ResolvedPath p, Resolve(a.path, bindings, Kind::kUpdate));
    paths.push_back(std::move(p));
  }
  MERIDIAN_RETURN_IF_ERROR(CheckOverlaps(paths, Kind::kUpdate));
  // Operand types DynamoDB can tell from the :values alone.
  for (const UpdateAction& a : update.actions) {
    if (a.type == UpdateAction::Type::kAdd || a.type == UpdateAction::Type::kDelete) {
      const AttributeValue* v = ConstantOf(a.value, update, bindings);
      bool add = a.type == UpdateAction::Type::kAdd;
      if (v != nullptr && !IsSet(v->type()) && !(add && v->is(AttributeType::kN))) {
        return Status::Validation(prefix + "Incorrect operand type for operator or function; operator: " +
                                  (add ? "ADD" : "DELETE") + ", operand type: " + UpdateTypeName(v->type()));
      }
    }
    if (a.type != UpdateAction::Type::kSet) continue;
    // Walk the SET value's function calls (bounded by the parse depth).
    std::vector<const Operand*> stack = {&a.value};
    while (!stack.empty()) {
      const Operand* o = stack.back();
      stack.pop_back();
      if (o->type != Operand::Type::kFunction) continue;
      AttributeType wanted;
      bool check = true;
      switch (o->function) {
        case Function::kPlus:
        case Function::kMinus: wanted = AttributeType::kN; break;
        case Function::kListAppend: wanted = AttributeType::kL; break;
        default: check = false; wanted = AttributeType::kNull; break;
      }
      for (const Operand& arg : o->args) {
        const AttributeValue* v = ConstantOf(arg, update, bindings);
        if (check && v != nullptr && !v->is(wanted)) {
          return Status::Validation(prefix + "Incorrect operand type for operator or function; operator or function: " +
                                    std::string(FunctionLabel(o->function)) + ", operand type: " +
                                    AttributeTypeName(v->type()));
        }
        stack.push_back(&arg);
      }
    }
  }
  for (const ResolvedPath& p : paths) {
    if (std::find(key_attributes.begin(), key_attributes.end(), p[0].name) != key_attributes.end()) {
      return Status::Validation("Cannot update attribute " + p[0].name + ". This attribute is part of the key");
    }
  }
  return Status::Ok();
}

Status Validate(const Projection& projection, const Bindings& bindings) {
  std::vector<ResolvedPath> paths;
  paths.reserve(projection.paths.size());
  for (const Path& path : projection.paths) {
    MERIDIAN_ASSIGN_OR_RETURN(ResolvedPath p, Resolve(path, bindings, Kind::kProjection));
    paths.push_back(std::move(p));
  }
  return CheckOverlaps(paths, Kind::kProjection);
}

Status CheckPlaceholdersUsed(std::span<const ParsedExpression* const> expressions, const Bindings& bindings) {
  size_t total = 0;
  for (const auto& [k, v] : bindings.names) {
    if (k.size() > kMaxPlaceholderNameBytes) {
      return Status::Validation("ExpressionAttributeNames contains invalid key: longer than 255 bytes: " + k.substr(0, 32));
    }
    total += k.size() + v.size();
  }
  for (const auto& [k, v] : bindings.values) {
    if (k.size() > kMaxPlaceholderNameBytes) {
      return Status::Validation("ExpressionAttributeValues contains invalid key: longer than 255 bytes: " + k.substr(0, 32));
    }
    total += k.size() + AttributeValueSize(v);
  }
  if (total > kMaxSubstitutionBytes) {
    return Status::Validation("The total size of ExpressionAttributeNames and ExpressionAttributeValues exceeds 2 MB");
  }
  auto used = [&](const std::string& key, bool name) {
    for (const ParsedExpression* e : expressions) {
      if (e == nullptr) continue;
      const std::vector<std::string>& refs = name ? e->name_refs : e->value_refs;
      if (std::binary_search(refs.begin(), refs.end(), key)) return true;
    }
    return false;
  };
  std::string unused;
  for (const auto& [k, v] : bindings.names) {
    if (!used(k, true)) unused += (unused.empty() ? "" : ", ") + k;
  }
  if (!unused.empty()) {
    return Status::Validation("Value provided in ExpressionAttributeNames unused in expressions: keys: {" + unused + "}");
  }
  for (const auto& [k, v] : bindings.values) {
    if (!used(k, false)) unused += (unused.empty() ? "" : ", ") + k;
  }
  if (!unused.empty()) {
    return Status::Validation("Value provided in ExpressionAttributeValues unused in expressions: keys: {" + unused + "}");
  }
  return Status::Ok();
}

Result<std::vector<std::string>> CheckKeyConditionShape(const Condition& condition, const Bindings& bindings) {
  // Follows dynalite's reading of DynamoDB's rules (architect/dynalite db/index.js, checkExpr).
  std::vector<std::string> keys;
  std::vector<uint32_t> stack = {condition.root};
  std::vector<uint32_t> leaves;
  while (!stack.empty()) {
    const ConditionNode& n = condition.nodes[stack.back()];
    uint32_t index = stack.back();
    stack.pop_back();
    switch (n.type) {
      case ConditionNode::Type::kOr: return Status::Validation("Invalid operator used in KeyConditionExpression: OR");
      case ConditionNode::Type::kNot: return Status::Validation("Invalid operator used in KeyConditionExpression: NOT");
      case ConditionNode::Type::kIn: return Status::Validation("Invalid operator used in KeyConditionExpression: IN");
      case ConditionNode::Type::kAnd:
        for (auto it = n.children.rbegin(); it != n.children.rend(); ++it) stack.push_back(*it);
        break;
      case ConditionNode::Type::kCompare:
        if (n.op == CompareOp::kNe) return Status::Validation("Invalid operator used in KeyConditionExpression: <>");
        leaves.push_back(index);
        break;
      case ConditionNode::Type::kBetween:
        leaves.push_back(index);
        break;
      case ConditionNode::Type::kFunction: {
        Function f = n.operands[0].function;
        if (f == Function::kSize) return Status::Validation("KeyConditionExpressions cannot contain nested operations");
        if (f != Function::kBeginsWith) {
          return Status::Validation("Invalid operator used in KeyConditionExpression: " +
                                    std::string(FunctionLabel(f)));
        }
        leaves.push_back(index);
        break;
      }
    }
  }
  if (leaves.size() > 2) return Status::Validation("KeyConditionExpressions must only contain one condition per key");
  for (uint32_t index : leaves) {
    const ConditionNode& n = condition.nodes[index];
    const std::vector<Operand>& ops = n.type == ConditionNode::Type::kFunction ? n.operands[0].args : n.operands;
    const Path* key = nullptr;
    for (size_t i = 0; i < ops.size(); ++i) {
      const Operand& o = ops[i];
      if (o.type == Operand::Type::kFunction) {
        return Status::Validation("KeyConditionExpressions cannot contain nested operations");
      }
      if (o.type != Operand::Type::kPath) continue;
      if (key != nullptr) {
        return Status::Validation("Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition");
      }
      if (i != 0 && n.type != ConditionNode::Type::kCompare) {
        const char* what = n.type == ConditionNode::Type::kBetween ? "BETWEEN" : "begins_with";
        return Status::Validation(std::string("Invalid condition in KeyConditionExpression: ") + what +
                                  " operator must have the key attribute as its first operand");
      }
      if (o.path.size() > 1) return Status::Validation("KeyConditionExpressions cannot have conditions on nested attributes");
      key = &o.path;
    }
    if (key == nullptr) return Status::Validation("Invalid condition in KeyConditionExpression: No key attribute specified");
    MERIDIAN_ASSIGN_OR_RETURN(ResolvedPath p, Resolve(*key, bindings, Kind::kKeyCondition));
    if (std::find(keys.begin(), keys.end(), p[0].name) != keys.end()) {
      return Status::Validation("KeyConditionExpressions must only contain one condition per key");
    }
    keys.push_back(p[0].name);
  }
  return keys;
}

// --- Evaluation ---

Result<bool> Evaluate(const Condition& condition, const Item& item, const Bindings& bindings) {
  if (condition.nodes.empty()) return Status::Validation(Prefix(condition.kind) + "The expression can not be empty;");
  return Evaluator(condition, item, bindings).Node(condition.root);
}

Status ApplyUpdate(const Update& update, const Bindings& bindings, Item* item, UpdatedPaths* updated) {
  struct Planned {
    const UpdateAction* action;
    ResolvedPath path;
    AttributeValue value;
  };
  std::vector<Planned> plan;
  plan.reserve(update.actions.size());
  {
    // Every operand reads the item as it was before the update.
    UpdateEvaluator eval(update, *item, bindings);
    for (const UpdateAction& a : update.actions) {
      Planned p{&a, {}, {}};
      MERIDIAN_ASSIGN_OR_RETURN(p.path, Resolve(a.path, bindings, Kind::kUpdate));
      if (a.type != UpdateAction::Type::kRemove) {
        MERIDIAN_ASSIGN_OR_RETURN(p.value, eval.Value(a.value));
      }
      plan.push_back(std::move(p));
    }
  }
  // REMOVEs last, and list elements of one list from the highest index down, so that every index
  // refers to the list as it was ("REMOVE a[1], a[3]" removes the original second and fourth).
  std::stable_sort(plan.begin(), plan.end(), [](const Planned& x, const Planned& y) {
    bool xr = x.action->type == UpdateAction::Type::kRemove;
    bool yr = y.action->type == UpdateAction::Type::kRemove;
    if (xr != yr) return !xr;
    if (!xr) return false;
    if (x.path.size() != y.path.size() || !x.path.back().is_index || !y.path.back().is_index) return false;
    if (!std::equal(x.path.begin(), x.path.end() - 1, y.path.begin())) return false;
    return x.path.back().index > y.path.back().index;
  });
  for (Planned& p : plan) {
    switch (p.action->type) {
      case UpdateAction::Type::kSet:
        MERIDIAN_RETURN_IF_ERROR(SetAt(item, p.path, std::move(p.value)));
        break;
      case UpdateAction::Type::kRemove:
        MERIDIAN_RETURN_IF_ERROR(RemoveAt(item, p.path));
        break;
      case UpdateAction::Type::kAdd: {
        MERIDIAN_ASSIGN_OR_RETURN(AttributeValue * cur, Target(item, p.path));
        if (cur == nullptr) {
          if (!p.value.is(AttributeType::kN) && !IsSet(p.value.type())) return Status::Validation(kIncorrectOperandType);
          MERIDIAN_RETURN_IF_ERROR(SetAt(item, p.path, std::move(p.value)));
        } else if (cur->is(AttributeType::kN) && p.value.is(AttributeType::kN)) {
          MERIDIAN_ASSIGN_OR_RETURN(Decimal sum, Decimal::Add(cur->n(), p.value.n()));
          *cur = AttributeValue::N(std::move(sum));
        } else if (IsSet(cur->type()) && cur->type() == p.value.type()) {
          *cur = SetOp(*cur, p.value, true);
        } else {
          return Status::Validation(kIncorrectOperandType);
        }
        break;
      }
      case UpdateAction::Type::kDelete: {
        MERIDIAN_ASSIGN_OR_RETURN(AttributeValue * cur, Target(item, p.path));
        if (!IsSet(p.value.type())) return Status::Validation(kIncorrectOperandType);
        if (cur == nullptr) break;
        if (cur->type() != p.value.type()) return Status::Validation(kIncorrectOperandType);
        AttributeValue rest = SetOp(*cur, p.value, false);
        if (SetSize(rest) == 0) {
          MERIDIAN_RETURN_IF_ERROR(RemoveAt(item, p.path));
        } else {
          *cur = std::move(rest);
        }
        break;
      }
    }
  }
  if (updated != nullptr) {
    updated->clear();
    for (const UpdateAction& a : update.actions) {
      MERIDIAN_ASSIGN_OR_RETURN(ResolvedPath p, Resolve(a.path, bindings, Kind::kUpdate));
      updated->push_back(std::move(p));
    }
  }
  return Status::Ok();
}

Result<Item> Project(const Projection& projection, const Bindings& bindings, const Item& item) {
  ProjectionNode root;
  for (const Path& path : projection.paths) {
    MERIDIAN_ASSIGN_OR_RETURN(ResolvedPath p, Resolve(path, bindings, Kind::kProjection));
    AddToTree(&root, p);
  }
  return ProjectTree(root, item);
}

Item ProjectPaths(const std::vector<ResolvedPath>& paths, const Item& item) {
  ProjectionNode root;
  for (const ResolvedPath& p : paths) {
    if (!p.empty() && !p[0].is_index) AddToTree(&root, p);
  }
  return ProjectTree(root, item);
}

// --- Cache ---

std::shared_ptr<const ParsedExpression> ExpressionCache::Lookup(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = index_.find(key);
  if (it == index_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->value;
}

void ExpressionCache::Insert(std::string key, std::shared_ptr<const ParsedExpression> value) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (capacity_ == 0 || index_.count(key) > 0) return;
  lru_.push_front(Entry{std::move(key), std::move(value)});
  index_.emplace(lru_.front().key, lru_.begin());
  while (lru_.size() > capacity_) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
}

namespace {
std::string CacheKey(Kind kind, std::string_view text) {
  std::string key;
  key.reserve(text.size() + 1);
  key.push_back(static_cast<char>('0' + static_cast<int>(kind)));
  key.append(text);
  return key;
}
}  // namespace

Result<std::shared_ptr<const Condition>> ExpressionCache::GetCondition(std::string_view text, Kind kind) {
  std::string key = CacheKey(kind, text);
  if (auto hit = Lookup(key)) return std::static_pointer_cast<const Condition>(hit);
  MERIDIAN_ASSIGN_OR_RETURN(std::shared_ptr<const Condition> parsed, ParseCondition(text, kind));
  Insert(std::move(key), parsed);
  return parsed;
}

Result<std::shared_ptr<const Update>> ExpressionCache::GetUpdate(std::string_view text) {
  std::string key = CacheKey(Kind::kUpdate, text);
  if (auto hit = Lookup(key)) return std::static_pointer_cast<const Update>(hit);
  MERIDIAN_ASSIGN_OR_RETURN(std::shared_ptr<const Update> parsed, ParseUpdate(text));
  Insert(std::move(key), parsed);
  return parsed;
}

Result<std::shared_ptr<const Projection>> ExpressionCache::GetProjection(std::string_view text) {
  std::string key = CacheKey(Kind::kProjection, text);
  if (auto hit = Lookup(key)) return std::static_pointer_cast<const Projection>(hit);
  MERIDIAN_ASSIGN_OR_RETURN(std::shared_ptr<const Projection> parsed, ParseProjection(text));
  Insert(std::move(key), parsed);
  return parsed;
}

size_t ExpressionCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return lru_.size();
}
uint64_t ExpressionCache::hits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return hits_;
}
uint64_t ExpressionCache::misses() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return misses_;
}

}  // namespace meridian::expr
