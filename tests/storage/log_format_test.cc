#include "storage/log_format.h"

#include <gtest/gtest.h>

#include <vector>

namespace sluice::log_format {
namespace {

std::string Encode(const BatchHeader& h, std::string_view cp, const std::vector<std::string>& recs) {
  std::string out;
  EncodeBatch(h, cp, recs, &out);
  return out;
}

BatchHeader Header(uint64_t base, uint32_t count, bool end) {
  BatchHeader h;
  h.base_offset = Offset(base);
  h.record_count = count;
  h.flags = end ? kTxnEnd : 0;
  h.epoch = 3;
  h.append_time_ms = 1700000000123;
  h.max_source_ts = 1700000000;
  h.bytes_before = 4096;
  return h;
}

TEST(LogFormat, RoundTrip) {
  std::vector<std::string> recs = {"a", "", std::string(300, 'x'), "last"};
  std::string value = Encode(Header(77, 4, true), "ckpt", recs);
  auto b = DecodeBatch(BatchKey(Offset(77)), value);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->header.base_offset, Offset(77));
  EXPECT_EQ(b->header.record_count, 4u);
  EXPECT_TRUE(b->header.txn_end());
  EXPECT_EQ(b->header.epoch, 3u);
  EXPECT_EQ(b->header.append_time_ms, 1700000000123);
  EXPECT_EQ(b->header.bytes_before, 4096u);
  EXPECT_EQ(b->checkpoint, "ckpt");
  EXPECT_EQ(b->encoded_size, value.size());
  RecordIterator it(*b);
  std::vector<std::string> got;
  for (std::string_view r; it.Next(&r);) got.emplace_back(r);
  EXPECT_EQ(got, recs);
  // Header layout as documented in log_format.h.
  EXPECT_EQ(value[4], 1);
  EXPECT_EQ(static_cast<uint8_t>(value[8]), 77);
}

TEST(LogFormat, EveryFlippedBitIsDetected) {
  std::string value = Encode(Header(5, 2, false), "", {"hello", "world"});
  for (size_t i = 0; i < value.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = value;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      auto b = DecodeBatch(BatchKey(Offset(5)), bad);
      EXPECT_FALSE(b.ok()) << "byte " << i << " bit " << bit;
      if (!b.ok()) {
        EXPECT_EQ(b.status().code(), Code::kCorruption);
      }
    }
  }
}

TEST(LogFormat, RejectsTruncationAndMisplacement) {
  std::string value = Encode(Header(5, 2, false), "", {"hello", "world"});
  for (size_t n = 0; n < value.size(); ++n) {
    EXPECT_FALSE(DecodeBatch(BatchKey(Offset(5)), value.substr(0, n)).ok()) << n;
  }
  auto moved = DecodeBatch(BatchKey(Offset(6)), value);
  ASSERT_FALSE(moved.ok());
  EXPECT_NE(moved.status().message().find("batch at offset 6"), std::string::npos);
  EXPECT_FALSE(DecodeBatch("short", value).ok());
}

}  // namespace
}  // namespace sluice::log_format
