// Power loss: the machine dies at a random moment and every byte that was
// not fsynced is lost (tests/support/fault_injection_fs.h). After each
// reopen the log must be a prefix of whole transactions with a matching
// checkpoint; with sync-every-commit nothing acknowledged may be lost, with
// group commit nothing below DurableOffset().
#include <random>

#include <gtest/gtest.h>

#include "tests/storage/crash_workload.h"
#include "tests/support/fault_injection_fs.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_log.h"

namespace sluice {
namespace {

void RunPowerLossRounds(Durability durability) {
  testing::TempDir dir;
  testing::FaultEnv fault;
  std::mt19937 rng(durability == Durability::kGroupCommit ? 7 : 11);
  CommitLogOptions o = testing::TestLogOptions(dir.Sub("log"));
  o.durability = durability;
  o.group_commit_ms = 2;
  o.max_batch_bytes = 8 << 10;
  o.env = fault.env.get();
  uint64_t lost_some = 0;
  for (int round = 0; round < 20; ++round) {
    Offset acked_hw, durable;
    {
      auto log = CommitLog::Open(o);
      ASSERT_TRUE(log.ok()) << "round " << round << ": " << log.status().ToString();
      testing::VerifyCrashLog(**log);
      ASSERT_FALSE(::testing::Test::HasFailure()) << "round " << round;
      uint64_t i = (*log)->Checkpoint().pos();
      const int txns = std::uniform_int_distribution<int>(1, 60)(rng);
      for (int k = 0; k < txns; ++k) ASSERT_TRUE(testing::AppendCrashTxn(**log, i++).ok());
      acked_hw = (*log)->HighWatermark();
      durable = (*log)->DurableOffset();
      fault.fs->SetActive(false);  // the plug is pulled
      EXPECT_FALSE(testing::AppendCrashTxn(**log, i).ok());
    }
    if (fault.fs->UnsyncedBytes() > 0) ++lost_some;
    fault.fs->DropUnsyncedData();
    fault.fs->SetActive(true);
    auto log = CommitLog::Open(o);
    ASSERT_TRUE(log.ok()) << "round " << round << ": " << log.status().ToString();
    testing::VerifyCrashLog(**log);
    ASSERT_FALSE(::testing::Test::HasFailure()) << "round " << round;
    EXPECT_LE((*log)->HighWatermark(), acked_hw);
    EXPECT_GE((*log)->HighWatermark(), durable);
    if (durability == Durability::kSyncEveryCommit) {
      EXPECT_EQ((*log)->HighWatermark(), acked_hw);
    }
  }
  // The fault injection really dropped data in some rounds.
  if (durability == Durability::kGroupCommit) {
    EXPECT_GT(lost_some, 0u);
  }
}

TEST(CommitLogPowerLoss, SyncEveryCommitLosesNothingAcknowledged) {
  RunPowerLossRounds(Durability::kSyncEveryCommit);
}

TEST(CommitLogPowerLoss, GroupCommitLosesOnlyAnUnsyncedSuffix) {
  RunPowerLossRounds(Durability::kGroupCommit);
}

}  // namespace
}  // namespace sluice
