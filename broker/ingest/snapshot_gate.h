// SnapshotGate: where a snapshot's chunks meet the ingest pipeline, so that
// a chunk enters the log at a place where it is still true
// (docs/snapshots.md has the argument; this is its mechanism).
//
// The snapshot thread reads a chunk of a table as of binlog position P
// (a consistent-snapshot transaction and the server's
// binlog_snapshot_file/position). It may write the chunk into the log only
// at a point H >= P, after every transaction up to P is in the log, and
// without the rows whose keys a transaction between P and H changed: those
// changes are in the log already, with their full image, and newer. The
// gate provides both:
//
//   Arm(table)      from the next event stage 3 handles, the keys of the
//                   table's row changes are noted, and any DDL of the
//                   watched tables and any XA COMMIT. Returns W, the
//                   position everything before which was handled: noting
//                   covers (W, H]. The chunk is good only if P >= W.
//   CommitWhen...   waits until stage 3 has handled everything up to P and
//                   holds no open transaction, then, with stage 3 held
//                   still, calls the snapshot's write with the noted keys
//                   (it drops those rows and commits the rest). Aborted when
//                   the window saw a DDL of a watched table or an XA COMMIT
//                   (its rows were noted nowhere: read the chunk again), or
//                   when the pipeline restarted.
//
// Stage 3 holds the gate's lock for each slot it handles (BeginSlot /
// EndSlot), so a snapshot write never runs beside it: the log's end, the
// open transaction and the noted keys are all as of a slot boundary.
//
// Thread safety: stage 3 calls the slot methods; one snapshot thread calls
// Arm / CommitWhenCaughtUp / Disarm; the pipeline's Run() calls
// Started / Stopped.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "base/status.h"
#include "base/thread_annotations.h"
#include "broker/binlog/binlog_source.h"
#include "proto/meta.pb.h"
#include "proto/record.pb.h"

namespace sluice::ingest {

using binlog::BinlogPosition;

// <0, 0, >0: files by their numeric suffix ("mysql-bin.000012"), then
// positions. Files of different base names (another server's) compare by
// suffix all the same: the caller makes sure both come from one server.
int ComparePositions(const BinlogPosition& a, const BinlogPosition& b);

// Appends one key column's value to a key (KeyOf's form): its serialized
// bytes behind their length.
void AppendKeyValue(const proto::Value& v, std::string* key);

// The key of a row as bytes: the serialized values of the columns at
// `key_columns` (0-based ordinals) in `image`, each behind its length.
// nullopt when the image lacks one of them.
std::optional<std::string> KeyOf(const google::protobuf::RepeatedPtrField<proto::Column>& image,
                                 const std::vector<uint32_t>& key_columns);

// The keys a window's changes touched: before and after images of every
// update, insert and delete.
class TouchedKeys {
 public:
  void Note(const proto::ChangeRecord& r, const std::vector<uint32_t>& key_columns);
  bool Contains(const std::string& key) const { return keys_.count(key) > 0; }
  size_t size() const { return keys_.size(); }
  void Clear() { keys_.clear(); }

 private:
  std::unordered_set<std::string> keys_;
};

class SnapshotGate {
 public:
  struct Watch {
    std::string db, table;              // the table whose row keys are noted
    std::vector<uint32_t> key_columns;  // their ordinals, in key order
    // Tables whose DDL spoils the window (the chunk's table, or every
    // table of a snapshot's start).
    std::vector<std::pair<std::string, std::string>> ddl_tables;
  };
  struct Armed {
    uint64_t generation = 0;
    BinlogPosition handled;  // W
  };

  // --- the snapshot thread ---
  // Unavailable while no pipeline runs (the caller waits and tries again).
  Result<Armed> Arm(Watch watch) EXCLUDES(mu_);
  // See the header comment. `write` runs with stage 3 held; its error is
  // returned. Unavailable when *stop became true first. With
  // `keep_window` the window stays open after a write (and its keys
  // noted): a later chunk read after `armed` may be committed in the same
  // window, since noting from an earlier W leaves out more rows, never
  // fewer, and every row left out has a newer change in the log.
  Status CommitWhenCaughtUp(const Armed& armed, const BinlogPosition& p,
                            const std::function<Status(const TouchedKeys&)>& write,
                            const std::atomic<bool>* stop, bool keep_window = false) EXCLUDES(mu_);
  void Disarm() EXCLUDES(mu_);

  // --- the pipeline ---
  // Run() begins: everything up to the log's checkpoint is handled.
  void Started(const BinlogPosition& checkpoint) EXCLUDES(mu_);
  // Run() ends: a watch in progress is spoiled.
  void Stopped() EXCLUDES(mu_);
  // Stage 3, around each slot.
  void BeginSlot() ACQUIRE(mu_) { mu_.lock(); }
  // `handled`: the end of the slot's event (unknown for heartbeats and
  // artificial events: then unchanged); `txn_open`: stage 3 holds part of
  // a transaction.
  void EndSlot(const BinlogPosition* handled, bool txn_open) RELEASE(mu_);
  // Between BeginSlot and EndSlot (the lock is held: the analysis cannot
  // follow it into stage 3): whether row changes of db.table are to be
  // noted (then NoteRow each), and the events that spoil a window.
  bool Watches(std::string_view db, std::string_view table) const NO_THREAD_SAFETY_ANALYSIS;
  void NoteRow(std::string_view record) NO_THREAD_SAFETY_ANALYSIS;
  void NoteDdl(std::string_view db, std::string_view table) NO_THREAD_SAFETY_ANALYSIS;
  void NoteXaCommit() NO_THREAD_SAFETY_ANALYSIS;

  // For tests and metrics: keys noted in the current window.
  size_t touched() const EXCLUDES(mu_);

 private:
  mutable Mutex mu_;
  CondVar cv_;  // a slot ended, the pipeline started or stopped
  bool running_ GUARDED_BY(mu_) = false;
  uint64_t generation_ GUARDED_BY(mu_) = 0;  // bumped by Stopped()
  BinlogPosition handled_ GUARDED_BY(mu_);
  bool txn_open_ GUARDED_BY(mu_) = false;
  bool armed_ GUARDED_BY(mu_) = false;
  std::string spoiled_ GUARDED_BY(mu_);  // why the window is no good ("" while good)
  Watch watch_ GUARDED_BY(mu_);
  TouchedKeys touched_ GUARDED_BY(mu_);
  proto::ChangeRecord scratch_ GUARDED_BY(mu_);
};

}  // namespace sluice::ingest
