#include "storage/disk_space.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace sluice {

Result<uint64_t> FreeBytes(const std::string& path) {
  std::filesystem::path p(path.empty() ? "." : path);
  std::error_code ec;
  while (!std::filesystem::exists(p, ec) && p.has_parent_path() && p != p.parent_path()) {
    p = p.parent_path();
  }
  struct statvfs vfs;
  if (::statvfs(p.c_str(), &vfs) != 0) {
    return Status::IoError("statvfs " + p.string() + ": " + std::strerror(errno));
  }
  return static_cast<uint64_t>(vfs.f_bavail) * static_cast<uint64_t>(vfs.f_frsize);
}

uint64_t WalBytes(const std::string& path) {
  std::error_code ec;
  uint64_t total = 0;
  for (const auto& e : std::filesystem::directory_iterator(path, ec)) {
    if (e.path().extension() != ".log") continue;
    std::error_code size_ec;
    const auto size = e.file_size(size_ec);
    if (!size_ec) total += size;
  }
  return total;
}

std::string DescribeBytes(uint64_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f MiB (%llu bytes)", static_cast<double>(bytes) / (1 << 20),
                static_cast<unsigned long long>(bytes));
  return buf;
}

}  // namespace sluice
