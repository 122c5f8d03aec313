// kafka_fetch_bench: Kafka clients reading sluice over the Kafka port
// (docs/kafka.md). Stores N change records (fetch_bench's order-row inserts,
// in transactions of 10) in a CommitLog served in-process by both servers,
// the Kafka one and the native consumer one (each its own libuv thread),
// then, in the same run:
//
//   librdkafka        Debian's librdkafka (the C client under kcat,
//                     confluent-kafka and most other languages' clients):
//                     assign shop[0] at offset 0, rd_kafka_consumer_poll to
//                     the end; every offset checked, every 1000th value
//                     compared with the JSON line `sluice tail` prints
//   sluice native     sluice::Consumer::Fetch by offset, 10000 a time
//                     (fetch_bench's reader)
//   native + JSON     the same, each record then rendered as its JSON line
//                     (the Kafka value) by the client: the work a Kafka
//                     Fetch adds, over the native port
//   redis XRANGE      redis-server (Debian's, a child, no persistence)
//                     holding the same N payloads in a Stream, read with
//                     XRANGE COUNT 10000 by hiredis (fetch_bench's peer)
//   latency           a writer commits 10 records every millisecond for S
//                     seconds while librdkafka, assigned at the end, long
//                     polls (fetch.wait.max.ms 1000); a record's latency is
//                     its arrival in rd_kafka_consumer_poll minus the time
//                     just before its CommitTransaction
//
// CPU: the whole process's for the two sluice readers (server threads and
// client together: they share the process), the Redis child's plus the
// reading thread's for Redis.
//
//   kafka_fetch_bench [--records N] [--runs R] [--latency-seconds S] [--only READER]
//     defaults: --records 1000000 --runs 3 --latency-seconds 5
//     --only kafka|native|json|redis|latency: that reader alone (to profile it)
#include <librdkafka/rdkafka.h>

#include "bench/fetch_bench.h"
#include "broker/kafka/server.h"
#include "proto/record_json.h"

namespace {

using namespace sluice;
using namespace sluice::fetch_bench;

constexpr uint32_t kBatch = 10000;

// The JSON line of pool record i at offset i (what the Kafka value must be).
std::string JsonOf(const Pool& pool, uint64_t i) {
  proto::ChangeRecord r;
  const auto bytes = pool.at(i);
  if (!r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) Die("a pool record");
  return RecordToJson(r, JsonContext{i, kDest});
}

rd_kafka_t* NewConsumer(const std::string& bootstrap, int wait_ms) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const std::pair<const char*, std::string> settings[] = {
      {"bootstrap.servers", bootstrap},
      {"group.id", "kafka-fetch-bench"},  // librdkafka's assign() needs one; nothing is committed
      {"security.protocol", "SASL_PLAINTEXT"},
      {"sasl.mechanism", "PLAIN"},
      {"sasl.username", kUser},
      {"sasl.password", kPassword},
      {"enable.auto.commit", "false"},
      {"enable.partition.eof", "false"},
      {"fetch.wait.max.ms", std::to_string(wait_ms)},
      {"fetch.message.max.bytes", std::to_string(1 << 20)},
      {"log_level", "3"},
  };
  for (const auto& [k, v] : settings) {
    if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      Die(std::string("librdkafka ") + k + ": " + err);
    }
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk == nullptr) Die(std::string("rd_kafka_new: ") + err);
  rd_kafka_poll_set_consumer(rk);
  return rk;
}

void Assign(rd_kafka_t* rk, int64_t offset) {
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, kDest, 0)->offset = offset;
  if (rd_kafka_assign(rk, parts) != RD_KAFKA_RESP_ERR_NO_ERROR) Die("rd_kafka_assign");
  rd_kafka_topic_partition_list_destroy(parts);
}

void Close(rd_kafka_t* rk) {
  rd_kafka_assign(rk, nullptr);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
}

Figure Librdkafka(const std::string& bootstrap, const Pool& pool) {
  Figure f;
  rd_kafka_t* rk = NewConsumer(bootstrap, 100);
  const Usage u0 = UsageOf(RUSAGE_SELF);
  const auto t0 = Clock::now();
  Assign(rk, 0);
  uint64_t next = 0;
  while (next < pool.size() && Clock::now() < t0 + kReaderTimeout) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 1000);
    if (m == nullptr) continue;
    if (m->err) Die(std::string("librdkafka: ") + rd_kafka_message_errstr(m));
    if (static_cast<uint64_t>(m->offset) != next) {
      Die("librdkafka: offset " + std::to_string(m->offset) + " where " + std::to_string(next) +
          " was due");
    }
    if (next % 1000 == 0 &&
        std::string_view(static_cast<const char*>(m->payload), m->len) != JsonOf(pool, next)) {
      Die("librdkafka: the value at offset " + std::to_string(next) +
          " is not the record's JSON line");
    }
    ++next;
    rd_kafka_message_destroy(m);
  }
  const auto t1 = Clock::now();
  f.server = UsageOf(RUSAGE_SELF) - u0;  // the whole process: servers and client
  Close(rk);
  if (next == pool.size()) {
    f.seconds = Seconds(t1 - t0);
  } else {
    f.note = "timed out";
  }
  return f;
}

Latency KafkaLatency(CommitLog* log, const std::string& bootstrap, const Pool& pool, int seconds) {
  const uint64_t base = log->HighWatermark().value();
  const size_t txns = static_cast<size_t>(seconds) * kLatencyRate / kTxnRecords;
  const size_t total = txns * kTxnRecords;
  Stamps stamps(total);
  rd_kafka_t* rk = NewConsumer(bootstrap, 1000);
  Assign(rk, static_cast<int64_t>(base));
  // The consumer is fetching (parked at the end) before the writer starts.
  for (int i = 0; i < 20; ++i) rd_kafka_consumer_poll(rk, 50);
  std::atomic<bool> failed{false};
  std::thread writer = PacedLogWriter(log, pool, txns, &stamps, &failed);
  Latency l;
  uint64_t next = base;
  const auto deadline = Clock::now() + std::chrono::seconds(seconds + 30);
  while (next < base + total && !failed.load() && Clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    const int64_t now = Nanos(Clock::now());
    if (m->err) Die(std::string("librdkafka: ") + rd_kafka_message_errstr(m));
    if (static_cast<uint64_t>(m->offset) != next++) Die("librdkafka: records out of order");
    const int64_t stamp = stamps[m->offset - base].load(std::memory_order_acquire);
    l.ms.push_back((now - stamp) / 1e6);
    rd_kafka_message_destroy(m);
  }
  FinishLatency(&writer, failed, total, &l);
  Close(rk);
  return l;
}

}  // namespace

int main(int argc, char** argv) {
  size_t records = 1000000;
  int runs = 3;
  int latency_seconds = 5;
  std::string only;
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
                   "usage: kafka_fetch_bench [--records N] [--runs R] [--latency-seconds S] "
                   "[--only kafka|native|json|redis|latency]\n");
      return 2;
    }
  }
  if (records < kTxnRecords || records % kTxnRecords != 0 || runs < 1 || latency_seconds < 1) {
    Die("--records must be a positive multiple of 10, --runs and --latency-seconds >= 1");
  }
  auto want = [&](const char* reader) { return only.empty() || only == reader; };
  signal(SIGPIPE, SIG_IGN);
  testing::TempDir dir;
  std::string redis_why = "not run (--only " + only + ")";
  std::optional<int> redis_port;
  if (want("redis")) redis_port = StartRedis(dir, &redis_why);

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
  service.SetRole(Role::kPrimary, "");
  consumer::ServerOptions opts;
  opts.listen = "127.0.0.1:0";
  opts.users[kUser] = auth::PasswordKey(kPassword);
  auto server = consumer::ConsumerServer::Start(opts, &service);
  Check(server.status(), "start the consumer server");
  kafka::KafkaOptions ko;
  ko.listen = "127.0.0.1:0";
  ko.users[kUser] = auth::PasswordKey(kPassword);
  auto kafka_server = kafka::KafkaServer::Start(ko, &service);
  Check(kafka_server.status(), "start the Kafka server");
  service.AddDestination(kDest, log->get());
  const std::string bootstrap = "127.0.0.1:" + std::to_string((*kafka_server)->port());

  StorePool(log->get(), pool);
  RedisPtr redis(nullptr, &redisFree);
  if (redis_port) {
    redis = RedisConnect(*redis_port);
    if (!redis) Die("cannot connect to redis-server");
    RedisAdd(redis.get(), "records", pool, 0, records, 1000);
  }
  ConsumerOptions co;
  co.brokers = {"127.0.0.1:" + std::to_string((*server)->port())};
  co.user = kUser;
  co.password = kPassword;
  co.client = "kafka_fetch_bench";
  co.io_timeout_ms = 60000;
  auto consumer = Consumer::Open(co);
  Check(consumer.status(), "open the consumer");
  Check((*consumer)->Connect(), "connect the consumer");

  Figure kafka, native, native_json, xrange;
  for (int run = 0; run < runs; ++run) {
    std::printf("run %d of %d: librdkafka, sluice native (and + JSON), redis XRANGE...\n", run + 1,
                runs);
    std::fflush(stdout);
    if (want("kafka")) {
      Quiesce();
      KeepBest(&kafka, Librdkafka(bootstrap, pool));
    }
    if (want("native")) {
      Quiesce();
      const Usage u0 = UsageOf(RUSAGE_SELF);
      Figure n = SluiceByOffset(**consumer, pool, kBatch);
      n.server = UsageOf(RUSAGE_SELF) - u0;
      KeepBest(&native, n);
    }
    if (want("json")) {
      Quiesce();
      const Usage u0 = UsageOf(RUSAGE_SELF);
      Figure n = SluiceByOffset(**consumer, pool, kBatch, /*json=*/true);
      n.server = UsageOf(RUSAGE_SELF) - u0;
      KeepBest(&native_json, n);
    }
    if (redis) {
      Figure x = RedisXrange(redis.get(), g_redis, pool, kBatch);
      x.server.cpu += x.client.cpu;
      KeepBest(&xrange, x);
    }
  }
  Latency lat;
  if (want("latency")) {
    std::printf("latency: %d s of %d records/s...\n", latency_seconds, kLatencyRate);
    std::fflush(stdout);
    Quiesce();
    lat = KafkaLatency(log->get(), bootstrap, pool, latency_seconds);
  } else {
    lat.note = "not run";
  }

  redis.reset();
  StopRedis();
  consumer->reset();
  (*kafka_server)->Stop();
  (*server)->Stop();

  const double mb = pool.bytes.size() / 1e6;
  std::printf(
      "\n%zu records (%.1f MB as stored records; the Kafka values are their JSON lines), "
      "loopback 127.0.0.1, %u cores, best of %d\n\n",
      records, mb, std::thread::hardware_concurrency(), runs);
  std::printf("| reader | seconds | records/s | CPU s (servers + client) |\n|---|---|---|---|\n");
  auto line = [&](const char* name, const Figure& f, const std::string& missing) {
    if (!f.ok()) {
      std::printf("| %s (%s) | - | - | - |\n", name, (f.note.empty() ? missing : f.note).c_str());
      return;
    }
    std::printf("| %s | %.3f | %.2fM | %.2f |\n", name, f.seconds, records / f.seconds / 1e6,
                f.server.cpu);
  };
  line("librdkafka over the Kafka port", kafka, "not run");
  line("sluice::Consumer over the native port (Fetch 10000)", native, "not run");
  line("the same + each record's JSON line (the Kafka value)", native_json, "not run");
  line("redis-server XRANGE COUNT 10000 (hiredis)", xrange, "peer not measured: " + redis_why);
  std::printf("\n| latency | records | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|\n");
  if (lat.ok()) {
    std::printf("| librdkafka, fetch.wait.max.ms 1000, %d records/s | %zu | %.3f | %.3f | %.3f |\n",
                kLatencyRate, lat.ms.size(), lat.At(0.5), lat.At(0.99), lat.ms.back());
  } else {
    std::printf("| librdkafka (%s) | - | - | - | - |\n", lat.note.c_str());
  }

  auto rate = [&](const Figure& f) { return f.ok() ? records / f.seconds : 0.0; };
  std::printf("\n| goal | measured | |\n|---|---|---|\n");
  std::printf("| librdkafka >= 1M records/s | %.2fM | %s |\n", rate(kafka) / 1e6,
              rate(kafka) >= 1e6 ? "met" : "not met");
  if (native.ok() && kafka.ok()) {
    const double x = rate(kafka) / rate(native);
    std::printf("| >= 70%% of the native fetch | %.0f%% | %s |\n", 100 * x,
                x >= 0.7 ? "met" : "not met");
  }
  if (native_json.ok() && kafka.ok()) {
    const double x = rate(kafka) / rate(native_json);
    std::printf("| (proposed) >= 70%% of native + JSON | %.0f%% | %s |\n", 100 * x,
                x >= 0.7 ? "met" : "not met");
  }
  if (xrange.ok() && kafka.ok()) {
    const double x = rate(kafka) / rate(xrange);
    std::printf("| >= 1.5x Redis XRANGE | %.2fx | %s |\n", x, x >= 1.5 ? "met" : "not met");
  }
  if (lat.ok()) {
    std::printf("| p99 commit-to-consumer < 5 ms | %.3f ms | %s |\n", lat.At(0.99),
                lat.At(0.99) < 5 ? "met" : "not met");
  }
  return (!want("kafka") || kafka.ok()) && (!want("native") || native.ok()) &&
                 (!want("latency") || lat.ok())
             ? 0
             : 1;
}
