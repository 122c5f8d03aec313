// The executed GTID set of a stream, kept by the ingest sink and written
// with each checkpoint, so ingest can resume by GTID (after the source
// itself failed over) as well as by file:pos.
//
//   MariaDB: one "domain-server-seq" per domain, the latest seen:
//            "0-1-17,1-2-9" (@@gtid_slave_pos form)
//   MySQL:   "uuid:1-5:7-9,uuid2:1-3" (a GTID set, intervals merged);
//            UUIDs and tags in lower case, a tagged GTID's intervals as
//            their own item "uuid:tag:1-3" (MySQL 8.4 reads that form too)
//
// MissingFrom() is the check a source failover makes before reading from
// another server: does that server have every transaction we stored?
//
// Thread safety: one thread owns a GtidState; MissingFrom() is const.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace sluice::binlog {

class GtidState {
 public:
  // Parses a set in either form (as Add() produced it); "" is empty.
  static Result<GtidState> Parse(std::string_view text);

  // Adds one transaction's GTID: "0-1-17" or "uuid:17". "" is ignored.
  Status Add(std::string_view gtid);

  std::string ToString() const;
  bool empty() const { return maria_.empty() && mysql_.empty(); }
  bool is_mariadb() const { return !maria_.empty(); }

  // The transactions of this state that a server lacks, as a sentence for
  // an error message; "" when the server has them all.
  //   MariaDB: `server_state` is the server's @@gtid_binlog_state (the last
  //     sequence number of every domain-server pair in its binlog). Our
  //     d-s-n is there when the server has d-s-m with m >= n. Otherwise the
  //     server is behind (its domain d ends below n) or has diverged (its
  //     domain d went past n without our d-s-n).
  //   MySQL: `server_state` is the server's @@gtid_executed; what we have
  //     and it lacks is named as a GTID set.
  //   `server_position`, MariaDB only (may be ""): the server's
  //     @@gtid_slave_pos; a GTID equal to its entry for the domain counts
  //     as had (MariaDB serves a dump from its own replication position).
  // InvalidArgument when `server_state` does not parse.
  Result<std::string> MissingFrom(std::string_view server_state,
                                  std::string_view server_position = "") const;

 private:
  // MariaDB: domain -> (server, seq) of the last transaction.
  std::map<uint32_t, std::pair<uint32_t, uint64_t>> maria_;
  // MySQL: uuid -> sorted, disjoint, non-adjacent closed intervals.
  std::map<std::string, std::vector<std::pair<uint64_t, uint64_t>>> mysql_;
};

}  // namespace sluice::binlog
