#include "client/apply.h"

#include <malloc.h>
#include <sys/resource.h>

#include <chrono>
#include <deque>
#include <future>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <thread>

#include <google/protobuf/arena.h>

namespace sluice::apply {

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kCreateSchema = "CREATE DATABASE IF NOT EXISTS sluice_apply";
constexpr const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS sluice_apply.offsets ("
    " dest VARBINARY(255) NOT NULL,"
    " grp VARBINARY(255) NOT NULL,"
    " next_offset BIGINT UNSIGNED NOT NULL COMMENT 'the next log offset to apply',"
    " ddl_pending BIGINT UNSIGNED NULL COMMENT 'the DDL at this offset was started',"
    " source_pos VARCHAR(600) NOT NULL DEFAULT '' COMMENT 'file:pos after the last applied txn',"
    " source_gtid VARCHAR(600) NOT NULL DEFAULT '' COMMENT 'gtid of the last applied txn',"
    " updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),"
    " PRIMARY KEY (dest, grp)) ENGINE=InnoDB";
// The tables inside a snapshot at the stored offset (between a BEGIN mark
// and its END, docs/snapshots.md): their changes apply leniently.
constexpr const char* kCreateSnapshots =
    "CREATE TABLE IF NOT EXISTS sluice_apply.snapshots ("
    " dest VARBINARY(255) NOT NULL,"
    " grp VARBINARY(255) NOT NULL,"
    " db VARBINARY(255) NOT NULL,"
    " tbl VARBINARY(255) NOT NULL,"
    " id VARBINARY(255) NOT NULL COMMENT 'the snapshot whose BEGIN mark was applied',"
    " PRIMARY KEY (dest, grp, db, tbl, id)) ENGINE=InnoDB";

// Errors a DDL gives when it already ran: accepted only for the one DDL a
// crash may have left executed without its offset stored.
bool AlreadyApplied(unsigned err) {
  switch (err) {
    case 1007:  // ER_DB_CREATE_EXISTS
    case 1008:  // ER_DB_DROP_EXISTS
    case 1050:  // ER_TABLE_EXISTS_ERROR
    case 1051:  // ER_BAD_TABLE_ERROR
    case 1054:  // ER_BAD_FIELD_ERROR
    case 1060:  // ER_DUP_FIELDNAME
    case 1061:  // ER_DUP_KEYNAME
    case 1091:  // ER_CANT_DROP_FIELD_OR_KEY
    case 1146:  // ER_NO_SUCH_TABLE
    case 1304:  // ER_SP_ALREADY_EXISTS
    case 1305:  // ER_SP_DOES_NOT_EXIST
    case 1359:  // ER_TRG_ALREADY_EXISTS
    case 1360:  // ER_TRG_DOES_NOT_EXIST
    case 1826:  // ER_FK_DUP_NAME
      return true;
    default: return false;
  }
}

// This process's CPU time (user + system), for the stop line.
long CpuMs() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000L +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000L;
}

std::string PosText(const proto::ChangeRecord& r) {
  return r.pos().file() + ":" + std::to_string(r.pos().pos());
}

class Applier {
 public:
  Applier(Consumer& consumer, const ApplyOptions& options, std::ostream& log)
      : consumer_(consumer), o_(options), log_(log) {
    if (!o_.include.empty()) include_.emplace(o_.include);
  }

  Status Run() {
    auto lost_since = Clock::now();
    int backoff_ms = 100;
    for (;;) {
      target_lost_ = false;
      connected_ = false;
      Status st = Session();
      if (in_flight()) {
        Status ran = Drain();  // before the connection goes; a failure is reported already
        if (st.ok()) st = ran;
      }
      if (st.ok()) return st;
      target_.reset();  // the server rolls back the open transaction
      if (retry_exact_) {
        // A statement for many rows failed: apply the same records again
        // one row per statement, to name the exact offset (or pass).
        retry_exact_ = false;
        continue;
      }
      if (!target_lost_ || consumer_.interrupted()) return st;
      if (connected_) lost_since = Clock::now(), backoff_ms = 100;
      if (Clock::now() - lost_since > std::chrono::milliseconds(o_.reconnect_for_ms)) {
        return st.WithContext("the target stayed unavailable");
      }
      log_ << "sluice apply: " << st.message() << "; reconnecting in " << backoff_ms << " ms"
           << std::endl;
      for (int waited = 0; waited < backoff_ms && !consumer_.interrupted(); waited += 20) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (consumer_.interrupted()) return Status::Ok();
      backoff_ms = std::min(backoff_ms * 2, o_.reconnect_backoff_max_ms);
    }
  }

 private:
  // Target call: remembers a lost connection for Run().
  Status T(Status st) {
    if (st.code() == Code::kUnavailable) target_lost_ = true;
    return st;
  }

  Status Session() {
    run_.Clear();
    batches_.clear();
    in_txn_ = false;
    txn_rows_ = 0;
    since_.reset();
    auto t = MysqlTarget::Connect(o_.target);
    if (!t.ok()) return T(t.status());
    target_ = std::move(*t);
    connected_ = true;
    boundary_ = true;
    pending_pos_.clear();
    pending_gtid_.clear();
    SLUICE_RETURN_IF_ERROR(T(target_->Execute(kCreateSchema)));
    SLUICE_RETURN_IF_ERROR(T(target_->Execute(kCreateTable)));
    SLUICE_RETURN_IF_ERROR(T(target_->Execute(kCreateSnapshots)));
    SLUICE_RETURN_IF_ERROR(LoadSnapshots());
    auto row = target_->QueryRow(
        "SELECT next_offset, ddl_pending, source_pos, source_gtid FROM "
        "sluice_apply.offsets WHERE dest = " +
        target_->Quote(o_.dest) + " AND grp = " + target_->Quote(o_.group));
    if (!row.ok()) return T(row.status());
    const bool stored = !row->empty();
    committed_ = stored ? std::stoull(*(*row)[0]) : 0;
    ddl_retry_.reset();
    if (stored && (*row)[1]) ddl_retry_ = std::stoull(*(*row)[1]);
    if (stored) last_pos_ = (*row)[2].value_or(""), last_gtid_ = (*row)[3].value_or("");
    pending_ = committed_;
    next_ = committed_;
    have_start_ = stored;

    auto sub = consumer_.Subscribe(o_.dest, o_.group);
    if (!sub.ok()) return Interrupted(sub.status());
    const uint64_t acked = sub->acked_offset();
    if (acked > committed_ && (stored || acked > 0)) {
      return Status::FailedPrecondition(
          "group '" + o_.group + "' of destination '" + o_.dest +
          "' has acknowledged every "
          "record below offset " +
          std::to_string(acked) + " but the target stores " +
          (stored ? "offset " + std::to_string(committed_) : std::string("no position")) +
          " in sluice_apply.offsets: applying would skip records; use a new --group for a new "
          "target");
    }
    // Batches a previous run took and never acknowledged come again.
    auto rb = consumer_.Rollback(o_.dest, o_.group, 0);
    if (!rb.ok()) return Interrupted(rb.status());
    log_ << "sluice apply: " << o_.dest << " -> " << o_.target.host << ":" << o_.target.port << " ("
         << target_->server_version() << (target_->bulk() ? ", bulk" : "") << "), group "
         << o_.group << ", "
         << (stored ? "resuming at offset " + std::to_string(committed_)
                    : std::string("no stored position: from the group's start"))
         << std::endl;

    for (;;) {
      const auto get_start = Clock::now();
      auto got = consumer_.Get(o_.dest, o_.group, o_.get_batch, static_cast<uint32_t>(o_.flush_ms));
      get_time_ += Clock::now() - get_start;
      if (!got.ok()) return Interrupted(got.status());
      if (got->batch_id() != 0) batches_.emplace_back(got->batch_id(), got->end_offset());
      {
        // The batch's records live in one arena (parsing them one by one
        // was most of apply's CPU, in malloc and free). Batches alternate
        // between two arenas: the run executing on the target may still
        // borrow from the previous batch's.
        const int slot = static_cast<int>(batches_seen_++ % 2);
        if (in_flight() && flight_slot_ == slot) SLUICE_RETURN_IF_ERROR(Drain());
        arenas_[slot].reset();
        arenas_[slot].emplace(arena_options_[slot]);
        slot_ = slot;
        Status st;
        for (const auto& rec : got->records()) {
          st = Handle(rec.offset(), rec.record(), &*arenas_[slot]);
          if (!st.ok()) break;
        }
        // A run never spans batches: it goes to the target now.
        if (st.ok()) st = FlushRun();
        if (!st.ok()) {
          run_.Clear();  // it borrows from the arena
          return st;
        }
      }
      // Caught up (a short batch) or past the limits: commit at this boundary.
      const bool short_batch = got->records_size() < static_cast<int>(o_.get_batch);
      if (boundary_ && (pending_ > committed_ || in_txn_) && (short_batch || Due())) {
        SLUICE_RETURN_IF_ERROR(Commit());
      } else if (boundary_ && pending_ == committed_ && !batches_.empty()) {
        AckUpTo(committed_);
      }
    }
  }

  // The Consumer stopped: Ok when interrupted (after storing what is whole).
  Status Interrupted(const Status& st) {
    if (!consumer_.interrupted()) return st;
    if (boundary_ && pending_ > committed_ && target_) {
      Status c = Commit();
      if (!c.ok()) log_ << "sluice apply: " << c.ToString() << std::endl;
    }
    using Ms = std::chrono::milliseconds;
    log_ << "sluice apply: stopped at offset " << committed_ << " (time in Get "
         << std::chrono::duration_cast<Ms>(get_time_).count() << " ms, in statements "
         << std::chrono::duration_cast<Ms>(exec_time_).count() << " ms (";
    const char* forms[] = {"inserts", "updates", "upserts", "deletes"};
    for (int f = 0; f < 4; ++f) {
      log_ << (f ? ", " : "") << form_rows_[f] << " " << forms[f]
           << (f == 0 ? " (" + std::to_string(loaded_rows_) + " by LOAD DATA)" : "") << " "
           << std::chrono::duration_cast<Ms>(form_time_[f]).count() << " ms";
    }
    log_ << "), in commits " << std::chrono::duration_cast<Ms>(commit_time_).count() << " ms; CPU "
         << CpuMs() << " ms)" << std::endl;
    return Status::Ok();
  }

  bool Due() const {
    if (txn_rows_ >= o_.txn_rows) return true;
    return since_ && Clock::now() - *since_ >= std::chrono::milliseconds(o_.flush_ms);
  }

  // Remembers the answer for the last table asked about: records come in
  // runs of one table, and a regex match per record was a tenth of
  // apply's CPU.
  bool Included(const proto::ChangeRecord& r) {
    if (included_known_ && r.db() == included_db_ && r.table() == included_table_) {
      return included_;
    }
    included_known_ = true;
    included_db_ = r.db();
    included_table_ = r.table();
    included_ = r.db() != "sluice_apply" &&  // our own position, applied downstream
                (!include_ || std::regex_match(r.db() + "." + r.table(), *include_));
    return included_;
  }

  const std::string& TargetDb(const std::string& db) const {
    auto it = o_.rename.find(db);
    return it == o_.rename.end() ? db : it->second;
  }

  Status Handle(uint64_t offset, const std::string& bytes, google::protobuf::Arena* arena) {
    if (have_start_ && offset < next_) return Status::Ok();  // applied, or in the open txn
    if (have_start_ && offset > next_) {
      return Status::FailedPrecondition(
          "records " + std::to_string(next_) + ".." + std::to_string(offset - 1) + " of '" +
          o_.dest + "' were not delivered (no longer retained?): refusing to skip them");
    }
    have_start_ = true;
    next_ = offset + 1;
    auto* parsed = google::protobuf::Arena::CreateMessage<proto::ChangeRecord>(arena);
    proto::ChangeRecord& r = *parsed;
    if (!r.ParseFromString(bytes)) {
      return Status::Corruption("record at offset " + std::to_string(offset) + " does not parse");
    }
    // Built only for a message: formatting it for every record was a
    // measurable share of apply's CPU.
    auto where = [&] {
      return "offset " + std::to_string(offset) + " (source " + PosText(r) +
             (r.gtid().empty() ? "" : ", gtid " + r.gtid()) + ")";
    };
    const bool last = r.txn().last();
    switch (r.op()) {
      case proto::OP_ERROR:
        return Refuse(Status::FailedPrecondition(
            "the log holds a change sluice could not capture at " + where() + ", " + r.db() + "." +
            r.table() + ": " + r.error().reason() +
            (r.sql().empty() ? "" : " (statement: " + r.sql() + ")") +
            "; apply stops here: replay it by hand, then store offset " +
            std::to_string(offset + 1) + " in sluice_apply.offsets to go on"));
      case proto::OP_SCHEMA: break;
      case proto::OP_SNAPSHOT:
        if (Included(r)) SLUICE_RETURN_IF_ERROR(NoteSnapshot(r));
        break;
      case proto::OP_DDL:
        if (Included(r)) SLUICE_RETURN_IF_ERROR(ApplyDdl(offset, r, where()));
        break;
      case proto::OP_INSERT:
      case proto::OP_UPDATE:
      case proto::OP_DELETE:
      case proto::OP_READ: {
        if (!Included(r)) break;
        Status ok = CheckRowRecord(r, target_->is_mariadb());
        if (!ok.ok()) return Refuse(ok.WithContext("cannot apply " + where()));
        RowRun::Limits limits = o_.run;
        if (offset < exact_until_) limits.max_rows = 1, limits.upsert = false;
        limits.lenient = !snapshots_.empty() && snapshots_.count(r.db() + '\0' + r.table()) > 0;
        if (limits.lenient && r.op() == proto::OP_UPDATE && !RowRun::Upsertable(r, limits)) {
          // An update that moves its key (or of a table without one) while
          // the target may lack the row: the old row goes if it is there,
          // the new one is upserted.
          auto* del = google::protobuf::Arena::CreateMessage<proto::ChangeRecord>(arena);
          auto* put = google::protobuf::Arena::CreateMessage<proto::ChangeRecord>(arena);
          for (auto* part : {del, put}) {
            part->set_db(r.db());
            part->set_table(r.table());
            *part->mutable_pk() = r.pk();
          }
          del->set_op(proto::OP_DELETE);
          *del->mutable_before() = r.before();
          put->set_op(proto::OP_READ);
          *put->mutable_after() = r.after();
          SLUICE_RETURN_IF_ERROR(AddRow(*del, offset, limits));
          SLUICE_RETURN_IF_ERROR(AddRow(*put, offset, limits));
        } else {
          SLUICE_RETURN_IF_ERROR(AddRow(r, offset, limits));
        }
        break;
      }
      default:
        return Status::InvalidArgument("record at " + where() + " has an unknown op " +
                                       std::to_string(r.op()) + " (a newer sluiced?)");
    }
    boundary_ = last;
    if (last && r.op() != proto::OP_DDL) {
      pending_ = offset + 1;
      pending_pos_ = PosText(r);
      pending_gtid_ = r.gtid();
      if (!since_) since_ = Clock::now();
      if (Due()) SLUICE_RETURN_IF_ERROR(Commit());
    }
    return Status::Ok();
  }

  Status AddRow(const proto::ChangeRecord& r, uint64_t offset, const RowRun::Limits& limits) {
    const std::string& db = TargetDb(r.db());
    if (!run_.Fits(r, db, limits)) SLUICE_RETURN_IF_ERROR(FlushRun());
    SLUICE_RETURN_IF_ERROR(Begin());
    run_.Add(r, offset, db, limits);
    ++txn_rows_;
    return Status::Ok();
  }

  // The tables inside a snapshot, as the target stores them.
  Status LoadSnapshots() {
    snapshots_.clear();
    auto rows = target_->QueryRows(
        "SELECT db, tbl, id FROM sluice_apply.snapshots WHERE dest = " + target_->Quote(o_.dest) +
        " AND grp = " + target_->Quote(o_.group));
    if (!rows.ok()) return T(rows.status());
    for (const auto& row : *rows) {
      if (row.size() < 3 || !row[0] || !row[1] || !row[2]) continue;
      snapshots_[*row[0] + '\0' + *row[1]].insert(*row[2]);
    }
    return Status::Ok();
  }

  // A snapshot mark: the table's changes are lenient from its BEGIN to its
  // END (stored in the target transaction of the records around it).
  Status NoteSnapshot(const proto::ChangeRecord& r) {
    const std::string key = r.db() + '\0' + r.table();
    const bool begin = r.snapshot().phase() == proto::SnapshotMark::BEGIN;
    auto& ids = snapshots_[key];
    if (begin == (ids.count(r.snapshot().id()) > 0)) {
      if (ids.empty()) snapshots_.erase(key);
      return Status::Ok();  // (a mark seen before: a restart between them)
    }
    SLUICE_RETURN_IF_ERROR(FlushRun());
    SLUICE_RETURN_IF_ERROR(Drain());
    SLUICE_RETURN_IF_ERROR(Begin());
    const std::string where =
        " WHERE dest = " + target_->Quote(o_.dest) + " AND grp = " + target_->Quote(o_.group) +
        " AND db = " + target_->Quote(r.db()) + " AND tbl = " + target_->Quote(r.table()) +
        " AND id = " + target_->Quote(r.snapshot().id());
    if (begin) {
      SLUICE_RETURN_IF_ERROR(T(target_->Execute(
          "INSERT IGNORE INTO sluice_apply.snapshots (dest, grp, db, tbl, id) VALUES (" +
          target_->Quote(o_.dest) + ", " + target_->Quote(o_.group) + ", " +
          target_->Quote(r.db()) + ", " + target_->Quote(r.table()) + ", " +
          target_->Quote(r.snapshot().id()) + ")")));
      ids.insert(r.snapshot().id());
    } else {
      SLUICE_RETURN_IF_ERROR(T(target_->Execute("DELETE FROM sluice_apply.snapshots" + where)));
      ids.erase(r.snapshot().id());
      if (ids.empty()) snapshots_.erase(key);
    }
    return Status::Ok();
  }

  // Stops at a record apply must not apply; what came before it is stored
  // first when it is whole (the record starts a transaction).
  Status Refuse(Status st) {
    if (boundary_ && (pending_ > committed_ || in_txn_)) {
      Status c = Commit();
      if (!c.ok()) return c;
    }
    return st;
  }

  Status Begin() {
    if (in_txn_) return Status::Ok();
    SLUICE_RETURN_IF_ERROR(Drain());  // (nothing runs outside a transaction)
    SLUICE_RETURN_IF_ERROR(T(target_->Execute("START TRANSACTION")));
    in_txn_ = true;
    if (!since_) since_ = Clock::now();
    return Status::Ok();
  }

  // Hands the run being built to the target, to execute on its own thread
  // while this one reads, parses and groups the next records; the run
  // before it is waited for first (one run at a time on the connection).
  Status FlushRun() {
    if (run_.empty()) return Status::Ok();
    SLUICE_RETURN_IF_ERROR(Drain());
    std::swap(run_, flight_);
    flight_rows_ = flight_.rows();
    flight_last_ = flight_.last_offset();
    flight_form_ = flight_.form();
    flight_slot_ = slot_;
    flight_done_ = std::async(std::launch::async, [run = &flight_, target = target_.get()] {
      const auto start = Clock::now();
      Status st = run->Execute(target);
      return Executed{std::move(st), Clock::now() - start, run->last_loaded()};
    });
    return Status::Ok();
  }

  bool in_flight() const { return flight_done_.valid(); }

  // Waits for the run executing on the target; its outcome. Every other
  // use of the target comes after a Drain().
  Status Drain() {
    if (!in_flight()) return Status::Ok();
    Executed done = flight_done_.get();
    exec_time_ += done.took;
    form_time_[flight_form_] += done.took;
    form_rows_[flight_form_] += flight_rows_;
    if (done.loaded && done.status.ok()) loaded_rows_ += flight_rows_;
    Status st = T(std::move(done.status));
    if (!st.ok() && !target_lost_ && flight_rows_ > 1) {
      log_ << "sluice apply: a statement for " << flight_rows_ << " rows failed (" << st.message()
           << "); applying them again one row per statement" << std::endl;
      exact_until_ = flight_last_ + 1;
      retry_exact_ = true;
    }
    flight_.Clear();
    return st;
  }

  Status WriteOffset(uint64_t next, const std::string& pos, const std::string& gtid,
                     std::optional<uint64_t> ddl_pending) {
    return T(target_->Execute(
        "INSERT INTO sluice_apply.offsets (dest, grp, next_offset, ddl_pending, source_pos, "
        "source_gtid, updated_at) VALUES (" +
        target_->Quote(o_.dest) + ", " + target_->Quote(o_.group) + ", " + std::to_string(next) +
        ", " + (ddl_pending ? std::to_string(*ddl_pending) : "NULL") + ", " + target_->Quote(pos) +
        ", " + target_->Quote(gtid) +
        ", NOW(6)) ON DUPLICATE KEY UPDATE next_offset = VALUES(next_offset), ddl_pending = "
        "VALUES(ddl_pending), source_pos = VALUES(source_pos), source_gtid = "
        "VALUES(source_gtid), updated_at = VALUES(updated_at)"));
  }

  // Applies what is pending and stores pending_ with it, in one target
  // transaction. REQUIRES: at a source-transaction boundary.
  Status Commit(std::optional<uint64_t> ddl_pending = std::nullopt) {
    SLUICE_RETURN_IF_ERROR(FlushRun());
    SLUICE_RETURN_IF_ERROR(Drain());
    SLUICE_RETURN_IF_ERROR(Begin());
    SLUICE_RETURN_IF_ERROR(WriteOffset(pending_, pending_pos_, pending_gtid_, ddl_pending));
    const auto start = Clock::now();
    SLUICE_RETURN_IF_ERROR(T(target_->Execute("COMMIT")));
    commit_time_ += Clock::now() - start;
    in_txn_ = false;
    txn_rows_ = 0;
    since_.reset();
    committed_ = pending_;
    last_pos_ = pending_pos_;
    last_gtid_ = pending_gtid_;
    AckUpTo(committed_);
    return Status::Ok();
  }

  // A DDL implicitly commits, so it cannot share a transaction with its
  // offset. Before it runs, the offset of everything before it is stored
  // with ddl_pending = its offset; after it ran, offset + 1 and no marker.
  // A crash between the two leaves the marker: the next run executes that
  // one DDL again and takes "already exists / does not exist" as done.
  Status ApplyDdl(uint64_t offset, const proto::ChangeRecord& r, const std::string& where) {
    pending_ = offset;
    if (pending_pos_.empty()) pending_pos_ = last_pos_, pending_gtid_ = last_gtid_;
    SLUICE_RETURN_IF_ERROR(Commit(offset));
    const bool retry = ddl_retry_ && *ddl_retry_ == offset;
    const std::string& db = TargetDb(r.db());
    if (!db.empty()) {
      Status use = T(target_->Execute("USE " + QuoteIdent(db)));
      // 1049: unknown database: the statement may create it, or qualify its names.
      if (!use.ok() && target_->last_errno() != 1049) return use.WithContext("DDL at " + where);
    }
    // A snapshot creates the databases of its tables; under --rename the
    // target's name is the one to create.
    const bool create_db = r.has_snapshot() && r.table().empty() && db != r.db();
    Status st = T(
        target_->Execute(create_db ? "CREATE DATABASE IF NOT EXISTS " + QuoteIdent(db) : r.sql()));
    target_->ClearStatements();  // table shapes may have changed
    if (!st.ok()) {
      if (!(retry && AlreadyApplied(target_->last_errno()))) {
        return st.WithContext("DDL at " + where);
      }
      log_ << "sluice apply: the DDL at " << where << " had run before the last stop ("
           << st.message() << "): taken as applied" << std::endl;
    }
    ddl_retry_.reset();
    pending_ = offset + 1;
    pending_pos_ = PosText(r);
    pending_gtid_ = r.gtid();
    return Commit();
  }

  void AckUpTo(uint64_t committed) {
    std::optional<uint64_t> id;
    while (!batches_.empty() && batches_.front().second <= committed) {
      id = batches_.front().first;
      batches_.pop_front();
    }
    if (!id) return;
    auto acked = consumer_.Ack(o_.dest, o_.group, *id);
    // NotFound: a reconnect took the batch back; its records come again and are skipped.
    if (!acked.ok() && acked.status().code() != Code::kNotFound && !consumer_.interrupted()) {
      log_ << "sluice apply: warning: ack of batch " << *id
           << " failed: " << acked.status().ToString() << std::endl;
    }
  }

  Consumer& consumer_;
  const ApplyOptions& o_;
  std::ostream& log_;
  std::optional<std::regex> include_;
  std::string included_db_, included_table_;  // Included()'s last question
  bool included_known_ = false, included_ = false;
  // Every batch's arena starts in the same block: no large malloc (and
  // its malloc_consolidate) per batch.
  static constexpr size_t kArenaBlock = 32 << 20;
  std::unique_ptr<char[]> arena_blocks_[2] = {std::unique_ptr<char[]>(new char[kArenaBlock]),
                                              std::unique_ptr<char[]>(new char[kArenaBlock])};
  const google::protobuf::ArenaOptions arena_options_[2] = {ArenaOptionsFor(0), ArenaOptionsFor(1)};
  google::protobuf::ArenaOptions ArenaOptionsFor(int slot) {
    google::protobuf::ArenaOptions a;
    a.initial_block = arena_blocks_[slot].get();
    a.initial_block_size = kArenaBlock;
    a.start_block_size = 1 << 20;
    a.max_block_size = 8 << 20;
    return a;
  }
  std::optional<google::protobuf::Arena> arenas_[2];  // by batch number % 2
  uint64_t batches_seen_ = 0;
  int slot_ = 0;  // the arena of the batch being handled

  std::unique_ptr<MysqlTarget> target_;
  bool target_lost_ = false;
  bool connected_ = false;  // this session reached the target
  bool retry_exact_ = false;
  uint64_t exact_until_ = 0;  // below it, one row per statement
  // "db\0table" -> the snapshots it is inside (NoteSnapshot).
  std::map<std::string, std::set<std::string>> snapshots_;

  uint64_t committed_ = 0;             // stored next offset
  std::optional<uint64_t> ddl_retry_;  // the DDL a crash may have left executed
  std::string last_pos_, last_gtid_;   // of the stored position
  uint64_t next_ = 0;                  // the next offset expected from the group
  bool have_start_ = false;
  bool boundary_ = true;  // the last record handled ended its transaction
  uint64_t pending_ = 0;  // offset after the last whole transaction handled
  std::string pending_pos_, pending_gtid_;
  bool in_txn_ = false;
  size_t txn_rows_ = 0;
  std::optional<Clock::time_point> since_;  // first change not yet committed
  RowRun run_;
  Clock::duration get_time_{}, exec_time_{}, commit_time_{};  // for the stop line
  Clock::duration form_time_[4]{};                            // by RowRun::form()
  uint64_t form_rows_[4]{};
  uint64_t loaded_rows_ = 0;                           // inserts sent by LOAD DATA
  std::deque<std::pair<uint64_t, uint64_t>> batches_;  // (batch id, end offset) not yet acked

  // The run executing on the target (FlushRun, Drain), and what Drain
  // needs of it. Declared last: destroying the future waits for the run,
  // which uses flight_, target_ and the arenas.
  RowRun flight_;
  size_t flight_rows_ = 0;
  uint64_t flight_last_ = 0;
  int flight_form_ = 0;
  int flight_slot_ = 0;  // the arena its records live in
  struct Executed {
    Status status;
    Clock::duration took;
    bool loaded;
  };
  std::future<Executed> flight_done_;
};

}  // namespace

Status ApplyOptions::Validate() const {
  if (dest.empty()) return Status::InvalidArgument("--dest is required");
  if (group.empty()) return Status::InvalidArgument("--group must not be empty");
  if (!include.empty()) {
    try {
      std::regex check(include);
    } catch (const std::regex_error& e) {
      return Status::InvalidArgument("--include '" + include + "' is not a regex: " + e.what());
    }
  }
  if (get_batch == 0 || txn_rows == 0 || flush_ms <= 0 || run.max_rows == 0) {
    return Status::InvalidArgument("batch limits must be positive");
  }
  return Status::Ok();
}

Status AddRename(const std::string& spec, std::map<std::string, std::string>* rename) {
  const size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
    return Status::InvalidArgument("--rename takes SRC_DB=DST_DB, not '" + spec + "'");
  }
  (*rename)[spec.substr(0, eq)] = spec.substr(eq + 1);
  return Status::Ok();
}

Status RunApply(Consumer& consumer, const ApplyOptions& options, std::ostream& log) {
  SLUICE_RETURN_IF_ERROR(options.Validate());
  // No fastbins: freeing a batch's thousands of records then allocating
  // a large buffer made glibc consolidate fastbins on every batch (a sixth
  // of apply's CPU). The thread cache still serves small allocations.
  ::mallopt(M_MXFAST, 0);
  // And keep freed memory: each Get answer is megabytes; mapped and
  // unmapped per batch it page-faulted in again every time.
  ::mallopt(M_MMAP_THRESHOLD, 32 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 256 << 20);
  Applier a(consumer, options, log);
  return a.Run();
}

}  // namespace sluice::apply
