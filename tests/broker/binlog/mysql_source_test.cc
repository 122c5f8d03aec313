// MysqlSource against a throwaway MariaDB (tests/support/mariadb_fixture.h),
// checked against an independent source: the binlog files on disk. The
// first tests need no server.
#include "broker/binlog/mysql_source.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "base/coding.h"
#include "broker/binlog/source_factory.h"
#include "tests/support/child_process.h"
#include "tests/support/mariadb_fixture.h"
#include "tests/support/temp_dir.h"

namespace sluice::binlog {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::MariaDb;

constexpr uint8_t kRotate = 4, kXid = 16, kTableMap = 19, kWriteRowsV1 = 23, kHeartbeat = 27,
                  kWriteRowsV2 = 30, kAnnotateRows = 160, kMariaGtid = 162;

uint8_t Type(std::string_view ev) { return static_cast<uint8_t>(ev[4]); }
uint32_t LogPos(std::string_view ev) { return coding::DecodeFixed32(ev.data() + 13); }
bool Artificial(std::string_view ev) { return (static_cast<uint8_t>(ev[17]) & 0x20) != 0; }
bool InFile(std::string_view ev) {
  return Type(ev) != kHeartbeat && !Artificial(ev) && LogPos(ev) != 0;
}
bool IsWriteRows(std::string_view ev) {
  return Type(ev) == kWriteRowsV1 || Type(ev) == kWriteRowsV2;  // MariaDB writes v1
}
bool Contains(std::string_view ev, std::string_view s) { return ev.find(s) != ev.npos; }

// One event as seen in the stream or on disk.
struct Ev {
  std::string file;
  uint64_t pos;
  std::string bytes;
  bool operator==(const Ev& o) const { return file == o.file && pos == o.pos; }
};

// Every event of a binlog file, read with plain file I/O.
std::vector<Ev> ReadBinlogFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string data = ss.str();
  std::vector<Ev> out;
  const std::string name = path.substr(path.rfind('/') + 1);
  EXPECT_EQ(data.substr(0, 4), std::string("\xfe"
                                           "bin",
                                           4))
      << path;
  for (size_t pos = 4; pos + 19 <= data.size();) {
    const uint32_t size = coding::DecodeFixed32(data.data() + pos + 9);
    if (size < 19 || pos + size > data.size()) break;  // the tail being written
    out.push_back({name, pos, data.substr(pos, size)});
    pos += size;
  }
  return out;
}

MysqlSourceOptions OptionsFor(const MariaDb& db, uint32_t server_id = 1001) {
  auto o = ParseMysqlUrl(db.ReplUrl());
  EXPECT_TRUE(o.ok()) << o.status().ToString();
  o->server_id = server_id;
  o->heartbeat_period = milliseconds(500);
  o->read_timeout = seconds(5);
  return *o;
}

std::unique_ptr<MariaDb> StartDb(testing::MariaDbOptions options = {}) {
  auto db = MariaDb::Start(options);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  if (!db.ok()) return nullptr;
  EXPECT_TRUE((*db)
                  ->Execute("CREATE DATABASE shop;"
                            "CREATE TABLE shop.t (id INT PRIMARY KEY, v LONGBLOB)")
                  .ok());
  return std::move(*db);
}

std::unique_ptr<MysqlSource> OpenOrFail(const MysqlSourceOptions& o) {
  auto s = MysqlSource::Open(o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

// Reads (at most 500 events) until the XID that commits a row containing
// `marker`; appends the in-file events to *seen.
Status ReadThroughRow(MysqlSource& src, std::string_view marker, std::vector<Ev>* seen) {
  bool saw_row = false;
  for (int i = 0; i < 500; ++i) {
    RawEvent e;
    SLUICE_RETURN_IF_ERROR(src.Next(&e));
    if (InFile(e.bytes)) seen->push_back({std::string(e.file), e.pos, std::string(e.bytes)});
    if (IsWriteRows(e.bytes) && Contains(e.bytes, marker)) saw_row = true;
    if (saw_row && Type(e.bytes) == kXid) return Status::Ok();
  }
  return Status::NotFound("no row with " + std::string(marker) + " in 500 events");
}

// Every event of the server's binlog files, minus the ANNOTATE_ROWS events
// a replica that does not ask for them is not sent.
std::vector<Ev> DiskEvents(MariaDb& db) {
  std::vector<Ev> out;
  auto files = db.BinlogFiles();
  EXPECT_TRUE(files.ok());
  for (const auto& f : *files) {
    for (auto& e : ReadBinlogFile(f)) {
      if (Type(e.bytes) != kAnnotateRows) out.push_back(std::move(e));
    }
  }
  return out;
}

// The same bytes as on disk, except that the server clears the "file in
// use" flag of a FORMAT_DESCRIPTION and recomputes its CRC.
void ExpectSameAsDisk(const std::vector<Ev>& seen, const std::vector<Ev>& disk) {
  for (const auto& s : seen) {
    auto it = std::find(disk.begin(), disk.end(), s);
    ASSERT_NE(it, disk.end()) << s.file << ":" << s.pos << " is not an event on disk";
    if (Type(s.bytes) == 15) {
      EXPECT_EQ(s.bytes.substr(0, 17), it->bytes.substr(0, 17));
      EXPECT_EQ(s.bytes.substr(19, s.bytes.size() - 23), it->bytes.substr(19, s.bytes.size() - 23));
    } else {
      EXPECT_EQ(s.bytes, it->bytes) << s.file << ":" << s.pos;
    }
  }
}

// ---------------------------------------------------------------------------
// No server needed.

TEST(MysqlUrl, ParsesUserPasswordHostPortAndTls) {
  auto o = ParseMysqlUrl("mysql://repl:p%40ss:w@db.example:3307?ssl-mode=verify-ca&ssl-ca=/ca.pem");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->user, "repl");
  EXPECT_EQ(o->password, "p@ss:w");
  EXPECT_EQ(o->host, "db.example");
  EXPECT_EQ(o->port, 3307);
  EXPECT_EQ(o->ssl_mode, SslMode::kVerifyCa);
  EXPECT_EQ(o->ssl_ca, "/ca.pem");
  o = ParseMysqlUrl("mysql://u@[::1]");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->host, "::1");
  EXPECT_EQ(o->port, 3306);
  EXPECT_EQ(o->password, "");
  for (const char* bad : {"http://u:p@h:1", "mysql://h:3306", "mysql://u:p@h:0", "mysql://u:p@h:x",
                          "mysql://u:p@h?ssl-mode=sometimes", "mysql://u:p@h?colour=red"}) {
    auto r = ParseMysqlUrl(bad);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_EQ(ParseMysqlUrl("mysql://u:secret@h:x").status().message().find("secret"),
            std::string::npos);
}

TEST(MysqlStart, ParsesEveryForm) {
  using K = MysqlStart::Kind;
  EXPECT_EQ(MysqlStart::Parse("earliest")->kind, K::kEarliest);
  EXPECT_EQ(MysqlStart::Parse("latest")->kind, K::kLatest);
  auto fp = MysqlStart::Parse("binlog.000002:1234");
  ASSERT_TRUE(fp.ok());
  EXPECT_EQ(fp->kind, K::kFilePos);
  EXPECT_EQ(fp->file_pos.ToString(), "binlog.000002:1234");
  auto maria = MysqlStart::Parse("0-1-5, 1-2-9");
  ASSERT_TRUE(maria.ok());
  EXPECT_EQ(maria->kind, K::kMariadbGtid);
  EXPECT_EQ(maria->gtid, "0-1-5,1-2-9");
  auto mysql = MysqlStart::Parse("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7");
  ASSERT_TRUE(mysql.ok());
  EXPECT_EQ(mysql->kind, K::kMysqlGtid);
  for (const char* bad : {"", "binlog.000001:3", "x';DROP TABLE t;--:4", "0-1", "soon",
                          "3E11FA47-71CA-11E1-9E33-C80AA9429562:5-1"}) {
    EXPECT_FALSE(MysqlStart::Parse(bad).ok()) << bad;
  }
}

TEST(MysqlGtidSet, EncodesLikeGtidSetEncode) {
  auto enc = EncodeMysqlGtidSet("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7");
  ASSERT_TRUE(enc.ok());
  std::string want;
  coding::PutFixed64(&want, 1);
  want += std::string("\x3e\x11\xfa\x47\x71\xca\x11\xe1\x9e\x33\xc8\x0a\xa9\x42\x95\x62", 16);
  coding::PutFixed64(&want, 2);
  for (uint64_t v : {1, 6, 7, 8}) coding::PutFixed64(&want, v);
  EXPECT_EQ(*enc, want);
}

TEST(ReconnectBackoff, GrowsToTheCapWithJitter) {
  ReconnectBackoff b(milliseconds(100), milliseconds(1000));
  auto d1 = b.NextDelay(), d2 = b.NextDelay();
  EXPECT_GE(d1, milliseconds(75));
  EXPECT_LE(d1, milliseconds(100));
  EXPECT_GE(d2, milliseconds(150));
  for (int i = 0; i < 20; ++i) EXPECT_LE(b.NextDelay(), milliseconds(1000));
  EXPECT_GE(b.NextDelay(), milliseconds(750));
  b.Reset();
  EXPECT_LE(b.NextDelay(), milliseconds(100));
}

std::string Event(uint8_t type, uint32_t log_pos, uint16_t flags, std::string_view body) {
  std::string e(19, '\0');
  e[4] = static_cast<char>(type);
  coding::EncodeFixed32(e.data() + 9, static_cast<uint32_t>(19 + body.size()));
  coding::EncodeFixed32(e.data() + 13, log_pos);
  e[17] = static_cast<char>(flags & 0xff);
  return e + std::string(body);
}

TEST(PositionTracker, FollowsRotatesAndIgnoresArtificialEvents) {
  PositionTracker t({"", 4}, /*checksum=*/true);
  RawEvent e;
  std::string body;
  coding::PutFixed64(&body, 4);
  std::string fake_rotate = Event(kRotate, 0, 0x20, body + "binlog.000007" + "CRC!");
  ASSERT_TRUE(t.OnEvent(fake_rotate, &e).ok());
  EXPECT_EQ(e.file, "binlog.000007");
  EXPECT_EQ(t.position().ToString(), "binlog.000007:4");
  std::string unknown = Event(40, 4 + 100, 0, std::string(81, 'x'));  // a MySQL 8 payload event
  ASSERT_TRUE(t.OnEvent(unknown, &e).ok());
  EXPECT_EQ(e.pos, 4u);
  EXPECT_EQ(t.position().pos, 104u);
  std::string heartbeat = Event(kHeartbeat, 999, 0, "binlog.000007CRC!");
  ASSERT_TRUE(t.OnEvent(heartbeat, &e).ok());
  EXPECT_EQ(e.pos, 104u);
  EXPECT_EQ(t.position().pos, 104u);
  std::string resent_fd = Event(15, 0, 0, std::string(55, 'f') + "\x01" + "CRC!");
  ASSERT_TRUE(t.OnEvent(resent_fd, &e).ok());
  EXPECT_EQ(t.position().pos, 104u);
  std::string real_rotate = Event(kRotate, 104 + 44, 0, body + "binlog.000008" + "CRC!");
  ASSERT_TRUE(t.OnEvent(real_rotate, &e).ok());
  EXPECT_EQ(e.file, "binlog.000007");
  EXPECT_EQ(e.pos, 104u);
  EXPECT_EQ(t.position().ToString(), "binlog.000008:4");
  // Untrusted input: lengths that disagree, a log_pos before the event.
  std::string lying = Event(kXid, 500, 0, "12345678");
  coding::EncodeFixed32(lying.data() + 9, 9999);
  EXPECT_EQ(t.OnEvent(lying, &e).code(), Code::kCorruption);
  EXPECT_EQ(t.OnEvent(Event(kXid, 3, 0, "12345678"), &e).code(), Code::kCorruption);
  EXPECT_EQ(t.OnEvent(std::string(10, '\0'), &e).code(), Code::kCorruption);
  EXPECT_EQ(t.OnEvent(Event(kRotate, 0, 0x20, body + "../etc/x" + "CRC!"), &e).code(),
            Code::kCorruption);
}

TEST(MysqlSourceOptionsCheck, RejectsBadOptionsBeforeConnecting) {
  MysqlSourceOptions o;
  o.user = "repl";
  EXPECT_EQ(MysqlSource::Open(o).status().code(), Code::kInvalidArgument);  // server_id 0
  o.server_id = 7;
  o.heartbeat_period = seconds(30);
  o.read_timeout = seconds(30);
  EXPECT_EQ(MysqlSource::Open(o).status().code(), Code::kInvalidArgument);
  o.heartbeat_period = seconds(1);
  o.ssl_mode = SslMode::kVerifyCa;
  EXPECT_EQ(MysqlSource::Open(o).status().code(), Code::kInvalidArgument);  // no ssl_ca
}

TEST(MysqlSourceConnect, NobodyListeningIsUnavailable) {
  MysqlSourceOptions o;
  o.user = "repl";
  o.server_id = 7;
  o.port = 1;  // nothing listens on port 1 of 127.0.0.1
  auto s = MysqlSource::Open(o);
  EXPECT_EQ(s.status().code(), Code::kUnavailable) << s.status().ToString();
}

TEST(BinlogLag, BytesBehindCountsTheRestOfTheFileAndEveryLaterOne) {
  std::vector<BinlogFileSize> files = {{"b.000001", 1000}, {"b.000002", 300}, {"b.000003", 50}};
  EXPECT_EQ(*BytesBehind(files, "b.000001", 4), 996u + 300 + 50);
  EXPECT_EQ(*BytesBehind(files, "b.000002", 300), 50u);
  EXPECT_EQ(*BytesBehind(files, "b.000003", 50), 0u);
  EXPECT_EQ(*BytesBehind(files, "b.000003", 70), 0u);  // a size read before the last write
  EXPECT_EQ(BytesBehind(files, "b.000000", 4).status().code(), Code::kNotFound);
  EXPECT_EQ(BytesBehind({}, "b.000001", 4).status().code(), Code::kNotFound);
}

TEST(BinlogLag, FileProbeSizesTheDirectory) {
  testing::TempDir dir;
  std::ofstream(dir.Sub("binlog.000001")) << std::string(700, 'a');
  std::ofstream(dir.Sub("binlog.000002")) << std::string(90, 'b');
  SourceEndProbe probe({"file://" + dir.path(), "earliest", 0});
  EXPECT_EQ(*probe.BytesBehind("binlog.000001", 100), 600u + 90);
  std::ofstream(dir.Sub("binlog.000002"), std::ios::app) << std::string(10, 'c');
  EXPECT_EQ(*probe.BytesBehind("binlog.000002", 4), 96u);
  EXPECT_EQ(probe.BytesBehind("binlog.000009", 4).status().code(), Code::kNotFound);
}

// ---------------------------------------------------------------------------
// Against MariaDB.

// The probe's figures against the binlog files' sizes on disk.
TEST(MysqlSourceMariaDb, EndProbeMeasuresAgainstTheFilesOnDisk) {
  auto db = StartDb();
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->Execute("INSERT INTO shop.t VALUES (1, 'a'); FLUSH BINARY LOGS; "
                          "INSERT INTO shop.t VALUES (2, 'b')")
                  .ok());
  auto paths = db->BinlogFiles();
  ASSERT_TRUE(paths.ok() && paths->size() >= 2);
  auto disk_size = [](const std::string& p) { return std::filesystem::file_size(p); };
  uint64_t total = 0;
  for (const auto& p : *paths) total += disk_size(p);
  auto name = [](const std::string& p) { return std::filesystem::path(p).filename().string(); };
  SourceEndProbe probe({db->ReplUrl(), "earliest", 0});
  auto all = probe.BytesBehind(name(paths->front()), 4);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(*all, total - 4);
  const std::string last = paths->back();
  const uint64_t end = disk_size(last);
  EXPECT_EQ(*probe.BytesBehind(name(last), end), 0u);
  ASSERT_TRUE(db->Execute("INSERT INTO shop.t VALUES (3, 'c')").ok());
  EXPECT_EQ(*probe.BytesBehind(name(last), end), disk_size(last) - end);
  EXPECT_EQ(probe.BytesBehind("binlog.999999", 4).status().code(), Code::kNotFound);
}

TEST(MysqlSourceMariaDb, EarliestDeliversEveryEventAsOnDisk) {
  auto db = StartDb();
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->Execute("INSERT INTO shop.t VALUES (1, 'row-one');"
                          "INSERT INTO shop.t VALUES (2, 'row-two'), (3, x'00ff00')")
                  .ok());
  auto src = OpenOrFail(OptionsFor(*db));
  ASSERT_TRUE(src);
  EXPECT_TRUE(src->is_mariadb());
  EXPECT_TRUE(src->warnings().empty());
  std::vector<Ev> seen;
  ASSERT_TRUE(ReadThroughRow(*src, "row-two", &seen).ok());
  int rows = 0;
  for (const auto& e : seen) rows += IsWriteRows(e.bytes);
  EXPECT_EQ(rows, 2);
  const auto disk = DiskEvents(*db);
  ExpectSameAsDisk(seen, disk);
  // Nothing skipped, nothing twice: exactly the disk's events, in order.
  ASSERT_LE(seen.size(), disk.size());
  EXPECT_EQ(seen, std::vector<Ev>(disk.begin(), disk.begin() + seen.size()));
  EXPECT_EQ(src->position().ToString(),
            seen.back().file + ":" + std::to_string(seen.back().pos + seen.back().bytes.size()));
}

TEST(MysqlSourceMariaDb, LatestSeesOnlyNewEvents) {
  auto db = StartDb();
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->Execute("INSERT INTO shop.t VALUES (1, 'old-row')").ok());
  auto o = OptionsFor(*db);
  o.start = *MysqlStart::Parse("latest");
  auto src = OpenOrFail(o);
  ASSERT_TRUE(src);
  const BinlogPosition opened_at = src->position();
  ASSERT_TRUE(db->Execute("INSERT INTO shop.t VALUES (2, 'new-row')").ok());
  std::vector<Ev> seen;
  ASSERT_TRUE(ReadThroughRow(*src, "new-row", &seen).ok());
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front().pos, opened_at.pos);
  for (const auto& e : seen) EXPECT_FALSE(Contains(e.bytes, "old-row"));
  ExpectSameAsDisk(seen, DiskEvents(*db));
}

TEST(MysqlSourceMariaDb, StartsAtFilePosAndAtMariaDbGtid) {
  auto db = StartDb();
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->Execute("INSERT INTO shop.t VALUES (1, 'first')").ok());
  auto status = db->Query("SHOW MASTER STATUS");
  auto gtid = db->Query("SELECT @@gtid_binlog_pos");
  ASSERT_TRUE(status.ok() && gtid.ok());
  ASSERT_TRUE(db->Execute("INSERT INTO shop.t VALUES (2, 'second')").ok());

  auto o = OptionsFor(*db);
  o.start = *MysqlStart::Parse(*(*status)[0][0] + ":" + *(*status)[0][1]);
  auto src = OpenOrFail(o);
  ASSERT_TRUE(src);
  std::vector<Ev> seen;
  ASSERT_TRUE(ReadThroughRow(*src, "second", &seen).ok());
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front().file + ":" + std::to_string(seen.front().pos), o.start.ToString());
  for (const auto& e : seen) EXPECT_FALSE(Contains(e.bytes, "first"));
  ExpectSameAsDisk(seen, DiskEvents(*db));

  o.start = *MysqlStart::Parse(*(*gtid)[0][0]);  // "0-1-N": resume after transaction N
  ASSERT_EQ(o.start.kind, MysqlStart::Kind::kMariadbGtid) << o.start.ToString();
  src = OpenOrFail(o);
  ASSERT_TRUE(src);
  std::vector<Ev> by_gtid;
  ASSERT_TRUE(ReadThroughRow(*src, "second", &by_gtid).ok());
  std::vector<Ev> transactions;  // from the first GTID event on
  for (const auto& e : by_gtid) {
    if (!transactions.empty() || Type(e.bytes) == kMariaGtid) transactions.push_back(e);
  }
  ASSERT_FALSE(transactions.empty());
  const std::string& pos = *(*gtid)[0][0];
  EXPECT_EQ(coding::DecodeFixed64(transactions.front().bytes.data() + 19),
            std::stoull(pos.substr(pos.rfind('-') + 1)) + 1);
  EXPECT_EQ(transactions, seen);  // the same transaction, at the same place
}

TEST(MysqlSourceMariaDb, WrongPasswordSaysAuthentication) {
  auto db = StartDb();
  ASSERT_TRUE(db);
  auto o = OptionsFor(*db);
  o.password = "not-the-password";
  auto src = MysqlSource::Open(o);
  ASSERT_EQ(src.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(src.status().message().find("authentication failed for user 'repl'"), std::string::npos)
      << src.status().ToString();
  EXPECT_EQ(src.status().message().find("not-the-password"), std::string::npos);
}

TEST(MysqlSourceMariaDb, MissingReplicationSlaveIsNamed) {
  auto db = StartDb();
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->Execute("CREATE USER 'reader'@'%' IDENTIFIED BY 'pw';"
                          "GRANT BINLOG MONITOR, SELECT ON *.* TO 'reader'@'%'")
                  .ok());
  auto o = OptionsFor(*db);
  o.user = "reader";
  o.password = "pw";
  auto src = MysqlSource::Open(o);
  ASSERT_EQ(src.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(src.status().message().find("lacks the REPLICATION SLAVE privilege"), std::string::npos)
      << src.status().ToString();
  EXPECT_NE(src.status().message().find("GRANT REPLICATION SLAVE ON *.* TO 'reader'"),
            std::string::npos);

  ASSERT_TRUE(db->Execute("REVOKE BINLOG MONITOR ON *.* FROM 'reader'@'%';"
                          "GRANT REPLICATION SLAVE ON *.* TO 'reader'@'%'")
                  .ok());
  src = MysqlSource::Open(o);  // earliest needs SHOW BINARY LOGS
  ASSERT_EQ(src.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(src.status().message().find("lacks the BINLOG MONITOR privilege"), std::string::npos)
      << src.status().ToString();
}

TEST(MysqlSourceMariaDb, StatementFormatIsRefusedAndRowImageWarned) {
  auto db = StartDb();
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->Execute("SET GLOBAL binlog_format=STATEMENT").ok());
  auto src = MysqlSource::Open(OptionsFor(*db));
  ASSERT_EQ(src.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(src.status().message().find("SET GLOBAL binlog_format=ROW"), std::string::npos)
      << src.status().ToString();
  ASSERT_TRUE(db->Execute("SET GLOBAL binlog_format=ROW;"
                          "SET GLOBAL binlog_row_image=MINIMAL;"
                          "SET GLOBAL binlog_row_metadata=MINIMAL")
                  .ok());
  auto ok = OpenOrFail(OptionsFor(*db));
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->warnings().size(), 2u);
  EXPECT_NE(ok->warnings()[0].find("binlog_row_image=MINIMAL"), std::string::npos);
  EXPECT_NE(ok->warnings()[1].find("binlog_row_metadata=MINIMAL"), std::string::npos);
}

TEST(MysqlSourceMariaDb, PurgedStartNamesTheFilesLeft) {
  auto db = StartDb();
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->Execute("FLUSH BINARY LOGS; FLUSH BINARY LOGS").ok());
  auto files = db->BinlogFiles();
  ASSERT_TRUE(files.ok() && files->size() == 3);
  // MariaDB keeps a file its binlog checkpoint still needs (the engine
  // makes the old files' transactions durable on its own time) and says so
  // only in a warning: purge until only binlog.000003 is left.
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(db->Execute("PURGE BINARY LOGS TO 'binlog.000003'").ok());
    auto left = db->BinlogFiles();
    ASSERT_TRUE(left.ok());
    if (left->size() == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  auto o = OptionsFor(*db);
  o.start = *MysqlStart::Parse("binlog.000001:4");
  auto src = MysqlSource::Open(o);
  ASSERT_EQ(src.status().code(), Code::kNotFound) << src.status().ToString();
  EXPECT_NE(src.status().message().find("its binary logs are: binlog.000003"), std::string::npos)
      << src.status().ToString();
  o.start = *MysqlStart::Parse("earliest");  // the files it has still work
  EXPECT_TRUE(OpenOrFail(o));
}

TEST(MysqlSourceMariaDb, RestartMidStreamResumesWithoutGapOrDuplicate) {
  auto db = StartDb();
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->Execute("INSERT INTO shop.t VALUES (1, 'before-restart')").ok());
  auto src = OpenOrFail(OptionsFor(*db));
  ASSERT_TRUE(src);
  std::vector<Ev> seen;
  ASSERT_TRUE(ReadThroughRow(*src, "before-restart", &seen).ok());
  ASSERT_TRUE(db->Restart().ok());
  Status s;
  for (int i = 0; i < 100 && s.ok(); ++i) {
    RawEvent e;
    s = src->Next(&e);
    if (s.ok() && InFile(e.bytes))
      seen.push_back({std::string(e.file), e.pos, std::string(e.bytes)});
  }
  ASSERT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("went away"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("127.0.0.1:" + std::to_string(db->port())), std::string::npos);

  ASSERT_TRUE(db->Execute("INSERT INTO shop.t VALUES (2, 'after-restart')").ok());
  ReconnectBackoff backoff(milliseconds(50), milliseconds(500));
  ASSERT_TRUE(src->ReconnectWithBackoff(backoff, 20).ok());
  ASSERT_TRUE(ReadThroughRow(*src, "after-restart", &seen).ok());
  const auto disk = DiskEvents(*db);
  ExpectSameAsDisk(seen, disk);
  ASSERT_LE(seen.size(), disk.size());
  EXPECT_EQ(seen, std::vector<Ev>(disk.begin(), disk.begin() + seen.size()));
}

TEST(MysqlSourceMariaDb, HeartbeatsPassThroughAndSilenceTimesOut) {
  auto db = StartDb();
  ASSERT_TRUE(db);
  auto o = OptionsFor(*db);
  o.start = *MysqlStart::Parse("latest");
  auto src = OpenOrFail(o);
  ASSERT_TRUE(src);
  const BinlogPosition at = src->position();
  int heartbeats = 0;
  for (int i = 0; i < 10 && heartbeats < 2; ++i) {
    RawEvent e;
    ASSERT_TRUE(src->Next(&e).ok());
    heartbeats += Type(e.bytes) == kHeartbeat;
  }
  EXPECT_EQ(heartbeats, 2);
  EXPECT_EQ(src->position(), at);

  o.heartbeat_period = milliseconds(0);
  o.read_timeout = seconds(1);
  src = OpenOrFail(o);
  ASSERT_TRUE(src);
  Status s;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 10 && s.ok(); ++i) {
    RawEvent e;
    s = src->Next(&e);
  }
  EXPECT_EQ(s.code(), Code::kTimedOut) << s.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(5));
  // The next call reconnects from where it was.
  ASSERT_TRUE(db->Execute("INSERT INTO shop.t VALUES (1, 'after-timeout')").ok());
  std::vector<Ev> seen;
  ASSERT_TRUE(ReadThroughRow(*src, "after-timeout", &seen).ok());
  EXPECT_EQ(seen.front().pos, at.pos);
}

// The state letter of thread `tid` of this process ('R' running, 'S'
// asleep in a wait); 0 when unknown.
char ThreadState(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/stat");
  const std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(") ");
  return close == std::string::npos || close + 2 >= stat.size() ? 0 : stat[close + 2];
}

TEST(MysqlSourceMariaDb, CancelUnblocksNext) {
  auto db = StartDb();
  ASSERT_TRUE(db);
  auto o = OptionsFor(*db);
  o.start = *MysqlStart::Parse("latest");
  o.heartbeat_period = milliseconds(0);
  o.read_timeout = seconds(30);
  auto src = OpenOrFail(o);
  ASSERT_TRUE(src);
  const pid_t reader = ::gettid();
  std::atomic<bool> reading{false};
  std::thread canceller([&] {
    // Once this thread waits in Next() (asleep in the kernel, for the
    // socket): Cancel() must wake it. (A Cancel() before would only make
    // the next Next() return Aborted.)
    const auto deadline = std::chrono::steady_clock::now() + seconds(5);
    while (!(reading.load() && ThreadState(reader) == 'S') &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    src->Cancel();
  });
  Status s;
  const auto started = std::chrono::steady_clock::now();
  reading.store(true);
  for (int i = 0; i < 10 && s.ok(); ++i) {
    RawEvent e;
    s = src->Next(&e);
  }
  canceller.join();
  EXPECT_EQ(s.code(), Code::kAborted) << s.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(10));
}

TEST(MysqlSourceMariaDb, EventsOver16MiBArriveWhole) {
  testing::MariaDbOptions big;
  big.extra_args = {"--max-allowed-packet=256M"};
  auto db = StartDb(big);
  ASSERT_TRUE(db);
  ASSERT_TRUE(
      db->Execute("INSERT INTO shop.t VALUES (1, CONCAT('big-row', REPEAT('x', 40000000)))").ok());
  auto src = OpenOrFail(OptionsFor(*db));
  ASSERT_TRUE(src);
  std::vector<Ev> seen;
  ASSERT_TRUE(ReadThroughRow(*src, "big-row", &seen).ok());
  size_t largest = 0;
  for (const auto& e : seen) largest = std::max(largest, e.bytes.size());
  EXPECT_GT(largest, 40000000u);  // three 16 MiB packets
  ExpectSameAsDisk(seen, DiskEvents(*db));
}

// Runs `openssl args...`; true when it exits 0.
bool RunOpenssl(std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  auto r = testing::RunCapture(args);
  return r.ok() && r->status.success();
}

bool MakeCert(const testing::TempDir& dir, const std::string& name) {
  return RunOpenssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                     "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                     dir.Sub(name + ".key"), "-out", dir.Sub(name + ".pem")});
}

TEST(MysqlSourceMariaDb, TlsModes) {
  testing::TempDir certs;
  if (!MakeCert(certs, "server") || !MakeCert(certs, "other")) GTEST_SKIP() << "no openssl";
  testing::MariaDbOptions tls;
  tls.extra_args = {"--ssl-cert=" + certs.Sub("server.pem"),
                    "--ssl-key=" + certs.Sub("server.key")};
  auto db = StartDb(tls);
  ASSERT_TRUE(db);
  auto o = OptionsFor(*db);
  o.ssl_mode = SslMode::kVerifyIdentity;
  o.ssl_ca = certs.Sub("server.pem");
  auto src = OpenOrFail(o);
  ASSERT_TRUE(src);
  EXPECT_FALSE(src->tls_cipher().empty());
  std::vector<Ev> seen;
  ASSERT_TRUE(db->Execute("INSERT INTO shop.t VALUES (1, 'over-tls')").ok());
  EXPECT_TRUE(ReadThroughRow(*src, "over-tls", &seen).ok());

  o.ssl_ca = certs.Sub("other.pem");  // a CA that did not sign the server's certificate
  o.ssl_mode = SslMode::kVerifyCa;
  auto refused = MysqlSource::Open(o);
  EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition) << refused.status().ToString();

  auto plain = StartDb();  // no certificate: "required" must refuse
  ASSERT_TRUE(plain);
  auto p = OptionsFor(*plain);
  p.ssl_mode = SslMode::kRequired;
  EXPECT_EQ(MysqlSource::Open(p).status().code(), Code::kFailedPrecondition);
  p.ssl_mode = SslMode::kPreferred;
  auto fallback = OpenOrFail(p);
  ASSERT_TRUE(fallback);
  EXPECT_TRUE(fallback->tls_cipher().empty());
}

}  // namespace
}  // namespace sluice::binlog
