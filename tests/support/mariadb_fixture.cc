#include "tests/support/mariadb_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <mysql.h>

#include "tests/support/free_port.h"

namespace sluice::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kInstallTimeout = std::chrono::seconds(120);
constexpr auto kStartTimeout = std::chrono::seconds(60);
constexpr auto kStopTimeout = std::chrono::seconds(60);

// mysql_library_init is not thread-safe; mysql_init would call it lazily.
void LibraryInit() {
  static std::once_flag once;
  std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
}

std::string TempBase() {
  const char* base = std::getenv("TMPDIR");
  return (base != nullptr && *base != '\0') ? base : "/tmp";
}

// The last `max` bytes of a file, for error messages.
std::string FileTail(const std::string& path, size_t max = 3000) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "(no " + path + ")";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > max ? "..." + s.substr(s.size() - max) : s;
}

// Starts `argv` (no shell) with stdin on /dev/null and stdout and stderr
// appended to `log`. The child dies with the thread that started it
// (ChildProcess), so start the fixture from a thread that outlives it.
Result<ChildProcess> Spawn(const std::vector<std::string>& argv, const std::string& log) {
  return ChildProcess::Start(
      argv,
      {.stdin_path = "/dev/null", .stdout_path = log, .append = true, .stderr_to_stdout = true});
}

// Flags both mariadb-install-db and mariadbd get. Each server has its own
// tmpdir: mariadbd deletes stray "#sql*" files in its tmpdir at startup,
// which would pull temporary tables from under a concurrent fixture's
// mariadb-install-db if they shared $TMPDIR.
std::vector<std::string> CommonServerFlags(const std::string& dir) {
  std::vector<std::string> f = {"--innodb-buffer-pool-size=64M", "--innodb-log-file-size=16M",
                                "--tmpdir=" + dir + "/tmp"};
  if (::geteuid() == 0) f.push_back("--user=root");
  return f;
}

}  // namespace

struct MariaDb::Conn {
  MYSQL* mysql = nullptr;
  ~Conn() {
    if (mysql != nullptr) mysql_close(mysql);
  }
};

namespace {

Status ServerError(MYSQL* m, std::string_view what) {
  return Status::Internal(std::string(what) + ": error " + std::to_string(mysql_errno(m)) + " (" +
                          mysql_sqlstate(m) + "): " + mysql_error(m));
}

// Connects as root over TCP. Unavailable when the server does not answer.
Result<MYSQL*> ConnectRoot(int port) {
  LibraryInit();
  MYSQL* m = mysql_init(nullptr);
  if (m == nullptr) return Status::Internal("mysql_init failed");
  unsigned int connect_timeout = 2, rw_timeout = 300;
  unsigned int protocol = MYSQL_PROTOCOL_TCP;
  mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
  mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &rw_timeout);
  mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &rw_timeout);
  mysql_optionsv(m, MYSQL_OPT_PROTOCOL, &protocol);
  if (mysql_real_connect(m, "127.0.0.1", "root", "", nullptr, static_cast<unsigned>(port), nullptr,
                         CLIENT_MULTI_STATEMENTS) == nullptr) {
    Status s =
        Status::Unavailable("connect to 127.0.0.1:" + std::to_string(port) + ": " + mysql_error(m));
    mysql_close(m);
    return s;
  }
  return m;
}

// Reads and frees every pending result of the last statement(s).
Status DrainResults(MYSQL* m, std::string_view sql) {
  for (;;) {
    MYSQL_RES* res = mysql_store_result(m);
    if (res != nullptr) {
      mysql_free_result(res);
    } else if (mysql_field_count(m) != 0) {
      return ServerError(m, sql);
    }
    int more = mysql_next_result(m);
    if (more < 0) return Status::Ok();
    if (more > 0) return ServerError(m, sql);
  }
}

}  // namespace

Result<std::unique_ptr<MariaDb>> MariaDb::Start(const MariaDbOptions& options) {
  std::unique_ptr<MariaDb> db(new MariaDb());
  db->options_ = options;
  std::string templ = TempBase() + "/sluice-mariadb-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    return Status::IoError("mkdtemp(" + templ + "): " + strerror(errno));
  }
  db->dir_ = templ;
  if (::mkdir((templ + "/tmp").c_str(), 0700) != 0) {
    return Status::IoError("mkdir(" + templ + "/tmp): " + strerror(errno));
  }

  // Install the system tables.
  std::vector<std::string> install = {"/usr/bin/mariadb-install-db",
                                      "--no-defaults",
                                      "--datadir=" + db->dir_ + "/data",
                                      "--auth-root-authentication-method=normal",
                                      "--skip-test-db",
                                      "--skip-name-resolve"};
  for (auto& f : CommonServerFlags(db->dir_)) install.push_back(f);
  const std::string install_log = db->dir_ + "/install.log";
  SLUICE_ASSIGN_OR_RETURN(ChildProcess installer, Spawn(install, install_log));
  const auto installed = installer.WaitFor(kInstallTimeout);
  if (!installed) {
    installer.Kill();
    return Status::Unavailable("mariadb-install-db timed out:\n" + FileTail(install_log));
  }
  if (!installed->success()) {
    return Status::Unavailable("mariadb-install-db " + installed->ToString() + ":\n" +
                               FileTail(install_log));
  }

  SLUICE_ASSIGN_OR_RETURN(db->port_, testing::PickFreePort());
  SLUICE_RETURN_IF_ERROR(db->Launch());

  // Anonymous users would match 'repl' connecting from localhost before
  // 'repl'@'%' does; remove them whatever the installer created.
  std::string setup =
      "DELETE FROM mysql.global_priv WHERE User='';"
      "FLUSH PRIVILEGES;"
      "CREATE USER '" +
      std::string(kReplUser) + "'@'%' IDENTIFIED BY '" + kReplPassword +
      "';"
      "GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* TO '" +
      kReplUser + "'@'%';";
  SLUICE_RETURN_IF_ERROR(db->Execute(setup).WithContext("creating the replication user"));
  return db;
}

MariaDb::~MariaDb() {
  (void)Stop();
  if (!dir_.empty() && std::getenv("SLUICE_KEEP_MARIADB") == nullptr) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string MariaDb::ReplUrl() const {
  return std::string("mysql://") + kReplUser + ":" + kReplPassword + "@" + host_ + ":" +
         std::to_string(port_);
}

Status MariaDb::Launch() {
  const std::string err_log = dir_ + "/err.log";
  std::vector<std::string> argv = {"/usr/sbin/mariadbd",
                                   "--no-defaults",
                                   "--datadir=" + dir_ + "/data",
                                   "--socket=" + dir_ + "/sock",
                                   "--port=" + std::to_string(port_),
                                   "--bind-address=127.0.0.1",
                                   "--pid-file=" + dir_ + "/mariadbd.pid",
                                   "--log-error=" + err_log,
                                   "--server-id=1",
                                   "--log-bin=" + dir_ + "/data/binlog",
                                   "--binlog-format=ROW",
                                   "--binlog-row-metadata=" + options_.row_metadata,
                                   "--binlog-row-image=" + options_.row_image,
                                   "--skip-name-resolve",
                                   "--innodb-flush-log-at-trx-commit=2"};
  for (auto& f : CommonServerFlags(dir_)) argv.push_back(f);
  for (const auto& a : options_.extra_args) argv.push_back(a);
  SLUICE_ASSIGN_OR_RETURN(server_, Spawn(argv, dir_ + "/mariadbd.out"));

  const auto deadline = Clock::now() + kStartTimeout;
  std::string last_error;
  for (;;) {
    if (auto ended = server_.Poll()) {
      return Status::Unavailable("mariadbd " + ended->ToString() + " during startup:\n" +
                                 FileTail(err_log));
    }
    auto m = ConnectRoot(port_);
    if (m.ok()) {
      conn_ = std::make_unique<Conn>();
      conn_->mysql = *m;
      return Status::Ok();
    }
    last_error = m.status().message();
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  (void)Stop();
  return Status::Unavailable("mariadbd did not accept connections within " +
                             std::to_string(kStartTimeout.count()) + " s (" + last_error + "):\n" +
                             FileTail(err_log));
}

Status MariaDb::Stop() {
  conn_.reset();
  if (!server_.running()) return Status::Ok();
  if (server_.Terminate(kStopTimeout)) return Status::Ok();
  return Status::Aborted("mariadbd did not stop within " + std::to_string(kStopTimeout.count()) +
                         " s of SIGTERM and was killed");
}

Status MariaDb::Restart() {
  SLUICE_RETURN_IF_ERROR(Stop());
  return Launch();
}

Status MariaDb::Execute(std::string_view sql) {
  if (!conn_) return Status::FailedPrecondition("the MariaDB fixture is stopped");
  MYSQL* m = conn_->mysql;
  if (mysql_real_query(m, sql.data(), sql.size()) != 0) return ServerError(m, sql);
  return DrainResults(m, sql);
}

Status MariaDb::ExecuteDetached(std::string_view sql) {
  SLUICE_ASSIGN_OR_RETURN(MYSQL * m, ConnectRoot(port_));
  Status st =
      mysql_real_query(m, sql.data(), sql.size()) != 0 ? ServerError(m, sql) : DrainResults(m, sql);
  mysql_close(m);
  return st;
}

Result<std::vector<SqlRow>> MariaDb::Query(std::string_view sql) {
  if (!conn_) return Status::FailedPrecondition("the MariaDB fixture is stopped");
  return QueryOn(conn_->mysql, sql);
}

Result<std::vector<SqlRow>> MariaDb::QueryDetached(std::string_view sql) {
  SLUICE_ASSIGN_OR_RETURN(MYSQL * m, ConnectRoot(port_));
  auto rows = QueryOn(m, sql);
  mysql_close(m);
  return rows;
}

Status MariaDb::ReplicateFrom(MariaDb& primary) {
  SLUICE_ASSIGN_OR_RETURN(auto pos, primary.QueryDetached("SELECT @@global.gtid_binlog_pos"));
  const std::string gtid = pos.empty() || !pos[0][0] ? "" : *pos[0][0];
  return Execute("RESET MASTER; SET GLOBAL gtid_slave_pos = '" + gtid +
                 "'; CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = " +
                 std::to_string(primary.port()) + ", MASTER_USER = '" + kReplUser +
                 "', MASTER_PASSWORD = '" + kReplPassword +
                 "', MASTER_USE_GTID = slave_pos; START SLAVE");
}

Status MariaDb::Kill() {
  if (server_.running()) server_.Kill();
  return Status::Ok();
}

Result<std::vector<SqlRow>> MariaDb::QueryOn(MYSQL* m, std::string_view sql) {
  if (mysql_real_query(m, sql.data(), sql.size()) != 0) return ServerError(m, sql);
  std::vector<SqlRow> rows;
  MYSQL_RES* res = mysql_store_result(m);
  if (res == nullptr) {
    if (mysql_field_count(m) != 0) return ServerError(m, sql);
  } else {
    const unsigned n = mysql_num_fields(res);
    while (MYSQL_ROW row = mysql_fetch_row(res)) {
      const unsigned long* lengths = mysql_fetch_lengths(res);
      SqlRow out(n);
      for (unsigned i = 0; i < n; ++i) {
        if (row[i] != nullptr) out[i] = std::string(row[i], lengths[i]);
      }
      rows.push_back(std::move(out));
    }
    mysql_free_result(res);
  }
  // A multi-statement string may leave more results; they must be read
  // before the connection takes another command.
  int more;
  while ((more = mysql_next_result(m)) == 0) {
    if (MYSQL_RES* r = mysql_store_result(m)) mysql_free_result(r);
  }
  if (more > 0) return ServerError(m, sql);
  return rows;
}

Result<std::vector<std::string>> MariaDb::BinlogFiles() {
  SLUICE_ASSIGN_OR_RETURN(auto base, Query("SELECT @@log_bin_basename"));
  if (base.empty() || !base[0][0]) return Status::FailedPrecondition("log_bin is off");
  const std::string dir = std::filesystem::path(*base[0][0]).parent_path().string();
  SLUICE_ASSIGN_OR_RETURN(auto logs, Query("SHOW BINARY LOGS"));
  std::vector<std::string> files;
  for (const auto& row : logs) {
    if (!row.empty() && row[0]) files.push_back(dir + "/" + *row[0]);
  }
  return files;
}

}  // namespace sluice::testing
