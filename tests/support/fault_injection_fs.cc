#include "tests/support/fault_injection_fs.h"

#include <unistd.h>

namespace sluice::testing {
namespace {

using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

class TrackedFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  TrackedFile(std::unique_ptr<rocksdb::FSWritableFile> f, FaultInjectionFs* fs,
              std::shared_ptr<FaultInjectionFs::FileState> state)
      : FSWritableFileOwnerWrapper(std::move(f)), fs_(fs), state_(std::move(state)) {}

  IOStatus Append(const Slice& data, const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = fs_->CheckWrite();
    if (s.ok()) s = target()->Append(data, o, dbg);
    if (s.ok()) Grow(data.size());
    return s;
  }
  IOStatus Append(const Slice& data, const IOOptions& o, const rocksdb::DataVerificationInfo& info,
                  IODebugContext* dbg) override {
    IOStatus s = fs_->CheckWrite();
    if (s.ok()) s = target()->Append(data, o, info, dbg);
    if (s.ok()) Grow(data.size());
    return s;
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& o,
                            IODebugContext* dbg) override {
    IOStatus s = fs_->CheckWrite();
    if (s.ok()) s = target()->PositionedAppend(data, offset, o, dbg);
    if (s.ok()) SetSizeAtLeast(offset + data.size());
    return s;
  }
  IOStatus Truncate(uint64_t size, const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = fs_->CheckWrite();
    if (s.ok()) s = target()->Truncate(size, o, dbg);
    if (s.ok()) {
      std::lock_guard lk(fs_->mu());
      state_->size = size;
      if (state_->synced > size) state_->synced = size;
    }
    return s;
  }
  IOStatus Sync(const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = fs_->CheckWrite();
    if (s.ok()) s = target()->Sync(o, dbg);
    if (s.ok()) MarkSynced();
    return s;
  }
  IOStatus Fsync(const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = fs_->CheckWrite();
    if (s.ok()) s = target()->Fsync(o, dbg);
    if (s.ok()) MarkSynced();
    return s;
  }
  IOStatus Flush(const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = fs_->CheckWrite();
    return s.ok() ? target()->Flush(o, dbg) : s;
  }

 private:
  void Grow(uint64_t n) {
    std::lock_guard lk(fs_->mu());
    state_->size += n;
  }
  void SetSizeAtLeast(uint64_t n) {
    std::lock_guard lk(fs_->mu());
    if (state_->size < n) state_->size = n;
  }
  void MarkSynced() {
    std::lock_guard lk(fs_->mu());
    state_->synced = state_->size;
  }

  FaultInjectionFs* fs_;
  std::shared_ptr<FaultInjectionFs::FileState> state_;
};

class SyncOnlyFile : public rocksdb::FSRandomRWFileOwnerWrapper {
 public:
  SyncOnlyFile(std::unique_ptr<rocksdb::FSRandomRWFile> f, FaultInjectionFs* fs, std::string path)
      : FSRandomRWFileOwnerWrapper(std::move(f)), fs_(fs), path_(std::move(path)) {}

  IOStatus Sync(const IOOptions& o, IODebugContext* dbg) override {
    return SyncWith([&] { return target()->Sync(o, dbg); });
  }
  IOStatus Fsync(const IOOptions& o, IODebugContext* dbg) override {
    return SyncWith([&] { return target()->Fsync(o, dbg); });
  }

 private:
  template <typename F>
  IOStatus SyncWith(F&& sync) {
    IOStatus s = fs_->CheckWrite();
    if (!s.ok()) return s;
    auto state = fs_->Find(path_);
    uint64_t written = 0;
    if (state) {
      std::lock_guard lk(fs_->mu());
      written = state->size;  // what the fsync below is sure to cover
    }
    s = sync();
    if (s.ok() && state) {
      std::lock_guard lk(fs_->mu());
      if (state->synced < written) state->synced = written;
    }
    return s;
  }

  FaultInjectionFs* fs_;
  std::string path_;
};

}  // namespace

std::shared_ptr<FaultInjectionFs::FileState> FaultInjectionFs::Find(const std::string& f) {
  std::lock_guard lk(mu_);
  auto it = files_.find(f);
  return it == files_.end() ? nullptr : it->second;
}

IOStatus FaultInjectionFs::NewRandomRWFile(const std::string& f, const rocksdb::FileOptions& o,
                                           std::unique_ptr<rocksdb::FSRandomRWFile>* r,
                                           IODebugContext* dbg) {
  IOStatus s = target()->NewRandomRWFile(f, o, r, dbg);
  if (s.ok()) *r = std::make_unique<SyncOnlyFile>(std::move(*r), this, f);
  return s;
}

IOStatus FaultInjectionFs::CheckWrite() const {
  if (!active_) return IOStatus::IOError("fault injection: the machine lost power");
  if (no_space_) return IOStatus::NoSpace("fault injection: No space left on device");
  return IOStatus::OK();
}

IOStatus FaultInjectionFs::Wrap(const std::string& f, uint64_t initial_size, IOStatus s,
                                std::unique_ptr<rocksdb::FSWritableFile>* r) {
  if (!s.ok()) return s;
  auto state = std::make_shared<FileState>();
  state->size = initial_size;
  state->synced = initial_size;
  {
    std::lock_guard lk(mu_);
    files_[f] = state;
  }
  *r = std::make_unique<TrackedFile>(std::move(*r), this, std::move(state));
  return s;
}

IOStatus FaultInjectionFs::NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                           std::unique_ptr<rocksdb::FSWritableFile>* r,
                                           IODebugContext* dbg) {
  IOStatus s = CheckWrite();
  if (!s.ok()) return s;
  if (fail_new_files_) return IOStatus::IOError("fault injection: cannot create " + f);
  return Wrap(f, 0, target()->NewWritableFile(f, o, r, dbg), r);
}

IOStatus FaultInjectionFs::ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                              std::unique_ptr<rocksdb::FSWritableFile>* r,
                                              IODebugContext* dbg) {
  IOStatus s = CheckWrite();
  if (!s.ok()) return s;
  uint64_t size = 0;
  (void)target()->GetFileSize(f, IOOptions(), &size, dbg);
  return Wrap(f, size, target()->ReopenWritableFile(f, o, r, dbg), r);
}

IOStatus FaultInjectionFs::RenameFile(const std::string& src, const std::string& dst,
                                      const IOOptions& o, IODebugContext* dbg) {
  IOStatus s = CheckWrite();
  if (!s.ok()) return s;
  s = target()->RenameFile(src, dst, o, dbg);
  if (s.ok()) {
    std::lock_guard lk(mu_);
    auto it = files_.find(src);
    if (it != files_.end()) {
      files_[dst] = it->second;
      files_.erase(it);
    } else {
      files_.erase(dst);
    }
  }
  return s;
}

IOStatus FaultInjectionFs::DeleteFile(const std::string& f, const IOOptions& o,
                                      IODebugContext* dbg) {
  IOStatus s = target()->DeleteFile(f, o, dbg);
  if (s.ok()) {
    std::lock_guard lk(mu_);
    files_.erase(f);
  }
  return s;
}

void FaultInjectionFs::DropUnsyncedData() {
  std::lock_guard lk(mu_);
  for (auto& [path, st] : files_) {
    if (st->synced < st->size) {
      if (::truncate(path.c_str(), static_cast<off_t>(st->synced)) == 0) st->size = st->synced;
    }
  }
}

uint64_t FaultInjectionFs::UnsyncedBytes() {
  std::lock_guard lk(mu_);
  uint64_t n = 0;
  for (auto& [path, st] : files_) n += st->size - st->synced;
  return n;
}

FaultEnv::FaultEnv()
    : fs(std::make_shared<FaultInjectionFs>(rocksdb::FileSystem::Default())),
      env(rocksdb::NewCompositeEnv(fs)) {}

}  // namespace sluice::testing
