#include "storage/rocks_logger.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include <rocksdb/env.h>

namespace sluice {
namespace {

constexpr off_t kRotateBytes = 16 << 20;

class FdLogger final : public rocksdb::Logger {
 public:
  // `fd` < 0: drops every line.
  explicit FdLogger(int fd) : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL), fd_(fd) {}
  ~FdLogger() override {
    if (fd_ >= 0) ::close(fd_);
  }

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    if (fd_ < 0) return;
    char line[2048];
    struct timeval tv;
    ::gettimeofday(&tv, nullptr);
    struct tm t;
    ::localtime_r(&tv.tv_sec, &t);
    int n = std::snprintf(line, sizeof line, "%04d/%02d/%02d-%02d:%02d:%02d.%06ld ",
                          t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                          static_cast<long>(tv.tv_usec));
    va_list copy;
    va_copy(copy, ap);
    const int m = std::vsnprintf(line + n, sizeof line - n - 1, format, copy);
    va_end(copy);
    if (m < 0) return;
    n = std::min<int>(n + m, sizeof line - 2);
    if (line[n - 1] != '\n') line[n++] = '\n';
    // One write per line (O_APPEND keeps lines whole); a full disk drops it.
    const ssize_t w = ::write(fd_, line, static_cast<size_t>(n));
    (void)w;
  }

 private:
  const int fd_;
};

}  // namespace

std::shared_ptr<rocksdb::Logger> NewRocksLogger(const std::string& dir, bool read_only) {
  if (read_only) return std::make_shared<FdLogger>(-1);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string path = dir + "/LOG";
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && st.st_size > kRotateBytes) {
    (void)::rename(path.c_str(), (dir + "/LOG.old").c_str());
  }
  return std::make_shared<FdLogger>(
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
}

}  // namespace sluice
