#include "storage/log_db.h"

#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include "storage/rocks_status.h"

namespace sluice {

struct LogDb::Spec {
  std::string path;
  rocksdb::DBOptions options;
  rocksdb::ColumnFamilyOptions log_cf;
  bool read_only;
};
namespace {

constexpr char kLogCf[] = "log";
constexpr char kMetaCf[] = "meta";

// The instances this thread holds the shared lock of, with how many
// Handles of each are alive: the lock is taken by the first and released
// with the last.
struct Held {
  const LogDb* owner = nullptr;
  int depth = 0;
};
constexpr int kHeldSlots = 4;
thread_local Held tl_held[kHeldSlots];

Held* FindHeld(const LogDb* owner) {
  for (Held& h : tl_held) {
    if (h.owner == owner) return &h;
  }
  return nullptr;
}

}  // namespace

LogDb::LogDb(std::unique_ptr<const Spec> spec) : spec_(std::move(spec)) {}

const std::string& LogDb::path() const { return spec_->path; }

Result<std::unique_ptr<LogDb>> LogDb::Open(const std::string& path,
                                           const rocksdb::DBOptions& options,
                                           const rocksdb::ColumnFamilyOptions& log_cf,
                                           bool read_only) {
  std::unique_ptr<LogDb> db(
      new LogDb(std::make_unique<const Spec>(Spec{path, options, log_cf, read_only})));
  WriterLock lock(&db->mu_);
  SLUICE_RETURN_IF_ERROR(db->OpenLocked());
  return db;
}

LogDb::~LogDb() {
  WriterLock lock(&mu_);
  CloseLocked();
}

Status LogDb::OpenLocked() {
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {kLogCf, spec_->log_cf},
      {kMetaCf, rocksdb::ColumnFamilyOptions()},
  };
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  Status st =
      spec_->read_only
          ? FromRocks(rocksdb::DB::OpenForReadOnly(spec_->options, spec_->path, cfs, &handles, &db),
                      "RocksDB open (read-only)")
          : FromRocks(rocksdb::DB::Open(spec_->options, spec_->path, cfs, &handles, &db),
                      "RocksDB open");
  if (!st.ok()) {
    closed_ = st;
    return st;
  }
  db_ = db;
  db_->DestroyColumnFamilyHandle(handles[0]);
  log_ = handles[1];
  meta_ = handles[2];
  closed_ = Status::Ok();
  return st;
}

void LogDb::CloseLocked() {
  if (db_ == nullptr) return;
  (void)db_->DestroyColumnFamilyHandle(log_);
  (void)db_->DestroyColumnFamilyHandle(meta_);
  (void)db_->Close();
  delete db_;
  db_ = nullptr;
  log_ = meta_ = nullptr;
}

Status LogDb::Reopen() {
  WriterLock lock(&mu_);
  CloseLocked();
  closed_ = Status::Unavailable("log " + spec_->path + " is being reopened");
  return OpenLocked().WithContext("reopen log " + spec_->path);
}

// The analysis cannot follow a lock held across calls by a thread-local
// count, nor handed to a Handle: the rules are in log_db.h.
Result<LogDb::Handle> LogDb::Use() const NO_THREAD_SAFETY_ANALYSIS {
  if (Held* h = FindHeld(this)) {
    ++h->depth;
    return Handle(this, false);
  }
  mu_.lock_shared();
  if (db_ == nullptr) {
    Status st = closed_;
    mu_.unlock_shared();
    return Status::Unavailable("log " + spec_->path + " is closed: " + st.ToString());
  }
  Held* free = FindHeld(nullptr);
  if (free != nullptr) *free = Held{this, 1};
  return Handle(this, free == nullptr);
}

LogDb::Handle::Handle(const LogDb* owner, bool untracked) NO_THREAD_SAFETY_ANALYSIS
    : owner_(owner),
      untracked_(untracked),
      db_(owner->db_),
      log_(owner->log_),
      meta_(owner->meta_) {}

LogDb::Handle::Handle(Handle&& other) noexcept
    : owner_(other.owner_),
      untracked_(other.untracked_),
      db_(other.db_),
      log_(other.log_),
      meta_(other.meta_) {
  other.owner_ = nullptr;
}

LogDb::Handle::~Handle() NO_THREAD_SAFETY_ANALYSIS {
  if (owner_ == nullptr) return;
  if (!untracked_) {
    Held* h = FindHeld(owner_);
    if (h == nullptr || --h->depth > 0) return;
    h->owner = nullptr;
  }
  owner_->mu_.unlock_shared();
}

}  // namespace sluice
