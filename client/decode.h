// `sluice decode`: binlog files to the records' JSON lines (docs/formats.md), offline.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "base/status.h"

namespace sluice {

struct DecodeOptions {
  std::vector<std::string> files;
  std::string from;          // "POS" (in the first file) or "FILE:POS"; "" = start
  bool column_names = true;  // --column-keys=names | positions
  bool stats = false;        // counts per event type and table to `err`
};

// Prints one JSON line per row change and DDL, in binlog order. On a corrupt
// event it prints every record before it, and returns the error (naming the
// file and offset). Records of a transaction cut off by the end of the input
// are printed with "last":false.
Status DecodeBinlogFiles(const DecodeOptions& options, std::ostream& out, std::ostream& err);

}  // namespace sluice
