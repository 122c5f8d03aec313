// Replication between two commit logs in one process over real loopback
// sockets: HaPrimary on one log, HaStandby on the other, sometimes through
// a TcpProxy that cuts or stalls the link.
#include <chrono>

#include <gtest/gtest.h>

#include "ha/batch_peek.h"
#include "ha/primary.h"
#include "ha/standby.h"
#include "proto/auth.h"
#include "tests/ha/ha_pair_fixture.h"
#include "tests/storage/log_test_util.h"
#include "tests/support/tcp_proxy.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_log.h"

namespace sluice::ha {
namespace {

using namespace std::chrono_literals;
using sluice::testing::CheckpointAfter;
using sluice::testing::MakeTxn;
using sluice::testing::ReadAll;
using sluice::testing::WaitFor;

class ReplicationTest : public HaPairTestBase {
 protected:
  void SetUp() override {
    HaPairTestBase::SetUp();
    options_.dead_after_ms = 2000;
    options_.sync_timeout_ms = 300;
    primary_consumer_address_ = "127.0.0.1:7400";
    on_fenced_ = [this](Epoch epoch, const std::string&) { fenced_ = epoch.value(); };
  }
  // `n` transactions of 1..50 records of ~100 bytes; every 7th is chunked.
  uint64_t Load(int n, int first = 0) {
    uint64_t records = 0;
    for (int i = first; i < first + n; ++i) {
      auto t = MakeTxn(i, 1 + (i * 13) % 50, 100);
      auto views = t.Views();
      if (i % 7 == 0 && views.size() > 3) {
        EXPECT_TRUE(primary_log_->AppendChunk(std::span(views).subspan(0, 3), 0).ok());
        views.erase(views.begin(), views.begin() + 3);
      }
      EXPECT_TRUE(primary_log_->CommitTransaction(views, CheckpointAfter(i)).ok());
      records += t.records.size();
    }
    return records;
  }
  // Every stored batch of a log, in order.
  static std::vector<std::string> AllBatches(const CommitLog& log) {
    std::vector<std::string> out;
    Offset next(0);
    while (next < log.CommittedEnd()) {
      auto got = log.ReadBatches(next, 1 << 20);
      EXPECT_TRUE(got.ok()) << got.status().ToString();
      if (!got.ok() || got->empty()) break;
      for (auto& b : *got) {
        next = Offset(PeekBatch(b)->end_offset);
        out.push_back(std::move(b));
      }
    }
    return out;
  }
  // The standby's log equals the primary's: the same batches byte for
  // byte (records, offsets, epochs, checkpoints), the same records read.
  void ExpectSameLog() {
    ASSERT_EQ(standby_log_->CommittedEnd(), primary_log_->CommittedEnd());
    // The standby shows what the primary made visible, told a moment later.
    ASSERT_TRUE(
        WaitFor([&] { return standby_log_->HighWatermark() == primary_log_->HighWatermark(); }));
    EXPECT_TRUE(AllBatches(*standby_log_) == AllBatches(*primary_log_));
    EXPECT_EQ(ReadAll(*standby_log_), ReadAll(*primary_log_));
    EXPECT_EQ(standby_log_->Checkpoint().SerializeAsString(),
              primary_log_->Checkpoint().SerializeAsString());
  }

  std::atomic<uint64_t> fenced_{0};
};

TEST_F(ReplicationTest, AsyncStandbyCatchesUpFromZeroAndFollows) {
  ASSERT_TRUE(primary_log_->BeginEpoch(Epoch(1)).ok());
  const uint64_t first = Load(4000);  // ~100k records
  ASSERT_GE(first, 100000u);
  StartPrimary();
  StartStandby();
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(); })) << standby_log_->CommittedEnd();
  Load(500, 4000);  // while connected
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(); }));
  ExpectSameLog();
  EXPECT_EQ(standby_log_->CurrentEpoch(), Epoch(1));
  // Async: the primary's consumers never waited for the standby.
  EXPECT_FALSE(primary_log_->gated());
  auto sb = primary_->transfer("shop")->Standbys();
  ASSERT_EQ(sb.size(), 1u);
  EXPECT_EQ(sb[0].node_id, "b");
  EXPECT_TRUE(WaitFor([&] {
    return primary_->transfer("shop")->Standbys()[0].durable_offset == primary_log_->CommittedEnd();
  }));
}

TEST_F(ReplicationTest, SyncModeReleasesOnlyWhatTheStandbyHasOnDisk) {
  options_.sync = true;
  options_.degrade_on_timeout = false;  // block
  StartPrimary();
  Load(10);
  // No standby yet: nothing is visible, not even once the primary has
  // waited past sync_timeout_ms and said so.
  ASSERT_TRUE(WaitFor([&] { return primary_->transfer("shop")->sync_timeouts() > 0; }));
  EXPECT_EQ(primary_log_->HighWatermark(), Offset(0));
  EXPECT_FALSE(primary_->transfer("shop")->in_sync());
  StartStandby();
  ASSERT_TRUE(
      WaitFor([&] { return primary_log_->HighWatermark() == primary_log_->CommittedEnd(); }));
  EXPECT_GE(standby_log_->DurableOffset(), primary_log_->HighWatermark());
  EXPECT_TRUE(WaitFor([&] { return primary_->transfer("shop")->in_sync(); }));
  // Every commit waits for the standby's report, then shows.
  for (int i = 10; i < 30; ++i) {
    Load(1, i);
    ASSERT_TRUE(
        WaitFor([&] { return primary_log_->HighWatermark() == primary_log_->CommittedEnd(); }));
    EXPECT_GE(standby_log_->DurableOffset(), primary_log_->HighWatermark());
  }
  // The standby goes away: "block" holds the high watermark.
  const uint64_t timeouts = primary_->transfer("shop")->sync_timeouts();  // 1: the wait above
  standby_.reset();
  const Offset held = primary_log_->HighWatermark();
  Load(20, 30);
  // The primary waits past sync_timeout_ms (it counts the timeout) and
  // still holds the high watermark.
  ASSERT_TRUE(WaitFor([&] { return primary_->transfer("shop")->sync_timeouts() > timeouts; }));
  EXPECT_EQ(primary_log_->HighWatermark(), held);
  EXPECT_FALSE(primary_->transfer("shop")->in_sync());
  EXPECT_EQ(primary_->transfer("shop")->sync_timeouts(), timeouts + 1);
  EXPECT_EQ(ReadAll(*primary_log_).size(), held.value());
  // It comes back: everything is released, nothing lost.
  StartStandby();
  ASSERT_TRUE(
      WaitFor([&] { return primary_log_->HighWatermark() == primary_log_->CommittedEnd(); }));
  EXPECT_TRUE(WaitFor([&] { return primary_->transfer("shop")->in_sync(); }));
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(); }));
  ExpectSameLog();
}

TEST_F(ReplicationTest, SyncDegradeGoesAsyncAfterTheTimeoutAndBackToSync) {
  options_.sync = true;
  options_.degrade_on_timeout = true;
  // Long enough that a standby that is there acknowledges within it even
  // under ThreadSanitizer (at 300 ms one run degraded a second time, after
  // sync had returned, and released records the standby did not have yet).
  options_.sync_timeout_ms = 1500;
  StartPrimary();
  StartStandby();
  Load(10);
  ASSERT_TRUE(
      WaitFor([&] { return primary_log_->HighWatermark() == primary_log_->CommittedEnd(); }));
  standby_.reset();
  Load(10, 10);
  EXPECT_LT(primary_log_->HighWatermark(), primary_log_->CommittedEnd());
  // After sync_timeout_ms the primary stops waiting, and says so.
  ASSERT_TRUE(WaitFor([&] { return primary_->transfer("shop")->degraded(); }, 10s));
  EXPECT_EQ(primary_log_->HighWatermark(), primary_log_->CommittedEnd());
  EXPECT_EQ(primary_->transfer("shop")->degradations(), 1u);
  EXPECT_FALSE(primary_->transfer("shop")->in_sync());
  Load(10, 20);
  EXPECT_EQ(primary_log_->HighWatermark(), primary_log_->CommittedEnd());
  // The standby returns and catches up: sync again, by itself.
  StartStandby();
  ASSERT_TRUE(WaitFor([&] { return primary_->transfer("shop")->in_sync(); }));
  EXPECT_TRUE(primary_log_->gated());
  Load(5, 30);
  ASSERT_TRUE(
      WaitFor([&] { return primary_log_->HighWatermark() == primary_log_->CommittedEnd(); }));
  EXPECT_GE(standby_log_->DurableOffset(), primary_log_->HighWatermark());
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(); }));
  EXPECT_EQ(primary_->transfer("shop")->degradations(), 1u);  // sync held to the end
  ExpectSameLog();
}

TEST_F(ReplicationTest, ADivergedStandbyTruncatesByEpochHistoryAndCatchesUp) {
  // Both logs agree on epoch 1; the standby (an old primary) then wrote on
  // in epoch 1 while the primary, promoted, wrote in epoch 2.
  ASSERT_TRUE(primary_log_->BeginEpoch(Epoch(1)).ok());
  Load(20);
  StartPrimary();
  StartStandby();
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(); }));
  standby_.reset();
  primary_.reset();
  const Offset agreed = standby_log_->CommittedEnd();
  for (int i = 0; i < 5; ++i) {
    auto t = MakeTxn(900 + i, 10);
    ASSERT_TRUE(standby_log_->CommitTransaction(t.Views(), CheckpointAfter(900 + i)).ok());
  }
  ASSERT_TRUE(primary_log_->BeginEpoch(Epoch(2)).ok());
  Load(20, 20);
  StartPrimary();
  StartStandby();
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(); }));
  ExpectSameLog();
  auto st = standby_->Replicas();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].truncations, 1u);
  auto epochs = standby_log_->EpochHistory();
  ASSERT_TRUE(epochs.ok());
  ASSERT_EQ(epochs->size(), 2u);
  EXPECT_EQ((*epochs)[1].epoch(), 2u);
  EXPECT_EQ((*epochs)[1].start_offset(), agreed.value());
}

TEST_F(ReplicationTest, GroupsReplicateWithTheLog) {
  Load(10);
  StartPrimary();
  StartStandby();
  proto::GroupCursor c;
  c.set_acked_offset(42);
  c.set_next_batch_id(7);
  c.add_outstanding()->set_batch_id(6);
  ASSERT_TRUE(primary_log_->meta().PutCursor("billing", c).ok());
  ASSERT_TRUE(WaitFor([&] {
    auto g = standby_log_->meta().GetCursor("billing");
    return g.ok() && g->has_value() && (*g)->acked_offset() == 42;
  }));
  ASSERT_TRUE(primary_log_->meta().DeleteGroup("billing").ok());
  ASSERT_TRUE(WaitFor([&] {
    auto g = standby_log_->meta().ListGroups();
    return g.ok() && g->empty();
  }));
}

// The ingest state (prepared XA transactions' records, each table's last
// schema record) reaches the standby, and before the batches that follow
// its change: a standby that holds a checkpoint past an XA PREPARE holds
// the prepared records too.
TEST_F(ReplicationTest, IngestStateReplicatesBeforeTheBatchesAfterIt) {
  Load(5);
  StartPrimary();
  StartStandby();
  // An XA PREPARE's commit: no records, a checkpoint, the pending entry.
  const std::vector<IngestStateWrite> prepare = {{"xa/1:7831:", std::string("prepared blocks")},
                                                 {"shape/shop\0t", std::string("shape")}};
  ASSERT_TRUE(primary_log_->CommitBlocks({}, CheckpointAfter(100), prepare).ok());
  Load(3, 101);  // transactions after it: their batches carry later checkpoints
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(); }));
  auto got = standby_log_->ReadIngestState("");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  using Entries = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(*got, (Entries{{"shape/shop\0t", "shape"}, {"xa/1:7831:", "prepared blocks"}}));
  ExpectSameLog();
  // XA COMMIT: the entry goes with the commit that writes its records.
  ASSERT_TRUE(primary_log_
                  ->CommitBlocks({}, CheckpointAfter(200),
                                 std::vector<IngestStateWrite>{{"xa/1:7831:", std::nullopt}})
                  .ok());
  Load(1, 201);
  ASSERT_TRUE(WaitFor([&] {
    auto s = standby_log_->ReadIngestState("xa/");
    return CaughtUp() && s.ok() && s->empty();
  }));
  auto shapes = standby_log_->ReadIngestState("shape/");
  ASSERT_TRUE(shapes.ok());
  EXPECT_EQ(shapes->size(), 1u);
}

TEST_F(ReplicationTest, RefusesAWrongSecretAndAnotherCluster) {
  StartPrimary();
  HaOptions bad = options_;
  bad.secret_key = auth::PasswordKey("wrong");
  StartStandby(0, bad);
  ASSERT_TRUE(WaitFor([&] { return !standby_->Replicas()[0].last_error.empty(); }));
  EXPECT_NE(standby_->Replicas()[0].last_error.find("HA secret"), std::string::npos)
      << standby_->Replicas()[0].last_error;
  EXPECT_GE(primary_->refused(), 1u);
  standby_.reset();

  HaOptions other = options_;
  other.cluster_id = "other";
  StartStandby(0, other);
  ASSERT_TRUE(WaitFor([&] { return !standby_->Replicas()[0].last_error.empty(); }));
  EXPECT_NE(standby_->Replicas()[0].last_error.find("cluster"), std::string::npos)
      << standby_->Replicas()[0].last_error;
  // The standby asks again (it retries with backoff) after the records
  // exist, and is refused again: nothing was replicated.
  Load(3);
  const uint64_t refused = primary_->refusals().count(Refusal::kWrongCluster);
  ASSERT_TRUE(
      WaitFor([&] { return primary_->refusals().count(Refusal::kWrongCluster) > refused; }));
  EXPECT_EQ(standby_log_->CommittedEnd(), Offset(0));
}

TEST_F(ReplicationTest, AStandbyWithANewerEpochFencesThePrimary) {
  ASSERT_TRUE(primary_log_->BeginEpoch(Epoch(1)).ok());
  ASSERT_TRUE(standby_log_->BeginEpoch(Epoch(3)).ok());  // it was promoted since
  StartPrimary();
  StartStandby();
  ASSERT_TRUE(WaitFor([&] { return fenced_.load() != 0; }));
  EXPECT_EQ(fenced_.load(), 3u);
  ASSERT_TRUE(WaitFor([&] { return !standby_->Replicas()[0].last_error.empty(); }));
  EXPECT_NE(standby_->Replicas()[0].last_error.find("epoch"), std::string::npos);
}

TEST_F(ReplicationTest, LinkCutsAndStallsLoseNothing) {
  options_.sync = true;
  options_.degrade_on_timeout = false;
  StartPrimary();
  sluice::testing::TcpProxy proxy(primary_->port());
  StartStandby(proxy.port());
  int txn = 0;
  for (int round = 0; round < 5; ++round) {
    Load(200, txn);
    txn += 200;
    proxy.Cut();  // mid-stream
    Load(50, txn);
    txn += 50;
    ASSERT_TRUE(WaitFor([&] {
      return primary_log_->HighWatermark() == primary_log_->CommittedEnd();
    })) << "round "
        << round;
  }
  // A stall past the timeout holds the high watermark (block), then heals.
  const uint64_t timeouts = primary_->transfer("shop")->sync_timeouts();
  proxy.Stall(true);
  Load(20, txn);
  txn += 20;
  ASSERT_TRUE(WaitFor([&] { return primary_->transfer("shop")->sync_timeouts() > timeouts; }));
  EXPECT_LT(primary_log_->HighWatermark(), primary_log_->CommittedEnd());
  EXPECT_FALSE(primary_->transfer("shop")->in_sync());
  proxy.Stall(false);
  ASSERT_TRUE(
      WaitFor([&] { return primary_log_->HighWatermark() == primary_log_->CommittedEnd(); }));
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(); }));
  EXPECT_GE(proxy.connections(),
            2);  // reconnected after cuts (a cut between connections hits none)
  ExpectSameLog();
}

TEST_F(ReplicationTest, ALinkStallPastTheTimeoutDegradesThenSyncReturns) {
  options_.sync = true;
  options_.degrade_on_timeout = true;
  StartPrimary();
  sluice::testing::TcpProxy proxy(primary_->port());
  StartStandby(proxy.port());
  Load(50);
  ASSERT_TRUE(
      WaitFor([&] { return primary_log_->HighWatermark() == primary_log_->CommittedEnd(); }));
  proxy.Stall(true);
  Load(50, 50);
  ASSERT_TRUE(WaitFor([&] { return primary_->transfer("shop")->degraded(); }, 10s));
  EXPECT_EQ(primary_log_->HighWatermark(), primary_log_->CommittedEnd());  // async now
  proxy.Stall(false);
  ASSERT_TRUE(WaitFor([&] { return primary_->transfer("shop")->in_sync(); }));
  Load(10, 100);
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(); }));
  ExpectSameLog();
}

// A primary restarted in sync mode shows what its standby had acknowledged
// before, not every record it wrote; the rest shows once a standby reports.
TEST_F(ReplicationTest, ARestartedSyncPrimaryShowsOnlyWhatWasReleased) {
  options_.sync = true;
  options_.degrade_on_timeout = false;
  StartPrimary();
  StartStandby();
  Load(20);
  ASSERT_TRUE(
      WaitFor([&] { return primary_log_->HighWatermark() == primary_log_->CommittedEnd(); }));
  const Offset released = primary_log_->HighWatermark();
  standby_.reset();
  Load(20, 20);  // committed on the primary alone
  ASSERT_GT(primary_log_->CommittedEnd(), released);
  primary_.reset();
  primary_log_.reset();  // the primary "crashes" and comes back
  primary_log_ = OpenLog("a");
  EXPECT_EQ(primary_log_->HighWatermark(), primary_log_->CommittedEnd());  // no gate yet
  StartPrimary();
  EXPECT_EQ(primary_log_->HighWatermark(), released);
  EXPECT_EQ(ReadAll(*primary_log_).size(), released.value());
  StartStandby();
  ASSERT_TRUE(
      WaitFor([&] { return primary_log_->HighWatermark() == primary_log_->CommittedEnd(); }));
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(); }));
  ExpectSameLog();
}

}  // namespace
}  // namespace sluice::ha
