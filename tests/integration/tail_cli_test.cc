// `sluice tail` and `sluice offsets`: the built binary against an in-process
// broker (CommitLog + ConsumerService + ConsumerServer on 127.0.0.1). What
// it prints is compared with proto/record_json.h's rendering of the records
// the test committed, and with what `sluice log dump` prints for the same log.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "broker/consumer/server.h"
#include "broker/consumer/service.h"
#include "proto/auth.h"
#include "proto/record.pb.h"
#include "proto/record_json.h"
#include "tests/support/child_process.h"
#include "tests/support/consumer_fixture.h"
#include "tests/support/file_text.h"
#include "tests/support/in_process_broker.h"
#include "tests/support/sample_records.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_for.h"

namespace sluice {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

using testing::ReadFile;
using testing::ReadLines;

// The "offset" of a JSON line of record_json.h ({"offset":N,...}); -1 if none.
int64_t OffsetOf(const std::string& line) {
  const std::string key = "{\"offset\":";
  if (line.rfind(key, 0) != 0) return -1;
  return std::stoll(line.substr(key.size()));
}

// WaitFor's limit and pace here.
constexpr std::chrono::seconds kWait(20);
constexpr std::chrono::milliseconds kPoll(10);

// One run of the sluice binary; stdout and stderr go to files.
class Sluice {
 public:
  Sluice(const std::string& dir, std::vector<std::string> args)
      : out_(dir + "/out"), err_(dir + "/err") {
    args.insert(args.begin(), SLUICE_BIN);
    auto child = testing::ChildProcess::Start(args, {.stdout_path = out_, .stderr_path = err_});
    EXPECT_TRUE(child.ok()) << child.status().ToString();
    if (child.ok()) child_ = std::move(*child);
  }

  // The exit code, or -1 when it did not exit within `ms` (or died by a signal).
  int Wait(int ms) {
    auto ended = child_.WaitFor(milliseconds(ms));
    return ended && ended->exited() ? ended->code() : -1;
  }
  void Signal(int sig) { child_.Signal(sig); }

  std::vector<std::string> lines() const { return ReadLines(out_); }
  std::string err() const { return ReadFile(err_); }

 private:
  std::string out_, err_;
  testing::ChildProcess child_;  // SIGKILLed and reaped when the object goes
};

class TailCli : public ::testing::Test {
 protected:
  void SetUp() override {
    StartBroker();
    std::ofstream(dir_.Sub("pw")) << "pw\n";  // an editor's trailing newline
    std::ofstream(dir_.Sub("bad-pw")) << "nope\n";
  }
  void TearDown() override { StopBroker(); }

  void StartBroker() {
    broker_.dir = dir_.Sub("log");
    broker_.options.anonymous = true;
    broker_.Start();
  }
  void StopBroker() { EXPECT_EQ(broker_.Stop(), 0) << "a libuv handle was left open"; }

  // Commits a transaction of `n` records: inserts, updates and deletes with
  // a few column types, and a DDL now and then.
  void Commit(int n) {
    std::vector<std::string> recs;
    for (int i = 0; i < n; ++i) {
      const size_t k = all_.size();
      proto::ChangeRecord r = testing::SampleRecord(k, i, i == n - 1);
      recs.push_back(r.SerializeAsString());
      expected_.push_back(RecordToJson(r, JsonContext{k, "shop"}));
      all_.push_back(recs.back());
    }
    ASSERT_TRUE(testing::CommitTxn(broker_.log.get(), recs).ok());
  }

  std::vector<std::string> Expected(size_t from, size_t to) const {
    return {expected_.begin() + from, expected_.begin() + to};
  }

  // Runs sluice to its end (30 s at most).
  struct Ran {
    int code;
    std::vector<std::string> lines;
    std::string err;
  };
  Ran Run(std::vector<std::string> args) {
    Sluice s(dir_.path(), std::move(args));
    const int code = s.Wait(30000);
    return {code, s.lines(), s.err()};
  }

  testing::TempDir dir_;
  testing::InProcessBroker broker_;
  std::vector<std::string> all_;       // by offset
  std::vector<std::string> expected_;  // record_json.h lines, by offset
};

TEST_F(TailCli, PrintsWhatLogDumpPrints) {
  for (int t = 0; t < 12; ++t) Commit(1 + t % 4);
  auto r = Run({"tail", "--broker", broker_.address(), "--dest", "shop"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(r.lines.size(), all_.size()) << r.err;
  for (size_t i = 0; i < r.lines.size(); ++i) EXPECT_EQ(OffsetOf(r.lines[i]), int64_t(i));
  EXPECT_EQ(r.lines, expected_);

  // `sluice log dump` reads the same log offline: the same lines.
  StopBroker();
  auto dump = Run({"log", "dump", "--path", dir_.Sub("log")});
  ASSERT_EQ(dump.code, 0) << dump.err;
  EXPECT_EQ(dump.lines, r.lines);
}

TEST_F(TailCli, FromAndCount) {
  Commit(10);
  auto latest = Run({"tail", "--broker", broker_.address(), "--dest", "shop", "--from", "latest"});
  EXPECT_EQ(latest.code, 0) << latest.err;
  EXPECT_TRUE(latest.lines.empty());

  auto mid =
      Run({"tail", "--broker", broker_.address(), "--dest", "shop", "--from", "3", "--count", "4"});
  ASSERT_EQ(mid.code, 0) << mid.err;
  EXPECT_EQ(mid.lines, Expected(3, 7));

  auto beyond = Run({"tail", "--broker", broker_.address(), "--dest", "shop", "--from", "11"});
  EXPECT_EQ(beyond.code, 1);
  EXPECT_NE(beyond.err.find("[0, 10]"), std::string::npos) << beyond.err;

  auto off = Run({"offsets", "--broker", broker_.address(), "--dest", "shop"});
  ASSERT_EQ(off.code, 0) << off.err;
  EXPECT_EQ(off.lines,
            std::vector<std::string>{R"({"dest":"shop","first_offset":0,"high_watermark":10})"});

  auto unknown = Run({"offsets", "--broker", broker_.address(), "--dest", "nope"});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_NE(unknown.err.find("nope"), std::string::npos) << unknown.err;
}

TEST_F(TailCli, GroupResumesWhereItAcked) {
  Commit(5);
  const std::vector<std::string> group = {
      "tail",   "--broker", broker_.address(), "--dest",      "shop", "--group", "g",
      "--user", "u",        "--password-file", dir_.Sub("pw")};
  auto first = Run(group);
  ASSERT_EQ(first.code, 0) << first.err;
  EXPECT_EQ(first.lines, Expected(0, 5));
  auto again = Run(group);
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_TRUE(again.lines.empty());
  Commit(3);
  auto more = group;
  more.insert(more.end(), {"--count", "2"});
  auto next = Run(more);
  ASSERT_EQ(next.code, 0) << next.err;
  EXPECT_EQ(next.lines, Expected(5, 7));
  auto rest = Run(group);
  ASSERT_EQ(rest.code, 0) << rest.err;
  EXPECT_EQ(rest.lines, Expected(7, 8));

  // Groups need a user on this (anonymous-enabled) broker.
  auto anon = Run({"tail", "--broker", broker_.address(), "--dest", "shop", "--group", "g"});
  EXPECT_EQ(anon.code, 1);
  EXPECT_NE(anon.err.find("anonymous"), std::string::npos) << anon.err;
}

TEST_F(TailCli, FollowWaitsForNewRecords) {
  Commit(2);
  Sluice s(dir_.path(), {"tail", "--broker", broker_.address(), "--dest", "shop", "--from",
                         "latest", "--follow", "--count", "3"});
  // It has read "latest" (2) and waits in a long poll; then it has printed
  // the first new record, before the other three are committed.
  ASSERT_TRUE(testing::WaitFor(broker_.server->stats().polls_parked, 1, kWait, kPoll))
      << "no long poll from tail:\n"
      << s.err();
  Commit(1);
  ASSERT_TRUE(testing::WaitFor([&] { return s.lines().size() == 1; }, kWait, kPoll))
      << "no first line:\n"
      << s.err();
  Commit(3);
  ASSERT_EQ(s.Wait(20000), 0) << s.err();
  EXPECT_EQ(s.lines(), Expected(2, 5));
}

TEST_F(TailCli, FollowStopsOnSigterm) {
  Commit(2);
  for (const auto& extra : std::vector<std::vector<std::string>>{
           {}, {"--group", "g", "--user", "u", "--password-file", dir_.Sub("pw")}}) {
    std::vector<std::string> args = {"tail",   "--broker", broker_.address(),
                                     "--dest", "shop",     "--follow"};
    args.insert(args.end(), extra.begin(), extra.end());
    Sluice s(dir_.path(), args);
    testing::WaitFor([&] { return s.lines().size() >= all_.size(); }, kWait, kPoll);
    ASSERT_EQ(s.lines(), expected_) << s.err();
    const auto t0 = Clock::now();
    s.Signal(SIGTERM);
    EXPECT_EQ(s.Wait(5000), 0) << s.err();
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(3));
    Commit(1);  // the next run sees one more
  }
}

TEST_F(TailCli, AuthenticationAndUsageErrors) {
  Commit(1);
  auto ok = Run({"tail", "--broker", broker_.address(), "--dest", "shop", "--user", "u",
                 "--password-file", dir_.Sub("pw")});
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(ok.lines, expected_);

  auto bad = Run({"tail", "--broker", broker_.address(), "--dest", "shop", "--user", "u",
                  "--password-file", dir_.Sub("bad-pw")});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("authentication failed"), std::string::npos) << bad.err;
  EXPECT_TRUE(bad.lines.empty());

  // Usage errors: exit code 2.
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"tail", "--dest", "shop"},
           {"tail", "--broker", broker_.address(), "--dest", "shop", "--from", "yesterday"},
           {"tail", "--broker", broker_.address(), "--dest", "shop", "--from", "1", "--group", "g"},
           {"tail", "--broker", broker_.address(), "--dest", "shop", "--user", "u"},
           {"tail", "--broker", "127.0.0.1", "--dest", "shop"},
           {"offsets", "--broker", broker_.address()}}) {
    auto r = Run(args);
    EXPECT_EQ(r.code, 2) << args.back() << ": " << r.err;
    EXPECT_FALSE(r.err.empty());
  }
}

TEST_F(TailCli, SeveralBrokersOneDown) {
  Commit(3);
  const int port = testing::FreePort();
  ASSERT_NE(port, 0);
  const std::string dead = "127.0.0.1:" + std::to_string(port);
  auto r = Run({"tail", "--broker", dead + "," + broker_.address(), "--dest", "shop"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.lines, expected_);
}

// `sluice schema`: each table's versions from the schema records of the
// log, a repeated equal shape not being a new one, with the offset where
// each starts; --json prints the schema records themselves.
TEST_F(TailCli, SchemaListsEachTablesVersionsWithTheirOffsets) {
  auto shape = [](const std::string& table, std::vector<std::string> cols) {
    proto::ChangeRecord r;
    r.set_format_version(proto::RECORD_FORMAT_V1);
    r.set_op(proto::OP_SCHEMA);
    r.set_db("shop");
    r.set_table(table);
    r.add_pk("id");
    r.mutable_pos()->set_file("binlog.000001");
    r.mutable_pos()->set_pos(100);
    auto* s = r.mutable_schema();
    s->set_names_known(true);
    s->add_pk("id");
    for (const auto& c : cols) {
      auto* col = s->add_columns();
      col->set_name(c);
      col->set_mysql_type(3);
      col->set_sql_type("int");
    }
    return r;
  };
  // Offsets 0..4: t v1, u v1, t v1 again (a restart), t v2, u v1 again.
  const std::vector<proto::ChangeRecord> recs = {shape("t", {"id"}), shape("u", {"id", "a"}),
                                                 shape("t", {"id"}), shape("t", {"id", "b"}),
                                                 shape("u", {"id", "a"})};
  std::vector<std::string> bytes;
  for (const auto& r : recs) bytes.push_back(r.SerializeAsString());
  ASSERT_TRUE(testing::CommitTxn(broker_.log.get(), bytes).ok());

  Ran text = Run({"schema", "--broker", broker_.address(), "--dest", "shop", "--table", "shop.t"});
  ASSERT_EQ(text.code, 0) << text.err;
  ASSERT_EQ(text.lines.size(), 2u + 1 + 1 + 2 + 1) << text.err;
  EXPECT_EQ(text.lines[0], "shop.t version 1 from offset 0 (binlog.000001:100)");
  EXPECT_EQ(text.lines[1], "  id int not null");
  EXPECT_EQ(text.lines[2], "  primary key (id)");
  EXPECT_EQ(text.lines[3], "shop.t version 2 from offset 3 (binlog.000001:100)");

  Ran json = Run({"schema", "--broker", broker_.address(), "--dest", "shop", "--json"});
  ASSERT_EQ(json.code, 0) << json.err;
  // Every table: shop.t's two versions, then shop.u's one.
  // (Committed as whole records, the log keeps their own txn field.)
  auto with_txn = [&](size_t offset) {
    return RecordToJson(recs[offset], JsonContext{offset, "shop"});
  };
  EXPECT_EQ(json.lines, (std::vector<std::string>{with_txn(0), with_txn(3), with_txn(1)}));

  Ran none =
      Run({"schema", "--broker", broker_.address(), "--dest", "shop", "--table", "shop.nope"});
  EXPECT_EQ(none.code, 1);
  EXPECT_NE(none.err.find("no schema record of shop.nope"), std::string::npos) << none.err;
}

}  // namespace
}  // namespace sluice
