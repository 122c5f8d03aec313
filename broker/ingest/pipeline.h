// The ingest pipeline of one destination: binlog source -> parse ring ->
// commit log (Canal's MultiStageCoprocessor shape):
//
//   fetch (the caller's thread): source.Next() -> copy the event into a slot
//   stage 1, serial:  Decoder::Plan: header, CRC, table maps, GTIDs,
//                     transaction boundaries, DDL; include/exclude filters
//   stage 2, N workers: EncodeAction: each record serialized into the slot
//   stage 3, serial:  in binlog order: number records within their
//                     transaction, stream large ones in chunks, commit each
//                     transaction with its source checkpoint
//
// Output is the same, record for record and offset for offset, for any
// number of workers and any ring size: offsets are assigned by the log in
// stage 3, which sees slots in sequence order.
//
// Records are serialized by the workers without their `txn` field and
// packed into blocks of the log's batch version 2, which the workers also
// compress (LZ4, unless the log's compression is "none"): only stage 3
// knows a record's place in its transaction, and the log's readers append
// the field from the batch header (storage/log_format.h). Stage 3 copies
// compressed blocks, not records.
//
// Memory: the ring (ring_size slots, each holding one event and its
// records) plus, per open transaction, at most chunk_records records; a
// larger transaction is appended in chunks above the high watermark and
// becomes visible when it ends (CommitLog::AppendChunk).
//
// Thread safety: Run() on one thread (it becomes the fetch thread); stats()
// from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "base/status.h"
#include "broker/binlog/binlog_source.h"
#include "broker/binlog/decoder.h"
#include "broker/ingest/snapshot_gate.h"
#include "broker/ring/sequence.h"
#include "storage/commit_log.h"

namespace sluice::ingest {

struct IngestOptions {
  size_t ring_size = 256;  // slots; a power of two (each keeps its event and records)
  int parse_threads = 2;   // stage-2 workers
  ring::WaitKind wait = ring::WaitKind::kBlocking;
  size_t chunk_records = 10000;  // a transaction beyond this streams in chunks
  // Regular expressions over "db.table"; empty include = everything. A DDL
  // whose table is unknown is matched as "db.".
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  bool column_names = true;
  binlog::SchemaResolver* schema = nullptr;  // not owned; may be null
  // on_undecodable = "skip": an event that does not decode is stored as an
  // error record (binlog/decoder.h FillUndecodable) and ingest goes on;
  // false stops the pipeline with the error.
  bool skip_undecodable = false;
  // Called from stage 1 (and from stage 3 for rows a worker could not
  // decode) with what a person should know: INCIDENT events, skipped
  // unknown events, error records stored.
  std::function<void(const std::string&)> on_warning;
  // Where snapshot chunks join the log (snapshot_gate.h); may be null. Not
  // owned; outlives the pipeline.
  SnapshotGate* gate = nullptr;
  // Tests: called by a worker before it decodes a slot (to inject delays).
  std::function<void(int worker, int64_t seq)> worker_hook;

  Status Validate() const;
};

// Counters of a pipeline, readable from any thread (metrics, progress).
struct IngestStats {
  std::atomic<uint64_t> events{0};
  std::atomic<uint64_t> event_bytes{0};
  std::atomic<uint64_t> rows{0};  // row changes decoded (before filters: after)
  std::atomic<uint64_t> records_committed{0};
  std::atomic<uint64_t> transactions{0};
  std::atomic<uint64_t> chunks{0};
  // What could not be captured as rows, each stored as an error record
  // (kept by the filters): statement-logged DML, and events skipped by
  // on_undecodable = "skip". Row changes keyed "@N" because the table map
  // had no column names (binlog_row_metadata was not FULL when written).
  std::atomic<uint64_t> statement_errors{0};
  std::atomic<uint64_t> undecodable_events{0};
  std::atomic<uint64_t> records_without_names{0};
  // Prepared XA transactions whose XA COMMIT / ROLLBACK has not been read
  // (their records wait in the log's ingest state), and the source time
  // of the oldest one's XA PREPARE (0 when none).
  std::atomic<uint64_t> xa_pending{0};
  std::atomic<uint64_t> xa_oldest_prepared_ts{0};
  std::atomic<uint64_t> last_event_ts{0};    // source time of the last committed txn
  std::atomic<uint64_t> ring_full_waits{0};  // producer found the ring full
  std::atomic<uint64_t> commit_ns_total{0};
  // Commit latency histogram: bucket i counts commits of at most
  // kCommitBucketsMs[i] ms (the last bucket is +Inf).
  static constexpr double kCommitBucketsMs[] = {0.1, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000};
  static constexpr size_t kCommitBuckets = std::size(kCommitBucketsMs) + 1;
  std::atomic<uint64_t> commit_latency[kCommitBuckets] = {};
  std::atomic<int64_t> ring_occupancy{0};  // slots published and not yet committed
  // Where the pipeline's threads wait, in ns summed over threads: the fetch
  // thread inside source.Next() (network and the source's own work) and
  // for a free slot (the ring is full: a later stage is the bottleneck);
  // each stage for the one before it. The stage that waits least is the
  // bottleneck.
  enum WaitPart { kSourceRead, kRingFull, kPlanWait, kDecodeWait, kCommitWait, kWaitParts };
  static constexpr const char* kWaitPartNames[kWaitParts] = {"source_read", "ring_full", "plan",
                                                             "decode", "commit"};
  std::atomic<uint64_t> wait_ns[kWaitParts] = {};
  std::atomic<uint64_t> position_pos{0};  // source position of the last event read
  std::atomic<int64_t> caught_up_ms{0};   // wall ms of the last heartbeat / idle read
};

class Pipeline {
 public:
  // `log` must outlive the pipeline. The log's checkpoint is where the
  // caller opened the source; the GTID state continues from it.
  static Result<std::unique_ptr<Pipeline>> Create(const IngestOptions& options, CommitLog* log,
                                                  IngestStats* stats);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Feeds events from `source` through the ring until the source ends
  // (NotFound: Ok), *stop becomes true (Ok, after committing every whole
  // transaction that was read; a partial one is discarded), or an error in
  // any stage (returned; the failed event is not marked processed and the
  // open transaction's chunks are discarded: restart from the log's
  // checkpoint). One Run() per Pipeline.
  Status Run(binlog::BinlogSource* source, const std::atomic<bool>* stop);

 private:
  struct Slot;
  class Impl;
  explicit Pipeline(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::ingest
