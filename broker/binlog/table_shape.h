// A table's shape for the schema record (op "schema", proto TableShape):
// what the table map says of each column, in SQL terms a sink can use to
// create or check a table ("decimal(12,2)", "varchar(64)", "int unsigned",
// "enum('a','b')"), with nullability, charset, ENUM/SET labels and the
// primary key.
//
// Everything comes from the table map: its column types and metadata, its
// null bits, and (with binlog_row_metadata=FULL) its optional metadata.
// Nothing is read from the source's current schema. What the table map
// does not say stays out: a character column whose collation the server
// did not log has no charset and no length ("varchar").
//
// Thread safety: pure function.
#pragma once

#include "broker/binlog/table_map.h"
#include "proto/record.pb.h"

namespace sluice::binlog {

// Fills *shape (cleared first) from `map`.
void BuildTableShape(const TableMap& map, proto::TableShape* shape);

}  // namespace sluice::binlog
