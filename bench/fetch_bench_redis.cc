// fetch_bench's peer: Debian's redis-server as a child, a Stream of the
// same payloads, read with hiredis (fetch_bench.cc says what is measured).
#include "bench/fetch_bench.h"

namespace sluice::fetch_bench {

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
  auto port = sluice::testing::PickFreePort();
  if (!port.ok()) Die(port.status().ToString());
  return *port;
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

RedisPtr RedisConnect(int port) {
  timeval tv{2, 0};
  RedisPtr c(redisConnectWithTimeout("127.0.0.1", port, tv), &redisFree);
  if (c && c->err) c.reset();
  return c;
}

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

}  // namespace sluice::fetch_bench
