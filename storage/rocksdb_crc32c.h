// RocksDB's CRC32c, bound to ours.
//
// RocksDB checksums every byte it writes to its WAL with CRC32c
// (rocksdb::crc32c::Extend). Debian's librocksdb is a portable build, so
// that function is a table-driven loop ("Not supported on x86" from
// rocksdb::crc32c::IsFastCrc32Supported()); profiled in ingest_bench it is
// 80% of the commit thread's time, at roughly 0.5 GB/s.
//
// storage/rocksdb_crc32c.cc defines rocksdb::crc32c::Extend in our
// executable, on top of base/crc32c.h (SSE4.2 when the CPU has it). The
// library calls the exported function through its PLT, so the dynamic
// linker binds those calls to the first definition in the global scope:
// ours (ELF symbol interposition, the mechanism that lets an allocator
// replace malloc). CRC-32C is one function whatever computes it, so the
// files stay readable by any RocksDB; tests/storage/rocksdb_crc32c_test
// checks ours against the library's own on random input.
//
// If a RocksDB release changes the function's signature the binding simply
// does not happen (the mangled names differ) and RocksDB keeps its own:
// slower, never wrong. RocksDbCrc32cIsOurs() says which one runs.
#pragma once

namespace sluice {

// True when RocksDB's CRC32c calls reach base/crc32c. CommitLog::Open calls
// it, which also links the definition into every program using the log.
bool RocksDbCrc32cIsOurs();

}  // namespace sluice
