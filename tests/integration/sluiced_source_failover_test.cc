// Source failover, the refusal (docs/operations.md, "Source failover"):
// sluiced, given a primary and its replica as the source's hosts, must not
// go on from a replica that lacks transactions it already stored: with
// asynchronous replication a replica can be behind when its primary dies,
// and reading from it would leave a gap. Real parts: two MariaDB servers
// with GTID replication, the built sluiced. The transactions the replica
// lacks are computed from the two servers' own @@gtid_binlog_pos.
//
// The other half, following a replica that has them, is
// InvariantTest.TargetEqualsSourceAcrossASourceFailover.
#include "tests/integration/sluiced_harness.h"
#include "tests/support/http_get.h"

namespace sluice::sluiced_test {
namespace {

std::string GtidPos(MariaDb* db) {
  auto r = db->Query("SELECT @@global.gtid_binlog_pos");
  EXPECT_TRUE(r.ok() && !r->empty() && (*r)[0][0]) << r.status().ToString();
  return r.ok() && !r->empty() && (*r)[0][0] ? *(*r)[0][0] : "";
}

uint64_t Seq(const std::string& gtid) { return std::stoull(gtid.substr(gtid.rfind('-') + 1)); }

TEST(SluicedSourceFailover, AReplicaBehindIsRefusedNamingWhatItLacksThenThePrimaryIsFollowed) {
  testing::TempDir dir;
  auto p = MariaDb::Start();
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  MariaDb* primary = p->get();
  testing::MariaDbOptions ro;
  ro.extra_args = {"--server-id=2", "--log-slave-updates"};
  auto r = MariaDb::Start(ro);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  MariaDb* replica = r->get();
  ASSERT_TRUE(replica->Execute("CREATE DATABASE shop").ok());
  Status st = replica->ReplicateFrom(*primary);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_TRUE(
      primary->Execute("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY)").ok());
  auto waited = replica->Query("SELECT MASTER_GTID_WAIT('" + GtidPos(primary) + "', 60)");
  ASSERT_TRUE(waited.ok() && (*waited)[0][0].value_or("") == "0");
  // The replica stops applying: from here on it falls behind.
  ASSERT_TRUE(replica->Execute("STOP SLAVE").ok());
  const std::string replica_pos = GtidPos(replica);

  SluicedConfig c;
  c.data_dir = dir.Sub("data");
  c.source = "mysql://repl:replpw@127.0.0.1:" + std::to_string(primary->port()) +
             ",127.0.0.1:" + std::to_string(replica->port());
  c.server_id = 7301;
  c.admin_listen = "127.0.0.1:0";
  WriteConfig(dir.Sub("sluiced.toml"), c);
  Sluiced proc(dir.Sub("sluiced.toml"), dir.Sub("sluiced.log"));
  proc.Start();
  const int port = proc.AdminPort();
  ASSERT_GT(port, 0) << proc.LogTail();
  auto status = [&] { return testing::HttpGetBody(port, "/status"); };
  auto wait_gtid = [&](const std::string& want) {
    for (int i = 0; i < 600; ++i) {
      if (JsonField(status(), "gtid_set") == "\"" + want + "\"") return true;
      SleepMs(50);
    }
    return false;
  };

  for (int i = 1; i <= 10; ++i) {
    ASSERT_TRUE(primary->Execute("INSERT INTO shop.t VALUES (" + std::to_string(i) + ")").ok());
  }
  const std::string stored = GtidPos(primary);
  ASSERT_TRUE(wait_gtid(stored)) << status() << "\n" << proc.LogTail();

  // The primary dies. The replica lacks what sluiced stored after
  // replica_pos: refused, and nothing is read from it.
  ASSERT_TRUE(primary->Kill().ok());
  const std::string first_missing = "0-1-" + std::to_string(Seq(replica_pos) + 1);
  const std::string want = first_missing + " .. " + stored;
  std::string last;
  for (int i = 0; i < 600; ++i) {
    last = status();
    if (last.find(want) != std::string::npos) break;
    SleepMs(50);
  }
  EXPECT_NE(last.find(want), std::string::npos) << last << "\n" << proc.LogTail();
  EXPECT_NE(last.find("lacks transactions this destination already stored"), std::string::npos);
  EXPECT_NE(proc.LogTail(20000).find(want), std::string::npos) << proc.LogTail();
  SleepMs(1500);
  EXPECT_EQ(JsonField(status(), "gtid_set"), "\"" + stored + "\"") << "it read from the replica";

  // The primary comes back: sluiced goes on from it, and every row once.
  ASSERT_TRUE(primary->Restart().ok());
  for (int i = 11; i <= 15; ++i) {
    ASSERT_TRUE(primary->Execute("INSERT INTO shop.t VALUES (" + std::to_string(i) + ")").ok());
  }
  const std::string end = GtidPos(primary);
  ASSERT_TRUE(wait_gtid(end)) << status() << "\n" << proc.LogTail();
  ASSERT_TRUE(proc.Terminate()) << proc.LogTail();

  auto img = ReadLog(DestPath(c.data_dir));
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  std::vector<int> ids;
  for (const auto& rec : img->Parsed()) {
    if (rec.op() != proto::OP_INSERT) continue;
    for (const auto& col : rec.after()) {
      if (col.name() == "id") ids.push_back(static_cast<int>(col.value().int64()));
    }
  }
  std::vector<int> want_ids(15);
  for (int i = 0; i < 15; ++i) want_ids[i] = i + 1;
  EXPECT_EQ(ids, want_ids);
}

}  // namespace
}  // namespace sluice::sluiced_test
