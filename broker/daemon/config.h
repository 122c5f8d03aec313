// sluiced's configuration: a TOML file (conf/*.toml documents every key).
// Unknown keys and values of the wrong type or range are errors that name
// the key ("destination[1].server_id: expected an integer in 1..4294967295").
//
// Config::inactive lists configured sections that are not in effect in
// this version (none today).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/types.h"

namespace sluice::daemon {

// How much of a destination's log to keep (docs/operations.md,
// "Retention"). Zero limits keep everything.
struct RetentionConfig {
  uint64_t max_age_ms = 0;      // retention_hours: older transactions go
  uint64_t max_bytes = 0;       // retention_bytes: the log's size as stored
  bool respects_groups = true;  // never remove what a consumer group has not acked
  bool enabled() const { return max_age_ms != 0 || max_bytes != 0; }
  bool operator==(const RetentionConfig&) const = default;
};

struct DestinationConfig {
  std::string name;
  std::string source;                // mysql://... or file:///...
  uint32_t server_id = 0;            // required for mysql:// sources
  std::string start = "earliest";    // earliest | latest | FILE:POS | GTID set
  std::vector<std::string> include;  // regexes over db.table
  std::vector<std::string> exclude;
  uint32_t ring_size = 256;
  uint32_t parse_threads = 2;
  uint32_t chunk_records = 10000;
  std::string wait = "blocking";  // blocking | yield | spin
  // "names": the source must log FULL row metadata (column names, keys,
  // ENUM/SET labels); a server that does not is refused at start.
  // "positions": accept any server; columns without names are keyed @N.
  std::string column_names = "names";
  // "stop": an event that does not decode stops the destination (it
  // restarts from the checkpoint and stops there again until fixed).
  // "skip": it is stored as an error record and ingest goes on.
  std::string on_undecodable = "stop";
  // "initial": an empty log begins with a snapshot of every included table
  // (docs/snapshots.md), and ingest starts at its position (`start` is
  // then unused). "never": only changes from `start` on.
  std::string snapshot = "never";
  uint32_t snapshot_chunk_rows = 10000;  // rows per snapshot chunk
  // [storage]'s retention_* unless the destination sets its own.
  RetentionConfig retention;
  bool operator==(const DestinationConfig&) const = default;
};

// [server]: the consumer protocol (docs/protocol.md).
struct ServerConfig {
  std::string listen;      // "" = no consumer server
  bool anonymous = false;  // unauthenticated read-only access
  uint32_t max_connections = 1024;
  uint32_t idle_timeout_ms = 300000;
  uint32_t frame_deadline_ms = 10000;
  uint32_t max_frame = 1u << 20;
  uint32_t max_output_bytes = 8u << 20;
  bool operator==(const ServerConfig&) const = default;
};

// [kafka]: Kafka's wire protocol (docs/kafka.md). Off unless the section
// is there.
struct KafkaConfig {
  std::string listen;      // "" = no Kafka listener; the section's default 127.0.0.1:9092
  std::string advertised;  // host:port Metadata names; "" = listen's
  uint32_t broker_id = 0;  // default: from the node id (stable, 31 bits)
  bool anonymous = false;  // reads without SASL/PLAIN (no groups)
  std::string value_format = "sluice";
  uint32_t max_connections = 1024;
  uint32_t idle_timeout_ms = 600000;
  uint32_t max_frame = 1u << 20;
  bool operator==(const KafkaConfig&) const = default;
};

// [[user]]: a consumer account; the password is the file's contents
// (trailing whitespace dropped), read at start.
struct UserConfig {
  std::string name;
  std::string password_file;  // relative paths: from the working directory
  bool operator==(const UserConfig&) const = default;
};

// [ha]: replication between a primary and its standbys (docs/replication.md).
struct HaConfig {
  bool configured = false;            // the section is there
  std::string cluster_id = "sluice";  // both ends must agree
  std::string listen;                 // standbys connect here ("" = none; a standby
                                      // needs it too to serve standbys once promoted)
  std::string primary;                // a standby's primary: its [ha] listen
  std::string mode = "async";         // sync | async
  uint32_t sync_replicas = 1;
  uint32_t sync_timeout_ms = 5000;
  std::string on_sync_timeout = "degrade";  // block | degrade
  std::string secret_file;                  // required: the shared secret, alone in the file
  uint32_t heartbeat_ms = 1000;
  bool standby_reads = true;  // a standby serves Fetch by offset (up to what it has)
  // The HA port before a peer proves the secret (docs/replication.md).
  uint32_t handshake_timeout_ms = 10000;  // the whole handshake, either side
  uint32_t max_pending_handshakes = 16;   // primary: unauthenticated connections at once
  uint32_t max_sessions = 0;              // primary: standby sessions at once; 0: 4 per destination
  // Sync mode: retention on the primary waits for a standby that is away
  // (even across the primary's restarts) until it has not reported for
  // this long; 0 never forgets one.
  uint32_t forget_standby_hours = 168;
  bool operator==(const HaConfig&) const = default;
};

struct Config {
  std::string node_id;
  std::string data_dir;
  Role role = Role::kPrimary;
  // A destination stopped by a permanent error (authentication, settings,
  // ...) tries again this often; SIGHUP tries at once.
  uint32_t failed_retry_seconds = 60;
  // Ingest pauses while a log's disk has less than this free (MiB; 0 turns
  // the guard off). See CommitLogOptions::min_free_bytes.
  uint32_t min_free_mb = 64;
  std::string admin_listen;  // "" = no admin listener
  ServerConfig server;
  KafkaConfig kafka;
  std::vector<UserConfig> users;
  std::string durability = "group";        // group | fsync (every commit)
  RetentionConfig retention;               // [storage] retention_*: every destination's default
  uint32_t retention_interval_ms = 30000;  // how often retention runs
  HaConfig ha;
  std::vector<DestinationConfig> destinations;
  std::vector<std::string> inactive;  // configured sections not in effect yet
  bool operator==(const Config&) const = default;
};

Result<Config> ParseConfig(std::string_view toml_text, std::string_view source_name);
// Every "section.key" ParseConfig asks for while it parses `toml_text`
// (asked whether present or not; a section the text lacks is not read).
// For the test that the example config lists every key.
std::set<std::string> ConfigKeysAsked(std::string_view toml_text);
Result<Config> LoadConfig(const std::string& path);

}  // namespace sluice::daemon
