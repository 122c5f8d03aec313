// Template part of storage/log_format.h. Not a public header.
#pragma once

#include "base/coding.h"
#include "base/crc32c.h"

namespace sluice::log_format {
namespace internal {

// Appends everything of the header but the crc, and the checkpoint.
// Returns where the batch starts in *dst.
inline size_t PutHeader(const BatchHeader& h, uint8_t version, std::string_view checkpoint,
                        std::string* dst) {
  const size_t start = dst->size();
  coding::PutFixed32(dst, 0);  // crc, filled by FinishBatch
  dst->push_back(static_cast<char>(version));
  dst->push_back(static_cast<char>(h.flags));
  dst->append(2, '\0');
  coding::PutFixed64(dst, h.base_offset.value());
  coding::PutFixed32(dst, h.record_count);
  coding::PutFixed32(dst, h.txn_records_before);
  coding::PutFixed64(dst, h.epoch);
  coding::PutFixed64(dst, static_cast<uint64_t>(h.append_time_ms));
  coding::PutFixed64(dst, h.max_source_ts);
  coding::PutFixed64(dst, h.bytes_before);
  coding::PutLengthPrefixed(dst, checkpoint);
  return start;
}

// Fills in the crc of the batch that starts at `start`.
inline void FinishBatch(size_t start, std::string* dst) {
  const uint32_t crc = crc32c::Extend(0, dst->data() + start + 4, dst->size() - start - 4);
  coding::EncodeFixed32(dst->data() + start, crc);
}

}  // namespace internal

template <typename RecordRange>
void EncodeBatch(const BatchHeader& h, std::string_view checkpoint, const RecordRange& records,
                 std::string* dst) {
  const size_t start = internal::PutHeader(h, kBatchVersion, checkpoint, dst);
  for (const auto& r : records) coding::PutLengthPrefixed(dst, std::string_view(r));
  internal::FinishBatch(start, dst);
}

}  // namespace sluice::log_format
