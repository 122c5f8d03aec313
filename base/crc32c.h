// CRC-32C (Castagnoli), the checksum of commit-log batches and HA frames.
// Uses the SSE4.2 crc32 instruction when the CPU has it (three interleaved
// chains on long inputs), a table otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice::crc32c {

// Returns the CRC-32C of data[0, n) continuing from `init` (0 to start).
uint32_t Extend(uint32_t init, const void* data, size_t n);

inline uint32_t Value(std::string_view s) { return Extend(0, s.data(), s.size()); }

}  // namespace sluice::crc32c
