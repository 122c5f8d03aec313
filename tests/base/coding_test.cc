#include "base/coding.h"

#include <gtest/gtest.h>

#include "base/status.h"

namespace sluice {
namespace {

TEST(Coding, VarintRoundTripAndBounds) {
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 300ull, 1ull << 35, ~0ull}) {
    std::string s;
    coding::PutVarint64(&s, v);
    std::string_view in = s;
    uint64_t out = 0;
    ASSERT_TRUE(coding::GetVarint64(&in, &out));
    EXPECT_EQ(out, v);
    EXPECT_TRUE(in.empty());
    // Every strict prefix is rejected, never read past.
    for (size_t n = 0; n < s.size(); ++n) {
      std::string_view prefix(s.data(), n);
      EXPECT_FALSE(coding::GetVarint64(&prefix, &out));
    }
  }
  // 300 is 0xac 0x02 (protobuf encoding guide).
  std::string s;
  coding::PutVarint64(&s, 300);
  EXPECT_EQ(s, std::string("\xac\x02", 2));
  // Eleven continuation bytes overflow 64 bits.
  std::string_view bad("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 10);
  uint64_t v;
  EXPECT_FALSE(coding::GetVarint64(&bad, &v));
}

TEST(Coding, BigEndianSortsNumerically) {
  EXPECT_LT(coding::BigEndian64(255), coding::BigEndian64(256));
  EXPECT_LT(coding::BigEndian64(1), coding::BigEndian64(1ull << 56));
  EXPECT_EQ(coding::DecodeBigEndian64(coding::BigEndian64(0x0102030405060708).data()),
            0x0102030405060708u);
}

TEST(Coding, LengthPrefixedRejectsOverrun) {
  std::string s;
  coding::PutVarint64(&s, 10);
  s += "abc";
  std::string_view in = s, out;
  EXPECT_FALSE(coding::GetLengthPrefixed(&in, &out));
}

TEST(Status, CarriesCodeAndContext) {
  Status st = Status::NoSpace("disk full").WithContext("append to log /x");
  EXPECT_EQ(st.code(), Code::kNoSpace);
  EXPECT_EQ(st.ToString(), "NoSpace: append to log /x: disk full");
  Result<int> r = Status::NotFound("nope");
  EXPECT_FALSE(r.ok());
  Result<int> v = 3;
  EXPECT_EQ(*v, 3);
}

}  // namespace
}  // namespace sluice
