// The few header fields of a stored batch (storage/log_format.h) that
// replication needs, read without decoding the batch: where it ends, its
// epoch, and the log's logical size after it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "base/coding.h"
#include "storage/log_format.h"

namespace sluice::ha {

struct BatchPeek {
  uint64_t base_offset;
  uint64_t end_offset;
  uint64_t epoch;
  uint64_t bytes_end;  // bytes_before + the batch's own size
};

// nullopt when `value` is shorter than a batch header.
inline std::optional<BatchPeek> PeekBatch(std::string_view value) {
  if (value.size() < log_format::kHeaderSize) return std::nullopt;
  const char* p = value.data();
  BatchPeek b;
  b.base_offset = coding::DecodeFixed64(p + 8);
  b.end_offset = b.base_offset + coding::DecodeFixed32(p + 16);
  b.epoch = coding::DecodeFixed64(p + 24);
  b.bytes_end = coding::DecodeFixed64(p + 48) + value.size();
  return b;
}

}  // namespace sluice::ha
