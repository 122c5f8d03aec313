// One destination of sluiced: its commit log and the thread that keeps
// ingesting into it. The thread opens the source where the log's checkpoint
// says (the configured start only applies to an empty log), runs the
// ingest pipeline, and after an error starts again from the checkpoint:
//
//   transient errors (the network, a server restarting or refusing
//   connections, a full disk): state "retrying", again after an
//   exponential backoff with jitter (100 ms doubling to 30 s, +-20%; to
//   2 s for a full disk, so that ingest resumes within seconds of space
//   being freed, while consumers go on reading); each distinct error is
//   logged, a repeat at most once a minute. A full disk: the log's
//   free-space guard (CommitLogOptions::min_free_bytes) refuses writes,
//   naming the path and the bytes free; if RocksDB met ENOSPC anyway, the
//   log is recovered (CommitLog::Recover) before the next attempt.
//   permanent errors (authentication, privileges, server settings, a
//   purged binlog, a bad start, data that does not decode): state
//   "failed", one error line (again only when the error changes), and a
//   slow retry (failed_retry_seconds, 60 s by default), so that fixing the
//   server is enough. RetryNow() (SIGHUP) retries at once.
//
// Thread safety: Open/StartIngest/StopIngest from the owner's thread; the getters from any.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/status.h"
#include "base/thread_annotations.h"
#include "broker/daemon/config.h"
#include "broker/ingest/pipeline.h"
#include "broker/ingest/snapshot_gate.h"
#include "broker/snapshot/snapshotter.h"
#include "storage/commit_log.h"

namespace sluice::binlog {
class BinlogSource;
}

namespace sluice::daemon {

// What a destination's ingest is doing (/status "state", /metrics
// sluice_destination_state).
enum class IngestState : int { kStarting, kRunning, kRetrying, kFailed, kEnded, kStopped };
const char* IngestStateName(IngestState s);
inline constexpr IngestState kAllIngestStates[] = {IngestState::kStarting, IngestState::kRunning,
                                                   IngestState::kRetrying, IngestState::kFailed,
                                                   IngestState::kEnded,    IngestState::kStopped};

// True when retrying may cure `st` by itself: a lost or refused
// connection, a server shutting down or out of connections, a timeout, a
// busy lock, an I/O error or a full disk. Everything else needs a person.
bool IsTransientIngestError(const Status& st);

// "mysql://repl:secret@host:3306" -> "mysql://repl:***@host:3306", for logs.
std::string RedactUrl(const std::string& url);

class Destination {
 public:
  Destination(const Config& node, const DestinationConfig& config);
  ~Destination();  // StopIngest()s
  Destination(const Destination&) = delete;
  Destination& operator=(const Destination&) = delete;

  // Opens the log (errors here are fatal: a locked or foreign directory, a
  // full disk) and calls `on_open` with it (the consumer service serves it
  // from here on: before its first commit).
  Status Open(const std::function<void(CommitLog*)>& on_open = {});
  // Starts the ingest thread (a primary's). REQUIRES: Open() succeeded.
  // Does nothing when it runs already.
  void StartIngest();
  // Stops reading, commits what is complete, discards a partial
  // transaction, and joins the thread; StartIngest() may follow (a role
  // change). Idempotent.
  void StopIngest();

  const std::string& name() const { return config_.name; }
  const ingest::IngestStats& stats() const { return stats_; }
  CommitLog* log() { return log_.get(); }
  // The last error the ingest thread met ("" when it runs fine), and how
  // many times it restarted.
  std::string last_error() const;
  // The last thing the pipeline warned of ("" when none): an error record
  // stored, an INCIDENT event, an unknown event skipped.
  std::string last_warning() const;
  uint64_t restarts() const { return restarts_.load(); }
  IngestState state() const { return state_.load(); }
  // Ends the current wait before a retry (SIGHUP): the next attempt starts now.
  void RetryNow();
  uint64_t errors_by_kind(Code code) const;
  // How far the log is behind its source: in seconds by the source's clock
  // (0 when nothing is in flight and either the source said it had
  // nothing newer or no binlog follows the checkpoint; else the age of the
  // last committed transaction); in bytes of binlog
  // from the log's checkpoint to the end of the source's last file,
  // measured every few seconds (-1 until known, or while the source cannot
  // be asked: last_lag_error() says why).
  double lag_seconds() const;
  // Prepared XA transactions waiting for their outcome, and how long ago
  // (by the source's clock, against ours) the oldest was prepared; 0 if none.
  uint64_t xa_pending() const { return stats_.xa_pending.load(); }
  double xa_oldest_seconds() const;
  int64_t lag_bytes() const { return lag_bytes_.load(std::memory_order_relaxed); }
  std::string last_lag_error() const;
  // "host:port" of the source server ingest reads (or last read); "" for
  // files or before the first connection.
  std::string source_server() const;
  // Where ingest starts next: the config's start for an empty log, else the
  // checkpoint's GTID state (*by_gtid) or its file:pos.
  std::string ResumeStart(const proto::SourceCheckpoint& cp, bool* by_gtid) const;

  // Snapshots (docs/snapshots.md): asks for one of `tables` ("db.table");
  // its id (it starts in the background: snapshots() follows it).
  // Unavailable when ingest does not run here (a standby),
  // FailedPrecondition for a source that cannot.
  Result<std::string> RequestSnapshot(const std::vector<std::string>& tables);
  // Every snapshot the log knows, with its progress. REQUIRES: Open() succeeded.
  std::vector<snapshot::JobProgress> snapshots() const;

  // Retention (docs/operations.md, "Retention"): removes from the front of
  // the log what config().retention allows, never a record at or above
  // `keep_from` (see CommitLog::ApplyRetention), and counts what it
  // removed. From the node's retention thread; REQUIRES: Open() succeeded.
  void ApplyRetention(Offset keep_from);
  const DestinationConfig& config() const { return config_; }
  uint64_t retention_runs() const { return retention_runs_.load(); }
  uint64_t retention_errors() const { return retention_errors_.load(); }
  uint64_t retention_records_removed() const { return retention_records_.load(); }
  uint64_t retention_bytes_removed() const { return retention_bytes_.load(); }
  // What keeps the log above retention_bytes after the last run ("" when
  // nothing does): a consumer group, or the standbys / high watermark.
  std::string retention_held_by() const;

 private:
  void Loop();
  void LagLoop();
  Status RunOnce();
  bool SleepUnlessStopped(std::chrono::milliseconds d);
  // Like SleepUnlessStopped, but RetryNow() ends it too.
  bool WaitToRetry(std::chrono::milliseconds d);
  // Logs `st` (what the next attempt will be) unless it repeats the last
  // logged error too soon.
  void LogFailure(const Status& st, bool transient, std::chrono::milliseconds next);
  void NoteRetentionHold(Offset keep_from);

  const Config node_;
  const DestinationConfig config_;
  std::unique_ptr<CommitLog> log_;
  ingest::IngestStats stats_;
  ingest::SnapshotGate gate_;
  std::unique_ptr<snapshot::Snapshotter> snapshotter_;  // mysql:// sources
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::thread lag_thread_;
  std::atomic<int64_t> lag_bytes_{-1};
  std::atomic<uint64_t> restarts_{0};
  std::atomic<IngestState> state_{IngestState::kStopped};
  bool retry_now_ GUARDED_BY(mu_) = false;
  // LogFailure()'s memory: the last error logged, when, and the repeats since.
  std::string logged_error_;
  std::chrono::steady_clock::time_point logged_at_{};
  uint64_t repeats_ = 0;
  std::atomic<uint64_t> errors_[16] = {};
  std::atomic<uint64_t> retention_runs_{0};
  std::atomic<uint64_t> retention_errors_{0};
  std::atomic<uint64_t> retention_records_{0};
  std::atomic<uint64_t> retention_bytes_{0};

  mutable Mutex mu_;
  CondVar cv_;  // wakes the backoff sleep on StopIngest()
  std::string last_error_ GUARDED_BY(mu_);
  std::string last_lag_error_ GUARDED_BY(mu_);
  std::string source_server_ GUARDED_BY(mu_);
  std::string last_warning_ GUARDED_BY(mu_);
  std::string retention_held_by_ GUARDED_BY(mu_);
  binlog::BinlogSource* source_ GUARDED_BY(mu_) = nullptr;  // the one to Cancel()
};

}  // namespace sluice::daemon
