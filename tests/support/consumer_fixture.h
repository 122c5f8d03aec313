// What the consumer tests share: a destination's commit log in a temp dir
// that the test fills itself (so what a consumer receives is compared with
// what the test committed), and a free 127.0.0.1 port.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proto/record.pb.h"
#include "storage/commit_log.h"
#include "tests/support/free_port.h"
#include "tests/support/test_log.h"

namespace sluice::testing {

// The log of destination "shop" of node "n1" at `path`.
inline Result<std::unique_ptr<CommitLog>> OpenShopLog(const std::string& path) {
  CommitLogOptions o = testing::TestLogOptions(path, "n1", "shop");
  return CommitLog::Open(o);
}

// Commits `records` as one transaction, checkpoint binlog.000001:(4 + the
// new high watermark).
inline Status CommitTxn(CommitLog* log, const std::vector<std::string>& records) {
  std::vector<std::string_view> views(records.begin(), records.end());
  proto::SourceCheckpoint cp;
  cp.set_file("binlog.000001");
  cp.set_pos(4 + log->HighWatermark().value() + records.size());
  return log->CommitTransaction(views, cp).status();
}

// `n` records of one transaction starting at `offset`: inserts into
// shop.users (even offsets) or shop.orders (odd), source time 1000 + offset,
// `payload` bytes of SQL text.
inline std::vector<std::string> SimpleTxn(uint64_t offset, int n, size_t payload = 16) {
  std::vector<std::string> recs;
  for (int i = 0; i < n; ++i, ++offset) {
    proto::ChangeRecord r;
    r.set_op(proto::OP_INSERT);
    r.set_db("shop");
    r.set_table(offset % 2 ? "orders" : "users");
    r.set_ts(1000 + offset);
    r.set_sql(std::string(payload, 'x'));
    r.mutable_txn()->set_seq(i);
    r.mutable_txn()->set_last(i == n - 1);
    recs.push_back(r.SerializeAsString());
  }
  return recs;
}

}  // namespace sluice::testing
