// GEOMETRY values with their SRID, against a real MariaDB: rows with SRID 0
// and 4326 (points, polygons, a collection) are written, updated (SRID
// changed) and deleted; the binlog is decoded and every image's SRID and
// WKB must be what the server itself returns for the row at that moment
// (SELECT ST_SRID(g), HEX(ST_AsWKB(g))). Both decoding paths are checked:
// DecodeAction's records and EncodeAction's wire bytes.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "broker/binlog/decoder.h"
#include "broker/binlog/file_source.h"
#include "tests/support/hex.h"
#include "tests/support/mariadb_fixture.h"
#include "tests/support/record_collector.h"
#include "tests/support/row_encoding_check.h"

namespace sluice::binlog {
namespace {

using testing::MariaDb;

using testing::Hex;

// "SRID:HEXWKB" of a geometry value, as the server's SELECT below renders it.
std::string Render(const proto::Value& v) {
  if (v.is_null()) return "NULL";
  if (v.kind_case() != proto::Value::kGeometry) return "<not a geometry>";
  return std::to_string(v.geometry().srid()) + ":" + Hex(v.geometry().wkb());
}

// id -> "SRID:HEXWKB" of g, from the server.
std::map<int64_t, std::string> ServerRows(MariaDb& db) {
  std::map<int64_t, std::string> out;
  auto rows = db.Query("SELECT id, CONCAT(ST_SRID(g), ':', HEX(ST_AsWKB(g))) FROM geo.shapes");
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  if (!rows.ok()) return out;
  for (const auto& r : *rows) out[std::stoll(r[0].value_or("0"))] = r[1].value_or("NULL");
  return out;
}

using Collector = testing::RecordCollector;

const proto::Value& Col(const google::protobuf::RepeatedPtrField<proto::Column>& cols,
                        std::string_view name) {
  for (const auto& c : cols)
    if (c.name() == name) return c.value();
  static const proto::Value kNone;
  ADD_FAILURE() << "no column " << name;
  return kNone;
}

TEST(GeometryBinlog, SridAndWkbAreWhatTheServerReturns) {
  auto started = MariaDb::Start();
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  MariaDb& db = **started;
  ASSERT_TRUE(db.Execute("CREATE DATABASE geo; CREATE TABLE geo.shapes (id INT PRIMARY KEY, "
                         "g GEOMETRY NULL)")
                  .ok());
  ASSERT_TRUE(
      db.Execute(
            "INSERT INTO geo.shapes VALUES "
            "(1, ST_GeomFromText('POINT(1 2)', 4326)),"
            "(2, ST_GeomFromText('POINT(1 2)')),"
            "(3, ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,3 2,3 3,2 2))', 4326)),"
            "(4, ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))', 0)),"
            "(5, ST_GeomFromText('GEOMETRYCOLLECTION(POINT(-1.5 2.25),LINESTRING(0 0,1 1))', "
            "3857)),"
            "(6, NULL)")
          .ok());
  const std::map<int64_t, std::string> inserted = ServerRows(db);
  ASSERT_EQ(inserted.size(), 6u);
  ASSERT_EQ(inserted.at(1).substr(0, 5), "4326:");  // the server kept the SRID
  ASSERT_EQ(inserted.at(2).substr(0, 2), "0:");
  ASSERT_TRUE(
      db.Execute("UPDATE geo.shapes SET g = ST_GeomFromText('POINT(3 4)', 4326) WHERE id = 2;"
                 "UPDATE geo.shapes SET g = ST_GeomFromText(ST_AsText(g), 0) WHERE id = 3;"
                 "DELETE FROM geo.shapes WHERE id = 1")
          .ok());
  const std::map<int64_t, std::string> updated = ServerRows(db);
  ASSERT_EQ(updated.at(2).substr(0, 5), "4326:");
  ASSERT_EQ(updated.at(3).substr(0, 2), "0:");
  ASSERT_TRUE(db.Execute("FLUSH BINARY LOGS").ok());

  auto files = db.BinlogFiles();
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  FileSourceOptions fo;
  fo.files = *files;
  auto source = FileSource::Open(fo);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  Decoder decoder{DecoderOptions{}};
  EventPlan plan;
  Collector sink;
  proto::ChangeRecord scratch;
  size_t rows_actions = 0;
  for (int i = 0; i < 10000; ++i) {
    RawEvent ev;
    Status st = (*source)->Next(&ev);
    if (st.code() == Code::kNotFound) break;
    ASSERT_TRUE(st.ok()) << st.ToString();
    plan.Clear();
    plan.file = std::string(ev.file);
    st = decoder.Plan(ev, &plan);
    ASSERT_TRUE(st.ok()) << st.ToString();
    for (size_t a = 0; a < plan.size; ++a) {
      if (plan.actions[a].kind != EventPlan::Action::kRows) continue;
      ++rows_actions;
      // The ingest workers' wire bytes equal protobuf's for these values.
      EXPECT_EQ(sluice::testing::CompareRowEncodings(plan.actions[a], plan.file, true), "");
      ASSERT_TRUE(DecodeAction(plan.actions[a], plan.file, true, &scratch, &sink).ok());
    }
  }
  EXPECT_GE(rows_actions, 3u);

  EXPECT_TRUE(sink.warnings.empty()) << sink.warnings.front();
  // 6 inserts, 2 updates, 1 delete, in order.
  ASSERT_EQ(sink.records.size(), 9u);
  for (int i = 0; i < 6; ++i) {
    const proto::ChangeRecord& r = sink.records[i];
    ASSERT_EQ(r.op(), proto::OP_INSERT);
    const int64_t id = Col(r.after(), "id").int64();
    EXPECT_EQ(Render(Col(r.after(), "g")), inserted.at(id)) << "id " << id;
  }
  const proto::ChangeRecord& u2 = sink.records[6];
  ASSERT_EQ(u2.op(), proto::OP_UPDATE);
  EXPECT_EQ(Render(Col(u2.before(), "g")), inserted.at(2));
  EXPECT_EQ(Render(Col(u2.after(), "g")), updated.at(2));
  const proto::ChangeRecord& u3 = sink.records[7];
  EXPECT_EQ(Render(Col(u3.before(), "g")), inserted.at(3));
  EXPECT_EQ(Render(Col(u3.after(), "g")), updated.at(3));
  const proto::ChangeRecord& d1 = sink.records[8];
  ASSERT_EQ(d1.op(), proto::OP_DELETE);
  EXPECT_EQ(Render(Col(d1.before(), "g")), inserted.at(1));
  EXPECT_EQ(inserted.at(6), "NULL");
  EXPECT_TRUE(Col(sink.records[5].after(), "g").is_null());
}

}  // namespace
}  // namespace sluice::binlog
