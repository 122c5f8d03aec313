// MariaDB with log_bin_compress=ON against MariaDB without it: two real
// servers run the same workload (the type workload of type_workload.h, long
// rows, short rows and DDL), and sluice must decode the compressed binlog to
// the same records as the plain one: from the files, and from the compressed
// server over the replication protocol (MysqlSource), and through the ingest
// pipeline (parallel workers, wire encoding) into a commit log. The compressed binlog
// is checked to hold compressed events of each kind, so that the test
// cannot pass with nothing compressed.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "broker/binlog/decoder.h"
#include "broker/binlog/file_source.h"
#include "broker/binlog/mysql_source.h"
#include "broker/ingest/pipeline.h"
#include "storage/commit_log.h"
#include "tests/integration/type_workload.h"
#include "tests/support/mariadb_fixture.h"
#include "tests/support/record_collector.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_log.h"

namespace sluice::binlog {
namespace {

using testing::MariaDb;
using testing::MariaDbOptions;
namespace wl = testing_workload;

using Collector = testing::RecordCollector;

std::vector<std::string> Workload() {
  std::vector<std::string> w = {
      "SET NAMES utf8mb4; SET time_zone = '+00:00'; SET sql_mode = ''",
      "CREATE DATABASE shop",
      "USE shop",
      wl::CreateTypesTableSql(),
      // DDL longer than 256 bytes: a 2-byte uncompressed length.
      "CREATE TABLE notes (id INT PRIMARY KEY, note TEXT, tiny TINYINT) COMMENT '" +
          std::string(300, 'c') + "'",
  };
  for (const std::string& sql : wl::TypeWorkloadDml()) w.push_back(sql);
  // Rows far over 256 bytes, and rows of a few bytes (under the minimum
  // length of 10: logged uncompressed next to compressed ones).
  w.push_back("INSERT INTO notes VALUES (1, REPEAT('abcdefghij', 100), 1), (2, 'short', 2)");
  w.push_back("INSERT INTO notes (id) VALUES (3)");
  w.push_back(
      "BEGIN; UPDATE notes SET note = REPEAT('xyz', 400), tiny = 5 WHERE id = 2; "
      "DELETE FROM notes WHERE id = 1; COMMIT");
  w.push_back("ALTER TABLE notes ADD COLUMN extra VARCHAR(50) DEFAULT 'e', COMMENT 'altered'");
  w.push_back("UPDATE notes SET extra = 'changed' WHERE id = 3");
  w.push_back("DROP TABLE types");
  w.push_back("FLUSH BINARY LOGS");
  return w;
}

struct Decoded {
  Collector sink;
  std::array<uint64_t, 256> events{};
};

// Decodes every binlog file of `db` offline.
void DecodeFiles(MariaDb& db, Decoded* out) {
  auto files = db.BinlogFiles();
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  FileSourceOptions fo;
  fo.files = *files;
  auto source = FileSource::Open(fo);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  Decoder decoder{DecoderOptions{}};
  for (int i = 0; i < 100000; ++i) {
    RawEvent ev;
    Status st = (*source)->Next(&ev);
    if (st.code() == Code::kNotFound) break;
    ASSERT_TRUE(st.ok()) << st.ToString();
    st = decoder.Decode(ev, &out->sink);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  out->events = decoder.stats().events;
}

std::unique_ptr<MariaDb> RunWorkload(const MariaDbOptions& options) {
  auto db = MariaDb::Start(options);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  if (!db.ok()) return nullptr;
  for (const std::string& sql : Workload()) {
    Status st = (*db)->Execute(sql);
    EXPECT_TRUE(st.ok()) << sql.substr(0, 200) << ": " << st.ToString();
    if (!st.ok()) return nullptr;
  }
  return std::move(*db);
}

// What must be equal between the two servers: all but the positions
// (compressed events are shorter) and the timestamps.
std::string Comparable(proto::ChangeRecord r) {
  r.clear_pos();
  r.clear_ts();
  return r.SerializeAsString();
}

TEST(CompressedBinlog, DecodesToTheRecordsOfAnUncompressedServer) {
  MariaDbOptions compress;
  compress.extra_args = {"--log-bin-compress=ON", "--log-bin-compress-min-len=10"};
  auto plain_db = RunWorkload({});
  ASSERT_TRUE(plain_db);
  auto zipped_db = RunWorkload(compress);
  ASSERT_TRUE(zipped_db);
  auto on = zipped_db->Query("SELECT @@log_bin_compress, @@log_bin_compress_min_len");
  ASSERT_TRUE(on.ok() && on->size() == 1) << on.status().ToString();
  EXPECT_EQ((*on)[0][0].value_or(""), "1");

  Decoded plain, zipped;
  ASSERT_NO_FATAL_FAILURE(DecodeFiles(*plain_db, &plain));
  ASSERT_NO_FATAL_FAILURE(DecodeFiles(*zipped_db, &zipped));

  // Not vacuous: the compressed binlog holds compressed statements and rows
  // of every kind (MariaDB writes the v1 ones, 166-168), the plain one none.
  const auto n = [](const Decoded& d, EventType t) { return d.events[static_cast<uint8_t>(t)]; };
  EXPECT_GE(n(zipped, EventType::kQueryCompressed), 5u);
  EXPECT_GE(n(zipped, EventType::kWriteRowsCompressedV1), 5u);
  EXPECT_GE(n(zipped, EventType::kUpdateRowsCompressedV1), 3u);
  EXPECT_GE(n(zipped, EventType::kDeleteRowsCompressedV1), 2u);
  EXPECT_GE(n(zipped, EventType::kWriteRowsV1), 1u);  // the row under 10 bytes
  for (int t = 165; t <= 171; ++t) EXPECT_EQ(plain.events[t], 0u) << t;
  for (int t = 169; t <= 171; ++t) EXPECT_EQ(zipped.events[t], 0u) << t;
  std::printf(
      "compressed binlog: %llu QUERY_COMPRESSED, %llu/%llu/%llu WRITE/UPDATE/DELETE_ROWS_"
      "COMPRESSED_V1, %llu plain WRITE_ROWS_V1\n",
      static_cast<unsigned long long>(n(zipped, EventType::kQueryCompressed)),
      static_cast<unsigned long long>(n(zipped, EventType::kWriteRowsCompressedV1)),
      static_cast<unsigned long long>(n(zipped, EventType::kUpdateRowsCompressedV1)),
      static_cast<unsigned long long>(n(zipped, EventType::kDeleteRowsCompressedV1)),
      static_cast<unsigned long long>(n(zipped, EventType::kWriteRowsV1)));

  for (const auto& w : plain.sink.warnings) ADD_FAILURE() << "plain: " << w;
  for (const auto& w : zipped.sink.warnings) ADD_FAILURE() << "compressed: " << w;
  // 11 type-workload changes, 3 + 1 + 2 + 1 notes changes, 5 DDL at least.
  ASSERT_GE(plain.sink.records.size(), 23u);
  ASSERT_EQ(zipped.sink.records.size(), plain.sink.records.size());
  size_t long_values = 0, ddl = 0;
  for (size_t i = 0; i < plain.sink.records.size(); ++i) {
    const proto::ChangeRecord& p = plain.sink.records[i];
    EXPECT_EQ(Comparable(zipped.sink.records[i]), Comparable(p))
        << "record " << i << ": " << p.ShortDebugString().substr(0, 300) << "\nvs "
        << zipped.sink.records[i].ShortDebugString().substr(0, 300);
    ddl += p.op() == proto::OP_DDL;
    for (const auto& c : p.after()) long_values += c.value().text().size() > 256;
  }
  EXPECT_GE(ddl, 5u);
  EXPECT_GE(long_values, 2u);
  ASSERT_EQ(zipped.sink.ends.size(), plain.sink.ends.size());
  for (size_t i = 0; i < plain.sink.ends.size(); ++i) {
    EXPECT_EQ(zipped.sink.ends[i].gtid, plain.sink.ends[i].gtid) << i;
  }

  // The compressed server over the replication protocol: the same records
  // as its files, positions included.
  auto o = ParseMysqlUrl(zipped_db->ReplUrl());
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  o->server_id = 1001;
  o->heartbeat_period = std::chrono::milliseconds(500);
  o->read_timeout = std::chrono::seconds(5);
  auto src = MysqlSource::Open(*o);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  Decoder decoder{DecoderOptions{}};
  Collector net;
  for (int i = 0; i < 20000 && net.records.size() < zipped.sink.records.size(); ++i) {
    RawEvent ev;
    Status st = (*src)->Next(&ev);
    ASSERT_TRUE(st.ok()) << st.ToString();
    st = decoder.Decode(ev, &net);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  ASSERT_EQ(net.records.size(), zipped.sink.records.size());
  for (size_t i = 0; i < net.records.size(); ++i) {
    EXPECT_EQ(net.records[i].SerializeAsString(), zipped.sink.records[i].SerializeAsString())
        << "record " << i;
  }
  EXPECT_GE(decoder.stats().events[static_cast<uint8_t>(EventType::kWriteRowsCompressedV1)], 5u);

  // The ingest pipeline (3 workers encoding records straight to wire bytes)
  // on the compressed files: the log holds the serial decoder's records.
  testing::TempDir dir;
  CommitLogOptions lo = testing::TestLogOptions(dir.Sub("log"), "a", "shop");
  auto log = CommitLog::Open(lo);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  auto files = zipped_db->BinlogFiles();
  ASSERT_TRUE(files.ok());
  FileSourceOptions fo;
  fo.files = *files;
  auto fsrc = FileSource::Open(fo);
  ASSERT_TRUE(fsrc.ok()) << fsrc.status().ToString();
  ingest::IngestStats stats;
  ingest::IngestOptions io;
  io.parse_threads = 3;
  auto pipeline = ingest::Pipeline::Create(io, log->get(), &stats);
  ASSERT_TRUE(pipeline.ok()) << pipeline.status().ToString();
  std::atomic<bool> stop{false};
  Status run = (*pipeline)->Run(fsrc->get(), &stop);
  ASSERT_TRUE(run.ok()) << run.ToString();
  std::vector<proto::ChangeRecord> logged;
  for (Offset at = (*log)->FirstOffset(); at < (*log)->HighWatermark();) {
    auto set = (*log)->Read(at, 10000, 64 << 20);
    ASSERT_TRUE(set.ok()) << set.status().ToString();
    for (const auto& r : set->records) {
      ASSERT_TRUE(
          logged.emplace_back().ParseFromArray(r.data.data(), static_cast<int>(r.data.size())));
    }
    at = set->next_offset;
  }
  // The schema records in the log are the decoder's, in order; the rest
  // are its rows and DDL.
  std::vector<proto::ChangeRecord> shapes;
  std::erase_if(logged, [&](const proto::ChangeRecord& r) {
    if (r.op() != proto::OP_SCHEMA) return false;
    shapes.push_back(r);
    return true;
  });
  ASSERT_EQ(shapes.size(), zipped.sink.schemas.size());
  for (size_t i = 0; i < shapes.size(); ++i) {
    EXPECT_EQ(shapes[i].schema().SerializeAsString(),
              zipped.sink.schemas[i].schema().SerializeAsString());
  }
  ASSERT_EQ(logged.size(), zipped.sink.records.size());
  for (size_t i = 0; i < logged.size(); ++i) {
    proto::ChangeRecord want = zipped.sink.records[i];
    want.clear_txn();
    logged[i].clear_txn();
    EXPECT_EQ(logged[i].SerializeAsString(), want.SerializeAsString()) << "offset " << i;
  }
}

}  // namespace
}  // namespace sluice::binlog
