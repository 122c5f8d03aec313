// The ingest pipeline on binlogs a real MariaDB wrote: its log must be the
// same, record for record and offset for offset, for any number of workers,
// any ring size and random worker delays; and it must equal what the serial
// decoder (no ring) produces for the same files.
#include "broker/ingest/pipeline.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <thread>

#include <zlib.h>

#include "broker/binlog/file_source.h"
#include "tests/support/mariadb_fixture.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_log.h"

namespace sluice::ingest {
namespace {

namespace fs = std::filesystem;
using testing::MariaDb;

// Everything in a log, re-serialized canonically (a parsed record serializes
// the same whatever order its fields came in).
struct LogImage {
  std::vector<std::string> records;
  proto::SourceCheckpoint checkpoint;
  uint64_t high_watermark = 0;
};

LogImage ReadAll(CommitLog* log) {
  LogImage img;
  Offset at = log->FirstOffset();
  while (at < log->HighWatermark()) {
    auto set = log->Read(at, 10000, 64 << 20);
    EXPECT_TRUE(set.ok()) << set.status().ToString();
    if (!set.ok()) break;
    for (const auto& r : set->records) {
      proto::ChangeRecord rec;
      EXPECT_TRUE(rec.ParseFromArray(r.data.data(), static_cast<int>(r.data.size())));
      img.records.push_back(rec.SerializeAsString());
    }
    at = set->next_offset;
  }
  img.checkpoint = log->Checkpoint();
  img.high_watermark = log->HighWatermark().value();
  return img;
}

class PipelineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto db = MariaDb::Start();
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    // A mixed workload: ~120k row changes, small and large transactions,
    // DDL in between, three tables (one the filter test drops).
    ASSERT_TRUE(
        db_->Execute(
               "CREATE DATABASE shop; USE shop; "
               "CREATE TABLE orders (id INT PRIMARY KEY, status VARCHAR(20), total DECIMAL(10,2), "
               "  at DATETIME(3)); "
               "CREATE TABLE items (id BIGINT PRIMARY KEY, sku VARCHAR(40), qty INT UNSIGNED); "
               "CREATE TABLE tmp_log (id INT PRIMARY KEY, msg TEXT)")
            .ok());
    for (int i = 0; i < 200; ++i) {
      std::string id = std::to_string(i);
      ASSERT_TRUE(db_->Execute("INSERT INTO orders VALUES (" + id + ", 'new', " + id +
                               ".5, '2026-01-01 00:00:00.123'); INSERT INTO tmp_log VALUES (" + id +
                               ", 'x')")
                      .ok());
    }
    ASSERT_TRUE(db_->Execute("INSERT INTO items SELECT seq, CONCAT('sku-', seq), seq % 7 "
                             "FROM seq_1_to_100000")
                    .ok());  // one 100k-row transaction
    ASSERT_TRUE(db_->Execute("ALTER TABLE orders ADD COLUMN note VARCHAR(10)").ok());
    ASSERT_TRUE(db_->Execute("UPDATE items SET qty = qty + 1 WHERE id <= 15000").ok());
    ASSERT_TRUE(db_->Execute("BEGIN; UPDATE orders SET status = 'paid' WHERE id < 100; "
                             "DELETE FROM tmp_log WHERE id < 50; COMMIT")
                    .ok());
    ASSERT_TRUE(db_->Execute("DELETE FROM items WHERE id > 95000").ok());
    ASSERT_TRUE(db_->Execute("FLUSH BINARY LOGS").ok());
    auto files = db_->BinlogFiles();
    ASSERT_TRUE(files.ok());
    files_ = *files;
  }
  static void TearDownTestSuite() { db_.reset(); }

  // Runs the files through a pipeline into a fresh log and returns the log.
  LogImage Ingest(IngestOptions o, Status* status = nullptr, IngestStats* stats_out = nullptr,
                  std::vector<std::string> files = {}) {
    testing::TempDir dir;
    CommitLogOptions lo = testing::TestLogOptions(dir.Sub("log"), "a", "shop");
    auto log = CommitLog::Open(lo);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    binlog::FileSourceOptions so;
    so.files = files.empty() ? files_ : files;
    auto src = binlog::FileSource::Open(so);
    EXPECT_TRUE(src.ok()) << src.status().ToString();
    IngestStats stats;
    auto p = Pipeline::Create(o, log->get(), &stats);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    std::atomic<bool> stop{false};
    Status st = (*p)->Run(src->get(), &stop);
    if (status != nullptr) {
      *status = st;
    } else {
      EXPECT_TRUE(st.ok()) << st.ToString();
    }
    if (stats_out != nullptr) {
      stats_out->chunks = stats.chunks.load();
      stats_out->records_committed = stats.records_committed.load();
      stats_out->undecodable_events = stats.undecodable_events.load();
    }
    return ReadAll(log->get());
  }

  static std::unique_ptr<MariaDb> db_;
  static std::vector<std::string> files_;
};

std::unique_ptr<MariaDb> PipelineTest::db_;
std::vector<std::string> PipelineTest::files_;

// The serial decoder's records, with txn set the ordinary way.
class SerialSink : public binlog::DecoderSink {
 public:
  Status OnRow(proto::ChangeRecord* r) override { return Keep(r); }
  Status OnDdl(proto::ChangeRecord* r) override { return Keep(r); }
  Status OnTxnEnd(const binlog::TxnEnd&) override {
    if (held_) records.push_back(Last(true));
    held_ = false;
    return Status::Ok();
  }
  void OnWarning(const std::string&) override {}
  std::vector<std::string> records;

 private:
  Status Keep(proto::ChangeRecord* r) {
    if (held_) records.push_back(Last(false));
    pending_.CopyFrom(*r);
    held_ = true;
    return Status::Ok();
  }
  std::string Last(bool last) {
    pending_.mutable_txn()->set_last(last);
    return pending_.SerializeAsString();
  }
  proto::ChangeRecord pending_;
  bool held_ = false;
};

TEST_F(PipelineTest, EqualsTheSerialDecoder) {
  binlog::FileSourceOptions so;
  so.files = files_;
  auto src = binlog::FileSource::Open(so);
  ASSERT_TRUE(src.ok());
  binlog::Decoder d({});
  SerialSink serial;
  for (;;) {
    binlog::RawEvent ev;
    Status st = (*src)->Next(&ev);
    if (st.code() == Code::kNotFound) break;
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_TRUE(d.Decode(ev, &serial).ok());
  }
  IngestOptions o;
  o.parse_threads = 2;
  LogImage img = Ingest(o);
  ASSERT_GT(serial.records.size(), 120000u);
  ASSERT_EQ(img.records.size(), serial.records.size());
  for (size_t i = 0; i < img.records.size(); ++i) {
    ASSERT_EQ(img.records[i], serial.records[i]) << "offset " << i;
  }
  // The checkpoint is the end of the last transaction, as the server says.
  auto master = db_->Query("SHOW BINLOG EVENTS IN '" +
                           fs::path(files_[files_.size() - 2]).filename().string() + "'");
  ASSERT_TRUE(master.ok());
  uint64_t last_xid_end = 0;
  for (const auto& row : *master)
    if (*row[2] == "Xid") last_xid_end = std::stoull(*row[4]);
  EXPECT_EQ(img.checkpoint.file(), fs::path(files_[files_.size() - 2]).filename().string());
  EXPECT_EQ(img.checkpoint.pos(), last_xid_end);
  auto gtid = db_->Query("SELECT @@gtid_binlog_pos");
  ASSERT_TRUE(gtid.ok());
  EXPECT_EQ(img.checkpoint.gtid_set(), *(*gtid)[0][0]);
}

TEST_F(PipelineTest, SameLogForAnyWorkersRingSizeAndDelays) {
  IngestOptions ref;
  ref.parse_threads = 1;
  ref.ring_size = 1024;
  LogImage want = Ingest(ref);
  struct Shape {
    int workers;
    size_t ring;
    ring::WaitKind wait;
  };
  for (Shape sh :
       {Shape{2, 2, ring::WaitKind::kYield}, Shape{3, 8, ring::WaitKind::kBlocking},
        Shape{4, 64, ring::WaitKind::kYield}, Shape{2, 4096, ring::WaitKind::kBlocking}}) {
    SCOPED_TRACE(::testing::Message() << sh.workers << " workers, ring " << sh.ring);
    IngestOptions o;
    o.parse_threads = sh.workers;
    o.ring_size = sh.ring;
    o.wait = sh.wait;
    o.chunk_records = 777;  // chunk boundaries must not change anything either
    o.worker_hook = [](int worker, int64_t seq) {
      thread_local std::mt19937 rng(static_cast<unsigned>(worker * 7919 + 1));
      // The delays under test: workers fall behind one another at random.
      if (rng() % 512 == 0) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));
      (void)seq;
    };
    LogImage got = Ingest(o);
    ASSERT_EQ(got.records.size(), want.records.size());
    for (size_t i = 0; i < got.records.size(); ++i) ASSERT_EQ(got.records[i], want.records[i]) << i;
    EXPECT_EQ(got.checkpoint.SerializeAsString(), want.checkpoint.SerializeAsString());
  }
}

// A file source that runs `hook` once, before handing out the first event
// whose bytes contain `marker`.
class HookedSource : public binlog::BinlogSource {
 public:
  HookedSource(std::unique_ptr<binlog::BinlogSource> inner, std::string marker,
               std::function<void()> hook)
      : inner_(std::move(inner)), marker_(std::move(marker)), hook_(std::move(hook)) {}
  Status Next(binlog::RawEvent* ev) override {
    Status st = inner_->Next(ev);
    if (st.ok() && hook_ && ev->bytes.find(marker_) != std::string_view::npos) {
      hook_();
      hook_ = nullptr;
    }
    return st;
  }
  binlog::BinlogPosition position() const override { return inner_->position(); }

 private:
  std::unique_ptr<binlog::BinlogSource> inner_;
  const std::string marker_;
  std::function<void()> hook_;
};

// Retention removes every table's schema record while ingest runs (just
// before the ALTER); from the new first offset on, every row of every table
// still comes after a schema record of its table, and the rows are those of
// an ingest without retention.
TEST_F(PipelineTest, ShapesRemovedByRetentionAreRecordedAgain) {
  const LogImage want = Ingest(IngestOptions{});
  size_t alter = 0;
  proto::ChangeRecord rec;
  for (size_t i = 0; i < want.records.size(); ++i) {
    ASSERT_TRUE(rec.ParseFromString(want.records[i]));
    if (rec.op() == proto::OP_DDL && rec.sql().find("ALTER TABLE orders") != std::string::npos) {
      alter = i;
      break;
    }
  }
  ASSERT_GT(alter, 100000u);

  testing::TempDir dir;
  CommitLogOptions lo = testing::TestLogOptions(dir.Sub("log"), "a", "shop");
  lo.retention.max_bytes = 1;  // everything committed may go
  auto log = CommitLog::Open(lo);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  binlog::FileSourceOptions so;
  so.files = files_;
  auto files = binlog::FileSource::Open(so);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  CommitLog* l = log->get();
  Status retention;
  HookedSource src(std::move(*files), "ALTER TABLE orders", [&] {
    // Everything before the ALTER is read; wait until it is committed (each
    // commit wakes WaitForChange), then remove it.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    uint64_t seen = l->ChangeCount();
    while (l->CommittedEnd().value() < alter && std::chrono::steady_clock::now() < deadline) {
      seen = l->WaitForChange(seen, std::chrono::milliseconds(100));
    }
    if (l->CommittedEnd().value() < alter) {
      ADD_FAILURE() << "ingest committed " << l->CommittedEnd().value() << " of the " << alter
                    << " records before the ALTER within 60 s";
    }
    retention = l->ApplyRetention(0).status();
  });
  IngestStats stats;
  IngestOptions o;
  o.parse_threads = 2;
  auto p = Pipeline::Create(o, l, &stats);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  std::atomic<bool> stop{false};
  Status st = (*p)->Run(&src, &stop);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_TRUE(retention.ok()) << retention.ToString();
  ASSERT_EQ(l->FirstOffset(), Offset(alter));

  const LogImage got = ReadAll(l);
  std::set<std::string> described;
  std::vector<std::string> rows_got, rows_want;
  for (size_t i = 0; i < got.records.size(); ++i) {
    ASSERT_TRUE(rec.ParseFromString(got.records[i]));
    const std::string table = rec.db() + "." + rec.table();
    if (rec.op() == proto::OP_SCHEMA) {
      described.insert(table);
    } else if (rec.op() != proto::OP_DDL) {
      ASSERT_TRUE(described.count(table)) << "offset " << alter + i << ": a row of " << table
                                          << " with no schema record of it since the first offset";
      rec.clear_txn();  // a schema record recorded again shifts its transaction's seq
      rows_got.push_back(rec.SerializeAsString());
    }
  }
  for (size_t i = alter; i < want.records.size(); ++i) {
    ASSERT_TRUE(rec.ParseFromString(want.records[i]));
    if (rec.op() == proto::OP_SCHEMA || rec.op() == proto::OP_DDL) continue;
    rec.clear_txn();
    rows_want.push_back(rec.SerializeAsString());
  }
  EXPECT_EQ(rows_got.size(), rows_want.size());
  EXPECT_TRUE(rows_got == rows_want);
  EXPECT_TRUE(described.count("shop.items"));  // recorded again: its shape did not change
}

TEST_F(PipelineTest, LargeTransactionStreamsInChunks) {
  IngestOptions o;
  o.chunk_records = 5000;
  IngestStats stats;
  LogImage img = Ingest(o, nullptr, &stats);
  // The 100k-row insert alone is 20 chunks.
  EXPECT_GE(stats.chunks.load(), 20u);
  EXPECT_EQ(stats.records_committed.load(), img.records.size());
}

TEST_F(PipelineTest, FiltersOnDbTable) {
  IngestOptions o;
  o.include = {"shop\\..*"};
  o.exclude = {"shop\\.tmp_.*"};
  LogImage img = Ingest(o);
  size_t tmp = 0, orders = 0, orders_shapes = 0;
  for (const auto& bytes : img.records) {
    proto::ChangeRecord r;
    ASSERT_TRUE(r.ParseFromString(bytes));
    tmp += r.table() == "tmp_log";  // rows, DDL and schema records alike
    orders += r.table() == "orders" && (r.op() == proto::OP_INSERT || r.op() == proto::OP_UPDATE);
    orders_shapes += r.table() == "orders" && r.op() == proto::OP_SCHEMA;
  }
  EXPECT_EQ(tmp, 0u);
  EXPECT_EQ(orders, 200u + 100u);  // inserts + the updates to paid
  EXPECT_GE(orders_shapes, 1u);
}

TEST_F(PipelineTest, CorruptEventStopsAtTheLastWholeTransaction) {
  testing::TempDir dir;
  // Damage the first rows event of the big insert in a copy of the file.
  std::string name = fs::path(files_[0]).filename().string();
  auto ev = db_->Query("SHOW BINLOG EVENTS IN '" + name + "'");
  ASSERT_TRUE(ev.ok());
  uint64_t target = 0, prev_xid_end = 0;
  for (const auto& row : *ev) {
    if (*row[2] == "Xid") prev_xid_end = std::stoull(*row[4]);
    if (row[5]->find("FROM seq_1_to_100000") != std::string::npos) {
      target = std::stoull(*row[4]);  // the Annotate_rows end: the table map follows
      break;
    }
  }
  ASSERT_GT(target, 0u);
  std::string copy = dir.Sub(name);
  fs::copy_file(files_[0], copy);
  {
    std::fstream f(copy, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(target + 40));
    f.put('\x7f');
  }
  Status st;
  IngestOptions o;
  o.chunk_records = 1000;
  LogImage img = Ingest(o, &st, nullptr, {copy});
  EXPECT_EQ(st.code(), Code::kCorruption) << st.ToString();
  EXPECT_NE(st.message().find(name + " at "), std::string::npos) << st.ToString();
  EXPECT_EQ(img.checkpoint.pos(), prev_xid_end);
}

// An event whose bytes are sound (its CRC is right) but whose content does
// not decode: in a copy of the binlog, the first orders insert's DECIMAL
// (a worker's decode error) and the second one's TABLE_MAP column type
// (the serial stage's). With on_undecodable = skip each such event is an
// error record holding the event as the file has it, and everything else
// is what an undamaged ingest gives; without, ingest stops.
TEST_F(PipelineTest, UndecodableEventsAreErrorRecordsWhenSkipped) {
  testing::TempDir dir;
  const std::string name = fs::path(files_[0]).filename().string();
  auto ev = db_->Query("SHOW BINLOG EVENTS IN '" + name + "'");
  ASSERT_TRUE(ev.ok());
  // (start, end) of the first two orders Write_rows events and their table maps.
  std::vector<std::pair<uint64_t, uint64_t>> maps, rows;
  std::pair<uint64_t, uint64_t> last_map;
  for (const auto& row : *ev) {
    const uint64_t start = std::stoull(*row[1]), end = std::stoull(*row[4]);
    if (*row[2] == "Table_map") last_map = {start, end};
    if (*row[2] == "Table_map" && row[5]->find("(shop.orders)") == std::string::npos) {
      last_map = {0, 0};
    }
    if (*row[2] == "Write_rows_v1" && last_map.first != 0 && rows.size() < 2) {
      maps.push_back(last_map);
      rows.push_back({start, end});
    }
  }
  ASSERT_EQ(rows.size(), 2u);
  std::string bytes;
  {
    std::ifstream in(files_[0], std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto fix_crc = [&](std::pair<uint64_t, uint64_t> e) {
    uint32_t crc =
        static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(bytes.data() + e.first),
                                    static_cast<uInt>(e.second - e.first - 4)));
    for (int i = 0; i < 4; ++i) bytes[e.second - 4 + i] = static_cast<char>(crc >> (8 * i));
  };
  // Row 0 (0, 'new', 0.50, ...): after the rows header (8), the column count
  // and bitmap (2), the null bits (1), id (4) and status (1 + 3) comes
  // total, DECIMAL(10,2): 4 bytes of integer digits that now say 2^31 - 1,
  // more than 8 digits can hold.
  const uint64_t decimal = rows[0].first + 19 + 8 + 2 + 1 + 4 + 4;
  for (int i = 0; i < 4; ++i) bytes[decimal + i] = '\xff';
  fix_crc(rows[0]);
  // The second insert's table map: its first column type becomes 200, a
  // type no server has.
  const uint64_t type0 = maps[1].first + 19 + 8 + 1 + 4 + 1 + 1 + 6 + 1 + 1;
  ASSERT_EQ(static_cast<uint8_t>(bytes[type0]), 3u);  // INT, as created
  bytes[type0] = static_cast<char>(200);
  fix_crc(maps[1]);
  const std::string copy = dir.Sub(name);
  {
    std::ofstream out(copy, std::ios::binary);
    out << bytes;
  }

  Status st;
  IngestOptions o;
  LogImage stopped = Ingest(o, &st, nullptr, {copy});
  EXPECT_EQ(st.code(), Code::kCorruption) << st.ToString();

  o.skip_undecodable = true;
  IngestStats stats;
  LogImage img = Ingest(o, &st, &stats, {copy});
  ASSERT_TRUE(st.ok()) << st.ToString();
  LogImage want = Ingest(IngestOptions{});
  // The worker's: the rows event, whole. The serial stage's: the table map
  // and the rows event that needed it.
  const std::vector<std::pair<uint64_t, uint64_t>> bad = {rows[0], maps[1], rows[1]};
  size_t errors = 0, i = 0, j = 0;
  for (; i < img.records.size() && j < want.records.size(); ++i, ++j) {
    proto::ChangeRecord got, ref;
    ASSERT_TRUE(got.ParseFromString(img.records[i]));
    ASSERT_TRUE(ref.ParseFromString(want.records[j]));
    if (got.op() == proto::OP_ERROR) {
      ASSERT_LT(errors, bad.size());
      const auto [start, end] = bad[errors];
      EXPECT_EQ(got.error().kind(), proto::CaptureError::UNDECODABLE);
      EXPECT_EQ(got.error().raw(), bytes.substr(start, end - start)) << "error " << errors;
      EXPECT_EQ(got.error().event_pos(), start);
      EXPECT_EQ(got.pos().pos(), end);
      EXPECT_EQ(got.error().event_type(), static_cast<uint8_t>(bytes[start + 4]));
      // The table is known where its map was: not for the broken map, nor
      // for the rows event that came without one.
      EXPECT_EQ(got.db(), errors == 0 ? "shop" : "") << "error " << errors;
      EXPECT_FALSE(got.error().reason().empty());
      ++errors;
      // What the event would have given in the undamaged ingest: one row
      // (and, for the table map, its schema record there was none of).
      if (errors != 2) {
        EXPECT_EQ(ref.op(), proto::OP_INSERT) << "error " << errors;
      } else {
        --j;
      }
      continue;
    }
    ASSERT_EQ(got.op(), ref.op()) << "record " << i;
    if (got.op() != proto::OP_SCHEMA) {
      got.clear_txn();
      ref.clear_txn();
      ASSERT_EQ(got.SerializeAsString(), ref.SerializeAsString()) << "record " << i;
    }
  }
  EXPECT_EQ(errors, 3u);
  EXPECT_EQ(stats.undecodable_events.load(), 3u);
  EXPECT_EQ(img.checkpoint.SerializeAsString(), want.checkpoint.SerializeAsString());
}

}  // namespace
}  // namespace sluice::ingest
