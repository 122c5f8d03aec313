// RocksDB's info log (its LOG file) written by us (private to storage/).
//
// RocksDB's own file logger goes through a WritableFileWriter, which in
// Debian's build (assertions on) aborts on the first line logged after a
// failed write: a full disk killed the process from inside a log line.
// This one writes each line with write(2) and drops it when the disk is
// full. Thread-safe.
#pragma once

#include <memory>
#include <string>

namespace rocksdb {
class Logger;
}

namespace sluice {

// The logger for the RocksDB in `dir`: appends to dir/LOG (moved to
// dir/LOG.old first when it grew past 16 MiB); `read_only` logs nothing and
// writes nothing (an inspection must not touch the directory).
std::shared_ptr<rocksdb::Logger> NewRocksLogger(const std::string& dir, bool read_only);

}  // namespace sluice
