// The commit log under injected file-system faults (tests/support/
// fault_injection_fs.h): RocksDB meets ENOSPC although the free-space guard
// let the write through, a new file cannot be created, and unsynced bytes
// are lost as in a power loss. A really full disk is
// commit_log_disk_full_test.cc's.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <initializer_list>
#include <thread>

#include <gtest/gtest.h>

#include "storage/commit_log.h"
#include "tests/storage/log_test_util.h"
#include "tests/support/fault_injection_fs.h"
#include "tests/support/test_log.h"

namespace sluice {
namespace {

using testing::CheckpointAfter;
using testing::MakeTxn;
using testing::ReadAll;

using CommitLogFaultTest = testing::LogTest;

// Recover() until it is done with RocksDB's own recovery: Busy while that
// runs, and an attempt of its own that ran before the fault was lifted may
// have left a NoSpace for this call (when `no_space_too`). A caller
// retries (sluiced every 2 s at most), so the tests do too; the pause
// paces the retries, nothing waits on it, and the deadline only bounds a
// test that fails.
Status RecoverRetrying(CommitLog& log, bool no_space_too = true) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  Status st = log.Recover();
  while ((st.code() == Code::kBusy || (no_space_too && st.code() == Code::kNoSpace)) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    st = log.Recover();
  }
  return st;
}

TEST_F(CommitLogFaultTest, FullDiskIsReportedAndLosesNothingCommitted) {
  testing::FaultEnv fault;
  auto o = Options();
  o.env = fault.env.get();
  o.durability = Durability::kSyncEveryCommit;
  std::vector<std::string> all;
  {
    auto log = Open(o);
    Commit(*log, 0, 3, &all);
    fault.fs->SetNoSpace(true);
    auto t = MakeTxn(1, 3);
    auto views = t.Views();
    auto r = log->CommitTransaction(views, CheckpointAfter(1));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kNoSpace) << r.status().ToString();
    EXPECT_NE(r.status().message().find("disk is full"), std::string::npos);
    EXPECT_EQ(log->HighWatermark(), Offset(3));
    fault.fs->SetNoSpace(false);
  }
  auto log = Open(o);
  EXPECT_EQ(log->HighWatermark(), Offset(3));
  EXPECT_EQ(ReadAll(*log), all);
  EXPECT_EQ(log->Checkpoint().pos(), 1u);
}

// RocksDB meets ENOSPC (injected: the guard sees the real, roomy disk)
// under group commit, mid-transaction: the log fails; once the disk takes
// writes again Recover() resumes it in place, the open transaction's
// chunks dropped, and the same transaction then goes in whole. When
// RocksDB keeps its error (seen under the sanitizers' timing, after a WAL
// append failed mid-transaction) Recover() reopens the instance in place:
// either way the log takes writes again without a restart.
TEST_F(CommitLogFaultTest, FullDiskMidTransactionIsRecoveredInPlace) {
  testing::FaultEnv fault;
  auto o = Options();
  o.env = fault.env.get();
  o.group_commit_ms = 5;
  std::vector<std::string> all;
  auto log = Open(o);
  Commit(*log, 0, 3, &all);
  auto t = MakeTxn(1, 6);
  auto views = t.Views();
  auto first = std::span(views).subspan(0, 3);
  auto rest = std::span(views).subspan(3);
  ASSERT_TRUE(log->AppendChunk(first, 0).ok());
  fault.fs->SetNoSpace(true);
  auto r = log->CommitTransaction(rest, CheckpointAfter(1));
  ASSERT_EQ(r.status().code(), Code::kNoSpace) << r.status().ToString();
  EXPECT_TRUE(log->failed());
  EXPECT_EQ(ReadAll(*log), all);
  fault.fs->SetNoSpace(false);
  Status st = RecoverRetrying(*log);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_FALSE(log->failed());
  EXPECT_EQ(log->HighWatermark(), Offset(3));
  auto again = log->CommitTransaction(views, CheckpointAfter(1));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->base, Offset(3));
  all.insert(all.end(), t.records.begin(), t.records.end());
  Commit(*log, 2, 2, &all);
  ASSERT_TRUE(log->Sync().ok());
  log.reset();
  log = Open(o);
  EXPECT_EQ(ReadAll(*log), all);
  EXPECT_EQ(log->Checkpoint().pos(), CheckpointAfter(2).pos());
}

// The path the test above takes only when RocksDB keeps its error, forced:
// Resume() fails, so Recover() reopens the instance under the readers, and
// when the reopen fails too the log is closed (readers get Unavailable, not
// a crash or a stale handle) until a later Recover() opens it.
TEST_F(CommitLogFaultTest, FullDiskRocksDbCannotResumeFromIsReopenedUnderTheReaders) {
  testing::FaultEnv fault;
  auto o = Options();
  o.env = fault.env.get();
  o.durability = Durability::kGroupCommit;
  o.group_commit_ms = 5;
  std::vector<std::string> all;
  auto log = Open(o);
  Commit(*log, 0, 3, &all);
  ASSERT_TRUE(log->meta().PutCursor("g", proto::GroupCursor()).ok());
  auto t = MakeTxn(1, 6);
  auto views = t.Views();
  ASSERT_TRUE(log->AppendChunk(std::span(views).subspan(0, 3), 0).ok());

  // Readers run all along: every read they get is a prefix of what was
  // committed, and the only error allowed is the closed log's.
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0}, closed{0}, wrong{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 2; ++i) {
    readers.emplace_back([&, all_before = all] {
      while (!stop.load()) {
        auto got = log->Read(Offset(0), 1000, 1 << 20);
        if (got.ok()) {
          for (const auto& rec : got->records) {
            if (rec.offset.value() >= all_before.size() ||
                rec.data != all_before[rec.offset.value()]) {
              wrong.fetch_add(1);
            }
          }
          reads.fetch_add(1);
        } else if (got.status().code() == Code::kUnavailable) {
          closed.fetch_add(1);
        } else {
          wrong.fetch_add(1);
        }
        (void)log->meta().GetCursor("g");
      }
    });
  }

  fault.fs->SetNoSpace(true);
  auto r = log->CommitTransaction(std::span(views).subspan(3), CheckpointAfter(1));
  ASSERT_EQ(r.status().code(), Code::kNoSpace) << r.status().ToString();
  fault.fs->SetNoSpace(false);
  fault.fs->SetFailNewFiles(true);
  // Resume() needs a new WAL, and so does an open: both fail (after
  // RocksDB's own attempt, while which Recover() says Busy).
  Status st = RecoverRetrying(*log, /*no_space_too=*/false);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("did not resume"), std::string::npos) << st.ToString();
  EXPECT_TRUE(log->failed());
  auto during = log->Read(Offset(0), 10, 1 << 20);
  EXPECT_EQ(during.status().code(), Code::kUnavailable) << during.status().ToString();
  EXPECT_EQ(log->Sync().code(), Code::kNoSpace);  // the failure, not a crash
  fault.fs->SetFailNewFiles(false);
  st = RecoverRetrying(*log);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_FALSE(log->failed());
  EXPECT_EQ(ReadAll(*log), all);  // the open transaction's chunk is gone
  auto cursor = log->meta().GetCursor("g");
  ASSERT_TRUE(cursor.ok() && cursor->has_value()) << cursor.status().ToString();

  stop.store(true);
  for (auto& th : readers) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(reads.load(), 0);
  std::printf("readers: %d reads, %d saw the log closed\n", reads.load(), closed.load());

  ASSERT_TRUE(log->CommitTransaction(views, CheckpointAfter(1)).ok());
  all.insert(all.end(), t.records.begin(), t.records.end());

  ASSERT_TRUE(log->Sync().ok());
  log.reset();
  log = Open(o);
  EXPECT_EQ(ReadAll(*log), all);
}

// In group-commit mode metadata writes (a group's ack) become durable
// within the interval even when no record is appended after them: the
// syncer alone leaves no unsynced byte, and a power loss then keeps the ack.
TEST_F(CommitLogFaultTest, GroupCommitMetadataAloneIsSynced) {
  testing::FaultEnv fault;
  CommitLogOptions o = Options();
  o.group_commit_ms = 5;
  o.env = fault.env.get();
  {
    auto log = Open(o);
    ASSERT_NE(log, nullptr);
    auto t = MakeTxn(0, 3);
    auto views = t.Views();
    ASSERT_TRUE(log->CommitTransaction(views, CheckpointAfter(0)).ok());
    ASSERT_TRUE(log->Sync().ok());
    proto::GroupCursor c;
    c.set_acked_offset(3);
    ASSERT_TRUE(log->meta().PutCursor("g", c).ok());
    ASSERT_TRUE(testing::WaitFor([&] { return fault.fs->UnsyncedBytes() == 0; }))
        << fault.fs->UnsyncedBytes() << " bytes the syncer never synced (the ack's)";
    fault.fs->SetActive(false);  // the plug is pulled
  }
  fault.fs->DropUnsyncedData();
  fault.fs->SetActive(true);
  auto log = Open(o);
  ASSERT_NE(log, nullptr);
  auto cursor = log->meta().GetCursor("g");
  ASSERT_TRUE(cursor.ok() && cursor->has_value()) << "the ack was lost";
  EXPECT_EQ((*cursor)->acked_offset(), 3u);
}

}  // namespace
}  // namespace sluice
