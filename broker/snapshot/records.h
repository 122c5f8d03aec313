// The records a snapshot writes besides its rows (docs/snapshots.md, "What
// the log holds"), and its writes to the log. Private to broker/snapshot.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "broker/binlog/binlog_source.h"
#include "broker/ingest/record_buffer.h"
#include "broker/snapshot/table_reader.h"
#include "proto/meta.pb.h"
#include "proto/record.pb.h"
#include "storage/commit_log.h"

namespace sluice::snapshot {

using TableName = std::pair<std::string, std::string>;

// A table's BEGIN or END mark.
proto::ChangeRecord Mark(const std::string& id, const TableName& t,
                         proto::SnapshotMark::Phase phase, uint64_t rows,
                         const binlog::BinlogPosition& p);

// SHOW CREATE TABLE's (or DATABASE's) statement, made idempotent: a sink
// that has the table (an on-demand snapshot of a table it holds) keeps it.
std::string CreateIfNotExists(const std::string& create_sql);

// The databases of `descs`, each created if missing: a sink that starts
// from an empty server has them before their tables.
Status AppendDatabases(TableReader* reader, const std::string& id,
                       const std::vector<TableDesc>& descs, const binlog::BinlogPosition& p,
                       std::vector<proto::ChangeRecord>* out);

// The start of a table's copy: its BEGIN mark, definition and shape.
void AppendTableStart(const std::string& id, const TableDesc& d, const binlog::BinlogPosition& p,
                      std::vector<proto::ChangeRecord>* out);

proto::ChangeRecord SchemaRecord(const std::string& id, const TableDesc& d,
                                 const binlog::BinlogPosition& p);

// Writes blocks (and the job's progress, in the log's ingest state) as one
// log transaction, at the log's current checkpoint or at `checkpoint`.
Status CommitViews(CommitLog* log, std::span<const std::string_view> views,
                   const proto::SnapshotJob& job,
                   const proto::SourceCheckpoint* checkpoint = nullptr);
// The same for records not yet packed.
Status CommitRecords(CommitLog* log, const ingest::RecordBuffer& records,
                     const proto::SnapshotJob& job,
                     const proto::SourceCheckpoint* checkpoint = nullptr);

// Every table of the job is done or failed.
bool AllEnded(const proto::SnapshotJob& job);
std::string StateName(proto::SnapshotTable::State s);
uint64_t NowSeconds();

}  // namespace sluice::snapshot
