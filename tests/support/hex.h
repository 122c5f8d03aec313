// Bytes as hex text, for tests that compare with SQL's HEX() (upper case)
// or with published digests (lower case).
#pragma once

#include <string>
#include <string_view>

namespace sluice::testing {

inline std::string Hex(std::string_view bytes, bool lower = false) {
  const char* digits = lower ? "0123456789abcdef" : "0123456789ABCDEF";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    s.push_back(digits[c >> 4]);
    s.push_back(digits[c & 15]);
  }
  return s;
}

inline std::string HexLower(std::string_view bytes) { return Hex(bytes, true); }

}  // namespace sluice::testing
