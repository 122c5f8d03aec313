// ingest_bench: end-to-end ingest over the replication protocol. Writes
// decode_bench's workload into a throwaway MariaDB (inserts, updates with
// before and after images, deletes on a 10-column table mixing BIGINT, INT,
// ENUM, DECIMAL, DOUBLE, VARCHAR, DATETIME(6), TIMESTAMP(3), TEXT holding
// JSON and BIT), then times, one after the other, readers of the whole
// binlog from its first event:
//
//   sluice in-process  Pipeline + MysqlSource from "earliest" into a fresh
//                      CommitLog (parse_threads 2); from opening the source
//                      (the dump starts there) until the log's checkpoint is
//                      the server's end position. CPU: getrusage(SELF)
//                      delta; peak RSS: VmHWM, reset before the run.
//   sluiced            the real daemon as a child (fork/exec, a config and a
//                      fresh data dir in a temp dir); from exec to its last
//                      write to the RocksDB WAL (inotify), taken once the
//                      server says it has sent all binlog and the WAL has
//                      been quiet for 300 ms; then SIGTERM, and the daemon's
//                      "stopped at offset X, checkpoint F:P" line must name
//                      the expected record count and the end position.
//                      CPU and peak RSS: its rusage (whole lifetime, the
//                      shutdown included). A second row starts the clock
//                      when its log says the commit log is open ("log at",
//                      millisecond timestamps): connecting, the dump and
//                      ingest, without the process's start.
//   zongji             @vlasky/zongji on Node.js (bench/ingest_peer), which
//                      decodes the rows events and stores nothing; from spawn
//                      to exit (it exits at the expected row count), and by
//                      its own clock (script start to the last row, without
//                      Node.js's start: the goals use this, the stricter).
//                      npm ci
//                      installs it first when node_modules is missing.
//                      CPU and peak RSS: its rusage.
//   mariadb-binlog     --read-from-remote-server --raw --to-last-log: the
//                      server's raw streaming rate into files, the ceiling.
//
//   ingest_bench [--rows N] [--runs R]
//     --rows N   N row inserts; 2N row changes in all (default 150000)
//     --runs R   time every reader R times, keep each one's fastest (default 1)
//     --ring-size S   the parse ring's slots, in-process and sluiced (default:
//                     the pipeline's default)
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/workload.h"
#include "broker/binlog/source_factory.h"
#include "broker/ingest/pipeline.h"
#include "storage/commit_log.h"
#include "tests/support/mariadb_fixture.h"
#include "tests/support/temp_dir.h"

#ifndef SLUICED_BIN
#error "SLUICED_BIN must name the sluiced binary (bench/CMakeLists.txt)"
#endif
#ifndef SLUICE_PEER_DIR
#error "SLUICE_PEER_DIR must name bench/ingest_peer (bench/CMakeLists.txt)"
#endif

namespace {

using Clock = std::chrono::steady_clock;
using namespace sluice;

constexpr auto kReaderTimeout = std::chrono::seconds(600);
size_t g_ring_size = 0;  // --ring-size; 0: the default
constexpr auto kQuietWal = std::chrono::milliseconds(300);

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "ingest_bench: %s\n", why.c_str());
  std::exit(1);
}

void Check(const Status& st, const char* what) {
  if (!st.ok()) Die(std::string(what) + ": " + st.ToString());
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Tail(const std::string& s, size_t max = 2000) {
  return s.size() > max ? "..." + s.substr(s.size() - max) : s;
}

double Tv(const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; }

// One reader's figures.
struct Figure {
  double seconds = 0;
  double cpu = 0;   // user + system
  double sys = 0;   // of which system
  long minflt = 0;  // minor page faults
  double rss_mb = 0;
  std::string note;    // why it is missing or what differs; empty when fine
  std::string waits;   // in-process: IngestStats::wait_ns by part
  double startup = 0;  // sluiced: exec to its commit log being open
  double own = 0;      // zongji: its own clock, from its script's first line to the last row
  bool ok() const { return seconds > 0; }
  void SetUsage(const rusage& ru) {
    sys = Tv(ru.ru_stime);
    cpu = Tv(ru.ru_utime) + sys;
    minflt = ru.ru_minflt;
    rss_mb = ru.ru_maxrss / 1024.0;
  }
};

// What the workload left on the server.
struct Workload {
  std::string first_file;      // where every reader starts (position 4)
  binlog::BinlogPosition end;  // SHOW MASTER STATUS after the workload
  uint64_t binlog_bytes = 0;
  size_t files = 0;
  uint64_t rows = 0;     // row changes (from the in-process run)
  uint64_t records = 0;  // rows + DDL records (from the in-process run)
};

// ---- child processes -------------------------------------------------------
//
// Every timed child is forked by a launcher process that main() forks first,
// while the bench is small: Linux starts a forked child's peak RSS
// (ru_maxrss) at its parent's RSS and exec keeps the larger value, so a
// child forked by the bench after an in-process run would report the
// bench's peak. The launcher runs one child at a time over a SOCK_SEQPACKET
// pair: it receives "cwd\0out\0argv0\0argv1...", forks and execs, answers
// the pid, reaps the child (wait4) and answers an ExitMsg. Children die
// with the launcher and the launcher with the bench (PR_SET_PDEATHSIG).

struct ExitMsg {
  int wstatus;
  rusage ru;
  int64_t at_ns;  // steady_clock (CLOCK_MONOTONIC: one clock for all processes)
};

struct ChildExit {
  bool in_time = false;  // exited by itself before the deadline
  int wstatus = 0;
  rusage ru{};
  Clock::time_point at;
  bool ok() const { return in_time && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0; }
};

class Launcher {
 public:
  static std::unique_ptr<Launcher> Start() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) Die("socketpair");
    const pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) Die("fork: " + std::string(std::strerror(errno)));
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) _exit(126);
      ::close(sv[0]);
      Serve(sv[1]);
    }
    ::close(sv[1]);
    return std::unique_ptr<Launcher>(new Launcher(sv[0], pid));
  }
  ~Launcher() {
    ::close(fd_);  // the launcher reads EOF and exits
    int st;
    ::waitpid(pid_, &st, 0);
  }
  Launcher(const Launcher&) = delete;
  Launcher& operator=(const Launcher&) = delete;

  // Starts `argv` (PATH is searched) with stdout and stderr to `out`, in
  // `cwd` when given. REQUIRES: the previous child was Wait()ed for.
  pid_t Spawn(const std::vector<std::string>& argv, const std::string& out,
              const std::string& cwd = "") {
    std::string req = cwd + '\0' + out + '\0';
    for (const auto& a : argv) req += a + '\0';
    if (::send(fd_, req.data(), req.size(), 0) != static_cast<ssize_t>(req.size())) {
      Die("launcher: send");
    }
    pid_t pid = -1;
    if (!Recv(&pid, sizeof pid, Clock::now() + std::chrono::seconds(10)) || pid < 0) {
      Die("launcher: cannot fork " + argv[0]);
    }
    return pid;
  }

  // Readable once the running child has exited.
  int fd() const { return fd_; }

  // Reaps the running child. Past `deadline` it gets SIGTERM, 10 s later
  // SIGKILL, and in_time is false.
  ChildExit Wait(pid_t pid, Clock::time_point deadline) {
    ChildExit e;
    ExitMsg m{};
    e.in_time = Recv(&m, sizeof m, deadline);
    if (!e.in_time) {
      ::kill(pid, SIGTERM);
      if (!Recv(&m, sizeof m, Clock::now() + std::chrono::seconds(10))) {
        ::kill(pid, SIGKILL);
        if (!Recv(&m, sizeof m, Clock::now() + std::chrono::seconds(10))) Die("launcher: stuck");
      }
    }
    e.wstatus = m.wstatus;
    e.ru = m.ru;
    e.at = Clock::time_point(std::chrono::nanoseconds(m.at_ns));
    return e;
  }

 private:
  Launcher(int fd, pid_t pid) : fd_(fd), pid_(pid) {}

  bool Recv(void* msg, size_t size, Clock::time_point deadline) {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      pollfd p{fd_, POLLIN, 0};
      int n = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
      if (n > 0) {
        if (::recv(fd_, msg, size, 0) != static_cast<ssize_t>(size)) Die("launcher: gone");
        return true;
      }
      if (n == 0) return false;
      if (errno != EINTR) Die("poll: " + std::string(std::strerror(errno)));
    }
  }

  [[noreturn]] static void Serve(int fd) {
    std::vector<char> buf(1 << 16);
    for (;;) {
      ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
      if (n <= 0) _exit(0);
      std::vector<std::string> parts;
      for (const char* p = buf.data(); p < buf.data() + n; p += parts.back().size() + 1) {
        parts.emplace_back(p);
      }
      std::vector<char*> args;
      for (size_t i = 2; i < parts.size(); ++i) args.push_back(parts[i].data());
      args.push_back(nullptr);
      const pid_t launcher = ::getpid();
      pid_t pid = ::fork();
      if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != launcher) _exit(126);
        int out = ::open(parts[1].c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out >= 0) {
          ::dup2(out, STDOUT_FILENO);
          ::dup2(out, STDERR_FILENO);
        }
        int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
        ::close_range(3, ~0U, 0);
        if (!parts[0].empty() && ::chdir(parts[0].c_str()) != 0) _exit(125);
        ::execvp(args[0], args.data());
        _exit(127);
      }
      if (::send(fd, &pid, sizeof pid, 0) != sizeof pid) _exit(1);
      if (pid < 0) continue;
      ExitMsg m{};
      while (::wait4(pid, &m.wstatus, 0, &m.ru) < 0 && errno == EINTR) {
      }
      m.at_ns =
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
              .count();
      if (::send(fd, &m, sizeof m, 0) != sizeof m) _exit(1);
    }
  }

  const int fd_;
  const pid_t pid_;
};

// ---- the server ------------------------------------------------------------

std::string One(testing::MariaDb& m, const std::string& sql) {
  auto rows = m.Query(sql);
  Check(rows.status(), sql.c_str());
  if (rows->empty() || rows->front().empty() || !rows->front()[0]) Die(sql + ": no value");
  return *rows->front()[0];
}

// Ends the binlog dump threads a previous reader left (the server notices a
// closed replica connection only when it next writes to it), so that
// "has sent all binlog" below is about the reader being timed.
void KillDumpThreads(testing::MariaDb& m) {
  const std::string dumps =
      "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'";
  auto deadline = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    auto rows = m.Query(dumps);
    Check(rows.status(), "list dump threads");
    if (rows->empty()) return;
    if (Clock::now() >= deadline) Die("binlog dump threads do not go away");
    for (const auto& r : *rows) (void)m.Execute("KILL CONNECTION " + r[0].value_or("0"));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool ServerSentAll(testing::MariaDb& m) {
  return One(m,
             "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND LIKE "
             "'Binlog Dump%' AND STATE LIKE '%has sent all binlog%'") != "0";
}

Workload RecordWorkload(int rows, testing::MariaDb& m) {
  std::printf("writing the workload (%d inserts, %d updates, %d deletes)...\n", rows, rows * 2 / 3,
              rows - rows * 2 / 3);
  std::fflush(stdout);
  Check(bench::WriteWorkload(m, rows), "workload");

  Workload w;
  auto status = m.Query("SHOW MASTER STATUS");
  Check(status.status(), "SHOW MASTER STATUS");
  if (status->empty() || !(*status)[0][0] || !(*status)[0][1]) Die("SHOW MASTER STATUS: empty");
  w.end.file = *(*status)[0][0];
  w.end.pos = std::stoull(*(*status)[0][1]);
  auto logs = m.Query("SHOW BINARY LOGS");
  Check(logs.status(), "SHOW BINARY LOGS");
  for (const auto& r : *logs) {
    if (w.first_file.empty()) w.first_file = r[0].value_or("");
    w.binlog_bytes += std::stoull(r[1].value_or("0"));
    ++w.files;
  }
  return w;
}

// ---- readers ---------------------------------------------------------------

// Resets the kernel's peak-RSS mark of this process (VmHWM); false when
// the kernel does not let us.
bool ResetPeakRss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return f.good();
}

// This process's VmHWM (peak RSS since the last reset), MB.
double VmHwmMb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

Figure RunInProcess(const std::string& url, uint32_t server_id, Workload* w) {
  testing::TempDir dir;
  CommitLogOptions lo;
  lo.path = dir.Sub("log");
  lo.node_id = "bench";
  lo.destination = "bench";
  auto log = CommitLog::Open(lo);
  Check(log.status(), "open the commit log");
  ingest::IngestStats stats;
  ingest::IngestOptions io;
  io.parse_threads = 2;
  if (g_ring_size != 0) io.ring_size = g_ring_size;
  auto pipeline = ingest::Pipeline::Create(io, log->get(), &stats);
  Check(pipeline.status(), "create the pipeline");

  Figure f;
  ::malloc_trim(0);  // give back what an earlier run freed: it is not this run's
  const bool hwm_reset = ResetPeakRss();
  rusage r0{}, r1{};
  ::getrusage(RUSAGE_SELF, &r0);
  const auto t0 = Clock::now();
  auto source = binlog::OpenBinlogSource({url, "earliest", server_id});
  Check(source.status(), "open the binlog source");

  std::atomic<bool> stop{false};
  std::atomic<bool> reached{false};
  Clock::time_point done_at;
  binlog::BinlogSource* src = source->get();
  CommitLog* cl = log->get();
  // Watches the checkpoint; it only moves when a transaction commits.
  std::thread watcher([&] {
    const auto deadline = t0 + kReaderTimeout;
    uint64_t seen = ~uint64_t{0};
    while (!stop.load()) {
      uint64_t txns = stats.transactions.load();
      if (txns != seen) {
        seen = txns;
        proto::SourceCheckpoint cp = cl->Checkpoint();
        if (cp.file() == w->end.file && cp.pos() >= w->end.pos) {
          done_at = Clock::now();
          reached.store(true);
          break;
        }
      }
      if (Clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    stop.store(true);
    src->Cancel();
  });
  Status st = (*pipeline)->Run(src, &stop);
  stop.store(true);
  src->Cancel();
  watcher.join();
  ::getrusage(RUSAGE_SELF, &r1);

  if (!reached.load()) {
    f.note = "did not reach the end position: " + st.ToString();
    return f;
  }
  if (!st.ok() && st.code() != Code::kAborted) Check(st, "pipeline");
  f.seconds = Seconds(done_at - t0);
  f.sys = Tv(r1.ru_stime) - Tv(r0.ru_stime);
  f.cpu = Tv(r1.ru_utime) - Tv(r0.ru_utime) + f.sys;
  f.minflt = r1.ru_minflt - r0.ru_minflt;
  f.rss_mb = hwm_reset ? VmHwmMb() : r1.ru_maxrss / 1024.0;
  for (int i = 0; i < ingest::IngestStats::kWaitParts; ++i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s%s %.3f", i ? ", " : "",
                  ingest::IngestStats::kWaitPartNames[i], stats.wait_ns[i].load() / 1e9);
    f.waits += buf;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "; inside CommitLog::CommitTransaction %.3f",
                stats.commit_ns_total.load() / 1e9);
  f.waits += buf;
  if (!hwm_reset) f.note = "peak RSS of the whole bench process";
  w->rows = stats.rows.load();
  w->records = stats.records_committed.load();
  if ((*log)->HighWatermark().value() != w->records) Die("high watermark != records committed");
  return f;
}

Figure RunSluiced(Launcher& launcher, testing::MariaDb& m, uint32_t server_id, const Workload& w,
                  double* exit_seconds) {
  testing::TempDir dir;
  const std::string data = dir.Sub("data");
  // Made here (an empty directory is a new log to RocksDB) so that its WAL
  // writes can be watched from the first one.
  std::filesystem::create_directories(data + "/bench");
  const std::string config = dir.Sub("sluiced.toml");
  {
    std::ofstream c(config);
    c << "[node]\nid = \"bench\"\ndata_dir = \"" << data << "\"\n\n"
      << "[[destination]]\nname = \"bench\"\nsource = \"" << m.ReplUrl() << "\"\n"
      << "server_id = " << server_id << "\nstart = \"earliest\"\nparse_threads = 2\n";
    if (g_ring_size != 0) c << "ring_size = " << g_ring_size << "\n";
  }
  int ifd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (ifd < 0 || ::inotify_add_watch(ifd, (data + "/bench").c_str(), IN_MODIFY) < 0) {
    Die("inotify: " + std::string(std::strerror(errno)));
  }
  const std::string out = dir.Sub("sluiced.log");
  const auto wall0 = std::chrono::system_clock::now();
  const auto t0 = Clock::now();
  pid_t pid = launcher.Spawn({SLUICED_BIN, "--config", config}, out);

  // The last write to a WAL file (*.log) is the last commit: with group
  // commit every CommitTransaction write()s the WAL; fsyncs, memtable
  // flushes (*.sst, MANIFEST) and new WAL files do not count.
  std::optional<Clock::time_point> last_write;
  bool exited = false;
  alignas(inotify_event) char buf[4096];
  while (Clock::now() < t0 + kReaderTimeout) {
    pollfd p[2] = {{ifd, POLLIN, 0}, {launcher.fd(), POLLIN, 0}};
    int n = ::poll(p, 2, 20);
    if (n > 0 && (p[0].revents & POLLIN)) {
      const auto now = Clock::now();
      ssize_t len;
      while ((len = ::read(ifd, buf, sizeof buf)) > 0) {
        for (char* q = buf; q < buf + len;) {
          auto* ev = reinterpret_cast<inotify_event*>(q);
          if (ev->len > 0 && std::string_view(ev->name).ends_with(".log")) last_write = now;
          q += sizeof(inotify_event) + ev->len;
        }
      }
    }
    if (n > 0 && (p[1].revents & POLLIN)) {
      exited = true;  // reaped below
      break;
    }
    if (last_write && Clock::now() - *last_write >= kQuietWal && ServerSentAll(m)) break;
  }
  ::close(ifd);
  if (!exited) ::kill(pid, SIGTERM);
  ChildExit e = launcher.Wait(pid, Clock::now() + std::chrono::seconds(60));
  const std::string log = ReadFile(out);
  Figure f;
  if (exited || !e.ok() || !last_write) {
    f.note = exited ? "exited early" : !last_write ? "timed out" : "did not stop cleanly";
    std::fprintf(stderr, "sluiced %s; its log:\n%s\n", f.note.c_str(), Tail(log).c_str());
    return f;
  }
  std::smatch sm;
  if (!std::regex_search(log, sm,
                         std::regex(R"(stopped at offset (\d+), checkpoint (\S+):(\d+))")) ||
      std::stoull(sm[1]) != w.records || sm[2] != w.end.file || std::stoull(sm[3]) != w.end.pos) {
    f.note = "stopped short of the end";
    std::fprintf(stderr, "sluiced: expected offset %llu, checkpoint %s; its log:\n%s\n",
                 static_cast<unsigned long long>(w.records), w.end.ToString().c_str(),
                 Tail(log).c_str());
    return f;
  }
  f.seconds = Seconds(*last_write - t0);
  f.SetUsage(e.ru);
  // Its log's clock (local time, milliseconds) says when the commit log
  // was open: what follows is connecting, the dump, and ingest.
  if (std::regex_search(log, sm,
                        std::regex(R"(\d (\d\d):(\d\d):(\d\d)\.(\d{3})\] \[info\] )"
                                   R"(destination bench: log at )"))) {
    const std::time_t tt = std::chrono::system_clock::to_time_t(wall0);
    std::tm tm{};
    ::localtime_r(&tt, &tm);
    const double ms0 = std::chrono::duration<double, std::milli>(wall0.time_since_epoch() %
                                                                 std::chrono::seconds(1))
                           .count();
    const double day0 = tm.tm_hour * 3600.0 + tm.tm_min * 60.0 + tm.tm_sec + ms0 / 1e3;
    const double day = std::stoi(sm[1]) * 3600.0 + std::stoi(sm[2]) * 60.0 + std::stoi(sm[3]) +
                       std::stoi(sm[4]) / 1e3;
    f.startup = std::fmod(day - day0 + 86400.0, 86400.0);
  }
  *exit_seconds = Seconds(e.at - t0);
  return f;
}

// Installs the peer's packages from its package-lock.json when missing.
bool EnsureZongji(Launcher& launcher, std::string* why) {
  const std::string peer = SLUICE_PEER_DIR;
  if (std::filesystem::exists(peer + "/node_modules/@vlasky/zongji/package.json")) return true;
  std::printf("installing @vlasky/zongji (npm ci in %s)...\n", peer.c_str());
  std::fflush(stdout);
  testing::TempDir dir;
  const std::string out = dir.Sub("npm.log");
  pid_t pid =
      launcher.Spawn({"npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"}, out, peer);
  if (!launcher.Wait(pid, Clock::now() + std::chrono::seconds(300)).ok()) {
    *why = "npm ci failed";
    std::fprintf(stderr, "npm ci in %s failed:\n%s\n", peer.c_str(), Tail(ReadFile(out)).c_str());
    return false;
  }
  return true;
}

Figure RunZongji(Launcher& launcher, const testing::MariaDb& m, uint32_t server_id,
                 const Workload& w) {
  Figure f;
  if (!EnsureZongji(launcher, &f.note)) return f;
  testing::TempDir dir;
  const std::string out = dir.Sub("zongji.out");
  const auto t0 = Clock::now();
  pid_t pid = launcher.Spawn(
      {"node", std::string(SLUICE_PEER_DIR) + "/zongji_count.js", m.host(),
       std::to_string(m.port()), testing::MariaDb::kReplUser, testing::MariaDb::kReplPassword,
       w.first_file, std::to_string(w.rows), w.end.file, std::to_string(w.end.pos),
       std::to_string(server_id), std::to_string(kReaderTimeout.count())},
      out);
  ChildExit e = launcher.Wait(pid, t0 + kReaderTimeout + std::chrono::seconds(10));
  const std::string text = ReadFile(out);
  std::smatch sm;
  if (!e.ok() || !std::regex_search(text, sm, std::regex(R"(rows (\d+) ms ([\d.]+))"))) {
    f.note = "failed";
    std::fprintf(stderr, "zongji failed (status %d):\n%s\n", e.wstatus, Tail(text).c_str());
    return f;
  }
  if (std::stoull(sm[1]) != w.rows) f.note = "saw " + std::string(sm[1]) + " rows";
  f.seconds = Seconds(e.at - t0);
  f.own = std::stod(sm[2]) / 1e3;
  f.SetUsage(e.ru);
  return f;
}

Figure RunMariadbBinlog(Launcher& launcher, const testing::MariaDb& m, const Workload& w) {
  Figure f;
  testing::TempDir dir;
  const std::string out = dir.Sub("mariadb-binlog.log");
  const std::string files = dir.Sub("raw");
  std::filesystem::create_directories(files);
  const auto t0 = Clock::now();
  pid_t pid =
      launcher.Spawn({"mariadb-binlog", "--no-defaults", "--read-from-remote-server", "--raw",
                      "--to-last-log", "--host=" + m.host(), "--port=" + std::to_string(m.port()),
                      std::string("--user=") + testing::MariaDb::kReplUser,
                      std::string("--password=") + testing::MariaDb::kReplPassword,
                      "--result-file=" + files + "/", w.first_file},
                     out);
  ChildExit e = launcher.Wait(pid, t0 + kReaderTimeout);
  uint64_t bytes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(files)) bytes += entry.file_size();
  if (!e.ok() || bytes != w.binlog_bytes) {
    f.note = "failed";
    std::fprintf(stderr, "mariadb-binlog failed (status %d, %llu of %llu bytes):\n%s\n", e.wstatus,
                 static_cast<unsigned long long>(bytes),
                 static_cast<unsigned long long>(w.binlog_bytes), Tail(ReadFile(out)).c_str());
    return f;
  }
  f.seconds = Seconds(e.at - t0);
  f.SetUsage(e.ru);
  return f;
}

// Keeps the fastest run's figure; zongji's own clock, its fastest too.
void KeepBest(Figure* best, const Figure& f) {
  const double own =
      best->own > 0 && f.own > 0 ? std::min(best->own, f.own) : std::max(best->own, f.own);
  if (f.ok() ? (!best->ok() || f.seconds < best->seconds) : !best->ok()) *best = f;
  best->own = own;
}

}  // namespace

int main(int argc, char** argv) {
  int rows = 150000;
  int runs = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--rows") == 0 && i + 1 < argc) {
      rows = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--ring-size") == 0 && i + 1 < argc) {
      g_ring_size = std::strtoul(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: ingest_bench [--rows N] [--runs R] [--ring-size S]\n");
      return 2;
    }
  }
  if (rows < 3 || runs < 1) Die("--rows must be >= 3 and --runs >= 1");
  signal(SIGPIPE, SIG_IGN);

  auto launcher = Launcher::Start();  // first: see "child processes"
  std::printf("starting MariaDB...\n");
  std::fflush(stdout);
  auto db = testing::MariaDb::Start();
  Check(db.status(), "start MariaDB");
  testing::MariaDb& m = **db;
  Workload w = RecordWorkload(rows, m);

  Figure ceiling, inproc, sluiced, zongji;
  double sluiced_exit = 0;
  for (int run = 0; run < runs; ++run) {
    std::printf("run %d of %d: mariadb-binlog, in-process, sluiced, zongji...\n", run + 1, runs);
    std::fflush(stdout);
    KillDumpThreads(m);
    KeepBest(&ceiling, RunMariadbBinlog(*launcher, m, w));
    KillDumpThreads(m);
    KeepBest(&inproc, RunInProcess(m.ReplUrl(), 201 + run, &w));
    if (w.records == 0) Die("the in-process run did not finish: " + inproc.note);
    KillDumpThreads(m);
    double exit_s = 0;
    Figure s = RunSluiced(*launcher, m, 301 + run, w, &exit_s);
    if (s.ok() && (!sluiced.ok() || s.seconds < sluiced.seconds)) sluiced_exit = exit_s;
    KeepBest(&sluiced, s);
    KillDumpThreads(m);
    KeepBest(&zongji, RunZongji(*launcher, m, 401 + run, w));
  }

  std::printf(
      "\nbinlog: %.1f MB in %zu file(s) to %s, %llu row changes, %llu records with DDL; "
      "%u cores, parse_threads 2, best of %d\n\n",
      w.binlog_bytes / 1e6, w.files, w.end.ToString().c_str(),
      static_cast<unsigned long long>(w.rows), static_cast<unsigned long long>(w.records),
      std::thread::hardware_concurrency(), runs);
  std::printf("| reader | seconds | rows/s | CPU s | peak RSS MB | vs ceiling |\n");
  std::printf("|---|---|---|---|---|---|\n");
  auto line = [&](const std::string& name, const Figure& f) {
    std::string label = f.note.empty() ? name : name + " (" + f.note + ")";
    if (!f.ok()) {
      std::printf("| %s | - | - | - | - | - |\n", label.c_str());
      return;
    }
    std::printf("| %s | %.3f | %.0fk | %.2f | %.0f | ", label.c_str(), f.seconds,
                w.rows / f.seconds / 1e3, f.cpu, f.rss_mb);
    if (ceiling.ok()) {
      std::printf("%.2fx |\n", ceiling.seconds / f.seconds);
    } else {
      std::printf("- |\n");
    }
  };
  line("sluice Pipeline in-process: dump start to last commit", inproc);
  line("sluiced child: exec to last commit", sluiced);
  Figure from_open = sluiced;
  from_open.seconds = sluiced.startup > 0 ? sluiced.seconds - sluiced.startup : 0;
  if (sluiced.ok() && !from_open.ok()) from_open.note = "no 'log at' line";
  line("sluiced child: log open to last commit (connect, dump, ingest)", from_open);
  line("@vlasky/zongji (Node.js, decode only): spawn to exit", zongji);
  Figure zongji_own = zongji;
  zongji_own.seconds = zongji.own;
  line("@vlasky/zongji: its own clock, script start to last row", zongji_own);
  line("mariadb-binlog --raw (ceiling): spawn to exit", ceiling);
  std::printf("\nof the CPU s, system s and minor page faults:");
  for (const auto* f : {&inproc, &sluiced, &zongji, &ceiling}) {
    std::printf(" %.2f, %ldk;", f->sys, f->minflt / 1000);
  }
  std::printf(" (same order)\n");
  if (inproc.ok()) std::printf("in-process wait seconds by part: %s\n", inproc.waits.c_str());
  if (sluiced.ok()) {
    std::printf(
        "sluiced exec to exit (SIGTERM once done, shutdown included): %.3f s; "
        "exec to log open %.3f s; its CPU s and RSS are the whole lifetime's\n",
        sluiced_exit, sluiced.startup);
  }

  // Issue 4's goals, from this run's best figures.
  auto rate = [&](const Figure& f) { return f.ok() ? w.rows / f.seconds : 0.0; };
  auto verdict = [](bool met) { return met ? "met" : "not met"; };
  // zongji's own clock leaves out Node.js's start: the faster of its two
  // figures, so the stricter goal.
  const double zr = rate(zongji_own.ok() ? zongji_own : zongji), cr = rate(ceiling);
  // The issue times from the dump's start: the in-process pipeline and
  // sluiced from its log open must both meet a goal; sluiced from exec
  // (its process start included) is shown beside them.
  std::printf(
      "\n| goal | in-process | sluiced (log open) | sluiced (exec, for reference) | |\n"
      "|---|---|---|---|---|\n");
  auto goal = [&](const char* name, auto measure, auto met) {
    const Figure* fs[] = {&inproc, &from_open, &sluiced};
    std::printf("| %s |", name);
    bool all_met = true;
    for (const Figure* f : fs) {
      std::printf(" %s |", f->ok() ? measure(*f).c_str() : "-");
      if (f != &sluiced) all_met = all_met && f->ok() && met(*f);
    }
    std::printf(" %s |\n", verdict(all_met));
  };
  auto fmt = [](const char* f, double v) {
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return std::string(b);
  };
  goal(
      ">= 1M rows/s end to end", [&](const Figure& f) { return fmt("%.2fM", rate(f) / 1e6); },
      [&](const Figure& f) { return rate(f) >= 1e6; });
  goal(
      ">= 7x zongji", [&](const Figure& f) { return fmt("%.1fx", zr > 0 ? rate(f) / zr : 0); },
      [&](const Figure& f) { return zr > 0 && rate(f) >= 7 * zr; });
  goal(
      ">= 50% of the raw stream",
      [&](const Figure& f) { return fmt("%.0f%%", cr > 0 ? 100 * rate(f) / cr : 0); },
      [&](const Figure& f) { return cr > 0 && rate(f) >= 0.5 * cr; });
  goal(
      "peak RSS < 512 MiB", [&](const Figure& f) { return fmt("%.0f MB", f.rss_mb); },
      [&](const Figure& f) { return f.rss_mb < 512; });
  bool all = inproc.ok() && sluiced.ok() && zongji.ok() && ceiling.ok();
  return all ? 0 : 1;
}
