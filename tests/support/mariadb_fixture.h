// A throwaway MariaDB server for tests and benchmarks: Debian's
// mariadb-server, installed with mariadb-install-db into a temp dir and run
// as `mariadbd --user=root` on 127.0.0.1 on a free port, with the row-based
// binary log on. Anonymous users are deleted (they would shadow 'repl'@'%'
// from localhost) and a replication user is created. The server is stopped
// by its pid (never by name) when the object goes away.
//
// Thread safety: one thread uses a MariaDb object.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tests/support/child_process.h"

struct st_mysql;

namespace sluice::testing {

struct MariaDbOptions {
  std::string row_metadata = "FULL";    // --binlog-row-metadata: FULL | MINIMAL | NO_LOG
  std::string row_image = "FULL";       // --binlog-row-image
  std::vector<std::string> extra_args;  // more mariadbd flags
};

// A row of a query result: one text value per column, nullopt for NULL.
using SqlRow = std::vector<std::optional<std::string>>;

class MariaDb {
 public:
  // The replication user every fixture creates, with REPLICATION SLAVE,
  // REPLICATION CLIENT (BINLOG MONITOR) and SELECT on *.*.
  static constexpr const char* kReplUser = "repl";
  static constexpr const char* kReplPassword = "replpw";

  // Installs and starts a server; Unavailable (with the server's error log
  // tail) when it cannot. The data dir lives under $TMPDIR.
  static Result<std::unique_ptr<MariaDb>> Start(const MariaDbOptions& options = {});
  ~MariaDb();  // stops the server by pid and removes its directory
  MariaDb(const MariaDb&) = delete;
  MariaDb& operator=(const MariaDb&) = delete;

  const std::string& host() const { return host_; }  // "127.0.0.1"
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }  // the server's directory (datadir is dir/data)
  // "mysql://repl:replpw@127.0.0.1:PORT", for a destination's source.
  std::string ReplUrl() const;

  // Runs statements as root (several separated by ';' are allowed).
  Status Execute(std::string_view sql);
  // Runs statements as root on a connection of their own, then closes it:
  // an XA transaction they prepared stays prepared (detached), for any
  // connection to commit or roll back later.
  Status ExecuteDetached(std::string_view sql);
  // Runs one query as root and returns its rows as text (the server's own
  // rendering of each value, as the text protocol sends it).
  Result<std::vector<SqlRow>> Query(std::string_view sql);

  // Query() on a connection of its own, for a thread other than the one
  // using this object.
  Result<std::vector<SqlRow>> QueryDetached(std::string_view sql);

  // Makes this server a GTID replica of `primary` from now on (MariaDB KB,
  // "Setting up replication", "Global Transaction ID"): its own binary log
  // is reset (the fixture's set-up statements are not the primary's
  // history), gtid_slave_pos set to the primary's @@gtid_binlog_pos, then
  // CHANGE MASTER TO ... MASTER_USE_GTID = slave_pos and START SLAVE as the
  // replication user. Start this server with --server-id=N (N != 1) and
  // --log-slave-updates to make it one that can be promoted.
  Status ReplicateFrom(MariaDb& primary);

  // Full paths of the binary log files, oldest first (SHOW BINARY LOGS).
  Result<std::vector<std::string>> BinlogFiles();

  // Stops the server (SIGTERM, waits for the pid) and starts it again on the
  // same port and data. Used by source-fault tests.
  Status Restart();
  // Stops the server; the object may then only be destroyed or Restart()ed.
  Status Stop();
  // SIGKILLs the server (a crash), from any thread: statements in flight on
  // its connections fail as with a real crash. Then as after Stop().
  Status Kill();

 private:
  MariaDb() = default;
  Status Launch();
  static Result<std::vector<SqlRow>> QueryOn(::st_mysql* m, std::string_view sql);

  std::string host_ = "127.0.0.1";
  int port_ = 0;
  std::string dir_;
  MariaDbOptions options_;
  ChildProcess server_;  // mariadbd
  struct Conn;
  std::unique_ptr<Conn> conn_;  // root connection, reopened after Restart()
};

}  // namespace sluice::testing
