// libFuzzer target for the commit-log batch decoder (storage/log_format.h):
// the first 8 bytes are the RocksDB key, the rest the stored value. A batch
// read from disk is untrusted: damage must give Corruption, never a crash,
// in either batch version.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "storage/log_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view key = in.substr(0, 8);
  std::string_view value = in.size() > 8 ? in.substr(8) : std::string_view();
  auto batch = sluice::log_format::DecodeBatch(key, value);
  if (!batch.ok()) return 0;
  // Version 2 blocks are decompressed here, so a damaged LZ4 stream or a
  // lie in a block header must end in Corruption too.
  sluice::log_format::RecordReader reader(*batch);
  size_t n = 0;
  for (std::string_view body, suffix; reader.Next(&body, &suffix); ++n) {
    if (suffix.size() > sluice::log_format::kMaxTxnField) __builtin_trap();
  }
  if (reader.status().ok() && n != batch->header.record_count) __builtin_trap();
  if (!reader.status().ok() && reader.status().code() != sluice::Code::kCorruption) {
    __builtin_trap();
  }
  // Skipping must land where reading does.
  sluice::log_format::RecordReader skipper(*batch);
  skipper.Skip(n / 2);
  if (reader.status().ok() && skipper.index() != n / 2) __builtin_trap();
  return 0;
}
