#include "conflict/version.h"

#include <tuple>

namespace meridian::conflict {

Order Compare(const VersionVector& a, const VersionVector& b) {
  bool a_less = false, b_less = false;  // some entry where a < b, where b < a
  auto ia = a.begin(), ib = b.begin();
  while (ia != a.end() || ib != b.end()) {
    uint64_t va = 0, vb = 0;
    if (ib == b.end() || (ia != a.end() && ia->first < ib->first)) {
      va = (ia++)->second;
    } else if (ia == a.end() || ib->first < ia->first) {
      vb = (ib++)->second;
    } else {
      va = (ia++)->second;
      vb = (ib++)->second;
    }
    if (va < vb) a_less = true;
    if (vb < va) b_less = true;
  }
  if (a_less && b_less) return Order::kConcurrent;
  if (a_less) return Order::kBefore;
  if (b_less) return Order::kAfter;
  return Order::kEqual;
}

VersionVector PointwiseMax(const VersionVector& a, const VersionVector& b) {
  VersionVector out = a;
  for (const auto& [region, n] : b) {
    uint64_t& slot = out[region];
    if (n > slot) slot = n;
  }
  return out;
}

bool WinsOver(const Version& a, const Version& b) {
  return std::tie(a.hlc, a.origin) > std::tie(b.hlc, b.origin);
}

}  // namespace meridian::conflict
