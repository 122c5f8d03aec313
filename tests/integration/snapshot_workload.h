// Tables that exist before sluiced starts, for the invariant test's
// snapshot scenario: `snapshot = "initial"` copies them while this
// workload changes them. Four key shapes (docs/snapshots.md, "Keys"):
//   s_int   INT primary key (and a FLOAT, a DATETIME(3), a DECIMAL)
//   s_comp  (INT, VARCHAR) composite primary key
//   s_str   VARCHAR primary key in a case-insensitive collation, with
//           non-ASCII text (the server orders and bounds the chunks)
//   s_ukey  no primary key, a NOT NULL unique key
// The changes: value updates, updates that move a row's key, deletes,
// inserts, in small transactions on a connection of their own, and now and
// then a column added to s_comp.
#pragma once

#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>

#include "tests/support/mariadb_fixture.h"

namespace sluice::sluiced_test {

class SnapshotTables {
 public:
  SnapshotTables(testing::MariaDb* db, unsigned seed) : db_(db), rng_(seed) {}

  // `rows` rows in all (rows*2/5, /10*3, /5, /10 per table).
  Status Create(size_t rows) {
    n_int_ = rows * 2 / 5;
    n_comp_ = rows * 3 / 10;
    n_str_ = rows / 5;
    n_ukey_ = rows / 10;
    return db_->Execute(
        "USE shop;"
        "CREATE TABLE shop.s_int (id INT PRIMARY KEY, a VARCHAR(32), b INT, c DECIMAL(10,2), "
        "d DATETIME(3), f FLOAT);"
        "INSERT INTO shop.s_int SELECT seq, CONCAT('a', seq), seq % 1000, seq / 7, "
        "'2024-01-01 00:00:00.123' + INTERVAL seq SECOND, seq / 3 FROM seq_1_to_" +
        std::to_string(n_int_) +
        ";"
        "CREATE TABLE shop.s_comp (k1 INT, k2 VARCHAR(16), v INT, t TEXT, PRIMARY KEY (k1, k2));"
        "INSERT INTO shop.s_comp SELECT seq DIV 10, CONCAT('k', seq MOD 10, REPEAT('x', seq MOD "
        "3)), seq, REPEAT('t', seq MOD 50) FROM seq_1_to_" +
        std::to_string(n_comp_) +
        ";"
        "CREATE TABLE shop.s_str (code VARCHAR(24) CHARACTER SET utf8mb4 COLLATE "
        "utf8mb4_general_ci PRIMARY KEY, n BIGINT UNSIGNED, e ENUM('a','b','c')) ;"
        "INSERT INTO shop.s_str SELECT CONCAT(IF(seq MOD 2, 'Ab', 'aB'), 'é', seq), seq * "
        "1000003, 1 + seq MOD 3 FROM seq_1_to_" +
        std::to_string(n_str_) +
        ";"
        "CREATE TABLE shop.s_ukey (id BIGINT NOT NULL, v VARCHAR(10), UNIQUE KEY u (id));"
        "INSERT INTO shop.s_ukey SELECT seq * 2, CONCAT('u', seq) FROM seq_1_to_" +
        std::to_string(n_ukey_));
  }

  // Random small transactions until *stop (or the first error).
  void Run(const std::atomic<bool>* stop) {
    while (!stop->load() && error_.empty()) {
      if (Uniform(0, 299) == 0) {
        // A column added while the table may be in the middle of a copy
        // (docs/snapshots.md: the chunk is read again on the new shape).
        ++ddl_seq_;
        Status st =
            db_->ExecuteDetached("ALTER TABLE shop.s_comp ADD COLUMN c" + std::to_string(ddl_seq_) +
                                 " INT NOT NULL DEFAULT " + std::to_string(ddl_seq_));
        if (!st.ok()) {
          error_ = "snapshot workload: " + st.ToString();
          return;
        }
        ++ddls_;
      }
      std::string txn = "START TRANSACTION;";
      const int n = Uniform(1, 5);
      for (int i = 0; i < n; ++i) txn += Statement() + ";";
      txn += "COMMIT";
      Status st = db_->ExecuteDetached("USE shop;" + txn);
      // A key collision of a random insert or move is the workload's, not
      // sluice's: the transaction is rolled back (the connection closes).
      if (!st.ok() && st.ToString().find("1062") == std::string::npos) {
        error_ = "snapshot workload: " + st.ToString() + " in " + txn;
        return;
      }
      if (st.ok()) changes_ += static_cast<uint64_t>(n);
      std::this_thread::sleep_for(std::chrono::milliseconds(Uniform(2, 10)));
    }
  }

  uint64_t changes() const { return changes_.load(); }
  uint64_t ddls() const { return ddls_.load(); }
  const std::string& error() const { return error_; }

 private:
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  std::string Id(size_t n) { return std::to_string(Uniform(1, static_cast<int>(n + n / 10))); }

  std::string Statement() {
    switch (Uniform(0, 11)) {
      case 0: return "UPDATE shop.s_int SET b = b + 1, f = f * 2 WHERE id = " + Id(n_int_);
      case 1: return "DELETE FROM shop.s_int WHERE id = " + Id(n_int_);
      case 2:  // moves a row's key (far above the copied range, or into it)
        return "UPDATE IGNORE shop.s_int SET id = id + " + std::to_string(n_int_ * 2) +
               " WHERE id = " + Id(n_int_);
      case 3:
        return "INSERT IGNORE INTO shop.s_int VALUES (" + Id(n_int_) + ", 'ins', 1, 2.5, " +
               "'2025-05-05 05:05:05.005', 0.25)";
      case 4: return "UPDATE shop.s_comp SET v = v + 7 WHERE k1 = " + Id(n_comp_ / 10);
      case 5:
        return "DELETE FROM shop.s_comp WHERE k1 = " + Id(n_comp_ / 10) + " AND k2 = 'k" +
               std::to_string(Uniform(0, 9)) + "'";
      case 6:
        return "UPDATE IGNORE shop.s_comp SET k2 = CONCAT(k2, 'm') WHERE k1 = " + Id(n_comp_ / 10) +
               " AND k2 LIKE 'k" + std::to_string(Uniform(0, 9)) + "%'";
      case 7:
        return "UPDATE shop.s_str SET n = n + 1, e = 'c' WHERE code = '" +
               std::string(Uniform(0, 1) ? "AB" : "ab") + "é" + Id(n_str_) + "'";
      case 8: return "DELETE FROM shop.s_str WHERE code = 'aBé" + Id(n_str_) + "'";
      case 9: return "INSERT IGNORE INTO shop.s_str VALUES ('zZé" + Id(n_str_) + "', 5, 'b')";
      case 10: return "UPDATE shop.s_ukey SET v = 'upd' WHERE id = " + Id(n_ukey_ * 2);
      default: return "UPDATE IGNORE shop.s_ukey SET id = id + 1 WHERE id = " + Id(n_ukey_ * 2);
    }
  }

  testing::MariaDb* db_;
  std::mt19937 rng_;
  size_t n_int_ = 0, n_comp_ = 0, n_str_ = 0, n_ukey_ = 0;
  std::atomic<uint64_t> changes_{0};
  std::atomic<uint64_t> ddls_{0};
  int ddl_seq_ = 0;
  std::string error_;
};

}  // namespace sluice::sluiced_test
