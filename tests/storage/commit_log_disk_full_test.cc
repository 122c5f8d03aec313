// The commit log on a really full disk (a small tmpfs): writes pause with a
// clear NoSpace and resume once space is freed, opening onto a full disk
// ends in a clear error (never an abort, whatever the RocksDB build), and a
// read-only open works with no space at all.
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "storage/commit_log.h"
#include "tests/storage/log_test_util.h"
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
    CommitLogOptions o;
    o.path = fs_.Sub("log");
    o.node_id = "a";
    o.destination = "shop";
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
    const pid_t pid = ::fork();
    if (pid == 0) {
      auto log = CommitLog::Open(o);
      if (log.ok()) ::_exit(11);
      const std::string msg = log.status().ToString();
      const bool clear = log.status().code() == Code::kNoSpace &&
                         msg.find(o.path) != std::string::npos &&
                         msg.find("free") != std::string::npos;
      if (!clear) fprintf(stderr, "child: %s\n", msg.c_str());
      ::_exit(clear ? 10 : 12);
    }
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return -1000;
    if (WIFSIGNALED(status)) return -WTERMSIG(status);
    return WEXITSTATUS(status);
  }

  Tmpfs fs_{48 * kMiB};
};

TEST_F(CommitLogDiskFullTest, WritesPauseWithAClearErrorAndResumeWhenSpaceIsFreed) {
  std::vector<std::string> all;
  auto opened = CommitLog::Open(Options());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto& log = **opened;
  for (uint64_t i = 0; i < 4; ++i) ASSERT_TRUE(Commit(log, i, &all).ok());
  ASSERT_TRUE(fs_.FillLeaving(14 * kMiB));

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
