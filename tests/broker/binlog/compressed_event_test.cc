// MariaDB's compressed binlog events (log_bin_compress=ON), on event bytes
// built by hand from MariaDB's sql/log_event.cc (binlog_buf_compress,
// query_event_uncompress, row_log_event_uncompress) and the Format
// description post-header table of Format_description_log_event: each
// compressed event is decoded next to the uncompressed event it stands for,
// and both must give the same records, which must hold the values put in.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "broker/binlog/compressed_event.h"
#include "broker/binlog/decoder.h"
#include "broker/binlog/event.h"
#include "tests/support/binlog_bytes.h"
#include "tests/support/record_collector.h"
#include "tests/support/row_encoding_check.h"

namespace sluice::binlog {
namespace {

using sluice::testing::B;
using sluice::testing::Le;
using sluice::testing::Packed;
using sluice::testing::Str;
using sluice::testing::Tlv;

constexpr uint8_t T(EventType t) { return static_cast<uint8_t>(t); }
constexpr uint32_t kTime = 1700000000;
constexpr std::string_view kFile = "mariadb-bin.000001";

uint32_t Crc(std::string_view s) {
  return static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

std::string Event(uint8_t type, std::string_view body, uint32_t log_pos) {
  const size_t size = kHeaderSize + body.size() + kChecksumSize;
  std::string e = Le(kTime, 4) + Le(type, 1) + Le(1, 4) + Le(size, 4) + Le(log_pos, 4) + Le(0, 2) +
                  std::string(body);
  return e + Le(Crc(e), 4);
}

// MariaDB 10.11's FORMAT_DESCRIPTION: post-header lengths for types 1..171
// (QUERY and QUERY_COMPRESSED 13, TABLE_MAP 8, rows v1 and *_COMPRESSED_V1
// 8, rows v2 and *_COMPRESSED 10, GTID 19), CRC32.
std::string MariaFde() {
  std::string lens(171, '\0');
  auto set = [&](EventType t, int n) { lens[T(t) - 1] = static_cast<char>(n); };
  set(EventType::kQuery, 13);
  set(EventType::kRotate, 8);
  set(EventType::kTableMap, 8);
  for (int t = 23; t <= 25; ++t) lens[t - 1] = 8;
  for (int t = 30; t <= 32; ++t) lens[t - 1] = 10;
  set(EventType::kMariaGtid, 19);
  set(EventType::kQueryCompressed, 13);
  for (int t = 166; t <= 168; ++t) lens[t - 1] = 8;
  for (int t = 169; t <= 171; ++t) lens[t - 1] = 10;
  std::string v = "10.11.6-MariaDB-log";
  v.resize(50, '\0');
  std::string body = Le(4, 2) + v + Le(kTime, 4) + Le(kHeaderSize, 1) + lens + Le(1, 1);
  return Event(T(EventType::kFormatDescription), body, 4 + 19 + body.size() + 4);
}

// binlog_buf_compress: 0x80 | n, the length in n bytes most significant
// first (n the fewest bytes that hold it), then compress()'s zlib stream.
std::string Compressed(std::string_view plain) {
  const uint32_t len = static_cast<uint32_t>(plain.size());
  int n = len > 0xffffff ? 4 : len > 0xffff ? 3 : len > 0xff ? 2 : 1;
  std::string out(1, static_cast<char>(0x80 | n));
  for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<char>(len >> (8 * i)));
  uLongf size = compressBound(len);
  std::string z(size, '\0');
  EXPECT_EQ(compress(reinterpret_cast<Bytef*>(z.data()), &size,
                     reinterpret_cast<const Bytef*>(plain.data()), len),
            Z_OK);
  z.resize(size);
  return out + z;
}

// QUERY post-header and status: thread id, exec time, db length, error,
// status length, Q_FLAGS2_CODE with 4 bytes; then db and NUL.
std::string QueryHead(std::string_view db) {
  const std::string status = B({0x00, 0, 0, 0, 0});
  return Le(9, 4) + Le(0, 4) + Le(db.size(), 1) + Le(0, 2) + Le(status.size(), 2) + status +
         std::string(db) + '\0';
}

// MariaDB GTID 0-1-seq; flags2 0x01 = standalone (DDL), else a transaction.
std::string GtidBody(uint64_t seq, bool standalone) {
  return Le(seq, 8) + Le(0, 4) + Le(standalone ? 1 : 0, 1) + std::string(6, '\0');
}

// shop.notes (id INT NOT NULL, note VARCHAR(1000) utf8mb4), table id 40, FULL metadata.
constexpr uint64_t kNotesId = 40;
std::string NotesMap() {
  return Le(kNotesId, 6) + Le(1, 2) + "\x04shop" + '\0' + "\x05notes" + '\0' + Packed(2) +
         B({0x03, 0x0f}) + Packed(2) + Le(4000, 2) + B({0x02}) + Tlv(1, B({0x00})) +
         Tlv(2, Packed(45)) + Tlv(4, Str("id") + Str("note"));
}
// One row image of notes: null bits, id, 2-byte length (max 4000 bytes), text.
std::string NotesRow(uint32_t id, std::string_view note) {
  return B({0x00}) + Le(id, 4) + Le(note.size(), 2) + std::string(note);
}

using Collector = testing::RecordCollector;

// One binlog: the events given as (type, body), each with log_pos and CRC.
struct Stream {
  std::vector<std::string> events;
  uint64_t pos = 4;
  void Add(uint8_t type, std::string_view body) {
    const uint64_t size = kHeaderSize + body.size() + kChecksumSize;
    events.push_back(Event(type, body, static_cast<uint32_t>(pos + size)));
    pos += size;
  }
};

Status DecodeAll(const std::vector<std::string>& events, Collector* sink) {
  Decoder decoder{DecoderOptions{}};
  uint64_t pos = 4;
  Status st = decoder.Decode(RawEvent{MariaFde(), kFile, pos}, sink);
  pos += MariaFde().size();
  for (const auto& e : events) {
    if (!st.ok()) return st;
    st = decoder.Decode(RawEvent{e, kFile, pos}, sink);
    pos += e.size();
  }
  return st;
}

// A workload as MariaDB would log it, plain and with log_bin_compress=ON:
// a DDL, then a transaction with a long insert (rows > 256 bytes: a 2-byte
// length), an update and a delete.
struct Workload {
  Stream plain, compressed;
  std::string long_note = std::string(300, 'x') + "end";
  std::string ddl = "CREATE TABLE notes (id INT NOT NULL, note VARCHAR(1000))";

  Workload(EventType write, EventType update, EventType del, bool v2) {
    for (Stream* s : {&plain, &compressed}) s->Add(T(EventType::kMariaGtid), GtidBody(1, true));
    plain.Add(T(EventType::kQuery), QueryHead("shop") + ddl);
    compressed.Add(T(EventType::kQueryCompressed), QueryHead("shop") + Compressed(ddl));
    for (Stream* s : {&plain, &compressed}) {
      s->Add(T(EventType::kMariaGtid), GtidBody(2, false));
      s->Add(T(EventType::kTableMap), NotesMap());
    }
    const std::string head = Le(kNotesId, 6) + Le(1, 2) + (v2 ? Le(2, 2) : "");
    const std::string one = Packed(2) + B({0x03});
    const std::string two = one + B({0x03});
    const std::string ins = NotesRow(1, long_note) + NotesRow(2, "short");
    const std::string upd = NotesRow(2, "short") + NotesRow(2, "changed");
    const std::string dl = NotesRow(1, long_note);
    const EventType pw = v2 ? EventType::kWriteRowsV2 : EventType::kWriteRowsV1;
    const EventType pu = v2 ? EventType::kUpdateRowsV2 : EventType::kUpdateRowsV1;
    const EventType pd = v2 ? EventType::kDeleteRowsV2 : EventType::kDeleteRowsV1;
    plain.Add(T(pw), head + one + ins);
    compressed.Add(T(write), head + one + Compressed(ins));
    plain.Add(T(pu), head + two + upd);
    compressed.Add(T(update), head + two + Compressed(upd));
    plain.Add(T(pd), head + one + dl);
    compressed.Add(T(del), head + one + Compressed(dl));
    for (Stream* s : {&plain, &compressed}) s->Add(T(EventType::kXid), Le(77, 8));
  }
};

void ExpectWorkloadRecords(const Workload& w, const Collector& c) {
  ASSERT_EQ(c.records.size(), 5u);
  EXPECT_EQ(c.records[0].op(), proto::OP_DDL);
  EXPECT_EQ(c.records[0].sql(), w.ddl);
  EXPECT_EQ(c.records[0].db(), "shop");
  EXPECT_EQ(c.records[1].op(), proto::OP_INSERT);
  ASSERT_EQ(c.records[1].after_size(), 2);
  EXPECT_EQ(c.records[1].after(0).value().int64(), 1);
  EXPECT_EQ(c.records[1].after(1).name(), "note");
  EXPECT_EQ(c.records[1].after(1).value().text(), w.long_note);
  EXPECT_EQ(c.records[2].after(1).value().text(), "short");
  EXPECT_EQ(c.records[3].op(), proto::OP_UPDATE);
  EXPECT_EQ(c.records[3].before(1).value().text(), "short");
  EXPECT_EQ(c.records[3].after(1).value().text(), "changed");
  EXPECT_EQ(c.records[4].op(), proto::OP_DELETE);
  EXPECT_EQ(c.records[4].before(1).value().text(), w.long_note);
  ASSERT_EQ(c.ends.size(), 2u);
  EXPECT_EQ(c.ends[0].gtid, "0-1-1");
  EXPECT_EQ(c.ends[1].gtid, "0-1-2");
}

void CheckWorkload(EventType write, EventType update, EventType del, bool v2) {
  Workload w(write, update, del, v2);
  Collector plain, compressed;
  ASSERT_TRUE(DecodeAll(w.plain.events, &plain).ok());
  Status st = DecodeAll(w.compressed.events, &compressed);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ExpectWorkloadRecords(w, plain);
  ExpectWorkloadRecords(w, compressed);
  // Equal but for the positions: the events have other sizes.
  ASSERT_EQ(plain.records.size(), compressed.records.size());
  for (size_t i = 0; i < plain.records.size(); ++i) {
    plain.records[i].clear_pos();
    compressed.records[i].clear_pos();
    EXPECT_EQ(plain.records[i].SerializeAsString(), compressed.records[i].SerializeAsString())
        << "record " << i;
  }
  EXPECT_TRUE(compressed.warnings.empty());
}

TEST(CompressedEvents, RowsV1AsMariaDbWritesThemDecodeAsUncompressed) {
  CheckWorkload(EventType::kWriteRowsCompressedV1, EventType::kUpdateRowsCompressedV1,
                EventType::kDeleteRowsCompressedV1, false);
}

TEST(CompressedEvents, RowsV2TypesWithTheirExtraDataDecodeAsRowsV2) {
  CheckWorkload(EventType::kWriteRowsCompressedV2, EventType::kUpdateRowsCompressedV2,
                EventType::kDeleteRowsCompressedV2, true);
}

// The ingest workers' path (EncodeAction) over a plan made from a
// compressed rows event gives protobuf's bytes of DecodeAction's records.
TEST(CompressedEvents, WireEncodingMatchesProtobufForInflatedRows) {
  Workload w(EventType::kWriteRowsCompressedV1, EventType::kUpdateRowsCompressedV1,
             EventType::kDeleteRowsCompressedV1, false);
  Decoder decoder{DecoderOptions{}};
  EventPlan plan;
  plan.file = std::string(kFile);
  ASSERT_TRUE(decoder.Plan(RawEvent{MariaFde(), kFile, 4}, &plan).ok());
  size_t rows_actions = 0;
  for (const auto& e : w.compressed.events) {
    plan.Clear();
    Status st = decoder.Plan(RawEvent{e, kFile, 100}, &plan);
    ASSERT_TRUE(st.ok()) << st.ToString();
    for (size_t i = 0; i < plan.size; ++i) {
      if (plan.actions[i].kind != EventPlan::Action::kRows) continue;
      ++rows_actions;
      EXPECT_EQ(sluice::testing::CompareRowEncodings(plan.actions[i], kFile, true), "");
    }
  }
  EXPECT_EQ(rows_actions, 3u);
}

// ---- damaged and lying events ---------------------------------------------

struct Bad {
  const char* what;
  std::string compressed_part;
  const char* error;  // a part of the expected message
};

std::vector<Bad> BadParts() {
  const std::string rows = NotesRow(1, "hello");
  const std::string good = Compressed(rows);
  std::string flipped = good;
  flipped[4] = static_cast<char>(flipped[4] ^ 0x55);
  std::string longer = good;
  longer[1] = static_cast<char>(rows.size() + 1);  // announces one byte more
  std::string shorter = good;
  shorter[1] = static_cast<char>(rows.size() - 1);
  return {
      {"empty", "", "no compressed part"},
      {"no flag", "\x01" + good.substr(1), "0x80"},
      {"algorithm 1", "\x91" + good.substr(1), "algorithm 1"},
      {"length of 0 bytes", "\x80" + good.substr(1), "length of 0 bytes"},
      {"length of 5 bytes", "\x85" + good.substr(1), "length of 5 bytes"},
      {"length truncated", B({0x84, 0x00, 0x01}), "truncated in the uncompressed length"},
      {"length 0", B({0x81, 0x00}) + good.substr(2), "length 0"},
      {"over 1 GiB", B({0x84, 0x40, 0x00, 0x00, 0x01}) + good.substr(2), "beyond any event"},
      {"beyond zlib's ratio", B({0x84, 0x01, 0x00, 0x00, 0x00}) + good.substr(2), "can hold"},
      {"damaged stream", flipped, "zlib"},
      {"announces more", longer, "announces"},
      {"announces less", shorter, "more than the announced"},
      {"truncated stream", good.substr(0, good.size() - 3), "truncated"},
      {"trailing bytes", good + "zz", "after the end of the zlib stream"},
  };
}

TEST(CompressedEvents, DamagedOrLyingCompressedRowsAreCorruption) {
  for (const Bad& b : BadParts()) {
    Stream s;
    s.Add(T(EventType::kMariaGtid), GtidBody(2, false));
    s.Add(T(EventType::kTableMap), NotesMap());
    s.Add(T(EventType::kWriteRowsCompressedV1),
          Le(kNotesId, 6) + Le(1, 2) + Packed(2) + B({0x03}) + b.compressed_part);
    Collector c;
    Status st = DecodeAll(s.events, &c);
    EXPECT_TRUE((st.code() == Code::kCorruption)) << b.what << ": " << st.ToString();
    EXPECT_NE(st.ToString().find(b.error), std::string::npos) << b.what << ": " << st.ToString();
    EXPECT_NE(st.ToString().find("WRITE_ROWS_COMPRESSED_V1"), std::string::npos) << st.ToString();
    EXPECT_TRUE(c.records.empty()) << b.what;
  }
}

TEST(CompressedEvents, DamagedCompressedQueryIsCorruption) {
  for (const Bad& b : BadParts()) {
    Stream s;
    s.Add(T(EventType::kQueryCompressed), QueryHead("shop") + b.compressed_part);
    Collector c;
    Status st = DecodeAll(s.events, &c);
    EXPECT_TRUE((st.code() == Code::kCorruption)) << b.what << ": " << st.ToString();
    EXPECT_NE(st.ToString().find(b.error), std::string::npos) << b.what << ": " << st.ToString();
    EXPECT_TRUE(c.records.empty()) << b.what;
  }
}

TEST(CompressedEvents, TruncatedHeadsAreCorruption) {
  const std::string query = QueryHead("shop") + Compressed("DROP TABLE t");
  const std::string rows =
      Le(kNotesId, 6) + Le(1, 2) + Packed(2) + B({0x03, 0x03}) + Compressed(NotesRow(1, "a"));
  FormatDescription fd;  // post-header lengths all 0: the defaults apply
  std::string out;
  // Every cut before the compressed part fails cleanly.
  for (size_t n = 0; n < QueryHead("shop").size(); ++n) {
    Result<uint8_t> r =
        UncompressEvent(T(EventType::kQueryCompressed), query.substr(0, n), fd, &out);
    EXPECT_TRUE(!r.ok() && r.status().code() == Code::kCorruption) << n;
  }
  for (size_t n = 0; n < 12; ++n) {
    Result<uint8_t> r =
        UncompressEvent(T(EventType::kUpdateRowsCompressedV1), rows.substr(0, n), fd, &out);
    EXPECT_TRUE(!r.ok() && r.status().code() == Code::kCorruption) << n;
  }
  // A column count that its bitmaps cannot fit.
  Result<uint8_t> r = UncompressEvent(T(EventType::kWriteRowsCompressedV1),
                                      Le(1, 6) + Le(0, 2) + Packed(100000) + "\x81\x01", fd, &out);
  EXPECT_TRUE(!r.ok() && r.status().code() == Code::kCorruption);
  // The whole events work with default post-header lengths.
  Result<uint8_t> q = UncompressEvent(T(EventType::kQueryCompressed), query, fd, &out);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(*q, T(EventType::kQuery));
  EXPECT_EQ(out, QueryHead("shop") + "DROP TABLE t");
  Result<uint8_t> u = UncompressEvent(T(EventType::kUpdateRowsCompressedV1), rows, fd, &out);
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(*u, T(EventType::kUpdateRowsV1));
  EXPECT_EQ(out, Le(kNotesId, 6) + Le(1, 2) + Packed(2) + B({0x03, 0x03}) + NotesRow(1, "a"));
}

// row_log_event_uncompress maps by the FDE's post-header length: a v1
// compressed type announced with a v2 post-header maps to no rows type.
TEST(CompressedEvents, TypeAndPostHeaderThatMapToNoRowsEventAreRefused) {
  FormatDescription fd;
  fd.post_header_len[T(EventType::kWriteRowsCompressedV1) - 1] = 10;
  fd.post_header_len[T(EventType::kWriteRowsCompressedV2) - 1] = 8;
  std::string out;
  const std::string body = Le(1, 6) + Le(0, 2) + Le(2, 2) + Packed(1) + "\x01" + Compressed("x");
  for (EventType t : {EventType::kWriteRowsCompressedV1, EventType::kWriteRowsCompressedV2}) {
    Result<uint8_t> r = UncompressEvent(T(t), body, fd, &out);
    EXPECT_TRUE(!r.ok() && r.status().code() == Code::kCorruption) << EventTypeName(T(t));
  }
}

// MariaDB's compressed events never sit inside MySQL's TRANSACTION_PAYLOAD;
// one that does is refused, not inflated into the payload's buffers.
TEST(CompressedEvents, InsideATransactionPayloadIsCorruption) {
  const std::string body = QueryHead("shop") + Compressed("DROP TABLE t");
  const size_t size = kHeaderSize + body.size();  // inner events carry no CRC
  const std::string inner = Le(kTime, 4) + Le(T(EventType::kQueryCompressed), 1) + Le(1, 4) +
                            Le(size, 4) + Le(0, 4) + Le(0, 2) + body;
  // Payload header fields (type, length, value): compression 255 (none),
  // payload size; then type 0 and the payload.
  const std::string payload =
      Packed(2) + Str(Packed(255)) + Packed(1) + Str(Packed(inner.size())) + Packed(0) + inner;
  Stream s;
  s.Add(T(EventType::kTransactionPayload), payload);
  Collector c;
  Status st = DecodeAll(s.events, &c);
  EXPECT_EQ(st.code(), Code::kCorruption) << st.ToString();
  EXPECT_NE(st.ToString().find("inside a TRANSACTION_PAYLOAD"), std::string::npos) << st.ToString();
}

}  // namespace
}  // namespace sluice::binlog
