#include "broker/ingest/block_list.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "storage/log_format.h"

namespace sluice::ingest {
namespace {

// A record of `size` bytes that names its index, so a misplaced one shows.
std::string Rec(size_t i, size_t size) {
  std::string r = "record " + std::to_string(i) + ":";
  r.resize(std::max(size, r.size()), static_cast<char>('a' + i % 26));
  return r;
}

// What the log's readers get back from `n` blocks of `list`, as one
// version 2 batch: the records, each with its txn field.
std::vector<std::string> ReadBack(const BlockList& list, size_t n) {
  std::vector<std::string_view> views;
  list.Views(n, &views);
  uint32_t records = 0;
  for (size_t k = 0; k < n; ++k) records += list.count(k);
  log_format::BatchHeader h;
  h.base_offset = Offset(0);
  h.record_count = records;
  std::string value;
  log_format::EncodeBlockBatch(h, "", views, &value);
  auto b = log_format::DecodeBatch(log_format::BatchKey(Offset(0)), value);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  std::vector<std::string> out;
  if (b.ok()) {
    EXPECT_TRUE(log_format::AppendRecords(*b, &out).ok());
  }
  return out;
}

// The record as a reader gives it: the bytes, then TxnInfo{seq}.
std::string WithTxn(const std::string& rec, uint32_t seq) {
  char txn[log_format::kMaxTxnField];
  return rec + std::string(txn, log_format::EncodeTxnField(seq, false, txn));
}

TEST(BlockListTest, PackCutsBlocksOfBoundedSizeAndKeepsOrder) {
  RecordBuffer rb;
  // 3000 records of 300 bytes: 912,000 raw bytes, so 4 blocks of at least
  // 256 KiB and a smaller last one.
  for (size_t i = 0; i < 3000; ++i) rb.Append(Rec(i, 300)), rb.EndRecord();
  for (bool compress : {true, false}) {
    BlockList list;
    std::string scratch;
    // Two actions: records [0, 10) and [10, 3000), packed apart.
    EXPECT_EQ(list.Pack(rb, 0, 10, compress, &scratch), 1u);
    const size_t added = list.Pack(rb, 10, 2990, compress, &scratch);
    EXPECT_EQ(added, 4u);
    ASSERT_EQ(list.size(), 5u);
    EXPECT_EQ(list.records(), 3000u);
    EXPECT_EQ(list.count(0), 10u);
    // ceil(262144 / 304) = 863 records of 304 framed bytes reach 256 KiB.
    EXPECT_EQ(list.count(1), 863u);
    if (compress) {
      EXPECT_LT(list.bytes(), rb.bytes() / 4) << "LZ4 did not pack";
    }
    auto got = ReadBack(list, 5);
    ASSERT_EQ(got.size(), 3000u);
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i], WithTxn(Rec(i, 300), static_cast<uint32_t>(i))) << i;
    }
  }
}

TEST(BlockListTest, AppendAndDropFrontMoveWholeBlocks) {
  RecordBuffer rb;
  for (size_t i = 0; i < 6; ++i) rb.Append(Rec(i, 20 + i)), rb.EndRecord();
  BlockList slot;
  std::string scratch;
  for (size_t i = 0; i < 6; ++i) slot.Pack(rb, i, 1, true, &scratch);  // one block each
  ASSERT_EQ(slot.size(), 6u);
  BlockList txn;
  txn.Append(slot, 1, 3);  // records 1, 2, 3
  txn.Append(slot, 5, 1);  // record 5
  txn.Append(slot, 0, 0);  // nothing
  ASSERT_EQ(txn.size(), 4u);
  EXPECT_EQ(txn.records(), 4u);
  txn.DropFront(2);  // records 3 and 5 stay
  ASSERT_EQ(txn.size(), 2u);
  EXPECT_EQ(txn.records(), 2u);
  auto got = ReadBack(txn, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], WithTxn(Rec(3, 23), 0));
  EXPECT_EQ(got[1], WithTxn(Rec(5, 25), 1));
  txn.Clear();
  EXPECT_TRUE(txn.empty());
  EXPECT_EQ(txn.records(), 0u);
  EXPECT_EQ(txn.bytes(), 0u);
}

}  // namespace
}  // namespace sluice::ingest
