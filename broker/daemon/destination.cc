#include "broker/daemon/destination.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <random>

#include "base/clock.h"
#include "base/thread_name.h"
#include "broker/binlog/mysql_source.h"
#include "broker/binlog/source_factory.h"

namespace sluice::daemon {
std::string RedactUrl(const std::string& url) {
  size_t at = url.find('@');
  size_t colon = url.find(':', url.find("://") + 3);
  if (at == std::string::npos || colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

const char* IngestStateName(IngestState s) {
  switch (s) {
    case IngestState::kStarting: return "starting";
    case IngestState::kRunning: return "running";
    case IngestState::kRetrying: return "retrying";
    case IngestState::kFailed: return "failed";
    case IngestState::kEnded: return "ended";
    case IngestState::kStopped: return "stopped";
  }
  return "?";
}

bool IsTransientIngestError(const Status& st) {
  switch (st.code()) {
    case Code::kUnavailable:
    case Code::kTimedOut:
    case Code::kAborted:
    case Code::kBusy:
    case Code::kIoError:
    case Code::kNoSpace: return true;
    default: return false;
  }
}

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
  o.min_free_bytes = uint64_t{node_.min_free_mb} << 20;
  o.durability =
      node_.durability == "fsync" ? Durability::kSyncEveryCommit : Durability::kGroupCommit;
  o.retention.max_age_ms = static_cast<int64_t>(config_.retention.max_age_ms);
  o.retention.max_bytes = config_.retention.max_bytes;
  o.retention.keep_unacked = config_.retention.respects_groups;
  SLUICE_ASSIGN_OR_RETURN(log_, CommitLog::Open(o));
  spdlog::info("destination {}: log at {}, offsets [{}, {}), checkpoint {}:{}", config_.name,
               o.path, log_->FirstOffset().value(), log_->HighWatermark().value(),
               log_->Checkpoint().file(), log_->Checkpoint().pos());
  if (config_.source.starts_with("mysql://")) {
    snapshot::SnapshotOptions so;
    so.source = config_.source;
    so.chunk_rows = config_.snapshot_chunk_rows;
    so.include = config_.include;
    so.exclude = config_.exclude;
    so.ingest_server = [this] { return source_server(); };
    so.on_warning = [this](const std::string& w) {
      spdlog::warn("destination {}: {}", config_.name, w);
      MutexLock lock(&mu_);
      last_warning_ = w;
    };
    snapshotter_ = std::make_unique<snapshot::Snapshotter>(so, log_.get(), &gate_);
  }
  if (on_open) on_open(log_.get());
  return Status::Ok();
}

Result<std::string> Destination::RequestSnapshot(const std::vector<std::string>& tables) {
  if (snapshotter_ == nullptr) {
    return Status::FailedPrecondition("destination " + config_.name +
                                      " reads binlog files: snapshots need a mysql:// source");
  }
  if (!thread_.joinable()) {
    return Status::Unavailable("destination " + config_.name +
                               " does not ingest on this node (a standby): ask the primary");
  }
  return snapshotter_->Request(tables);
}

std::vector<snapshot::JobProgress> Destination::snapshots() const {
  if (snapshotter_ == nullptr) return {};
  return snapshotter_->progress();
}

void Destination::StartIngest() {
  if (thread_.joinable()) return;
  stop_.store(false, std::memory_order_release);
  state_.store(IngestState::kStarting);
  thread_ = std::thread([this] {
    SetThreadName("sl-fetch");
    Loop();
  });
  lag_thread_ = std::thread([this] {
    SetThreadName("sl-lag");
    LagLoop();
  });
  if (snapshotter_ != nullptr) snapshotter_->Start();
}

void Destination::StopIngest() {
  if (snapshotter_ != nullptr) snapshotter_->Stop();
  stop_.store(true, std::memory_order_release);
  {
    MutexLock lock(&mu_);
    if (source_ != nullptr) source_->Cancel();
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
  if (lag_thread_.joinable()) lag_thread_.join();
  state_.store(IngestState::kStopped);
}

void Destination::RetryNow() {
  MutexLock lock(&mu_);
  retry_now_ = true;
  cv_.SignalAll();
}

std::string Destination::last_error() const {
  MutexLock lock(&mu_);
  return last_error_;
}

std::string Destination::last_warning() const {
  MutexLock lock(&mu_);
  return last_warning_;
}

std::string Destination::source_server() const {
  MutexLock lock(&mu_);
  return source_server_;
}

std::string Destination::last_lag_error() const {
  MutexLock lock(&mu_);
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
    // The checkpoint's file:pos is in the binlog of the server being read.
    probe.UseServer(source_server());
    auto behind = probe.BytesBehind(cp.file(), cp.pos());
    std::string err = behind.ok() ? "" : behind.status().ToString();
    lag_bytes_.store(behind.ok() ? static_cast<int64_t>(*behind) : -1, std::memory_order_relaxed);
    if (err != logged && !err.empty()) {
      spdlog::warn("destination {}: cannot measure the lag in bytes: {}", config_.name, err);
    }
    logged = err;
    MutexLock lock(&mu_);
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
  MutexLock lock(&mu_);
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
  MutexLock lock(&mu_);
  return retention_held_by_;
}

uint64_t Destination::errors_by_kind(Code code) const {
  return errors_[static_cast<int>(code) & 15].load();
}

bool Destination::SleepUnlessStopped(std::chrono::milliseconds d) {
  const auto deadline = std::chrono::steady_clock::now() + d;
  MutexLock lock(&mu_);
  while (!stop_.load() && cv_.WaitUntil(&mu_, deadline)) {
  }
  return !stop_.load();
}

bool Destination::WaitToRetry(std::chrono::milliseconds d) {
  const auto deadline = std::chrono::steady_clock::now() + d;
  MutexLock lock(&mu_);
  while (!stop_.load() && !retry_now_ && cv_.WaitUntil(&mu_, deadline)) {
  }
  if (retry_now_) spdlog::info("destination {}: retrying now (SIGHUP)", config_.name);
  retry_now_ = false;
  return !stop_.load();
}

void Destination::LogFailure(const Status& st, bool transient, std::chrono::milliseconds next) {
  const auto now = std::chrono::steady_clock::now();
  const std::string msg = st.ToString();
  // A permanent error is said once (and again when it changes); a
  // transient one that repeats, at most once a minute.
  const bool repeat = msg == logged_error_;
  if (repeat && (!transient || now - logged_at_ < std::chrono::minutes(1))) {
    ++repeats_;
    spdlog::debug("destination {}: {} (again)", config_.name, msg);
    return;
  }
  const std::string again =
      repeats_ > 0 ? " (" + std::to_string(repeats_) + " more times since it was last logged)" : "";
  const std::string when = next >= std::chrono::seconds(1)
                               ? std::to_string(next.count() / 1000) + " s"
                               : std::to_string(next.count()) + " ms";
  if (transient) {
    const proto::SourceCheckpoint cp = log_->Checkpoint();
    bool by_gtid = false;
    const std::string from = ResumeStart(cp, &by_gtid);
    spdlog::warn("destination {}: {}{}; restarting from the checkpoint ({}{}) in {}", config_.name,
                 msg, again, by_gtid ? "GTID " : "", from, when);
  } else {
    spdlog::error(
        "destination {}: failed: {}{}; this needs a fix on the source or in the "
        "config: the destination retries every {} (or at once on SIGHUP) and other "
        "destinations go on",
        config_.name, msg, again, when);
  }
  logged_error_ = msg;
  logged_at_ = now;
  repeats_ = 0;
}

// The configured start only applies to an empty log; afterwards the
// checkpoint says where the last whole transaction ended: by its GTID state
// when that is the server's whole state (any host of the source that has
// those transactions can go on from there: a failover of the source), by
// file:pos when the server has no GTIDs or the log does not know its state
// yet (then only the host it was reading can). A set MySQL cannot take as a
// dump start (tagged GTIDs of 8.4) also resumes by file:pos.
std::string Destination::ResumeStart(const proto::SourceCheckpoint& cp, bool* by_gtid) const {
  *by_gtid = false;
  if (cp.file().empty()) return config_.start;
  *by_gtid = cp.gtid_known() && !cp.gtid_set().empty() && config_.source.starts_with("mysql://") &&
             binlog::MysqlStart::Parse(cp.gtid_set()).ok();
  return *by_gtid ? cp.gtid_set() : cp.file() + ":" + std::to_string(cp.pos());
}

Status Destination::RunOnce() {
  binlog::SourceSpec spec;
  spec.url = config_.source;
  spec.server_id = config_.server_id;
  spec.require_full_metadata = config_.column_names == "names";
  proto::SourceCheckpoint cp = log_->Checkpoint();
  bool by_gtid = false;
  spec.start = ResumeStart(cp, &by_gtid);
  if (config_.snapshot == "initial" && cp.file().empty() &&
      log_->CommittedEnd() == log_->FirstOffset()) {
    // An empty log begins with the initial snapshot's start, which also
    // sets where ingest begins.
    SLUICE_RETURN_IF_ERROR(snapshotter_->StartInitial());
    cp = log_->Checkpoint();
    spec.start = ResumeStart(cp, &by_gtid);
  }
  spec.learn_gtid_state = !cp.gtid_known();
  SLUICE_ASSIGN_OR_RETURN(auto source, binlog::OpenBinlogSource(spec));
  {
    MutexLock lock(&mu_);
    source_ = source.get();
    source_server_ = source->server();
    if (stop_.load()) source->Cancel();
  }
  if (source->server().empty()) {
    spdlog::info("destination {}: reading {} from {}", config_.name, RedactUrl(spec.url),
                 spec.start);
  } else {
    spdlog::info("destination {}: reading the server at {} from {}{}", config_.name,
                 source->server(), by_gtid ? "GTID " : "", spec.start);
  }
  state_.store(IngestState::kRunning);
  for (const auto& w : source->warnings()) spdlog::warn("destination {}: {}", config_.name, w);
  ingest::IngestOptions io;
  io.ring_size = config_.ring_size;
  io.parse_threads = static_cast<int>(config_.parse_threads);
  io.chunk_records = config_.chunk_records;
  io.include = config_.include;
  io.skip_undecodable = config_.on_undecodable == "skip";
  io.exclude = config_.exclude;
  io.gate = &gate_;
  io.on_warning = [this](const std::string& w) {
    spdlog::warn("destination {}: {}", config_.name, w);
    MutexLock lock(&mu_);
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
    MutexLock lock(&mu_);
    source_ = nullptr;
  }
  return st;
}

void Destination::Loop() {
  constexpr auto kFirstDelay = std::chrono::milliseconds(100);
  constexpr auto kMaxDelay = std::chrono::milliseconds(30000);
  constexpr auto kDiskFullMaxDelay = std::chrono::milliseconds(2000);
  const auto failed_delay = std::chrono::milliseconds(node_.failed_retry_seconds * 1000LL);
  std::mt19937_64 rng(std::random_device{}());
  auto delay = kFirstDelay;
  while (!stop_.load(std::memory_order_acquire)) {
    uint64_t before = stats_.transactions.load();
    // A log that failed for a full disk takes writes again once RocksDB
    // resumed (CommitLog::Recover); until then that is the error to retry.
    // And while the disk is below the margin, the source is left alone:
    // the state stays "retrying" with the disk's error.
    Status st = log_->Recover();
    if (st.ok()) st = log_->CheckFreeSpace();
    if (st.ok()) st = RunOnce();
    if (stop_.load()) break;
    if (st.ok()) {
      // A file source that ended (not following): nothing more to read.
      state_.store(IngestState::kEnded);
      spdlog::info("destination {}: source ended at {}:{}", config_.name, log_->Checkpoint().file(),
                   log_->Checkpoint().pos());
      break;
    }
    errors_[static_cast<int>(st.code()) & 15].fetch_add(1);
    restarts_.fetch_add(1);
    {
      MutexLock lock(&mu_);
      last_error_ = st.ToString();
    }
    const bool transient = IsTransientIngestError(st);
    if (stats_.transactions.load() != before) {  // it made progress: a new episode
      delay = kFirstDelay;
      logged_error_.clear();
      repeats_ = 0;
    }
    std::chrono::milliseconds wait = failed_delay;
    if (transient) {
      // +-20% jitter: destinations (and nodes) that lost the same server
      // do not come back at the same instant.
      std::uniform_real_distribution<double> jitter(0.8, 1.2);
      wait = std::chrono::milliseconds(static_cast<int64_t>(delay.count() * jitter(rng)));
      // A full disk is asked again every few seconds: ingest resumes soon
      // after space is freed (the check costs one statvfs).
      const auto max_delay = st.code() == Code::kNoSpace ? kDiskFullMaxDelay : kMaxDelay;
      delay = std::min(delay * 2, max_delay);
      wait = std::min(wait, max_delay);
    }
    state_.store(transient ? IngestState::kRetrying : IngestState::kFailed);
    LogFailure(st, transient, wait);
    if (!WaitToRetry(wait)) break;
  }
}

}  // namespace sluice::daemon
