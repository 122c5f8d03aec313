// fetch_bench: consumer fetch over loopback. Stores N change records (an
// order-row insert, ~210 bytes serialized, in transactions of 10) in a
// CommitLog served by the consumer server in-process (its own libuv
// thread), then one sluice::Consumer in the main thread, over 127.0.0.1:
//
//   by offset       Fetch(offset, max_records B) from 0 to the end, B = 1000
//                   and 10000 (next_offset continues)
//   group + ack     Subscribe a fresh group, then Get(batch_size B) and Ack
//                   of every batch until the end, B = 1000 and 10000
//   latency         a writer thread commits 10 records every millisecond
//                   (10k records/s, paced by the clock) for S seconds while
//                   the consumer long-polls Fetch(wait_ms 1000) from the
//                   end; a record's latency is the consumer's receipt time
//                   (when Fetch returned) minus the time the writer took
//                   just BEFORE calling CommitTransaction, so it includes
//                   the commit itself (conservative).
//
// In the same run, the peer: Debian's redis-server as a child (127.0.0.1,
// no RDB, no AOF) holding the same N payloads in a Stream (one field per
// entry, loaded with pipelined XADD; loading is not timed), read by one
// hiredis client with XRANGE COUNT B from "-" and then from "(" the last
// id, and through a consumer group with XREADGROUP COUNT B and one XACK
// of the batch's ids, B = 1000 and 10000; its latency with a writer
// connection doing the same 10 XADD per millisecond while the reader
// blocks in XREAD BLOCK 1000. "vs redis" compares with the same batch size:
// by offset with XRANGE, groups with XREADGROUP + XACK.
//
// Every throughput reader checks every record it gets against what was
// written (offset or order, and bytes). Server CPU and minor page faults:
// sluice's are the process's minus the consumer thread's (the libuv thread
// and RocksDB's), Redis's its process's (/proc); the client's: the main
// thread's. The header line gives what one page fault costs here.
//
//   fetch_bench [--records N] [--runs R] [--latency-seconds S] [--only READER]
//     --records N          records stored and read (default 1000000)
//     --runs R             time every reader R times, keep its fastest (default 3)
//     --latency-seconds S  length of each latency run (default 5)
//     --only READER        offset, group, redis or latency: run that one alone
//                          (to profile it; Redis starts only for redis and latency)
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "broker/consumer/server.h"
#include "broker/consumer/service.h"
#include "client/consumer.h"
#include "proto/auth.h"
#include "proto/record.pb.h"
#include "storage/commit_log.h"
#include "tests/support/temp_dir.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace sluice;

constexpr char kDest[] = "shop";
constexpr char kUser[] = "bench";
constexpr char kPassword[] = "bench-password";
constexpr size_t kTxnRecords = 10;   // per transaction, stored and in the latency load
constexpr int kLatencyRate = 10000;  // records/s of the latency load
constexpr uint32_t kWaitMs = 1000;   // long poll of the latency readers
constexpr auto kReaderTimeout = std::chrono::seconds(300);
constexpr uint32_t kBatches[] = {1000, 10000};

pid_t g_redis = -1;  // the Redis child, stopped by Die() too

void StopRedis();

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "fetch_bench: %s\n", why.c_str());
  StopRedis();
  std::exit(1);
}

void Check(const Status& st, const char* what) {
  if (!st.ok()) Die(std::string(what) + ": " + st.ToString());
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
int64_t Nanos(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
double Tv(const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; }

// CPU seconds (user + system) and minor page faults so far.
struct Usage {
  double cpu = 0;
  double faults = 0;
  Usage operator-(const Usage& o) const { return {cpu - o.cpu, faults - o.faults}; }
};

// Of this process (RUSAGE_SELF) or of the calling thread (RUSAGE_THREAD).
Usage UsageOf(int who) {
  rusage ru{};
  ::getrusage(who, &ru);
  return {Tv(ru.ru_utime) + Tv(ru.ru_stime), static_cast<double>(ru.ru_minflt)};
}

// Of another process (zero when it is gone): /proc/PID/stat fields 10
// (minflt), 14 (utime) and 15 (stime).
Usage ProcessUsage(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return {};
  std::istringstream in(stat.substr(paren + 2));  // fields from 3 (state) on
  std::string field;
  double minflt = 0, utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 10) minflt = std::stod(field);
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return {(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK)), minflt};
}

// What a first touch of a fresh page costs on this machine, in
// microseconds (a VM may make it 50 times what it is on bare metal): the
// figure that explains much of the servers' time below.
double PageFaultMicros() {
  constexpr size_t kBytes = 64 << 20;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  void* p = ::mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 0;
  const auto t0 = Clock::now();
  for (size_t i = 0; i < kBytes; i += page) static_cast<volatile char*>(p)[i] = 1;
  const double us = Seconds(Clock::now() - t0) * 1e6 / static_cast<double>(kBytes / page);
  ::munmap(p, kBytes);
  return us;
}

// ---- the records -------------------------------------------------------------

// N serialized records back to back; record i is bytes[ends[i-1], ends[i]).
struct Pool {
  std::string bytes;
  std::vector<size_t> ends;
  size_t size() const { return ends.size(); }
  std::string_view at(size_t i) const {
    const size_t begin = i == 0 ? 0 : ends[i - 1];
    return std::string_view(bytes).substr(begin, ends[i] - begin);
  }
};

// An order-row insert of a realistic shape: 6 columns in `after` (BIGINT,
// INT, ENUM, DECIMAL, DATETIME, INT), its source position, GTID and
// place in its transaction of kTxnRecords.
void AppendRecord(uint64_t i, std::mt19937_64& rng, std::string* out) {
  static const char* kStatus[] = {"pending", "paid", "shipped", "delivered"};
  proto::ChangeRecord r;
  r.set_format_version(proto::RECORD_FORMAT_V1);
  r.set_op(proto::OP_INSERT);
  r.set_db("shop");
  r.set_table("orders");
  r.add_pk("id");
  auto add = [&](uint32_t idx, const char* name, uint32_t type) {
    auto* c = r.add_after();
    c->set_index(idx);
    c->set_name(name);
    c->set_mysql_type(type);
    return c->mutable_value();
  };
  const uint64_t secs = 1764000000 + i / 100;
  add(0, "id", 8)->set_int64(static_cast<int64_t>(1000000 + i));
  add(1, "customer_id", 3)->set_int64(static_cast<int64_t>(rng() % 500000));
  add(2, "status", 247)->set_enum_label(kStatus[rng() % 4]);
  add(3, "total", 246)
      ->set_decimal(std::to_string(rng() % 100000) + "." + std::to_string(10 + rng() % 90));
  char when[40];
  std::snprintf(when, sizeof when, "2026-11-%02u %02u:%02u:%02u",
                static_cast<unsigned>(1 + secs / 86400 % 28),
                static_cast<unsigned>(secs / 3600 % 24), static_cast<unsigned>(secs / 60 % 60),
                static_cast<unsigned>(secs % 60));
  add(4, "created_at", 18)->set_text(when);
  add(5, "qty", 3)->set_int64(static_cast<int64_t>(1 + rng() % 20));
  r.set_ts(secs);
  r.mutable_pos()->set_file("binlog.000001");
  r.mutable_pos()->set_pos(4 + i * 230);
  r.set_gtid("0-1-" + std::to_string(i / kTxnRecords + 1));
  r.mutable_txn()->set_seq(static_cast<uint32_t>(i % kTxnRecords));
  r.mutable_txn()->set_last(i % kTxnRecords == kTxnRecords - 1);
  r.AppendToString(out);
}

Pool MakePool(size_t n) {
  Pool p;
  p.bytes.reserve(n * 220);
  p.ends.reserve(n);
  std::mt19937_64 rng(42);
  for (size_t i = 0; i < n; ++i) {
    AppendRecord(i, rng, &p.bytes);
    p.ends.push_back(p.bytes.size());
  }
  return p;
}

// ---- figures ------------------------------------------------------------------

struct Figure {
  double seconds = 0;
  Usage server, client;
  double first_ms = 0, last_ms = 0;  // groups: mean Get + Ack over the first and last 10%
  std::string note;                  // why it is missing; empty when measured
  bool ok() const { return seconds > 0; }
};

void KeepBest(Figure* best, const Figure& f) {
  if (f.ok() ? (!best->ok() || f.seconds < best->seconds) : !best->ok()) *best = f;
}

// Measures the CPU of the main thread (the client) and of the server: the
// rest of this process, or the Redis child.
class CpuMeter {
 public:
  explicit CpuMeter(pid_t server_pid = -1)
      : server_pid_(server_pid), client0_(UsageOf(RUSAGE_THREAD)), server0_(Server()) {}
  void Stop(Figure* f) const {
    f->client = UsageOf(RUSAGE_THREAD) - client0_;
    f->server = Server() - server0_;
    if (server_pid_ < 0) f->server = f->server - f->client;
  }

 private:
  Usage Server() const {
    return server_pid_ < 0 ? UsageOf(RUSAGE_SELF) : ProcessUsage(server_pid_);
  }
  const pid_t server_pid_;
  const Usage client0_, server0_;
};

// Waits until this process's other threads (RocksDB's flushes and
// compactions after the load) use under 5% of a core, at most 30 s.
void Quiesce() {
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    const double cpu0 = (UsageOf(RUSAGE_SELF) - UsageOf(RUSAGE_THREAD)).cpu;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if ((UsageOf(RUSAGE_SELF) - UsageOf(RUSAGE_THREAD)).cpu - cpu0 < 0.01) return;
  }
}

// A record a reader got: offset (or place in the stream) and bytes.
void Verify(const Pool& pool, uint64_t index, std::string_view got, const char* who) {
  if (index >= pool.size() || got != pool.at(index)) {
    Die(std::string(who) + ": record " + std::to_string(index) + " differs from what was written");
  }
}

struct Latency {
  std::vector<double> ms;  // one per record, sorted
  std::string note;
  bool ok() const { return !ms.empty(); }
  double At(double q) const {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * static_cast<double>(ms.size())))];
  }
};

// Stamps of a latency writer: the time each record was handed to the
// store, read by the consumer when the record arrives.
using Stamps = std::vector<std::atomic<int64_t>>;

// Runs `commit(k)` for txns k = 0.., one every kTxnRecords/kLatencyRate s.
template <typename Commit>
std::thread PacedWriter(size_t txns, Commit commit) {
  return std::thread([txns, commit] {
    const auto interval = std::chrono::nanoseconds(1'000'000'000LL * kTxnRecords / kLatencyRate);
    const auto t0 = Clock::now() + std::chrono::milliseconds(50);  // the reader is parked by then
    for (size_t k = 0; k < txns; ++k) {
      std::this_thread::sleep_until(t0 + k * interval);
      if (!commit(k)) return;
    }
  });
}

// ---- sluice -------------------------------------------------------------------

Figure SluiceByOffset(Consumer& c, const Pool& pool, uint32_t batch) {
  Figure f;
  CpuMeter cpu;
  const auto t0 = Clock::now();
  uint64_t offset = 0;
  while (offset < pool.size() && Clock::now() < t0 + kReaderTimeout) {
    auto got = c.Fetch(kDest, offset, batch, 64u << 20, 0);
    Check(got.status(), "Fetch");
    for (const auto& r : got->records()) {
      if (r.offset() != offset) Die("Fetch: offset " + std::to_string(r.offset()) + " misplaced");
      Verify(pool, offset++, r.record(), "Fetch");
    }
    if (got->next_offset() != offset) Die("Fetch: next_offset does not follow the records");
  }
  const auto t1 = Clock::now();
  cpu.Stop(&f);
  if (offset == pool.size()) {
    f.seconds = Seconds(t1 - t0);
  } else {
    f.note = "timed out";
  }
  return f;
}

Figure SluiceGroup(Consumer& c, const Pool& pool, uint32_t batch, const std::string& group) {
  Check(c.Subscribe(kDest, group).status(), "Subscribe");
  Figure f;
  CpuMeter cpu;
  const auto t0 = Clock::now();
  std::vector<double> cycle_ms;  // Get + Ack of each batch
  uint64_t offset = 0;
  while (offset < pool.size() && Clock::now() < t0 + kReaderTimeout) {
    const auto c0 = Clock::now();
    auto got = c.Get(kDest, group, batch, 0);
    Check(got.status(), "Get");
    if (got->batch_id() == 0) Die("Get: no batch below the high watermark");
    for (const auto& r : got->records()) {
      if (r.offset() != offset) Die("Get: offset " + std::to_string(r.offset()) + " out of order");
      Verify(pool, offset++, r.record(), "Get");
    }
    if (got->end_offset() != offset) Die("Get: end_offset does not follow the records");
    Check(c.Ack(kDest, group, got->batch_id()).status(), "Ack");
    cycle_ms.push_back(Seconds(Clock::now() - c0) * 1e3);
  }
  const auto t1 = Clock::now();
  cpu.Stop(&f);
  const size_t tenth = std::max<size_t>(1, cycle_ms.size() / 10);
  if (cycle_ms.size() >= tenth) {
    for (size_t i = 0; i < tenth; ++i) {
      f.first_ms += cycle_ms[i] / tenth;
      f.last_ms += cycle_ms[cycle_ms.size() - 1 - i] / tenth;
    }
  }
  Check(c.Unsubscribe(kDest, group), "Unsubscribe");
  if (offset == pool.size()) {
    f.seconds = Seconds(t1 - t0);
  } else {
    f.note = "timed out";
  }
  return f;
}

Latency SluiceLatency(CommitLog* log, Consumer& c, const Pool& pool, int seconds) {
  const uint64_t base = log->HighWatermark().value();
  const size_t txns = static_cast<size_t>(seconds) * kLatencyRate / kTxnRecords;
  const size_t total = txns * kTxnRecords;
  Stamps stamps(total);
  std::atomic<bool> failed{false};
  std::thread writer = PacedWriter(txns, [&](size_t k) {
    std::string_view recs[kTxnRecords];
    for (size_t j = 0; j < kTxnRecords; ++j) recs[j] = pool.at((k * kTxnRecords + j) % pool.size());
    proto::SourceCheckpoint cp;
    cp.set_file("binlog.000002");
    cp.set_pos(4 + k);
    const int64_t now = Nanos(Clock::now());
    for (size_t j = 0; j < kTxnRecords; ++j) {
      stamps[k * kTxnRecords + j].store(now, std::memory_order_release);
    }
    if (!log->CommitTransaction(recs, cp).ok()) {
      failed.store(true);
      return false;
    }
    return true;
  });

  Latency l;
  uint64_t offset = base;
  const auto deadline = Clock::now() + std::chrono::seconds(seconds) + std::chrono::seconds(30);
  while (offset < base + total && !failed.load() && Clock::now() < deadline) {
    auto got = c.Fetch(kDest, offset, 1000, 0, kWaitMs);
    const int64_t now = Nanos(Clock::now());
    Check(got.status(), "Fetch (long poll)");
    for (const auto& r : got->records()) {
      if (r.offset() != offset++) Die("Fetch (long poll): records out of order");
      const int64_t stamp = stamps[r.offset() - base].load(std::memory_order_acquire);
      l.ms.push_back((now - stamp) / 1e6);
    }
    offset = got->next_offset();
  }
  writer.join();
  if (failed.load()) Die("the latency writer's CommitTransaction failed");
  if (l.ms.size() != total) {
    l.note = "got " + std::to_string(l.ms.size()) + " of " + std::to_string(total) + " records";
    l.ms.clear();
  }
  std::sort(l.ms.begin(), l.ms.end());
  return l;
}

// ---- Redis --------------------------------------------------------------------

std::string FindInPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    Die("cannot find a free port: " + std::string(std::strerror(errno)));
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

void StopRedis() {
  if (g_redis <= 0) return;
  const pid_t pid = g_redis;
  g_redis = -1;
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 100; ++i) {  // 5 s, then SIGKILL
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

using RedisPtr = std::unique_ptr<redisContext, decltype(&redisFree)>;
using ReplyPtr = std::unique_ptr<redisReply, decltype(&freeReplyObject)>;

RedisPtr RedisConnect(int port) {
  timeval tv{2, 0};
  RedisPtr c(redisConnectWithTimeout("127.0.0.1", port, tv), &redisFree);
  if (c && c->err) c.reset();
  return c;
}

ReplyPtr Command(redisContext* c, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
ReplyPtr Command(redisContext* c, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ReplyPtr r(static_cast<redisReply*>(redisvCommand(c, fmt, ap)), &freeReplyObject);
  va_end(ap);
  if (!r) Die(std::string("redis: ") + c->errstr);
  if (r->type == REDIS_REPLY_ERROR) Die(std::string("redis: ") + r->str);
  return r;
}

// Starts redis-server on a free port, without persistence; empty with
// *why set when it cannot.
std::optional<int> StartRedis(const testing::TempDir& dir, std::string* why) {
  const std::string bin = FindInPath("redis-server");
  if (bin.empty()) {
    *why = "redis-server not found";
    return std::nullopt;
  }
  const int port = FreePort();
  const std::string log = dir.Sub("redis.log");
  std::vector<std::string> args = {bin, "--port", std::to_string(port), "--bind", "127.0.0.1"};
  for (const char* off : {"--save", "", "--appendonly", "no", "--daemonize", "no"}) {
    args.emplace_back(off);
  }
  args.insert(args.end(), {"--dir", dir.path()});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) Die("fork: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // dies with the bench's main thread
    if (::getppid() != parent) _exit(126);
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out >= 0) {
      ::dup2(out, STDOUT_FILENO);
      ::dup2(out, STDERR_FILENO);
    }
    ::close_range(3, ~0U, 0);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  g_redis = pid;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) {
      g_redis = -1;
      std::ifstream f(log);
      std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      std::fprintf(stderr, "redis-server exited; its log:\n%s\n", text.c_str());
      *why = "redis-server did not start";
      return std::nullopt;
    }
    if (RedisPtr c = RedisConnect(port)) {
      ReplyPtr r(static_cast<redisReply*>(redisCommand(c.get(), "PING")), &freeReplyObject);
      if (r && r->type == REDIS_REPLY_STATUS && std::strcmp(r->str, "PONG") == 0) return port;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  StopRedis();
  *why = "redis-server did not answer PING within 10 s";
  return std::nullopt;
}

// XADD of `count` records (from `first`, modulo the pool) to `key`,
// pipelined; the replies are read after each `window` commands.
void RedisAdd(redisContext* c, const char* key, const Pool& pool, size_t first, size_t count,
              size_t window) {
  for (size_t i = 0; i < count;) {
    const size_t n = std::min(window, count - i);
    for (size_t j = 0; j < n; ++j) {
      std::string_view rec = pool.at((first + i + j) % pool.size());
      const char* argv[] = {"XADD", key, "*", "r", rec.data()};
      const size_t lens[] = {4, std::strlen(key), 1, 1, rec.size()};
      if (redisAppendCommandArgv(c, 5, argv, lens) != REDIS_OK) Die("redis: XADD");
    }
    for (size_t j = 0; j < n; ++j) {
      void* reply = nullptr;
      if (redisGetReply(c, &reply) != REDIS_OK) Die(std::string("redis: ") + c->errstr);
      ReplyPtr r(static_cast<redisReply*>(reply), &freeReplyObject);
      if (r->type == REDIS_REPLY_ERROR) Die(std::string("redis: XADD: ") + r->str);
    }
    i += n;
  }
}

// The entries of an XRANGE reply (or of one stream of an XREAD reply):
// calls on_entry(id, payload) for each.
template <typename OnEntry>
void ForEachEntry(const redisReply* entries, OnEntry on_entry) {
  for (size_t i = 0; i < entries->elements; ++i) {
    const redisReply* e = entries->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[1]->elements != 2) {
      Die("redis: an entry that is not [id, [field, value]]");
    }
    const redisReply* value = e->element[1]->element[1];
    on_entry(std::string_view(e->element[0]->str, e->element[0]->len),
             std::string_view(value->str, value->len));
  }
}

Figure RedisXrange(redisContext* c, pid_t pid, const Pool& pool, uint32_t count) {
  Figure f;
  CpuMeter cpu(pid);
  const auto t0 = Clock::now();
  uint64_t index = 0;
  std::string from = "-";
  while (Clock::now() < t0 + kReaderTimeout) {
    ReplyPtr r = Command(c, "XRANGE records %s + COUNT %u", from.c_str(), count);
    if (r->type != REDIS_REPLY_ARRAY) Die("redis: XRANGE did not answer an array");
    if (r->elements == 0) break;
    std::string_view last;
    ForEachEntry(r.get(), [&](std::string_view id, std::string_view payload) {
      Verify(pool, index++, payload, "XRANGE");
      last = id;
    });
    from = "(" + std::string(last);
  }
  const auto t1 = Clock::now();
  cpu.Stop(&f);
  if (index == pool.size()) {
    f.seconds = Seconds(t1 - t0);
  } else {
    f.note = "timed out";
  }
  return f;
}

// A consumer group on the stream: XREADGROUP COUNT B of new entries, then
// one XACK naming every id of the batch, until the stream is read.
Figure RedisGroup(redisContext* c, pid_t pid, const Pool& pool, uint32_t count,
                  const std::string& group) {
  Command(c, "XGROUP CREATE records %s 0", group.c_str());
  Figure f;
  CpuMeter cpu(pid);
  const auto t0 = Clock::now();
  uint64_t index = 0;
  std::vector<std::string> ack;
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  while (Clock::now() < t0 + kReaderTimeout) {
    ReplyPtr r =
        Command(c, "XREADGROUP GROUP %s bench COUNT %u STREAMS records >", group.c_str(), count);
    if (r->type == REDIS_REPLY_NIL) break;  // nothing new: the stream is read
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 || r->element[0]->elements != 2) {
      Die("redis: XREADGROUP did not answer [[key, entries]]");
    }
    ack = {"XACK", "records", group};
    ForEachEntry(r->element[0]->element[1], [&](std::string_view id, std::string_view payload) {
      Verify(pool, index++, payload, "XREADGROUP");
      ack.emplace_back(id);
    });
    argv.clear();
    lens.clear();
    for (const auto& a : ack) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    ReplyPtr acked(static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(argv.size()),
                                                             argv.data(), lens.data())),
                   &freeReplyObject);
    if (!acked || acked->type != REDIS_REPLY_INTEGER ||
        static_cast<size_t>(acked->integer) != ack.size() - 3) {
      Die("redis: XACK did not acknowledge the batch");
    }
  }
  const auto t1 = Clock::now();
  cpu.Stop(&f);
  Command(c, "XGROUP DESTROY records %s", group.c_str());
  if (index == pool.size()) {
    f.seconds = Seconds(t1 - t0);
  } else {
    f.note = "timed out";
  }
  return f;
}

Latency RedisLatency(int port, const Pool& pool, int seconds) {
  const size_t txns = static_cast<size_t>(seconds) * kLatencyRate / kTxnRecords;
  const size_t total = txns * kTxnRecords;
  Stamps stamps(total);
  RedisPtr wc = RedisConnect(port), rc = RedisConnect(port);
  if (!wc || !rc) Die("cannot connect to redis-server");
  Command(rc.get(), "DEL latency");
  std::thread writer = PacedWriter(txns, [&](size_t k) {
    const int64_t now = Nanos(Clock::now());
    for (size_t j = 0; j < kTxnRecords; ++j) {
      stamps[k * kTxnRecords + j].store(now, std::memory_order_release);
    }
    RedisAdd(wc.get(), "latency", pool, k * kTxnRecords, kTxnRecords, kTxnRecords);
    return true;
  });

  Latency l;
  std::string from = "0-0";
  uint64_t index = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(seconds) + std::chrono::seconds(30);
  while (index < total && Clock::now() < deadline) {
    ReplyPtr r =
        Command(rc.get(), "XREAD COUNT 1000 BLOCK %u STREAMS latency %s", kWaitMs, from.c_str());
    const int64_t now = Nanos(Clock::now());
    if (r->type == REDIS_REPLY_NIL) continue;  // the wait ended
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 || r->element[0]->elements != 2) {
      Die("redis: XREAD did not answer [[key, entries]]");
    }
    ForEachEntry(r->element[0]->element[1], [&](std::string_view id, std::string_view) {
      if (index < total) {
        l.ms.push_back((now - stamps[index].load(std::memory_order_acquire)) / 1e6);
      }
      ++index;
      from = std::string(id);
    });
  }
  writer.join();
  if (l.ms.size() != total) {
    l.note = "got " + std::to_string(l.ms.size()) + " of " + std::to_string(total) + " records";
    l.ms.clear();
  }
  std::sort(l.ms.begin(), l.ms.end());
  return l;
}

}  // namespace

int main(int argc, char** argv) {
  size_t records = 1000000;
  int runs = 3;
  int latency_seconds = 5;
  std::string only;  // one reader, to profile it
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--records") == 0 && i + 1 < argc) {
      records = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--latency-seconds") == 0 && i + 1 < argc) {
      latency_seconds = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      only = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: fetch_bench [--records N] [--runs R] [--latency-seconds S] "
                   "[--only offset|group|redis|latency]\n");
      return 2;
    }
  }
  if (records < kTxnRecords || records % kTxnRecords != 0 || runs < 1 || latency_seconds < 1) {
    Die("--records must be a positive multiple of 10, --runs and --latency-seconds >= 1");
  }
  if (!only.empty() && only != "offset" && only != "group" && only != "redis" &&
      only != "latency") {
    Die("--only takes offset, group, redis or latency");
  }
  auto want = [&](const char* reader) { return only.empty() || only == reader; };
  signal(SIGPIPE, SIG_IGN);
  testing::TempDir dir;

  // First, while the bench has one thread and little memory.
  std::string redis_why;  // when redis_port is empty and Redis was wanted
  std::optional<int> redis_port;
  if (want("redis") || want("latency")) redis_port = StartRedis(dir, &redis_why);

  std::printf("making %zu records...\n", records);
  std::fflush(stdout);
  const Pool pool = MakePool(records);

  CommitLogOptions lo;
  lo.path = dir.Sub("log");
  lo.node_id = "bench";
  lo.destination = kDest;
  auto log = CommitLog::Open(lo);
  Check(log.status(), "open the commit log");
  consumer::ServiceOptions so;
  so.node_id = "bench";
  consumer::ConsumerService service(so);
  consumer::ServerOptions opts;
  opts.listen = "127.0.0.1:0";
  opts.users[kUser] = auth::PasswordKey(kPassword);
  auto server = consumer::ConsumerServer::Start(opts, &service);
  Check(server.status(), "start the consumer server");
  service.AddDestination(kDest, log->get());

  auto t0 = Clock::now();
  for (size_t i = 0; i < records; i += kTxnRecords) {
    std::string_view recs[kTxnRecords];
    for (size_t j = 0; j < kTxnRecords; ++j) recs[j] = pool.at(i + j);
    proto::SourceCheckpoint cp;
    cp.set_file("binlog.000001");
    cp.set_pos(4 + i);
    Check((*log)->CommitTransaction(recs, cp).status(), "CommitTransaction");
  }
  Check((*log)->Sync(), "Sync");
  std::printf("stored %zu records (%.1f MB) in the commit log in %.2f s\n", records,
              pool.bytes.size() / 1e6, Seconds(Clock::now() - t0));

  RedisPtr redis(nullptr, &redisFree);
  if (redis_port) {
    redis = RedisConnect(*redis_port);
    if (!redis) Die("cannot connect to redis-server");
    t0 = Clock::now();
    RedisAdd(redis.get(), "records", pool, 0, records, 1000);
    ReplyPtr len = Command(redis.get(), "XLEN records");
    if (len->type != REDIS_REPLY_INTEGER || static_cast<size_t>(len->integer) != records) {
      Die("redis: XLEN is not the number of records added");
    }
    std::printf("loaded them into redis-server with pipelined XADD in %.2f s\n",
                Seconds(Clock::now() - t0));
  }
  std::fflush(stdout);

  ConsumerOptions co;
  co.brokers = {"127.0.0.1:" + std::to_string((*server)->port())};
  co.user = kUser;
  co.password = kPassword;
  co.client = "fetch_bench";
  co.io_timeout_ms = 60000;
  auto consumer = Consumer::Open(co);
  Check(consumer.status(), "open the consumer");
  Check((*consumer)->Connect(), "connect the consumer");
  Consumer& c = **consumer;

  Figure offset[2], group[2], xrange[2], xgroup[2];
  for (int run = 0; run < runs; ++run) {
    std::printf("run %d of %d: sluice by offset and group, redis XRANGE and XREADGROUP...\n",
                run + 1, runs);
    std::fflush(stdout);
    for (int b = 0; b < 2; ++b) {
      if (want("offset")) {
        Quiesce();
        KeepBest(&offset[b], SluiceByOffset(c, pool, kBatches[b]));
      }
      if (want("group")) {
        Quiesce();
        KeepBest(&group[b], SluiceGroup(c, pool, kBatches[b],
                                        "bench-" + std::to_string(run) + "-" + std::to_string(b)));
      }
      if (redis && want("redis")) {
        KeepBest(&xrange[b], RedisXrange(redis.get(), g_redis, pool, kBatches[b]));
        KeepBest(&xgroup[b], RedisGroup(redis.get(), g_redis, pool, kBatches[b],
                                        "bench-" + std::to_string(run) + "-" + std::to_string(b)));
      }
    }
  }
  Latency sluice_lat, redis_lat;
  if (want("latency")) {
    std::printf("latency: %d s of %d records/s, sluice then redis...\n", latency_seconds,
                kLatencyRate);
    std::fflush(stdout);
    Quiesce();
    sluice_lat = SluiceLatency(log->get(), c, pool, latency_seconds);
    if (redis_port) redis_lat = RedisLatency(*redis_port, pool, latency_seconds);
  }

  redis.reset();
  StopRedis();
  consumer->reset();
  (*server)->Stop();

  // ---- the table ----
  const double fault_us = PageFaultMicros();
  const double mb = pool.bytes.size() / 1e6;
  double load[3] = {0, 0, 0};
  if (::getloadavg(load, 3) < 0) load[0] = -1;
  std::printf(
      "\n%zu records, %.0f bytes each on average (%.1f MB), stored in transactions of %zu; "
      "loopback 127.0.0.1; %u cores, load average %.2f, a page's first touch %.1f us; "
      "best of %d\n\n",
      records, static_cast<double>(pool.bytes.size()) / records, mb, kTxnRecords,
      std::thread::hardware_concurrency(), load[0], fault_us, runs);
  std::printf(
      "| reader | batch | seconds | records/s | MB/s | CPU s server, client | "
      "page faults server, client | vs redis |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  const std::string not_run = "not run (--only " + only + ")";
  for (int b = 0; b < 2; ++b) {
    if (!want("offset")) offset[b].note = not_run;
    if (!want("group")) group[b].note = not_run;
    for (Figure* f : {&xrange[b], &xgroup[b]}) {
      if (!want("redis"))
        f->note = not_run;
      else if (!redis_port)
        f->note = "peer not measured: " + redis_why;
    }
  }
  auto line = [&](const char* name, uint32_t batch, const Figure& f, const Figure* peer) {
    if (!f.ok()) {
      std::printf("| %s (%s) | %u | - | - | - | - | - | - |\n", name, f.note.c_str(), batch);
      return;
    }
    std::printf("| %s | %u | %.3f | %.2fM | %.0f | %.2f, %.2f | %.1fk, %.1fk | ", name, batch,
                f.seconds, records / f.seconds / 1e6, mb / f.seconds, f.server.cpu, f.client.cpu,
                f.server.faults / 1e3, f.client.faults / 1e3);
    if (peer != nullptr && peer->ok()) {
      std::printf("%.2fx |\n", peer->seconds / f.seconds);
    } else {
      std::printf("%s |\n", peer != nullptr ? "-" : "1.00x");
    }
  };
  for (int b = 0; b < 2; ++b) line("sluice Fetch by offset", kBatches[b], offset[b], &xrange[b]);
  for (int b = 0; b < 2; ++b) line("sluice group Get + Ack", kBatches[b], group[b], &xgroup[b]);
  for (int b = 0; b < 2; ++b)
    line("redis-server XRANGE (hiredis)", kBatches[b], xrange[b], nullptr);
  for (int b = 0; b < 2; ++b) {
    line("redis-server XREADGROUP + XACK (hiredis)", kBatches[b], xgroup[b], nullptr);
  }

  for (int b = 0; b < 2; ++b) {
    if (!group[b].ok()) continue;
    std::printf(
        "%sgroup, batches of %u: one Get + Ack took %.2f ms on average over the first "
        "10%% of the batches, %.2f ms over the last 10%%\n",
        b == 0 ? "\n" : "", kBatches[b], group[b].first_ms, group[b].last_ms);
  }

  std::printf(
      "\ncommit-to-consumer latency at %d records/s (%zu per transaction, one every "
      "%.1f ms) for %d s; stamped before the commit call:\n\n",
      kLatencyRate, kTxnRecords, 1000.0 * kTxnRecords / kLatencyRate, latency_seconds);
  std::printf("| reader | records | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|\n");
  auto lat_line = [&](const char* name, const Latency& l, const std::string& missing) {
    if (!l.ok()) {
      std::printf("| %s | %s | - | - | - |\n", name, (l.note.empty() ? missing : l.note).c_str());
      return;
    }
    std::printf("| %s | %zu | %.3f | %.3f | %.3f |\n", name, l.ms.size(), l.At(0.50), l.At(0.99),
                l.ms.back());
  };
  lat_line("sluice Fetch long poll (wait_ms 1000)", sluice_lat, want("latency") ? "" : not_run);
  lat_line("redis-server XREAD BLOCK 1000 (hiredis)", redis_lat,
           !want("latency") ? not_run
           : !redis_port    ? "peer not measured: " + redis_why
                            : "");

  // ---- the goals of the issue ----
  auto rate = [&](const Figure& f) { return f.ok() ? records / f.seconds : 0.0; };
  std::printf("\n| goal | measured | |\n|---|---|---|\n");
  if (offset[0].ok() && xrange[0].ok()) {
    const double x = xrange[0].seconds / offset[0].seconds;
    std::printf("| by offset >= 2x Redis XRANGE (batches of 1000) | %.2fx | %s |\n", x,
                x >= 2 ? "met" : "not met");
  } else {
    std::printf("| by offset >= 2x Redis XRANGE (batches of 1000) | - | not measured |\n");
  }
  if (group[0].ok() || group[1].ok()) {
    const double g = std::max(rate(group[0]), rate(group[1]));
    std::printf("| group with acks >= 1M records/s | %.2fM (1000), %.2fM (10000) | %s |\n",
                rate(group[0]) / 1e6, rate(group[1]) / 1e6, g >= 1e6 ? "met" : "not met");
  } else {
    std::printf("| group with acks >= 1M records/s | - | not measured |\n");
  }
  if (sluice_lat.ok()) {
    std::printf("| p99 commit-to-consumer < 5 ms | %.3f ms | %s |\n", sluice_lat.At(0.99),
                sluice_lat.At(0.99) < 5 ? "met" : "not met");
  }
  const bool all = (!want("offset") || (offset[0].ok() && offset[1].ok())) &&
                   (!want("group") || (group[0].ok() && group[1].ok())) &&
                   (!want("latency") || sluice_lat.ok());
  return all ? 0 : 1;
}
