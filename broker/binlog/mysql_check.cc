// The checks MysqlSource makes of a server beside the dump: what
// `sluiced --check --connect` reports (Check), whether a server has every
// transaction of a GTID start (CheckHasGtids), and the server's GTID state
// at a position start (NoteGtidStateAt). docs/binlog-source.md.
#include <mysql.h>

#include "broker/binlog/mysql_query.h"
#include "broker/binlog/mysql_source.h"
#include "broker/binlog/mysql_text.h"

namespace sluice::binlog {

using mysql_query::Row;
using mysql_query::RunQuery;
using mysql_query::Value;
using mysql_text::IsSafeFileName;
using mysql_text::Lower;

Status MysqlSource::CheckHasGtids(const std::string& ours) {
  MYSQL* m = conn_->m;
  SLUICE_ASSIGN_OR_RETURN(GtidState want, GtidState::Parse(ours));
  const char* sql = is_mariadb_ ? "SELECT @@global.gtid_binlog_state, @@global.gtid_slave_pos"
                                : "SELECT @@global.gtid_executed, @@global.gtid_purged";
  SLUICE_ASSIGN_OR_RETURN(auto rows,
                          RunQuery(options_, is_mariadb_, m, sql, "reading the server's GTIDs"));
  auto missing = want.MissingFrom(Value(rows, 0), is_mariadb_ ? Value(rows, 1) : "");
  if (!missing.ok()) return missing.status().WithContext("the server at " + Where());
  if (!missing->empty()) {
    return Status::FailedPrecondition(
        "the server at " + Where() +
        " lacks transactions this destination already stored: " + *missing +
        ". Reading from it would leave a gap, so it is refused. Bring back the server "
        "that has them, or, if they are lost for good, start the destination again with a new "
        "data directory");
  }
  if (!is_mariadb_) {
    // Transactions the server no longer has in its binlogs, that we have
    // not read: the dump would fail on them.
    SLUICE_ASSIGN_OR_RETURN(GtidState purged, GtidState::Parse(Value(rows, 1)));
    SLUICE_ASSIGN_OR_RETURN(std::string unread, purged.MissingFrom(ours));
    if (!unread.empty()) {
      return Status::NotFound("the server at " + Where() +
                              " purged transactions this "
                              "destination has not read: " +
                              unread + ". They are lost to sluice: start the destination again");
    }
  }
  return Status::Ok();
}

void MysqlSource::NoteGtidStateAt(const BinlogPosition& at, const std::string& executed_at_latest) {
  MYSQL* m = conn_->m;
  auto unknown = [&](const std::string& why) {
    warnings_.push_back("cannot learn the GTID state of " + Where() + " at " + at.ToString() +
                        " (" + why +
                        "): this destination follows a failover of its source "
                        "only from the next start on");
  };
  if (!IsSafeFileName(at.file)) return unknown("file name");
  if (is_mariadb_) {
    auto rows =
        RunQuery(options_, is_mariadb_, m,
                 "SELECT BINLOG_GTID_POS('" + at.file + "', " + std::to_string(at.pos) + ")",
                 "reading BINLOG_GTID_POS");
    if (!rows.ok()) return unknown(rows.status().ToString());
    if (rows->empty() || (*rows)[0].empty() || !(*rows)[0][0]) {
      return unknown("BINLOG_GTID_POS gave NULL");
    }
    start_gtid_state_ = *(*rows)[0][0];
    return;
  }
  // MySQL resumes by GTID (COM_BINLOG_DUMP_GTID) only with gtid_mode=ON;
  // with anything else (OFF, or a migration's *_PERMISSIVE) the state stays
  // unknown and ingest resumes by file:pos on the first host.
  auto mode = RunQuery(options_, is_mariadb_, m, "SELECT @@global.gtid_mode", "reading gtid_mode");
  if (!mode.ok()) return unknown(mode.status().ToString());
  if (Lower(Value(*mode, 0)) != "on") {
    warnings_.push_back("gtid_mode is " + Value(*mode, 0) + " on " + Where() +
                        ": this destination resumes by file and offset on the first host of its "
                        "source and cannot follow a failover of the source");
    return;
  }
  if (!executed_at_latest.empty()) {  // SHOW MASTER STATUS's, at the same instant
    start_gtid_state_ = executed_at_latest;
    return;
  }
  GtidState state;
  bool done = false, ended = false;
  uint64_t from = 4;
  for (int page = 0; !done && !ended; ++page) {
    // A page at a time: a large file is not read past `at`.
    auto rows = RunQuery(
        options_, is_mariadb_, m,
        "SHOW BINLOG EVENTS IN '" + at.file + "' FROM " + std::to_string(from) + " LIMIT 1000",
        "reading the binlog's GTIDs (SHOW BINLOG EVENTS)");
    if (!rows.ok()) return unknown(rows.status().ToString());
    ended = rows->empty();  // the file's end: `at` is at or past its last event
    const uint64_t before = from;
    if (Status s = AddMysqlGtidsFromEvents(*rows, at.pos, &state, &done, &from); !s.ok()) {
      return unknown(s.ToString());
    }
    if (!done && !ended && from <= before) {
      // A page that does not move on: the state would miss what follows.
      return unknown("SHOW BINLOG EVENTS did not advance past " + std::to_string(from));
    }
  }
  start_gtid_state_ = state.ToString();
}

Result<SourceCheckReport> MysqlSource::Check(const MysqlSourceOptions& options) {
  std::unique_ptr<MysqlSource> src(new MysqlSource(options));
  SLUICE_RETURN_IF_ERROR(src->Connect());
  SourceCheckReport r;
  r.server_version = src->server_version_;
  r.warnings = src->warnings_;
  MYSQL* m = src->conn_->m;
  const bool mariadb = src->is_mariadb_;
  r.ok.push_back("login as '" + options.user + "' at " + src->Where() + " (" +
                 src->server_version_ +
                 (src->tls_cipher_.empty() ? "" : ", TLS " + src->tls_cipher_) + ")");
  r.ok.push_back("log_bin on, binlog_format ROW");

  // Privileges: what SHOW GRANTS says (a role or a proxy grant may give
  // them in ways this does not see: then a warning, not an error).
  SLUICE_ASSIGN_OR_RETURN(auto grants, RunQuery(options, mariadb, m, "SHOW GRANTS",
                                                "reading the user's grants (SHOW GRANTS)"));
  std::string all;
  for (const auto& row : grants) {
    if (!row.empty() && row[0]) all += Lower(*row[0]) + "\n";
  }
  const bool super = all.find("grant all privileges on *.*") != std::string::npos;
  const bool replica = super || all.find("replication slave") != std::string::npos ||
                       all.find("replication replica") != std::string::npos;
  const bool monitor = super || all.find("replication client") != std::string::npos ||
                       all.find("binlog monitor") != std::string::npos ||
                       all.find("grant super") != std::string::npos ||
                       all.find(", super") != std::string::npos;
  if (replica) {
    r.ok.push_back("privilege REPLICATION SLAVE");
  } else {
    r.warnings.push_back("SHOW GRANTS lists no REPLICATION SLAVE for '" + options.user +
                         "': the binlog dump will be refused unless a role gives it (GRANT "
                         "REPLICATION SLAVE ON *.* TO '" +
                         options.user + "'@'%')");
  }
  if (monitor) {
    r.ok.push_back(std::string("privilege ") + (mariadb ? "BINLOG MONITOR" : "REPLICATION CLIENT"));
  } else {
    r.warnings.push_back(std::string("SHOW GRANTS lists no ") +
                         (mariadb ? "BINLOG MONITOR" : "REPLICATION CLIENT") +
                         ": start = \"latest\" and the lag in bytes need SHOW BINARY LOGS");
  }

  // GTIDs: what a GTID start and a source failover need.
  if (mariadb) {
    auto pos = RunQuery(options, mariadb, m, "SELECT @@global.gtid_binlog_pos", "reading GTIDs");
    if (pos.ok()) r.ok.push_back("GTID binlog position '" + Value(*pos, 0) + "'");
  } else {
    auto mode = RunQuery(options, mariadb, m, "SELECT @@global.gtid_mode", "reading gtid_mode");
    if (mode.ok() && Lower(Value(*mode, 0)) == "on") {
      r.ok.push_back("gtid_mode ON");
    } else {
      r.warnings.push_back("gtid_mode is " +
                           (mode.ok() ? Value(*mode, 0) : std::string("unknown")) +
                           ": positions are by file and offset only");
    }
  }

  if (options.start.kind == MysqlStart::Kind::kFilePos) {
    auto files = src->ListBinlogFiles(*src->conn_);
    if (files.ok()) {
      bool found = false;
      for (const auto& f : *files) found = found || f == options.start.file_pos.file;
      if (!found) {
        std::string have;
        for (const auto& f : *files) have += (have.empty() ? "" : ", ") + f;
        return Status::NotFound("start " + options.start.file_pos.file + ":" +
                                std::to_string(options.start.file_pos.pos) +
                                " is not on the server at " + src->Where() +
                                " (it has: " + (have.empty() ? "none" : have) + ")");
      }
      r.ok.push_back("start file " + options.start.file_pos.file + " is on the server");
    }
  }
  return r;
}

}  // namespace sluice::binlog
