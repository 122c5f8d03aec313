// What fetch_bench's two halves share (fetch_bench.cc: sluice and main;
// fetch_bench_redis.cc: the Redis peer): the records, the figures, usage
// and latency helpers.
#pragma once

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
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
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include "broker/consumer/server.h"
#include "broker/consumer/service.h"
#include "broker/ingest/block_list.h"
#include "broker/ingest/record_buffer.h"
#include "client/consumer.h"
#include "proto/auth.h"
#include "proto/record.pb.h"
#include "proto/record_json.h"
#include "storage/commit_log.h"
#include "storage/log_format.h"
#include "tests/support/free_port.h"
#include "tests/support/temp_dir.h"

namespace sluice::fetch_bench {

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

inline pid_t g_redis = -1;  // the Redis child, stopped by Die() too

void StopRedis();

[[noreturn]] inline void Die(const std::string& why) {
  std::fprintf(stderr, "fetch_bench: %s\n", why.c_str());
  StopRedis();
  std::exit(1);
}

inline void Check(const Status& st, const char* what) {
  if (!st.ok()) Die(std::string(what) + ": " + st.ToString());
}

inline double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
inline int64_t Nanos(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
inline double Tv(const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; }

// CPU seconds (user + system) and minor page faults so far.
struct Usage {
  double cpu = 0;
  double faults = 0;
  Usage operator-(const Usage& o) const { return {cpu - o.cpu, faults - o.faults}; }
};

// Of this process (RUSAGE_SELF) or of the calling thread (RUSAGE_THREAD).
inline Usage UsageOf(int who) {
  rusage ru{};
  ::getrusage(who, &ru);
  return {Tv(ru.ru_utime) + Tv(ru.ru_stime), static_cast<double>(ru.ru_minflt)};
}

// Of another process (zero when it is gone): /proc/PID/stat fields 10
// (minflt), 14 (utime) and 15 (stime).
inline Usage ProcessUsage(pid_t pid) {
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
inline double PageFaultMicros() {
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
inline void AppendRecord(uint64_t i, std::mt19937_64& rng, std::string* out) {
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

// How the bench stores its transactions: batch version 2 (the records in
// an LZ4 block, their txn field left to the reader: what ingest writes) or
// version 1 (records whole). --batch-version; 2 by default.
inline int g_batch_version = 2;

// Commits one transaction of pool records (each ends with its txn field,
// seq = its index here, last on the final one) in g_batch_version.
inline Status CommitTxn(CommitLog* log, std::span<const std::string_view> recs,
                        const proto::SourceCheckpoint& cp) {
  if (g_batch_version == 1) return log->CommitTransaction(recs, cp).status();
  // Packed as the ingest workers pack them (RecordBuffer, BlockList).
  thread_local ingest::RecordBuffer records;
  thread_local ingest::BlockList blocks;
  thread_local std::string scratch;
  thread_local std::vector<std::string_view> views;
  records.Clear();
  blocks.Clear();
  for (size_t j = 0; j < recs.size(); ++j) {
    char txn[log_format::kMaxTxnField];
    const size_t n =
        log_format::EncodeTxnField(static_cast<uint32_t>(j), j + 1 == recs.size(), txn);
    if (!recs[j].ends_with(std::string_view(txn, n))) {
      return Status::Internal("a pool record does not end with its txn field");
    }
    records.Append(recs[j].substr(0, recs[j].size() - n));
    records.EndRecord();
  }
  blocks.Pack(records, 0, records.count(), true, &scratch);
  blocks.Views(blocks.size(), &views);
  return log->CommitBlocks(views, cp).status();
}

inline Pool MakePool(size_t n) {
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

inline void KeepBest(Figure* best, const Figure& f) {
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
inline void Quiesce() {
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    const double cpu0 = (UsageOf(RUSAGE_SELF) - UsageOf(RUSAGE_THREAD)).cpu;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if ((UsageOf(RUSAGE_SELF) - UsageOf(RUSAGE_THREAD)).cpu - cpu0 < 0.01) return;
  }
}

// A record a reader got: offset (or place in the stream) and bytes.
inline void Verify(const Pool& pool, uint64_t index, std::string_view got, const char* who) {
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

// sluice::Consumer::Fetch by offset from 0 to the end, `batch` records a
// time, every record checked; with `json`, each record also rendered as
// the JSON line `sluice tail` prints, as it renders it (the work a Kafka
// value costs the server).
inline Figure SluiceByOffset(Consumer& c, const Pool& pool, uint32_t batch, bool json = false) {
  Figure f;
  CpuMeter cpu;
  const auto t0 = Clock::now();
  uint64_t offset = 0;
  StoredRecordJson render;  // as `sluice tail` renders
  std::string line;
  size_t json_bytes = 0;
  while (offset < pool.size() && Clock::now() < t0 + kReaderTimeout) {
    auto got = c.Fetch(kDest, Offset(offset), {.max_records = batch, .max_bytes = 64u << 20});
    Check(got.status(), "Fetch");
    for (const auto& r : got->records()) {
      if (r.offset() != offset) Die("Fetch: offset " + std::to_string(r.offset()) + " misplaced");
      if (json) {
        line.clear();
        if (!render.Append(r.record(), JsonContext{offset, kDest}, &line)) {
          Die("Fetch: a record does not parse");
        }
        json_bytes += line.size();
      }
      Verify(pool, offset++, r.record(), "Fetch");
    }
    if (got->next_offset() != offset) Die("Fetch: next_offset does not follow the records");
  }
  const auto t1 = Clock::now();
  cpu.Stop(&f);
  if (json && json_bytes == 0) Die("no JSON rendered");
  if (offset == pool.size()) {
    f.seconds = Seconds(t1 - t0);
  } else {
    f.note = "timed out";
  }
  return f;
}

// The latency load on a sluice log: PacedWriter committing transactions of
// pool records; the stamp of the i-th record written is (*stamps)[i], taken
// just before its CommitTransaction (conservative); *failed on a commit
// error.
inline std::thread PacedLogWriter(CommitLog* log, const Pool& pool, size_t txns, Stamps* stamps,
                                  std::atomic<bool>* failed) {
  return PacedWriter(txns, [log, &pool, stamps, failed](size_t k) {
    std::string_view recs[kTxnRecords];
    for (size_t j = 0; j < kTxnRecords; ++j) recs[j] = pool.at((k * kTxnRecords + j) % pool.size());
    proto::SourceCheckpoint cp;
    cp.set_file("binlog.000002");
    cp.set_pos(4 + k);
    const int64_t now = Nanos(Clock::now());
    for (size_t j = 0; j < kTxnRecords; ++j) {
      (*stamps)[k * kTxnRecords + j].store(now, std::memory_order_release);
    }
    if (!CommitTxn(log, recs, cp).ok()) {
      failed->store(true);
      return false;
    }
    return true;
  });
}

// Waits for the latency writer and completes *l: every one of `total`
// records must have arrived (else a note, and no figure), sorted.
inline void FinishLatency(std::thread* writer, const std::atomic<bool>& failed, size_t total,
                          Latency* l) {
  writer->join();
  if (failed.load()) Die("the latency writer's CommitTransaction failed");
  if (l->ms.size() != total) {
    l->note = "got " + std::to_string(l->ms.size()) + " of " + std::to_string(total) + " records";
    l->ms.clear();
  }
  std::sort(l->ms.begin(), l->ms.end());
}

// Stores the whole pool in `log`, in transactions of kTxnRecords, synced.
inline void StorePool(CommitLog* log, const Pool& pool) {
  for (size_t i = 0; i < pool.size(); i += kTxnRecords) {
    std::string_view recs[kTxnRecords];
    for (size_t j = 0; j < kTxnRecords; ++j) recs[j] = pool.at(i + j);
    proto::SourceCheckpoint cp;
    cp.set_file("binlog.000001");
    cp.set_pos(4 + i);
    Check(CommitTxn(log, recs, cp), "commit");
  }
  Check(log->Sync(), "Sync");
}

// ---- the Redis peer (fetch_bench_redis.cc) --------------------------------------

using RedisPtr = std::unique_ptr<redisContext, decltype(&redisFree)>;
using ReplyPtr = std::unique_ptr<redisReply, decltype(&freeReplyObject)>;
// The redis-server on PATH ("" when there is none).
std::string FindInPath(const std::string& name);
// Starts redis-server (no persistence) on a free 127.0.0.1 port in `dir`:
// its port, or nullopt with *why. Sets g_redis; StopRedis() ends it.
std::optional<int> StartRedis(const testing::TempDir& dir, std::string* why);
RedisPtr RedisConnect(int port);
// One command; Die()s on a connection error.
ReplyPtr Command(redisContext* c, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// XADDs records [first, first + count) of `pool` to stream `key`,
// pipelined `window` at a time.
void RedisAdd(redisContext* c, const char* key, const Pool& pool, size_t first, size_t count,
              size_t window);
// The peers of SluiceByOffset, SluiceGroup and SluiceLatency.
Figure RedisXrange(redisContext* c, pid_t pid, const Pool& pool, uint32_t count);
Figure RedisGroup(redisContext* c, pid_t pid, const Pool& pool, uint32_t count,
                  const std::string& group);
Latency RedisLatency(int port, const Pool& pool, int seconds);

}  // namespace sluice::fetch_bench
