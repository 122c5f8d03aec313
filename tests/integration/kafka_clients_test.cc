// Kafka's wire protocol against real Kafka clients (Debian's kcat, built on
// librdkafka; python3-confluent-kafka; python3-kafka): an in-process broker
// (CommitLog + ConsumerService) served by the KafkaServer on 127.0.0.1.
// What kcat prints is compared with what `sluice tail` prints for the same
// log (the issue's oracle: the value is tail's line, byte for byte); keys,
// timestamps and headers with what the test committed.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "broker/kafka/server.h"
#include "proto/auth.h"
#include "proto/record.pb.h"
#include "tests/support/child_process.h"
#include "tests/support/consumer_fixture.h"
#include "tests/support/in_process_broker.h"
#include "tests/support/sample_records.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_for.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;

std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string ReadFile(const std::string& path) {
  std::stringstream ss;
  ss << std::ifstream(path).rdbuf();
  return ss.str();
}

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
    kafka::KafkaOptions ko;
    ko.listen = "127.0.0.1:0";
    ko.broker_id = 7;
    ko.anonymous = true;
    ko.users["u"] = auth::PasswordKey("pw");
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

  std::string kafka_address() const { return "127.0.0.1:" + std::to_string(kafka_->port()); }

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

}  // namespace
}  // namespace sluice
