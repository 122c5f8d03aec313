// The snapshot merge rule, deterministically (docs/snapshots.md): a real
// MariaDB, the real ingest pipeline and the Snapshotter in this process.
// The chunk hook runs after a chunk was read (as of its position P) and
// before it is merged: changes made there, and ingested before the merge,
// are the window's. Changes before the snapshot and after the merge are
// the other cases. Expected values come from the source's SELECT and from
// the statements the test ran, never from sluice's output:
//   - a key changed inside the window is not among the chunk's rows (the
//     change, in the log before the chunk, carries the newer row);
//   - so is a key deleted inside the window, and both keys of an update
//     that moved a row's key;
//   - a key changed before the snapshot or after the merge is a chunk row
//     with the value SELECT gave before the window;
//   - replaying the log from the BEGIN mark (read/insert/update upsert,
//     delete delete) gives the table as SELECT gives it, both at the END
//     mark and at the end;
//   - a DDL inside the window makes the chunk be read again, on the new
//     shape (a schema record precedes its rows).
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "broker/binlog/source_factory.h"
#include "broker/ingest/pipeline.h"
#include "broker/snapshot/snapshotter.h"
#include "tests/support/mariadb_fixture.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_for.h"

namespace sluice::snapshot {
namespace {

using testing::MariaDb;
using Row = std::map<std::string, std::string>;  // column -> value as text
using Table = std::map<std::string, Row>;        // id -> row

std::string Text(const proto::Value& v) {
  switch (v.kind_case()) {
    case proto::Value::kInt64: return std::to_string(v.int64());
    case proto::Value::kUint64: return std::to_string(v.uint64());
    case proto::Value::kText: return v.text();
    case proto::Value::kIsNull: return "NULL";
    default: return "?";
  }
}

Row RowOf(const google::protobuf::RepeatedPtrField<proto::Column>& image) {
  Row r;
  for (const auto& c : image) r[c.name()] = Text(c.value());
  return r;
}

class MergeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = MariaDb::Start();
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(db_->Execute("CREATE DATABASE shop").ok());
    ASSERT_TRUE(db_->Execute("CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(20), "
                             "n INT NOT NULL)")
                    .ok());
    for (int i = 1; i <= 10; ++i) {
      ASSERT_TRUE(db_->Execute("INSERT INTO shop.t VALUES (" + std::to_string(i) + ", 'v" +
                               std::to_string(i) + "', " + std::to_string(i * 10) + ")")
                      .ok());
    }
    CommitLogOptions o;
    o.path = dir_.Sub("log");
    o.node_id = "n1";
    o.destination = "shop";
    o.min_free_bytes = 0;
    auto log = CommitLog::Open(o);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(*log);
    auto source = binlog::OpenBinlogSource({db_->ReplUrl(), "latest", 7301});
    ASSERT_TRUE(source.ok()) << source.status().ToString();
    source_ = std::move(*source);
    ingest::IngestOptions io;
    io.include = {"shop\\..*"};
    io.gate = &gate_;
    auto p = ingest::Pipeline::Create(io, log_.get(), &stats_);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    pipeline_ = std::move(*p);
    ingest_ = std::thread([this] { ingest_status_ = pipeline_->Run(source_.get(), &stop_); });
  }
  void TearDown() override {
    snapshotter_.reset();
    stop_.store(true);
    if (source_) source_->Cancel();
    if (ingest_.joinable()) ingest_.join();
  }

  // Runs `sql` and waits until ingest has committed it.
  void ExecuteIngested(const std::string& sql) {
    ASSERT_TRUE(db_->Execute(sql).ok()) << sql;
    auto end = db_->Query("SHOW MASTER STATUS");
    ASSERT_TRUE(end.ok() && !end->empty());
    const ingest::BinlogPosition want{*(*end)[0][0], std::stoull(*(*end)[0][1])};
    ASSERT_TRUE(testing::WaitFor(
        [&] {
          const auto cp = log_->Checkpoint();
          return ingest::ComparePositions({cp.file(), cp.pos()}, want) >= 0;
        },
        std::chrono::seconds(20)))
        << "ingest did not reach " << want.ToString();
  }

  Table Select() {
    auto rows = db_->Query("SELECT id, v, n FROM shop.t ORDER BY id");
    EXPECT_TRUE(rows.ok());
    Table t;
    for (const auto& r : *rows)
      t[*r[0]] = {{"id", *r[0]}, {"v", r[1].value_or("NULL")}, {"n", *r[2]}};
    return t;
  }

  void StartSnapshotter(std::function<void(const std::string&, uint64_t)> hook) {
    SnapshotOptions so;
    so.source = db_->ReplUrl();
    so.chunk_rows = 100;
    so.include = {"shop\\..*"};
    const std::string server = "127.0.0.1:" + std::to_string(db_->port());
    so.ingest_server = [server] { return server; };
    so.chunk_hook = std::move(hook);
    snapshotter_ = std::make_unique<Snapshotter>(so, log_.get(), &gate_);
    snapshotter_->Start();
  }

  void WaitDone(const std::string& id) {
    ASSERT_TRUE(testing::WaitFor(
        [&] {
          for (const auto& j : snapshotter_->progress()) {
            if (j.id == id && j.done) return true;
          }
          return false;
        },
        std::chrono::seconds(60)))
        << "snapshot " << id << " did not end";
  }

  // Every record of the log, in order.
  std::vector<proto::ChangeRecord> Records() {
    std::vector<proto::ChangeRecord> out;
    Offset at = log_->FirstOffset();
    while (at < log_->HighWatermark()) {
      auto set = log_->Read(at, 1000, 1 << 20);
      EXPECT_TRUE(set.ok());
      if (!set.ok()) break;
      for (const auto& r : set->records) {
        proto::ChangeRecord rec;
        EXPECT_TRUE(rec.ParseFromArray(r.data.data(), static_cast<int>(r.data.size())));
        out.push_back(std::move(rec));
      }
      at = set->next_offset;
    }
    return out;
  }

  // Replays `records` from the BEGIN mark of shop.t up to (not including)
  // record `end`.
  static Table Replay(const std::vector<proto::ChangeRecord>& records, size_t end) {
    Table t;
    bool begun = false;
    for (size_t i = 0; i < end; ++i) {
      const auto& r = records[i];
      if (r.op() == proto::OP_SNAPSHOT && r.snapshot().phase() == proto::SnapshotMark::BEGIN) {
        begun = true;
      }
      if (!begun || r.table() != "t") continue;
      switch (r.op()) {
        case proto::OP_READ:
        case proto::OP_INSERT: t[RowOf(r.after())["id"]] = RowOf(r.after()); break;
        case proto::OP_UPDATE:
          t.erase(RowOf(r.before())["id"]);
          t[RowOf(r.after())["id"]] = RowOf(r.after());
          break;
        case proto::OP_DELETE: t.erase(RowOf(r.before())["id"]); break;
        default: break;
      }
    }
    return t;
  }

  testing::TempDir dir_;
  std::unique_ptr<MariaDb> db_;
  std::unique_ptr<CommitLog> log_;
  ingest::SnapshotGate gate_;
  ingest::IngestStats stats_;
  std::unique_ptr<binlog::BinlogSource> source_;
  std::unique_ptr<ingest::Pipeline> pipeline_;
  std::atomic<bool> stop_{false};
  Status ingest_status_;
  std::thread ingest_;
  std::unique_ptr<Snapshotter> snapshotter_;
};

TEST_F(MergeTest, ChangesInTheWindowWinOverTheChunk) {
  // Before the snapshot: its row is in the chunk with this value.
  ASSERT_NO_FATAL_FAILURE(ExecuteIngested("UPDATE shop.t SET v = 'before' WHERE id = 1"));
  Table at_read;  // the table as the chunk read it
  std::atomic<int> hooked{0};
  StartSnapshotter([&](const std::string& table, uint64_t chunk) {
    if (table != "shop.t" || chunk != 0 || hooked++ > 0) return;
    at_read = Select();
    // Inside the window: ingested before the chunk is merged.
    ExecuteIngested("UPDATE shop.t SET v = 'window' WHERE id = 3");
    ExecuteIngested("DELETE FROM shop.t WHERE id = 5");
    ExecuteIngested("UPDATE shop.t SET id = 17 WHERE id = 7");
    ExecuteIngested("INSERT INTO shop.t VALUES (11, 'new', 110)");
  });
  auto id = snapshotter_->Request({"shop.t"});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ASSERT_NO_FATAL_FAILURE(WaitDone(*id));
  ASSERT_EQ(hooked.load(), 1);
  const Table at_end_mark = Select();
  // After the merge.
  ASSERT_NO_FATAL_FAILURE(ExecuteIngested("UPDATE shop.t SET v = 'after' WHERE id = 2"));

  const auto records = Records();
  std::set<std::string> read_ids;
  size_t end_mark = records.size();
  for (size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    if (r.op() == proto::OP_READ) {
      Row row = RowOf(r.after());
      read_ids.insert(row["id"]);
      EXPECT_EQ(row, at_read.at(row["id"])) << "chunk row " << row["id"];
    }
    if (r.op() == proto::OP_SNAPSHOT && r.snapshot().phase() == proto::SnapshotMark::END) {
      end_mark = i + 1;
      EXPECT_EQ(r.snapshot().rows(), read_ids.size());
    }
  }
  // 3 changed, 5 deleted, 7 moved to 17 inside the window: not read.
  EXPECT_EQ(read_ids, (std::set<std::string>{"1", "2", "4", "6", "8", "9", "10"}));
  EXPECT_EQ(at_read.at("1").at("v"), "before");
  ASSERT_LT(end_mark, records.size() + 1);
  EXPECT_EQ(Replay(records, end_mark), at_end_mark);
  EXPECT_EQ(Replay(records, records.size()), Select());
  auto progress = snapshotter_->progress();
  ASSERT_EQ(progress.size(), 1u);
  ASSERT_EQ(progress[0].tables.size(), 1u);
  EXPECT_EQ(progress[0].tables[0].dropped, 3u);
  EXPECT_EQ(progress[0].tables[0].rows, 7u);
  EXPECT_EQ(progress[0].tables[0].state, "done");
}

TEST_F(MergeTest, ADdlInTheWindowReadsTheChunkAgainOnTheNewShape) {
  std::atomic<int> hooked{0};
  StartSnapshotter([&](const std::string& table, uint64_t chunk) {
    if (table != "shop.t" || chunk != 0 || hooked++ > 0) return;
    ExecuteIngested("ALTER TABLE shop.t ADD COLUMN w INT NOT NULL DEFAULT 7");
  });
  auto id = snapshotter_->Request({"shop.t"});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ASSERT_NO_FATAL_FAILURE(WaitDone(*id));
  EXPECT_EQ(hooked.load(), 2);  // read twice
  const auto records = Records();
  bool schema_with_w = false;
  size_t reads = 0;
  for (const auto& r : records) {
    if (r.op() == proto::OP_SCHEMA && r.has_snapshot()) {
      bool w = false;
      for (const auto& c : r.schema().columns()) w = w || c.name() == "w";
      schema_with_w = schema_with_w || w;
    }
    if (r.op() != proto::OP_READ) continue;
    ++reads;
    EXPECT_TRUE(schema_with_w) << "a row of the new shape before its schema record";
    ASSERT_EQ(r.after_size(), 4);
    EXPECT_EQ(r.after(3).name(), "w");
    EXPECT_EQ(r.after(3).value().int64(), 7);
  }
  EXPECT_EQ(reads, 10u);
  auto progress = snapshotter_->progress();
  ASSERT_EQ(progress.size(), 1u);
  EXPECT_EQ(progress[0].tables[0].retries, 1u);
}

TEST_F(MergeTest, RefusesATableWithoutAKeyAndSaysWhy) {
  ASSERT_TRUE(db_->Execute("CREATE TABLE shop.nokey (a INT, b INT)").ok());
  StartSnapshotter({});
  auto id = snapshotter_->Request({"shop.nokey"});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ASSERT_NO_FATAL_FAILURE(WaitDone(*id));
  auto progress = snapshotter_->progress();
  ASSERT_EQ(progress.size(), 1u);
  EXPECT_NE(progress[0].error.find("no primary key and no unique key of NOT NULL columns"),
            std::string::npos)
      << progress[0].error;
  EXPECT_TRUE(progress[0].tables.empty());
  auto bad = snapshotter_->Request({"other.t"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("not captured by this destination"), std::string::npos);
}

// The privilege a snapshot needs is checked when it starts, and the
// refusal names it and the grant: a user that can see the table (it has
// INSERT on it) but may not SELECT it.
TEST_F(MergeTest, RefusesATableTheUserMayNotReadAndNamesTheGrant) {
  ASSERT_TRUE(db_->Execute("CREATE USER 'nosel'@'%' IDENTIFIED BY 'pw'; "
                           "GRANT INSERT ON shop.t TO 'nosel'@'%'")
                  .ok());
  SnapshotOptions so;
  so.source = "mysql://nosel:pw@127.0.0.1:" + std::to_string(db_->port());
  so.include = {"shop\\..*"};
  const std::string server = "127.0.0.1:" + std::to_string(db_->port());
  so.ingest_server = [server] { return server; };
  snapshotter_ = std::make_unique<Snapshotter>(so, log_.get(), &gate_);
  snapshotter_->Start();
  ASSERT_NO_FATAL_FAILURE(ExecuteIngested("UPDATE shop.t SET n = n WHERE id = 1"));
  auto id = snapshotter_->Request({"shop.t"});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ASSERT_NO_FATAL_FAILURE(WaitDone(*id));
  auto progress = snapshotter_->progress();
  ASSERT_EQ(progress.size(), 1u);
  EXPECT_NE(progress[0].error.find("lacks the SELECT privilege"), std::string::npos)
      << progress[0].error;
  EXPECT_NE(progress[0].error.find("GRANT SELECT"), std::string::npos) << progress[0].error;
}

}  // namespace
}  // namespace sluice::snapshot
