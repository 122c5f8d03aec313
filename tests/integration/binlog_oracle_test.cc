// Oracle check: the binlog files a real MariaDB writes for the type workload
// (tests/integration/type_workload.h) are decoded offline by sluice and by
// Debian's `mariadb-binlog --base64-output=decode-rows -vv` (TZ=UTC), and
// every value mariadb-binlog prints must be what it would print for our
// record's value: row by row, image by image, column by column.
//
// mariadb-binlog renders values its own way (sql/log_event_client.cc,
// log_event_print_value, MariaDB 10.11), so each of our values is rendered
// the way it would be for the type named in the line's comment, then the
// texts are compared exactly:
//   integers   "S" or, when the signed reading S is negative, "S (U)"
//   FLOAT      printf "%g"; DOUBLE printf "%.20g" (both exact, same doubles)
//   DECIMAL    the digits; BIT and SET b'0101' over their bits
//   DATE       'YYYY:MM:DD'; TIME(n), DATETIME(n) quoted text
//   TIMESTAMP  unix seconds with n fraction digits; YEAR "%04d"; ENUM index
//   strings    the stored bytes in quotes, bytes < 0x20 as \xNN, all others
//              (quote and backslash too) raw: latin1 columns in latin1
//
// Documented exceptions (mariadb-binlog differs from the column's value on
// purpose or by its own bug, not ours):
//   - YEAR 0 (stored as byte 0) prints as 1900: it prints byte + 1900.
//   - BINARY(n) prints without its trailing 0x00 pad, which the server strips
//     before logging (Field_string::pack); our value has the pad back.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "broker/binlog/decoder.h"
#include "broker/binlog/file_source.h"
#include "tests/integration/type_workload.h"
#include "tests/support/child_process.h"
#include "tests/support/mariadb_fixture.h"

namespace sluice::binlog {
namespace {

using testing::MariaDb;
using testing::MariaDbOptions;
namespace wl = testing_workload;

// ---- mariadb-binlog's output -------------------------------------------------

// One `###   @N=VALUE /* TYPE meta=M nullable=X is_null=Y */` line.
struct PrintedValue {
  int column = 0;    // N, 1-based
  std::string text;  // VALUE; a FLOAT's "%-20g" padding removed
  std::string type;  // TYPE, e.g. "DECIMAL(10,3)", "ENUM(1 byte)", "BLOB/TEXT"
  bool is_null = false;
};

// One row change: `### INSERT INTO`, `### UPDATE` or `### DELETE FROM`, then
// its images, `### WHERE` (before) and `### SET` (after).
struct PrintedRow {
  proto::Op op = proto::OP_UNSPECIFIED;
  std::string db, table;
  std::vector<PrintedValue> before, after;
};

// Splits "`db`.`table`".
bool ParseTableName(std::string_view s, PrintedRow* row) {
  const size_t dot = s.find("`.`");
  if (s.size() < 5 || s.front() != '`' || s.back() != '`' || dot == std::string_view::npos) {
    return false;
  }
  row->db = std::string(s.substr(1, dot - 1));
  row->table = std::string(s.substr(dot + 3, s.size() - dot - 4));
  return true;
}

// Values never span lines: bytes < 0x20 (newlines too) are printed as \xNN.
// The comment is the last " /* " of the line (a value may hold one, the
// comment cannot).
bool ParseValueLine(std::string_view line, PrintedValue* v) {
  static constexpr std::string_view kPrefix = "###   @";
  if (line.substr(0, kPrefix.size()) != kPrefix) return false;
  line.remove_prefix(kPrefix.size());
  const size_t eq = line.find('=');
  const size_t comment = line.rfind(" /* ");
  if (eq == std::string_view::npos || comment == std::string_view::npos || comment < eq) {
    return false;
  }
  v->column = std::atoi(std::string(line.substr(0, eq)).c_str());
  std::string_view value = line.substr(eq + 1, comment - eq - 1);
  if (!value.empty() && value.front() != '\'') {
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  }
  v->text = std::string(value);
  std::string_view c = line.substr(comment + 4);
  const size_t meta = c.find(" meta=");
  if (meta == std::string_view::npos) return false;
  v->type = std::string(c.substr(0, meta));
  v->is_null = c.find(" is_null=1 ") != std::string_view::npos;
  return v->column > 0;
}

// Parses every row change of mariadb-binlog's output; ADD_FAILUREs on a
// `###` line it does not understand.
std::vector<PrintedRow> ParsePrinted(const std::string& path) {
  std::vector<PrintedRow> rows;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::vector<PrintedValue>* image = nullptr;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    std::string_view l = line;
    if (l.substr(0, 3) != "###") continue;
    static constexpr std::pair<std::string_view, proto::Op> kHeads[] = {
        {"### INSERT INTO ", proto::OP_INSERT},
        {"### UPDATE ", proto::OP_UPDATE},
        {"### DELETE FROM ", proto::OP_DELETE}};
    bool head = false;
    for (const auto& [prefix, op] : kHeads) {
      if (l.substr(0, prefix.size()) != prefix) continue;
      PrintedRow& row = rows.emplace_back();
      row.op = op;
      EXPECT_TRUE(ParseTableName(l.substr(prefix.size()), &row)) << "line " << n << ": " << l;
      image = nullptr;
      head = true;
    }
    if (head) continue;
    if (l == "### WHERE" && !rows.empty()) {
      image = &rows.back().before;
    } else if (l == "### SET" && !rows.empty()) {
      image = &rows.back().after;
    } else if (PrintedValue v; image != nullptr && ParseValueLine(l, &v)) {
      image->push_back(std::move(v));
    } else {
      ADD_FAILURE() << path << " line " << n << " is not understood: " << l.substr(0, 200);
    }
  }
  return rows;
}

// Runs `mariadb-binlog --base64-output=decode-rows -vv files...` with TZ=UTC
// (no shell), its stdout into out_path; waits at most two minutes.
Status RunMariadbBinlog(const std::vector<std::string>& files, const std::string& out_path) {
  std::vector<std::string> argv = {"/usr/bin/mariadb-binlog", "--no-defaults",
                                   "--base64-output=decode-rows", "-vv"};
  argv.insert(argv.end(), files.begin(), files.end());
  const std::string err_path = out_path + ".err";
  SLUICE_ASSIGN_OR_RETURN(
      auto child, testing::ChildProcess::Start(
                      argv, {.stdout_path = out_path, .stderr_path = err_path, .env = {"TZ=UTC"}}));
  const auto ended = child.WaitFor(std::chrono::minutes(2));
  if (!ended) {
    child.Kill();
    return Status::TimedOut("mariadb-binlog ran for over two minutes");
  }
  if (!ended->success()) {
    std::ifstream err(err_path);
    std::string text((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
    return Status::Internal("mariadb-binlog failed (" + ended->ToString() +
                            "): " + text.substr(0, 2000));
  }
  return Status::Ok();
}

// ---- our records -------------------------------------------------------------

class Collector : public DecoderSink {
 public:
  Status OnRow(proto::ChangeRecord* r) override {
    rows.emplace_back().Swap(r);
    return Status::Ok();
  }
  Status OnDdl(proto::ChangeRecord*) override { return Status::Ok(); }
  Status OnTxnEnd(const TxnEnd&) override { return Status::Ok(); }
  void OnWarning(const std::string& m) override { warnings.push_back(m); }

  std::vector<proto::ChangeRecord> rows;
  std::vector<std::string> warnings;
};

// ---- rendering our values as mariadb-binlog prints them ----------------------

// What the test knows of a column from its DDL.
struct ColumnDef {
  std::string sql_type;             // "" for id
  std::vector<std::string> labels;  // ENUM / SET, in definition order
  bool latin1 = false;
};

// The labels of "ENUM('a','c''q')" / "SET(...)": quoted, '' for a quote.
std::vector<std::string> SqlLabels(const std::string& type) {
  std::vector<std::string> labels;
  size_t i = type.find('(');
  if (i == std::string::npos) return labels;
  while (++i < type.size() && type[i] == '\'') {
    std::string label;
    for (++i; i < type.size(); ++i) {
      if (type[i] != '\'') {
        label.push_back(type[i]);
      } else if (i + 1 < type.size() && type[i + 1] == '\'') {
        label.push_back('\'');
        ++i;
      } else {
        break;
      }
    }
    labels.push_back(label);
    ++i;  // past the closing quote, onto ',' or ')'
  }
  return labels;
}

// Column @N is defs[N - 1].
std::vector<ColumnDef> TypeTableDefs() {
  std::vector<ColumnDef> defs(1);  // id INT
  for (const wl::Col& c : wl::TypeColumns()) {
    ColumnDef& d = defs.emplace_back();
    d.sql_type = c.type;
    if (c.type.rfind("ENUM(", 0) == 0 || c.type.rfind("SET(", 0) == 0) d.labels = SqlLabels(c.type);
    d.latin1 = c.type.find("latin1") != std::string::npos;
  }
  return defs;
}

// mariadb-binlog's my_b_write_quoted in MariaDB 10.11: in single quotes,
// bytes < 0x20 as \xNN (lower-case hex), every other byte raw (observed:
// quote, backslash and 0x7F-0xFF are not escaped).
std::string Quote(std::string_view bytes) {
  std::string s = "'";
  for (unsigned char c : bytes) {
    if (c > 0x1F) {
      s.push_back(static_cast<char>(c));
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      s += hex;
    }
  }
  return s + "'";
}

// b'...' of the low `bits` bits of v, most significant first.
std::string BitString(uint64_t v, int bits) {
  std::string s = "b'";
  for (int b = bits - 1; b >= 0; --b) s.push_back(b < 64 && (v >> b & 1) ? '1' : '0');
  return s + "'";
}

// The server's latin1 is cp1252 (strings/ctype-latin1.cc); 0x80-0x9F:
constexpr uint16_t kCp1252High[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

// Our UTF-8 text back to the latin1 bytes the server stored; nullopt for a
// character latin1 cannot hold.
std::optional<std::string> Utf8ToLatin1(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = s[i];
    uint32_t cp;
    int n;
    if (c < 0x80) {
      cp = c, n = 1;
    } else if ((c & 0xE0) == 0xC0) {
      cp = c & 0x1F, n = 2;
    } else if ((c & 0xF0) == 0xE0) {
      cp = c & 0x0F, n = 3;
    } else {
      return std::nullopt;
    }
    if (i + n > s.size()) return std::nullopt;
    for (int k = 1; k < n; ++k) cp = cp << 6 | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += n;
    int byte = cp < 0x80 || (cp >= 0xA0 && cp <= 0xFF) ? static_cast<int>(cp) : -1;
    for (int k = 0; k < 32 && byte < 0; ++k) {
      if (kCp1252High[k] == cp) byte = 0x80 + k;
    }
    if (byte < 0) return std::nullopt;
    out.push_back(static_cast<char>(byte));
  }
  return out;
}

// Unix seconds and fraction of our "YYYY-MM-DD HH:MM:SS[.f]" UTC text, as
// my_timeval_to_str prints them; "0000-00-00 00:00:00" is 0.
std::string EpochText(const std::string& utc) {
  struct tm tm = {};
  int fraction_at = 0;
  if (std::sscanf(utc.c_str(), "%4d-%2d-%2d %2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &fraction_at) != 6) {
    return "<not a timestamp: " + utc + ">";
  }
  long long seconds = 0;
  if (tm.tm_year != 0) {
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    seconds = static_cast<long long>(::timegm(&tm));
  }
  return std::to_string(seconds) + utc.substr(fraction_at);
}

const char* KindName(const proto::Value& v) {
  switch (v.kind_case()) {
    case proto::Value::kIsNull: return "null";
    case proto::Value::kInt64: return "int64";
    case proto::Value::kUint64: return "uint64";
    case proto::Value::kFloat64: return "float64";
    case proto::Value::kDecimal: return "decimal";
    case proto::Value::kText: return "text";
    case proto::Value::kBinary: return "binary";
    case proto::Value::kJson: return "json";
    case proto::Value::kEnumLabel: return "enum_label";
    case proto::Value::kEnumIndex: return "enum_index";
    default: return "unset";
  }
}

// The first word of a TYPE ("DECIMAL(10,3)" -> "DECIMAL").
std::string TypeKey(const std::string& type) { return type.substr(0, type.find('(')); }

// Bits of mariadb-binlog's integer types.
int IntBits(const std::string& key) {
  static const std::map<std::string, int> kBits = {
      {"TINYINT", 8}, {"SHORTINT", 16}, {"MEDIUMINT", 24}, {"INT", 32}, {"LONGINT", 64}};
  auto it = kBits.find(key);
  return it == kBits.end() ? 0 : it->second;
}

// What mariadb-binlog prints for our value `c` of a column it calls `type`;
// a "<...>" text (which never matches) when our value cannot be one.
std::string Render(const proto::Column& c, const std::string& type, const ColumnDef& def) {
  const proto::Value& v = c.value();
  const std::string key = TypeKey(type);
  const int param = type.size() > key.size() ? std::atoi(type.c_str() + key.size() + 1) : 0;
  auto wrong = [&] { return std::string("<our ") + KindName(v) + " value for " + type + ">"; };
  if (v.kind_case() == proto::Value::kIsNull) return "NULL";

  if (const int bits = IntBits(key); bits != 0) {
    // The stored bits, read signed; unsigned in parentheses when negative.
    const bool want_unsigned = def.sql_type.find("UNSIGNED") != std::string::npos;
    if (c.is_unsigned() != want_unsigned)
      return "<is_unsigned " + std::to_string(c.is_unsigned()) + ">";
    uint64_t raw;
    if (v.kind_case() == proto::Value::kUint64 && want_unsigned) {
      raw = v.uint64();
    } else if (v.kind_case() == proto::Value::kInt64 && !want_unsigned) {
      raw = static_cast<uint64_t>(v.int64());
    } else {
      return wrong();
    }
    const uint64_t mask = bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
    const int shift = 64 - bits;
    const int64_t as_signed = static_cast<int64_t>((raw & mask) << shift) >> shift;
    // Out of the column's range (our value is wrong then): never matches.
    if ((want_unsigned ? raw & ~mask : static_cast<uint64_t>(as_signed) ^ raw) != 0) {
      return "<out of range: " + std::to_string(raw) + ">";
    }
    std::string s = std::to_string(as_signed);
    if (as_signed < 0) s += " (" + std::to_string(raw & mask) + ")";
    return s;
  }
  char buf[400];
  if (key == "FLOAT" || key == "DOUBLE") {
    if (v.kind_case() != proto::Value::kFloat64) return wrong();
    std::snprintf(buf, sizeof buf, key == "FLOAT" ? "%g" : "%.20g", v.float64());
    return buf;
  }
  if (key == "DECIMAL") return v.kind_case() == proto::Value::kDecimal ? v.decimal() : wrong();
  if (key == "BIT") {
    return v.kind_case() == proto::Value::kUint64 ? BitString(v.uint64(), param) : wrong();
  }
  if (key == "YEAR") {
    // Exception: prints the stored byte + 1900, so YEAR 0 (byte 0) is 1900.
    if (v.kind_case() != proto::Value::kInt64) return wrong();
    std::snprintf(buf, sizeof buf, "%04d", v.int64() == 0 ? 1900 : static_cast<int>(v.int64()));
    return buf;
  }
  if (key == "DATE") {
    if (v.kind_case() != proto::Value::kText) return wrong();
    std::string d = v.text();
    for (char& ch : d) ch = ch == '-' ? ':' : ch;
    return "'" + d + "'";
  }
  if (key == "TIME" || key == "DATETIME") {
    return v.kind_case() == proto::Value::kText ? Quote(v.text()) : wrong();
  }
  if (key == "TIMESTAMP")
    return v.kind_case() == proto::Value::kText ? EpochText(v.text()) : wrong();
  if (key == "ENUM" || key == "SET") {
    uint64_t n = 0;  // ENUM: 1-based index (0: the error value ''); SET: bitmask
    if (v.kind_case() == proto::Value::kEnumIndex) {
      n = v.enum_index();
    } else if (v.kind_case() == proto::Value::kEnumLabel) {
      std::vector<std::string> parts;
      if (key == "ENUM") {
        parts.push_back(v.enum_label());
      } else if (!v.enum_label().empty()) {
        for (size_t at = 0;;) {
          const size_t comma = v.enum_label().find(',', at);
          parts.push_back(v.enum_label().substr(at, comma - at));
          if (comma == std::string::npos) break;
          at = comma + 1;
        }
      }
      for (const std::string& p : parts) {
        size_t k = 0;
        while (k < def.labels.size() && def.labels[k] != p) ++k;
        if (k == def.labels.size()) {
          if (key == "ENUM" && p.empty()) continue;
          return "<label '" + p + "' is not in " + def.sql_type + ">";
        }
        n = key == "ENUM" ? k + 1 : n | uint64_t{1} << k;
      }
    } else {
      return wrong();
    }
    return key == "ENUM" ? std::to_string(n) : BitString(n, 8 * param);
  }
  if (key == "GEOMETRY") {
    // Printed as stored: the 4-byte little-endian SRID, then the WKB.
    if (v.kind_case() != proto::Value::kGeometry) return wrong();
    std::string stored(4, '\0');
    for (int i = 0; i < 4; ++i) stored[i] = static_cast<char>(v.geometry().srid() >> (8 * i));
    return Quote(stored + v.geometry().wkb());
  }
  if (key == "STRING" || key == "VARSTRING" || key.find("BLOB/") != std::string::npos) {
    if (v.kind_case() == proto::Value::kBinary) {
      std::string_view b = v.binary();
      if (key == "STRING") {
        // Exception: BINARY(n) is logged without its 0x00 pad; our value has
        // all n bytes.
        if (b.size() != static_cast<size_t>(param)) {
          return "<BINARY value of " + std::to_string(b.size()) + " bytes for " + type + ">";
        }
        while (!b.empty() && b.back() == '\0') b.remove_suffix(1);
      }
      return Quote(b);
    }
    if (v.kind_case() == proto::Value::kJson) return Quote(v.json());
    if (v.kind_case() != proto::Value::kText) return wrong();
    if (!def.latin1) return Quote(v.text());
    auto latin1 = Utf8ToLatin1(v.text());
    return latin1 ? Quote(*latin1) : "<not latin1: " + v.text() + ">";
  }
  return "<type " + type + " not handled by the test>";
}

// A readable difference of two possibly huge texts.
std::string Diff(const std::string& got, const std::string& want) {
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  auto around = [&](const std::string& s) { return s.substr(i < 20 ? 0 : i - 20, 60); };
  return "first difference at byte " + std::to_string(i) + " (lengths " +
         std::to_string(got.size()) + " ours, " + std::to_string(want.size()) +
         " printed)\n  ours:    ..." + around(got) + "...\n  printed: ..." + around(want) + "...";
}

// ---- the test ------------------------------------------------------------------

class BinlogOracle : public ::testing::TestWithParam<std::string> {
 protected:
  // Counts of what was compared.
  struct Counts {
    int rows = 0, images = 0, values = 0, nulls = 0;
    std::map<std::string, int> non_null_by_type;  // TypeKey -> values
  };

  void CompareImage(const google::protobuf::RepeatedPtrField<proto::Column>& ours,
                    const std::vector<PrintedValue>& printed, const std::vector<ColumnDef>& defs,
                    const std::string& where, Counts* counts) {
    ASSERT_EQ(static_cast<size_t>(ours.size()), printed.size()) << where;
    if (printed.empty()) return;  // no such image (an insert's before)
    ++counts->images;
    for (size_t k = 0; k < printed.size(); ++k) {
      const PrintedValue& p = printed[k];
      const proto::Column& c = ours[static_cast<int>(k)];
      SCOPED_TRACE(where + " @" + std::to_string(p.column) + " " + p.type);
      ASSERT_EQ(static_cast<int>(c.index()) + 1, p.column);
      ASSERT_LE(static_cast<size_t>(p.column), defs.size());
      const std::string want = Render(c, p.type, defs[p.column - 1]);
      EXPECT_EQ(c.value().kind_case() == proto::Value::kIsNull, p.is_null);
      if (want != p.text) ADD_FAILURE() << Diff(want, p.text);
      ++counts->values;
      if (p.is_null) {
        ++counts->nulls;
      } else {
        ++counts->non_null_by_type[TypeKey(p.type)];
      }
    }
  }
};

TEST_P(BinlogOracle, MariadbBinlogPrintsOurValues) {
  MariaDbOptions opt;
  opt.row_metadata = GetParam();
  auto started = MariaDb::Start(opt);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  std::unique_ptr<MariaDb> db = std::move(*started);
  auto exec = [&](const std::string& sql) {
    Status st = db->Execute(sql);
    EXPECT_TRUE(st.ok()) << sql.substr(0, 200) << ": " << st.ToString();
    return st.ok();
  };
  ASSERT_TRUE(exec("SET NAMES utf8mb4; SET time_zone = '+00:00'; SET sql_mode = ''"));
  ASSERT_TRUE(exec("CREATE DATABASE shop; USE shop; " + wl::CreateTypesTableSql()));
  for (const std::string& sql : wl::TypeWorkloadDml()) ASSERT_TRUE(exec(sql));
  ASSERT_TRUE(exec("FLUSH BINARY LOGS"));
  auto files = db->BinlogFiles();
  ASSERT_TRUE(files.ok()) << files.status().ToString();

  // (a) sluice, offline, columns keyed by position.
  FileSourceOptions fo;
  fo.files = *files;
  auto source = FileSource::Open(fo);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  DecoderOptions dopt;
  dopt.column_names = false;
  Decoder decoder(dopt);
  Collector ours;
  for (;;) {
    RawEvent ev;
    Status st = (*source)->Next(&ev);
    if (st.code() == Code::kNotFound) break;
    ASSERT_TRUE(st.ok()) << st.ToString();
    st = decoder.Decode(ev, &ours);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  for (const std::string& w : ours.warnings) ADD_FAILURE() << "decoder warning: " << w;

  // (b) mariadb-binlog.
  const std::string out = db->dir() + "/mariadb-binlog.out";
  Status run = RunMariadbBinlog(*files, out);
  ASSERT_TRUE(run.ok()) << run.ToString();
  std::vector<PrintedRow> printed = ParsePrinted(out);

  const std::vector<ColumnDef> defs = TypeTableDefs();
  ASSERT_EQ(ours.rows.size(), printed.size());
  Counts counts;
  for (size_t i = 0; i < printed.size(); ++i) {
    const proto::ChangeRecord& r = ours.rows[i];
    const PrintedRow& p = printed[i];
    const std::string where = "row change " + std::to_string(i);
    ASSERT_EQ(r.op(), p.op) << where;
    ASSERT_EQ(r.db(), p.db) << where;
    ASSERT_EQ(r.table(), p.table) << where;
    ASSERT_EQ(r.table(), "types") << where;
    CompareImage(r.before(), p.before, defs, where + " before", &counts);
    CompareImage(r.after(), p.after, defs, where + " after", &counts);
    ++counts.rows;
  }

  // Nothing compared vacuously: 11 row changes (4 + 3 inserts, 2 + 1
  // updates, 1 delete) with 14 images of all 61 columns; the NULLs are row
  // 1's 60, rows 10-12's 58 (in 8 images) and row 4's unset columns (in 3).
  const int columns = static_cast<int>(defs.size());
  const int mixed_nulls = columns - 1 - static_cast<int>(wl::MixedValues().size());
  EXPECT_EQ(columns, 61);
  EXPECT_EQ(counts.rows, 11);
  EXPECT_EQ(counts.images, 14);
  EXPECT_EQ(counts.values, 14 * columns);
  EXPECT_EQ(counts.nulls, (columns - 1) + 8 * (columns - 3) + 3 * mixed_nulls);
  const std::set<std::string> all_types = {"TINYINT",
                                           "SHORTINT",
                                           "MEDIUMINT",
                                           "INT",
                                           "LONGINT",
                                           "FLOAT",
                                           "DOUBLE",
                                           "DECIMAL",
                                           "BIT",
                                           "YEAR",
                                           "DATE",
                                           "ENUM",
                                           "SET",
                                           "STRING",
                                           "VARSTRING",
                                           "TINYBLOB/TINYTEXT",
                                           "BLOB/TEXT",
                                           "MEDIUMBLOB/MEDIUMTEXT",
                                           "LONGBLOB/LONGTEXT",
                                           "GEOMETRY",
                                           "TIME",
                                           "DATETIME",
                                           "TIMESTAMP"};
  std::set<std::string> seen;
  for (const auto& [type, n] : counts.non_null_by_type) seen.insert(type);
  EXPECT_EQ(seen, all_types);
}

INSTANTIATE_TEST_SUITE_P(RowMetadata, BinlogOracle, ::testing::Values("FULL", "MINIMAL"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace sluice::binlog
