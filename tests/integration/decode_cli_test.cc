// `sluice decode` and the binlog-file source on binlogs a real MariaDB wrote.
// Expected values come from the workload itself (the rows we inserted) and
// from the server's own SHOW BINLOG EVENTS, never from the decoder.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "broker/binlog/event.h"
#include "broker/binlog/file_source.h"
#include "broker/binlog/source_factory.h"
#include "tests/support/child_process.h"
#include "tests/support/mariadb_fixture.h"
#include "tests/support/temp_dir.h"

namespace sluice::binlog {
namespace {

namespace fs = std::filesystem;
using testing::MariaDb;

struct RunResult {
  int exit_code;
  std::vector<std::string> lines;  // stdout
  std::string err;
};

// Runs `sluice ARGS` (ARGS split at spaces: temp paths have none).
RunResult RunSluice(const std::string& args) {
  std::vector<std::string> argv = {SLUICE_BIN};
  std::istringstream words(args);
  for (std::string w; words >> w;) argv.push_back(w);
  auto ran = testing::RunCapture(argv);
  if (!ran.ok()) return RunResult{-1, {}, ran.status().ToString()};
  RunResult r{ran->status.exited() ? ran->status.code() : -1, {}, ran->err};
  std::istringstream out(ran->out);
  for (std::string line; std::getline(out, line);) r.lines.push_back(line);
  return r;
}

// One server for the suite: the tests only read its binlogs (and damage
// copies of them in their own directories).
class DecodeCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto db = MariaDb::Start();
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    // Two files: five single-row inserts, a rotation, a three-row insert.
    ASSERT_TRUE(db_->Execute("CREATE DATABASE shop; USE shop; "
                             "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(10))")
                    .ok());
    for (int i = 1; i <= 5; ++i) {
      ASSERT_TRUE(db_->Execute("INSERT INTO t VALUES (" + std::to_string(i) + ", 'n" +
                               std::to_string(i) + "')")
                      .ok());
    }
    ASSERT_TRUE(db_->Execute("FLUSH BINARY LOGS").ok());
    ASSERT_TRUE(db_->Execute("INSERT INTO t VALUES (6, 'n6'), (7, 'n7'), (8, 'n8')").ok());
    auto files = db_->BinlogFiles();
    ASSERT_TRUE(files.ok());
    files_ = *files;
    ASSERT_EQ(files_.size(), 2u);
  }

  static void TearDownTestSuite() { db_.reset(); }

  void SetUp() override {
    ASSERT_NE(db_, nullptr);
    ASSERT_EQ(files_.size(), 2u);
    work_ = std::make_unique<testing::TempDir>();
  }

  std::string Files() const { return files_[0] + " " + files_[1]; }
  const std::string& dir() const { return work_->path(); }

  static std::unique_ptr<MariaDb> db_;
  static std::vector<std::string> files_;
  std::unique_ptr<testing::TempDir> work_;
};

std::unique_ptr<MariaDb> DecodeCli::db_;
std::vector<std::string> DecodeCli::files_;

std::vector<std::string> Inserts(const std::vector<std::string>& lines) {
  std::vector<std::string> out;
  for (const auto& l : lines)
    if (l.find("\"op\":\"insert\"") != std::string::npos) out.push_back(l);
  return out;
}

TEST_F(DecodeCli, PrintsEveryRowInOrderAcrossFiles) {
  RunResult r = RunSluice("decode " + Files());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto ins = Inserts(r.lines);
  ASSERT_EQ(ins.size(), 8u);
  for (int i = 1; i <= 8; ++i) {
    std::string want =
        "\"after\":{\"id\":" + std::to_string(i) + ",\"name\":\"n" + std::to_string(i) + "\"}";
    EXPECT_NE(ins[i - 1].find(want), std::string::npos) << ins[i - 1];
    EXPECT_NE(ins[i - 1].find("\"db\":\"shop\",\"table\":\"t\",\"pk\":[\"id\"]"),
              std::string::npos);
  }
  // The multi-row insert is one transaction of three records.
  EXPECT_NE(ins[5].find("\"txn\":{\"seq\":0,\"last\":false}"), std::string::npos) << ins[5];
  EXPECT_NE(ins[7].find("\"txn\":{\"seq\":2,\"last\":true}"), std::string::npos) << ins[7];
  EXPECT_NE(ins[7].find("\"pos\":\"" + fs::path(files_[1]).filename().string() + ":"),
            std::string::npos);
  // DDL records carry their statement.
  EXPECT_NE(r.lines[0].find("\"op\":\"ddl\""), std::string::npos) << r.lines[0];
}

TEST_F(DecodeCli, PositionKeysAndStats) {
  RunResult r = RunSluice("decode --column-keys=positions --stats " + Files());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto ins = Inserts(r.lines);
  ASSERT_EQ(ins.size(), 8u);
  EXPECT_NE(ins[0].find("\"after\":{\"@1\":1,\"@2\":\"n1\"}"), std::string::npos) << ins[0];
  EXPECT_EQ(ins[0].find("\"pk\""), std::string::npos) << "no names, no pk: " << ins[0];
  EXPECT_NE(r.err.find("shop.t 8"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("WRITE_ROWS_V1 6"), std::string::npos) << r.err;  // 5 + 1 events
  EXPECT_NE(r.err.find("ROTATE"), std::string::npos) << r.err;
}

TEST_F(DecodeCli, FromPositionStartsAtThatEvent) {
  // The GTID event of the fourth insert, by the server's own account.
  auto ev = db_->Query("SHOW BINLOG EVENTS IN '" + fs::path(files_[0]).filename().string() + "'");
  ASSERT_TRUE(ev.ok());
  std::vector<uint64_t> gtid_pos;
  for (const auto& row : *ev) {
    if (*row[2] == "Gtid" && row[5]->find("BEGIN") != std::string::npos) {
      gtid_pos.push_back(std::stoull(*row[1]));
    }
  }
  ASSERT_EQ(gtid_pos.size(), 5u);
  RunResult r = RunSluice("decode --from " + std::to_string(gtid_pos[3]) + " " + Files());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto ins = Inserts(r.lines);
  ASSERT_EQ(ins.size(), 5u);  // rows 4..8
  EXPECT_NE(ins[0].find("\"id\":4,"), std::string::npos) << ins[0];
}

TEST_F(DecodeCli, CorruptEventPrintsWhatCameBeforeAndNamesTheOffset) {
  // Damage the fourth insert's rows event (position from SHOW BINLOG EVENTS).
  std::string name = fs::path(files_[0]).filename().string();
  auto ev = db_->Query("SHOW BINLOG EVENTS IN '" + name + "'");
  ASSERT_TRUE(ev.ok());
  std::vector<uint64_t> rows_pos;
  for (const auto& row : *ev)
    if (*row[2] == "Write_rows_v1") rows_pos.push_back(std::stoull(*row[1]));
  ASSERT_EQ(rows_pos.size(), 5u);
  std::string copy = dir() + "/" + name;
  fs::copy_file(files_[0], copy);
  {
    std::fstream f(copy, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(rows_pos[3] + 25));
    f.put('\x5a');
  }
  RunResult r = RunSluice("decode " + copy);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(Inserts(r.lines).size(), 3u);
  EXPECT_NE(r.err.find(name + " at " + std::to_string(rows_pos[3])), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("checksum"), std::string::npos) << r.err;
}

TEST_F(DecodeCli, TruncatedLastEventIsAnError) {
  std::string name = fs::path(files_[1]).filename().string();
  std::string copy = dir() + "/" + name;
  fs::copy_file(files_[1], copy);
  fs::resize_file(copy, fs::file_size(copy) - 10);
  RunResult r = RunSluice("decode " + copy);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("cut off"), std::string::npos) << r.err;
}

// The file source yields exactly the events SHOW BINLOG EVENTS lists, at the
// same positions, following the .index file across the rotation.
TEST_F(DecodeCli, FileSourceMatchesShowBinlogEvents) {
  std::vector<std::pair<std::string, uint64_t>> want;
  for (const auto& f : files_) {
    std::string name = fs::path(f).filename().string();
    auto ev = db_->Query("SHOW BINLOG EVENTS IN '" + name + "'");
    ASSERT_TRUE(ev.ok());
    for (const auto& row : *ev) want.emplace_back(name, std::stoull(*row[1]));
  }
  FileSourceOptions o;
  o.dir = fs::path(files_[0]).parent_path().string();
  auto src = FileSource::Open(o);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  std::vector<std::pair<std::string, uint64_t>> got;
  for (int i = 0; i < 10000; ++i) {
    RawEvent e;
    Status st = (*src)->Next(&e);
    if (st.code() == Code::kNotFound) break;
    ASSERT_TRUE(st.ok()) << st.ToString();
    got.emplace_back(std::string(e.file), e.pos);
  }
  EXPECT_EQ(got, want);
}

// A destination's source from its config: file:// follows the directory,
// "latest" starts past the last event, and bad specs name the field.
TEST_F(DecodeCli, SourceFromConfig) {
  std::string dir = fs::path(files_[0]).parent_path().string();
  auto earliest = OpenBinlogSource({"file://" + dir, "earliest", 0});
  ASSERT_TRUE(earliest.ok()) << earliest.status().ToString();
  RawEvent e;
  ASSERT_TRUE((*earliest)->Next(&e).ok());
  EXPECT_EQ(e.file, fs::path(files_[0]).filename().string());
  EXPECT_EQ(e.pos, 4u);

  auto latest = OpenBinlogSource({"file://" + dir, "latest", 0});
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  EXPECT_EQ((*latest)->position().file, fs::path(files_[1]).filename().string());
  EXPECT_EQ((*latest)->position().pos, fs::file_size(files_[1]));
  RawEvent fde;
  ASSERT_TRUE((*latest)->Next(&fde).ok());  // the file's FORMAT_DESCRIPTION first
  // Then nothing new. MariaDB may still append a BINLOG_CHECKPOINT event
  // of its own after FLUSH BINARY LOGS (once the engine has made the old
  // file's transactions durable): that one is not a change.
  Status next;
  for (int i = 0; i < 10; ++i) {
    next = (*latest)->Next(&e);
    if (!next.ok() ||
        static_cast<uint8_t>(e.bytes[4]) != static_cast<uint8_t>(EventType::kBinlogCheckpoint)) {
      break;
    }
  }
  EXPECT_EQ(next.code(), Code::kTimedOut)
      << (next.ok() ? EventTypeName(static_cast<uint8_t>(e.bytes[4])) : std::string());

  auto live = OpenBinlogSource({db_->ReplUrl(), "latest", 77});
  ASSERT_TRUE(live.ok()) << live.status().ToString();

  EXPECT_EQ(OpenBinlogSource({db_->ReplUrl(), "earliest", 0}).status().code(),
            Code::kInvalidArgument);  // no server_id
  EXPECT_EQ(OpenBinlogSource({"http://x", "earliest", 1}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(OpenBinlogSource({"file://relative", "earliest", 1}).status().code(),
            Code::kInvalidArgument);
  Status gtid = OpenBinlogSource({"file://" + dir, "0-1-5", 0}).status();
  EXPECT_EQ(gtid.code(), Code::kInvalidArgument);
  EXPECT_NE(gtid.message().find("mysql://"), std::string::npos) << gtid.ToString();
}

}  // namespace
}  // namespace sluice::binlog
