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
//     --batch-version V    2 (default): store records as ingest does, in LZ4
//                          blocks without their txn field, which Read
//                          appends; 1: whole records, uncompressed batches
#include "bench/fetch_bench.h"

namespace {

using namespace sluice;
using namespace sluice::fetch_bench;

// ---- sluice -------------------------------------------------------------------

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
  std::thread writer = PacedLogWriter(log, pool, txns, &stamps, &failed);

  Latency l;
  uint64_t offset = base;
  const auto deadline = Clock::now() + std::chrono::seconds(seconds) + std::chrono::seconds(30);
  while (offset < base + total && !failed.load() && Clock::now() < deadline) {
    auto got = c.Fetch(kDest, Offset(offset), {.max_records = 1000, .wait_ms = kWaitMs});
    const int64_t now = Nanos(Clock::now());
    Check(got.status(), "Fetch (long poll)");
    for (const auto& r : got->records()) {
      if (r.offset() != offset++) Die("Fetch (long poll): records out of order");
      const int64_t stamp = stamps[r.offset() - base].load(std::memory_order_acquire);
      l.ms.push_back((now - stamp) / 1e6);
    }
    offset = got->next_offset();
  }
  FinishLatency(&writer, failed, total, &l);
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
    } else if (std::strcmp(argv[i], "--batch-version") == 0 && i + 1 < argc) {
      g_batch_version = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: fetch_bench [--records N] [--runs R] [--latency-seconds S] "
                   "[--only offset|group|redis|latency] [--batch-version 1|2]\n");
      return 2;
    }
  }
  if (records < kTxnRecords || records % kTxnRecords != 0 || runs < 1 || latency_seconds < 1) {
    Die("--records must be a positive multiple of 10, --runs and --latency-seconds >= 1");
  }
  if (g_batch_version != 1 && g_batch_version != 2) Die("--batch-version takes 1 or 2");
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
  StorePool(log->get(), pool);
  std::printf("stored %zu records (%.1f MB) in the commit log (batch version %d) in %.2f s\n",
              records, pool.bytes.size() / 1e6, g_batch_version, Seconds(Clock::now() - t0));

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
