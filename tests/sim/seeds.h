// How many seeds a simulator test runs: `optimized` by default, a tenth of it under sanitizers
// (MERIDIAN_SIM_SANITIZED); MERIDIAN_SIM_SEEDS overrides (also divided by ten under sanitizers),
// MERIDIAN_SIM_FIRST sets the first seed. Shared by the Raft and the replicator simulators.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>

namespace meridian::sim {

inline uint64_t EnvU64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

inline uint64_t SimSeedCount(uint64_t optimized) {
#ifdef MERIDIAN_SIM_SANITIZED
  const uint64_t fallback = std::max<uint64_t>(1, optimized / 10);
#else
  const uint64_t fallback = optimized;
#endif
  uint64_t n = EnvU64("MERIDIAN_SIM_SEEDS", fallback);
#ifdef MERIDIAN_SIM_SANITIZED
  if (std::getenv("MERIDIAN_SIM_SEEDS")) n = std::max<uint64_t>(1, n / 10);
#endif
  return n;
}

}  // namespace meridian::sim
