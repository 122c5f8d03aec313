#include "ha/refusals.h"

#include <spdlog/spdlog.h>

namespace sluice::ha {

std::string_view RefusalName(Refusal r) {
  switch (r) {
    case Refusal::kTooManyConnections: return "too_many_connections";
    case Refusal::kTooManySessions: return "too_many_sessions";
    case Refusal::kHandshakeTimeout: return "handshake_timeout";
    case Refusal::kFrameTooLarge: return "frame_too_large";
    case Refusal::kHungUp: return "hung_up";
    case Refusal::kBadRequest: return "bad_request";
    case Refusal::kUnsupportedVersion: return "unsupported_version";
    case Refusal::kWrongCluster: return "wrong_cluster";
    case Refusal::kUnknownDestination: return "unknown_destination";
    case Refusal::kBadProof: return "bad_proof";
    case Refusal::kStaleEpoch: return "stale_epoch";
    case Refusal::kOffsetOutOfRange: return "offset_out_of_range";
    case Refusal::kInternal: return "internal";
  }
  return "unknown";
}

namespace {

std::string Unlogged(uint64_t n, Refusal r) {
  return std::to_string(n) + " more " + std::string(RefusalName(r)) +
         " refusal(s) in the last minute were not logged";
}

}  // namespace

std::string RefusalLog::Note(Refusal reason, std::string_view peer, std::string_view message,
                             Clock::time_point now) {
  std::string line;
  {
    MutexLock lock(&mu_);
    PerReason& p = reasons_[static_cast<size_t>(reason)];
    ++p.count;
    if (now < p.next_line) {
      ++p.unlogged;
      return "";
    }
    line = "ha: refused " + std::string(peer) + " (" + std::string(RefusalName(reason)) +
           "): " + std::string(message);
    if (p.unlogged > 0) line += " (" + Unlogged(p.unlogged, reason) + ")";
    p.unlogged = 0;
    p.next_line = now + kLogEvery;
  }
  spdlog::warn("{}", line);
  return line;
}

std::vector<std::string> RefusalLog::Flush(Clock::time_point now) {
  std::vector<std::string> lines;
  {
    MutexLock lock(&mu_);
    for (size_t i = 0; i < kRefusalKinds; ++i) {
      PerReason& p = reasons_[i];
      if (p.unlogged == 0 || now < p.next_line) continue;
      lines.push_back("ha: " + Unlogged(p.unlogged, static_cast<Refusal>(i)));
      p.unlogged = 0;
      p.next_line = now + kLogEvery;
    }
  }
  for (const auto& l : lines) spdlog::warn("{}", l);
  return lines;
}

std::vector<std::pair<std::string, uint64_t>> RefusalLog::Counts() const {
  std::vector<std::pair<std::string, uint64_t>> out;
  MutexLock lock(&mu_);
  for (size_t i = 0; i < kRefusalKinds; ++i) {
    out.emplace_back(std::string(RefusalName(static_cast<Refusal>(i))), reasons_[i].count);
  }
  return out;
}

uint64_t RefusalLog::count(Refusal r) const {
  MutexLock lock(&mu_);
  return reasons_[static_cast<size_t>(r)].count;
}

uint64_t RefusalLog::total() const {
  MutexLock lock(&mu_);
  uint64_t n = 0;
  for (const auto& p : reasons_) n += p.count;
  return n;
}

}  // namespace sluice::ha
