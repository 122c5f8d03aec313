// The commit log's replication operations: ReadBatches on a primary's log,
// AppendReplicated on a standby's, the visibility gate.
#include <gtest/gtest.h>

#include "storage/commit_log.h"
#include "storage/log_format.h"
#include "tests/storage/log_test_util.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_log.h"

namespace sluice {
namespace {

using testing::CheckpointAfter;
using testing::MakeTxn;
using testing::ReadAll;

class ReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    primary_ = OpenLog("primary");
    standby_ = OpenLog("standby");
  }
  void TearDown() override {
    primary_.reset();
    standby_.reset();
  }
  std::unique_ptr<CommitLog> OpenLog(const std::string& name) {
    CommitLogOptions o = testing::TestLogOptions(dir_.Sub(name), name, "d");
    o.max_batch_bytes = 1024;  // several batches per transaction
    auto log = CommitLog::Open(o);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return std::move(*log);
  }
  // Commits `n` transactions of varied sizes (some chunked) to the primary.
  void Load(int n, int first_index = 0) {
    for (int i = first_index; i < first_index + n; ++i) {
      auto t = MakeTxn(i, 1 + (i * 7) % 40, 40);
      auto views = t.Views();
      if (i % 5 == 0 && views.size() > 2) {
        ASSERT_TRUE(primary_->AppendChunk(std::span(views).subspan(0, 2), 0).ok());
        views.erase(views.begin(), views.begin() + 2);
      }
      ASSERT_TRUE(primary_->CommitTransaction(views, CheckpointAfter(i)).ok());
    }
  }
  // Copies the primary's batches from the standby's end, `max_bytes` a read.
  void Replicate(size_t max_bytes) {
    auto epochs = primary_->EpochHistory();
    ASSERT_TRUE(epochs.ok());
    for (;;) {
      auto batches = primary_->ReadBatches(standby_->AppendedEnd(), max_bytes);
      ASSERT_TRUE(batches.ok()) << batches.status().ToString();
      ASSERT_TRUE(standby_->AppendReplicated(*batches, *epochs).ok());
      if (batches->empty()) break;
    }
  }

  testing::TempDir dir_;
  std::unique_ptr<CommitLog> primary_, standby_;
};

TEST_F(ReplicaTest, StandbyLogEqualsThePrimarysRecordForRecord) {
  ASSERT_TRUE(primary_->BeginEpoch(Epoch(1)).ok());
  Load(60);
  Replicate(3000);  // reads that end inside transactions
  EXPECT_EQ(standby_->CommittedEnd(), primary_->CommittedEnd());
  EXPECT_EQ(ReadAll(*standby_), ReadAll(*primary_));
  EXPECT_EQ(standby_->Checkpoint().SerializeAsString(), primary_->Checkpoint().SerializeAsString());
  EXPECT_EQ(standby_->CurrentEpoch(), Epoch(1));
  EXPECT_EQ(standby_->SizeBytes(), primary_->SizeBytes());
  // The same bytes survive a reopen of the standby.
  standby_.reset();
  standby_ = OpenLog("standby");
  EXPECT_EQ(ReadAll(*standby_), ReadAll(*primary_));
  EXPECT_EQ(standby_->Checkpoint().pos(), 60u);
}

// Ingest's batches (version 2: LZ4 blocks) are copied as stored.
TEST_F(ReplicaTest, BlockBatchesReplicateAsStored) {
  ASSERT_TRUE(primary_->BeginEpoch(Epoch(1)).ok());
  std::vector<std::string> want;
  for (int i = 0; i < 30; ++i) {
    auto t = MakeTxn(i, 1 + (i * 7) % 40, 40);
    const size_t n = t.records.size();
    const size_t cut = i % 4 == 0 ? n / 2 : 0;  // some in a chunk first
    if (cut > 0) {
      auto c = testing::MakeBlocks(t, 0, cut, 3);
      ASSERT_TRUE(primary_->AppendBlockChunk(c.Views(), 0).ok());
    }
    auto e = testing::MakeBlocks(t, cut, n, 3);
    ASSERT_TRUE(primary_->CommitBlocks(e.Views(), CheckpointAfter(i)).ok());
    auto r = testing::AsRead(t);
    want.insert(want.end(), r.begin(), r.end());
  }
  Replicate(2000);
  EXPECT_EQ(ReadAll(*primary_), want);
  EXPECT_EQ(ReadAll(*standby_), want);
  EXPECT_EQ(standby_->SizeBytes(), primary_->SizeBytes());
  EXPECT_EQ(standby_->Checkpoint().pos(), 30u);
}

TEST_F(ReplicaTest, EpochsAreAdoptedWhereThePrimaryBeganThem) {
  ASSERT_TRUE(primary_->BeginEpoch(Epoch(1)).ok());
  Load(5);
  const uint64_t e2 = primary_->CommittedEnd().value();
  ASSERT_TRUE(primary_->BeginEpoch(Epoch(2)).ok());
  Load(5, 5);
  ASSERT_TRUE(primary_->BeginEpoch(Epoch(4)).ok());  // began at the end: no batch yet
  Replicate(1 << 20);
  auto got = standby_->EpochHistory();
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[0].start_offset(), 0u);
  EXPECT_EQ((*got)[1].epoch(), 2u);
  EXPECT_EQ((*got)[1].start_offset(), e2);
  EXPECT_EQ((*got)[2].epoch(), 4u);
  EXPECT_EQ((*got)[2].start_offset(), primary_->CommittedEnd().value());
  EXPECT_EQ(standby_->CurrentEpoch(), Epoch(4));
}

TEST_F(ReplicaTest, APartialTransactionStaysInvisibleUntilItsLastBatch) {
  auto t = MakeTxn(0, 100, 40);  // about 4 batches of 1 KiB
  ASSERT_TRUE(primary_->CommitTransaction(t.Views(), CheckpointAfter(0)).ok());
  auto batches = primary_->ReadBatches(Offset(0), 1 << 20);
  ASSERT_TRUE(batches.ok());
  ASSERT_GE(batches->size(), 3u);
  std::vector<std::string> head(batches->begin(), batches->end() - 1);
  ASSERT_TRUE(standby_->AppendReplicated(head, {}).ok());
  EXPECT_EQ(standby_->CommittedEnd(), Offset(0));
  EXPECT_TRUE(ReadAll(*standby_).empty());
  // A reconnect drops the partial transaction; it comes again whole.
  ASSERT_TRUE(standby_->DiscardOpenTransaction().ok());
  ASSERT_TRUE(standby_->AppendReplicated(*batches, {}).ok());
  EXPECT_EQ(standby_->CommittedEnd(), Offset(100));
  EXPECT_EQ(ReadAll(*standby_), t.records);
}

TEST_F(ReplicaTest, RefusesBatchesThatDoNotContinueTheLog) {
  Load(10);
  auto all = primary_->ReadBatches(Offset(0), 1 << 20);
  ASSERT_TRUE(all.ok());
  ASSERT_GE(all->size(), 3u);
  // A gap: the second batch first.
  std::vector<std::string> gap = {(*all)[1]};
  auto st = standby_->AppendReplicated(gap, {});
  EXPECT_EQ(st.code(), Code::kCorruption) << st.ToString();
  // A flipped bit fails the checksum, and nothing of the write lands.
  std::vector<std::string> bad = {(*all)[0], (*all)[1]};
  bad[1][bad[1].size() / 2] ^= 0x10;
  st = standby_->AppendReplicated(bad, {});
  EXPECT_EQ(st.code(), Code::kCorruption) << st.ToString();
  EXPECT_EQ(standby_->CommittedEnd(), Offset(0));
  // A batch of an epoch the primary's history does not put there.
  std::vector<proto::EpochEntry> epochs(1);
  epochs[0].set_epoch(3);
  epochs[0].set_start_offset(0);
  st = standby_->AppendReplicated(std::vector<std::string>{(*all)[0]}, epochs);
  EXPECT_EQ(st.code(), Code::kCorruption) << st.ToString();
  EXPECT_NE(st.message().find("epoch"), std::string::npos) << st.ToString();
}

TEST_F(ReplicaTest, ReadBatchesOnlyStartsAtABatch) {
  Load(10);
  auto all = primary_->ReadBatches(Offset(0), 1 << 20);
  ASSERT_TRUE(all.ok());
  auto b = log_format::DecodeBatch(log_format::BatchKey(Offset(1)), (*all)[1]);
  ASSERT_TRUE(b.ok());
  ASSERT_GT(b->header.record_count, 1u);
  EXPECT_EQ(primary_->ReadBatches(Offset(2), 1 << 20).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(primary_->ReadBatches(primary_->CommittedEnd() + 1, 1).status().code(),
            Code::kOutOfRange);
  auto at_end = primary_->ReadBatches(primary_->CommittedEnd(), 1);
  ASSERT_TRUE(at_end.ok());
  EXPECT_TRUE(at_end->empty());
  // An open transaction's chunks are not handed out.
  auto t = MakeTxn(99, 3);
  ASSERT_TRUE(primary_->AppendChunk(t.Views(), 0).ok());
  auto tail = primary_->ReadBatches(primary_->CommittedEnd(), 1 << 20);
  ASSERT_TRUE(tail.ok());
  EXPECT_TRUE(tail->empty());
}

TEST_F(ReplicaTest, GateHoldsTheHighWatermarkUntilReleased) {
  Load(3);
  const Offset before = primary_->HighWatermark();
  int wakes = 0;
  primary_->SetCommitListener([&] { ++wakes; });
  primary_->SetGate(true);
  EXPECT_EQ(primary_->HighWatermark(), before);  // turning it on takes nothing back
  Load(3, 3);
  EXPECT_EQ(primary_->HighWatermark(), before);
  EXPECT_GT(primary_->CommittedEnd(), before);
  EXPECT_EQ(ReadAll(*primary_).size(), before.value());
  const int after_commits = wakes;
  primary_->Release(primary_->CommittedEnd());
  EXPECT_EQ(primary_->HighWatermark(), primary_->CommittedEnd());
  EXPECT_EQ(wakes, after_commits + 1);  // long polls wake on a release
  primary_->Release(before);            // never backwards
  EXPECT_EQ(primary_->HighWatermark(), primary_->CommittedEnd());
  Load(1, 6);
  primary_->SetGate(false);  // degraded to async: everything committed shows
  EXPECT_EQ(primary_->HighWatermark(), primary_->CommittedEnd());
}

TEST_F(ReplicaTest, TruncateToTheDivergencePointThenReplicateAgain) {
  ASSERT_TRUE(primary_->BeginEpoch(Epoch(1)).ok());
  Load(10);
  Replicate(1 << 20);
  const Offset agreed = standby_->CommittedEnd();
  // The standby (an old primary) wrote on in epoch 1 what nobody else has.
  for (int i = 0; i < 3; ++i) {
    auto t = MakeTxn(100 + i, 5);
    ASSERT_TRUE(standby_->CommitTransaction(t.Views(), CheckpointAfter(100 + i)).ok());
  }
  // The primary moved on in epoch 2.
  ASSERT_TRUE(primary_->BeginEpoch(Epoch(2)).ok());
  Load(10, 10);
  ASSERT_TRUE(standby_->Truncate(agreed).ok());
  Replicate(1 << 20);
  EXPECT_EQ(ReadAll(*standby_), ReadAll(*primary_));
  EXPECT_EQ(standby_->CurrentEpoch(), Epoch(2));
}

TEST(MetaStoreReplication, ReplaceGroupsMakesTheGroupsExactlyThese) {
  testing::TempDir dir;
  CommitLogOptions o = testing::TestLogOptions(dir.Sub("log"));
  auto log = CommitLog::Open(o);
  ASSERT_TRUE(log.ok());
  MetaStore& m = (*log)->meta();
  proto::GroupCursor c;
  c.set_acked_offset(5);
  ASSERT_TRUE(m.PutCursor("old", c).ok());
  const uint64_t v = m.version();
  std::vector<std::pair<std::string, proto::GroupCursor>> groups(2);
  groups[0].first = "a";
  groups[0].second.set_acked_offset(7);
  groups[1].first = "b";
  groups[1].second.set_acked_offset(9);
  groups[1].second.add_outstanding()->set_batch_id(3);
  ASSERT_TRUE(m.ReplaceGroups(groups).ok());
  EXPECT_GT(m.version(), v);
  auto got = m.ListGroups();
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].first, "a");
  EXPECT_EQ((*got)[0].second.acked_offset(), 7u);
  EXPECT_EQ((*got)[1].second.outstanding(0).batch_id(), 3u);
}

}  // namespace
}  // namespace sluice
