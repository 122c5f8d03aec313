#include "broker/snapshot/records.h"

#include <algorithm>

#include "base/clock.h"
#include "broker/ingest/block_list.h"
#include "broker/snapshot/snapshotter.h"

namespace sluice::snapshot {
namespace {

// A record of the snapshot `id`, true at `p`.
proto::ChangeRecord Record(proto::Op op, const std::string& db, const std::string& table,
                           const std::string& id, const binlog::BinlogPosition& p) {
  proto::ChangeRecord r;
  r.set_format_version(proto::RECORD_FORMAT_V1);
  r.set_op(op);
  r.set_db(db);
  r.set_table(table);
  r.set_ts(NowSeconds());
  r.mutable_pos()->set_file(p.file);
  r.mutable_pos()->set_pos(p.pos);
  r.mutable_snapshot()->set_id(id);
  return r;
}

}  // namespace

uint64_t NowSeconds() { return static_cast<uint64_t>(WallClockMs() / 1000); }

std::string StateName(proto::SnapshotTable::State s) {
  switch (s) {
    case proto::SnapshotTable::PENDING: return "pending";
    case proto::SnapshotTable::COPYING: return "copying";
    case proto::SnapshotTable::DONE: return "done";
    case proto::SnapshotTable::FAILED: return "failed";
    default: return "unknown";
  }
}

proto::ChangeRecord Mark(const std::string& id, const TableName& t,
                         proto::SnapshotMark::Phase phase, uint64_t rows,
                         const binlog::BinlogPosition& p) {
  proto::ChangeRecord r = Record(proto::OP_SNAPSHOT, t.first, t.second, id, p);
  r.mutable_snapshot()->set_phase(phase);
  r.mutable_snapshot()->set_rows(rows);
  return r;
}

std::string CreateIfNotExists(const std::string& create_sql) {
  for (std::string_view create : {"CREATE TABLE ", "CREATE DATABASE "}) {
    if (create_sql.starts_with(create)) {
      return std::string(create) + "IF NOT EXISTS " + create_sql.substr(create.size());
    }
  }
  return create_sql;
}

Status AppendDatabases(TableReader* reader, const std::string& id,
                       const std::vector<TableDesc>& descs, const binlog::BinlogPosition& p,
                       std::vector<proto::ChangeRecord>* out) {
  std::vector<std::string> dbs;
  for (const auto& d : descs) {
    if (std::find(dbs.begin(), dbs.end(), d.db) == dbs.end()) dbs.push_back(d.db);
  }
  for (const auto& db : dbs) {
    SLUICE_ASSIGN_OR_RETURN(std::string sql, reader->CreateDatabaseSql(db));
    proto::ChangeRecord r = Record(proto::OP_DDL, db, "", id, p);
    r.set_sql(CreateIfNotExists(sql));
    out->push_back(std::move(r));
  }
  return Status::Ok();
}

void AppendTableStart(const std::string& id, const TableDesc& d, const binlog::BinlogPosition& p,
                      std::vector<proto::ChangeRecord>* out) {
  out->push_back(Mark(id, {d.db, d.table}, proto::SnapshotMark::BEGIN, 0, p));
  proto::ChangeRecord ddl = Record(proto::OP_DDL, d.db, d.table, id, p);
  ddl.set_sql(CreateIfNotExists(d.create_sql));
  out->push_back(std::move(ddl));
}

proto::ChangeRecord SchemaRecord(const std::string& id, const TableDesc& d,
                                 const binlog::BinlogPosition& p) {
  proto::ChangeRecord s = Record(proto::OP_SCHEMA, d.db, d.table, id, p);
  *s.mutable_schema() = d.shape;
  for (const auto& k : d.shape.pk()) s.add_pk(k);
  return s;
}

Status CommitViews(CommitLog* log, std::span<const std::string_view> views,
                   const proto::SnapshotJob& job, const proto::SourceCheckpoint* checkpoint) {
  IngestStateWrite state{std::string(kJobPrefix) + job.id(), job.SerializeAsString()};
  const proto::SourceCheckpoint cp = checkpoint != nullptr ? *checkpoint : log->Checkpoint();
  return log->CommitBlocks(views, cp, std::span<const IngestStateWrite>(&state, 1)).status();
}

Status CommitRecords(CommitLog* log, const ingest::RecordBuffer& records,
                     const proto::SnapshotJob& job, const proto::SourceCheckpoint* checkpoint) {
  ingest::BlockList blocks;
  std::string scratch;
  const bool compress = log->options().compression != Compression::kNone;
  if (!records.empty()) blocks.Pack(records, 0, records.count(), compress, &scratch);
  std::vector<std::string_view> views;
  blocks.Views(blocks.size(), &views);
  return CommitViews(log, views, job, checkpoint);
}

bool AllEnded(const proto::SnapshotJob& job) {
  return std::all_of(job.tables().begin(), job.tables().end(), [](const auto& t) {
    return t.state() == proto::SnapshotTable::DONE || t.state() == proto::SnapshotTable::FAILED;
  });
}

}  // namespace sluice::snapshot
