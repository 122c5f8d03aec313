// The commit log's RocksDB instance and its two column families, shared by
// CommitLog and MetaStore, and able to close and open again in place.
//
// Why: after a failed write RocksDB keeps a background error. DB::Resume()
// clears most of them, but after ENOSPC on a WAL append in the middle of a
// group commit it can keep a fatal one however much space comes back. A
// fresh open replays the WAL up to its last whole record and clears it.
// Readers (consumers, the HA write service) hold pointers to the log, not
// to RocksDB, so the log reopens its instance under them: Reopen().
//
// Every use of the instance or of a column family handle holds a Handle,
// which keeps the instance open while it lives. Reopen() waits for the
// handles in use; new ones wait for it. Use() on a thread that already holds
// a handle of this instance does not take the lock again, so nesting is
// safe (the lock prefers Reopen(): a second lock_shared() on the same
// thread would wait behind a Reopen() that waits for the first).
//
// Thread-safe. A thread must not call Reopen() while it holds a Handle,
// nor wait while it holds one for a lock that a caller of Reopen() holds
// (CommitLog: its writers' lock and its WAL sync lock are taken first,
// then a handle, never the other way round).
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "base/thread_annotations.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
struct ColumnFamilyOptions;
struct DBOptions;
}  // namespace rocksdb

namespace sluice {

class LogDb {
 public:
  // Opens `path` with the default, log (`log_cf`) and meta column
  // families; Reopen() uses the same options.
  static Result<std::unique_ptr<LogDb>> Open(const std::string& path,
                                             const rocksdb::DBOptions& options,
                                             const rocksdb::ColumnFamilyOptions& log_cf,
                                             bool read_only);
  ~LogDb();
  LogDb(const LogDb&) = delete;
  LogDb& operator=(const LogDb&) = delete;

  class Handle {
   public:
    Handle(Handle&& other) noexcept;
    Handle& operator=(Handle&&) = delete;
    ~Handle();
    rocksdb::DB* db() const { return db_; }
    rocksdb::ColumnFamilyHandle* log() const { return log_; }
    rocksdb::ColumnFamilyHandle* meta() const { return meta_; }

   private:
    friend class LogDb;
    Handle(const LogDb* owner, bool untracked);
    const LogDb* owner_;  // null once moved from
    bool untracked_;      // holds the lock itself (no thread-local slot was free)
    rocksdb::DB* db_;
    rocksdb::ColumnFamilyHandle* log_;
    rocksdb::ColumnFamilyHandle* meta_;
  };

  // A handle on the open instance; Unavailable while it is closed (a
  // Reopen() failed: the next one tries again).
  Result<Handle> Use() const;

  // Waits for the handles in use, closes the instance and opens it again
  // (RocksDB replays the WAL to its last whole record). On failure the
  // instance stays closed until a Reopen() succeeds.
  Status Reopen();

  const std::string& path() const;

 private:
  struct Spec;
  explicit LogDb(std::unique_ptr<const Spec> spec);
  Status OpenLocked() REQUIRES(mu_);
  void CloseLocked() REQUIRES(mu_);

  const std::unique_ptr<const Spec> spec_;
  mutable SharedMutex mu_;
  rocksdb::DB* db_ GUARDED_BY(mu_) = nullptr;
  rocksdb::ColumnFamilyHandle* log_ GUARDED_BY(mu_) = nullptr;
  rocksdb::ColumnFamilyHandle* meta_ GUARDED_BY(mu_) = nullptr;
  Status closed_ GUARDED_BY(mu_);  // why db_ is null after a failed reopen
};

}  // namespace sluice
