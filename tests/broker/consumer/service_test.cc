// The embedded consumer service over a real CommitLog (RocksDB in a temp
// dir): what a consumer sees is compared with what the test committed.
#include "broker/consumer/service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "proto/record.pb.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_log.h"

namespace sluice::consumer {
namespace {

using Clock = std::chrono::steady_clock;

const char* const kTables[] = {"orders", "users", "orders", "audit"};

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen(const RetentionOptions& retention = {}) {
    svc_.reset();
    log_.reset();
    CommitLogOptions o = testing::TestLogOptions(dir_.Sub("log"), "n1", "shop");
    o.retention = retention;
    auto log = CommitLog::Open(o);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(*log);
    options_.node_id = "n1";
    svc_ = std::make_unique<ConsumerService>(options_);
    svc_->AddDestination("shop", log_.get());
  }

  // Commits transaction `t` of `n` records: table kTables[i % 4] of db
  // "shop" ("other" for audit), source time 1000 + t.
  void Commit(uint64_t t, int n) {
    std::vector<std::string> recs;
    for (int i = 0; i < n; ++i) {
      proto::ChangeRecord r;
      r.set_op(proto::OP_INSERT);
      const char* table = kTables[all_.size() % 4];
      r.set_db(std::string(table) == "audit" ? "other" : "shop");
      r.set_table(table);
      r.set_ts(1000 + t);
      r.mutable_txn()->set_seq(i);
      r.mutable_txn()->set_last(i == n - 1);
      recs.push_back(r.SerializeAsString());
      all_.push_back(recs.back());
      names_.push_back(r.db() + "." + r.table());
      ts_.push_back(r.ts());
    }
    std::vector<std::string_view> views(recs.begin(), recs.end());
    proto::SourceCheckpoint cp;
    cp.set_file("binlog.000001");
    cp.set_pos(4 + t);
    cp.set_ts(1000 + t);
    ASSERT_TRUE(log_->CommitTransaction(views, cp).ok());
  }

  proto::FetchResponse Fetch(uint64_t offset, uint32_t max = 0, uint32_t wait = 0,
                             proto::ErrorCode want = proto::OK) {
    proto::FetchRequest f;
    f.set_dest("shop");
    f.set_offset(offset);
    f.set_max_records(max);
    f.set_wait_ms(wait);
    proto::FetchResponse out;
    proto::Error e = svc_->Fetch(f, &out);
    EXPECT_EQ(e.code(), want) << e.message();
    return out;
  }

  proto::Error Subscribe(const std::string& group, const std::string& filter = "") {
    proto::SubscribeRequest s;
    s.set_dest("shop");
    s.set_group(group);
    s.set_filter(filter);
    proto::SubscribeResponse out;
    return svc_->Subscribe(s, &out);
  }

  proto::GetResponse Get(const std::string& group, uint32_t n, uint32_t timeout = 0) {
    proto::GetRequest g;
    g.set_dest("shop");
    g.set_group(group);
    g.set_batch_size(n);
    g.set_timeout_ms(timeout);
    proto::GetResponse out;
    proto::Error e = svc_->Get(g, &out);
    EXPECT_EQ(e.code(), proto::OK) << e.message();
    return out;
  }

  proto::Error Ack(const std::string& group, uint64_t id, uint64_t* acked = nullptr) {
    proto::AckRequest a;
    a.set_dest("shop");
    a.set_group(group);
    a.set_batch_id(id);
    proto::AckResponse out;
    proto::Error e = svc_->Ack(a, &out);
    if (acked) *acked = out.acked_offset();
    return e;
  }

  proto::Error Rollback(const std::string& group, uint64_t id) {
    proto::RollbackRequest r;
    r.set_dest("shop");
    r.set_group(group);
    r.set_batch_id(id);
    proto::RollbackResponse out;
    return svc_->Rollback(r, &out);
  }

  // The records of a response must be all_[offset] for their offsets.
  template <typename Response>
  void ExpectCommitted(const Response& r) {
    for (const auto& lr : r.records()) {
      ASSERT_LT(lr.offset(), all_.size());
      EXPECT_EQ(lr.record(), all_[lr.offset()]) << "offset " << lr.offset();
    }
  }

  testing::TempDir dir_;
  ServiceOptions options_;
  std::unique_ptr<CommitLog> log_;
  std::unique_ptr<ConsumerService> svc_;
  std::vector<std::string> all_;    // by offset
  std::vector<std::string> names_;  // "db.table" by offset
  std::vector<uint64_t> ts_;        // source time by offset
};

TEST_F(ServiceTest, FetchByOffsetReturnsWhatWasCommitted) {
  for (uint64_t t = 0; t < 20; ++t) Commit(t, 1 + static_cast<int>(t % 7));
  uint64_t at = 0;
  size_t seen = 0;
  while (at < all_.size()) {
    proto::FetchResponse r = Fetch(at, 9);
    ASSERT_GT(r.records_size(), 0);
    ASSERT_LE(r.records_size(), 9);
    EXPECT_EQ(r.records(0).offset(), at);
    ExpectCommitted(r);
    seen += r.records_size();
    at = r.next_offset();
    EXPECT_EQ(r.high_watermark(), all_.size());
  }
  EXPECT_EQ(seen, all_.size());
  EXPECT_EQ(Fetch(all_.size()).records_size(), 0);  // at the high watermark: nothing yet
}

TEST_F(ServiceTest, OffsetsOutsideTheLogAreOutOfRangeWithTheRange) {
  Commit(0, 5);
  proto::FetchRequest f;
  f.set_dest("shop");
  f.set_offset(6);
  proto::FetchResponse out;
  proto::Error e = svc_->Fetch(f, &out);
  EXPECT_EQ(e.code(), proto::OFFSET_OUT_OF_RANGE);
  EXPECT_EQ(e.first_offset(), 0u);
  EXPECT_EQ(e.high_watermark(), 5u);
  EXPECT_NE(e.message().find("[0, 5]"), std::string::npos) << e.message();
  f.set_dest("nope");
  e = svc_->Fetch(f, &out);
  EXPECT_EQ(e.code(), proto::UNKNOWN_DESTINATION);
  EXPECT_NE(e.message().find("shop"), std::string::npos) << e.message();
}

// After retention: Fetch and a group's Get below the first offset are
// OFFSET_OUT_OF_RANGE naming it; a group that has not acknowledged holds
// retention back when the log keeps unacked records (sluiced's
// retention_respects_groups), and a new group starts at the first offset.
TEST_F(ServiceTest, BelowTheFirstOffsetAfterRetentionIsOutOfRange) {
  Reopen(RetentionOptions{.max_age_ms = 0, .max_bytes = 1, .keep_unacked = true});
  for (uint64_t t = 0; t < 10; ++t) Commit(t, 2);
  ASSERT_EQ(Subscribe("g").code(), proto::OK);
  proto::GetResponse batch = Get("g", 4);
  ASSERT_EQ(batch.end_offset(), 4u);
  ASSERT_TRUE(log_->ApplyRetention(0).ok());
  EXPECT_EQ(log_->FirstOffset(), Offset(0));  // the group has acknowledged nothing
  uint64_t acked = 0;
  ASSERT_EQ(Ack("g", batch.batch_id(), &acked).code(), proto::OK);
  ASSERT_EQ(acked, 4u);
  ASSERT_TRUE(log_->ApplyRetention(0).ok());
  EXPECT_EQ(log_->FirstOffset(), Offset(4));

  proto::FetchRequest f;
  f.set_dest("shop");
  f.set_offset(3);
  proto::FetchResponse fetched;
  proto::Error e = svc_->Fetch(f, &fetched);
  EXPECT_EQ(e.code(), proto::OFFSET_OUT_OF_RANGE);
  EXPECT_EQ(e.first_offset(), 4u);
  EXPECT_EQ(e.high_watermark(), 20u);
  EXPECT_NE(e.message().find("[4, 20]"), std::string::npos) << e.message();
  proto::FetchResponse at = Fetch(4, 1);
  ASSERT_EQ(at.records_size(), 1);
  ExpectCommitted(at);
  proto::ListOffsetsRequest lo;
  lo.set_dest("shop");
  proto::ListOffsetsResponse offsets;
  ASSERT_EQ(svc_->ListOffsets(lo, &offsets).code(), proto::OK);
  EXPECT_EQ(offsets.first_offset(), 4u);

  // Groups no longer hold it: the group is left behind.
  Reopen(RetentionOptions{.max_age_ms = 0, .max_bytes = 1, .keep_unacked = false});
  ASSERT_TRUE(log_->ApplyRetention(0, Offset(17)).ok());
  ASSERT_EQ(log_->FirstOffset(), Offset(16));
  proto::GetRequest g;
  g.set_dest("shop");
  g.set_group("g");
  g.set_batch_size(4);
  proto::GetResponse out;
  e = svc_->Get(g, &out);
  EXPECT_EQ(e.code(), proto::OFFSET_OUT_OF_RANGE);
  EXPECT_EQ(e.first_offset(), 16u);
  EXPECT_NE(e.message().find("offset 4 is outside the log's range [16, 20]"), std::string::npos)
      << e.message();
  ASSERT_EQ(Subscribe("h").code(), proto::OK);
  proto::GetResponse fresh = Get("h", 100);
  ASSERT_EQ(fresh.records_size(), 4);
  EXPECT_EQ(fresh.records(0).offset(), 16u);
  ExpectCommitted(fresh);
}

TEST_F(ServiceTest, LongPollWakesOnCommitNotOnItsTimeout) {
  Commit(0, 3);
  proto::FetchResponse got;
  Clock::duration waited{};
  std::thread reader([&] {
    const auto start = Clock::now();
    got = Fetch(3, 0, /*wait=*/30000);
    waited = Clock::now() - start;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Commit(1, 2);
  reader.join();
  ASSERT_EQ(got.records_size(), 2);
  EXPECT_EQ(got.records(0).offset(), 3u);
  ExpectCommitted(got);
  EXPECT_LT(waited, std::chrono::seconds(15)) << "woke by its timeout, not by the commit";
  // With nothing committed the wait ends empty.
  EXPECT_EQ(Fetch(5, 0, 50).records_size(), 0);
}

TEST_F(ServiceTest, ListOffsetsFindsTheFirstRecordAtATime) {
  for (uint64_t t = 0; t < 30; ++t) Commit(t * 10, 3);  // times 1000, 1010, ...
  for (uint64_t when : {0ull, 999ull, 1000ull, 1001ull, 1150ull, 1290ull, 1291ull, 5000ull}) {
    proto::ListOffsetsRequest q;
    q.set_dest("shop");
    q.set_timestamp(when);
    proto::ListOffsetsResponse out;
    ASSERT_EQ(svc_->ListOffsets(q, &out).code(), proto::OK);
    EXPECT_EQ(out.first_offset(), 0u);
    EXPECT_EQ(out.high_watermark(), all_.size());
    if (when == 0) continue;  // no lookup asked
    uint64_t want = 0;
    while (want < ts_.size() && ts_[want] < when) ++want;
    EXPECT_EQ(out.timestamp_offset(), want) << "timestamp " << when;
  }
}

TEST_F(ServiceTest, GroupAckRollbackAndRedelivery) {
  for (uint64_t t = 0; t < 10; ++t) Commit(t, 4);  // 40 records
  ASSERT_EQ(Subscribe("g").code(), proto::OK);
  proto::GetResponse b1 = Get("g", 6), b2 = Get("g", 6);
  EXPECT_EQ(b1.batch_id(), 1u);
  EXPECT_EQ(b2.batch_id(), 2u);
  ASSERT_EQ(b1.records_size(), 6);
  EXPECT_EQ(b1.records(0).offset(), 0u);
  EXPECT_EQ(b2.records(0).offset(), 6u);
  ExpectCommitted(b1);
  ExpectCommitted(b2);
  // Acking batch 2 acks batch 1 too.
  uint64_t acked = 0;
  ASSERT_EQ(Ack("g", 2, &acked).code(), proto::OK);
  EXPECT_EQ(acked, 12u);
  proto::Error again = Ack("g", 1);
  EXPECT_EQ(again.code(), proto::UNKNOWN_BATCH);
  EXPECT_NE(again.message().find("not outstanding"), std::string::npos) << again.message();
  EXPECT_EQ(Ack("g", 99).code(), proto::UNKNOWN_BATCH);
  // Two more batches, then a rollback of both: redelivered from offset 12
  // under new ids; the rolled-back ids are gone for good.
  proto::GetResponse b3 = Get("g", 5), b4 = Get("g", 5);
  EXPECT_EQ(b3.records(0).offset(), 12u);
  EXPECT_EQ(b4.records(0).offset(), 17u);
  ASSERT_EQ(Rollback("g", 0).code(), proto::OK);
  proto::GetResponse b5 = Get("g", 5);
  EXPECT_EQ(b5.batch_id(), 5u);
  ASSERT_EQ(b5.records_size(), 5);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(b5.records(i).SerializeAsString(), b3.records(i).SerializeAsString());
  EXPECT_EQ(Ack("g", 3).code(), proto::UNKNOWN_BATCH);
  // Rollback from one batch keeps the earlier ones.
  proto::GetResponse b6 = Get("g", 5);
  EXPECT_EQ(b6.records(0).offset(), 17u);
  ASSERT_EQ(Rollback("g", 6).code(), proto::OK);
  proto::GetResponse b7 = Get("g", 5);  // redelivers batch 6's records
  EXPECT_EQ(b7.batch_id(), 7u);
  EXPECT_EQ(b7.records(0).offset(), 17u);
  ASSERT_EQ(Ack("g", 5, &acked).code(), proto::OK);
  EXPECT_EQ(acked, 17u);
  EXPECT_EQ(Rollback("g", 6).code(), proto::UNKNOWN_BATCH);
}

TEST_F(ServiceTest, TwoGroupsKeepTheirOwnCursorsAndFilters) {
  for (uint64_t t = 0; t < 10; ++t) Commit(t, 4);
  ASSERT_EQ(Subscribe("all").code(), proto::OK);
  ASSERT_EQ(Subscribe("orders", "shop\\.orders").code(), proto::OK);
  std::vector<uint64_t> orders;
  for (;;) {
    proto::GetResponse b = Get("orders", 3);
    if (b.batch_id() == 0) break;
    ExpectCommitted(b);
    for (const auto& r : b.records()) orders.push_back(r.offset());
    ASSERT_EQ(Ack("orders", b.batch_id()).code(), proto::OK);
  }
  std::vector<uint64_t> want;
  for (uint64_t i = 0; i < names_.size(); ++i)
    if (names_[i] == "shop.orders") want.push_back(i);
  EXPECT_EQ(orders, want);
  // The other group has not moved.
  proto::GetResponse a = Get("all", 4);
  EXPECT_EQ(a.records(0).offset(), 0u);
  EXPECT_EQ(a.records_size(), 4);
}

TEST_F(ServiceTest, GroupStateSurvivesARestart) {
  for (uint64_t t = 0; t < 5; ++t) Commit(t, 4);
  ASSERT_EQ(Subscribe("g", "shop\\..*").code(), proto::OK);
  proto::GetResponse b1 = Get("g", 4), b2 = Get("g", 4);
  ASSERT_EQ(Ack("g", b1.batch_id()).code(), proto::OK);
  Reopen();
  // Batch 2 is still outstanding; the next batch follows it, with a new id.
  proto::GetResponse b3 = Get("g", 4);
  EXPECT_EQ(b3.batch_id(), 3u);
  EXPECT_GE(b3.records(0).offset(), b2.end_offset());
  ExpectCommitted(b3);
  for (const auto& r : b3.records()) EXPECT_NE(names_[r.offset()], "other.audit");
  ASSERT_EQ(Ack("g", b2.batch_id()).code(), proto::OK);
  ASSERT_EQ(Rollback("g", 0).code(), proto::OK);
  proto::GetResponse again = Get("g", 4);
  EXPECT_EQ(again.records(0).offset(), b3.records(0).offset());
}

TEST_F(ServiceTest, GroupErrorsAreClear) {
  Commit(0, 2);
  EXPECT_EQ(Subscribe("g", "([").code(), proto::BAD_REQUEST);
  EXPECT_EQ(Subscribe("").code(), proto::BAD_REQUEST);
  proto::GetRequest g;
  g.set_dest("shop");
  g.set_group("never");
  proto::GetResponse out;
  proto::Error e = svc_->Get(g, &out);
  EXPECT_EQ(e.code(), proto::NOT_SUBSCRIBED);
  EXPECT_NE(e.message().find("never"), std::string::npos);
  EXPECT_EQ(Ack("never", 1).code(), proto::NOT_SUBSCRIBED);
  // A Get at the end waits, then says nothing new with batch id 0.
  ASSERT_EQ(Subscribe("g").code(), proto::OK);
  ASSERT_EQ(Get("g", 10).records_size(), 2);
  EXPECT_EQ(Get("g", 10, 50).batch_id(), 0u);
  proto::StatusResponse st;
  ASSERT_EQ(svc_->GetStatus({}, &st).code(), proto::OK);
  ASSERT_EQ(st.destinations_size(), 1);
  EXPECT_EQ(st.destinations(0).high_watermark(), 2u);
  EXPECT_EQ(st.destinations(0).checkpoint(), "binlog.000001:4");
}

// A standby serves reads by offset, and sends group requests to the
// primary it names; after a promotion it serves them itself.
TEST_F(ServiceTest, AStandbyNamesThePrimaryForGroups) {
  Commit(0, 3);
  svc_->SetRole(Role::kStandby, "127.0.0.1:7400");
  proto::Error e = Subscribe("g");
  EXPECT_EQ(e.code(), proto::NOT_PRIMARY);
  EXPECT_EQ(e.primary(), "127.0.0.1:7400");
  EXPECT_NE(e.message().find("127.0.0.1:7400"), std::string::npos) << e.message();
  EXPECT_EQ(Ack("g", 1).code(), proto::NOT_PRIMARY);
  EXPECT_EQ(Rollback("g", 0).code(), proto::NOT_PRIMARY);
  proto::FetchRequest f;
  f.set_dest("shop");
  proto::FetchResponse got;
  ASSERT_EQ(svc_->Fetch(f, &got).code(), proto::OK);
  EXPECT_EQ(got.records_size(), 3);
  proto::StatusResponse st;
  ASSERT_EQ(svc_->GetStatus({}, &st).code(), proto::OK);
  EXPECT_EQ(st.role(), "standby");
  svc_->SetRole(Role::kPrimary, "");
  EXPECT_EQ(Subscribe("g").code(), proto::OK);
  EXPECT_EQ(Get("g", 10).records_size(), 3);
}

// A group that takes batches and never acknowledges them is stopped at
// max_outstanding_batches (its state is one value that would grow without
// bound), with a message that says what to do.
TEST_F(ServiceTest, UnacknowledgedBatchesAreBounded) {
  options_.max_outstanding_batches = 3;
  Reopen();
  Commit(0, 10);
  ASSERT_EQ(Subscribe("g").code(), proto::OK);
  uint64_t last = 0;
  for (int i = 0; i < 3; ++i) last = Get("g", 2).batch_id();
  proto::GetRequest g;
  g.set_dest("shop");
  g.set_group("g");
  g.set_batch_size(2);
  proto::GetResponse out;
  proto::Error e = svc_->Get(g, &out);
  EXPECT_EQ(e.code(), proto::BAD_REQUEST);
  EXPECT_NE(e.message().find("Ack or Rollback"), std::string::npos) << e.message();
  uint64_t acked = 0;
  ASSERT_EQ(Ack("g", last, &acked).code(), proto::OK);
  EXPECT_EQ(acked, 6u);
  EXPECT_EQ(Get("g", 10).records_size(), 4);
}

}  // namespace
}  // namespace sluice::consumer

namespace sluice::consumer {
namespace {

// With standby_reads off a standby refuses reads by offset too.
TEST_F(ServiceTest, StandbyReadsCanBeTurnedOff) {
  options_.standby_reads = false;
  Reopen();
  Commit(0, 3);
  svc_->SetRole(Role::kStandby, "127.0.0.1:7400");
  Fetch(0, 0, 0, proto::NOT_PRIMARY);
  proto::ListOffsetsRequest lo;
  lo.set_dest("shop");
  proto::ListOffsetsResponse out;
  EXPECT_EQ(svc_->ListOffsets(lo, &out).code(), proto::NOT_PRIMARY);
  svc_->SetRole(Role::kPrimary, "");
  EXPECT_EQ(Fetch(0).records_size(), 3);
}

// Leaving the primary role waits for a group write already past its role
// check: after SetRole returns, nothing of this node's groups changes.
TEST_F(ServiceTest, LeavingThePrimaryRoleIsABarrierForGroupWrites) {
  Commit(0, 100);
  ASSERT_EQ(Subscribe("g").code(), proto::OK);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> ok_after{0};
  std::atomic<bool> demoted{false};
  std::thread writer([&] {
    while (!stop.load()) {
      proto::GetRequest g;
      g.set_dest("shop");
      g.set_group("g");
      g.set_batch_size(1);
      proto::GetResponse out;
      const bool was_demoted = demoted.load();
      if (svc_->Get(g, &out).code() == proto::OK && out.batch_id() != 0) {
        proto::AckRequest a;
        a.set_dest("shop");
        a.set_group("g");
        a.set_batch_id(out.batch_id());
        proto::AckResponse ar;
        if (svc_->Ack(a, &ar).code() == proto::OK && was_demoted) ok_after.fetch_add(1);
      }
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  svc_->SetRole(Role::kStandby, "");
  demoted.store(true);
  auto before = log_->meta().GetCursor("g");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop.store(true);
  writer.join();
  auto after = log_->meta().GetCursor("g");
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_EQ((*before)->SerializeAsString(), (*after)->SerializeAsString());
  EXPECT_EQ(ok_after.load(), 0u);
}

}  // namespace
}  // namespace sluice::consumer
