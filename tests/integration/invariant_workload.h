// The randomized workload of invariant_test.cc on database `shop` of a
// MariaDB source: inserts, updates (primary-key changes too), deletes, a
// 50,000-row transaction, ADD / DROP / RENAME COLUMN, CREATE / DROP TABLE,
// XA transactions committed and rolled back (prepared on a connection of
// their own), and rows of every type of type_workload.h. Seeded: the same
// seed writes the same statements.
//
// Thread safety: Run() on one thread; big_started() may be used from
// another.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "tests/integration/sluiced_harness.h"
#include "tests/integration/type_workload.h"

namespace sluice::sluiced_test {

namespace tw = binlog::testing_workload;

inline constexpr const char* kSession =
    "SET NAMES utf8mb4; SET time_zone = '+00:00'; SET sql_mode = ''; USE shop";

// What the workload did, for the report.
struct Counts {
  uint64_t row_changes = 0, transactions = 0, xa_commits = 0, xa_rollbacks = 0, ddls = 0,
           big_rows = 0, lock_wait_timeouts = 0;
};

// The randomized workload on database `shop`, one thread, one connection
// (plus a connection of its own per XA PREPARE). Its model of the schema is
// only what it needs to write valid statements (each table's next fresh id
// and its added columns); what the tables hold is read from the server.
class Workload {
 public:
  Workload(MariaDb* db, unsigned seed) : db_(db), rng_(seed) {}

  // Tables and the type table's rows (before sluiced starts or after: the
  // log starts at the binlog's beginning either way).
  void Setup() {
    Exec(kSession);
    for (int i = 1; i <= 3; ++i) CreateTable("t" + std::to_string(i));
    Exec("CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(30), n BIGINT)");
    Exec(tw::CreateTypesTableSql());
    for (const auto& s : tw::TypeWorkloadDml()) Dml(s);
    types_ids_ = {2, 3, 4, 110, 111};
    next_types_id_ = 1000;
    counts_.ddls += 5;
  }

  // Runs steps until *stop.
  void Run(const std::atomic<bool>* stop, Clock::duration big_after) {
    const auto start = Clock::now();
    bool big_done = false;
    while (!stop->load() && !failed()) {
      try {
        if (!big_done && Clock::now() - start >= big_after) {
          big_done = true;
          BigTransaction();
          continue;
        }
        const int p = Uniform(0, 99);
        if (p < 62) {
          DmlTransaction();
        } else if (p < 74) {
          TypesStep();
        } else if (p < 84) {
          DdlStep();
        } else {
          XaStep();
        }
      } catch (const SourceLost&) {
        if (!AwaitNewSource(stop)) return;
        continue;
      }
      SleepMs(Uniform(2, 15));
    }
  }

  // A failover of the source. After ExpectFailover(), a statement that
  // fails because the server went away abandons the step it was in (its
  // transaction is lost, or on the promoted replica if replication got it
  // there) and the workload waits for SwitchTo(), then goes on on that
  // server after re-reading what it needs of its model from it (tables,
  // columns, ids) and rolling back what the old primary left prepared there.
  void ExpectFailover() { failover_expected_ = true; }
  void SwitchTo(MariaDb* db) {
    std::lock_guard lock(switch_mu_);
    next_db_ = db;
    switch_cv_.notify_all();
  }
  bool lost_source() const { return lost_.load(); }

  // A last ordinary transaction, so that the binlog ends with a commit.
  void Finish() {
    finishing_ = true;  // on a new table: past an orphan's locks too
    Exec("CREATE TABLE IF NOT EXISTS marker (id INT PRIMARY KEY)");
    Exec("INSERT INTO marker VALUES (1)");
    ++counts_.ddls;
    ++counts_.row_changes;
    ++counts_.transactions;
  }

  const std::string& error() const { return error_; }
  // Why the workload stopped early ("" when it did not): see Exec.
  const std::string& orphan() const { return orphan_; }
  bool failed() const { return !error_.empty() || !orphan_.empty(); }
  const Counts& counts() const { return counts_; }
  bool big_started() const { return big_started_.load(); }

 private:
  struct Table {
    std::string name;
    int next_id = 1;
    int extra_seq = 0;
    std::vector<std::pair<std::string, bool>> extras;  // name, is_int
  };

  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  struct SourceLost {};
  // The source server went away (client errors 2002/2003/2006/2013), or
  // the fixture was stopped, while a failover is expected.
  void ThrowIfLost(const Status& st) {
    if (!failover_expected_ || st.ok()) return;
    const std::string m = st.ToString();
    for (const char* e : {"error 2002", "error 2003", "error 2006", "error 2013", "error 2026",
                          "stopped", "Lost connection", "gone away", "Can't connect"}) {
      if (m.find(e) != std::string::npos) {
        lost_.store(true);
        throw SourceLost{};
      }
    }
  }
  bool AwaitNewSource(const std::atomic<bool>* stop) {
    std::unique_lock lock(switch_mu_);
    while (next_db_ == nullptr) {
      if (stop->load()) return false;
      switch_cv_.wait_for(lock, std::chrono::milliseconds(50));
    }
    db_ = next_db_;
    next_db_ = nullptr;
    failover_expected_ = false;
    lock.unlock();
    Resync();
    return error_.empty();
  }
  // The model from the promoted server.
  void Resync() {
    Exec(kSession);
    auto xa = db_->Query("XA RECOVER");
    if (!xa.ok()) {
      error_ = "XA RECOVER on the new source: " + xa.status().ToString();
      return;
    }
    for (const auto& r : *xa) {
      if (r.size() >= 4 && r[3]) Exec("XA ROLLBACK '" + *r[3] + "'");
    }
    auto cols = db_->Query(
        "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE "
        "TABLE_SCHEMA = 'shop' AND TABLE_NAME REGEXP '^(t|d)[0-9]+$' ORDER BY "
        "TABLE_NAME, ORDINAL_POSITION");
    if (!cols.ok()) {
      error_ = "reading the new source's columns: " + cols.status().ToString();
      return;
    }
    std::vector<Table> tables;
    for (const auto& r : *cols) {
      const std::string& table = *r[0];
      const std::string& col = *r[1];
      if (tables.empty() || tables.back().name != table) {
        Table t;
        t.name = table;
        for (const auto& old : tables_) {
          if (old.name == table) t = old;  // keeps next_id and extra_seq
        }
        t.extras.clear();
        tables.push_back(t);
      }
      Table& t = tables.back();
      if (col == "id" || col == "v" || col == "n" || col == "d" || col == "ts") continue;
      t.extras.emplace_back(col, *r[2] == "int");
      if (col.size() > 1 && col[0] == 'x')
        t.extra_seq = std::max(t.extra_seq, std::stoi(col.substr(1)));
    }
    for (auto& t : tables) {
      auto max = db_->Query("SELECT COALESCE(MAX(id), 0) FROM `" + t.name + "`");
      if (max.ok() && !max->empty() && (*max)[0][0]) {
        t.next_id = std::max(t.next_id, std::stoi(*(*max)[0][0]) + 1);
      }
    }
    tables_ = std::move(tables);
    auto ids = db_->Query("SELECT id FROM types");
    if (ids.ok()) {
      types_ids_.clear();
      for (const auto& r : *ids) types_ids_.push_back(std::stoi(*r[0]));
    }
  }

  // A statement on the workload's connection. A lock wait timeout (1205)
  // is the source server's business, not sluice's: it is printed with who
  // holds locks, and the statement (only it is rolled back) runs again.
  void Exec(const std::string& sql) {
    if (!error_.empty() || (!orphan_.empty() && !finishing_)) return;
    Status st = db_->Execute(sql);
    for (int retry = 0; !st.ok() && retry < 3 && st.ToString().find("1205") != std::string::npos;
         ++retry) {
      ++counts_.lock_wait_timeouts;
      std::printf("invariant: source lock wait timeout on %s\n%s", sql.substr(0, 200).c_str(),
                  LockHolders().c_str());
      st = db_->Execute(sql);
    }
    ThrowIfLost(st);
    if (!st.ok() && st.ToString().find("1205") != std::string::npos && SourceHasOrphan()) {
      // The source server holds a transaction of no connection, absent
      // from XA RECOVER, and its locks, for good: MariaDB's doing (see
      // XaStep), which no statement of ours can end. The workload stops
      // here; the target is still compared with everything the source
      // committed.
      orphan_ = sql.substr(0, 200) + "\n" + LockHolders();
      std::printf(
          "invariant: the workload stops early: the source holds an orphaned "
          "transaction's locks (MariaDB's doing) on %s",
          orphan_.c_str());
      return;
    }
    if (!st.ok()) error_ = sql.substr(0, 500) + ": " + st.ToString() + "\n" + LockHolders();
  }

  // An InnoDB transaction of no connection while XA RECOVER lists none.
  bool SourceHasOrphan() {
    auto trx = db_->Query(
        "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE "
        "trx_mysql_thread_id = 0");
    auto xa = db_->Query("XA RECOVER");
    return trx.ok() && !trx->empty() && (*trx)[0][0] && *(*trx)[0][0] != "0" && xa.ok() &&
           xa->empty();
  }

  std::string LockHolders() {
    std::string out;
    for (const char* q :
         {"SELECT trx_id, trx_state, trx_started, trx_mysql_thread_id, trx_rows_locked, "
          "trx_query FROM information_schema.INNODB_TRX",
          "XA RECOVER",
          "SELECT ID, USER, COMMAND, TIME, STATE, INFO FROM information_schema.PROCESSLIST"}) {
      out += std::string("  ") + q + ":\n";
      auto rows = db_->Query(q);
      if (!rows.ok()) {
        out += "    " + rows.status().ToString() + "\n";
        continue;
      }
      for (const auto& r : *rows) {
        out += "   ";
        for (const auto& v : r) out += " | " + v.value_or("NULL").substr(0, 120);
        out += "\n";
      }
    }
    return out;
  }
  // A DML statement on the workload's connection; counts the rows it changed.
  void Dml(const std::string& sql) {
    Exec(sql);
    if (failed()) return;
    auto n = db_->Query("SELECT ROW_COUNT()");
    ThrowIfLost(n.status());
    if (n.ok() && !n->empty() && (*n)[0][0]) {
      const long long c = std::stoll(*(*n)[0][0]);
      if (c > 0) counts_.row_changes += static_cast<uint64_t>(c);
    }
  }

  void CreateTable(const std::string& name) {
    Exec("CREATE TABLE `" + name +
         "` (id INT PRIMARY KEY, v VARCHAR(60), n BIGINT, d DECIMAL(12,3), ts DATETIME(3)) "
         "DEFAULT CHARSET=utf8mb4");
    Table t;
    t.name = name;
    tables_.push_back(t);
    ++counts_.ddls;
  }

  // 1 row (often), a few, or up to a few hundred.
  int Rows() {
    const int p = Uniform(0, 9);
    if (p < 3) return 1;
    if (p < 7) return Uniform(2, 20);
    return Uniform(21, 300);
  }

  std::string ExtraValue(bool is_int) {
    return is_int ? std::to_string(Uniform(-1000000, 1000000))
                  : "'e" + std::to_string(Uniform(0, 99999)) + "'";
  }

  void Insert(Table& t, int rows) {
    std::string cols = "id, v, n, d, ts";
    const int r = Uniform(0, 1 << 20);
    std::string sel =
        std::to_string(t.next_id - 1) + " + seq, CONCAT('v', seq, '-', " + std::to_string(r) +
        "), seq * " + std::to_string(r) + " - 7, seq / 8 + " + std::to_string(r % 1000) +
        ".125, '2026-01-01 00:00:00.5' + INTERVAL (seq + " + std::to_string(r) + ") SECOND";
    for (const auto& [name, is_int] : t.extras) {
      if (Uniform(0, 2) == 0) continue;  // left to its default
      cols += ", `" + name + "`";
      sel += ", " + ExtraValue(is_int);
    }
    Dml("INSERT INTO `" + t.name + "` (" + cols + ") SELECT " + sel + " FROM seq_1_to_" +
        std::to_string(rows));
    t.next_id += rows;
  }

  // [a, b]: a range of ids that may or may not still exist.
  std::pair<int, int> Range(const Table& t, int width) {
    const int a = Uniform(1, std::max(1, t.next_id - 1));
    return {a, a + width - 1};
  }

  void Update(Table& t, int width) {
    auto [a, b] = Range(t, width);
    std::string set = "n = n + 1, v = CONCAT(LEFT(v, 40), 'u'), d = d * 2";
    if (!t.extras.empty() && Uniform(0, 1) == 0) {
      const auto& [name, is_int] = t.extras[Uniform(0, static_cast<int>(t.extras.size()) - 1)];
      set += ", `" + name + "` = " + ExtraValue(is_int);
    }
    Dml("UPDATE `" + t.name + "` SET " + set + " WHERE id BETWEEN " + std::to_string(a) + " AND " +
        std::to_string(b));
  }

  // Moves the rows of a range to fresh ids (above every id in the table).
  void UpdateKeys(Table& t, int width) {
    auto [a, b] = Range(t, width);
    Dml("UPDATE `" + t.name + "` SET id = id - " + std::to_string(a) + " + " +
        std::to_string(t.next_id) + ", n = -n WHERE id BETWEEN " + std::to_string(a) + " AND " +
        std::to_string(b));
    t.next_id += b - a + 1;
  }

  void Delete(Table& t, int width) {
    auto [a, b] = Range(t, width);
    Dml("DELETE FROM `" + t.name + "` WHERE id BETWEEN " + std::to_string(a) + " AND " +
        std::to_string(b));
  }

  Table& AnyTable() { return tables_[Uniform(0, static_cast<int>(tables_.size()) - 1)]; }

  void DmlTransaction() {
    const bool explicit_txn = Uniform(0, 3) != 0;
    if (explicit_txn) Exec("BEGIN");
    const int statements = explicit_txn ? Uniform(1, 5) : 1;
    for (int i = 0; i < statements; ++i) {
      Table& t = AnyTable();
      const int p = Uniform(0, 9);
      if (p < 4) {
        Insert(t, Rows());
      } else if (p < 6) {
        Update(t, Rows());
      } else if (p < 8) {
        UpdateKeys(t, Uniform(1, 30));
      } else {
        Delete(t, Uniform(1, 40));
      }
    }
    if (explicit_txn) Exec("COMMIT");
    ++counts_.transactions;
  }

  // Rows of every type: the type workload's values at fresh ids, updates of
  // a few columns, deletes and key changes.
  void TypesStep() {
    const int p = Uniform(0, 9);
    if (p < 4 || types_ids_.empty()) {
      static const tw::Values kNone;
      const tw::Values* v[] = {&kNone, nullptr, nullptr, nullptr};
      tw::Values mn = tw::MinValues(), mx = tw::MaxValues(), mixed = tw::MixedValues();
      v[1] = &mn;
      v[2] = &mx;
      v[3] = &mixed;
      const int id = next_types_id_++;
      // The maximum row is ~3 MB of binlog per image: rarely.
      const int which = Uniform(0, 9);
      Dml(tw::InsertSql(id, *v[which == 0 ? 2 : which % 3 == 0 ? 0 : which % 3 == 1 ? 1 : 3]));
      types_ids_.push_back(id);
    } else if (p < 7) {
      const int id = types_ids_[Uniform(0, static_cast<int>(types_ids_.size()) - 1)];
      tw::Values v = Uniform(0, 1) ? tw::MixedValues() : tw::MinValues();
      std::string set;
      int k = 0;
      for (const auto& [name, val] : v) {
        if (Uniform(0, 3) != 0) continue;
        set += (k++ ? ", " : "") + name + " = " + val;
      }
      if (set.empty()) set = "vc = 'touched'";
      Dml("UPDATE types SET " + set + " WHERE id = " + std::to_string(id));
    } else if (p < 9) {
      const size_t at = static_cast<size_t>(Uniform(0, static_cast<int>(types_ids_.size()) - 1));
      Dml("DELETE FROM types WHERE id = " + std::to_string(types_ids_[at]));
      types_ids_.erase(types_ids_.begin() + static_cast<long>(at));
    } else {
      const size_t at = static_cast<size_t>(Uniform(0, static_cast<int>(types_ids_.size()) - 1));
      const int id = next_types_id_++;
      Dml("UPDATE types SET id = " + std::to_string(id) +
          " WHERE id = " + std::to_string(types_ids_[at]));
      types_ids_[at] = id;
    }
    ++counts_.transactions;
  }

  void DdlStep() {
    const int p = Uniform(0, 9);
    Table& t = AnyTable();
    if (p < 3 || (p < 7 && t.extras.empty())) {
      const bool is_int = Uniform(0, 1);
      const std::string name = "x" + std::to_string(++t.extra_seq);
      Exec("ALTER TABLE `" + t.name + "` ADD COLUMN `" + name + "` " +
           (is_int ? "INT" : "VARCHAR(30)") +
           (Uniform(0, 1) ? std::string(" DEFAULT ") + ExtraValue(is_int) : std::string()));
      t.extras.emplace_back(name, is_int);
    } else if (p < 5 && !t.extras.empty()) {
      const size_t at = static_cast<size_t>(Uniform(0, static_cast<int>(t.extras.size()) - 1));
      Exec("ALTER TABLE `" + t.name + "` DROP COLUMN `" + t.extras[at].first + "`");
      t.extras.erase(t.extras.begin() + static_cast<long>(at));
    } else if (p < 7 && !t.extras.empty()) {
      auto& col = t.extras[Uniform(0, static_cast<int>(t.extras.size()) - 1)];
      const std::string name = "x" + std::to_string(++t.extra_seq);
      Exec("ALTER TABLE `" + t.name + "` RENAME COLUMN `" + col.first + "` TO `" + name + "`");
      col.first = name;
    } else if (p < 8 || tables_.size() <= 3) {
      CreateTable("d" + std::to_string(++table_seq_));
      Insert(tables_.back(), Rows());
      ++counts_.transactions;
      return;
    } else {
      // Drop a table created by the workload (t1..t3 stay).
      const size_t at = static_cast<size_t>(Uniform(3, static_cast<int>(tables_.size()) - 1));
      Exec("DROP TABLE `" + tables_[at].name + "`");
      tables_.erase(tables_.begin() + static_cast<long>(at));
    }
    ++counts_.ddls;
  }

  // An XA transaction prepared on a connection of its own (which then
  // closes: the transaction stays prepared), an ordinary transaction on
  // another table in between, then XA COMMIT or XA ROLLBACK from here.
  void XaStep() {
    const std::string xid = "xa" + std::to_string(++xa_seq_);
    Table& t = AnyTable();
    const int rows = Rows();
    const int lo = t.next_id;
    t.next_id += rows;
    std::string sql = std::string(kSession) + "; XA START '" + xid + "'; INSERT INTO `" + t.name +
                      "` (id, v, n) SELECT " + std::to_string(lo - 1) + " + seq, CONCAT('" + xid +
                      "-', seq), seq FROM seq_1_to_" + std::to_string(rows) + "; UPDATE `" +
                      t.name + "` SET n = n * 3 WHERE id = " + std::to_string(lo) + "; XA END '" +
                      xid + "'; XA PREPARE '" + xid + "'";
    if (failed()) return;
    Status st = db_->ExecuteDetached(sql);
    ThrowIfLost(st);
    if (!st.ok()) {
      error_ = "XA PREPARE " + xid + ": " + st.ToString();
      return;
    }
    // An ordinary transaction while it is prepared (fresh ids of another
    // table: no row lock of the XA transaction is in the way).
    Table* other = &AnyTable();
    if (other->name != t.name) {
      Insert(*other, Uniform(1, 10));
      ++counts_.transactions;
    }
    // The server detaches the transaction from the closed connection on
    // its own time; XA COMMIT/ROLLBACK go only once XA RECOVER lists it
    // (as xa_test does) and the closed connection's thread is gone from
    // the processlist. Completing it earlier left, now and then (3 runs in
    // 15), an InnoDB transaction with no connection and no XA RECOVER
    // entry holding its locks on the source, for good: a later statement
    // on that table timed out there (the source server's doing; sluice
    // only reads the binlog).
    bool gone = false;
    for (int i = 0; i < 500 && !gone; ++i) {
      auto rows = db_->Query(
          "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'root' AND ID <> "
          "CONNECTION_ID()");
      ThrowIfLost(rows.status());
      gone = rows.ok() && !rows->empty() && (*rows)[0][0] && *(*rows)[0][0] == "0";
      if (!gone) SleepMs(10);
    }
    bool listed = false;
    for (int i = 0; i < 500 && !listed; ++i) {
      auto rows = db_->Query("XA RECOVER");
      ThrowIfLost(rows.status());
      if (!rows.ok()) {
        error_ = "XA RECOVER: " + rows.status().ToString();
        return;
      }
      for (const auto& r : *rows) listed = listed || (r.size() >= 4 && r[3] && *r[3] == xid);
      if (!listed) SleepMs(10);
    }
    if (!listed) {
      error_ = "XA RECOVER never listed " + xid + "\n" + LockHolders();
      return;
    }
    const bool commit = Uniform(0, 3) != 0;
    const std::string end = std::string(commit ? "XA COMMIT '" : "XA ROLLBACK '") + xid + "'";
    // And XAER_NOTA (1397) may still come right after (xa_test.cc).
    for (int i = 0; i < 500; ++i) {
      st = db_->Execute(end);
      ThrowIfLost(st);
      if (st.ok() || st.ToString().find("1397") == std::string::npos) break;
      SleepMs(10);
    }
    if (!st.ok()) {
      error_ = end + ": " + st.ToString();
      return;
    }
    if (commit) {
      ++counts_.xa_commits;
      ++counts_.transactions;
      counts_.row_changes += static_cast<uint64_t>(rows) + 1;
    } else {
      ++counts_.xa_rollbacks;
    }
  }

  void BigTransaction() {
    big_started_.store(true);
    Exec("BEGIN");
    Dml("INSERT INTO big SELECT seq, CONCAT('big', seq), seq * 11 FROM seq_1_to_50000");
    Exec("COMMIT");
    counts_.big_rows = 50000;
    ++counts_.transactions;
  }

  MariaDb* db_;
  std::atomic<bool> failover_expected_{false}, lost_{false};
  std::mutex switch_mu_;
  std::condition_variable switch_cv_;
  MariaDb* next_db_ = nullptr;  // guarded by switch_mu_
  std::mt19937 rng_;
  std::vector<Table> tables_;
  std::vector<int> types_ids_;
  int next_types_id_ = 1000;
  int table_seq_ = 0;
  int xa_seq_ = 0;
  Counts counts_;
  std::string error_;
  std::string orphan_;
  bool finishing_ = false;
  std::atomic<bool> big_started_{false};
};

}  // namespace sluice::sluiced_test
