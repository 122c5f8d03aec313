// The wall clock in milliseconds since the Unix epoch: for times a person
// or another node reads (reports, status, retention by age). Durations are
// measured with std::chrono::steady_clock instead.
#pragma once

#include <chrono>
#include <cstdint>

namespace sluice {

inline int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace sluice
