// KafkaServer: Kafka's wire protocol on a port of its own (docs/kafka.md),
// so that Kafka clients in any language read sluice's destinations: each
// destination is a topic of one partition (0), a Kafka offset is a sluice
// offset, a record's value the JSON line `sluice tail` prints, its key the
// JSON of its primary key, and a consumer group's committed offset its
// sluice group cursor (replicated, so it survives failover).
//
// The same connection machinery as the consumer protocol
// (net::FrameServer: one libuv loop thread, limits, long polls woken by
// commits); a second dispatch, broker/kafka/session.cc, decodes each
// request (non-flexible versions, as librdkafka's mock broker sizes them)
// and serves it on the ConsumerService. Group membership (JoinGroup and
// the rest) is the loop thread's GroupCoordinator.
//
//   KafkaOptions o;  o.listen = "127.0.0.1:0";
//   auto server = KafkaServer::Start(o, &service);
//   ... kcat -C -b 127.0.0.1:(*server)->port() -t shop ...
//
// Access: SASL/PLAIN over the [[user]] accounts (users), or, with
// `anonymous`, reads without SASL (Metadata, ListOffsets, Fetch; no
// groups, as the native protocol's anonymous access).
//
// Thread safety: Start and Stop from one thread; port() and stats() from
// any.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "broker/consumer/service.h"
#include "broker/kafka/groups.h"
#include "broker/net/frame_server.h"

namespace sluice::kafka {

// A record's value: the JSON line `sluice tail` prints, or for row
// changes Debezium's MySQL envelope (debezium.h).
enum class ValueFormat { kSluice, kDebezium };

struct KafkaOptions {
  std::string listen = "127.0.0.1:9092";
  // host:port that Metadata and FindCoordinator name; "" = listen's (with
  // the port listen bound).
  std::string advertised;
  int32_t broker_id = 0;
  std::string cluster_id = "sluice";
  ValueFormat value_format = ValueFormat::kSluice;
  // Access: user name -> auth::PasswordKey(password), proven by SASL/PLAIN.
  std::map<std::string, std::string> users;
  bool anonymous = false;  // reads without SASL
  GroupLimits groups;
  // On a standby: the primary's broker id and address, when known. Metadata
  // names it as the partitions' leader and FindCoordinator as the
  // coordinator, so clients move to it. Called on the loop thread.
  std::function<std::optional<std::pair<int32_t, std::string>>()> primary;
  // On a primary: its standbys' broker ids and addresses, which Metadata
  // lists as brokers too, so that a client that keeps only Metadata's
  // brokers (kafka-python) still knows the node it must move to after a
  // failover. Called on the loop thread.
  std::function<std::vector<std::pair<int32_t, std::string>>()> standbys;
  // Limits (net::FrameServerOptions).
  uint32_t max_frame = 1u << 20;
  uint32_t max_connections = 1024;
  uint32_t idle_timeout_ms = 600000;  // Kafka's connections.max.idle.ms
  uint32_t frame_deadline_ms = 10000;
  uint32_t max_output_bytes = 64u << 20;
  uint32_t max_wait_ms = 60000;         // of a parked Fetch, JoinGroup or SyncGroup
  uint32_t max_fetch_bytes = 52428800;  // caps a Fetch's max_bytes (Kafka's default)
};

struct KafkaStats : net::FrameServerStats {
  std::atomic<uint64_t> auth_failures{0};
  std::atomic<uint64_t> records_out{0};
  std::atomic<uint64_t> unsupported_requests{0};  // unknown API key or version: closed
};

class KafkaServer {
 public:
  static Result<std::unique_ptr<KafkaServer>> Start(const KafkaOptions& options,
                                                    consumer::ConsumerService* service);
  ~KafkaServer();
  KafkaServer(const KafkaServer&) = delete;
  KafkaServer& operator=(const KafkaServer&) = delete;

  int port() const { return frames_->port(); }
  const KafkaStats& stats() const { return stats_; }
  // Closes every connection, joins the loop thread. Returns uv_loop_close's
  // result (0: no handle left open). Idempotent.
  int Stop();

 private:
  KafkaServer() = default;
  KafkaStats stats_;
  std::unique_ptr<net::Protocol> protocol_;
  std::unique_ptr<net::FrameServer> frames_;
};

}  // namespace sluice::kafka
