#include "storage/commit_log.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>

#include <rocksdb/db.h>
#include <rocksdb/file_system.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include "base/thread_name.h"
#include "storage/disk_space.h"
#include "storage/log_format.h"
#include "storage/rocks_logger.h"
#include "storage/rocks_status.h"
#include "storage/rocksdb_crc32c.h"

namespace sluice {
namespace {

// How often the free-space guard asks the file system while space is ample.
constexpr auto kSpaceCheckMs = std::chrono::milliseconds(100);
constexpr uint64_t kSpaceCheckBytes = 1 << 20;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

rocksdb::Slice AsSlice(std::string_view s) { return {s.data(), s.size()}; }

rocksdb::CompressionType ToRocks(Compression c) {
  switch (c) {
    case Compression::kNone: return rocksdb::kNoCompression;
    case Compression::kLz4: return rocksdb::kLZ4Compression;
    case Compression::kZstd: return rocksdb::kZSTD;
  }
  return rocksdb::kNoCompression;
}

// The log column family holds large values under ever-increasing keys: no
// overlap between files, so compaction mostly moves files; blocks are large
// because a read wants a whole batch.
rocksdb::ColumnFamilyOptions LogCfOptions(const CommitLogOptions& o) {
  rocksdb::ColumnFamilyOptions cf;
  cf.compression = ToRocks(o.compression);
  cf.write_buffer_size = 64 << 20;
  cf.max_write_buffer_number = 4;
  cf.target_file_size_base = 64 << 20;
  cf.max_bytes_for_level_base = 512 << 20;
  cf.level_compaction_dynamic_level_bytes = true;
  cf.level0_slowdown_writes_trigger = 40;
  cf.level0_stop_writes_trigger = 60;
  rocksdb::BlockBasedTableOptions table;
  table.block_size = 64 << 10;
  // Debian's RocksDB is a portable build whose CRC32c is the software one
  // ("Not supported on x86"); XXH3 is fast without special instructions.
  // The checksum type is recorded per file, so older files still read.
  table.checksum = rocksdb::kXXH3;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return cf;
}

}  // namespace

Status CommitLogOptions::Validate() const {
  if (path.empty()) return Status::InvalidArgument("commit log path is empty");
  if (group_commit_ms <= 0 && durability == Durability::kGroupCommit) {
    return Status::InvalidArgument("group_commit_ms must be > 0 with group commit");
  }
  if (max_batch_bytes < 1024) return Status::InvalidArgument("max_batch_bytes must be >= 1024");
  if (retention.max_age_ms < 0) return Status::InvalidArgument("retention max_age_ms is negative");
  return Status::Ok();
}

CommitLog::CommitLog(const CommitLogOptions& options)
    : options_(options), write_batch_(std::make_unique<rocksdb::WriteBatch>()) {}

Result<std::unique_ptr<CommitLog>> CommitLog::Open(const CommitLogOptions& options) {
  SLUICE_RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<CommitLog> log(new CommitLog(options));
  SLUICE_RETURN_IF_ERROR(log->Init().WithContext("open commit log " + options.path));
  return log;
}

Status CommitLog::Init() {
  (void)RocksDbCrc32cIsOurs();  // links storage/rocksdb_crc32c.cc in (see there)
  rocksdb::DBOptions db_opts;
  db_opts.create_if_missing = true;
  db_opts.create_missing_column_families = true;
  db_opts.max_background_jobs = 2;
  db_opts.bytes_per_sync = 1 << 20;
  db_opts.wal_bytes_per_sync = 512 << 10;  // start WAL writeback early: fsyncs stay short
  db_opts.max_total_wal_size = 256 << 20;
  db_opts.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  if (options_.env != nullptr) db_opts.env = options_.env;
  fs_ = db_opts.env->GetFileSystem();
  // RocksDB's own LOG writer aborts on the first line after a full disk
  // failed one (Debian's build); ours drops the line (rocks_logger.h).
  db_opts.info_log = NewRocksLogger(options_.path, options_.read_only);

  // A RocksDB that meets ENOSPC while it opens may abort (Debian's build
  // asserts in WritableFileWriter after the failed write): never let it.
  if (!options_.read_only) SLUICE_RETURN_IF_ERROR(OpenGuard());
  SLUICE_ASSIGN_OR_RETURN(
      db_, LogDb::Open(options_.path, db_opts, LogCfOptions(options_), options_.read_only));
  meta_ =
      std::make_unique<MetaStore>(db_.get(), options_.durability == Durability::kSyncEveryCommit);

  SLUICE_ASSIGN_OR_RETURN(auto node, meta_->Node());
  if (node && !options_.node_id.empty() && node->node_id() != options_.node_id) {
    return Status::FailedPrecondition("the log belongs to node '" + node->node_id() + "', not '" +
                                      options_.node_id +
                                      "': check data_dir and node.id in the config");
  }
  SLUICE_ASSIGN_OR_RETURN(auto state, meta_->State());

  MutexLock lock(&mu_);
  if (!node && !options_.read_only) {
    proto::NodeIdentity n;
    n.set_node_id(options_.node_id);
    n.set_destination(options_.destination);
    n.set_created_ms(static_cast<uint64_t>(NowMs()));
    SLUICE_RETURN_IF_ERROR(meta_->PutNode(n));
  }
  if (state) state_ = *state;
  SLUICE_RETURN_IF_ERROR(RecoverTail(false));
  SLUICE_ASSIGN_OR_RETURN(auto epochs, meta_->Epochs());
  epoch_ = epochs.empty() ? 0 : epochs.back().epoch();
  pending_end_ = state_.end_offset();
  pending_bytes_ = state_.end_bytes();
  first_.store(state_.start_offset(), std::memory_order_release);
  hw_.store(state_.end_offset(), std::memory_order_release);
  durable_.store(state_.end_offset(), std::memory_order_release);

  if (options_.durability == Durability::kGroupCommit && !options_.read_only) {
    syncer_ = std::thread([this] {
      SetThreadName("sl-log-sync");
      SyncLoop();
    });
  }
  return Status::Ok();
}

// Finds the log's end from its last batches: removes the chunks of a
// transaction that never ended (a crash mid-transaction), then takes the end
// and checkpoint of the last complete batch unless the persisted state is
// as new (see proto::LogState).
Status CommitLog::RecoverTail(bool discarded) {
  // The last batch, or with `below` the last one that starts below it.
  auto last_batch = [this](std::optional<uint64_t> below =
                               std::nullopt) -> Result<std::optional<std::string>> {
    SLUICE_ASSIGN_OR_RETURN(auto db, db_->Use());
    std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator(rocksdb::ReadOptions(), db.log()));
    if (!below) {
      it->SeekToLast();
    } else if (*below == 0) {
      return std::optional<std::string>();
    } else {
      it->SeekForPrev(log_format::BatchKey(Offset(*below - 1)));
    }
    if (!it->Valid()) {
      SLUICE_RETURN_IF_ERROR(FromRocks(it->status(), "scan the log tail"));
      return std::optional<std::string>();
    }
    std::string kv(it->key().ToStringView());
    kv.append(it->value().ToStringView());
    return std::optional<std::string>(std::move(kv));
  };
  SLUICE_ASSIGN_OR_RETURN(auto kv, last_batch());
  if (kv && options_.read_only) {
    // A read-only view cannot remove a partial transaction: it ends at the
    // batch that ends the last complete one.
    SLUICE_ASSIGN_OR_RETURN(auto top, log_format::DecodeBatch(std::string_view(*kv).substr(0, 8),
                                                              std::string_view(*kv).substr(8)));
    if (!top.header.txn_end()) {
      SLUICE_ASSIGN_OR_RETURN(kv, last_batch(top.header.txn_base().value()));
    }
  }
  if (!kv) {
    if (state_.end_offset() != state_.start_offset()) {
      return Status::Corruption("the log holds no batch but its state ends at " +
                                std::to_string(state_.end_offset()));
    }
    return Status::Ok();
  }
  SLUICE_ASSIGN_OR_RETURN(auto b, log_format::DecodeBatch(std::string_view(*kv).substr(0, 8),
                                                          std::string_view(*kv).substr(8)));
  if (!b.header.txn_end()) {
    if (discarded) {
      // The batch below a discarded transaction must end one: never delete
      // further down on the word of a damaged flag.
      return Status::Corruption("the batch at " + std::to_string(b.header.base_offset.value()) +
                                " below a discarded partial transaction does not end one");
    }
    SLUICE_ASSIGN_OR_RETURN(auto db, db_->Use());
    rocksdb::WriteBatch wb;
    wb.DeleteRange(db.log(), log_format::BatchKey(b.header.txn_base()),
                   log_format::BatchKey(Offset::Max()));
    SLUICE_RETURN_IF_ERROR(Write(&wb, true, "discard the partial transaction at the tail"));
    return RecoverTail(true);
  }
  const uint64_t end = b.header.end_offset().value();
  if (end < state_.end_offset()) {
    return Status::Corruption("the last batch ends at " + std::to_string(end) +
                              " but the log's state ends at " +
                              std::to_string(state_.end_offset()));
  }
  if (end > state_.end_offset()) {
    state_.set_end_offset(end);
    state_.set_end_bytes(b.header.bytes_before + b.encoded_size);
    if (!state_.mutable_checkpoint()->ParseFromArray(b.checkpoint.data(),
                                                     static_cast<int>(b.checkpoint.size()))) {
      return Status::Corruption("the checkpoint of the batch at " +
                                std::to_string(b.header.base_offset.value()) + " does not parse");
    }
  }
  return Status::Ok();
}

CommitLog::~CommitLog() {
  StopSyncer();
  if (db_ == nullptr) return;
  if (options_.durability == Durability::kGroupCommit && !options_.read_only) (void)Sync();
}

Status CommitLog::Fail(Status st) {
  MutexLock lock(&failure_mu_);
  if (failure_.ok()) failure_ = st;
  failed_.store(true, std::memory_order_release);
  return st;
}

Status CommitLog::FailureStatus() {
  MutexLock lock(&failure_mu_);
  return failure_.WithContext("the log failed earlier; reopen it");
}

Result<LogDb::Handle> CommitLog::UseForWrite() {
  if (failed_.load(std::memory_order_acquire)) return FailureStatus();
  return db_->Use();
}

Status CommitLog::Write(rocksdb::WriteBatch* wb, bool sync, std::string_view what) {
  if (options_.read_only) {
    return Status::FailedPrecondition("log " + options_.path + " is open read-only: cannot " +
                                      std::string(what));
  }
  if (failed_.load(std::memory_order_acquire)) return FailureStatus();
  SLUICE_ASSIGN_OR_RETURN(auto db, db_->Use());
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  Status st = FromRocks(db.db()->Write(wo, wb), std::string(what) + " (log " + options_.path + ")");
  return st.ok() ? st : Fail(st);
}

Status CommitLog::OpenGuard() const {
  if (options_.min_free_bytes == 0) return Status::Ok();
  SLUICE_ASSIGN_OR_RETURN(const uint64_t free, FreeBytes(options_.path));
  const uint64_t wal = WalBytes(options_.path);
  const uint64_t need = wal + kOpenSlackBytes;
  if (free >= need) return Status::Ok();
  return Status::NoSpace("the disk of " + options_.path + " is full: " + DescribeBytes(free) +
                         " free, opening the log needs about " + DescribeBytes(need) +
                         " (its WAL to replay plus " + DescribeBytes(kOpenSlackBytes) +
                         "); free space on that file system and start again");
}

Status CommitLog::CheckSpace(uint64_t bytes) {
  if (options_.min_free_bytes == 0 || options_.read_only) return Status::Ok();
  const auto now = std::chrono::steady_clock::now();
  written_since_check_ += bytes;
  if (!space_low_ && written_since_check_ < kSpaceCheckBytes &&
      now - space_checked_at_ < kSpaceCheckMs) {
    return Status::Ok();
  }
  auto free = FreeBytes(options_.path);
  if (!free.ok()) return free.status();
  space_checked_at_ = now;
  written_since_check_ = 0;
  space_low_ = *free < options_.min_free_bytes + bytes;
  if (!space_low_) return Status::Ok();
  return LowSpace(*free);
}

Status CommitLog::LowSpace(uint64_t free) const {
  return Status::NoSpace("the disk of log " + options_.path + " is full: " + DescribeBytes(free) +
                         " free, below the margin of " + DescribeBytes(options_.min_free_bytes) +
                         "; writes pause (readers go on) until space is freed");
}

std::optional<uint64_t> CommitLog::DiskFreeBytes() const {
  auto free = FreeBytes(options_.path);
  return free.ok() ? std::optional<uint64_t>(*free) : std::nullopt;
}

Status CommitLog::CheckFreeSpace() const {
  if (options_.min_free_bytes == 0 || options_.read_only) return Status::Ok();
  SLUICE_ASSIGN_OR_RETURN(const uint64_t free, FreeBytes(options_.path));
  return free < options_.min_free_bytes ? LowSpace(free) : Status::Ok();
}

Status CommitLog::Recover() {
  if (!failed_.load(std::memory_order_acquire)) return Status::Ok();
  Status failure = FailureStatus();
  if (failure.code() != Code::kNoSpace) return failure;
  MutexLock wal_lock(&wal_sync_mu_);
  MutexLock lock(&mu_);
  SLUICE_ASSIGN_OR_RETURN(const uint64_t free, FreeBytes(options_.path));
  const uint64_t need = std::max<uint64_t>(options_.min_free_bytes, kOpenSlackBytes);
  if (free < need) {
    return Status::NoSpace("the disk of log " + options_.path + " is full: " + DescribeBytes(free) +
                           " free, writes resume once " + DescribeBytes(need) + " are");
  }
  // Resume() flushes the memtables and moves to a new WAL: later writes
  // never follow a torn record of the failed one. RocksDB's own recovery
  // (its SstFileManager polls the free space) may be doing that already:
  // Busy until it is done.
  rocksdb::Status resumed = rocksdb::Status::Incomplete("the log is closed");
  if (auto db = db_->Use(); db.ok()) resumed = db->db()->Resume();
  if (resumed.IsBusy()) {
    return Status::Busy("log " + options_.path +
                        ": RocksDB is still recovering from the full disk");
  }
  if (resumed.ok()) {
    // When only our own fsync failed RocksDB was not stopped and resumed
    // nothing: the WAL may lack pages the kernel dropped. A flush writes
    // what the memtables hold to table files and leaves that WAL behind.
    SLUICE_ASSIGN_OR_RETURN(auto db, db_->Use());
    rocksdb::FlushOptions flush;
    flush.wait = true;
    SLUICE_RETURN_IF_ERROR(FromRocks(db.db()->Flush(flush, {db.log(), db.meta()}),
                                     "flush log " + options_.path + " after a full disk"));
  } else {
    // RocksDB keeps its error although the disk has room again (seen after
    // a WAL append failed mid-transaction under group commit: a fatal
    // error, which Resume() refuses), or an earlier reopen failed. A fresh
    // open clears it: it replays the WAL to its last whole record (the
    // failed write is not there or is torn: either way it was never
    // acknowledged) and flushes it to table files.
    SLUICE_RETURN_IF_ERROR(OpenGuard());
    Status st = db_->Reopen();
    if (!st.ok()) {
      return Status(st.code(), st.message() + " (after RocksDB did not resume: " +
                                   resumed.ToString() + "); tried again on the next recovery");
    }
  }
  SLUICE_ASSIGN_OR_RETURN(auto state, meta_->State());
  if (state) state_ = *state;
  {
    MutexLock failure_lock(&failure_mu_);
    failure_ = Status::Ok();
    failed_.store(false, std::memory_order_release);
  }
  Status st = RecoverTail(false);
  if (!st.ok()) return Fail(st);
  pending_end_ = state_.end_offset();
  pending_bytes_ = state_.end_bytes();
  txn_open_ = false;
  synced_wals_.clear();
  hw_.store(state_.end_offset(), std::memory_order_release);
  durable_.store(state_.end_offset(), std::memory_order_release);  // flushed above
  return Status::Ok();
}

uint64_t CommitLog::Units::records() const {
  if (!blocks()) return items.size();
  uint64_t n = 0;
  for (uint32_t c : counts) n += c;
  return n;
}

void CommitLog::AddBatches(Units units, uint64_t source_ts, const std::string* checkpoint,
                           rocksdb::ColumnFamilyHandle* log_cf, rocksdb::WriteBatch* wb) {
  const int64_t now = NowMs();
  const auto& items = units.items;
  size_t i = 0;
  while (i < items.size()) {
    // Take items until the batch reaches max_batch_bytes (at least one).
    size_t j = i;
    size_t bytes = 0;
    uint64_t records = 0;
    while (j < items.size() && (j == i || bytes + items[j].size() <= options_.max_batch_bytes)) {
      bytes += items[j].size();
      records += units.records_in(j);
      ++j;
    }
    const bool last = j == items.size() && checkpoint != nullptr;
    log_format::BatchHeader h;
    h.flags = last ? log_format::kTxnEnd : 0;
    h.base_offset = Offset(pending_end_);
    h.record_count = static_cast<uint32_t>(records);
    h.txn_records_before = static_cast<uint32_t>(pending_end_ - txn_base_);
    h.epoch = epoch_;
    h.append_time_ms = now;
    h.max_source_ts = source_ts;
    h.bytes_before = pending_bytes_;
    scratch_.clear();
    const std::string_view cp = last ? std::string_view(*checkpoint) : std::string_view();
    if (units.blocks()) {
      log_format::EncodeBlockBatch(h, cp, items.subspan(i, j - i), &scratch_);
    } else {
      log_format::EncodeBatch(h, cp, items.subspan(i, j - i), &scratch_);
    }
    wb->Put(log_cf, AsSlice(log_format::BatchKey(h.base_offset)), AsSlice(scratch_));
    last_chunk_base_ = pending_end_;
    pending_end_ += h.record_count;
    pending_bytes_ += scratch_.size();
    i = j;
  }
}

Result<OffsetRange> CommitLog::AppendChunk(std::span<const std::string_view> records,
                                           uint64_t source_ts) {
  return AppendUnits(Units{records, {}}, source_ts);
}

// The records each item of `blocks` holds, from its block headers (which
// are checked: batch headers get these counts, and readers compare them).
Status CommitLog::CountBlocks(std::span<const std::string_view> blocks,
                              std::vector<uint32_t>* counts) {
  counts->clear();
  for (size_t i = 0; i < blocks.size(); ++i) {
    auto n = log_format::BlockRecords(blocks[i]);
    if (!n.ok()) return n.status().WithContext("block " + std::to_string(i));
    if (*n == 0 || *n > UINT32_MAX) {
      return Status::InvalidArgument("block " + std::to_string(i) + " holds " + std::to_string(*n) +
                                     " records");
    }
    counts->push_back(static_cast<uint32_t>(*n));
  }
  return Status::Ok();
}

Result<OffsetRange> CommitLog::AppendBlockChunk(std::span<const std::string_view> blocks,
                                                uint64_t source_ts) {
  if (blocks.empty()) return Status::InvalidArgument("AppendBlockChunk needs at least one block");
  std::vector<uint32_t> counts;
  SLUICE_RETURN_IF_ERROR(CountBlocks(blocks, &counts));
  return AppendUnits(Units{blocks, counts}, source_ts);
}

Result<OffsetRange> CommitLog::AppendUnits(Units units, uint64_t source_ts) {
  if (units.items.empty()) return Status::InvalidArgument("AppendChunk needs at least one record");
  const uint64_t n = units.records();
  MutexLock lock(&mu_);
  const uint64_t base = pending_end_, bytes = pending_bytes_, last = last_chunk_base_;
  if (!txn_open_) txn_base_ = pending_end_;
  if (pending_end_ + n - txn_base_ > UINT32_MAX) {
    return Status::InvalidArgument("a transaction of more than 2^32 - 1 records");
  }
  SLUICE_ASSIGN_OR_RETURN(auto db, UseForWrite());
  rocksdb::WriteBatch& wb = *write_batch_;
  wb.Clear();
  AddBatches(units, source_ts, nullptr, db.log(), &wb);
  if (Status space = CheckSpace(wb.GetDataSize()); !space.ok()) {
    pending_end_ = base;
    pending_bytes_ = bytes;
    last_chunk_base_ = last;
    return space;
  }
  // Chunks are invisible until the commit, whose write covers them in the
  // WAL, so they need no fsync of their own.
  Status st = Write(&wb, false, "append a transaction chunk");
  if (!st.ok()) {
    pending_end_ = base;
    pending_bytes_ = bytes;
    last_chunk_base_ = last;
    return st;
  }
  txn_open_ = true;
  return OffsetRange{Offset(base), Offset(pending_end_)};
}

Result<OffsetRange> CommitLog::CommitTransaction(std::span<const std::string_view> records,
                                                 const proto::SourceCheckpoint& checkpoint) {
  auto range = CommitUnits(Units{records, {}}, checkpoint);
  if (range.ok()) Notify();
  return range;
}

Result<OffsetRange> CommitLog::CommitBlocks(std::span<const std::string_view> blocks,
                                            const proto::SourceCheckpoint& checkpoint,
                                            std::span<const IngestStateWrite> state) {
  std::vector<uint32_t> counts;
  SLUICE_RETURN_IF_ERROR(CountBlocks(blocks, &counts));
  // No blocks: an empty commit, which only the version 1 path knows.
  auto range = CommitUnits(blocks.empty() ? Units{} : Units{blocks, counts}, checkpoint, state);
  if (range.ok()) Notify();
  return range;
}

Result<std::vector<std::pair<std::string, std::string>>> CommitLog::ReadIngestState(
    std::string_view prefix) const {
  return meta_->ListIngestState(prefix);
}

Status CommitLog::ReplaceIngestState(
    const std::vector<std::pair<std::string, std::string>>& entries) {
  return meta_->ReplaceIngestState(entries);
}

Result<OffsetRange> CommitLog::CommitUnits(Units units, const proto::SourceCheckpoint& checkpoint,
                                           std::span<const IngestStateWrite> state) {
  const uint64_t n = units.records();
  MutexLock lock(&mu_);
  if (!txn_open_) txn_base_ = pending_end_;
  if (pending_end_ + n - txn_base_ > UINT32_MAX) {
    return Status::InvalidArgument("a transaction of more than 2^32 - 1 records");
  }
  const uint64_t saved_end = pending_end_, saved_bytes = pending_bytes_;
  SLUICE_ASSIGN_OR_RETURN(auto db, UseForWrite());
  checkpoint.SerializeToString(&checkpoint_bytes_);
  rocksdb::WriteBatch& wb = *write_batch_;
  wb.Clear();
  if (!units.items.empty()) {
    // The last batch carries the checkpoint: nothing else needs writing.
    AddBatches(units, checkpoint.ts(), &checkpoint_bytes_, db.log(), &wb);
  } else if (txn_open_) {
    // The last chunk becomes the transaction's end: rewrite it with the flag
    // and the checkpoint, its records as they are.
    std::string value;
    const std::string key = log_format::BatchKey(Offset(last_chunk_base_));
    SLUICE_RETURN_IF_ERROR(FromRocks(db.db()->Get(rocksdb::ReadOptions(), db.log(), key, &value),
                                     "read the last chunk of the open transaction"));
    SLUICE_ASSIGN_OR_RETURN(auto b, log_format::DecodeBatch(key, value));
    log_format::BatchHeader h = b.header;
    h.flags |= log_format::kTxnEnd;
    scratch_.clear();
    log_format::ReencodeBatch(b, h, checkpoint_bytes_, &scratch_);
    wb.Put(db.log(), key, AsSlice(scratch_));
    pending_bytes_ = h.bytes_before + scratch_.size();
  }
  proto::LogState next = state_;
  next.set_end_offset(pending_end_);
  next.set_end_bytes(pending_bytes_);
  *next.mutable_checkpoint() = checkpoint;
  if (units.items.empty() && !txn_open_) {
    // No batch to carry the checkpoint: the state does.
    next.SerializeToString(&state_bytes_);
    wb.Put(db.meta(), AsSlice(MetaStore::kStateKey), AsSlice(state_bytes_));
  }

  for (const IngestStateWrite& w : state) {
    const std::string key = MetaStore::IngestKey(w.key);
    if (w.value) {
      wb.Put(db.meta(), AsSlice(key), AsSlice(*w.value));
    } else {
      wb.Delete(db.meta(), AsSlice(key));
    }
  }

  const bool sync = options_.durability == Durability::kSyncEveryCommit;
  Status st = CheckSpace(wb.GetDataSize());
  if (st.ok()) st = Write(&wb, sync, "commit a transaction");
  if (!st.ok()) {
    pending_end_ = saved_end;
    pending_bytes_ = saved_bytes;
    return st;
  }
  state_ = std::move(next);
  txn_open_ = false;
  if (!state.empty()) state_version_.fetch_add(1, std::memory_order_acq_rel);
  hw_.store(pending_end_, std::memory_order_release);
  if (sync) durable_.store(pending_end_, std::memory_order_release);
  return OffsetRange{Offset(txn_base_), Offset(pending_end_)};
}

Status CommitLog::DiscardOpenTransaction() {
  MutexLock lock(&mu_);
  if (!txn_open_) return Status::Ok();
  SLUICE_ASSIGN_OR_RETURN(auto db, UseForWrite());
  rocksdb::WriteBatch wb;
  wb.DeleteRange(db.log(), log_format::BatchKey(Offset(state_.end_offset())),
                 log_format::BatchKey(Offset::Max()));
  SLUICE_RETURN_IF_ERROR(Write(&wb, false, "discard the open transaction"));
  pending_end_ = state_.end_offset();
  pending_bytes_ = state_.end_bytes();
  txn_open_ = false;
  return Status::Ok();
}

std::string_view RecordSet::Keep(std::string_view bytes, std::string_view more) {
  constexpr size_t kBlock = 256 << 10;
  const size_t size = bytes.size() + more.size();
  if (size == 0) return std::string_view();  // (memcpy to no block yet is UB)
  if (size > left_) {
    const size_t n = std::max(kBlock, size);
    // Not zero-filled: every byte handed out is copied in first.
    blocks_.push_back(std::make_unique_for_overwrite<char[]>(n));
    cur_ = blocks_.back().get();
    left_ = n;
  }
  if (!bytes.empty()) std::memcpy(cur_, bytes.data(), bytes.size());
  if (!more.empty()) std::memcpy(cur_ + bytes.size(), more.data(), more.size());
  std::string_view kept(cur_, size);
  cur_ += size;
  left_ -= size;
  return kept;
}

Result<RecordSet> CommitLog::Read(Offset from, size_t max_records, size_t max_bytes) const {
  const Offset hw = HighWatermark();
  const Offset first = FirstOffset();
  if (from < first) {
    return Status::OutOfRange("offset " + std::to_string(from.value()) +
                              " was removed by retention; the log starts at " +
                              std::to_string(first.value()));
  }
  if (from > hw) {
    return Status::OutOfRange("offset " + std::to_string(from.value()) +
                              " is beyond the high watermark " + std::to_string(hw.value()));
  }
  RecordSet out;
  out.next_offset = from;
  out.high_watermark = hw;
  if (from == hw || max_records == 0) return out;

  const std::string upper = log_format::BatchKey(hw);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  SLUICE_ASSIGN_OR_RETURN(auto db, db_->Use());
  std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator(ro, db.log()));
  it->SeekForPrev(log_format::BatchKey(from));
  size_t bytes = 0;
  for (; it->Valid(); it->Next()) {
    SLUICE_ASSIGN_OR_RETURN(
        auto b, log_format::DecodeBatch(it->key().ToStringView(), it->value().ToStringView()));
    if (b.header.base_offset > out.next_offset || b.header.end_offset() <= out.next_offset) {
      return Status::Corruption("log has a gap: expected a batch holding offset " +
                                std::to_string(out.next_offset.value()) + ", found batch at " +
                                std::to_string(b.header.base_offset.value()));
    }
    if (b.version == log_format::kBatchVersion) {
      // Re-point the view at our own copy of the batch's records.
      b.records = out.Keep(b.records);
    }
    log_format::RecordReader rr(b);
    rr.Skip(out.next_offset.value() - b.header.base_offset.value());
    Offset o = b.header.base_offset + rr.index();
    for (std::string_view body, suffix; rr.Next(&body, &suffix); o += 1) {
      const size_t size = body.size() + suffix.size();
      if (!out.records.empty() && bytes + size > max_bytes) return out;
      // Version 1 records already point into `out`; version 2 ones are
      // copied there with their txn field.
      out.records.push_back(
          {o, b.version == log_format::kBatchVersion ? body : out.Keep(body, suffix)});
      bytes += size;
      out.next_offset = o + 1;
      if (out.records.size() >= max_records) return out;
    }
    SLUICE_RETURN_IF_ERROR(rr.status());
    if (out.next_offset >= hw) return out;
  }
  SLUICE_RETURN_IF_ERROR(FromRocks(it->status(), "read log " + options_.path));
  if (out.records.empty()) {
    // Retention removed the range between our bounds check and the seek.
    return Status::OutOfRange("offset " + std::to_string(from.value()) +
                              " was removed by retention while reading");
  }
  return out;
}

proto::SourceCheckpoint CommitLog::Checkpoint() const {
  MutexLock lock(&mu_);
  return state_.checkpoint();
}

uint64_t CommitLog::SizeBytes() const {
  MutexLock lock(&mu_);
  return state_.end_bytes() - state_.start_bytes();
}

Epoch CommitLog::CurrentEpoch() const {
  MutexLock lock(&mu_);
  return Epoch(epoch_);
}

// fsyncs the WAL through file handles of our own instead of DB::SyncWAL().
// An fsync on any descriptor of a file flushes all of its written pages, and
// this way the sync never touches RocksDB's WAL writer: writers are not
// blocked for the length of an fsync, and a sync cannot overlap a failed
// write (Debian's RocksDB keeps assertions on and aborts when SyncWAL runs
// after one). Every *.log file in the directory is synced (a WAL that was
// just closed may still hold unsynced bytes), and the directory too when
// the set of WAL files changed. After a failed fsync the state of the
// written pages is unknown, so the log fails (see failed_).
Status CommitLog::Sync() {
  if (options_.read_only) return Status::Ok();
  MutexLock wal_lock(&wal_sync_mu_);
  if (failed_.load(std::memory_order_acquire)) return FailureStatus();
  // Everything below `target`, and every write up to `seq` (records or
  // metadata such as group cursors), reached the OS before this point.
  const uint64_t target = hw_.load(std::memory_order_acquire);
  uint64_t seq;
  {
    SLUICE_ASSIGN_OR_RETURN(auto db, db_->Use());
    seq = db.db()->GetLatestSequenceNumber();
  }
  rocksdb::FileSystem* fs = fs_.get();
  const rocksdb::IOOptions io;
  std::vector<std::string> children;
  Status st = FromRocks(fs->GetChildren(options_.path, io, &children, nullptr),
                        "list the WAL files of " + options_.path);
  std::vector<std::string> wals;
  for (const auto& name : children) {
    if (name.size() > 4 && name.ends_with(".log")) wals.push_back(name);
  }
  std::sort(wals.begin(), wals.end());
  for (const auto& name : wals) {
    if (!st.ok()) break;
    std::unique_ptr<rocksdb::FSRandomRWFile> f;
    rocksdb::IOStatus s =
        fs->NewRandomRWFile(options_.path + "/" + name, rocksdb::FileOptions(), &f, nullptr);
    if (s.IsNotFound() || s.IsPathNotFound()) continue;  // obsolete and deleted meanwhile
    if (s.ok()) s = f->Fsync(io, nullptr);
    if (s.ok()) s = f->Close(io, nullptr);
    st = FromRocks(s, "fsync WAL file " + name + " of " + options_.path);
  }
  if (st.ok() && wals != synced_wals_) {
    std::unique_ptr<rocksdb::FSDirectory> dir;
    rocksdb::IOStatus s = fs->NewDirectory(options_.path, io, &dir, nullptr);
    if (s.ok()) s = dir->Fsync(io, nullptr);
    st = FromRocks(s, "fsync the directory " + options_.path);
    if (st.ok()) synced_wals_ = std::move(wals);
  }
  if (!st.ok()) return Fail(st);
  synced_seq_.store(seq, std::memory_order_release);
  uint64_t cur = durable_.load(std::memory_order_relaxed);
  while (cur < target && !durable_.compare_exchange_weak(cur, target)) {
  }
  return Status::Ok();
}

uint64_t CommitLog::LatestSequence() const {
  auto db = db_->Use();
  return db.ok() ? db->db()->GetLatestSequenceNumber() : 0;
}

void CommitLog::SyncLoop() {
  MutexLock lk(&sync_mu_);
  while (!stopping_) {
    sync_cv_.WaitFor(&sync_mu_, std::chrono::milliseconds(options_.group_commit_ms));
    if (stopping_) break;
    // Any write since the last sync counts, not only records: a group's ack
    // must be as durable as a transaction after group_commit_ms.
    if (LatestSequence() == synced_seq_.load(std::memory_order_acquire)) continue;
    lk.Unlock();
    // A failure leaves DurableOffset() behind; the next write reports it.
    (void)Sync();
    lk.Lock();
  }
}

void CommitLog::StopSyncer() {
  {
    MutexLock lk(&sync_mu_);
    stopping_ = true;
  }
  sync_cv_.SignalAll();
  if (syncer_.joinable()) syncer_.join();
}

}  // namespace sluice
