// DynamoDB's expression language: parsing, checking and evaluating condition, filter, key
// condition, update and projection expressions, plus the legacy (pre-expression) parameters mapped
// onto the same trees. Pure: no IO, no RocksDB.
//
// Follows the developer guide:
//   conditions  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.OperatorsAndFunctions.html
//   updates     https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.UpdateExpressions.html
//   projections https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ProjectionExpressions.html
//   names       https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ExpressionAttributeNames.html
//   limits      https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
//   legacy      https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/LegacyConditionalParameters.html
//
// A request goes through four steps:
//   1. Parse*: text -> an immutable tree that depends on the text only (placeholders stay
//      unresolved), so trees are shared through ExpressionCache across requests and threads.
//   2. Validate: the checks DynamoDB makes on a request before it reads any item, which need the
//      request's ExpressionAttributeNames/Values (undefined placeholders, overlapping update or
//      projection paths, key attributes in an update, operand types of :values, BETWEEN bounds),
//      then CheckPlaceholdersUsed over all expressions of the request.
//   3. Evaluate / ApplyUpdate / Project against the item.
// Every error is a ValidationException worded as DynamoDB words it, prefixed "Invalid
// <Kind>Expression: " where DynamoDB does so.
//
// Bounds: expressions are at most kMaxExpressionBytes; the parser counts nesting (parentheses,
// NOT, nested function calls) and refuses more than kMaxExpressionNesting, so recursion in the
// parser and the evaluator is bounded; document paths have at most kMaxPathDepth elements.
//
// Thread-safety: parsed expressions are immutable values, safe to share; ExpressionCache is
// internally locked; everything else is a pure function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/attribute_value.h"
#include "storage/expression_tokenizer.h"
#include "storage/item_codec.h"
#include "storage/operations.h"
#include "storage/status.h"

namespace meridian::expr {

// "The maximum number of operators or functions allowed in an UpdateExpression is 300" and "The
// maximum number of operands for the IN comparator is 100" (ServiceQuotas.html). Meridian applies
// the operator bound to every expression kind.
inline constexpr int kMaxOperators = 300;
inline constexpr int kMaxInOperands = 100;
// Meridian's own bound on parentheses, NOT and nested function calls: keeps recursion bounded.
inline constexpr int kMaxExpressionNesting = 64;
// A document path cannot be longer than the deepest value (kMaxNestingDepth = 32).
inline constexpr int kMaxPathDepth = kMaxNestingDepth;
// "The maximum length of all substitution variables in an expression is 2 MB" and "The maximum
// length of any single expression attribute name or expression attribute value is 255 bytes. For
// example, #name is five bytes": the 255 bytes bound the placeholders themselves.
inline constexpr size_t kMaxSubstitutionBytes = 2 * 1024 * 1024;
inline constexpr size_t kMaxPlaceholderNameBytes = 255;

enum class Kind : uint8_t { kCondition, kFilter, kKeyCondition, kUpdate, kProjection };
// "ConditionExpression", "FilterExpression", "KeyConditionExpression", "UpdateExpression",
// "ProjectionExpression".
std::string_view KindName(Kind kind);

// --- Trees ---------------------------------------------------------------------------------------

// One step of a document path: a literal name, a #placeholder, or a list index.
struct PathElement {
  enum class Type : uint8_t { kName, kNameRef, kIndex };
  Type type = Type::kName;
  std::string name;  // the attribute name, or the placeholder with its '#'
  uint32_t index = 0;
};
using Path = std::vector<PathElement>;

// A path after placeholder substitution.
struct ResolvedElement {
  bool is_index = false;
  std::string name;
  uint32_t index = 0;
  bool operator==(const ResolvedElement&) const = default;
};
using ResolvedPath = std::vector<ResolvedElement>;
// DynamoDB's rendering in messages: "[a, b, [3]]".
std::string PathToString(const ResolvedPath& path);

enum class Function : uint8_t {
  kAttributeExists, kAttributeNotExists, kAttributeType, kBeginsWith, kContains, kSize,
  kIfNotExists, kListAppend, kPlus, kMinus,
};

// An operand: a path, a :value placeholder, a literal (legacy parameters only), or a function of
// operands (size, if_not_exists, list_append, + and -; and the condition functions).
struct Operand {
  enum class Type : uint8_t { kPath, kValueRef, kLiteral, kFunction };
  Type type = Type::kPath;
  Path path;
  std::string value_ref;  // ":v"
  uint32_t literal = 0;   // index into ParsedExpression::literals
  Function function = Function::kSize;
  std::vector<Operand> args;
};

enum class CompareOp : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe };

struct ConditionNode {
  enum class Type : uint8_t { kOr, kAnd, kNot, kCompare, kBetween, kIn, kFunction };
  Type type = Type::kAnd;
  CompareOp op = CompareOp::kEq;
  std::vector<uint32_t> children;  // kOr/kAnd (two or more, flattened), kNot (one)
  // kCompare: [a, b]; kBetween: [a, low, high]; kIn: [a, candidates...]; kFunction: [the call].
  std::vector<Operand> operands;
};

// What every parsed expression records: its kind, the placeholders it uses (sorted, unique) and
// the literal values legacy parameters carry.
struct ParsedExpression {
  Kind kind = Kind::kCondition;
  std::vector<std::string> name_refs;
  std::vector<std::string> value_refs;
  std::vector<AttributeValue> literals;
};

struct Condition : ParsedExpression {
  std::vector<ConditionNode> nodes;
  uint32_t root = 0;
};

struct UpdateAction {
  enum class Type : uint8_t { kSet, kRemove, kAdd, kDelete };
  Type type = Type::kSet;
  Path path;
  Operand value;  // SET: the right-hand side; ADD and DELETE: the value; REMOVE: unused
};

struct Update : ParsedExpression {
  std::vector<UpdateAction> actions;  // in expression order
};

struct Projection : ParsedExpression {
  std::vector<Path> paths;
};

// The request's placeholders, as every step after parsing sees them.
struct Bindings {
  const ExpressionAttributeNames& names;
  const ExpressionAttributeValues& values;
};
// Empty names and values (legacy parameters, or a request without placeholders).
const Bindings& NoBindings();

// --- Parsing -------------------------------------------------------------------------------------

// `kind` is kCondition, kFilter or kKeyCondition; it only names the expression in messages
// ("Invalid FilterExpression: ..."). Key conditions parse with the full condition grammar and are
// then restricted by CheckKeyConditionShape.
Result<std::shared_ptr<const Condition>> ParseCondition(std::string_view text, Kind kind);
Result<std::shared_ptr<const Update>> ParseUpdate(std::string_view text);
Result<std::shared_ptr<const Projection>> ParseProjection(std::string_view text);

// The restrictions DynamoDB puts on a KeyConditionExpression beyond the condition grammar (only =
// on the partition key, AND, and one sort key condition of = < <= > >= BETWEEN begins_with; no
// nested paths). Returns the key attribute names in the order they appear.
Result<std::vector<std::string>> CheckKeyConditionShape(const Condition& condition,
                                                        const Bindings& bindings);

// --- Validation ----------------------------------------------------------------------------------

// The checks DynamoDB makes before reading the item (see the file comment). `key_attributes`
// are the table's key attribute names: an update may not touch them.
Status Validate(const Condition& condition, const Bindings& bindings);
Status Validate(const Update& update, const Bindings& bindings,
                const std::vector<std::string>& key_attributes);
Status Validate(const Projection& projection, const Bindings& bindings);

// "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a, #b}" (names are
// checked before values), over all the expressions of one request; null entries are skipped.
// Also enforces the 2 MB bound on all substitution variables and 255 bytes on each placeholder.
Status CheckPlaceholdersUsed(std::span<const ParsedExpression* const> expressions,
                             const Bindings& bindings);

// --- Evaluation ----------------------------------------------------------------------------------

// True when `item` satisfies the condition; `item` is empty when there is no item. Comparisons
// follow DynamoDB: a missing attribute or a type mismatch makes = < <= > >= BETWEEN IN false (and
// <> true); numbers compare exactly, strings and binaries by unsigned bytes.
Result<bool> Evaluate(const Condition& condition, const Item& item, const Bindings& bindings);

// The paths an update wrote or removed, resolved, in expression order: what ReturnValues
// UPDATED_OLD / UPDATED_NEW project (with ProjectPaths) from the old and the new item.
using UpdatedPaths = std::vector<ResolvedPath>;

// Applies the update to `*item` (an empty map when the item did not exist). All operands are read
// from the item as it was before the update. On error `*item` is unspecified: apply to a copy.
Status ApplyUpdate(const Update& update, const Bindings& bindings, Item* item,
                   UpdatedPaths* updated);

// The item reduced to the projected paths: nested paths keep only the projected parts of maps,
// and the projected elements of lists, in index order and compacted.
Result<Item> Project(const Projection& projection, const Bindings& bindings, const Item& item);
// The same for already-resolved paths (UPDATED_OLD / UPDATED_NEW).
Item ProjectPaths(const std::vector<ResolvedPath>& paths, const Item& item);

// --- Cache ---------------------------------------------------------------------------------------

// A bounded LRU cache of parsed expressions keyed by kind and text. Parse failures are not cached.
class ExpressionCache {
 public:
  static constexpr size_t kDefaultCapacity = 4096;
  explicit ExpressionCache(size_t capacity = kDefaultCapacity) : capacity_(capacity) {}

  Result<std::shared_ptr<const Condition>> GetCondition(std::string_view text, Kind kind);
  Result<std::shared_ptr<const Update>> GetUpdate(std::string_view text);
  Result<std::shared_ptr<const Projection>> GetProjection(std::string_view text);

  size_t size() const;
  uint64_t hits() const;
  uint64_t misses() const;

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const ParsedExpression> value;
  };
  std::shared_ptr<const ParsedExpression> Lookup(const std::string& key);
  void Insert(std::string key, std::shared_ptr<const ParsedExpression> value);

  const size_t capacity_;
  mutable std::mutex mutex_;
  std::list<Entry> lru_;  // most recent first; guarded by mutex_
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;  // guarded by mutex_
  uint64_t hits_ = 0;    // guarded by mutex_
  uint64_t misses_ = 0;  // guarded by mutex_
};

// --- Legacy parameters ---------------------------------------------------------------------------

// The legacy parameter types live with the request types (storage/operations.h).
using LegacyCondition = ::meridian::LegacyCondition;
using LegacyConditions = ::meridian::LegacyConditions;
using LegacyAttributeUpdate = ::meridian::LegacyAttributeUpdate;
using LegacyAttributeUpdates = ::meridian::LegacyAttributeUpdates;

enum class LegacyKind : uint8_t { kExpected, kQueryFilter, kScanFilter, kKeyConditions };

// Expected / QueryFilter / ScanFilter / KeyConditions with ConditionalOperator ("AND" when
// absent, or "OR"; KeyConditions are always AND) -> a Condition over literal names and values.
Result<std::shared_ptr<const Condition>> ConvertLegacyConditions(
    const LegacyConditions& conditions, const std::optional<std::string>& conditional_operator,
    LegacyKind kind);
// AttributesToGet -> a Projection of top-level names.
Result<std::shared_ptr<const Projection>> ConvertAttributesToGet(
    const std::vector<std::string>& attributes);
// AttributeUpdates -> an Update (PUT = SET, ADD = ADD, DELETE with a value = DELETE, DELETE
// without = REMOVE). Key attributes cannot be updated.
Result<std::shared_ptr<const Update>> ConvertAttributeUpdates(
    const LegacyAttributeUpdates& updates, const std::vector<std::string>& key_attributes);

// DynamoDB refuses a request that mixes the two styles: "Can not use both expression and
// non-expression parameters in the same request: Non-expression parameters: {Expected}
// Expression parameters: {ConditionExpression}". Pass the names of the parameters present.
Status CheckNoMixedParameters(const std::vector<std::string>& non_expression_parameters,
                              const std::vector<std::string>& expression_parameters);

}  // namespace meridian::expr
