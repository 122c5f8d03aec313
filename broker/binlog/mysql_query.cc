#include "broker/binlog/mysql_query.h"

namespace sluice::binlog::mysql_query {
namespace {

constexpr unsigned kErAccessDenied = 1045;

std::string MissingPrivilege(unsigned err, std::string_view msg, bool mariadb) {
  for (const char* p : {"REPLICATION SLAVE", "BINLOG MONITOR", "REPLICATION CLIENT", "SUPER"}) {
    if (msg.find(p) != std::string_view::npos) return p;
  }
  if (err == 1142 || err == 1143) return "SELECT";
  return mariadb ? "REPLICATION SLAVE, BINLOG MONITOR or SELECT"
                 : "REPLICATION SLAVE, REPLICATION CLIENT or SELECT";
}

}  // namespace

Status MapError(const MysqlSourceOptions& o, bool mariadb, unsigned err, std::string_view msg,
                std::string_view what) {
  const std::string where = o.host + ":" + std::to_string(o.port);
  const std::string detail = "error " + std::to_string(err) + ": " + std::string(msg);
  switch (err) {
    case kErAccessDenied:
      return Status::FailedPrecondition("authentication failed for user '" + o.user + "' at " +
                                        where + " (" + detail +
                                        "): check the user and password of the source URL");
    case 1044:
    case 1142:
    case 1143:
    case 1227: {  // access denied to a db/table/column/operation
      const std::string p = MissingPrivilege(err, msg, mariadb);
      return Status::FailedPrecondition(std::string(what) + ": user '" + o.user + "' at " + where +
                                        " lacks the " + p + " privilege (" + detail + "): GRANT " +
                                        p + " ON *.* TO '" + o.user + "'@'%'");
    }
    case 2002:
    case 2003:
    case 2005:  // no socket / refused / unknown host
      return Status::Unavailable("cannot connect to " + where + ": " + detail);
    case 2006:
    case 2013:
    case 2055:  // gone away / lost / lost at system error
      return Status::Unavailable("server at " + where + " went away: " + detail);
    // The server is shutting down, out of connections, or dropped ours:
    // a retry later cures these (sluiced retries them quickly).
    case 1040:
    case 1053:
    case 1203:
    case 1927:  // too many / shutdown / user's max / killed
    case 1158:
    case 1159:
    case 1160:
    case 1161:  // network read/write errors and timeouts
      return Status::Unavailable(std::string(what) + " at " + where + ": " + detail);
    case 2026:  // TLS
      return Status::FailedPrecondition("TLS with " + where + " failed (" + detail +
                                        "): check ssl-mode and ssl-ca");
    case 2059:
    case 2061:  // auth plugin cannot load / needs a secure connection
      return Status::FailedPrecondition(
          "authentication failed for user '" + o.user + "' at " + where + " (" + detail +
          "): for caching_sha2_password use TLS or give the server's RSA key (server-public-key)");
    default:
      if (err >= 2000 && err < 3000) {
        return Status::Unavailable(std::string(what) + " at " + where + ": " + detail);
      }
      return Status::Internal(std::string(what) + " at " + where + ": " + detail);
  }
}

Status MapError(const MysqlSourceOptions& o, bool mariadb, MYSQL* m, std::string_view what) {
  return MapError(o, mariadb, mysql_errno(m), mysql_error(m), what);
}

Result<std::vector<Row>> RunQuery(const MysqlSourceOptions& o, bool mariadb, MYSQL* m,
                                  std::string_view sql, std::string_view what) {
  if (mysql_real_query(m, sql.data(), sql.size()) != 0) return MapError(o, mariadb, m, what);
  MYSQL_RES* res = mysql_store_result(m);
  if (res == nullptr) {
    if (mysql_field_count(m) != 0) return MapError(o, mariadb, m, what);
    return std::vector<Row>{};
  }
  return TakeRows(res);
}

std::vector<Row> TakeRows(MYSQL_RES* res) {
  std::vector<Row> rows;
  const unsigned n = mysql_num_fields(res);
  while (MYSQL_ROW row = mysql_fetch_row(res)) {
    const unsigned long* len = mysql_fetch_lengths(res);
    Row r(n);
    for (unsigned i = 0; i < n; ++i) {
      if (row[i] != nullptr) r[i] = std::string(row[i], len[i]);
    }
    rows.push_back(std::move(r));
  }
  mysql_free_result(res);
  return rows;
}

std::string Value(const std::vector<Row>& rows, size_t col) {
  return !rows.empty() && rows[0].size() > col && rows[0][col] ? *rows[0][col] : "";
}

}  // namespace sluice::binlog::mysql_query
