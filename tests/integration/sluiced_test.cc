// sluiced end to end, as a process: MariaDB -> `sluiced --config FILE`
// (mysql:// source) -> commit log, read offline after SIGTERM.
//
// The workload says which row changes it makes, in which order and in
// which transactions (Step), so "every change exactly once, in order" is
// checked against the workload, not against a decoder; the values are
// checked by replaying the records and comparing with SELECT.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>
#include <sstream>

#include "proto/auth.h"
#include "tests/integration/sluiced_harness.h"
#include "tests/support/frame_client.h"
#include "tests/support/http_get.h"

namespace sluice::sluiced_test {
namespace {

// One expected record: op, table, primary key before and after (DDL: a
// piece of its statement in `after`).
struct Change {
  proto::Op op;
  std::string table, before, after;
};
// One source transaction and the records it must produce, in order.
struct Step {
  std::string sql;
  std::vector<Change> changes;
};

Change Ins(const std::string& t, const std::string& pk) { return {proto::OP_INSERT, t, "", pk}; }
Change Upd(const std::string& t, const std::string& b, const std::string& a) {
  return {proto::OP_UPDATE, t, b, a};
}
Change Del(const std::string& t, const std::string& pk) { return {proto::OP_DELETE, t, pk, ""}; }
Change Ddl(const std::string& t, const std::string& piece) { return {proto::OP_DDL, t, "", piece}; }

// Changes for the keys lo..hi; `shift` moves the key of an update.
std::vector<Change> Range(proto::Op op, const std::string& t, int lo, int hi, int shift = 0) {
  std::vector<Change> out;
  for (int i = lo; i <= hi; ++i) {
    std::string k = std::to_string(i), moved = std::to_string(i + shift);
    out.push_back(op == proto::OP_INSERT   ? Ins(t, k)
                  : op == proto::OP_DELETE ? Del(t, k)
                                           : Upd(t, k, moved));
  }
  return out;
}

// Three tables, inserts, updates (NULL to value and back, primary-key
// changes on an integer and a string key), deletes, a multi-table
// transaction and an ALTER between writes. Part A, B, C in order.
// Part A starts after SetUp's CREATE DATABASE (the server logs it with the
// new database as its db, so the filter keeps it).
std::vector<Step> PartA() {
  std::vector<Step> s = {
      {"", {Ddl("", "CREATE DATABASE shop")}},
      {"CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, "
       "email VARCHAR(80) NULL, balance DECIMAL(12,2), created DATETIME(3))",
       {Ddl("customers", "CREATE TABLE customers")}},
      {"CREATE TABLE orders (id BIGINT PRIMARY KEY, customer INT, status VARCHAR(16), note TEXT)",
       {Ddl("orders", "CREATE TABLE orders")}},
      {"CREATE TABLE tags (k VARCHAR(20) PRIMARY KEY, v INT NULL)",
       {Ddl("tags", "CREATE TABLE tags")}},
      {"INSERT INTO customers SELECT seq, CONCAT('c', seq), IF(seq % 3 = 0, NULL, "
       "CONCAT('c', seq, '@x.org')), seq * 1.25, TIMESTAMP'2026-01-02 03:04:05.678' + INTERVAL "
       "seq SECOND FROM seq_1_to_200",
       Range(proto::OP_INSERT, "customers", 1, 200)}};
  for (int i = 1; i <= 50; ++i) {
    std::string k = std::to_string(i);
    s.push_back({"INSERT INTO orders VALUES (" + k + ", " + std::to_string(i % 200 + 1) +
                     ", 'new', " + (i % 4 == 0 ? std::string("NULL") : "'note " + k + "'") + ")",
                 {Ins("orders", k)}});
  }
  s.push_back({"INSERT INTO tags VALUES ('a', 1), ('b', NULL), ('c', 3)",
               {Ins("tags", "a"), Ins("tags", "b"), Ins("tags", "c")}});
  s.push_back(
      {"UPDATE customers SET balance = balance + 1, email = NULL WHERE id BETWEEN 10 AND 19",
       Range(proto::OP_UPDATE, "customers", 10, 19)});
  s.push_back(
      {"UPDATE customers SET email = 'back@x.org' WHERE id = 3", {Upd("customers", "3", "3")}});
  s.push_back({"UPDATE customers SET id = id + 1000 WHERE id BETWEEN 190 AND 200",
               Range(proto::OP_UPDATE, "customers", 190, 200, 1000)});
  s.push_back({"UPDATE tags SET k = 'z' WHERE k = 'a'", {Upd("tags", "a", "z")}});
  return s;
}

std::vector<Step> PartB() {
  std::vector<Step> s = {
      {"BEGIN; INSERT INTO orders VALUES (1001, 5, 'new', NULL); "
       "UPDATE customers SET name = 'renamed' WHERE id = 1; DELETE FROM tags WHERE k = 'b'; COMMIT",
       {Ins("orders", "1001"), Upd("customers", "1", "1"), Del("tags", "b")}},
      {"ALTER TABLE orders ADD COLUMN shipped DATETIME NULL",
       {Ddl("orders", "ADD COLUMN shipped")}},
      {"UPDATE orders SET shipped = '2026-02-03 04:05:06', status = 'shipped' WHERE id BETWEEN 1 "
       "AND 10",
       Range(proto::OP_UPDATE, "orders", 1, 10)},
      {"DELETE FROM orders WHERE id BETWEEN 40 AND 50", Range(proto::OP_DELETE, "orders", 40, 50)}};
  return s;
}

std::vector<Step> PartC() {
  return {{"DELETE FROM customers WHERE id IN (50, 100, 150)",
           {Del("customers", "50"), Del("customers", "100"), Del("customers", "150")}},
          {"UPDATE orders SET note = NULL WHERE id = 2", {Upd("orders", "2", "2")}},
          {"UPDATE orders SET note = 'filled' WHERE id = 4", {Upd("orders", "4", "4")}},
          {"INSERT INTO tags VALUES ('end', 99)", {Ins("tags", "end")}}};
}

std::vector<Step> Concat(std::initializer_list<std::vector<Step>> parts) {
  std::vector<Step> all;
  for (const auto& p : parts) all.insert(all.end(), p.begin(), p.end());
  return all;
}

// The records are exactly the steps' changes, in order, one transaction per
// step.
void ExpectSteps(const std::vector<proto::ChangeRecord>& with_schemas,
                 const std::vector<Step>& steps) {
  const std::vector<proto::ChangeRecord> recs = WithoutSchemas(with_schemas);
  size_t i = 0;
  for (const Step& step : steps) {
    for (size_t k = 0; k < step.changes.size(); ++k, ++i) {
      const Change& c = step.changes[k];
      ASSERT_LT(i, recs.size()) << "missing records from: " << step.sql;
      const proto::ChangeRecord& r = recs[i];
      SCOPED_TRACE(::testing::Message() << "offset " << i << ", step: " << step.sql.substr(0, 90));
      ASSERT_EQ(r.op(), c.op);
      ASSERT_EQ(r.db(), "shop");
      ASSERT_EQ(r.table(), c.table) << r.sql();
      if (c.op == proto::OP_DDL) {
        ASSERT_NE(r.sql().find(c.after), std::string::npos) << r.sql();
      } else {
        ASSERT_EQ(PkOf(r, false), c.before);
        ASSERT_EQ(PkOf(r, true), c.after);
      }
      ASSERT_EQ(r.txn().seq(), k);
      ASSERT_EQ(r.txn().last(), k + 1 == step.changes.size());
    }
  }
  EXPECT_EQ(i, recs.size()) << "records beyond the workload's changes";
}

// Source positions never go back and stay within the checkpoint.
void ExpectPositionsInOrder(const LogImage& img) {
  auto recs = img.Parsed();
  for (size_t i = 1; i < recs.size(); ++i) {
    const auto &a = recs[i - 1].pos(), &b = recs[i].pos();
    ASSERT_TRUE(a.file() < b.file() || (a.file() == b.file() && a.pos() <= b.pos()))
        << "offset " << i << ": " << b.file() << ":" << b.pos() << " after " << a.file() << ":"
        << a.pos();
  }
  if (!recs.empty()) {
    EXPECT_LE(recs.back().pos().file(), img.checkpoint.file());
    if (recs.back().pos().file() == img.checkpoint.file()) {
      EXPECT_LE(recs.back().pos().pos(), img.checkpoint.pos());
    }
  }
}

class SluicedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = MariaDb::Start();
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(db_->Execute("CREATE DATABASE shop; USE shop").ok());
    config_.data_dir = dir_.Sub("data");
    config_.source = db_->ReplUrl();
    config_.server_id = 7001;
    WriteConfig(ConfigPath(), config_);
  }

  std::string ConfigPath() const { return dir_.Sub("sluiced.toml"); }

  void Run(const std::vector<Step>& steps) {
    for (const Step& s : steps) {
      if (s.sql.empty()) continue;
      ASSERT_TRUE(db_->Execute(s.sql).ok()) << s.sql;
    }
  }

  SourceEnd End() {
    auto end = ServerEnd(db_.get());
    EXPECT_TRUE(end.ok()) << end.status().ToString();
    return end.ok() ? *end : SourceEnd{};
  }

  testing::TempDir dir_;
  std::unique_ptr<MariaDb> db_;
  SluicedConfig config_;
};

// Live workload through sluiced: every change once, in order, in its
// transaction; the replayed tables equal SELECT; the log equals a one-pass
// file ingest of the same binlog; SIGTERM exits 0.
TEST_F(SluicedTest, EndToEndEveryChangeOnceInOrderAndEqualToSelect) {
  Sluiced p(ConfigPath(), dir_.Sub("sluiced.log"));
  p.Start();
  SleepMs(300);  // let it connect: most of the workload then arrives live
  std::vector<Step> steps = Concat({PartA(), PartB(), PartC()});
  Run(steps);
  SourceEnd end = End();
  // No rotation: the end of the last transaction is SHOW MASTER STATUS.
  auto master = db_->Query("SHOW MASTER STATUS");
  ASSERT_TRUE(master.ok() && !master->empty());
  EXPECT_EQ(end.file, *(*master)[0][0]);
  EXPECT_EQ(std::to_string(end.pos), *(*master)[0][1]);

  int runs = 0;
  LogImage img = RunToEnd(&p, db_.get(), config_.data_dir, end, &runs);
  ASSERT_TRUE(Reached(img, end));
  std::vector<proto::ChangeRecord> recs = img.Parsed();
  ExpectSteps(recs, steps);
  ExpectTxnNumbering(recs);
  ExpectPositionsInOrder(img);
  size_t rows = 0;
  ExpectTablesEqualReplay(db_.get(), "shop", recs, &rows);
  EXPECT_EQ(rows, 197u + 40u + 3u);  // customers, orders, tags
  ExpectSameLog(img, IngestFiles(db_.get(), config_.chunk_records));
  std::string log = FileText(p.log_file());
  EXPECT_EQ(CountLines(log, "restarting from the checkpoint"), 0u) << log;
  RecordProperty("sigterm_runs", runs);
}

// Run, SIGTERM, more DML while it is down, run again with start = "latest":
// the second run resumes from the checkpoint (start only applies to an
// empty log): no gap, no duplicate, and the first run's records unchanged.
TEST_F(SluicedTest, RestartResumesFromTheCheckpointAndIgnoresStart) {
  Sluiced p(ConfigPath(), dir_.Sub("sluiced.log"));
  p.Start();
  std::vector<Step> a = PartA(), b = PartB(), c = PartC();
  Run(a);
  LogImage first = RunToEnd(&p, db_.get(), config_.data_dir, End());
  ASSERT_FALSE(p.running());
  {
    SCOPED_TRACE("first run");
    ExpectSteps(first.Parsed(), a);
  }

  Run(b);  // while sluiced is down
  config_.start = "latest";
  WriteConfig(ConfigPath(), config_);
  const std::string log_before = FileText(p.log_file());
  p.Start();
  SleepMs(300);
  Run(c);  // while it runs again
  LogImage second = RunToEnd(&p, db_.get(), config_.data_dir, End());

  ASSERT_GE(second.records.size(), first.records.size());
  for (size_t i = 0; i < first.records.size(); ++i) {
    ASSERT_EQ(second.records[i], first.records[i]) << "offset " << i << " changed";
  }
  std::vector<proto::ChangeRecord> recs = second.Parsed();
  ExpectSteps(recs, Concat({a, b, c}));
  ExpectTxnNumbering(recs);
  ExpectTablesEqualReplay(db_.get(), "shop", recs);
  // The second run said where it started: the first run's checkpoint, by
  // its GTID state (MariaDB always has GTIDs; docs/operations.md, "Source
  // failover").
  EXPECT_TRUE(first.checkpoint.gtid_known());
  std::string later = FileText(p.log_file()).substr(log_before.size());
  std::string from = " from GTID " + first.checkpoint.gtid_set();
  EXPECT_NE(later.find(from), std::string::npos) << later;
}

// sluiced's admin listener, scraped while it runs: once ingest has caught
// up with the source, /metrics and /status agree with the server (its end
// position) and with the log read back from disk after SIGTERM.
TEST_F(SluicedTest, AdminPagesAgreeWithTheServerAndTheLog) {
  config_.admin_listen = "127.0.0.1:0";
  WriteConfig(ConfigPath(), config_);
  Sluiced p(ConfigPath(), dir_.Sub("sluiced.log"));
  p.Start();
  const int port = p.AdminPort();
  ASSERT_GT(port, 0) << p.LogTail();
  std::vector<Step> steps = PartA();
  Run(steps);
  SourceEnd end = End();

  // Caught up: the checkpoint is the server's end and the lag probe (every
  // 2 s) has measured it.
  std::string metrics, status;
  const std::string dest = "{dest=\"shop\"}";
  for (int i = 0; i < 600; ++i) {
    metrics = testing::HttpGetBody(port, "/metrics");
    status = testing::HttpGetBody(port, "/status");
    if (JsonField(status, "pos") == std::to_string(end.pos) &&
        Sample(metrics, "sluice_source_lag_bytes" + dest) == 0.0) {
      break;
    }
    SleepMs(100);
  }
  ASSERT_TRUE(p.Terminate()) << p.LogTail();
  auto img = ReadLog(DestPath(config_.data_dir));
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  ASSERT_TRUE(Reached(*img, end)) << status;
  std::vector<proto::ChangeRecord> recs = img->Parsed();
  const double rows =
      static_cast<double>(std::count_if(recs.begin(), recs.end(), [](const auto& r) {
        return r.op() == proto::OP_INSERT || r.op() == proto::OP_UPDATE ||
               r.op() == proto::OP_DELETE;
      }));
  ASSERT_GT(rows, 100);

  // /status: the server's end position, the log's offsets, no lag.
  EXPECT_EQ(JsonField(status, "node"), "\"n1\"");
  EXPECT_EQ(JsonField(status, "name"), "\"shop\"");
  EXPECT_EQ(JsonField(status, "file"), "\"" + end.file + "\"");
  EXPECT_EQ(JsonField(status, "pos"), std::to_string(end.pos));
  EXPECT_EQ(JsonField(status, "gtid_set"), "\"" + end.gtid + "\"");
  EXPECT_EQ(JsonField(status, "high_watermark"), std::to_string(img->high_watermark));
  EXPECT_EQ(JsonField(status, "records_committed"), std::to_string(img->records.size()));
  EXPECT_EQ(JsonField(status, "lag_bytes"), "0");
  EXPECT_EQ(JsonField(status, "lag_seconds"), "0.000");
  EXPECT_EQ(JsonField(status, "restarts"), "0");

  // /metrics: counters equal what the log holds.
  EXPECT_EQ(Sample(metrics, "sluice_ingest_rows_total" + dest), rows);
  // A FULL-metadata source and a ROW-only workload: nothing to flag.
  EXPECT_EQ(Sample(metrics, "sluice_records_without_names_total" + dest), 0.0);
  EXPECT_EQ(Sample(metrics, "sluice_capture_errors_total" + dest.substr(0, dest.size() - 1) +
                                ",kind=\"statement\"}"),
            0.0);
  EXPECT_EQ(JsonField(status, "last_warning"), "\"\"");
  EXPECT_EQ(Sample(metrics, "sluice_ingest_records_committed_total" + dest),
            static_cast<double>(img->records.size()));
  EXPECT_EQ(Sample(metrics, "sluice_log_high_watermark" + dest),
            static_cast<double>(img->high_watermark));
  EXPECT_EQ(Sample(metrics, "sluice_log_first_offset" + dest), 0.0);
  EXPECT_EQ(Sample(metrics, "sluice_source_lag_bytes" + dest), 0.0);
  EXPECT_EQ(Sample(metrics, "sluice_source_lag_seconds" + dest), 0.0);
  EXPECT_EQ(Sample(metrics, "sluice_ingest_restarts_total" + dest), 0.0);
  // One latency observation per committed transaction, cumulative buckets.
  auto txns = Sample(metrics, "sluice_ingest_transactions_total" + dest);
  ASSERT_TRUE(txns && *txns > 0);
  EXPECT_EQ(Sample(metrics, "sluice_commit_latency_seconds_count" + dest), txns);
  EXPECT_EQ(Sample(metrics, "sluice_commit_latency_seconds_bucket{dest=\"shop\",le=\"+Inf\"}"),
            txns);
  EXPECT_LE(Sample(metrics, "sluice_commit_latency_seconds_bucket{dest=\"shop\",le=\"0.0001\"}"),
            txns);
  // Wait time per part of the ring: stage 1 waited for the source between
  // the workload's statements.
  for (const char* part : {"source_read", "ring_full", "plan", "decode", "commit"}) {
    auto w = Sample(metrics, std::string("sluice_ring_wait_seconds_total{dest=\"shop\",part=\"") +
                                 part + "\"}");
    ASSERT_TRUE(w.has_value()) << part << "\n" << metrics;
    EXPECT_GE(*w, 0) << part;
  }
  EXPECT_GT(*Sample(metrics, "sluice_ring_wait_seconds_total{dest=\"shop\",part=\"plan\"}"), 0.0);
  // The text format: every sample's family is declared, every value parses.
  std::istringstream in(metrics);
  std::set<std::string> declared;
  size_t samples = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# TYPE ", 0) == 0) declared.insert(line.substr(7, line.find(' ', 7) - 7));
    if (line.empty() || line[0] == '#') continue;
    ++samples;
    std::string name = line.substr(0, line.find_first_of("{ "));
    std::string family = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (family.ends_with(suffix) && !declared.count(family))
        family = family.substr(0, family.size() - std::strlen(suffix));
    }
    EXPECT_TRUE(declared.count(family)) << line;
    char* stop = nullptr;
    std::string value = line.substr(line.rfind(' ') + 1);
    std::strtod(value.c_str(), &stop);
    EXPECT_EQ(*stop, '\0') << line;
  }
  EXPECT_GT(samples, 30u);
}

// Consumers over the network: a user of [[user]] (password from a file)
// fetches by offset from a running sluiced. What it gets is the workload's
// changes in order and, byte for byte, the log read back from disk after
// SIGTERM; a long poll at the end wakes on the next row the server writes.
TEST_F(SluicedTest, ConsumersFetchOverTheNetworkWhatTheLogHolds) {
  const std::string pw_file = dir_.Sub("reader.password");
  std::ofstream(pw_file) << "correct horse\n";
  fs::permissions(pw_file, fs::perms::owner_read | fs::perms::owner_write);
  config_.extra =
      "\n[server]\nlisten = \"127.0.0.1:0\"\n\n[[user]]\nname = \"reader\"\n"
      "password_file = \"" +
      pw_file + "\"\n";
  WriteConfig(ConfigPath(), config_);
  Sluiced p(ConfigPath(), dir_.Sub("sluiced.log"));
  p.Start();
  const int port = p.ListenPort("consumer server");
  ASSERT_GT(port, 0) << p.LogTail();
  testing::FrameClient c;
  ASSERT_TRUE(c.Connect(port));
  proto::Request hello;
  hello.set_id(1);
  hello.mutable_hello()->set_protocol_version(1);
  hello.mutable_hello()->set_user("reader");
  proto::Response h = c.Call(hello);
  ASSERT_EQ(h.error().code(), proto::OK) << h.error().message();
  proto::Request auth;
  auth.set_id(2);
  auth.mutable_auth()->set_client_nonce(std::string(16, 'n'));
  auth.mutable_auth()->set_proof(
      auth::Proof(auth::PasswordKey("correct horse"), h.hello().nonce(), std::string(16, 'n')));
  ASSERT_EQ(c.Call(auth).error().code(), proto::OK);

  std::vector<Step> steps = PartA();
  Run(steps);
  const SourceEnd end = End();
  // Caught up when the checkpoint (Status) is the server's end.
  proto::Request status;
  status.set_id(3);
  status.mutable_status();
  bool caught_up = false;
  for (int i = 0; i < 600 && !caught_up; ++i) {
    proto::Response s = c.Call(status);
    ASSERT_EQ(s.error().code(), proto::OK) << s.error().message();
    ASSERT_EQ(s.status().destinations_size(), 1);
    caught_up = s.status().destinations(0).checkpoint() == end.file + ":" + std::to_string(end.pos);
    if (!caught_up) SleepMs(100);
  }
  ASSERT_TRUE(caught_up) << p.LogTail();
  std::vector<std::string> fetched;
  for (uint64_t next = 0, hw = 1; next < hw;) {
    proto::Request f;
    f.set_id(4);
    f.mutable_fetch()->set_dest("shop");
    f.mutable_fetch()->set_offset(next);
    f.mutable_fetch()->set_max_records(97);
    proto::Response r = c.Call(f);
    ASSERT_EQ(r.error().code(), proto::OK) << r.error().message();
    for (const auto& lr : r.fetch().records()) {
      ASSERT_EQ(lr.offset(), fetched.size());
      fetched.push_back(lr.record());
    }
    next = r.fetch().next_offset();
    hw = r.fetch().high_watermark();
  }
  std::vector<proto::ChangeRecord> recs;
  for (const auto& b : fetched) ASSERT_TRUE(recs.emplace_back().ParseFromString(b));
  ExpectSteps(recs, steps);

  // A long poll at the end wakes on the next commit.
  proto::Request poll;
  poll.set_id(5);
  poll.mutable_fetch()->set_dest("shop");
  poll.mutable_fetch()->set_offset(fetched.size());
  poll.mutable_fetch()->set_wait_ms(60000);
  ASSERT_TRUE(c.Send(poll));
  ASSERT_TRUE(db_->Execute("INSERT INTO shop.tags VALUES ('late', 1)").ok());
  proto::Response woke;
  ASSERT_EQ(c.Receive(&woke, 30000), testing::FrameClient::Got::kResponse);
  ASSERT_EQ(woke.error().code(), proto::OK) << woke.error().message();
  ASSERT_EQ(woke.fetch().records_size(), 1);
  proto::ChangeRecord late;
  ASSERT_TRUE(late.ParseFromString(woke.fetch().records(0).record()));
  EXPECT_EQ(late.table(), "tags");
  EXPECT_EQ(late.op(), proto::OP_INSERT);
  fetched.push_back(woke.fetch().records(0).record());

  ASSERT_TRUE(p.Terminate()) << p.LogTail();
  auto img = ReadLog(DestPath(config_.data_dir));
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(img->records, fetched);
  EXPECT_EQ(CountLines(FileText(p.log_file()), "can be read by other users"), 0u);
}

}  // namespace
}  // namespace sluice::sluiced_test
