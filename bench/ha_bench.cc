// ha_bench: replication primary -> standby on loopback, with the machine's
// own limits measured in the same run.
//
//   catch-up      a primary log of --records records (~200 bytes, 1000 per
//                 transaction) written first; then HaPrimary and HaStandby
//                 start and the standby copies it from offset 0: records/s
//                 and MB/s of log bytes until its durable offset is the
//                 primary's end. Baseline: iperf3's TCP bandwidth on
//                 127.0.0.1 (3 s), measured in the same run.
//   async lag     the primary commits 100-record transactions for 5 s while
//                 the standby follows: at --ingest-rate records/s (the
//                 fastest end-to-end ingest from MariaDB measured on this
//                 machine, 500k) and as fast as the commit log takes them;
//                 for each primary commit sampled every 5 ms, how long
//                 until the standby reported it durable (p50, p99, max).
//   sync latency  sync mode: one 1-record transaction at a time, from
//                 CommitTransaction until the standby's report releases it
//                 (the high watermark reaches it), --commits times (p50,
//                 p99). Baseline: write 4 KiB + fdatasync on the same
//                 filesystem, as many times.
//   failover      measured by tests/integration/ha_pair_test (processes,
//                 MariaDB, scripts/failover.sh); see docs/performance.md.
//
//   ha_bench [--records N] [--commits N] [--ingest-rate R]
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "ha/primary.h"
#include "ha/standby.h"
#include "proto/auth.h"
#include "storage/commit_log.h"

namespace {

using namespace sluice;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "ha_bench: %s\n", what.c_str());
  std::exit(1);
}

double Pct(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5))];
}

std::unique_ptr<CommitLog> OpenLog(const std::string& path, const std::string& node) {
  CommitLogOptions o;
  o.path = path;
  o.node_id = node;
  o.destination = "shop";
  auto log = CommitLog::Open(o);
  if (!log.ok()) Die(log.status().ToString());
  return std::move(*log);
}

// `n` records of ~200 bytes.
struct Payload {
  std::vector<std::string> recs;
  std::vector<std::string_view> views;
  explicit Payload(size_t n) {
    for (size_t i = 0; i < n; ++i) {
      std::string r = "{\"op\":\"insert\",\"db\":\"shop\",\"table\":\"orders\",\"after\":{\"id\":" +
                      std::to_string(i) + ",\"status\":\"placed\"}}";
      r.resize(200, 'x');
      recs.push_back(std::move(r));
    }
    views.assign(recs.begin(), recs.end());
  }
};

proto::SourceCheckpoint Cp(uint64_t i) {
  proto::SourceCheckpoint cp;
  cp.set_file("binlog.000001");
  cp.set_pos(4 + i);
  return cp;
}

ha::HaOptions Options() {
  ha::HaOptions o;
  o.secret_key = auth::PasswordKey("bench");
  o.listen = "127.0.0.1:0";
  o.heartbeat_ms = 100;
  return o;
}

struct Pair {
  std::unique_ptr<ha::HaPrimary> primary;
  std::unique_ptr<ha::HaStandby> standby;
  void Start(const ha::HaOptions& o, CommitLog* p, CommitLog* s) {
    ha::HaOptions po = o;
    po.node_id = "a";
    auto started = ha::HaPrimary::Start(po, {{"shop", p}}, nullptr);
    if (!started.ok()) Die(started.status().ToString());
    primary = std::move(*started);
    ha::HaOptions so = o;
    so.node_id = "b";
    so.primary = "127.0.0.1:" + std::to_string(primary->port());
    standby = std::make_unique<ha::HaStandby>(so, std::vector<ha::HaDestination>{{"shop", s}});
    if (auto st = standby->Start(); !st.ok()) Die(st.ToString());
  }
  ~Pair() {
    standby.reset();
    primary.reset();
  }
};

// iperf3 on 127.0.0.1 for 3 s: bytes/s; 0 when iperf3 is not installed.
double IperfBytesPerSecond() {
  if (std::system("command -v iperf3 >/dev/null 2>&1") != 0) return 0;
  const int port = 20000 + (::getpid() % 20000);
  pid_t server = ::fork();
  if (server == 0) {
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execlp("iperf3", "iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", std::to_string(port).c_str(),
             nullptr);
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const std::string cmd = "iperf3 -c 127.0.0.1 -p " + std::to_string(port) +
                          " -t 3 -J 2>/dev/null | grep -A8 '\"sum_received\"' | "
                          "grep bits_per_second | head -1";
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[256] = {0};
  if (p) {
    if (!std::fgets(buf, sizeof buf, p)) buf[0] = 0;
    ::pclose(p);
  }
  ::kill(server, SIGKILL);
  ::waitpid(server, nullptr, 0);
  const char* colon = std::strchr(buf, ':');
  return colon ? std::atof(colon + 1) / 8 : 0;
}

void CatchUp(const std::string& dir, size_t records) {
  auto p = OpenLog(dir + "/catchup-a", "a");
  auto s = OpenLog(dir + "/catchup-b", "b");
  Payload pay(1000);
  for (size_t i = 0; i < records / 1000; ++i) {
    if (!p->CommitTransaction(pay.views, Cp(i)).ok()) Die("commit");
  }
  if (!p->Sync().ok()) Die("sync");
  const uint64_t end = p->CommittedEnd().value();
  const double mb = p->EndBytes() / 1e6;
  const double net = IperfBytesPerSecond();
  const auto t0 = Clock::now();
  {
    Pair pair;
    pair.Start(Options(), p.get(), s.get());
    while (s->DurableOffset().value() < end)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const double secs = Seconds(Clock::now() - t0);
  std::printf("\n## catch-up from offset 0 (%llu records, %.0f MB of log)\n\n",
              static_cast<unsigned long long>(end), mb);
  std::printf("| what | records/s | MB/s | vs iperf3 |\n|---|---|---|---|\n");
  std::printf("| sluice replication, standby durable | %.2fM | %.0f | %.2fx |\n", end / secs / 1e6,
              mb / secs, net > 0 ? (mb * 1e6 / secs) / net : 0.0);
  if (net > 0) {
    std::printf("| iperf3 TCP on 127.0.0.1 (same run) | - | %.0f | 1.00x |\n", net / 1e6);
  } else {
    std::printf("| iperf3 TCP on 127.0.0.1 | not installed (apt-get install iperf3) | | |\n");
  }
  std::printf("\ngoal: catch-up >= 1M records/s: %s\n", end / secs >= 1e6 ? "met" : "NOT met");
}

// `rate`: records/s the primary commits (0: as fast as it can).
double AsyncLag(const std::string& dir, double rate, const char* what) {
  const std::string sub = dir + "/lag-" + std::to_string(static_cast<long>(rate));
  auto p = OpenLog(sub + "-a", "a");
  auto s = OpenLog(sub + "-b", "b");
  Pair pair;
  pair.Start(Options(), p.get(), s.get());
  Payload pay(100);
  std::atomic<bool> stop{false};
  struct Mark {
    Clock::time_point t;
    uint64_t offset;
  };
  std::vector<Mark> primary_marks, standby_marks;
  std::thread sampler([&] {
    while (!stop.load()) {
      const auto now = Clock::now();
      primary_marks.push_back({now, p->CommittedEnd().value()});
      standby_marks.push_back({now, s->DurableOffset().value()});
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  const auto t0 = Clock::now();
  uint64_t i = 0;
  while (Clock::now() - t0 < std::chrono::seconds(5)) {
    if (!p->CommitTransaction(pay.views, Cp(i++)).ok()) Die("commit");
    if (rate > 0) {  // pace: transaction i is due at i * 100 / rate seconds
      std::this_thread::sleep_until(t0 + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(i * 100.0 / rate)));
    }
  }
  const double load_secs = Seconds(Clock::now() - t0);
  const uint64_t end = p->CommittedEnd().value();
  while (s->DurableOffset().value() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  stop.store(true);
  sampler.join();
  std::vector<double> lag;
  size_t j = 0;
  for (const auto& m : primary_marks) {
    while (j < standby_marks.size() && standby_marks[j].offset < m.offset) ++j;
    if (j == standby_marks.size()) break;
    lag.push_back(std::max(0.0, Seconds(standby_marks[j].t - m.t)));
  }
  std::printf("| %s | %.2fM | %.1f | %.1f | %.1f |\n", what, end / load_secs / 1e6,
              Pct(lag, 0.5) * 1e3, Pct(lag, 0.99) * 1e3, Pct(lag, 1.0) * 1e3);
  return Pct(lag, 1.0);
}

void SyncLatency(const std::string& dir, int commits) {
  std::vector<double> fsync;
  {
    const std::string path = dir + "/fdatasync.bin";
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) Die("open " + path);
    std::string block(4096, 'x');
    for (int i = 0; i < commits; ++i) {
      const auto t = Clock::now();
      if (::write(fd, block.data(), block.size()) != 4096 || ::fdatasync(fd) != 0) Die("fdatasync");
      fsync.push_back(Seconds(Clock::now() - t));
    }
    ::close(fd);
  }
  auto p = OpenLog(dir + "/sync-a", "a");
  auto s = OpenLog(dir + "/sync-b", "b");
  ha::HaOptions o = Options();
  o.sync = true;
  o.sync_timeout_ms = 10000;
  o.degrade_on_timeout = false;
  Pair pair;
  pair.Start(o, p.get(), s.get());
  Payload one(1);
  std::vector<double> lat;
  for (int i = 0; i < commits; ++i) {
    const auto t = Clock::now();
    auto range = p->CommitTransaction(one.views, Cp(i));
    if (!range.ok()) Die("commit");
    uint64_t seen = p->ChangeCount();
    while (p->HighWatermark() < range->end)
      seen = p->WaitForChange(seen, std::chrono::milliseconds(100));
    lat.push_back(Seconds(Clock::now() - t));
  }
  const double f99 = Pct(fsync, 0.99);
  std::printf("\n## sync mode commit latency (%d one-record transactions, one at a time)\n\n",
              commits);
  std::printf("| what | p50 ms | p99 ms |\n|---|---|---|\n");
  std::printf("| commit until the standby's report releases it | %.2f | %.2f |\n",
              Pct(lat, 0.5) * 1e3, Pct(lat, 0.99) * 1e3);
  std::printf("| local write 4 KiB + fdatasync (same run, same disk) | %.2f | %.2f |\n",
              Pct(fsync, 0.5) * 1e3, f99 * 1e3);
  std::printf("\ngoal: sync p99 <= 2 x fdatasync p99 + 1 ms (%.2f ms): %s\n",
              (2 * f99 + 0.001) * 1e3, Pct(lat, 0.99) <= 2 * f99 + 0.001 ? "met" : "NOT met");
}

}  // namespace

int main(int argc, char** argv) {
  size_t records = 2000000;
  int commits = 2000;
  // The fastest end-to-end ingest measured here (docs/performance.md,
  // ingest_bench: 365-490k rows/s), rounded up.
  double ingest_rate = 500000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--records") == 0) records = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--commits") == 0) commits = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--ingest-rate") == 0) ingest_rate = std::atof(argv[i + 1]);
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = std::string(tmp ? tmp : "/tmp") + "/ha_bench_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::printf("# ha_bench: replication on 127.0.0.1 (%u cores)\n",
              std::thread::hardware_concurrency());
  CatchUp(dir, records);
  std::printf(
      "\n## standby lag, async mode, 5 s of 100-record transactions\n\n"
      "| primary commits | records/s | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|\n");
  const double at_ingest =
      AsyncLag(dir, ingest_rate, "at sluiced's end-to-end ingest rate (--ingest-rate)");
  AsyncLag(dir, 0, "as fast as the commit log takes them (no source)");
  std::printf(
      "\ngoal: standby lag under 1 s while the primary ingests at full speed (%.0fk records/s): "
      "%s\n",
      ingest_rate / 1e3, at_ingest < 1.0 ? "met" : "NOT met");
  SyncLatency(dir, commits);
  std::filesystem::remove_all(dir);
  return 0;
}
