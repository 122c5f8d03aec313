#include "broker/daemon/config.h"

#include <cctype>
#include <cmath>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "broker/binlog/mysql_source.h"

namespace sluice::daemon {
namespace {

// "10GiB", "500 MB", "4096": nullopt when malformed or 2^64 or more.
std::optional<uint64_t> ParseByteSize(std::string_view s) {
  size_t i = 0;
  uint64_t n = 0;
  for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i) {
    if (__builtin_mul_overflow(n, 10u, &n) || __builtin_add_overflow(n, uint64_t(s[i] - '0'), &n)) {
      return std::nullopt;
    }
  }
  if (i == 0) return std::nullopt;
  while (i < s.size() && s[i] == ' ') ++i;
  std::string unit;
  for (; i < s.size(); ++i)
    unit += static_cast<char>(std::tolower(static_cast<unsigned char>(s[i])));
  static const std::pair<const char*, uint64_t> kUnits[] = {{"", 1},
                                                            {"b", 1},
                                                            {"kb", 1000},
                                                            {"mb", 1'000'000},
                                                            {"gb", 1'000'000'000},
                                                            {"tb", 1'000'000'000'000},
                                                            {"kib", 1ull << 10},
                                                            {"mib", 1ull << 20},
                                                            {"gib", 1ull << 30},
                                                            {"tib", 1ull << 40}};
  for (const auto& [name, factor] : kUnits) {
    if (unit != name) continue;
    uint64_t v = 0;
    if (__builtin_mul_overflow(n, factor, &v)) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

// Where ParseConfig records every key it asks for (ConfigKeysAsked).
thread_local std::set<std::string>* tl_keys_asked = nullptr;

// Reads typed keys of one TOML table and reports every key it did not ask
// for as unknown.
class Table {
 public:
  Table(const toml::table* t, std::string path) : t_(t), path_(std::move(path)) {}

  Status Str(std::string_view key, std::string* out, bool required = false) {
    Ask(key);
    const toml::node* n = t_ ? t_->get(key) : nullptr;
    if (n == nullptr) return required ? Missing(key) : Status::Ok();
    if (!n->is_string()) return Bad(key, "expected a string");
    *out = n->as_string()->get();
    return Status::Ok();
  }
  Status Uint(std::string_view key, uint32_t* out, uint64_t lo, uint64_t hi,
              bool required = false) {
    Ask(key);
    const toml::node* n = t_ ? t_->get(key) : nullptr;
    if (n == nullptr) return required ? Missing(key) : Status::Ok();
    if (!n->is_integer()) return Bad(key, "expected an integer");
    int64_t v = n->as_integer()->get();
    if (v < 0 || static_cast<uint64_t>(v) < lo || static_cast<uint64_t>(v) > hi) {
      return Bad(key, "expected an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
    }
    *out = static_cast<uint32_t>(v);
    return Status::Ok();
  }
  Status Bool(std::string_view key, bool* out) {
    Ask(key);
    const toml::node* n = t_ ? t_->get(key) : nullptr;
    if (n == nullptr) return Status::Ok();
    if (!n->is_boolean()) return Bad(key, "expected true or false");
    *out = n->as_boolean()->get();
    return Status::Ok();
  }
  // A number of hours (integer or fractional), as milliseconds.
  Status Hours(std::string_view key, uint64_t* ms) {
    Ask(key);
    const toml::node* n = t_ ? t_->get(key) : nullptr;
    if (n == nullptr) return Status::Ok();
    constexpr double kMaxHours = 876000;  // 100 years
    const std::string range =
        "expected a number of hours in 0.." + std::to_string(int(kMaxHours)) + " (0 keeps forever)";
    double h = 0;
    if (n->is_integer()) {
      const int64_t v = n->as_integer()->get();
      if (v < 0 || v > kMaxHours) return Bad(key, range);
      h = static_cast<double>(v);
    } else if (n->is_floating_point()) {
      h = n->as_floating_point()->get();
      if (!std::isfinite(h) || h < 0 || h > kMaxHours) return Bad(key, range);
    } else {
      return Bad(key, range);
    }
    *ms = static_cast<uint64_t>(std::llround(h * 3600000.0));
    if (h > 0 && *ms == 0) *ms = 1;  // a tiny positive age still turns retention on
    return Status::Ok();
  }
  // A byte count: an integer, or a string with a unit ("10GiB", "500 MB").
  Status Bytes(std::string_view key, uint64_t* out) {
    Ask(key);
    const toml::node* n = t_ ? t_->get(key) : nullptr;
    if (n == nullptr) return Status::Ok();
    if (n->is_integer()) {
      const int64_t v = n->as_integer()->get();
      if (v < 0) return Bad(key, "must not be negative (0 is no limit)");
      *out = static_cast<uint64_t>(v);
      return Status::Ok();
    }
    if (!n->is_string())
      return Bad(key, "expected a byte count: an integer or a string like \"10GiB\"");
    auto bytes = ParseByteSize(n->as_string()->get());
    if (!bytes) {
      return Bad(key, "'" + n->as_string()->get() +
                          "' is not a byte count below 2^64: digits, then an optional unit B, KB, "
                          "MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024)");
    }
    *out = *bytes;
    return Status::Ok();
  }
  Status Strings(std::string_view key, std::vector<std::string>* out) {
    Ask(key);
    const toml::node* n = t_ ? t_->get(key) : nullptr;
    if (n == nullptr) return Status::Ok();
    if (!n->is_array()) return Bad(key, "expected an array of strings");
    out->clear();
    for (const auto& e : *n->as_array()) {
      if (!e.is_string()) return Bad(key, "expected an array of strings");
      out->push_back(e.as_string()->get());
    }
    return Status::Ok();
  }
  Status OneOf(std::string_view key, std::string* out, std::initializer_list<const char*> allowed) {
    SLUICE_RETURN_IF_ERROR(Str(key, out));
    for (const char* a : allowed)
      if (*out == a) return Status::Ok();
    std::string list;
    for (const char* a : allowed) list += std::string(list.empty() ? "" : " | ") + a;
    return Bad(key, "'" + *out + "' is not one of " + list);
  }
  // Every key of the table was asked for.
  Status NoUnknownKeys() const {
    if (t_ == nullptr) return Status::Ok();
    for (const auto& [k, v] : *t_) {
      if (!seen_.count(std::string(k.str()))) {
        return Status::InvalidArgument(Key(k.str()) + ": unknown key");
      }
    }
    return Status::Ok();
  }
  std::string Key(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  Status Bad(std::string_view key, const std::string& why) const {
    return Status::InvalidArgument(Key(key) + ": " + why);
  }

 private:
  void Ask(std::string_view key) {
    seen_.insert(std::string(key));
    if (tl_keys_asked != nullptr) {
      // "user[0]" and "destination[1]" are "user" and "destination".
      tl_keys_asked->insert(path_.substr(0, path_.find('[')) + "." + std::string(key));
    }
  }
  Status Missing(std::string_view key) const {
    return Status::InvalidArgument(Key(key) + ": required");
  }
  const toml::table* t_;
  std::string path_;
  std::set<std::string> seen_;
};

// The retention_* keys of [storage] or of a destination; `r` starts as the
// defaults and keeps what the table leaves out.
Status ParseRetention(Table* t, RetentionConfig* r) {
  SLUICE_RETURN_IF_ERROR(t->Hours("retention_hours", &r->max_age_ms));
  SLUICE_RETURN_IF_ERROR(t->Bytes("retention_bytes", &r->max_bytes));
  SLUICE_RETURN_IF_ERROR(t->Bool("retention_respects_groups", &r->respects_groups));
  return Status::Ok();
}

const toml::table* SubTable(const toml::table& root, std::string_view key, Status* st) {
  const toml::node* n = root.get(key);
  if (n == nullptr) return nullptr;
  if (!n->is_table()) *st = Status::InvalidArgument(std::string(key) + ": expected a [table]");
  return n->as_table();
}

Status ParseDestination(const toml::node& node, size_t i, Config* c) {
  std::string path = "destination[" + std::to_string(i) + "]";
  if (!node.is_table()) return Status::InvalidArgument(path + ": expected a [[destination]] table");
  Table t(node.as_table(), path);
  DestinationConfig d;
  SLUICE_RETURN_IF_ERROR(t.Str("name", &d.name, true));
  SLUICE_RETURN_IF_ERROR(t.Str("source", &d.source, true));
  SLUICE_RETURN_IF_ERROR(t.Uint("server_id", &d.server_id, 1, 4294967295u));
  SLUICE_RETURN_IF_ERROR(t.Str("start", &d.start));
  SLUICE_RETURN_IF_ERROR(t.Strings("include", &d.include));
  SLUICE_RETURN_IF_ERROR(t.Strings("exclude", &d.exclude));
  SLUICE_RETURN_IF_ERROR(t.Uint("ring_size", &d.ring_size, 2, 1u << 22));
  SLUICE_RETURN_IF_ERROR(t.Uint("parse_threads", &d.parse_threads, 1, 64));
  SLUICE_RETURN_IF_ERROR(t.Uint("chunk_records", &d.chunk_records, 1, 10000000));
  SLUICE_RETURN_IF_ERROR(t.OneOf("wait", &d.wait, {"blocking", "yield", "spin"}));
  SLUICE_RETURN_IF_ERROR(t.OneOf("column_names", &d.column_names, {"names", "positions"}));
  SLUICE_RETURN_IF_ERROR(t.OneOf("on_undecodable", &d.on_undecodable, {"stop", "skip"}));
  SLUICE_RETURN_IF_ERROR(t.OneOf("snapshot", &d.snapshot, {"never", "initial"}));
  SLUICE_RETURN_IF_ERROR(t.Uint("snapshot_chunk_rows", &d.snapshot_chunk_rows, 1, 1000000));
  d.retention = c->retention;
  SLUICE_RETURN_IF_ERROR(ParseRetention(&t, &d.retention));
  SLUICE_RETURN_IF_ERROR(t.NoUnknownKeys());
  if (!std::regex_match(d.name, std::regex("[A-Za-z0-9_-]{1,64}"))) {
    return t.Bad("name", "'" + d.name + "' must be 1-64 letters, digits, '_' or '-'");
  }
  if ((d.ring_size & (d.ring_size - 1)) != 0) {
    return t.Bad("ring_size", std::to_string(d.ring_size) + " is not a power of two");
  }
  if (!d.source.starts_with("mysql://") && !d.source.starts_with("file:///")) {
    return t.Bad("source", "expected mysql://user:password@host:port or file:///dir");
  }
  if (d.snapshot == "initial" && !d.source.starts_with("mysql://")) {
    return t.Bad("snapshot", "\"initial\" needs a mysql:// source (a snapshot reads the tables)");
  }
  if (d.source.starts_with("mysql://") && d.server_id == 0) {
    return t.Bad("server_id",
                 "required for a mysql:// source (unique among the server's replicas)");
  }
  // A typo in the URL or the start would otherwise only show when the
  // destination opens, as an endless retry.
  if (d.source.starts_with("mysql://")) {
    if (auto url = binlog::ParseMysqlUrl(d.source); !url.ok()) {
      return t.Bad("source", url.status().message());  // never holds the password
    }
  }
  auto start = binlog::MysqlStart::Parse(d.start);
  if (!start.ok()) return t.Bad("start", start.status().message());
  const bool gtid_start = start->kind == binlog::MysqlStart::Kind::kMysqlGtid ||
                          start->kind == binlog::MysqlStart::Kind::kMariadbGtid;
  if (gtid_start && d.source.starts_with("file://")) {
    return t.Bad("start", "'" + d.start + "' is a GTID start; a file:// source takes FILE:POS");
  }
  for (const auto* list : {&d.include, &d.exclude}) {
    for (const auto& re : *list) {
      try {
        std::regex test(re);
      } catch (const std::regex_error& e) {
        return t.Bad(list == &d.include ? "include" : "exclude", "'" + re + "': " + e.what());
      }
    }
  }
  for (const auto& other : c->destinations) {
    if (other.name == d.name) return t.Bad("name", "'" + d.name + "' is used twice");
  }
  c->destinations.push_back(std::move(d));
  return Status::Ok();
}

Status ParseServer(const toml::table& root, Config* c) {
  Status st;
  if (const toml::table* s = SubTable(root, "server", &st)) {
    Table t(s, "server");
    ServerConfig& sc = c->server;
    SLUICE_RETURN_IF_ERROR(t.Str("listen", &sc.listen, true));
    SLUICE_RETURN_IF_ERROR(t.Bool("anonymous", &sc.anonymous));
    SLUICE_RETURN_IF_ERROR(t.Uint("max_connections", &sc.max_connections, 1, 1000000));
    SLUICE_RETURN_IF_ERROR(t.Uint("idle_timeout_ms", &sc.idle_timeout_ms, 100, 86400000));
    SLUICE_RETURN_IF_ERROR(t.Uint("frame_deadline_ms", &sc.frame_deadline_ms, 100, 3600000));
    SLUICE_RETURN_IF_ERROR(t.Uint("max_frame", &sc.max_frame, 4096, 1u << 30));
    SLUICE_RETURN_IF_ERROR(t.Uint("max_output_bytes", &sc.max_output_bytes, 65536, 1u << 30));
    SLUICE_RETURN_IF_ERROR(t.NoUnknownKeys());
    if (sc.listen.empty())
      return t.Bad("listen", "must not be empty (leave [server] out for no server)");
  }
  SLUICE_RETURN_IF_ERROR(st);
  if (const toml::node* users = root.get("user")) {
    if (!users->is_array_of_tables())
      return Status::InvalidArgument("user: expected [[user]] tables");
    size_t i = 0;
    std::set<std::string> names;
    for (const auto& u : *users->as_array()) {
      Table t(u.as_table(), "user[" + std::to_string(i++) + "]");
      UserConfig uc;
      SLUICE_RETURN_IF_ERROR(t.Str("name", &uc.name, true));
      SLUICE_RETURN_IF_ERROR(t.Str("password_file", &uc.password_file, true));
      SLUICE_RETURN_IF_ERROR(t.NoUnknownKeys());
      if (uc.name.empty()) return t.Bad("name", "must not be empty");
      if (!names.insert(uc.name).second)
        return t.Bad("name", "'" + uc.name + "' is a user already");
      c->users.push_back(std::move(uc));
    }
  }
  if (!c->server.listen.empty() && c->users.empty() && !c->server.anonymous) {
    return Status::InvalidArgument(
        "server: no [[user]] and anonymous = false, so no consumer could connect; add a [[user]] "
        "or set anonymous = true");
  }
  return Status::Ok();
}

// A broker id from the node id: FNV-1a, kept to 31 bits (Kafka's ids are
// non-negative int32s). Two nodes of a pair get different ids.
uint32_t BrokerIdOf(const std::string& node_id) {
  uint32_t h = 2166136261u;
  for (unsigned char ch : node_id) h = (h ^ ch) * 16777619u;
  return h & 0x7fffffffu;
}

Status ParseKafka(const toml::table& root, Config* c) {
  Status st;
  if (const toml::table* k = SubTable(root, "kafka", &st)) {
    Table t(k, "kafka");
    KafkaConfig& kc = c->kafka;
    kc.listen = "127.0.0.1:9092";
    kc.broker_id = BrokerIdOf(c->node_id);
    SLUICE_RETURN_IF_ERROR(t.Str("listen", &kc.listen));
    SLUICE_RETURN_IF_ERROR(t.Str("advertised", &kc.advertised));
    SLUICE_RETURN_IF_ERROR(t.Uint("broker_id", &kc.broker_id, 0, 0x7fffffff));
    SLUICE_RETURN_IF_ERROR(t.Bool("anonymous", &kc.anonymous));
    SLUICE_RETURN_IF_ERROR(t.OneOf("value_format", &kc.value_format, {"sluice", "debezium"}));
    SLUICE_RETURN_IF_ERROR(t.Uint("max_connections", &kc.max_connections, 1, 1000000));
    SLUICE_RETURN_IF_ERROR(t.Uint("idle_timeout_ms", &kc.idle_timeout_ms, 100, 86400000));
    SLUICE_RETURN_IF_ERROR(t.Uint("max_frame", &kc.max_frame, 4096, 1u << 30));
    SLUICE_RETURN_IF_ERROR(t.NoUnknownKeys());
    if (kc.listen.empty())
      return t.Bad("listen", "must not be empty (leave [kafka] out for no Kafka listener)");
    if (c->users.empty() && !kc.anonymous) {
      return t.Bad("anonymous",
                   "is false and there is no [[user]] for SASL/PLAIN, so no client could read; add "
                   "a [[user]] or set anonymous = true");
    }
  }
  return st;
}

// [ha]: replication. A standby needs its primary; both need the secret.
Status ParseHa(const toml::table& root, Config* c) {
  Status st;
  if (const toml::table* h = SubTable(root, "ha", &st)) {
    Table t(h, "ha");
    HaConfig& ha = c->ha;
    ha.configured = true;
    SLUICE_RETURN_IF_ERROR(t.Str("cluster_id", &ha.cluster_id));
    SLUICE_RETURN_IF_ERROR(t.Str("listen", &ha.listen));
    SLUICE_RETURN_IF_ERROR(t.Str("primary", &ha.primary));
    SLUICE_RETURN_IF_ERROR(t.OneOf("mode", &ha.mode, {"sync", "async"}));
    SLUICE_RETURN_IF_ERROR(t.Uint("sync_replicas", &ha.sync_replicas, 1, 16));
    SLUICE_RETURN_IF_ERROR(t.Uint("sync_timeout_ms", &ha.sync_timeout_ms, 1, 3600000));
    SLUICE_RETURN_IF_ERROR(t.OneOf("on_sync_timeout", &ha.on_sync_timeout, {"block", "degrade"}));
    SLUICE_RETURN_IF_ERROR(t.Str("secret_file", &ha.secret_file));
    SLUICE_RETURN_IF_ERROR(t.Uint("heartbeat_ms", &ha.heartbeat_ms, 10, 60000));
    SLUICE_RETURN_IF_ERROR(t.Bool("standby_reads", &ha.standby_reads));
    SLUICE_RETURN_IF_ERROR(t.Uint("handshake_timeout_ms", &ha.handshake_timeout_ms, 100, 600000));
    SLUICE_RETURN_IF_ERROR(t.Uint("max_pending_handshakes", &ha.max_pending_handshakes, 1, 4096));
    SLUICE_RETURN_IF_ERROR(t.Uint("max_sessions", &ha.max_sessions, 0, 65536));
    SLUICE_RETURN_IF_ERROR(t.Uint("forget_standby_hours", &ha.forget_standby_hours, 0, 87600));
    SLUICE_RETURN_IF_ERROR(t.NoUnknownKeys());
    if (ha.cluster_id.empty()) return t.Bad("cluster_id", "must not be empty");
    if (ha.secret_file.empty()) {
      return t.Bad("secret_file", "required: standbys and role changes prove this secret");
    }
  }
  SLUICE_RETURN_IF_ERROR(st);
  if (c->role == Role::kStandby && c->ha.primary.empty()) {
    return Status::InvalidArgument(
        "node.role: a standby needs [ha] primary (the primary's [ha] listen address) and "
        "secret_file");
  }
  return Status::Ok();
}

}  // namespace

Result<Config> ParseConfig(std::string_view text, std::string_view source_name) {
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << e.source().begin;
    return Status::InvalidArgument(std::string(source_name) + ":" + where.str() + ": " +
                                   std::string(e.description()));
  }
  Config c;
  Status st;
  // Top-level keys are sections only.
  for (const auto& [k, v] : root) {
    static const std::set<std::string> kSections = {"node",  "admin", "destination", "server",
                                                    "kafka", "user",  "ha",          "storage"};
    if (!kSections.count(std::string(k.str()))) {
      return Status::InvalidArgument(std::string(k.str()) + ": unknown key");
    }
  }
  const toml::table* node = SubTable(root, "node", &st);
  SLUICE_RETURN_IF_ERROR(st);
  if (node == nullptr)
    return Status::InvalidArgument("node: required ([node] with id and data_dir)");
  Table n(node, "node");
  SLUICE_RETURN_IF_ERROR(n.Str("id", &c.node_id, true));
  SLUICE_RETURN_IF_ERROR(n.Str("data_dir", &c.data_dir, true));
  std::string role(RoleName(c.role));
  SLUICE_RETURN_IF_ERROR(n.OneOf("role", &role, {"primary", "standby"}));
  c.role = *ParseRole(role);
  SLUICE_RETURN_IF_ERROR(n.Uint("failed_retry_seconds", &c.failed_retry_seconds, 1, 86400));
  SLUICE_RETURN_IF_ERROR(n.Uint("min_free_mb", &c.min_free_mb, 0, 1 << 20));
  SLUICE_RETURN_IF_ERROR(n.NoUnknownKeys());
  if (c.node_id.empty()) return n.Bad("id", "must not be empty");

  if (const toml::table* admin = SubTable(root, "admin", &st)) {
    Table a(admin, "admin");
    SLUICE_RETURN_IF_ERROR(a.Str("listen", &c.admin_listen));
    SLUICE_RETURN_IF_ERROR(a.NoUnknownKeys());
  }
  SLUICE_RETURN_IF_ERROR(st);
  if (const toml::table* storage = SubTable(root, "storage", &st)) {
    Table s(storage, "storage");
    SLUICE_RETURN_IF_ERROR(s.OneOf("durability", &c.durability, {"group", "fsync"}));
    SLUICE_RETURN_IF_ERROR(ParseRetention(&s, &c.retention));
    SLUICE_RETURN_IF_ERROR(s.Uint("retention_interval_ms", &c.retention_interval_ms, 10, 3600000));
    SLUICE_RETURN_IF_ERROR(s.NoUnknownKeys());
  }
  SLUICE_RETURN_IF_ERROR(st);
  if (const toml::node* dests = root.get("destination")) {
    if (!dests->is_array_of_tables()) {
      return Status::InvalidArgument("destination: expected [[destination]] tables");
    }
    size_t i = 0;
    for (const auto& d : *dests->as_array()) SLUICE_RETURN_IF_ERROR(ParseDestination(d, i++, &c));
  }
  if (c.destinations.empty())
    return Status::InvalidArgument("destination: at least one [[destination]] is required");
  SLUICE_RETURN_IF_ERROR(ParseServer(root, &c));
  SLUICE_RETURN_IF_ERROR(ParseKafka(root, &c));
  SLUICE_RETURN_IF_ERROR(ParseHa(root, &c));
  return c;
}

std::set<std::string> ConfigKeysAsked(std::string_view toml_text) {
  std::set<std::string> asked;
  tl_keys_asked = &asked;
  (void)ParseConfig(toml_text, "keys");
  tl_keys_asked = nullptr;
  return asked;
}

Result<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read config file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseConfig(ss.str(), path);
}

}  // namespace sluice::daemon
