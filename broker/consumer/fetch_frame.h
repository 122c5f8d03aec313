// A Fetch answer encoded straight from the log's records into one frame of
// the consumer protocol, without building a LogRecord message (and a heap
// copy) per record: the network server's hot path. The bytes are what
// protobuf's own serializer writes for the same
// Response{id, fetch: FetchResponse{records, next_offset, high_watermark}}
// (tests/broker/consumer/fetch_frame_test.cc compares them).
#pragma once

#include <cstdint>
#include <string>

#include "storage/commit_log.h"

namespace sluice::consumer {

// Appends the frame (4-byte length, then the Response) to *out.
void AppendFetchFrame(uint64_t request_id, const RecordSet& set, std::string* out);

}  // namespace sluice::consumer
