// PREVIOUS_GTIDS_LOG_EVENT bodies (broker/binlog/gtid.h, ParsePreviousGtids),
// every byte written out by hand from Gtid_set::encode (sql/rpl_gtid_set.cc).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "broker/binlog/gtid.h"
#include "tests/support/binlog_bytes.h"

namespace sluice::binlog {
namespace {

using sluice::testing::B;
using sluice::testing::Le;

// 3e11fa47-71ca-11e1-9e33-c80aa9429562, the MySQL manual's GTID example uuid.
const std::string kUuid = B({0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a,
                             0xa9, 0x42, 0x95, 0x62});

// Gtid_set::encode: n_sids, then per TSID uuid, [tag], n_intervals,
// intervals [start, end).
std::string Interval(int64_t s, int64_t e) { return Le(s, 8) + Le(e, 8); }
const std::string kUuid2 = B({0xb0, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                              0x00, 0x00, 0x00, 0x00, 0x01});

TEST(MysqlGtidTest, PreviousGtidsUntagged) {
  const std::string set = Le(2, 8) + kUuid + Le(2, 8) + Interval(1, 6) + Interval(7, 8) + kUuid2 +
                          Le(1, 8) + Interval(1, 4);
  Result<std::string> g = ParsePreviousGtids(set);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(*g,
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7,b00b0000-0000-0000-0000-000000000001:1-3");
  Result<std::string> empty = ParsePreviousGtids(Le(0, 8));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "");
}

TEST(MysqlGtidTest, PreviousGtidsTagged) {
  // Tagged format: 0x01 in the top byte, n_sids << 8, 0x01 in the low byte.
  const uint64_t head = (uint64_t{1} << 56) | (3 << 8) | 1;
  const std::string set = Le(head, 8) + kUuid + B({0x00}) + Le(1, 8) + Interval(1, 6) + kUuid +
                          B({0x10}) + "domain_1" + Le(1, 8) + Interval(1, 4) + kUuid2 + B({0x04}) +
                          "aa" + Le(1, 8) + Interval(9, 10);
  Result<std::string> g = ParsePreviousGtids(set);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(*g,
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:domain_1:1-3,"
            "b00b0000-0000-0000-0000-000000000001:aa:9");
}

TEST(MysqlGtidTest, PreviousGtidsCorrupt) {
  auto code = [](const std::string& s) { return ParsePreviousGtids(s).status().code(); };
  const std::string one = Le(1, 8) + kUuid + Le(1, 8) + Interval(1, 6);
  EXPECT_TRUE(ParsePreviousGtids(one).ok());
  for (size_t n = 0; n < one.size(); ++n) EXPECT_EQ(code(one.substr(0, n)), Code::kCorruption) << n;
  EXPECT_EQ(code(one + "x"), Code::kCorruption);                                     // trailing
  EXPECT_EQ(code(Le(uint64_t{2} << 56, 8)), Code::kCorruption);                      // format 2
  EXPECT_EQ(code(Le(1, 8) + kUuid + Le(1, 8) + Interval(0, 3)), Code::kCorruption);  // start 0
  EXPECT_EQ(code(Le(1, 8) + kUuid + Le(1, 8) + Interval(5, 5)), Code::kCorruption);  // empty
  EXPECT_EQ(code(Le(1, 8) + kUuid + Le(2, 8) + Interval(1, 5) + Interval(5, 7)),
            Code::kCorruption);  // touching: MySQL would have merged them
  EXPECT_EQ(code(Le(1, 8) + kUuid + Le(uint64_t{1} << 60, 8) + Interval(1, 2)), Code::kCorruption);
  const uint64_t tagged = (uint64_t{1} << 56) | (1 << 8) | 1;
  EXPECT_EQ(
      code(Le(tagged, 8) + kUuid + B({0x42}) + std::string(33, 'a') + Le(1, 8) + Interval(1, 2)),
      Code::kCorruption);  // tag of 33 bytes
}

}  // namespace
}  // namespace sluice::binlog
