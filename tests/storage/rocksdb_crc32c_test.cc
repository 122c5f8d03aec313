#include "storage/rocksdb_crc32c.h"

#include <dlfcn.h>
#include <rocksdb/db.h>

#include <cstdint>
#include <random>
#include <string>

#include <gtest/gtest.h>

namespace rocksdb::crc32c {
uint32_t Extend(uint32_t init_crc, const char* data, size_t n);
}

namespace sluice {
namespace {

constexpr char kRocksExtend[] = "_ZN7rocksdb6crc32c6ExtendEjPKcm";
using ExtendFn = uint32_t (*)(uint32_t, const char*, size_t);

// librocksdb's own definition, looked up in the library itself (dlsym on
// its handle searches it before anything else), not through the global
// scope where ours comes first.
ExtendFn LibraryExtend() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&rocksdb::DestroyDB), &info) == 0) return nullptr;
  void* lib = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
  if (lib == nullptr) return nullptr;
  auto fn = reinterpret_cast<ExtendFn>(dlsym(lib, kRocksExtend));
  dlclose(lib);  // still loaded: we link it
  return fn;
}

TEST(RocksDbCrc32c, RocksDbCallsReachOurs) {
#if defined(__x86_64__)
  // Debian's librocksdb exports the function; if this fails the binding is
  // gone (renamed symbol, static RocksDB, missing --export-dynamic-symbol)
  // and the commit log is back to the slow table CRC.
  EXPECT_TRUE(RocksDbCrc32cIsOurs());
#else
  GTEST_SKIP() << "the binding is only relied on for speed on x86-64";
#endif
}

TEST(RocksDbCrc32c, OursMeetsTheKnownVectors) {
  // RFC 3720 appendix B.4 and the CRC catalogue's check value, through the
  // entry point RocksDB calls.
  auto value = [](const std::string& s) { return rocksdb::crc32c::Extend(0, s.data(), s.size()); };
  EXPECT_EQ(value("123456789"), 0xe3069283u);
  EXPECT_EQ(value(std::string(32, '\0')), 0x8a9136aau);
  EXPECT_EQ(value(std::string(32, '\xff')), 0x62a8ab43u);
  std::string ascending, descending;
  for (int i = 0; i < 32; ++i) {
    ascending.push_back(static_cast<char>(i));
    descending.push_back(static_cast<char>(31 - i));
  }
  EXPECT_EQ(value(ascending), 0x46dd794eu);
  EXPECT_EQ(value(descending), 0x113fdb5cu);
}

TEST(RocksDbCrc32c, OursEqualsTheLibrarysOwn) {
  ExtendFn theirs = LibraryExtend();
  ASSERT_NE(theirs, nullptr) << "librocksdb does not export " << kRocksExtend;
  if (RocksDbCrc32cIsOurs()) {
    ASSERT_NE(reinterpret_cast<void*>(theirs), reinterpret_cast<void*>(&rocksdb::crc32c::Extend))
        << "found our definition, not the library's";
  }
  std::mt19937_64 rng(20261204);
  std::string buf(70000, '\0');
  for (char& c : buf) c = static_cast<char>(rng());
  for (int i = 0; i < 2000; ++i) {
    // Every alignment and tail length, lengths up to 64 KiB, chained seeds.
    size_t off = rng() % 64;
    size_t len = (i < 200) ? static_cast<size_t>(i) : rng() % (buf.size() - off);
    uint32_t seed = (i % 3 == 0) ? 0 : static_cast<uint32_t>(rng());
    ASSERT_EQ(rocksdb::crc32c::Extend(seed, buf.data() + off, len),
              theirs(seed, buf.data() + off, len))
        << "offset " << off << " length " << len << " seed " << seed;
  }
}

}  // namespace
}  // namespace sluice
