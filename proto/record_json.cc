#include "proto/record_json.h"

#include <charconv>
#include <cmath>
#include <type_traits>

namespace sluice {
namespace {

constexpr uint32_t kMysqlTypeFloat = 4;  // enum_field_types MYSQL_TYPE_FLOAT

template <typename T>
void AppendNumber(T v, std::string* out) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

// Length of the valid UTF-8 sequence at s[i], or 0 if it is not one.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  auto cont = [&](size_t k) { return k < s.size() && (b(k) & 0xc0) == 0x80; };
  uint8_t c = b(i);
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    if (c == 0xe0 && b(i + 1) < 0xa0) return 0;  // overlong
    if (c == 0xed && b(i + 1) > 0x9f) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    if (c == 0xf0 && b(i + 1) < 0x90) return 0;  // overlong
    if (c == 0xf4 && b(i + 1) > 0x8f) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

namespace {

// GEOMETRY and VECTOR: values only a message holds (RecordView declines them).
void AppendCompositeJson(const proto::Value& v, std::string* out) {
  if (v.kind_case() == proto::Value::kGeometry) {
    out->append("{\"srid\":");
    AppendNumber(v.geometry().srid(), out);
    out->append(",\"wkb\":\"");
    AppendBase64(v.geometry().wkb(), out);
    out->append("\"}");
    return;
  }
  out->push_back('[');
  bool first = true;
  for (float f : v.vector().values()) {
    if (!first) out->push_back(',');
    first = false;
    if (std::isfinite(f))
      AppendNumber(f, out);  // shortest round-trip form of the float32
    else
      out->append("null");
  }
  out->push_back(']');
}

// A column's value, of a message (proto::Column) or of a view (ColumnView).
template <typename Column>
void AppendValueJson(const Column& col, std::string* out) {
  const auto& v = col.value();
  switch (v.kind_case()) {
    case proto::Value::kIsNull:
    case proto::Value::KIND_NOT_SET: out->append("null"); return;
    case proto::Value::kInt64: AppendNumber(v.int64(), out); return;
    case proto::Value::kUint64: AppendNumber(v.uint64(), out); return;
    case proto::Value::kFloat64:
      if (!std::isfinite(v.float64())) {
        out->append("null");
      } else if (col.mysql_type() == kMysqlTypeFloat) {
        AppendNumber(static_cast<float>(v.float64()), out);  // shortest form of the float
      } else {
        AppendNumber(v.float64(), out);
      }
      return;
    case proto::Value::kDecimal: AppendJsonString(v.decimal(), out); return;
    case proto::Value::kText: AppendJsonString(v.text(), out); return;
    case proto::Value::kBinary:
      out->push_back('"');
      AppendBase64(v.binary(), out);
      out->push_back('"');
      return;
    case proto::Value::kJson:
      out->append(v.json().empty() ? std::string_view("null") : std::string_view(v.json()));
      return;
    case proto::Value::kEnumLabel: AppendJsonString(v.enum_label(), out); return;
    case proto::Value::kEnumIndex: AppendNumber(v.enum_index(), out); return;
    case proto::Value::kGeometry:
    case proto::Value::kVector:
      if constexpr (std::is_same_v<Column, proto::Column>) {
        AppendCompositeJson(v, out);
        return;
      }
      break;
  }
  out->append("null");
}

template <typename Image>
void AppendImage(std::string_view key, const Image& cols, std::string* out) {
  out->append(",\"");
  out->append(key);
  out->append("\":{");
  bool first = true;
  for (const auto& c : cols) {
    if (!first) out->push_back(',');
    first = false;
    if (c.name().empty()) {
      out->append("\"@");
      AppendNumber(c.index() + 1, out);
      out->push_back('"');
    } else {
      AppendJsonString(c.name(), out);
    }
    out->push_back(':');
    AppendValueJson(c, out);
  }
  out->push_back('}');
}

}  // namespace

void AppendColumnValueJson(const proto::Column& col, std::string* out) {
  AppendValueJson(col, out);
}

std::string_view OpName(proto::Op op) {
  switch (op) {
    case proto::OP_INSERT: return "insert";
    case proto::OP_UPDATE: return "update";
    case proto::OP_DELETE: return "delete";
    case proto::OP_DDL: return "ddl";
    case proto::OP_SCHEMA: return "schema";
    case proto::OP_ERROR: return "error";
    case proto::OP_READ: return "read";
    case proto::OP_SNAPSHOT: return "snapshot";
    default: return "unknown";
  }
}

namespace {

// "snapshot":{"id":...,"phase":"begin"|"end","rows":N} on a snapshot
// marker; {"id":...,"chunk":N} on a row; {"id":...} on its DDL and schema.
template <typename Mark>
void AppendSnapshot(proto::Op op, const Mark& m, std::string* out) {
  out->append(",\"snapshot\":{\"id\":");
  AppendJsonString(m.id(), out);
  if (op == proto::OP_SNAPSHOT) {
    out->append(m.phase() == proto::SnapshotMark::END ? ",\"phase\":\"end\",\"rows\":"
                                                      : ",\"phase\":\"begin\",\"rows\":");
    AppendNumber(m.rows(), out);
  } else if (op == proto::OP_READ) {
    out->append(",\"chunk\":");
    AppendNumber(m.chunk(), out);
  }
  out->push_back('}');
}

std::string_view ErrorKindName(proto::CaptureError::Kind kind) {
  switch (kind) {
    case proto::CaptureError::STATEMENT: return "statement";
    case proto::CaptureError::UNDECODABLE: return "undecodable";
    case proto::CaptureError::XA_NOT_PREPARED: return "xa_not_prepared";
    default: return "unknown";
  }
}

template <typename Strings>
void AppendStringArray(const Strings& items, std::string* out) {
  out->push_back('[');
  bool first = true;
  for (const auto& item : items) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(item, out);
  }
  out->push_back(']');
}

// "columns":[{"name":..,"type":..,"mysql_type":..,"unsigned":..,"nullable":..,
// "charset":..,"labels":[..]}, ...]: labels only for ENUM/SET, charset only
// for character columns.
void AppendShape(const proto::TableShape& shape, std::string* out) {
  out->append(",\"columns\":[");
  for (int i = 0; i < shape.columns_size(); ++i) {
    const proto::ColumnShape& c = shape.columns(i);
    if (i > 0) out->push_back(',');
    out->append("{\"name\":");
    if (c.name().empty()) {
      out->append("\"@");
      AppendNumber(i + 1, out);
      out->push_back('"');
    } else {
      AppendJsonString(c.name(), out);
    }
    out->append(",\"type\":");
    AppendJsonString(c.sql_type(), out);
    out->append(",\"mysql_type\":");
    AppendNumber(c.mysql_type(), out);
    out->append(c.is_unsigned() ? ",\"unsigned\":true" : ",\"unsigned\":false");
    out->append(c.nullable() ? ",\"nullable\":true" : ",\"nullable\":false");
    if (!c.charset().empty()) {
      out->append(",\"charset\":");
      AppendJsonString(c.charset(), out);
    }
    if (c.labels_size() > 0) {
      out->append(",\"labels\":");
      AppendStringArray(c.labels(), out);
    }
    out->push_back('}');
  }
  out->push_back(']');
}

void AppendError(const proto::CaptureError& e, std::string* out) {
  out->append(",\"error\":{\"kind\":\"");
  out->append(ErrorKindName(e.kind()));
  out->append("\",\"reason\":");
  AppendJsonString(e.reason(), out);
  if (!e.event_type_name().empty()) {
    out->append(",\"event_type\":");
    AppendJsonString(e.event_type_name(), out);
  }
  out->append(",\"event_pos\":");
  AppendNumber(e.event_pos(), out);
  if (!e.raw().empty()) {
    out->append(",\"raw\":\"");
    AppendBase64(e.raw(), out);
    out->push_back('"');
  }
  out->push_back('}');
}

}  // namespace

void AppendJsonString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    // A run of printable ASCII that needs no escape goes in at once (most
    // text is one run): the hot loop of every JSON line.
    size_t j = i;
    while (j < s.size()) {
      const auto c = static_cast<uint8_t>(s[j]);
      if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') break;
      ++j;
    }
    out->append(s.data() + i, j - i);
    if (j == s.size()) break;
    i = j;
    auto c = static_cast<uint8_t>(s[i]);
    if (c >= 0x80) {
      size_t n = Utf8SequenceLength(s, i);
      if (n == 0) {
        out->append("\\ufffd");
        ++i;
      } else {
        out->append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      default:
        out->append("\\u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 15]);
    }
    ++i;
  }
  out->push_back('"');
}

void AppendBase64(std::string_view bytes, std::string* out) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i = 0;
  auto at = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    out->push_back(kAlphabet[(n >> 18) & 63]);
    out->push_back(kAlphabet[(n >> 12) & 63]);
    out->push_back(kAlphabet[(n >> 6) & 63]);
    out->push_back(kAlphabet[n & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t n = at(i) << 16;
    out->push_back(kAlphabet[(n >> 18) & 63]);
    out->push_back(kAlphabet[(n >> 12) & 63]);
    out->append("==");
  } else if (rest == 2) {
    uint32_t n = (at(i) << 16) | (at(i + 1) << 8);
    out->push_back(kAlphabet[(n >> 18) & 63]);
    out->push_back(kAlphabet[(n >> 12) & 63]);
    out->push_back(kAlphabet[(n >> 6) & 63]);
    out->push_back('=');
  }
}

namespace {

// A record, of a message (proto::ChangeRecord) or of a view (RecordView,
// which holds row changes only).
template <typename Record>
void AppendJson(const Record& r, const JsonContext& ctx, std::string* out) {
  out->push_back('{');
  bool need_comma = false;
  if (ctx.offset) {
    out->append("\"offset\":");
    AppendNumber(*ctx.offset, out);
    need_comma = true;
  }
  if (!ctx.dest.empty()) {
    out->append(need_comma ? ",\"dest\":" : "\"dest\":");
    AppendJsonString(ctx.dest, out);
    need_comma = true;
  }
  out->append(need_comma ? ",\"op\":\"" : "\"op\":\"");
  out->append(OpName(r.op()));
  out->append("\",\"db\":");
  AppendJsonString(r.db(), out);
  out->append(",\"table\":");
  AppendJsonString(r.table(), out);
  bool row = true;
  if constexpr (std::is_same_v<Record, proto::ChangeRecord>) {
    row = false;
    if (r.op() == proto::OP_DDL) {
      out->append(",\"sql\":");
      AppendJsonString(r.sql(), out);
    } else if (r.op() == proto::OP_SCHEMA) {
      out->append(",\"pk\":");
      AppendStringArray(r.schema().pk(), out);
      AppendShape(r.schema(), out);
    } else if (r.op() == proto::OP_ERROR) {
      AppendError(r.error(), out);
      if (!r.sql().empty()) {
        out->append(",\"sql\":");
        AppendJsonString(r.sql(), out);
      }
    } else {
      row = true;
    }
  }
  if (row) {
    if (r.pk_size() > 0) {
      out->append(",\"pk\":");
      AppendStringArray(r.pk(), out);
    }
    if (r.op() == proto::OP_UPDATE || r.op() == proto::OP_DELETE)
      AppendImage("before", r.before(), out);
    if (r.op() == proto::OP_UPDATE || r.op() == proto::OP_INSERT || r.op() == proto::OP_READ)
      AppendImage("after", r.after(), out);
  }
  if (r.has_snapshot()) AppendSnapshot(r.op(), r.snapshot(), out);
  out->append(",\"ts\":");
  AppendNumber(r.ts(), out);
  out->append(",\"pos\":");
  std::string pos(r.pos().file());
  pos += ':';
  pos += std::to_string(r.pos().pos());
  AppendJsonString(pos, out);
  if (!r.gtid().empty()) {
    out->append(",\"gtid\":");
    AppendJsonString(r.gtid(), out);
  }
  out->append(",\"txn\":{\"seq\":");
  AppendNumber(r.txn().seq(), out);
  out->append(r.txn().last() ? ",\"last\":true}}" : ",\"last\":false}}");
}

template <typename Record>
bool AppendKey(const Record& r, std::string* out) {
  const bool row = r.op() == proto::OP_INSERT || r.op() == proto::OP_UPDATE ||
                   r.op() == proto::OP_DELETE || r.op() == proto::OP_READ;
  if (!row || r.pk_size() == 0) return false;
  const auto& image = r.op() == proto::OP_DELETE ? r.before() : r.after();
  const size_t start = out->size();
  out->push_back('{');
  for (int k = 0; k < r.pk_size(); ++k) {
    const std::remove_reference_t<decltype(*image.begin())>* found = nullptr;
    for (const auto& c : image) {
      if (c.name() == r.pk(k)) {
        found = &c;
        break;
      }
    }
    if (found == nullptr) {
      out->resize(start);
      return false;
    }
    if (k > 0) out->push_back(',');
    AppendJsonString(r.pk(k), out);
    out->push_back(':');
    AppendValueJson(*found, out);
  }
  out->push_back('}');
  return true;
}

}  // namespace

void AppendRecordJson(const proto::ChangeRecord& r, const JsonContext& ctx, std::string* out) {
  AppendJson(r, ctx, out);
}
void AppendRecordJson(const RecordView& r, const JsonContext& ctx, std::string* out) {
  AppendJson(r, ctx, out);
}
bool AppendKeyJson(const proto::ChangeRecord& r, std::string* out) { return AppendKey(r, out); }
bool AppendKeyJson(const RecordView& r, std::string* out) { return AppendKey(r, out); }

}  // namespace sluice
