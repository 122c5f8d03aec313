// LOAD DATA LOCAL for runs of inserts (apply_sql.h, RowRun::Loadable):
// the statement, and the rows as the tab-separated text it reads.
#include <charconv>
#include <string>
#include <string_view>

#include "client/apply_sql.h"
#include "client/mysql_target.h"

namespace sluice::apply {
namespace {

// Integer column types whose text form LOAD DATA stores as the number.
// BIT (16) would store the digits' bytes, YEAR (13) takes the string "0"
// as 2000, ENUM and SET (247, 248, or 254 with their real type in the
// metadata) would take "3" as a label first: those go through a variable
// and CAST.
bool PlainIntegerType(uint32_t mysql_type) {
  switch (mysql_type) {
    case 1:  // TINY
    case 2:  // SHORT
    case 3:  // LONG
    case 8:  // LONGLONG
    case 9:  // INT24
      return true;
    default: return false;
  }
}

// `v` as one LOAD DATA field (FIELDS ESCAPED BY '\\', TERMINATED BY '\t',
// LINES TERMINATED BY '\n'): the escape byte, the terminators and NUL are
// escaped; every other byte goes as it is.
void AppendField(std::string* out, std::string_view v) {
  size_t from = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    const char* esc = c == '\\'   ? "\\\\"
                      : c == '\t' ? "\\t"
                      : c == '\n' ? "\\n"
                      : c == '\0' ? "\\0"
                                  : nullptr;
    if (esc == nullptr) continue;
    out->append(v.data() + from, i - from);
    out->append(esc, 2);
    from = i + 1;
  }
  out->append(v.data() + from, v.size() - from);
}

template <typename T>
void AppendNumber(std::string* out, T v) {
  char buf[32];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);  // shortest exact form for doubles
  out->append(buf, res.ptr);
}

}  // namespace

bool RowRun::Loadable(const MysqlTarget& target) const {
  if (!target.local_infile() || records_.front()->op() != proto::OP_INSERT) return false;
  for (const Slot& s : slots_) {
    switch (s.kind) {
      case Kind::kNull:
      case Kind::kInt:
      case Kind::kUint:
      case Kind::kDouble:
      case Kind::kFloat:
      case Kind::kText:
      case Kind::kBinary: break;
      default: return false;
    }
  }
  return true;
}

std::string RowRun::LoadSql() const {
  const auto& r = *records_.front();
  std::string fields, set;
  for (size_t k = 0; k < slots_.size(); ++k) {
    const proto::Column& c = r.after(slots_[k].column);
    const std::string name = QuoteIdent(c.name());
    fields += k ? ", " : "";
    const bool integer = slots_[k].kind == Kind::kInt || slots_[k].kind == Kind::kUint;
    if (integer && !PlainIntegerType(c.mysql_type())) {
      const std::string var = "@v" + std::to_string(k);
      fields += var;
      set += set.empty() ? " SET " : ", ";
      set += name;
      set += " = CAST(";
      set += var;
      set += slots_[k].kind == Kind::kInt ? " AS SIGNED)" : " AS UNSIGNED)";
    } else {
      fields += name;
    }
  }
  return std::string("LOAD DATA LOCAL INFILE '") + MysqlTarget::kLoadFileName + "' INTO TABLE " +
         QuoteIdent(db_) + "." + QuoteIdent(r.table()) +
         " CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES "
         "TERMINATED BY '\\n' (" +
         fields + ")" + set;
}

void RowRun::FillLoad(std::string* data) const {
  data->clear();
  data->reserve(bytes_ + records_.size() * slots_.size() * 2);
  for (size_t i = 0; i < records_.size(); ++i) {
    for (size_t k = 0; k < slots_.size(); ++k) {
      if (k) data->push_back('\t');
      const proto::Value& v = ColumnOf(i, slots_[k]).value();
      switch (v.kind_case()) {
        case proto::Value::kInt64: AppendNumber(data, v.int64()); break;
        case proto::Value::kUint64: AppendNumber(data, v.uint64()); break;
        case proto::Value::kEnumIndex: AppendNumber(data, v.enum_index()); break;
        case proto::Value::kFloat64: AppendNumber(data, v.float64()); break;
        case proto::Value::kDecimal: AppendField(data, v.decimal()); break;
        case proto::Value::kText: AppendField(data, v.text()); break;
        case proto::Value::kJson: AppendField(data, v.json()); break;
        case proto::Value::kEnumLabel: AppendField(data, v.enum_label()); break;
        case proto::Value::kBinary: AppendField(data, v.binary()); break;
        default:  // is_null (Loadable() let no other kind in)
          data->append("\\N");
          break;
      }
    }
    data->push_back('\n');
  }
}

}  // namespace sluice::apply
