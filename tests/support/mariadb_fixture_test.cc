// The throwaway MariaDB works: rows round-trip, the binary log is on disk,
// data survives Restart(), and 'repl' can log in over TCP.
#include "tests/support/mariadb_fixture.h"

#include <filesystem>

#include <gtest/gtest.h>
#include <mysql.h>

namespace sluice::testing {
namespace {

// Logs in as user/password over TCP and runs `SELECT CURRENT_USER()`.
Result<std::string> LoginAs(const MariaDb& db, const char* user, const char* password) {
  MYSQL* m = mysql_init(nullptr);
  unsigned int timeout = 10, protocol = MYSQL_PROTOCOL_TCP;
  mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
  mysql_optionsv(m, MYSQL_OPT_PROTOCOL, &protocol);
  Result<std::string> out = Status::Internal("no result");
  if (mysql_real_connect(m, db.host().c_str(), user, password, nullptr,
                         static_cast<unsigned>(db.port()), nullptr, 0) == nullptr) {
    out = Status::Unavailable(mysql_error(m));
  } else if (mysql_query(m, "SELECT CURRENT_USER()") != 0) {
    out = Status::Internal(mysql_error(m));
  } else if (MYSQL_RES* res = mysql_store_result(m)) {
    MYSQL_ROW row = mysql_fetch_row(res);
    out = std::string(row && row[0] ? row[0] : "");
    mysql_free_result(res);
  }
  mysql_close(m);
  return out;
}

TEST(MariaDbFixture, StartsQueriesRestartsAndHasTheReplUser) {
  auto started = MariaDb::Start();
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  MariaDb& db = **started;
  EXPECT_EQ(db.host(), "127.0.0.1");
  EXPECT_GT(db.port(), 0);
  EXPECT_EQ(db.ReplUrl(), "mysql://repl:replpw@127.0.0.1:" + std::to_string(db.port()));

  ASSERT_TRUE(db.Execute("CREATE DATABASE shop;"
                         "CREATE TABLE shop.t (id INT PRIMARY KEY, v VARBINARY(16) NULL);"
                         "INSERT INTO shop.t VALUES (1, 'a'), (2, NULL), (3, x'610062')")
                  .ok());
  auto rows = db.Query("SELECT id, v FROM shop.t ORDER BY id");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0][0], "1");
  EXPECT_EQ((*rows)[0][1], "a");
  EXPECT_EQ((*rows)[1][1], std::nullopt);
  EXPECT_EQ((*rows)[2][1], std::string("a\0b", 3));  // embedded 0x00 kept

  Status bad = db.Execute("SELECT * FROM shop.missing");
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("doesn't exist"), std::string::npos) << bad.ToString();
  EXPECT_TRUE(db.Query("SELECT 1").ok());  // the connection is still usable

  auto files = db.BinlogFiles();
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  ASSERT_FALSE(files->empty());
  for (const auto& f : *files) EXPECT_TRUE(std::filesystem::exists(f)) << f;

  auto format = db.Query("SELECT @@binlog_format, @@binlog_row_metadata, @@binlog_row_image");
  ASSERT_TRUE(format.ok());
  EXPECT_EQ((*format)[0][0], "ROW");
  EXPECT_EQ((*format)[0][1], "FULL");
  EXPECT_EQ((*format)[0][2], "FULL");

  auto anonymous = db.Query("SELECT COUNT(*) FROM mysql.user WHERE User=''");
  ASSERT_TRUE(anonymous.ok());
  EXPECT_EQ((*anonymous)[0][0], "0");
  auto repl = LoginAs(db, MariaDb::kReplUser, MariaDb::kReplPassword);
  ASSERT_TRUE(repl.ok()) << repl.status().ToString();
  EXPECT_EQ(*repl, "repl@%");
  EXPECT_FALSE(LoginAs(db, MariaDb::kReplUser, "wrong").ok());

  const int port = db.port();
  ASSERT_TRUE(db.Restart().ok());
  EXPECT_EQ(db.port(), port);
  rows = db.Query("SELECT COUNT(*) FROM shop.t");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ((*rows)[0][0], "3");
  auto after = db.BinlogFiles();
  ASSERT_TRUE(after.ok());
  EXPECT_GT(after->size(), files->size());  // a restart opens a new binlog file

  ASSERT_TRUE(db.Stop().ok());
  EXPECT_FALSE(db.Query("SELECT 1").ok());
  EXPECT_TRUE(db.Stop().ok());  // idempotent
}

TEST(MariaDbFixture, HonoursRowOptions) {
  MariaDbOptions o;
  o.row_metadata = "MINIMAL";
  o.row_image = "MINIMAL";
  auto db = MariaDb::Start(o);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto rows = (*db)->Query("SELECT @@binlog_row_metadata, @@binlog_row_image");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ((*rows)[0][0], "MINIMAL");
  EXPECT_EQ((*rows)[0][1], "MINIMAL");
}

}  // namespace
}  // namespace sluice::testing
