// Fetch (API key 1, versions 4 to 11) and ListOffsets: the requests'
// decoders, and their answers built from the log. Fetch answers with each
// destination's records as one RecordBatch v2 per partition
// (record_batch.h). A record becomes:
//   value      the JSON line `sluice tail` prints, byte for byte (or, with
//              ValueFormat::kDebezium, a row change's Debezium envelope)
//   key        the JSON of its primary-key values ({"id":7}); null when the
//              record has none (DDL, schema, snapshot marks, keyless tables)
//   timestamp  the source time, in ms
//   headers    db, table, op, pos, and gtid when the source has one
// Size limits follow Kafka (KIP-74): a partition's records stop before its
// partition_max_bytes and the response's before max_bytes, except that the
// first partition with records returns at least one, so a consumer always
// makes progress.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "broker/consumer/service.h"
#include "broker/kafka/server.h"
#include "broker/kafka/wire.h"

namespace sluice::kafka {

// Kafka error codes of the partition-level answers.
enum PartitionError : int16_t {
  kOffsetOutOfRange = 1,
  kUnknownTopicOrPartition = 3,
  kLeaderNotAvailable = 5,
  kNotLeaderOrFollower = 6,
  kFencedLeaderEpoch = 74,
  kUnknownLeaderEpoch = 75,
};

struct FetchPartition {
  int32_t partition = 0;
  int32_t current_leader_epoch = -1;  // v9+; -1: not checked
  int64_t offset = 0;
  int32_t max_bytes = 0;
};

struct FetchTopic {
  std::string name;
  std::vector<FetchPartition> partitions;
};

struct FetchRequest {
  int32_t max_wait_ms = 0;
  int32_t min_bytes = 0;
  int32_t max_bytes = 0;
  std::vector<FetchTopic> topics;
};

// Reads a Fetch request body of `version` (4..11); false with r in error.
bool ParseFetch(Reader* r, int16_t version, FetchRequest* out);

// The partition's state and the error a request for it gets (0: none).
// `epoch` is the requester's current_leader_epoch (-1: unchecked).
int16_t CheckPartition(consumer::ConsumerService* service, bool primary, const std::string& topic,
                       int32_t partition, int32_t epoch,
                       consumer::ConsumerService::PartitionState* state);

// Is there anything for the request now (a partition whose high
// watermark is past its offset)? A parked Fetch's cheap retry test.
bool FetchHasRecords(consumer::ConsumerService* service, const FetchRequest& req);

struct FetchResult {
  uint64_t records = 0;
  uint64_t record_bytes = 0;
};

// Appends the response body (after the correlation id) for `version`.
FetchResult AppendFetchResponse(consumer::ConsumerService* service, bool primary,
                                const FetchRequest& req, int16_t version, uint32_t max_bytes_cap,
                                ValueFormat format, std::string* out);

// ListOffsets (API key 2, versions 0 to 5): decodes the request body from
// *r and appends the response body; false (r in error) when it does not
// decode. Earliest (-2), latest (-1), or the first offset whose source
// time is at or after a timestamp (-1 when none is, as Kafka answers).
bool AppendListOffsetsResponse(Reader* r, int16_t version, consumer::ConsumerService* service,
                               bool primary, std::string* out);

}  // namespace sluice::kafka
