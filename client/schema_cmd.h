// `sluice schema`: the versions of a destination's table shapes, from the
// schema records in its log (docs/formats.md "Schema records"), each with
// the offset where it starts. A version is a shape that differs from the
// table's previous one: the same shape recorded again (after a restart of
// sluiced the decoder records each table's shape once more) is not a new
// version.
//
// It reads the log from its first retained offset to the high watermark
// over a Consumer, so it costs one pass over the destination.
#pragma once

#include <ostream>
#include <string>

#include "base/status.h"
#include "client/consumer.h"

namespace sluice {

struct SchemaOptions {
  std::string dest;
  std::string table;  // "db.table"; "" lists every table
  bool json = false;  // one JSON line per version (the schema record's JSON form)
};

Status PrintSchemaVersions(Consumer& consumer, const SchemaOptions& options, std::ostream& out);

}  // namespace sluice
