#include "conflict/hlc.h"

#include <algorithm>

namespace meridian::conflict {

HybridClock::HybridClock(std::function<int64_t()> wall_ms, int64_t max_offset_ms)
    : wall_ms_(std::move(wall_ms)), max_offset_ms_(max_offset_ms) {}

uint64_t HybridClock::Physical() const { return static_cast<uint64_t>(std::max<int64_t>(wall_ms_(), 0)); }

uint64_t HybridClock::Now() {
  uint64_t pt = MakeHlc(Physical(), 0);
  // Past the logical counter's range, borrow the next millisecond: still monotonic, and the
  // drift it causes is bounded by the event rate (65,536 events per millisecond).
  last_ = std::max(pt, last_ + 1);
  return last_;
}

bool HybridClock::Update(uint64_t remote) {
  uint64_t wall = Physical();
  if (HlcPhysicalMs(remote) > wall + static_cast<uint64_t>(max_offset_ms_)) {
    ++rejected_;
    return false;
  }
  last_ = std::max({MakeHlc(wall, 0), last_ + 1, remote + 1});
  return true;
}

void HybridClock::Restore(uint64_t floor) { last_ = std::max(last_, floor); }

}  // namespace meridian::conflict
