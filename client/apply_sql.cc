#include "client/apply_sql.h"

#include <cstdio>

#include "client/mysql_target.h"

namespace sluice::apply {

namespace {

// enum_field_types of Column.mysql_type.
constexpr uint32_t kMysqlTypeFloat = 4;
constexpr uint32_t kMysqlTypeVector = 242;
constexpr uint32_t kMysqlTypeGeometry = 255;

const char* OpName(proto::Op op) {
  switch (op) {
    case proto::OP_INSERT: return "insert";
    case proto::OP_UPDATE: return "update";
    case proto::OP_DELETE: return "delete";
    default: return "row change";
  }
}

bool SameNames(const google::protobuf::RepeatedPtrField<proto::Column>& a,
               const google::protobuf::RepeatedPtrField<proto::Column>& b) {
  if (a.size() != b.size()) return false;
  for (int i = 0; i < a.size(); ++i) {
    if (a[i].name() != b[i].name()) return false;
  }
  return true;
}

// The before-image index of each primary-key column; empty when the record
// names no key or the before image lacks one of its columns.
std::vector<int> KeyColumns(const proto::ChangeRecord& r) {
  std::vector<int> out;
  for (const auto& pk : r.pk()) {
    int found = -1;
    for (int i = 0; i < r.before_size() && found < 0; ++i) {
      if (r.before(i).name() == pk) found = i;
    }
    if (found < 0) return {};
    out.push_back(found);
  }
  return out;
}

bool SameValue(const proto::Value& a, const proto::Value& b) {
  if (a.kind_case() != b.kind_case()) return false;
  switch (a.kind_case()) {
    case proto::Value::kInt64: return a.int64() == b.int64();
    case proto::Value::kUint64: return a.uint64() == b.uint64();
    case proto::Value::kFloat64: return a.float64() == b.float64();
    case proto::Value::kDecimal: return a.decimal() == b.decimal();
    case proto::Value::kText: return a.text() == b.text();
    case proto::Value::kBinary: return a.binary() == b.binary();
    case proto::Value::kJson: return a.json() == b.json();
    case proto::Value::kEnumLabel: return a.enum_label() == b.enum_label();
    case proto::Value::kEnumIndex: return a.enum_index() == b.enum_index();
    case proto::Value::kIsNull: return true;
    default: return a.SerializeAsString() == b.SerializeAsString();
  }
}

// The before-image column named like after(i) (same index first).
const proto::Column* BeforeOf(const proto::ChangeRecord& r, int i) {
  const std::string& name = r.after(i).name();
  if (i < r.before_size() && r.before(i).name() == name) return &r.before(i);
  for (const auto& c : r.before()) {
    if (c.name() == name) return &c;
  }
  return nullptr;
}

// An upsert row changes the existing row (2 affected) unless its after
// image equals its before image (1).
bool Changes(const proto::ChangeRecord& r) {
  for (int i = 0; i < r.after_size(); ++i) {
    const proto::Column* b = BeforeOf(r, i);
    if (b == nullptr || !SameValue(b->value(), r.after(i).value())) return true;
  }
  return false;
}

// Digits [at, at + n) of s as a number; false when not all digits.
bool Digits(std::string_view s, size_t at, size_t n, unsigned* out) {
  if (at + n > s.size()) return false;
  unsigned v = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + static_cast<unsigned>(s[i] - '0');
  }
  *out = v;
  return true;
}

// ".ffffff" (1-6 digits) at s[at..] as microseconds; true when s ends there.
bool Fraction(std::string_view s, size_t at, unsigned long* micros) {
  *micros = 0;
  if (at == s.size()) return true;
  if (s[at] != '.' || s.size() - at - 1 < 1 || s.size() - at - 1 > 6) return false;
  unsigned v = 0;
  const size_t n = s.size() - at - 1;
  if (!Digits(s, at + 1, n, &v)) return false;
  for (size_t i = n; i < 6; ++i) v *= 10;
  *micros = v;
  return true;
}

// The record's text of a DATE, DATETIME, TIMESTAMP or TIME column (docs/decoder.md,
// "Values") as a MYSQL_TIME; false when it is not in that form.
bool ParseTemporal(std::string_view s, uint32_t mysql_type, MYSQL_TIME* t) {
  *t = MYSQL_TIME{};
  switch (mysql_type) {
    case 10:  // DATE
    case 14:  // NEWDATE
      t->time_type = MYSQL_TIMESTAMP_DATE;
      return s.size() == 10 && s[4] == '-' && s[7] == '-' && Digits(s, 0, 4, &t->year) &&
             Digits(s, 5, 2, &t->month) && Digits(s, 8, 2, &t->day);
    case 7:   // TIMESTAMP
    case 17:  // TIMESTAMP2
    case 12:  // DATETIME
    case 18:  // DATETIME2
      t->time_type = MYSQL_TIMESTAMP_DATETIME;
      return s.size() >= 19 && s[4] == '-' && s[7] == '-' && s[10] == ' ' && s[13] == ':' &&
             s[16] == ':' && Digits(s, 0, 4, &t->year) && Digits(s, 5, 2, &t->month) &&
             Digits(s, 8, 2, &t->day) && Digits(s, 11, 2, &t->hour) &&
             Digits(s, 14, 2, &t->minute) && Digits(s, 17, 2, &t->second) &&
             Fraction(s, 19, &t->second_part);
    case 11:    // TIME
    case 19: {  // TIME2
      t->time_type = MYSQL_TIMESTAMP_TIME;
      size_t at = 0;
      if (!s.empty() && s[0] == '-') t->neg = 1, at = 1;
      const size_t colon = s.find(':', at);
      if (colon == std::string_view::npos || colon - at < 1 || colon - at > 3) return false;
      unsigned hours = 0;
      if (!Digits(s, at, colon - at, &hours) || s.size() < colon + 6 || s[colon + 3] != ':' ||
          !Digits(s, colon + 1, 2, &t->minute) || !Digits(s, colon + 4, 2, &t->second) ||
          !Fraction(s, colon + 6, &t->second_part)) {
        return false;
      }
      // The protocol carries hours above 23 as days.
      t->day = hours / 24;
      t->hour = hours % 24;
      return true;
    }
    default: return false;
  }
}

enum_field_types TemporalBindType(uint32_t mysql_type) {
  switch (mysql_type) {
    case 10:
    case 14: return MYSQL_TYPE_DATE;
    case 11:
    case 19: return MYSQL_TYPE_TIME;
    default: return MYSQL_TYPE_DATETIME;
  }
}

std::string VectorText(const proto::Vector& v) {
  std::string s = "[";
  char buf[32];
  for (int i = 0; i < v.values_size(); ++i) {
    std::snprintf(buf, sizeof buf, "%s%.9g", i ? "," : "", static_cast<double>(v.values(i)));
    s += buf;
  }
  return s + "]";
}

}  // namespace

std::string QuoteIdent(std::string_view name) {
  std::string out = "`";
  for (char c : name) {
    if (c == '`') out.push_back('`');
    out.push_back(c);
  }
  out.push_back('`');
  return out;
}

Status CheckRowRecord(const proto::ChangeRecord& r, bool target_is_mariadb) {
  for (const auto* image : {&r.before(), &r.after()}) {
    for (const auto& c : *image) {
      if (c.name().empty()) {
        return Status::FailedPrecondition(
            "table " + r.db() + "." + r.table() + " has no column names in the log (keys \"@" +
            std::to_string(c.index() + 1) +
            "\"...): the source must log full row metadata (binlog_row_metadata = FULL) "
            "for sluice apply to know which column is which");
      }
      const bool vector =
          c.value().kind_case() == proto::Value::kVector ||
          (c.mysql_type() == kMysqlTypeVector && c.value().kind_case() == proto::Value::kBinary);
      if (vector && target_is_mariadb) {
        return Status::FailedPrecondition("column " + r.db() + "." + r.table() + "." + c.name() +
                                          " holds a VECTOR value (MySQL 9); the MariaDB target "
                                          "cannot store it: sluice apply does not support it");
      }
      if (c.value().kind_case() == proto::Value::KIND_NOT_SET) {
        return Status::InvalidArgument("column " + r.db() + "." + r.table() + "." + c.name() +
                                       " has no value in the record");
      }
    }
  }
  if (r.op() != proto::OP_DELETE && r.after_size() == 0) {
    return Status::InvalidArgument(std::string(OpName(r.op())) + " without an after image");
  }
  if (r.op() != proto::OP_INSERT && r.op() != proto::OP_READ && r.before_size() == 0) {
    return Status::InvalidArgument(std::string(OpName(r.op())) + " without a before image");
  }
  return Status::Ok();
}

bool RowRun::Upsertable(const proto::ChangeRecord& r, const Limits& limits) {
  if (r.op() == proto::OP_READ) return true;
  if (!(limits.upsert || limits.lenient) || r.op() != proto::OP_UPDATE || r.pk_size() == 0) {
    return false;
  }
  for (const auto& pk : r.pk()) {
    const proto::Column *a = nullptr, *b = nullptr;
    for (const auto& c : r.after()) {
      if (c.name() == pk) a = &c;
    }
    for (const auto& c : r.before()) {
      if (c.name() == pk) b = &c;
    }
    if (a == nullptr || b == nullptr || !SameValue(a->value(), b->value())) return false;
  }
  return true;
}

RowRun::Kind RowRun::KindOf(const proto::Column& c) {
  switch (c.value().kind_case()) {
    case proto::Value::kInt64: return Kind::kInt;
    case proto::Value::kUint64:
    case proto::Value::kEnumIndex: return Kind::kUint;
    case proto::Value::kFloat64:
      return c.mysql_type() == kMysqlTypeFloat ? Kind::kFloat : Kind::kDouble;
    case proto::Value::kDecimal:
    case proto::Value::kText:
    case proto::Value::kJson:
    case proto::Value::kEnumLabel: return Kind::kText;
    case proto::Value::kBinary:
      if (c.mysql_type() == kMysqlTypeGeometry) return Kind::kWkb;
      return Kind::kBinary;
    case proto::Value::kGeometry: return Kind::kGeom;
    case proto::Value::kVector: return Kind::kVector;
    default: return Kind::kNull;
  }
}

const proto::Column& RowRun::ColumnOf(size_t row, const Slot& s) const {
  const auto& r = *records_[row];
  return s.before ? r.before(s.column) : r.after(s.column);
}

bool RowRun::Fits(const proto::ChangeRecord& r, const std::string& target_db,
                  const Limits& limits) const {
  if (records_.empty()) return true;
  if (records_.size() >= limits.max_rows || bytes_ >= limits.max_bytes) return false;
  const auto& first = *records_.front();
  if (r.op() != first.op() || r.table() != first.table() || target_db != db_ ||
      !SameNames(r.after(), first.after()) || !SameNames(r.before(), first.before()) ||
      r.pk_size() != first.pk_size()) {
    return false;
  }
  for (int i = 0; i < r.pk_size(); ++i) {
    if (r.pk(i) != first.pk(i)) return false;
  }
  if (Upsertable(r, limits) != upsert_) return false;
  if ((limits.lenient || r.op() == proto::OP_READ) != lenient_) return false;
  for (const Slot& s : slots_) {
    const proto::Column& c = s.before ? r.before(s.column) : r.after(s.column);
    const Kind k = KindOf(c);
    if (k != Kind::kNull && s.kind != Kind::kNull && k != s.kind) return false;
    // A geometry placeholder differs from a plain one: a column that had
    // only NULLs so far takes a geometry (or vector) only in a new run.
    if ((k == Kind::kGeom || k == Kind::kWkb || k == Kind::kVector) && s.kind == Kind::kNull) {
      return false;
    }
  }
  return true;
}

void RowRun::BuildSlots() {
  const auto& r = *records_.front();
  slots_.clear();
  if (r.op() != proto::OP_DELETE) {
    for (int i = 0; i < r.after_size(); ++i) slots_.push_back({false, i, Kind::kNull});
  }
  if (r.op() != proto::OP_INSERT && !upsert_) {
    std::vector<int> key = KeyColumns(r);
    keyed_ = !key.empty();
    if (!keyed_) {
      for (int i = 0; i < r.before_size(); ++i) key.push_back(i);
    }
    for (int i : key) slots_.push_back({true, i, Kind::kNull});
  }
}

void RowRun::Add(const proto::ChangeRecord& r, uint64_t offset, const std::string& target_db,
                 const Limits& limits) {
  if (records_.empty()) {
    db_ = target_db;
    upsert_ = Upsertable(r, limits);
    lenient_ = limits.lenient || r.op() == proto::OP_READ;
  }
  expected_ += upsert_ && Changes(r) ? 2 : 1;
  records_.push_back(&r);
  offsets_.push_back(offset);
  if (records_.size() == 1) BuildSlots();
  const size_t row = records_.size() - 1;
  for (Slot& s : slots_) {
    const proto::Column& c = ColumnOf(row, s);
    if (s.kind == Kind::kNull) s.kind = KindOf(c);
  }
  for (const auto* image : {&records_[row]->before(), &records_[row]->after()}) {
    for (const auto& c : *image) {
      const auto& v = c.value();
      bytes_ += 16 + v.text().size() + v.binary().size() + v.decimal().size() + v.json().size() +
                v.enum_label().size() + (v.has_geometry() ? v.geometry().wkb().size() : 0);
    }
  }
}

void RowRun::Clear() {
  records_.clear();
  offsets_.clear();
  slots_.clear();
  bytes_ = 0;
  keyed_ = false;
  upsert_ = false;
  lenient_ = false;
  expected_ = 0;
}

std::string RowRun::Sql(size_t rows) const {
  const auto& r = *records_.front();
  const std::string table = QuoteIdent(db_) + "." + QuoteIdent(r.table());
  auto placeholder = [](Kind k) -> std::string {
    if (k == Kind::kGeom) return "ST_GeomFromWKB(?, ?)";
    if (k == Kind::kWkb) return "ST_GeomFromWKB(?)";
    if (k == Kind::kVector) return "STRING_TO_VECTOR(?)";
    return "?";
  };
  std::string sql, where;
  size_t key_slots = 0;
  for (const Slot& s : slots_) {
    if (!s.before) continue;
    where += key_slots++ ? " AND " : " WHERE ";
    where +=
        QuoteIdent(r.before(s.column).name()) + (keyed_ ? " = " : " <=> ") + placeholder(s.kind);
  }
  if (!keyed_ && r.op() != proto::OP_INSERT) where += " LIMIT 1";
  if (r.op() == proto::OP_INSERT || upsert_) {
    std::string names, values, update;
    for (const Slot& s : slots_) {
      const std::string name = QuoteIdent(r.after(s.column).name());
      names += (names.empty() ? "" : ", ") + name;
      values += (values.empty() ? "" : ", ") + placeholder(s.kind);
      bool key = false;
      for (const auto& pk : r.pk()) key = key || pk == r.after(s.column).name();
      if (key) continue;
      if (!update.empty()) update += ", ";
      update += name;
      update += " = VALUES(";
      update += name;
      update += ")";
    }
    sql = "INSERT INTO " + table + " (" + names + ") VALUES (" + values + ")";
    for (size_t i = 1; i < rows; ++i) sql += ", (" + values + ")";
    if (upsert_) {
      if (update.empty()) update = QuoteIdent(r.pk(0)) + " = VALUES(" + QuoteIdent(r.pk(0)) + ")";
      sql += " ON DUPLICATE KEY UPDATE " + update;
    }
  } else if (r.op() == proto::OP_UPDATE) {
    std::string set;
    for (const Slot& s : slots_) {
      if (s.before) continue;
      set += (set.empty() ? "" : ", ") + QuoteIdent(r.after(s.column).name()) + " = " +
             placeholder(s.kind);
    }
    sql = "UPDATE " + table + " SET " + set + where;
  } else if (rows > 1) {
    // Single-column key: DELETE ... WHERE `id` IN (?, ?, ...).
    const Slot& key = slots_.front();
    sql = "DELETE FROM " + table + " WHERE " + QuoteIdent(r.before(key.column).name()) + " IN (?";
    for (size_t i = 1; i < rows; ++i) sql += ", ?";
    sql += ")";
  } else {
    sql = "DELETE FROM " + table + where;
  }
  return sql;
}

// Column-wise arrays of every bound value (MariaDB's array binding reads
// variable-length values through arrays of pointers).
void RowRun::FillParams(bool times) {
  const size_t n = records_.size();
  params_.clear();
  owned_.clear();
  for (const Slot& s : slots_) {
    Param p;
    Param srid;  // geometry only
    p.indicators.assign(n, STMT_INDICATOR_NONE);
    p.nulls.assign(n, 0);
    switch (s.kind) {
      case Kind::kInt:
      case Kind::kUint:
        p.type = MYSQL_TYPE_LONGLONG;
        p.is_unsigned = s.kind == Kind::kUint;
        p.ints.assign(n, 0);
        break;
      case Kind::kDouble:
        p.type = MYSQL_TYPE_DOUBLE;
        p.doubles.assign(n, 0);
        break;
      case Kind::kFloat:
        p.type = MYSQL_TYPE_FLOAT;
        p.floats.assign(n, 0);
        break;
      case Kind::kBinary:
      case Kind::kWkb:
      case Kind::kGeom:
        p.type = MYSQL_TYPE_BLOB;  // binary: no character set conversion
        break;
      default: p.type = MYSQL_TYPE_STRING; break;
    }
    if (p.type == MYSQL_TYPE_STRING || p.type == MYSQL_TYPE_BLOB) {
      p.ptrs.assign(n, nullptr);
      p.lens.assign(n, 0);
    }
    if (s.kind == Kind::kGeom) {
      srid.type = MYSQL_TYPE_LONGLONG;
      srid.ints.assign(n, 0);
      srid.indicators.assign(n, STMT_INDICATOR_NONE);
      srid.nulls.assign(n, 0);
    }
    for (size_t i = 0; i < n; ++i) {
      const proto::Value& v = ColumnOf(i, s).value();
      auto str = [&](const std::string& bytes) {
        p.ptrs[i] = const_cast<char*>(bytes.data());
        p.lens[i] = bytes.size();
      };
      switch (v.kind_case()) {
        case proto::Value::kInt64: p.ints[i] = v.int64(); break;
        case proto::Value::kUint64: p.ints[i] = static_cast<long long>(v.uint64()); break;
        case proto::Value::kEnumIndex: p.ints[i] = static_cast<long long>(v.enum_index()); break;
        case proto::Value::kFloat64:
          if (s.kind == Kind::kFloat) {
            p.floats[i] = static_cast<float>(v.float64());
          } else {
            p.doubles[i] = v.float64();
          }
          break;
        case proto::Value::kDecimal: str(v.decimal()); break;
        case proto::Value::kText: str(v.text()); break;
        case proto::Value::kJson: str(v.json()); break;
        case proto::Value::kEnumLabel: str(v.enum_label()); break;
        case proto::Value::kBinary: str(v.binary()); break;
        case proto::Value::kGeometry:
          str(v.geometry().wkb());
          srid.ints[i] = v.geometry().srid();
          break;
        case proto::Value::kVector:
          owned_.push_back(VectorText(v.vector()));
          p.ptrs[i] = owned_.back().data();
          p.lens[i] = owned_.back().size();
          break;
        default:  // is_null
          p.indicators[i] = STMT_INDICATOR_NULL;
          p.nulls[i] = 1;
          if (s.kind == Kind::kGeom) {
            srid.indicators[i] = STMT_INDICATOR_NULL;
            srid.nulls[i] = 1;
          }
          break;
      }
    }
    if (times && s.kind == Kind::kText) {
      // A temporal column: every value parsed, or the slot stays text.
      uint32_t type = 0;
      for (size_t i = 0; i < n && type == 0; ++i) {
        if (p.nulls[i] == 0) type = ColumnOf(i, s).mysql_type();
      }
      std::vector<MYSQL_TIME> parsed(n);
      bool all = type != 0;
      for (size_t i = 0; i < n && all; ++i) {
        all = p.nulls[i] != 0 ||
              ParseTemporal(std::string_view(p.ptrs[i], p.lens[i]), type, &parsed[i]);
      }
      if (all) {
        p.type = TemporalBindType(type);
        p.times = std::move(parsed);
        p.ptrs.clear();
        p.lens.clear();
      }
    }
    params_.push_back(std::move(p));
    if (s.kind == Kind::kGeom) params_.push_back(std::move(srid));
  }
}

void RowRun::BindBulk() {
  binds_.assign(params_.size(), MYSQL_BIND{});
  for (size_t k = 0; k < params_.size(); ++k) {
    Param& p = params_[k];
    MYSQL_BIND& b = binds_[k];
    b.buffer_type = p.type;
    b.is_unsigned = p.is_unsigned;
    b.u.indicator = p.indicators.data();
    if (!p.ints.empty()) b.buffer = p.ints.data();
    if (!p.doubles.empty()) b.buffer = p.doubles.data();
    if (!p.floats.empty()) b.buffer = p.floats.data();
    if (!p.ptrs.empty()) {
      b.buffer = p.ptrs.data();
      b.length = p.lens.data();
    }
  }
}

void RowRun::BindRow(size_t row) {
  binds_.clear();
  AppendRow(row);
}

void RowRun::AppendRow(size_t row) {
  for (size_t k = 0; k < params_.size(); ++k) {
    Param& p = params_[k];
    MYSQL_BIND& b = binds_.emplace_back();
    b.buffer_type = p.type;
    b.is_unsigned = p.is_unsigned;
    b.is_null = &p.nulls[row];
    if (!p.ints.empty()) b.buffer = &p.ints[row];
    if (!p.doubles.empty()) b.buffer = &p.doubles[row];
    if (!p.floats.empty()) b.buffer = &p.floats[row];
    if (!p.times.empty()) b.buffer = &p.times[row];
    if (!p.ptrs.empty()) {
      b.buffer = p.ptrs[row];
      b.buffer_length = p.lens[row];
      b.length = &p.lens[row];
    }
  }
}

Status RowRun::Execute(MysqlTarget* target) {
  if (records_.empty()) return Status::Ok();
  const std::string sql = Sql();
  Status st = ExecuteRows(target, sql);
  if (!st.ok()) {
    const std::string where = records_.size() == 1 ? "offset " + std::to_string(first_offset())
                                                   : "offsets " + std::to_string(first_offset()) +
                                                         ".." + std::to_string(last_offset());
    const auto& r = *records_.front();
    return Status(st.code(), std::string(OpName(r.op())) + " of " + db_ + "." + r.table() + " at " +
                                 where + " (source " + r.pos().file() + ":" +
                                 std::to_string(r.pos().pos()) + "): " + st.message());
  }
  Clear();
  return Status::Ok();
}

Status RowRun::ExecuteRows(MysqlTarget* target, const std::string& sql) {
  last_loaded_ = false;
  const size_t n = records_.size();
  uint64_t affected = 0;
  const proto::Op op = records_.front()->op();
  if (n >= kMinLoadRows && Loadable(*target)) {
    std::string data;
    FillLoad(&data);
    const std::string load = LoadSql();
    SLUICE_ASSIGN_OR_RETURN(affected, target->LoadData(load, data));
    last_loaded_ = true;
    return CheckAffected(affected, load);
  }
  const bool key_list =
      op == proto::OP_DELETE && keyed_ && slots_.size() == 1 && slots_.front().kind != Kind::kGeom;
  const bool many = n > 1 && (upsert_ || op == proto::OP_INSERT || key_list);
  FillParams(/*times=*/many || !target->bulk() || n == 1);
  if (many) {
    // Multi-row VALUES: one statement execution for many rows. Statements
    // for 2^k rows only, so that a shape has a few cached statements.
    size_t cap = 1;
    while (cap * 2 <= kMaxValuesRows && cap * 2 * params_.size() <= kMaxPlaceholders) cap *= 2;
    for (size_t i = 0; i < n;) {
      size_t k = cap;
      while (k > n - i) k /= 2;
      const std::string many = Sql(k);
      SLUICE_ASSIGN_OR_RETURN(MYSQL_STMT * multi, target->Prepare(many));
      binds_.clear();
      for (size_t r = i; r < i + k; ++r) AppendRow(r);
      SLUICE_ASSIGN_OR_RETURN(uint64_t got, target->ExecuteBound(multi, binds_.data(), 1, many));
      affected += got;
      i += k;
    }
  } else if (target->bulk() && n > 1) {
    SLUICE_ASSIGN_OR_RETURN(MYSQL_STMT * stmt, target->Prepare(sql));
    BindBulk();
    SLUICE_ASSIGN_OR_RETURN(
        affected, target->ExecuteBound(stmt, binds_.data(), static_cast<unsigned>(n), sql));
  } else {
    SLUICE_ASSIGN_OR_RETURN(MYSQL_STMT * stmt, target->Prepare(sql));
    for (size_t i = 0; i < n; ++i) {
      BindRow(i);
      SLUICE_ASSIGN_OR_RETURN(uint64_t one, target->ExecuteBound(stmt, binds_.data(), 1, sql));
      affected += one;
      if (upsert_ || lenient_) continue;  // the total is checked below (or not at all)
      if (one != 1) {
        return Status::FailedPrecondition(
            "the change at offset " + std::to_string(offsets_[i]) + " matched " +
            std::to_string(one) +
            " rows on the target instead of 1: the target has diverged "
            "from the source (statement: " +
            sql + ")");
      }
    }
  }
  return CheckAffected(affected, sql);
}

Status RowRun::CheckAffected(uint64_t affected, const std::string& sql) const {
  if (!lenient_ && affected != expected_) {
    return Status::FailedPrecondition(
        "the changes counted " + std::to_string(affected) +
        " affected rows on the target "
        "instead of " +
        std::to_string(expected_) + ": the target has diverged from the source (statement: " + sql +
        ")");
  }
  return Status::Ok();
}

}  // namespace sluice::apply
