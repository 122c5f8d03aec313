#include "broker/ingest/record_buffer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "proto/record.pb.h"

namespace sluice::ingest {
namespace {

proto::ChangeRecord Row(int i) {
  proto::ChangeRecord r;
  r.set_db("shop");
  r.set_table("orders");
  r.set_ts(1700000000 + i);
  r.set_gtid(std::string(static_cast<size_t>(i % 50), 'g'));
  return r;
}

TEST(RecordBufferTest, MessagesReadBackAsProtobufWroteThem) {
  RecordBuffer b;
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(b.AppendMessage(Row(i)));
  ASSERT_EQ(b.count(), 500u);
  size_t total = 0;
  for (int i = 0; i < 500; ++i) {
    EXPECT_EQ(b.record(static_cast<size_t>(i)), Row(i).SerializeAsString()) << i;
    total += b.record(static_cast<size_t>(i)).size();
  }
  EXPECT_EQ(b.bytes(), total + 500 * RecordBuffer::kPrefix);
}

// The framed view is a log block's raw form (storage/log_format.h): each
// record behind its length, 4 bytes little-endian, written out by hand here.
TEST(RecordBufferTest, FramedRecordsCarryTheirLengths) {
  RecordBuffer b;
  b.Append("ab");
  b.Append("c");  // two pieces, one record
  b.EndRecord();
  b.EndRecord();  // an empty record
  std::memcpy(b.Extend(3), "xyz", 3);
  b.EndRecord();
  b.Append("open");  // not finished: not in any view
  ASSERT_EQ(b.count(), 3u);
  EXPECT_EQ(b.record(0), "abc");
  EXPECT_EQ(b.record(1), "");
  EXPECT_EQ(b.record(2), "xyz");
  const std::string all("\x03\0\0\0abc\0\0\0\0\x03\0\0\0xyz", 18);
  EXPECT_EQ(b.framed(0, 3), all);
  EXPECT_EQ(b.framed(1, 2), all.substr(7));
  EXPECT_EQ(b.bytes(), all.size());
  b.EndRecord();
  EXPECT_EQ(b.record(3), "open");
  // A record longer than 255 bytes: the length's other bytes.
  b.Append(std::string(300, 'q'));
  b.EndRecord();
  EXPECT_EQ(b.framed(4, 1).substr(0, 4), std::string("\x2c\x01\0\0", 4));
}

TEST(RecordBufferTest, ClearKeepsSmallMemoryAndFreesLarge) {
  RecordBuffer b;
  b.Append(std::string(10000, 'x'));
  b.EndRecord();
  const size_t cap = b.capacity();
  ASSERT_GE(cap, 10000u);
  b.Clear(1 << 20);
  EXPECT_EQ(b.count(), 0u);
  EXPECT_EQ(b.capacity(), cap);
  b.Clear(1000);
  EXPECT_EQ(b.capacity(), 0u);
  b.Append("after");
  b.EndRecord();
  EXPECT_EQ(b.record(0), "after");
}

}  // namespace
}  // namespace sluice::ingest
