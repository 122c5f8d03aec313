#include "broker/binlog/table_map.h"

#include "broker/binlog/event.h"

namespace sluice::binlog {
namespace {

// Optional metadata field types (MySQL libbinlogevents Table_map_event::
// Optional_metadata_field_type; MariaDB uses the same numbers).
enum OptionalField : uint8_t {
  kSignedness = 1,
  kDefaultCharset = 2,
  kColumnCharset = 3,
  kColumnName = 4,
  kSetStrValue = 5,
  kEnumStrValue = 6,
  kGeometryType = 7,
  kSimplePrimaryKey = 8,
  kPrimaryKeyWithPrefix = 9,
  kEnumAndSetDefaultCharset = 10,
  kEnumAndSetColumnCharset = 11,
  kColumnVisibility = 12,
  kVectorDimensionality = 13,  // MySQL 9: one packed int per VECTOR column
};

// Columns the SIGNEDNESS field has a bit for. MySQL (8.0.39, 9.x: sql/
// log_event.cc Table_map_log_event::init_signedness_field with
// is_numeric_field = has_signedess_information_type(binlog_type()), from
// sql/field_common_properties.h) counts YEAR and the old DECIMAL besides the
// integer, float and NEWDECIMAL types; so does MariaDB 10.11 (seen live:
// signedness_binlog_test). VECTOR is not counted.
bool IsNumeric(uint8_t t) {
  switch (t) {
    case kTypeTiny:
    case kTypeShort:
    case kTypeInt24:
    case kTypeLong:
    case kTypeLongLong:
    case kTypeNewDecimal:
    case kTypeFloat:
    case kTypeDouble:
    case kTypeYear:
    case kTypeDecimal: return true;
    default: return false;
  }
}

// Columns the charset fields list. MariaDB counts GEOMETRY too (its field
// carries the binary charset); MySQL does not. MySQL 9 counts VECTOR
// (binary charset): sql/log_event.cc is_character_type() lists STRING,
// VAR_STRING, VARCHAR, VECTOR and BLOB, and Table_map_log_event::
// init_metadata_fields passes is_character_field (is_character_type of the
// field's real_type) to init_charset_field; the mysqlbinlog side
// (Table_map_log_event::print_columns) counts the same types. MariaDB has
// no type 242.
bool IsCharacter(uint8_t real_type, bool is_mariadb) {
  if (real_type == kTypeGeometry) return is_mariadb;
  switch (real_type) {
    case kTypeString:
    case kTypeVarchar:
    case kTypeVarString:
    case kTypeBlob:
    case kTypeTinyBlob:
    case kTypeMediumBlob:
    case kTypeLongBlob:
    case kTypeVector: return true;
    default: return false;
  }
}

bool IsEnumOrSet(uint8_t real_type) { return real_type == kTypeEnum || real_type == kTypeSet; }

Status Short(std::string_view what) {
  return Status::Corruption("TABLE_MAP event truncated in " + std::string(what));
}

// Columns of `t` selected by pred, in table order.
template <typename Pred>
std::vector<size_t> ColumnsWhere(const TableMap& t, Pred pred) {
  std::vector<size_t> out;
  for (size_t i = 0; i < t.columns.size(); ++i)
    if (pred(t.columns[i])) out.push_back(i);
  return out;
}

// DEFAULT_CHARSET / ENUM_AND_SET_DEFAULT_CHARSET: a default collation, then
// (index among the selected columns, collation) pairs for the exceptions.
Status ApplyDefaultCharset(ByteReader r, const std::vector<size_t>& cols, TableMap* t) {
  uint64_t def;
  if (!r.GetPackedInt(&def)) return Short("default charset");
  for (size_t c : cols) t->columns[c].collation = static_cast<uint32_t>(def);
  while (!r.empty()) {
    uint64_t idx, coll;
    if (!r.GetPackedInt(&idx) || !r.GetPackedInt(&coll)) return Short("charset exceptions");
    if (idx >= cols.size())
      return Status::Corruption("TABLE_MAP charset names column out of range");
    t->columns[cols[idx]].collation = static_cast<uint32_t>(coll);
  }
  return Status::Ok();
}

Status ApplyColumnCharset(ByteReader r, const std::vector<size_t>& cols, TableMap* t) {
  for (size_t c : cols) {
    uint64_t coll;
    if (!r.GetPackedInt(&coll)) return Short("column charsets");
    t->columns[c].collation = static_cast<uint32_t>(coll);
  }
  return Status::Ok();
}

Status ApplyLabels(ByteReader r, const std::vector<size_t>& cols, TableMap* t) {
  for (size_t c : cols) {
    uint64_t n;
    if (!r.GetPackedInt(&n) || n > r.remaining()) return Short("ENUM/SET labels");
    auto& labels = t->labels[c];
    labels.clear();
    for (uint64_t k = 0; k < n; ++k) {
      std::string_view s;
      if (!r.GetPackedString(&s)) return Short("ENUM/SET label");
      labels.emplace_back(s);
    }
  }
  return Status::Ok();
}

Status ParseOptionalMetadata(ByteReader r, bool is_mariadb, TableMap* t) {
  const size_t n = t->columns.size();
  while (!r.empty()) {
    uint8_t type;
    std::string_view value;
    if (!r.Get(&type) || !r.GetPackedString(&value)) return Short("optional metadata");
    ByteReader v(value);
    switch (type) {
      case kSignedness: {
        auto cols = ColumnsWhere(*t, [](const ColumnType& c) { return IsNumeric(c.real_type); });
        if (value.size() < (cols.size() + 7) / 8) return Short("signedness");
        for (size_t k = 0; k < cols.size(); ++k) {
          auto byte = static_cast<uint8_t>(value[k / 8]);
          ColumnType& c = t->columns[cols[k]];
          // YEAR's bit is there but means nothing (MariaDB sets it, MySQL
          // not; mysqlbinlog's print_columns skips it): YEAR stays signed.
          c.is_unsigned = c.real_type != kTypeYear && ((byte >> (7 - k % 8)) & 1);  // MSB first
        }
        break;
      }
      case kDefaultCharset:
      case kColumnCharset: {
        auto cols = ColumnsWhere(
            *t, [&](const ColumnType& c) { return IsCharacter(c.real_type, is_mariadb); });
        SLUICE_RETURN_IF_ERROR(type == kDefaultCharset ? ApplyDefaultCharset(v, cols, t)
                                                       : ApplyColumnCharset(v, cols, t));
        break;
      }
      case kEnumAndSetDefaultCharset:
      case kEnumAndSetColumnCharset: {
        auto cols = ColumnsWhere(*t, [](const ColumnType& c) { return IsEnumOrSet(c.real_type); });
        SLUICE_RETURN_IF_ERROR(type == kEnumAndSetDefaultCharset ? ApplyDefaultCharset(v, cols, t)
                                                                 : ApplyColumnCharset(v, cols, t));
        break;
      }
      case kColumnName: {
        std::vector<std::string> names;
        names.reserve(n);
        for (size_t k = 0; k < n; ++k) {
          std::string_view s;
          if (!v.GetPackedString(&s)) return Short("column names");
          names.emplace_back(s);
        }
        t->names = std::move(names);
        t->has_full_metadata = true;
        break;
      }
      case kSetStrValue:
      case kEnumStrValue: {
        uint8_t want = type == kSetStrValue ? kTypeSet : kTypeEnum;
        auto cols = ColumnsWhere(*t, [&](const ColumnType& c) { return c.real_type == want; });
        SLUICE_RETURN_IF_ERROR(ApplyLabels(v, cols, t));
        break;
      }
      case kSimplePrimaryKey:
      case kPrimaryKeyWithPrefix: {
        t->pk_index.clear();
        while (!v.empty()) {
          uint64_t idx, prefix;
          if (!v.GetPackedInt(&idx)) return Short("primary key");
          if (type == kPrimaryKeyWithPrefix && !v.GetPackedInt(&prefix))
            return Short("primary key");
          if (idx >= n)
            return Status::Corruption("TABLE_MAP primary key names column out of range");
          t->pk_index.push_back(static_cast<uint32_t>(idx));
        }
        break;
      }
      default:  // geometry type, visibility, and fields newer than us: not needed
        break;
    }
  }
  return Status::Ok();
}

void LinkLabelsAndPk(TableMap* t) {
  for (size_t i = 0; i < t->columns.size(); ++i)
    t->columns[i].labels = t->labels[i].empty() ? nullptr : &t->labels[i];
  t->pk.clear();
  if (t->names.size() == t->columns.size()) {
    for (uint32_t i : t->pk_index) t->pk.push_back(t->names[i]);
  }
}

}  // namespace

bool ReadTableId(ByteReader* r, uint8_t post_header_len, uint64_t* id) {
  return r->GetLE(post_header_len == 6 ? 4 : 6, id);
}

Result<std::unique_ptr<TableMap>> ParseTableMap(std::string_view data,
                                                const FormatDescription& fd) {
  auto t = std::make_unique<TableMap>();
  uint8_t phl = fd.PostHeaderLength(static_cast<uint8_t>(EventType::kTableMap));
  if (phl == 0) phl = 8;
  ByteReader r(data);
  if (!ReadTableId(&r, phl, &t->table_id) || !r.Skip(phl == 6 ? 2 : phl - 6)) {
    return Short("post-header");
  }
  uint8_t len;
  std::string_view db, table;
  if (!r.Get(&len) || !r.GetBytes(len, &db) || !r.Skip(1)) return Short("database name");
  if (!r.Get(&len) || !r.GetBytes(len, &table) || !r.Skip(1)) return Short("table name");
  t->db.assign(db);
  t->table.assign(table);

  uint64_t ncols;
  std::string_view types;
  if (!r.GetPackedInt(&ncols) || ncols > r.remaining() || !r.GetBytes(ncols, &types)) {
    return Short("column types");
  }
  uint64_t meta_len;
  std::string_view meta;
  if (!r.GetPackedInt(&meta_len) || !r.GetBytes(meta_len, &meta)) return Short("column metadata");
  t->columns.resize(ncols);
  t->labels.resize(ncols);
  for (size_t i = 0; i < ncols; ++i) {
    ColumnType& c = t->columns[i];
    c.type = static_cast<uint8_t>(types[i]);
    SLUICE_RETURN_IF_ERROR(ReadColumnMeta(c.type, &meta, &c.meta)
                               .WithContext("TABLE_MAP " + t->db + "." + t->table + " column " +
                                            std::to_string(i + 1)));
    ResolveRealType(&c);
  }
  if (!meta.empty()) {
    return Status::Corruption("TABLE_MAP " + t->db + "." + t->table + " has " +
                              std::to_string(meta.size()) + " metadata bytes left over");
  }
  std::string_view null_bits;
  if (!r.GetBytes((ncols + 7) / 8, &null_bits)) return Short("null bits");
  t->nullable.resize(ncols);
  for (size_t i = 0; i < ncols; ++i) {
    t->nullable[i] = (static_cast<uint8_t>(null_bits[i / 8]) >> (i % 8)) & 1;  // LSB first
  }
  SLUICE_RETURN_IF_ERROR(ParseOptionalMetadata(r, fd.is_mariadb, t.get())
                             .WithContext("TABLE_MAP " + t->db + "." + t->table));
  LinkLabelsAndPk(t.get());
  return t;
}

bool TableMap::ApplySchema(const TableSchema& s) {
  const size_t n = columns.size();
  if (s.names.size() != n) return false;
  if (names.size() != n) names = s.names;
  for (size_t i = 0; i < n; ++i) {
    ColumnType& c = columns[i];
    if (i < s.is_unsigned.size() && s.is_unsigned[i]) c.is_unsigned = true;
    if (c.collation == 0 && i < s.collations.size()) c.collation = s.collations[i];
    if (labels[i].empty() && i < s.labels.size()) labels[i] = s.labels[i];
  }
  if (pk_index.empty()) {
    for (uint32_t k : s.pk)
      if (k < n) pk_index.push_back(k);
  }
  LinkLabelsAndPk(this);
  return true;
}

}  // namespace sluice::binlog
