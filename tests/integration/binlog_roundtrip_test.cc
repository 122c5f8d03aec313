// Live round trip: a real MariaDB writes a row-based binlog for DML and DDL
// over every column type; sluice decodes it, replays the records into an
// in-memory copy of each table, and the copy must equal what SELECT returns
// from the server, value by value. The server's SELECT is the independent
// source of truth.
//
// Runs with binlog_row_metadata=FULL (names from the table map) and MINIMAL
// (names from information_schema through MysqlSchemaResolver), reading the
// binlog files as they are written (FileSource in follow mode) and, when the
// replication client is built, over the replication protocol.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "broker/binlog/decoder.h"
#include "broker/binlog/file_source.h"
#include "broker/binlog/mysql_schema.h"
#include "broker/binlog/mysql_source.h"
#include "proto/record_json.h"
#include "tests/integration/type_workload.h"
#include "tests/support/mariadb_fixture.h"
#include "tests/support/row_encoding_check.h"
#include "tests/support/sql_text.h"

namespace sluice::binlog {
namespace {

using testing::MariaDb;
using testing::MariaDbOptions;
using testing::SqlRow;
using testing_workload::Col;
using Text = std::optional<std::string>;

using testing::SelectText;

// Collects every record; checks transaction numbering as it goes.
class Collector : public DecoderSink {
 public:
  Status OnRow(proto::ChangeRecord* r) override { return Keep(r); }
  Status OnDdl(proto::ChangeRecord* r) override { return Keep(r); }
  Status OnTxnEnd(const TxnEnd& end) override {
    EXPECT_EQ(end.records, txn_records_);
    txn_records_ = 0;
    ++txns;
    return Status::Ok();
  }
  void OnWarning(const std::string& m) override { warnings.push_back(m); }

  std::vector<proto::ChangeRecord> records;
  std::vector<std::string> warnings;
  int txns = 0;

 private:
  Status Keep(proto::ChangeRecord* r) {
    EXPECT_EQ(r->txn().seq(), txn_records_);
    ++txn_records_;
    records.emplace_back().Swap(r);
    return Status::Ok();
  }
  uint32_t txn_records_ = 0;
};

// A table rebuilt from the records: primary-key value -> column name -> text.
using Image = std::map<std::string, std::map<std::string, Text>>;

std::map<std::string, Image> Replay(const std::vector<proto::ChangeRecord>& records,
                                    const std::string& pk_column) {
  std::map<std::string, Image> tables;
  auto row_of = [](const google::protobuf::RepeatedPtrField<proto::Column>& cols) {
    std::map<std::string, Text> row;
    for (const auto& c : cols) {
      row[c.name().empty() ? "@" + std::to_string(c.index() + 1) : c.name()] = SelectText(c);
    }
    return row;
  };
  for (const auto& r : records) {
    if (r.op() == proto::OP_DDL || r.op() == proto::OP_SCHEMA) continue;
    Image& t = tables[r.db() + "." + r.table()];
    if (r.op() != proto::OP_INSERT) {
      auto before = row_of(r.before());
      t.erase(before[pk_column].value_or("NULL"));
    }
    if (r.op() != proto::OP_DELETE) {
      auto after = row_of(r.after());
      t[after[pk_column].value_or("NULL")] = after;
    }
  }
  return tables;
}

struct Param {
  std::string metadata;  // FULL | MINIMAL
  bool live;             // replication protocol (else: the binlog files)
};

class BinlogRoundTrip : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    MariaDbOptions opt;
    opt.row_metadata = GetParam().metadata;
    auto db = MariaDb::Start(opt);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(Exec("SET NAMES utf8mb4; SET time_zone = '+00:00'; SET sql_mode = ''"));
    if (GetParam().metadata != "FULL") {
      auto so = ParseMysqlUrl(db_->ReplUrl());
      ASSERT_TRUE(so.ok()) << so.status().ToString();
      schema_ = std::make_unique<MysqlSchemaResolver>(*so);
    }
    DecoderOptions dopt;
    dopt.schema = schema_.get();
    decoder_ = std::make_unique<Decoder>(dopt);
    planner_ = std::make_unique<Decoder>(dopt);
  }

  // The ingest workers' encoder gives, for every rows event, the bytes
  // protobuf serializes for the records the test checks against SELECT.
  void CheckWireEncoding(const RawEvent& ev) {
    ASSERT_TRUE(planner_->Plan(ev, &plan_).ok());
    for (size_t i = 0; i < plan_.size; ++i) {
      if (plan_.actions[i].kind != EventPlan::Action::kRows) continue;
      ++rows_events_compared_;
      for (bool names : {true, false}) {
        std::string diff = testing::CompareRowEncodings(plan_.actions[i], plan_.file, names);
        ASSERT_EQ(diff, "") << ev.file << ":" << ev.pos << (names ? "" : " without names");
      }
    }
  }

  bool Exec(const std::string& sql) {
    Status st = db_->Execute(sql);
    EXPECT_TRUE(st.ok()) << sql.substr(0, 200) << ": " << st.ToString();
    return st.ok();
  }

  // Opens the source at the start of the first binlog.
  void OpenSource() {
    if (GetParam().live) {
      auto o = ParseMysqlUrl(db_->ReplUrl());
      ASSERT_TRUE(o.ok()) << o.status().ToString();
      o->server_id = 4242;
      auto s = MysqlSource::Open(*o);
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      source_ = std::move(*s);
    } else {
      FileSourceOptions fo;
      fo.dir = db_->dir() + "/data";
      fo.follow = true;
      auto s = FileSource::Open(fo);
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      source_ = std::move(*s);
    }
  }

  // Decodes until the source has delivered everything up to the server's
  // current binlog position.
  void Drain() {
    auto master = db_->Query("SHOW MASTER STATUS");
    ASSERT_TRUE(master.ok() && !master->empty());
    std::string file = *(*master)[0][0];
    uint64_t pos = std::stoull(*(*master)[0][1]);
    for (int idle = 0; idle < 200;) {
      BinlogPosition p = source_->position();
      if (p.file == file && p.pos >= pos) return;
      RawEvent ev;
      Status st = source_->Next(&ev);
      if (st.code() == Code::kTimedOut) {
        ++idle;
        continue;
      }
      ASSERT_TRUE(st.ok()) << st.ToString();
      st = decoder_->Decode(ev, &sink_);
      ASSERT_TRUE(st.ok()) << st.ToString();
      CheckWireEncoding(ev);
    }
    FAIL() << "the source did not reach " << file << ":" << pos;
  }

  // Every row SELECT returns equals the replayed row, value by value.
  void ExpectTableEquals(const std::string& table, const std::vector<Col>& cols) {
    std::string sel = "SELECT id";
    for (const auto& c : cols) sel += "," + (c.select.empty() ? c.name : c.select);
    auto rows = db_->Query(sel + " FROM " + table + " ORDER BY id");
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    auto images = Replay(sink_.records, "id");
    Image& image = images["shop." + table];
    ASSERT_EQ(image.size(), rows->size()) << table;
    for (const SqlRow& row : *rows) {
      const std::string& id = *row[0];
      auto it = image.find(id);
      ASSERT_NE(it, image.end()) << table << " id " << id << " missing from the records";
      for (size_t k = 0; k < cols.size(); ++k) {
        const Text& want = row[k + 1];
        auto got_it = it->second.find(cols[k].name);
        ASSERT_NE(got_it, it->second.end()) << table << "." << cols[k].name << " id " << id;
        const Text& got = got_it->second;
        ASSERT_EQ(got.has_value(), want.has_value()) << cols[k].name << " id " << id;
        if (!want) continue;
        if (cols[k].type == "FLOAT" || cols[k].type == "DOUBLE") {
          double a = std::stod(*got), b = std::stod(*want);
          double tol = cols[k].type == "FLOAT" ? 1e-5 : 1e-15;
          EXPECT_LE(std::fabs(a - b), tol * std::fabs(b)) << cols[k].name << " id " << id;
        } else if (cols[k].type == "YEAR") {
          EXPECT_EQ(std::stoi(*got), std::stoi(*want)) << cols[k].name << " id " << id;
        } else {
          EXPECT_EQ(*got, *want) << cols[k].name << " (" << cols[k].type << ") id " << id;
        }
      }
    }
  }

  std::unique_ptr<MariaDb> db_;
  std::unique_ptr<MysqlSchemaResolver> schema_;
  std::unique_ptr<Decoder> decoder_;
  std::unique_ptr<Decoder> planner_;  // the same stream, for CheckWireEncoding
  EventPlan plan_;
  int rows_events_compared_ = 0;
  std::unique_ptr<BinlogSource> source_;
  Collector sink_;
};

TEST_P(BinlogRoundTrip, EveryColumnTypeMatchesSelect) {
  std::vector<Col> cols = testing_workload::TypeColumns();
  ASSERT_TRUE(Exec("CREATE DATABASE shop; USE shop; " + testing_workload::CreateTypesTableSql()));
  OpenSource();
  for (const std::string& sql : testing_workload::TypeWorkloadDml()) ASSERT_TRUE(Exec(sql));
  Drain();
  ExpectTableEquals("types", cols);
  EXPECT_GT(rows_events_compared_, 5);

  // DDL: a new column; rows written after it carry it, under its name.
  ASSERT_TRUE(Exec("ALTER TABLE types ADD COLUMN added VARCHAR(10) DEFAULT 'new'"));
  ASSERT_TRUE(Exec("INSERT INTO types (id, added) VALUES (20, 'after')"));
  Drain();
  bool saw_ddl = false;
  for (const auto& r : sink_.records)
    if (r.op() == proto::OP_DDL && r.sql().find("ADD COLUMN added") != std::string::npos) {
      saw_ddl = true;
      EXPECT_EQ(r.db(), "shop");
      EXPECT_EQ(r.table(), "types");
    }
  EXPECT_TRUE(saw_ddl);
  const proto::ChangeRecord& last = sink_.records.back();
  SCOPED_TRACE(RecordToJson(last));
  ASSERT_EQ(last.op(), proto::OP_INSERT);
  ASSERT_EQ(last.after_size(), static_cast<int>(cols.size()) + 2);
  EXPECT_EQ(last.after(last.after_size() - 1).name(), "added");
  EXPECT_EQ(last.after(last.after_size() - 1).value().text(), "after");
  ASSERT_EQ(last.pk_size(), 1);
  EXPECT_EQ(last.pk(0), "id");
}

TEST_P(BinlogRoundTrip, HundredThousandRowTransaction) {
  ASSERT_TRUE(
      Exec("CREATE DATABASE shop; USE shop; "
           "CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(20), n BIGINT UNSIGNED)"));
  OpenSource();
  Drain();
  int txns_before = sink_.txns;
  ASSERT_TRUE(
      Exec("INSERT INTO big SELECT seq, CONCAT('v', seq), seq * 1000003 FROM seq_1_to_100000"));
  Drain();
  size_t inserts = 0;
  for (const auto& r : sink_.records) inserts += r.op() == proto::OP_INSERT;
  ASSERT_EQ(inserts, 100000u);
  // The insert is one transaction (its records numbered 0..99999, which the
  // collector checks).
  EXPECT_EQ(sink_.txns - txns_before, 1);
  ExpectTableEquals("big", {{"v", "VARCHAR(20)", ""}, {"n", "BIGINT UNSIGNED", ""}});
}

std::vector<Param> Params() {
  return {{"FULL", false}, {"MINIMAL", false}, {"FULL", true}, {"MINIMAL", true}};
}

INSTANTIATE_TEST_SUITE_P(Sources, BinlogRoundTrip, ::testing::ValuesIn(Params()),
                         [](const ::testing::TestParamInfo<Param>& p) {
                           return p.param.metadata + (p.param.live ? "_Live" : "_Files");
                         });

}  // namespace
}  // namespace sluice::binlog
