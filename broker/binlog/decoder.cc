#include "broker/binlog/decoder.h"

#include <zstd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>

#include "broker/binlog/compressed_event.h"
#include "broker/binlog/gtid.h"
#include "broker/binlog/sql_names.h"
#include "broker/binlog/table_shape.h"
#include "broker/binlog/xa.h"

namespace sluice::binlog {
namespace {

// MariaDB GTID event flags2 (sql/log_event.h Gtid_log_event).
constexpr uint8_t kMariaGtidStandalone = 0x01;
constexpr uint8_t kMariaGtidPreparedXa = 0x40;  // FL_PREPARED_XA: the group ends in XA PREPARE
constexpr uint16_t kFlagIgnorable = 0x0080;     // LOG_EVENT_IGNORABLE_F
// A decompressed TRANSACTION_PAYLOAD larger than this is refused: it would
// be a transaction bigger than any server writes into one payload event.
constexpr uint64_t kMaxPayloadSize = uint64_t{1} << 30;

// Rows events of every version, compressed (MariaDB) or not.
bool IsRowsEventType(EventType t) {
  const auto n = static_cast<uint8_t>(t);
  return (n >= 20 && n <= 25) || (n >= 30 && n <= 32) || n == 39 || (n >= 166 && n <= 171);
}

std::string At(std::string_view file, uint64_t pos) {
  return std::string(file) + " at " + std::to_string(pos);
}

bool StartsWithWord(std::string_view sql, std::string_view word) {
  size_t i = 0;
  while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
  if (sql.size() - i < word.size()) return false;
  for (size_t k = 0; k < word.size(); ++k)
    if (std::toupper(static_cast<unsigned char>(sql[i + k])) != word[k]) return false;
  size_t end = i + word.size();
  return end == sql.size() || !std::isalnum(static_cast<unsigned char>(sql[end]));
}

}  // namespace

// Numbers each row of a transaction and counts rows per table.
class Decoder::SeqSink : public RowSink {
 public:
  SeqSink(uint32_t* seq, DecoderSink* out, uint64_t* table_rows)
      : seq_(seq), out_(out), table_rows_(table_rows) {}
  Status OnRow(proto::ChangeRecord* rec) override {
    auto* txn = rec->mutable_txn();
    txn->set_seq((*seq_)++);
    txn->set_last(false);
    ++*table_rows_;
    return out_->OnRow(rec);
  }

 private:
  uint32_t* seq_;
  DecoderSink* out_;
  uint64_t* table_rows_;
};

Decoder::Decoder(DecoderOptions options) : options_(options), fd_(FormatDescription::Default()) {}

Status Decoder::Plan(const RawEvent& event, EventPlan* plan) {
  plan->Clear();
  plan->file.assign(event.file);
  return DecodeEvent(event.bytes, event.pos, event.pos + event.bytes.size(), /*inner=*/false, plan);
}

Status Decoder::Decode(const RawEvent& event, DecoderSink* sink) {
  SLUICE_RETURN_IF_ERROR(Plan(event, &plan_));
  return Execute(plan_, sink);
}

// Keeps the records of an open XA transaction (Decode() only) until its
// outcome is known.
class Decoder::XaHold : public DecoderSink {
 public:
  explicit XaHold(std::vector<proto::ChangeRecord>* out) : out_(out) {}
  Status OnRow(proto::ChangeRecord* r) override {
    out_->push_back(*r);
    return Status::Ok();
  }
  Status OnDdl(proto::ChangeRecord* r) override { return OnRow(r); }
  Status OnTxnEnd(const TxnEnd&) override { return Status::Ok(); }
  void OnWarning(const std::string&) override {}

 private:
  std::vector<proto::ChangeRecord>* out_;
};

Status Decoder::Execute(const EventPlan& plan, DecoderSink* sink) {
  for (const auto& w : plan.warnings) sink->OnWarning(w);
  XaHold hold(&xa_open_);
  for (size_t i = 0; i < plan.size; ++i) {
    const EventPlan::Action& a = plan.actions[i];
    DecoderSink* out = a.xa ? static_cast<DecoderSink*>(&hold) : sink;
    // Held records are numbered on their own: they reach the sink as a
    // transaction of their own at XA COMMIT, whatever else a damaged
    // stream put in the same group.
    uint32_t* seq = a.xa ? &xa_seq_ : &seq_;
    switch (a.kind) {
      case EventPlan::Action::kRows: {
        uint64_t& count = stats_.table_rows[a.table->db + "." + a.table->table];
        SeqSink numbered(seq, out, &count);
        SLUICE_RETURN_IF_ERROR(
            DecodeAction(a, plan.file, options_.column_names, &scratch_, &numbered)
                .WithContext(At(plan.file, a.pos)));
        break;
      }
      case EventPlan::Action::kDdl: {
        proto::ChangeRecord* rec = &scratch_;
        rec->CopyFrom(plan.ddls[a.ddl]);
        rec->mutable_txn()->set_seq((*seq)++);
        rec->mutable_txn()->set_last(false);
        SLUICE_RETURN_IF_ERROR(out->OnDdl(rec));
        break;
      }
      case EventPlan::Action::kEnd: {
        TxnEnd end = a.end;
        std::vector<proto::ChangeRecord> held = std::move(xa_open_);
        xa_open_.clear();
        if (end.xa == XaPhase::kPrepare) {
          xa_held_[end.xid] = std::move(held);
          held.clear();
        } else if (end.xa != XaPhase::kNone) {
          auto it = xa_held_.find(end.xid);
          if (it != xa_held_.end()) {
            if (end.xa == XaPhase::kCommit) held = std::move(it->second);
            xa_held_.erase(it);
          }
        }
        // What the transaction gives now: an XA COMMIT's prepared records,
        // or those of a one-phase XA transaction.
        for (auto& r : held) {
          const bool row = r.op() == proto::OP_INSERT || r.op() == proto::OP_UPDATE ||
                           r.op() == proto::OP_DELETE;
          SLUICE_RETURN_IF_ERROR(row ? sink->OnRow(&r) : sink->OnDdl(&r));
        }
        end.records = seq_ + static_cast<uint32_t>(held.size());
        seq_ = 0;
        xa_seq_ = 0;
        SLUICE_RETURN_IF_ERROR(sink->OnTxnEnd(end));
        break;
      }
    }
  }
  return Status::Ok();
}

namespace {
RowsContext ContextOf(const EventPlan::Action& a, std::string_view file, bool column_names) {
  RowsContext ctx;
  ctx.timestamp = a.timestamp;
  ctx.file = file;
  ctx.end_pos = a.end_pos;
  ctx.gtid = a.gtid;
  ctx.column_names = column_names;
  return ctx;
}
}  // namespace

Status DecodeAction(const EventPlan::Action& a, std::string_view file, bool column_names,
                    proto::ChangeRecord* scratch, RowSink* sink) {
  return DecodeRows(*a.table, a.rows, ContextOf(a, file, column_names), scratch, sink);
}

Status EncodeAction(const EventPlan::Action& a, std::string_view file, bool column_names,
                    RowEncoder* scratch, EncodedRowSink* sink) {
  return EncodeRows(*a.table, a.rows, ContextOf(a, file, column_names), scratch, sink);
}

Status Decoder::DecodeEvent(std::string_view bytes, uint64_t pos, uint64_t end_pos, bool inner,
                            EventPlan* plan) {
  const std::string& file = plan->file;
  auto fail = [&](const Status& st) { return st.WithContext(At(file, pos)); };
  Result<EventHeader> hr = ParseHeader(bytes);
  if (!hr.ok()) return fail(hr.status());
  const EventHeader& h = *hr;
  if (h.event_size != bytes.size()) {
    return fail(Status::Corruption("event size field says " + std::to_string(h.event_size) +
                                   " bytes, the event has " + std::to_string(bytes.size())));
  }
  ++stats_.events[h.type];
  plan->xa = in_xa_;
  const auto type = static_cast<EventType>(h.type);
  if (type == EventType::kFormatDescription) {
    Result<FormatDescription> f = ParseFormatDescription(bytes);
    if (!f.ok()) return fail(f.status());
    fd_ = std::move(*f);
    return Status::Ok();
  }
  std::string_view data = bytes.substr(kHeaderSize);
  if (!inner && fd_.checksum == ChecksumAlg::kCrc32) {
    if (options_.verify_checksums) {
      Status st = VerifyChecksum(bytes);
      if (!st.ok()) return fail(st);
    }
    if (data.size() < kChecksumSize) return fail(Status::Corruption("event too short for its CRC"));
    data.remove_suffix(kChecksumSize);
  }

  Status st;
  switch (type) {
    case EventType::kQuery: st = OnQuery(h, data, end_pos, plan); break;
    case EventType::kTableMap: st = OnTableMap(h, data, end_pos, plan); break;
    case EventType::kWriteRowsV0:
    case EventType::kUpdateRowsV0:
    case EventType::kDeleteRowsV0:
    case EventType::kWriteRowsV1:
    case EventType::kUpdateRowsV1:
    case EventType::kDeleteRowsV1:
    case EventType::kWriteRowsV2:
    case EventType::kUpdateRowsV2:
    case EventType::kDeleteRowsV2:
    case EventType::kPartialUpdateRows: st = OnRows(h, data, pos, end_pos, plan); break;
    case EventType::kXid:
      if (data.size() < 8)
        st = Status::Corruption("XID event truncated");
      else
        EndTxn(h, end_pos, plan);
      break;
    case EventType::kXaPrepare: {
      Result<XaPrepare> xa = ParseXaPrepare(data);
      if (!xa.ok()) {
        st = xa.status();
      } else if (xa->one_phase) {
        EndTxn(h, end_pos, plan);  // XA COMMIT ... ONE PHASE: an ordinary commit
      } else {
        prepared_xa_.insert(xa->xid);
        EndTxn(h, end_pos, plan, XaPhase::kPrepare, xa->xid);
      }
      break;
    }
    case EventType::kGtid:
    case EventType::kGtidTagged: {
      Result<std::string> g =
          type == EventType::kGtid ? ParseMysqlGtid(data) : ParseTaggedGtid(data);
      if (!g.ok()) {
        st = g.status();
        break;
      }
      BeginTxn();
      gtid_ = std::move(*g);
      break;
    }
    case EventType::kAnonymousGtid:
      if (data.size() < 25) {
        st = Status::Corruption("ANONYMOUS_GTID event truncated");
        break;
      }
      BeginTxn();  // no GTID
      break;
    case EventType::kMariaGtid: {
      ByteReader r(data);
      uint64_t seq;
      uint32_t domain;
      uint8_t flags2;
      if (!r.Get(&seq) || !r.Get(&domain) || !r.Get(&flags2)) {
        st = Status::Corruption("MariaDB GTID event truncated");
        break;
      }
      BeginTxn();
      gtid_ =
          std::to_string(domain) + "-" + std::to_string(h.server_id) + "-" + std::to_string(seq);
      // MariaDB's GTID event replaces BEGIN: a transaction is open until
      // its XID/COMMIT, unless the group is one standalone statement (DDL).
      standalone_ = flags2 & kMariaGtidStandalone;
      in_txn_ = !standalone_;
      in_xa_ = flags2 & kMariaGtidPreparedXa;
      break;
    }
    case EventType::kTransactionPayload:
      if (inner)
        st = Status::Corruption("TRANSACTION_PAYLOAD nested in another");
      else
        st = OnPayload(data, pos, end_pos, plan);
      break;
    case EventType::kIncident: {
      ByteReader r(data);
      uint16_t kind;
      uint8_t len;
      std::string_view msg;
      if (!r.Get(&kind) || !r.Get(&len) || !r.GetBytes(len, &msg)) {
        st = Status::Corruption("INCIDENT event truncated");
        break;
      }
      plan->warnings.push_back("INCIDENT event " + std::to_string(kind) + " at " + At(file, pos) +
                               ": the source reports lost changes: " + std::string(msg));
      break;
    }
    case EventType::kStartEncryption:
      st = Status::FailedPrecondition(
          "the binlog is encrypted (encrypt_binlog=ON); sluice cannot decrypt it: read it over "
          "the replication protocol, where the server sends it decrypted");
      break;
    case EventType::kQueryCompressed:
    case EventType::kWriteRowsCompressedV1:
    case EventType::kUpdateRowsCompressedV1:
    case EventType::kDeleteRowsCompressedV1:
    case EventType::kWriteRowsCompressedV2:
    case EventType::kUpdateRowsCompressedV2:
    case EventType::kDeleteRowsCompressedV2: {
      // MariaDB log_bin_compress=ON (compressed_event.h): decoded as the
      // uncompressed event, from plan->uncompressed (rows actions point into it).
      if (inner) {
        st = Status::Corruption(EventTypeName(h.type) + " inside a TRANSACTION_PAYLOAD");
        break;
      }
      Result<uint8_t> plain = UncompressEvent(h.type, data, fd_, &plan->uncompressed);
      if (!plain.ok()) {
        st = plain.status();
        break;
      }
      EventHeader ph = h;
      ph.type = *plain;
      st = ph.type == static_cast<uint8_t>(EventType::kQuery)
               ? OnQuery(ph, plan->uncompressed, end_pos, plan)
               : OnRows(ph, plan->uncompressed, pos, end_pos, plan);
      break;
    }
    case EventType::kRotate:
    case EventType::kStop:
    case EventType::kIntvar:
    case EventType::kRand:
    case EventType::kUserVar:
    case EventType::kHeartbeat:
    case EventType::kHeartbeatV2:
    case EventType::kIgnorable:
    case EventType::kRowsQuery:
    case EventType::kAnnotateRows:
    case EventType::kPreviousGtids:
    case EventType::kMariaGtidList:
    case EventType::kBinlogCheckpoint:
    case EventType::kTransactionContext:
    case EventType::kViewChange:
      break;  // nothing in them changes a row; the sources read ROTATE themselves
    default:
      if (!(h.flags & kFlagIgnorable)) {
        plan->warnings.push_back("unknown event type " + std::to_string(h.type) + " (" +
                                 std::to_string(bytes.size()) + " bytes) at " + At(file, pos) +
                                 " skipped");
      }
      break;
  }
  if (st.ok()) return st;
  if (!options_.skip_undecodable || !Skippable(type)) return fail(st);
  AddUndecodable(h, bytes, pos, end_pos, st.WithContext(At(file, pos)).ToString(), plan);
  return Status::Ok();
}

bool Decoder::Skippable(EventType type) {
  // Not the events that keep the stream's state (a format description, the
  // start of encryption): without them nothing after can be read right.
  return type != EventType::kFormatDescription && type != EventType::kStartEncryption;
}

void Decoder::AddUndecodable(const EventHeader& h, std::string_view bytes, uint64_t pos,
                             uint64_t end_pos, const std::string& reason, EventPlan* plan) {
  proto::ChangeRecord* rec = &plan->AddDdl();
  plan->Add(EventPlan::Action::kDdl).ddl = plan->ddl_count - 1;
  FillUndecodable(h.type, bytes, pos, reason, rec);
  // Which table, when the event is a rows event whose table map is known.
  const auto type = static_cast<EventType>(h.type);
  if (IsRowsEventType(type)) {
    ByteReader r(bytes.substr(std::min<size_t>(bytes.size(), kHeaderSize)));
    uint64_t id;
    uint8_t phl = fd_.PostHeaderLength(h.type);
    auto it = ReadTableId(&r, phl == 6 ? 6 : 8, &id) ? tables_.find(id) : tables_.end();
    if (it != tables_.end()) {
      rec->set_db(it->second.map->db);
      rec->set_table(it->second.map->table);
    }
  }
  rec->set_ts(h.timestamp);
  rec->mutable_pos()->mutable_file()->assign(plan->file);
  rec->mutable_pos()->set_pos(end_pos);
  rec->set_gtid(gtid_);
  ++stats_.undecodable_errors;
  plan->warnings.push_back(EventTypeName(h.type) + " event at " + At(plan->file, pos) +
                           " does not decode; stored as an error record (on_undecodable = "
                           "\"skip\"): " +
                           reason);
  // Rows outside BEGIN end with their statement: the error stands for it.
  if (!in_txn_ && !standalone_ && IsRowsEventType(type)) EndTxn(h, end_pos, plan);
}

void FillUndecodable(uint8_t event_type, std::string_view bytes, uint64_t pos,
                     const std::string& reason, proto::ChangeRecord* rec) {
  rec->Clear();
  rec->set_format_version(proto::RECORD_FORMAT_V1);
  rec->set_op(proto::OP_ERROR);
  proto::CaptureError* e = rec->mutable_error();
  e->set_kind(proto::CaptureError::UNDECODABLE);
  e->set_reason(reason);
  e->set_event_type(event_type);
  e->set_event_type_name(EventTypeName(event_type));
  e->set_event_pos(pos);
  e->mutable_raw()->assign(bytes);
}

void Decoder::BeginTxn() {
  gtid_.clear();
  in_txn_ = false;
  standalone_ = false;
  in_xa_ = false;
}

void Decoder::EndTxn(const EventHeader& h, uint64_t end_pos, EventPlan* plan, XaPhase xa,
                     const std::string& xid) {
  TxnEnd& end = plan->Add(EventPlan::Action::kEnd).end;
  end.file = plan->file;
  end.pos = end_pos;
  end.gtid = gtid_;
  end.timestamp = h.timestamp;
  end.records = 0;
  end.xa = xa;
  end.xid = xid;
  ++stats_.transactions;
  BeginTxn();
}

Status Decoder::OnQuery(const EventHeader& h, std::string_view data, uint64_t end_pos,
                        EventPlan* plan) {
  const std::string& file = plan->file;
  uint8_t phl = fd_.PostHeaderLength(static_cast<uint8_t>(EventType::kQuery));
  if (phl < 13) phl = 13;
  ByteReader r(data);
  uint8_t db_len;
  uint16_t status_len;
  std::string_view db, sql;
  if (!r.Skip(8) || !r.Get(&db_len) || !r.Skip(2) || !r.Get(&status_len) || !r.Skip(phl - 13) ||
      !r.Skip(status_len) || !r.GetBytes(db_len, &db) || !r.Skip(1)) {
    return Status::Corruption("QUERY event truncated");
  }
  sql = r.rest();
  if (StartsWithWord(sql, "BEGIN")) {
    in_txn_ = true;
    return Status::Ok();
  }
  if (StartsWithWord(sql, "COMMIT") ||
      (StartsWithWord(sql, "ROLLBACK") && sql.find(" TO ") == std::string_view::npos)) {
    EndTxn(h, end_pos, plan);
    return Status::Ok();
  }
  bool handled = false;
  SLUICE_RETURN_IF_ERROR(OnXaStatement(h, sql, db, end_pos, plan, &handled));
  if (handled) return Status::Ok();
  if (StartsWithWord(sql, "SAVEPOINT") || StartsWithWord(sql, "ROLLBACK") ||
      StartsWithWord(sql, "RELEASE") || !HasStatement(sql)) {
    return Status::Ok();  // XA END/PREPARE/COMMIT, savepoints, comments: no row changes
  }
  const StatementTarget target = ParseStatementTarget(sql, db);
  proto::ChangeRecord* rec = &plan->AddDdl();
  plan->Add(EventPlan::Action::kDdl).ddl = plan->ddl_count - 1;
  rec->Clear();
  rec->set_format_version(proto::RECORD_FORMAT_V1);
  rec->set_db(target.db);
  rec->set_table(target.table);
  rec->mutable_sql()->assign(sql);
  rec->set_ts(h.timestamp);
  rec->mutable_pos()->mutable_file()->assign(file);
  rec->mutable_pos()->set_pos(end_pos);
  rec->set_gtid(gtid_);
  if (target.kind == StatementKind::kDml) {
    // Statement-logged DML (a session whose binlog_format is still
    // STATEMENT or MIXED): its rows are in no rows event. Never silent: an
    // error record in its transaction says what was not captured.
    rec->set_op(proto::OP_ERROR);
    proto::CaptureError* e = rec->mutable_error();
    e->set_kind(proto::CaptureError::STATEMENT);
    e->set_reason(
        "statement-based DML: its rows are not in the binlog, so sluice cannot capture them (the "
        "session that ran it has binlog_format="
        "STATEMENT or MIXED; SET GLOBAL binlog_format=ROW "
        "only applies to new sessions)");
    e->set_event_type(h.type);
    e->set_event_type_name(EventTypeName(h.type));
    e->set_event_pos(end_pos - h.event_size);
    ++stats_.statement_errors;
    plan->warnings.push_back("statement-based DML at " + At(file, end_pos - h.event_size) +
                             " stored as an error record (its rows are not in the binlog; set "
                             "binlog_format=ROW for every session on the source): " +
                             std::string(sql.substr(0, 200)));
  } else {
    // DDL: the schema may have changed under the cached table maps.
    tables_.clear();
    if (options_.schema != nullptr) options_.schema->Invalidate();
    rec->set_op(proto::OP_DDL);
  }
  if (!in_txn_) EndTxn(h, end_pos, plan);
  return Status::Ok();
}

// XA START opens an XA transaction; XA END and XA PREPARE say nothing
// (MySQL and MariaDB end the first phase with an XA_PREPARE event). The
// second phase is a group of its own, maybe hours later: XA COMMIT gives
// the prepared transaction's records (the ingest kept them), XA ROLLBACK
// drops them; XA COMMIT ... ONE PHASE commits the open transaction.
Status Decoder::OnXaStatement(const EventHeader& h, std::string_view sql, std::string_view db,
                              uint64_t end_pos, EventPlan* plan, bool* handled) {
  std::string xid;
  const XaStatement kind = ClassifyXa(sql, &xid);
  *handled = kind != XaStatement::kNone;
  switch (kind) {
    case XaStatement::kNone:
    case XaStatement::kEnd:
    case XaStatement::kPrepare: break;
    case XaStatement::kStart:
      in_txn_ = true;
      in_xa_ = true;
      break;
    case XaStatement::kCommitOnePhase: EndTxn(h, end_pos, plan); break;
    case XaStatement::kRollback:
      prepared_xa_.erase(xid);
      EndTxn(h, end_pos, plan, XaPhase::kRollback, xid);
      break;
    case XaStatement::kCommit:
      if (!xid.empty() && prepared_xa_.erase(xid) == 1) {
        EndTxn(h, end_pos, plan, XaPhase::kCommit, xid);
        break;
      }
      {
        // Its XA PREPARE came before where this stream started: its rows
        // are not known here. Never silent.
        proto::ChangeRecord* rec = &plan->AddDdl();
        plan->Add(EventPlan::Action::kDdl).ddl = plan->ddl_count - 1;
        rec->Clear();
        rec->set_format_version(proto::RECORD_FORMAT_V1);
        rec->set_op(proto::OP_ERROR);
        rec->set_db(std::string(db));
        rec->mutable_sql()->assign(sql);
        rec->set_ts(h.timestamp);
        rec->mutable_pos()->mutable_file()->assign(plan->file);
        rec->mutable_pos()->set_pos(end_pos);
        rec->set_gtid(gtid_);
        proto::CaptureError* e = rec->mutable_error();
        e->set_kind(proto::CaptureError::XA_NOT_PREPARED);
        e->set_reason("XA COMMIT of transaction " + (xid.empty() ? std::string(sql) : xid) +
                      ", whose XA PREPARE is not in what sluice read (it came before the "
                      "destination's start position): its rows cannot be captured");
        e->set_event_type(h.type);
        e->set_event_type_name(EventTypeName(h.type));
        e->set_event_pos(end_pos - h.event_size);
        plan->warnings.push_back(e->reason());
        EndTxn(h, end_pos, plan);
      }
      break;
  }
  return Status::Ok();
}

Status Decoder::OnTableMap(const EventHeader& h, std::string_view data, uint64_t end_pos,
                           EventPlan* plan) {
  ByteReader r(data);
  uint64_t id;
  uint8_t phl = fd_.PostHeaderLength(static_cast<uint8_t>(EventType::kTableMap));
  if (!ReadTableId(&r, phl == 0 ? 8 : phl, &id)) return Status::Corruption("TABLE_MAP truncated");
  auto it = tables_.find(id);
  if (it != tables_.end() && it->second.bytes == data) {
    // The same map as before, but the log may not hold its shape any more
    // as the table's last (an XA transaction's did not count).
    MaybeAddSchema(h, it->second, end_pos, plan);
    return Status::Ok();
  }
  Result<std::unique_ptr<TableMap>> parsed = ParseTableMap(data, fd_);
  if (!parsed.ok()) {
    tables_.erase(id);  // rows events for this id must not use an older map
    return parsed.status();
  }
  std::unique_ptr<TableMap> map = std::move(*parsed);
  if (!map->has_full_metadata && options_.schema != nullptr && options_.column_names) {
    Result<TableSchema> schema = options_.schema->Lookup(map->db, map->table);
    if (!schema.ok()) {
      plan->warnings.push_back("no column names for " + map->db + "." + map->table + ": " +
                               schema.status().ToString());
    } else if (!map->ApplySchema(*schema)) {
      plan->warnings.push_back("the schema of " + map->db + "." + map->table + " has " +
                               std::to_string(schema->names.size()) + " columns, its table map " +
                               std::to_string(map->columns.size()) +
                               ": the table changed since; its columns are keyed by position");
    }
  }
  CachedMap& slot = tables_[id];
  slot.bytes.assign(data);
  slot.shape_key = map->db + '\0' + map->table;
  proto::TableShape shape;
  BuildTableShape(*map, &shape);
  slot.shape = shape.SerializeAsString();
  slot.map = std::move(map);
  MaybeAddSchema(h, slot, end_pos, plan);
  return Status::Ok();
}

void Decoder::MaybeAddSchema(const EventHeader& h, const CachedMap& cached, uint64_t end_pos,
                             EventPlan* plan) {
  auto it = shapes_.find(cached.shape_key);
  if (it != shapes_.end() && it->second == cached.shape) return;  // recorded last: nothing to say
  // Inside an XA transaction the record goes out with it, but whether and
  // where it enters the log is up to XA COMMIT: the transactions around it
  // record the shape themselves until then.
  if (!in_xa_) shapes_[cached.shape_key] = cached.shape;
  const TableMap& map = *cached.map;
  proto::ChangeRecord* rec = &plan->AddDdl();
  rec->Clear();
  rec->mutable_schema()->ParseFromString(cached.shape);
  plan->Add(EventPlan::Action::kDdl).ddl = plan->ddl_count - 1;
  rec->set_format_version(proto::RECORD_FORMAT_V1);
  rec->set_op(proto::OP_SCHEMA);
  rec->set_db(map.db);
  rec->set_table(map.table);
  for (const auto& k : map.pk) rec->add_pk(k);
  rec->set_ts(h.timestamp);
  rec->mutable_pos()->mutable_file()->assign(plan->file);
  rec->mutable_pos()->set_pos(end_pos);
  rec->set_gtid(gtid_);
}

Status Decoder::OnRows(const EventHeader& h, std::string_view data, uint64_t pos, uint64_t end_pos,
                       EventPlan* plan) {
  SLUICE_ASSIGN_OR_RETURN(RowsEventHeader rows, ParseRowsHeader(h.type, data, fd_));
  auto it = tables_.find(rows.table_id);
  if (it == tables_.end()) {
    return Status::Corruption("rows event for table id " + std::to_string(rows.table_id) +
                              " without a TABLE_MAP before it");
  }
  EventPlan::Action& a = plan->Add(EventPlan::Action::kRows);
  a.table = it->second.map;
  a.rows = rows;
  a.timestamp = h.timestamp;
  a.pos = pos;
  a.end_pos = end_pos;
  a.gtid = gtid_;
  if (!in_txn_ && !standalone_ && (rows.flags & kRowsFlagStmtEnd)) {
    EndTxn(h, end_pos, plan);  // rows outside BEGIN: the statement is the unit
  }
  return Status::Ok();
}

Status Decoder::OnPayload(std::string_view data, uint64_t pos, uint64_t end_pos, EventPlan* plan) {
  // Header fields: { type (packed), length (packed), value } until type 0,
  // then the payload (MySQL libbinlogevents Transaction_payload_event).
  ByteReader r(data);
  uint64_t compression = 0, size = 0, uncompressed = 0;
  for (;;) {
    uint64_t type, len, value;
    if (!r.GetPackedInt(&type)) return Status::Corruption("TRANSACTION_PAYLOAD header truncated");
    if (type == 0) break;
    std::string_view field;
    if (!r.GetPackedInt(&len) || !r.GetBytes(len, &field)) {
      return Status::Corruption("TRANSACTION_PAYLOAD header field truncated");
    }
    ByteReader fr(field);
    if (!fr.GetPackedInt(&value)) return Status::Corruption("TRANSACTION_PAYLOAD field unreadable");
    if (type == 1)
      size = value;
    else if (type == 2)
      compression = value;
    else if (type == 3)
      uncompressed = value;
  }
  std::string_view payload = r.rest();
  if (size != 0 && size != payload.size()) {
    return Status::Corruption("TRANSACTION_PAYLOAD announces " + std::to_string(size) +
                              " bytes of payload, has " + std::to_string(payload.size()));
  }
  std::string_view events;
  if (compression == 0) {  // zstd
    if (uncompressed > kMaxPayloadSize) {
      return Status::Corruption("TRANSACTION_PAYLOAD uncompressed size " +
                                std::to_string(uncompressed) + " is beyond any transaction");
    }
    // Streamed: the buffer grows with what really comes out, so a lying
    // size field costs nothing. MySQL writes frames without a content size.
    std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
    if (!dctx) return Status::Internal("out of memory for a zstd context");
    plan->payload.clear();
    ZSTD_inBuffer in{payload.data(), payload.size(), 0};
    size_t ret = 1;
    while (ret != 0) {
      size_t have = plan->payload.size();
      if (have >= kMaxPayloadSize) {
        return Status::Corruption("TRANSACTION_PAYLOAD decompresses beyond any transaction");
      }
      plan->payload.resize(have + std::max<size_t>(ZSTD_DStreamOutSize(), have / 2));
      ZSTD_outBuffer out{plan->payload.data() + have, plan->payload.size() - have, 0};
      ret = ZSTD_decompressStream(dctx.get(), &out, &in);
      plan->payload.resize(have + out.pos);
      if (ZSTD_isError(ret)) {
        return Status::Corruption(std::string("TRANSACTION_PAYLOAD does not decompress: ") +
                                  ZSTD_getErrorName(ret));
      }
      if (ret != 0 && in.pos == in.size && out.pos == 0) {
        return Status::Corruption("TRANSACTION_PAYLOAD ends inside its zstd frame");
      }
    }
    if (uncompressed != 0 && plan->payload.size() != uncompressed) {
      return Status::Corruption("TRANSACTION_PAYLOAD announces " + std::to_string(uncompressed) +
                                " bytes uncompressed, holds " +
                                std::to_string(plan->payload.size()));
    }
    events = plan->payload;
  } else if (compression == 255) {  // NONE
    events = payload;
  } else {
    return Status::Corruption("TRANSACTION_PAYLOAD compression type " +
                              std::to_string(compression) + " is unknown");
  }
  // Inner events cannot be payloads themselves, so plan->payload stays put
  // (rows actions point into it).
  std::string_view rest = events;
  while (!rest.empty()) {
    SLUICE_ASSIGN_OR_RETURN(EventHeader h, ParseHeader(rest));
    if (h.event_size > rest.size()) {
      return Status::Corruption("event inside TRANSACTION_PAYLOAD runs past its end");
    }
    SLUICE_RETURN_IF_ERROR(
        DecodeEvent(rest.substr(0, h.event_size), pos, end_pos, /*inner=*/true, plan));
    rest.remove_prefix(h.event_size);
  }
  return Status::Ok();
}

}  // namespace sluice::binlog
