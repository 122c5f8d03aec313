// libFuzzer target for the commit-log batch decoder (storage/log_format.h):
// the first 8 bytes are the RocksDB key, the rest the stored value. A batch
// read from disk is untrusted: damage must give Corruption, never a crash.
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
  sluice::log_format::RecordIterator it(*batch);
  size_t n = 0, bytes = 0;
  for (std::string_view r; it.Next(&r); ++n) bytes += r.size();
  if (n != batch->header.record_count || bytes > value.size()) __builtin_trap();
  return 0;
}
