// Opens a destination's binlog source from its config:
//   source = "mysql://user:password@host:port[?ssl-mode=...]"  (MysqlSource)
//          | "file:///dir/of/binlogs"                         (FileSource, following
//                                                               the files as they grow)
//   start  = "earliest" | "latest" | "FILE:POS" | a GTID set (mysql:// only)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "broker/binlog/binlog_source.h"

namespace sluice::binlog {

struct SourceSpec {
  std::string url;
  std::string start = "earliest";
  uint32_t server_id = 0;  // mysql:// only; non-zero, unique among the server's replicas
};

// InvalidArgument naming the field when the spec is malformed; the source's
// own errors (unreachable server, missing files) otherwise.
Result<std::unique_ptr<BinlogSource>> OpenBinlogSource(const SourceSpec& spec);

}  // namespace sluice::binlog
