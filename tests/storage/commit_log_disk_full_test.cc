// The commit log on a really full disk (a small tmpfs): writes pause with a
// clear NoSpace and resume once space is freed, opening onto a full disk
// ends in a clear error (never an abort, whatever the RocksDB build), and a
// read-only open works with no space at all.
#include <unistd.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "storage/commit_log.h"
#include "tests/storage/log_test_util.h"
#include "tests/support/child_process.h"
#include "tests/support/test_log.h"
#include "tests/support/tmpfs.h"

namespace sluice {
namespace {

using testing::CheckpointAfter;
using testing::MakeTxn;
using testing::ReadAll;
using testing::Tmpfs;
using testing::Txn;

constexpr uint64_t kMiB = 1 << 20;

class CommitLogDiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs_.ok()) GTEST_SKIP() << fs_.error();
  }
  CommitLogOptions Options() {
    CommitLogOptions o = testing::TestLogOptions(fs_.Sub("log"), "a", "shop");
    o.min_free_bytes = 8 * kMiB;
    return o;
  }
  // Commits transaction i (64 records of ~1 KiB); keeps its records in *all
  // when it went in.
  Status Commit(CommitLog& log, uint64_t i, std::vector<std::string>* all) {
    Txn t = MakeTxn(i, 64, 1000);
    auto views = t.Views();
    auto r = log.CommitTransaction(views, CheckpointAfter(i));
    if (r.ok()) all->insert(all->end(), t.records.begin(), t.records.end());
    return r.status();
  }
  // Opens the log in a child process and returns how the child ended: 10
  // for a NoSpace naming the path and the free bytes, 11 for a successful
  // open, 12 for another error; a signal (an abort) is -signal.
  int OpenInChild(const CommitLogOptions& o) {
    auto child = testing::ChildProcess::Fork([&o]() -> int {
      auto log = CommitLog::Open(o);
      if (log.ok()) ::_exit(11);
      const std::string msg = log.status().ToString();
      const bool clear = log.status().code() == Code::kNoSpace &&
                         msg.find(o.path) != std::string::npos &&
                         msg.find("free") != std::string::npos;
      if (!clear) fprintf(stderr, "child: %s\n", msg.c_str());
      ::_exit(clear ? 10 : 12);
    });
    if (!child.ok()) return -1000;
    const testing::ExitStatus status = child->Wait();
    if (status.signaled()) return -status.signal();
    return status.code();
  }

  // More than the log's write buffer (64 MiB): RocksDB resumes by itself only when
  // that much is free.
  Tmpfs fs_{128 * kMiB};
};

TEST_F(CommitLogDiskFullTest, WritesPauseWithAClearErrorAndResumeWhenSpaceIsFreed) {
  std::vector<std::string> all;
  // Filled before the open: RocksDB preallocates its WAL (fallocate), and
  // the space it got is not free space any more.
  ASSERT_TRUE(fs_.FillLeaving(14 * kMiB));
  auto opened = CommitLog::Open(Options());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto& log = **opened;
  for (uint64_t i = 0; i < 4; ++i) ASSERT_TRUE(Commit(log, i, &all).ok());

  uint64_t next = 4;
  Status st;
  for (int n = 0; n < 1000 && st.ok(); ++n) {
    st = Commit(log, next, &all);
    if (st.ok()) ++next;
  }
  ASSERT_EQ(st.code(), Code::kNoSpace) << st.ToString();
  EXPECT_NE(st.ToString().find(Options().path), std::string::npos) << st.ToString();
  EXPECT_NE(st.ToString().find("bytes) free"), std::string::npos) << st.ToString();
  // Paused, not failed: readers go on, chunks are refused the same way.
  EXPECT_EQ(ReadAll(log), all);
  // RocksDB may free space meanwhile in the background (an obsolete WAL
  // deleted after a flush: seen once under TSan); fill again, so free
  // space is below the 8 MiB margin while the refusals are checked.
  ASSERT_TRUE(fs_.FillLeaving(4 * kMiB));
  Txn chunk = MakeTxn(999, 4);
  auto views = chunk.Views();
  EXPECT_EQ(log.AppendChunk(views, 0).status().code(), Code::kNoSpace);
  EXPECT_EQ(Commit(log, next, &all).code(), Code::kNoSpace);

  fs_.FreeAll();
  // The transaction that was refused goes in at the offsets it would have had.
  for (int i = 0; i < 4; ++i, ++next) ASSERT_TRUE(Commit(log, next, &all).ok());
  EXPECT_EQ(log.HighWatermark().value(), all.size());
  EXPECT_EQ(ReadAll(log), all);
  EXPECT_TRUE(log.Sync().ok());
  opened->reset();

  auto again = CommitLog::Open(Options());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(ReadAll(**again), all);
  EXPECT_EQ((*again)->Checkpoint().pos(), CheckpointAfter(next - 1).pos());
}

TEST_F(CommitLogDiskFullTest, OpeningOntoAFullDiskEndsInAClearErrorEveryTime) {
  std::vector<std::string> all;
  {
    // A backlog in the WAL (no flush yet): what a restart must replay.
    auto log = CommitLog::Open(Options());
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    for (uint64_t i = 0; i < 100; ++i) ASSERT_TRUE(Commit(**log, i, &all).ok());
  }
  ASSERT_TRUE(fs_.FillLeaving(4 * kMiB));
  for (int attempt = 0; attempt < 5; ++attempt) {
    EXPECT_EQ(OpenInChild(Options()), 10) << "attempt " << attempt;
  }
  fs_.FreeAll();
  auto log = CommitLog::Open(Options());
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ(ReadAll(**log), all);
}

TEST_F(CommitLogDiskFullTest, ReadOnlyOpenWorksWithNoSpaceLeft) {
  std::vector<std::string> all;
  {
    auto log = CommitLog::Open(Options());
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    for (uint64_t i = 0; i < 20; ++i) ASSERT_TRUE(Commit(**log, i, &all).ok());
    // A partial transaction at the tail: read-only leaves it, unseen.
    Txn chunk = MakeTxn(500, 8);
    auto views = chunk.Views();
    ASSERT_TRUE((*log)->AppendChunk(views, 0).ok());
  }
  ASSERT_TRUE(fs_.FillLeaving(0));
  CommitLogOptions o = Options();
  o.read_only = true;
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto log = CommitLog::Open(o);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    EXPECT_EQ((*log)->HighWatermark().value(), all.size());
    EXPECT_EQ(ReadAll(**log), all);
    EXPECT_EQ((*log)->Checkpoint().pos(), CheckpointAfter(19).pos());
    Txn t = MakeTxn(600, 1);
    auto views = t.Views();
    EXPECT_EQ((*log)->CommitTransaction(views, CheckpointAfter(600)).status().code(),
              Code::kFailedPrecondition);
  }
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// The guard off (RocksDB meets ENOSPC itself): the log fails with a clear
// NoSpace, never aborts, and Recover() resumes once space is back.
TEST_F(CommitLogDiskFullTest, AFailedWriteForAFullDiskRecoversWhenSpaceIsFreed) {
  CommitLogOptions o = Options();
  o.min_free_bytes = 0;
  o.compression = Compression::kNone;
  std::vector<std::string> all;
  ASSERT_TRUE(fs_.FillLeaving(6 * kMiB));
  auto opened = CommitLog::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto& log = **opened;
  uint64_t next = 0;
  Status st;
  for (int n = 0; n < 1000 && st.ok(); ++n) {
    st = Commit(log, next, &all);
    if (st.ok()) ++next;
  }
  ASSERT_EQ(st.code(), Code::kNoSpace) << st.ToString();
  EXPECT_TRUE(log.failed());
  EXPECT_EQ(ReadAll(log), all);
  EXPECT_EQ(log.Recover().code(), Code::kNoSpace);
  fs_.FreeAll();
  // RocksDB's own recovery may be under way: Busy until it is done.
  Status r = log.Recover();
  for (int n = 0; n < 300 && r.code() == Code::kBusy; ++n) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    r = log.Recover();
  }
  ASSERT_TRUE(r.ok()) << r.ToString();
  EXPECT_FALSE(log.failed());
  for (int i = 0; i < 4; ++i, ++next) ASSERT_TRUE(Commit(log, next, &all).ok());
  EXPECT_EQ(ReadAll(log), all);
  EXPECT_TRUE(log.Sync().ok());
  opened->reset();
  auto again = CommitLog::Open(o);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(ReadAll(**again), all);
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// A log that RocksDB failed for a full disk is closed while the disk is
// still full (a SIGTERM then): no abort, and the next open, once space is
// back, holds every commit that returned.
TEST_F(CommitLogDiskFullTest, ALogFailedByAFullDiskClosesWhileTheDiskIsFull) {
  CommitLogOptions o = Options();
  o.min_free_bytes = 0;
  o.compression = Compression::kNone;
  std::vector<std::string> all;
  ASSERT_TRUE(fs_.FillLeaving(6 * kMiB));
  {
    auto log = CommitLog::Open(o);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    Status st;
    for (uint64_t i = 0; i < 1000 && st.ok(); ++i) st = Commit(**log, i, &all);
    ASSERT_EQ(st.code(), Code::kNoSpace) << st.ToString();
    EXPECT_EQ((*log)->Sync().code(), Code::kNoSpace);
  }
  fs_.FreeAll();
  o.min_free_bytes = 8 * kMiB;
  auto log = CommitLog::Open(o);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ(ReadAll(**log), all);
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// The guard off: opening onto a full disk with a backlog in the WAL that
// RocksDB must write out again. Whatever RocksDB meets, the open ends in
// an error or succeeds: never an abort.
TEST_F(CommitLogDiskFullTest, WithTheGuardOffOpeningOntoAFullDiskNeverAborts) {
#if defined(__SANITIZE_THREAD__)
  // The child opens RocksDB, which starts threads: ThreadSanitizer does not
  // support threads after a fork of a threaded process (the plain and ASan
  // runs cover this test).
  GTEST_SKIP() << "ThreadSanitizer: no threads after a multi-threaded fork";
#endif
  CommitLogOptions o = Options();
  o.min_free_bytes = 0;
  o.compression = Compression::kNone;
  std::vector<std::string> all;
  {
    auto log = CommitLog::Open(o);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    for (uint64_t i = 0; i < 150; ++i) ASSERT_TRUE(Commit(**log, i, &all).ok());
  }
  for (uint64_t leave : {0ull, 256ull << 10, 1ull << 20, 4ull << 20}) {
    fs_.FreeAll();
    ASSERT_TRUE(fs_.FillLeaving(leave));
    const int how = OpenInChild(o);
    EXPECT_TRUE(how == 10 || how == 11) << "leaving " << leave << " bytes: " << how;
  }
  fs_.FreeAll();
  auto log = CommitLog::Open(o);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ(ReadAll(**log), all);
}

}  // namespace
}  // namespace sluice
