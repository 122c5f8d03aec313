#include "storage/log_format.h"

#include <gtest/gtest.h>

#include <vector>

#include "base/coding.h"
#include "proto/record.pb.h"

namespace sluice::log_format {
namespace {

std::string Encode(const BatchHeader& h, std::string_view cp,
                   const std::vector<std::string>& recs) {
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
  std::vector<std::string> got;
  ASSERT_TRUE(AppendRecords(*b, &got).ok());
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

// Version 2: ChangeRecords without their txn field, in blocks; the
// reader must give back what protobuf serializes with the field set.
proto::ChangeRecord Row(int i) {
  proto::ChangeRecord r;
  r.set_format_version(proto::RECORD_FORMAT_V1);
  r.set_op(proto::OP_UPDATE);
  r.set_db("shop");
  r.set_table("orders");
  for (int k = 0; k < 4; ++k) {
    auto* c = r.add_after();
    c->set_index(static_cast<uint32_t>(k));
    c->set_name("col" + std::to_string(k));
    c->mutable_value()->set_text("value " + std::to_string(i * 7 + k));
  }
  r.mutable_pos()->set_file("binlog.000001");
  r.mutable_pos()->set_pos(4 + static_cast<uint64_t>(i));
  r.set_gtid("0-1-" + std::to_string(i));
  return r;
}

std::string Frame(const std::vector<proto::ChangeRecord>& recs, size_t from, size_t to) {
  std::string framed;
  for (size_t i = from; i < to; ++i) {
    const std::string r = recs[i].SerializeAsString();
    coding::PutFixed32(&framed, static_cast<uint32_t>(r.size()));
    framed += r;
  }
  return framed;
}

// A batch of `recs` in blocks of at most `per_block` records, compressed
// or stored.
std::string EncodeBlocks(const BatchHeader& h, const std::vector<proto::ChangeRecord>& recs,
                         size_t per_block, bool compress, std::string* block_bytes) {
  std::vector<size_t> ends;
  for (size_t i = 0; i < recs.size(); i += per_block) {
    const size_t to = std::min(recs.size(), i + per_block);
    std::string scratch;
    AppendBlock(Frame(recs, i, to), static_cast<uint32_t>(to - i), compress, block_bytes, &scratch);
    ends.push_back(block_bytes->size());
  }
  std::vector<std::string_view> parts;
  for (size_t k = 0; k < ends.size(); ++k) {
    const size_t from = k == 0 ? 0 : ends[k - 1];
    parts.emplace_back(block_bytes->data() + from, ends[k] - from);
  }
  std::string out;
  EncodeBlockBatch(h, h.txn_end() ? "ckpt" : "", parts, &out);
  return out;
}

TEST(LogFormat, BlockBatchGivesRecordsWithTheirTxnField) {
  std::vector<proto::ChangeRecord> recs;
  for (int i = 0; i < 300; ++i) recs.push_back(Row(i));
  for (bool compress : {true, false}) {
    for (bool end : {true, false}) {
      BatchHeader h = Header(1000, 300, end);
      h.txn_records_before = 130;  // seq of the first record
      std::string blocks;
      std::string value = EncodeBlocks(h, recs, 64, compress, &blocks);
      if (compress) {
        EXPECT_LT(value.size(), Frame(recs, 0, recs.size()).size() / 3) << "LZ4 did not pack";
      }
      auto b = DecodeBatch(BatchKey(Offset(1000)), value);
      ASSERT_TRUE(b.ok()) << b.status().ToString();
      EXPECT_EQ(b->version, kBlockBatchVersion);
      EXPECT_EQ(value[4], 2);
      std::vector<std::string> got;
      ASSERT_TRUE(AppendRecords(*b, &got).ok());
      ASSERT_EQ(got.size(), recs.size());
      for (size_t i = 0; i < recs.size(); ++i) {
        proto::ChangeRecord want = recs[i];
        want.mutable_txn()->set_seq(static_cast<uint32_t>(130 + i));
        if (end && i + 1 == recs.size()) want.mutable_txn()->set_last(true);
        ASSERT_EQ(got[i], want.SerializeAsString()) << "record " << i;
      }
    }
  }
}

// A DDL record has `sql` (field 12) after where `txn` (11) goes, so the
// reader's bytes differ from protobuf's order but parse to the same record
// (and are what ingest stored with the field in version 1 too).
TEST(LogFormat, DdlRecordsParseEqualWithTheirTxnField) {
  proto::ChangeRecord ddl;
  ddl.set_format_version(proto::RECORD_FORMAT_V1);
  ddl.set_op(proto::OP_DDL);
  ddl.set_db("shop");
  ddl.set_sql("ALTER TABLE orders ADD COLUMN note TEXT");
  std::vector<proto::ChangeRecord> recs = {Row(0), ddl, Row(1)};
  std::string blocks;
  std::string value = EncodeBlocks(Header(40, 3, true), recs, 2, true, &blocks);
  auto b = DecodeBatch(BatchKey(Offset(40)), value);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  std::vector<std::string> got;
  ASSERT_TRUE(AppendRecords(*b, &got).ok());
  ASSERT_EQ(got.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    proto::ChangeRecord want = recs[i], parsed;
    want.mutable_txn()->set_seq(static_cast<uint32_t>(i));
    if (i == 2) want.mutable_txn()->set_last(true);
    ASSERT_TRUE(parsed.ParseFromString(got[i])) << i;
    EXPECT_EQ(parsed.SerializeAsString(), want.SerializeAsString()) << i;
  }
}

TEST(LogFormat, TxnFieldOfTheFirstRecordIsEmpty) {
  char buf[kMaxTxnField];
  // seq 0 and not last: TxnInfo{} is the field with no members.
  ASSERT_EQ(EncodeTxnField(0, false, buf), 2u);
  EXPECT_EQ(std::string(buf, 2), std::string("\x5a\x00", 2));
  proto::ChangeRecord r;
  r.mutable_txn()->set_seq(UINT32_MAX);
  r.mutable_txn()->set_last(true);
  const size_t n = EncodeTxnField(UINT32_MAX, true, buf);
  EXPECT_LE(n, kMaxTxnField);
  EXPECT_EQ(std::string(buf, n), r.SerializeAsString());
}

TEST(LogFormat, SkipLandsWhereReadingDoes) {
  std::vector<proto::ChangeRecord> recs;
  for (int i = 0; i < 50; ++i) recs.push_back(Row(i));
  std::string blocks;
  std::string value = EncodeBlocks(Header(0, 50, true), recs, 7, true, &blocks);
  auto b = DecodeBatch(BatchKey(Offset(0)), value);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  std::vector<std::string> all;
  ASSERT_TRUE(AppendRecords(*b, &all).ok());
  for (uint64_t k : {0, 1, 6, 7, 8, 14, 21, 49, 50, 60}) {
    RecordReader rr(*b);
    rr.Skip(k);
    EXPECT_EQ(rr.index(), std::min<uint64_t>(k, 50));
    std::string_view body, suffix;
    if (k < 50) {
      ASSERT_TRUE(rr.Next(&body, &suffix)) << k;
      EXPECT_EQ(std::string(body) + std::string(suffix), all[k]) << k;
    } else {
      EXPECT_FALSE(rr.Next(&body, &suffix));
    }
    EXPECT_TRUE(rr.status().ok());
  }
}

// Re-signs a damaged value so that only the block checks can catch it.
std::string Resign(std::string v) {
  coding::EncodeFixed32(v.data(), crc32c::Extend(0, v.data() + 4, v.size() - 4));
  return v;
}

TEST(LogFormat, DamagedBlocksAreCorruptionNotACrash) {
  std::vector<proto::ChangeRecord> recs;
  for (int i = 0; i < 40; ++i) recs.push_back(Row(i));
  std::string blocks;
  const std::string value = EncodeBlocks(Header(9, 40, true), recs, 40, true, &blocks);
  const size_t region = value.size() - blocks.size();
  size_t caught_at_decode = 0, caught_at_read = 0;
  for (size_t i = region; i < value.size(); ++i) {
    for (int bit : {0, 3, 7}) {
      std::string bad = value;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      // Unsigned, the checksum catches it.
      EXPECT_FALSE(DecodeBatch(BatchKey(Offset(9)), bad).ok());
      const std::string resigned = Resign(bad);  // the view below borrows it
      auto b = DecodeBatch(BatchKey(Offset(9)), resigned);
      if (!b.ok()) {
        EXPECT_EQ(b.status().code(), Code::kCorruption);
        ++caught_at_decode;
        continue;
      }
      std::vector<std::string> got;
      Status st = AppendRecords(*b, &got);
      if (!st.ok()) {
        EXPECT_EQ(st.code(), Code::kCorruption) << st.ToString();
        ++caught_at_read;
      }
    }
  }
  // Both layers catch something (block headers at decode, the LZ4 stream
  // and record lengths at read). Flips inside literals decode "fine": the
  // checksum is what guards those.
  EXPECT_GT(caught_at_decode, 0u);
  EXPECT_GT(caught_at_read, 0u);
}

TEST(LogFormat, BlockHeadersThatLieAreRejected) {
  std::string out;  // the last batch: a decoded view borrows it
  auto batch = [&out](std::string region, uint32_t count) {
    BatchHeader h = Header(0, count, false);
    out.clear();
    EncodeBlockBatch(h, "", std::vector<std::string_view>{region}, &out);
    return DecodeBatch(BatchKey(Offset(0)), out);
  };
  auto block = [](uint64_t count, uint64_t raw, uint8_t codec, std::string stored) {
    std::string b;
    coding::PutVarint64(&b, count);
    coding::PutVarint64(&b, raw);
    b.push_back(static_cast<char>(codec));
    coding::PutVarint64(&b, stored.size());
    return b + stored;
  };
  const std::string one("\x01\0\0\0x", 5);  // the record "x" behind its length
  EXPECT_TRUE(batch(block(1, 5, 0, one), 1).ok());
  EXPECT_FALSE(batch(block(1, 6, 0, one), 1).ok());        // stored size mismatch
  EXPECT_FALSE(batch(block(0, 5, 0, one), 1).ok());        // empty block
  EXPECT_FALSE(batch(block(1, 1 << 20, 1, one), 1).ok());  // LZ4 cannot expand that much
  EXPECT_FALSE(batch(block(1, 5, 9, one), 1).ok());        // unknown codec
  EXPECT_FALSE(batch(block(1, 100, 1, std::string(200, 'z')), 1).ok());  // more than LZ4's bound
  EXPECT_FALSE(batch(block(2, 10, 0, one + one), 1).ok());  // more records than the header
  EXPECT_FALSE(batch(block(1, 5, 0, one), 2).ok());         // fewer
  EXPECT_FALSE(batch(block(3, 8, 0, std::string(8, '\0')), 3).ok());  // 3 lengths need 12 bytes
  EXPECT_FALSE(batch(block(1, 5, 0, one).substr(0, 6), 1).ok());      // runs past the end
  // A block whose count is right but whose records are not.
  auto b = batch(block(2, 8, 0, std::string("\x05\0\0\0wxyz", 8)), 2);
  ASSERT_TRUE(b.ok());
  std::vector<std::string> got;
  Status st = AppendRecords(*b, &got);
  EXPECT_EQ(st.code(), Code::kCorruption) << st.ToString();
}

}  // namespace
}  // namespace sluice::log_format
