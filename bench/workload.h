// The benchmark workload shared by decode_bench and ingest_bench: on a
// 10-column table mixing BIGINT, INT, ENUM, DECIMAL, DOUBLE, VARCHAR,
// DATETIME(6), TIMESTAMP(3), TEXT and BIT, `rows` inserts, rows*2/3 updates
// (before and after images) and the remaining deletes, in transactions of
// 5,000 rows.
#pragma once

#include <algorithm>
#include <string>

#include "base/status.h"
#include "tests/support/mariadb_fixture.h"

namespace sluice::bench {

// Row changes the workload writes.
inline int WorkloadRowChanges(int rows) { return rows + rows * 2 / 3 + (rows - rows * 2 / 3); }

inline Status WriteWorkload(testing::MariaDb& m, int rows) {
  SLUICE_RETURN_IF_ERROR(m.Execute(
      "CREATE DATABASE bench; USE bench; "
      "CREATE TABLE t (id BIGINT PRIMARY KEY, n INT, e ENUM('new','paid','shipped','done'), "
      "amount DECIMAL(12,2), score DOUBLE, name VARCHAR(64), created DATETIME(6), "
      "updated TIMESTAMP(3) NULL, note TEXT, flags BIT(8)) DEFAULT CHARSET=utf8mb4"));
  const int chunk = 5000;
  for (int lo = 1; lo <= rows; lo += chunk) {
    int hi = std::min(rows, lo + chunk - 1);
    SLUICE_RETURN_IF_ERROR(
        m.Execute("INSERT INTO t SELECT seq, seq % 1000, 1 + seq % 4, seq / 7, seq * 1.5, "
                  "CONCAT('customer-', seq), '2026-01-02 03:04:05.123456' + INTERVAL seq SECOND, "
                  "'2026-01-02 03:04:05.123' + INTERVAL seq SECOND, "
                  "CONCAT('{\"sku\": ', seq, ', \"qty\": 2}'), seq % 256 FROM seq_" +
                  std::to_string(lo) + "_to_" + std::to_string(hi)));
  }
  int updates = rows * 2 / 3;
  for (int lo = 1; lo <= updates; lo += chunk) {
    int hi = std::min(updates, lo + chunk - 1);
    SLUICE_RETURN_IF_ERROR(
        m.Execute("UPDATE t SET e = 'shipped', amount = amount + 1, updated = updated + "
                  "INTERVAL 1 DAY, name = CONCAT(name, '!') WHERE id BETWEEN " +
                  std::to_string(lo) + " AND " + std::to_string(hi)));
  }
  return m.Execute("DELETE FROM t WHERE id > " + std::to_string(updates));
}

}  // namespace sluice::bench
