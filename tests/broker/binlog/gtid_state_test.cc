// GtidState: the GTID state a checkpoint keeps, and the check a source
// failover makes (does the server have every transaction we stored?).
// Expected values follow the servers' documented semantics: MariaDB's
// @@gtid_binlog_state holds the last sequence number of each domain-server
// pair, and a GTID d-s-n is in a binlog whose state has d-s-m, m >= n
// (sequence numbers grow within a domain, MariaDB KB "GTID"); MySQL's
// @@gtid_executed is a set of uuid:interval lists and containment is set
// inclusion (MySQL manual, "GTID Sets").
#include "broker/binlog/gtid_state.h"

#include <gtest/gtest.h>

#include "broker/binlog/mysql_source.h"

namespace sluice::binlog {
namespace {

constexpr const char* kU1 = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
constexpr const char* kU2 = "4e11fa47-71ca-11e1-9e33-c80aa9429562";

std::string U(const char* uuid, const std::string& rest) { return std::string(uuid) + rest; }

GtidState ParseOrDie(const std::string& s) {
  auto g = GtidState::Parse(s);
  EXPECT_TRUE(g.ok()) << s << ": " << g.status().ToString();
  return g.ok() ? *g : GtidState{};
}

TEST(GtidState, MariaDbKeepsTheLastOfEachDomain) {
  GtidState g;
  ASSERT_TRUE(g.Add("0-1-5").ok());
  ASSERT_TRUE(g.Add("1-2-3").ok());
  ASSERT_TRUE(g.Add("0-2-6").ok());  // a failover: domain 0 goes on at server 2
  EXPECT_EQ(g.ToString(), "0-2-6,1-2-3");
  EXPECT_TRUE(g.is_mariadb());
  EXPECT_EQ(ParseOrDie(" 0-2-6, 1-2-3\n").ToString(), "0-2-6,1-2-3");
  EXPECT_FALSE(g.Add("0-1").ok());
  EXPECT_FALSE(GtidState::Parse("0-1-x").ok());
}

TEST(GtidState, MySqlMergesIntervals) {
  GtidState g;
  for (int n : {1, 2, 3, 7, 5, 6}) ASSERT_TRUE(g.Add(U(kU1, ":" + std::to_string(n))).ok());
  EXPECT_EQ(g.ToString(), U(kU1, ":1-3:5-7"));
  ASSERT_TRUE(g.Add(U(kU1, ":4")).ok());
  EXPECT_EQ(g.ToString(), U(kU1, ":1-7"));
  // SHOW MASTER STATUS writes ",\n" between uuids.
  EXPECT_EQ(ParseOrDie(U(kU2, ":1-3,\n") + U(kU1, ":1-2:4")).ToString(),
            U(kU1, ":1-2:4,") + U(kU2, ":1-3"));
  EXPECT_FALSE(GtidState::Parse(U(kU1, ":5-3")).ok());
  EXPECT_FALSE(GtidState::Parse(U(kU1, ":0")).ok());
  EXPECT_FALSE(g.Add(U(kU1, ":0")).ok());
}

TEST(GtidState, MySqlUuidsInLowerCaseTagsAndTheGnoLimit) {
  const std::string upper = "3E11FA47-71CA-11E1-9E33-C80AA9429562";
  GtidState g;
  ASSERT_TRUE(g.Add(upper + ":5").ok());
  ASSERT_TRUE(g.Add(U(kU1, ":6")).ok());
  EXPECT_EQ(g.ToString(), U(kU1, ":5-6"));  // one uuid, as the server prints it
  // MySQL 8.4 tags: "uuid:1-5:tag:1-3" (Gtid_set::to_string), and a
  // tagged GTID from the decoder.
  GtidState t = ParseOrDie(U(kU1, ":1-5:Alpha:1-3"));
  ASSERT_TRUE(t.Add(U(kU1, ":alpha:4")).ok());
  EXPECT_EQ(t.ToString(), U(kU1, ":1-5,") + U(kU1, ":alpha:1-4"));
  EXPECT_EQ(ParseOrDie(t.ToString()).ToString(), t.ToString());
  EXPECT_EQ(*t.MissingFrom(U(kU1, ":1-5:alpha:1-4")), "");
  EXPECT_EQ(*t.MissingFrom(U(kU1, ":1-5:alpha:1-2")), U(kU1, ":alpha:3-4"));
  // GNOs are below 2^63 (MySQL's Gtid_event).
  EXPECT_TRUE(g.Add(U(kU1, ":9223372036854775807")).ok());
  EXPECT_FALSE(g.Add(U(kU1, ":9223372036854775808")).ok());
  EXPECT_FALSE(GtidState::Parse(U(kU1, ":1-18446744073709551615")).ok());
}

TEST(GtidStateMissingFrom, MariaDbServerThatHasEverything) {
  GtidState ours = ParseOrDie("0-1-100,1-3-7");
  // A promoted replica: the old primary's GTIDs, then its own.
  auto m = ours.MissingFrom("0-1-100,0-2-130,1-3-9");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(*m, "");
  EXPECT_EQ(*GtidState().MissingFrom(""), "");
  EXPECT_EQ(*GtidState().MissingFrom("0-1-4"), "");
}

TEST(GtidStateMissingFrom, MariaDbServerBehindNamesTheRange) {
  GtidState ours = ParseOrDie("0-1-100");
  auto m = ours.MissingFrom("0-1-90");
  ASSERT_TRUE(m.ok());
  EXPECT_NE(m->find("0-1-91 .. 0-1-100"), std::string::npos) << *m;
  EXPECT_NE(m->find("10 transaction(s)"), std::string::npos) << *m;
  EXPECT_NE(m->find("behind"), std::string::npos) << *m;
  m = ours.MissingFrom("0-1-99");
  EXPECT_NE(m->find("0-1-100 (1 transaction(s)"), std::string::npos) << *m;
}

TEST(GtidStateMissingFrom, MariaDbServerThatDiverged) {
  // The server's domain 0 went past our 0-1-100 without it: another
  // server wrote seq 100 there.
  GtidState ours = ParseOrDie("0-1-100");
  auto m = ours.MissingFrom("0-1-99,0-2-120");
  ASSERT_TRUE(m.ok());
  EXPECT_NE(m->find("0-1-100"), std::string::npos) << *m;
  EXPECT_NE(m->find("diverged"), std::string::npos) << *m;
  EXPECT_NE(m->find("0-2-120"), std::string::npos) << *m;
}

// A replica without log_slave_updates, promoted: its binlog lacks the old
// primary's transactions, but its @@gtid_slave_pos is exactly our last
// GTID, and MariaDB serves a dump from there (sql_repl.cc,
// check_slave_start_position: START_OWN_SLAVE_POS). One past it is missing.
TEST(GtidStateMissingFrom, MariaDbServerAtOurPositionByItsSlavePos) {
  GtidState ours = ParseOrDie("0-1-100");
  EXPECT_EQ(*ours.MissingFrom("0-2-3", "0-1-100"), "");
  EXPECT_NE(ours.MissingFrom("0-2-3", "0-1-99")->find("0-1-100"), std::string::npos);
  EXPECT_NE(ours.MissingFrom("0-2-3", "0-1-101")->find("0-1-100"), std::string::npos);
}

TEST(GtidStateMissingFrom, MariaDbDomainTheServerNeverHad) {
  GtidState ours = ParseOrDie("0-1-10,5-1-2");
  auto m = ours.MissingFrom("0-1-10");
  ASSERT_TRUE(m.ok());
  EXPECT_NE(m->find("domain 5"), std::string::npos) << *m;
  EXPECT_EQ(m->find("domain 0"), std::string::npos) << *m;
}

TEST(GtidStateMissingFrom, MySqlIsSetDifference) {
  GtidState ours = ParseOrDie(U(kU1, ":1-100,") + U(kU2, ":1-5"));
  EXPECT_EQ(*ours.MissingFrom(U(kU1, ":1-120,") + U(kU2, ":1-5:9")), "");
  // Behind on kU1, a hole in kU2's, and kU2 partly absent.
  auto m = ours.MissingFrom(U(kU1, ":1-90,") + U(kU2, ":1-2:4"));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(*m, U(kU1, ":91-100,") + U(kU2, ":3:5"));
  m = ours.MissingFrom("");
  EXPECT_EQ(*m, U(kU1, ":1-100,") + U(kU2, ":1-5"));
  m = ours.MissingFrom(U(kU1, ":10-20:50-60"));
  EXPECT_EQ(*m, U(kU1, ":1-9:21-49:61-100,") + U(kU2, ":1-5"));
}

TEST(GtidStateMissingFrom, RefusesAServerStateThatDoesNotParse) {
  EXPECT_EQ(ParseOrDie("0-1-1").MissingFrom("0-1").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ParseOrDie("0-1-1").MissingFrom(U(kU1, ":5-3")).status().code(),
            Code::kInvalidArgument);
}

// Rows as MySQL 8.0's SHOW BINLOG EVENTS prints them (Log_name, Pos,
// Event_type, Server_id, End_log_pos, Info): a file that starts after
// kU1:1-10 was executed, then two transactions.
std::vector<std::vector<std::optional<std::string>>> Rows() {
  auto row = [](const char* pos, const char* type, const char* end, std::string info) {
    return std::vector<std::optional<std::string>>{"binlog.000002", pos, type, "1", end, info};
  };
  return {
      row("4", "Format_desc", "126", "Server ver: 8.0.36, Binlog ver: 4"),
      row("126", "Previous_gtids", "197", U(kU1, ":1-10")),
      row("197", "Gtid", "276", "SET @@SESSION.GTID_NEXT= '" + U(kU1, ":11") + "'"),
      row("276", "Query", "351", "BEGIN"),
      row("351", "Xid", "382", "COMMIT /* xid=9 */"),
      row("382", "Gtid", "461", "SET @@SESSION.GTID_NEXT= '" + U(kU2, ":1") + "'"),
      row("461", "Query", "536", "BEGIN"),
      row("536", "Xid", "567", "COMMIT /* xid=12 */"),
  };
}

TEST(MysqlGtidScan, StateAtAPositionIsPreviousGtidsPlusTheGtidsBeforeIt) {
  struct Case {
    uint64_t pos;
    std::string want;
    bool done;
  } cases[] = {
      {4, U(kU1, ":1-10"), true},  // the file's start: its Previous_gtids
      {382, U(kU1, ":1-11"), true},
      {567, U(kU1, ":1-11,") + U(kU2, ":1"), false},  // the end: more pages may follow
  };
  for (const auto& c : cases) {
    GtidState state;
    bool done = false;
    uint64_t next = 0;
    ASSERT_TRUE(AddMysqlGtidsFromEvents(Rows(), c.pos, &state, &done, &next).ok());
    EXPECT_EQ(state.ToString(), c.want) << "at " << c.pos;
    EXPECT_EQ(done, c.done) << "at " << c.pos;
    if (!c.done) {
      EXPECT_EQ(next, 567u);
    }
  }
  auto bad = Rows();
  bad[2][5] = "SET @@SESSION.GTID_NEXT= nothing";
  GtidState state;
  bool done = false;
  uint64_t next = 0;
  EXPECT_FALSE(AddMysqlGtidsFromEvents(bad, 567, &state, &done, &next).ok());
  bad = Rows();
  bad[3][1] = std::nullopt;
  EXPECT_FALSE(AddMysqlGtidsFromEvents(bad, 567, &state, &done, &next).ok());
}

TEST(MysqlUrlHosts, SeveralHostsInOrder) {
  auto o = ParseMysqlUrl("mysql://u:p@db1:3307,[::1],db3?ssl-mode=disabled");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  ASSERT_EQ(o->hosts.size(), 3u);
  EXPECT_EQ(o->hosts[0].host, "db1");
  EXPECT_EQ(o->hosts[0].port, 3307);
  EXPECT_EQ(o->hosts[1].host, "::1");
  EXPECT_EQ(o->hosts[1].port, 3306);
  EXPECT_EQ(o->hosts[2].host, "db3");
  EXPECT_EQ(o->host, "db1");
  EXPECT_EQ(o->port, 3307);
  EXPECT_EQ(o->ssl_mode, SslMode::kDisabled);
  for (const char* bad : {"mysql://u:p@db1,,db2", "mysql://u:p@db1,", "mysql://u:p@db1:1,db1:1",
                          "mysql://u:p@db1,db2:0"}) {
    EXPECT_EQ(ParseMysqlUrl(bad).status().code(), Code::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace sluice::binlog
