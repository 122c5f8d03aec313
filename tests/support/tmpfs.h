// A small tmpfs mounted on a temporary directory, to fill a disk for real
// (ENOSPC from the kernel, not an injected one). Mounting needs root
// (CAP_SYS_ADMIN): ok() is false elsewhere and error() says why, for a
// GTEST_SKIP. Unmounted (lazily if busy) and removed when the object goes.
#pragma once

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>

#include "tests/support/temp_dir.h"

namespace sluice::testing {

class Tmpfs {
 public:
  explicit Tmpfs(uint64_t size_bytes) : mnt_(dir_.Sub("mnt")) {
    std::error_code ec;
    std::filesystem::create_directories(mnt_, ec);
    const std::string opts = "size=" + std::to_string(size_bytes);
    if (::mount("tmpfs", mnt_.c_str(), "tmpfs", 0, opts.c_str()) != 0) {
      error_ = std::string("cannot mount a tmpfs (needs root or CAP_SYS_ADMIN): ") +
               std::strerror(errno);
      return;
    }
    mounted_ = true;
  }
  ~Tmpfs() {
    if (mounted_ && ::umount2(mnt_.c_str(), 0) != 0) ::umount2(mnt_.c_str(), MNT_DETACH);
  }
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;

  bool ok() const { return mounted_; }
  const std::string& error() const { return error_; }
  const std::string& path() const { return mnt_; }
  std::string Sub(const std::string& name) const { return mnt_ + "/" + name; }

  uint64_t FreeBytes() const {
    struct statvfs v;
    if (::statvfs(mnt_.c_str(), &v) != 0) return 0;
    return static_cast<uint64_t>(v.f_bavail) * v.f_frsize;
  }
  // Takes space with a filler file until about `leave` bytes are free.
  // Returns false if it could not.
  bool FillLeaving(uint64_t leave) {
    const uint64_t free = FreeBytes();
    if (free <= leave) return true;
    const std::string name = Sub("filler" + std::to_string(fillers_++));
    const int fd = ::open(name.c_str(), O_CREAT | O_WRONLY, 0644);
    if (fd < 0) return false;
    const int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(free - leave));
    ::close(fd);
    return rc == 0;
  }
  // Removes every filler file.
  void FreeAll() {
    for (int i = 0; i < fillers_; ++i) ::unlink(Sub("filler" + std::to_string(i)).c_str());
    fillers_ = 0;
  }

 private:
  TempDir dir_;
  std::string mnt_;
  std::string error_;
  bool mounted_ = false;
  int fillers_ = 0;
};

}  // namespace sluice::testing
