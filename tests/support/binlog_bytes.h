// Byte builders for hand-made binlog events, shared by the MySQL-format
// tests and the fuzz seed generator: little-endian integers, MySQL packed
// integers (net_store_length, mysys/pack.cc) and length-prefixed strings.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace sluice::testing {

inline std::string B(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

inline std::string Le(uint64_t v, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s.push_back(static_cast<char>(v >> (8 * i)));
  return s;
}

// < 251 in one byte, else 0xfc/0xfd/0xfe + 2/3/8 bytes.
// (Built by appending: GCC 12 at -O3 reports a false -Wrestrict in
// operator+(const char*, std::string&&).)
inline std::string Packed(uint64_t v) {
  if (v < 251) return Le(v, 1);
  const int n = v < 65536 ? 2 : v < 16777216 ? 3 : 8;
  std::string s(1, static_cast<char>(n == 2 ? 0xfc : n == 3 ? 0xfd : 0xfe));
  s += Le(v, n);
  return s;
}

inline std::string Str(std::string_view s) { return Packed(s.size()) + std::string(s); }
// Table-map optional metadata field: type (1), length (packed), value.
inline std::string Tlv(int type, std::string_view v) { return Le(type, 1) + Str(v); }

}  // namespace sluice::testing
