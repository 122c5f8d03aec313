// `sluice`: the command-line tool. Subcommands grow with the broker:
//   sluice log info --path DIR          state of a commit log directory
//   sluice log dump --path DIR [--from N] [--max N]   records as JSON lines
//   sluice decode [--from POS] [--column-keys=names|positions] [--stats] FILE...
//   sluice tail --broker H:P[,H:P...] --dest NAME [--from earliest|latest|N]
//               [--group G] [--count N] [--follow] [--user U --password-file F]
//   sluice offsets --broker H:P[,H:P...] --dest NAME [--user U --password-file F]
//   sluice schema --broker H:P[,H:P...] --dest NAME [--table DB.T] [--json] [--user U ...]
//   sluice status --broker H:P (--secret-file F | --user U --password-file F) [--json]
//   sluice promote --broker H:P --secret-file F [--epoch N]
//   sluice demote --broker H:P --primary HOST:HAPORT --secret-file F
//   sluice snapshot --broker H:P --secret-file F --dest NAME --table DB.T [--table ...] [--wait]
//   sluice apply --broker H:P[,H:P...] --dest NAME --target mysql://U:PW@HOST:PORT
//               [--group G] [--include REGEX] [--rename SRC=DST]... [--user U --password-file F]
// Exit codes: 0 done, 1 failed (the reason on stderr), 2 usage error.
#include <signal.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "client/admin.h"
#include "client/apply.h"
#include "client/consumer.h"
#include "client/decode.h"
#include "client/log_inspect.h"
#include "client/schema_cmd.h"
#include "client/tail.h"

namespace {

constexpr int kUsage = 2;

// The Consumer a SIGINT/SIGTERM interrupts (`tail --follow` stops cleanly).
std::atomic<sluice::Consumer*> g_consumer{nullptr};

void OnStopSignal(int) {
  if (sluice::Consumer* c = g_consumer.load()) c->Interrupt();
}

// The file's contents without trailing whitespace (an editor's newline).
sluice::Result<std::string> ReadPassword(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in) return sluice::Status::IoError("cannot read password file " + path);
  std::string pw = ss.str();
  pw.erase(pw.find_last_not_of(" \t\r\n") + 1);
  return pw;
}

struct ConnectFlags {
  std::vector<std::string> brokers;
  std::string dest, user, password_file;

  void AddTo(CLI::App* cmd) {
    cmd->add_option("--broker", brokers, "HOST:PORT of the brokers, comma-separated")
        ->required()
        ->delimiter(',');
    cmd->add_option("--dest", dest, "the destination")->required();
    auto* u = cmd->add_option("--user", user, "user name (without: anonymous read-only)");
    auto* p = cmd->add_option("--password-file", password_file, "file holding the password")
                  ->check(CLI::ExistingFile);
    u->needs(p);
    p->needs(u);
  }
};

// Runs `body` with a Consumer for `flags`; returns the exit code.
template <typename Body>
int WithConsumer(const ConnectFlags& flags, const std::string& client, Body body,
                 int retry_for_ms = 0) {
  sluice::ConsumerOptions o;
  if (retry_for_ms > 0) o.retry_for_ms = retry_for_ms;
  o.brokers = flags.brokers;
  o.user = flags.user;
  o.client = client;
  if (!flags.password_file.empty()) {
    auto pw = ReadPassword(flags.password_file);
    if (!pw.ok()) {
      std::cerr << "sluice: " << pw.status().ToString() << "\n";
      return 1;
    }
    o.password = *pw;
  }
  auto consumer = sluice::Consumer::Open(o);
  if (!consumer.ok()) {
    std::cerr << "sluice: " << consumer.status().message() << "\n";
    return kUsage;
  }
  g_consumer.store(consumer->get());
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sluice::Status st = body(**consumer);
  // Signals stay caught (now a no-op) until exit: the Consumer goes away first.
  g_consumer.store(nullptr);
  if (!st.ok()) {
    std::cerr << "sluice: " << st.ToString() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sluice: change-data-capture broker tool"};
  app.require_subcommand(1);
  auto* log_cmd = app.add_subcommand("log", "inspect a commit log directory offline");
  log_cmd->require_subcommand(1);

  std::string path;
  uint64_t from = 0, max = UINT64_MAX;
  auto* info = log_cmd->add_subcommand("info", "print offsets, size, checkpoint, groups");
  info->add_option("--path", path, "the destination's log directory")->required();
  auto* dump = log_cmd->add_subcommand("dump", "print records as JSON lines");
  dump->add_option("--path", path, "the destination's log directory")->required();
  dump->add_option("--from", from, "first offset to print");
  dump->add_option("--max", max, "how many records to print");

  sluice::DecodeOptions dec;
  std::string keys = "names";
  auto* decode = app.add_subcommand(
      "decode", "print the row changes and DDL of binlog files as JSON lines, in binlog order");
  decode->add_option("--from", dec.from, "start at POS of the first file, or at FILE:POS");
  decode->add_option("--column-keys", keys, "key columns by their names (when known) or @N")
      ->check(CLI::IsMember({"names", "positions"}));
  decode->add_flag("--stats", dec.stats, "print counts per event type and table to stderr");
  decode->add_option("FILE", dec.files, "binlog files, in order")
      ->required()
      ->check(CLI::ExistingFile);

  ConnectFlags conn;
  sluice::TailOptions tail_opts;
  auto* tail = app.add_subcommand("tail", "print a destination's records as JSON lines");
  conn.AddTo(tail);
  auto* from_opt =
      tail->add_option("--from", tail_opts.from, "earliest (default), latest or an offset")
          ->check([](const std::string& v) {
            auto st = sluice::ValidateTailFrom(v);
            return st.ok() ? std::string() : st.message();
          });
  auto* group_opt =
      tail->add_option("--group", tail_opts.group,
                       "read as this consumer group: resume at its cursor, ack what is printed");
  from_opt->excludes(group_opt);
  tail->add_option("--count", tail_opts.count, "stop after N records");
  tail->add_flag("--follow", tail_opts.follow,
                 "wait for new records until interrupted (without: stop at the high watermark)");
  ConnectFlags off_conn;
  auto* offsets =
      app.add_subcommand("offsets", "print a destination's first offset and high watermark");
  off_conn.AddTo(offsets);
  ConnectFlags schema_conn;
  sluice::SchemaOptions schema_opts;
  auto* schema_cmd = app.add_subcommand(
      "schema", "list the versions of a destination's table shapes with their offsets");
  schema_conn.AddTo(schema_cmd);
  schema_cmd->add_option("--table", schema_opts.table, "db.table (default: every table)");
  schema_cmd->add_flag("--json", schema_opts.json, "one JSON line (the schema record) per version");

  // Operators' commands: status, promote, demote.
  std::string node_broker, secret_file, new_primary, st_user, st_password_file;
  uint64_t promote_epoch = 0;
  bool json = false;
  auto add_node = [&](CLI::App* cmd, bool secret_required) {
    cmd->add_option("--broker", node_broker, "HOST:PORT of the node's consumer server")->required();
    auto* s = cmd->add_option("--secret-file", secret_file, "file holding the [ha] secret")
                  ->check(CLI::ExistingFile);
    if (secret_required) s->required();
    return s;
  };
  auto* status_cmd = app.add_subcommand(
      "status", "print a node's role, epoch, offsets, source position and replication");
  auto* status_secret = add_node(status_cmd, false);
  auto* su = status_cmd->add_option("--user", st_user, "user name (instead of --secret-file)");
  auto* sp =
      status_cmd->add_option("--password-file", st_password_file, "file holding the password")
          ->check(CLI::ExistingFile);
  su->needs(sp);
  sp->needs(su);
  su->excludes(status_secret);
  status_cmd->add_flag("--json", json, "one JSON object with every field");
  auto* promote_cmd = app.add_subcommand("promote", "make a standby the primary (a new epoch)");
  add_node(promote_cmd, true);
  promote_cmd->add_option("--epoch", promote_epoch,
                          "the new epoch at least (default: one above the node's)");
  auto* demote_cmd =
      app.add_subcommand("demote", "make a node a standby of another primary (or repoint it)");
  add_node(demote_cmd, true);
  demote_cmd->add_option("--primary", new_primary, "HOST:PORT of the new primary's [ha] listen")
      ->required();

  std::string snap_dest;
  std::vector<std::string> snap_tables;
  bool snap_wait = false;
  int snap_timeout_s = 60;
  auto* snapshot_cmd = app.add_subcommand(
      "snapshot", "copy tables into a destination's log while it streams (docs/snapshots.md)");
  add_node(snapshot_cmd, true);
  snapshot_cmd->add_option("--dest", snap_dest, "the destination")->required();
  snapshot_cmd->add_option("--table", snap_tables, "DB.TABLE to copy (repeat for more)")
      ->required();
  snapshot_cmd->add_flag("--wait", snap_wait, "print progress until the snapshot is done");
  snapshot_cmd->add_option("--timeout", snap_timeout_s,
                           "seconds to wait for the snapshot to start (default 60)");

  ConnectFlags apply_conn;
  sluice::apply::ApplyOptions apply_opts;
  std::string target_url;
  std::vector<std::string> renames;
  auto* apply_cmd = app.add_subcommand(
      "apply", "apply a destination to a MySQL/MariaDB server, exactly once (docs/apply.md)");
  apply_conn.AddTo(apply_cmd);
  apply_cmd->add_option("--target", target_url, "mysql://USER:PASSWORD@HOST:PORT")->required();
  apply_cmd->add_option("--group", apply_opts.group, "consumer group (default sluice-apply)");
  apply_cmd->add_option("--include", apply_opts.include,
                        "apply only tables whose db.table matches this regex");
  apply_cmd->add_option("--rename", renames, "SRC_DB=DST_DB: apply SRC_DB's changes to DST_DB");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kUsage;
  }
  if (tail->parsed()) {
    tail_opts.dest = conn.dest;
    return WithConsumer(conn, "sluice-tail",
                        [&](sluice::Consumer& c) { return sluice::Tail(c, tail_opts, std::cout); });
  }
  if (schema_cmd->parsed()) {
    schema_opts.dest = schema_conn.dest;
    return WithConsumer(schema_conn, "sluice-schema", [&](sluice::Consumer& c) {
      return sluice::PrintSchemaVersions(c, schema_opts, std::cout);
    });
  }
  if (apply_cmd->parsed()) {
    auto target = sluice::apply::ParseTargetUrl(target_url);
    sluice::Status st = target.ok() ? sluice::Status::Ok() : target.status();
    for (const auto& r : renames) {
      if (st.ok()) st = sluice::apply::AddRename(r, &apply_opts.rename);
    }
    if (st.ok()) {
      apply_opts.target = *target;
      apply_opts.dest = apply_conn.dest;
      st = apply_opts.Validate();
    }
    if (!st.ok()) {
      std::cerr << "sluice: " << st.message() << "\n";
      return kUsage;
    }
    // A broker failover or restart must not end apply: keep retrying.
    return WithConsumer(
        apply_conn, "sluice-apply",
        [&](sluice::Consumer& c) { return sluice::apply::RunApply(c, apply_opts, std::cerr); },
        /*retry_for_ms=*/24 * 3600 * 1000);
  }
  if (offsets->parsed()) {
    return WithConsumer(off_conn, "sluice-offsets", [&](sluice::Consumer& c) {
      return sluice::PrintOffsets(c, off_conn.dest, std::cout);
    });
  }
  if (status_cmd->parsed() || promote_cmd->parsed() || demote_cmd->parsed() ||
      snapshot_cmd->parsed()) {
    sluice::admin_client::AdminOptions ao;
    ao.broker = node_broker;
    if (!secret_file.empty()) {
      auto secret = ReadPassword(secret_file);
      if (!secret.ok()) {
        std::cerr << "sluice: " << secret.status().ToString() << "\n";
        return 1;
      }
      ao.secret = *secret;
    }
    if (status_cmd->parsed()) {
      sluice::Result<sluice::proto::StatusResponse> got = sluice::Status::Internal("no answer");
      if (!ao.secret.empty()) {
        got = sluice::admin_client::NodeStatus(ao);
      } else {
        ConnectFlags f;
        f.brokers = {node_broker};
        f.user = st_user;
        f.password_file = st_password_file;
        int rc = WithConsumer(f, "sluice-status", [&](sluice::Consumer& c) {
          got = c.GetStatus();
          return got.ok() ? sluice::Status::Ok() : got.status();
        });
        if (rc != 0) return rc;
      }
      if (!got.ok()) {
        std::cerr << "sluice: " << got.status().ToString() << "\n";
        return 1;
      }
      sluice::admin_client::PrintStatus(*got, json, std::cout);
      return 0;
    }
    if (snapshot_cmd->parsed()) {
      sluice::Status st = sluice::admin_client::RunSnapshot(ao, snap_dest, snap_tables, snap_wait,
                                                            snap_timeout_s, std::cout);
      if (!st.ok()) {
        std::cerr << "sluice: " << st.message() << "\n";
        return 1;
      }
      return 0;
    }
    auto role = promote_cmd->parsed() ? sluice::admin_client::Promote(ao, promote_epoch)
                                      : sluice::admin_client::Demote(ao, new_primary);
    if (!role.ok()) {
      std::cerr << "sluice: " << role.status().ToString() << "\n";
      return 1;
    }
    sluice::admin_client::PrintRole(*role, std::cout);
    return 0;
  }
  sluice::Status st;
  if (decode->parsed()) {
    std::ios::sync_with_stdio(false);
    dec.column_names = keys == "names";
    st = sluice::DecodeBinlogFiles(dec, std::cout, std::cerr);
  } else if (info->parsed()) {
    st = sluice::PrintLogInfo(path, std::cout);
  } else {
    st = sluice::DumpLog(path, from, max, std::cout);
  }
  if (!st.ok()) {
    std::cerr << "sluice: " << st.ToString() << "\n";
    return 1;
  }
  return 0;
}
