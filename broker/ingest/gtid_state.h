// The executed GTID set of a stream, kept by the ingest sink and written
// with each checkpoint, so ingest can resume by GTID (after the source
// itself failed over) as well as by file:pos.
//
//   MariaDB: one "domain-server-seq" per domain, the latest seen:
//            "0-1-17,1-2-9" (@@gtid_slave_pos form)
//   MySQL:   "uuid:1-5:7-9,uuid2:1-3" (a GTID set, intervals merged)
//
// Thread safety: one thread (the sink) owns a GtidState.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace sluice::ingest {

class GtidState {
 public:
  // Parses a set in either form (as Add() produced it); "" is empty.
  static Result<GtidState> Parse(std::string_view text);

  // Adds one transaction's GTID: "0-1-17" or "uuid:17". "" is ignored.
  Status Add(std::string_view gtid);

  std::string ToString() const;
  bool empty() const { return maria_.empty() && mysql_.empty(); }

 private:
  // MariaDB: domain -> (server, seq) of the last transaction.
  std::map<uint32_t, std::pair<uint32_t, uint64_t>> maria_;
  // MySQL: uuid -> sorted, disjoint, non-adjacent closed intervals.
  std::map<std::string, std::vector<std::pair<uint64_t, uint64_t>>> mysql_;
};

}  // namespace sluice::ingest
