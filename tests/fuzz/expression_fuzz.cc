// Fuzzes the expression engine (storage/expression.h): the first byte picks the expression kind,
// the rest is the expression text. Whatever parses is validated and evaluated, applied or
// projected against a fixed item with fixed names and values. Any input must give a result or a
// ValidationException, never a crash, hang or sanitizer report.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "storage/expression.h"

namespace {

using namespace meridian;
using namespace meridian::expr;

const Item& FixedItem() {
  static const Item kItem = {
      {"pk", AttributeValue::S("p")},
      {"a", AttributeValue::ParseN("5").value()},
      {"b", AttributeValue::S("hello")},
      {"c", AttributeValue::L({AttributeValue::ParseN("1").value(), AttributeValue::S("x"),
                               AttributeValue::M({{"d", AttributeValue::Bool(true)}})})},
      {"m", AttributeValue::M({{"a", AttributeValue::ParseN("1").value()},
                               {"n", AttributeValue::M({{"x", AttributeValue::NullValue()}})}})},
      {"s", AttributeValue::SS({"a", "b"})},
      {"ns", AttributeValue::NS({Decimal::FromInt64(1), Decimal::FromInt64(2)})},
      {"bin", AttributeValue::B(std::string("\x00\xff", 2))},
  };
  return kItem;
}

const ExpressionAttributeNames kNames = {{"#a", "a"}, {"#b", "b"}, {"#pk", "pk"}, {"#x", "x"}};
const ExpressionAttributeValues& Values() {
  static const ExpressionAttributeValues kValues = {
      {":n", AttributeValue::ParseN("9.9999999999999999999999999999999999999E+125").value()},
      {":one", AttributeValue::ParseN("1").value()},
      {":s", AttributeValue::S("he")},
      {":t", AttributeValue::S("N")},
      {":l", AttributeValue::L({AttributeValue::S("z")})},
      {":ss", AttributeValue::SS({"a", "c"})},
      {":ns", AttributeValue::NS({Decimal::FromInt64(3)})},
      {":b", AttributeValue::B(std::string("\x00", 1))},
      {":m", AttributeValue::M({{"k", AttributeValue::S("v")}})},
  };
  return kValues;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  Bindings bindings{kNames, Values()};
  const std::vector<std::string> keys = {"pk"};
  switch (data[0] % 4) {
    case 0:
    case 1: {
      Kind kind = data[0] % 4 == 0 ? Kind::kCondition : Kind::kKeyCondition;
      auto c = ParseCondition(text, kind);
      if (!c.ok()) return 0;
      if (kind == Kind::kKeyCondition) (void)CheckKeyConditionShape(**c, bindings);
      if (!Validate(**c, bindings).ok()) return 0;
      auto r = Evaluate(**c, FixedItem(), bindings);
      if (!r.ok()) std::abort();  // a validated condition always evaluates
      auto negated = Evaluate(**c, Item{}, bindings);
      if (!negated.ok()) std::abort();
      const ParsedExpression* all[] = {c->get()};
      (void)CheckPlaceholdersUsed(all, bindings);
      break;
    }
    case 2: {
      auto u = ParseUpdate(text);
      if (!u.ok() || !Validate(**u, bindings, keys).ok()) return 0;
      Item item = FixedItem();
      UpdatedPaths updated;
      if (ApplyUpdate(**u, bindings, &item, &updated).ok()) {
        (void)ProjectPaths(updated, item);
      }
      break;
    }
    default: {
      auto p = ParseProjection(text);
      if (!p.ok() || !Validate(**p, bindings).ok()) return 0;
      if (!Project(**p, bindings, FixedItem()).ok()) std::abort();
      break;
    }
  }
  return 0;
}
