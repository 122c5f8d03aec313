// MySQL's binary JSON format (the storage and binlog form of JSON columns)
// to JSON text, and the partial JSON updates of PARTIAL_UPDATE_ROWS events.
//
// Binary format (MySQL sql-common/json_binary.h; all integers little-endian):
//
//   doc       ::= type value                  (an empty doc is the JSON null)
//   type      ::= 0x00 small object | 0x01 large object | 0x02 small array |
//                 0x03 large array  | 0x04 literal | 0x05 int16 | 0x06 uint16 |
//                 0x07 int32 | 0x08 uint32 | 0x09 int64 | 0x0a uint64 |
//                 0x0b double (IEEE 754) | 0x0c utf8mb4 string | 0x0f opaque
//   object    ::= count size key-entry{count} value-entry{count} key* value*
//   array     ::= count size value-entry{count} value*
//   count, size, offset ::= uint16 in small, uint32 in large containers
//   key-entry ::= offset uint16-length
//   value-entry ::= type offset-or-inlined-value
//   literal   ::= 0x00 null | 0x01 true | 0x02 false
//   string    ::= varlen bytes
//   opaque    ::= field-type-byte varlen bytes
//   varlen    ::= 7 bits a byte, least significant first, high bit = more
//                 (at most 5 bytes, value < 2^32)
//
// `size` counts a container's bytes from its `count` on; offsets count from
// there too, and every offset and length must stay inside the container.
// Literals, int16 and uint16 values are inlined in their value entry, and so
// are int32 and uint32 in large containers. Object keys are sorted by length,
// then bytewise.
//
// Text format: MySQL's Json_wrapper::to_string (sql-common/json_dom.cc), the
// form JSON_EXTRACT and a JSON column print: `{"a": 1, "b": [1, 2.5]}` with
// ", " and ": " separators; strings escape `"` `\` and bytes below 0x20 only
// (\b \f \n \r \t, else \u00xx) and pass other bytes through unchanged; doubles
// as MySQL's my_gcvt prints them (shortest round-trip digits, exponent form
// below 1e-15 and from 1e15 on: 1e15, 1e-16, 1.5e300) with ".0" appended when
// the digits have neither '.' nor 'e' (1.0, 100.0); opaque values: DECIMAL
// (field type 246) as a number with its scale's digits (1.50), DATE as
// "YYYY-MM-DD", DATETIME and TIMESTAMP as "YYYY-MM-DD HH:MM:SS.ffffff", TIME
// as "[-]HH:MM:SS.ffffff" (always six fraction digits), VAR_STRING (253) as a
// string, any other type as "base64:type<N>:<base64>" (a line break, escaped
// \n, after every 76 base64 characters, as MySQL's base64_encode writes it).
//
// Corruption: nesting deeper than 100 containers, an offset or length outside
// its container, a bad type byte or literal, a non-finite double, a DECIMAL
// whose precision, scale, size or digits do not match, a temporal value that
// is not 8 bytes, values that overlap so much that the text would pass 8
// bytes per input byte (a document MySQL wrote needs at most ~6). Bytes after
// the top-level value are ignored, as MySQL ignores them, and key order is
// not checked.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace sluice::binlog {

// Appends the JSON text of the binary JSON document `bytes` (a JSON column's
// value after its length prefix) to *out. An empty document is `null` (MySQL
// stores one for JSON NULLs inserted into a NOT NULL column in non-strict
// mode). On error *out is left as it was.
Status AppendJsonFromBinary(std::string_view bytes, std::string* out);

// Applies a JSON column's partial update to its before-image and appends the
// resulting document's JSON text to *out (same text format as above).
//
// `before` is the column's binary JSON document from the row's before-image
// (after the column's length prefix). `diffs` is the column's after-image in a
// PARTIAL_UPDATE_ROWS event whose partial bit for the column is set, with its
// 4-byte little-endian length prefix stripped: in MySQL's layout
// (sql-common/json_diff.cc Json_diff_vector::write_binary) that prefix is the
// diff list's length and takes the place of a JSON column's usual 4-byte
// length. What remains is zero or more diffs, applied in order:
//
//   diff      ::= operation path-length path [value-length value]
//   operation ::= 0x00 REPLACE | 0x01 INSERT | 0x02 REMOVE (no value)
//   path-length, value-length ::= MySQL packed integer (net_field_length:
//                 < 0xfb one byte; 0xfc + uint16; 0xfd + uint24; 0xfe + uint64)
//   path      ::= a JSON path such as $.a[1]."b c"[last-1] (members and array
//                 cells only; no wildcards or ranges)
//   value     ::= a binary JSON document
//
// Semantics follow MySQL's apply_json_diff: REPLACE needs the path to exist;
// INSERT needs the parent to exist and, in an object, the member not to
// (a new key goes in MySQL's key order); in an array it inserts before the
// cell, an index past the end appends; REMOVE needs the path to exist. A diff
// that does not apply means the before-image is not the one the server
// updated: Corruption, as is a malformed diff. An empty `diffs` yields the
// before-image. Only the containers on the diffs' paths are expanded; the
// rest is rendered straight from `before`. On error *out is left as it was.
Status ApplyJsonDiffs(std::string_view before, std::string_view diffs, std::string* out);

}  // namespace sluice::binlog
