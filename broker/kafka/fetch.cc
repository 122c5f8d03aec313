#include "broker/kafka/fetch.h"

#include <algorithm>
#include <optional>

#include "broker/kafka/debezium.h"
#include "broker/kafka/record_batch.h"
#include "proto/record.pb.h"
#include "proto/record_json.h"

namespace sluice::kafka {
namespace {

// Records read from the log per read, at most; and the stored bytes of one
// read (a slice of a partition's answer).
constexpr uint32_t kMaxRecordsPerRead = 100000;
constexpr size_t kReadSlice = 256 << 10;

// Turns log records into Kafka records of one batch, reusing its buffers.
class RecordMapper {
 public:
  RecordMapper(std::string_view dest, ValueFormat format) : dest_(dest), format_(format) {}

  // Adds the record at `offset` if the batch stays within `budget` bytes,
  // or, with `oversize_ok`, if it is the batch's first; false when it does
  // not fit (nothing added).
  bool Add(uint64_t offset, std::string_view data, size_t budget, bool oversize_ok,
           BatchBuilder* batch) {
    value_.clear();
    key_.clear();
    // A row change in the sluice format is rendered from its bytes (a
    // third of the cost of a Fetch was building the message); the rest
    // from the message, parsed into again and again.
    if (format_ == ValueFormat::kSluice && view_.Parse(data)) {
      AppendRecordJson(view_, JsonContext{offset, dest_}, &value_);
      return Place(view_, AppendKeyJson(view_, &key_), budget, oversize_ok, batch);
    }
    proto::ChangeRecord& rec = rec_;
    if (!rec.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
      // Never happens for a log sluice wrote; say so in the value rather
      // than hide the offset.
      rec.Clear();
      rec.set_op(proto::OP_ERROR);
      rec.mutable_error()->set_reason("the log's record at this offset does not parse");
    }
    if (format_ != ValueFormat::kDebezium || !AppendDebeziumValue(rec, dest_, &value_)) {
      AppendRecordJson(rec, JsonContext{offset, dest_}, &value_);
    }
    return Place(rec, AppendKeyJson(rec, &key_), budget, oversize_ok, batch);
  }

 private:
  // Adds value_ (and key_ when `has_key`) with the record's timestamp and
  // headers, if the batch has room.
  template <typename Record>
  bool Place(const Record& rec, bool has_key, size_t budget, bool oversize_ok,
             BatchBuilder* batch) {
    pos_ = rec.pos().file();
    pos_ += ':';
    pos_ += std::to_string(rec.pos().pos());
    Header headers[5] = {{"db", rec.db()},
                         {"table", rec.table()},
                         {"op", OpName(rec.op())},
                         {"pos", pos_},
                         {"gtid", rec.gtid()}};
    const size_t nheaders = rec.gtid().empty() ? 4 : 5;
    const int64_t ts_ms = static_cast<int64_t>(rec.ts()) * 1000;
    std::optional<std::string_view> key;
    if (has_key) key = key_;
    const size_t need =
        batch->NextRecordSize(ts_ms, has_key ? std::optional<size_t>(key_.size()) : std::nullopt,
                              value_.size(), headers, nheaders);
    if (batch->size() + need > budget && !(oversize_ok && batch->count() == 0)) return false;
    batch->Add(ts_ms, key, value_, headers, nheaders);
    return true;
  }

  std::string_view dest_;
  const ValueFormat format_;
  std::string value_, key_, pos_;
  RecordView view_;
  proto::ChangeRecord rec_;
};

// The first offset whose source time (seconds, shown in ms) is at or
// after `ms`: -1 (and timestamp -1) when none is, as Kafka answers.
int16_t OffsetForTime(consumer::ConsumerService* service, const std::string& dest, int64_t ms,
                      int64_t* offset, int64_t* timestamp) {
  proto::ListOffsetsRequest req;
  req.set_dest(dest);
  // Rounded up without `ms + 999`, which overflows for a client's huge ms.
  const int64_t seconds = ms / 1000 + (ms % 1000 > 0 ? 1 : 0);
  req.set_timestamp(static_cast<uint64_t>(std::max<int64_t>(seconds, 1)));
  proto::ListOffsetsResponse res;
  if (service->ListOffsets(req, &res).code() != proto::OK) return kUnknownTopicOrPartition;
  if (res.timestamp_offset() >= res.high_watermark()) return 0;
  *offset = static_cast<int64_t>(res.timestamp_offset());
  proto::FetchRequest f;
  f.set_dest(dest);
  f.set_offset(res.timestamp_offset());
  f.set_max_records(1);
  RecordSet set;
  proto::ChangeRecord rec;
  if (service->FetchRecords(f, &set).code() == proto::OK && !set.records.empty() &&
      rec.ParseFromArray(set.records[0].data.data(),
                         static_cast<int>(set.records[0].data.size()))) {
    *timestamp = static_cast<int64_t>(rec.ts()) * 1000;
  }
  return 0;
}

}  // namespace

bool ParseFetch(Reader* r, int16_t version, FetchRequest* out) {
  r->Int32();  // replica_id: -1 for consumers
  out->max_wait_ms = r->Int32();
  out->min_bytes = r->Int32();
  out->max_bytes = r->Int32();  // v3+
  r->Int8();                    // isolation_level (v4+): every record is committed
  if (version >= 7) {
    r->Int32();  // session_id: sluice keeps no fetch sessions (KIP-227),
    r->Int32();  // so every Fetch is a full one, as session_epoch -1 asks
  }
  const int32_t ntopics = r->ArrayCount(2 + 4, "Fetch topics");
  for (int32_t t = 0; t < ntopics && r->ok(); ++t) {
    FetchTopic topic;
    topic.name = std::string(r->String("a topic name"));
    const int32_t nparts = r->ArrayCount(4 + 8 + 4, "Fetch partitions");
    for (int32_t i = 0; i < nparts && r->ok(); ++i) {
      FetchPartition p;
      p.partition = r->Int32();
      if (version >= 9) p.current_leader_epoch = r->Int32();
      p.offset = r->Int64();
      if (version >= 5) r->Int64();  // log_start_offset: a follower's
      p.max_bytes = r->Int32();
      topic.partitions.push_back(p);
    }
    out->topics.push_back(std::move(topic));
  }
  if (version >= 7) {
    const int32_t nforgotten = r->ArrayCount(2 + 4, "Fetch forgotten_topics_data");
    for (int32_t t = 0; t < nforgotten && r->ok(); ++t) {
      r->String("a forgotten topic");
      const int32_t n = r->ArrayCount(4, "forgotten partitions");
      for (int32_t i = 0; i < n && r->ok(); ++i) r->Int32();
    }
  }
  if (version >= 11) r->String("rack_id");
  return r->ok();
}

int16_t CheckPartition(consumer::ConsumerService* service, bool primary, const std::string& topic,
                       int32_t partition, int32_t epoch,
                       consumer::ConsumerService::PartitionState* state) {
  *state = {};
  if (partition != 0 || service->Partition(topic, state).code() != proto::OK) {
    return kUnknownTopicOrPartition;
  }
  if (!primary) return kNotLeaderOrFollower;
  if (epoch >= 0) {
    if (static_cast<uint64_t>(epoch) < state->epoch) return kFencedLeaderEpoch;
    if (static_cast<uint64_t>(epoch) > state->epoch) return kUnknownLeaderEpoch;
  }
  return 0;
}

bool FetchHasRecords(consumer::ConsumerService* service, const FetchRequest& req) {
  for (const auto& t : req.topics) {
    for (const auto& p : t.partitions) {
      consumer::ConsumerService::PartitionState st;
      if (p.partition != 0 || service->Partition(t.name, &st).code() != proto::OK) return true;
      if (st.high_watermark > static_cast<uint64_t>(std::max<int64_t>(p.offset, 0))) return true;
    }
  }
  return false;
}

FetchResult AppendFetchResponse(consumer::ConsumerService* service, bool primary,
                                const FetchRequest& req, int16_t version, uint32_t max_bytes_cap,
                                ValueFormat format, std::string* out) {
  FetchResult result;
  Writer w(out);
  w.Int32(0);  // throttle_time_ms
  if (version >= 7) {
    w.Int16(0);  // error_code
    w.Int32(0);  // session_id: no session
  }
  size_t budget = std::min<size_t>(max_bytes_cap, static_cast<size_t>(std::max(req.max_bytes, 1)));
  bool first_records = true;
  w.ArrayCount(req.topics.size());
  for (const auto& t : req.topics) {
    w.String(t.name);
    w.ArrayCount(t.partitions.size());
    for (const auto& p : t.partitions) {
      consumer::ConsumerService::PartitionState st;
      int16_t error =
          CheckPartition(service, primary, t.name, p.partition, p.current_leader_epoch, &st);
      if (error == 0 && (p.offset < static_cast<int64_t>(st.first_offset) ||
                         p.offset > static_cast<int64_t>(st.high_watermark))) {
        error = kOffsetOutOfRange;
      }
      const bool known = error == 0 || error == kOffsetOutOfRange || error == kFencedLeaderEpoch ||
                         error == kUnknownLeaderEpoch;
      w.Int32(p.partition);
      w.Int16(error);
      w.Int64(known ? static_cast<int64_t>(st.high_watermark) : -1);
      w.Int64(known ? static_cast<int64_t>(st.high_watermark) : -1);  // last_stable_offset
      if (version >= 5) w.Int64(known ? static_cast<int64_t>(st.first_offset) : -1);
      w.ArrayCount(0);                 // aborted_transactions: none, every record is committed
      if (version >= 11) w.Int32(-1);  // preferred_read_replica: the leader
      const size_t len_at = w.Reserve32();
      const size_t start = out->size();
      const size_t limit = std::min<size_t>(budget, static_cast<size_t>(std::max(p.max_bytes, 0)));
      if (error == 0 && p.offset < static_cast<int64_t>(st.high_watermark) &&
          (limit > BatchBuilder::kHeaderBytes || first_records)) {
        // The log is read in slices as the batch fills: a value (JSON) is
        // about twice its stored record, so one read of `limit` stored
        // bytes would read and decompress twice what goes out.
        BatchBuilder batch(out, p.offset, static_cast<int32_t>(st.epoch));
        RecordMapper mapper(t.name, format);
        uint64_t next = static_cast<uint64_t>(p.offset);
        for (bool more = true; more && next < st.high_watermark;) {
          proto::FetchRequest f;
          f.set_dest(t.name);
          f.set_offset(next);
          f.set_max_records(kMaxRecordsPerRead);
          f.set_max_bytes(static_cast<uint32_t>(std::clamp<size_t>(limit / 2, 1, kReadSlice)));
          RecordSet set;
          if (service->FetchRecords(f, &set).code() != proto::OK || set.records.empty()) break;
          for (const auto& rec : set.records) {
            // Offsets are dense; a gap would misplace every later record.
            if (rec.offset.value() != next ||
                !mapper.Add(next, rec.data, limit, first_records, &batch)) {
              more = false;
              break;
            }
            ++next;
          }
        }
        if (batch.count() == 0) {
          out->resize(start);
        } else {
          batch.Finish();
          result.records += batch.count();
          first_records = false;
        }
      }
      const size_t bytes = out->size() - start;
      w.Patch32(len_at, static_cast<uint32_t>(bytes));
      result.record_bytes += bytes;
      budget -= std::min(budget, bytes);
    }
  }
  return result;
}

bool AppendListOffsetsResponse(Reader* r, int16_t version, consumer::ConsumerService* service,
                               bool primary, std::string* out) {
  r->Int32();                   // replica_id
  if (version >= 2) r->Int8();  // isolation_level
  struct Part {
    int32_t partition, epoch;
    int64_t timestamp;
  };
  std::vector<std::pair<std::string, std::vector<Part>>> topics;
  const int32_t nt = r->ArrayCount(2 + 4, "ListOffsets topics");
  for (int32_t t = 0; t < nt && r->ok(); ++t) {
    auto& topic = topics.emplace_back(std::string(r->String("a topic name")), std::vector<Part>{});
    const int32_t np = r->ArrayCount(4 + 8, "ListOffsets partitions");
    for (int32_t i = 0; i < np && r->ok(); ++i) {
      Part p{r->Int32(), -1, 0};
      if (version >= 4) p.epoch = r->Int32();
      p.timestamp = r->Int64();
      if (version == 0) r->Int32();  // max_num_offsets
      topic.second.push_back(p);
    }
  }
  if (!r->ok()) return false;
  Writer w(out);
  if (version >= 2) w.Int32(0);
  w.ArrayCount(topics.size());
  for (const auto& [name, parts] : topics) {
    w.String(name);
    w.ArrayCount(parts.size());
    for (const auto& p : parts) {
      consumer::ConsumerService::PartitionState st;
      int16_t error = CheckPartition(service, primary, name, p.partition, p.epoch, &st);
      int64_t offset = -1, timestamp = -1;
      if (error == 0) {
        if (p.timestamp == -1) {
          offset = static_cast<int64_t>(st.high_watermark);  // latest
        } else if (p.timestamp == -2) {
          offset = static_cast<int64_t>(st.first_offset);  // earliest
        } else {
          error = OffsetForTime(service, name, p.timestamp, &offset, &timestamp);
        }
      }
      w.Int32(p.partition);
      w.Int16(error);
      if (version == 0) {
        w.ArrayCount(offset >= 0 ? 1 : 0);
        if (offset >= 0) w.Int64(offset);
      } else {
        w.Int64(timestamp);
        w.Int64(offset);
        if (version >= 4) w.Int32(error == 0 ? static_cast<int32_t>(st.epoch) : -1);
      }
    }
  }
  return true;
}

}  // namespace sluice::kafka
