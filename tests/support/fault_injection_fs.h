// A RocksDB FileSystem for tests that simulates power loss and a full disk
// (the idea of rocksdb's FaultInjectionTestFS, which Debian's librocksdb-dev
// does not ship).
//
// It remembers, per file written through it, how many bytes were appended
// and how many of them were synced. A test "pulls the plug" with
// SetActive(false) (every later write fails), closes the DB, calls
// DropUnsyncedData() (each file is cut back to its last synced size) and
// reopens. SetNoSpace(true) makes appends fail with ENOSPC;
// SetFailNewFiles(true) makes creating a file fail.
//
// Simplification: a new file's directory entry is assumed durable; only its
// unsynced bytes are lost.
//
// Thread safety: all methods are safe to call concurrently.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

namespace sluice::testing {

class FaultInjectionFs : public rocksdb::FileSystemWrapper {
 public:
  explicit FaultInjectionFs(std::shared_ptr<rocksdb::FileSystem> base)
      : FileSystemWrapper(std::move(base)) {}
  static const char* kClassName() { return "SluiceFaultInjectionFs"; }
  const char* Name() const override { return kClassName(); }

  void SetActive(bool active) { active_ = active; }
  void SetNoSpace(bool no_space) { no_space_ = no_space; }
  // Makes NewWritableFile fail with an I/O error (appends to open files
  // go on): RocksDB can then neither resume (a new WAL) nor open.
  void SetFailNewFiles(bool fail) { fail_new_files_ = fail; }
  // Cuts every tracked file back to its synced size. Call with the DB closed.
  void DropUnsyncedData();
  // Bytes that DropUnsyncedData() would remove.
  uint64_t UnsyncedBytes();

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* dbg) override;
  // A file opened this way is only used to fsync (CommitLog::Sync): its
  // Sync/Fsync makes durable what had been written to the file before it.
  rocksdb::IOStatus NewRandomRWFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSRandomRWFile>* r,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& dst,
                               const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& f, const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* dbg) override;

  // Called by the file wrapper.
  struct FileState {
    uint64_t size = 0;
    uint64_t synced = 0;
  };
  rocksdb::IOStatus CheckWrite() const;
  std::mutex& mu() { return mu_; }
  // The tracked state of file f, or null.
  std::shared_ptr<FileState> Find(const std::string& f);

 private:
  rocksdb::IOStatus Wrap(const std::string& f, uint64_t initial_size, rocksdb::IOStatus s,
                         std::unique_ptr<rocksdb::FSWritableFile>* r);

  std::atomic<bool> active_{true};
  std::atomic<bool> no_space_{false};
  std::atomic<bool> fail_new_files_{false};
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<FileState>> files_;  // guarded by mu_
};

// An Env over a FaultInjectionFs over the default file system.
struct FaultEnv {
  FaultEnv();
  std::shared_ptr<FaultInjectionFs> fs;
  std::unique_ptr<rocksdb::Env> env;
};

}  // namespace sluice::testing
