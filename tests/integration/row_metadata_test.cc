// A source that does not log FULL row metadata (column names, keys, ENUM/SET
// labels): refused at start by default, with the fix in the message;
// accepted with column_names = "positions", its rows keyed @N and counted.
#include <gtest/gtest.h>

#include "tests/integration/sluiced_harness.h"
#include "tests/support/http_get.h"

namespace sluice::sluiced_test {
namespace {

class RowMetadataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::MariaDbOptions mo;
    mo.row_metadata = "MINIMAL";
    auto db = MariaDb::Start(mo);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(db_->Execute("CREATE DATABASE shop; USE shop; "
                             "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10)); "
                             "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c'); "
                             "UPDATE t SET v = 'z' WHERE id = 2")
                    .ok());
    config_.data_dir = dir_.Sub("data");
    config_.source = db_->ReplUrl();
    config_.server_id = 7401;
    config_.admin_listen = "127.0.0.1:0";
  }

  testing::TempDir dir_;
  std::unique_ptr<MariaDb> db_;
  SluicedConfig config_;
};

TEST_F(RowMetadataTest, RefusedUnlessPositionsAreAccepted) {
  // The server's own setting, as the message must name it.
  auto meta = db_->Query("SELECT @@global.binlog_row_metadata");
  ASSERT_TRUE(meta.ok() && !meta->empty());
  const std::string setting = *(*meta)[0][0];
  ASSERT_EQ(setting, "MINIMAL");

  WriteConfig(dir_.Sub("a.toml"), config_);
  {
    Sluiced p(dir_.Sub("a.toml"), dir_.Sub("a.log"));
    p.Start();
    const int port = p.AdminPort();
    ASSERT_GT(port, 0) << p.LogTail();
    std::string status;
    for (int i = 0; i < 300; ++i) {
      status = testing::HttpGetBody(port, "/status");
      if (status.find("binlog_row_metadata") != std::string::npos) break;
      SleepMs(50);
    }
    EXPECT_NE(status.find("binlog_row_metadata=" + setting), std::string::npos) << status;
    EXPECT_NE(status.find("SET GLOBAL binlog_row_metadata=FULL"), std::string::npos) << status;
    EXPECT_NE(status.find("my.cnf"), std::string::npos) << status;
    EXPECT_NE(status.find("column_names"), std::string::npos) << status;
    EXPECT_EQ(JsonField(status, "high_watermark"), "0") << status;
    ASSERT_TRUE(p.Terminate());
  }

  config_.data_dir = dir_.Sub("data2");
  WriteConfig(dir_.Sub("b.toml"), config_);
  // column_names belongs to the [[destination]] table.
  std::string text = FileText(dir_.Sub("b.toml"));
  const size_t at = text.find("parse_threads = 2\n");
  ASSERT_NE(at, std::string::npos);
  text.insert(at, "column_names = \"positions\"\n");
  {
    std::ofstream out(dir_.Sub("b.toml"), std::ios::trunc);
    out << text;
  }
  auto count = db_->Query("SELECT COUNT(*) + 1 FROM shop.t");  // 3 inserts + 1 update
  ASSERT_TRUE(count.ok());
  const size_t want_rows = std::stoul(*(*count)[0][0]);
  Sluiced p(dir_.Sub("b.toml"), dir_.Sub("b.log"));
  p.Start();
  const int port = p.AdminPort();
  ASSERT_GT(port, 0) << p.LogTail();
  std::optional<double> without_names;
  for (int i = 0; i < 300; ++i) {
    without_names = Sample(testing::HttpGetBody(port, "/metrics"),
                           "sluice_records_without_names_total{dest=\"shop\"}");
    if (without_names && *without_names == static_cast<double>(want_rows)) break;
    SleepMs(50);
  }
  EXPECT_EQ(without_names, std::optional<double>(static_cast<double>(want_rows)));
  auto end = ServerEnd(db_.get());
  ASSERT_TRUE(end.ok());
  LogImage img = RunToEnd(&p, db_.get(), config_.data_dir, *end);
  size_t rows = 0;
  for (const auto& r : img.Parsed()) {
    if (r.op() != proto::OP_INSERT && r.op() != proto::OP_UPDATE) continue;
    ++rows;
    EXPECT_EQ(r.pk_size(), 0);
    for (const auto& c : r.after()) EXPECT_EQ(c.name(), "") << "a name the binlog does not hold";
  }
  EXPECT_EQ(rows, want_rows);
  EXPECT_NE(FileText(p.log_file()).find("binlog_row_metadata=MINIMAL"), std::string::npos);
}

}  // namespace
}  // namespace sluice::sluiced_test
