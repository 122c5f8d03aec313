// The event decoder: turns a stream of raw binlog events into change records
// and transaction boundaries, in binlog order.
//
// It keeps what a stream's events depend on: the format description
// (checksums, post-header lengths), the table maps, the current GTID and
// whether a transaction is open. Each row change becomes a record
// (docs/formats.md, "Change record"); each DDL statement becomes an "ddl" record that is a
// transaction of its own. The caller learns where each transaction ends
// (file:pos just past its last event, and its GTID), which is the position a
// consumer of the stream resumes from.
//
// Transaction boundaries: BEGIN ... XID or COMMIT (or ROLLBACK of
// non-transactional changes, which did happen); a DDL outside BEGIN; a
// MariaDB GTID event flagged standalone ends after its one statement; rows
// events outside BEGIN end at their statement's last event.
//
// Thread safety: one thread drives a Decoder (the serial stage).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/status.h"
#include "broker/binlog/binlog_source.h"
#include "broker/binlog/event.h"
#include "broker/binlog/rows_event.h"
#include "broker/binlog/table_map.h"
#include "proto/record.pb.h"

namespace sluice::binlog {

// Looks up a table's columns in the source's schema (information_schema on
// a second connection) for servers that log no column names.
class SchemaResolver {
 public:
  virtual ~SchemaResolver() = default;
  // NotFound when the table does not exist (any more).
  virtual Result<TableSchema> Lookup(const std::string& db, const std::string& table) = 0;
  // Forgets what is cached (called after DDL).
  virtual void Invalidate() = 0;
};

// Where a transaction ended: the position a reader resumes from.
// XA transactions (docs/operations.md "XA"): their rows belong in the log
// only when XA COMMIT is read, as one transaction at that position.
enum class XaPhase {
  kNone,      // an ordinary transaction (XA ... ONE PHASE included)
  kPrepare,   // XA PREPARE: the transaction's records wait for its outcome
  kCommit,    // XA COMMIT of a prepared transaction: its records, now
  kRollback,  // XA ROLLBACK of a prepared transaction: nothing
};

struct TxnEnd {
  std::string file;
  uint64_t pos = 0;  // just past the transaction's last event
  std::string gtid;  // "" without GTIDs
  uint32_t timestamp = 0;
  uint32_t records = 0;  // records the transaction produced
  XaPhase xa = XaPhase::kNone;
  std::string xid;  // xa != kNone: the XA transaction (binlog/xa.h normal form)
};

class DecoderSink : public RowSink {
 public:
  // A record of the current transaction: row changes via OnRow (inherited)
  // and DDL statements via OnDdl. txn.seq is set; txn.last is not (the
  // decoder cannot know it until the end); OnTxnEnd follows the last one.
  virtual Status OnDdl(proto::ChangeRecord* record) = 0;
  virtual Status OnTxnEnd(const TxnEnd& end) = 0;
  // Something a person should know that does not stop decoding (INCIDENT
  // events, unknown event types skipped, schema mismatches).
  virtual void OnWarning(const std::string& message) = 0;
};

// What the serial stage learned of one event, in the order it happened:
// rows to decode (by the parse ring's workers, with DecodeRows), DDL
// records, and transaction ends. Owned by a ring slot and reused: clearing
// keeps every buffer.
struct EventPlan {
  struct Action {
    enum Kind { kRows, kDdl, kEnd } kind = kRows;
    bool xa = false;                        // kRows, kDdl: inside an XA transaction
    std::shared_ptr<const TableMap> table;  // kRows
    RowsEventHeader rows;                   // kRows: views into the event or `payload`
    uint32_t timestamp = 0;                 // kRows
    uint64_t pos = 0;                       // kRows: where the event starts (for errors)
    uint64_t end_pos = 0;                   // kRows
    std::string gtid;                       // kRows
    size_t ddl = 0;                         // kDdl: index into ddls
    TxnEnd end;                             // kEnd (records is left 0: the executor counts)
  };
  std::string file;             // the event's binlog file
  std::vector<Action> actions;  // the first `size` are this event's
  size_t size = 0;
  std::vector<proto::ChangeRecord> ddls;  // the first `ddl_count` are this event's
  size_t ddl_count = 0;
  std::vector<std::string> warnings;
  std::string payload;       // a decompressed TRANSACTION_PAYLOAD
  bool xa = false;           // the decoder is inside an XA transaction (Add copies it)
  std::string uncompressed;  // a MariaDB compressed event's data, inflated

  void Clear() {
    size = 0;
    ddl_count = 0;
    warnings.clear();
  }
  Action& Add(Action::Kind kind) {
    if (size == actions.size()) actions.emplace_back();
    Action& a = actions[size++];
    a.kind = kind;
    a.xa = xa;
    return a;
  }
  proto::ChangeRecord& AddDdl() {
    if (ddl_count == ddls.size()) ddls.emplace_back();
    return ddls[ddl_count++];
  }
};

// Decodes the rows of a kRows action into records (txn is left to the
// caller). Pure: the parse ring's workers call it concurrently.
Status DecodeAction(const EventPlan::Action& action, std::string_view file, bool column_names,
                    proto::ChangeRecord* scratch, RowSink* sink);
// The same records, serialized straight into `sink` (rows_event.h
// RowEncoder): the ingest workers' path.
Status EncodeAction(const EventPlan::Action& action, std::string_view file, bool column_names,
                    RowEncoder* scratch, EncodedRowSink* sink);

// Builds the error record of an event that could not be decoded
// (CaptureError::UNDECODABLE, with the raw event); db, table, ts, pos and
// gtid are left to the caller.
void FillUndecodable(uint8_t event_type, std::string_view bytes, uint64_t pos,
                     const std::string& reason, proto::ChangeRecord* rec);

struct DecoderOptions {
  bool column_names = true;  // false: key every column "@N"
  // on_undecodable = "skip": an event that does not decode becomes an
  // error record (OP_ERROR, UNDECODABLE, the raw event) in its transaction
  // and decoding goes on. Off: Plan() returns the error (the default).
  // A format description or an encryption start never decodes past.
  bool skip_undecodable = false;
  SchemaResolver* schema = nullptr;  // not owned; may be null
  bool verify_checksums = true;
};

// Counts for `sluice decode --stats`.
struct DecoderStats {
  std::array<uint64_t, 256> events{};          // by event type
  std::map<std::string, uint64_t> table_rows;  // "db.table" -> row changes
  uint64_t transactions = 0;
  uint64_t statement_errors = 0;    // statement-logged DML (error records)
  uint64_t undecodable_errors = 0;  // events skipped as error records (on_undecodable = skip)
};

class Decoder {
 public:
  explicit Decoder(DecoderOptions options);
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // The serial stage: reads one whole event, keeps the stream's state, and
  // says in *plan what the event produced. `event.bytes` must stay valid
  // while the plan is used (rows actions point into it). An error names the
  // file and offset of the event; the decoder must not be fed again after
  // one (the caller restarts from the last transaction end).
  Status Plan(const RawEvent& event, EventPlan* plan);

  // Plan() and then every action at once, in order, to sink (one thread).
  Status Decode(const RawEvent& event, DecoderSink* sink);

  const DecoderStats& stats() const { return stats_; }

  // Says that the log already holds `shape` (a serialized proto::TableShape)
  // as the last schema record of db.table: no schema record is made for it
  // until the table's shape differs. `key` is db + '\0' + table. Called
  // before the first event, by an ingest that resumes a log.
  void SeedShape(std::string key, std::string shape) { shapes_[std::move(key)] = std::move(shape); }
  // Says that the log no longer holds db.table's last schema record
  // (retention removed it): the table's next row gets one again.
  void ForgetShape(const std::string& key) { shapes_.erase(key); }
  // Says that XA transaction `xid` was prepared and its records are kept
  // (by a resumed ingest): its XA COMMIT gives them, not an error record.
  void SeedPreparedXa(std::string xid) { prepared_xa_.insert(std::move(xid)); }
  size_t prepared_xa() const { return prepared_xa_.size(); }
  bool in_transaction() const { return in_txn_; }

 private:
  Status DecodeEvent(std::string_view bytes, uint64_t pos, uint64_t end_pos, bool inner,
                     EventPlan* plan);
  Status OnQuery(const EventHeader& h, std::string_view data, uint64_t end_pos, EventPlan* plan);
  Status OnTableMap(const EventHeader& h, std::string_view data, uint64_t end_pos, EventPlan* plan);

  Status OnRows(const EventHeader& h, std::string_view data, uint64_t pos, uint64_t end_pos,
                EventPlan* plan);
  Status OnPayload(std::string_view data, uint64_t pos, uint64_t end_pos, EventPlan* plan);
  void EndTxn(const EventHeader& h, uint64_t end_pos, EventPlan* plan, XaPhase xa = XaPhase::kNone,
              const std::string& xid = "");
  Status OnXaStatement(const EventHeader& h, std::string_view sql, std::string_view db,
                       uint64_t end_pos, EventPlan* plan, bool* handled);
  static bool Skippable(EventType type);
  void AddUndecodable(const EventHeader& h, std::string_view bytes, uint64_t pos, uint64_t end_pos,
                      const std::string& reason, EventPlan* plan);
  void BeginTxn();
  Status Execute(const EventPlan& plan, DecoderSink* sink);

  const DecoderOptions options_;
  FormatDescription fd_;
  // Table maps by table id, with the event bytes they were parsed from: a
  // table map repeated with the same bytes (each transaction sends one) is
  // reused, not parsed again.
  struct CachedMap {
    std::string bytes;
    std::shared_ptr<const TableMap> map;
    std::string shape_key;  // db + '\0' + table
    std::string shape;      // its serialized proto::TableShape
  };
  std::unordered_map<uint64_t, CachedMap> tables_;
  // A schema record before the rows of `cached` when its shape is not the
  // last one this decoder recorded for its table.
  void MaybeAddSchema(const EventHeader& h, const CachedMap& cached, uint64_t end_pos,
                      EventPlan* plan);
  // The shape (serialized proto::TableShape) last recorded per table,
  // keyed "db\0table": a schema record goes out when a table map's differs.
  std::unordered_map<std::string, std::string> shapes_;
  std::string gtid_;         // GTID of the current transaction
  bool in_txn_ = false;      // inside BEGIN ... COMMIT
  bool standalone_ = false;  // MariaDB GTID flagged standalone: one statement
  bool in_xa_ = false;       // the open transaction is an XA one (XA START, or MariaDB's flag)
  std::unordered_set<std::string> prepared_xa_;  // XA PREPAREd, outcome not read yet
  // Decode()'s own: the records of XA transactions, kept from their
  // PREPARE to their COMMIT (given then) or ROLLBACK (dropped).
  std::vector<proto::ChangeRecord> xa_open_;
  std::unordered_map<std::string, std::vector<proto::ChangeRecord>> xa_held_;
  // Decode()'s own: the plan it executes, the record reused for every row,
  // and the number of records so far in the open transaction.
  EventPlan plan_;
  proto::ChangeRecord scratch_;
  uint32_t seq_ = 0;
  uint32_t xa_seq_ = 0;  // the same for records held for XA COMMIT
  DecoderStats stats_;

  class SeqSink;
  class XaHold;
};

}  // namespace sluice::binlog
