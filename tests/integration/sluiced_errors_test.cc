// Mistakes found early and errors at the right pace (docs/operations.md,
// "Errors"), with real parts: a real MariaDB source, the built sluiced.
//
//   sluiced --check [--connect]: exit 2 and the key on a config error; with
//   --connect, exit 1 naming what the server lacks, exit 0 and the checks
//   it passed on a good one. What the server lacks is set up by the test
//   itself (a wrong password, binlog_format=STATEMENT, a start file the
//   server does not have), so the expected outcome does not come from us.
//
//   A permanent error (authentication) puts the destination in state
//   "failed": logged once however often it is retried, counted in
//   /metrics and /status; once the server is fixed, SIGHUP makes it retry
//   at once and it runs. A transient one (nothing listening) is "retrying".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include "tests/integration/sluiced_harness.h"
#include "tests/support/child_process.h"
#include "tests/support/http_get.h"

namespace sluice::sluiced_test {
namespace {

struct CheckRun {
  int exit_code = -1;
  std::string out;
};

// `sluiced --check --config FILE [--connect]`, its output (stdout, then
// stderr) and exit code.
CheckRun RunCheck(const std::string& config, bool connect) {
  std::vector<std::string> argv = {SLUICED_BIN, "--check", "--config", config};
  if (connect) argv.push_back("--connect");
  CheckRun r;
  auto run = testing::RunCapture(argv);
  if (!run.ok()) {
    r.out = run.status().ToString();
    return r;
  }
  r.out = run->out + run->err;
  r.exit_code = run->status.exited() ? run->status.code() : -1;
  return r;
}

class SluicedErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = MariaDb::Start();
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(db_->Execute("CREATE DATABASE shop").ok());
    config_.data_dir = dir_.Sub("data");
    config_.source = db_->ReplUrl();
    config_.server_id = 7101;
    config_.admin_listen = "127.0.0.1:0";
  }

  std::string Write(const SluicedConfig& c) {
    WriteConfig(dir_.Sub("sluiced.toml"), c);
    return dir_.Sub("sluiced.toml");
  }

  // The source URL with another user and password.
  std::string UrlAs(const std::string& user, const std::string& pw) const {
    return "mysql://" + user + ":" + pw + "@127.0.0.1:" + std::to_string(db_->port());
  }

  // Waits (bounded) until /status names `state` for the destination.
  bool WaitState(int port, const std::string& state) {
    for (int i = 0; i < 300; ++i) {
      if (JsonField(testing::HttpGetBody(port, "/status"), "state") == "\"" + state + "\"") {
        return true;
      }
      SleepMs(100);
    }
    return false;
  }

  testing::TempDir dir_;
  std::unique_ptr<MariaDb> db_;
  SluicedConfig config_;
};

TEST_F(SluicedErrorsTest, CheckNamesConfigMistakesAndWhatTheServerLacks) {
  // A config error: exit 2, the key named, nothing connects.
  SluicedConfig bad = config_;
  bad.start = "binlog.000001";  // no position
  CheckRun r = RunCheck(Write(bad), true);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("destination[0].start"), std::string::npos) << r.out;

  // A good config and server: exit 0; the checks name what they saw.
  r = RunCheck(Write(config_), true);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("log_bin on, binlog_format ROW"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("privilege REPLICATION SLAVE"), std::string::npos) << r.out;
  auto gtid = db_->Query("SELECT @@global.gtid_binlog_pos");
  ASSERT_TRUE(gtid.ok());
  EXPECT_NE(r.out.find("GTID binlog position '" + (*gtid)[0][0].value_or("") + "'"),
            std::string::npos)
      << r.out;
  // Without --connect nothing is asked of the server.
  r = RunCheck(Write(config_), false);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out.find("binlog_format"), std::string::npos) << r.out;

  // A wrong password: exit 1, the password not printed.
  SluicedConfig wrong = config_;
  wrong.source = UrlAs("repl", "n0t-the-password");
  r = RunCheck(Write(wrong), true);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("authentication failed"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("n0t-the-password"), std::string::npos) << r.out;

  // A start file the server does not have.
  SluicedConfig gone = config_;
  gone.start = "binlog.999999:4";
  r = RunCheck(Write(gone), true);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("binlog.999999:4 is not on the server"), std::string::npos) << r.out;

  // binlog_format=STATEMENT on the server.
  ASSERT_TRUE(db_->Execute("SET GLOBAL binlog_format = 'STATEMENT'").ok());
  r = RunCheck(Write(config_), true);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("binlog_format=STATEMENT"), std::string::npos) << r.out;
  ASSERT_TRUE(db_->Execute("SET GLOBAL binlog_format = 'ROW'").ok());
}

TEST_F(SluicedErrorsTest, PermanentErrorFailsOnceAndSighupRetriesAtOnce) {
  // A user the server does not know yet, retried every second: many
  // attempts, one error line.
  SluicedConfig c = config_;
  c.source = UrlAs("late", "latepw");
  Write(c);
  {
    std::string text = FileText(dir_.Sub("sluiced.toml"));
    text.replace(text.find("[node]\n"), 7, "[node]\nfailed_retry_seconds = 1\n");
    std::ofstream(dir_.Sub("sluiced.toml"), std::ios::trunc) << text;
  }
  {
    Sluiced p(dir_.Sub("sluiced.toml"), dir_.Sub("fast.log"));
    p.Start();
    const int port = p.AdminPort();
    ASSERT_GT(port, 0) << p.LogTail();
    ASSERT_TRUE(WaitState(port, "failed")) << p.LogTail();
    std::string metrics;
    for (int i = 0; i < 200; ++i) {  // at least 4 attempts
      metrics = testing::HttpGetBody(port, "/metrics");
      if (Sample(metrics, "sluice_ingest_restarts_total{dest=\"shop\"}").value_or(0) >= 4) break;
      SleepMs(100);
    }
    EXPECT_GE(Sample(metrics, "sluice_ingest_restarts_total{dest=\"shop\"}").value_or(0), 4)
        << p.LogTail();
    EXPECT_EQ(Sample(metrics, "sluice_destination_state{dest=\"shop\",state=\"failed\"}"), 1.0);
    EXPECT_EQ(Sample(metrics, "sluice_destination_state{dest=\"shop\",state=\"running\"}"), 0.0);
    ASSERT_TRUE(p.Terminate()) << p.LogTail();
    EXPECT_EQ(CountLines(FileText(p.log_file()), "authentication failed"), 1u) << p.LogTail();
  }

  // Retried only hourly: fixing the server and SIGHUP is enough.
  Write(c);
  {
    std::string text = FileText(dir_.Sub("sluiced.toml"));
    text.replace(text.find("[node]\n"), 7, "[node]\nfailed_retry_seconds = 3600\n");
    std::ofstream(dir_.Sub("sluiced.toml"), std::ios::trunc) << text;
  }
  Sluiced p(dir_.Sub("sluiced.toml"), dir_.Sub("slow.log"));
  p.Start();
  const int port = p.AdminPort();
  ASSERT_GT(port, 0) << p.LogTail();
  ASSERT_TRUE(WaitState(port, "failed")) << p.LogTail();
  ASSERT_TRUE(db_->Execute("CREATE USER 'late'@'%' IDENTIFIED BY 'latepw'; "
                           "GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* TO 'late'@'%'")
                  .ok());
  ASSERT_TRUE(
      db_->Execute("CREATE TABLE shop.t (id INT PRIMARY KEY); INSERT INTO shop.t VALUES (1)").ok());
  ::kill(p.pid(), SIGHUP);
  EXPECT_TRUE(WaitState(port, "running")) << p.LogTail();
  // And it ingests: the insert reaches the log.
  bool got = false;
  for (int i = 0; i < 300 && !got; ++i) {
    auto hw =
        Sample(testing::HttpGetBody(port, "/metrics"), "sluice_log_high_watermark{dest=\"shop\"}");
    got = hw.value_or(0) >= 2;  // the CREATE TABLE and the insert
    if (!got) SleepMs(100);
  }
  EXPECT_TRUE(got) << p.LogTail();
  ASSERT_TRUE(p.Terminate()) << p.LogTail();
}

TEST_F(SluicedErrorsTest, NothingListeningIsRetryingNotFailed) {
  SluicedConfig c = config_;
  // A port nobody listens on: bind one, note it, close it.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const int dead = ntohs(a.sin_port);
  ::close(fd);
  c.source = "mysql://repl:pw@127.0.0.1:" + std::to_string(dead);
  Sluiced p(Write(c), dir_.Sub("sluiced.log"));
  p.Start();
  const int port = p.AdminPort();
  ASSERT_GT(port, 0) << p.LogTail();
  EXPECT_TRUE(WaitState(port, "retrying")) << p.LogTail();
  auto metrics = testing::HttpGetBody(port, "/metrics");
  EXPECT_EQ(Sample(metrics, "sluice_destination_state{dest=\"shop\",state=\"retrying\"}"), 1.0);
  ASSERT_TRUE(p.Terminate()) << p.LogTail();
}

}  // namespace
}  // namespace sluice::sluiced_test
