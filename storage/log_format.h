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
//   4      1     version          kBatchVersion (1) or kBlockBatchVersion (2)
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
//   ...    ...   records          version 1: record_count times varint length + bytes
//                                 version 2: blocks (below)
//
// Version 2 is what ingest writes. Its records are ChangeRecords without
// their `txn` field (ChangeRecord.txn = 11), packed into blocks that the
// parse workers compress in parallel:
//
//   block    varint record_count (>= 1), varint raw_size, 1 byte codec
//            (0 stored, 1 LZ4 block), varint stored_size, stored_size bytes
//   raw      record_count times: 4-byte length (little-endian) + record
//            bytes; fixed-width so that the workers write the length in
//            place when a record ends (ingest's RecordBuffer) and LZ4 reads
//            the records where they were written
//
// A reader gives back each version 2 record with TxnInfo{seq, last}
// appended as its last field (seq = offset - transaction base, last on the
// final record of a kTxnEnd batch): protobuf parses a field appended
// after the others as one in place (for row records the bytes are even
// protobuf's own; a DDL record's `sql`, field 12, comes before it). That
// is what lets the workers compress: a record's place in its transaction
// is known only in stage 3, after them.
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
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/types.h"

namespace sluice::log_format {

inline constexpr uint8_t kBatchVersion = 1;       // records as given
inline constexpr uint8_t kBlockBatchVersion = 2;  // ingest's blocks, txn field appended on read
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
  uint8_t version = kBatchVersion;
  BatchHeader header;
  std::string_view checkpoint;  // serialized proto::SourceCheckpoint, empty unless txn_end
  std::string_view records;     // v1: length-prefixed records; v2: blocks
  size_t encoded_size = 0;      // size of the whole value
};

std::string BatchKey(Offset base);

// Appends the encoded batch to *dst. records are the record payloads;
// `checkpoint` must be empty unless header.flags has kTxnEnd.
// REQUIRES: header.record_count == number of records.
template <typename RecordRange>
void EncodeBatch(const BatchHeader& header, std::string_view checkpoint, const RecordRange& records,
                 std::string* dst);

// Validates and decodes a batch stored under `key`. Every length is checked
// against the buffer; a mismatch is Corruption naming the batch's offset.
Result<BatchView> DecodeBatch(std::string_view key, std::string_view value);

// Writes a version 2 batch: the header, the checkpoint, then `blocks`
// (each one or more whole blocks made by AppendBlock) as they are.
// REQUIRES: header.record_count == the records in the blocks.
void EncodeBlockBatch(const BatchHeader& header, std::string_view checkpoint,
                      std::span<const std::string_view> blocks, std::string* dst);

// The records in `blocks` (whole version 2 blocks, back to back), after
// checking every block header; InvalidArgument says what is wrong.
Result<uint64_t> BlockRecords(std::string_view blocks);

// Writes `b`'s records region unchanged (either version) under a new
// header and checkpoint: how a chunk becomes its transaction's end.
void ReencodeBatch(const BatchView& b, const BatchHeader& header, std::string_view checkpoint,
                   std::string* dst);

// Appends one version 2 block holding `count` records, given framed
// (4-byte little-endian length + bytes each, back to back). LZ4-compressed
// when `compress`, it saves space and the block is at most 1 GiB (what a
// reader may allocate for one), else stored. `scratch` is the
// compressor's output space, reused from call to call.
void AppendBlock(std::string_view framed, uint32_t count, bool compress, std::string* dst,
                 std::string* scratch);

// The TxnInfo{seq, last} field (ChangeRecord.txn) as a record's last
// field: tag, length, members that are not default. At most kMaxTxnField.
inline constexpr size_t kMaxTxnField = 10;
size_t EncodeTxnField(uint32_t seq, bool last, char* out);

// Walks the records of a decoded batch as readers see them: version 1 as
// stored, version 2 decompressed with the txn field appended. A record is
// `body` followed by `suffix` (empty for version 1); both views stay valid
// until the next call. Block damage that DecodeBatch cannot see without
// decompressing (a bad LZ4 stream, lengths inside a block) ends the walk
// with status() Corruption.
class RecordReader {
 public:
  explicit RecordReader(const BatchView& b);
  // Returns false at the end of the batch or on damage (see status()).
  bool Next(std::string_view* body, std::string_view* suffix);
  // Skips up to n records; whole version 2 blocks are not decompressed.
  void Skip(uint64_t n);
  // The next record's index within the batch.
  uint32_t index() const { return index_; }
  const Status& status() const { return status_; }

 private:
  bool LoadBlock();
  bool Fail(const std::string& what);

  const BatchView& b_;
  std::string_view rest_;    // v1: records left; v2: blocks left
  std::string_view block_;   // v2: framed records left in the current block
  uint32_t block_left_ = 0;  // v2: records left in the current block
  uint32_t index_ = 0;
  std::string raw_;  // v2: the current block, decompressed
  char suffix_[kMaxTxnField];
  Status status_;
};

// Every record of `b` as RecordReader gives it, appended to *out.
Status AppendRecords(const BatchView& b, std::vector<std::string>* out);

}  // namespace sluice::log_format

#include "storage/log_format_inl.h"
