// CommitLog: the per-destination log of change records on RocksDB.
//
// Records are opaque bytes to the log (serialized proto::ChangeRecord in
// sluiced). The log assigns offsets: dense, from 0, never reused. Records are
// stored in batches keyed by base offset (storage/log_format.h), never one
// RocksDB key per record.
//
// Transactions are atomic: CommitTransaction() writes a transaction's
// records and its source checkpoint (in the transaction's last batch) in one
// RocksDB write; the high watermark is the end of the last batch that ends a
// transaction. A transaction larger than memory is streamed with AppendChunk()
// first; chunks sit above the high watermark, invisible to Read(), until
// CommitTransaction() ends the transaction. On Open() every chunk above the
// persisted high watermark (the partial tail of a crash) is removed.
//
// Durability (CommitLogOptions::durability):
//   kSyncEveryCommit: CommitTransaction() returns after fsync; a commit that
//     returned survives power loss. Costs one fsync per transaction.
//   kGroupCommit: CommitTransaction() returns after the write reached the OS
//     (survives a crash of sluiced, not of the machine); a background thread
//     fsyncs every group_commit_ms, after which DurableOffset() covers it.
//     A power loss loses at most the last group_commit_ms of transactions,
//     and always whole transactions: the log is a prefix of what was
//     committed and the checkpoint matches its last transaction.
//
// Thread safety: writers (AppendChunk, CommitTransaction, DiscardOpen-
// Transaction, Truncate, ApplyRetention, BeginEpoch) serialize on an
// internal mutex; Read() and the offset getters may run concurrently with
// them from any thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/status.h"
#include "base/thread_annotations.h"
#include "base/types.h"
#include "proto/meta.pb.h"
#include "storage/log_db.h"
#include "storage/meta_store.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Env;
class FileSystem;
class WriteBatch;
}  // namespace rocksdb

namespace sluice {

enum class Durability { kSyncEveryCommit, kGroupCommit };
enum class Compression { kNone, kLz4, kZstd };

// Ingest's own state, kept beside the log in its metadata and written in
// the same atomic write as a commit, so that it always matches the log and
// the checkpoint (the last schema recorded per table, prepared XA
// transactions): key -> value, or a delete when value is nullopt. Keys are
// ingest's to choose; they live under MetaStore::kIngestPrefix. The HA
// write service sends it to standbys, whole, when IngestStateVersion()
// moved, and before the batches that follow the change.
struct IngestStateWrite {
  std::string key;
  std::optional<std::string> value;
};

struct RetentionOptions {
  int64_t max_age_ms = 0;     // remove batches appended longer ago; 0 keeps forever
  uint64_t max_bytes = 0;     // keep at most this many logical bytes; 0 is no limit
  bool keep_unacked = false;  // never remove what a consumer group has not acknowledged
};

struct CommitLogOptions {
  std::string path;         // directory of this destination's RocksDB
  std::string node_id;      // recorded when the log is created, checked on open
  std::string destination;  // recorded when the log is created
  Durability durability = Durability::kGroupCommit;
  int group_commit_ms = 10;
  Compression compression = Compression::kLz4;
  size_t max_batch_bytes = 1 << 20;  // a transaction is split into batches of about this size
  RetentionOptions retention;
  rocksdb::Env* env = nullptr;  // nullptr: the default Env. Tests inject faults here.
  // The free-space guard: appends and commits return NoSpace (and write
  // nothing, the log stays usable) while the file system of `path` has
  // less than this free; Open() refuses with NoSpace when less than the
  // WAL to replay plus kOpenSlackBytes is free. Keep it above the write
  // buffer (64 MiB), which a flush writes at once. 0 turns the guard off.
  uint64_t min_free_bytes = 64 << 20;
  // Opens with DB::OpenForReadOnly: writes nothing to the directory, so it
  // works on a full disk, and takes no lock (it may run beside sluiced and
  // sees the log as of the moment it opened). A partial transaction at the
  // tail is left alone, not removed. Every write returns
  // FailedPrecondition; no syncer thread.
  bool read_only = false;

  Status Validate() const;
};

// Offsets [base, end) given to a transaction or chunk.
struct OffsetRange {
  Offset base;
  Offset end;
};

struct LogRecord {
  Offset offset;
  std::string_view data;  // borrowed from the RecordSet that holds it
};

// The result of Read(). Owns the bytes its records point into; stays valid
// when moved.
struct RecordSet {
  std::vector<LogRecord> records;
  Offset next_offset;     // where the next Read should start
  Offset high_watermark;  // at the time of the read

  // Copies bytes (and `more` after them) into storage owned by this set;
  // the view stays valid for the set's lifetime (blocks never move).
  std::string_view Keep(std::string_view bytes, std::string_view more = {});

 private:
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* cur_ = nullptr;
  size_t left_ = 0;
};

struct RetentionResult {
  Offset first_offset;  // after retention
  uint64_t records_removed = 0;
  uint64_t bytes_removed = 0;  // logical bytes, as SizeBytes() counts them
};

class CommitLog {
 public:
  // What opening writes besides replaying the WAL (a new MANIFEST, which
  // RocksDB preallocates by 4 MiB, an OPTIONS file, a new WAL).
  static constexpr uint64_t kOpenSlackBytes = 8 << 20;

  // Opens or creates the log at options.path. Errors: Busy when another
  // process has the directory open; FailedPrecondition when it belongs to a
  // different node; Corruption when the stored state is inconsistent;
  // NoSpace (naming the path and the bytes free) when the disk is too full
  // to open it safely (see min_free_bytes).
  static Result<std::unique_ptr<CommitLog>> Open(const CommitLogOptions& options);

  ~CommitLog();
  CommitLog(const CommitLog&) = delete;
  CommitLog& operator=(const CommitLog&) = delete;

  // Appends records of a transaction that has not ended yet. They get
  // offsets at once but stay above the high watermark, invisible to
  // readers, until CommitTransaction(). REQUIRES: !records.empty().
  Result<OffsetRange> AppendChunk(std::span<const std::string_view> records, uint64_t source_ts);

  // Ends the current transaction with `records` (may be empty) and makes it
  // visible, atomically with `checkpoint`. The returned range covers the
  // whole transaction including earlier chunks. A transaction with no
  // records at all only advances the checkpoint.
  Result<OffsetRange> CommitTransaction(std::span<const std::string_view> records,
                                        const proto::SourceCheckpoint& checkpoint);

  // Ingest's forms of AppendChunk and CommitTransaction: the records come
  // in version 2 blocks (log_format::AppendBlock, already compressed by
  // the caller; each item one or more whole blocks), holding records that
  // lack their txn field; readers get every record back with
  // TxnInfo{seq, last} appended (storage/log_format.h). Batches are cut
  // between items. Block headers are checked (InvalidArgument) and give
  // the record counts.
  Result<OffsetRange> AppendBlockChunk(std::span<const std::string_view> blocks,
                                       uint64_t source_ts);
  // `state`: written in the same atomic write (IngestStateWrite).
  Result<OffsetRange> CommitBlocks(std::span<const std::string_view> blocks,
                                   const proto::SourceCheckpoint& checkpoint,
                                   std::span<const IngestStateWrite> state = {});
  // Ingest's state entries whose key starts with `prefix`, in key order.
  Result<std::vector<std::pair<std::string, std::string>>> ReadIngestState(
      std::string_view prefix) const;
  // Counts commits that wrote ingest state (a change means it may differ:
  // the HA write service then sends it again). Bumped after the write.
  uint64_t IngestStateVersion() const { return state_version_.load(std::memory_order_acquire); }
  // The standby's side: makes the ingest state exactly `entries` (the
  // primary's), in one write.
  Status ReplaceIngestState(const std::vector<std::pair<std::string, std::string>>& entries);

  // Drops the chunks of the current transaction (the source failed mid-way
  // and will resend it from the checkpoint).
  Status DiscardOpenTransaction();

  // Reads records from `from` in order: at most max_records records and,
  // beyond the first record, at most max_bytes of record data. Never past
  // the high watermark. OutOfRange if `from` is below FirstOffset() (removed
  // by retention) or above HighWatermark(); Corruption if a batch fails its
  // checksum.
  Result<RecordSet> Read(Offset from, size_t max_records, size_t max_bytes) const;

  Offset FirstOffset() const { return Offset(first_.load(std::memory_order_acquire)); }
  // What readers may see: one past the last record of the last complete
  // transaction (CommittedEnd()), or less while the visibility gate holds
  // it back (see SetGate).
  Offset HighWatermark() const {
    const uint64_t end = hw_.load(std::memory_order_acquire);
    if (!gated_.load(std::memory_order_acquire)) return Offset(end);
    return Offset(std::min(end, released_.load(std::memory_order_acquire)));
  }
  // One past the last record of the last complete transaction written to
  // this log, visible or not.
  Offset CommittedEnd() const { return Offset(hw_.load(std::memory_order_acquire)); }
  // Every record below this offset has been fsynced.
  Offset DurableOffset() const { return Offset(durable_.load(std::memory_order_acquire)); }
  // The source position after the last complete transaction.
  proto::SourceCheckpoint Checkpoint() const EXCLUDES(mu_);
  // Logical bytes of the visible log (what retention by bytes counts).
  uint64_t SizeBytes() const EXCLUDES(mu_);

  // Removes every record at or above `new_end` (epoch divergence).
  // REQUIRES: no open transaction; new_end is a transaction boundary in
  // [FirstOffset(), HighWatermark()]. Epoch entries starting at or above
  // new_end are removed with them; the checkpoint becomes the one of the
  // transaction that now ends the log. Readers must not read the removed
  // range concurrently.
  Status Truncate(Offset new_end);

  // Removes whole transactions from the front by the retention options.
  // `now_ms`: the broker clock. `keep_from`: no record at or above it is
  // removed, whatever the options say (the broker's other readers: the
  // high watermark, standbys in sync mode). Called periodically by the
  // broker, off the append path; it takes the writers' lock only for the
  // one write that moves the first offset.
  Result<RetentionResult> ApplyRetention(int64_t now_ms, Offset keep_from = Offset::Max());

  // Starts epoch `epoch` at the current high watermark; later batches carry
  // it. REQUIRES: epoch greater than every recorded epoch.
  Status BeginEpoch(Epoch epoch);
  Epoch CurrentEpoch() const EXCLUDES(mu_);

  // fsyncs everything written so far; DurableOffset() then covers it. Does
  // not block writers. Thread-safe.
  Status Sync() EXCLUDES(wal_sync_mu_);

  // The free-space guard asked now: NoSpace (naming the path and the bytes
  // free) while the disk has less than min_free_bytes free, else Ok. For
  // a writer that waits for space before it starts again. Thread-safe.
  Status CheckFreeSpace() const;
  // Free bytes of the file system that holds the log (nullopt when statvfs
  // fails). Thread-safe.
  std::optional<uint64_t> DiskFreeBytes() const;
  // Whether a write or sync failed (every write now returns that error).
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  // After a failure for a full disk (RocksDB met ENOSPC although the guard
  // let the write through): once the disk has min_free_bytes free again,
  // DB::Resume() and continue from what the log holds (an open
  // transaction's chunks are removed, as on Open()). Ok when the log has
  // not failed; NoSpace while the disk is still full; the failure itself
  // when it is not a full disk or RocksDB cannot resume (reopen the log).
  // Writers' lock: call it from the writer's thread, between transactions.
  Status Recover() EXCLUDES(mu_, wal_sync_mu_);

  MetaStore& meta() { return *meta_; }

  // --- Replication (ha/, docs/replication.md) ---------------------------
  //
  // The visibility gate. Off (the default), HighWatermark() is
  // CommittedEnd(). On, it is min(CommittedEnd(), released offset): a
  // primary in sync mode releases what enough standbys have made durable,
  // a standby what its primary has made visible. Release() only moves the
  // released offset forward; turning the gate on starts it at the high
  // watermark of that moment, so HighWatermark() never moves back (but on
  // Truncate). REQUIRES: released offsets are transaction boundaries.
  // Thread-safe; Release() calls the commit listener when it moves.
  void SetGate(bool on);
  // Turns the gate on with the released offset at min(released,
  // CommittedEnd()): the high watermark may move back, so only before
  // anyone reads (a restarted primary in sync mode, before it serves).
  void StartGateAt(Offset released);
  // Stores (nullopt: removes) the released offset in the metadata
  // (MetaStore::Released), for StartGateAt after a restart. Written under
  // the writers' lock like a commit, not fsynced on its own (a process
  // crash keeps it; a power loss may leave an older, lower value).
  Status StoreReleased(std::optional<Offset> released) EXCLUDES(mu_);
  bool gated() const { return gated_.load(std::memory_order_acquire); }
  void Release(Offset upto);

  // The primary's side: whole stored batches (log_format.h) from `from`,
  // which must be where a batch starts, up to CommittedEnd(): about
  // max_bytes of them, at least one when any is there. OutOfRange when
  // `from` is outside [FirstOffset(), CommittedEnd()]; InvalidArgument when
  // no batch starts there.
  Result<std::vector<std::string>> ReadBatches(Offset from, size_t max_bytes) const;

  // The standby's side: appends batches read from the primary's log by
  // ReadBatches, at the offsets they carry, in one write (fsynced by
  // Sync() or with kSyncEveryCommit). Before each batch, every entry of the
  // primary's epoch history `epochs` above CurrentEpoch() that starts at
  // or below the batch is recorded; after the last, those that start at or
  // below the new end. Every batch must pass its checksum, start where the
  // log ends, carry the current epoch and continue the open transaction:
  // else Corruption and nothing is written. A batch that ends a
  // transaction moves CommittedEnd() and the checkpoint; the others stay
  // above it like chunks (DiscardOpenTransaction() drops them).
  Status AppendReplicated(std::span<const std::string> batches,
                          std::span<const proto::EpochEntry> epochs);
  // Logical bytes of every batch below CommittedEnd(), ever (what a
  // standby's log must also count at the same offset).
  uint64_t EndBytes() const EXCLUDES(mu_);
  // Counts commits, replicated appends and releases. WaitForChange returns
  // the count once it is past `seen`, or after max_wait. For the HA write
  // service, which has no commit listener of its own. Thread-safe.
  uint64_t ChangeCount() const { return changes_.load(std::memory_order_acquire); }
  uint64_t WaitForChange(uint64_t seen, std::chrono::milliseconds max_wait) const;
  // One past the last record appended, counting an open transaction's
  // batches (where AppendReplicated continues).
  Offset AppendedEnd() const EXCLUDES(mu_);
  // Logical bytes of every batch below AppendedEnd().
  uint64_t AppendedBytes() const EXCLUDES(mu_);
  // The epoch history, in epoch order (what a standby sends its primary).
  Result<std::vector<proto::EpochEntry>> EpochHistory() const { return meta_->Epochs(); }

  // Called after every commit that moves the high watermark, on the
  // committing thread, outside the log's locks (consumers' long polls wake
  // on it). It must be quick and must not call back into this log's writers.
  // REQUIRES: set before the first commit; not changed afterwards.
  void SetCommitListener(std::function<void()> listener) { on_commit_ = std::move(listener); }
  const CommitLogOptions& options() const { return options_; }

 private:
  explicit CommitLog(const CommitLogOptions& options);
  Status Init();
  // What an append writes: records (batch version 1) or, when `counts` is
  // not empty, blocks of counts[i] records (version 2).
  struct Units {
    std::span<const std::string_view> items;
    std::span<const uint32_t> counts;
    bool blocks() const { return !counts.empty(); }
    uint32_t records_in(size_t i) const { return blocks() ? counts[i] : 1; }
    uint64_t records() const;
  };
  static Status CountBlocks(std::span<const std::string_view> blocks,
                            std::vector<uint32_t>* counts);
  Result<OffsetRange> AppendUnits(Units units, uint64_t source_ts) EXCLUDES(mu_);
  Result<OffsetRange> CommitUnits(Units units, const proto::SourceCheckpoint& checkpoint,
                                  std::span<const IngestStateWrite> state = {}) EXCLUDES(mu_);
  // `discarded`: a partial transaction was just removed from the tail.
  Status RecoverTail(bool discarded) REQUIRES(mu_);
  // Encodes records into batches and adds them to *wb. With `checkpoint`,
  // the last batch ends the transaction.
  void AddBatches(Units units, uint64_t source_ts, const std::string* checkpoint,
                  rocksdb::ColumnFamilyHandle* log_cf, rocksdb::WriteBatch* wb) REQUIRES(mu_);
  Status Write(rocksdb::WriteBatch* wb, bool sync, std::string_view what);
  // A handle for a writer: the failure when the log has failed (a closed
  // instance is only possible then).
  Result<LogDb::Handle> UseForWrite();
  uint64_t LatestSequence() const;  // RocksDB's; 0 while closed
  // The free-space guard (CommitLogOptions::min_free_bytes) before a write
  // of about `bytes`: NoSpace when the disk is below the margin. Asks the
  // file system at most every kSpaceCheckMs or kSpaceCheckBytes written,
  // and before every write while it is low.
  Status CheckSpace(uint64_t bytes) REQUIRES(mu_);
  Status OpenGuard() const;
  Status LowSpace(uint64_t free) const;  // the guard's NoSpace
  void SyncLoop() EXCLUDES(sync_mu_);
  void StopSyncer() EXCLUDES(sync_mu_);

  const CommitLogOptions options_;
  // Every use holds a handle: Recover() may reopen the instance in place.
  std::unique_ptr<LogDb> db_;
  std::unique_ptr<MetaStore> meta_;

  // Visible bounds, read without the lock.
  std::atomic<uint64_t> first_{0};
  std::atomic<uint64_t> hw_{0};
  std::atomic<uint64_t> durable_{0};
  std::atomic<bool> gated_{false};
  std::atomic<uint64_t> released_{0};

  mutable Mutex mu_;
  proto::LogState state_ GUARDED_BY(mu_);       // as persisted
  uint64_t pending_end_ GUARDED_BY(mu_) = 0;    // next offset, counting open chunks
  uint64_t pending_bytes_ GUARDED_BY(mu_) = 0;  // logical bytes, counting open chunks
  uint64_t last_chunk_base_ GUARDED_BY(mu_) = 0;
  uint64_t txn_base_ GUARDED_BY(mu_) = 0;  // first offset of the current transaction
  bool txn_open_ GUARDED_BY(mu_) = false;
  uint64_t epoch_ GUARDED_BY(mu_) = 0;
  std::string scratch_ GUARDED_BY(mu_);
  std::unique_ptr<rocksdb::WriteBatch> write_batch_ GUARDED_BY(mu_);  // reused by every commit
  std::string state_bytes_ GUARDED_BY(mu_);
  std::string checkpoint_bytes_ GUARDED_BY(mu_);
  // The free-space guard's memory.
  std::chrono::steady_clock::time_point space_checked_at_ GUARDED_BY(mu_){};
  uint64_t written_since_check_ GUARDED_BY(mu_) = 0;
  bool space_low_ GUARDED_BY(mu_) = true;  // ask before the first write

  // The first write or sync failure. RocksDB turns read-only after a failed
  // write, and after a failed fsync nobody knows what reached the disk, so
  // from then on every write and sync returns this error: the owner must
  // reopen the log (which replays what the disk really holds).
  std::atomic<bool> failed_{false};
  Mutex failure_mu_;
  Status failure_ GUARDED_BY(failure_mu_);
  Status Fail(Status st) EXCLUDES(failure_mu_);
  Status FailureStatus() EXCLUDES(failure_mu_);

  // Counts the change, wakes WaitForChange, then calls on_commit_.
  void Notify();

  // Sync() state.
  std::function<void()> on_commit_;
  std::atomic<uint64_t> changes_{0};
  std::atomic<uint64_t> state_version_{0};
  mutable std::mutex change_mu_;
  mutable std::condition_variable change_cv_;
  std::shared_ptr<rocksdb::FileSystem> fs_;  // the Env's, constant after Init()
  Mutex wal_sync_mu_;                        // one Sync() at a time
  std::vector<std::string> synced_wals_ GUARDED_BY(wal_sync_mu_);
  std::atomic<uint64_t> synced_seq_{0};  // RocksDB sequence covered by the last Sync()

  // Group commit.
  Mutex sync_mu_;
  CondVar sync_cv_;
  bool stopping_ GUARDED_BY(sync_mu_) = false;
  std::thread syncer_;
};

}  // namespace sluice
