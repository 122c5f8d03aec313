// sluiced under faults, as a process: SIGKILL at random moments while it
// ingests a fixed binlog, and source faults while a workload runs (the
// server restarted, the replication connection killed by the server, binlog
// rotations). After each the log must equal, offset for offset and byte for
// byte, a run that had no fault, and the replayed tables must equal SELECT.
#include <gtest/gtest.h>

#include <mysql.h>
#include <algorithm>

#include <rocksdb/db.h>

#include <atomic>
#include <random>

#include "storage/log_format.h"
#include "tests/integration/sluiced_harness.h"
#include "tests/support/http_get.h"

namespace sluice::sluiced_test {
namespace {

constexpr const char* kTables =
    "CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(255), n BIGINT);"
    "CREATE TABLE small (id INT PRIMARY KEY, v VARCHAR(32) NULL, n INT)";

// The sequence number of a single-domain MariaDB GTID ("0-1-17" -> 17) or
// GTID position; 0 for "".
uint64_t GtidSeq(const std::string& gtid) {
  size_t dash = gtid.rfind('-');
  return dash == std::string::npos ? 0 : std::stoull(gtid.substr(dash + 1));
}

// The chunks of a transaction that never ended at the tail of a crashed
// log (storage/log_format.h), read without recovering the log, which would
// remove them: their first offset and records.
struct PartialTail {
  uint64_t base = 0;
  std::vector<std::string> records;
};

PartialTail ReadPartialTail(const std::string& path) {
  PartialTail tail;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {"log", rocksdb::ColumnFamilyOptions()}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), path, cfs, &handles, &db);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!s.ok()) return tail;
  std::vector<std::vector<std::string>> batches;  // newest first
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[1]));
    for (it->SeekToLast(); it->Valid(); it->Prev()) {
      auto b = log_format::DecodeBatch(it->key().ToStringView(), it->value().ToStringView());
      EXPECT_TRUE(b.ok()) << b.status().ToString();
      if (!b.ok() || b->header.txn_end()) break;
      tail.base = b->header.base_offset.value();
      auto& recs = batches.emplace_back();
      Status st = log_format::AppendRecords(*b, &recs);
      EXPECT_TRUE(st.ok()) << st.ToString();
    }
  }
  for (auto b = batches.rbegin(); b != batches.rend(); ++b) {
    for (auto& r : *b) tail.records.push_back(std::move(r));
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  delete db;
  return tail;
}

class SluicedFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = MariaDb::Start();
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(db_->Execute(std::string("CREATE DATABASE shop; USE shop; ") + kTables).ok());
  }

  SluicedConfig Config(const std::string& name, uint32_t server_id) {
    SluicedConfig c;
    c.data_dir = dir_.Sub(name);
    c.source = db_->ReplUrl();
    c.server_id = server_id;
    WriteConfig(dir_.Sub(name + ".toml"), c);
    return c;
  }

  SourceEnd End() {
    auto end = ServerEnd(db_.get());
    EXPECT_TRUE(end.ok()) << end.status().ToString();
    return end.ok() ? *end : SourceEnd{};
  }

  // Ends the workload with a transaction of its own, runs the destination
  // to the end of the binlog, and checks its log against a one-pass file
  // ingest and SELECT.
  LogImage FinishAndCompare(Sluiced* p, const SluicedConfig& c) {
    EXPECT_TRUE(db_->Execute("INSERT INTO small (id, v, n) VALUES (-1, 'last', NULL)").ok());
    LogImage img = RunToEnd(p, db_.get(), c.data_dir, End());
    LogImage want = IngestFiles(db_.get(), c.chunk_records);
    EXPECT_GT(want.records.size(), 1000u);
    ExpectSameLog(img, want);
    auto recs = img.Parsed();
    ExpectTxnNumbering(recs);
    ExpectTablesEqualReplay(db_.get(), "shop", recs);
    const std::string log = FileText(p->log_file());
    std::printf("%zu records, %zu restarts\n", img.records.size(),
                CountLines(log, "restarting from the checkpoint"));
    std::istringstream lines(log);
    int shown = 0;
    for (std::string line; std::getline(lines, line) && shown < 2;) {
      if (line.find("restarting from") != std::string::npos) {
        std::printf("  %s\n", line.substr(0, 300).c_str());
        ++shown;
      }
    }
    return img;
  }

  testing::TempDir dir_;
  std::unique_ptr<MariaDb> db_;
};

// Transactions of varied sizes from a connection of its own, in bursts,
// until stopped. Errors (the server restarting) make it reconnect; a
// statement cut by a fault is either in the binlog or not, which the
// comparison with the binlog itself does not care about.
class Writer {
 public:
  explicit Writer(int port) : port_(port) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~Writer() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint64_t ok() const { return ok_.load(); }
  uint64_t failed() const { return failed_.load(); }

 private:
  bool Exec(MYSQL* m, const std::string& sql) {
    if (mysql_real_query(m, sql.data(), sql.size()) != 0) return false;
    do {
      if (MYSQL_RES* r = mysql_store_result(m)) mysql_free_result(r);
    } while (mysql_next_result(m) == 0);
    return mysql_errno(m) == 0;
  }

  void Loop() {
    MYSQL* m = nullptr;
    for (int burst = 0; !stop_; ++burst) {
      if (m == nullptr) {
        m = mysql_init(nullptr);
        unsigned timeout = 5;
        mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
        mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
        if (mysql_real_connect(m, "127.0.0.1", "root", "", "shop", static_cast<unsigned>(port_),
                               nullptr, CLIENT_MULTI_STATEMENTS) == nullptr) {
          mysql_close(m);
          m = nullptr;
          SleepMs(100);
          continue;
        }
      }
      const int base = 1000000 + burst * 10000;
      std::vector<std::string> txns;
      if (burst % 3 == 0) {  // 2500 rows: more than one chunk of 2000
        txns.push_back("INSERT INTO big SELECT seq + " + std::to_string(base) +
                       ", CONCAT('w', seq), seq FROM seq_1_to_2500");
      }
      for (int k = 0; k < 6; ++k) {
        std::string id = std::to_string(burst * 10 + k);
        txns.push_back("INSERT INTO small (id, v, n) VALUES (" + id + ", " +
                       (k % 3 == 0 ? std::string("NULL") : "'s" + id + "'") + ", " + id + ")");
      }
      txns.push_back(
          "BEGIN; UPDATE small SET n = n + 1, v = IF(v IS NULL, 'was null', NULL) "
          "WHERE id % 7 = " +
          std::to_string(burst % 7) + "; DELETE FROM big WHERE id BETWEEN " +
          std::to_string(base - 30000) + " AND " + std::to_string(base - 29950) + "; COMMIT");
      txns.push_back("UPDATE small SET id = id + 500000 WHERE id = " +
                     std::to_string(burst * 10 + 1));
      for (const auto& sql : txns) {
        if (Exec(m, sql)) {
          ok_.fetch_add(1);
        } else {
          failed_.fetch_add(1);
          mysql_close(m);
          m = nullptr;
          break;
        }
      }
      SleepMs(100);
    }
    if (m != nullptr) mysql_close(m);
    mysql_thread_end();
  }

  const int port_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> ok_{0}, failed_{0};
  std::thread thread_;
};

// Checks the crash image a kill left: a copy of the data dir (opening the
// log recovers it, which is sluiced's job, so the copy is opened, never the
// original). The log must be a prefix of the reference, byte for byte, that
// ends at a transaction boundary, with a checkpoint between its last
// transaction and the next; never shorter than after the previous kill;
// and the chunks of a cut transaction above it must be the reference's
// next records.
class CrashImages {
 public:
  CrashImages(const LogImage* ref, std::string copy) : ref_(ref), copy_(std::move(copy)) {
    for (const auto& r : ref->Parsed()) gtid_.push_back(GtidSeq(r.gtid()));
  }
  ~CrashImages() { fs::remove_all(copy_); }

  // `whole`: compare every record (else from the previous end on).
  void Check(const std::string& data_dir, bool whole, const std::string& label) {
    fs::remove_all(copy_);
    fs::copy(data_dir, copy_, fs::copy_options::recursive);
    PartialTail tail = ReadPartialTail(DestPath(copy_));
    auto img = ReadLog(DestPath(copy_), whole || end_ == 0 ? 0 : end_ - 1);
    ASSERT_TRUE(img.ok()) << img.status().ToString();
    const uint64_t n = img->high_watermark;
    const auto& want = ref_->records;
    history_ += label + ": log ends at " + std::to_string(n) + ", " +
                std::to_string(tail.records.size()) + " records in chunks above\n";
    ASSERT_LE(n, want.size());
    ASSERT_GE(n, end_) << "the log went back";
    ASSERT_EQ(img->first + img->records.size(), n);
    for (size_t i = 0; i < img->records.size(); ++i) {
      ASSERT_EQ(img->records[i], want[img->first + i]) << "offset " << img->first + i;
    }
    if (n > 0) {
      proto::ChangeRecord last;
      ASSERT_TRUE(last.ParseFromString(img->records.back()));
      ASSERT_TRUE(last.txn().last()) << "the log does not end at a transaction boundary";
      const uint64_t cp = GtidSeq(img->checkpoint.gtid_set());
      EXPECT_GE(cp, gtid_[n - 1]);
      if (n < want.size()) {
        EXPECT_LT(cp, gtid_[n]);
      }
    }
    // The same tail as after the previous kill: sluiced died before it
    // opened (and cleaned) the log.
    const bool new_tail = !tail.records.empty() &&
                          (tail.base != tail_.base || tail.records.size() != tail_.records.size());
    if (!tail.records.empty()) {
      EXPECT_EQ(tail.base, n);
      ASSERT_LE(tail.base + tail.records.size(), want.size());
      for (size_t i = 0; i < tail.records.size(); ++i) {
        ASSERT_EQ(tail.records[i], want[tail.base + i]) << "chunk record " << tail.base + i;
      }
    }
    in_chunks_ += new_tail;
    cuts_ += n < want.size() && (n > end_ || new_tail);
    complete_ = n == want.size();
    end_ = n;
    tail_ = std::move(tail);
  }

  bool complete() const { return complete_; }
  int cuts() const { return cuts_; }            // kills that cut the ingest
  int in_chunks() const { return in_chunks_; }  // ... inside a chunked transaction
  const std::string& history() const { return history_; }

 private:
  const LogImage* ref_;
  const std::string copy_;
  std::vector<uint64_t> gtid_;  // GTID sequence number of each reference record
  uint64_t end_ = 0;
  PartialTail tail_;
  bool complete_ = false;
  int cuts_ = 0, in_chunks_ = 0;
  std::string history_;
};

// A fixed binlog of >= 200k row changes (one 100k-row transaction, varied
// sizes around the chunk size, thousands of single-row ones, an ALTER) is
// ingested by a sluiced that is SIGKILLed at random moments and restarted,
// then run to the end. Its log must equal an uninterrupted run's, and every
// crash image (a copy taken after each kill) must be a prefix of it that
// ends at a transaction boundary with a matching checkpoint.
TEST_F(SluicedFaultTest, KillNineAtRandomMomentsLosesAndDuplicatesNothing) {
  std::mt19937 rng(::testing::UnitTest::GetInstance()->random_seed() + 20260101u);
  // Single-row transactions (fsync each in the killed run: they make the
  // ingest long), batches of 200 statements per round trip.
  auto small_txns = [&](int from, int count) {
    for (int batch = from; batch < from + count; batch += 200) {
      std::string sql;
      for (int id = batch; id < batch + 200; ++id) {
        std::string k = std::to_string(id);
        sql += "INSERT INTO small (id, v, n) VALUES (" + k + ", 's" + k + "', " + k + ");";
      }
      if (batch == 3000) sql += "ALTER TABLE small ADD COLUMN extra INT NULL;";
      ASSERT_TRUE(db_->Execute(sql).ok());
    }
  };
  int next = 100001;  // sizes around the chunk size of 2000
  for (int size : {1, 1999, 2000, 2001, 4000, 4001, 7, 6000, 333, 12345, 2, 20000, 1500, 8000}) {
    ASSERT_TRUE(db_->Execute("INSERT INTO big SELECT seq, CONCAT('v', seq), seq FROM seq_" +
                             std::to_string(next) + "_to_" + std::to_string(next + size - 1))
                    .ok());
    next += size;
  }
  ASSERT_NO_FATAL_FAILURE(small_txns(0, 1000));
  // The 100k-row transaction, early in the ingest and with wide rows: it
  // takes long enough that kills land inside it, and each restart redoes it.
  ASSERT_TRUE(db_->Execute("INSERT INTO big SELECT seq, REPEAT(CONCAT('v', seq), 30), seq * 7 "
                           "FROM seq_1_to_100000")
                  .ok());
  ASSERT_TRUE(db_->Execute("UPDATE big SET n = n + 1, v = NULL WHERE id <= 30000").ok());
  ASSERT_TRUE(db_->Execute("DELETE FROM big WHERE id > 95000 AND id <= 100000").ok());
  ASSERT_NO_FATAL_FAILURE(small_txns(1000, 5000));
  ASSERT_TRUE(db_->Execute("BEGIN; UPDATE big SET n = -n WHERE id BETWEEN 40001 AND 42500; "
                           "DELETE FROM small WHERE id < 100; COMMIT")
                  .ok());
  const SourceEnd end = End();

  // The reference: one uninterrupted run.
  SluicedConfig ref_config = Config("ref", 7101);
  Sluiced ref_proc(dir_.Sub("ref.toml"), dir_.Sub("ref.log"));
  int ref_runs = 0;
  const auto ref_start = Clock::now();
  LogImage ref = RunToEnd(&ref_proc, db_.get(), ref_config.data_dir, end, &ref_runs);
  const int ref_ms = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - ref_start).count());
  ASSERT_TRUE(Reached(ref, end));
  ASSERT_GE(ref.records.size(), 200000u);
  const std::vector<proto::ChangeRecord> ref_recs = ref.Parsed();
  ExpectTxnNumbering(ref_recs);

  // The killed one: fsync on every commit, so that ingest takes long enough
  // for most kills to land inside it.
  SluicedConfig config = Config("crash", 7102);
  config.durability = "fsync";
  config.admin_listen = "127.0.0.1:0";
  WriteConfig(dir_.Sub("crash.toml"), config);
  Sluiced p(dir_.Sub("crash.toml"), dir_.Sub("crash.log"));
  CrashImages images(&ref, dir_.Sub("copy"));

  // First, aimed kills: inside the 100k-row transaction once a chunk of it
  // is in the log, seen on /metrics (the log's high watermark at the
  // transaction's first offset, and the chunk counter moved on). On a fast
  // machine its window is a few hundred ms, which random delays can miss.
  uint64_t big_base = 0;
  for (size_t i = 0, first = 0; i < ref_recs.size(); ++i) {
    if (!ref_recs[i].txn().last()) continue;
    if (i + 1 - first >= 100000) {
      big_base = first;
      break;
    }
    first = i + 1;
  }
  ASSERT_GT(big_base, 0u);
  const std::string dest = "{dest=\"shop\"}";
  int aimed = 0;
  while (images.in_chunks() == 0 && aimed < 4) {
    ++aimed;
    const size_t log_from = FileText(p.log_file()).size();
    p.Start();
    const int port = p.AdminPort(log_from);
    ASSERT_GT(port, 0) << p.LogTail();
    std::optional<double> chunks_at_base;
    bool inside = false;
    for (int i = 0; i < 20000 && !inside; ++i, SleepMs(1)) {
      const std::string m = testing::HttpGetBody(port, "/metrics");
      const auto hwm = Sample(m, "sluice_log_high_watermark" + dest);
      const auto chunks = Sample(m, "sluice_ingest_chunks_total" + dest);
      if (!hwm || !chunks) continue;
      ASSERT_LE(*hwm, big_base) << "the aimed kill missed the transaction";
      if (*hwm < big_base) continue;
      if (!chunks_at_base) chunks_at_base = chunks;
      inside = *chunks > *chunks_at_base;
    }
    ASSERT_TRUE(inside) << p.LogTail();
    p.Kill();
    const std::string label = "aimed kill " + std::to_string(aimed);
    SCOPED_TRACE(label);
    images.Check(config.data_dir, true, label);
    if (::testing::Test::HasFatalFailure()) return;
  }
  ASSERT_GE(images.in_chunks(), 1) << "no aimed kill landed inside the chunked transaction:\n"
                                   << images.history();

  // Then kills at random moments.
  // Kill delays scale with the machine: up to a quarter of the reference
  // run's time (start-up included), so that several kills land inside the
  // ingest however fast it is.
  std::uniform_int_distribution<int> delay_ms(50, std::clamp(ref_ms / 4, 200, 1500));
  // At least 20 kills; more (up to 40) while they keep cutting the ingest.
  int kills = 0;
  while (kills < 20 || (!images.complete() && images.cuts() < 20 && kills < 40)) {
    ++kills;
    p.Start();
    const int delay = delay_ms(rng);
    SleepMs(delay);
    ASSERT_FALSE(p.Poll().has_value()) << "sluiced ended before the kill:\n" << p.LogTail();
    p.Kill();
    const std::string label =
        "kill " + std::to_string(kills) + " after " + std::to_string(delay) + " ms";
    SCOPED_TRACE(label);
    images.Check(config.data_dir, kills % 4 == 0, label);
    if (::testing::Test::HasFatalFailure()) return;
  }
  // The rest in group-commit mode: a durability change between runs changes
  // nothing in the log.
  config.durability = "group";
  WriteConfig(dir_.Sub("crash.toml"), config);
  LogImage got = RunToEnd(&p, db_.get(), config.data_dir, end);
  ExpectSameLog(got, ref);
  std::printf(
      "kill -9: %d aimed and %d random kills, %d cut the ingest, %d inside a chunked "
      "transaction; reference in %d run(s), %d ms; %zu records\n",
      aimed, kills, images.cuts(), images.in_chunks(), ref_runs, ref_ms, ref.records.size());
  EXPECT_GE(images.cuts(), 5) << "too few kills landed inside the ingest:\n"
                              << images.history() << p.LogTail();
  // The same binlog through a file source gives the same log.
  ExpectSameLog(ref, IngestFiles(db_.get(), config.chunk_records));
  ExpectTablesEqualReplay(db_.get(), "shop", ref_recs);
}

// (a) The server restarts twice while the workload runs.
TEST_F(SluicedFaultTest, ServerRestartMidStream) {
  SluicedConfig c = Config("d", 7201);
  Sluiced p(dir_.Sub("d.toml"), dir_.Sub("d.log"));
  p.Start();
  {
    Writer w(db_->port());
    for (int i = 0; i < 2; ++i) {
      SleepMs(1200);
      ASSERT_TRUE(db_->Restart().ok());
      ASSERT_TRUE(db_->Execute("USE shop").ok());
    }
    SleepMs(1200);
    w.Stop();
    EXPECT_GT(w.ok(), 50u);
    std::printf("writer: %lu transactions, %lu failed\n", static_cast<unsigned long>(w.ok()),
                static_cast<unsigned long>(w.failed()));
  }
  FinishAndCompare(&p, c);
  EXPECT_GE(CountLines(FileText(p.log_file()), "restarting from the checkpoint"), 2u)
      << p.LogTail();
}

// (b) The server kills the replication connection, five times.
TEST_F(SluicedFaultTest, ReplicationConnectionKilledMidStream) {
  SluicedConfig c = Config("d", 7202);
  Sluiced p(dir_.Sub("d.toml"), dir_.Sub("d.log"));
  p.Start();
  int killed = 0;
  {
    Writer w(db_->port());
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (killed < 5 && Clock::now() < deadline) {
      SleepMs(400);
      auto ids = db_->Query(
          "SELECT ID FROM information_schema.PROCESSLIST "
          "WHERE COMMAND LIKE 'Binlog Dump%'");
      ASSERT_TRUE(ids.ok()) << ids.status().ToString();
      for (const auto& row : *ids) killed += db_->Execute("KILL " + *row[0]).ok();
    }
    SleepMs(400);
    w.Stop();
    EXPECT_GT(w.ok(), 50u);
    std::printf("writer: %lu transactions, %lu failed\n", static_cast<unsigned long>(w.ok()),
                static_cast<unsigned long>(w.failed()));
  }
  EXPECT_GE(killed, 5);
  FinishAndCompare(&p, c);
  EXPECT_GE(CountLines(FileText(p.log_file()), "restarting from the checkpoint"), 1u)
      << p.LogTail();
}

// (c) The binlog rotates five times mid-stream: no restart needed.
TEST_F(SluicedFaultTest, BinlogRotationsMidStream) {
  SluicedConfig c = Config("d", 7203);
  Sluiced p(dir_.Sub("d.toml"), dir_.Sub("d.log"));
  p.Start();
  {
    Writer w(db_->port());
    for (int i = 0; i < 5; ++i) {
      SleepMs(400);
      ASSERT_TRUE(db_->Execute("FLUSH BINARY LOGS").ok());
    }
    SleepMs(400);
    w.Stop();
    EXPECT_GT(w.ok(), 50u);
    std::printf("writer: %lu transactions, %lu failed\n", static_cast<unsigned long>(w.ok()),
                static_cast<unsigned long>(w.failed()));
  }
  auto files = db_->BinlogFiles();
  ASSERT_TRUE(files.ok());
  EXPECT_GE(files->size(), 6u);
  LogImage img = FinishAndCompare(&p, c);
  EXPECT_EQ(img.checkpoint.file(), fs::path(files->back()).filename().string());
  EXPECT_EQ(CountLines(FileText(p.log_file()), "restarting from the checkpoint"), 0u)
      << p.LogTail();
}

}  // namespace
}  // namespace sluice::sluiced_test
