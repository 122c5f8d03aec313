// What `sluice tail` and `sluice offsets` print, over a Consumer: records as
// the JSON lines of proto/record_json.h (with "offset" and "dest", as
// `sluice log dump` prints them), offsets as one JSON object.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "base/status.h"
#include "client/consumer.h"

namespace sluice {

struct TailOptions {
  std::string dest;
  // By offset: "earliest" (the first retained), "latest" (the high
  // watermark) or a decimal offset. Ignored with a group (it resumes).
  std::string from = "earliest";
  std::string group;            // "": read by offset; else Subscribe/Get/Ack as this group
  uint64_t count = UINT64_MAX;  // stop after this many records
  bool follow = false;          // false: stop at the high watermark read at start
  uint32_t wait_ms = 1000;      // long poll of --follow
};

// Checks TailOptions::from: "earliest", "latest" or a decimal offset.
Status ValidateTailFrom(const std::string& from);

// Prints records as JSON lines until the end the options say, flushing
// after each response. With a group each batch is acknowledged after it is
// printed (at-least-once: a batch cut off by a crash comes again). Returns
// Ok when `consumer` is interrupted (Consumer::Interrupt, from a signal).
Status Tail(Consumer& consumer, const TailOptions& options, std::ostream& out);

// Prints {"dest":"NAME","first_offset":F,"high_watermark":H}.
Status PrintOffsets(Consumer& consumer, const std::string& dest, std::ostream& out);

}  // namespace sluice
