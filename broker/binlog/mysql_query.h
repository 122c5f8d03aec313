// The queries MysqlSource runs beside the dump, and its connection: a
// private header of broker/binlog (mysql_source.cc, mysql_check.cc).
#pragma once

#include <mysql.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "broker/binlog/mysql_source.h"

namespace sluice::binlog {

struct MysqlSource::Conn {
  MYSQL* m = nullptr;
  ~Conn() {
    if (m != nullptr) mysql_close(m);
  }
};

namespace mysql_query {

using Row = std::vector<std::optional<std::string>>;

// Turns a client or server error into a Status that says what to do:
// Unavailable for what a retry may cure (the network, a server going
// away or out of connections), FailedPrecondition naming the fix for
// authentication, privileges and TLS, Internal otherwise.
Status MapError(const MysqlSourceOptions& o, bool mariadb, unsigned err, std::string_view msg,
                std::string_view what);
Status MapError(const MysqlSourceOptions& o, bool mariadb, MYSQL* m, std::string_view what);

// Every row of a result as text (NULL as nullopt); frees `res`.
std::vector<Row> TakeRows(MYSQL_RES* res);

// One statement's rows as text (NULL as nullopt); errors by MapError.
Result<std::vector<Row>> RunQuery(const MysqlSourceOptions& o, bool mariadb, MYSQL* m,
                                  std::string_view sql, std::string_view what);

// The first row's column `col`, "" when absent or NULL.
std::string Value(const std::vector<Row>& rows, size_t col);

}  // namespace mysql_query
}  // namespace sluice::binlog
