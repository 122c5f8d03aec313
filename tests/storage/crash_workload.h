// The deterministic workload of the crash tests: transaction i has
// TxnSize(i) records with known contents, so a reopened log can be checked
// against what it must be a prefix of. Every 25th transaction is large and
// is appended in chunks.
#pragma once

#include "tests/storage/log_test_util.h"

namespace sluice::testing {

inline size_t CrashTxnSize(uint64_t i) { return i % 25 == 24 ? 1500 : 1 + (i * 7919) % 13; }

inline constexpr size_t kCrashChunk = 400;

// Appends transaction i (chunked when large) and commits it.
inline Status AppendCrashTxn(CommitLog& log, uint64_t i) {
  Txn t = MakeTxn(i, CrashTxnSize(i), 40);
  auto views = t.Views();
  std::span<const std::string_view> rest(views);
  while (rest.size() > kCrashChunk) {
    auto r = log.AppendChunk(rest.subspan(0, kCrashChunk), 0);
    if (!r.ok()) return r.status();
    rest = rest.subspan(kCrashChunk);
  }
  return log.CommitTransaction(rest, CheckpointAfter(i)).status();
}

// Checks that the log holds exactly transactions [0, n) for n = the
// checkpoint's position, reading from transaction `from_txn` on (the ones
// before it were checked already). Returns n.
inline uint64_t VerifyCrashLog(const CommitLog& log, uint64_t from_txn = 0) {
  const uint64_t n = log.Checkpoint().pos();
  EXPECT_EQ(log.Checkpoint().gtid_set(), n == 0 ? "" : "0-1-" + std::to_string(n));
  uint64_t start = 0;
  for (uint64_t i = 0; i < std::min(from_txn, n); ++i) start += CrashTxnSize(i);
  Offset next(start);
  for (uint64_t i = std::min(from_txn, n); i < n; ++i) {
    Txn t = MakeTxn(i, CrashTxnSize(i), 40);
    size_t j = 0;
    while (j < t.records.size()) {
      auto set = log.Read(next, t.records.size() - j, 64 << 20);
      if (!set.ok() || set->records.empty()) {
        ADD_FAILURE() << "log ends inside transaction " << i << " at " << next << ": "
                      << set.status().ToString();
        return n;
      }
      for (const auto& r : set->records) {
        if (r.data != t.records[j]) {
          ADD_FAILURE() << "offset " << r.offset << " holds the wrong record (txn " << i << ")";
          return n;
        }
        ++j;
      }
      next = set->next_offset;
    }
  }
  EXPECT_EQ(next, log.HighWatermark()) << "records beyond the checkpoint's transaction";
  return n;
}

}  // namespace sluice::testing
