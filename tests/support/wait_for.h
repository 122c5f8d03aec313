// The one way tests wait for what no seam signals (a background syncer,
// another thread's or process's progress, a server's counter): poll a
// predicate until it holds or a deadline passes. The deadline only bounds a
// failing test; the caller's assertion says what did not happen:
//
//   ASSERT_TRUE(testing::WaitFor([&] { return log->SyncedEnd() == end; }))
//       << "the syncer never caught up";
//   ASSERT_TRUE(testing::WaitFor(stats.polls_parked, 1)) << "the Fetch was not parked";
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>

namespace sluice::testing {

// Polls `cond` every `poll_interval` until it holds or `timeout` has passed;
// returns whether it holds (it is asked once more at the deadline).
inline bool WaitFor(const std::function<bool()>& cond,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30),
                    std::chrono::milliseconds poll_interval = std::chrono::milliseconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(poll_interval);
  }
  return cond();
}

// Whether `counter` reaches `n` (is at least n) within `timeout`: what orders
// a test's steps by the code's counters (a poll is parked, a connection was
// refused) rather than by sleeps.
inline bool WaitFor(const std::atomic<uint64_t>& counter, uint64_t n,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30),
                    std::chrono::milliseconds poll_interval = std::chrono::milliseconds(5)) {
  return WaitFor([&] { return counter.load() >= n; }, timeout, poll_interval);
}

}  // namespace sluice::testing
