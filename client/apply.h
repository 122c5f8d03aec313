// `sluice apply`: replays a destination into a MySQL/MariaDB target,
// exactly once (docs/apply.md).
//
//   ApplyOptions o;  o.dest = "shop";  o.target = ParseTargetUrl(url).value();
//   Status st = RunApply(consumer, o, std::cerr);   // until interrupted or an error
//
// The position lives in the target: table sluice_apply.offsets, one row per
// (dest, group), holding the next log offset to apply. Every target
// transaction that applies records also writes that row, so the data and
// the position commit together. On start (and after any lost target
// connection) apply reads the row, rolls the group back to its last ack and
// skips every delivered record below the stored offset. Acks go to the
// group after the target commit; they only bound redelivery and retention.
//
// Source transactions are applied whole: a target transaction ends only at
// a record with txn.last, and holds one or more source transactions (up to
// txn_rows row changes or flush_ms of work; idle, it commits within about
// flush_ms). A DDL record is committed on its own, with a "DDL pending"
// marker stored before it runs (see docs/apply.md, "The DDL crash window").
//
// Stops with an error (naming the offset and source position) on: an
// `error` record, a row without column names, a target error that is not
// a lost connection, a change that matches no row, a gap in the offsets.
// Returns Ok when the Consumer is interrupted (SIGINT/SIGTERM).
//
// Thread safety: runs on the calling thread, which owns the Consumer; the
// statements of a run execute on a helper thread while the calling thread
// parses the next records (one run at a time on the target connection).
#pragma once

#include <map>
#include <ostream>
#include <string>

#include "base/status.h"
#include "client/apply_sql.h"
#include "client/consumer.h"
#include "client/mysql_target.h"

namespace sluice::apply {

struct ApplyOptions {
  std::string dest;
  std::string group = "sluice-apply";
  TargetOptions target;
  std::string include;                        // regex over "db.table"; "" applies everything
  std::map<std::string, std::string> rename;  // source db -> target db
  uint32_t get_batch = 5000;                  // records asked for per Get
  size_t txn_rows = 20000;  // commit at the next source-transaction end past this many rows
  int flush_ms = 100;       // or past this long since the first uncommitted change
  RowRun::Limits run;       // rows per statement execution
  int reconnect_backoff_max_ms = 5000;
  int reconnect_for_ms = 600000;  // give up on a target that stays away this long

  Status Validate() const;
};

// Parses "SRC=DST" into *rename (InvalidArgument when malformed).
Status AddRename(const std::string& spec, std::map<std::string, std::string>* rename);

Status RunApply(Consumer& consumer, const ApplyOptions& options, std::ostream& log);

}  // namespace sluice::apply
