// libFuzzer target for the commit-log batch decoder (storage/log_format.h):
// the first 8 bytes are the RocksDB key, the rest the stored value. A batch
// read from disk is untrusted: damage must give Corruption, never a crash,
// in either batch version.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/coding.h"
#include "base/crc32c.h"
#include "storage/log_format.h"

namespace {

// Decodes one batch and walks its records as readers do.
void Check(std::string_view key, std::string_view value) {
  auto batch = sluice::log_format::DecodeBatch(key, value);
  if (!batch.ok()) return;
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
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view key = in.substr(0, 8);
  std::string_view value = in.size() > 8 ? in.substr(8) : std::string_view();
  Check(key, value);
  // And with its checksum made right, so that mutations reach the header,
  // block and record checks behind it (a CRC-valid batch is still
  // untrusted: it may come from a primary or a damaged disk that kept it).
  if (value.size() >= 4) {
    std::string resigned(value);
    sluice::coding::EncodeFixed32(
        resigned.data(), sluice::crc32c::Extend(0, resigned.data() + 4, resigned.size() - 4));
    Check(key, resigned);
  }
  return 0;
}
