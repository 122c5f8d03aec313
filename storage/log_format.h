// On-disk format of the commit log (see also docs/formats.md).
//
// A destination's log lives in one RocksDB instance with two column families:
//
//   "log"   key   = 8-byte big-endian base offset of a batch
//           value = one record batch (below)
//   "meta"  see storage/meta_store.h; key "state" holds proto::LogState
//
// Record batch (all integers little-endian):
//
//   offset size  field
//   0      4     crc32c           CRC-32C of bytes [4, end): everything else
//   4      1     version          kBatchVersion (1)
//   5      1     flags            bit 0: kTxnEnd, the batch ends a transaction
//   6      2     reserved         0
//   8      8     base_offset      offset of the first record; equals the key
//   16     4     record_count     >= 1
//   20     4     txn_records_before  records of the same transaction in earlier batches
//   24     8     epoch            epoch of the primary that wrote the batch
//   32     8     append_time_ms   broker clock when appended (retention by age)
//   40     8     max_source_ts    latest source event time in the batch, seconds
//   48     8     bytes_before     logical bytes of every batch before this one
//   56     ...   checkpoint       varint length + proto::SourceCheckpoint bytes;
//                                 length 0 unless kTxnEnd
//   ...    ...   records          record_count times: varint length + bytes
//
// A batch never spans two transactions; a transaction may span several
// batches (large transactions are written in chunks, at most 2^32 - 1
// records per transaction). base_offset - txn_records_before is where the
// batch's transaction begins, so a partial transaction at the tail is found
// from its last chunk. The last batch of a transaction carries the source
// checkpoint, so the log's tail says where ingest resumes. `bytes_before`
// gives the log's total size from two numbers, for retention by bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "base/types.h"

namespace sluice::log_format {

inline constexpr uint8_t kBatchVersion = 1;
inline constexpr uint8_t kTxnEnd = 1;
inline constexpr size_t kHeaderSize = 56;

struct BatchHeader {
  uint8_t flags = 0;
  Offset base_offset;
  uint32_t record_count = 0;
  uint32_t txn_records_before = 0;
  uint64_t epoch = 0;
  int64_t append_time_ms = 0;
  uint64_t max_source_ts = 0;
  uint64_t bytes_before = 0;

  bool txn_end() const { return (flags & kTxnEnd) != 0; }
  Offset end_offset() const { return base_offset + record_count; }
  Offset txn_base() const { return Offset(base_offset.value() - txn_records_before); }
};

// A decoded batch. Views borrow the bytes passed to DecodeBatch.
struct BatchView {
  BatchHeader header;
  std::string_view checkpoint;  // serialized proto::SourceCheckpoint, empty unless txn_end
  std::string_view records;     // record_count length-prefixed records
  size_t encoded_size = 0;      // size of the whole value
};

std::string BatchKey(Offset base);

// Appends the encoded batch to *dst. records are the record payloads;
// `checkpoint` must be empty unless header.flags has kTxnEnd.
// REQUIRES: header.record_count == number of records.
template <typename RecordRange>
void EncodeBatch(const BatchHeader& header, std::string_view checkpoint,
                 const RecordRange& records, std::string* dst);

// Validates and decodes a batch stored under `key`. Every length is checked
// against the buffer; a mismatch is Corruption naming the batch's offset.
Result<BatchView> DecodeBatch(std::string_view key, std::string_view value);

// Walks the records of a decoded batch. Lengths were checked by DecodeBatch.
class RecordIterator {
 public:
  explicit RecordIterator(const BatchView& b) : rest_(b.records) {}
  // Returns false at the end.
  bool Next(std::string_view* record);

 private:
  std::string_view rest_;
};

}  // namespace sluice::log_format

#include "storage/log_format_inl.h"
