// MariaDB's compressed binlog events (log_bin_compress=ON, MariaDB >= 10.2):
// QUERY_COMPRESSED (165), WRITE/UPDATE/DELETE_ROWS_COMPRESSED_V1 (166-168)
// and WRITE/UPDATE/DELETE_ROWS_COMPRESSED (169-171), turned back into the
// data of the uncompressed event they stand for.
//
// From MariaDB's sql/log_event.cc (binlog_buf_compress, binlog_buf_uncompress,
// binlog_get_uncompress_len, query_event_uncompress, row_log_event_uncompress):
//
//   QUERY_COMPRESSED  the QUERY event up to and including the NUL after the
//                     db name unchanged; the statement text is compressed.
//   ROWS_COMPRESSED   the rows event up to and including the column bitmaps
//                     (both for UPDATE) unchanged; the rows are compressed.
//                     Which rows event it is comes from the FDE's post-header
//                     length for the type: 10 (ROWS_HEADER_LEN_V2, with the
//                     v2 extra-data block) -> type - 169 + 30 (rows v2),
//                     else -> type - 166 + 23 (rows v1).
//   compressed part   1 byte: 0x80 | algorithm << 4 | n  (algorithm 0 = zlib,
//                     n = 1..4 bytes of length); the uncompressed length in n
//                     bytes, most significant first; a zlib stream (compress()).
//
// MariaDB writes only 165 and 166-168: its rows events are v1
// (sql/log_event_server.cc: Write_rows_log_event passes WRITE_ROWS_EVENT_V1,
// Write_rows_compressed_log_event sets m_type = WRITE_ROWS_COMPRESSED_EVENT_V1,
// likewise Update/Delete). 169-171 are read as MariaDB reads them.
//
// Thread safety: a pure function.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "broker/binlog/event.h"

namespace sluice::binlog {

// An uncompressed length above this is refused (the decoder's TRANSACTION_PAYLOAD
// bound): no server writes an event this large.
constexpr uint64_t kMaxUncompressedEventSize = uint64_t{1} << 30;

bool IsCompressedEvent(uint8_t type);

// `data` is a compressed event after its common header, without its CRC.
// Writes the data of the uncompressed event (same post-header, status,
// bitmaps; decompressed statement or rows) to *out and returns its type
// (QUERY, or rows v1/v2). Corruption, naming what, when the event is
// truncated, the algorithm unknown, the length out of bounds or different
// from what the zlib stream holds, or the stream damaged.
Result<uint8_t> UncompressEvent(uint8_t type, std::string_view data, const FormatDescription& fd,
                                std::string* out);

}  // namespace sluice::binlog
