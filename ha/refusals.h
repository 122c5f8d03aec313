// Refusals of the HA port: connections the primary closed before they
// became a standby session, counted by reason (sluice_ha_refused_total on
// /metrics) and logged at most once per reason per minute, so a flood of
// bad peers costs a few log lines, not one per connection.
//
// Thread safety: all methods from any thread (one internal mutex).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/thread_annotations.h"

namespace sluice::ha {

enum class Refusal {
  kTooManyConnections,  // max_pending_handshakes unauthenticated peers already
  kTooManySessions,     // max_sessions standby sessions already
  kHandshakeTimeout,    // the handshake did not finish within handshake_timeout_ms
  kFrameTooLarge,       // a frame above kHandshakeMaxFrame before the proof
  kHungUp,              // the peer closed (or reset) mid-handshake
  kBadRequest,          // not the message expected, or not a message
  kUnsupportedVersion,
  kWrongCluster,
  kUnknownDestination,
  kBadProof,          // did not prove the HA secret
  kStaleEpoch,        // a standby that has seen a newer epoch (we are fenced)
  kOffsetOutOfRange,  // the standby needs records retention removed
  kInternal,          // our side failed (storage, an oversized answer)
};
inline constexpr size_t kRefusalKinds = static_cast<size_t>(Refusal::kInternal) + 1;

// "too_many_connections", ...: the metric's reason label.
std::string_view RefusalName(Refusal r);

class RefusalLog {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kLogEvery = std::chrono::minutes(1);

  // Counts a refusal of `peer` and logs it (spdlog warn) unless this reason
  // was logged less than kLogEvery ago; then it is only counted, and the
  // next line of this reason says how many were not logged. Returns the
  // line logged, "" when none.
  std::string Note(Refusal reason, std::string_view peer, std::string_view message,
                   Clock::time_point now = Clock::now());
  // Logs "N more ... refusals" for reasons whose last line is kLogEvery old
  // and that were refused since without a line. Returns the lines logged.
  std::vector<std::string> Flush(Clock::time_point now = Clock::now());

  // Every reason with its count, in enum order (zeros included).
  std::vector<std::pair<std::string, uint64_t>> Counts() const;
  uint64_t count(Refusal r) const;
  uint64_t total() const;

 private:
  struct PerReason {
    uint64_t count = 0;
    uint64_t unlogged = 0;          // refused since the last line of this reason
    Clock::time_point next_line{};  // no line of this reason before this
  };
  mutable Mutex mu_;
  std::array<PerReason, kRefusalKinds> reasons_ GUARDED_BY(mu_);
};

}  // namespace sluice::ha
