// MysqlSource with several hosts and GTID starts, against throwaway MariaDB
// servers: which host it reads, the GTID state it reports for a start, and
// the refusal of a server that lacks transactions we stored. Expected
// values are the server's own (@@gtid_binlog_pos read when a position was
// taken), not ours.

#include <gtest/gtest.h>

#include "broker/binlog/mysql_source.h"
#include "tests/support/consumer_fixture.h"
#include "tests/support/mariadb_fixture.h"

namespace sluice::binlog {
namespace {

using testing::MariaDb;

class SourceHostsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = MariaDb::Start();
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(
        db_->Execute("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY)").ok());
    Insert(5);
  }

  void Insert(int n) {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(db_->Execute("INSERT INTO shop.t VALUES (" + std::to_string(next_++) + ")").ok());
    }
  }
  std::string Var(const std::string& sql) {
    auto r = db_->Query(sql);
    EXPECT_TRUE(r.ok() && !r->empty() && (*r)[0][0]) << sql;
    return r.ok() && !r->empty() && (*r)[0][0] ? *(*r)[0][0] : "";
  }
  // "mysql://repl:replpw@127.0.0.1:DEAD,127.0.0.1:PORT": a host that is
  // down first, the server second.
  MysqlSourceOptions Options(const std::string& start, bool dead_first = true) {
    std::string url = "mysql://repl:replpw@";
    if (dead_first) url += "127.0.0.1:" + std::to_string(testing::FreePort()) + ",";
    url += "127.0.0.1:" + std::to_string(db_->port());
    auto o = ParseMysqlUrl(url);
    EXPECT_TRUE(o.ok()) << o.status().ToString();
    o->server_id = 4401;
    o->connect_timeout = std::chrono::seconds(2);
    auto s = MysqlStart::Parse(start);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    o->start = *s;
    return *o;
  }

  std::unique_ptr<MariaDb> db_;
  int next_ = 1;
};

TEST_F(SourceHostsTest, ADownFirstHostIsPassedAndTheStartStateIsTheServers) {
  // A transaction boundary and the server's GTID position there.
  auto status = db_->Query("SHOW MASTER STATUS");
  ASSERT_TRUE(status.ok() && !status->empty());
  const std::string at = *(*status)[0][0] + ":" + *(*status)[0][1];
  const std::string gtid_at = Var("SELECT @@global.gtid_binlog_pos");
  ASSERT_FALSE(gtid_at.empty());
  Insert(3);

  auto src = MysqlSource::Open(Options(at));
  // FILE:POS is one server's position: only the first host may serve it.
  ASSERT_EQ(src.status().code(), Code::kUnavailable) << src.status().ToString();
  EXPECT_NE(src.status().message().find("the other hosts were not tried"), std::string::npos)
      << src.status().ToString();

  src = MysqlSource::Open(Options(at, /*dead_first=*/false));
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  ASSERT_TRUE((*src)->start_gtid_state().has_value());
  EXPECT_EQ(*(*src)->start_gtid_state(), gtid_at);

  // "latest" and a GTID start go to the next host.
  src = MysqlSource::Open(Options("latest"));
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  EXPECT_EQ((*src)->server(), "127.0.0.1:" + std::to_string(db_->port()));
  EXPECT_EQ((*src)->start_gtid_state().value_or("?"), Var("SELECT @@global.gtid_binlog_pos"));
  src = MysqlSource::Open(Options(gtid_at));
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  EXPECT_EQ((*src)->start_gtid_state().value_or("?"), gtid_at);
  // It reads on after gtid_at: the first row event is of the 3 inserted
  // after it (id 6).
  for (int i = 0; i < 100; ++i) {
    RawEvent e;
    ASSERT_TRUE((*src)->Next(&e).ok());
    if (e.bytes.size() > 19 && (e.bytes[4] == 23 || e.bytes[4] == 30)) {
      const std::string_view body = e.bytes.substr(e.bytes.size() - 8, 4);
      EXPECT_EQ(static_cast<uint8_t>(body[0]), 6) << "the first row after " << gtid_at;
      break;
    }
  }
}

TEST_F(SourceHostsTest, AServerBehindOrDivergedIsRefusedNamingTheMissingGtids) {
  const std::string pos = Var("SELECT @@global.gtid_binlog_pos");  // "0-1-N"
  const uint64_t n = std::stoull(pos.substr(pos.rfind('-') + 1));
  const std::string ahead = "0-1-" + std::to_string(n + 5);
  auto src = MysqlSource::Open(Options(ahead, /*dead_first=*/false));
  ASSERT_EQ(src.status().code(), Code::kFailedPrecondition) << src.status().ToString();
  const std::string msg = src.status().message();
  EXPECT_NE(msg.find("lacks transactions"), std::string::npos) << msg;
  EXPECT_NE(msg.find("0-1-" + std::to_string(n + 1) + " .. " + ahead), std::string::npos) << msg;
  EXPECT_NE(msg.find("behind"), std::string::npos) << msg;

  // Another server's seq 2 in domain 0: this one went past it.
  src = MysqlSource::Open(Options("0-9-2", /*dead_first=*/false));
  ASSERT_EQ(src.status().code(), Code::kFailedPrecondition) << src.status().ToString();
  EXPECT_NE(src.status().message().find("diverged"), std::string::npos) << src.status().ToString();

  // With a down host first, the error names both and is Unavailable (the
  // down one may come back).
  src = MysqlSource::Open(Options(ahead));
  ASSERT_EQ(src.status().code(), Code::kUnavailable) << src.status().ToString();
  EXPECT_NE(src.status().message().find("cannot connect"), std::string::npos);
  EXPECT_NE(src.status().message().find("lacks transactions"), std::string::npos);
}

}  // namespace
}  // namespace sluice::binlog
