// sluiced's config: the design's shape loads; mistakes name their key.
#include "broker/daemon/config.h"

#include <gtest/gtest.h>

#include <optional>

namespace sluice::daemon {
namespace {

constexpr const char* kMinimal = R"(
[node]
id = "a"
data_dir = "/var/lib/sluice/a"

[[destination]]
name = "shop"
source = "mysql://repl:replpw@127.0.0.1:3306"
server_id = 1001
)";

std::string ErrorOf(const std::string& text) {
  auto c = ParseConfig(text, "test.toml");
  EXPECT_FALSE(c.ok());
  return c.ok() ? "" : c.status().message();
}

TEST(Config, MinimalWithDefaults) {
  auto c = ParseConfig(kMinimal, "test.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->node_id, "a");
  EXPECT_EQ(c->role, Role::kPrimary);
  ASSERT_EQ(c->destinations.size(), 1u);
  const auto& d = c->destinations[0];
  EXPECT_EQ(d.start, "earliest");
  EXPECT_EQ(d.ring_size, 256u);
  EXPECT_EQ(d.parse_threads, 2u);
  EXPECT_TRUE(c->inactive.empty());
}

// The example configuration of the project's design ("Operating it")
// loads as written.
TEST(Config, DesignExampleLoads) {
  auto c = ParseConfig(R"(
[node]
id = "a"
data_dir = "/var/lib/sluice/a"
role = "primary"
[server]
listen = "127.0.0.1:7400"
anonymous = false
[[user]]
name = "reader"
password_file = "conf/reader.password"
[admin]
listen = "127.0.0.1:7402"
[ha]
listen = "127.0.0.1:7401"
primary = "127.0.0.1:7411"
mode = "sync"
sync_replicas = 1
sync_timeout_ms = 5000
on_sync_timeout = "degrade"
secret_file = "conf/ha.secret"
[[destination]]
name = "shop"
source = "mysql://repl:replpw@127.0.0.1:3306"
server_id = 1001
start = "earliest"
include = ['shop\..*']
exclude = []
)",
                       "design.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->admin_listen, "127.0.0.1:7402");
  EXPECT_EQ(c->destinations[0].include, std::vector<std::string>{"shop\\..*"});
  EXPECT_TRUE(c->inactive.empty());
  EXPECT_TRUE(c->ha.configured);
  EXPECT_EQ(c->ha.mode, "sync");
  EXPECT_EQ(c->ha.listen, "127.0.0.1:7401");
  EXPECT_EQ(c->ha.primary, "127.0.0.1:7411");
  EXPECT_EQ(c->ha.on_sync_timeout, "degrade");
  EXPECT_EQ(c->ha.secret_file, "conf/ha.secret");
  EXPECT_EQ(c->ha.cluster_id, "sluice");
  EXPECT_EQ(c->server.listen, "127.0.0.1:7400");
  EXPECT_FALSE(c->server.anonymous);
  EXPECT_EQ(c->server.max_connections, 1024u);
  ASSERT_EQ(c->users.size(), 1u);
  EXPECT_EQ(c->users[0].name, "reader");
  EXPECT_EQ(c->users[0].password_file, "conf/reader.password");
}

TEST(Config, ServerNeedsSomeoneToServe) {
  std::string base = kMinimal;
  EXPECT_EQ(ErrorOf(base + "[server]\nlisten = \"127.0.0.1:7400\"\n"),
            "server: no [[user]] and anonymous = false, so no consumer could connect; add a "
            "[[user]] or set anonymous = true");
  EXPECT_EQ(ErrorOf(base + "[server]\nanonymous = true\n"), "server.listen: required");
  EXPECT_EQ(
      ErrorOf(base + "[server]\nlisten = \"127.0.0.1:7400\"\nanonymous = true\nmax_frame = 10\n"),
      "server.max_frame: expected an integer in 4096..1073741824");
  EXPECT_EQ(ErrorOf(base + "[[user]]\nname = \"a\"\npassword_file = \"f\"\n[[user]]\nname = \"a\"\n"
                           "password_file = \"g\"\n"),
            "user[1].name: 'a' is a user already");
  auto c = ParseConfig(base +
                           "[server]\nlisten = \"127.0.0.1:0\"\nanonymous = true\n"
                           "idle_timeout_ms = 1000\n",
                       "t.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->server.anonymous);
  EXPECT_EQ(c->server.idle_timeout_ms, 1000u);
}

TEST(Config, MistakesNameTheirKey) {
  std::string base = kMinimal;
  EXPECT_EQ(ErrorOf(base + "sever_id = 3\n"), "destination[0].sever_id: unknown key");
  EXPECT_EQ(ErrorOf("[node]\nid = \"a\"\ndata_dir = \"/x\"\ncolour = 1\n" +
                    base.substr(base.find("[[destination]]"))),
            "node.colour: unknown key");
  EXPECT_NE(ErrorOf(base + "ring_size = 1000\n")
                .find("destination[0].ring_size: 1000 is not a power of two"),
            std::string::npos);
  EXPECT_NE(ErrorOf(base + "parse_threads = \"two\"\n")
                .find("destination[0].parse_threads: expected an integer"),
            std::string::npos);
  EXPECT_NE(ErrorOf(base + "include = ['(']\n").find("destination[0].include: '('"),
            std::string::npos);
  EXPECT_NE(
      ErrorOf(base + "wait = \"sleepy\"\n").find("destination[0].wait: 'sleepy' is not one of"),
      std::string::npos);
  EXPECT_EQ(ErrorOf("[node]\nid = \"a\"\ndata_dir = \"/x\"\n[[destination]]\nname = \"s\"\n"
                    "source = \"mysql://u:p@h:1\"\n"),
            "destination[0].server_id: required for a mysql:// source (unique among the server's "
            "replicas)");
  EXPECT_EQ(ErrorOf("[node]\nid = \"a\"\n"), "node.data_dir: required");
  EXPECT_EQ(ErrorOf("[node]\nid = \"a\"\ndata_dir = \"/x\"\n"),
            "destination: at least one [[destination]] is required");
  EXPECT_EQ(ErrorOf(base + base.substr(base.find("[[destination]]"))),
            "destination[1].name: 'shop' is used twice");
  EXPECT_EQ(ErrorOf("bogus = 1\n" + base), "bogus: unknown key");
  EXPECT_NE(ErrorOf("[node\n").find("test.toml:"), std::string::npos);  // syntax: file:line
}

// A typo in a source URL or a start is a config error at start, not an
// endless retry once the destination opens; the password stays out of it.
TEST(Config, BadStartsAndSourceUrlsAreConfigErrors) {
  const std::string node = "[node]\nid = \"a\"\ndata_dir = \"/x\"\n[[destination]]\nname = \"s\"\n";
  const std::string mysql = node + "source = \"mysql://u:s3cret@h:3306\"\nserver_id = 7\n";
  EXPECT_NE(ErrorOf(mysql + "start = \"binlog.000001\"\n")
                .find("destination[0].start: start 'binlog.000001' is none of"),
            std::string::npos);
  EXPECT_NE(ErrorOf(mysql + "start = \"binlog.000001:3\"\n").find("destination[0].start:"),
            std::string::npos);  // positions start at 4
  EXPECT_NE(ErrorOf(mysql + "start = \"0-1-x\"\n").find("destination[0].start:"),
            std::string::npos);
  const std::string bad_port =
      ErrorOf(node + "source = \"mysql://u:s3cret@h:99999\"\nserver_id = 7\n");
  EXPECT_NE(bad_port.find("destination[0].source: source URL:"), std::string::npos) << bad_port;
  EXPECT_EQ(bad_port.find("s3cret"), std::string::npos) << bad_port;
  EXPECT_NE(ErrorOf(node + "source = \"file:///binlogs\"\nstart = \"0-1-5\"\n")
                .find("destination[0].start: '0-1-5' is a GTID start"),
            std::string::npos);
  for (const char* good : {"earliest", "latest", "binlog.000001:4", "0-1-5,1-2-9",
                           "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5"}) {
    auto c = ParseConfig(mysql + "start = \"" + good + "\"\n", "test.toml");
    EXPECT_TRUE(c.ok()) << good << ": " << c.status().ToString();
  }
}

}  // namespace
}  // namespace sluice::daemon

namespace sluice::daemon {
namespace {

TEST(Config, HaMistakesNameTheirKey) {
  const std::string base = R"(
[node]
id = "b"
data_dir = "/tmp/b"
[[destination]]
name = "shop"
source = "file:///tmp/binlogs"
)";
  auto no_secret = ParseConfig(base + "[ha]\nlisten = \"127.0.0.1:7401\"\n", "t.toml");
  ASSERT_FALSE(no_secret.ok());
  EXPECT_NE(no_secret.status().message().find("ha.secret_file"), std::string::npos)
      << no_secret.status().ToString();
  auto standby = ParseConfig(
      "[node]\nid = \"b\"\ndata_dir = \"/tmp/b\"\nrole = \"standby\"\n"
      "[[destination]]\nname = \"shop\"\nsource = \"file:///tmp/x\"\n",
      "t.toml");
  ASSERT_FALSE(standby.ok());
  EXPECT_NE(standby.status().message().find("[ha] primary"), std::string::npos)
      << standby.status().ToString();
  auto bad_mode = ParseConfig(base + "[ha]\nmode = \"semi\"\nsecret_file = \"s\"\n", "t.toml");
  ASSERT_FALSE(bad_mode.ok());
  EXPECT_NE(bad_mode.status().message().find("ha.mode"), std::string::npos);
  auto beat = ParseConfig(base + "[ha]\nheartbeat_ms = 1\nsecret_file = \"s\"\n", "t.toml");
  ASSERT_FALSE(beat.ok());
  EXPECT_NE(beat.status().message().find("ha.heartbeat_ms"), std::string::npos);
}

// The HA port's limits before the proof (docs/replication.md): defaults,
// settable, and bounded.
TEST(ConfigTest, HaPortLimits) {
  const std::string base =
      "[node]\nid = \"a\"\ndata_dir = \"/tmp/a\"\n[[destination]]\nname = \"shop\"\n"
      "source = \"file:///tmp/binlogs\"\n[ha]\nsecret_file = \"s\"\n";
  auto defaults = ParseConfig(base, "t.toml");
  ASSERT_TRUE(defaults.ok()) << defaults.status().ToString();
  EXPECT_EQ(defaults->ha.handshake_timeout_ms, 10000u);
  EXPECT_EQ(defaults->ha.max_pending_handshakes, 16u);
  EXPECT_EQ(defaults->ha.max_sessions, 0u);  // 4 per destination
  auto set = ParseConfig(
      base + "handshake_timeout_ms = 2000\nmax_pending_handshakes = 4\nmax_sessions = 8\n",
      "t.toml");
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->ha.handshake_timeout_ms, 2000u);
  EXPECT_EQ(set->ha.max_pending_handshakes, 4u);
  EXPECT_EQ(set->ha.max_sessions, 8u);
  auto none = ParseConfig(base + "max_pending_handshakes = 0\n", "t.toml");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("ha.max_pending_handshakes"), std::string::npos)
      << none.status().ToString();
}

}  // namespace
}  // namespace sluice::daemon

namespace sluice::daemon {
namespace {

// Retention: off by default; [storage] sets every destination's default,
// a destination overrides key by key.
TEST(Config, RetentionDefaultsAndInheritance) {
  auto none = ParseConfig(kMinimal, "t.toml");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_FALSE(none->destinations[0].retention.enabled());
  EXPECT_TRUE(none->destinations[0].retention.respects_groups);
  EXPECT_EQ(none->retention_interval_ms, 30000u);

  const std::string text = R"(
[node]
id = "a"
data_dir = "/x"
[storage]
retention_hours = 168
retention_bytes = "10GiB"
retention_respects_groups = false
retention_interval_ms = 50
[[destination]]
name = "inherits"
source = "file:///b"
[[destination]]
name = "own"
source = "file:///b"
retention_hours = 0.5
retention_bytes = 4096
retention_respects_groups = true
[[destination]]
name = "forever"
source = "file:///b"
retention_hours = 0
retention_bytes = 0
)";
  auto c = ParseConfig(text, "t.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->retention_interval_ms, 50u);
  ASSERT_EQ(c->destinations.size(), 3u);
  const RetentionConfig& in = c->destinations[0].retention;
  EXPECT_EQ(in.max_age_ms, 168ull * 3600 * 1000);
  EXPECT_EQ(in.max_bytes, 10ull << 30);
  EXPECT_FALSE(in.respects_groups);
  const RetentionConfig& own = c->destinations[1].retention;
  EXPECT_EQ(own.max_age_ms, 1800000u);
  EXPECT_EQ(own.max_bytes, 4096u);
  EXPECT_TRUE(own.respects_groups);
  EXPECT_FALSE(c->destinations[2].retention.enabled());
  EXPECT_FALSE(c->destinations[2].retention.respects_groups);  // inherited
}

TEST(Config, RetentionSizesAndMistakes) {
  const std::string base = std::string(kMinimal);
  auto bytes = [&](const std::string& v) -> std::optional<uint64_t> {
    auto c = ParseConfig(base + "retention_bytes = " + v + "\n", "t.toml");
    if (!c.ok()) return std::nullopt;
    return c->destinations[0].retention.max_bytes;
  };
  EXPECT_EQ(bytes("\"500 MB\""), 500'000'000u);
  EXPECT_EQ(bytes("\"3kib\""), 3072u);
  EXPECT_EQ(bytes("\"123\""), 123u);
  EXPECT_EQ(bytes("\"7B\""), 7u);
  EXPECT_EQ(bytes("\"16383PiB\""), std::nullopt);  // no such unit
  EXPECT_EQ(bytes("\"1.5GiB\""), std::nullopt);
  EXPECT_EQ(bytes("\"GiB\""), std::nullopt);
  EXPECT_EQ(bytes("\"18446744073709551615\""), 18446744073709551615ull);
  EXPECT_EQ(bytes("\"18446744073709551616\""), std::nullopt);  // 2^64
  EXPECT_EQ(bytes("\"16777216TiB\""), std::nullopt);           // 2^64 by its unit

  EXPECT_EQ(ErrorOf(base + "retention_bytes = -1\n"),
            "destination[0].retention_bytes: must not be negative (0 is no limit)");
  EXPECT_NE(ErrorOf(base + "retention_bytes = \"lots\"\n")
                .find("destination[0].retention_bytes: 'lots' is not a byte count"),
            std::string::npos);
  EXPECT_NE(ErrorOf(base + "retention_bytes = true\n").find("destination[0].retention_bytes:"),
            std::string::npos);
  EXPECT_EQ(ErrorOf(base + "retention_hours = -2\n"),
            "destination[0].retention_hours: expected a number of hours in 0..876000 (0 keeps "
            "forever)");
  EXPECT_NE(ErrorOf(base + "retention_hours = 1e300\n").find("destination[0].retention_hours"),
            std::string::npos);
  EXPECT_NE(ErrorOf(base + "retention_hours = nan\n").find("destination[0].retention_hours"),
            std::string::npos);
  EXPECT_NE(ErrorOf(base + "retention_hours = \"1d\"\n").find("destination[0].retention_hours"),
            std::string::npos);
  EXPECT_NE(ErrorOf(base + "retention_respects_groups = 1\n")
                .find("destination[0].retention_respects_groups: expected true or false"),
            std::string::npos);
  const std::string storage = "[node]\nid = \"a\"\ndata_dir = \"/x\"\n[storage]\n";
  const std::string dest = "[[destination]]\nname = \"s\"\nsource = \"file:///b\"\n";
  EXPECT_EQ(ErrorOf(storage + "retention_bytes = -5\n" + dest),
            "storage.retention_bytes: must not be negative (0 is no limit)");
  EXPECT_NE(ErrorOf(storage + "retention_interval_ms = 0\n" + dest)
                .find("storage.retention_interval_ms: expected an integer in 10..3600000"),
            std::string::npos);
}

}  // namespace
}  // namespace sluice::daemon
