// `sluice apply` end to end, real parts only: a source MariaDB, a sluiced
// child reading its binlog (with a [server] consumer listener and a user),
// a second MariaDB as the target, and the built `sluice apply` binary as a
// child process, stopped (or SIGKILLed) by its pid. What the target holds
// is compared with what the source server itself returns: CHECKSUM TABLE
// and an ordered dump of every table.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <thread>

#include "broker/consumer/server.h"
#include "broker/consumer/service.h"
#include "client/consumer.h"
#include "proto/auth.h"
#include "tests/integration/apply_proc.h"
#include "tests/integration/sluiced_harness.h"
#include "tests/integration/type_workload.h"
#include "tests/support/consumer_fixture.h"
#include "tests/support/in_process_broker.h"
#include "tests/support/same_tables.h"

namespace sluice::sluiced_test {
namespace {

namespace tw = binlog::testing_workload;

class ApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto src = MariaDb::Start();
    ASSERT_TRUE(src.ok()) << src.status().ToString();
    source_ = std::move(*src);
    auto dst = MariaDb::Start();
    ASSERT_TRUE(dst.ok()) << dst.status().ToString();
    target_ = std::move(*dst);
    // The database exists on both sides before the log starts (the source's
    // CREATE DATABASE IF NOT EXISTS may or may not pass sluiced's filter).
    ASSERT_TRUE(source_->Execute("CREATE DATABASE IF NOT EXISTS shop").ok());
    ASSERT_TRUE(target_->Execute("CREATE DATABASE IF NOT EXISTS shop").ok());
    pw_file_ = dir_.Sub("reader.password");
    std::ofstream(pw_file_) << "applypw\n";
    SluicedConfig c;
    c.data_dir = dir_.Sub("data");
    c.source = source_->ReplUrl();
    c.server_id = 4242;
    fixed_port_ = FreePort();
    c.extra = "\n[server]\nlisten = \"127.0.0.1:" + std::to_string(fixed_port_) +
              "\"\n\n[[user]]\nname = \"reader\"\n"
              "password_file = \"" +
              pw_file_ + "\"\n";
    WriteConfig(dir_.Sub("sluiced.toml"), c);
    sluiced_ = std::make_unique<Sluiced>(dir_.Sub("sluiced.toml"), dir_.Sub("sluiced.log"));
    sluiced_->Start();
    port_ = sluiced_->ListenPort("consumer server");
    ASSERT_GT(port_, 0) << sluiced_->LogTail();
    ConsumerOptions o;
    o.brokers = {"127.0.0.1:" + std::to_string(port_)};
    o.user = "reader";
    o.password = "applypw";
    auto consumer = Consumer::Open(o);
    ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
    consumer_ = std::move(*consumer);
  }
  void TearDown() override {
    apply_.reset();
    if (sluiced_) sluiced_->Kill();
  }

  // A port nothing listens on now (sluiced keeps it across restarts).
  static int FreePort() { return testing::FreePort(); }

  std::vector<std::string> ApplyArgs() const {
    return {"--broker",        "127.0.0.1:" + std::to_string(port_),
            "--dest",          kDest,
            "--target",        "mysql://root:@127.0.0.1:" + std::to_string(target_->port()),
            "--user",          "reader",
            "--password-file", pw_file_};
  }
  void StartApply(std::vector<std::string> extra = {}) {
    if (!apply_) apply_ = std::make_unique<ApplyProc>(dir_.Sub("apply.err"));
    std::vector<std::string> args = ApplyArgs();
    args.insert(args.end(), extra.begin(), extra.end());
    apply_->Start(args);
  }

  void Run(const std::vector<std::string>& statements) {
    for (const auto& s : statements) ASSERT_TRUE(source_->Execute(s).ok()) << s;
  }

  // The destination's high watermark once sluiced has read the source to
  // its end; 0 on timeout.
  uint64_t CaughtUpHighWatermark() {
    auto end = ServerEnd(source_.get());
    EXPECT_TRUE(end.ok()) << end.status().ToString();
    if (!end.ok()) return 0;
    const std::string want = end->file + ":" + std::to_string(end->pos);
    for (int i = 0; i < 600; ++i) {
      auto st = consumer_->GetStatus();
      // The status reads the high watermark before the checkpoint: only a
      // high watermark at the log's end belongs with that checkpoint.
      if (st.ok() && st->destinations_size() == 1 && st->destinations(0).checkpoint() == want &&
          st->destinations(0).high_watermark() == st->destinations(0).committed_end()) {
        return st->destinations(0).high_watermark();
      }
      SleepMs(100);
    }
    ADD_FAILURE() << "sluiced did not reach " << want << "\n" << sluiced_->LogTail();
    return 0;
  }

  // The offset stored on the target (0 when none).
  uint64_t StoredOffset() {
    auto rows = target_->Query("SELECT next_offset FROM sluice_apply.offsets WHERE dest = 'shop'");
    if (!rows.ok() || rows->empty() || !(*rows)[0][0]) return 0;
    return std::stoull(*(*rows)[0][0]);
  }

  // Waits until apply has stored `hw` (apply must keep running).
  void WaitApplied(uint64_t hw, int seconds = 60) {
    for (int i = 0; i < seconds * 20; ++i) {
      if (StoredOffset() == hw) return;
      ASSERT_TRUE(apply_->running()) << "apply exited (" << apply_->Poll().value_or(-2) << "):\n"
                                     << apply_->err();
      SleepMs(50);
    }
    FAIL() << "apply stored " << StoredOffset() << ", not " << hw << "\n" << apply_->err();
  }

  void WaitAllApplied() {
    const uint64_t hw = CaughtUpHighWatermark();
    ASSERT_GT(hw, 0u);
    WaitApplied(hw);
  }

  // The oracle (tests/support/same_tables.h) over `shop`.
  void ExpectSameShop() { testing::ExpectSameTables(source_.get(), target_.get(), "shop"); }

  testing::TempDir dir_;
  std::unique_ptr<MariaDb> source_, target_;
  std::string pw_file_;
  std::unique_ptr<Sluiced> sluiced_;
  int port_ = 0;
  int fixed_port_ = 0;
  std::unique_ptr<Consumer> consumer_;
  std::unique_ptr<ApplyProc> apply_;
};

const char* kSession = "USE shop; SET NAMES utf8mb4; SET time_zone = '+00:00'; SET sql_mode = ''";

// (1) Inserts, updates (primary-key changes too), deletes and DDL across
// tables with every column type, a composite key and no key at all.
TEST_F(ApplyTest, WorkloadOfEveryKindEqualsTheSource) {
  StartApply();
  Run({kSession, tw::CreateTypesTableSql()});
  Run(tw::TypeWorkloadDml());
  Run(
      {"CREATE TABLE orders (id INT PRIMARY KEY, customer VARCHAR(40), amount DECIMAL(12,2), "
       "status ENUM('new','paid','shipped'), f FLOAT, created DATETIME(3))",
       "CREATE TABLE items (o INT, n INT, qty INT NOT NULL, PRIMARY KEY (o, n))",
       "CREATE TABLE nopk (a INT, b VARCHAR(10), c DOUBLE, t TEXT)",
       "INSERT INTO orders SELECT seq, CONCAT('c', seq), seq * 1.25, 1 + seq % 3, seq / 3, "
       "'2026-01-01 00:00:00.123' + INTERVAL seq MINUTE FROM seq_1_to_300",
       "INSERT INTO items SELECT seq % 50, seq, seq FROM seq_1_to_200",
       "INSERT INTO nopk VALUES (1, 'a', 1.5, NULL), (1, 'a', 1.5, NULL), (2, NULL, NULL, 'x'), "
       "(3, 'c', -0.25, '')",
       "BEGIN",
       "UPDATE orders SET status = 'paid', amount = amount + 1 WHERE id % 7 = 0",
       "UPDATE orders SET id = id + 1000 WHERE id BETWEEN 10 AND 20",
       "DELETE FROM orders WHERE id % 11 = 0",
       "COMMIT",
       "UPDATE items SET n = n + 1000 WHERE o = 3",  // composite key change
       "UPDATE nopk SET b = 'z' WHERE a = 1 LIMIT 1",
       "DELETE FROM nopk WHERE a = 2",
       "UPDATE nopk SET c = NULL WHERE a = 3",
       "ALTER TABLE orders ADD COLUMN note VARCHAR(20) DEFAULT 'n/a'",
       "UPDATE orders SET note = CONCAT('note ', id) WHERE id < 50",
       "CREATE TABLE gone (id INT PRIMARY KEY)",
       "INSERT INTO gone VALUES (1)",
       "DROP TABLE gone",
       "RENAME TABLE items TO line_items",
       "INSERT INTO line_items VALUES (99, 1, 1)",
       "UPDATE types SET g = ST_GeomFromText('POINT(1 2)'), f = 2.5 WHERE id = 2",
       "DELETE FROM types WHERE id = 1"});
  WaitAllApplied();
  ExpectSameShop();
  EXPECT_TRUE(apply_->Terminate()) << apply_->err();
}

// (2) apply SIGKILLed at random moments while a workload runs, and
// restarted: the target ends equal to the source, and a trigger on the
// target counts how many times each source transaction's counter update
// was applied there: exactly once each.
TEST_F(ApplyTest, KilledAtRandomMomentsAppliesEveryTransactionOnce) {
  Run({kSession, "CREATE TABLE counter (id INT PRIMARY KEY, c BIGINT NOT NULL)",
       "INSERT INTO counter VALUES (1, 0)",
       "CREATE TABLE events (id INT PRIMARY KEY, k INT, v VARCHAR(40), INDEX (k))"});
  StartApply();
  WaitAllApplied();
  // Target only: the trigger's count rolls back with an unapplied transaction.
  ASSERT_TRUE(target_
                  ->Execute("CREATE DATABASE audit; CREATE TABLE audit.hits (n BIGINT); "
                            "INSERT INTO audit.hits VALUES (0); "
                            "CREATE TRIGGER shop.counted AFTER UPDATE ON shop.counter FOR EACH "
                            "ROW UPDATE audit.hits SET n = n + 1")
                  .ok());
  std::atomic<bool> stop{false};
  std::atomic<int> txns{0};
  std::thread writer([&] {
    auto w = source_->Execute(kSession);
    int id = 0;
    while (!stop.load()) {
      std::string sql =
          "BEGIN; UPDATE counter SET c = c + 1 WHERE id = 1; INSERT INTO events VALUES ";
      for (int i = 0; i < 20; ++i) {
        ++id;
        sql += (i ? ",(" : "(") + std::to_string(id) + "," + std::to_string(id % 13) + ",'v" +
               std::to_string(id) + "')";
      }
      if (id % 60 == 0) sql += "; UPDATE events SET v = 'upd' WHERE k = " + std::to_string(id % 13);
      if (id % 100 == 0)
        sql += "; DELETE FROM events WHERE id % 17 = 0 AND id < " + std::to_string(id - 50);
      sql += "; COMMIT";
      if (!source_->Execute(sql).ok()) break;
      txns.fetch_add(1);
    }
  });
  std::random_device rd;
  const unsigned seed = rd();
  std::mt19937 rng(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  int kills = 0;
  for (int round = 0; round < 6; ++round) {
    SleepMs(std::uniform_int_distribution<int>(200, 1500)(rng));
    ASSERT_TRUE(apply_->running()) << apply_->err();
    apply_->Kill();
    ++kills;
    StartApply();
  }
  stop = true;
  writer.join();
  EXPECT_GT(txns.load(), 20);
  WaitAllApplied();
  ExpectSameShop();
  auto src = source_->Query("SELECT c FROM shop.counter");
  auto hits = target_->Query("SELECT n FROM audit.hits");
  ASSERT_TRUE(src.ok() && hits.ok());
  EXPECT_EQ(*(*src)[0][0], *(*hits)[0][0]) << "counter updates applied on the target vs "
                                              "transactions on the source, after "
                                           << kills << " kills";
  EXPECT_EQ(std::stoi(*(*src)[0][0]), txns.load());
  EXPECT_TRUE(apply_->Terminate()) << apply_->err();
}

// (3) A row the target already holds makes the source's insert fail there:
// apply stops non-zero naming the record's offset and the server's message.
// The insert is a run of 50 rows, long enough to go by LOAD DATA, which
// reports a duplicate only as a warning: apply takes the warning as a
// failure and applies the run again row by row to name the offset.
TEST_F(ApplyTest, TargetErrorStopsWithTheOffsetAndTheServersMessage) {
  Run({kSession, "CREATE TABLE t (id INT PRIMARY KEY, v INT)",
       "INSERT INTO t VALUES (1, 1), (2, 2)"});
  StartApply();
  WaitAllApplied();
  ASSERT_TRUE(target_->Execute("INSERT INTO shop.t VALUES (13, 0)").ok());
  Run({"INSERT INTO shop.t SELECT seq, 1 FROM seq_10_to_59"});
  // The offset of the insert of id 13, read from the log.
  const uint64_t hw = CaughtUpHighWatermark();
  auto fetched = consumer_->Fetch(kDest, Offset(0), {.max_records = 100000});
  ASSERT_TRUE(fetched.ok()) << fetched.status().ToString();
  int64_t want = -1;
  for (const auto& r : fetched->records()) {
    proto::ChangeRecord rec;
    ASSERT_TRUE(rec.ParseFromString(r.record()));
    if (rec.op() == proto::OP_INSERT && rec.table() == "t" && rec.after(0).value().int64() == 13) {
      want = static_cast<int64_t>(r.offset());
    }
  }
  ASSERT_GE(want, 0);
  auto code = apply_->Wait(30000);
  ASSERT_TRUE(code.has_value()) << "apply did not stop:\n" << apply_->err();
  EXPECT_EQ(*code, 1);
  const std::string err = apply_->err();
  EXPECT_NE(err.find("at offset " + std::to_string(want) + " "), std::string::npos) << err;
  EXPECT_NE(err.find("Duplicate entry '13'"), std::string::npos) << err;
  EXPECT_NE(err.find("INSERT INTO `shop`.`t`"), std::string::npos) << err;
  EXPECT_NE(err.find("the load gave 1 warning(s)"), std::string::npos) << err;
  // Nothing of that transaction is on the target; the stored offset is its start.
  EXPECT_LT(StoredOffset(), static_cast<uint64_t>(want));
  EXPECT_LT(StoredOffset(), hw);
  auto rows = target_->Query("SELECT COUNT(*) FROM shop.t WHERE id BETWEEN 10 AND 59");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*(*rows)[0][0], "1");  // only the target's own row
}

// (4) A 50,000-row transaction (chunked in the log, spread over batches) is
// one target transaction, and a 50,000-row update after it.
TEST_F(ApplyTest, FiftyThousandRowTransaction) {
  Run({kSession, "CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(20), n BIGINT)",
       "INSERT INTO big SELECT seq, CONCAT('v', seq), seq * 3 FROM seq_1_to_50000",
       "UPDATE big SET n = n + 1, v = CONCAT(v, '!')"});
  StartApply();
  WaitAllApplied();
  ExpectSameShop();
  EXPECT_TRUE(apply_->Terminate()) << apply_->err();
}

// (5) The DDL crash window: the DDL ran on the target but its offset was
// not stored. The marker stored before it (ddl_pending) makes the next run
// take "already exists" from that one DDL as done; an unmarked DDL that
// fails the same way stops apply.
TEST_F(ApplyTest, DdlCrashWindowIsClosedByThePendingMarker) {
  Run({kSession, "CREATE TABLE t (id INT PRIMARY KEY, v INT)", "INSERT INTO t VALUES (1, 1)"});
  StartApply();
  WaitAllApplied();
  ASSERT_TRUE(apply_->Terminate()) << apply_->err();
  const uint64_t at = StoredOffset();
  Run({"ALTER TABLE shop.t ADD COLUMN extra INT", "INSERT INTO shop.t VALUES (2, 2, 2)"});
  // What a crash right after the DDL leaves: the DDL done, the marker set.
  ASSERT_TRUE(target_->Execute("ALTER TABLE shop.t ADD COLUMN extra INT").ok());
  ASSERT_TRUE(target_->Execute("UPDATE sluice_apply.offsets SET ddl_pending = next_offset").ok());
  StartApply();
  WaitAllApplied();
  ExpectSameShop();
  EXPECT_NE(apply_->err().find("DDL at offset " + std::to_string(at) + " "), std::string::npos)
      << apply_->err();
  auto marker = target_->Query("SELECT ddl_pending FROM sluice_apply.offsets");
  ASSERT_TRUE(marker.ok());
  EXPECT_FALSE((*marker)[0][0].has_value());
  ASSERT_TRUE(apply_->Terminate()) << apply_->err();
  // The same situation without the marker is a target error.
  Run({"ALTER TABLE shop.t ADD COLUMN more INT"});
  ASSERT_TRUE(target_->Execute("ALTER TABLE shop.t ADD COLUMN more INT").ok());
  StartApply();
  auto code = apply_->Wait(30000);
  ASSERT_TRUE(code.has_value()) << apply_->err();
  EXPECT_EQ(*code, 1);
  EXPECT_NE(apply_->err().find("Duplicate column name 'more'"), std::string::npos) << apply_->err();
}

// (6) The target server and sluiced restart under a running workload:
// apply reconnects to both and resumes from the stored offset, and the
// target's trigger counts every source transaction once.
TEST_F(ApplyTest, TargetAndBrokerRestartsResumeFromTheStoredOffset) {
  Run({kSession, "CREATE TABLE counter (id INT PRIMARY KEY, c BIGINT NOT NULL)",
       "INSERT INTO counter VALUES (1, 0)", "CREATE TABLE events (id INT PRIMARY KEY, v INT)"});
  StartApply();
  WaitAllApplied();
  ASSERT_TRUE(target_
                  ->Execute("CREATE DATABASE audit; CREATE TABLE audit.hits (n BIGINT); "
                            "INSERT INTO audit.hits VALUES (0); "
                            "CREATE TRIGGER shop.counted AFTER UPDATE ON shop.counter FOR EACH "
                            "ROW UPDATE audit.hits SET n = n + 1")
                  .ok());
  std::atomic<bool> stop{false};
  std::atomic<int> txns{0};
  std::thread writer([&] {
    (void)source_->Execute(kSession);
    for (int id = 1; !stop.load(); ++id) {
      if (!source_
               ->Execute("BEGIN; UPDATE counter SET c = c + 1; INSERT INTO events VALUES (" +
                         std::to_string(id) + ", " + std::to_string(id) + "); COMMIT")
               .ok()) {
        break;
      }
      txns.fetch_add(1);
    }
  });
  SleepMs(1500);
  ASSERT_TRUE(target_->Restart().ok());
  SleepMs(1500);
  sluiced_->Kill();
  SleepMs(500);
  sluiced_->Start();
  SleepMs(2000);
  stop = true;
  writer.join();
  EXPECT_GT(txns.load(), 20);
  WaitAllApplied();
  ExpectSameShop();
  auto src = source_->Query("SELECT c FROM shop.counter");
  auto hits = target_->Query("SELECT n FROM audit.hits");
  ASSERT_TRUE(src.ok() && hits.ok());
  EXPECT_EQ(*(*src)[0][0], *(*hits)[0][0]);
  EXPECT_NE(apply_->err().find("reconnecting"), std::string::npos) << apply_->err();
  EXPECT_TRUE(apply_->Terminate()) << apply_->err();
}

// (7) --include keeps only matching tables (DDL too), filtered records
// still advance the stored offset; --rename sends shop's changes to copy.
TEST_F(ApplyTest, IncludeAndRename) {
  ASSERT_TRUE(target_->Execute("CREATE DATABASE copy").ok());
  StartApply({"--include", "shop\\.a", "--rename", "shop=copy"});
  Run({kSession, "CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(10))",
       "CREATE TABLE b (id INT PRIMARY KEY)", "INSERT INTO a VALUES (1, 'x'), (2, 'y')",
       "INSERT INTO b VALUES (1)", "UPDATE a SET v = 'z' WHERE id = 2",
       "DELETE FROM a WHERE id = 1", "INSERT INTO b VALUES (2)"});
  WaitAllApplied();  // the last records (b's) are filtered out: the offset still gets there
  auto tables = target_->Query(
      "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA IN "
      "('shop', 'copy') ORDER BY 1, 2");
  ASSERT_TRUE(tables.ok());
  ASSERT_EQ(tables->size(), 1u);
  EXPECT_EQ(*(*tables)[0][0], "copy");
  EXPECT_EQ(*(*tables)[0][1], "a");
  auto want = source_->Query("SELECT * FROM shop.a ORDER BY id");
  auto got = target_->Query("SELECT * FROM copy.a ORDER BY id");
  ASSERT_TRUE(want.ok() && got.ok());
  EXPECT_EQ(*want, *got);
  EXPECT_TRUE(apply_->Terminate()) << apply_->err();
}

// (8) Runs of inserts go to the target by LOAD DATA LOCAL: every column
// type the load carries (the type table's, its geometry and largest blobs
// left out), NULLs, minimums and maximums, YEAR 0, BIT, and the bytes the
// load format escapes (tab, newline, backslash, NUL, a literal \N) arrive
// as the source holds them. The stop line counts the rows loaded.
TEST_F(ApplyTest, InsertRunsByLoadDataKeepEveryValue) {
  StartApply();
  Run({kSession, tw::CreateTypesTableSql()});
  Run(tw::TypeWorkloadDml());
  std::string cols;
  for (const auto& c : tw::TypeColumns()) {
    if (c.name != "g" && c.name != "lb" && c.name != "mb" && c.name != "lt") cols += ", " + c.name;
  }
  Run({"CREATE TABLE plain LIKE types",
       "ALTER TABLE plain DROP COLUMN g, DROP COLUMN lb, "
       "DROP COLUMN mb, DROP COLUMN lt",
       "INSERT INTO plain SELECT types.id + 1000 * seq" + cols + " FROM types, seq_1_to_20",
       "INSERT INTO plain (id, vc, tx, vb, c) SELECT 100000 + seq, "
       "CONCAT('a\\tb\\nc\\\\', seq, '\\0'), '\\\\N', x'5C4E090A000D', NULL FROM seq_1_to_40"});
  WaitAllApplied();
  ExpectSameShop();
  ASSERT_TRUE(apply_->Terminate()) << apply_->err();
  const std::string err = apply_->err();
  const size_t by = err.find(" by LOAD DATA)");
  ASSERT_NE(by, std::string::npos) << err;
  const size_t open = err.rfind('(', by);
  ASSERT_NE(open, std::string::npos);
  EXPECT_GE(std::stoull(err.substr(open + 1)), 100u) << err;
}

// What apply refuses, from records committed to an in-process broker (the
// real CommitLog, ConsumerService and ConsumerServer) and a real target:
// an `error` record and a row without column names stop it with exit 1,
// naming the offset, after applying everything before them.
class ApplyRefuses : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dst = MariaDb::Start();
    ASSERT_TRUE(dst.ok()) << dst.status().ToString();
    target_ = std::move(*dst);
    ASSERT_TRUE(
        target_->Execute("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY)").ok());
    broker_.dir = dir_.Sub("log");
    ASSERT_NO_FATAL_FAILURE(broker_.Start());
    std::ofstream(dir_.Sub("pw")) << "pw\n";
  }
  void TearDown() override {
    apply_.reset();
    EXPECT_EQ(broker_.Stop(), 0) << "a libuv handle was left open";
  }

  static proto::ChangeRecord Insert(int id, bool named) {
    proto::ChangeRecord r;
    r.set_format_version(proto::RECORD_FORMAT_V1);
    r.set_op(proto::OP_INSERT);
    r.set_db("shop");
    r.set_table("t");
    r.add_pk("id");
    r.mutable_pos()->set_file("binlog.000001");
    r.mutable_pos()->set_pos(1000 + id);
    r.set_gtid("0-1-" + std::to_string(id));
    r.mutable_txn()->set_last(true);
    auto* c = r.add_after();
    if (named) c->set_name("id");
    c->set_mysql_type(3);
    c->mutable_value()->set_int64(id);
    return r;
  }
  void Commit(const proto::ChangeRecord& r) {
    ASSERT_TRUE(testing::CommitTxn(broker_.log.get(), {r.SerializeAsString()}).ok());
  }
  // Runs apply until it exits (30 s at most); its exit code.
  int RunApply() {
    apply_ = std::make_unique<ApplyProc>(dir_.Sub("apply.err"));
    apply_->Start({"--broker", broker_.address(), "--dest", "shop", "--target",
                   "mysql://root:@127.0.0.1:" + std::to_string(target_->port()), "--user", "u",
                   "--password-file", dir_.Sub("pw")});
    return apply_->Wait(30000).value_or(-2);
  }
  std::string Stored() {
    auto rows = target_->Query("SELECT next_offset FROM sluice_apply.offsets");
    return rows.ok() && !rows->empty() ? rows->front()[0].value_or("NULL") : "none";
  }

  testing::TempDir dir_;
  std::unique_ptr<MariaDb> target_;
  testing::InProcessBroker broker_;
  std::unique_ptr<ApplyProc> apply_;
};

TEST_F(ApplyRefuses, AnErrorRecord) {
  Commit(Insert(1, true));
  proto::ChangeRecord e = Insert(2, true);
  e.set_op(proto::OP_ERROR);
  e.clear_after();
  e.set_sql("INSERT INTO t VALUES (2)");
  e.mutable_error()->set_kind(proto::CaptureError::STATEMENT);
  e.mutable_error()->set_reason("statement-based DML in a row-based binlog");
  Commit(e);
  Commit(Insert(3, true));
  EXPECT_EQ(RunApply(), 1) << apply_->err();
  const std::string err = apply_->err();
  EXPECT_NE(err.find("could not capture at offset 1 (source binlog.000001:1002, gtid 0-1-2)"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("statement-based DML in a row-based binlog"), std::string::npos) << err;
  EXPECT_NE(err.find("INSERT INTO t VALUES (2)"), std::string::npos) << err;
  EXPECT_EQ(Stored(), "1");  // the insert before it, and nothing after
  auto rows = target_->Query("SELECT id FROM shop.t ORDER BY id");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(*(*rows)[0][0], "1");
}

TEST_F(ApplyRefuses, RowsWithoutColumnNames) {
  Commit(Insert(1, true));
  Commit(Insert(2, false));
  EXPECT_EQ(RunApply(), 1) << apply_->err();
  const std::string err = apply_->err();
  EXPECT_NE(err.find("offset 1 "), std::string::npos) << err;
  EXPECT_NE(err.find("binlog_row_metadata = FULL"), std::string::npos) << err;
  EXPECT_EQ(Stored(), "1");
}

}  // namespace
}  // namespace sluice::sluiced_test
