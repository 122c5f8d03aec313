// The table map's SIGNEDNESS field against a real MariaDB: it has a bit for
// YEAR columns too (MariaDB sets it), so every numeric column after a YEAR
// must still get its own UNSIGNED flag, and with it the right integer
// reading. Expected values are the ones inserted, checked against SELECT.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "broker/binlog/decoder.h"
#include "broker/binlog/file_source.h"
#include "tests/support/mariadb_fixture.h"
#include "tests/support/record_collector.h"

namespace sluice::binlog {
namespace {

using Collector = testing::RecordCollector;

TEST(SignednessBinlog, NumericColumnsAfterYearKeepTheirSignedness) {
  auto started = testing::MariaDb::Start();
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  testing::MariaDb& db = **started;
  ASSERT_TRUE(db.Execute("CREATE DATABASE p; CREATE TABLE p.t (a INT, y YEAR, i INT UNSIGNED, "
                         "j INT, k TINYINT UNSIGNED, d DOUBLE);"
                         "INSERT INTO p.t VALUES (-1, 2001, 4294967295, -5, 255, 0.5);"
                         "FLUSH BINARY LOGS")
                  .ok());
  auto rows = db.Query("SELECT a, y, i, j, k FROM p.t");
  ASSERT_TRUE(rows.ok() && rows->size() == 1);
  const std::vector<std::string> server = {"-1", "2001", "4294967295", "-5", "255"};
  for (size_t c = 0; c < server.size(); ++c) ASSERT_EQ((*rows)[0][c].value_or(""), server[c]);

  auto files = db.BinlogFiles();
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  FileSourceOptions fo;
  fo.files = *files;
  auto source = FileSource::Open(fo);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  Decoder decoder{DecoderOptions{}};
  Collector sink;
  for (int n = 0; n < 10000; ++n) {
    RawEvent ev;
    Status st = (*source)->Next(&ev);
    if (st.code() == Code::kNotFound) break;
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_TRUE(decoder.Decode(ev, &sink).ok());
  }
  EXPECT_TRUE(sink.warnings.empty()) << sink.warnings.front();
  std::vector<proto::ChangeRecord> changes;  // the DDL that made the table aside
  for (const auto& r : sink.records) {
    if (r.op() != proto::OP_DDL) changes.push_back(r);
  }
  ASSERT_EQ(changes.size(), 1u);
  const auto& after = changes[0].after();
  ASSERT_EQ(after.size(), 6);
  auto text = [](const proto::Column& c) {
    return c.value().kind_case() == proto::Value::kUint64 ? std::to_string(c.value().uint64())
                                                          : std::to_string(c.value().int64());
  };
  for (int c = 0; c < 5; ++c) EXPECT_EQ(text(after[c]), server[c]) << after[c].name();
  EXPECT_FALSE(after[0].is_unsigned());
  EXPECT_FALSE(after[1].is_unsigned());  // YEAR: its bit is set but means nothing
  EXPECT_TRUE(after[2].is_unsigned());
  EXPECT_FALSE(after[3].is_unsigned());
  EXPECT_TRUE(after[4].is_unsigned());
  EXPECT_EQ(after[5].value().float64(), 0.5);
}

}  // namespace
}  // namespace sluice::binlog
