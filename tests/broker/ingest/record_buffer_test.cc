#include "broker/ingest/record_buffer.h"

#include <gtest/gtest.h>

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
  EXPECT_EQ(b.bytes(), total);
}

TEST(RecordBufferTest, DropFrontKeepsTheRestAndARecordInProgress) {
  RecordBuffer b;
  for (int i = 0; i < 10; ++i) b.Append("rec" + std::to_string(i)), b.EndRecord();
  b.Append("partial");
  b.DropFront(7);
  ASSERT_EQ(b.count(), 3u);
  EXPECT_EQ(b.record(0), "rec7");
  EXPECT_EQ(b.record(2), "rec9");
  b.EndRecord();
  EXPECT_EQ(b.record(3), "partial");
  std::memcpy(b.ExtendLastRecord(2), "!!", 2);
  EXPECT_EQ(b.record(3), "partial!!");
  EXPECT_EQ(std::string_view(b.Tail(3), 3), "l!!");
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
