// Tests of the date and time column formats (DATE, old TIME/DATETIME/
// TIMESTAMP, and MySQL 5.6's TIME2/DATETIME2/TIMESTAMP2 with 0-6 fractional
// digits). Byte strings are built by encoders that follow MySQL's writer
// functions (cited at each); expected texts are written out literally.
#include <gtest/gtest.h>

#include "tests/broker/binlog/column_test_util.h"

namespace sluice::binlog {
namespace {

using proto::Value;
using namespace coltest;  // NOLINT(google-build-using-namespace)

TEST(DecodeDate, ThreeBytesDayMonthYear) {
  // Field_newdate: uint3korr = year << 9 | month << 5 | day.
  for (uint8_t type : {kTypeDate, kTypeNewDate}) {
    EXPECT_EQ(Text(Col(type), B({0x21, 0xd0, 0x07})), "1000-01-01");  // 1000*512+32+1
    EXPECT_EQ(Text(Col(type), B({0x9f, 0x1f, 0x4e})), "9999-12-31");
    EXPECT_EQ(Text(Col(type), B({0x5d, 0xd0, 0x0f})), "2024-02-29");
    EXPECT_EQ(Text(Col(type), B({0, 0, 0})), "0000-00-00");
    EXPECT_EQ(Text(Col(type), B({0x20 | 0, 0x00, 0x00})), "0000-01-00");  // zero-in-date
    ExpectEveryPrefixFails(Col(type), B({0x5d, 0xd0, 0x0f}));
  }
}

TEST(DecodeOldTime, SignedHhmmss) {
  // Field_time (pre-5.6): sint3korr of [-]HHMMSS.
  EXPECT_EQ(Text(Col(kTypeTime), B({0xa7, 0xf5, 0x7f})), "838:59:59");   // 8385959
  EXPECT_EQ(Text(Col(kTypeTime), B({0x59, 0x0a, 0x80})), "-838:59:59");  // -8385959
  EXPECT_EQ(Text(Col(kTypeTime), B({0, 0, 0})), "00:00:00");
  EXPECT_EQ(Text(Col(kTypeTime), B({0xff, 0xff, 0xff})), "-00:00:01");
  EXPECT_EQ(Text(Col(kTypeTime), B({0x40, 0xe2, 0x01})), "12:34:56");  // 123456
  ExpectEveryPrefixFails(Col(kTypeTime), B({0xa7, 0xf5, 0x7f}));
}

TEST(DecodeOldDatetime, IntegerYyyymmddhhmmss) {
  // Field_datetime (pre-5.6): 8-byte integer YYYYMMDDhhmmss.
  EXPECT_EQ(Text(Col(kTypeDateTime), LE(20240229123456ULL, 8)), "2024-02-29 12:34:56");
  EXPECT_EQ(Text(Col(kTypeDateTime), LE(99991231235959ULL, 8)), "9999-12-31 23:59:59");
  EXPECT_EQ(Text(Col(kTypeDateTime), LE(10000101000000ULL, 8)), "1000-01-01 00:00:00");
  EXPECT_EQ(Text(Col(kTypeDateTime), LE(0, 8)), "0000-00-00 00:00:00");
  ExpectEveryPrefixFails(Col(kTypeDateTime), LE(20240229123456ULL, 8));
}

TEST(DecodeOldTimestamp, UnixSecondsInUtc) {
  // Field_timestamp (pre-5.6): 4-byte little-endian seconds since the epoch;
  // 0 is the zero timestamp. UTC calendar values from Python calendar.timegm.
  EXPECT_EQ(Text(Col(kTypeTimestamp), LE(0, 4)), "0000-00-00 00:00:00");
  EXPECT_EQ(Text(Col(kTypeTimestamp), LE(1, 4)), "1970-01-01 00:00:01");
  EXPECT_EQ(Text(Col(kTypeTimestamp), LE(2147483647, 4)), "2038-01-19 03:14:07");
  EXPECT_EQ(Text(Col(kTypeTimestamp), LE(951782400, 4)), "2000-02-29 00:00:00");
  EXPECT_EQ(Text(Col(kTypeTimestamp), LE(946684799, 4)), "1999-12-31 23:59:59");
  EXPECT_EQ(Text(Col(kTypeTimestamp), LE(1709210096, 4)), "2024-02-29 12:34:56");
  ExpectEveryPrefixFails(Col(kTypeTimestamp), LE(1709210096, 4));
}

// Fraction bytes of the MySQL 5.6 temporal types, as my_datetime_packed_to_binary
// and my_timestamp_to_binary write them (sql-common/my_time.cc): fsp 1-2 one
// byte of usec / 10000, 3-4 two bytes big-endian of usec / 100, 5-6 three
// bytes of usec.
std::string FractionBytes(uint32_t usec, int fsp) {
  switch (fsp) {
    case 1:
    case 2: return BE(usec / 10000, 1);
    case 3:
    case 4: return BE(usec / 100, 2);
    case 5:
    case 6: return BE(usec, 3);
    default: return "";
  }
}

// my_datetime_packed_to_binary: 5 bytes big-endian of the packed integer
// part + 0x8000000000, where the integer part is (year*13+month) << 22 |
// day << 17 | hour << 12 | minute << 6 | second (TIME_to_longlong_datetime_packed).
std::string Datetime2(int y, int mo, int d, int h, int mi, int s, uint32_t usec, int fsp) {
  const uint64_t ymd = (static_cast<uint64_t>(y * 13 + mo) << 5) | d;
  const uint64_t hms = static_cast<uint64_t>(h << 12 | mi << 6 | s);
  return BE((ymd << 17 | hms) + 0x8000000000ULL, 5) + FractionBytes(usec, fsp);
}

TEST(DecodeDatetime2, Extremes) {
  // The 5-byte integer parts, from the layout above:
  // 1000-01-01 00:00:00 = 8C B2 42 00 00; 9999-12-31 23:59:59 = FE F3 FF 7E FB.
  EXPECT_EQ(Datetime2(1000, 1, 1, 0, 0, 0, 0, 0), B({0x8c, 0xb2, 0x42, 0x00, 0x00}));
  EXPECT_EQ(Datetime2(9999, 12, 31, 23, 59, 59, 0, 0), B({0xfe, 0xf3, 0xff, 0x7e, 0xfb}));
  EXPECT_EQ(Text(Col(kTypeDateTime2, 0), B({0x8c, 0xb2, 0x42, 0x00, 0x00})), "1000-01-01 00:00:00");
  EXPECT_EQ(Text(Col(kTypeDateTime2, 6), B({0xfe, 0xf3, 0xff, 0x7e, 0xfb, 0x0f, 0x42, 0x3f})),
            "9999-12-31 23:59:59.999999");
  EXPECT_EQ(Text(Col(kTypeDateTime2, 0), B({0x80, 0, 0, 0, 0})), "0000-00-00 00:00:00");
  EXPECT_EQ(Text(Col(kTypeDateTime2, 3), B({0x80, 0, 0, 0, 0, 0, 0})), "0000-00-00 00:00:00.000");
  EXPECT_EQ(Text(Col(kTypeDateTime2, 0), Datetime2(2012, 6, 21, 15, 55, 33, 0, 0)),
            "2012-06-21 15:55:33");
}

TEST(DecodeDatetime2, EveryFsp) {
  const char* want[] = {"2024-02-29 12:34:56",       "2024-02-29 12:34:56.1",
                        "2024-02-29 12:34:56.12",    "2024-02-29 12:34:56.123",
                        "2024-02-29 12:34:56.1234",  "2024-02-29 12:34:56.12345",
                        "2024-02-29 12:34:56.123456"};
  const uint32_t usec[] = {0, 100000, 120000, 123000, 123400, 123450, 123456};
  for (int fsp = 0; fsp <= 6; ++fsp) {
    const std::string bytes = Datetime2(2024, 2, 29, 12, 34, 56, usec[fsp], fsp);
    EXPECT_EQ(bytes.size(), 5u + (fsp + 1) / 2);
    EXPECT_EQ(Text(Col(kTypeDateTime2, fsp), bytes), want[fsp]) << fsp;
    ExpectEveryPrefixFails(Col(kTypeDateTime2, fsp), bytes);
  }
}

TEST(DecodeDatetime2, ImpossibleValuesAreCorruption) {
  EXPECT_EQ(DecodeError(Col(kTypeDateTime2, 7), std::string(10, '\x80')).code(),
            Code::kCorruption);  // fsp 7
  EXPECT_EQ(DecodeError(Col(kTypeDateTime2, 0), B({0x7f, 0xff, 0xff, 0xff, 0xff})).code(),
            Code::kCorruption);  // negative
  EXPECT_EQ(DecodeError(Col(kTypeDateTime2, 6), B({0x80, 0, 0, 0, 0, 0x0f, 0x42, 0x40})).code(),
            Code::kCorruption);  // 1000000 microseconds
}

// my_time_packed_to_binary (sql-common/my_time.cc): the packed value is
// +-(hms << 24 | usec) with hms = hour << 12 | minute << 6 | second; the
// writer stores int_part = packed >> 24 (floor) + 0x800000 in 3 bytes and
// frac_part = packed % 2^24 (truncating, so negative for negative times)
// scaled down and cast to the fraction width; fsp 5-6 store the whole
// packed value + 0x800000000000 in 6 bytes.
std::string Time2(bool negative, int h, int m, int s, uint32_t usec, int fsp) {
  int64_t packed = ((static_cast<int64_t>(h) << 12 | m << 6 | s) << 24) + usec;
  if (negative) packed = -packed;
  if (fsp >= 5) return BE(static_cast<uint64_t>(packed + 0x800000000000LL), 6);
  const int64_t int_part = packed >> 24;
  const int64_t frac_part = packed % (int64_t{1} << 24);
  std::string out = BE(static_cast<uint64_t>(int_part + 0x800000), 3);
  if (fsp == 1 || fsp == 2) out += BE(static_cast<uint64_t>(frac_part / 10000), 1);
  if (fsp == 3 || fsp == 4) out += BE(static_cast<uint64_t>(frac_part / 100), 2);
  return out;
}

TEST(DecodeTime2, TableOfNegativeFractionsInMyTimeCc) {
  // The table in my_time_packed_from_binary's comment (fsp 2):
  //   800000.00 -> 00:00:00.00     7FFFFF.FF -> -00:00:00.01
  //   7FFFFF.9D -> -00:00:00.99    7FFFFF.00 -> -00:00:01.00
  //   7FFFFE.FF -> -00:00:01.01    7FFFFE.F6 -> -00:00:01.10
  const ColumnType col = Col(kTypeTime2, 2);
  EXPECT_EQ(Text(col, B({0x80, 0x00, 0x00, 0x00})), "00:00:00.00");
  EXPECT_EQ(Text(col, B({0x7f, 0xff, 0xff, 0xff})), "-00:00:00.01");
  EXPECT_EQ(Text(col, B({0x7f, 0xff, 0xff, 0x9d})), "-00:00:00.99");
  EXPECT_EQ(Text(col, B({0x7f, 0xff, 0xff, 0x00})), "-00:00:01.00");
  EXPECT_EQ(Text(col, B({0x7f, 0xff, 0xfe, 0xff})), "-00:00:01.01");
  EXPECT_EQ(Text(col, B({0x7f, 0xff, 0xfe, 0xf6})), "-00:00:01.10");
  // The encoder agrees with the table.
  EXPECT_EQ(Time2(true, 0, 0, 1, 100000, 2), B({0x7f, 0xff, 0xfe, 0xf6}));
}

TEST(DecodeTime2, Extremes) {
  // 838:59:59: hms = 838 << 12 | 59 << 6 | 59 = 0x346EFB; + 0x800000.
  EXPECT_EQ(Text(Col(kTypeTime2, 0), B({0xb4, 0x6e, 0xfb})), "838:59:59");
  EXPECT_EQ(Text(Col(kTypeTime2, 0), B({0x4b, 0x91, 0x05})), "-838:59:59");
  EXPECT_EQ(Text(Col(kTypeTime2, 6), B({0xb4, 0x6e, 0xfb, 0x0f, 0x42, 0x3f})), "838:59:59.999999");
  // 0x800000000000 - 0x346EFB0F423F.
  EXPECT_EQ(Text(Col(kTypeTime2, 6), B({0x4b, 0x91, 0x04, 0xf0, 0xbd, 0xc1})), "-838:59:59.999999");
  EXPECT_EQ(Text(Col(kTypeTime2, 0), B({0x80, 0x00, 0x00})), "00:00:00");
  EXPECT_EQ(Text(Col(kTypeTime2, 0), Time2(false, 100, 0, 0, 0, 0)), "100:00:00");
  EXPECT_EQ(Text(Col(kTypeTime2, 0), Time2(true, 0, 0, 1, 0, 0)), "-00:00:01");
}

TEST(DecodeTime2, EveryFspPositiveAndNegative) {
  const char* want[] = {"12:34:56",      "12:34:56.7",     "12:34:56.78",    "12:34:56.789",
                        "12:34:56.7890", "12:34:56.78901", "12:34:56.789012"};
  const uint32_t usec[] = {0, 700000, 780000, 789000, 789000, 789010, 789012};
  for (int fsp = 0; fsp <= 6; ++fsp) {
    const std::string pos = Time2(false, 12, 34, 56, usec[fsp], fsp);
    const std::string neg = Time2(true, 12, 34, 56, usec[fsp], fsp);
    EXPECT_EQ(pos.size(), 3u + (fsp + 1) / 2);
    EXPECT_EQ(Text(Col(kTypeTime2, fsp), pos), want[fsp]) << fsp;
    EXPECT_EQ(Text(Col(kTypeTime2, fsp), neg), std::string("-") + want[fsp]) << fsp;
    ExpectEveryPrefixFails(Col(kTypeTime2, fsp), neg);
  }
  // Hand-worked fsp 4: -12:34:56.7890 -> int part -51385 + 0x800000 =
  // 7F 37 47, fraction -7890 as 16 bits = E1 2E.
  EXPECT_EQ(Text(Col(kTypeTime2, 4), B({0x7f, 0x37, 0x47, 0xe1, 0x2e})), "-12:34:56.7890");
  // fsp 1: -00:00:00.5 -> 7F FF FF, (char)-50 = CE.
  EXPECT_EQ(Text(Col(kTypeTime2, 1), B({0x7f, 0xff, 0xff, 0xce})), "-00:00:00.5");
}

TEST(DecodeTime2, ImpossibleValuesAreCorruption) {
  EXPECT_EQ(DecodeError(Col(kTypeTime2, 9), std::string(8, '\x80')).code(), Code::kCorruption);
  // fsp 2 fraction byte 0xC8 = 200 hundredths on a positive time.
  EXPECT_EQ(DecodeError(Col(kTypeTime2, 2), B({0x80, 0x00, 0x00, 0xc8})).code(), Code::kCorruption);
}

// my_timestamp_to_binary: 4 bytes big-endian seconds, then the fraction.
std::string Timestamp2(uint32_t seconds, uint32_t usec, int fsp) {
  return BE(seconds, 4) + FractionBytes(usec, fsp);
}

TEST(DecodeTimestamp2, UtcText) {
  EXPECT_EQ(Text(Col(kTypeTimestamp2, 0), B({0x7f, 0xff, 0xff, 0xff})), "2038-01-19 03:14:07");
  EXPECT_EQ(Text(Col(kTypeTimestamp2, 6), B({0x7f, 0xff, 0xff, 0xff, 0x0f, 0x42, 0x3f})),
            "2038-01-19 03:14:07.999999");
  EXPECT_EQ(Text(Col(kTypeTimestamp2, 0), B({0, 0, 0, 1})), "1970-01-01 00:00:01");
  EXPECT_EQ(Text(Col(kTypeTimestamp2, 0), B({0x38, 0xbb, 0x0c, 0x00})), "2000-02-29 00:00:00");
  EXPECT_EQ(Text(Col(kTypeTimestamp2, 3), B({0x7f, 0xff, 0xff, 0xff, 0x04, 0xce})),
            "2038-01-19 03:14:07.123");  // 1230 = 0x04CE
  EXPECT_EQ(Text(Col(kTypeTimestamp2, 1), B({0, 0, 0, 1, 50})), "1970-01-01 00:00:01.5");
  // fsp 2: one byte of hundredths.
  EXPECT_EQ(Text(Col(kTypeTimestamp2, 2), B({0, 0, 0, 1, 99})), "1970-01-01 00:00:01.99");
}

TEST(DecodeTimestamp2, ZeroTimestamp) {
  EXPECT_EQ(Text(Col(kTypeTimestamp2, 0), B({0, 0, 0, 0})), "0000-00-00 00:00:00");
  EXPECT_EQ(Text(Col(kTypeTimestamp2, 2), B({0, 0, 0, 0, 0})), "0000-00-00 00:00:00.00");
  EXPECT_EQ(Text(Col(kTypeTimestamp2, 6), B({0, 0, 0, 0, 0, 0, 0})), "0000-00-00 00:00:00.000000");
}

TEST(DecodeTimestamp2, EveryFsp) {
  const char* want[] = {"2024-02-29 12:34:56",       "2024-02-29 12:34:56.9",
                        "2024-02-29 12:34:56.98",    "2024-02-29 12:34:56.987",
                        "2024-02-29 12:34:56.9876",  "2024-02-29 12:34:56.98765",
                        "2024-02-29 12:34:56.987654"};
  const uint32_t usec[] = {0, 900000, 980000, 987000, 987600, 987650, 987654};
  for (int fsp = 0; fsp <= 6; ++fsp) {
    const std::string bytes = Timestamp2(1709210096, usec[fsp], fsp);
    EXPECT_EQ(Text(Col(kTypeTimestamp2, fsp), bytes), want[fsp]) << fsp;
    ExpectEveryPrefixFails(Col(kTypeTimestamp2, fsp), bytes);
  }
  EXPECT_EQ(DecodeError(Col(kTypeTimestamp2, 6), B({0, 0, 0, 1, 0x0f, 0x42, 0x40})).code(),
            Code::kCorruption);  // 1000000 microseconds
}

}  // namespace
}  // namespace sluice::binlog
