// apply_bench: `sluice apply` next to the server's own replay of the same
// binlog, in the same run. The workload is decode_bench's (bench/workload.h:
// inserts, updates with before and after images, deletes on a 10-column
// table, in transactions of 5,000 rows), written on a throwaway MariaDB.
// Then, each into a fresh throwaway MariaDB target with the same settings:
//
//   replay        `mariadb-binlog FILES | mariadb`: the server applies its
//                 own row events (BINLOG statements), timed from spawn to exit
//   sluice apply  a sluiced child has read the binlog into its log first
//                 (not timed); `sluice apply` is timed from spawn until the
//                 target's sluice_apply.offsets row holds the high watermark
//
// Every target is checked against the source with CHECKSUM TABLE. The two
// alternate, R runs each, and the table shows each one's fastest run.
//
//   apply_bench [--rows N] [--runs R]
//     --rows N   N row inserts; about 2N row changes (default 150000)
//     --runs R   runs of each (default 3)
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/workload.h"
#include "client/consumer.h"
#include "tests/support/mariadb_fixture.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using namespace sluice;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

void Check(const Status& st, const char* what) {
  if (!st.ok()) {
    std::fprintf(stderr, "apply_bench: %s: %s\n", what, st.ToString().c_str());
    std::exit(1);
  }
}

std::string ReadFile(const std::string& path) {
  std::stringstream ss;
  ss << std::ifstream(path).rdbuf();
  return ss.str();
}

// A child with stdout and stderr appended to `out`; killed by its pid.
pid_t Spawn(std::vector<std::string> args, const std::string& out) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  if (posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

int WaitExit(pid_t pid) {
  int ws = 0;
  ::waitpid(pid, &ws, 0);
  return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

void Stop(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 500; ++i) {
    int ws = 0;
    if (::waitpid(pid, &ws, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  WaitExit(pid);
}

std::string Checksum(testing::MariaDb& m) {
  auto rows = m.Query("CHECKSUM TABLE bench.t");
  Check(rows.status(), "checksum");
  return rows->empty() || !(*rows)[0][1] ? "?" : *(*rows)[0][1];
}

// The port a sluiced log line "consumer server on ... (port N)" names.
int ListenPort(const std::string& log) {
  for (int i = 0; i < 3000; ++i) {
    const std::string text = ReadFile(log);
    size_t at = text.find("consumer server on ");
    if (at != std::string::npos) at = text.find("(port ", at);
    if (at != std::string::npos) return std::atoi(text.c_str() + at + 6);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return 0;
}

// `mariadb-binlog FILES | mariadb` into a fresh server: seconds from spawn
// to exit (0 on failure); *sum: the table's CHECKSUM afterwards.
double TimeReplay(const std::vector<std::string>& files, const testing::TempDir& dir,
                  std::string* sum) {
  auto db = testing::MariaDb::Start();
  Check(db.status(), "start the replay target");
  std::string cmd = "mariadb-binlog --no-defaults";
  for (const auto& f : files) cmd += " '" + f + "'";
  cmd += " | mariadb --no-defaults -h 127.0.0.1 -P " + std::to_string((*db)->port()) + " -u root";
  const auto t0 = Clock::now();
  pid_t replay = Spawn({"bash", "-o", "pipefail", "-c", cmd}, dir.Sub("replay.log"));
  if (replay < 0 || WaitExit(replay) != 0) {
    std::fprintf(stderr, "apply_bench: the replay failed:\n%s\n",
                 ReadFile(dir.Sub("replay.log")).c_str());
    return 0;
  }
  const double s = Seconds(t0);
  *sum = Checksum(**db);
  return s;
}

// `sluice apply` into a fresh server: seconds from spawn until the target
// stores offset `hw` (0 on failure); *sum: the table's CHECKSUM afterwards.
double TimeApply(int port, uint64_t hw, const testing::TempDir& dir, int run, std::string* sum) {
  auto db = testing::MariaDb::Start();
  Check(db.status(), "start the apply target");
  testing::MariaDb& target = **db;
  // The workload's CREATE DATABASE names no table: --include leaves it out.
  Check(target.Execute("CREATE DATABASE bench"), "create bench");
  std::vector<std::string> args = {
      SLUICE_BIN,        "apply",
      "--broker",        "127.0.0.1:" + std::to_string(port),
      "--dest",          "bench",
      "--group",         "bench-" + std::to_string(run),
      "--user",          "bench",
      "--password-file", dir.Sub("pw"),
      "--target",        "mysql://root:@127.0.0.1:" + std::to_string(target.port()),
      "--include",       "bench\\.t"};
  if (const char* perf = getenv("APPLY_BENCH_PERF")) {  // a perf.data path: profile apply
    args.insert(args.begin(),
                {"perf", "record", "--call-graph", "dwarf,16384", "-F", "500", "-o", perf, "--"});
  }
  const std::string log = dir.Sub("apply-" + std::to_string(run) + ".log");
  const auto t0 = Clock::now();
  pid_t apply = Spawn(args, log);
  double s = 0;
  for (int i = 0; i < 60000 && s == 0; ++i) {
    auto r = target.Query("SELECT next_offset FROM sluice_apply.offsets");
    if (r.ok() && !r->empty() && (*r)[0][0] && std::stoull(*(*r)[0][0]) >= hw) s = Seconds(t0);
    int ws = 0;
    if (s == 0 && ::waitpid(apply, &ws, WNOHANG) == apply) {
      std::fprintf(stderr, "apply_bench: sluice apply exited:\n%s\n", ReadFile(log).c_str());
      return 0;
    }
    if (s == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Stop(apply);
  // APPLY_BENCH_TRACE: apply's own stop line (where its time went).
  if (getenv("APPLY_BENCH_TRACE")) std::fprintf(stderr, "%s", ReadFile(log).c_str());
  *sum = Checksum(target);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  int rows = 150000;
  int runs = 3;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--rows") == 0 && i + 1 < argc) {
      rows = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: apply_bench [--rows N] [--runs R]\n");
      return 2;
    }
  }
  const int changes = bench::WorkloadRowChanges(rows);
  std::printf("starting MariaDB and writing the workload (%d row changes)...\n", changes);
  auto src = testing::MariaDb::Start();
  Check(src.status(), "start the source");
  testing::MariaDb& source = **src;
  // The workload in binlog files of its own: the fixture's setup stays behind.
  Check(source.Execute("FLUSH BINARY LOGS"), "flush");
  auto before = source.BinlogFiles();
  Check(before.status(), "binlog files");
  const std::string first = std::filesystem::path(before->back()).filename().string();
  Check(bench::WriteWorkload(source, rows), "workload");
  Check(source.Execute("FLUSH BINARY LOGS"), "flush");
  auto all = source.BinlogFiles();
  Check(all.status(), "binlog files");
  std::vector<std::string> files(all->begin() + static_cast<long>(before->size()) - 1,
                                 all->end() - 1);
  const std::string want = Checksum(source);
  testing::TempDir dir;

  // sluiced reads the workload's files into its log (not timed).
  std::printf("sluiced reads the binlog...\n");
  std::ofstream(dir.Sub("pw")) << "benchpw\n";
  {
    std::ofstream conf(dir.Sub("sluiced.toml"));
    conf << "[node]\nid = \"b\"\ndata_dir = \"" << dir.Sub("data") << "\"\n\n"
         << "[server]\nlisten = \"127.0.0.1:0\"\n\n[[user]]\nname = \"bench\"\npassword_file = \""
         << dir.Sub("pw") << "\"\n\n[[destination]]\nname = \"bench\"\nsource = \""
         << source.ReplUrl() << "\"\nserver_id = 4343\nstart = \"" << first
         << ":4\"\ninclude = ['bench\\..*']\n";
  }
  pid_t sluiced = Spawn({SLUICED_BIN, "--config", dir.Sub("sluiced.toml")}, dir.Sub("sluiced.log"));
  const int port = ListenPort(dir.Sub("sluiced.log"));
  if (port == 0) {
    std::fprintf(stderr, "apply_bench: sluiced did not listen:\n%s\n",
                 ReadFile(dir.Sub("sluiced.log")).c_str());
    Stop(sluiced);
    return 1;
  }
  ConsumerOptions co;
  co.brokers = {"127.0.0.1:" + std::to_string(port)};
  co.user = "bench";
  co.password = "benchpw";
  auto consumer = Consumer::Open(co);
  Check(consumer.status(), "consumer");
  // Read when the log holds every row change and its high watermark
  // stands still for a second.
  uint64_t hw = 0;
  int still = 0;
  for (int i = 0; i < 3000 && still < 10; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto st = (*consumer)->GetStatus();
    if (!st.ok() || st->destinations_size() != 1) continue;
    const uint64_t now = st->destinations(0).high_watermark();
    still = now == hw && now >= static_cast<uint64_t>(changes) ? still + 1 : 0;
    hw = now;
  }
  if (still < 10) {
    std::fprintf(stderr, "apply_bench: sluiced did not read the binlog\n");
    Stop(sluiced);
    return 1;
  }

  // Runs alternate (replay, apply, replay, ...), each into a fresh server;
  // the table keeps each one's fastest run.
  double replay_s = 1e9, apply_s = 1e9;
  bool sums_ok = true;
  for (int run = 0; run < runs; ++run) {
    std::printf("run %d of %d: mariadb-binlog | mariadb, then sluice apply (%llu records)...\n",
                run + 1, runs, static_cast<unsigned long long>(hw));
    std::string sum;
    const double r = TimeReplay(files, dir, &sum);
    sums_ok = sums_ok && sum == want;
    const double a = TimeApply(port, hw, dir, run, &sum);
    sums_ok = sums_ok && sum == want;
    if (r <= 0 || a <= 0) {
      Stop(sluiced);
      return 1;
    }
    replay_s = std::min(replay_s, r);
    apply_s = std::min(apply_s, a);
  }
  Stop(sluiced);

  std::printf(
      "\nworkload: %d row changes in %zu binlog file(s), bench.t (10 columns); "
      "fastest of %d runs\n\n",
      changes, files.size(), runs);
  std::printf("| applier | seconds | rows/s | vs replay |\n");
  std::printf("|---|---|---|---|\n");
  std::printf("| sluice apply | %.2f | %.0fk | %.2fx |\n", apply_s, changes / apply_s / 1e3,
              replay_s / apply_s);
  std::printf("| mariadb-binlog FILES \\| mariadb | %.2f | %.0fk | 1.00x |\n", replay_s,
              changes / replay_s / 1e3);
  std::printf("\nCHECKSUM TABLE of every target = the source's: %s\n", sums_ok ? "yes" : "NO");
  return sums_ok ? 0 : 1;
}
