// A hybrid logical clock (Kulkarni, Demirbas et al., "Logical Physical Clocks", 2014).
//
// A timestamp is one 64-bit number: the physical part (epoch milliseconds) in the high 48 bits and
// a logical counter in the low 16, so timestamps compare as integers. Now() never goes backwards,
// even when the wall clock does (it then advances the logical part), and stays within the wall
// clock plus the largest offset it has accepted. Update() folds in a timestamp seen from another
// node; one more than `max_offset_ms` ahead of the local wall clock is rejected (and counted): a
// node with a clock far in the future must not drag every region's clock along with it.
//
// Groundwork for global tables (issue 6): each region's leader stamps its local writes with Now().
//
// Thread-safety: none; one clock per leader, used from its apply thread.
#pragma once

#include <cstdint>
#include <functional>

namespace meridian::conflict {

inline constexpr int kLogicalBits = 16;
inline constexpr uint64_t kLogicalMask = (uint64_t{1} << kLogicalBits) - 1;

inline uint64_t HlcPhysicalMs(uint64_t hlc) { return hlc >> kLogicalBits; }
inline uint64_t HlcLogical(uint64_t hlc) { return hlc & kLogicalMask; }
inline uint64_t MakeHlc(uint64_t physical_ms, uint64_t logical) {
  return (physical_ms << kLogicalBits) | (logical & kLogicalMask);
}

class HybridClock {
 public:
  // `wall_ms`: the wall clock in epoch milliseconds (injectable for tests).
  HybridClock(std::function<int64_t()> wall_ms, int64_t max_offset_ms);

  // A timestamp for a local event, greater than every timestamp returned or accepted before.
  uint64_t Now();
  // Folds in a remote timestamp. False (and rejected() counts it) when it is more than
  // max_offset_ms ahead of the local wall clock; the clock is then unchanged.
  bool Update(uint64_t remote);
  // After a restart or a leader change: never hand out a timestamp at or below `floor` (the
  // highest committed one).
  void Restore(uint64_t floor);

  uint64_t last() const { return last_; }
  uint64_t rejected() const { return rejected_; }

 private:
  uint64_t Physical() const;

  std::function<int64_t()> wall_ms_;
  int64_t max_offset_ms_;
  uint64_t last_ = 0;
  uint64_t rejected_ = 0;
};

}  // namespace meridian::conflict
