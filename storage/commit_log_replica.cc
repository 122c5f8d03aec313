// CommitLog operations for replication (ha/): the visibility gate, reading
// whole batches on the primary, appending them on a standby.
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "base/coding.h"
#include "storage/commit_log.h"
#include "storage/log_format.h"
#include "storage/rocks_status.h"

namespace sluice {
namespace {

std::string At(uint64_t offset) { return std::to_string(offset); }

}  // namespace

void CommitLog::SetGate(bool on) {
  if (on == gated_.load(std::memory_order_acquire)) return;
  if (on) {
    // Start at what readers may see now, so the high watermark stays put.
    uint64_t cur = released_.load(std::memory_order_acquire);
    const uint64_t hw = hw_.load(std::memory_order_acquire);
    while (cur < hw && !released_.compare_exchange_weak(cur, hw)) {
    }
  }
  gated_.store(on, std::memory_order_release);
  if (!on) Notify();  // readers may see more now
}

void CommitLog::StartGateAt(Offset released) {
  released_.store(std::min(released.value(), hw_.load(std::memory_order_acquire)),
                  std::memory_order_release);
  gated_.store(true, std::memory_order_release);
}

Status CommitLog::StoreReleased(std::optional<Offset> released) {
  MutexLock lock(&mu_);
  SLUICE_ASSIGN_OR_RETURN(auto db, UseForWrite());
  rocksdb::WriteBatch wb;
  if (released) {
    wb.Put(db.meta(), MetaStore::kReleasedKey, coding::BigEndian64(released->value()));
  } else {
    wb.Delete(db.meta(), MetaStore::kReleasedKey);
  }
  return Write(&wb, options_.durability == Durability::kSyncEveryCommit,
               "store the released offset");
}

void CommitLog::Release(Offset upto) {
  uint64_t cur = released_.load(std::memory_order_acquire);
  bool moved = false;
  while (cur < upto.value()) {
    if (released_.compare_exchange_weak(cur, upto.value())) {
      moved = true;
      break;
    }
  }
  if (moved) Notify();
}

void CommitLog::Notify() {
  {
    std::lock_guard lock(change_mu_);
    changes_.fetch_add(1, std::memory_order_acq_rel);
  }
  change_cv_.notify_all();
  if (on_commit_) on_commit_();
}

uint64_t CommitLog::WaitForChange(uint64_t seen, std::chrono::milliseconds max_wait) const {
  std::unique_lock lock(change_mu_);
  change_cv_.wait_for(lock, max_wait, [&] { return changes_.load() != seen; });
  return changes_.load();
}

uint64_t CommitLog::EndBytes() const {
  MutexLock lock(&mu_);
  return state_.end_bytes();
}

uint64_t CommitLog::AppendedBytes() const {
  MutexLock lock(&mu_);
  return pending_bytes_;
}

Offset CommitLog::AppendedEnd() const {
  MutexLock lock(&mu_);
  return Offset(pending_end_);
}

Result<std::vector<std::string>> CommitLog::ReadBatches(Offset from, size_t max_bytes) const {
  const uint64_t end = hw_.load(std::memory_order_acquire);
  const uint64_t first = first_.load(std::memory_order_acquire);
  if (from.value() < first || from.value() > end) {
    return Status::OutOfRange("offset " + At(from.value()) + " is outside the log [" + At(first) +
                              ", " + At(end) + "]");
  }
  std::vector<std::string> out;
  if (from.value() == end) return out;
  const std::string upper = log_format::BatchKey(Offset(end));
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  SLUICE_ASSIGN_OR_RETURN(auto db, db_->Use());
  std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator(ro, db.log()));
  const std::string start = log_format::BatchKey(from);
  it->Seek(start);
  if (it->Valid() && it->key().ToStringView() != start) {
    return Status::InvalidArgument("no batch starts at offset " + At(from.value()));
  }
  size_t bytes = 0;
  for (; it->Valid() && (out.empty() || bytes < max_bytes); it->Next()) {
    out.emplace_back(it->value().ToStringView());
    bytes += out.back().size();
  }
  SLUICE_RETURN_IF_ERROR(FromRocks(it->status(), "read batches of " + options_.path));
  if (out.empty()) {
    return Status::OutOfRange("offset " + At(from.value()) + " was removed while reading");
  }
  return out;
}

Status CommitLog::AppendReplicated(std::span<const std::string> batches,
                                   std::span<const proto::EpochEntry> epochs) {
  bool ended = false;
  {
    MutexLock lock(&mu_);
    uint64_t end = pending_end_, bytes = pending_bytes_, txn_base = txn_base_;
    uint64_t epoch = epoch_, last_base = last_chunk_base_;
    bool open = txn_open_;
    proto::LogState next = state_;
    SLUICE_ASSIGN_OR_RETURN(auto db, UseForWrite());
    rocksdb::WriteBatch& wb = *write_batch_;
    wb.Clear();
    // Records the primary's epochs that began at or below `offset`.
    auto adopt = [&](uint64_t offset) {
      for (const auto& e : epochs) {
        if (e.epoch() <= epoch || e.start_offset() > offset) continue;
        wb.Put(db.meta(), MetaStore::EpochKey(Epoch(e.epoch())), e.SerializeAsString());
        epoch = e.epoch();
      }
    };
    for (const std::string& value : batches) {
      adopt(end);
      const std::string key = log_format::BatchKey(Offset(end));
      auto decoded = log_format::DecodeBatch(key, value);
      if (!decoded.ok()) {
        return Status::Corruption("replicated batch at offset " + At(end) + ": " +
                                  decoded.status().message());
      }
      const log_format::BatchHeader& h = decoded->header;
      if (h.epoch != epoch) {
        return Status::Corruption("replicated batch at offset " + At(end) + " carries epoch " +
                                  At(h.epoch) + " but the primary's history puts epoch " +
                                  At(epoch) + " there");
      }
      if (h.bytes_before != bytes) {
        return Status::Corruption("replicated batch at offset " + At(end) + " counts " +
                                  At(h.bytes_before) + " bytes before it; this log has " +
                                  At(bytes));
      }
      if (h.txn_base().value() != (open ? txn_base : end)) {
        return Status::Corruption("replicated batch at offset " + At(end) +
                                  " does not continue the transaction open at " +
                                  At(open ? txn_base : end));
      }
      wb.Put(db.log(), key, value);
      if (!open) txn_base = end;
      last_base = end;
      end = h.end_offset().value();
      bytes += decoded->encoded_size;
      open = !h.txn_end();
      if (h.txn_end()) {
        next.set_end_offset(end);
        next.set_end_bytes(bytes);
        if (!next.mutable_checkpoint()->ParseFromArray(
                decoded->checkpoint.data(), static_cast<int>(decoded->checkpoint.size()))) {
          return Status::Corruption("replicated batch at offset " + At(last_base) +
                                    ": its checkpoint does not parse");
        }
        ended = true;
      }
    }
    adopt(end);
    if (wb.Count() == 0) return Status::Ok();
    const bool sync = options_.durability == Durability::kSyncEveryCommit;
    SLUICE_RETURN_IF_ERROR(CheckSpace(wb.GetDataSize()));
    SLUICE_RETURN_IF_ERROR(Write(&wb, sync, "append replicated batches"));
    pending_end_ = end;
    pending_bytes_ = bytes;
    txn_base_ = txn_base;
    txn_open_ = open;
    last_chunk_base_ = last_base;
    epoch_ = epoch;
    if (ended) {
      state_ = std::move(next);
      hw_.store(state_.end_offset(), std::memory_order_release);
      if (sync) durable_.store(state_.end_offset(), std::memory_order_release);
    }
  }
  if (ended) Notify();
  return Status::Ok();
}

}  // namespace sluice
