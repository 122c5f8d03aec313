// sluiced on a full disk (its data_dir on a small tmpfs): a start with a
// large binlog backlog onto a disk with 4 MiB free ends, every time, in a
// clear error and an exit (never an abort); with a little more free, ingest
// pauses with an error naming the path and the bytes free (log, /status)
// while the process stays up, and resumes by itself once space is freed.
// The log must then equal an uninterrupted ingest. A standby whose disk
// fills while it catches up pauses the same way and resumes by itself.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/integration/sluiced_harness.h"
#include "tests/support/child_process.h"
#include "tests/support/http_get.h"
#include "tests/support/tmpfs.h"

namespace sluice::sluiced_test {
namespace {

constexpr uint64_t kMiB = 1 << 20;

class SluicedDiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs_.ok()) GTEST_SKIP() << fs_.error();
    auto db = MariaDb::Start();
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(db_->Execute("CREATE DATABASE shop; USE shop; "
                             "CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(255), n BIGINT)")
                    .ok());
  }

  // 32 transactions of 10000 rows with hard-to-compress values: about
  // 25 MiB in the log, more than the disk will have free.
  void Backlog() {
    for (int t = 0; t < 32; ++t) {
      const std::string base = std::to_string(t * 10000);
      ASSERT_TRUE(db_->Execute("INSERT INTO shop.big SELECT seq + " + base +
                               ", CONCAT(SHA2(seq + " + base + ", 256), MD5(seq)), seq * 7 " +
                               "FROM seq_1_to_10000")
                      .ok());
    }
  }

  testing::Tmpfs fs_{160 * kMiB};
  testing::TempDir dir_;
  std::unique_ptr<MariaDb> db_;
};

TEST_F(SluicedDiskFullTest, StartsOntoAFullDiskEndInAClearErrorAndIngestResumesWhenFreed) {
  Backlog();
  SluicedConfig c;
  c.data_dir = fs_.Sub("data");
  c.source = db_->ReplUrl();
  c.server_id = 4101;
  c.admin_listen = "127.0.0.1:0";
  const std::string config = dir_.Sub("n1.toml");
  WriteConfig(config, c);
  {
    // [node] min_free_mb: the guard's margin, small for a small disk.
    std::string text = FileText(config);
    text.replace(text.find("[node]\n"), 7, "[node]\nmin_free_mb = 16\n");
    std::ofstream(config, std::ios::trunc) << text;
  }
  Sluiced p(config, dir_.Sub("n1.log"));

  // 1. 4 MiB free: every start ends in the clear error, by exit, not by a signal.
  ASSERT_TRUE(fs_.FillLeaving(4 * kMiB));
  for (int attempt = 0; attempt < 4; ++attempt) {
    const size_t from = FileText(p.log_file()).size();
    p.Start();
    std::optional<int> ws;
    for (int i = 0; i < 6000 && !ws; ++i, SleepMs(10)) ws = p.Poll();
    ASSERT_TRUE(ws.has_value()) << "sluiced kept running on a full disk:\n" << p.LogTail();
    EXPECT_FALSE(WIFSIGNALED(*ws)) << "signal " << WTERMSIG(*ws) << ":\n" << p.LogTail();
    EXPECT_TRUE(WIFEXITED(*ws) && WEXITSTATUS(*ws) == 1) << p.LogTail();
    const std::string said = FileText(p.log_file()).substr(from);
    EXPECT_NE(said.find("is full"), std::string::npos) << said;
    EXPECT_NE(said.find("bytes) free"), std::string::npos) << said;
    EXPECT_NE(said.find(c.data_dir), std::string::npos) << said;
  }

  // 2. Room to open but not for the backlog: ingest pauses, the process
  // stays up and says why in its log and /status.
  fs_.FreeAll();
  ASSERT_TRUE(fs_.FillLeaving(28 * kMiB));
  const size_t from = FileText(p.log_file()).size();
  p.Start();
  const int admin = p.AdminPort(from);
  ASSERT_GT(admin, 0) << p.LogTail();
  bool paused = false;
  for (int i = 0; i < 1200 && !paused && p.running() && !p.Poll(); ++i, SleepMs(100)) {
    paused = FileText(p.log_file()).find("writes pause", from) != std::string::npos;
  }
  ASSERT_TRUE(paused) << p.LogTail();
  ASSERT_FALSE(p.Poll().has_value()) << p.LogTail();
  const std::string status = testing::HttpGetBody(admin, "/status");
  EXPECT_NE(status.find("bytes) free"), std::string::npos) << status;
  EXPECT_NE(status.find("retrying"), std::string::npos) << status;
  const std::string metrics = testing::HttpGetBody(admin, "/metrics");
  const auto free = Sample(metrics, "sluice_disk_free_bytes{dest=\"shop\"}");
  ASSERT_TRUE(free.has_value()) << metrics;
  EXPECT_LT(*free, 16.0 * kMiB);
  const auto nospace =
      Sample(metrics, "sluice_ingest_errors_total{dest=\"shop\",kind=\"NoSpace\"}");
  ASSERT_TRUE(nospace.has_value()) << metrics;
  EXPECT_GE(*nospace, 1);

  // `sluice log info` with no space at all, beside the running sluiced:
  // read-only, it writes nothing.
  ASSERT_TRUE(fs_.FillLeaving(0));
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto info = testing::RunCapture({SLUICE_BIN, "log", "info", "--path", DestPath(c.data_dir)});
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    const std::string out = info->out + info->err;
    EXPECT_TRUE(info->status.success()) << info->status.ToString() << "\n" << out;
    EXPECT_NE(out.find("high watermark"), std::string::npos) << out;
  }

  // 3. Space freed: ingest resumes by itself, and the log equals a
  // one-pass ingest of the same binlog.
  fs_.FreeAll();
  ASSERT_TRUE(db_->Execute("INSERT INTO shop.big VALUES (-1, 'last', NULL)").ok());
  auto end = ServerEnd(db_.get());
  ASSERT_TRUE(end.ok()) << end.status().ToString();
  int runs = 0;
  LogImage img = RunToEnd(&p, db_.get(), c.data_dir, *end, &runs);
  EXPECT_EQ(runs, 1) << "ingest did not resume in the paused process:\n" << p.LogTail();
  LogImage want = IngestFiles(db_.get(), c.chunk_records);
  EXPECT_GT(want.records.size(), 320000u);
  ExpectSameLog(img, want);
  ExpectTxnNumbering(img.Parsed());
}

// A standby (data_dir on the tmpfs) catching up with a primary that has
// the backlog: it pauses at the free-space margin with the error in its
// log, stays up, and once space is freed replicates to the primary's high
// watermark without a restart; both logs are then the same. With
// min_free_mb = 16 the margin stops it; with 0 RocksDB itself meets ENOSPC
// and the standby's log must be resumed (CommitLog::Recover).
class SluicedDiskFullStandbyTest : public SluicedDiskFullTest,
                                   public ::testing::WithParamInterface<int> {};

TEST_P(SluicedDiskFullStandbyTest, PausesOnAFullDiskAndResumesWhenFreed) {
  const int min_free_mb = GetParam();
  Backlog();
  const std::string secret = dir_.Sub("ha.secret");
  std::ofstream(secret) << "disk-full-pair\n";
  ::chmod(secret.c_str(), 0600);
  auto node = [&](const std::string& id, const std::string& data_dir, const std::string& ha) {
    const std::string path = dir_.Sub(id + ".toml");
    std::ofstream out(path, std::ios::trunc);
    out << "[node]\nid = \"" << id << "\"\ndata_dir = \"" << data_dir << "\"\nrole = \""
        << (ha.empty() ? "primary" : "standby")
        << "\"\nmin_free_mb = " << (ha.empty() ? 16 : min_free_mb) << "\n\n"
        << "[admin]\nlisten = \"127.0.0.1:0\"\n\n[ha]\n"
        << (ha.empty() ? "listen = \"127.0.0.1:0\"\n" : "primary = \"" + ha + "\"\n")
        << "mode = \"async\"\nsecret_file = \"" << secret << "\"\n\n"
        << "[[destination]]\nname = \"" << kDest << "\"\nsource = \"" << db_->ReplUrl()
        << "\"\nserver_id = 4102\ninclude = ['" << kInclude << "']\n";
    return path;
  };
  Sluiced primary(node("a", dir_.Sub("data-a"), ""), dir_.Sub("a.log"));
  primary.Start();
  const int ha_port = primary.ListenPort("ha: serving standbys");
  const int primary_admin = primary.AdminPort();
  ASSERT_GT(ha_port, 0) << primary.LogTail();
  auto end = ServerEnd(db_.get());
  ASSERT_TRUE(end.ok()) << end.status().ToString();
  auto hw = [](int admin) {
    return Sample(testing::HttpGetBody(admin, "/metrics"),
                  "sluice_log_high_watermark{dest=\"shop\"}")
        .value_or(-1);
  };
  double want = -1;
  for (int i = 0; i < 1200; ++i, SleepMs(100)) {
    auto body = testing::HttpGetBody(primary_admin, "/status");
    if (body.find(end->file + "\",\"pos\":" + std::to_string(end->pos)) != std::string::npos) {
      want = hw(primary_admin);
      break;
    }
  }
  ASSERT_GT(want, 320000) << primary.LogTail();

  ASSERT_TRUE(fs_.FillLeaving(28 * kMiB));
  Sluiced standby(node("b", fs_.Sub("data-b"), "127.0.0.1:" + std::to_string(ha_port)),
                  dir_.Sub("b.log"));
  standby.Start();
  const int standby_admin = standby.AdminPort();
  ASSERT_GT(standby_admin, 0) << standby.LogTail();
  bool paused = false;
  for (int i = 0; i < 1200 && !paused && !standby.Poll(); ++i, SleepMs(100)) {
    const std::string log = FileText(standby.log_file());
    paused =
        log.find("is full") != std::string::npos || log.find("No space left") != std::string::npos;
  }
  ASSERT_TRUE(paused) << standby.LogTail();
  SleepMs(1000);
  ASSERT_FALSE(standby.Poll().has_value()) << standby.LogTail();
  const double stalled = hw(standby_admin);
  EXPECT_LT(stalled, want) << "the standby had room for everything";

  fs_.FreeAll();
  bool caught_up = false;
  for (int i = 0; i < 1200 && !caught_up && !standby.Poll(); ++i, SleepMs(100)) {
    caught_up = hw(standby_admin) == want;
  }
  ASSERT_TRUE(caught_up) << "the standby did not resume:\n" << standby.LogTail();
  ASSERT_TRUE(standby.Terminate()) << standby.LogTail();
  ASSERT_TRUE(primary.Terminate()) << primary.LogTail();
  auto a = ReadLog(DestPath(dir_.Sub("data-a")), 0, "a");
  auto b = ReadLog(DestPath(fs_.Sub("data-b")), 0, "b");
  ASSERT_TRUE(a.ok() && b.ok()) << a.status().ToString() << b.status().ToString();
  ExpectSameLog(*b, *a);
}

INSTANTIATE_TEST_SUITE_P(Margins, SluicedDiskFullStandbyTest, ::testing::Values(16, 0));

}  // namespace
}  // namespace sluice::sluiced_test
