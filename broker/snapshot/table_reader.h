// TableReader: reads a source table in chunks by key, each chunk as of a
// binlog position, on its own connection (never the dump's).
//
// A chunk is one consistent-snapshot transaction on MariaDB:
//   START TRANSACTION WITH CONSISTENT SNAPSHOT
//   SHOW STATUS LIKE 'binlog_snapshot_%'   -> P, the binlog position whose
//                                             transactions, and no others,
//                                             the snapshot sees
//   SELECT ... WHERE key > last ORDER BY key LIMIT n
//   COMMIT
// so the chunk is exactly the table's rows in its key range as of P, with
// no lock (InnoDB's MVCC read). MySQL has no binlog_snapshot_* status;
// Open() refuses it (docs/snapshots.md says what MySQL would need).
//
// The server orders and bounds the chunks: ORDER BY the key, and the next
// chunk starts after the last row's key written back as a literal in the
// column's own character set (`_latin1 X'..'`), so keys compare in the
// column's collation whatever the connection's character set.
//
// Values become record values as the binlog decoder makes them (design.md
// "Values"): the session runs with time_zone '+00:00' (TIMESTAMP in UTC)
// and utf8mb4 results. A table with a column type this reader cannot
// render faithfully, or with no primary key or NOT NULL unique key, is
// refused with a message that says so.
//
// Thread safety: one thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "broker/binlog/binlog_source.h"
#include "broker/binlog/mysql_source.h"
#include "broker/binlog/rows_event.h"
#include "broker/binlog/table_map.h"
#include "broker/ingest/record_buffer.h"
#include "proto/record.pb.h"

namespace sluice::snapshot {

struct ColumnDesc {
  std::string name;
  uint32_t index = 0;       // 0-based ordinal
  std::string data_type;    // information_schema DATA_TYPE ("int", "varchar", ...)
  std::string column_type;  // COLUMN_TYPE ("int(10) unsigned", "enum('a','b')")
  std::string charset;      // "" for non-character columns, "binary" for binary strings
  uint32_t collation = 0;
  bool is_unsigned = false;
  bool nullable = false;
  uint32_t mysql_type = 0;          // enum_field_types as the binlog's table map has it
  std::vector<std::string> labels;  // ENUM / SET
  int render = -1;  // how its text becomes a value (set by Describe; -1: look it up)
};

struct TableDesc {
  std::string db, table;
  std::vector<ColumnDesc> columns;
  std::vector<uint32_t> key;  // ordinals of the key columns, in key order
  std::string key_name;       // "PRIMARY" or the unique index's name
  std::string create_sql;     // SHOW CREATE TABLE, as the server gives it
  proto::TableShape shape;    // for the schema record
  // The table as the decoder's RowEncoder takes it: `read` records are
  // written in the same wire form as ingest's rows.
  std::shared_ptr<const binlog::TableMap> map;
};

// A chunk's rows, as the log stores them: reused from chunk to chunk.
struct ChunkRows {
  ingest::RecordBuffer records;   // one `read` record per row (no txn field), in key order
  std::vector<std::string> keys;  // each row's key, as ingest::KeyOf gives it
};

struct Chunk {
  binlog::BinlogPosition position;  // P: the rows are the table's as of here
  size_t rows = 0;
  std::vector<std::string> bounds;  // the last row's key as SQL literals (empty when no row)
  std::string last_key_text;        // the same for a person: "(17, 'abc')"
  bool last = false;                // fewer rows than asked for: the table ends here
};

class TableReader {
 public:
  // Connects to `server` ("host:port", one of the URL's hosts; "" for the
  // first) and checks what snapshots need: a MariaDB server with
  // binlog_snapshot_file (a consistent snapshot's binlog position),
  // binlog_format ROW and binlog_row_image FULL. FailedPrecondition naming
  // the fix otherwise.
  static Result<std::unique_ptr<TableReader>> Open(const std::string& url,
                                                   const std::string& server);
  ~TableReader();
  TableReader(const TableReader&) = delete;
  TableReader& operator=(const TableReader&) = delete;

  // The tables of the server matching a filter are the caller's; this
  // lists base tables, "db.table", outside the system schemas.
  Result<std::vector<std::pair<std::string, std::string>>> ListTables();
  // Columns, key and definition. NotFound when the table does not exist;
  // FailedPrecondition when it has no usable key, a column type this
  // reader does not render, or the user may not SELECT it (naming the
  // grant).
  Result<TableDesc> Describe(const std::string& db, const std::string& table);
  // The rows after `after` (bound literals of the previous chunk's last
  // row; empty: from the start), at most `limit`. Aborted when the table's
  // definition is no longer `desc`'s (describe it again).
  // The rows go to *out (cleared first) as `read` records that carry
  // `stamp` (a serialized SnapshotMark: the snapshot's id and the chunk).
  Result<Chunk> ReadChunk(const TableDesc& desc, const std::vector<std::string>& after,
                          size_t limit, const std::string& stamp, ChunkRows* out);
  // SHOW CREATE DATABASE's statement for `db`.
  Result<std::string> CreateDatabaseSql(const std::string& db);
  // The binlog position of a consistent snapshot taken now (no rows).
  Result<binlog::BinlogPosition> SnapshotPosition();

  const std::string& server() const { return server_; }

 private:
  TableReader() = default;
  Result<std::vector<std::vector<std::optional<std::string>>>> Query(const std::string& sql,
                                                                     const std::string& what);
  Status Exec(const std::string& sql, const std::string& what);
  Result<binlog::BinlogPosition> BeginSnapshot();
  using Row = std::vector<std::optional<std::string>>;
  static binlog::BinlogPosition SnapshotPositionOf(const std::vector<Row>& status_rows);
  // Of a multi-statement query: moves to the next result and stores it.
  Result<std::vector<Row>> NextStoredResult(const std::string& what);
  void DrainResults();
  // Reads the answer to a COMMIT sent without waiting.
  Status FinishCommit();
  std::string Escape(const std::string& s);

  binlog::MysqlSourceOptions options_;
  std::string server_;
  st_mysql* conn_ = nullptr;
  binlog::RowEncoder encoder_;
  bool commit_pending_ = false;  // a COMMIT was sent, its answer not read
};

// A table's definition as SHOW CREATE TABLE gives it, without the table's
// AUTO_INCREMENT counter (which inserts move): what must stay the same for
// a chunk's rows to be of the shape its table was described with.
std::string DefinitionKey(const std::string& create_sql);

// A key for a person: "(17, 'abc')", from a row's values in key order.
std::string KeyText(const std::vector<const proto::Value*>& key);

// Exposed for tests: a text value of the server as a record value, the
// way the binlog decoder renders the column (nullopt: SQL NULL).
Status TextToValue(const ColumnDesc& c, std::optional<std::string_view> text, proto::Value* out);

}  // namespace sluice::snapshot
