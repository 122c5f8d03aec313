// The type workload shared by the live binlog tests: a table `types` with one
// column of every type MariaDB binlogs (plus an INT primary key `id`), rows of
// NULLs, minimums, maximums and awkward values, and the DML statements that
// write them. binlog_roundtrip_test.cc checks the decoded records against
// SELECT; binlog_oracle_test.cc against mariadb-binlog.
//
// The session that runs the statements must use `SET NAMES utf8mb4; SET
// time_zone = '+00:00'; SET sql_mode = ''` and be in the table's database.
#pragma once

#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace sluice::binlog::testing_workload {

// Column definitions of the type table: name, SQL type, SELECT expression
// (how the server renders the value the way our record holds it).
struct Col {
  std::string name, type, select;
};

inline std::vector<Col> TypeColumns() {
  // clang-format off (a type and its unsigned twin per line)
  std::vector<Col> cols = {
      {"ti", "TINYINT", ""},
      {"tiu", "TINYINT UNSIGNED", ""},
      {"si", "SMALLINT", ""},
      {"siu", "SMALLINT UNSIGNED", ""},
      {"mi", "MEDIUMINT", ""},
      {"miu", "MEDIUMINT UNSIGNED", ""},
      {"i", "INT", ""},
      {"iu", "INT UNSIGNED", ""},
      {"bi", "BIGINT", ""},
      {"biu", "BIGINT UNSIGNED", ""},
      {"f", "FLOAT", ""},
      {"d", "DOUBLE", ""},
      {"dec65", "DECIMAL(65,30)", ""},
      {"dec10", "DECIMAL(10,0)", ""},
      {"dec5", "DECIMAL(5,5)", ""},
      {"dec18", "DECIMAL(18,9)", ""},
      {"bit1", "BIT(1)", "bit1+0"},
      {"bit13", "BIT(13)", "bit13+0"},
      {"bit64", "BIT(64)", "bit64+0"},
      {"y", "YEAR", ""},
      {"dt", "DATE", ""},
      {"e", "ENUM('a','b','c''q','ü')", ""},
      {"st", "SET('x','y','z')", ""},
      {"c", "CHAR(10)", ""},
      {"vc", "VARCHAR(300)", ""},
      {"vcs", "VARCHAR(10)", ""},
      {"lat", "VARCHAR(20) CHARACTER SET latin1", ""},
      {"bn", "BINARY(4)", "HEX(bn)"},
      {"vb", "VARBINARY(300)", "HEX(vb)"},
      {"tb", "TINYBLOB", "HEX(tb)"},
      {"b", "BLOB", "HEX(b)"},
      {"mb", "MEDIUMBLOB", "HEX(mb)"},
      {"lb", "LONGBLOB", "HEX(lb)"},
      {"tt", "TINYTEXT", ""},
      {"tx", "TEXT", ""},
      {"mt", "MEDIUMTEXT", ""},
      {"lt", "LONGTEXT", ""},
      {"j", "JSON", ""},
      {"g", "GEOMETRY", "CONCAT(ST_SRID(g), ':', HEX(ST_AsBinary(g)))"},
  };
  // clang-format on
  for (int fsp = 0; fsp <= 6; ++fsp) {
    std::string n = std::to_string(fsp);
    cols.push_back({"tm" + n, "TIME(" + n + ")", ""});
    cols.push_back({"dtm" + n, "DATETIME(" + n + ")", ""});
    cols.push_back({"ts" + n, "TIMESTAMP(" + n + ") NULL", ""});
  }
  return cols;
}

// Values for one row: column name -> SQL literal (absent columns are NULL).
using Values = std::map<std::string, std::string>;

inline std::string InsertSql(int id, const Values& v) {
  std::string names = "id", vals = std::to_string(id);
  for (const auto& [k, val] : v) {
    names += "," + k;
    vals += "," + val;
  }
  return "INSERT INTO types (" + names + ") VALUES (" + vals + ")";
}

inline Values MinValues() {
  Values v = {{"ti", "-128"},
              {"tiu", "0"},
              {"si", "-32768"},
              {"siu", "0"},
              {"mi", "-8388608"},
              {"miu", "0"},
              {"i", "-2147483648"},
              {"iu", "0"},
              {"bi", "-9223372036854775808"},
              {"biu", "0"},
              {"f", "-3.40282e38"},
              {"d", "-1.7976931348623157e308"},
              {"dec65", "-99999999999999999999999999999999999.999999999999999999999999999999"},
              {"dec10", "-9999999999"},
              {"dec5", "-0.99999"},
              {"dec18", "-0.000000001"},
              {"bit1", "b'0'"},
              {"bit13", "b'0'"},
              {"bit64", "0"},
              {"y", "1901"},
              {"dt", "'1000-01-01'"},
              {"e", "'a'"},
              {"st", "''"},
              {"c", "''"},
              {"vc", "''"},
              {"vcs", "''"},
              {"lat", "''"},
              {"bn", "x'00000000'"},
              {"vb", "''"},
              {"tb", "''"},
              {"b", "''"},
              {"mb", "''"},
              {"lb", "''"},
              {"tt", "''"},
              {"tx", "''"},
              {"mt", "''"},
              {"lt", "''"},
              {"j", "'[]'"},
              {"g", "ST_GeomFromText('POINT(0 0)')"}};
  for (int fsp = 0; fsp <= 6; ++fsp) {
    std::string n = std::to_string(fsp);
    v["tm" + n] = "'-838:59:59" + std::string(fsp ? "." + std::string(fsp, '9') : "") + "'";
    v["dtm" + n] = "'1000-01-01 00:00:00'";
    v["ts" + n] = "'1970-01-01 00:00:01'";
  }
  return v;
}

inline Values MaxValues() {
  Values v = {{"ti", "127"},
              {"tiu", "255"},
              {"si", "32767"},
              {"siu", "65535"},
              {"mi", "8388607"},
              {"miu", "16777215"},
              {"i", "2147483647"},
              {"iu", "4294967295"},
              {"bi", "9223372036854775807"},
              {"biu", "18446744073709551615"},
              {"f", "3.40282e38"},
              {"d", "1.7976931348623157e308"},
              {"dec65", "99999999999999999999999999999999999.999999999999999999999999999999"},
              {"dec10", "9999999999"},
              {"dec5", "0.99999"},
              {"dec18", "123456789.123456789"},
              {"bit1", "b'1'"},
              {"bit13", "b'1111111111111'"},
              {"bit64", "18446744073709551615"},
              {"y", "2155"},
              {"dt", "'9999-12-31'"},
              {"e", "'ü'"},
              {"st", "'x,y,z'"},
              {"c", "'ÿÿÿÿÿÿÿÿÿÿ'"},
              {"vc", "REPEAT('€', 300)"},
              {"vcs", "'😀😀😀😀😀😀😀😀😀😀'"},
              {"lat", "'Ñandú ¿qué? £'"},
              {"bn", "x'FFFFFFFF'"},
              {"vb", "REPEAT(x'FF', 300)"},
              {"tb", "REPEAT(x'AB', 255)"},
              {"b", "REPEAT(x'CD', 65535)"},
              {"mb", "REPEAT(x'EF', 70000)"},
              {"lb", "REPEAT(x'5A', 1048576)"},
              {"tt", "REPEAT('t', 255)"},
              {"tx", "REPEAT('é', 30000)"},
              {"mt", "REPEAT('m', 70000)"},
              {"lt", "REPEAT('ł', 300000)"},
              {"j", "'{\"k\": [1, 2.5, \"s\", null, true]}'"},
              {"g", "ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))')"}};
  for (int fsp = 0; fsp <= 6; ++fsp) {
    std::string n = std::to_string(fsp);
    std::string frac = fsp ? "." + std::string(fsp, '9') : "";
    v["tm" + n] = "'838:59:59" + frac + "'";
    v["dtm" + n] = "'9999-12-31 23:59:59" + frac + "'";
    v["ts" + n] = "'2038-01-19 03:14:07" + frac + "'";
  }
  return v;
}

inline Values MixedValues() {
  std::string all_bytes = "x'";
  for (int b = 0; b < 256; ++b) {
    char h[3];
    std::snprintf(h, sizeof h, "%02X", b);
    all_bytes += h;
  }
  all_bytes += "'";
  Values v = {{"ti", "-1"},
              {"tiu", "128"},
              {"i", "-7"},
              {"iu", "2147483648"},
              {"biu", "9223372036854775808"},
              {"f", "0.1"},
              {"d", "-2.5e-300"},
              {"dec65", "-0.000000000000000000000000000001"},
              {"dec10", "0"},
              {"dec5", "0.00001"},
              {"dec18", "-999999999.999999999"},
              {"bit13", "b'1000000000001'"},
              {"bit64", "1"},
              {"y", "0"},
              {"dt", "'0000-00-00'"},
              {"e", "'c''q'"},
              {"st", "'x,z'"},
              {"c", "'a b'"},
              {"vc", "'tab\\there \"quoted\" \\\\ back'"},
              {"vcs", "'中文字'"},
              {"lat", "'\\0'"},
              {"vb", all_bytes},
              {"b", all_bytes},
              {"tx", "''"},
              {"j", "'\"just a string\"'"},
              {"g", "ST_GeomFromText('LINESTRING(1.5 2.5,3 4)', 4326)"}};
  for (int fsp = 0; fsp <= 6; ++fsp) {
    std::string n = std::to_string(fsp);
    v["tm" + n] = "'-00:00:01.5'";
    v["dtm" + n] = "'0000-00-00 00:00:00'";
    v["ts" + n] = "'2024-02-29 12:34:56.123456'";
  }
  return v;
}

// CREATE TABLE for the type table: `id INT PRIMARY KEY`, then TypeColumns()
// in order (column @1 is id, TypeColumns()[k] is @k+2).
inline std::string CreateTypesTableSql() {
  std::string ddl = "CREATE TABLE types (id INT PRIMARY KEY";
  for (const auto& c : TypeColumns()) ddl += ", " + c.name + " " + c.type;
  return ddl + ") DEFAULT CHARSET=utf8mb4";
}

// The workload, one statement per element: rows 1-4 (all NULL, minimums,
// maximums, mixed), a multi-row insert, an update that changes the primary
// key, one that changes values, a delete. With binlog_row_image=FULL that
// is 11 row changes and 14 row images.
inline std::vector<std::string> TypeWorkloadDml() {
  return {
      InsertSql(1, {}),
      InsertSql(2, MinValues()),
      InsertSql(3, MaxValues()),
      InsertSql(4, MixedValues()),
      "INSERT INTO types (id, i, vc) VALUES (10, 1, 'a'), (11, 2, 'b'), (12, 3, 'c')",
      "UPDATE types SET id = id + 100 WHERE id IN (10, 11)",
      "UPDATE types SET vc = 'changed', b = x'00', ts3 = '2001-02-03 04:05:06.789' WHERE id = 4",
      "DELETE FROM types WHERE id = 12",
  };
}

}  // namespace sluice::binlog::testing_workload
