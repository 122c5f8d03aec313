// CommitLog: transactions, chunks, reads, reopens, truncation, retention
// and corruption. The behaviour that must not depend on the options runs
// over every combination of them (CommitLogMatrixTest); what is about one
// option or one batch version runs once. Injected file-system faults are
// commit_log_fault_test.cc's.
#include "storage/commit_log.h"

#include <rocksdb/db.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>
#include <tuple>

#include <gtest/gtest.h>

#include "base/coding.h"
#include "storage/log_format.h"
#include "tests/storage/log_test_util.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_log.h"

namespace sluice {
namespace {

using testing::AsRead;
using testing::CheckpointAfter;
using testing::MakeBlocks;
using testing::MakeTxn;
using testing::ReadAll;
using testing::Txn;

using CommitLogTest = testing::LogTest;

// Runs `edit` on the column family "log" of the (closed) log at `path`,
// behind the log's back.
void EditStoredBatches(
    const std::string& path,
    const std::function<void(rocksdb::DB*, rocksdb::ColumnFamilyHandle*)>& edit) {
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, {}}, {"log", {}}, {"meta", {}}};
  std::vector<rocksdb::ColumnFamilyHandle*> h;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), path, cfs, &h, &db).ok());
  edit(db, h[1]);
  for (auto* x : h) ASSERT_TRUE(db->DestroyColumnFamilyHandle(x).ok());
  delete db;
}

// Flips one bit of the stored batch at `base`. at < 0 counts from the end
// of the value.
void DamageBatch(const std::string& path, uint64_t base, int at) {
  EditStoredBatches(path, [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log_cf) {
    std::string key = coding::BigEndian64(base), value;
    ASSERT_TRUE(db->Get({}, log_cf, key, &value).ok());
    value[at < 0 ? value.size() + at : at] ^= 0x20;
    ASSERT_TRUE(db->Put({}, log_cf, key, value).ok());
  });
}

// The newest OPTIONS file RocksDB wrote for the log: the options in force.
std::string ReadRocksOptionsFile(const std::string& dir) {
  std::string newest;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::string name = e.path().filename();
    if (name.rfind("OPTIONS-", 0) == 0 && name > newest) newest = name;
  }
  std::ifstream f(dir + "/" + newest);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

bool HasTableFile(const std::string& dir) {
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".sst") return true;
  }
  return false;
}

// --- Every combination of options ------------------------------------------
//
// leveldb's ChangeOptions() loop as a GoogleTest matrix, named like
// "GroupCommit_Zstd_V2". The axes are every choice CommitLogOptions and
// the log's write API offer that changes how a transaction reaches the
// disk:
//   durability   kSyncEveryCommit (an fsync per commit) or kGroupCommit
//                (the syncer thread, every group_commit_ms; the default)
//   compression  RocksDB's, of the "log" column family: none, LZ4, ZSTD.
//                It applies to table files only: a reopen flushes the
//                replayed WAL to one (CompressionReachesRocksDb checks),
//                so the tests that read records read them after a reopen
//                too.
//   batch        log_format's version 1 (CommitTransaction / AppendChunk:
//                records as given) or version 2 (CommitBlocks /
//                AppendBlockChunk: ingest's LZ4 blocks, each record read
//                back with its txn field). The current code writes both,
//                so both are covered written and read.
// What is about one option or one version (block validation, the group
// commit syncer, a locked directory) runs once, below.
using Variant = std::tuple<Durability, Compression, uint8_t>;

std::string VariantName(const ::testing::TestParamInfo<Variant>& info) {
  const auto [durability, compression, version] = info.param;
  std::string name = durability == Durability::kSyncEveryCommit ? "SyncEveryCommit" : "GroupCommit";
  switch (compression) {
    case Compression::kNone: name += "_None"; break;
    case Compression::kLz4: name += "_Lz4"; break;
    case Compression::kZstd: name += "_Zstd"; break;
  }
  return name + "_V" + std::to_string(version);
}

class CommitLogMatrixTest : public testing::LogTest, public ::testing::WithParamInterface<Variant> {
 protected:
  static constexpr size_t kPerBlock = 3;  // records per version 2 block

  CommitLogOptions Options() override {
    CommitLogOptions o = LogTest::Options();
    o.durability = std::get<0>(GetParam());
    o.compression = std::get<1>(GetParam());
    return o;
  }
  bool blocks() const { return std::get<2>(GetParam()) == log_format::kBlockBatchVersion; }

  // Records [from, to) of `t` as a chunk of the open transaction.
  Result<OffsetRange> Chunk(CommitLog& log, const Txn& t, size_t from, size_t to) {
    if (blocks()) {
      const auto b = MakeBlocks(t, from, to, kPerBlock);
      return log.AppendBlockChunk(b.Views(), 0);
    }
    const auto views = t.Views();
    return log.AppendChunk(std::span(views).subspan(from, to - from), 0);
  }
  // Ends transaction `i` with records [from, to) of `t` (maybe none).
  Result<OffsetRange> End(CommitLog& log, const Txn& t, uint64_t i, size_t from, size_t to) {
    if (blocks()) {
      const auto b = MakeBlocks(t, from, to, kPerBlock);
      return log.CommitBlocks(b.Views(), CheckpointAfter(i));
    }
    const auto views = t.Views();
    return log.CommitTransaction(std::span(views).subspan(from, to - from), CheckpointAfter(i));
  }
  // What a reader gets for the records of `t`.
  std::vector<std::string> AsStored(const Txn& t) const { return blocks() ? AsRead(t) : t.records; }
  void Append(const Txn& t, std::vector<std::string>* all) const {
    const auto read = AsStored(t);
    all->insert(all->end(), read.begin(), read.end());
  }
  // LogTest::Commit in this variant's batch version; *all gets the records
  // as read.
  OffsetRange Commit(CommitLog& log, uint64_t i, size_t n, std::vector<std::string>* all) {
    const Txn t = MakeTxn(i, n);
    auto r = End(log, t, i, 0, n);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (all) Append(t, all);
    return r.ok() ? *r : OffsetRange{};
  }
};

INSTANTIATE_TEST_SUITE_P(
    Options, CommitLogMatrixTest,
    ::testing::Combine(::testing::Values(Durability::kSyncEveryCommit, Durability::kGroupCommit),
                       ::testing::Values(Compression::kNone, Compression::kLz4, Compression::kZstd),
                       ::testing::Values(log_format::kBatchVersion,
                                         log_format::kBlockBatchVersion)),
    VariantName);

// The setting is RocksDB's in force (its OPTIONS file), and a reopen puts
// the records in a table file, where it applies, and reads them back.
TEST_P(CommitLogMatrixTest, CompressionReachesRocksDb) {
  std::vector<std::string> all;
  {
    auto log = Open();
    for (uint64_t i = 0; i < 20; ++i) Commit(*log, i, 50, &all);
  }
  const std::string opts = ReadRocksOptionsFile(Options().path);
  const size_t section = opts.find("[CFOptions \"log\"]");
  ASSERT_NE(section, std::string::npos);
  const std::string log_opts = opts.substr(section, opts.find("[", section + 1) - section);
  const char* want = "kNoCompression";
  if (Options().compression == Compression::kLz4) want = "kLZ4Compression";
  if (Options().compression == Compression::kZstd) want = "kZSTD";
  EXPECT_NE(log_opts.find(std::string("  compression=") + want + "\n"), std::string::npos)
      << log_opts.substr(0, 400);
  EXPECT_FALSE(HasTableFile(Options().path));  // only the WAL so far
  auto log = Open();
  EXPECT_TRUE(HasTableFile(Options().path));
  EXPECT_EQ(ReadAll(*log), all);
}

TEST_P(CommitLogMatrixTest, AppendReadRoundTrip) {
  auto log = Open();
  std::vector<std::string> all;
  EXPECT_EQ(log->HighWatermark(), Offset(0));
  auto r0 = Commit(*log, 0, 1, &all);
  auto r1 = Commit(*log, 1, 5, &all);
  auto r2 = Commit(*log, 2, 3, &all);
  EXPECT_EQ(r0.base, Offset(0));
  EXPECT_EQ(r0.end, Offset(1));
  EXPECT_EQ(r1.base, Offset(1));
  EXPECT_EQ(r1.end, Offset(6));
  EXPECT_EQ(r2.end, Offset(9));
  EXPECT_EQ(log->HighWatermark(), Offset(9));
  EXPECT_EQ(log->FirstOffset(), Offset(0));
  EXPECT_EQ(ReadAll(*log), all);
  EXPECT_EQ(log->Checkpoint().pos(), 3u);
  EXPECT_EQ(log->Checkpoint().gtid_set(), "0-1-3");

  auto mid = log->Read(Offset(4), 3, 1 << 20);
  ASSERT_TRUE(mid.ok());
  ASSERT_EQ(mid->records.size(), 3u);
  EXPECT_EQ(mid->records[0].offset, Offset(4));
  EXPECT_EQ(mid->records[0].data, all[4]);
  EXPECT_EQ(mid->next_offset, Offset(7));

  auto at_end = log->Read(Offset(9), 10, 1 << 20);
  ASSERT_TRUE(at_end.ok());
  EXPECT_TRUE(at_end->records.empty());
  auto beyond = log->Read(Offset(10), 10, 1 << 20);
  EXPECT_EQ(beyond.status().code(), Code::kOutOfRange);

  log.reset();
  log = Open();
  EXPECT_EQ(ReadAll(*log), all);
  EXPECT_EQ(log->Checkpoint().gtid_set(), "0-1-3");
}

TEST_P(CommitLogMatrixTest, OffsetsDenseAcrossRestarts) {
  std::vector<std::string> all;
  uint64_t txn = 0;
  for (int round = 0; round < 4; ++round) {
    auto log = Open();
    EXPECT_EQ(log->HighWatermark(), Offset(all.size()));
    EXPECT_EQ(log->Checkpoint().pos(), txn);
    for (int k = 0; k < 3; ++k, ++txn) {
      auto r = Commit(*log, txn, 1 + txn % 4, &all);
      EXPECT_EQ(r.end, Offset(all.size()));
    }
  }
  auto log = Open();
  EXPECT_EQ(ReadAll(*log), all);
}

TEST_P(CommitLogMatrixTest, ReadsSpanBatchesAndRespectLimits) {
  auto o = Options();
  o.max_batch_bytes = 1024;
  auto log = Open(o);
  std::vector<std::string> all;
  Commit(*log, 0, 100, &all);  // more than one batch holds
  Commit(*log, 1, 7, &all);
  auto batches = log->ReadBatches(Offset(0), 1 << 20);
  ASSERT_TRUE(batches.ok()) << batches.status().ToString();
  EXPECT_GE(batches->size(), 3u);
  for (int pass = 0; pass < 2; ++pass) {
    SCOPED_TRACE(pass == 0 ? "as written" : "after a reopen");
    // Small reads walk every batch boundary.
    std::vector<std::string> got;
    Offset next(0);
    while (next < log->HighWatermark()) {
      auto set = log->Read(next, 7, 1 << 20);
      ASSERT_TRUE(set.ok()) << set.status().ToString();
      ASSERT_FALSE(set->records.empty());
      ASSERT_LE(set->records.size(), 7u);
      for (const auto& r : set->records) got.emplace_back(r.data);
      next = set->next_offset;
    }
    EXPECT_EQ(got, all);
    // max_bytes bounds the data beyond the first record, and one record
    // always comes (records 10 to 12 are of one size, txn field included).
    auto one = log->Read(Offset(10), 100, 1);
    ASSERT_TRUE(one.ok());
    EXPECT_EQ(one->records.size(), 1u);
    auto some = log->Read(Offset(10), 100, 3 * all[10].size());
    ASSERT_TRUE(some.ok());
    EXPECT_EQ(some->records.size(), 3u);
    // The result keeps its bytes when moved.
    RecordSet moved = std::move(some).value();
    EXPECT_EQ(moved.records[2].data, all[12]);
    log.reset();
    log = Open(o);
  }
}

TEST_P(CommitLogMatrixTest, ChunksStayInvisibleUntilCommit) {
  auto log = Open();
  std::vector<std::string> all;
  Commit(*log, 0, 2, &all);
  const Txn big = MakeTxn(1, 30);
  auto c1 = Chunk(*log, big, 0, 10);
  ASSERT_TRUE(c1.ok()) << c1.status().ToString();
  EXPECT_EQ(c1->base, Offset(2));
  auto c2 = Chunk(*log, big, 10, 20);
  ASSERT_TRUE(c2.ok()) << c2.status().ToString();
  EXPECT_EQ(c2->base, Offset(12));
  EXPECT_EQ(log->HighWatermark(), Offset(2));
  EXPECT_EQ(ReadAll(*log), all);
  auto done = End(*log, big, 1, 20, 30);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->base, Offset(2));
  EXPECT_EQ(done->end, Offset(32));
  Append(big, &all);
  EXPECT_EQ(ReadAll(*log), all);
  log.reset();
  log = Open();
  EXPECT_EQ(ReadAll(*log), all);
}

TEST_P(CommitLogMatrixTest, PartialTransactionIsDiscardedOnReopen) {
  std::vector<std::string> all;
  {
    auto log = Open();
    Commit(*log, 0, 3, &all);
    ASSERT_TRUE(Chunk(*log, MakeTxn(1, 50), 0, 50).ok());
    ASSERT_TRUE(log->Sync().ok());
  }  // "crash" before the end of transaction 1
  auto log = Open();
  EXPECT_EQ(log->HighWatermark(), Offset(3));
  EXPECT_EQ(log->Checkpoint().pos(), 1u);  // resume after transaction 0
  // The source resends transaction 1; it gets the same offsets.
  auto r = Commit(*log, 1, 4, &all);
  EXPECT_EQ(r.base, Offset(3));
  EXPECT_EQ(ReadAll(*log), all);
}

TEST_P(CommitLogMatrixTest, DiscardOpenTransactionAndEmptyCommits) {
  auto log = Open();
  std::vector<std::string> all;
  Commit(*log, 0, 2, &all);
  ASSERT_TRUE(Chunk(*log, MakeTxn(1, 5), 0, 5).ok());
  ASSERT_TRUE(log->DiscardOpenTransaction().ok());
  // A transaction with no records (all filtered) only moves the checkpoint.
  auto empty = End(*log, Txn{}, 1, 0, 0);
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ(empty->base, empty->end);
  EXPECT_EQ(log->Checkpoint().pos(), 2u);
  // A transaction whose last chunk ends it: commit with no further records.
  const Txn t2 = MakeTxn(2, 4);
  ASSERT_TRUE(Chunk(*log, t2, 0, 4).ok());
  auto r = End(*log, t2, 2, 4, 4);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->base, Offset(2));
  EXPECT_EQ(r->end, Offset(6));
  Append(t2, &all);
  EXPECT_EQ(ReadAll(*log), all);
  log.reset();
  log = Open();  // its tail check accepts the rewritten last chunk
  EXPECT_EQ(log->HighWatermark(), Offset(6));
  EXPECT_EQ(ReadAll(*log), all);
  ASSERT_TRUE(log->Truncate(Offset(2)).ok());  // 2 is the boundary before it
  EXPECT_EQ(log->Checkpoint().pos(), 1u);
}

TEST_P(CommitLogMatrixTest, TruncateSuffixAtTransactionBoundary) {
  auto log = Open();
  std::vector<std::string> all;
  ASSERT_TRUE(log->BeginEpoch(Epoch(1)).ok());
  Commit(*log, 0, 2, &all);  // [0, 2)
  ASSERT_TRUE(log->BeginEpoch(Epoch(2)).ok());
  Commit(*log, 1, 3, &all);  // [2, 5)
  Commit(*log, 2, 1, &all);  // [5, 6)
  ASSERT_TRUE(log->BeginEpoch(Epoch(3)).ok());
  Commit(*log, 3, 2, &all);  // [6, 8)

  auto mid = log->Truncate(Offset(3));
  EXPECT_EQ(mid.code(), Code::kInvalidArgument) << mid.ToString();
  EXPECT_EQ(log->Truncate(Offset(9)).code(), Code::kOutOfRange);

  ASSERT_TRUE(log->Truncate(Offset(5)).ok());
  EXPECT_EQ(log->HighWatermark(), Offset(5));
  EXPECT_EQ(log->Checkpoint().pos(), 2u);  // the checkpoint of [2, 5)
  EXPECT_EQ(log->CurrentEpoch(), Epoch(2));
  auto epochs = log->meta().Epochs();
  ASSERT_TRUE(epochs.ok());
  ASSERT_EQ(epochs->size(), 2u);  // epoch 3 began at 6: gone
  all.resize(5);
  EXPECT_EQ(ReadAll(*log), all);

  // Appends continue at the new end, and the state survives a reopen.
  Commit(*log, 2, 2, &all);
  log.reset();
  log = Open();
  EXPECT_EQ(log->HighWatermark(), Offset(7));
  EXPECT_EQ(log->CurrentEpoch(), Epoch(2));
  EXPECT_EQ(ReadAll(*log), all);
  ASSERT_TRUE(log->Truncate(Offset(0)).ok());
  EXPECT_EQ(log->HighWatermark(), Offset(0));
  EXPECT_TRUE(ReadAll(*log).empty());
}

TEST_P(CommitLogMatrixTest, RetentionByBytesKeepsWholeTransactions) {
  auto o = Options();
  o.retention.max_bytes = 2000;
  auto log = Open(o);
  std::vector<std::string> all;
  std::vector<uint64_t> txn_bytes;  // each transaction's logical bytes
  for (uint64_t i = 0; i < 40; ++i) {
    const uint64_t size = log->SizeBytes();
    Commit(*log, i, 3, &all);
    txn_bytes.push_back(log->SizeBytes() - size);
  }
  ASSERT_GT(log->SizeBytes(), 2000u);
  auto r = log->ApplyRetention(0);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->records_removed % 3, 0u);  // whole transactions only
  const size_t removed = r->records_removed / 3;
  ASSERT_GT(removed, 0u);
  EXPECT_EQ(log->FirstOffset(), r->first_offset);
  EXPECT_LE(log->SizeBytes(), 2000u);
  // Not more than needed: the last transaction removed would not have fit.
  EXPECT_GT(log->SizeBytes() + txn_bytes[removed - 1], 2000u);
  EXPECT_EQ(log->Read(Offset(0), 1, 100).status().code(), Code::kOutOfRange);
  std::vector<std::string> tail(all.begin() + r->first_offset.value(), all.end());
  EXPECT_EQ(ReadAll(*log, log->FirstOffset()), tail);
  // The first offset survives a restart.
  const Offset first = log->FirstOffset();
  log.reset();
  log = Open(o);
  EXPECT_EQ(log->FirstOffset(), first);
  EXPECT_EQ(ReadAll(*log, first), tail);
}

TEST_P(CommitLogMatrixTest, RetentionByAgeAndUnackedGroups) {
  auto o = Options();
  o.retention.max_age_ms = 60'000;
  o.retention.keep_unacked = true;
  auto log = Open(o);
  for (uint64_t i = 0; i < 10; ++i) Commit(*log, i, 2, nullptr);
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  // Nothing is a minute old yet.
  auto fresh = log->ApplyRetention(now);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->records_removed, 0u);
  // A group that has acked up to offset 8 holds back the rest.
  proto::GroupCursor c;
  c.set_acked_offset(8);
  ASSERT_TRUE(log->meta().PutCursor("g1", c).ok());
  auto later = log->ApplyRetention(now + 3'600'000);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(log->FirstOffset(), Offset(8));
  // Once it acks everything, everything may go.
  c.set_acked_offset(20);
  ASSERT_TRUE(log->meta().PutCursor("g1", c).ok());
  ASSERT_TRUE(log->ApplyRetention(now + 3'600'000).ok());
  EXPECT_EQ(log->FirstOffset(), Offset(20));
  EXPECT_EQ(log->HighWatermark(), Offset(20));
  // Appends continue at 20 on an empty log.
  auto r = Commit(*log, 10, 1, nullptr);
  EXPECT_EQ(r.base, Offset(20));
}

// keep_from bounds retention whatever the options say (the broker passes
// the high watermark and, in sync mode, what standbys have); the removed
// bytes are what SizeBytes() lost.
TEST_P(CommitLogMatrixTest, RetentionStopsBelowKeepFromAndCountsBytes) {
  auto o = Options();
  o.retention.max_bytes = 1;  // everything may go by size
  auto log = Open(o);
  for (uint64_t i = 0; i < 10; ++i) Commit(*log, i, 2, nullptr);  // transactions [2i, 2i+2)
  const uint64_t size = log->SizeBytes();
  auto held = log->ApplyRetention(0, Offset(7));
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  // Whole transactions below 7: [0, 6).
  EXPECT_EQ(held->first_offset, Offset(6));
  EXPECT_EQ(log->FirstOffset(), Offset(6));
  EXPECT_EQ(held->records_removed, 6u);
  EXPECT_GT(held->bytes_removed, 0u);
  EXPECT_EQ(log->SizeBytes(), size - held->bytes_removed);
  auto none = log->ApplyRetention(0, Offset(6));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->records_removed, 0u);
  EXPECT_EQ(none->bytes_removed, 0u);
  auto rest = log->ApplyRetention(0);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(log->FirstOffset(), Offset(20));
  EXPECT_EQ(log->SizeBytes(), 0u);
  EXPECT_EQ(held->bytes_removed + rest->bytes_removed, size);
}

TEST_P(CommitLogMatrixTest, CorruptBatchIsReportedWithItsOffset) {
  std::vector<std::string> all;
  {
    auto log = Open();
    Commit(*log, 0, 3, &all);
    Commit(*log, 1, 3, &all);
  }
  DamageBatch(Options().path, 3, -2);  // a bit of the last record's data
  // The tail check on open reads the damaged last batch.
  auto again = CommitLog::Open(Options());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kCorruption);
  EXPECT_NE(again.status().message().find("batch at offset 3"), std::string::npos)
      << again.status().ToString();
  EXPECT_NE(again.status().message().find("checksum"), std::string::npos);
}

TEST_P(CommitLogMatrixTest, CorruptBatchInTheMiddleFailsTheRead) {
  {
    auto log = Open();
    for (uint64_t i = 0; i < 3; ++i) Commit(*log, i, 2, nullptr);
  }
  DamageBatch(Options().path, 2, 20);  // a bit of the header
  auto log = Open();
  ASSERT_NE(log, nullptr);
  EXPECT_TRUE(log->Read(Offset(0), 2, 1 << 20).ok());
  auto bad = log->Read(Offset(0), 10, 1 << 20);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kCorruption);
  EXPECT_NE(bad.status().message().find("batch at offset 2"), std::string::npos);
}

// --- One option, one version, or none --------------------------------------

// Batch version 2, as ingest writes it: blocks whose records lack the txn
// field, which every read appends (AsRead spells out the bytes).
TEST_F(CommitLogTest, BlockTransactionsReadBackWithTheirTxnField) {
  CommitLogOptions o = Options();
  o.max_batch_bytes = 1024;  // the least: batches are cut between blocks
  std::vector<std::string> want;
  auto append = [&want](const std::vector<std::string>& v) {
    want.insert(want.end(), v.begin(), v.end());
  };
  {
    auto log = Open(o);
    Commit(*log, 0, 3, &want);  // version 1 beside them
    // One commit of 50 blocks, more than one batch holds.
    auto t1 = MakeTxn(1, 150, 200);
    auto b1 = MakeBlocks(t1, 0, 150, 3);
    auto r1 = log->CommitBlocks(b1.Views(), CheckpointAfter(1));
    ASSERT_TRUE(r1.ok()) << r1.status().ToString();
    EXPECT_EQ(r1->base, Offset(3));
    EXPECT_EQ(r1->end, Offset(153));
    auto batches = log->ReadBatches(Offset(3), 1 << 20);
    ASSERT_TRUE(batches.ok());
    EXPECT_GE(batches->size(), 2u);
    append(AsRead(t1));
    // A chunk, invisible until the commit's blocks follow it.
    auto t2 = MakeTxn(2, 25, 60);
    auto c2 = MakeBlocks(t2, 0, 17, 4), e2 = MakeBlocks(t2, 17, 25, 4);
    ASSERT_TRUE(log->AppendBlockChunk(c2.Views(), 0).ok());
    EXPECT_EQ(log->HighWatermark(), Offset(153));
    ASSERT_TRUE(log->CommitBlocks(e2.Views(), CheckpointAfter(2)).ok());
    append(AsRead(t2));
    // A chunk, then a commit with no blocks: the chunk's last batch is
    // rewritten to end the transaction, so its last record reads last.
    auto t3 = MakeTxn(3, 9, 60);
    auto c3 = MakeBlocks(t3, 0, 9, 2);
    ASSERT_TRUE(log->AppendBlockChunk(c3.Views(), 0).ok());
    auto r3 = log->CommitBlocks({}, CheckpointAfter(3));
    ASSERT_TRUE(r3.ok()) << r3.status().ToString();
    EXPECT_EQ(r3->end, Offset(187));
    append(AsRead(t3));
    ASSERT_EQ(want.size(), 187u);
    EXPECT_EQ(ReadAll(*log), want);
    // Reads that start inside blocks and batches.
    for (uint64_t from = 1; from < want.size(); from += 11) {
      EXPECT_EQ(ReadAll(*log, Offset(from)),
                std::vector<std::string>(want.begin() + static_cast<ptrdiff_t>(from), want.end()))
          << from;
    }
    // The byte limit counts records as read, txn field included.
    auto set = log->Read(Offset(5), 1000, want[5].size() + want[6].size());
    ASSERT_TRUE(set.ok());
    ASSERT_EQ(set->records.size(), 2u);
    EXPECT_EQ(set->records[1].data, want[6]);
    EXPECT_EQ(set->next_offset, Offset(7));
  }
  auto log = Open(o);
  EXPECT_EQ(ReadAll(*log), want);
  EXPECT_EQ(log->Checkpoint().pos(), 4u);
}

// The log counts a transaction's records from its block headers, so it
// checks them before anything is written.
TEST_F(CommitLogTest, MalformedBlocksAreRefusedAndNothingIsWritten) {
  auto log = Open();
  auto t = MakeTxn(0, 6);
  auto b = MakeBlocks(t, 0, 6, 3);
  ASSERT_EQ(b.blocks.size(), 2u);
  const std::string cut = b.blocks[1].substr(0, b.blocks[1].size() - 1);
  const std::vector<std::string_view> junk = {"not a block"}, short_one = {b.blocks[0], cut};
  EXPECT_EQ(log->AppendBlockChunk(junk, 0).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(log->AppendBlockChunk({}, 0).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(log->CommitBlocks(short_one, CheckpointAfter(0)).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(log->HighWatermark(), Offset(0));
  // One item may hold several whole blocks: both blocks as one.
  const std::string both = b.blocks[0] + b.blocks[1];
  const std::vector<std::string_view> joined = {both};
  auto r = log->CommitBlocks(joined, CheckpointAfter(0));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->base, Offset(0));
  EXPECT_EQ(r->end, Offset(6));
  EXPECT_EQ(ReadAll(*log), AsRead(t));
}

// Two unfinished batches in a row at the tail cannot come from a crash (a
// crash leaves one partial transaction above a finished one): recovery must
// not keep deleting downwards on their word.
TEST_F(CommitLogTest, RecoveryDeletesAtMostOnePartialTransaction) {
  Open().reset();
  EditStoredBatches(Options().path, [](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log_cf) {
    for (uint64_t base : {0, 2}) {
      log_format::BatchHeader hd;
      hd.base_offset = Offset(base);
      hd.record_count = 2;
      std::string value;
      log_format::EncodeBatch(hd, "", std::vector<std::string>{"a", "b"}, &value);
      ASSERT_TRUE(db->Put({}, log_cf, log_format::BatchKey(Offset(base)), value).ok());
    }
  });
  auto log = CommitLog::Open(Options());
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), Code::kCorruption) << log.status().ToString();
  EXPECT_NE(log.status().message().find("batch at 0"), std::string::npos);
}

TEST_F(CommitLogTest, LockedDirectoryIsBusy) {
  auto log = Open();
  auto second = CommitLog::Open(Options());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kBusy);
  EXPECT_NE(second.status().message().find("another sluiced"), std::string::npos)
      << second.status().ToString();
}

TEST_F(CommitLogTest, DirectoryOfAnotherNodeIsRefused) {
  Open().reset();
  auto o = Options();
  o.node_id = "b";
  auto other = CommitLog::Open(o);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(other.status().message().find("belongs to node 'a'"), std::string::npos);
}

// The syncer alone makes a group commit durable: no Sync() call, no
// commit after it.
TEST_F(CommitLogTest, GroupCommitMakesWritesDurable) {
  auto o = Options();
  o.durability = Durability::kGroupCommit;
  o.group_commit_ms = 5;
  auto log = Open(o);
  Commit(*log, 0, 10, nullptr);
  EXPECT_EQ(log->HighWatermark(), Offset(10));
  ASSERT_TRUE(testing::WaitFor([&] { return log->DurableOffset() == Offset(10); }))
      << "the syncer never covered the commit: durable offset " << log->DurableOffset().value();
  Commit(*log, 1, 5, nullptr);
  ASSERT_TRUE(log->Sync().ok());
  EXPECT_EQ(log->DurableOffset(), Offset(15));
}

TEST_F(CommitLogTest, OptionsAreValidated) {
  auto o = Options();
  o.path.clear();
  EXPECT_EQ(CommitLog::Open(o).status().code(), Code::kInvalidArgument);
  o = Options();
  o.max_batch_bytes = 10;
  EXPECT_EQ(CommitLog::Open(o).status().code(), Code::kInvalidArgument);
}

// Readers running beside the writer only ever see whole transactions, in
// order, with the right contents (run under TSan by scripts/test.sh).
TEST(CommitLogConcurrency, ReadersSeeOnlyWholeTransactions) {
  testing::TempDir dir;
  CommitLogOptions o = testing::TestLogOptions(dir.Sub("log"));
  o.group_commit_ms = 1;
  o.max_batch_bytes = 2048;
  auto opened = CommitLog::Open(o);
  ASSERT_TRUE(opened.ok());
  CommitLog& log = **opened;
  constexpr uint64_t kTxns = 400;
  std::atomic<bool> done{false};
  auto reader = [&] {
    uint64_t reads = 0;
    while (!done.load() || reads == 0) {
      const Offset hw = log.HighWatermark();
      // Walk the log up to the watermark seen: transaction i must be whole.
      Offset next(0);
      for (uint64_t i = 0; next < hw; ++i) {
        const auto t = MakeTxn(i, 1 + i % 17);
        auto set = log.Read(next, t.records.size(), 1 << 20);
        ASSERT_TRUE(set.ok()) << set.status().ToString();
        ASSERT_EQ(set->records.size(), t.records.size()) << "transaction " << i << " is cut";
        for (size_t j = 0; j < t.records.size(); ++j) {
          ASSERT_EQ(set->records[j].data, t.records[j]);
        }
        next = set->next_offset;
      }
      ASSERT_EQ(next, hw);
      ++reads;
    }
  };
  std::thread r1(reader), r2(reader);
  for (uint64_t i = 0; i < kTxns; ++i) {
    auto t = MakeTxn(i, 1 + i % 17);
    auto views = t.Views();
    auto half = std::span(views).subspan(0, views.size() / 2);
    if (!half.empty()) {
      ASSERT_TRUE(log.AppendChunk(half, 0).ok());
    }
    ASSERT_TRUE(
        log.CommitTransaction(std::span(views).subspan(half.size()), CheckpointAfter(i)).ok());
  }
  done = true;
  r1.join();
  r2.join();
  EXPECT_EQ(log.Checkpoint().pos(), kTxns);
}

}  // namespace
}  // namespace sluice
