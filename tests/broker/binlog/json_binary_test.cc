// Tests for broker/binlog/json_binary.h. Every binary document is written
// out byte by byte from the grammar in json_binary.h (MySQL
// sql-common/json_binary.h); every expected text follows MySQL's
// Json_wrapper::to_string rules as json_binary.h states them. Offsets in the
// comments count from a container's first byte (its element count).
#include "broker/binlog/json_binary.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace sluice::binlog {
namespace {

std::string B(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

std::string Json(std::string_view bin) {
  std::string out;
  Status st = AppendJsonFromBinary(bin, &out);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

// Corruption, and *out untouched.
void ExpectCorrupt(std::string_view bin) {
  std::string out = "keep";
  Status st = AppendJsonFromBinary(bin, &out);
  EXPECT_EQ(st.code(), Code::kCorruption) << st.ToString();
  EXPECT_EQ(out, "keep");
}

// clang-format off
// {"a": 1, "b": [1, 2]}
const std::string kDocA = B({
    0x00,                    // small object
    0x02, 0x00, 0x1e, 0x00,  // 2 members, 30 bytes
    0x12, 0x00, 0x01, 0x00,  // key 0 at 18, 1 byte
    0x13, 0x00, 0x01, 0x00,  // key 1 at 19, 1 byte
    0x05, 0x01, 0x00,        // value 0: int16 1, inlined
    0x02, 0x14, 0x00,        // value 1: small array at 20
    'a', 'b',                // keys at 18, 19
    0x02, 0x00, 0x0a, 0x00,  // at 20: 2 elements, 10 bytes
    0x05, 0x01, 0x00,        //   int16 1, inlined
    0x05, 0x02, 0x00,        //   int16 2, inlined
});
constexpr std::string_view kDocAText = R"({"a": 1, "b": [1, 2]})";

// [true, null, -2, 65535, 100000, "hi", 2.5]
const std::string kDocB = B({
    0x02,                    // small array
    0x07, 0x00, 0x28, 0x00,  // 7 elements, 40 bytes
    0x04, 0x01, 0x00,        // literal true, inlined
    0x04, 0x00, 0x00,        // literal null, inlined
    0x05, 0xfe, 0xff,        // int16 -2, inlined
    0x06, 0xff, 0xff,        // uint16 65535, inlined
    0x07, 0x19, 0x00,        // int32 at 25 (not inlined in a small array)
    0x0c, 0x1d, 0x00,        // string at 29
    0x0b, 0x20, 0x00,        // double at 32
    0xa0, 0x86, 0x01, 0x00,  // at 25: 100000 = 0x000186a0
    0x02, 'h', 'i',          // at 29: length 2, "hi"
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x40,  // at 32: 2.5 = 0x4004000000000000
});

// [-7, 4000000000, -1, {}, 300]
const std::string kDocC = B({
    0x03,                                      // large array
    0x05, 0x00, 0x00, 0x00, 0x2d, 0x00, 0x00, 0x00,  // 5 elements, 45 bytes
    0x07, 0xf9, 0xff, 0xff, 0xff,              // int32 -7, inlined (large)
    0x08, 0x00, 0x28, 0x6b, 0xee,              // uint32 4000000000 = 0xee6b2800, inlined
    0x09, 0x21, 0x00, 0x00, 0x00,              // int64 at 33
    0x00, 0x29, 0x00, 0x00, 0x00,              // small object at 41
    0x05, 0x2c, 0x01, 0x00, 0x00,              // int16 300 = 0x012c, inlined in 4 bytes
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // at 33: int64 -1
    0x00, 0x00, 0x04, 0x00,                    // at 41: 0 members, 4 bytes
});

// {"k": [], "key2": "v"}
const std::string kDocD = B({
    0x01,                                            // large object
    0x02, 0x00, 0x00, 0x00, 0x29, 0x00, 0x00, 0x00,  // 2 members, 41 bytes
    0x1e, 0x00, 0x00, 0x00, 0x01, 0x00,              // key 0 at 30, 1 byte
    0x1f, 0x00, 0x00, 0x00, 0x04, 0x00,              // key 1 at 31, 4 bytes
    0x02, 0x23, 0x00, 0x00, 0x00,                    // value 0: small array at 35
    0x0c, 0x27, 0x00, 0x00, 0x00,                    // value 1: string at 39
    'k', 'k', 'e', 'y', '2',                         // keys at 30, 31
    0x00, 0x00, 0x04, 0x00,                          // at 35: 0 elements, 4 bytes
    0x01, 'v',                                       // at 39: length 1, "v"
});
// clang-format on

// `levels` small arrays nested in each other, the innermost empty: each
// level is [count=1][size][entry: small array at 7] then the next level.
std::string Nested(int levels) {
  std::string inner = B({0x00, 0x00, 0x04, 0x00});
  for (int i = 1; i < levels; ++i) {
    const int size = 7 + static_cast<int>(inner.size());
    inner = B({0x01, 0x00, size & 0xff, size >> 8, 0x02, 0x07, 0x00}) + inner;
  }
  return "\x02" + inner;
}

std::string NestedText(int levels) { return std::string(levels, '[') + std::string(levels, ']'); }

TEST(JsonBinaryTest, EmptyDocumentIsNull) { EXPECT_EQ(Json(""), "null"); }

TEST(JsonBinaryTest, Literals) {
  EXPECT_EQ(Json(B({0x04, 0x00})), "null");
  EXPECT_EQ(Json(B({0x04, 0x01})), "true");
  EXPECT_EQ(Json(B({0x04, 0x02})), "false");
  ExpectCorrupt(B({0x04, 0x03}));
}

TEST(JsonBinaryTest, Integers) {
  EXPECT_EQ(Json(B({0x05, 0x39, 0x30})), "12345");  // 0x3039
  EXPECT_EQ(Json(B({0x05, 0x00, 0x80})), "-32768");
  EXPECT_EQ(Json(B({0x06, 0xff, 0xff})), "65535");
  EXPECT_EQ(Json(B({0x07, 0x00, 0x00, 0x00, 0x80})), "-2147483648");
  EXPECT_EQ(Json(B({0x08, 0xff, 0xff, 0xff, 0xff})), "4294967295");
  EXPECT_EQ(Json(B({0x09, 0, 0, 0, 0, 0, 0, 0, 0x80})), "-9223372036854775808");
  EXPECT_EQ(Json(B({0x09, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})), "-1");
  EXPECT_EQ(Json(B({0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})),
            "18446744073709551615");
}

// IEEE 754 bytes (little-endian) from Python's struct.pack('<d', x); texts
// from my_gcvt's rules in json_binary.h.
TEST(JsonBinaryTest, Doubles) {
  auto d = [](std::initializer_list<int> le) { return Json("\x0b" + B(le)); };
  EXPECT_EQ(d({0x1f, 0x85, 0xeb, 0x51, 0xb8, 0x1e, 0x09, 0x40}), "3.14");
  EXPECT_EQ(d({0, 0, 0, 0, 0, 0, 0xf0, 0x3f}), "1.0");
  EXPECT_EQ(d({0, 0, 0, 0, 0, 0, 0xe0, 0xbf}), "-0.5");
  EXPECT_EQ(d({0, 0, 0, 0, 0, 0, 0, 0}), "0.0");
  EXPECT_EQ(d({0, 0, 0, 0, 0, 0, 0, 0x80}), "-0.0");
  EXPECT_EQ(d({0x7d, 0xc3, 0x94, 0x25, 0xad, 0x49, 0xb2, 0x54}), "1e100");
  EXPECT_EQ(d({0x00, 0x00, 0x34, 0x26, 0xf5, 0x6b, 0x0c, 0x43}), "1e15");
  EXPECT_EQ(d({0x00, 0x00, 0x90, 0x1e, 0xc4, 0xbc, 0xd6, 0x42}), "100000000000000.0");
  EXPECT_EQ(d({0x16, 0x56, 0xe7, 0x9e, 0xaf, 0x03, 0xd2, 0x3c}), "0.000000000000001");
  EXPECT_EQ(d({0xbc, 0x89, 0xd8, 0x97, 0xb2, 0xd2, 0x9c, 0x3c}), "1e-16");
  EXPECT_EQ(d({0x34, 0x33, 0x33, 0x33, 0x33, 0x33, 0xd3, 0x3f}), "0.30000000000000004");
  EXPECT_EQ(d({0xda, 0xbc, 0x04, 0x7e, 0x3a, 0xc5, 0x1a, 0x44}), "1.2345678901234568e20");
  // 17 digits and decpt 16: still the 'f' format.
  EXPECT_EQ(d({0x02, 0xeb, 0x2a, 0xf2, 0x54, 0x8b, 0x11, 0x43}), "1234567890123456.5");
  ExpectCorrupt("\x0b" + B({0, 0, 0, 0, 0, 0, 0xf8, 0x7f}));  // NaN
  ExpectCorrupt("\x0b" + B({0, 0, 0, 0, 0, 0, 0xf0, 0x7f}));  // +inf
}

TEST(JsonBinaryTest, Strings) {
  EXPECT_EQ(Json(B({0x0c, 0x05, 'h', 'e', 'l', 'l', 'o'})), R"("hello")");
  EXPECT_EQ(Json(B({0x0c, 0x00})), R"("")");
  // a " \ LF TAB BS FF CR 0x01 0x1f 0x7f /: only the first ten need escapes.
  EXPECT_EQ(Json(B({0x0c, 0x0d, 'a', '"', '\\', 0x0a, 0x09, 0x08, 0x0c, 0x0d, 0x01, 0x1f, 0x7f, '/',
                    'z'})),
            "\"a\\\"\\\\\\n\\t\\b\\f\\r\\u0001\\u001f\x7f/z\"");
  // é (c3 a9), € (e2 82 ac), U+1F600 (f0 9f 98 80): bytes pass through.
  EXPECT_EQ(Json(B({0x0c, 0x09, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80})),
            "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
}

TEST(JsonBinaryTest, LongStringsUseMultiByteLengths) {
  // 200 = 0b1'1001000: low seven bits 0x48 with the more-bit, then 0x01.
  EXPECT_EQ(Json(B({0x0c, 0xc8, 0x01}) + std::string(200, 'x')),
            "\"" + std::string(200, 'x') + "\"");
  // 16384 = 2^14: 0x80 0x80 0x01.
  EXPECT_EQ(Json(B({0x0c, 0x80, 0x80, 0x01}) + std::string(16384, 'y')),
            "\"" + std::string(16384, 'y') + "\"");
  // 127 fits one byte; 128 needs two (0x80 0x01).
  EXPECT_EQ(Json(B({0x0c, 0x7f}) + std::string(127, 'z')), "\"" + std::string(127, 'z') + "\"");
  EXPECT_EQ(Json(B({0x0c, 0x80, 0x01}) + std::string(128, 'z')),
            "\"" + std::string(128, 'z') + "\"");
  ExpectCorrupt(B({0x0c, 0x80, 0x01}) + std::string(127, 'z'));  // one byte short
  ExpectCorrupt(B({0x0c, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}));  // more than 5 length bytes
  ExpectCorrupt(B({0x0c, 0xff, 0xff, 0xff, 0xff, 0x7f}));        // 2^35 - 1 > 2^32 - 1
}

TEST(JsonBinaryTest, SmallObjectWithNestedArray) { EXPECT_EQ(Json(kDocA), kDocAText); }

TEST(JsonBinaryTest, SmallArrayInlinedAndOffsetValues) {
  EXPECT_EQ(Json(kDocB), R"([true, null, -2, 65535, 100000, "hi", 2.5])");
}

TEST(JsonBinaryTest, LargeArrayInlinesInt32) {
  EXPECT_EQ(Json(kDocC), "[-7, 4000000000, -1, {}, 300]");
}

TEST(JsonBinaryTest, LargeObject) { EXPECT_EQ(Json(kDocD), R"({"k": [], "key2": "v"})"); }

TEST(JsonBinaryTest, EmptyContainers) {
  EXPECT_EQ(Json(B({0x00, 0x00, 0x00, 0x04, 0x00})), "{}");
  EXPECT_EQ(Json(B({0x02, 0x00, 0x00, 0x04, 0x00})), "[]");
  EXPECT_EQ(Json(B({0x01, 0, 0, 0, 0, 0x08, 0, 0, 0})), "{}");
  EXPECT_EQ(Json(B({0x03, 0, 0, 0, 0, 0x08, 0, 0, 0})), "[]");
}

TEST(JsonBinaryTest, KeysAreEscaped) {
  // {"a\"b": 1}: header 4 + 4 + 3 = 11, key at 11 (3 bytes), size 14.
  EXPECT_EQ(Json(B({0x00, 0x01, 0x00, 0x0e, 0x00, 0x0b, 0x00, 0x03, 0x00, 0x05, 0x01, 0x00, 'a',
                    '"', 'b'})),
            R"({"a\"b": 1})");
}

TEST(JsonBinaryTest, BytesAfterTheDocumentAreIgnored) {
  EXPECT_EQ(Json(B({0x04, 0x01, 0xff, 0xff})), "true");
  EXPECT_EQ(Json(kDocA + "junk"), kDocAText);
}

TEST(JsonBinaryTest, OpaqueDecimal) {
  // Field type 246, length, precision, scale, decimal2bin bytes.
  // DECIMAL(5,2) 1.50: 3 integer digits in 2 bytes (001), 2 fraction digits
  // in 1 byte (50 = 0x32); positive: first byte's top bit set.
  EXPECT_EQ(Json(B({0x0f, 0xf6, 0x05, 0x05, 0x02, 0x80, 0x01, 0x32})), "1.50");
  // -1.50: the same bytes inverted (7f fe cd).
  EXPECT_EQ(Json(B({0x0f, 0xf6, 0x05, 0x05, 0x02, 0x7f, 0xfe, 0xcd})), "-1.50");
  // DECIMAL(20,10) 1234567890.0123456789: integer "1" in 1 byte and
  // 234567890 = 0x0dfb38d2 in 4; fraction 012345678 = 0x00bc614e in 4 and
  // "9" in 1.
  EXPECT_EQ(Json(B({0x0f, 0xf6, 0x0c, 0x14, 0x0a, 0x81, 0x0d, 0xfb, 0x38, 0xd2, 0x00, 0xbc, 0x61,
                    0x4e, 0x09})),
            "1234567890.0123456789");
  // DECIMAL(3,2) 0.05: integer 0 (1 byte), fraction 05.
  EXPECT_EQ(Json(B({0x0f, 0xf6, 0x04, 0x03, 0x02, 0x80, 0x05})), "0.05");
  // DECIMAL(4,0) 0 and DECIMAL(10,0) 9 (1 byte "0" + 4 bytes 000000009).
  EXPECT_EQ(Json(B({0x0f, 0xf6, 0x04, 0x04, 0x00, 0x80, 0x00})), "0");
  EXPECT_EQ(Json(B({0x0f, 0xf6, 0x07, 0x0a, 0x00, 0x80, 0x00, 0x00, 0x00, 0x09})), "9");
  // Inside an array: [1.50] (header 7 bytes, the opaque's 7 at 7: 14 bytes).
  EXPECT_EQ(Json(B({0x02, 0x01, 0x00, 0x0e, 0x00, 0x0f, 0x07, 0x00, 0xf6, 0x05, 0x05, 0x02, 0x80,
                    0x01, 0x32})),
            "[1.50]");
  ExpectCorrupt(B({0x0f, 0xf6, 0x04, 0x05, 0x02, 0x80, 0x01}));  // 2 bytes, needs 3
  ExpectCorrupt(B({0x0f, 0xf6, 0x04, 0x03, 0x02, 0x80, 0x64}));  // fraction 100
  ExpectCorrupt(B({0x0f, 0xf6, 0x04, 0x02, 0x03, 0x80, 0x01}));  // scale > precision
  ExpectCorrupt(B({0x0f, 0xf6, 0x01, 0x05}));                    // no scale
}

// MySQL's TIME_to_longlong_datetime_packed and _time_packed bit layouts
// (mysys/my_time.cc), as opaque values: type 0x0f, field type, length 8.
std::string Temporal(int field_type, int64_t packed) {
  std::string s = B({0x0f, field_type, 0x08});
  for (int i = 0; i < 8; ++i)
    s.push_back(static_cast<char>(static_cast<uint64_t>(packed) >> (8 * i)));
  return s;
}
int64_t DateTime(int64_t y, int64_t mo, int64_t d, int64_t h, int64_t mi, int64_t s, int64_t us) {
  const int64_t ymd = ((y * 13 + mo) << 5) | d;
  const int64_t hms = (h << 12) | (mi << 6) | s;
  return (((ymd << 17) | hms) << 24) + us;
}
int64_t Time(bool negative, int64_t h, int64_t mi, int64_t s, int64_t us) {
  const int64_t v = ((((h << 12) | (mi << 6) | s)) << 24) + us;
  return negative ? -v : v;
}

TEST(JsonBinaryTest, OpaqueTemporal) {
  // DATE (10) 2015-01-15 = 0x19951e0000000000, written out by hand.
  EXPECT_EQ(Json(B({0x0f, 0x0a, 0x08, 0, 0, 0, 0, 0, 0x1e, 0x95, 0x19})), R"("2015-01-15")");
  EXPECT_EQ(Json(Temporal(10, DateTime(2015, 1, 15, 0, 0, 0, 0))), R"("2015-01-15")");
  EXPECT_EQ(Json(Temporal(10, 0)), R"("0000-00-00")");
  // DATETIME (12) always prints six fraction digits.
  EXPECT_EQ(Json(Temporal(12, DateTime(2015, 1, 15, 23, 24, 25, 0))),
            R"("2015-01-15 23:24:25.000000")");
  EXPECT_EQ(Json(Temporal(12, DateTime(9999, 12, 31, 23, 59, 59, 999999))),
            R"("9999-12-31 23:59:59.999999")");
  EXPECT_EQ(Json(Temporal(12, DateTime(1, 2, 3, 4, 5, 6, 7))), R"("0001-02-03 04:05:06.000007")");
  // TIMESTAMP (7) prints as DATETIME.
  EXPECT_EQ(Json(Temporal(7, DateTime(1970, 1, 1, 0, 0, 1, 500000))),
            R"("1970-01-01 00:00:01.500000")");
  // TIME (11): sign, hours of two digits or more.
  EXPECT_EQ(Json(Temporal(11, Time(false, 12, 34, 56, 500000))), R"("12:34:56.500000")");
  EXPECT_EQ(Json(Temporal(11, Time(true, 838, 59, 59, 0))), R"("-838:59:59.000000")");
  EXPECT_EQ(Json(Temporal(11, Time(true, 0, 0, 0, 1))), R"("-00:00:00.000001")");
  EXPECT_EQ(Json(Temporal(11, 0)), R"("00:00:00.000000")");
  ExpectCorrupt(B({0x0f, 0x0c, 0x07, 0, 0, 0, 0, 0, 0, 0}));             // 7 bytes
  ExpectCorrupt(Temporal(12, DateTime(2015, 1, 15, 0, 0, 0, 1000000)));  // fraction > 999999
}

TEST(JsonBinaryTest, OpaqueOtherTypes) {
  // BIT (16) 0x01 and BLOB (252) "abc"; base64 from Python's base64 module.
  EXPECT_EQ(Json(B({0x0f, 0x10, 0x01, 0x01})), R"("base64:type16:AQ==")");
  EXPECT_EQ(Json(B({0x0f, 0xfc, 0x03, 'a', 'b', 'c'})), R"("base64:type252:YWJj")");
  EXPECT_EQ(Json(B({0x0f, 0xfc, 0x00})), R"("base64:type252:")");
  // VAR_STRING (253) is a string.
  EXPECT_EQ(Json(B({0x0f, 0xfd, 0x03, 'a', '"', 'c'})), R"("a\"c")");
  // 57 bytes = 76 characters: one line; 60 bytes: a line break after 76.
  std::string bytes;
  for (int i = 0; i < 60; ++i) bytes.push_back(static_cast<char>(i));
  const std::string line1 =
      "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4";
  EXPECT_EQ(Json(B({0x0f, 0xfc, 57}) + bytes.substr(0, 57)), "\"base64:type252:" + line1 + "\"");
  EXPECT_EQ(Json(B({0x0f, 0xfc, 60}) + bytes), "\"base64:type252:" + line1 + "\\nOTo7\"");
  ExpectCorrupt(B({0x0f}));                   // no field type
  ExpectCorrupt(B({0x0f, 0xfc}));             // no length
  ExpectCorrupt(B({0x0f, 0xfc, 0x03, 'a'}));  // 3 bytes promised
}

TEST(JsonBinaryTest, DepthLimitIs100Containers) {
  EXPECT_EQ(Json(Nested(1)), "[]");
  EXPECT_EQ(Json(Nested(3)), "[[[]]]");
  EXPECT_EQ(Json(Nested(100)), NestedText(100));
  ExpectCorrupt(Nested(101));
  ExpectCorrupt(Nested(1000));
}

TEST(JsonBinaryTest, EveryTruncationIsCorrupt) {
  const std::string docs[] = {
      kDocA,
      kDocB,
      kDocC,
      kDocD,
      Nested(5),
      B({0x04, 0x01}),
      B({0x0c, 0x02, 'h', 'i'}),
      B({0x09, 1, 2, 3, 4, 5, 6, 7, 8}),
      B({0x0f, 0xf6, 0x05, 0x05, 0x02, 0x80, 0x01, 0x32}),
      Temporal(12, DateTime(2015, 1, 15, 23, 24, 25, 0)),
  };
  for (const std::string& doc : docs) {
    std::string whole;
    ASSERT_TRUE(AppendJsonFromBinary(doc, &whole).ok());
    for (size_t n = 1; n < doc.size(); ++n) {
      SCOPED_TRACE(n);
      ExpectCorrupt(doc.substr(0, n));
    }
  }
}

TEST(JsonBinaryTest, OffsetsOutsideTheContainerAreCorrupt) {
  auto mutate = [](size_t i, int v) {
    std::string d = kDocA;
    d[i] = static_cast<char>(v);
    return d;
  };
  ExpectCorrupt(mutate(17, 0x1e));          // "b" at 30: the object's end
  ExpectCorrupt(mutate(17, 0xff));          // far outside
  ExpectCorrupt(mutate(17, 0x05));          // inside the header
  ExpectCorrupt(mutate(5, 0x02));           // key "a" inside the header
  ExpectCorrupt(mutate(11, 0x20));          // key "b" of 32 bytes
  ExpectCorrupt(mutate(1, 0x0a));           // 10 members cannot fit 30 bytes
  ExpectCorrupt(mutate(3, 0x1f));           // size 31, only 30 bytes left
  ExpectCorrupt(mutate(23, 0x0b));          // inner array of 11 bytes, 10 left in the object
  std::string literal7 = mutate(13, 0x04);  // "a": literal ...
  literal7[14] = 0x07;                      // ... 7
  ExpectCorrupt(literal7);
  ExpectCorrupt(B({0x0d, 0x00}));  // unknown type byte
  ExpectCorrupt(B({0x0e}));
  ExpectCorrupt(B({0x02, 0x01, 0x00, 0x08, 0x00, 0x0d, 0x07, 0x00, 0x00}));  // element type 0x0d
  // A large array claiming 2^32 - 1 elements in 8 bytes.
  ExpectCorrupt(B({0x03, 0xff, 0xff, 0xff, 0xff, 0x08, 0, 0, 0}));
}

TEST(JsonBinaryTest, OverlappingValuesCannotBlowUp) {
  // Every level is an array of two entries that both point at the same next
  // level (at 10): 2^40 leaves from ~400 bytes.
  std::string inner = B({0x00, 0x00, 0x04, 0x00});
  for (int i = 0; i < 40; ++i) {
    const int size = 10 + static_cast<int>(inner.size());
    inner = B({0x02, 0x00, size & 0xff, size >> 8, 0x02, 0x0a, 0x00, 0x02, 0x0a, 0x00}) + inner;
  }
  ExpectCorrupt("\x02" + inner);
}

// ---- ApplyJsonDiffs --------------------------------------------------------

// MySQL's net_store_length for the lengths used here.
std::string NetLength(size_t n) {
  if (n < 251) return B({static_cast<int>(n)});
  return B({0xfc, static_cast<int>(n & 0xff), static_cast<int>(n >> 8)});
}

std::string Diff(int op, std::string_view path, std::string_view value = {}) {
  std::string d = B({op}) + NetLength(path.size()) + std::string(path);
  if (op != 2) d += NetLength(value.size()) + std::string(value);
  return d;
}
constexpr int kReplace = 0, kInsert = 1, kRemove = 2;

std::string Apply(std::string_view before, std::string_view diffs) {
  std::string out;
  Status st = ApplyJsonDiffs(before, diffs, &out);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

void ExpectApplyCorrupt(std::string_view before, std::string_view diffs) {
  std::string out = "keep";
  Status st = ApplyJsonDiffs(before, diffs, &out);
  EXPECT_EQ(st.code(), Code::kCorruption) << st.ToString();
  EXPECT_EQ(out, "keep");
}

const std::string kStringX = B({0x0c, 0x01, 'x'});
const std::string kTrue = B({0x04, 0x01});
const std::string kNull = B({0x04, 0x00});
std::string Int16(int v) { return B({0x05, v & 0xff, (v >> 8) & 0xff}); }

TEST(JsonDiffTest, NoDiffsIsTheBeforeImage) {
  EXPECT_EQ(Apply(kDocA, ""), kDocAText);
  EXPECT_EQ(Apply("", ""), "null");
}

TEST(JsonDiffTest, Replace) {
  EXPECT_EQ(Apply(kDocA, Diff(kReplace, "$.a", kStringX)), R"({"a": "x", "b": [1, 2]})");
  EXPECT_EQ(Apply(kDocA, Diff(kReplace, "$.b[1]", kTrue)), R"({"a": 1, "b": [1, true]})");
  EXPECT_EQ(Apply(kDocA, Diff(kReplace, "$.b[last]", kTrue)), R"({"a": 1, "b": [1, true]})");
  EXPECT_EQ(Apply(kDocA, Diff(kReplace, "$.b", B({0x00, 0x00, 0x00, 0x04, 0x00}))),
            R"({"a": 1, "b": {}})");
  // An empty value is the JSON null.
  EXPECT_EQ(Apply(kDocA, Diff(kReplace, "$.a", "")), R"({"a": null, "b": [1, 2]})");
  EXPECT_EQ(Apply(kDocC, Diff(kReplace, "$[3]", kDocA)),
            R"([-7, 4000000000, -1, {"a": 1, "b": [1, 2]}, 300])");
}

TEST(JsonDiffTest, InsertMember) {
  EXPECT_EQ(Apply(kDocA, Diff(kInsert, "$.c", kNull)), R"({"a": 1, "b": [1, 2], "c": null})");
  // Keys sort by length first: "aa" after "b".
  EXPECT_EQ(Apply(kDocA, Diff(kInsert, "$.aa", Int16(5))), R"({"a": 1, "b": [1, 2], "aa": 5})");
  EXPECT_EQ(Apply(kDocA, Diff(kInsert, "$.A", Int16(5))), R"({"A": 5, "a": 1, "b": [1, 2]})");
  EXPECT_EQ(Apply(kDocD, Diff(kInsert, "$.key1", kTrue)),
            R"({"k": [], "key1": true, "key2": "v"})");
}

TEST(JsonDiffTest, InsertArrayCell) {
  EXPECT_EQ(Apply(kDocA, Diff(kInsert, "$.b[0]", Int16(0))), R"({"a": 1, "b": [0, 1, 2]})");
  EXPECT_EQ(Apply(kDocA, Diff(kInsert, "$.b[2]", Int16(3))), R"({"a": 1, "b": [1, 2, 3]})");
  EXPECT_EQ(Apply(kDocA, Diff(kInsert, "$.b[9]", Int16(3))), R"({"a": 1, "b": [1, 2, 3]})");
  // [last] is the last cell: the value goes before it.
  EXPECT_EQ(Apply(kDocA, Diff(kInsert, "$.b[last]", Int16(9))), R"({"a": 1, "b": [1, 9, 2]})");
  EXPECT_EQ(Apply(kDocD, Diff(kInsert, "$.k[0]", kStringX)), R"({"k": ["x"], "key2": "v"})");
}

TEST(JsonDiffTest, Remove) {
  EXPECT_EQ(Apply(kDocA, Diff(kRemove, "$.a")), R"({"b": [1, 2]})");
  EXPECT_EQ(Apply(kDocA, Diff(kRemove, "$.b[0]")), R"({"a": 1, "b": [2]})");
  EXPECT_EQ(Apply(kDocA, Diff(kRemove, "$.b[last]")), R"({"a": 1, "b": [1]})");
  EXPECT_EQ(Apply(kDocA, Diff(kRemove, "$.b[last-1]")), R"({"a": 1, "b": [2]})");
  EXPECT_EQ(Apply(kDocC, Diff(kRemove, "$[0]")), "[4000000000, -1, {}, 300]");
}

TEST(JsonDiffTest, SeveralDiffsApplyInOrder) {
  const std::string diffs = Diff(kInsert, "$.b[2]", Int16(3)) + Diff(kRemove, "$.a") +
                            Diff(kReplace, "$.b[0]", B({0x0c, 0x03, 'o', 'n', 'e'})) +
                            Diff(kInsert, "$.b[3]", kDocA);
  EXPECT_EQ(Apply(kDocA, diffs), R"({"b": ["one", 2, 3, {"a": 1, "b": [1, 2]}]})");
  // A later diff can go into a value an earlier diff inserted.
  EXPECT_EQ(Apply(kDocA, Diff(kInsert, "$.c", kDocA) + Diff(kRemove, "$.c.b[0]")),
            R"({"a": 1, "b": [1, 2], "c": {"a": 1, "b": [2]}})");
}

TEST(JsonDiffTest, QuotedMemberNames) {
  EXPECT_EQ(Apply(kDocA, Diff(kReplace, R"($."a")", kTrue)), R"({"a": true, "b": [1, 2]})");
  EXPECT_EQ(Apply(kDocA, Diff(kInsert, R"($."a b")", kNull)),
            R"({"a": 1, "b": [1, 2], "a b": null})");
  // "q\"\u00e9" is q, ", é (c3 a9): four bytes.
  EXPECT_EQ(Apply(kDocA, Diff(kInsert, R"($."q\"\u00e9")", kNull)),
            "{\"a\": 1, \"b\": [1, 2], \"q\\\"\xc3\xa9\": null}");
  // A surrogate pair: U+1F600 is f0 9f 98 80.
  EXPECT_EQ(Apply(kDocA, Diff(kInsert, R"($."\ud83d\ude00")", kNull)),
            "{\"a\": 1, \"b\": [1, 2], \"\xf0\x9f\x98\x80\": null}");
  EXPECT_EQ(Apply(kDocA, Diff(kInsert, " $ . c", kNull)), R"({"a": 1, "b": [1, 2], "c": null})");
}

TEST(JsonDiffTest, LongPathUsesTwoByteLength) {
  const std::string key(300, 'k');
  const std::string path = "$." + key;  // 302 bytes: fc 2e 01
  const std::string diff = Diff(kInsert, path, kTrue);
  ASSERT_EQ(diff.substr(1, 3), B({0xfc, 0x2e, 0x01}));
  EXPECT_EQ(Apply(kDocA, diff), R"({"a": 1, "b": [1, 2], ")" + key + R"(": true})");
}

TEST(JsonDiffTest, DiffsThatDoNotApplyAreCorrupt) {
  ExpectApplyCorrupt(kDocA, Diff(kReplace, "$.z", kTrue));     // no such member
  ExpectApplyCorrupt(kDocA, Diff(kReplace, "$.b[2]", kTrue));  // no such cell
  ExpectApplyCorrupt(kDocA, Diff(kInsert, "$.a", kTrue));      // member exists
  ExpectApplyCorrupt(kDocA, Diff(kInsert, "$.a.x", kTrue));    // parent is a number
  ExpectApplyCorrupt(kDocA, Diff(kInsert, "$.z.x", kTrue));    // no parent
  ExpectApplyCorrupt(kDocA, Diff(kInsert, "$[0]", kTrue));     // object is not an array
  ExpectApplyCorrupt(kDocA, Diff(kInsert, "$.b.x", kTrue));    // array is not an object
  ExpectApplyCorrupt(kDocA, Diff(kRemove, "$.z"));
  ExpectApplyCorrupt(kDocA, Diff(kRemove, "$.b[2]"));
  ExpectApplyCorrupt(kDocA, Diff(kRemove, "$.b[last-2]"));
  ExpectApplyCorrupt(kDocA, Diff(kReplace, "$", kTrue));  // MySQL never logs '$'
  ExpectApplyCorrupt("", Diff(kInsert, "$.a", kTrue));    // null has no members
  // The second diff fails after the first applied: still nothing written.
  ExpectApplyCorrupt(kDocA, Diff(kRemove, "$.a") + Diff(kRemove, "$.a"));
}

TEST(JsonDiffTest, MalformedDiffsAreCorrupt) {
  ExpectApplyCorrupt(kDocA, B({0x03}) + NetLength(3) + "$.a");  // operation 3
  ExpectApplyCorrupt(kDocA, B({0x02, 0xfb}));                   // NULL length
  ExpectApplyCorrupt(kDocA, B({0x02, 0xff}));
  for (const char* path : {"a", "", "$.", "$.*", "$[*]", "$**.a", "$[1 to 2]", "$[x]", "$[", "$[1",
                           R"($."a)", R"($."\q")", R"($."\ud83d")", "$[4294967296]"}) {
    SCOPED_TRACE(path);
    ExpectApplyCorrupt(kDocA, Diff(kRemove, path));
  }
  // A corrupt value or before-image.
  ExpectApplyCorrupt(kDocA, Diff(kReplace, "$.a", B({0x0d})));
  ExpectApplyCorrupt(kDocA.substr(0, 20), Diff(kRemove, "$.a"));
  ExpectApplyCorrupt(kDocA.substr(0, 20), "");
}

TEST(JsonDiffTest, EveryTruncationOfTheDiffsIsCorrupt) {
  const std::string d1 = Diff(kReplace, "$.a", kStringX);
  const std::string d2 = Diff(kRemove, "$.b[0]");
  const std::string diffs = d1 + d2;
  EXPECT_EQ(Apply(kDocA, diffs), R"({"a": "x", "b": [2]})");
  for (size_t n = 1; n < diffs.size(); ++n) {
    if (n == d1.size()) continue;  // a whole first diff
    SCOPED_TRACE(n);
    ExpectApplyCorrupt(kDocA, diffs.substr(0, n));
  }
}

TEST(JsonDiffTest, DepthLimitCountsTheWholeDocument) {
  // kDocA's object and "b" are two levels; 98 more are fine, 99 are not.
  EXPECT_EQ(Apply(kDocA, Diff(kInsert, "$.b[0]", Nested(98))),
            R"({"a": 1, "b": [)" + NestedText(98) + ", 1, 2]}");
  ExpectApplyCorrupt(kDocA, Diff(kInsert, "$.b[0]", Nested(99)));
}

}  // namespace
}  // namespace sluice::binlog
