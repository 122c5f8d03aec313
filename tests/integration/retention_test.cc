// Retention in a running sluiced: MariaDB -> `sluiced --config FILE` with
// [storage] retention_bytes, a consumer group and Fetch over the consumer
// protocol, the log's bounds read from /metrics.
//
// Every wait is a bounded loop on something sluiced reports (its retention
// runs, its first offset), never a sleep that has to be long enough.
#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <string>

#include "proto/auth.h"
#include "tests/integration/sluiced_harness.h"
#include "tests/support/frame_client.h"
#include "tests/support/http_get.h"

namespace sluice::sluiced_test {
namespace {

constexpr uint64_t kLimit = 8192;   // retention_bytes
constexpr int kTransactions = 300;  // ~200 bytes each as stored: well past kLimit
const std::string kSeries = "{dest=\"shop\"}";

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = MariaDb::Start();
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(db_->Execute("CREATE DATABASE shop; USE shop; "
                             "CREATE TABLE t (id INT PRIMARY KEY, pad VARCHAR(200))")
                    .ok());
    const std::string pw_file = dir_.Sub("reader.password");
    std::ofstream(pw_file) << "pw\n";
    fs::permissions(pw_file, fs::perms::owner_read | fs::perms::owner_write);
    config_.data_dir = dir_.Sub("data");
    config_.source = db_->ReplUrl();
    config_.server_id = 7101;
    config_.admin_listen = "127.0.0.1:0";
    config_.extra =
        "\n[server]\nlisten = \"127.0.0.1:0\"\n\n[[user]]\nname = \"reader\"\n"
        "password_file = \"" +
        pw_file + "\"\n";
  }

  void WriteWith(bool respects_groups) {
    config_.storage = "retention_bytes = " + std::to_string(kLimit) +
                      "\nretention_interval_ms = 50\nretention_respects_groups = " +
                      (respects_groups ? "true" : "false") + "\n";
    WriteConfig(dir_.Sub("sluiced.toml"), config_);
  }

  // Starts sluiced and connects an authenticated consumer; the ports of
  // the run whose log starts at byte `from`.
  void StartAndConnect(Sluiced* p, size_t from) {
    p->Start();
    admin_ = p->AdminPort(from);
    ASSERT_GT(admin_, 0) << p->LogTail();
    const int port = p->ListenPort("consumer server", from);
    ASSERT_GT(port, 0) << p->LogTail();
    ASSERT_TRUE(c_.Connect(port));
    proto::Request hello;
    hello.set_id(NextId());
    hello.mutable_hello()->set_protocol_version(1);
    hello.mutable_hello()->set_user("reader");
    proto::Response h = c_.Call(hello);
    ASSERT_EQ(h.error().code(), proto::OK) << h.error().message();
    proto::Request auth;
    auth.set_id(NextId());
    auth.mutable_auth()->set_client_nonce(std::string(16, 'n'));
    auth.mutable_auth()->set_proof(
        auth::Proof(auth::PasswordKey("pw"), h.hello().nonce(), std::string(16, 'n')));
    ASSERT_EQ(c_.Call(auth).error().code(), proto::OK);
  }

  uint64_t NextId() { return ++id_; }

  std::optional<double> Metric(const std::string& name) {
    return Sample(testing::HttpGetBody(admin_, "/metrics"), name + kSeries);
  }
  uint64_t MetricOr0(const std::string& name) {
    auto v = Metric(name);
    return v ? static_cast<uint64_t>(*v) : 0;
  }

  // Waits (bounded) until retention has run `n` more times than now.
  bool WaitRuns(uint64_t n) {
    const uint64_t start = MetricOr0("sluice_retention_runs_total");
    for (int i = 0; i < 3000; ++i) {
      if (MetricOr0("sluice_retention_runs_total") >= start + n) return true;
      SleepMs(10);
    }
    return false;
  }

  // Waits (bounded) until the log's checkpoint is the server's end.
  bool WaitCaughtUp() {
    auto end = ServerEnd(db_.get());
    if (!end.ok()) return false;
    for (int i = 0; i < 1200; ++i) {
      const std::string status = testing::HttpGetBody(admin_, "/status");
      if (JsonField(status, "pos") == std::to_string(end->pos)) return true;
      SleepMs(50);
    }
    return false;
  }

  proto::Response Fetch(uint64_t offset) {
    proto::Request f;
    f.set_id(NextId());
    f.mutable_fetch()->set_dest(kDest);
    f.mutable_fetch()->set_offset(offset);
    f.mutable_fetch()->set_max_records(10);
    return c_.Call(f);
  }
  proto::Response Get(uint32_t batch) {
    proto::Request g;
    g.set_id(NextId());
    g.mutable_get()->set_dest(kDest);
    g.mutable_get()->set_group("g");
    g.mutable_get()->set_batch_size(batch);
    return c_.Call(g);
  }

  testing::TempDir dir_;
  std::unique_ptr<MariaDb> db_;
  SluicedConfig config_;
  testing::FrameClient c_;
  int admin_ = 0;
  uint64_t id_ = 0;
};

// The log fills past retention_bytes. A group that has acknowledged nothing
// holds every record; once it acknowledges a batch, retention removes whole
// transactions up to it and no further; a Fetch below the first offset is
// OFFSET_OUT_OF_RANGE naming the first offset. With
// retention_respects_groups = false, retention passes the group, whose Get
// then gets OFFSET_OUT_OF_RANGE in turn.
TEST_F(RetentionTest, BytesLimitMovesTheFirstOffsetUnlessAGroupHoldsIt) {
  WriteWith(true);
  Sluiced p(dir_.Sub("sluiced.toml"), dir_.Sub("sluiced.log"));
  ASSERT_NO_FATAL_FAILURE(StartAndConnect(&p, 0));
  proto::Request sub;
  sub.set_id(NextId());
  sub.mutable_subscribe()->set_dest(kDest);
  sub.mutable_subscribe()->set_group("g");
  proto::Response subscribed = c_.Call(sub);
  ASSERT_EQ(subscribed.error().code(), proto::OK) << subscribed.error().message();
  ASSERT_EQ(subscribed.subscribe().acked_offset(), 0u);

  for (int i = 1; i <= kTransactions; ++i) {
    ASSERT_TRUE(db_->Execute("INSERT INTO t VALUES (" + std::to_string(i) + ", SHA2('" +
                             std::to_string(i) + "', 512))")
                    .ok());
  }
  ASSERT_TRUE(WaitCaughtUp()) << p.LogTail();
  ASSERT_TRUE(WaitRuns(3)) << p.LogTail();
  // Held by the group: nothing removed although the log is past the limit.
  EXPECT_EQ(Metric("sluice_log_first_offset"), 0.0);
  EXPECT_EQ(Metric("sluice_retention_removed_records_total"), 0.0);
  EXPECT_EQ(Metric("sluice_retention_errors_total"), 0.0);
  const uint64_t full = MetricOr0("sluice_log_bytes");
  ASSERT_GT(full, 2 * kLimit);
  // ... and it says what holds it.
  EXPECT_EQ(Metric("sluice_retention_held"), 1.0);
  EXPECT_EQ(JsonField(testing::HttpGetBody(admin_, "/status"), "retention_held_by"),
            "\"consumer group 'g' (acknowledged up to offset 0)\"");
  const uint64_t hw = MetricOr0("sluice_log_high_watermark");
  ASSERT_GE(hw, static_cast<uint64_t>(kTransactions));

  // The group acknowledges its first batch: retention may go up to it.
  proto::Response got = Get(100);
  ASSERT_EQ(got.error().code(), proto::OK) << got.error().message();
  ASSERT_NE(got.get().batch_id(), 0u);
  const uint64_t acked = got.get().end_offset();
  ASSERT_GT(acked, 10u);
  ASSERT_LT(acked, hw);
  proto::Request ack;
  ack.set_id(NextId());
  ack.mutable_ack()->set_dest(kDest);
  ack.mutable_ack()->set_group("g");
  ack.mutable_ack()->set_batch_id(got.get().batch_id());
  proto::Response acked_r = c_.Call(ack);
  ASSERT_EQ(acked_r.error().code(), proto::OK) << acked_r.error().message();
  ASSERT_EQ(acked_r.ack().acked_offset(), acked);
  uint64_t first = 0;
  for (int i = 0; i < 3000 && first == 0; ++i) {
    first = MetricOr0("sluice_log_first_offset");
    if (first == 0) SleepMs(10);
  }
  ASSERT_GT(first, 0u) << "acked " << acked << " runs " << MetricOr0("sluice_retention_runs_total")
                       << " errors " << MetricOr0("sluice_retention_errors_total") << "\n"
                       << testing::HttpGetBody(admin_, "/status") << p.LogTail();
  ASSERT_TRUE(WaitRuns(3)) << p.LogTail();
  first = MetricOr0("sluice_log_first_offset");
  EXPECT_LE(first, acked);      // never past the group's ack
  EXPECT_GT(first + 4, acked);  // and up to its last whole transaction
  EXPECT_EQ(MetricOr0("sluice_retention_removed_records_total"), first);
  EXPECT_EQ(MetricOr0("sluice_log_bytes") + MetricOr0("sluice_retention_removed_bytes_total"),
            full);

  // Fetch: below the first offset is out of range and says where the log
  // starts; at it, the first record begins a transaction.
  proto::Response below = Fetch(0);
  ASSERT_EQ(below.error().code(), proto::OFFSET_OUT_OF_RANGE) << below.error().message();
  EXPECT_EQ(below.error().first_offset(), first);
  EXPECT_NE(below.error().message().find("[" + std::to_string(first) + ","), std::string::npos)
      << below.error().message();
  proto::Response at = Fetch(first);
  ASSERT_EQ(at.error().code(), proto::OK) << at.error().message();
  ASSERT_GT(at.fetch().records_size(), 0);
  EXPECT_EQ(at.fetch().records(0).offset(), first);
  proto::ChangeRecord r0;
  ASSERT_TRUE(r0.ParseFromString(at.fetch().records(0).record()));
  EXPECT_EQ(r0.txn().seq(), 0u);
  ASSERT_TRUE(p.Terminate()) << p.LogTail();

  // Groups no longer hold it: it goes past the group down to the limit.
  WriteWith(false);
  const size_t from = FileText(p.log_file()).size();
  ASSERT_NO_FATAL_FAILURE(StartAndConnect(&p, from));
  uint64_t after = 0;
  for (int i = 0; i < 3000 && after <= acked; ++i) {
    after = MetricOr0("sluice_log_first_offset");
    if (after <= acked) SleepMs(10);
  }
  ASSERT_GT(after, acked) << p.LogTail();
  ASSERT_TRUE(WaitRuns(2)) << p.LogTail();
  after = MetricOr0("sluice_log_first_offset");
  EXPECT_LE(MetricOr0("sluice_log_bytes"), kLimit);
  EXPECT_EQ(Metric("sluice_retention_held"), 0.0);
  EXPECT_GT(MetricOr0("sluice_log_bytes"), kLimit / 2);  // not more than needed
  proto::Response behind = Get(10);
  ASSERT_EQ(behind.error().code(), proto::OFFSET_OUT_OF_RANGE) << behind.error().message();
  EXPECT_EQ(behind.error().first_offset(), after);
  EXPECT_NE(behind.error().message().find("offset " + std::to_string(acked)), std::string::npos)
      << behind.error().message();
  EXPECT_EQ(Fetch(acked).error().code(), proto::OFFSET_OUT_OF_RANGE);
  ASSERT_TRUE(p.Terminate()) << p.LogTail();
  EXPECT_GT(CountLines(FileText(p.log_file()), "retention removed"), 0u);
  EXPECT_EQ(CountLines(FileText(p.log_file()), "retention waits for consumer group 'g'"), 2u);
}

}  // namespace
}  // namespace sluice::sluiced_test
