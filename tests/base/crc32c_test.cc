#include "base/crc32c.h"

#include <string>

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

}  // namespace
}  // namespace sluice
