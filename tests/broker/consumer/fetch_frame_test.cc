// The hand-encoded Fetch answer against protobuf's own serializer: same
// bytes, and protobuf parses them back to the same records.
#include "broker/consumer/fetch_frame.h"

#include <gtest/gtest.h>

#include "proto/frame.h"
#include "proto/protocol.pb.h"

namespace sluice::consumer {
namespace {

// What protobuf writes for the same answer, framed.
std::string Reference(uint64_t id, const RecordSet& set) {
  proto::Response r;
  r.set_id(id);
  proto::FetchResponse* f = r.mutable_fetch();
  for (const auto& rec : set.records) {
    proto::LogRecord* lr = f->add_records();
    lr->set_offset(rec.offset.value());
    lr->set_record(std::string(rec.data));
  }
  f->set_next_offset(set.next_offset.value());
  f->set_high_watermark(set.high_watermark.value());
  std::string out;
  EXPECT_TRUE(frame::Append(r, &out).ok());
  return out;
}

void ExpectSameAsProtobuf(uint64_t id, const RecordSet& set) {
  std::string got = "prefix";  // appends, keeping what is there
  AppendFetchFrame(id, set, &got);
  ASSERT_EQ(got.substr(0, 6), "prefix");
  got.erase(0, 6);
  EXPECT_EQ(got, Reference(id, set));
  proto::Response back;
  ASSERT_TRUE(back.ParseFromString(got.substr(4)));
  EXPECT_EQ(back.id(), id);
  ASSERT_TRUE(back.has_fetch());
  ASSERT_EQ(back.fetch().records_size(), static_cast<int>(set.records.size()));
  for (size_t i = 0; i < set.records.size(); ++i) {
    EXPECT_EQ(back.fetch().records(i).offset(), set.records[i].offset.value());
    EXPECT_EQ(back.fetch().records(i).record(), set.records[i].data);
  }
  EXPECT_EQ(back.fetch().next_offset(), set.next_offset.value());
  EXPECT_EQ(back.fetch().high_watermark(), set.high_watermark.value());
}

TEST(FetchFrame, EmptyAnswerStillSaysFetch) {
  RecordSet set;
  ExpectSameAsProtobuf(0, set);  // every scalar zero
  set.next_offset = Offset(7);
  set.high_watermark = Offset(7);
  ExpectSameAsProtobuf(5, set);
}

TEST(FetchFrame, RecordsOfEverySize) {
  RecordSet set;
  // Offset 0 and an empty record are left out by proto3; sizes cross the
  // 1-, 2- and 3-byte varint lengths.
  const size_t sizes[] = {0, 1, 127, 128, 16383, 16384, 200, 70000};
  uint64_t offset = 0;
  for (size_t n : sizes) {
    std::string bytes(n, static_cast<char>('a' + n % 26));
    set.records.push_back({Offset(offset), set.Keep(bytes)});
    offset = offset * 300 + 1;  // varint widths of the offset grow too
  }
  set.records.push_back({Offset(UINT64_MAX - 1), set.Keep("last")});
  set.next_offset = Offset(UINT64_MAX);
  set.high_watermark = Offset(1ull << 40);
  ExpectSameAsProtobuf(UINT64_MAX, set);
  ExpectSameAsProtobuf(1, set);
}

}  // namespace
}  // namespace sluice::consumer
