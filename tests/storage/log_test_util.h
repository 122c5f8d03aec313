// Helpers shared by the commit-log tests.
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "base/coding.h"
#include "storage/commit_log.h"
#include "storage/log_format.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_log.h"
#include "tests/support/wait_for.h"  // WaitFor, which the log tests use

namespace sluice::testing {

// Owns record payloads and hands out the views CommitLog takes.
struct Txn {
  std::vector<std::string> records;
  std::vector<std::string_view> Views() const {
    return std::vector<std::string_view>(records.begin(), records.end());
  }
};

inline Txn MakeTxn(uint64_t txn_index, size_t n, size_t pad = 16) {
  Txn t;
  for (size_t j = 0; j < n; ++j) {
    std::string r = "t" + std::to_string(txn_index) + "r" + std::to_string(j) + ":";
    r.append(pad, static_cast<char>('a' + (txn_index + j) % 26));
    t.records.push_back(std::move(r));
  }
  return t;
}

// Records [from, to) of `t` as ingest hands them to the log: version 2
// blocks of at most `per_block` records each (LZ4).
struct Blocks {
  std::vector<std::string> blocks;
  std::vector<std::string_view> Views() const {
    return std::vector<std::string_view>(blocks.begin(), blocks.end());
  }
};
inline Blocks MakeBlocks(const Txn& t, size_t from, size_t to, size_t per_block) {
  Blocks b;
  std::string scratch;
  for (size_t i = from; i < to; i += per_block) {
    const size_t end = std::min(to, i + per_block);
    std::string framed;
    for (size_t j = i; j < end; ++j) {
      coding::PutFixed32(&framed, static_cast<uint32_t>(t.records[j].size()));
      framed += t.records[j];
    }
    log_format::AppendBlock(framed, static_cast<uint32_t>(end - i), true, &b.blocks.emplace_back(),
                            &scratch);
  }
  return b;
}

// What a reader gets for a transaction stored in blocks: each record with
// its txn field appended (ChangeRecord.txn = 11, TxnInfo{seq, last}),
// spelled out byte by byte here rather than with log_format's encoder.
inline std::vector<std::string> AsRead(const Txn& t) {
  std::vector<std::string> out;
  for (size_t j = 0; j < t.records.size(); ++j) {
    std::string body;
    if (j > 0) {  // seq, varint (the tests' transactions stay below 2^14)
      body.push_back(0x08);
      if (j < 0x80) {
        body.push_back(static_cast<char>(j));
      } else {
        body.push_back(static_cast<char>((j & 0x7f) | 0x80));
        body.push_back(static_cast<char>(j >> 7));
      }
    }
    if (j + 1 == t.records.size()) body += std::string("\x10\x01", 2);  // last = true
    out.push_back(t.records[j] + static_cast<char>(0x5a) + static_cast<char>(body.size()) + body);
  }
  return out;
}

// Checkpoint of the transaction with 0-based index i: position i + 1.
inline proto::SourceCheckpoint CheckpointAfter(uint64_t i) {
  proto::SourceCheckpoint cp;
  cp.set_file("binlog.000001");
  cp.set_pos(i + 1);
  cp.set_gtid_set("0-1-" + std::to_string(i + 1));
  cp.set_ts(1700000000 + i);
  return cp;
}

// Reads every visible record.
inline std::vector<std::string> ReadAll(const CommitLog& log, Offset from = Offset(0)) {
  std::vector<std::string> out;
  Offset next = from;
  while (next < log.HighWatermark()) {
    auto set = log.Read(next, 1000, 1 << 20);
    EXPECT_TRUE(set.ok()) << set.status().ToString();
    if (!set.ok() || set->records.empty()) break;
    for (const auto& r : set->records) {
      EXPECT_EQ(r.offset, from + out.size());
      out.emplace_back(r.data);
    }
    next = set->next_offset;
  }
  return out;
}

// A commit log of node "a", destination "shop", in a temp dir of its own.
class LogTest : public ::testing::Test {
 protected:
  // What Open() opens: the library's defaults (a test or a derived fixture
  // changes what it is about).
  virtual CommitLogOptions Options() { return TestLogOptions(dir_.Sub("log")); }
  std::unique_ptr<CommitLog> Open(const CommitLogOptions& o) { return OpenTestLog(o); }
  std::unique_ptr<CommitLog> Open() { return Open(Options()); }

  // Commits transaction i of n records (batch version 1); appends them to
  // *all when given; returns its range.
  OffsetRange Commit(CommitLog& log, uint64_t i, size_t n, std::vector<std::string>* all) {
    auto t = MakeTxn(i, n);
    auto views = t.Views();
    auto r = log.CommitTransaction(views, CheckpointAfter(i));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (all) all->insert(all->end(), t.records.begin(), t.records.end());
    return r.ok() ? *r : OffsetRange{};
  }

  TempDir dir_;
};

}  // namespace sluice::testing
