// The database and table a logged statement names: what the include and
// exclude filters (and a consumer) need of a DDL statement or of a
// statement-logged DML statement, and nothing more. No SQL is parsed beyond
// the statement's leading keywords and the first name after them.
//
// Names may be unquoted, `backquoted` (`` inside stands for one `) or
// "double-quoted" (ANSI_QUOTES), qualified (`shop`.`t2`, shop.t2) or not
// (then the Query event's default database applies). Comments (/* */,
// -- to the end of the line, # to the end of the line) may stand anywhere
// between tokens; the contents of a versioned comment (/*!50100 ... */) are
// read as SQL, as the server reads them.
//
// Statements understood (MySQL 8 / MariaDB 10.11 grammar, leading part only):
//   CREATE [OR REPLACE] [TEMPORARY] TABLE [IF NOT EXISTS] t
//   ALTER [ONLINE] [IGNORE] TABLE [IF EXISTS] t
//   DROP [TEMPORARY] TABLE [IF EXISTS] t[, ...]       (the first table)
//   RENAME TABLE t TO u[, ...]                       (the first table)
//   TRUNCATE [TABLE] t
//   CREATE [OR REPLACE] [UNIQUE|FULLTEXT|SPATIAL] INDEX [IF NOT EXISTS] i ... ON t
//   DROP INDEX [IF EXISTS] i ON t
//   CREATE [OR REPLACE] DATABASE|SCHEMA [IF NOT EXISTS] d   (table "")
//   DROP DATABASE|SCHEMA [IF EXISTS] d                      (table "")
//   ALTER DATABASE|SCHEMA d                                 (table "")
//   INSERT/REPLACE [LOW_PRIORITY|DELAYED|HIGH_PRIORITY] [IGNORE] [INTO] t
//   UPDATE [LOW_PRIORITY] [IGNORE] t
//   DELETE [LOW_PRIORITY] [QUICK] [IGNORE] FROM t
//   LOAD DATA|XML ... INTO TABLE t
// Anything else: the default database and no table.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace sluice::binlog {

enum class StatementKind {
  kOther,     // DDL the filters see as "db." (views, routines, users, ...)
  kTable,     // a table DDL statement: CREATE/ALTER/DROP/RENAME/TRUNCATE TABLE, INDEX
  kDatabase,  // CREATE/DROP/ALTER DATABASE
  kDml,       // INSERT, REPLACE, UPDATE, DELETE, LOAD DATA: rows the binlog does not carry
};

struct StatementTarget {
  StatementKind kind = StatementKind::kOther;
  std::string db;     // the qualifier, or the default database
  std::string table;  // "" when the statement names none
};

// Reads the target of `sql`, logged with `default_db` current (the Query
// event's database, "" when none was selected).
StatementTarget ParseStatementTarget(std::string_view sql, std::string_view default_db);

// False when `sql` is nothing but white space and comments (servers log
// such "statements" in place of events a replica may ignore).
bool HasStatement(std::string_view sql);

}  // namespace sluice::binlog
