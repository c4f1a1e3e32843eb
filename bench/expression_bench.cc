// Micro-benchmarks of the expression engine (storage/expression.h): parse cost and evaluation cost
// of typical condition, update and projection expressions, and the parsed-expression cache's hit
// path against a miss (a parse). Numbers only: nothing here asserts on time.
#include <benchmark/benchmark.h>

#include "storage/expression.h"

namespace meridian::expr {
namespace {

Item TestItem() {
  return {
      {"pk", AttributeValue::S("user#1234")},
      {"sk", AttributeValue::S("order#2024-06-01")},
      {"status", AttributeValue::S("ACTIVE")},
      {"version", AttributeValue::ParseN("41").value()},
      {"price", AttributeValue::ParseN("19.99").value()},
      {"tags", AttributeValue::SS({"blue", "sale", "new"})},
      {"address", AttributeValue::M({{"city", AttributeValue::S("Lisbon")},
                                     {"zip", AttributeValue::S("1000-001")}})},
      {"entries", AttributeValue::L({AttributeValue::S("a"), AttributeValue::S("b"), AttributeValue::S("c")})},
  };
}

const ExpressionAttributeNames kNames = {{"#s", "status"}, {"#v", "version"}};
const ExpressionAttributeValues kValues = {
    {":active", AttributeValue::S("ACTIVE")}, {":v", AttributeValue::ParseN("41").value()},
    {":one", AttributeValue::ParseN("1").value()}, {":lo", AttributeValue::ParseN("10").value()},
    {":hi", AttributeValue::ParseN("20").value()}, {":tag", AttributeValue::S("sale")},
    {":city", AttributeValue::S("Lis")}, {":more", AttributeValue::L({AttributeValue::S("d")})},
    {":now", AttributeValue::S("2024-06-02")},
};

constexpr char kCondition[] =
    "attribute_exists(pk) AND #s = :active AND #v = :v AND price BETWEEN :lo AND :hi AND "
    "contains(tags, :tag) AND begins_with(address.city, :city)";
constexpr char kUpdate[] =
    "SET #v = #v + :one, updated_at = :now, entries = list_append(entries, :more) REMOVE address.zip";
constexpr char kProjection[] = "pk, sk, #s, address.city, entries[1]";

// Each benchmark first checks its expression is valid, so that no number measures an error path.
void Require(const Status& st, benchmark::State& state) {
  if (!st.ok()) state.SkipWithError(st.ToString().c_str());
}

void BM_ParseCondition(benchmark::State& state) {
  Require(ParseCondition(kCondition, Kind::kCondition).status(), state);
  for (auto _ : state) benchmark::DoNotOptimize(ParseCondition(kCondition, Kind::kCondition));
}
BENCHMARK(BM_ParseCondition);

void BM_ParseUpdate(benchmark::State& state) {
  Require(ParseUpdate(kUpdate).status(), state);
  for (auto _ : state) benchmark::DoNotOptimize(ParseUpdate(kUpdate));
}
BENCHMARK(BM_ParseUpdate);

void BM_ParseProjection(benchmark::State& state) {
  Require(ParseProjection(kProjection).status(), state);
  for (auto _ : state) benchmark::DoNotOptimize(ParseProjection(kProjection));
}
BENCHMARK(BM_ParseProjection);

void BM_ValidateAndEvaluateCondition(benchmark::State& state) {
  auto c = ParseCondition(kCondition, Kind::kCondition).value();
  Item item = TestItem();
  Bindings b{kNames, kValues};
  for (auto _ : state) {
    Status st = Validate(*c, b);
    benchmark::DoNotOptimize(st);
    benchmark::DoNotOptimize(Evaluate(*c, item, b));
  }
}
BENCHMARK(BM_ValidateAndEvaluateCondition);

void BM_EvaluateCondition(benchmark::State& state) {
  auto c = ParseCondition(kCondition, Kind::kCondition).value();
  Item item = TestItem();
  Bindings b{kNames, kValues};
  for (auto _ : state) benchmark::DoNotOptimize(Evaluate(*c, item, b));
}
BENCHMARK(BM_EvaluateCondition);

void BM_ApplyUpdate(benchmark::State& state) {
  auto u = ParseUpdate(kUpdate).value();
  const Item original = TestItem();
  Bindings b{kNames, kValues};
  UpdatedPaths updated;
  for (auto _ : state) {
    Item item = original;  // the engine applies to a copy as well
    Status st = ApplyUpdate(*u, b, &item, &updated);
    benchmark::DoNotOptimize(st);
  }
}
BENCHMARK(BM_ApplyUpdate);

void BM_Project(benchmark::State& state) {
  auto p = ParseProjection(kProjection).value();
  Item item = TestItem();
  Bindings b{kNames, kValues};
  for (auto _ : state) benchmark::DoNotOptimize(Project(*p, b, item));
}
BENCHMARK(BM_Project);

void BM_CacheHit(benchmark::State& state) {
  ExpressionCache cache;
  (void)cache.GetCondition(kCondition, Kind::kCondition);
  for (auto _ : state) benchmark::DoNotOptimize(cache.GetCondition(kCondition, Kind::kCondition));
}
BENCHMARK(BM_CacheHit)->ThreadRange(1, 2);

void BM_CacheMiss(benchmark::State& state) {
  // Capacity 0: every lookup misses and parses.
  ExpressionCache cache(0);
  for (auto _ : state) benchmark::DoNotOptimize(cache.GetCondition(kCondition, Kind::kCondition));
}
BENCHMARK(BM_CacheMiss);

}  // namespace
}  // namespace meridian::expr

BENCHMARK_MAIN();
