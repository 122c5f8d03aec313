// MetaStore: the metadata column family of a destination's RocksDB.
//
// Holds what must survive a restart besides the records: consumer-group
// cursors and their outstanding (delivered, unacknowledged) batches, the
// epoch history, the node identity, and (written by CommitLog) the log state
// with the source checkpoint.
//
// Keys (docs/formats.md):
//   "state"                                proto::LogState (CommitLog only)
//   "node"                                 proto::NodeIdentity
//   "e" + be64(epoch)                      proto::EpochEntry
//   "released"                             be64: sync mode's released high watermark
//   "g" + varint(len) + group + "c"        proto::GroupCursor
//   "g" + varint(len) + group + "b" + be64(batch id)  proto::OutstandingBatch
//   "i" + key                              ingest's state (CommitLog::CommitBlocks)
//   "h" + node id                          proto::StandbyMark (sync mode's standbys)
//
// Thread safety: all methods are safe to call concurrently; each write is
// atomic on its own. Lifetime: created by CommitLog, which must outlive it.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/types.h"
#include "proto/meta.pb.h"

namespace rocksdb {
class DB;
class WriteBatch;
}  // namespace rocksdb

namespace sluice {

class LogDb;

class MetaStore {
 public:
  // db is borrowed (its meta column family); `sync` says whether writes
  // fsync.
  MetaStore(const LogDb* db, bool sync) : db_(db), sync_(sync) {}
  MetaStore(const MetaStore&) = delete;
  MetaStore& operator=(const MetaStore&) = delete;

  // Consumer groups.
  Result<std::optional<proto::GroupCursor>> GetCursor(std::string_view group) const;
  Status PutCursor(std::string_view group, const proto::GroupCursor& cursor);
  Result<std::vector<std::pair<std::string, proto::GroupCursor>>> ListGroups() const;
  // A group is one value (GroupCursor, outstanding batches included): the
  // writes below replace it whole, so no ack leaves a delete behind. Their
  // `cursor` is the group's as GetCursor read it (outstanding batches and
  // all), changed by the caller; REQUIRES: the caller serializes writes to
  // a group.
  //
  // Removes the group's cursor and outstanding batches.
  Status DeleteGroup(std::string_view group);
  // Adds a batch to an existing group's outstanding ones.
  Status PutOutstanding(std::string_view group, const proto::OutstandingBatch& batch);
  // Stores `cursor` without its outstanding batches with id <= upto_batch_id
  // (acking a batch acks the earlier ones).
  Status Ack(std::string_view group, uint64_t upto_batch_id, const proto::GroupCursor& cursor);
  // Stores `cursor` (which carries the next batch id) with `batch` added to
  // its outstanding ones.
  Status Issue(std::string_view group, const proto::OutstandingBatch& batch,
               const proto::GroupCursor& cursor);
  // Stores `cursor` without its outstanding batches with id >= from_batch_id
  // (so they are delivered again).
  Status Rollback(std::string_view group, uint64_t from_batch_id, const proto::GroupCursor& cursor);
  // Outstanding batches in batch-id order.
  Result<std::vector<proto::OutstandingBatch>> Outstanding(std::string_view group) const;
  // Lowest acked offset over all groups; nullopt when there are none.
  Result<std::optional<Offset>> MinAckedOffset() const;

  // Replication (ha/): the standby makes its groups exactly `groups` (the
  // primary's), in one write: groups not in it are removed.
  Status ReplaceGroups(const std::vector<std::pair<std::string, proto::GroupCursor>>& groups);
  // Counts writes through this store; a change means the groups may have
  // changed (the HA write service then sends them again).
  uint64_t version() const { return version_.load(std::memory_order_acquire); }

  // Sync replication (ha/): the high watermark a primary last released
  // (written by CommitLog::StoreReleased), so a restarted primary shows no
  // more than its standbys had. nullopt when none is stored (async,
  // degraded, or a new log).
  Result<std::optional<Offset>> Released() const;

  // Epoch history, in epoch order.
  Result<std::vector<proto::EpochEntry>> Epochs() const;

  // A sync primary's standbys as it last heard from them (retention).
  Status PutStandby(std::string_view node_id, const proto::StandbyMark& mark);
  Status DeleteStandby(std::string_view node_id);
  Result<std::vector<std::pair<std::string, proto::StandbyMark>>> ListStandbys() const;

  Result<std::optional<proto::NodeIdentity>> Node() const;
  Status PutNode(const proto::NodeIdentity& node);

  // Ingest's state (storage/commit_log.h IngestStateWrite): entries whose
  // key (without kIngestPrefix) starts with `prefix`, in key order.
  Result<std::vector<std::pair<std::string, std::string>>> ListIngestState(
      std::string_view prefix) const;
  // Replication: makes the ingest state exactly `entries` (keys without
  // kIngestPrefix), in one write.
  Status ReplaceIngestState(const std::vector<std::pair<std::string, std::string>>& entries);
  static std::string IngestKey(std::string_view key) {
    return std::string(kIngestPrefix) + std::string(key);
  }
  static constexpr std::string_view kIngestPrefix = "i";
  static constexpr std::string_view kStandbyPrefix = "h";

  // Reads the log state; nullopt for a new log.
  Result<std::optional<proto::LogState>> State() const;

  // Helpers CommitLog uses to put metadata into its own atomic writes.
  static std::string EpochKey(Epoch e);
  static constexpr std::string_view kStateKey = "state";
  static constexpr std::string_view kNodeKey = "node";
  static constexpr std::string_view kEpochPrefix = "e";
  static constexpr std::string_view kReleasedKey = "released";

 private:
  Status Write(rocksdb::DB* db, rocksdb::WriteBatch* batch);
  Result<std::optional<std::string>> Get(std::string_view key) const;

  const LogDb* const db_;
  const bool sync_;
  std::atomic<uint64_t> version_{0};
};

}  // namespace sluice
