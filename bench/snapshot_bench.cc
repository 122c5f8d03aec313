// snapshot_bench: a table copied into a commit log by a snapshot
// (docs/snapshots.md), next to `mariadb-dump --single-transaction` of the
// same table to /dev/null, in the same run, on the same throwaway MariaDB.
//
//   mariadb-dump     `mariadb-dump --single-transaction bench t > /dev/null`,
//                    timed from spawn to exit; CPU is the child's
//   sluice snapshot  the Snapshotter of a destination with an idle ingest
//                    pipeline (the real one, through the gate) copies the
//                    table into a fresh log, timed from the request until its
//                    END mark is in the log; measured in a child process of
//                    its own, so that its CPU and peak RSS are the copy's
//
// The table: (id INT PRIMARY KEY, a VARCHAR(32), b INT, c DATETIME). MB/s
// is the table's data (information_schema DATA_LENGTH) over the wall time,
// the same numerator for both. The server's own CPU is in neither column.
// The two alternate, R runs each; the table shows each one's fastest run,
// and the copy's peak RSS for a second, smaller table (memory must follow
// the chunk size, not the table).
//
//   snapshot_bench [--rows N] [--small N] [--runs R] [--chunk N]
//     defaults: --rows 2000000 --small 200000 --runs 3 --chunk 10000
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "broker/binlog/source_factory.h"
#include "broker/ingest/pipeline.h"
#include "broker/snapshot/snapshotter.h"
#include "tests/support/mariadb_fixture.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using namespace sluice;

struct Measure {
  double wall = 0, cpu = 0, rss_mb = 0, server_cpu = 0;
  uint64_t rows = 0;
  bool ok = false;
};

void Check(const Status& st, const char* what) {
  if (!st.ok()) {
    std::fprintf(stderr, "snapshot_bench: %s: %s\n", what, st.ToString().c_str());
    std::exit(1);
  }
}

// The server's CPU seconds so far (/proc/PID/stat utime + stime).
double ServerCpu(testing::MariaDb& db) {
  std::ifstream pidf(db.dir() + "/mariadbd.pid");
  int pid = 0;
  pidf >> pid;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && (rest >> field); ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double CpuSeconds(const rusage& ru) {
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

Measure Dump(testing::MariaDb& db, const std::string& table) {
  std::vector<std::string> args = {"mariadb-dump",
                                   "--no-defaults",
                                   "--single-transaction",
                                   "-h",
                                   "127.0.0.1",
                                   "-P",
                                   std::to_string(db.port()),
                                   "-u",
                                   "root",
                                   "bench",
                                   table};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  Measure m;
  pid_t pid = -1;
  const double server0 = ServerCpu(db);
  const auto t0 = Clock::now();
  if (posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) return m;
  posix_spawn_file_actions_destroy(&fa);
  int ws = 0;
  rusage ru{};
  ::wait4(pid, &ws, 0, &ru);
  m.wall = std::chrono::duration<double>(Clock::now() - t0).count();
  m.server_cpu = ServerCpu(db) - server0;
  m.cpu = CpuSeconds(ru);
  m.rss_mb = static_cast<double>(ru.ru_maxrss) / 1024.0;
  m.ok = WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
  return m;
}

// In this (forked) process: a log, an idle pipeline and the Snapshotter.
Measure CopyHere(testing::MariaDb& db, const std::string& table, const std::string& dir,
                 size_t chunk) {
  CommitLogOptions o;
  o.path = dir;
  o.node_id = "bench";
  o.destination = "bench";
  o.min_free_bytes = 0;
  auto log = CommitLog::Open(o);
  Check(log.status(), "open the log");
  ingest::SnapshotGate gate;
  ingest::IngestStats stats;
  auto source = binlog::OpenBinlogSource({db.ReplUrl(), "latest", 7501});
  Check(source.status(), "open the source");
  ingest::IngestOptions io;
  io.include = {"bench\\..*"};
  io.gate = &gate;
  auto pipeline = ingest::Pipeline::Create(io, log->get(), &stats);
  Check(pipeline.status(), "pipeline");
  std::atomic<bool> stop{false};
  std::thread ingest([&] { (void)(*pipeline)->Run(source->get(), &stop); });
  snapshot::SnapshotOptions so;
  so.source = db.ReplUrl();
  so.chunk_rows = chunk;
  so.include = {"bench\\..*"};
  const std::string server = "127.0.0.1:" + std::to_string(db.port());
  so.ingest_server = [server] { return server; };
  snapshot::Snapshotter snap(so, log->get(), &gate);
  snap.Start();
  Measure m;
  rusage before{};
  ::getrusage(RUSAGE_SELF, &before);
  const auto t0 = Clock::now();
  auto id = snap.Request({"bench." + table});
  Check(id.status(), "request");
  for (int i = 0; i < 600 * 100; ++i) {
    bool done = false;
    for (const auto& j : snap.progress()) {
      if (j.id != *id) continue;
      if (!j.error.empty()) {
        std::fprintf(stderr, "snapshot_bench: refused: %s\n", j.error.c_str());
        std::exit(1);
      }
      done = j.done;
      if (done && !j.tables.empty()) m.rows = j.tables[0].rows;
    }
    if (done) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  m.wall = std::chrono::duration<double>(Clock::now() - t0).count();
  rusage after{};
  ::getrusage(RUSAGE_SELF, &after);
  m.cpu = CpuSeconds(after) - CpuSeconds(before);
  m.rss_mb = static_cast<double>(after.ru_maxrss) / 1024.0;
  m.ok = m.rows > 0;
  snap.Stop();
  stop.store(true);
  (*source)->Cancel();
  ingest.join();
  return m;
}

// CopyHere in a child process; its figures come back through a pipe.
Measure Copy(testing::MariaDb& db, const std::string& table, const std::string& dir, size_t chunk) {
  int fds[2];
  if (::pipe(fds) != 0) return {};
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    Measure m = CopyHere(db, table, dir, chunk);
    (void)!::write(fds[1], &m, sizeof m);
    ::_exit(0);
  }
  ::close(fds[1]);
  const double server0 = ServerCpu(db);
  Measure m;
  if (::read(fds[0], &m, sizeof m) != static_cast<ssize_t>(sizeof m)) m = {};
  ::close(fds[0]);
  int ws = 0;
  ::waitpid(pid, &ws, 0);
  m.server_cpu = ServerCpu(db) - server0;  // (includes the child's set-up: a few ms)
  return m;
}

void Fill(testing::MariaDb& db, const std::string& table, size_t rows) {
  Check(db.Execute("USE bench; CREATE TABLE " + table +
                   " (id INT PRIMARY KEY, a VARCHAR(32), b INT, c DATETIME); INSERT INTO " + table +
                   " SELECT seq, CONCAT('row-', seq), seq % 1000, '2025-01-01' + INTERVAL seq "
                   "SECOND FROM seq_1_to_" +
                   std::to_string(rows)),
        "fill the table");
}

double DataMb(testing::MariaDb& db, const std::string& table) {
  (void)db.Query("ANALYZE TABLE bench." + table);
  auto rows = db.Query(
      "SELECT DATA_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
      "'bench' AND TABLE_NAME = '" +
      table + "'");
  if (!rows.ok() || rows->empty() || !(*rows)[0][0]) return 0;
  return std::stod(*(*rows)[0][0]) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  size_t rows = 2000000, small = 200000, chunk = 10000;
  int runs = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const auto v = std::strtoull(argv[i + 1], nullptr, 10);
    if (flag == "--rows") rows = v;
    if (flag == "--small") small = v;
    if (flag == "--runs") runs = static_cast<int>(v);
    if (flag == "--chunk") chunk = v;
  }
  auto db = testing::MariaDb::Start();
  Check(db.status(), "start MariaDB");
  Check((*db)->Execute("CREATE DATABASE bench"), "create database");
  Fill(**db, "t", rows);
  Fill(**db, "small", small);
  const double mb = DataMb(**db, "t");
  testing::TempDir dir;
  Measure best_dump, best_copy;
  for (int r = 0; r < runs; ++r) {
    Measure d = Dump(**db, "t");
    if (d.ok && (!best_dump.ok || d.wall < best_dump.wall)) best_dump = d;
    Measure c = Copy(**db, "t", dir.Sub("log-" + std::to_string(r)), chunk);
    if (c.ok && (!best_copy.ok || c.wall < best_copy.wall)) best_copy = c;
    std::error_code ec;
    std::filesystem::remove_all(dir.Sub("log-" + std::to_string(r)), ec);
  }
  Measure small_copy = Copy(**db, "small", dir.Sub("log-small"), chunk);
  if (!best_dump.ok || !best_copy.ok || !small_copy.ok) {
    std::fprintf(stderr, "snapshot_bench: a run failed\n");
    return 1;
  }
  std::printf(
      "snapshot_bench: %zu rows of (id INT PRIMARY KEY, a VARCHAR(32), b INT, c DATETIME), "
      "%.0f MB of data, chunks of %zu rows, best of %d\n",
      rows, mb, chunk, runs);
  std::printf("%-22s %12s %8s %8s %14s %8s %12s\n", "", "rows/s", "MB/s", "CPU s", "server CPU s",
              "wall s", "peak RSS MB");
  auto line = [&](const char* name, const Measure& m, size_t n) {
    std::printf("%-22s %12.0f %8.1f %8.2f %14.2f %8.2f %12.0f\n", name,
                static_cast<double>(n) / m.wall, mb / m.wall, m.cpu, m.server_cpu, m.wall,
                m.rss_mb);
  };
  line("mariadb-dump", best_dump, rows);
  line("sluice snapshot", best_copy, rows);
  std::printf("%-22s %12.2f   (goal >= 0.70)\n", "sluice / mariadb-dump",
              best_dump.wall / best_copy.wall);
  std::printf(
      "sluice snapshot of %zu rows: peak RSS %.0f MB (%zu rows: %.0f MB); rows in the log: "
      "%llu and %llu\n",
      small, small_copy.rss_mb, rows, best_copy.rss_mb,
      static_cast<unsigned long long>(small_copy.rows),
      static_cast<unsigned long long>(best_copy.rows));
  return 0;
}
