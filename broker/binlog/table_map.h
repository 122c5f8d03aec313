// TABLE_MAP events: the table id, database and table name, and the column
// types, metadata and (optionally) names, signedness, charsets, ENUM/SET
// labels and primary key of the table the next rows events change.
//
// Body (after the 8-byte post-header: table id (6), flags (2)):
//   db length (1), db, NUL, table length (1), table, NUL,
//   column count (packed int), column types (1 byte each),
//   metadata length (packed int), metadata (ReadColumnMeta per column),
//   null bits ((count + 7) / 8),
//   optional metadata (MySQL 8.0 / MariaDB 10.5 binlog_row_metadata):
//   { type (1), length (packed int), value }*
//
// Thread safety: a TableMap is immutable once built and shared between the
// serial stage and the row-decoding workers through shared_ptr<const>.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "broker/binlog/column_value.h"
#include "broker/binlog/event.h"

namespace sluice::binlog {

struct FormatDescription;

// What the source's schema knows of a table (information_schema), for
// servers that log no optional metadata (binlog_row_metadata=MINIMAL).
struct TableSchema {
  std::vector<std::string> names;
  std::vector<bool> is_unsigned;
  std::vector<uint32_t> collations;              // 0 when not a character column
  std::vector<std::vector<std::string>> labels;  // ENUM/SET labels per column
  std::vector<uint32_t> pk;                      // 0-based column indexes
};

class TableMap {
 public:
  uint64_t table_id = 0;
  std::string db;
  std::string table;
  std::vector<ColumnType> columns;
  // From the optional metadata or the schema; empty when unknown.
  std::vector<std::string> names;
  std::vector<std::string> pk;     // primary-key column names
  std::vector<uint32_t> pk_index;  // their 0-based indexes
  // ENUM/SET labels per column (index = column); ColumnType::labels points
  // into this, so a TableMap is neither copied nor moved once built.
  std::vector<std::vector<std::string>> labels;
  bool has_full_metadata = false;  // names came with the event
  std::vector<bool> nullable;      // per column: the table map's null bits

  TableMap() = default;
  TableMap(const TableMap&) = delete;
  TableMap& operator=(const TableMap&) = delete;

  // Applies what the schema knows where the event said nothing. Ignored
  // (returns false) when the column counts differ: the schema changed since
  // the event was written, and positions are safer than wrong names.
  bool ApplySchema(const TableSchema& schema);
};

// Parses a TABLE_MAP event's post-header and body (`data` excludes the
// common header and the checksum).
Result<std::unique_ptr<TableMap>> ParseTableMap(std::string_view data, const FormatDescription& fd);

// Reads a rows or table-map event's table id: 6 bytes, or 4 when the
// post-header is 6 bytes long (MySQL 5.1.0 - 5.1.15).
bool ReadTableId(ByteReader* r, uint8_t post_header_len, uint64_t* id);

}  // namespace sluice::binlog
