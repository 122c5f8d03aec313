// GroupTransfer: RocketMQ's GroupTransferService for one destination of a
// primary. Standbys' reports of their durable offsets come in (from the
// connections' read services); in sync mode the log's high watermark is
// released to the offset that sync_replicas standbys have reached, so
// consumers see a record only once enough standbys have it on disk (the
// source checkpoint of a record is in the same batch, so it is released
// with it). Waiters (long polls parked on the high watermark) are released
// in offset order as reports arrive.
//
// When the high watermark is held behind the log's end for sync_timeout_ms
// with no report moving it: `block` keeps holding it (logged once, and
// in_sync() turns false); `degrade` turns the gate off, so the high
// watermark follows local commits (async), logs an error and counts a
// degradation; once sync_replicas standbys have reported the log's end the
// gate turns back on by itself (logged). In async mode reports only feed
// the per-standby lag.
//
// In sync mode the released offset is stored in the log's metadata at every
// release, so a restarted primary starts its gate there: it shows no record
// its standbys had not acknowledged (until they report again).
//
// Thread safety: every method may be called from any thread. Start() and
// Stop() from the owner's.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/thread_annotations.h"
#include "ha/ha_options.h"
#include "storage/commit_log.h"

namespace sluice::ha {

struct StandbyProgress {
  std::string node_id;
  bool connected = false;
  Offset durable_offset;       // its last report
  uint64_t end_bytes = 0;      // logical log bytes below durable_offset
  int64_t last_report_ms = 0;  // wall clock
  int64_t caught_up_ms = 0;    // when it last reported the log's end
};

class GroupTransfer {
 public:
  // REQUIRES: log outlives this. Sync mode turns the log's gate on.
  GroupTransfer(std::string dest, CommitLog* log, const HaOptions& options);
  ~GroupTransfer();  // Stop()s
  GroupTransfer(const GroupTransfer&) = delete;
  GroupTransfer& operator=(const GroupTransfer&) = delete;

  // Starts the thread that watches for sync timeouts.
  void Start();
  // Idempotent. Leaves the gate as it is.
  void Stop();

  void Report(const std::string& node_id, Offset durable_offset, uint64_t end_bytes);
  void Connected(const std::string& node_id, bool connected);

  std::vector<StandbyProgress> Standbys() const;
  // Sync mode, and the high watermark is neither degraded to async nor held
  // past the timeout. False in async mode.
  bool in_sync() const;
  bool degraded() const { return degraded_.load(); }
  uint64_t degradations() const { return degradations_.load(); }
  uint64_t sync_timeouts() const { return timeouts_.load(); }

 private:
  void Loop();
  void Update(int64_t now_ms) REQUIRES(mu_);
  // Stores the released high watermark (or, degraded, removes it) in the
  // log's metadata for a restart.
  void Persist(bool degraded) REQUIRES(mu_);

  const std::string dest_;
  CommitLog* const log_;
  const HaOptions options_;

  mutable Mutex mu_;
  CondVar cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  std::map<std::string, StandbyProgress> standbys_ GUARDED_BY(mu_);
  uint64_t last_hw_ GUARDED_BY(mu_) = 0;
  int64_t held_since_ms_ GUARDED_BY(mu_) = 0;  // 0: not held
  bool holding_ GUARDED_BY(mu_) = false;       // block, past the timeout
  std::atomic<bool> degraded_{false};
  std::atomic<uint64_t> degradations_{0};
  std::atomic<uint64_t> timeouts_{0};
  std::thread thread_;
};

}  // namespace sluice::ha
