#include "storage/log_format.h"

#include <string>

namespace sluice::log_format {

std::string BatchKey(Offset base) { return coding::BigEndian64(base.value()); }

Result<BatchView> DecodeBatch(std::string_view key, std::string_view value) {
  auto corrupt = [&](std::string_view what) {
    std::string where = key.size() == 8
                            ? "batch at offset " + std::to_string(coding::DecodeBigEndian64(key.data()))
                            : "batch with a malformed key";
    return Status::Corruption(where + ": " + std::string(what));
  };
  if (key.size() != 8) return corrupt("key is not 8 bytes");
  if (value.size() < kHeaderSize + 1) return corrupt("shorter than its header");
  const uint32_t stored_crc = coding::DecodeFixed32(value.data());
  const uint32_t actual_crc = crc32c::Extend(0, value.data() + 4, value.size() - 4);
  if (stored_crc != actual_crc) return corrupt("checksum mismatch (the stored bytes are damaged)");
  if (static_cast<uint8_t>(value[4]) != kBatchVersion) {
    return corrupt("unknown batch version " + std::to_string(static_cast<uint8_t>(value[4])));
  }

  BatchView b;
  b.encoded_size = value.size();
  BatchHeader& h = b.header;
  h.flags = static_cast<uint8_t>(value[5]);
  h.base_offset = Offset(coding::DecodeFixed64(value.data() + 8));
  h.record_count = coding::DecodeFixed32(value.data() + 16);
  h.txn_records_before = coding::DecodeFixed32(value.data() + 20);
  h.epoch = coding::DecodeFixed64(value.data() + 24);
  h.append_time_ms = static_cast<int64_t>(coding::DecodeFixed64(value.data() + 32));
  h.max_source_ts = coding::DecodeFixed64(value.data() + 40);
  h.bytes_before = coding::DecodeFixed64(value.data() + 48);
  if (h.base_offset.value() != coding::DecodeBigEndian64(key.data())) {
    return corrupt("header says base offset " + std::to_string(h.base_offset.value()));
  }
  if (h.record_count == 0) return corrupt("holds no records");
  if (h.base_offset.value() > UINT64_MAX - h.record_count) return corrupt("offset overflow");
  if (h.txn_records_before > h.base_offset.value()) return corrupt("transaction starts below 0");

  std::string_view rest = value.substr(kHeaderSize);
  if (!coding::GetLengthPrefixed(&rest, &b.checkpoint)) return corrupt("truncated checkpoint");
  if (!h.txn_end() && !b.checkpoint.empty()) return corrupt("checkpoint on a non-final batch");
  b.records = rest;
  // Each record takes at least one byte, so this bounds the walk below.
  if (h.record_count > rest.size()) return corrupt("record count exceeds the batch size");
  std::string_view r;
  for (uint32_t i = 0; i < h.record_count; ++i) {
    if (!coding::GetLengthPrefixed(&rest, &r)) {
      return corrupt("record " + std::to_string(i) + " runs past the end of the batch");
    }
  }
  if (!rest.empty()) return corrupt("trailing bytes after the last record");
  return b;
}

}  // namespace sluice::log_format
