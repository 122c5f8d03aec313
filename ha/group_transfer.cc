#include "ha/group_transfer.h"

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "base/clock.h"
#include "base/thread_name.h"

namespace sluice::ha {
GroupTransfer::GroupTransfer(std::string dest, CommitLog* log, const HaOptions& options)
    : dest_(std::move(dest)), log_(log), options_(options) {
  if (options_.sync) {
    // A restarted primary shows what its standbys had before the restart,
    // not every record it had written.
    auto stored = log_->meta().Released();
    if (stored.ok() && stored->has_value()) {
      log_->StartGateAt(**stored);
      if (log_->HighWatermark() < log_->CommittedEnd()) {
        spdlog::info(
            "destination {}: high watermark {} as last released; [{}, {}) waits for a "
            "standby",
            dest_, log_->HighWatermark().value(), log_->HighWatermark().value(),
            log_->CommittedEnd().value());
      }
    } else {
      log_->SetGate(true);
    }
  }
  last_hw_ = log_->HighWatermark().value();
}

void GroupTransfer::Persist(bool degraded) {
  Status st =
      log_->StoreReleased(degraded ? std::nullopt : std::optional<Offset>(log_->HighWatermark()));
  if (!st.ok())
    spdlog::warn("destination {}: storing the released offset: {}", dest_, st.ToString());
}

GroupTransfer::~GroupTransfer() { Stop(); }

void GroupTransfer::Start() {
  MutexLock lock(&mu_);
  if (thread_.joinable() || stop_) return;
  thread_ = std::thread([this] {
    SetThreadName("sl-ha-gate");
    Loop();
  });
}

void GroupTransfer::Stop() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

void GroupTransfer::Report(const std::string& node_id, Offset durable_offset, uint64_t end_bytes) {
  MutexLock lock(&mu_);
  const int64_t now = WallClockMs();
  StandbyProgress& s = standbys_[node_id];
  s.node_id = node_id;
  s.connected = true;
  s.durable_offset = durable_offset;
  s.end_bytes = end_bytes;
  s.last_report_ms = now;
  if (durable_offset >= log_->CommittedEnd()) s.caught_up_ms = now;
  Update(now);
}

void GroupTransfer::Connected(const std::string& node_id, bool connected) {
  MutexLock lock(&mu_);
  StandbyProgress& s = standbys_[node_id];
  s.node_id = node_id;
  s.connected = connected;
}

std::vector<StandbyProgress> GroupTransfer::Standbys() const {
  MutexLock lock(&mu_);
  std::vector<StandbyProgress> out;
  for (const auto& [name, s] : standbys_) out.push_back(s);
  return out;
}

bool GroupTransfer::in_sync() const {
  if (!options_.sync) return false;
  MutexLock lock(&mu_);
  return !degraded_.load() && !holding_;
}

// Releases what sync_replicas standbys have reported, and applies the
// timeout rule. A report from a standby that has since disconnected still
// counts: those records are on its disk.
void GroupTransfer::Update(int64_t now) {
  if (!options_.sync) return;
  const uint64_t end = log_->CommittedEnd().value();
  std::vector<uint64_t> durable;
  for (const auto& [name, s] : standbys_) durable.push_back(s.durable_offset.value());
  std::sort(durable.begin(), durable.end(), std::greater<>());
  const bool enough = durable.size() >= options_.sync_replicas;
  const uint64_t agreed = enough ? std::min(durable[options_.sync_replicas - 1], end) : 0;

  if (degraded_.load()) {
    if (enough && agreed >= end) {
      log_->SetGate(true);
      degraded_.store(false);
      held_since_ms_ = 0;
      last_hw_ = log_->HighWatermark().value();
      Persist(false);
      spdlog::info("destination {}: back in sync: {} standby(s) have the log's end {}", dest_,
                   options_.sync_replicas, end);
    }
    return;
  }
  if (enough) log_->Release(Offset(agreed));
  const uint64_t hw = log_->HighWatermark().value();
  if (hw != last_hw_) {
    last_hw_ = hw;
    Persist(false);
    held_since_ms_ = hw < end ? now : 0;
    if (holding_) {
      holding_ = false;
      spdlog::info("destination {}: a standby reported again; the high watermark moves ({})", dest_,
                   hw);
    }
    return;
  }
  if (hw >= end) {
    held_since_ms_ = 0;
    return;
  }
  if (held_since_ms_ == 0) held_since_ms_ = now;
  if (now - held_since_ms_ < static_cast<int64_t>(options_.sync_timeout_ms)) return;
  if (options_.degrade_on_timeout) {
    timeouts_.fetch_add(1);
    degradations_.fetch_add(1);
    degraded_.store(true);
    log_->SetGate(false);
    Persist(true);  // async now: a restart shows everything, as in async mode
    spdlog::error(
        "destination {}: NOT IN SYNC: fewer than {} standby(s) acknowledged offset {} "
        "within sync_timeout_ms={}; degraded to async (on_sync_timeout = \"degrade\"): "
        "records are visible before a standby has them until one catches up",
        dest_, options_.sync_replicas, hw, options_.sync_timeout_ms);
  } else if (!holding_) {
    timeouts_.fetch_add(1);
    holding_ = true;
    spdlog::warn(
        "destination {}: NOT IN SYNC: fewer than {} standby(s) acknowledged offset {} "
        "within sync_timeout_ms={}; holding the high watermark there "
        "(on_sync_timeout = \"block\"): consumers see nothing newer until a standby "
        "catches up",
        dest_, options_.sync_replicas, hw, options_.sync_timeout_ms);
  }
}

void GroupTransfer::Loop() {
  const auto tick =
      std::chrono::milliseconds(std::clamp<uint32_t>(options_.sync_timeout_ms / 10, 5, 100));
  MutexLock lock(&mu_);
  while (!stop_) {
    cv_.WaitFor(&mu_, tick);
    if (stop_) break;
    Update(WallClockMs());
  }
}

}  // namespace sluice::ha
