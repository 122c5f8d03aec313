#include "base/crc32c.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace sluice {
namespace {

// Check values from RFC 3720, appendix B.4, and the CRC catalogue ("123456789").
TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(crc32c::Value("123456789"), 0xe3069283u);
  EXPECT_EQ(crc32c::Value(std::string(32, '\0')), 0x8a9136aau);
  EXPECT_EQ(crc32c::Value(std::string(32, '\xff')), 0x62a8ab43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  EXPECT_EQ(crc32c::Value(ascending), 0x46dd794eu);
}

TEST(Crc32c, ExtendEqualsWhole) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 7));
  for (size_t cut : {0u, 1u, 7u, 8u, 9u, 500u, 999u, 1000u}) {
    uint32_t part = crc32c::Extend(0, data.data(), cut);
    EXPECT_EQ(crc32c::Extend(part, data.data() + cut, data.size() - cut), crc32c::Value(data))
        << "cut at " << cut;
  }
}

// The definition, one bit at a time (reflected polynomial 0x82f63b78, register
// preset to all ones and inverted at the end): independent of both the table
// and the striped crc32-instruction paths.
uint32_t BitwiseExtend(uint32_t init, const std::string& data, size_t off, size_t n) {
  uint32_t c = ~init;
  for (size_t i = 0; i < n; ++i) {
    c ^= static_cast<uint8_t>(data[off + i]);
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
  }
  return ~c;
}

// Lengths on both sides of every path's threshold (bytes, words, 3 x 256 and
// 3 x 4096 stripes, several whole stripe blocks), at every alignment, from
// arbitrary earlier states.
TEST(Crc32c, EqualsTheBitwiseDefinition) {
  std::mt19937 rng(42);
  std::string data(3 * 3 * 4096 + 1000, '\0');
  for (char& ch : data) ch = static_cast<char>(rng());
  std::vector<size_t> lengths;
  for (size_t n = 0; n <= 40; ++n) lengths.push_back(n);
  for (size_t base : {768u, 1536u, 12288u, 24576u, 36864u}) {
    for (int d : {-9, -8, -1, 0, 1, 7, 8, 9, 333}) lengths.push_back(base + d);
  }
  for (size_t off = 0; off < 8; ++off) {
    for (size_t n : lengths) {
      if (off + n > data.size()) continue;
      uint32_t init = static_cast<uint32_t>(rng());
      ASSERT_EQ(crc32c::Extend(init, data.data() + off, n), BitwiseExtend(init, data, off, n))
          << "offset " << off << " length " << n;
    }
  }
}

}  // namespace
}  // namespace sluice
