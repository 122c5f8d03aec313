// Statement building and value binding of `sluice apply` (docs/apply.md).
//
// A RowRun is a run of consecutive row changes that one prepared statement
// applies: same operation, same target table, same column names in the
// images, and value kinds that bind the same way. Inserts of 32 rows or
// more go by LOAD DATA LOCAL when the target allows it (Loadable()).
// Otherwise a run is executed in one
// round trip: inserts and upserts as multi-row VALUES (2^k rows per
// statement text, so few statements are cached), deletes by a one-column
// primary key as `WHERE id IN (?, ...)` (2^k keys), other updates and deletes by
// MariaDB's bulk execution (the statement runs once per row, in order,
// server side) and row by row on a server without it.
//
//   insert  INSERT INTO `db`.`t` (`a`,`b`) VALUES (?,?)
//   update  UPDATE `db`.`t` SET `a`=?,`b`=? WHERE `id`=?          (by primary key)
//   delete  DELETE FROM `db`.`t` WHERE `id`=?   (one-column key: WHERE `id` IN (?,?,...))
//   no primary key: WHERE `a`<=>? AND `b`<=>? ... LIMIT 1 (every before-image column)
//   update keeping its primary key:
//           INSERT INTO `db`.`t` (`id`,`a`) VALUES (?,?) ON DUPLICATE KEY UPDATE `a`=VALUES(`a`)
//
// The upsert form makes a run of updates one statement execution on any
// server (UPDATEs cost a statement each: a round trip each on MySQL, a
// server-side loop in MariaDB's bulk execution). It stays exact: each row is expected to
// count 2 affected rows when its after image differs from its before image
// (an existing row changed) and 1 when not, and a row missing on the target
// (inserted instead: 1) makes the total differ, which stops the run (apply
// then re-runs those records as UPDATEs, one per statement, to name the
// change that matched no row). A target table with a unique key besides
// the primary key could in theory make the INSERT hit that key first; the
// source's row order is kept, so this takes a target that already differs.
//
// Every change must touch exactly one row: the total of affected (matched,
// CLIENT_FOUND_ROWS) rows must equal the run's size, else the target has
// diverged from the source and apply stops.
//
// Values bind by their proto::Value kind: int64/uint64/enum_index as
// BIGINT [UNSIGNED], float64 as DOUBLE (FLOAT, for mysql_type 4 columns),
// decimal/text/json/enum_label as utf8mb4 strings, binary as bytes,
// geometry as ST_GeomFromWKB(?, ?) with its SRID (WKB bytes of a GEOMETRY
// column as ST_GeomFromWKB(?)), vector (MySQL 9 only) as
// STRING_TO_VECTOR(?), is_null as NULL.
//
// Thread safety: a RowRun is used by one thread.
#pragma once

#include <mysql.h>

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "base/status.h"
#include "proto/record.pb.h"

namespace sluice::apply {

class MysqlTarget;

// Checks that a row record can be applied at all: its columns have names
// (the source must log full row metadata), its values are supported by the
// target. InvalidArgument / FailedPrecondition with the reason otherwise.
Status CheckRowRecord(const proto::ChangeRecord& r, bool target_is_mariadb);

// `name` as a quoted identifier: `na``me`.
std::string QuoteIdent(std::string_view name);

class RowRun {
 public:
  struct Limits {
    size_t max_rows = 5000;
    size_t max_bytes = 4 << 20;  // stays well below max_allowed_packet
    // Updates that keep their primary key run as INSERT ... ON DUPLICATE KEY
    // UPDATE (see below); false: always UPDATE ... WHERE.
    bool upsert = true;
    // The table is inside a snapshot (between its BEGIN and END marks,
    // docs/snapshots.md): the target may lack rows the source has, so
    // updates are upserts and nothing counts affected rows. Snapshot rows
    // (`read`) are always upserts and never counted.
    bool lenient = false;
  };

  bool empty() const { return records_.empty(); }
  // 0 insert, 1 update (as UPDATE), 2 update (as upsert), 3 delete. REQUIRES: !empty().
  int form() const {
    const proto::Op op = records_.front()->op();
    return op == proto::OP_INSERT ? 0 : op == proto::OP_DELETE ? 3 : upsert_ ? 2 : 1;
  }
  size_t rows() const { return records_.size(); }
  uint64_t first_offset() const { return offsets_.front(); }
  uint64_t last_offset() const { return offsets_.back(); }

  // Whether `r` runs as INSERT ... ON DUPLICATE KEY UPDATE: a snapshot row,
  // or an update that keeps its primary key (when limits allow upserts or
  // the table is in a snapshot).
  static bool Upsertable(const proto::ChangeRecord& r, const Limits& limits);

  // True when `r` (REQUIRES: CheckRowRecord ok) can join this run without
  // passing `limits`; always true for an empty run.
  bool Fits(const proto::ChangeRecord& r, const std::string& target_db, const Limits& limits) const;
  // REQUIRES: Fits(r, target_db, limits). `r` must outlive the run's
  // Execute() or Clear() (the caller's arena holds it).
  void Add(const proto::ChangeRecord& r, uint64_t offset, const std::string& target_db,
           const Limits& limits);

  // Executes the run on `target` (inside the caller's transaction) and
  // empties it. On failure the run is kept (for the error message) and the
  // Status names the offsets, the statement and the server's message.
  Status Execute(MysqlTarget* target);
  void Clear();
  // True when the last Execute() sent the rows with LOAD DATA.
  bool last_loaded() const { return last_loaded_; }

  // The statement text (REQUIRES: !empty()); inserts and upserts with
  // `rows` rows of VALUES, deletes by a one-column key with `rows` keys.
  std::string Sql(size_t rows = 1) const;

 private:
  // kWkb: WKB bytes without an SRID (a binary value of a GEOMETRY column);
  // kGeom: a Geometry value (SRID and WKB).
  enum class Kind : uint8_t {
    kNull,
    kInt,
    kUint,
    kDouble,
    kFloat,
    kText,
    kBinary,
    kWkb,
    kGeom,
    kVector
  };
  // One column the statement binds: from the before or the after image.
  struct Slot {
    bool before;
    int column;  // index into that image
    Kind kind;   // kNull until a row has a non-null value there
  };
  // The bound arrays of one slot (two MYSQL_BINDs for a geometry: WKB, SRID).
  struct Param {
    enum_field_types type = MYSQL_TYPE_STRING;
    bool is_unsigned = false;
    std::vector<long long> ints;
    std::vector<double> doubles;
    std::vector<float> floats;
    std::vector<char*> ptrs;
    std::vector<unsigned long> lens;
    std::vector<MYSQL_TIME> times;  // DATE/TIME/DATETIME/TIMESTAMP text, parsed
    std::vector<char> indicators;   // bulk
    std::vector<my_bool> nulls;     // row by row
  };

  static Kind KindOf(const proto::Column& c);
  const proto::Column& ColumnOf(size_t row, const Slot& s) const;
  void BuildSlots();
  // `times`: temporal text as MYSQL_TIME (the server then does not parse
  // it); not with bulk execution, whose arrays hold strings.
  void FillParams(bool times);
  void BindBulk();
  void BindRow(size_t row);
  void AppendRow(size_t row);  // one row's values, one MYSQL_BIND each, to binds_

  // LOAD DATA LOCAL for a run of inserts of plain values (numbers,
  // strings, bytes, NULL): about half the server's work per row of a
  // multi-row VALUES (no placeholder values to set up and log).
  bool Loadable(const MysqlTarget& target) const;
  std::string LoadSql() const;
  void FillLoad(std::string* data) const;
  static constexpr size_t kMinLoadRows = 32;  // below it the file round trip costs more

  static constexpr size_t kMaxValuesRows = 512;      // rows of one multi-row VALUES
  static constexpr size_t kMaxPlaceholders = 65535;  // the protocol's limit per statement
  Status ExecuteRows(MysqlTarget* target, const std::string& sql);
  Status CheckAffected(uint64_t affected, const std::string& sql) const;

  std::vector<const proto::ChangeRecord*> records_;  // borrowed
  std::vector<uint64_t> offsets_;
  std::string db_;         // the target database
  bool keyed_ = false;     // WHERE by primary key (else every before column, LIMIT 1)
  bool upsert_ = false;    // updates as INSERT ... ON DUPLICATE KEY UPDATE
  bool lenient_ = false;   // Limits::lenient, or snapshot rows: affected rows not counted
  uint64_t expected_ = 0;  // affected rows the run must count
  std::vector<Slot> slots_;
  size_t bytes_ = 0;
  std::vector<Param> params_;
  std::deque<std::string> owned_;  // vector texts the binds point into
  std::vector<MYSQL_BIND> binds_;
  bool last_loaded_ = false;
};

}  // namespace sluice::apply
