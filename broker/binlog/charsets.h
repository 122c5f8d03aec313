// Character sets by collation id, as the table map's charset metadata
// names them: for a schema record's "charset", and to turn a column's
// maximum length in bytes back into the characters of its declaration
// (VARCHAR(64) in utf8mb4 is 256 bytes in the table map).
//
// Thread safety: pure functions over constant data.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice::binlog {

struct CharsetInfo {
  std::string_view name;  // "utf8mb4", "latin1", "binary", ...
  uint32_t max_bytes;     // bytes per character at most
};

// nullopt for an id neither MariaDB 10.11 nor MySQL 8 knows.
std::optional<CharsetInfo> CharsetOfCollation(uint32_t collation);

}  // namespace sluice::binlog
