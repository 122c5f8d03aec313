// CommitLog operations that change the log other than by appending:
// truncation of a suffix, retention of a prefix, epochs.
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "storage/commit_log.h"
#include "storage/log_format.h"
#include "storage/rocks_status.h"

namespace sluice {

Status CommitLog::Truncate(Offset new_end) {
  MutexLock lock(&mu_);
  if (txn_open_) return Status::FailedPrecondition("cannot truncate with a transaction open");
  const Offset hw(state_.end_offset()), first(state_.start_offset());
  if (new_end > hw || new_end < first) {
    return Status::OutOfRange("truncate to " + std::to_string(new_end.value()) +
                              ": outside the log [" + std::to_string(first.value()) + ", " +
                              std::to_string(hw.value()) + ")");
  }
  if (new_end == hw) return Status::Ok();

  proto::LogState next = state_;
  next.set_end_offset(new_end.value());
  next.clear_checkpoint();
  if (new_end == first) {
    next.set_end_bytes(state_.start_bytes());
  } else {
    std::string key = log_format::BatchKey(Offset(new_end.value() - 1));
    SLUICE_ASSIGN_OR_RETURN(auto db, db_->Use());
    std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator(rocksdb::ReadOptions(), db.log()));
    it->SeekForPrev(key);
    if (!it->Valid()) {
      SLUICE_RETURN_IF_ERROR(FromRocks(it->status(), "truncate " + options_.path));
      return Status::Corruption("no batch holds offset " + std::to_string(new_end.value() - 1));
    }
    SLUICE_ASSIGN_OR_RETURN(
        auto b, log_format::DecodeBatch(it->key().ToStringView(), it->value().ToStringView()));
    if (b.header.end_offset() != new_end || !b.header.txn_end()) {
      return Status::InvalidArgument("truncate to " + std::to_string(new_end.value()) +
                                     ": not a transaction boundary (the batch there covers [" +
                                     std::to_string(b.header.base_offset.value()) + ", " +
                                     std::to_string(b.header.end_offset().value()) + "))");
    }
    if (!next.mutable_checkpoint()->ParseFromArray(b.checkpoint.data(),
                                                   static_cast<int>(b.checkpoint.size()))) {
      return Status::Corruption("checkpoint of the batch at " +
                                std::to_string(b.header.base_offset.value()) + " does not parse");
    }
    next.set_end_bytes(b.header.bytes_before + b.encoded_size);
  }

  SLUICE_ASSIGN_OR_RETURN(auto epochs, meta_->Epochs());
  SLUICE_ASSIGN_OR_RETURN(auto db, UseForWrite());
  rocksdb::WriteBatch wb;
  wb.DeleteRange(db.log(), log_format::BatchKey(new_end), log_format::BatchKey(Offset::Max()));
  uint64_t epoch = 0;
  for (const auto& e : epochs) {
    if (e.start_offset() >= new_end.value()) {
      wb.Delete(db.meta(), MetaStore::EpochKey(Epoch(e.epoch())));
    } else {
      epoch = e.epoch();
    }
  }
  next.SerializeToString(&state_bytes_);
  wb.Put(db.meta(), MetaStore::kStateKey.data(), state_bytes_);
  SLUICE_RETURN_IF_ERROR(Write(&wb, true, "truncate the log"));

  state_ = std::move(next);
  epoch_ = epoch;
  pending_end_ = state_.end_offset();
  pending_bytes_ = state_.end_bytes();
  hw_.store(pending_end_, std::memory_order_release);
  if (released_.load() > pending_end_) released_.store(pending_end_, std::memory_order_release);
  if (durable_.load() > pending_end_) durable_.store(pending_end_, std::memory_order_release);
  return Status::Ok();
}

Result<RetentionResult> CommitLog::ApplyRetention(int64_t now_ms, Offset keep_from) {
  const RetentionOptions& r = options_.retention;
  uint64_t first, first_bytes, hw, end_bytes;
  {
    MutexLock lock(&mu_);
    first = state_.start_offset();
    first_bytes = state_.start_bytes();
    hw = state_.end_offset();
    end_bytes = state_.end_bytes();
  }
  RetentionResult result{Offset(first), 0};
  if ((r.max_age_ms == 0 && r.max_bytes == 0) || first == hw) return result;

  std::optional<Offset> acked;
  if (r.keep_unacked) {
    SLUICE_ASSIGN_OR_RETURN(acked, meta_->MinAckedOffset());
  }
  // Batches are only read here, outside the lock: appends only touch the
  // range above hw, which this scan never reaches.
  const std::string upper = log_format::BatchKey(Offset(hw));
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  uint64_t cut = first, cut_bytes = 0;
  {
    // The handle is not held while the writers' lock is taken below (the
    // order is mu_, then a handle: log_db.h).
    SLUICE_ASSIGN_OR_RETURN(auto db, db_->Use());
    std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator(ro, db.log()));
    for (it->Seek(log_format::BatchKey(Offset(first))); it->Valid(); it->Next()) {
      SLUICE_ASSIGN_OR_RETURN(
          auto b, log_format::DecodeBatch(it->key().ToStringView(), it->value().ToStringView()));
      const auto& h = b.header;
      const bool too_old = r.max_age_ms > 0 && h.append_time_ms < now_ms - r.max_age_ms;
      const bool too_big = r.max_bytes > 0 && end_bytes - h.bytes_before > r.max_bytes;
      if (!too_old && !too_big) break;
      if (acked && h.end_offset() > *acked) break;
      if (h.end_offset() > keep_from) break;
      // Only whole transactions leave, so a reader never starts mid-transaction.
      if (h.txn_end()) {
        cut = h.end_offset().value();
        cut_bytes = h.bytes_before + b.encoded_size;
      }
    }
    SLUICE_RETURN_IF_ERROR(FromRocks(it->status(), "retention scan of " + options_.path));
  }
  if (cut == first) return result;

  {
    MutexLock lock(&mu_);
    // A truncation may have run meanwhile; never cut above the log's end.
    if (state_.start_offset() != first || cut > state_.end_offset()) return result;
    proto::LogState next = state_;
    next.set_start_offset(cut);
    next.set_start_bytes(cut_bytes);
    SLUICE_ASSIGN_OR_RETURN(auto db, UseForWrite());
    rocksdb::WriteBatch wb;
    wb.DeleteRange(db.log(), log_format::BatchKey(Offset(first)),
                   log_format::BatchKey(Offset(cut)));
    next.SerializeToString(&state_bytes_);
    wb.Put(db.meta(), MetaStore::kStateKey.data(), state_bytes_);
    SLUICE_RETURN_IF_ERROR(
        Write(&wb, options_.durability == Durability::kSyncEveryCommit, "apply retention"));
    state_ = std::move(next);
    first_.store(cut, std::memory_order_release);
  }
  // Reclaim the disk space now rather than whenever compaction gets there.
  const std::string begin_key = log_format::BatchKey(Offset(first));
  const std::string end_key = log_format::BatchKey(Offset(cut));
  rocksdb::Slice begin_slice(begin_key), end_slice(end_key);
  SLUICE_ASSIGN_OR_RETURN(auto db, db_->Use());
  SLUICE_RETURN_IF_ERROR(FromRocks(
      db.db()->CompactRange(rocksdb::CompactRangeOptions(), db.log(), &begin_slice, &end_slice),
      "compact the range removed by retention"));
  result.first_offset = Offset(cut);
  result.records_removed = cut - first;
  result.bytes_removed = cut_bytes - first_bytes;
  return result;
}

Status CommitLog::BeginEpoch(Epoch epoch) {
  MutexLock lock(&mu_);
  if (txn_open_) return Status::FailedPrecondition("cannot begin an epoch inside a transaction");
  if (epoch.value() <= epoch_) {
    return Status::InvalidArgument("epoch " + std::to_string(epoch.value()) +
                                   " is not above the current epoch " + std::to_string(epoch_));
  }
  proto::EpochEntry e;
  e.set_epoch(epoch.value());
  e.set_start_offset(state_.end_offset());
  SLUICE_ASSIGN_OR_RETURN(auto db, UseForWrite());
  rocksdb::WriteBatch wb;
  wb.Put(db.meta(), MetaStore::EpochKey(epoch), e.SerializeAsString());
  SLUICE_RETURN_IF_ERROR(Write(&wb, true, "record a new epoch"));
  epoch_ = epoch.value();
  return Status::Ok();
}

}  // namespace sluice
