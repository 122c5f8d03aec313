// Snapshots through sluiced (docs/snapshots.md), one node:
//   - a 1,000,000-row table copied by snapshot = "initial" survives SIGKILL
//     of sluiced in the middle of the copy, twice: the copy resumes after
//     the last chunk in the log (sluiced says where), and the log holds
//     every row of the table exactly once (the table is not changed
//     meanwhile, so nothing is left out);
//   - `sluice snapshot` of a table without a usable key is refused with
//     the reason, and so is a table outside the destination's filters.
// Expected values come from the source (COUNT, the key range it was
// filled with). 127.0.0.1 only; every child is stopped by its pid.
#include <gtest/gtest.h>

#include <set>

#include "tests/integration/sluiced_harness.h"
#include "tests/support/free_port.h"
#include "tests/support/http_get.h"
#include "tests/support/wait_for.h"

namespace sluice::sluiced_test {
namespace {

using testing::FreePort;
using testing::RunShell;
using testing::WaitFor;

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = MariaDb::Start();
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(db_->Execute("CREATE DATABASE shop").ok());
    secret_ = dir_.Sub("ha.secret");
    std::ofstream(secret_) << "snap-secret\n";
    ::chmod(secret_.c_str(), 0600);
  }

  void Start(const std::string& snapshot) {
    admin_port_ = FreePort();
    server_port_ = FreePort();
    SluicedConfig c;
    c.data_dir = dir_.Sub("data");
    c.source = db_->ReplUrl();
    c.server_id = 7401;
    c.admin_listen = "127.0.0.1:" + std::to_string(admin_port_);
    c.destination_extra = "snapshot = \"" + snapshot + "\"\nsnapshot_chunk_rows = 10000\n";
    c.extra = "\n[server]\nlisten = \"127.0.0.1:" + std::to_string(server_port_) +
              "\"\nanonymous = true\n\n[ha]\nsecret_file = \"" + secret_ + "\"\n";
    WriteConfig(dir_.Sub("n1.toml"), c);
    proc_ = std::make_unique<Sluiced>(dir_.Sub("n1.toml"), dir_.Sub("n1.log"));
    Restart();
  }
  void Restart() {
    proc_->Start();
    ASSERT_TRUE(
        WaitFor([&] { return Metric("sluice_node_epoch").has_value(); }, std::chrono::seconds(30)))
        << proc_->LogTail();
  }
  std::optional<double> Metric(const std::string& series) {
    return Sample(testing::HttpGetBody(admin_port_, "/metrics"), series);
  }

  testing::TempDir dir_;
  std::unique_ptr<MariaDb> db_;
  std::unique_ptr<Sluiced> proc_;
  std::string secret_;
  int admin_port_ = 0, server_port_ = 0;
};

TEST_F(SnapshotTest, AKilledCopyResumesAtItsLastChunkAndHoldsEachRowOnce) {
  constexpr int kRows = 1000000;
  ASSERT_TRUE(
      db_->Execute("USE shop; CREATE TABLE shop.big (id INT PRIMARY KEY, a VARCHAR(20), b INT, "
                   "c DATETIME); INSERT INTO shop.big SELECT seq, CONCAT('row', seq), "
                   "seq % 977, '2025-01-01' + INTERVAL seq MINUTE FROM seq_1_to_" +
                   std::to_string(kRows))
          .ok());
  Start("initial");
  const std::string rows =
      "sluice_snapshot_rows_total{dest=\"shop\",snapshot=\"initial\","
      "table=\"shop.big\"}";
  const std::string done =
      "sluice_snapshot_done{dest=\"shop\",snapshot=\"initial\","
      "table=\"shop.big\"}";
  int kills = 0;
  for (double at : {150000.0, 500000.0}) {
    // Killed once the copy has passed `at` rows (and is not done).
    ASSERT_TRUE(WaitFor([&] { return Metric(rows).value_or(0) >= at; }, std::chrono::seconds(120),
                        std::chrono::milliseconds(5)))
        << proc_->LogTail();
    if (Metric(done).value_or(0) == 1) break;
    proc_->Kill();
    ++kills;
    ASSERT_NO_FATAL_FAILURE(Restart());
  }
  EXPECT_GE(kills, 1) << "the copy ended before the first kill";
  ASSERT_TRUE(WaitFor([&] { return Metric(done).value_or(0) == 1; }, std::chrono::seconds(180)))
      << proc_->LogTail();
  EXPECT_EQ(Metric(rows).value_or(0), kRows);
  const std::string log = FileText(dir_.Sub("n1.log"));
  EXPECT_NE(log.find("snapshot initial: shop.big continues after key ("), std::string::npos)
      << proc_->LogTail();
  ASSERT_TRUE(proc_->Terminate());

  auto img = ReadLog(DestPath(dir_.Sub("data")));
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  std::vector<uint8_t> seen(kRows + 1, 0);
  size_t reads = 0, begins = 0, ends = 0, ddls = 0;
  for (const auto& r : img->Parsed()) {
    if (r.op() == proto::OP_SNAPSHOT) {
      (r.snapshot().phase() == proto::SnapshotMark::BEGIN ? begins : ends)++;
      if (r.snapshot().phase() == proto::SnapshotMark::END) {
        EXPECT_EQ(r.snapshot().rows(), static_cast<uint64_t>(kRows));
      }
    }
    if (r.op() == proto::OP_DDL && r.table() == "big") {
      ++ddls;
      EXPECT_TRUE(r.sql().starts_with("CREATE TABLE IF NOT EXISTS `big`")) << r.sql();
    }
    if (r.op() != proto::OP_READ) continue;
    ++reads;
    ASSERT_GE(r.after_size(), 1);
    const int64_t id = r.after(0).value().int64();
    ASSERT_TRUE(id >= 1 && id <= kRows) << id;
    EXPECT_EQ(seen[static_cast<size_t>(id)]++, 0) << "row " << id << " is in the log twice";
  }
  EXPECT_EQ(reads, static_cast<size_t>(kRows));
  EXPECT_EQ(begins, 1u);
  EXPECT_EQ(ends, 1u);
  EXPECT_EQ(ddls, 1u);
}

TEST_F(SnapshotTest, RefusesTablesItCannotCopyAndSaysWhy) {
  ASSERT_TRUE(db_->Execute("CREATE TABLE shop.nokey (a INT, b INT); "
                           "CREATE TABLE shop.nullkey (a INT NULL, UNIQUE KEY (a))")
                  .ok());
  Start("never");
  const std::string sluice = std::string(SLUICE_BIN) +
                             " snapshot --broker 127.0.0.1:" + std::to_string(server_port_) +
                             " --secret-file " + secret_ + " --dest shop --timeout 30 ";
  for (const char* table : {"shop.nokey", "shop.nullkey"}) {
    auto [rc, out] = RunShell(sluice + "--table " + table + " 2>&1");
    EXPECT_EQ(rc, 1) << out;
    EXPECT_NE(out.find("no primary key and no unique key of NOT NULL columns"), std::string::npos)
        << out;
  }
  auto [rc, out] = RunShell(sluice + "--table mysql.user 2>&1");
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("not captured by this destination"), std::string::npos) << out;
  auto [wrc, wout] = RunShell(
      std::string(SLUICE_BIN) + " snapshot --broker 127.0.0.1:" + std::to_string(server_port_) +
      " --secret-file " + dir_.Sub("n1.toml") + " --dest shop --table shop.nokey 2>&1");
  EXPECT_EQ(wrc, 1) << wout;
  EXPECT_NE(wout.find("does not match this node's HA secret"), std::string::npos) << wout;
}

}  // namespace
}  // namespace sluice::sluiced_test
