#include "ha/epochs.h"

#include <algorithm>
#include <vector>

namespace sluice::ha {

Epoch EpochAt(std::span<const proto::EpochEntry> history, Offset offset) {
  Epoch epoch(0);
  for (const auto& e : history) {
    if (Offset(e.start_offset()) <= offset) epoch = Epoch(e.epoch());
  }
  return epoch;
}

Offset DivergencePoint(std::span<const proto::EpochEntry> a, Offset a_end,
                       std::span<const proto::EpochEntry> b, Offset b_end) {
  const uint64_t end = std::min(a_end.value(), b_end.value());
  // Epochs only change where an entry starts, so those are the offsets to
  // compare, in order.
  std::vector<uint64_t> points = {0};
  for (const auto& e : a) points.push_back(e.start_offset());
  for (const auto& e : b) points.push_back(e.start_offset());
  std::sort(points.begin(), points.end());
  for (uint64_t p : points) {
    if (p >= end) break;
    if (EpochAt(a, Offset(p)) != EpochAt(b, Offset(p))) return Offset(p);
  }
  return Offset(end);
}

Epoch LastEpoch(std::span<const proto::EpochEntry> history) {
  Epoch epoch(0);
  for (const auto& e : history) epoch = std::max(epoch, Epoch(e.epoch()));
  return epoch;
}

}  // namespace sluice::ha
