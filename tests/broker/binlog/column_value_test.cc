// Tests of the table-map metadata and row-image value decoding.
//
// Every expected value comes from the formats' documentation, not from the
// decoder: the byte strings are built by hand (or by small encoders that
// follow MySQL's *writer* functions, cited at each one) and the expected
// text is written out literally.
#include "broker/binlog/column_value.h"
#include "tests/broker/binlog/column_test_util.h"

#include <gtest/gtest.h>

#include <cmath>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace sluice::binlog {
namespace {

using proto::Value;
using namespace coltest;  // NOLINT(google-build-using-namespace)

// ---- ReadColumnMeta / ResolveRealType ---------------------------------------
// Sizes and byte orders: MySQL sql/rpl_utility.cc table_def::table_def (and
// MariaDB's copy of it), the Field::save_field_metadata overrides of
// sql/field.cc, and libbinlogevents binary_log_funcs.cpp.

TEST(ReadColumnMeta, TypesWithoutMetadataReadNothing) {
  for (uint8_t type :
       {kTypeDecimal, kTypeTiny, kTypeShort, kTypeLong, kTypeNull, kTypeTimestamp, kTypeLongLong,
        kTypeInt24, kTypeDate, kTypeTime, kTypeDateTime, kTypeYear, kTypeNewDate}) {
    std::string block = B({0x12, 0x34});
    std::string_view in = block;
    uint16_t meta = 99;
    ASSERT_TRUE(ReadColumnMeta(type, &in, &meta).ok()) << int{type};
    EXPECT_EQ(meta, 0) << int{type};
    EXPECT_EQ(in.size(), 2u) << int{type};
  }
}

TEST(ReadColumnMeta, OneByteTypes) {
  for (uint8_t type : std::initializer_list<uint8_t>{
           kTypeFloat, kTypeDouble, kTypeTimestamp2, kTypeDateTime2, kTypeTime2, kTypeVector,
           kTypeJson, kTypeBlob, kTypeTinyBlob, kTypeMediumBlob, kTypeLongBlob, kTypeGeometry,
           141 /* MariaDB compressed BLOB */}) {
    std::string block = B({0x04, 0x77});
    std::string_view in = block;
    uint16_t meta = 0;
    ASSERT_TRUE(ReadColumnMeta(type, &in, &meta).ok()) << int{type};
    EXPECT_EQ(meta, 4) << int{type};
    EXPECT_EQ(in.size(), 1u) << int{type};
  }
}

TEST(ReadColumnMeta, TwoByteTypes) {
  struct Case {
    uint8_t type;
    std::string bytes;
    uint16_t meta;
  };
  const Case cases[] = {
      // Field_varstring: int2store(field_length). VARCHAR(300) latin1.
      {kTypeVarchar, B({0x2c, 0x01}), 300},
      {kTypeVarString, B({0x2c, 0x01}), 300},
      {uint8_t{140}, B({0x2c, 0x01}), 300},  // MariaDB compressed VARCHAR
      // Field_bit: bit_len (M % 8), then bytes_in_rec (M / 8). BIT(10).
      {kTypeBit, B({0x02, 0x01}), 0x0102},
      // Field_new_decimal: precision, then decimals. DECIMAL(14,4).
      {kTypeNewDecimal, B({0x0e, 0x04}), 0x0e04},
      // Field_string: real_type, then field_length. CHAR(10) latin1.
      {kTypeString, B({0xfe, 0x0a}), 0xfe0a},
      // Field_enum / Field_set: real_type, then pack_length.
      {kTypeString, B({0xf7, 0x01}), 0xf701},
      {kTypeString, B({0xf8, 0x08}), 0xf808},
      {kTypeEnum, B({0xf7, 0x02}), 0xf702},
      {kTypeSet, B({0xf8, 0x03}), 0xf803},
  };
  for (const Case& c : cases) {
    std::string block = c.bytes + "!";
    std::string_view in = block;
    uint16_t meta = 0;
    ASSERT_TRUE(ReadColumnMeta(c.type, &in, &meta).ok()) << int{c.type};
    EXPECT_EQ(meta, c.meta) << int{c.type};
    EXPECT_EQ(in, "!");
  }
}

TEST(ReadColumnMeta, ShortBlockIsCorruption) {
  for (uint8_t type : {kTypeFloat, kTypeBlob, kTypeTime2}) {
    std::string_view in;
    uint16_t meta;
    EXPECT_EQ(ReadColumnMeta(type, &in, &meta).code(), Code::kCorruption) << int{type};
  }
  for (uint8_t type : {kTypeVarchar, kTypeBit, kTypeNewDecimal, kTypeString}) {
    std::string one = B({0x01});
    std::string_view in = one;
    uint16_t meta;
    EXPECT_EQ(ReadColumnMeta(type, &in, &meta).code(), Code::kCorruption) << int{type};
    EXPECT_EQ(in.size(), 1u);
  }
}

TEST(ReadColumnMeta, UnknownTypeIsCorruption) {
  for (uint8_t type : {uint8_t{20}, uint8_t{100}, uint8_t{243}, uint8_t{244}}) {
    std::string block = B({1, 2});
    std::string_view in = block;
    uint16_t meta;
    Status st = ReadColumnMeta(type, &in, &meta);
    EXPECT_EQ(st.code(), Code::kCorruption);
    EXPECT_NE(st.message().find(std::to_string(type)), std::string::npos) << st.message();
  }
}

TEST(ReadColumnMeta, WholeMetadataBlock) {
  // INT, VARCHAR(20), DECIMAL(10,2), DATETIME(3), BLOB, ENUM, BIT(3), DOUBLE.
  const uint8_t types[] = {kTypeLong, kTypeVarchar, kTypeNewDecimal, kTypeDateTime2,
                           kTypeBlob, kTypeString,  kTypeBit,        kTypeDouble};
  std::string block = B({0x14, 0x00, 0x0a, 0x02, 0x03, 0x02, 0xf7, 0x01, 0x03, 0x00, 0x08});
  const uint16_t want[] = {0, 20, 0x0a02, 3, 2, 0xf701, 3, 8};
  std::string_view in = block;
  for (size_t i = 0; i < std::size(types); ++i) {
    uint16_t meta;
    ASSERT_TRUE(ReadColumnMeta(types[i], &in, &meta).ok()) << i;
    EXPECT_EQ(meta, want[i]) << i;
  }
  EXPECT_TRUE(in.empty());
}

TEST(ResolveRealType, EnumAndSetHideBehindString) {
  EXPECT_EQ(Col(kTypeString, 0xf701).real_type, kTypeEnum);
  EXPECT_EQ(Col(kTypeString, 0xf802).real_type, kTypeSet);
  EXPECT_EQ(Col(kTypeString, 0xfe0a).real_type, kTypeString);
  // CHAR(255) utf8mb4 is 1020 = 0x3FC bytes: byte0 = 0xFE ^ (0x300 >> 4) =
  // 0xCE, byte1 = 0xFC (Field_string::save_field_metadata, MySQL bug #37426).
  EXPECT_EQ(Col(kTypeString, 0xcefc).real_type, kTypeString);
  EXPECT_EQ(Col(kTypeString, 0xdefc).real_type, kTypeString);  // 764 bytes
  EXPECT_EQ(Col(kTypeLong).real_type, kTypeLong);
  EXPECT_EQ(Col(kTypeVarchar, 300).real_type, kTypeVarchar);
  EXPECT_EQ(Col(kTypeEnum, 0xf701).real_type, kTypeEnum);
}

// ---- integers -----------------------------------------------------------------
// Little-endian (MySQL sint2korr/sint3korr/sint4korr/sint8korr); ranges from
// the MySQL manual, "Integer Types (Exact Value)".

TEST(DecodeInt, SignedBoundaries) {
  struct Case {
    uint8_t type;
    std::string bytes;
    int64_t want;
  };
  const Case cases[] = {
      {kTypeTiny, B({0x80}), -128},
      {kTypeTiny, B({0x7f}), 127},
      {kTypeTiny, B({0xff}), -1},
      {kTypeTiny, B({0x00}), 0},
      {kTypeShort, B({0x00, 0x80}), -32768},
      {kTypeShort, B({0xff, 0x7f}), 32767},
      {kTypeShort, B({0x34, 0x12}), 0x1234},
      {kTypeInt24, B({0x00, 0x00, 0x80}), -8388608},
      {kTypeInt24, B({0xff, 0xff, 0x7f}), 8388607},
      {kTypeInt24, B({0xff, 0xff, 0xff}), -1},
      {kTypeLong, B({0x00, 0x00, 0x00, 0x80}), -2147483648LL},
      {kTypeLong, B({0xff, 0xff, 0xff, 0x7f}), 2147483647},
      {kTypeLong, B({0xd2, 0x02, 0x96, 0x49}), 1234567890},
      {kTypeLongLong, B({0, 0, 0, 0, 0, 0, 0, 0x80}), std::numeric_limits<int64_t>::min()},
      {kTypeLongLong, B({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}),
       std::numeric_limits<int64_t>::max()},
      {kTypeLongLong, B({8, 7, 6, 5, 4, 3, 2, 1}), 0x0102030405060708LL},
      {kTypeLongLong, B({0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), -2},
  };
  for (const Case& c : cases) {
    Value v = Decode(Col(c.type), c.bytes);
    EXPECT_EQ(v.kind_case(), Value::kInt64) << int{c.type};
    EXPECT_EQ(v.int64(), c.want) << int{c.type};
  }
}

TEST(DecodeInt, UnsignedBoundaries) {
  struct Case {
    uint8_t type;
    std::string bytes;
    uint64_t want;
  };
  const Case cases[] = {
      {kTypeTiny, B({0xff}), 255},
      {kTypeTiny, B({0x80}), 128},
      {kTypeShort, B({0xff, 0xff}), 65535},
      {kTypeInt24, B({0xff, 0xff, 0xff}), 16777215},
      {kTypeInt24, B({0x00, 0x00, 0x80}), 8388608},
      {kTypeLong, B({0xff, 0xff, 0xff, 0xff}), 4294967295u},
      {kTypeLongLong, B({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}),
       std::numeric_limits<uint64_t>::max()},
      {kTypeLongLong, B({0, 0, 0, 0, 0, 0, 0, 0x80}), 9223372036854775808u},
      {kTypeLongLong, B({0, 0, 0, 0, 0, 0, 0, 0}), 0},
  };
  for (const Case& c : cases) {
    Value v = Decode(Col(c.type, 0, 0, /*is_unsigned=*/true), c.bytes);
    EXPECT_EQ(v.kind_case(), Value::kUint64) << int{c.type};
    EXPECT_EQ(v.uint64(), c.want) << int{c.type};
  }
}

TEST(DecodeInt, Truncated) {
  ExpectEveryPrefixFails(Col(kTypeTiny), B({1}));
  ExpectEveryPrefixFails(Col(kTypeShort), B({1, 2}));
  ExpectEveryPrefixFails(Col(kTypeInt24), B({1, 2, 3}));
  ExpectEveryPrefixFails(Col(kTypeLong), B({1, 2, 3, 4}));
  ExpectEveryPrefixFails(Col(kTypeLongLong, 0, 0, true), B({1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST(DecodeInt, ErrorNamesTheType) {
  Status st = DecodeError(Col(kTypeLongLong), B({1, 2, 3}));
  EXPECT_EQ(st.code(), Code::kCorruption);
  EXPECT_NE(st.message().find("BIGINT"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("8"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("3 left"), std::string::npos) << st.message();
}

TEST(DecodeYear, OneByteFrom1900) {
  // Field_year: 0 is the zero year, else 1900 + byte (range 1901..2155).
  EXPECT_EQ(Decode(Col(kTypeYear), B({0})).int64(), 0);
  EXPECT_EQ(Decode(Col(kTypeYear), B({1})).int64(), 1901);
  EXPECT_EQ(Decode(Col(kTypeYear), B({124})).int64(), 2024);
  EXPECT_EQ(Decode(Col(kTypeYear), B({255})).int64(), 2155);
  ExpectEveryPrefixFails(Col(kTypeYear), B({124}));
}

// ---- FLOAT / DOUBLE ---------------------------------------------------------
// IEEE 754 little-endian (float4get / float8get).

TEST(DecodeFloat, IeeeLittleEndian) {
  Value v = Decode(Col(kTypeFloat, 4), B({0x00, 0x00, 0xc0, 0x3f}));  // 0x3FC00000
  EXPECT_EQ(v.kind_case(), Value::kFloat64);
  EXPECT_EQ(v.float64(), 1.5);
  // 0x40490FDB is the float nearest pi: exactly 3.1415927410125732421875.
  EXPECT_EQ(Decode(Col(kTypeFloat, 4), B({0xdb, 0x0f, 0x49, 0x40})).float64(),
            3.1415927410125732421875);
  EXPECT_EQ(Decode(Col(kTypeFloat, 4), B({0x00, 0x00, 0x80, 0xbf})).float64(), -1.0);
  // 0x400921FB54442D18 is the double nearest pi.
  EXPECT_EQ(
      Decode(Col(kTypeDouble, 8), B({0x18, 0x2d, 0x44, 0x54, 0xfb, 0x21, 0x09, 0x40})).float64(),
      3.141592653589793);
  EXPECT_EQ(Decode(Col(kTypeDouble, 8), B({0, 0, 0, 0, 0, 0, 0, 0xc0})).float64(), -2.0);
  ExpectEveryPrefixFails(Col(kTypeFloat, 4), B({0, 0, 0xc0, 0x3f}));
  ExpectEveryPrefixFails(Col(kTypeDouble, 8), B({0, 0, 0, 0, 0, 0, 0, 0xc0}));
}

// ---- DECIMAL ------------------------------------------------------------------
// MySQL strings/decimal.cc, decimal2bin's comment: nine digits per 4-byte
// big-endian word, leftover digits in dig2bytes[] = {0,1,1,2,2,3,3,4,4,4}
// bytes, negative values with every byte inverted, then the first bit
// flipped.

uint16_t Dec(int precision, int scale) { return static_cast<uint16_t>(precision << 8 | scale); }

std::string Decimal(uint16_t meta, const std::string& bytes) {
  Value v = Decode(Col(kTypeNewDecimal, meta), bytes);
  EXPECT_EQ(v.kind_case(), Value::kDecimal);
  return v.decimal();
}

std::string Invert(std::string s) {
  for (char& c : s) c = static_cast<char>(~c);
  return s;
}

TEST(DecodeDecimal, WorkedExampleOfDecimal2bin) {
  // "1234567890.1234 ... (precision=14, scale=4) ... 81 0D FB 38 D2 04 D2".
  EXPECT_EQ(Decimal(Dec(14, 4), B({0x81, 0x0d, 0xfb, 0x38, 0xd2, 0x04, 0xd2})), "1234567890.1234");
  // "And for -1234567890.1234 it would be 7E F2 04 C7 2D FB 2D" (older copies
  // of the comment misprint C7 as 37; ~0x38 is 0xC7).
  EXPECT_EQ(Decimal(Dec(14, 4), B({0x7e, 0xf2, 0x04, 0xc7, 0x2d, 0xfb, 0x2d})), "-1234567890.1234");
  EXPECT_EQ(Decimal(Dec(14, 4), B({0x80, 0, 0, 0, 0, 0, 0})), "0.0000");
  ExpectEveryPrefixFails(Col(kTypeNewDecimal, Dec(14, 4)),
                         B({0x81, 0x0d, 0xfb, 0x38, 0xd2, 0x04, 0xd2}));
}

TEST(DecodeDecimal, FractionOnly) {
  // DECIMAL(2,2): no integer digits, two fraction digits in one byte.
  EXPECT_EQ(Decimal(Dec(2, 2), B({0x81})), "0.01");
  EXPECT_EQ(Decimal(Dec(2, 2), B({0x80 | 99})), "0.99");
  EXPECT_EQ(Decimal(Dec(2, 2), B({0x1c})), "-0.99");  // ~0x63 = 0x9C, top bit flipped
  EXPECT_EQ(Decimal(Dec(2, 2), B({0x80})), "0.00");
}

TEST(DecodeDecimal, LeadingZerosAndPadding) {
  // DECIMAL(5,2) 0.50: integer 3 digits in 2 bytes, fraction 2 digits in 1.
  EXPECT_EQ(Decimal(Dec(5, 2), B({0x80, 0x00, 50})), "0.50");
  EXPECT_EQ(Decimal(Dec(5, 2), B({0x83, 0xe7, 99})), "999.99");
  // DECIMAL(6,3) -0.001: 00 00 | 00 01, inverted FF FF FF FE, first bit flipped.
  EXPECT_EQ(Decimal(Dec(6, 3), B({0x7f, 0xff, 0xff, 0xfe})), "-0.001");
  // DECIMAL(20,2): two full integer words, then one fraction byte.
  EXPECT_EQ(Decimal(Dec(20, 2), B({0x80, 0, 0, 0, 0, 0, 0, 5, 5})), "5.05");
  // Inner words keep their nine digits: 1 000000000.00
  EXPECT_EQ(Decimal(Dec(20, 2), B({0x80, 0, 0, 1, 0, 0, 0, 0, 0})), "1000000000.00");
  // DECIMAL(18,9) 0.000000001: one word each side.
  EXPECT_EQ(Decimal(Dec(18, 9), B({0x80, 0, 0, 0, 0, 0, 0, 1})), "0.000000001");
  // DECIMAL(12,9) -999.000000001: integer 3 digits (2 bytes), fraction 1 word.
  EXPECT_EQ(Decimal(Dec(12, 9), Invert(B({0x03, 0xe7, 0, 0, 0, 1})).replace(0, 1, 1, 0x7c)),
            "-999.000000001");
}

TEST(DecodeDecimal, ScaleZeroHasNoPoint) {
  // DECIMAL(10,0): 1 leftover digit (1 byte) + 1 word.
  EXPECT_EQ(Decimal(Dec(10, 0), B({0x80, 0, 0, 0, 0})), "0");
  EXPECT_EQ(Decimal(Dec(10, 0), B({0x89, 0x3b, 0x9a, 0xc9, 0xff})), "9999999999");
  EXPECT_EQ(Decimal(Dec(10, 0), B({0x76, 0xc4, 0x65, 0x36, 0x00})), "-9999999999");
  EXPECT_EQ(Decimal(Dec(10, 0), B({0x80, 0, 0, 0, 42})), "42");
  EXPECT_EQ(Decimal(Dec(1, 0), B({0x87})), "7");
  EXPECT_EQ(Decimal(Dec(1, 0), B({0x78})), "-7");
}

TEST(DecodeDecimal, WidestDecimal) {
  // DECIMAL(65,30): integer 35 digits = 8 leftover (4 bytes) + 3 words,
  // fraction 30 digits = 3 words + 3 leftover (2 bytes): 30 bytes.
  std::string max = BE(99999999, 4);
  for (int i = 0; i < 6; ++i) max += BE(999999999, 4);
  max += BE(999, 2);
  max[0] = static_cast<char>(max[0] ^ 0x80);
  ASSERT_EQ(max.size(), 30u);
  const std::string digits = std::string(35, '9') + "." + std::string(30, '9');
  EXPECT_EQ(Decimal(Dec(65, 30), max), digits);
  EXPECT_EQ(Decimal(Dec(65, 30), Invert(max)), "-" + digits);
  ExpectEveryPrefixFails(Col(kTypeNewDecimal, Dec(65, 30)), max);
  // DECIMAL(65,0): 2 leftover digits (1 byte) + 7 words.
  std::string int_max = BE(99, 1);
  for (int i = 0; i < 7; ++i) int_max += BE(999999999, 4);
  int_max[0] = static_cast<char>(int_max[0] ^ 0x80);
  EXPECT_EQ(Decimal(Dec(65, 0), int_max), std::string(65, '9'));
}

TEST(DecodeDecimal, BadGroupsAndMetadataAreCorruption) {
  // A group holding more digits than its width allows (bin2decimal rejects it).
  EXPECT_EQ(DecodeError(Col(kTypeNewDecimal, Dec(2, 2)), B({0x80 | 100})).code(),
            Code::kCorruption);
  EXPECT_EQ(DecodeError(Col(kTypeNewDecimal, Dec(9, 0)), B({0xbb, 0x9a, 0xca, 0x00})).code(),
            Code::kCorruption);  // 1000000000 in a nine-digit word
  for (uint16_t meta : {Dec(0, 0), Dec(66, 0), Dec(65, 31), Dec(4, 5)}) {
    EXPECT_EQ(DecodeError(Col(kTypeNewDecimal, meta), std::string(40, '\x80')).code(),
              Code::kCorruption)
        << meta;
  }
  Status st = DecodeError(Col(kTypeDecimal), B({1, 2, 3}));
  EXPECT_EQ(st.code(), Code::kCorruption);
  EXPECT_NE(st.message().find("pre-5.0"), std::string::npos) << st.message();
}

// ---- character and binary strings -------------------------------------------------
// Length prefixes: libbinlogevents calc_field_size (VARCHAR: 1 byte when the
// max length is < 256, else 2; CHAR likewise on its max length; BLOBs: the
// pack length from the metadata).

TEST(DecodeVarchar, OneAndTwoBytePrefixes) {
  EXPECT_EQ(Text(Col(kTypeVarchar, 10), B({3, 'a', 'b', 'c'})), "abc");
  EXPECT_EQ(Text(Col(kTypeVarchar, 255), B({3, 'a', 'b', 'c'})), "abc");
  EXPECT_EQ(Text(Col(kTypeVarchar, 256), B({3, 0, 'a', 'b', 'c'})), "abc");
  EXPECT_EQ(Text(Col(kTypeVarchar, 300, kUtf8mb4), B({0, 0})), "");
  EXPECT_EQ(Text(Col(kTypeVarString, 300), B({2, 0, 'h', 'i'})), "hi");
  std::string long_value(300, 'z');
  EXPECT_EQ(Text(Col(kTypeVarchar, 1200, kUtf8mb4), B({0x2c, 0x01}) + long_value), long_value);
  ExpectEveryPrefixFails(Col(kTypeVarchar, 10), B({3, 'a', 'b', 'c'}));
  ExpectEveryPrefixFails(Col(kTypeVarchar, 300), B({3, 0, 'a', 'b', 'c'}));
}

TEST(DecodeVarchar, ShortValueMessage) {
  std::string bytes = B({0x2c, 0x01}) + std::string(10, 'x');  // says 300, has 10
  Status st = DecodeError(Col(kTypeVarchar, 1000), bytes);
  EXPECT_EQ(st.code(), Code::kCorruption);
  EXPECT_NE(st.message().find("VARCHAR"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("302"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("12 left"), std::string::npos) << st.message();
}

TEST(DecodeVarchar, BinaryCollationIsBytes) {
  Value v = Decode(Col(kTypeVarchar, 16, kBinaryCollation), B({3, 0x00, 0xff, 0x80}));
  EXPECT_EQ(v.kind_case(), Value::kBinary);
  EXPECT_EQ(v.binary(), B({0x00, 0xff, 0x80}));
}

TEST(DecodeVarchar, OtherCharsetsPassThrough) {
  // utf8mb4 and an unknown collation keep their bytes.
  const std::string euro = B({0xe2, 0x82, 0xac});
  EXPECT_EQ(Text(Col(kTypeVarchar, 40, kUtf8mb4), B({3}) + euro), euro);
  EXPECT_EQ(Text(Col(kTypeVarchar, 40, 0), B({3}) + euro), euro);
  EXPECT_EQ(Text(Col(kTypeVarchar, 40, 33), B({1, 0xe9})), B({0xe9}));  // utf8 as stored
}

TEST(DecodeLatin1, ConvertsToUtf8AsCp1252) {
  // strings/ctype-latin1.cc cs_to_uni: cp1252 in 0x80-0x9F, its five holes
  // (0x81 0x8D 0x8F 0x90 0x9D) as U+0081 ... U+009D; 0xA0-0xFF = U+00A0-U+00FF.
  struct Case {
    int byte;
    std::string utf8;
  };
  const Case cases[] = {
      {0x80, B({0xe2, 0x82, 0xac})},  // U+20AC EURO SIGN
      {0x81, B({0xc2, 0x81})},        // U+0081
      {0x82, B({0xe2, 0x80, 0x9a})},  // U+201A
      {0x83, B({0xc6, 0x92})},        // U+0192
      {0x8a, B({0xc5, 0xa0})},        // U+0160
      {0x8d, B({0xc2, 0x8d})},        // U+008D
      {0x8f, B({0xc2, 0x8f})},        // U+008F
      {0x90, B({0xc2, 0x90})},        // U+0090
      {0x91, B({0xe2, 0x80, 0x98})},  // U+2018
      {0x96, B({0xe2, 0x80, 0x93})},  // U+2013
      {0x98, B({0xcb, 0x9c})},        // U+02DC
      {0x99, B({0xe2, 0x84, 0xa2})},  // U+2122
      {0x9d, B({0xc2, 0x9d})},        // U+009D
      {0x9f, B({0xc5, 0xb8})},        // U+0178
      {0xa0, B({0xc2, 0xa0})},        // U+00A0
      {0xe9, B({0xc3, 0xa9})},        // U+00E9
      {0xff, B({0xc3, 0xbf})},        // U+00FF
      {0x7f, B({0x7f})},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Text(Col(kTypeVarchar, 10, kLatin1), B({1, c.byte})), c.utf8) << c.byte;
  }
  // Every latin1 collation id (MySQL SHOW COLLATION, MariaDB's NO PAD ones).
  for (uint32_t id : {5u, 8u, 15u, 31u, 47u, 48u, 49u, 94u, 1032u, 1071u}) {
    EXPECT_EQ(Text(Col(kTypeVarchar, 10, id), B({4, 'c', 'a', 'f', 0xe9})), "caf\xc3\xa9") << id;
  }
  // CHAR, TEXT and mixed ASCII.
  EXPECT_EQ(Text(Col(kTypeString, 0xfe0a, kLatin1), B({3, 0x80, '1', '0'})),
            "\xe2\x82\xac"
            "10");
  EXPECT_EQ(Text(Col(kTypeBlob, 2, kLatin1), B({5, 0, 'a', 0xe4, 'b', 0xdf, 'c'})),
            "a\xc3\xa4"
            "b\xc3\x9f"
            "c");
}

TEST(DecodeChar, LengthFromMetadata) {
  // CHAR(10) latin1: max 10 bytes, 1-byte prefix.
  EXPECT_EQ(Text(Col(kTypeString, 0xfe0a), B({2, 'h', 'i'})), "hi");
  EXPECT_EQ(Text(Col(kTypeString, 0xfe0a, kUtf8mb4), B({0})), "");
  // CHAR(255) utf8mb4: 1020 bytes, metadata CE FC -> 2-byte prefix.
  EXPECT_EQ(Text(Col(kTypeString, 0xcefc, kUtf8mb4), B({2, 0, 'h', 'i'})), "hi");
  // CHAR(191) utf8mb4: 764 = 0x2FC bytes, metadata DE FC -> 2-byte prefix.
  EXPECT_EQ(Text(Col(kTypeString, 0xdefc, kUtf8mb4), B({2, 0, 'o', 'k'})), "ok");
  // CHAR(63) utf8mb4: 252 bytes -> 1-byte prefix.
  EXPECT_EQ(Text(Col(kTypeString, 0xfefc, kUtf8mb4), B({2, 'o', 'k'})), "ok");
  ExpectEveryPrefixFails(Col(kTypeString, 0xfe0a), B({2, 'h', 'i'}));
  ExpectEveryPrefixFails(Col(kTypeString, 0xcefc), B({2, 0, 'h', 'i'}));
}

TEST(DecodeChar, BinaryIsPaddedBackWithZeros) {
  // Field_string::pack drops BINARY(n)'s trailing pad bytes (pad_char 0 for
  // the binary charset); unpack fills them back.
  Value v = Decode(Col(kTypeString, 0xfe04, kBinaryCollation), B({2, 'a', 'b'}));
  EXPECT_EQ(v.kind_case(), Value::kBinary);
  EXPECT_EQ(v.binary(), std::string("ab\0\0", 4));
  v = Decode(Col(kTypeString, 0xfe04, kBinaryCollation), B({4, 1, 2, 3, 4}));
  EXPECT_EQ(v.binary(), B({1, 2, 3, 4}));
}

TEST(DecodeBlob, PackLengthsOneToFour) {
  const std::string payload = "xyz";
  EXPECT_EQ(Decode(Col(kTypeBlob, 1), B({3}) + payload).binary(), payload);
  EXPECT_EQ(Decode(Col(kTypeBlob, 2), B({3, 0}) + payload).binary(), payload);
  EXPECT_EQ(Decode(Col(kTypeBlob, 3), B({3, 0, 0}) + payload).binary(), payload);
  EXPECT_EQ(Decode(Col(kTypeBlob, 4), B({3, 0, 0, 0}) + payload).binary(), payload);
  for (int pack = 1; pack <= 4; ++pack) {
    ExpectEveryPrefixFails(Col(kTypeBlob, pack), LE(3, pack) + payload);
  }
  std::string big(70000, 'q');
  EXPECT_EQ(Decode(Col(kTypeBlob, 3), LE(70000, 3) + big).binary(), big);
}

TEST(DecodeBlob, TextOrBytesByCollation) {
  EXPECT_EQ(Decode(Col(kTypeBlob, 2, 0), B({1, 0, 'a'})).kind_case(), Value::kBinary);
  EXPECT_EQ(Decode(Col(kTypeBlob, 2, kBinaryCollation), B({1, 0, 'a'})).kind_case(),
            Value::kBinary);
  EXPECT_EQ(Text(Col(kTypeBlob, 2, kUtf8mb4), B({1, 0, 'a'})), "a");
  // CHAR/VARCHAR of unknown collation are text.
  EXPECT_EQ(Decode(Col(kTypeVarchar, 10, 0), B({1, 'a'})).kind_case(), Value::kText);
  EXPECT_EQ(Decode(Col(kTypeString, 0xfe0a, 0), B({1, 'a'})).kind_case(), Value::kText);
}

TEST(DecodeBlob, BadPackLengthIsCorruption) {
  for (uint16_t meta : {0, 5, 255}) {
    EXPECT_EQ(DecodeError(Col(kTypeBlob, meta), B({1, 0, 0, 0, 0, 'a'})).code(), Code::kCorruption)
        << meta;
  }
}

TEST(DecodeGeometry, KeepsSridAndWkb) {
  // SRID 4326 (little-endian), then the OGC WKB of POINT(1 2): byte order
  // 01, type 1 (uint32 LE), X = 1.0, Y = 2.0 as little-endian doubles.
  const std::string wkb = B({0x01, 0x01, 0x00, 0x00, 0x00, 0, 0, 0,   0, 0, 0, 0xf0, 0x3f,  //
                             0,    0,    0,    0,    0,    0, 0, 0x40});
  const std::string value = LE(4326, 4) + wkb;
  Value v = Decode(Col(kTypeGeometry, 4), LE(value.size(), 4) + value);
  EXPECT_EQ(v.kind_case(), Value::kGeometry);
  EXPECT_EQ(v.geometry().srid(), 4326u);
  EXPECT_EQ(v.geometry().wkb(), wkb);
  // SRID 0 and the largest SRID.
  Value zero = Decode(Col(kTypeGeometry, 4), LE(wkb.size() + 4, 4) + LE(0, 4) + wkb);
  EXPECT_EQ(zero.geometry().srid(), 0u);
  EXPECT_EQ(zero.geometry().wkb(), wkb);
  Value max =
      Decode(Col(kTypeGeometry, 1), LE(wkb.size() + 4, 1) + B({0xff, 0xff, 0xff, 0xff}) + wkb);
  EXPECT_EQ(max.geometry().srid(), 4294967295u);
  // Only an SRID: an empty WKB (not written by servers, but decodable).
  Value empty = Decode(Col(kTypeGeometry, 4), LE(4, 4) + LE(7, 4));
  EXPECT_EQ(empty.geometry().srid(), 7u);
  EXPECT_EQ(empty.geometry().wkb(), "");
  ExpectEveryPrefixFails(Col(kTypeGeometry, 4), LE(value.size(), 4) + value);
  EXPECT_EQ(DecodeError(Col(kTypeGeometry, 4), B({3, 0, 0, 0, 1, 2, 3})).code(),
            Code::kCorruption);  // shorter than its SRID
}

TEST(DecodeVector, LengthPrefixedFloat32s) {
  // MySQL 9 VECTOR is a Field_blob with pack length 4 (sql/field.h
  // Field_vector); the value is dimension * 4 bytes of little-endian float32.
  const std::string floats = B({0, 0, 0x80, 0x3f, 0, 0, 0, 0x40});  // [1.0, 2.0]
  Value v = Decode(Col(kTypeVector, 4), B({8, 0, 0, 0}) + floats);
  ASSERT_EQ(v.kind_case(), Value::kVector);
  ASSERT_EQ(v.vector().values_size(), 2);
  EXPECT_EQ(v.vector().values(0), 1.0f);
  EXPECT_EQ(v.vector().values(1), 2.0f);
  ExpectEveryPrefixFails(Col(kTypeVector, 4), B({8, 0, 0, 0}) + floats);
  // Zero elements; -0.0 and NaN bits kept; a 1-byte prefix from the metadata.
  EXPECT_EQ(Decode(Col(kTypeVector, 4), B({0, 0, 0, 0})).vector().values_size(), 0);
  Value odd = Decode(Col(kTypeVector, 1), B({8, 0, 0, 0, 0x80, 0, 0, 0xc0, 0x7f}));
  ASSERT_EQ(odd.vector().values_size(), 2);
  EXPECT_TRUE(std::signbit(odd.vector().values(0)));
  EXPECT_TRUE(std::isnan(odd.vector().values(1)));
  // Not a multiple of 4 bytes.
  for (int n : {1, 2, 3, 5, 7}) {
    EXPECT_EQ(DecodeError(Col(kTypeVector, 4), LE(n, 4) + std::string(n, '\0')).code(),
              Code::kCorruption)
        << n;
  }
}

// ---- JSON ------------------------------------------------------------------------
// A length prefix of `meta` bytes, then MySQL binary JSON
// (sql-common/json_binary.h: type 0x04 literal with 0x01 true; 0x05 int16).

TEST(DecodeJson, CallsTheBinaryJsonDecoder) {
  Value v = Decode(Col(kTypeJson, 4), B({2, 0, 0, 0, 0x04, 0x01}));
  EXPECT_EQ(v.kind_case(), Value::kJson);
  EXPECT_EQ(v.json(), "true");
  v = Decode(Col(kTypeJson, 4), B({3, 0, 0, 0, 0x05, 0x2a, 0x00}));
  EXPECT_EQ(v.json(), "42");
  ExpectEveryPrefixFails(Col(kTypeJson, 4), B({2, 0, 0, 0, 0x04, 0x01}));
  // A reused value holds the new document only.
  std::string bytes = B({2, 0, 0, 0, 0x04, 0x01});
  std::string_view in = bytes;
  ASSERT_TRUE(DecodeColumnValue(Col(kTypeJson, 4), &in, &v).ok());
  EXPECT_EQ(v.json(), "true");
}

// ---- ENUM / SET -----------------------------------------------------------------
// Field_enum: 1- or 2-byte little-endian index, 1-based, 0 the '' error
// value. Field_set: pack length 1..8, a little-endian bitmask, bit i for
// label i.

TEST(DecodeEnum, LabelsWhenKnown) {
  const std::vector<std::string> labels = {"small", "medium", "large"};
  ColumnType col = Col(kTypeString, 0xf701);
  col.labels = &labels;
  Value v = Decode(col, B({2}));
  EXPECT_EQ(v.kind_case(), Value::kEnumLabel);
  EXPECT_EQ(v.enum_label(), "medium");
  EXPECT_EQ(Decode(col, B({1})).enum_label(), "small");
  EXPECT_EQ(Decode(col, B({3})).enum_label(), "large");
  v = Decode(col, B({0}));
  EXPECT_EQ(v.kind_case(), Value::kEnumLabel);
  EXPECT_EQ(v.enum_label(), "");
  EXPECT_EQ(DecodeError(col, B({4})).code(), Code::kCorruption);
  ExpectEveryPrefixFails(col, B({2}));
}

TEST(DecodeEnum, IndexWhenLabelsUnknown) {
  Value v = Decode(Col(kTypeString, 0xf701), B({2}));
  EXPECT_EQ(v.kind_case(), Value::kEnumIndex);
  EXPECT_EQ(v.enum_index(), 2u);
  const std::vector<std::string> none;
  ColumnType col = Col(kTypeString, 0xf702);
  col.labels = &none;  // empty means unknown
  EXPECT_EQ(Decode(col, B({0x2c, 0x01})).enum_index(), 300u);
  ExpectEveryPrefixFails(col, B({0x2c, 0x01}));
  EXPECT_EQ(Decode(Col(kTypeEnum, 0xf701), B({7})).enum_index(), 7u);
}

TEST(DecodeEnum, TwoByteIndexWithLabels) {
  std::vector<std::string> labels;
  for (int i = 1; i <= 300; ++i) labels.push_back("v" + std::to_string(i));
  ColumnType col = Col(kTypeString, 0xf702);
  col.labels = &labels;
  EXPECT_EQ(Decode(col, B({0x2c, 0x01})).enum_label(), "v300");
  EXPECT_EQ(Decode(col, B({0x00, 0x01})).enum_label(), "v256");
  EXPECT_EQ(DecodeError(col, B({0x2d, 0x01})).code(), Code::kCorruption);
}

TEST(DecodeSet, LabelsJoinedByComma) {
  const std::vector<std::string> labels = {"a", "b", "c"};
  ColumnType col = Col(kTypeString, 0xf801);
  col.labels = &labels;
  EXPECT_EQ(Decode(col, B({0x05})).enum_label(), "a,c");
  EXPECT_EQ(Decode(col, B({0x07})).enum_label(), "a,b,c");
  EXPECT_EQ(Decode(col, B({0x02})).enum_label(), "b");
  Value v = Decode(col, B({0x00}));
  EXPECT_EQ(v.kind_case(), Value::kEnumLabel);
  EXPECT_EQ(v.enum_label(), "");
  EXPECT_EQ(DecodeError(col, B({0x08})).code(), Code::kCorruption);  // bit 3, 3 labels
  EXPECT_EQ(Decode(Col(kTypeString, 0xf801), B({0x05})).enum_index(), 5u);
}

TEST(DecodeSet, SixtyFourMembers) {
  std::vector<std::string> labels;
  std::string all;
  for (int i = 0; i < 64; ++i) {
    labels.push_back("m" + std::to_string(i));
    all += (i ? "," : "") + labels.back();
  }
  ColumnType col = Col(kTypeString, 0xf808);
  col.labels = &labels;
  EXPECT_EQ(Decode(col, std::string(8, '\xff')).enum_label(), all);
  EXPECT_EQ(Decode(col, B({0, 0, 0, 0, 0, 0, 0, 0x80})).enum_label(), "m63");
  EXPECT_EQ(Decode(col, B({1, 1, 0, 0, 0, 0, 0, 0})).enum_label(), "m0,m8");
  ExpectEveryPrefixFails(col, std::string(8, '\xff'));
  EXPECT_EQ(Decode(Col(kTypeString, 0xf808), std::string(8, '\xff')).enum_index(),
            std::numeric_limits<uint64_t>::max());
  // Pack lengths 3 (SET of 17..24 members).
  EXPECT_EQ(Decode(Col(kTypeString, 0xf803), B({1, 2, 3})).enum_index(), 0x030201u);
}

TEST(DecodeEnumSet, BadPackLengthIsCorruption) {
  EXPECT_EQ(DecodeError(Col(kTypeString, 0xf703), B({1, 2, 3})).code(), Code::kCorruption);
  EXPECT_EQ(DecodeError(Col(kTypeString, 0xf700), B({1})).code(), Code::kCorruption);
  EXPECT_EQ(DecodeError(Col(kTypeString, 0xf809), std::string(9, '\1')).code(), Code::kCorruption);
}

// ---- BIT --------------------------------------------------------------------------
// Field_bit: metadata (M % 8, M / 8); the value is (M + 7) / 8 bytes,
// big-endian (mysqlbinlog's my_b_write_bit reads it most significant first).

TEST(DecodeBit, EveryWidth) {
  for (int m = 1; m <= 64; ++m) {
    const uint16_t meta = static_cast<uint16_t>((m / 8) << 8 | (m % 8));
    const int size = (m + 7) / 8;
    const uint64_t ones = m == 64 ? ~uint64_t{0} : (uint64_t{1} << m) - 1;
    const ColumnType col = Col(kTypeBit, meta);
    Value v = Decode(col, BE(ones, size));
    EXPECT_EQ(v.kind_case(), Value::kUint64) << m;
    EXPECT_EQ(v.uint64(), ones) << m;
    const uint64_t top = uint64_t{1} << (m - 1);  // only the highest bit set
    EXPECT_EQ(Decode(col, BE(top, size)).uint64(), top) << m;
    EXPECT_EQ(Decode(col, std::string(size, '\0')).uint64(), 0u) << m;
    ExpectEveryPrefixFails(col, BE(ones, size));
  }
  EXPECT_EQ(Decode(Col(kTypeBit, 0x0101), B({0x01, 0xff})).uint64(), 511u);  // BIT(9)
  EXPECT_EQ(Decode(Col(kTypeBit, 0x0001), B({0x01})).uint64(), 1u);          // BIT(1)
}

TEST(DecodeBit, ImpossibleWidthIsCorruption) {
  for (uint16_t meta : {0x0000, 0x0008, 0x0900, 0x0801}) {
    EXPECT_EQ(DecodeError(Col(kTypeBit, meta), std::string(10, '\0')).code(), Code::kCorruption)
        << meta;
  }
}

// ---- everything else --------------------------------------------------------------

TEST(DecodeColumnValue, UnsupportedTypes) {
  for (uint8_t type : std::initializer_list<uint8_t>{kTypeNull, kTypeTypedArray, kTypeInvalid,
                                                     kTypeBool, 140, 141, 99}) {
    Status st = DecodeError(Col(type, 2), B({1, 0, 'a'}));
    EXPECT_EQ(st.code(), Code::kCorruption) << int{type};
    EXPECT_NE(st.message().find("unsupported column type " + std::to_string(type)),
              std::string::npos)
        << st.message();
  }
}

TEST(DecodeColumnValue, RowOfColumnsInSequence) {
  // INT -7, VARCHAR(20) "hey", DECIMAL(5,2) 0.50, DATE 2024-02-29, BIT(3) 5.
  const ColumnType cols[] = {Col(kTypeLong), Col(kTypeVarchar, 20, kUtf8mb4),
                             Col(kTypeNewDecimal, Dec(5, 2)), Col(kTypeDate),
                             Col(kTypeBit, 0x0003)};
  const std::string row =
      B({0xf9, 0xff, 0xff, 0xff, 3, 'h', 'e', 'y', 0x80, 0x00, 50, 0x5d, 0xd0, 0x0f, 0x05});
  std::string_view in = row;
  Value v;
  ASSERT_TRUE(DecodeColumnValue(cols[0], &in, &v).ok());
  EXPECT_EQ(v.int64(), -7);
  ASSERT_TRUE(DecodeColumnValue(cols[1], &in, &v).ok());
  EXPECT_EQ(v.text(), "hey");
  ASSERT_TRUE(DecodeColumnValue(cols[2], &in, &v).ok());
  EXPECT_EQ(v.decimal(), "0.50");
  ASSERT_TRUE(DecodeColumnValue(cols[3], &in, &v).ok());
  EXPECT_EQ(v.text(), "2024-02-29");
  ASSERT_TRUE(DecodeColumnValue(cols[4], &in, &v).ok());
  EXPECT_EQ(v.uint64(), 5u);
  EXPECT_TRUE(in.empty());
}

TEST(DecodeColumnValue, ReusedValueSwitchesKindAndKeepsCapacity) {
  Value v;
  const std::string long_text = B({200}) + std::string(200, 'w');
  std::string_view in = long_text;
  ASSERT_TRUE(DecodeColumnValue(Col(kTypeVarchar, 255), &in, &v).ok());
  const size_t capacity = v.text().capacity();
  const std::string short_text = B({2, 'o', 'k'});
  in = short_text;
  ASSERT_TRUE(DecodeColumnValue(Col(kTypeVarchar, 255), &in, &v).ok());
  EXPECT_EQ(v.text(), "ok");
  EXPECT_GE(v.text().capacity(), capacity);
  const std::string number = B({5, 0, 0, 0});
  in = number;
  ASSERT_TRUE(DecodeColumnValue(Col(kTypeLong), &in, &v).ok());
  EXPECT_EQ(v.kind_case(), Value::kInt64);
  EXPECT_EQ(v.int64(), 5);
}

}  // namespace
}  // namespace sluice::binlog
