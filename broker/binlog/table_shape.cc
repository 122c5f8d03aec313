#include "broker/binlog/table_shape.h"

#include <string>

#include "broker/binlog/charsets.h"

namespace sluice::binlog {
namespace {

std::string Num(uint32_t n) { return std::to_string(n); }

std::string WithFsp(const char* name, uint16_t fsp) {
  return fsp == 0 ? std::string(name) : std::string(name) + "(" + Num(fsp) + ")";
}

// enum('a','b''c'): labels quoted as SQL strings.
std::string LabelList(const char* kind, const std::vector<std::string>* labels) {
  std::string out = kind;
  if (labels == nullptr) return out;
  out += '(';
  for (size_t i = 0; i < labels->size(); ++i) {
    if (i > 0) out += ',';
    out += '\'';
    for (char c : (*labels)[i]) {
      if (c == '\'') out += '\'';
      out += c;
    }
    out += '\'';
  }
  return out + ')';
}

// A character column's length in characters from its length in bytes,
// when the charset is known; "" otherwise.
std::string Length(uint32_t bytes, const std::optional<CharsetInfo>& cs) {
  if (!cs || cs->max_bytes == 0) return "";
  return "(" + Num(bytes / cs->max_bytes) + ")";
}

std::string SqlType(const ColumnType& c, const std::optional<CharsetInfo>& cs) {
  const bool binary = c.collation == kBinaryCollation;
  const char* sign = c.is_unsigned ? " unsigned" : "";
  switch (c.real_type) {
    case kTypeTiny: return std::string("tinyint") + sign;
    case kTypeShort: return std::string("smallint") + sign;
    case kTypeInt24: return std::string("mediumint") + sign;
    case kTypeLong: return std::string("int") + sign;
    case kTypeLongLong: return std::string("bigint") + sign;
    case kTypeFloat: return std::string("float") + sign;
    case kTypeDouble: return std::string("double") + sign;
    case kTypeNewDecimal:
      return "decimal(" + Num(c.meta >> 8) + "," + Num(c.meta & 0xff) + ")" + sign;
    case kTypeDecimal: return "decimal";
    case kTypeDate:
    case kTypeNewDate: return "date";
    case kTypeYear: return "year";
    case kTypeTime: return "time";
    case kTypeDateTime: return "datetime";
    case kTypeTimestamp: return "timestamp";
    case kTypeTime2: return WithFsp("time", c.meta);
    case kTypeDateTime2: return WithFsp("datetime", c.meta);
    case kTypeTimestamp2: return WithFsp("timestamp", c.meta);
    case kTypeBit: return "bit(" + Num((c.meta >> 8) * 8 + (c.meta & 0xff)) + ")";
    case kTypeVarchar:
    case kTypeVarString:
      return binary ? "varbinary(" + Num(c.meta) + ")" : "varchar" + Length(c.meta, cs);
    case kTypeString: {
      // Bits 4-5 of the first metadata byte, inverted, are bits 8-9 of the
      // length in bytes (MySQL Field_string::save_field_metadata).
      const uint32_t hi = c.meta >> 8, lo = c.meta & 0xff;
      const uint32_t bytes = (((hi & 0x30) ^ 0x30) << 4) | lo;
      return binary ? "binary(" + Num(bytes) + ")" : "char" + Length(bytes, cs);
    }
    case kTypeEnum: return LabelList("enum", c.labels);
    case kTypeSet: return LabelList("set", c.labels);
    case kTypeTinyBlob:
    case kTypeMediumBlob:
    case kTypeLongBlob:
    case kTypeBlob: {
      // The length prefix's size says which of the four.
      static const char* const kBlobs[] = {"blob", "tinyblob", "blob", "mediumblob", "longblob"};
      static const char* const kTexts[] = {"text", "tinytext", "text", "mediumtext", "longtext"};
      const size_t k = c.meta <= 4 ? c.meta : 0;
      if (c.collation == 0) return std::string(kBlobs[k]) + "|" + kTexts[k];  // not logged
      return binary ? kBlobs[k] : kTexts[k];
    }
    case kTypeJson: return "json";
    case kTypeGeometry: return "geometry";
    case kTypeVector: return "vector";
    case kTypeNull: return "null";
    default: return "type" + Num(c.real_type);
  }
}

bool IsCharacterType(uint8_t t) {
  switch (t) {
    case kTypeVarchar:
    case kTypeVarString:
    case kTypeString:
    case kTypeEnum:
    case kTypeSet:
    case kTypeTinyBlob:
    case kTypeMediumBlob:
    case kTypeLongBlob:
    case kTypeBlob: return true;
    default: return false;
  }
}

}  // namespace

void BuildTableShape(const TableMap& map, proto::TableShape* shape) {
  shape->Clear();
  const bool named = map.names.size() == map.columns.size();
  shape->set_names_known(named);
  for (size_t i = 0; i < map.columns.size(); ++i) {
    const ColumnType& c = map.columns[i];
    proto::ColumnShape* col = shape->add_columns();
    if (named) col->set_name(map.names[i]);
    col->set_mysql_type(c.real_type);
    std::optional<CharsetInfo> cs;
    if (IsCharacterType(c.real_type) && c.collation != 0) {
      cs = CharsetOfCollation(c.collation);
      col->set_collation(c.collation);
      col->set_charset(cs ? std::string(cs->name) : "collation " + Num(c.collation));
    }
    col->set_sql_type(SqlType(c, cs));
    col->set_is_unsigned(c.is_unsigned);
    col->set_nullable(i < map.nullable.size() && map.nullable[i]);
    if (c.labels != nullptr) {
      for (const auto& l : *c.labels) col->add_labels(l);
    }
  }
  for (const auto& k : map.pk) shape->add_pk(k);
}

}  // namespace sluice::binlog
