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
// Thread safety: DecodeRows and EncodeRows are pure functions of their
// arguments; row-decoding workers call them concurrently, each with its own
// scratch and output.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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
  uint64_t end_pos = 0;      // position of the event's end in `file`
  std::string_view gtid;     // "" when the source has none
  bool column_names = true;  // false: key every column "@N"
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

// Receives records already serialized (EncodeRows).
class EncodedRowSink {
 public:
  virtual ~EncodedRowSink() = default;
  // Space for the next `n` bytes of the record being written.
  virtual char* Extend(size_t n) = 0;
  // The bytes since the previous EndRecord are one record.
  virtual void EndRecord() = 0;
};

// EncodeRows' scratch, reused from event to event (one per worker or ring
// slot). Writes a row's ChangeRecord in protobuf's wire format without
// building the message: every field but the images is the same for all
// rows of an event (and so is each Column but its value), so those bytes
// are encoded once per event and copied per row. The bytes equal
// ChangeRecord::SerializeAsString() of DecodeRows' record, which
// tests/broker/binlog/row_encoder_test and the binlog fuzz target check;
// the order of fields is protobuf's (by number), absent proto3 defaults
// are left out as protobuf does, and oneof members are always written.
class RowEncoder {
 public:
  struct Image {
    bool present = false;
    std::vector<uint32_t> columns;     // table column of each present value
    std::vector<proto::Value> values;  // the first columns.size() are the row's
  };

  void StartEvent(const TableMap& table, const RowsContext& ctx, proto::Op op);
  Image& before() { return before_; }
  Image& after() { return after_; }
  // Writes the record of the row now in before() and after().
  void WriteRow(EncodedRowSink* out);

 private:
  struct Sizes {
    size_t column, value;  // encoded bytes of a Column message and of its Value
  };
  size_t ImageSize(const Image& im, Sizes* sizes) const;
  char* WriteImage(const Image& im, char tag, const Sizes* sizes, char* p) const;

  std::string prefix_;                 // fields 1-5: version, op, db, table, pk
  std::string suffix_;                 // fields 8-10: ts, pos, gtid
  std::string headers_;                // per table column: Column fields 1-4, value tag
  std::vector<uint32_t> header_ends_;  // end of column i's bytes in headers_
  std::vector<Sizes> sizes_;           // per value of a row
  Image before_, after_;
};

// DecodeRows, written straight to `sink` in wire format (see RowEncoder).
// Errors are DecodeRows'; records written before one stay in the sink.
Status EncodeRows(const TableMap& table, const RowsEventHeader& rows, const RowsContext& ctx,
                  RowEncoder* scratch, EncodedRowSink* sink);

}  // namespace sluice::binlog
