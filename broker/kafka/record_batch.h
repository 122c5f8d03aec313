// RecordBatch v2 (magic 2), the record format of Fetch v4 and later
// (Kafka's DefaultRecordBatch): a 61-byte header (base offset, length,
// partition leader epoch, magic, CRC-32C of everything after the CRC,
// attributes, last offset delta, first and max timestamps, producer id,
// epoch and base sequence: -1 for no producer), then the records, each a
// varint length, attributes, varint deltas of timestamp and offset, key,
// value and headers. No compression: sluice answers on 127.0.0.1-class
// links where LZ4 would cost more CPU than it saves (docs/kafka.md).
//
//   BatchBuilder b(&out, /*base_offset=*/42, /*leader_epoch=*/3);
//   b.Add(ts_ms, key, value, headers);  ...
//   b.Finish();           // writes the header's lengths, counts and CRC
//
// Thread safety: none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace sluice::kafka {

struct Header {
  std::string_view key;
  std::string_view value;
};

class BatchBuilder {
 public:
  static constexpr size_t kHeaderBytes = 61;

  // Appends the batch to *out, starting at its current end.
  BatchBuilder(std::string* out, int64_t base_offset, int32_t leader_epoch);

  // The next record, at offset base_offset + count().
  void Add(int64_t timestamp_ms, const std::optional<std::string_view>& key, std::string_view value,
           const Header* headers, size_t header_count);
  // Completes the header. No Add after it.
  void Finish();

  size_t count() const { return count_; }
  // Bytes the batch has in *out so far, its header included.
  size_t size() const { return out_->size() - start_; }
  // What Add would append for the next record, of these sizes.
  size_t NextRecordSize(int64_t timestamp_ms, std::optional<size_t> key_bytes, size_t value_bytes,
                        const Header* headers, size_t header_count) const;

 private:
  std::string* out_;
  size_t start_;
  int64_t first_ts_ = 0, max_ts_ = 0;
  size_t count_ = 0;
};

}  // namespace sluice::kafka
