// Settings of a node's replication ([ha] in the config, conf/primary.toml).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sluice::ha {

// The largest frame either end accepts before the other has proven the HA
// secret (hello, challenge, auth, accept, refuse). The biggest of them are
// auth and accept, which carry an epoch history of ~20 bytes per epoch:
// 64 KiB holds thousands of failovers, and a peer that has proven nothing
// can make us buffer no more than this (max_frame applies after the proof).
constexpr uint32_t kHandshakeMaxFrame = 64u << 10;

struct HaOptions {
  std::string cluster_id = "sluice";  // both ends must have the same
  std::string node_id;
  std::string secret_key;        // auth::PasswordKey(the shared secret)
  std::string listen;            // primary: "IPv4:PORT" standbys connect to
  std::string primary;           // standby: the primary's listen address
  std::string consumer_address;  // primary: its consumer server, for standbys' hints
  std::string kafka_address;     // primary: its Kafka listener (advertised), for standbys'
  int32_t kafka_broker_id = 0;   //   Metadata answers

  // Durability (docs/replication.md, "Durability").
  bool sync = false;  // mode = "sync"
  uint32_t sync_replicas = 1;
  uint32_t sync_timeout_ms = 5000;
  bool degrade_on_timeout = true;  // on_sync_timeout = "degrade" (else "block")

  uint32_t heartbeat_ms = 1000;          // idle frames and reports, both ways
  uint32_t dead_after_ms = 10000;        // a peer silent this long is gone
  size_t max_data_bytes = 4 << 20;       // of batches per data frame
  size_t max_inflight_bytes = 64 << 20;  // sent but not yet reported by the standby
  uint32_t max_frame = 256u << 20;       // a batch holds at least one record, however large
  // The HA port before the proof (docs/replication.md, "Before the proof").
  uint32_t handshake_timeout_ms = 10000;  // for the whole handshake, from accept / connect
  uint32_t max_pending_handshakes = 16;   // primary: unauthenticated peers at once; more are closed
  uint32_t max_sessions = 0;              // primary: standby sessions at once; 0: 4 per destination
  int backoff_initial_ms = 100;           // standby reconnects
  int backoff_max_ms = 5000;
};

}  // namespace sluice::ha
