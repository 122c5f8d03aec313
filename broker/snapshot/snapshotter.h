// Snapshotter: copies a destination's tables into its log while ingest
// goes on, chunk by chunk, merged with the changes so that replaying the
// log from a table's BEGIN mark gives the table (docs/snapshots.md).
//
// A snapshot (a "job") lists tables. Its start is one log transaction:
// for each table a `snapshot` BEGIN mark, the table's definition as a
// `ddl` record (SHOW CREATE TABLE, made CREATE TABLE IF NOT EXISTS) and a
// `schema` record. Then each table in turn, one log transaction per chunk:
// the chunk's `read` rows less those the merge rule drops, and with the
// table's last chunk its END mark. Each of these transactions writes the
// job's progress (proto::SnapshotJob) in the log's ingest state in the
// same atomic write, so after kill -9, or on the standby that takes over
// (it receives the ingest state with the log), the copy goes on after the
// last chunk in the log, and no row is written twice.
//
// Jobs: "initial" (snapshot = "initial" and an empty log: every included
// table; its start is written before ingest's first transaction, with the
// checkpoint at the snapshot's position, so ingest starts there) and
// on-demand (Request(): `sluice snapshot`), started through the gate at the
// ingest's current position. One job runs at a time, in the order asked.
//
// Thread safety: StartInitial() from the destination's ingest thread
// before its first pipeline; Request(), progress() from any thread; one
// worker thread of its own between Start() and Stop().
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "base/thread_annotations.h"
#include "broker/ingest/snapshot_gate.h"
#include "broker/snapshot/table_reader.h"
#include "proto/meta.pb.h"
#include "storage/commit_log.h"

namespace sluice::snapshot {

struct SnapshotOptions {
  std::string source;                // the destination's source URL
  size_t chunk_rows = 10000;         // rows per chunk (and the bound of memory: one chunk)
  std::vector<std::string> include;  // the destination's filters, over "db.table"
  std::vector<std::string> exclude;
  // The server ("host:port") ingest reads now; chunks are read there, so
  // that their positions compare with ingest's.
  std::function<std::string()> ingest_server;
  std::function<void(const std::string&)> on_warning;  // what a person should know
  // Tests: called after a chunk was read, before it is merged.
  std::function<void(const std::string& table, uint64_t chunk)> chunk_hook;
};

// One table of a job, for /status, /metrics and `sluice status`.
struct TableProgress {
  std::string db, table;
  std::string state;  // pending | copying | done | failed
  uint64_t rows = 0, dropped = 0, chunks = 0, retries = 0;
  std::string last_key;  // "(17, 'abc')"
  double rows_per_second = 0;
  std::string error;
};
struct JobProgress {
  std::string id;
  bool done = false;
  std::string error;  // a request refused before it started (no such table, no key, ...)
  std::vector<TableProgress> tables;
};

// The key under which a job's progress lives in the log's ingest state.
inline constexpr std::string_view kJobPrefix = "snap/";

class Snapshotter {
 public:
  Snapshotter(SnapshotOptions options, CommitLog* log, ingest::SnapshotGate* gate);
  ~Snapshotter();  // Stop()s
  Snapshotter(const Snapshotter&) = delete;
  Snapshotter& operator=(const Snapshotter&) = delete;

  // For an empty log: writes the initial job's start (the BEGIN marks,
  // definitions and schemas of every included table with a usable key)
  // and sets the log's checkpoint to the position they are true at.
  // Tables without one are listed in the job as failed, and warned of.
  Status StartInitial();

  // Asks for a snapshot of `tables` ("db.table"), each of which must pass
  // the destination's filters (InvalidArgument otherwise). Returns the
  // job's id at once; the worker starts it (progress() then lists it), or
  // refuses it when a table does not exist or has no usable key
  // (progress() lists it with the error, and the log says it).
  Result<std::string> Request(const std::vector<std::string>& tables);

  // The worker thread: goes on with the jobs the log's ingest state holds,
  // then waits for requests.
  void Start();
  void Stop();

  // The jobs in the log's ingest state, newest last, and the one running.
  std::vector<JobProgress> progress() const;

 private:
  struct Pending;
  void Loop();
  // Starts the jobs asked for (between chunks of a running one).
  void ServeRequests();
  Status RunJob(proto::SnapshotJob* job);
  Status StartJob(const std::vector<std::pair<std::string, std::string>>& tables,
                  const std::string& id);
  Status CopyTable(proto::SnapshotJob* job, int index);
  struct ChunkInFlight;
  Status CommitChunk(const ingest::SnapshotGate::Armed& armed, const TableDesc& desc, int index,
                     const proto::SnapshotJob& job, const std::string& server, uint64_t started,
                     ChunkInFlight* c);
  bool Included(const std::string& db, const std::string& table) const;
  bool SleepUnlessStopped(std::chrono::milliseconds d);
  void Publish(const proto::SnapshotJob& job);

  const SnapshotOptions options_;
  CommitLog* const log_;
  ingest::SnapshotGate* const gate_;
  std::atomic<bool> stop_{false};
  std::thread thread_;

  mutable Mutex mu_;
  CondVar cv_;  // a request came, a request was answered, Stop()
  std::vector<std::shared_ptr<Pending>> requests_ GUARDED_BY(mu_);
  std::vector<JobProgress> refused_ GUARDED_BY(mu_);  // the last few refused requests
  // The running job's progress, as of its last chunk; and each table's
  // copy start (for rows/s).
  proto::SnapshotJob running_ GUARDED_BY(mu_);
  uint64_t next_id_ GUARDED_BY(mu_) = 0;
};

}  // namespace sluice::snapshot
