// The two BLOB-like column types whose bytes have a structure of their own,
// after the length prefix the row image gives them (column_value.h):
//
//   GEOMETRY  4-byte little-endian SRID, then the OGC WKB. MySQL's internal
//             geometry format (sql/spatial.h), which Field_geom stores and
//             packs like a BLOB; MariaDB's is the same (checked live by
//             tests/integration/geometry_binlog_test.cc).
//   VECTOR    MySQL 9: little-endian IEEE float32 elements
//             (sql/log_event.cc log_event_print_value, case
//             MYSQL_TYPE_VECTOR: float4get of every 4 bytes).
//
// Thread safety: pure functions.
#pragma once

#include <string_view>

#include "base/status.h"
#include "proto/record.pb.h"

namespace sluice::binlog {

// Sets value->geometry(). Corruption when shorter than the SRID.
Status DecodeGeometry(std::string_view bytes, proto::Value* value);

// Sets value->vector(). Corruption when not a whole number of float32s.
Status DecodeVector(std::string_view bytes, proto::Value* value);

}  // namespace sluice::binlog
