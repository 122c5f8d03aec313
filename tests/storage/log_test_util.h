// Helpers shared by the commit-log tests.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "storage/commit_log.h"

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

}  // namespace sluice::testing
