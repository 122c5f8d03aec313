#include "storage/rocksdb_crc32c.h"

#include <dlfcn.h>

#include <cstddef>
#include <cstdint>

#include "base/crc32c.h"

// The function librocksdb exports and calls for every CRC32c it computes
// (util/crc32c.h in RocksDB: Extend(init_crc, data, n), where init_crc is
// the CRC of what came before and 0 starts one, the same convention as
// sluice::crc32c::Extend). Its mangled name is kRocksExtend below.
namespace rocksdb::crc32c {
uint32_t Extend(uint32_t init_crc, const char* data, size_t n);
uint32_t Extend(uint32_t init_crc, const char* data, size_t n) {
  return sluice::crc32c::Extend(init_crc, data, n);
}
}  // namespace rocksdb::crc32c

namespace sluice {

bool RocksDbCrc32cIsOurs() {
  static const bool ours = [] {
    void* bound = dlsym(RTLD_DEFAULT, "_ZN7rocksdb6crc32c6ExtendEjPKcm");
    return bound == reinterpret_cast<void*>(&rocksdb::crc32c::Extend);
  }();
  return ours;
}

}  // namespace sluice
