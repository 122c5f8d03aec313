// Rows events (WRITE/UPDATE/DELETE_ROWS v0, v1, v2 and MySQL's
// PARTIAL_UPDATE_ROWS) decoded into change records.
//
// Layout after the common header:
//   post-header: table id (6, or 4 when the post-header is 6 bytes), flags (2),
//                v2 only: extra-data length (2, counting itself), extra data
//   column count (packed int)
//   columns-present bitmap, (count + 7) / 8 bytes   (before image / only image)
//   update events: a second bitmap for the after image
//   rows, back to back; each image is
//     [PARTIAL_UPDATE_ROWS after image: value options (packed int) and, when
//      bit 0 is set, one bit per JSON column of the after image: partial]
//     null bitmap: one bit per present column, (present + 7) / 8 bytes
//     the values of the present, non-NULL columns in table order
//
// Bitmaps are little-endian bit order: column i is bit (i % 8) of byte i / 8.
//
// Thread safety: DecodeRows is a pure function of its arguments; row-decoding
// workers call it concurrently, each with its own output.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/status.h"
#include "broker/binlog/event.h"
#include "broker/binlog/table_map.h"
#include "proto/record.pb.h"

namespace sluice::binlog {

constexpr uint16_t kRowsFlagStmtEnd = 0x0001;

// Which kind of rows event a type byte is, if any.
enum class RowsKind : uint8_t { kNone, kWrite, kUpdate, kDelete, kPartialUpdate };
RowsKind RowsKindOf(uint8_t type);

struct RowsEventHeader {
  uint64_t table_id = 0;
  uint16_t flags = 0;
  RowsKind kind = RowsKind::kNone;
  std::string_view body;  // from the column count to the end of the rows
};

// Parses the post-header of a rows event. `data` excludes the common header
// and the checksum.
Result<RowsEventHeader> ParseRowsHeader(uint8_t type, std::string_view data,
                                        const FormatDescription& fd);

// What every record of one rows event shares.
struct RowsContext {
  uint32_t timestamp = 0;
  std::string_view file;
  uint64_t end_pos = 0;       // position of the event's end in `file`
  std::string_view gtid;      // "" when the source has none
  bool column_names = true;   // false: key every column "@N"
};

// Receives each row change. `record` is reused for the next row once the
// call returns: keep it by Swap()ping it with a record of your own.
class RowSink {
 public:
  virtual ~RowSink() = default;
  virtual Status OnRow(proto::ChangeRecord* record) = 0;
};

// Decodes every row of a rows event into records (op, db, table, pk,
// before/after images, ts, pos, gtid; txn is left to the caller) and hands
// each to sink. `scratch` is the record reused for every row. Corruption
// names the row and column when the bytes do not match the table map.
Status DecodeRows(const TableMap& table, const RowsEventHeader& rows, const RowsContext& ctx,
                  proto::ChangeRecord* scratch, RowSink* sink);

}  // namespace sluice::binlog
