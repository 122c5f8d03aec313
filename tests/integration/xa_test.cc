// XA transactions through sluiced on a real MariaDB: rows enter the log at
// XA COMMIT (as one transaction at that position), never at XA PREPARE; XA
// ROLLBACK leaves nothing; XA ... ONE PHASE is an ordinary transaction; a
// prepared transaction survives a kill -9 of sluiced between its PREPARE
// and its COMMIT, once. The expected rows come from the server's SELECT and
// from the workload's own order of commits, never from our output.
#include <gtest/gtest.h>

#include <set>

#include "proto/record_json.h"
#include "tests/integration/sluiced_harness.h"
#include "tests/support/http_get.h"

namespace sluice::sluiced_test {
namespace {

// Prepares XA transaction `xid` inserting `ids` on a connection of its own,
// which then goes away: the transaction stays prepared on the server.
std::string PrepareSql(const std::string& xid, const std::vector<int>& ids) {
  std::string sql = "XA START '" + xid + "'; INSERT INTO t VALUES ";
  for (size_t i = 0; i < ids.size(); ++i) {
    sql += (i ? ", (" : "(") + std::to_string(ids[i]) + ", '" + xid + "')";
  }
  return sql + "; XA END '" + xid + "'; XA PREPARE '" + xid + "'";
}

class XaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = MariaDb::Start();
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(db_->Execute("CREATE DATABASE shop; USE shop; "
                             "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))")
                    .ok());
    config_.data_dir = dir_.Sub("data");
    config_.source = db_->ReplUrl();
    config_.server_id = 7301;
    config_.admin_listen = "127.0.0.1:0";
    WriteConfig(dir_.Sub("sluiced.toml"), config_);
  }

  void Exec(const std::string& sql) {
    Status st = db_->Execute(sql);
    ASSERT_TRUE(st.ok()) << sql << ": " << st.ToString();
  }
  void Prepare(const std::string& xid, const std::vector<int>& ids) {
    Status st = db_->ExecuteDetached("USE shop; " + PrepareSql(xid, ids));
    ASSERT_TRUE(st.ok()) << st.ToString();
    // The server detaches the transaction from the closed connection on
    // its own time: until XA RECOVER lists it, XA COMMIT does not know it.
    for (int i = 0; i < 500; ++i) {
      auto rows = db_->Query("XA RECOVER");
      ASSERT_TRUE(rows.ok()) << rows.status().ToString();
      for (const auto& r : *rows) {
        if (r.size() >= 4 && r[3] && *r[3] == xid) return;
      }
      SleepMs(10);
    }
    FAIL() << "XA RECOVER never listed " << xid;
  }
  // XA COMMIT / XA ROLLBACK of a detached transaction: the server may
  // still be detaching it from its closed connection (XAER_NOTA until then).
  void Complete(const std::string& sql) {
    Status st;
    for (int i = 0; i < 500; ++i) {
      st = db_->Execute(sql);
      if (st.ok() || st.ToString().find("1397") == std::string::npos) break;
      SleepMs(10);
    }
    ASSERT_TRUE(st.ok()) << sql << ": " << st.ToString();
  }
  void Insert(int id) { Exec("INSERT INTO shop.t VALUES (" + std::to_string(id) + ", 'plain')"); }

  // The ids of each row transaction of the log, in log order.
  static std::vector<std::vector<int>> Transactions(const LogImage& img) {
    std::vector<std::vector<int>> out;
    std::vector<int> open;
    for (const auto& r : img.Parsed()) {
      if (r.op() == proto::OP_INSERT) {
        for (const auto& c : r.after())
          if (c.name() == "id") open.push_back(static_cast<int>(c.value().int64()));
      }
      if (r.txn().last()) {
        if (!open.empty()) out.push_back(open);
        open.clear();
      }
    }
    return out;
  }

  // Polls /metrics until `series` has `value`.
  bool WaitMetric(int port, const std::string& series, double value) {
    for (int i = 0; i < 600; ++i) {
      auto v = Sample(testing::HttpGetBody(port, "/metrics"), series);
      if (v && *v == value) return true;
      SleepMs(50);
    }
    return false;
  }

  testing::TempDir dir_;
  std::unique_ptr<MariaDb> db_;
  SluicedConfig config_;
};

TEST_F(XaTest, RowsEnterTheLogAtCommitAndSurviveAKill) {
  Sluiced p(dir_.Sub("sluiced.toml"), dir_.Sub("sluiced.log"));
  p.Start();
  const int port = p.AdminPort();
  ASSERT_GT(port, 0) << p.LogTail();
  const std::string pending = "sluice_xa_pending{dest=\"shop\"}";

  // XA commit, with an ordinary transaction between PREPARE and COMMIT.
  Prepare("c1", {1, 2});
  Insert(3);
  Complete("XA COMMIT 'c1'");
  // XA rollback: rows 4, 5 never existed.
  Prepare("r1", {4, 5});
  Insert(6);
  Complete("XA ROLLBACK 'r1'");
  // Two XA transactions interleaved with ordinary ones, committed in the
  // other order than they were prepared.
  Prepare("a", {10, 11});
  Prepare("b", {20});
  Insert(21);
  Complete("XA COMMIT 'b'");
  Insert(22);
  Complete("XA COMMIT 'a'");
  // Two prepared at once whose xids share a prefix (gtrid 'p', bqual '' and
  // 'q'), committed one after the other.
  Prepare("p", {50});
  Status st = db_->ExecuteDetached(
      "USE shop; XA START 'p','q'; INSERT INTO t VALUES (51, 'pq'); XA END 'p','q'; "
      "XA PREPARE 'p','q'");
  ASSERT_TRUE(st.ok()) << st.ToString();
  Complete("XA COMMIT 'p'");
  Complete("XA COMMIT 'p','q'");
  // One phase: an ordinary transaction.
  Exec(
      "USE shop; XA START 'o'; INSERT INTO t VALUES (30, 'o'); XA END 'o'; "
      "XA COMMIT 'o' ONE PHASE");

  // Prepared, then sluiced dies, then the commit (and a rollback) come.
  Prepare("k1", {40, 41});
  Prepare("k2", {42});
  ASSERT_TRUE(WaitMetric(port, pending, 2)) << p.LogTail();
  auto age = Sample(testing::HttpGetBody(port, "/metrics"),
                    "sluice_xa_oldest_pending_seconds{dest=\"shop\"}");
  ASSERT_TRUE(age.has_value());
  EXPECT_GE(*age, 0);
  EXPECT_LT(*age, 600);
  p.Kill();
  const size_t log_before = FileText(p.log_file()).size();
  p.Start();
  const int port2 = p.AdminPort(log_before);
  ASSERT_GT(port2, 0) << p.LogTail();
  ASSERT_TRUE(WaitMetric(port2, pending, 2)) << "the prepared transactions did not survive:\n"
                                             << p.LogTail();
  Insert(43);
  Complete("XA COMMIT 'k1'");
  Complete("XA ROLLBACK 'k2'");
  Insert(44);

  LogImage img = RunToEnd(&p, db_.get(), config_.data_dir, *ServerEnd(db_.get()));
  ASSERT_TRUE(Reached(img, *ServerEnd(db_.get())));

  // The log's row transactions are the source's commits, in commit order.
  const std::vector<std::vector<int>> want = {{3},  {1, 2}, {6},  {21}, {20},     {22}, {10, 11},
                                              {50}, {51},   {30}, {43}, {40, 41}, {44}};
  EXPECT_EQ(Transactions(img), want);
  // And the replayed table equals the source's.
  auto recs = img.Parsed();
  ExpectTablesEqualReplay(db_.get(), "shop", recs);
  std::set<int> in_log;
  for (const auto& tx : Transactions(img)) in_log.insert(tx.begin(), tx.end());
  auto rows = db_->Query("SELECT id FROM shop.t ORDER BY id");
  ASSERT_TRUE(rows.ok());
  std::set<int> in_source;
  for (const auto& r : *rows) in_source.insert(std::stoi(*r[0]));
  EXPECT_EQ(in_log, in_source);
  // Nothing pending once every outcome is read; the kill repeated nothing:
  // the log equals a one-pass ingest of the same binlog.
  LogImage ref = IngestFiles(db_.get(), config_.chunk_records);
  if (getenv("XA_DEBUG")) {
    for (auto& r : img.Parsed()) std::printf("GOT %s\n", RecordToJson(r).c_str());
    for (auto& r : ref.Parsed()) std::printf("REF %s\n", RecordToJson(r).c_str());
  }
  ExpectSameLog(img, ref);
}

// An XA COMMIT whose PREPARE lies before where the destination started is
// an error record, not a silent nothing.
TEST_F(XaTest, CommitOfAnUnseenPrepareIsAnErrorRecord) {
  Prepare("early", {1});
  auto end = ServerEnd(db_.get());
  ASSERT_TRUE(end.ok());
  config_.start = end->file + ":" + std::to_string(end->pos);  // after the PREPARE
  WriteConfig(dir_.Sub("sluiced.toml"), config_);
  Complete("XA COMMIT 'early'");
  Insert(2);
  Sluiced p(dir_.Sub("sluiced.toml"), dir_.Sub("sluiced.log"));
  LogImage img = RunToEnd(&p, db_.get(), config_.data_dir, *ServerEnd(db_.get()));
  auto recs = img.Parsed();
  ASSERT_GE(recs.size(), 2u);
  EXPECT_EQ(recs[0].op(), proto::OP_ERROR);
  EXPECT_EQ(recs[0].error().kind(), proto::CaptureError::XA_NOT_PREPARED);
  EXPECT_NE(recs[0].sql().find("XA COMMIT"), std::string::npos) << recs[0].sql();
  EXPECT_EQ(Transactions(img), (std::vector<std::vector<int>>{{2}}));
}

}  // namespace
}  // namespace sluice::sluiced_test
