// XA transaction ids as the binlog carries them, in one normal form so
// that the XA PREPARE of a transaction and its later XA COMMIT / XA
// ROLLBACK (a group of their own, maybe hours later) can be matched:
//   "<formatID>:<gtrid hex>:<bqual hex>" (lower-case hex), e.g. "1:7831:".
//
// Where they come from (MySQL sql/xa.cc XID::serialize, MariaDB the same):
//   XA_PREPARE_LOG_EVENT body: one_phase (1), formatID (4 LE),
//     gtrid_length (4 LE), bqual_length (4 LE), gtrid, bqual.
//   Query events: "XA COMMIT X'7831',X'',1" and "XA ROLLBACK ..." (the
//     server logs the serialized form whatever the client typed);
//     "XA COMMIT ... ONE PHASE" commits the open transaction itself.
//
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace sluice::binlog {

struct XaPrepare {
  bool one_phase = false;
  std::string xid;
};

// Parses an XA_PREPARE_LOG_EVENT body (without header and checksum).
Result<XaPrepare> ParseXaPrepare(std::string_view body);

enum class XaStatement { kNone, kStart, kEnd, kPrepare, kCommit, kCommitOnePhase, kRollback };

// What an "XA ..." statement is, and its xid (normal form) when it names
// one the way servers log it; kNone for any other statement.
XaStatement ClassifyXa(std::string_view sql, std::string* xid);

}  // namespace sluice::binlog
