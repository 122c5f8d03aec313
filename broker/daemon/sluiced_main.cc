// sluiced: runs a sluice node. `sluiced --config FILE`.
//
//   sluiced --check --config FILE [--connect]
//     checks the config without starting anything: keys and values, source
//     URLs, starts, regexes, the password and secret files, data_dir; with
//     --connect also each source server (login, version, binlog settings,
//     privileges, GTIDs, the start file) without starting a dump. Prints
//     one line per check; exits 0 when all pass, 2 on a config error, 1
//     when a source check fails.
//
// Signals: SIGTERM or SIGINT stops every destination (each commits what is
// complete and discards a partial transaction) and exits 0. SIGHUP makes a
// destination that is waiting to retry after an error try again at once.
#include <signal.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "broker/admin/admin_server.h"
#include "broker/binlog/file_source.h"
#include "broker/binlog/mysql_source.h"
#include "broker/consumer/server.h"
#include "broker/consumer/service.h"
#include "broker/daemon/admin_pages.h"
#include "broker/daemon/config.h"
#include "broker/daemon/destination.h"
#include "broker/daemon/node.h"
#include "broker/kafka/server.h"
#include "proto/auth.h"
#include "storage/rocksdb_crc32c.h"

namespace {

using namespace sluice;

// Logs each destination's progress: rows/s since the last line, records
// committed, and how far behind the source the log is (seconds, bytes).
void LogProgress(const std::vector<std::unique_ptr<daemon::Destination>>& dests,
                 std::vector<uint64_t>* last_rows, double seconds) {
  for (size_t i = 0; i < dests.size(); ++i) {
    const auto& s = dests[i]->stats();
    uint64_t rows = s.rows.load();
    if (rows == (*last_rows)[i]) continue;  // idle: nothing to say
    const int64_t bytes = dests[i]->lag_bytes();
    spdlog::info(
        "destination {}: {:.0f} rows/s, {} records committed, high watermark {}, "
        "lag {:.1f} s and {} behind the source",
        dests[i]->name(), (rows - (*last_rows)[i]) / seconds, s.records_committed.load(),
        dests[i]->log()->HighWatermark().value(), dests[i]->lag_seconds(),
        bytes < 0 ? std::string("? bytes") : std::to_string(bytes) + " bytes");
    (*last_rows)[i] = rows;
  }
}

// The consumer server's users: name -> auth::PasswordKey(the file's
// contents without trailing whitespace). Warns about password files others
// can read.
sluice::Result<std::map<std::string, std::string>> LoadUsers(const daemon::Config& config) {
  std::map<std::string, std::string> users;
  for (const auto& u : config.users) {
    std::ifstream in(u.password_file);
    if (!in) {
      return Status::InvalidArgument("user " + u.name + ": cannot read password_file " +
                                     u.password_file +
                                     " (relative paths start at the working "
                                     "directory)");
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string pw = ss.str();
    while (!pw.empty() && std::isspace(static_cast<unsigned char>(pw.back()))) pw.pop_back();
    if (pw.empty())
      return Status::InvalidArgument("user " + u.name + ": " + u.password_file + " is empty");
    struct stat st {};
    if (::stat(u.password_file.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      spdlog::warn("user {}: {} can be read by other users; chmod 600 it", u.name, u.password_file);
    }
    users[u.name] = auth::PasswordKey(pw);
  }
  return users;
}

// `sluiced --check`: see the top of this file.
int RunCheck(const std::string& path, bool connect) {
  auto say = [](const char* mark, const std::string& what) {
    std::printf("%-7s %s\n", mark, what.c_str());
  };
  auto config = daemon::LoadConfig(path);
  if (!config.ok()) {
    say("error", "config " + path + ": " + config.status().message());
    return 2;
  }
  say("ok", "config " + path + ": node " + config->node_id + ", " +
                std::to_string(config->destinations.size()) + " destination(s)");
  bool config_error = false;
  if (!config->server.listen.empty()) {
    auto users = LoadUsers(*config);
    if (users.ok()) {
      say("ok", "server " + config->server.listen + ": " + std::to_string(users->size()) +
                    " user(s), password files readable");
    } else {
      say("error", users.status().message());
      config_error = true;
    }
  }
  if (config->ha.configured) {
    std::ifstream secret(config->ha.secret_file);
    std::string text((std::istreambuf_iterator<char>(secret)), std::istreambuf_iterator<char>());
    if (!secret || text.find_first_not_of(" \t\r\n") == std::string::npos) {
      say("error", "ha.secret_file: cannot read " + config->ha.secret_file + ", or it is empty");
      config_error = true;
    } else {
      say("ok", "ha: secret file " + config->ha.secret_file + " readable");
    }
  }
  // data_dir: it, or the nearest directory above it that exists, must be
  // writable by this user.
  std::filesystem::path dir = std::filesystem::absolute(config->data_dir);
  std::error_code ec;
  while (!std::filesystem::exists(dir, ec) && dir.has_parent_path() && dir != dir.parent_path()) {
    dir = dir.parent_path();
  }
  if (::access(dir.c_str(), W_OK | X_OK) == 0) {
    say("ok", "data_dir " + config->data_dir + ": writable (" + dir.string() + ")");
  } else {
    say("error",
        "data_dir " + config->data_dir + ": " + dir.string() + " is not writable by this user");
    config_error = true;
  }
  if (config_error) return 2;

  bool source_error = false;
  for (const auto& d : config->destinations) {
    const std::string name = "destination " + d.name + ": ";
    say("ok", name + "source " + daemon::RedactUrl(d.source) + ", start " + d.start);
    if (!connect) continue;
    if (d.source.starts_with("file://")) {
      auto files = binlog::ListBinlogFiles(d.source.substr(7));
      if (files.ok() && !files->empty()) {
        say("ok",
            name + std::to_string(files->size()) + " binlog file(s) in " + d.source.substr(7));
      } else {
        say("error", name + (files.ok() ? "no binlog files in " + d.source.substr(7)
                                        : files.status().message()));
        source_error = true;
      }
      continue;
    }
    auto o = binlog::ParseMysqlUrl(d.source);
    auto start = binlog::MysqlStart::Parse(d.start);
    if (!o.ok() || !start.ok()) continue;  // LoadConfig already refused these
    o->server_id = d.server_id;
    o->require_full_metadata = d.column_names == "names";
    o->start = *start;
    // Every host: the first is where ingest begins; the others are where
    // it goes when the source fails over, so a problem there is a warning.
    const auto hosts = o->hosts;
    for (size_t i = 0; i < hosts.size(); ++i) {
      o->host = hosts[i].host;
      o->port = hosts[i].port;
      if (i > 0 && o->start.kind == binlog::MysqlStart::Kind::kFilePos) {
        o->start = binlog::MysqlStart{};  // a position is the first host's
      }
      auto report = binlog::MysqlSource::Check(*o);
      if (!report.ok()) {
        if (i == 0) {
          say("error", name + report.status().message());
          source_error = true;
        } else {
          say("warning", name + "failover host " + hosts[i].host + ":" +
                             std::to_string(hosts[i].port) +
                             " would not work: " + report.status().message());
        }
        continue;
      }
      for (const auto& line : report->ok) say("ok", name + line);
      for (const auto& line : report->warnings) say("warning", name + line);
    }
  }
  return source_error ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sluiced: the sluice change-data-capture broker"};
  std::string config_path;
  bool check = false, connect = false;
  app.add_option("--config", config_path, "TOML config file (conf/ has commented examples)")
      ->required();
  app.add_flag("--check", check, "check the config (and with --connect the sources), then exit");
  app.add_flag("--connect", connect, "with --check: connect to each source server and check it")
      ->needs(app.get_option("--check"));
  CLI11_PARSE(app, argc, argv);
  if (check) return RunCheck(config_path, connect);

  // Signals are taken synchronously by this thread; every thread started
  // from here on inherits the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto config = daemon::LoadConfig(config_path);
  if (!config.ok()) {
    spdlog::error("config: {}", config.status().ToString());
    return 2;
  }
  spdlog::info("sluiced node {}, data_dir {}, {} destination(s)", config->node_id, config->data_dir,
               config->destinations.size());
  if (!RocksDbCrc32cIsOurs()) {
    spdlog::warn(
        "storage: RocksDB uses its own CRC32c (storage/rocksdb_crc32c.h); commits "
        "will be slower");
  }
  for (const auto& what : config->inactive) {
    spdlog::warn("config: {} is configured but not in effect in this version", what);
  }

  std::map<std::string, std::string> users;  // read first: a config error starts nothing
  if (!config->server.listen.empty() || !config->kafka.listen.empty()) {
    auto loaded = LoadUsers(*config);
    if (!loaded.ok()) {
      spdlog::error("config: {}", loaded.status().ToString());
      return 2;
    }
    users = std::move(*loaded);
  }

  // The consumer service serves every destination's log (each added when
  // its log opens, before its first commit); its network server starts once
  // every destination is in, so a consumer never finds one missing.
  consumer::ServiceOptions service_options;
  service_options.node_id = config->node_id;
  service_options.role = Role::kStandby;  // until the node has taken its role
  service_options.standby_reads = config->ha.standby_reads;
  consumer::ConsumerService service(service_options);
  daemon::Node node(*config, &service);
  if (sluice::Status st = node.Start(); !st.ok()) {
    spdlog::error("{}", st.ToString());
    node.Stop();
    return st.code() == Code::kInvalidArgument ? 2 : 1;
  }
  const auto& dests = node.destinations();

  std::unique_ptr<consumer::ConsumerServer> server;
  if (!config->server.listen.empty()) {
    consumer::ServerOptions so;
    so.listen = config->server.listen;
    so.users = users;
    so.anonymous = config->server.anonymous;
    so.max_connections = config->server.max_connections;
    so.idle_timeout_ms = config->server.idle_timeout_ms;
    so.frame_deadline_ms = config->server.frame_deadline_ms;
    so.max_frame = config->server.max_frame;
    so.max_output_bytes = config->server.max_output_bytes;
    so.ha_key = node.ha_key();
    so.admin = &node;
    auto s = consumer::ConsumerServer::Start(so, &service);
    if (!s.ok()) {
      spdlog::error("server: {}", s.status().ToString());
      node.Stop();
      return 1;
    }
    server = std::move(*s);
    spdlog::info("consumer server on {} (port {}), {} user(s), anonymous read-only access {}",
                 config->server.listen, server->port(), so.users.size(),
                 so.anonymous ? "on" : "off");
  }

  std::unique_ptr<kafka::KafkaServer> kafka_server;
  if (!config->kafka.listen.empty()) {
    kafka::KafkaOptions ko;
    ko.listen = config->kafka.listen;
    ko.advertised = config->kafka.advertised;
    ko.broker_id = static_cast<int32_t>(config->kafka.broker_id);
    ko.cluster_id = config->ha.cluster_id;
    ko.users = users;
    ko.anonymous = config->kafka.anonymous;
    ko.max_connections = config->kafka.max_connections;
    ko.idle_timeout_ms = config->kafka.idle_timeout_ms;
    ko.max_frame = config->kafka.max_frame;
    ko.value_format = config->kafka.value_format == "debezium" ? kafka::ValueFormat::kDebezium
                                                               : kafka::ValueFormat::kSluice;
    ko.primary = [&node] { return node.KafkaPrimary(); };
    ko.standbys = [&node] { return node.KafkaStandbys(); };
    auto k = kafka::KafkaServer::Start(ko, &service);
    if (!k.ok()) {
      spdlog::error("kafka: {}", k.status().ToString());
      if (server) server->Stop();
      node.Stop();
      return 1;
    }
    kafka_server = std::move(*k);
    spdlog::info(
        "kafka listener on {} (port {}), broker id {}, {} user(s) for SASL/PLAIN, anonymous reads "
        "{}",
        config->kafka.listen, kafka_server->port(), ko.broker_id, ko.users.size(),
        ko.anonymous ? "on" : "off");
  }

  std::unique_ptr<admin::AdminServer> admin_server;
  if (!config->admin_listen.empty()) {
    auto a = admin::AdminServer::Start(
        config->admin_listen,
        daemon::MakeAdminHandler(&*config, &dests, server ? &server->stats() : nullptr, &node,
                                 kafka_server ? &kafka_server->stats() : nullptr));
    if (!a.ok()) {
      spdlog::error("admin: {}", a.status().ToString());
      node.Stop();
      return 1;
    }
    admin_server = std::move(*a);
    spdlog::info("admin listener on {} (port {}): /metrics, /status", config->admin_listen,
                 admin_server->port());
  }

  std::vector<uint64_t> last_rows(dests.size(), 0);
  auto last = std::chrono::steady_clock::now();
  for (;;) {
    timespec wait{1, 0};
    int sig = sigtimedwait(&sigs, nullptr, &wait);
    if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("signal {}: stopping", sig);
      break;
    }
    if (sig == SIGHUP) {
      spdlog::info("SIGHUP: destinations waiting to retry try again now");
      for (auto& d : dests) d->RetryNow();
    }
    node.Tick();
    auto now = std::chrono::steady_clock::now();
    if (now - last < std::chrono::seconds(5)) continue;
    LogProgress(dests, &last_rows, std::chrono::duration<double>(now - last).count());
    last = now;
  }
  if (admin_server) admin_server->Stop();
  if (kafka_server) kafka_server->Stop();
  if (server) server->Stop();
  node.Stop();
  for (auto& d : dests) {
    spdlog::info("destination {}: stopped at offset {}, checkpoint {}:{}", d->name(),
                 d->log()->HighWatermark().value(), d->log()->Checkpoint().file(),
                 d->log()->Checkpoint().pos());
  }
  return 0;
}
