#include "storage/meta_store.h"

#include <gtest/gtest.h>

#include "storage/commit_log.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_log.h"

namespace sluice {
namespace {

class MetaStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    log_.reset();
    CommitLogOptions o = testing::TestLogOptions(dir_.Sub("log"), "node-a", "shop");
    auto log = CommitLog::Open(o);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
  }
  MetaStore& meta() { return log_->meta(); }

  testing::TempDir dir_;
  std::unique_ptr<CommitLog> log_;
};

proto::OutstandingBatch Batch(uint64_t id, uint64_t start, uint64_t end) {
  proto::OutstandingBatch b;
  b.set_batch_id(id);
  b.set_start_offset(start);
  b.set_end_offset(end);
  return b;
}

TEST_F(MetaStoreTest, CursorsAndOutstandingBatchesSurviveRestart) {
  EXPECT_FALSE(meta().GetCursor("g1")->has_value());
  EXPECT_EQ(meta().PutOutstanding("g1", Batch(1, 0, 1)).code(), Code::kNotFound);  // no group yet
  ASSERT_TRUE(meta().PutCursor("g1", {}).ok());
  ASSERT_TRUE(meta().PutCursor("g2", {}).ok());
  for (uint64_t id = 1; id <= 4; ++id) {
    ASSERT_TRUE(meta().PutOutstanding("g1", Batch(id, id * 10, id * 10 + 10)).ok());
  }
  ASSERT_TRUE(meta().PutOutstanding("g2", Batch(1, 0, 5)).ok());
  // Acking batch 2 acks batch 1 too.
  proto::GroupCursor c = **meta().GetCursor("g1");
  c.set_acked_offset(30);
  c.set_epoch(1);
  ASSERT_TRUE(meta().Ack("g1", 2, c).ok());
  Reopen();
  auto out = meta().Outstanding("g1");
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0].batch_id(), 3u);
  EXPECT_EQ((*out)[1].batch_id(), 4u);
  auto cur = meta().GetCursor("g1");
  ASSERT_TRUE(cur.ok() && cur->has_value());
  EXPECT_EQ((*cur)->acked_offset(), 30u);
  // g2 is untouched by g1's ack.
  EXPECT_EQ(meta().Outstanding("g2")->size(), 1u);
}

TEST_F(MetaStoreTest, GroupsWithPrefixNamesStayApart) {
  proto::GroupCursor a, b;
  a.set_acked_offset(5);
  b.set_acked_offset(9);
  ASSERT_TRUE(meta().PutCursor("g", a).ok());
  ASSERT_TRUE(meta().PutCursor("gg", b).ok());
  ASSERT_TRUE(meta().PutOutstanding("gg", Batch(1, 9, 12)).ok());
  auto groups = meta().ListGroups();
  ASSERT_TRUE(groups.ok());
  ASSERT_EQ(groups->size(), 2u);
  EXPECT_EQ(*meta().MinAckedOffset(), Offset(5));
  ASSERT_TRUE(meta().DeleteGroup("g").ok());
  EXPECT_FALSE(meta().GetCursor("g")->has_value());
  EXPECT_TRUE(meta().GetCursor("gg")->has_value());
  EXPECT_EQ(meta().Outstanding("gg")->size(), 1u);
  EXPECT_EQ(*meta().MinAckedOffset(), Offset(9));
}

TEST_F(MetaStoreTest, AckOfLastPossibleBatchId) {
  ASSERT_TRUE(meta().PutCursor("g", {}).ok());
  ASSERT_TRUE(meta().PutOutstanding("g", Batch(UINT64_MAX, 0, 1)).ok());
  proto::GroupCursor c = **meta().GetCursor("g");
  c.set_acked_offset(1);
  ASSERT_TRUE(meta().Ack("g", UINT64_MAX, c).ok());
  EXPECT_TRUE(meta().Outstanding("g")->empty());
}

TEST_F(MetaStoreTest, NodeIdentityAndEpochHistory) {
  auto node = meta().Node();
  ASSERT_TRUE(node.ok() && node->has_value());
  EXPECT_EQ((*node)->node_id(), "node-a");
  EXPECT_EQ((*node)->destination(), "shop");
  EXPECT_GT((*node)->created_ms(), 0u);

  ASSERT_TRUE(log_->BeginEpoch(Epoch(1)).ok());
  EXPECT_EQ(log_->BeginEpoch(Epoch(1)).code(), Code::kInvalidArgument);
  ASSERT_TRUE(log_->BeginEpoch(Epoch(5)).ok());
  Reopen();
  auto epochs = meta().Epochs();
  ASSERT_TRUE(epochs.ok());
  ASSERT_EQ(epochs->size(), 2u);
  EXPECT_EQ((*epochs)[0].epoch(), 1u);
  EXPECT_EQ((*epochs)[1].epoch(), 5u);
  EXPECT_EQ(log_->CurrentEpoch(), Epoch(5));
}

}  // namespace
}  // namespace sluice
