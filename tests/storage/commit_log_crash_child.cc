// Child process of commit_log_crash_test: opens the log at argv[1], resumes
// after its checkpoint and appends the crash workload until it is killed
// (or, bounded, after 60 s). Prints "ready <n>" once the log is open.
#include <chrono>
#include <cstdio>

#include "tests/storage/crash_workload.h"
#include "tests/support/test_log.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s LOG_DIR\n", argv[0]);
    return 2;
  }
  sluice::CommitLogOptions o = sluice::testing::TestLogOptions(argv[1], "crash");
  o.durability = sluice::Durability::kGroupCommit;
  o.max_batch_bytes = 8 << 10;
  auto log = sluice::CommitLog::Open(o);
  if (!log.ok()) {
    std::fprintf(stderr, "open: %s\n", log.status().ToString().c_str());
    return 1;
  }
  uint64_t i = (*log)->Checkpoint().pos();
  std::printf("ready %llu\n", static_cast<unsigned long long>(i));
  std::fflush(stdout);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    sluice::Status st = sluice::testing::AppendCrashTxn(**log, i++);
    if (!st.ok()) {
      std::fprintf(stderr, "append: %s\n", st.ToString().c_str());
      return 1;
    }
  }
  return 0;
}
