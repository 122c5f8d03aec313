// Column names, signedness, collations, ENUM/SET labels and primary keys
// from the source's information_schema, for servers that log no optional
// table-map metadata (binlog_row_metadata=MINIMAL, MySQL 5.7).
//
// Uses its own connection (never the dump connection), opened lazily and
// reopened once after an error. Lookups are cached until Invalidate().
//
// Caveat (every CDC tool's): the schema read now may be newer than the
// event being decoded when the reader lags behind a DDL. A column-count
// mismatch is detected (the table map then keeps positional keys); a change
// that keeps the count (a rename) is not.
//
// Thread safety: one thread (the serial decode stage) uses a resolver.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "broker/binlog/decoder.h"
#include "broker/binlog/mysql_source.h"

namespace sluice::binlog {

class MysqlSchemaResolver : public SchemaResolver {
 public:
  // Connects like the source (same user, TLS settings); `options.start` is unused.
  explicit MysqlSchemaResolver(MysqlSourceOptions options);
  ~MysqlSchemaResolver() override;
  MysqlSchemaResolver(const MysqlSchemaResolver&) = delete;
  MysqlSchemaResolver& operator=(const MysqlSchemaResolver&) = delete;

  Result<TableSchema> Lookup(const std::string& db, const std::string& table) override;
  void Invalidate() override { cache_.clear(); }

 private:
  Status Connect();
  Result<TableSchema> Query(const std::string& db, const std::string& table);

  const MysqlSourceOptions options_;
  st_mysql* conn_ = nullptr;
  std::map<std::pair<std::string, std::string>, TableSchema> cache_;
};

// Parses the labels of an information_schema COLUMN_TYPE such as
// "enum('a','b''c')" or "set('x','y')" (quotes doubled inside labels).
std::vector<std::string> ParseEnumLabels(std::string_view column_type);

}  // namespace sluice::binlog
