// sluiced: runs a sluice node. `sluiced --config FILE`.
//
// Signals: SIGTERM or SIGINT stops every destination (each commits what is
// complete and discards a partial transaction) and exits 0.
#include <signal.h>

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "broker/admin/admin_server.h"
#include "broker/consumer/server.h"
#include "broker/consumer/service.h"
#include "broker/daemon/admin_pages.h"
#include "broker/daemon/config.h"
#include "broker/daemon/destination.h"
#include "broker/daemon/node.h"
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
    spdlog::info("destination {}: {:.0f} rows/s, {} records committed, high watermark {}, "
                 "lag {:.1f} s and {} behind the source",
                 dests[i]->name(), (rows - (*last_rows)[i]) / seconds,
                 s.records_committed.load(), dests[i]->log()->HighWatermark().value(),
                 dests[i]->lag_seconds(),
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
                                     u.password_file + " (relative paths start at the working "
                                     "directory)");
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string pw = ss.str();
    while (!pw.empty() && std::isspace(static_cast<unsigned char>(pw.back()))) pw.pop_back();
    if (pw.empty()) return Status::InvalidArgument("user " + u.name + ": " + u.password_file + " is empty");
    struct stat st{};
    if (::stat(u.password_file.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      spdlog::warn("user {}: {} can be read by other users; chmod 600 it", u.name, u.password_file);
    }
    users[u.name] = auth::PasswordKey(pw);
  }
  return users;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sluiced: the sluice change-data-capture broker"};
  std::string config_path;
  app.add_option("--config", config_path, "TOML config file (conf/ has commented examples)")
      ->required();
  CLI11_PARSE(app, argc, argv);

  // Signals are taken synchronously by this thread; every thread started
  // from here on inherits the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto config = daemon::LoadConfig(config_path);
  if (!config.ok()) {
    spdlog::error("config: {}", config.status().ToString());
    return 2;
  }
  spdlog::info("sluiced node {}, data_dir {}, {} destination(s)", config->node_id,
               config->data_dir, config->destinations.size());
  if (!RocksDbCrc32cIsOurs()) {
    spdlog::warn("storage: RocksDB uses its own CRC32c (storage/rocksdb_crc32c.h); commits "
                 "will be slower");
  }
  for (const auto& what : config->inactive) {
    spdlog::warn("config: {} is configured but not in effect in this version", what);
  }

  std::map<std::string, std::string> users;  // read first: a config error starts nothing
  if (!config->server.listen.empty()) {
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
  service_options.role = "standby";  // until the node has taken its role
  service_options.standby_reads = config->ha.standby_reads;
  consumer::ConsumerService service(service_options);
  daemon::Node node(*config, &service);
  service.SetStatusHook([&node](proto::StatusResponse* s) { node.FillStatus(s); });
  service.SetRoleHandlers(
      [&node](const proto::PromoteRequest& r, proto::RoleResponse* out) {
        return node.Promote(r, out);
      },
      [&node](const proto::DemoteRequest& r, proto::RoleResponse* out) {
        return node.Demote(r, out);
      });
  service.SetFenceHandler(
      [&node](uint64_t epoch, const std::string& why) { node.Fence(epoch, why); });
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
    so.users = std::move(users);
    so.anonymous = config->server.anonymous;
    so.max_connections = config->server.max_connections;
    so.idle_timeout_ms = config->server.idle_timeout_ms;
    so.frame_deadline_ms = config->server.frame_deadline_ms;
    so.max_frame = config->server.max_frame;
    so.max_output_bytes = config->server.max_output_bytes;
    so.ha_key = node.ha_key();
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

  std::unique_ptr<admin::AdminServer> admin_server;
  if (!config->admin_listen.empty()) {
    auto a = admin::AdminServer::Start(
        config->admin_listen,
        daemon::MakeAdminHandler(&*config, &dests, server ? &server->stats() : nullptr, &node));
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
    node.Tick();
    auto now = std::chrono::steady_clock::now();
    if (now - last < std::chrono::seconds(5)) continue;
    LogProgress(dests, &last_rows, std::chrono::duration<double>(now - last).count());
    last = now;
  }
  if (admin_server) admin_server->Stop();
  if (server) server->Stop();
  node.Stop();
  for (auto& d : dests) {
    spdlog::info("destination {}: stopped at offset {}, checkpoint {}:{}", d->name(),
                 d->log()->HighWatermark().value(), d->log()->Checkpoint().file(),
                 d->log()->Checkpoint().pos());
  }
  return 0;
}
