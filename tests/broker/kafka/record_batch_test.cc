// RecordBatch v2 and the protocol's primitives, checked against the
// protocol guide's definitions rather than our own encoder: the header's
// field offsets (DefaultRecordBatch), a bitwise CRC-32C written here from
// its definition (reflected polynomial 0x82F63B78), the zigzag varints of
// the guide's examples, and a Reader that refuses every truncation.
#include "broker/kafka/record_batch.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

#include "broker/kafka/wire.h"

namespace sluice::kafka {
namespace {

uint32_t BitwiseCrc32c(std::string_view s) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char ch : s) {
    crc ^= ch;
    for (int k = 0; k < 8; ++k) crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
  }
  return ~crc;
}

uint64_t Big(const std::string& s, size_t at, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = v << 8 | static_cast<uint8_t>(s[at + i]);
  return v;
}

TEST(Crc32c, KnownCheckValue) {
  // The CRC-32C check value (RFC 3720, B.4): "123456789" -> 0xE3069283.
  EXPECT_EQ(BitwiseCrc32c("123456789"), 0xe3069283u);
}

TEST(RecordBatch, HeaderFieldsAndCrcAsTheGuideDefinesThem) {
  std::string out = "prefix";
  BatchBuilder b(&out, /*base_offset=*/1000, /*leader_epoch=*/3);
  Header h[2] = {{"db", "shop"}, {"op", "insert"}};
  b.Add(1764000000000, std::string_view("{\"id\":1}"), "v1", h, 2);
  b.Add(1764000002000, std::nullopt, "v2", h, 1);
  b.Add(1764000001000, std::string_view("k"), "", nullptr, 0);
  b.Finish();
  const size_t at = 6;
  const std::string batch = out.substr(at);
  EXPECT_EQ(Big(batch, 0, 8), 1000u);                             // base offset
  EXPECT_EQ(Big(batch, 8, 4), batch.size() - 12);                 // length after the field
  EXPECT_EQ(Big(batch, 12, 4), 3u);                               // partition leader epoch
  EXPECT_EQ(batch[16], 2);                                        // magic
  EXPECT_EQ(Big(batch, 17, 4), BitwiseCrc32c(batch.substr(21)));  // CRC from attributes on
  EXPECT_EQ(Big(batch, 21, 2), 0u);                               // attributes
  EXPECT_EQ(Big(batch, 23, 4), 2u);                               // last offset delta
  EXPECT_EQ(Big(batch, 27, 8), 1764000000000u);                   // first timestamp
  EXPECT_EQ(Big(batch, 35, 8), 1764000002000u);                   // max timestamp
  EXPECT_EQ(Big(batch, 43, 8), UINT64_MAX);                       // producer id -1
  EXPECT_EQ(Big(batch, 51, 2), 0xffffu);                          // producer epoch -1
  EXPECT_EQ(Big(batch, 53, 4), 0xffffffffu);                      // base sequence -1
  EXPECT_EQ(Big(batch, 57, 4), 3u);                               // records

  // The records, read by the guide's layout.
  size_t pos = BatchBuilder::kHeaderBytes;
  int64_t v = 0;
  for (int r = 0; r < 3; ++r) {
    ASSERT_TRUE(ReadVarint(batch, &pos, &v));
    const size_t end = pos + static_cast<size_t>(v);
    EXPECT_EQ(batch[pos++], 0);  // attributes
    ASSERT_TRUE(ReadVarint(batch, &pos, &v));
    EXPECT_EQ(v, r == 0 ? 0 : r == 1 ? 2000 : 1000);  // timestamp delta
    ASSERT_TRUE(ReadVarint(batch, &pos, &v));
    EXPECT_EQ(v, r);  // offset delta
    ASSERT_TRUE(ReadVarint(batch, &pos, &v));
    if (r == 1) {
      EXPECT_EQ(v, -1);  // null key
    } else {
      EXPECT_EQ(batch.substr(pos, static_cast<size_t>(v)), r == 0 ? "{\"id\":1}" : "k");
      pos += static_cast<size_t>(v);
    }
    ASSERT_TRUE(ReadVarint(batch, &pos, &v));
    EXPECT_EQ(batch.substr(pos, static_cast<size_t>(v)), r == 0 ? "v1" : r == 1 ? "v2" : "");
    pos += static_cast<size_t>(v);
    ASSERT_TRUE(ReadVarint(batch, &pos, &v));
    EXPECT_EQ(v, r == 0 ? 2 : r == 1 ? 1 : 0);  // headers
    for (int64_t i = 0; i < v; ++i) {
      int64_t n = 0;
      ASSERT_TRUE(ReadVarint(batch, &pos, &n));
      EXPECT_EQ(batch.substr(pos, static_cast<size_t>(n)), h[i].key);
      pos += static_cast<size_t>(n);
      ASSERT_TRUE(ReadVarint(batch, &pos, &n));
      EXPECT_EQ(batch.substr(pos, static_cast<size_t>(n)), h[i].value);
      pos += static_cast<size_t>(n);
    }
    EXPECT_EQ(pos, end) << "record " << r;
  }
  EXPECT_EQ(pos, batch.size());
}

TEST(RecordBatch, NextRecordSizeIsWhatAddAppends) {
  std::string out;
  BatchBuilder b(&out, 0, 0);
  const std::string table(200, 't');  // outlives the header's view of it
  Header h[1] = {{"table", table}};
  for (int i = 0; i < 50; ++i) {
    const std::string value(static_cast<size_t>(i * 37), 'x');
    const int64_t ts = 1764000000000 + i * 999999;
    const size_t want =
        b.NextRecordSize(ts, i % 3 ? std::optional<size_t>(5) : std::nullopt, value.size(), h, 1);
    const size_t before = b.size();
    b.Add(ts, i % 3 ? std::optional<std::string_view>("abcde") : std::nullopt, value, h, 1);
    EXPECT_EQ(b.size() - before, want) << "record " << i;
  }
}

TEST(Varint, ZigzagAsTheGuideShowsIt) {
  // The protocol guide's zigzag table: 0->0, -1->1, 1->2, -2->3, 2147483647 ->
  // 4294967294, -2147483648 -> 4294967295; then base 128, low group first.
  const std::pair<int64_t, std::string> cases[] = {
      {0, std::string(1, '\x00')},
      {-1, std::string(1, '\x01')},
      {1, std::string(1, '\x02')},
      {-2, std::string(1, '\x03')},
      {63, std::string(1, '\x7e')},
      {64, std::string("\x80\x01", 2)},
      {2147483647, std::string("\xfe\xff\xff\xff\x0f", 5)},
      {-2147483648LL, std::string("\xff\xff\xff\xff\x0f", 5)},
  };
  for (const auto& [v, bytes] : cases) {
    std::string out;
    AppendVarint(v, &out);
    EXPECT_EQ(out, bytes) << v;
    EXPECT_EQ(VarintSize(v), bytes.size()) << v;
    size_t pos = 0;
    int64_t back = 0;
    ASSERT_TRUE(ReadVarint(out, &pos, &back));
    EXPECT_EQ(back, v);
  }
  size_t pos = 0;
  int64_t v = 0;
  EXPECT_FALSE(ReadVarint(std::string("\x80\x80", 2), &pos, &v));  // ends inside
  pos = 0;
  EXPECT_FALSE(ReadVarint(std::string(11, '\x80'), &pos, &v));  // longer than 10 bytes
}

TEST(Reader, RefusesEveryTruncationAndNamesTheField) {
  std::string req;
  Writer w(&req);
  w.Int16(1);
  w.Int32(2);
  w.String("topic");
  w.NullableString(std::nullopt);
  w.Bytes("xyz");
  w.ArrayCount(2);
  w.Int64(7);
  w.Int64(8);
  for (size_t cut = 0; cut < req.size(); ++cut) {
    Reader r(std::string_view(req).substr(0, cut));
    r.Int16();
    r.Int32();
    r.String("a topic");
    r.NullableString("a nullable");
    r.Bytes("some bytes");
    const int32_t n = r.ArrayCount(8, "offsets");
    for (int32_t i = 0; i < n; ++i) r.Int64();
    EXPECT_FALSE(r.ok()) << "cut at " << cut;
    EXPECT_FALSE(r.error().empty());
  }
  Reader whole(req);
  EXPECT_EQ(whole.Int16(), 1);
  EXPECT_EQ(whole.Int32(), 2);
  EXPECT_EQ(whole.String("t"), "topic");
  EXPECT_FALSE(whole.NullableString("n").has_value());
  EXPECT_EQ(whole.Bytes("b"), "xyz");
  EXPECT_EQ(whole.ArrayCount(8, "offsets"), 2);
  EXPECT_EQ(whole.Int64(), 7);
  EXPECT_EQ(whole.Int64(), 8);
  EXPECT_TRUE(whole.ok());
  EXPECT_EQ(whole.remaining(), 0u);
}

TEST(Reader, AnArrayCountTheInputCannotHoldIsRefused) {
  std::string req;
  Writer w(&req);
  w.ArrayCount(1000000);  // a million elements of at least 6 bytes, in 10
  req.append(10, 'x');
  Reader r(req);
  EXPECT_EQ(r.ArrayCount(6, "topics"), 0);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error().find("topics"), std::string::npos) << r.error();

  std::string neg;
  Writer(&neg).Int16(-5);
  Reader s(neg);
  s.String("client_id");
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace sluice::kafka
