#include "broker/snapshot/table_reader.h"

#include <mysql.h>

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <map>
#include <regex>

#include "broker/binlog/mysql_query.h"
#include "broker/binlog/mysql_schema.h"
#include "broker/ingest/snapshot_gate.h"

namespace sluice::snapshot {
namespace {

using Row = std::vector<std::optional<std::string>>;

// enum_field_types, as a binlog table map names a column's type.
enum : uint32_t {
  kTiny = 1,
  kShort = 2,
  kLong = 3,
  kFloat = 4,
  kDouble = 5,
  kLongLong = 8,
  kInt24 = 9,
  kDate = 10,
  kYear = 13,
  kVarchar = 15,
  kBit = 16,
  kTimestamp2 = 17,
  kDateTime2 = 18,
  kTime2 = 19,
  kJson = 245,
  kNewDecimal = 246,
  kEnum = 247,
  kSet = 248,
  kBlob = 252,
  kString = 254,
  kGeometry = 255,
};

// How a column's text becomes a value, by DATA_TYPE.
enum class Render {
  kInt,
  kFloat,
  kDouble,
  kDecimal,
  kText,
  kBinary,
  kEnum,
  kBit,
  kGeometry,
  kJson
};

struct TypeInfo {
  uint32_t mysql_type;
  Render render;
};

const std::map<std::string, TypeInfo>& Types() {
  static const auto* types = new std::map<std::string, TypeInfo>{
      {"tinyint", {kTiny, Render::kInt}},
      {"smallint", {kShort, Render::kInt}},
      {"mediumint", {kInt24, Render::kInt}},
      {"int", {kLong, Render::kInt}},
      {"bigint", {kLongLong, Render::kInt}},
      {"year", {kYear, Render::kInt}},
      {"float", {kFloat, Render::kFloat}},
      {"double", {kDouble, Render::kDouble}},
      {"decimal", {kNewDecimal, Render::kDecimal}},
      {"date", {kDate, Render::kText}},
      {"time", {kTime2, Render::kText}},
      {"datetime", {kDateTime2, Render::kText}},
      {"timestamp", {kTimestamp2, Render::kText}},
      {"char", {kString, Render::kText}},
      {"varchar", {kVarchar, Render::kText}},
      {"tinytext", {kBlob, Render::kText}},
      {"text", {kBlob, Render::kText}},
      {"mediumtext", {kBlob, Render::kText}},
      {"longtext", {kBlob, Render::kText}},
      {"binary", {kString, Render::kBinary}},
      {"varbinary", {kVarchar, Render::kBinary}},
      {"tinyblob", {kBlob, Render::kBinary}},
      {"blob", {kBlob, Render::kBinary}},
      {"mediumblob", {kBlob, Render::kBinary}},
      {"longblob", {kBlob, Render::kBinary}},
      {"enum", {kEnum, Render::kEnum}},
      {"set", {kSet, Render::kEnum}},
      {"bit", {kBit, Render::kBit}},
      {"json", {kJson, Render::kJson}},
      {"geometry", {kGeometry, Render::kGeometry}},
      {"point", {kGeometry, Render::kGeometry}},
      {"linestring", {kGeometry, Render::kGeometry}},
      {"polygon", {kGeometry, Render::kGeometry}},
      {"multipoint", {kGeometry, Render::kGeometry}},
      {"multilinestring", {kGeometry, Render::kGeometry}},
      {"multipolygon", {kGeometry, Render::kGeometry}},
      {"geometrycollection", {kGeometry, Render::kGeometry}},
  };
  return *types;
}

Render RenderOf(const ColumnDesc& c) {
  if (c.render >= 0) return static_cast<Render>(c.render);
  auto it = Types().find(c.data_type);
  Render r = it == Types().end() ? Render::kText : it->second.render;
  // A character type with the binary character set is a binary string.
  if (r == Render::kText && c.charset == "binary") r = Render::kBinary;
  return r;
}

std::string Quoted(std::string_view name) {
  std::string out = "`";
  for (char c : name) {
    if (c == '`') out.push_back('`');
    out.push_back(c);
  }
  return out + "`";
}

bool IsTemporal(const std::string& t) {
  return t == "date" || t == "time" || t == "datetime" || t == "timestamp";
}

// What to SELECT beside a key column to write its value back as a bound,
// and how the bound reads in SQL. Character keys go back as their stored
// bytes in their own character set, so the server compares them in the
// column's collation; ENUM, SET and BIT by number.
std::string BoundExpr(const ColumnDesc& c) {
  std::string q = Quoted(c.name);
  if (c.data_type == "enum" || c.data_type == "set" || c.data_type == "bit") return q + "+0";
  if (RenderOf(c) == Render::kText && !IsTemporal(c.data_type)) return "HEX(" + q + ")";
  if (RenderOf(c) == Render::kBinary) return "HEX(" + q + ")";
  return q;
}

std::string BoundLiteral(const ColumnDesc& c, const std::string& text) {
  if (c.data_type == "enum" || c.data_type == "set" || c.data_type == "bit") return text;
  if (RenderOf(c) == Render::kBinary) return "X'" + text + "'";
  if (RenderOf(c) == Render::kText && !IsTemporal(c.data_type)) {
    return "_" + c.charset + " X'" + text + "'";
  }
  if (IsTemporal(c.data_type)) return "'" + text + "'";
  return text;  // integers, DECIMAL
}

}  // namespace

std::string KeyText(const std::vector<const proto::Value*>& key) {
  std::string out = "(";
  for (size_t i = 0; i < key.size(); ++i) {
    if (i) out += ", ";
    const proto::Value& v = *key[i];
    switch (v.kind_case()) {
      case proto::Value::kInt64: out += std::to_string(v.int64()); break;
      case proto::Value::kUint64: out += std::to_string(v.uint64()); break;
      case proto::Value::kDecimal: out += v.decimal(); break;
      case proto::Value::kText: out += "'" + v.text().substr(0, 64) + "'"; break;
      case proto::Value::kEnumLabel: out += "'" + v.enum_label() + "'"; break;
      case proto::Value::kBinary: out += "<" + std::to_string(v.binary().size()) + " bytes>"; break;
      default: out += "?";
    }
  }
  return out + ")";
}

std::string DefinitionKey(const std::string& create_sql) {
  static const std::regex kCounter(" AUTO_INCREMENT=[0-9]+");
  return std::regex_replace(create_sql, kCounter, "");
}

Status TextToValue(const ColumnDesc& c, std::optional<std::string_view> text, proto::Value* out) {
  if (!text) {
    out->set_is_null(true);
    return Status::Ok();
  }
  const std::string_view t = *text;
  auto bad = [&] {
    return Status::Corruption("column " + c.name + " (" + c.column_type + "): the server sent '" +
                              std::string(t.substr(0, 64)) + "', which is not a value of its type");
  };
  switch (RenderOf(c)) {
    case Render::kInt: {
      if (c.is_unsigned) {
        uint64_t v = 0;
        auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (ec != std::errc() || p != t.data() + t.size()) return bad();
        out->set_uint64(v);
      } else {
        int64_t v = 0;
        auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (ec != std::errc() || p != t.data() + t.size()) return bad();
        out->set_int64(v);
      }
      return Status::Ok();
    }
    case Render::kFloat:
    case Render::kDouble: {
      // (ReadChunk selects a FLOAT as a DOUBLE: its exact value widened,
      // which is what the decoder gives.)
      double v = 0;
      auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
      if (ec != std::errc() || p != t.data() + t.size()) return bad();
      out->set_float64(v);
      return Status::Ok();
    }
    case Render::kDecimal: out->mutable_decimal()->assign(t.data(), t.size()); return Status::Ok();
    case Render::kText: out->mutable_text()->assign(t.data(), t.size()); return Status::Ok();
    case Render::kBinary: out->mutable_binary()->assign(t.data(), t.size()); return Status::Ok();
    case Render::kEnum: out->mutable_enum_label()->assign(t.data(), t.size()); return Status::Ok();
    case Render::kJson: out->mutable_json()->assign(t.data(), t.size()); return Status::Ok();
    case Render::kBit: {
      if (t.size() > 8) return bad();
      uint64_t v = 0;
      for (unsigned char b : t) v = v << 8 | b;
      out->set_uint64(v);
      return Status::Ok();
    }
    case Render::kGeometry: {
      // The server's internal form: a 4-byte little-endian SRID, then WKB.
      if (t.size() < 4) return bad();
      auto* g = out->mutable_geometry();
      g->set_srid(static_cast<uint32_t>(static_cast<uint8_t>(t[0])) |
                  static_cast<uint32_t>(static_cast<uint8_t>(t[1])) << 8 |
                  static_cast<uint32_t>(static_cast<uint8_t>(t[2])) << 16 |
                  static_cast<uint32_t>(static_cast<uint8_t>(t[3])) << 24);
      g->set_wkb(std::string(t.substr(4)));
      return Status::Ok();
    }
  }
  return bad();
}

Result<std::unique_ptr<TableReader>> TableReader::Open(const std::string& url,
                                                       const std::string& server) {
  if (!url.starts_with("mysql://")) {
    return Status::FailedPrecondition("snapshots need a mysql:// source (this one is " +
                                      url.substr(0, url.find("://")) + ")");
  }
  SLUICE_ASSIGN_OR_RETURN(binlog::MysqlSourceOptions o, binlog::ParseMysqlUrl(url));
  for (const auto& h : o.hosts) {
    if (h.host + ":" + std::to_string(h.port) == server) {
      o.host = h.host;
      o.port = h.port;
    }
  }
  std::unique_ptr<TableReader> r(new TableReader());
  r->options_ = o;
  r->server_ = o.host + ":" + std::to_string(o.port);
  SLUICE_ASSIGN_OR_RETURN(r->conn_, binlog::ConnectMysql(o));
  if (mysql_set_server_option(r->conn_, MYSQL_OPTION_MULTI_STATEMENTS_ON) != 0 ||
      mysql_set_character_set(r->conn_, "utf8mb4") != 0) {
    return Status::Unavailable(std::string("snapshot connection: ") + mysql_error(r->conn_));
  }
  SLUICE_RETURN_IF_ERROR(
      r->Exec("SET SESSION time_zone = '+00:00', SESSION tx_isolation = 'REPEATABLE-READ'",
              "setting up the snapshot session"));
  SLUICE_ASSIGN_OR_RETURN(auto rows, r->Query("SELECT @@version, @@global.binlog_format, "
                                              "@@global.binlog_row_image",
                                              "reading the server's settings"));
  const std::string version = rows.empty() || !rows[0][0] ? "" : *rows[0][0];
  const std::string format = rows.empty() || !rows[0][1] ? "" : *rows[0][1];
  const std::string image = rows.empty() || !rows[0][2] ? "" : *rows[0][2];
  if (version.find("MariaDB") == std::string::npos) {
    return Status::FailedPrecondition(
        "snapshots need MariaDB (server " + r->server_ + " is " + version +
        "): a chunk's rows are tied to a binlog position by MariaDB's binlog_snapshot_file and "
        "binlog_snapshot_position, which MySQL does not have (docs/snapshots.md, \"MySQL\")");
  }
  if (format != "ROW") {
    return Status::FailedPrecondition("snapshots need binlog_format=ROW on " + r->server_ +
                                      " (it is " + format + "): SET GLOBAL binlog_format = 'ROW'");
  }
  if (image != "FULL") {
    return Status::FailedPrecondition(
        "snapshots need binlog_row_image=FULL on " + r->server_ + " (it is " + image +
        "): the merge keeps a change's row instead of the snapshot's only when the change "
        "carries the whole row. SET GLOBAL binlog_row_image = 'FULL' (and in the server's "
        "config file)");
  }
  return r;
}

TableReader::~TableReader() {
  if (conn_ != nullptr) mysql_close(conn_);
}

std::string TableReader::Escape(const std::string& s) {
  std::string out(s.size() * 2 + 1, '\0');
  out.resize(mysql_real_escape_string(conn_, out.data(), s.data(), s.size()));
  return out;
}

Status TableReader::Exec(const std::string& sql, const std::string& what) {
  SLUICE_RETURN_IF_ERROR(FinishCommit());
  if (mysql_real_query(conn_, sql.data(), sql.size()) != 0) {
    return binlog::mysql_query::MapError(options_, true, conn_, what);
  }
  if (MYSQL_RES* res = mysql_store_result(conn_)) mysql_free_result(res);
  return Status::Ok();
}

Result<std::vector<Row>> TableReader::Query(const std::string& sql, const std::string& what) {
  SLUICE_RETURN_IF_ERROR(FinishCommit());
  return binlog::mysql_query::RunQuery(options_, true, conn_, sql, what);
}

Result<std::vector<std::pair<std::string, std::string>>> TableReader::ListTables() {
  SLUICE_ASSIGN_OR_RETURN(
      auto rows, Query("SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE "
                       "TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN ('mysql', "
                       "'information_schema', 'performance_schema', 'sys') ORDER BY 1, 2",
                       "listing the tables"));
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.emplace_back(r[0].value_or(""), r[1].value_or(""));
  return out;
}

Result<TableDesc> TableReader::Describe(const std::string& db, const std::string& table) {
  TableDesc d;
  d.db = db;
  d.table = table;
  const std::string name = db + "." + table;
  SLUICE_ASSIGN_OR_RETURN(
      auto cols,
      Query("SELECT c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, COALESCE(c.CHARACTER_SET_NAME, ''), "
            "COALESCE(co.ID, 0), c.IS_NULLABLE FROM information_schema.COLUMNS c LEFT JOIN "
            "information_schema.COLLATIONS co ON co.COLLATION_NAME = c.COLLATION_NAME WHERE "
            "c.TABLE_SCHEMA = '" +
                Escape(db) + "' AND c.TABLE_NAME = '" + Escape(table) +
                "' ORDER BY c.ORDINAL_POSITION",
            "reading the columns of " + name));
  if (cols.empty()) {
    // information_schema shows a user only what it may use.
    return Status::NotFound("table " + name + " does not exist, or the user '" + options_.user +
                            "' may not SELECT it (GRANT SELECT ON " + name + " TO '" +
                            options_.user + "')");
  }
  for (const auto& r : cols) {
    ColumnDesc c;
    c.name = r[0].value_or("");
    c.index = static_cast<uint32_t>(d.columns.size());
    c.data_type = r[1].value_or("");
    c.column_type = r[2].value_or("");
    c.charset = r[3].value_or("");
    c.collation = static_cast<uint32_t>(std::strtoul(r[4].value_or("0").c_str(), nullptr, 10));
    c.nullable = r[5].value_or("") == "YES";
    c.is_unsigned = c.column_type.find("unsigned") != std::string::npos;
    auto it = Types().find(c.data_type);
    if (it == Types().end()) {
      return Status::FailedPrecondition(
          "cannot snapshot " + name + ": column " + c.name + " has type " + c.column_type +
          ", which the snapshot does not render yet (its binlog form and its SELECT form "
          "differ); exclude the table from the snapshot");
    }
    c.mysql_type = it->second.mysql_type;
    if (c.data_type == "enum" || c.data_type == "set") {
      c.labels = binlog::ParseEnumLabels(c.column_type);
    }
    if (c.charset.empty() && RenderOf(c) == Render::kBinary) c.charset = "binary";
    c.render = static_cast<int>(RenderOf(c));
    d.columns.push_back(std::move(c));
  }
  // The key: the primary key, else the first unique key whose columns are
  // all NOT NULL (InnoDB's choice of clustered index too).
  SLUICE_ASSIGN_OR_RETURN(
      auto idx, Query("SELECT INDEX_NAME, COLUMN_NAME, NULLABLE FROM information_schema.STATISTICS "
                      "WHERE TABLE_SCHEMA = '" +
                          Escape(db) + "' AND TABLE_NAME = '" + Escape(table) +
                          "' AND NON_UNIQUE = 0 AND SUB_PART IS NULL "
                          "ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX",
                      "reading the keys of " + name));
  std::map<std::string, std::pair<std::vector<std::string>, bool>> keys;  // name -> cols, usable
  std::vector<std::string> order;
  for (const auto& r : idx) {
    const std::string k = r[0].value_or("");
    if (!keys.count(k)) order.push_back(k);
    auto& [kc, usable] = keys.try_emplace(k, std::vector<std::string>{}, true).first->second;
    kc.push_back(r[1].value_or(""));
    if (r[2].value_or("") == "YES") usable = false;
  }
  for (const auto& k : order) {
    if (!keys[k].second) continue;
    d.key_name = k;
    for (const auto& col : keys[k].first) {
      for (const auto& c : d.columns) {
        if (c.name == col) d.key.push_back(c.index);
      }
    }
    break;
  }
  if (d.key.empty()) {
    return Status::FailedPrecondition(
        "cannot snapshot " + name +
        ": it has no primary key and no unique key of NOT NULL columns, so its rows cannot be "
        "told apart (the merge with changes needs a key); add a primary key, or exclude the "
        "table from the snapshot");
  }
  for (uint32_t k : d.key) {
    const ColumnDesc& c = d.columns[k];
    const Render r = RenderOf(c);
    if (r == Render::kFloat || r == Render::kDouble || r == Render::kGeometry ||
        r == Render::kJson) {
      return Status::FailedPrecondition("cannot snapshot " + name + ": its key column " + c.name +
                                        " is " + c.column_type +
                                        ", which cannot bound chunks exactly");
    }
  }
  // The privilege the chunks need, checked now (the error names the grant).
  SLUICE_RETURN_IF_ERROR(
      Query("SELECT 1 FROM " + Quoted(db) + "." + Quoted(table) + " LIMIT 0", "reading " + name)
          .status());
  SLUICE_ASSIGN_OR_RETURN(auto create,
                          Query("SHOW CREATE TABLE " + Quoted(db) + "." + Quoted(table),
                                "reading the definition of " + name));
  if (create.empty() || create[0].size() < 2 || !create[0][1]) {
    return Status::Internal("SHOW CREATE TABLE " + name + " returned nothing");
  }
  d.create_sql = *create[0][1];
  for (const auto& c : d.columns) {
    proto::ColumnShape* s = d.shape.add_columns();
    s->set_name(c.name);
    s->set_mysql_type(c.mysql_type);
    s->set_sql_type(c.column_type);
    s->set_is_unsigned(c.is_unsigned);
    s->set_nullable(c.nullable);
    s->set_charset(c.charset);
    s->set_collation(c.collation);
    for (const auto& l : c.labels) s->add_labels(l);
  }
  for (uint32_t k : d.key) d.shape.add_pk(d.columns[k].name);
  d.shape.set_names_known(true);
  auto map = std::make_shared<binlog::TableMap>();
  map->db = d.db;
  map->table = d.table;
  for (const auto& c : d.columns) {
    binlog::ColumnType ct;
    ct.type = ct.real_type = static_cast<uint8_t>(c.mysql_type);
    ct.is_unsigned = c.is_unsigned;
    map->columns.push_back(ct);
    map->names.push_back(c.name);
  }
  for (uint32_t k : d.key) {
    map->pk.push_back(d.columns[k].name);
    map->pk_index.push_back(k);
  }
  map->has_full_metadata = true;
  d.map = std::move(map);
  return d;
}

Result<std::string> TableReader::CreateDatabaseSql(const std::string& db) {
  SLUICE_ASSIGN_OR_RETURN(auto rows, Query("SHOW CREATE DATABASE " + Quoted(db),
                                           "reading the definition of database " + db));
  if (rows.empty() || rows[0].size() < 2 || !rows[0][1]) {
    return Status::Internal("SHOW CREATE DATABASE " + db + " returned nothing");
  }
  return *rows[0][1];
}

binlog::BinlogPosition TableReader::SnapshotPositionOf(const std::vector<Row>& rows) {
  binlog::BinlogPosition p;
  p.file.clear();
  p.pos = 0;
  for (const auto& r : rows) {
    if (r.size() < 2) continue;
    if (r[0] == "Binlog_snapshot_file") p.file = r[1].value_or("");
    if (r[0] == "Binlog_snapshot_position") {
      p.pos = std::strtoull(r[1].value_or("0").c_str(), nullptr, 10);
    }
  }
  return p;
}

Result<std::vector<Row>> TableReader::NextStoredResult(const std::string& what) {
  // The current result is the one before: none (START TRANSACTION), or
  // one already taken.
  if (MYSQL_RES* res = mysql_store_result(conn_)) mysql_free_result(res);
  if (mysql_next_result(conn_) != 0) {
    return binlog::mysql_query::MapError(options_, true, conn_, what);
  }
  MYSQL_RES* res = mysql_store_result(conn_);
  if (res == nullptr) return binlog::mysql_query::MapError(options_, true, conn_, what);
  return binlog::mysql_query::TakeRows(res);
}

void TableReader::DrainResults() {
  do {
    if (MYSQL_RES* res = mysql_store_result(conn_)) mysql_free_result(res);
  } while (mysql_next_result(conn_) == 0);
}

Status TableReader::FinishCommit() {
  if (!commit_pending_) return Status::Ok();
  commit_pending_ = false;
  if (mysql_read_query_result(conn_) != 0) {
    return binlog::mysql_query::MapError(options_, true, conn_, "ending the snapshot");
  }
  return Status::Ok();
}

Result<binlog::BinlogPosition> TableReader::BeginSnapshot() {
  SLUICE_RETURN_IF_ERROR(FinishCommit());
  SLUICE_RETURN_IF_ERROR(Exec("START TRANSACTION WITH CONSISTENT SNAPSHOT", "starting a snapshot"));
  SLUICE_ASSIGN_OR_RETURN(auto rows, Query("SHOW STATUS LIKE 'binlog_snapshot_%'",
                                           "reading the snapshot's binlog position"));
  binlog::BinlogPosition p = SnapshotPositionOf(rows);
  if (p.file.empty()) {
    (void)Exec("ROLLBACK", "ending the snapshot");
    return Status::FailedPrecondition("server " + server_ +
                                      " reports no binlog_snapshot_file: is log_bin on?");
  }
  return p;
}

Result<binlog::BinlogPosition> TableReader::SnapshotPosition() {
  SLUICE_ASSIGN_OR_RETURN(auto p, BeginSnapshot());
  SLUICE_RETURN_IF_ERROR(Exec("COMMIT", "ending the snapshot"));
  return p;
}

Result<Chunk> TableReader::ReadChunk(const TableDesc& d, const std::vector<std::string>& after,
                                     size_t limit, const std::string& stamp, ChunkRows* out) {
  std::string sql = "SELECT ";
  for (size_t i = 0; i < d.columns.size(); ++i) {
    // A FLOAT's text has 6 significant digits (lossy); as a DOUBLE it is
    // exact, and a DOUBLE's text is the shortest that reads back the same.
    const bool single = RenderOf(d.columns[i]) == Render::kFloat;
    sql += (i ? ", " : "") +
           (single ? "(" + Quoted(d.columns[i].name) + " + 0e0)" : Quoted(d.columns[i].name));
  }
  for (uint32_t k : d.key) sql += ", " + BoundExpr(d.columns[k]);
  sql +=
      " FROM " + Quoted(d.db) + "." + Quoted(d.table) + " FORCE INDEX (" + Quoted(d.key_name) + ")";
  if (!after.empty()) {
    // (k1, k2, ...) > (v1, v2, ...), spelled out so the optimizer sees
    // ranges of the index.
    std::string where;
    for (size_t i = 0; i < d.key.size(); ++i) {
      std::string term;
      for (size_t j = 0; j < i; ++j) {
        term += Quoted(d.columns[d.key[j]].name) + " = " +
                BoundLiteral(d.columns[d.key[j]], after[j]) + " AND ";
      }
      term +=
          Quoted(d.columns[d.key[i]].name) + " > " + BoundLiteral(d.columns[d.key[i]], after[i]);
      where += (i ? " OR (" : "(") + term + ")";
    }
    sql += " WHERE " + where;
  }
  sql += " ORDER BY ";
  for (size_t i = 0; i < d.key.size(); ++i)
    sql += (i ? ", " : "") + Quoted(d.columns[d.key[i]].name);
  sql += " LIMIT " + std::to_string(limit);

  Chunk chunk;
  const std::string what = "reading a chunk of " + d.db + "." + d.table;
  SLUICE_RETURN_IF_ERROR(FinishCommit());
  // One round trip: the snapshot, its position, the definition it sees,
  // and the rows (multi-statements; the results come back in order).
  const std::string batch =
      "START TRANSACTION WITH CONSISTENT SNAPSHOT; SHOW STATUS LIKE "
      "'binlog_snapshot_%'; SHOW CREATE TABLE " +
      Quoted(d.db) + "." + Quoted(d.table) + "; " + sql;
  if (mysql_real_query(conn_, batch.data(), batch.size()) != 0) {
    Status st = binlog::mysql_query::MapError(options_, true, conn_, what);
    (void)Exec("ROLLBACK", "ending the snapshot");
    return st;
  }
  // START TRANSACTION, then SHOW STATUS.
  auto status_rows = NextStoredResult(what);
  auto create = status_rows.ok() ? NextStoredResult(what) : status_rows;
  Status head = create.status();
  if (status_rows.ok()) {
    chunk.position = SnapshotPositionOf(*status_rows);
    if (chunk.position.file.empty() && head.ok()) {
      head = Status::FailedPrecondition("server " + server_ +
                                        " reports no binlog_snapshot_file: is log_bin on?");
    }
  }
  // The rows are of the shape described only while the definition is the
  // one described (a DDL after the snapshot began makes the SELECT fail
  // with 1412, "Table definition has changed").
  if (head.ok() && (create->empty() || create->front().size() < 2 || !create->front()[1] ||
                    DefinitionKey(*create->front()[1]) != DefinitionKey(d.create_sql))) {
    head = Status::Aborted("the definition of " + d.db + "." + d.table + " changed");
  }
  if (!head.ok()) {
    DrainResults();
    (void)Exec("ROLLBACK", "ending the snapshot");
    return head;
  }
  if (mysql_next_result(conn_) != 0) {
    Status st = binlog::mysql_query::MapError(options_, true, conn_, what);
    DrainResults();
    (void)Exec("ROLLBACK", "ending the snapshot");
    return st;
  }
  MYSQL_RES* res = mysql_use_result(conn_);
  if (res == nullptr) {
    Status st = binlog::mysql_query::MapError(options_, true, conn_, what);
    (void)Exec("ROLLBACK", "ending the snapshot");
    return st;
  }
  const size_t ncols = d.columns.size();
  const uint32_t now =
      static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  binlog::RowsContext ctx;
  ctx.timestamp = now;
  ctx.file = chunk.position.file;
  ctx.end_pos = chunk.position.pos;
  binlog::RowEncoder& enc = encoder_;
  enc.StartEvent(*d.map, ctx, proto::OP_READ);
  binlog::RowEncoder::Image& image = enc.after();
  image.present = true;
  image.columns.resize(ncols);
  for (size_t i = 0; i < ncols; ++i) image.columns[i] = static_cast<uint32_t>(i);
  if (image.values.size() < ncols) image.values.resize(ncols);
  out->records.Clear(32 << 20);
  out->keys.clear();
  // Each record ends with the snapshot's stamp (field 15).
  struct Stamped final : binlog::EncodedRowSink {
    ingest::RecordBuffer* buf;
    std::string field;
    char* Extend(size_t n) override { return buf->Extend(n); }
    void EndRecord() override {
      buf->Append(field);
      buf->EndRecord();
    }
  } sink;
  sink.buf = &out->records;
  sink.field.push_back(static_cast<char>(15 << 3 | 2));
  for (size_t n = stamp.size();; n >>= 7) {
    if (n < 0x80) {
      sink.field.push_back(static_cast<char>(n));
      break;
    }
    sink.field.push_back(static_cast<char>((n & 0x7f) | 0x80));
  }
  sink.field += stamp;
  std::vector<std::string> bounds;
  Status st;
  while (MYSQL_ROW row = mysql_fetch_row(res)) {
    const unsigned long* len = mysql_fetch_lengths(res);
    for (size_t i = 0; i < ncols && st.ok(); ++i) {
      std::optional<std::string_view> text;
      if (row[i] != nullptr) text.emplace(row[i], len[i]);
      st = TextToValue(d.columns[i], text, &image.values[i]);
    }
    if (!st.ok()) break;
    enc.WriteRow(&sink);
    std::string key;
    for (uint32_t k : d.key) ingest::AppendKeyValue(image.values[k], &key);
    out->keys.push_back(std::move(key));
    ++chunk.rows;
    bounds.clear();
    for (size_t k = 0; k < d.key.size(); ++k) {
      bounds.emplace_back(row[ncols + k] ? std::string(row[ncols + k], len[ncols + k]) : "");
    }
  }
  if (st.ok() && chunk.rows > 0) {
    std::vector<const proto::Value*> key;
    for (uint32_t k : d.key) key.push_back(&image.values[k]);
    chunk.last_key_text = KeyText(key);
  }
  if (st.ok() && mysql_errno(conn_) != 0)
    st = binlog::mysql_query::MapError(options_, true, conn_, what);
  mysql_free_result(res);
  DrainResults();
  if (!st.ok()) {
    (void)Exec("ROLLBACK", "ending the snapshot");
    return st.WithContext(d.db + "." + d.table);
  }
  // The read view ends now; its answer is read before the next query.
  if (mysql_send_query(conn_, "COMMIT", 6) != 0) {
    return binlog::mysql_query::MapError(options_, true, conn_, "ending the snapshot");
  }
  commit_pending_ = true;
  chunk.last = chunk.rows < limit;
  chunk.bounds = std::move(bounds);
  return chunk;
}

}  // namespace sluice::snapshot
