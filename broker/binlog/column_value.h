// Column types of the row-based binlog and the decoding of one column value
// from a rows event's row image into a proto::Value.
//
// Formats: MySQL sql/field.cc and libbinlogevents (binary_log_funcs.cpp,
// rows_event.h), MariaDB sql/log_event.cc. The value rules are docs/decoder.md's
// "Values" (DECIMAL as exact digits, TIMESTAMP as UTC text, binary strings as
// bytes, ENUM/SET as labels when known, ...).
//
// Every function here reads untrusted bytes: it checks each length against
// what is left and returns Corruption instead of reading past the end.
//
// Thread safety: pure functions; ColumnType is read-only after the table map
// that owns it is built.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "proto/record.pb.h"

namespace sluice::binlog {

// enum_field_types (MySQL include/field_types.h; MariaDB the same numbers).
enum FieldType : uint8_t {
  kTypeDecimal = 0,
  kTypeTiny = 1,
  kTypeShort = 2,
  kTypeLong = 3,
  kTypeFloat = 4,
  kTypeDouble = 5,
  kTypeNull = 6,
  kTypeTimestamp = 7,
  kTypeLongLong = 8,
  kTypeInt24 = 9,
  kTypeDate = 10,
  kTypeTime = 11,
  kTypeDateTime = 12,
  kTypeYear = 13,
  kTypeNewDate = 14,
  kTypeVarchar = 15,
  kTypeBit = 16,
  kTypeTimestamp2 = 17,
  kTypeDateTime2 = 18,
  kTypeTime2 = 19,
  kTypeTypedArray = 20,
  kTypeVector = 242,
  kTypeInvalid = 243,
  kTypeBool = 244,
  kTypeJson = 245,
  kTypeNewDecimal = 246,
  kTypeEnum = 247,
  kTypeSet = 248,
  kTypeTinyBlob = 249,
  kTypeMediumBlob = 250,
  kTypeLongBlob = 251,
  kTypeBlob = 252,
  kTypeVarString = 253,
  kTypeString = 254,
  kTypeGeometry = 255,
};

// The binary character set's collation id: strings in it are bytes, not text.
constexpr uint32_t kBinaryCollation = 63;

// One column as the table map (and the schema, when known) describes it.
struct ColumnType {
  // The type as the table map lists it. MYSQL_TYPE_STRING columns that are
  // really ENUM or SET keep kTypeString here; real_type says what they are.
  uint8_t type = kTypeInvalid;
  // The real type: kTypeEnum / kTypeSet for such STRING columns, else type.
  uint8_t real_type = kTypeInvalid;
  // The table map's per-column metadata, as ReadColumnMeta returns it:
  //   integers, YEAR, DATE, NEWDATE, old TIME/DATETIME/TIMESTAMP: 0
  //   FLOAT, DOUBLE: the pack length (4, 8); not needed to decode
  //   BLOB family, JSON, GEOMETRY, VECTOR: bytes of the length prefix, 1..4
  //   TIME2, DATETIME2, TIMESTAMP2: fractional digits, 0..6
  //   VARCHAR, VAR_STRING: max length in bytes (stored little-endian)
  //   BIT: (whole bytes << 8) | leftover bits, i.e. BIT(M) is
  //        ((M / 8) << 8) | (M % 8) (stored bits first, then bytes)
  //   NEWDECIMAL: (precision << 8) | scale (stored in that order)
  //   STRING, ENUM, SET: (byte0 << 8) | byte1 as stored. For ENUM/SET byte0
  //        is the real type (247/248) and byte1 the pack length; for CHAR
  //        byte0 is 254 with bits 4-5 inverted to hold bits 8-9 of the max
  //        length in bytes, whose low 8 bits are byte1.
  uint16_t meta = 0;
  bool is_unsigned = false;
  // Collation id of a character column; 0 when unknown. kBinaryCollation
  // makes CHAR/VARCHAR/BLOB columns binary (base64 in JSON).
  uint32_t collation = 0;
  // ENUM / SET labels in definition order, when known (table-map optional
  // metadata or the source's schema); empty otherwise. Not owned: it points
  // into the TableMap that owns this ColumnType, which outlives it.
  const std::vector<std::string>* labels = nullptr;
};

// Reads the table map's metadata for one column of `type` from the front of
// *in and advances *in; sets *meta (ColumnType::meta says what it holds).
// Returns Corruption when *in is short, or for a type whose metadata size is
// unknown (the rest of the block cannot be parsed then). MariaDB's
// compressed VARCHAR (140) and BLOB (141) columns are read (2 and 1 bytes)
// so that their table maps parse; their values are not decoded.
Status ReadColumnMeta(uint8_t type, std::string_view* in, uint16_t* meta);

// Fills in real_type from type and meta: for STRING, kTypeEnum / kTypeSet
// when meta's high byte says so, else kTypeString; other types: type.
void ResolveRealType(ColumnType* col);

// Decodes one non-NULL value of `col` from the front of *in into *value and
// advances *in past it; *in is unchanged on error. Returns Corruption naming
// the type when the bytes are short or impossible (a DECIMAL with a bad
// precision, a fraction over 999999, an ENUM index past its labels, ...).
// Reuses *value's string capacity when it already holds the same kind.
//
// Values (docs/decoder.md, "Values"): integers int64/uint64 by is_unsigned, BIT
// uint64, YEAR int64; FLOAT/DOUBLE float64; DECIMAL the exact digits with
// `scale` fraction digits; DATE "YYYY-MM-DD", DATETIME and TIMESTAMP (UTC)
// "YYYY-MM-DD HH:MM:SS[.f]" and TIME "[-]HH:MM:SS[.f]" with `fsp` fraction
// digits; character data text (latin1 converted to UTF-8, other charsets
// as stored) or binary for the binary collation (BINARY(n) padded back to
// n bytes) and for BLOBs of unknown collation; GEOMETRY the WKB without
// its SRID; VECTOR its bytes; JSON its text; ENUM/SET labels or index.
// Ignores real_type: a STRING column's real type is read from meta again.
Status DecodeColumnValue(const ColumnType& col, std::string_view* in, proto::Value* value);

}  // namespace sluice::binlog
