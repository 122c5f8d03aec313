#include "broker/daemon/destination.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "base/clock.h"
#include "base/thread_name.h"
#include "broker/binlog/source_factory.h"

namespace sluice::daemon {
namespace {

// "mysql://repl:secret@host:3306" -> "mysql://repl:***@host:3306", for logs.
std::string RedactUrl(const std::string& url) {
  size_t at = url.find('@');
  size_t colon = url.find(':', url.find("://") + 3);
  if (at == std::string::npos || colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

}  // namespace

Destination::Destination(const Config& node, const DestinationConfig& config)
    : node_(node), config_(config) {}

Destination::~Destination() { StopIngest(); }

Status Destination::Open(const std::function<void(CommitLog*)>& on_open) {
  std::error_code ec;
  std::filesystem::create_directories(node_.data_dir, ec);
  if (ec) return Status::IoError("cannot create data_dir " + node_.data_dir + ": " + ec.message());
  CommitLogOptions o;
  o.path = node_.data_dir + "/" + config_.name;
  o.node_id = node_.node_id;
  o.destination = config_.name;
  o.durability = node_.durability == "fsync" ? Durability::kSyncEveryCommit : Durability::kGroupCommit;
  o.retention.max_age_ms = static_cast<int64_t>(config_.retention.max_age_ms);
  o.retention.max_bytes = config_.retention.max_bytes;
  o.retention.keep_unacked = config_.retention.respects_groups;
  SLUICE_ASSIGN_OR_RETURN(log_, CommitLog::Open(o));
  spdlog::info("destination {}: log at {}, offsets [{}, {}), checkpoint {}:{}", config_.name,
               o.path, log_->FirstOffset().value(), log_->HighWatermark().value(),
               log_->Checkpoint().file(), log_->Checkpoint().pos());
  if (on_open) on_open(log_.get());
  return Status::Ok();
}

void Destination::StartIngest() {
  if (thread_.joinable()) return;
  stop_.store(false, std::memory_order_release);
  thread_ = std::thread([this] {
    SetThreadName("sl-fetch");
    Loop();
  });
  lag_thread_ = std::thread([this] {
    SetThreadName("sl-lag");
    LagLoop();
  });
}

void Destination::StopIngest() {
  stop_.store(true, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (source_ != nullptr) source_->Cancel();
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  if (lag_thread_.joinable()) lag_thread_.join();
}

std::string Destination::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

std::string Destination::last_warning() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_warning_;
}

std::string Destination::last_lag_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_lag_error_;
}

double Destination::lag_seconds() const {
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const uint64_t ts = stats_.last_event_ts.load();
  const int64_t caught_up = stats_.caught_up_ms.load();
  if (stats_.ring_occupancy.load() <= 0) {
    // Caught up: the source said it had nothing newer lately, or the lag
    // probe found no binlog after the checkpoint.
    if (caught_up != 0 && now - caught_up < 15000) return 0;
    if (lag_bytes() == 0) return 0;
  }
  if (ts == 0) return 0;
  return std::max<double>(0, (now - static_cast<int64_t>(ts) * 1000) / 1000.0);
}

// Every kLagPeriod asks the source how far the checkpoint is from its end.
// A thread of its own: a slow or unreachable source server must not hold up
// ingest or the admin pages.
void Destination::LagLoop() {
  constexpr auto kLagPeriod = std::chrono::milliseconds(2000);
  binlog::SourceSpec spec;
  spec.url = config_.source;
  spec.server_id = config_.server_id;
  binlog::SourceEndProbe probe(spec);
  std::string logged;  // the last error logged, so a down source is said once
  do {
    proto::SourceCheckpoint cp = log_->Checkpoint();
    if (cp.file().empty()) continue;  // nothing committed: no position to measure from
    auto behind = probe.BytesBehind(cp.file(), cp.pos());
    std::string err = behind.ok() ? "" : behind.status().ToString();
    lag_bytes_.store(behind.ok() ? static_cast<int64_t>(*behind) : -1, std::memory_order_relaxed);
    if (err != logged && !err.empty()) {
      spdlog::warn("destination {}: cannot measure the lag in bytes: {}", config_.name, err);
    }
    logged = err;
    std::lock_guard<std::mutex> lock(mu_);
    last_lag_error_ = err;
  } while (SleepUnlessStopped(kLagPeriod));
}

double Destination::xa_oldest_seconds() const {
  const uint64_t ts = stats_.xa_oldest_prepared_ts.load();
  if (ts == 0) return 0;
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return std::max<double>(0, static_cast<double>(now - static_cast<int64_t>(ts)));
}

void Destination::ApplyRetention(Offset keep_from) {
  auto r = log_->ApplyRetention(WallClockMs(), keep_from);
  retention_runs_.fetch_add(1);
  if (!r.ok()) {
    retention_errors_.fetch_add(1);
    spdlog::error(
        "destination {}: retention failed: {}; the log keeps its records until the "
        "next run",
        config_.name, r.status().ToString());
    return;
  }
  NoteRetentionHold(keep_from);
  if (r->records_removed == 0) return;
  retention_records_.fetch_add(r->records_removed);
  retention_bytes_.fetch_add(r->bytes_removed);
  spdlog::info(
      "destination {}: retention removed {} records ({} bytes); the log starts at "
      "offset {}",
      config_.name, r->records_removed, r->bytes_removed, r->first_offset.value());
}

// Says (once per change) what keeps the log above retention_bytes: the
// lower of the lowest group acknowledgement and keep_from binds, give or
// take the transaction that straddles it.
void Destination::NoteRetentionHold(Offset keep_from) {
  std::string held;
  const RetentionConfig& rc = config_.retention;
  if (rc.max_bytes > 0 && log_->SizeBytes() > rc.max_bytes) {
    held = "the high watermark or, in sync mode, a standby (at offset " +
           std::to_string(keep_from.value()) + ")";
    if (rc.respects_groups) {
      auto groups = log_->meta().ListGroups();
      const std::pair<std::string, proto::GroupCursor>* low = nullptr;
      if (groups.ok()) {
        for (const auto& g : *groups) {
          if (low == nullptr || g.second.acked_offset() < low->second.acked_offset()) low = &g;
        }
      }
      if (low != nullptr && low->second.acked_offset() < keep_from.value()) {
        held = "consumer group '" + low->first + "' (acknowledged up to offset " +
               std::to_string(low->second.acked_offset()) + ")";
      }
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (held == retention_held_by_) return;
  if (held.empty()) {
    spdlog::info("destination {}: retention is within retention_bytes again", config_.name);
  } else {
    const bool group = held.starts_with("consumer group");
    spdlog::warn(
        "destination {}: the log ({} bytes) stays above retention_bytes = {}: retention "
        "waits for {}; {}",
        config_.name, log_->SizeBytes(), rc.max_bytes, held,
        group ? "Unsubscribe a group nobody uses, or set retention_respects_groups = false"
              : "a standby that is down holds it in sync mode: bring it back");
  }
  retention_held_by_ = held;
}

std::string Destination::retention_held_by() const {
  std::lock_guard<std::mutex> lock(mu_);
  return retention_held_by_;
}

uint64_t Destination::errors_by_kind(Code code) const {
  return errors_[static_cast<int>(code) & 15].load();
}

bool Destination::SleepUnlessStopped(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [&] { return stop_.load(); });
  return !stop_.load();
}

Status Destination::RunOnce() {
  binlog::SourceSpec spec;
  spec.url = config_.source;
  spec.server_id = config_.server_id;
  spec.require_full_metadata = config_.column_names == "names";
  proto::SourceCheckpoint cp = log_->Checkpoint();
  // The configured start only applies to an empty log; afterwards the
  // checkpoint says where the last whole transaction ended.
  spec.start = cp.file().empty() ? config_.start : cp.file() + ":" + std::to_string(cp.pos());
  SLUICE_ASSIGN_OR_RETURN(auto source, binlog::OpenBinlogSource(spec));
  {
    std::lock_guard<std::mutex> lock(mu_);
    source_ = source.get();
    if (stop_.load()) source->Cancel();
  }
  spdlog::info("destination {}: reading {} from {}", config_.name, RedactUrl(spec.url), spec.start);
  for (const auto& w : source->warnings()) spdlog::warn("destination {}: {}", config_.name, w);
  ingest::IngestOptions io;
  io.ring_size = config_.ring_size;
  io.parse_threads = static_cast<int>(config_.parse_threads);
  io.chunk_records = config_.chunk_records;
  io.include = config_.include;
  io.skip_undecodable = config_.on_undecodable == "skip";
  io.exclude = config_.exclude;
  io.on_warning = [this](const std::string& w) {
    spdlog::warn("destination {}: {}", config_.name, w);
    std::lock_guard<std::mutex> lock(mu_);
    last_warning_ = w;
  };
  io.wait = config_.wait == "spin"    ? ring::WaitKind::kBusySpin
            : config_.wait == "yield" ? ring::WaitKind::kYield
                                      : ring::WaitKind::kBlocking;
  Status st;
  auto pipeline = ingest::Pipeline::Create(io, log_.get(), &stats_);
  if (!pipeline.ok()) {
    st = pipeline.status();
  } else {
    st = (*pipeline)->Run(source.get(), &stop_);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    source_ = nullptr;
  }
  return st;
}

void Destination::Loop() {
  auto delay = std::chrono::milliseconds(100);
  while (!stop_.load(std::memory_order_acquire)) {
    uint64_t before = stats_.transactions.load();
    Status st = RunOnce();
    if (stop_.load()) break;
    if (st.ok()) {
      // A file source that ended (not following): nothing more to read.
      spdlog::info("destination {}: source ended at {}:{}", config_.name,
                   log_->Checkpoint().file(), log_->Checkpoint().pos());
      break;
    }
    errors_[static_cast<int>(st.code()) & 15].fetch_add(1);
    restarts_.fetch_add(1);
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_error_ = st.ToString();
    }
    if (stats_.transactions.load() != before) delay = std::chrono::milliseconds(100);
    spdlog::error("destination {}: {}; restarting from the checkpoint {}:{} in {} ms",
                  config_.name, st.ToString(), log_->Checkpoint().file(),
                  log_->Checkpoint().pos(), delay.count());
    if (!SleepUnlessStopped(delay)) break;
    delay = std::min(delay * 2, std::chrono::milliseconds(30000));
  }
}

}  // namespace sluice::daemon
