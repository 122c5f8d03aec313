// A source of raw binlog events: a directory or list of binlog files, or a
// replication connection to a MySQL/MariaDB server. Both hand over each
// event's bytes exactly as the server wrote them (19-byte header, body, and
// the 4-byte CRC32 when the format uses checksums); the decoder turns them
// into records.
//
// Thread safety: a source is used by one thread (the fetch thread).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sluice::binlog {

// A position in the source's binlog: a file name and a byte offset in it.
struct BinlogPosition {
  std::string file;  // "binlog.000001"; empty means "the first file"
  uint64_t pos = 4;  // 4 is the first event of a file (after the magic)

  std::string ToString() const { return file + ":" + std::to_string(pos); }
  friend bool operator==(const BinlogPosition&, const BinlogPosition&) = default;
};

// A binlog file of the source and its size in bytes.
struct BinlogFileSize {
  std::string name;
  uint64_t size = 0;
};

// Bytes from `file`:`pos` to the end of the last of `files` (which are in
// order): how far that position is behind the source. NotFound when `file`
// is not among them (purged, or another server's).
Result<uint64_t> BytesBehind(const std::vector<BinlogFileSize>& files, std::string_view file,
                             uint64_t pos);

// One event as it came from the source. `bytes` is borrowed: it stays valid
// until the next call to Next() or the source is destroyed.
struct RawEvent {
  std::string_view bytes;  // header + body (+ CRC32)
  std::string_view file;   // the binlog file the event is in
  uint64_t pos = 0;        // byte offset of the event's first byte in `file`
};

class BinlogSource {
 public:
  virtual ~BinlogSource() = default;

  // Reads the next event into *event. Returns NotFound at the end of the
  // input for sources that have an end (files), TimedOut when a live source
  // had nothing to say within its wait, or an error that says what to do.
  virtual Status Next(RawEvent* event) = 0;

  // Where the next event will come from.
  virtual BinlogPosition position() const = 0;

  // Makes a Next() blocked in another thread return soon (with an error).
  // Any thread may call it; sources whose waits are short need not act.
  virtual void Cancel() {}

  // What the source found that a person should know but that does not stop
  // it (binlog_row_image not FULL: before images lack columns; no table-map
  // metadata: names come from the schema). Empty for most sources.
  virtual std::vector<std::string> warnings() const { return {}; }

  // The server's whole GTID state at the position this source began
  // reading: what a replica that had executed everything before it would
  // hold (MariaDB: a @@gtid_slave_pos-style domain list; MySQL: a GTID
  // set). "" when the server has no GTIDs; nullopt when the source cannot
  // tell (files, or a server that would not say).
  virtual std::optional<std::string> start_gtid_state() const { return std::nullopt; }

  // "host:port" of the server being read; "" for files.
  virtual std::string server() const { return ""; }
};

}  // namespace sluice::binlog
