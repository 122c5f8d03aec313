// What the sluiced tests share: a sluiced child process (ChildProcess:
// stopped by its pid only, bounded waits), its config file, an offline
// image of a destination's commit log, the source's end position, an
// in-process reference ingest of the binlog files, and a replay of records
// compared with SELECT, value by value.
//
// Every sluiced config has one destination "shop" (include 'shop\..*': the
// fixture's own mysql.* setup is not the workload) on node "n1".
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "broker/binlog/file_source.h"
#include "broker/ingest/pipeline.h"
#include "proto/record.pb.h"
#include "storage/commit_log.h"
#include "tests/support/child_process.h"
#include "tests/support/mariadb_fixture.h"
#include "tests/support/sql_text.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_log.h"

namespace sluice::sluiced_test {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using testing::MariaDb;
using Text = std::optional<std::string>;

constexpr const char* kNode = "n1";
constexpr const char* kDest = "shop";
constexpr const char* kInclude = "shop\\..*";

inline void SleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

struct SluicedConfig {
  std::string data_dir;
  std::string source;
  uint32_t server_id = 0;
  std::string start = "earliest";
  uint32_t chunk_records = 2000;
  std::string durability = "group";
  std::string admin_listen;       // "" = no admin listener
  std::string storage;            // more [storage] keys, as they are (retention_*)
  std::string extra;              // more TOML, appended as it is ([server], [[user]])
  std::string destination_extra;  // more keys of the [[destination]] table
};

inline void WriteConfig(const std::string& path, const SluicedConfig& c) {
  std::ofstream out(path, std::ios::trunc);
  out << "[node]\nid = \"" << kNode << "\"\ndata_dir = \"" << c.data_dir << "\"\n\n"
      << "[storage]\ndurability = \"" << c.durability << "\"\n"
      << c.storage << "\n"
      << "[[destination]]\nname = \"" << kDest << "\"\nsource = \"" << c.source << "\"\n"
      << (c.server_id != 0 ? "server_id = " + std::to_string(c.server_id) + "\n" : "")
      << "start = \"" << c.start << "\"\ninclude = ['" << kInclude << "']\n"
      << "chunk_records = " << c.chunk_records << "\nparse_threads = 2\n"
      << c.destination_extra;
  if (!c.admin_listen.empty()) out << "\n[admin]\nlisten = \"" << c.admin_listen << "\"\n";
  out << c.extra;
}

// The whole file ("" when it cannot be read). O_NOATIME: a read that had
// to update the access time waits for the journal, which a child fsyncing
// on every commit keeps busy for seconds.
inline std::string FileText(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string out;
  char buf[65536];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

inline size_t CountLines(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// The text after `"key":` in a JSON object, up to the next ',' or '}'.
inline std::string JsonField(const std::string& json, const std::string& key) {
  size_t at = json.find("\"" + key + "\":");
  if (at == std::string::npos) return "<missing " + key + ">";
  at += key.size() + 3;
  size_t end = json.find_first_of(",}", at);
  return json.substr(at, end - at);
}

// The value of one sample (`series` is the name with its labels, as
// printed) in a Prometheus text page; nullopt when absent.
inline std::optional<double> Sample(const std::string& metrics, const std::string& series) {
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

// One sluiced child: `sluiced --config FILE`, stdout and stderr appended to
// `log_file`. Killed with SIGKILL when the object goes away while it runs.
class Sluiced {
 public:
  Sluiced(std::string config, std::string log_file)
      : config_(std::move(config)), log_file_(std::move(log_file)) {}
  Sluiced(const Sluiced&) = delete;
  Sluiced& operator=(const Sluiced&) = delete;

  bool running() const { return child_.running(); }
  pid_t pid() const { return child_.pid(); }
  const std::string& log_file() const { return log_file_; }
  std::string LogTail(size_t max = 4000) const {
    std::string s = FileText(log_file_);
    return s.size() > max ? "..." + s.substr(s.size() - max) : s;
  }

  // The port of a listener on port 0 ("admin listener", "consumer server")
  // of the run that wrote its log after byte `from` of the log file,
  // waiting up to 30 s for it; 0 when it never said.
  int ListenPort(const std::string& what, size_t from = 0) const {
    for (int i = 0; i < 3000; ++i) {
      std::string log = FileText(log_file_);
      size_t at = log.size() > from ? log.find(what + " on ", from) : std::string::npos;
      if (at != std::string::npos) at = log.find("(port ", at);
      if (at != std::string::npos) return std::atoi(log.c_str() + at + 6);
      SleepMs(10);
    }
    return 0;
  }
  int AdminPort(size_t from = 0) const { return ListenPort("admin listener", from); }

  void Start() {
    ASSERT_FALSE(running());
    auto child = testing::ChildProcess::Start(
        {SLUICED_BIN, "--config", config_},
        {.stdout_path = log_file_, .append = true, .stderr_to_stdout = true});
    ASSERT_TRUE(child.ok()) << child.status().ToString();
    child_ = std::move(*child);
  }

  // The wait status when it has exited (and is reaped); nullopt while it runs.
  std::optional<int> Poll() {
    auto ended = child_.Poll();
    return ended ? std::optional<int>(ended->wait_status()) : std::nullopt;
  }

  // SIGTERM, then waits up to `timeout`; true when it exited with status 0.
  bool Terminate(std::chrono::seconds timeout = std::chrono::seconds(60)) {
    if (!running()) return false;
    const pid_t pid = child_.pid();
    if (auto ended = child_.Terminate(timeout)) return ended->success();
    ADD_FAILURE() << "sluiced pid " << pid << " did not stop within " << timeout.count()
                  << " s of SIGTERM (then killed):\n"
                  << LogTail();
    return false;
  }

  void Kill() {
    if (running()) child_.Kill();
  }

  // CPU time used so far (utime + stime, clock ticks); 0 when not running.
  uint64_t CpuTicks() const {
    if (!running()) return 0;
    std::string stat = FileText("/proc/" + std::to_string(pid()) + "/stat");
    size_t close = stat.rfind(')');
    if (close == std::string::npos || close + 2 > stat.size()) return 0;
    std::istringstream in(stat.substr(close + 2));
    std::string field;
    uint64_t utime = 0, stime = 0;
    for (int i = 3; i <= 15 && (in >> field); ++i) {
      if (i == 14) utime = std::stoull(field);
      if (i == 15) stime = std::stoull(field);
    }
    return utime + stime;
  }

 private:
  std::string config_, log_file_;
  testing::ChildProcess child_;  // SIGKILLed and reaped when the object goes
};

// A destination's log, read offline: every record's bytes as stored.
struct LogImage {
  uint64_t first = 0;
  uint64_t high_watermark = 0;
  std::vector<std::string> records;  // records[i] is at offset first + i
  proto::SourceCheckpoint checkpoint;

  std::vector<proto::ChangeRecord> Parsed() const {
    std::vector<proto::ChangeRecord> out(records.size());
    for (size_t i = 0; i < records.size(); ++i) {
      EXPECT_TRUE(out[i].ParseFromString(records[i])) << "offset " << first + i;
    }
    return out;
  }
};

// Opens the log (which recovers it: only for a stopped sluiced's log or a
// copy) and reads it from offset `from` on.
inline Result<LogImage> ReadLog(const std::string& path, uint64_t from = 0,
                                const std::string& node = kNode) {
  CommitLogOptions o = testing::TestLogOptions(path, node, kDest);
  SLUICE_ASSIGN_OR_RETURN(auto log, CommitLog::Open(o));
  LogImage img;
  img.high_watermark = log->HighWatermark().value();
  img.first = std::min(std::max(from, log->FirstOffset().value()), img.high_watermark);
  img.checkpoint = log->Checkpoint();
  Offset at(img.first);
  while (at < log->HighWatermark()) {
    SLUICE_ASSIGN_OR_RETURN(RecordSet set, log->Read(at, 20000, 64 << 20));
    for (const LogRecord& r : set.records) {
      if (r.offset != Offset(img.first + img.records.size())) {
        return Status::Corruption("offset " + std::to_string(r.offset.value()) + " out of place");
      }
      img.records.emplace_back(r.data);
    }
    if (set.next_offset <= at) return Status::Internal("Read made no progress");
    at = set.next_offset;
  }
  return img;
}

inline std::string DestPath(const std::string& data_dir) { return data_dir + "/" + kDest; }

// A checkpoint to compare, but for gtid_known: a file source (IngestFiles,
// the usual reference) has no server to ask for the whole GTID state.
inline std::string CheckpointKey(proto::SourceCheckpoint cp) {
  cp.clear_gtid_known();
  return cp.SerializeAsString();
}

// Two logs are the same: offsets, bytes and checkpoint.
inline void ExpectSameLog(const LogImage& got, const LogImage& want) {
  EXPECT_EQ(got.first, want.first);
  EXPECT_EQ(got.high_watermark, want.high_watermark);
  ASSERT_EQ(got.records.size(), want.records.size());
  for (size_t i = 0; i < got.records.size(); ++i) {
    ASSERT_EQ(got.records[i], want.records[i]) << "offset " << got.first + i;
  }
  EXPECT_EQ(CheckpointKey(got.checkpoint), CheckpointKey(want.checkpoint))
      << got.checkpoint.file() << ":" << got.checkpoint.pos() << " " << got.checkpoint.gtid_set()
      << " vs " << want.checkpoint.file() << ":" << want.checkpoint.pos() << " "
      << want.checkpoint.gtid_set();
}

// The records without schema records, each transaction's seq renumbered
// as if they had never been there. Checks where each schema record stands:
// in a transaction, before a record of its own table (docs/formats.md:
// a table's shape comes before the first row that uses it). With
// `only_repeated`, only the schema records that repeat the shape their
// table had last are removed (a promoted standby records each table's
// shape once more; sluiced on one node does not).
inline std::vector<proto::ChangeRecord> WithoutSchemas(const std::vector<proto::ChangeRecord>& recs,
                                                       bool only_repeated = false) {
  std::vector<proto::ChangeRecord> out;
  std::map<std::string, std::string> shape;  // db.table -> last TableShape bytes
  uint32_t dropped = 0;                      // in the current transaction
  for (size_t i = 0; i < recs.size(); ++i) {
    const proto::ChangeRecord& r = recs[i];
    if (r.op() == proto::OP_SCHEMA) {
      EXPECT_FALSE(r.txn().last()) << "schema record at " << i << " ends its transaction";
      if (i + 1 < recs.size()) {
        EXPECT_EQ(recs[i + 1].db() + "." + recs[i + 1].table(), r.db() + "." + r.table())
            << "schema record at " << i << " is not followed by its table's record";
      }
      std::string bytes = r.schema().SerializeAsString();
      std::string& last = shape[r.db() + "." + r.table()];
      const bool repeated = last == bytes;
      last = std::move(bytes);
      if (!only_repeated || repeated) {
        ++dropped;
        continue;
      }
    }
    out.push_back(r);
    out.back().mutable_txn()->set_seq(r.txn().seq() - dropped);
    if (r.txn().last()) dropped = 0;
  }
  return out;
}

// Two logs hold the same records, but for repeated schema records
// (WithoutSchemas(..., true)); checkpoints are equal.
inline void ExpectSameChanges(const LogImage& got, const LogImage& want) {
  auto a = WithoutSchemas(got.Parsed(), true), b = WithoutSchemas(want.Parsed(), true);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].SerializeAsString(), b[i].SerializeAsString()) << "change " << i;
  }
  EXPECT_EQ(CheckpointKey(got.checkpoint), CheckpointKey(want.checkpoint));
}

// Where the server's binlog ends: the end of its last transaction (the last
// Xid, or a Query that is a DDL or COMMIT: MariaDB writes BEGIN inside the
// GTID event) and @@gtid_binlog_pos.
struct SourceEnd {
  std::string file;
  uint64_t pos = 0;
  std::string gtid;
  std::string ToString() const { return file + ":" + std::to_string(pos) + " (" + gtid + ")"; }
};

inline Result<SourceEnd> ServerEnd(MariaDb* db) {
  SourceEnd end;
  SLUICE_ASSIGN_OR_RETURN(auto gtid, db->Query("SELECT @@gtid_binlog_pos"));
  end.gtid = gtid.empty() || !gtid[0][0] ? "" : *gtid[0][0];
  SLUICE_ASSIGN_OR_RETURN(auto files, db->BinlogFiles());
  for (auto f = files.rbegin(); f != files.rend(); ++f) {
    std::string name = fs::path(*f).filename().string();
    SLUICE_ASSIGN_OR_RETURN(auto events, db->Query("SHOW BINLOG EVENTS IN '" + name + "'"));
    for (const auto& row : events) {
      if (*row[2] == "Xid" || *row[2] == "Query" || *row[2] == "XA_prepare") {
        end.file = name;
        end.pos = std::stoull(*row[4]);
      }
    }
    if (!end.file.empty()) return end;
  }
  return Status::NotFound("no transaction in the binlog");
}

inline bool Reached(const LogImage& img, const SourceEnd& end) {
  return img.checkpoint.file() == end.file && img.checkpoint.pos() == end.pos &&
         img.checkpoint.gtid_set() == end.gtid;
}

// True when the newest binlog dump thread on the server has sent everything
// and sluiced has used (almost) no CPU for two 200 ms windows in a row: it
// has committed what it received. Only a hint: RunToEnd() checks the log.
inline bool WaitQuiet(MariaDb* db, Sluiced* p, Clock::time_point deadline) {
  int quiet = 0;
  uint64_t last = p->CpuTicks();
  while (Clock::now() < deadline && p->running() && !p->Poll()) {
    SleepMs(200);
    uint64_t now = p->CpuTicks();
    auto dump = db->Query(
        "SELECT STATE FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%' "
        "ORDER BY ID DESC LIMIT 1");
    bool sent_all = dump.ok() && !dump->empty() && (*dump)[0][0] &&
                    (*dump)[0][0]->starts_with("Master has sent all binlog");
    quiet = (sent_all && now <= last + 1) ? quiet + 1 : 0;
    last = now;
    if (quiet >= 2) return true;
  }
  return false;
}

// Runs sluiced (starting it when it is not running) until its log's
// checkpoint reaches `end`: waits until it is quiet, stops it with SIGTERM
// (it must exit 0), reads the log, and starts it again when the log is not
// there yet. *runs counts the SIGTERMs.
inline LogImage RunToEnd(Sluiced* p, MariaDb* db, const std::string& data_dir, const SourceEnd& end,
                         int* runs = nullptr,
                         std::chrono::seconds timeout = std::chrono::seconds(120)) {
  const auto deadline = Clock::now() + timeout;
  LogImage img;
  int n = 0;
  while (Clock::now() < deadline) {
    if (!p->running()) p->Start();
    WaitQuiet(db, p, deadline);
    if (auto ws = p->Poll()) {
      ADD_FAILURE() << "sluiced ended by itself (wait status " << *ws << "):\n" << p->LogTail();
      break;
    }
    ++n;
    EXPECT_TRUE(p->Terminate()) << "sluiced did not exit 0 on SIGTERM:\n" << p->LogTail();
    auto log = ReadLog(DestPath(data_dir));
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    if (!log.ok()) break;
    img = std::move(*log);
    if (Reached(img, end)) break;
  }
  if (runs != nullptr) *runs = n;
  EXPECT_TRUE(Reached(img, end)) << "the log's checkpoint " << img.checkpoint.file() << ":"
                                 << img.checkpoint.pos() << " (" << img.checkpoint.gtid_set()
                                 << ") did not reach " << end.ToString() << "\n"
                                 << p->LogTail();
  return img;
}

// The reference: the binlog files run once through the ingest pipeline (a
// FileSource that ends at the end of the files), with sluiced's filter.
inline LogImage IngestFiles(MariaDb* db, uint32_t chunk_records) {
  testing::TempDir dir;
  CommitLogOptions lo = testing::TestLogOptions(DestPath(dir.path()), kNode, kDest);
  {
    auto log = CommitLog::Open(lo);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    auto files = db->BinlogFiles();
    EXPECT_TRUE(files.ok()) << files.status().ToString();
    if (!log.ok() || !files.ok()) return {};
    binlog::FileSourceOptions so;
    so.files = *files;
    auto src = binlog::FileSource::Open(so);
    EXPECT_TRUE(src.ok()) << src.status().ToString();
    if (!src.ok()) return {};
    ingest::IngestOptions io;
    io.include = {kInclude};
    io.chunk_records = chunk_records;
    ingest::IngestStats stats;
    auto p = ingest::Pipeline::Create(io, log->get(), &stats);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    if (!p.ok()) return {};
    std::atomic<bool> stop{false};
    Status st = (*p)->Run(src->get(), &stop);
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  auto img = ReadLog(lo.path);
  EXPECT_TRUE(img.ok()) << img.status().ToString();
  return img.ok() ? std::move(*img) : LogImage{};
}

// Records are numbered within their transaction: seq 0, 1, ... and `last`
// on the final one.
inline void ExpectTxnNumbering(const std::vector<proto::ChangeRecord>& recs) {
  uint32_t seq = 0;
  for (size_t i = 0; i < recs.size(); ++i) {
    ASSERT_EQ(recs[i].txn().seq(), seq) << "offset " << i;
    seq = recs[i].txn().last() ? 0 : seq + 1;
  }
  if (!recs.empty()) {
    EXPECT_TRUE(recs.back().txn().last());
  }
}

using Row = std::map<std::string, Text>;
using Image = std::map<std::string, Row>;  // primary-key text -> row

inline Row RowOf(const google::protobuf::RepeatedPtrField<proto::Column>& cols) {
  Row row;
  for (const auto& c : cols) row[c.name()] = testing::SelectText(c);
  return row;
}

// The primary-key text of a record's before or after image ("" if none).
inline std::string PkOf(const proto::ChangeRecord& r, bool after) {
  if (r.pk_size() != 1) return "";
  Row row = RowOf(after ? r.after() : r.before());
  auto it = row.find(r.pk(0));
  return it == row.end() ? "" : it->second.value_or("NULL");
}

// Applies the records by primary key: "db.table" -> image.
inline std::map<std::string, Image> Replay(const std::vector<proto::ChangeRecord>& recs) {
  std::map<std::string, Image> tables;
  for (const auto& r : recs) {
    if (r.op() != proto::OP_INSERT && r.op() != proto::OP_UPDATE && r.op() != proto::OP_DELETE) {
      continue;  // DDL, schema and error records change no row
    }
    Image& t = tables[r.db() + "." + r.table()];
    if (r.op() != proto::OP_INSERT) {
      std::string pk = PkOf(r, false);
      EXPECT_EQ(t.count(pk), 1u) << r.table() << " " << pk << " changed but not present";
      t.erase(pk);
    }
    if (r.op() != proto::OP_DELETE) {
      std::string pk = PkOf(r, true);
      EXPECT_EQ(t.count(pk), 0u) << r.table() << " " << pk << " inserted twice";
      t[pk] = RowOf(r.after());
    }
  }
  return tables;
}

// Every table of `db` equals its replayed image, row by row and value by
// value. A column missing from a replayed row (added by a later ALTER and
// not written since) must be NULL in the table. DOUBLE/FLOAT are not used.
inline void ExpectTablesEqualReplay(MariaDb* server, const std::string& db,
                                    const std::vector<proto::ChangeRecord>& recs,
                                    size_t* rows_checked = nullptr) {
  auto images = Replay(recs);
  auto tables = server->Query(
      "SELECT TABLE_NAME FROM information_schema.TABLES WHERE "
      "TABLE_SCHEMA = '" +
      db + "' ORDER BY TABLE_NAME");
  ASSERT_TRUE(tables.ok()) << tables.status().ToString();
  ASSERT_FALSE(tables->empty());
  size_t checked = 0;
  for (const auto& t : *tables) {
    const std::string table = *t[0];
    auto cols = server->Query(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE "
        "TABLE_SCHEMA = '" +
        db + "' AND TABLE_NAME = '" + table + "' ORDER BY ORDINAL_POSITION");
    ASSERT_TRUE(cols.ok()) << cols.status().ToString();
    std::string list;
    for (const auto& c : *cols) list += (list.empty() ? "`" : ", `") + *c[0] + "`";
    // The first column is the primary key in every test table.
    auto rows = server->Query("SELECT " + list + " FROM `" + db + "`.`" + table + "` ORDER BY 1");
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    Image& image = images[db + "." + table];
    ASSERT_EQ(image.size(), rows->size()) << table;
    for (const auto& row : *rows) {
      auto it = image.find(row[0].value_or("NULL"));
      ASSERT_NE(it, image.end()) << table << " key " << row[0].value_or("NULL") << " not replayed";
      for (size_t k = 0; k < cols->size(); ++k) {
        const std::string& name = *(*cols)[k][0];
        auto v = it->second.find(name);
        Text got = v == it->second.end() ? std::nullopt : v->second;
        ASSERT_EQ(got, row[k]) << table << "." << name << " key " << *row[0];
      }
      ++checked;
    }
  }
  if (rows_checked != nullptr) *rows_checked = checked;
}

}  // namespace sluice::sluiced_test
