// Kafka's wire protocol against real Kafka clients (Debian's kcat, built on
// librdkafka; python3-confluent-kafka; python3-kafka): an in-process broker
// (CommitLog + ConsumerService) served by the KafkaServer on 127.0.0.1.
// What kcat prints is compared with what `sluice tail` prints for the same
// log (the issue's oracle: the value is tail's line, byte for byte); keys,
// timestamps and headers with what the test committed.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "broker/kafka/server.h"
#include "proto/auth.h"
#include "proto/record.pb.h"
#include "tests/support/child_process.h"
#include "tests/support/consumer_fixture.h"
#include "tests/support/file_text.h"
#include "tests/support/in_process_broker.h"
#include "tests/support/sample_records.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_for.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;

using testing::ReadFile;
using testing::ReadLines;

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  out.push_back(cur);
  return out;
}

struct Ran {
  int code = -1;
  std::vector<std::string> lines;
  std::string err;
};

class KafkaClients : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_.dir = dir_.Sub("log");
    broker_.options.anonymous = true;
    broker_.Start();
    ko.listen = "127.0.0.1:0";
    ko.broker_id = 7;
    ko.anonymous = true;
    ko.users["u"] = auth::PasswordKey("pw");
    auto k = kafka::KafkaServer::Start(ko, broker_.svc.get());
    ASSERT_TRUE(k.ok()) << k.status().ToString();
    kafka_ = std::move(*k);
    address_ = "127.0.0.1:" + std::to_string(kafka_->port());
    if (const char* capture = std::getenv("SLUICE_KAFKA_CAPTURE")) StartCapture(capture);
  }

  // Seeds for kafka_request_fuzz: the clients talk through
  // tests/fuzz/capture_kafka_seeds.py, which keeps what they send.
  void StartCapture(const std::string& out_dir) {
    const std::string port_file = dir_.Sub("capture.port");
    auto child = testing::ChildProcess::Start(
        {"/usr/bin/python3", std::string(KAFKA_SCRIPTS) + "/../../fuzz/capture_kafka_seeds.py",
         address_, out_dir, port_file},
        {.stdout_path = dir_.Sub("capture.out"), .stderr_path = dir_.Sub("capture.err")});
    ASSERT_TRUE(child.ok()) << child.status().ToString();
    capture_ = std::move(*child);
    ASSERT_TRUE(testing::WaitFor([&] { return !ReadFile(port_file).empty(); }));
    // The server again on its port, advertising the proxy, so that clients
    // stay on the proxy after Metadata.
    ko.listen = address_;
    address_ = "127.0.0.1:" + ReadFile(port_file);
    ko.advertised = address_;
    ASSERT_EQ(kafka_->Stop(), 0);
    kafka_.reset();
    auto k = kafka::KafkaServer::Start(ko, broker_.svc.get());
    ASSERT_TRUE(k.ok()) << k.status().ToString();
    kafka_ = std::move(*k);
  }
  void TearDown() override {
    if (kafka_) {
      EXPECT_EQ(kafka_->Stop(), 0) << "a libuv handle was left open";
    }
    EXPECT_EQ(broker_.Stop(), 0);
  }

  std::string kafka_address() const { return address_; }

  // Commits a transaction of `n` sample records.
  void Commit(int n) {
    std::vector<std::string> recs;
    for (int i = 0; i < n; ++i) {
      recs.push_back(testing::SampleRecord(count_++, i, i == n - 1).SerializeAsString());
    }
    ASSERT_TRUE(testing::CommitTxn(broker_.log.get(), recs).ok());
  }

  // Runs a program to its end (60 s at most); stdout by line.
  Ran Run(std::vector<std::string> args, int wait_ms = 60000) {
    const std::string out = dir_.Sub("out"), err = dir_.Sub("err");
    auto child = testing::ChildProcess::Start(args, {.stdout_path = out, .stderr_path = err});
    EXPECT_TRUE(child.ok()) << child.status().ToString();
    if (!child.ok()) return {};
    auto ended = child->WaitFor(milliseconds(wait_ms));
    Ran r;
    r.code = ended && ended->exited() ? ended->code() : -1;
    r.lines = ReadLines(out);
    r.err = ReadFile(err);
    return r;
  }

  // kcat as a consumer of "shop": one line per record, its fields by tab.
  Ran Kcat(const std::string& offset) {
    std::vector<std::string> args = {"kcat",
                                     "-C",
                                     "-b",
                                     kafka_address(),
                                     "-t",
                                     "shop",
                                     "-o",
                                     offset,
                                     "-e",
                                     "-q",
                                     "-Z",
                                     "-f",
                                     "%o\\t%k\\t%T\\t%h\\t%s\\n"};
    if (getenv("KCAT_DEBUG")) {
      args.push_back("-d");
      args.push_back(getenv("KCAT_DEBUG"));
    }
    auto r = Run(args, 10000);
    if (getenv("KCAT_DEBUG")) fprintf(stderr, "%s\n", r.err.substr(0, 20000).c_str());
    return r;
  }

  testing::TempDir dir_;
  testing::InProcessBroker broker_;
  std::unique_ptr<kafka::KafkaServer> kafka_;
  kafka::KafkaOptions ko;
  std::string address_;            // where clients connect: the server, or the capture proxy
  testing::ChildProcess capture_;  // SIGKILLed when the test ends
  size_t count_ = 0;
};

TEST_F(KafkaClients, KcatPrintsWhatSluiceTailPrints) {
  for (int t = 0; t < 12; ++t) Commit(1 + t % 4);
  Commit(5000);  // more than one Fetch
  auto tail = Run({SLUICE_BIN, "tail", "--broker", broker_.address(), "--dest", "shop"});
  ASSERT_EQ(tail.code, 0) << tail.err;
  ASSERT_EQ(tail.lines.size(), count_);

  auto kcat = Kcat("beginning");
  ASSERT_EQ(kcat.code, 0) << kcat.err;
  ASSERT_EQ(kcat.lines.size(), count_) << kcat.err;
  for (size_t k = 0; k < count_; ++k) {
    const auto f = Split(kcat.lines[k], '\t');
    ASSERT_EQ(f.size(), 5u) << kcat.lines[k];
    EXPECT_EQ(f[0], std::to_string(k));
    const proto::ChangeRecord r = testing::SampleRecord(k, 0, false);
    EXPECT_EQ(f[1], r.op() == proto::OP_DDL ? "NULL" : "{\"id\":" + std::to_string(k) + "}");
    EXPECT_EQ(f[2], std::to_string((1764000000 + k) * 1000));
    const std::string op = r.op() == proto::OP_DDL      ? "ddl"
                           : r.op() == proto::OP_INSERT ? "insert"
                           : r.op() == proto::OP_UPDATE ? "update"
                                                        : "delete";
    EXPECT_EQ(f[3], "db=shop,table=" + r.table() + ",op=" + op + ",pos=binlog.000001:" +
                        std::to_string(1000 + k) + ",gtid=0-1-" + std::to_string(k));
    ASSERT_EQ(f[4], tail.lines[k]) << "offset " << k;
  }
}

TEST_F(KafkaClients, KcatStartsFromTheEndOrFromATime) {
  Commit(20);
  auto last = Kcat("-5");
  ASSERT_EQ(last.code, 0) << last.err;
  ASSERT_EQ(last.lines.size(), 5u) << last.err;
  EXPECT_EQ(Split(last.lines[0], '\t')[0], "15");

  // Record k has source time 1764000000 + k seconds: from a time between
  // records 11 and 12, kcat starts at 12.
  auto timed = Kcat("s@" + std::to_string(1764000011LL * 1000 + 500));
  ASSERT_EQ(timed.code, 0) << timed.err;
  ASSERT_EQ(timed.lines.size(), 8u) << timed.err;
  EXPECT_EQ(Split(timed.lines[0], '\t')[0], "12");
}

// value_format = "debezium": row changes in Debezium's envelope, the
// others as tail prints them; read by kcat from a second listener.
TEST_F(KafkaClients, KcatReadsDebeziumEnvelopes) {
  Commit(40);
  kafka::KafkaOptions o = ko;
  o.listen = "127.0.0.1:0";
  o.advertised = "";
  o.value_format = kafka::ValueFormat::kDebezium;
  auto dbz = kafka::KafkaServer::Start(o, broker_.svc.get());
  ASSERT_TRUE(dbz.ok()) << dbz.status().ToString();
  auto tail = Run({SLUICE_BIN, "tail", "--broker", broker_.address(), "--dest", "shop"});
  ASSERT_EQ(tail.code, 0) << tail.err;
  auto kcat = Run({"kcat", "-C", "-b", "127.0.0.1:" + std::to_string((*dbz)->port()), "-t", "shop",
                   "-o", "beginning", "-e", "-q", "-f", "%s\\n"});
  ASSERT_EQ(kcat.code, 0) << kcat.err;
  ASSERT_EQ(kcat.lines.size(), count_);
  for (size_t k = 0; k < count_; ++k) {
    const proto::ChangeRecord r = testing::SampleRecord(k, 0, false);
    const std::string& v = kcat.lines[k];
    if (r.op() == proto::OP_DDL) {
      EXPECT_EQ(v, tail.lines[k]);
      continue;
    }
    const std::string id = "{\"id\":" + std::to_string(k) + ",";
    const char* op = r.op() == proto::OP_INSERT ? "c" : r.op() == proto::OP_UPDATE ? "u" : "d";
    EXPECT_EQ(v.rfind(r.op() == proto::OP_INSERT ? "{\"before\":null,\"after\":" + id
                                                 : "{\"before\":" + id,
                      0),
              0u)
        << v;
    EXPECT_NE(v.find("\"op\":\"" + std::string(op) +
                     "\",\"ts_ms\":" + std::to_string((1764000000 + k) * 1000)),
              std::string::npos)
        << v;
    EXPECT_NE(v.find("\"table\":\"" + r.table() + "\""), std::string::npos) << v;
  }
  EXPECT_EQ((*dbz)->Stop(), 0);
}

// One member of a consumer group: tests/integration/kafka/group_consumer.py
// with one of the Python clients. Its lines: ASSIGNED, R <offset>, C <offset>.
class Member {
 public:
  Member(const std::string& dir, const std::string& name, const std::string& lib,
         const std::string& bootstrap, int hang_at)
      : out_(dir + "/" + name + ".out"), err_(dir + "/" + name + ".err") {
    std::vector<std::string> argv = {
        "/usr/bin/python3", std::string(KAFKA_SCRIPTS) + "/group_consumer.py", "--lib", lib};
    if (lib == "kafkajs") argv = {"node", std::string(KAFKA_SCRIPTS) + "/group_consumer.js"};
    argv.insert(argv.end(),
                {"--bootstrap", bootstrap, "--group", "g", "--user", "u", "--password", "pw",
                 "--hang-at", std::to_string(hang_at), "--hang-mark", dir + "/hang"});
    auto child = testing::ChildProcess::Start(argv, {.stdout_path = out_, .stderr_path = err_});
    EXPECT_TRUE(child.ok()) << child.status().ToString();
    if (child.ok()) child_ = std::move(*child);
  }

  std::vector<std::string> Lines() const { return ReadLines(out_); }
  std::string err() const { return ReadFile(err_); }
  void Kill() {
    child_.Signal(SIGKILL);
    child_.WaitFor(milliseconds(10000));
  }

  // The offsets of its R (or C) lines, in order.
  std::vector<int64_t> Offsets(char kind) const {
    std::vector<int64_t> out;
    for (const auto& l : Lines()) {
      if (l.size() > 2 && l[0] == kind && l[1] == ' ') out.push_back(std::stoll(l.substr(2)));
    }
    return out;
  }
  int64_t LastCommit() const {
    auto c = Offsets('C');
    return c.empty() ? -1 : c.back();
  }
  // Its ASSIGNED lines: what each rebalance gave it.
  std::vector<std::string> Assignments() const {
    std::vector<std::string> out;
    for (const auto& l : Lines()) {
      if (l.rfind("ASSIGNED ", 0) == 0) out.push_back(l.substr(9));
    }
    return out;
  }

 private:
  std::string out_, err_;
  testing::ChildProcess child_;
};

std::string Tail(const std::vector<std::string>& lines, size_t n) {
  std::string out = "\nlast lines:\n";
  for (size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i) {
    out += lines[i] + "\n";
  }
  return out;
}

class KafkaGroups : public KafkaClients, public ::testing::WithParamInterface<const char*> {
 protected:
  void SetUp() override {
    KafkaClients::SetUp();
    if (std::string(GetParam()) == "kafkajs") EnsureKafkajs();
  }

  // kafkajs comes from npm (tests/integration/kafka/package-lock.json):
  // `npm ci` there when node_modules lacks it.
  void EnsureKafkajs() {
    const std::string dir = KAFKA_SCRIPTS;
    if (std::ifstream(dir + "/node_modules/kafkajs/package.json")) return;
    auto r =
        Run({"npm", "ci", "--prefix", dir, "--no-audit", "--no-fund", "--loglevel=error"}, 300000);
    ASSERT_EQ(r.code, 0) << "npm ci in " << dir << " failed:\n" << r.err;
  }
};

// The issue's group scenario on one node: two members split the one
// partition (one idle), the holder commits, is killed, and the other
// takes over from the commit: nothing lost, and nothing before the last
// commit read twice.
TEST_P(KafkaGroups, TwoMembersSplitAndTheSurvivorResumesFromTheCommit) {
  constexpr auto kWait = std::chrono::seconds(60);
  constexpr auto kPoll = milliseconds(50);
  for (int t = 0; t < 100; ++t) Commit(10);
  // The first member to get to record 1650 hangs there: in the middle of
  // the batch after its commit at 1600.
  constexpr int kHangAt = 1650;
  Member a(dir_.path(), "a", GetParam(), kafka_address(), kHangAt);
  ASSERT_TRUE(testing::WaitFor([&] { return a.LastCommit() == 1000; }, kWait, kPoll)) << a.err();
  EXPECT_EQ(a.Assignments(), std::vector<std::string>{"0"});

  Member b(dir_.path(), "b", GetParam(), kafka_address(), kHangAt);
  // B's join opens a round; A learns it from its heartbeat and rejoins.
  ASSERT_TRUE(testing::WaitFor(
      [&] { return !b.Assignments().empty() && a.Assignments().size() >= 2; }, kWait, kPoll))
      << a.err() << b.err();
  const std::string got_a = a.Assignments().back(), got_b = b.Assignments().back();
  ASSERT_TRUE((got_a == "0" && got_b == "-") || (got_a == "-" && got_b == "0"))
      << "a: " << got_a << ", b: " << got_b;
  Member& holder = got_a == "0" ? a : b;
  Member& idle = got_a == "0" ? b : a;

  for (int t = 0; t < 50; ++t) Commit(10);
  ASSERT_TRUE(testing::WaitFor([&] { return holder.LastCommit() == 1500; }, kWait, kPoll))
      << holder.err();
  EXPECT_TRUE(idle.Offsets('R').size() == (&idle == &a ? 1000u : 0u));

  // More records; the holder hangs in the middle of a batch and is killed.
  for (int t = 0; t < 30; ++t) Commit(10);
  ASSERT_TRUE(testing::WaitFor(
      [&] { return !holder.Offsets('R').empty() && holder.Offsets('R').back() == kHangAt; }, kWait,
      kPoll));
  holder.Kill();
  // Its last commit: 1600 (a batch's), or a later idle one when the
  // records came in two fetches; in any case before the hang.
  const int64_t committed = holder.LastCommit();
  EXPECT_GE(committed, 1500);
  EXPECT_LE(committed, kHangAt);
  const std::vector<int64_t> held = holder.Offsets('R');

  ASSERT_TRUE(testing::WaitFor([&] { return idle.LastCommit() == 1800; }, kWait, kPoll))
      << idle.err().substr(idle.err().size() > 30000 ? idle.err().size() - 30000 : 0)
      << Tail(idle.Lines(), 20);
  std::vector<int64_t> took;
  const auto all = idle.Offsets('R');
  for (int64_t o : all) {
    if (o >= 1000 || &idle == &b) took.push_back(o);
  }
  ASSERT_FALSE(took.empty());
  // It resumes at the holder's last commit: the unacknowledged part of the
  // batch (1600 to 1650) is read again, nothing before it.
  EXPECT_EQ(took.front(), committed);
  // Nothing lost: what the two read covers every offset.
  std::vector<bool> seen(1800, false);
  for (int64_t o : held) seen[o] = true;
  for (int64_t o : took) seen[o] = true;
  for (size_t o = 0; o < seen.size(); ++o) EXPECT_TRUE(seen[o]) << "offset " << o << " never read";
  std::optional<uint64_t> at;
  ASSERT_EQ(broker_.svc->CommittedOffset("shop", "g", &at).code(), proto::OK);
  EXPECT_EQ(at, 1800u);
}

INSTANTIATE_TEST_SUITE_P(Clients, KafkaGroups,
                         ::testing::Values("confluent", "kafka-python", "kafkajs"),
                         [](const auto& info) {
                           const std::string lib = info.param;
                           return lib == "confluent"      ? "ConfluentKafka"
                                  : lib == "kafka-python" ? "KafkaPython"
                                                          : "Kafkajs";
                         });

}  // namespace
}  // namespace sluice
