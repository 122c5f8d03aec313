// Free space of the file system that holds a directory (private to storage/).
//
// The commit log asks before it writes, so that RocksDB rarely meets ENOSPC:
// a RocksDB instance that failed a write is read-only until reopened, and
// some of its paths abort on the next sync when assertions are on (Debian's
// build). Thread-safe (stateless).
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace sluice {

// Bytes an unprivileged writer may still use on the file system of `path`
// (statvfs f_bavail * f_frsize). When `path` does not exist yet, its
// nearest existing parent is asked.
Result<uint64_t> FreeBytes(const std::string& path);

// Bytes of the *.log (WAL) files in the RocksDB directory `path`: what
// opening it may write again as table files (0 when it does not exist).
uint64_t WalBytes(const std::string& path);

// "12.3 MiB (12897484 bytes)", for errors a person reads.
std::string DescribeBytes(uint64_t bytes);

}  // namespace sluice
