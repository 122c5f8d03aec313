// Opens a destination's binlog source from its config:
//   source = "mysql://user:password@host:port[,host:port...][?ssl-mode=...]"
//                                                               (MysqlSource)
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

struct st_mysql;

namespace sluice::binlog {

struct SourceSpec {
  std::string url;
  std::string start = "earliest";
  uint32_t server_id = 0;  // mysql:// only; non-zero, unique among the server's replicas
  // mysql:// only: refuse a server that does not log FULL row metadata
  // (MysqlSourceOptions::require_full_metadata).
  bool require_full_metadata = false;
  // mysql:// only: MysqlSourceOptions::learn_gtid_state.
  bool learn_gtid_state = true;
};

// InvalidArgument naming the field when the spec is malformed; the source's
// own errors (unreachable server, missing files) otherwise.
Result<std::unique_ptr<BinlogSource>> OpenBinlogSource(const SourceSpec& spec);

// Measures how far a position is behind the end of a source's binlog, for
// the lag metric. A mysql:// probe keeps its own connection beside the dump
// (SHOW BINARY LOGS needs BINLOG MONITOR on MariaDB, REPLICATION CLIENT on
// MySQL) and reconnects after an error; a file:// probe sizes the files.
// Thread safety: one thread at a time; independent of the source.
class SourceEndProbe {
 public:
  explicit SourceEndProbe(SourceSpec spec);
  ~SourceEndProbe();
  SourceEndProbe(const SourceEndProbe&) = delete;
  SourceEndProbe& operator=(const SourceEndProbe&) = delete;

  Result<uint64_t> BytesBehind(std::string_view file, uint64_t pos);
  // Measures on `server` ("host:port", one of the source URL's hosts: the
  // one ingest reads) from now on; "" or an unknown one means the first.
  void UseServer(const std::string& server);

 private:
  Result<std::vector<BinlogFileSize>> List();

  const SourceSpec spec_;
  std::string server_;  // "host:port" to measure on; "" for the URL's first host
  ::st_mysql* conn_ = nullptr;
};

}  // namespace sluice::binlog
