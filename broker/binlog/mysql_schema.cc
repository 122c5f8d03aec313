#include "broker/binlog/mysql_schema.h"

#include <mysql.h>

namespace sluice::binlog {

std::vector<std::string> ParseEnumLabels(std::string_view t) {
  std::vector<std::string> out;
  size_t open = t.find('(');
  if (open == std::string_view::npos) return out;
  size_t i = open + 1;
  while (i < t.size() && t[i] == '\'') {
    std::string label;
    ++i;
    while (i < t.size()) {
      if (t[i] == '\'' && i + 1 < t.size() && t[i + 1] == '\'') {
        label.push_back('\'');
        i += 2;
      } else if (t[i] == '\'') {
        ++i;
        break;
      } else {
        label.push_back(t[i++]);
      }
    }
    out.push_back(std::move(label));
    if (i < t.size() && t[i] == ',') ++i;
  }
  return out;
}

MysqlSchemaResolver::MysqlSchemaResolver(MysqlSourceOptions options)
    : options_(std::move(options)) {}

MysqlSchemaResolver::~MysqlSchemaResolver() {
  if (conn_ != nullptr) mysql_close(conn_);
}

Status MysqlSchemaResolver::Connect() {
  if (conn_ != nullptr) return Status::Ok();
  SLUICE_ASSIGN_OR_RETURN(conn_, ConnectMysql(options_));
  if (mysql_set_character_set(conn_, "utf8mb4") != 0) {
    Status st = Status::Unavailable(std::string("schema connection: ") + mysql_error(conn_));
    mysql_close(conn_);
    conn_ = nullptr;
    return st;
  }
  return Status::Ok();
}

Result<TableSchema> MysqlSchemaResolver::Lookup(const std::string& db, const std::string& table) {
  auto key = std::make_pair(db, table);
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  Result<TableSchema> r = Query(db, table);
  if (!r.ok() && r.status().code() == Code::kUnavailable) r = Query(db, table);  // once more
  if (r.ok()) cache_[key] = *r;
  return r;
}

Result<TableSchema> MysqlSchemaResolver::Query(const std::string& db, const std::string& table) {
  SLUICE_RETURN_IF_ERROR(Connect());
  auto escape = [&](const std::string& s) {
    std::string out(s.size() * 2 + 1, '\0');
    out.resize(mysql_real_escape_string(conn_, out.data(), s.data(), s.size()));
    return out;
  };
  std::string sql =
      "SELECT c.COLUMN_NAME, c.COLUMN_TYPE, c.COLUMN_KEY, COALESCE(co.ID, 0) "
      "FROM information_schema.COLUMNS c LEFT JOIN information_schema.COLLATIONS co "
      "ON co.COLLATION_NAME = c.COLLATION_NAME "
      "WHERE c.TABLE_SCHEMA = '" +
      escape(db) + "' AND c.TABLE_NAME = '" + escape(table) + "' ORDER BY c.ORDINAL_POSITION";
  if (mysql_real_query(conn_, sql.data(), sql.size()) != 0) {
    unsigned err = mysql_errno(conn_);
    Status st = Status(err == 2006 || err == 2013 ? Code::kUnavailable : Code::kFailedPrecondition,
                       "reading the schema of " + db + "." + table + ": " + mysql_error(conn_) +
                           (err == 1142 || err == 1044 ? " (grant SELECT on it to the user)" : ""));
    if (st.code() == Code::kUnavailable) {
      mysql_close(conn_);
      conn_ = nullptr;
    }
    return st;
  }
  MYSQL_RES* res = mysql_store_result(conn_);
  if (res == nullptr)
    return Status::Unavailable(std::string("schema query: ") + mysql_error(conn_));
  TableSchema s;
  uint32_t index = 0;
  while (MYSQL_ROW row = mysql_fetch_row(res)) {
    std::string type = row[1] ? row[1] : "";
    s.names.emplace_back(row[0] ? row[0] : "");
    s.is_unsigned.push_back(type.find("unsigned") != std::string::npos);
    s.collations.push_back(row[3] ? static_cast<uint32_t>(std::stoul(row[3])) : 0);
    bool labelled = type.starts_with("enum(") || type.starts_with("set(");
    s.labels.push_back(labelled ? ParseEnumLabels(type) : std::vector<std::string>{});
    if (row[2] && std::string_view(row[2]) == "PRI") s.pk.push_back(index);
    ++index;
  }
  mysql_free_result(res);
  if (s.names.empty()) return Status::NotFound("table " + db + "." + table + " does not exist now");
  return s;
}

}  // namespace sluice::binlog
