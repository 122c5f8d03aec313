// MysqlTarget: the connection `sluice apply` writes through, to a MySQL or
// MariaDB server (MariaDB Connector/C, binary protocol for row changes).
//
//   auto t = MysqlTarget::Connect(ParseTargetUrl("mysql://u:pw@127.0.0.1:3306").value());
//   (*t)->Execute("START TRANSACTION");
//   auto stmt = (*t)->Prepare("UPDATE `db`.`t` SET `a`=? WHERE `id`=?");   // cached by text
//
// The session is set up so that values are never silently changed and
// replayed times mean what they meant at the source: utf8mb4, time_zone
// '+00:00' (TIMESTAMP values are UTC), sql_mode STRICT_ALL_TABLES +
// NO_AUTO_VALUE_ON_ZERO (and nothing else: zero dates are stored as given),
// foreign_key_checks=0 (the source already checked them, and rows of a
// batch arrive in source order, not in dependency order). The connection
// is opened with CLIENT_FOUND_ROWS, so an UPDATE's affected rows are the
// rows it matched: apply checks that every change matched its row.
//
// Errors: every failure is a Status whose message names the statement and
// carries the server's errno and message; a lost connection (or a server
// shutting down, a killed connection, a deadlock) is Code::kUnavailable,
// every other server error Code::kFailedPrecondition. After kUnavailable
// the connection must be dropped and a new one made (the server rolled the
// open transaction back).
//
// Thread safety: one thread uses a MysqlTarget.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

typedef struct st_mysql MYSQL;
typedef struct st_mysql_stmt MYSQL_STMT;
typedef struct st_mysql_bind MYSQL_BIND;

namespace sluice::apply {

struct TargetOptions {
  std::string host;
  int port = 3306;
  std::string user, password;
  int connect_timeout_s = 10;
  int read_timeout_s = 600;  // a DDL on a big table may take long
};

// "mysql://USER:PASSWORD@HOST:PORT" (the password may be empty, the port
// defaults to 3306, a trailing '/' is allowed).
Result<TargetOptions> ParseTargetUrl(std::string_view url);

class MysqlTarget {
 public:
  static Result<std::unique_ptr<MysqlTarget>> Connect(const TargetOptions& options);
  ~MysqlTarget();
  MysqlTarget(const MysqlTarget&) = delete;
  MysqlTarget& operator=(const MysqlTarget&) = delete;

  bool is_mariadb() const { return mariadb_; }
  // True when the server executes a statement for an array of rows in one
  // round trip (MariaDB's COM_STMT_BULK_EXECUTE).
  bool bulk() const { return bulk_; }
  std::string server_version() const;

  // Runs one statement (no result set expected, or it is discarded).
  Status Execute(std::string_view sql);
  // The first row of a query, as text (nullopt for NULL); empty when none.
  Result<std::vector<std::optional<std::string>>> QueryRow(std::string_view sql);
  // Every row of a query, as QueryRow gives the first.
  Result<std::vector<std::vector<std::optional<std::string>>>> QueryRows(std::string_view sql);
  // `s` quoted as a string literal for this connection.
  std::string Quote(std::string_view s);
  // The server's errno of the last failure (0 when none).
  unsigned last_errno() const { return last_errno_; }

  // A prepared statement for `sql`, prepared once and kept (at most
  // kMaxStatements; beyond that the cache is emptied). The pointer lives
  // until ClearStatements() or the target goes away.
  Result<MYSQL_STMT*> Prepare(const std::string& sql);
  void ClearStatements();

  // Executes `stmt` with `binds` for `rows` rows: one bulk round trip when
  // bulk() (binds are column arrays, see apply_sql.h), else the caller
  // must pass rows == 1. Returns the affected (matched) rows.
  Result<uint64_t> ExecuteBound(MYSQL_STMT* stmt, MYSQL_BIND* binds, unsigned rows,
                                const std::string& sql);

  // True when the server takes LOAD DATA LOCAL (@@local_infile: on by
  // default in MariaDB, off in MySQL 8).
  bool local_infile() const { return local_infile_; }
  // LOAD DATA LOCAL: `sql` names the file 'sluice-rows'; `data` is sent as
  // its contents. Returns the affected rows (inserted + deleted). A LOCAL
  // load turns data errors into warnings (the server cannot stop the
  // client's send), so any warning is returned as an error here: the
  // statement's changes stay in the open transaction, which the caller
  // then rolls back.
  Result<uint64_t> LoadData(const std::string& sql, std::string_view data);
  static constexpr const char* kLoadFileName = "sluice-rows";

  static constexpr size_t kMaxStatements = 512;

 private:
  explicit MysqlTarget(MYSQL* m);
  Status Error(unsigned err, std::string_view message, std::string_view sql);

  MYSQL* m_;
  bool mariadb_ = false;
  bool bulk_ = false;
  bool local_infile_ = false;
  unsigned last_errno_ = 0;
  std::map<std::string, MYSQL_STMT*> stmts_;
};

// True for server errors that a new connection and a retry from the
// stored offset cure (lost connection, shutdown, deadlock, lock timeout).
bool IsTransient(unsigned mysql_errno);

}  // namespace sluice::apply
