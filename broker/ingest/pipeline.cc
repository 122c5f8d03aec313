#include "broker/ingest/pipeline.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>

#include "base/coding.h"
#include "broker/binlog/gtid_state.h"
#include "broker/ingest/block_list.h"
#include "broker/ingest/record_buffer.h"
#include "broker/ring/ring.h"

namespace sluice::ingest {
namespace {

// A slot keeps buffers up to this size between uses (rows events are 8 KB
// by default: their records fit many times over); larger ones are freed.
// So does a worker's LZ4 output buffer (a block's bound is a little over
// BlockList::kBlockRawBytes plus its last record).
constexpr size_t kSlotKeepBytes = 256 << 10;
constexpr size_t kScratchKeepBytes = 1 << 20;

// The open transaction's blocks: at most chunk_records records, compressed
// (about 1 MB at the default 10,000); more than this is freed after commit.
constexpr size_t kTxnKeepBytes = 8 << 20;

// Ingest state (CommitLog::CommitBlocks): the last schema record of each
// table, "shape/" + db + '\0' + table -> be64(offset) + TableShape bytes,
// so that a resumed ingest records a table's shape again only when it
// differs from the one the log holds (the log after a restart equals the
// log of one uninterrupted run).
constexpr std::string_view kShapePrefix = "shape/";
// Prepared XA transactions: "xa/" + xid -> proto::PendingXa (their blocks).
constexpr std::string_view kXaPrefix = "xa/";

std::string ShapeValue(uint64_t offset, const std::string& shape) {
  std::string v(8, '\0');
  for (int i = 0; i < 8; ++i) v[i] = static_cast<char>(offset >> (56 - 8 * i));
  return v + shape;
}

}  // namespace

struct Pipeline::Slot {
  // Filled by the fetch thread.
  std::string bytes;
  std::string file;
  uint64_t pos = 0;
  // Stage 1.
  binlog::EventPlan plan;
  std::vector<uint8_t> skip;  // per action: filtered out
  // Stage 2: serialized records of every kept rows/DDL action, in order
  // (framed as a log block's raw bytes), and how many each action
  // produced; then the same records packed into log blocks, action i
  // having action_blocks[i] of them.
  RecordBuffer out;
  std::vector<uint32_t> counts;
  binlog::RowEncoder encoder;
  BlockList blocks;
  std::vector<uint32_t> action_blocks;
  proto::ChangeRecord error;  // a worker's error record (skip_undecodable)
  uint32_t undecodable = 0;   // events a worker stored as error records
};

class Pipeline::Impl {
 public:
  Impl(const IngestOptions& o, CommitLog* log, IngestStats* stats)
      : options_(o), log_(log), stats_(stats), decoder_(MakeDecoderOptions(o)) {}

  Status Init() {
    for (const auto& re : options_.include) include_.emplace_back(re, std::regex::optimize);
    for (const auto& re : options_.exclude) exclude_.emplace_back(re, std::regex::optimize);
    SLUICE_ASSIGN_OR_RETURN(gtid_, binlog::GtidState::Parse(log_->Checkpoint().gtid_set()));
    gtid_known_ = log_->Checkpoint().gtid_known();
    SLUICE_RETURN_IF_ERROR(SeedShapes());
    return SeedPreparedXa();
  }

  Status Run(binlog::BinlogSource* source, const std::atomic<bool>* stop);

 private:
  static binlog::DecoderOptions MakeDecoderOptions(const IngestOptions& o) {
    binlog::DecoderOptions d;
    d.column_names = o.column_names;
    d.schema = o.schema;
    d.skip_undecodable = o.skip_undecodable;
    return d;
  }

  bool Wanted(const std::string& db, const std::string& table) {
    if (include_.empty() && exclude_.empty()) return true;
    std::string name = db + "." + table;
    auto it = filter_cache_.find(name);
    if (it != filter_cache_.end()) return it->second;
    bool want = include_.empty();
    for (const auto& re : include_) want = want || std::regex_match(name, re);
    for (const auto& re : exclude_) want = want && !std::regex_match(name, re);
    if (filter_cache_.size() > 100000) filter_cache_.clear();
    filter_cache_[name] = want;
    return want;
  }

  void MarkCaughtUp() {
    stats_->caught_up_ms.store(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count(),
                               std::memory_order_relaxed);
  }
  Status SeedShapes();
  // Stage 1: forgets the shapes whose schema record is below the log's
  // first offset (retention removed it), so they are recorded again.
  void ForgetRemovedShapes();
  Status SeedPreparedXa();
  Status CommitViews(const binlog::TxnEnd& end, uint64_t records);
  void PublishXaStats();
  Status Stage1(Slot& s);
  Status Stage2(Slot& s, int worker, ring::SeqNo seq);
  Status Stage3(Slot& s);
  // Stage 3 with the snapshot gate held (snapshot_gate.h).
  Status GatedStage3(Slot& s);
  void NoteForGate(const Slot& s, size_t action, size_t first_record);
  Status FlushChunk();
  Status Commit(const binlog::TxnEnd& end);

  const IngestOptions options_;
  SnapshotGate* const gate_ = options_.gate;
  CommitLog* const log_;
  IngestStats* const stats_;

  // Stage 1.
  binlog::Decoder decoder_;
  std::vector<std::regex> include_, exclude_;
  std::unordered_map<std::string, bool> filter_cache_;
  uint64_t shapes_first_ = 0;  // the log's first offset when shapes were last checked

  // The offset of each table's last schema record ("db\0table"): set by
  // stage 3 (and SeedShapes), read by stage 1 when retention moved the
  // log's first offset.
  Mutex shape_mu_;
  std::unordered_map<std::string, uint64_t> shape_offsets_ GUARDED_BY(shape_mu_);

  // Stage 3: the open transaction.
  BlockList txn_;         // its blocks not yet in the log
  uint64_t seq_ = 0;      // records taken so far
  bool chunked_ = false;  // chunks of the open transaction are in the log
  uint64_t open_ts_ = 0;
  binlog::GtidState gtid_;
  bool gtid_known_ = false;  // gtid_ is the server's whole state (SourceCheckpoint.gtid_known)
  std::vector<std::string_view> views_;
  const bool compress_ = log_->options().compression != Compression::kNone;
  proto::SourceCheckpoint checkpoint_;
  uint64_t txn_base_ = 0;                  // offset of the open transaction's first record
  std::vector<IngestStateWrite> state_;    // written with the open transaction's commit
  std::map<std::string, uint64_t> xa_ts_;  // prepared XA transactions: xid -> source time
  // Stage 2: each worker's LZ4 output space (per worker, not per slot: a
  // ring of them would hold ring_size blocks of memory).
  std::vector<std::string> scratch_ = std::vector<std::string>(options_.parse_threads);
};

// Tells the decoder which shapes the log holds, from the ingest state. An
// entry counts only while its schema record is still readable in the log
// and is the same shape: a log truncated after a failover or cut by
// retention gets the shape recorded again.
Status Pipeline::Impl::SeedShapes() {
  SLUICE_ASSIGN_OR_RETURN(auto entries, log_->ReadIngestState(kShapePrefix));
  proto::ChangeRecord rec;
  for (auto& [key, value] : entries) {
    if (value.size() < 8) continue;
    uint64_t offset = 0;
    for (int i = 0; i < 8; ++i) offset = offset << 8 | static_cast<uint8_t>(value[i]);
    auto read = log_->Read(Offset(offset), 1, 0);
    if (!read.ok() || read->records.empty() || read->records[0].offset.value() != offset) continue;
    if (!rec.ParseFromArray(read->records[0].data.data(),
                            static_cast<int>(read->records[0].data.size())) ||
        rec.op() != proto::OP_SCHEMA)
      continue;
    std::string table_key = key.substr(kShapePrefix.size());
    std::string shape = value.substr(8);
    if (rec.db() + '\0' + rec.table() != table_key || rec.schema().SerializeAsString() != shape) {
      continue;
    }
    {
      MutexLock lock(&shape_mu_);
      shape_offsets_[table_key] = offset;
    }
    decoder_.SeedShape(std::move(table_key), std::move(shape));
  }
  return Status::Ok();
}

// The prepared XA transactions the log's ingest state keeps: the decoder
// learns their xids (so their XA COMMIT gives their records), the stats
// their number and age.
Status Pipeline::Impl::SeedPreparedXa() {
  SLUICE_ASSIGN_OR_RETURN(auto entries, log_->ReadIngestState(kXaPrefix));
  proto::PendingXa p;
  for (const auto& [key, value] : entries) {
    if (!p.ParseFromString(value)) {
      return Status::Corruption("the prepared XA transaction " + key +
                                " in the log's ingest "
                                "state does not parse");
    }
    decoder_.SeedPreparedXa(p.xid());
    xa_ts_[p.xid()] = p.prepared_ts();
  }
  PublishXaStats();
  return Status::Ok();
}

void Pipeline::Impl::PublishXaStats() {
  uint64_t oldest = 0;
  for (const auto& [xid, ts] : xa_ts_) oldest = oldest == 0 ? ts : std::min(oldest, ts);
  stats_->xa_pending.store(xa_ts_.size(), std::memory_order_relaxed);
  stats_->xa_oldest_prepared_ts.store(oldest, std::memory_order_relaxed);
}

// A table whose schema record retention removed gets a new one before its
// next row, so a consumer starting at the first offset meets a schema
// record before the rows of every table. A shape whose new record is still
// in the ring when the old one goes may be recorded twice (an equal schema
// record, as after a failover).
void Pipeline::Impl::ForgetRemovedShapes() {
  const uint64_t first = log_->FirstOffset().value();
  if (first == shapes_first_) return;
  shapes_first_ = first;
  MutexLock lock(&shape_mu_);
  for (auto it = shape_offsets_.begin(); it != shape_offsets_.end();) {
    if (it->second < first) {
      decoder_.ForgetShape(it->first);
      it = shape_offsets_.erase(it);
    } else {
      ++it;
    }
  }
}

Status Pipeline::Impl::Stage1(Slot& s) {
  ForgetRemovedShapes();
  binlog::RawEvent ev{s.bytes, s.file, s.pos};
  SLUICE_RETURN_IF_ERROR(decoder_.Plan(ev, &s.plan));
  if (options_.on_warning) {
    for (const auto& w : s.plan.warnings) options_.on_warning(w);
  }
  s.skip.assign(s.plan.size, 0);
  for (size_t i = 0; i < s.plan.size; ++i) {
    const auto& a = s.plan.actions[i];
    if (a.kind == binlog::EventPlan::Action::kRows) {
      s.skip[i] = !Wanted(a.table->db, a.table->table);
    } else if (a.kind == binlog::EventPlan::Action::kDdl) {
      const proto::ChangeRecord& d = s.plan.ddls[a.ddl];
      // An error record whose table is unknown is kept: it may be ours.
      const bool unknown = d.op() == proto::OP_ERROR && d.db().empty();
      s.skip[i] = !unknown && !Wanted(d.db(), d.table());
    }
  }
  return Status::Ok();
}

Status Pipeline::Impl::Stage2(Slot& s, int worker, ring::SeqNo seq) {
  if (options_.worker_hook) options_.worker_hook(worker, seq.value());
  s.out.Clear(kSlotKeepBytes);
  s.undecodable = 0;
  s.counts.assign(s.plan.size, 0);
  s.action_blocks.assign(s.plan.size, 0);
  s.blocks.Clear(kSlotKeepBytes);
  for (size_t i = 0; i < s.plan.size; ++i) {
    if (s.skip[i]) continue;
    const auto& a = s.plan.actions[i];
    size_t before = s.out.count();
    if (a.kind == binlog::EventPlan::Action::kRows) {
      Status st = binlog::EncodeAction(a, s.plan.file, options_.column_names, &s.encoder, &s.out);
      if (!st.ok()) {
        st = st.WithContext(s.plan.file + " at " + std::to_string(a.pos));
        if (!options_.skip_undecodable) return st;
        // The rows of this event that did decode go too: the event is
        // stored whole, as an error record, or not at all.
        s.out.TruncateTo(before);
        proto::ChangeRecord& e = s.error;
        binlog::FillUndecodable(static_cast<uint8_t>(s.bytes.size() > 4 ? s.bytes[4] : 0), s.bytes,
                                s.pos, st.ToString(), &e);
        e.set_db(a.table->db);
        e.set_table(a.table->table);
        e.set_ts(a.timestamp);
        e.mutable_pos()->set_file(s.plan.file);
        e.mutable_pos()->set_pos(a.end_pos);
        e.set_gtid(a.gtid);
        if (!s.out.AppendMessage(e)) return Status::Internal("an error record does not serialize");
        ++s.undecodable;
      }
    } else if (a.kind == binlog::EventPlan::Action::kDdl &&
               !s.out.AppendMessage(s.plan.ddls[a.ddl])) {
      return Status::Internal("a DDL record does not serialize");
    }
    if (s.out.oversized()) {
      return Status::InvalidArgument("a change record of 4 GiB or more (" + s.plan.file + " at " +
                                     std::to_string(a.pos) + ") cannot be stored");
    }
    s.counts[i] = static_cast<uint32_t>(s.out.count() - before);
    if (s.counts[i] > 0) {
      s.action_blocks[i] = static_cast<uint32_t>(s.blocks.Pack(
          s.out, before, s.counts[i], compress_, &scratch_[static_cast<size_t>(worker)]));
    }
  }
  std::string& scratch = scratch_[static_cast<size_t>(worker)];
  if (scratch.size() > kScratchKeepBytes) std::string().swap(scratch);
  return Status::Ok();
}

// Appends all blocks of the open transaction but the newest, so that its
// commit always has a batch to carry the checkpoint (no rewrite of a chunk).
Status Pipeline::Impl::FlushChunk() {
  const size_t n = txn_.size() - 1;
  txn_.Views(n, &views_);
  SLUICE_RETURN_IF_ERROR(log_->AppendBlockChunk(views_, open_ts_).status());
  txn_.DropFront(n);
  chunked_ = true;
  stats_->chunks.fetch_add(1, std::memory_order_relaxed);
  return Status::Ok();
}

// Ends the open transaction. An XA PREPARE keeps the transaction's blocks
// in the ingest state instead of the log (committed with the checkpoint,
// so a crash loses and repeats nothing); its XA COMMIT writes them to the
// log as one transaction at its own position, XA ROLLBACK drops them.
Status Pipeline::Impl::Commit(const binlog::TxnEnd& end) {
  uint64_t records = seq_;
  txn_.Views(txn_.size(), &views_);
  proto::PendingXa pending;
  switch (end.xa) {
    case binlog::XaPhase::kNone: break;
    case binlog::XaPhase::kPrepare:
      pending.set_xid(end.xid);
      pending.set_prepared_ts(end.timestamp);
      pending.set_prepared_at(end.file + ":" + std::to_string(end.pos));
      pending.set_gtid(end.gtid);
      pending.set_records(records);
      for (std::string_view v : views_) pending.add_blocks(std::string(v));
      state_.push_back(
          IngestStateWrite{std::string(kXaPrefix) + end.xid, pending.SerializeAsString()});
      xa_ts_[end.xid] = end.timestamp;
      views_.clear();  // the log gets only the checkpoint
      records = 0;
      break;
    case binlog::XaPhase::kCommit: {
      // A prefix read: "1:78:" also finds "1:78:62" (another bqual).
      const std::string key = std::string(kXaPrefix) + end.xid;
      SLUICE_ASSIGN_OR_RETURN(auto found, log_->ReadIngestState(key));
      auto it =
          std::find_if(found.begin(), found.end(), [&](const auto& e) { return e.first == key; });
      if (it == found.end() || !pending.ParseFromString(it->second) || pending.xid() != end.xid) {
        return Status::Internal("XA COMMIT of " + end.xid + " at " + end.file + ":" +
                                std::to_string(end.pos) +
                                ": its prepared records are not in the "
                                "log's ingest state");
      }
      // The prepared records, then whatever the commit group itself had.
      std::vector<std::string_view> own = std::move(views_);
      views_.assign(pending.blocks().begin(), pending.blocks().end());
      views_.insert(views_.end(), own.begin(), own.end());
      records += pending.records();
      state_.push_back(IngestStateWrite{std::string(kXaPrefix) + end.xid, std::nullopt});
      xa_ts_.erase(end.xid);
      break;
    }
    case binlog::XaPhase::kRollback:
      if (xa_ts_.erase(end.xid) == 1) {
        state_.push_back(IngestStateWrite{std::string(kXaPrefix) + end.xid, std::nullopt});
      }
      break;
  }
  SLUICE_RETURN_IF_ERROR(CommitViews(end, records));
  if (end.xa != binlog::XaPhase::kNone) PublishXaStats();
  return Status::Ok();
}

// Commits views_ (and state_) with the checkpoint after `end`.
Status Pipeline::Impl::CommitViews(const binlog::TxnEnd& end, uint64_t records) {
  SLUICE_RETURN_IF_ERROR(gtid_.Add(end.gtid));
  checkpoint_.set_file(end.file);
  checkpoint_.set_pos(end.pos);
  checkpoint_.set_gtid_set(gtid_.ToString());
  checkpoint_.set_gtid_known(gtid_known_);
  checkpoint_.set_ts(end.timestamp);
  auto start = std::chrono::steady_clock::now();
  SLUICE_RETURN_IF_ERROR(log_->CommitBlocks(views_, checkpoint_, state_).status());
  state_.clear();
  auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count();
  stats_->commit_ns_total.fetch_add(ns, std::memory_order_relaxed);
  size_t b = 0;
  while (b + 1 < IngestStats::kCommitBuckets && ns > IngestStats::kCommitBucketsMs[b] * 1e6) ++b;
  stats_->commit_latency[b].fetch_add(1, std::memory_order_relaxed);
  stats_->records_committed.fetch_add(records, std::memory_order_relaxed);
  stats_->transactions.fetch_add(1, std::memory_order_relaxed);
  stats_->last_event_ts.store(end.timestamp, std::memory_order_relaxed);
  txn_.Clear(kTxnKeepBytes);
  seq_ = 0;
  chunked_ = false;
  return Status::Ok();
}

// The end of the slot's event, for the snapshot gate: unknown for what the
// server made up (heartbeats, the fake rotate and format events of a new
// connection), which say nothing of what was handled.
static std::optional<BinlogPosition> HandledEnd(const std::string& bytes, const std::string& file) {
  constexpr size_t kHeader = 19;
  constexpr uint16_t kArtificial = 0x20;
  if (bytes.size() < kHeader || file.empty()) return std::nullopt;
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const uint32_t log_pos = coding::DecodeFixed32(bytes.data() + 13);
  const uint16_t flags = static_cast<uint16_t>(p[17] | p[18] << 8);
  if (log_pos == 0 || (flags & kArtificial) != 0 ||
      p[4] == static_cast<uint8_t>(binlog::EventType::kHeartbeat)) {
    return std::nullopt;
  }
  return BinlogPosition{file, log_pos};
}

Status Pipeline::Impl::GatedStage3(Slot& s) {
  if (gate_ == nullptr) return Stage3(s);
  gate_->BeginSlot();
  Status st = Stage3(s);
  std::optional<BinlogPosition> end = st.ok() ? HandledEnd(s.bytes, s.file) : std::nullopt;
  gate_->EndSlot(end ? &*end : nullptr, seq_ != 0 || chunked_ || !txn_.empty());
  return st;
}

// Tells the gate what action `i` of the slot did to a watched table.
void Pipeline::Impl::NoteForGate(const Slot& s, size_t i, size_t first_record) {
  const auto& a = s.plan.actions[i];
  if (a.kind == binlog::EventPlan::Action::kEnd) {
    if (a.end.xa == binlog::XaPhase::kCommit) gate_->NoteXaCommit();
    return;
  }
  if (a.kind == binlog::EventPlan::Action::kDdl) {
    const proto::ChangeRecord& d = s.plan.ddls[a.ddl];
    if (d.op() == proto::OP_DDL) gate_->NoteDdl(d.db(), d.table());
    return;
  }
  // An XA transaction's rows enter the log at its XA COMMIT, which the
  // gate treats on its own.
  if (a.xa || !gate_->Watches(a.table->db, a.table->table)) return;
  for (size_t r = 0; r < s.counts[i]; ++r) gate_->NoteRow(s.out.record(first_record + r));
}

Status Pipeline::Impl::Stage3(Slot& s) {
  size_t k = 0;             // next block of the slot
  size_t first_record = 0;  // of the action in s.out
  for (size_t i = 0; i < s.plan.size; ++i) {
    const auto& a = s.plan.actions[i];
    if (gate_ != nullptr && (!s.skip[i] || a.kind == binlog::EventPlan::Action::kEnd)) {
      NoteForGate(s, i, first_record);
    }
    if (!s.skip[i] && a.kind != binlog::EventPlan::Action::kEnd) first_record += s.counts[i];
    if (a.kind == binlog::EventPlan::Action::kEnd) {
      SLUICE_RETURN_IF_ERROR(Commit(a.end));
      continue;
    }
    if (s.skip[i]) continue;
    if (seq_ == 0 && !chunked_) {
      open_ts_ = a.kind == binlog::EventPlan::Action::kRows ? a.timestamp : s.plan.ddls[a.ddl].ts();
      txn_base_ = log_->AppendedEnd().value();
    }
    if (a.kind == binlog::EventPlan::Action::kDdl && !a.xa &&
        s.plan.ddls[a.ddl].op() == proto::OP_SCHEMA) {
      // (Not an XA transaction's: the decoder does not count those as
      // recorded either, so both agree after a restart.)
      const proto::ChangeRecord& r = s.plan.ddls[a.ddl];
      state_.push_back(
          IngestStateWrite{std::string(kShapePrefix) + r.db() + '\0' + r.table(),
                           ShapeValue(txn_base_ + seq_, r.schema().SerializeAsString())});
      MutexLock lock(&shape_mu_);
      shape_offsets_[r.db() + '\0' + r.table()] = txn_base_ + seq_;
    }
    if (s.action_blocks[i] > 0) {
      txn_.Append(s.blocks, k, s.action_blocks[i]);
      seq_ += s.counts[i];
      k += s.action_blocks[i];
      // An XA transaction's records may not enter the log before its
      // XA COMMIT: it stays in memory whole.
      if (!a.xa && txn_.records() > options_.chunk_records && txn_.size() > 1) {
        SLUICE_RETURN_IF_ERROR(FlushChunk());
      }
    }
    if (a.kind == binlog::EventPlan::Action::kRows) {
      stats_->rows.fetch_add(s.counts[i], std::memory_order_relaxed);
      if (!a.table->has_full_metadata && options_.column_names) {
        stats_->records_without_names.fetch_add(s.counts[i], std::memory_order_relaxed);
      }
    } else {
      const proto::ChangeRecord& d = s.plan.ddls[a.ddl];
      if (d.op() == proto::OP_ERROR) {
        auto& counter = d.error().kind() == proto::CaptureError::STATEMENT
                            ? stats_->statement_errors
                            : stats_->undecodable_events;
        counter.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }
  if (s.undecodable > 0) {
    stats_->undecodable_events.fetch_add(s.undecodable, std::memory_order_relaxed);
    if (options_.on_warning) {
      options_.on_warning("rows event at " + s.plan.file + " " + std::to_string(s.pos) +
                          " does not decode; stored as an error record (on_undecodable = "
                          "\"skip\"): " +
                          s.error.error().reason());
    }
  }
  return Status::Ok();
}

Status Pipeline::Impl::Run(binlog::BinlogSource* source, const std::atomic<bool>* stop) {
  // A log that does not yet know the source's whole GTID state takes the
  // server's at the position this read begins (the checkpoint's, or the
  // configured start): from then on the checkpoint can resume on any
  // server that has those transactions.
  if (!gtid_known_) {
    if (std::optional<std::string> state = source->start_gtid_state()) {
      auto parsed = binlog::GtidState::Parse(*state);
      if (parsed.ok()) {
        gtid_ = std::move(*parsed);
        gtid_known_ = true;
      } else if (options_.on_warning) {
        options_.on_warning("the source's GTID state '" + *state + "' does not parse (" +
                            parsed.status().ToString() + "): resuming stays by file:pos");
      }
    }
  }
  ring::Ring<Slot> ring(options_.ring_size, options_.wait);
  ring::BatchStage<Slot> s1(&ring, {}, [this](Slot& s, ring::SeqNo, bool) { return Stage1(s); });
  ring::WorkerPool<Slot> s2(
      &ring, {&s1}, options_.parse_threads,
      [this](Slot& s, ring::SeqNo seq, int w) { return Stage2(s, w, seq); },
      /*claim_batch=*/16);
  ring::BatchStage<Slot> s3(&ring, {&s2}, [this, &ring](Slot& s, ring::SeqNo seq, bool end) {
    Status st = GatedStage3(s);
    // At the end of a batch: what is still in flight (0 once caught up).
    if (end) stats_->ring_occupancy.store(ring.cursor()->Get() - seq, std::memory_order_relaxed);
    return st;
  });
  ring.SetGating({&s3});
  ring.CountFullWaitsIn(&stats_->wait_ns[IngestStats::kRingFull]);
  s1.CountWaitsIn(&stats_->wait_ns[IngestStats::kPlanWait]);
  s2.CountWaitsIn(&stats_->wait_ns[IngestStats::kDecodeWait]);
  s3.CountWaitsIn(&stats_->wait_ns[IngestStats::kCommitWait]);
  // Everything before where the source starts reading is in the log.
  if (gate_ != nullptr) gate_->Started(source->position());
  s1.Start("sl-plan");
  s2.Start("sl-decode");
  s3.Start("sl-commit");

  Status st;
  while (!stop->load(std::memory_order_acquire)) {
    binlog::RawEvent ev;
    const auto read_start = std::chrono::steady_clock::now();
    st = source->Next(&ev);
    ring::SequenceBarrier::AddWait(&stats_->wait_ns[IngestStats::kSourceRead], read_start);
    if (st.code() == Code::kTimedOut) {
      st = Status::Ok();
      MarkCaughtUp();
      stats_->ring_occupancy.store(ring.cursor()->Get() - s3.processed(),
                                   std::memory_order_relaxed);
      continue;
    }
    if (st.code() == Code::kNotFound) {
      st = Status::Ok();
      break;
    }
    if (!st.ok()) break;
    ring::SeqNo seq = ring.Claim();
    if (!seq.valid()) break;  // a stage failed; its error is in ring.status()
    Slot& s = ring[seq];
    if (s.bytes.capacity() > kSlotKeepBytes && ev.bytes.size() <= kSlotKeepBytes) {
      std::string().swap(s.bytes);  // a huge event passed through: let it go
    }
    s.bytes.assign(ev.bytes);
    s.file.assign(ev.file);
    s.pos = ev.pos;
    ring.Publish(seq);
    stats_->ring_occupancy.store(seq - s3.processed(), std::memory_order_relaxed);
    stats_->position_pos.store(ev.pos + ev.bytes.size(), std::memory_order_relaxed);
    if (ev.bytes.size() > 4 &&
        static_cast<uint8_t>(ev.bytes[4]) == static_cast<uint8_t>(binlog::EventType::kHeartbeat)) {
      MarkCaughtUp();  // the server had nothing newer to send
    }
    stats_->events.fetch_add(1, std::memory_order_relaxed);
    stats_->event_bytes.fetch_add(ev.bytes.size(), std::memory_order_relaxed);
  }
  Status ring_status = ring.DrainAndHalt();
  s3.Stop();
  s2.Stop();
  s1.Stop();
  if (st.ok()) st = ring_status;
  if (gate_ != nullptr) gate_->Stopped();
  // A transaction that did not end stays invisible; its chunks go.
  if (chunked_ || !txn_.empty()) {
    Status d = log_->DiscardOpenTransaction();
    if (st.ok()) st = d;
  }
  return st;
}

Status IngestOptions::Validate() const {
  if (ring_size < 2 || (ring_size & (ring_size - 1)) != 0) {
    return Status::InvalidArgument("ring_size " + std::to_string(ring_size) +
                                   " must be a power of two >= 2");
  }
  if (parse_threads < 1 || parse_threads > 64) {
    return Status::InvalidArgument("parse_threads " + std::to_string(parse_threads) +
                                   " must be 1..64");
  }
  if (chunk_records < 1) return Status::InvalidArgument("chunk_records must be >= 1");
  for (const auto* list : {&include, &exclude}) {
    for (const auto& re : *list) {
      try {
        std::regex test(re);
      } catch (const std::regex_error& e) {
        return Status::InvalidArgument("filter regex '" + re + "': " + e.what());
      }
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<Pipeline>> Pipeline::Create(const IngestOptions& options, CommitLog* log,
                                                   IngestStats* stats) {
  SLUICE_RETURN_IF_ERROR(options.Validate());
  auto impl = std::make_unique<Impl>(options, log, stats);
  SLUICE_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<Pipeline>(new Pipeline(std::move(impl)));
}

Pipeline::Pipeline(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Pipeline::~Pipeline() = default;

Status Pipeline::Run(binlog::BinlogSource* source, const std::atomic<bool>* stop) {
  return impl_->Run(source, stop);
}

}  // namespace sluice::ingest
