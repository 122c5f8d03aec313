// Offline inspection of a commit log directory: what `sluice log info` and
// `sluice log dump` print. The log must not be open in a running sluiced
// (RocksDB's lock says so with a clear error).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "base/status.h"

namespace sluice {

// Prints first offset, high watermark, size, checkpoint, epochs and groups.
Status PrintLogInfo(const std::string& path, std::ostream& out);

// Prints records [from, from + max) as JSON lines (proto/record_json.h).
Status DumpLog(const std::string& path, uint64_t from, uint64_t max, std::ostream& out);

}  // namespace sluice
