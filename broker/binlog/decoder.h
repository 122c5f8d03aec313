// The event decoder: turns a stream of raw binlog events into change records
// and transaction boundaries, in binlog order.
//
// It keeps what a stream's events depend on: the format description
// (checksums, post-header lengths), the table maps, the current GTID and
// whether a transaction is open. Each row change becomes a record (design.md
// "Change record"); each DDL statement becomes an "ddl" record that is a
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
struct TxnEnd {
  std::string file;
  uint64_t pos = 0;     // just past the transaction's last event
  std::string gtid;     // "" without GTIDs
  uint32_t timestamp = 0;
  uint32_t records = 0; // records the transaction produced
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

struct DecoderOptions {
  bool column_names = true;           // false: key every column "@N"
  SchemaResolver* schema = nullptr;   // not owned; may be null
  bool verify_checksums = true;
};

// Counts for `sluice decode --stats`.
struct DecoderStats {
  std::array<uint64_t, 256> events{};          // by event type
  std::map<std::string, uint64_t> table_rows;  // "db.table" -> row changes
  uint64_t transactions = 0;
};

class Decoder {
 public:
  explicit Decoder(DecoderOptions options);
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Decodes one whole event and reports what it produced to sink. An error
  // names the file and offset of the event; the decoder must not be fed
  // again after one (the caller restarts from the last TxnEnd).
  Status Decode(const RawEvent& event, DecoderSink* sink);

  const DecoderStats& stats() const { return stats_; }
  bool in_transaction() const { return in_txn_; }

 private:
  Status DecodeEvent(std::string_view bytes, std::string_view file, uint64_t pos,
                     uint64_t end_pos, bool inner, DecoderSink* sink);
  Status OnQuery(const EventHeader& h, std::string_view data, std::string_view file,
                 uint64_t end_pos, DecoderSink* sink);
  Status OnTableMap(std::string_view data);
  Status OnRows(const EventHeader& h, std::string_view data, std::string_view file,
                uint64_t end_pos, DecoderSink* sink);
  Status OnPayload(std::string_view data, std::string_view file, uint64_t pos, uint64_t end_pos,
                   DecoderSink* sink);
  Status EndTxn(const EventHeader& h, std::string_view file, uint64_t end_pos, DecoderSink* sink);
  void BeginTxn();

  const DecoderOptions options_;
  FormatDescription fd_;
  // Table maps by table id, with the event bytes they were parsed from: a
  // table map repeated with the same bytes (each transaction sends one) is
  // reused, not parsed again.
  struct CachedMap {
    std::string bytes;
    std::shared_ptr<const TableMap> map;
  };
  std::unordered_map<uint64_t, CachedMap> tables_;
  std::string gtid_;            // GTID of the current transaction
  bool in_txn_ = false;         // inside BEGIN ... COMMIT
  bool standalone_ = false;     // MariaDB GTID flagged standalone: one statement
  uint32_t seq_ = 0;            // records so far in the transaction
  std::string payload_buf_;     // decompressed TRANSACTION_PAYLOAD
  proto::ChangeRecord scratch_; // reused for every row
  std::vector<std::string> warnings_;  // from table maps, reported with their rows
  bool tagged_gtid_warned_ = false;
  DecoderStats stats_;

  class SeqSink;
};

}  // namespace sluice::binlog
