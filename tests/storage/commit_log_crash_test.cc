// Kills a process that appends transactions with SIGKILL at random moments,
// at least 50 times, and checks after each that the log is exactly a prefix
// of whole transactions whose checkpoint matches the last one.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <random>

#include <gtest/gtest.h>

#include "tests/storage/crash_workload.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_log.h"

namespace sluice {
namespace {

// Waits (at most 30 s) for the child's "ready" line: its log is open.
bool WaitReady(int fd) {
  pollfd p{fd, POLLIN, 0};
  char buf[64];
  return poll(&p, 1, 30'000) == 1 && read(fd, buf, sizeof buf) > 0;
}

TEST(CommitLogCrash, SigkillLeavesAPrefixOfWholeTransactions) {
  testing::TempDir dir;
  const std::string path = dir.Sub("log");
  std::mt19937 rng(20261123);
  std::uniform_int_distribution<int> delay_ms(0, 100);
  constexpr int kKills = 50;
  uint64_t last = 0;
  int grew = 0, killed_mid_run = 0;
  for (int round = 0; round < kKills; ++round) {
    // Its stdout on a pipe (stdout_fd()), for the "ready" line.
    auto child = testing::ChildProcess::Start({SLUICE_CRASH_CHILD, path}, {.stdout_pipe = true});
    ASSERT_TRUE(child.ok()) << child.status().ToString();
    // Most kills land while transactions are being appended; one in five
    // at any moment, including while the log opens and recovers its tail.
    if (round % 5 != 0) {
      ASSERT_TRUE(WaitReady(child->stdout_fd())) << "round " << round;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    ASSERT_TRUE(child->Signal(SIGKILL));
    const testing::ExitStatus status = child->Wait();
    if (status.signaled() && status.signal() == SIGKILL) ++killed_mid_run;

    CommitLogOptions o = testing::TestLogOptions(path, "crash");
    o.durability = Durability::kSyncEveryCommit;
    auto log = CommitLog::Open(o);
    ASSERT_TRUE(log.ok()) << "round " << round << ": " << log.status().ToString();
    // Transactions below `last` were checked in earlier rounds and the log
    // only grows; check the rest (and the whole log in the last round).
    const uint64_t n = testing::VerifyCrashLog(**log, round == kKills - 1 ? 0 : last);
    if (::testing::Test::HasFailure()) FAIL() << "round " << round;
    // Nothing committed is ever lost to a process crash (the WAL reached the OS).
    EXPECT_GE(n, last) << "round " << round;
    if (n > last) ++grew;
    last = n;
  }
  EXPECT_EQ(killed_mid_run, kKills);
  // The kills must have landed while work was going on, not before it began.
  EXPECT_GT(grew, kKills / 2) << "the child rarely got to append before being killed";
  EXPECT_GT(last, 200u);
  std::printf("%d kills, %llu transactions survived in the end\n", kKills,
              static_cast<unsigned long long>(last));
}

}  // namespace
}  // namespace sluice
