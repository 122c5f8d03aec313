#include "client/tail.h"

#include <algorithm>
#include <charconv>

#include "proto/record.pb.h"
#include "proto/record_json.h"

namespace sluice {
namespace {

constexpr uint32_t kMaxRecordsPerFetch = 1000;
constexpr uint32_t kBatchSize = 500;
// Without --follow a group reads what is there: a Get that finds nothing
// within this long means the group is caught up.
constexpr uint32_t kCatchUpGetMs = 100;

// Prints `records` (at most `max`) as JSON lines; returns how many.
Result<uint64_t> Print(const google::protobuf::RepeatedPtrField<proto::LogRecord>& records,
                       uint64_t max, const std::string& dest, std::ostream& out) {
  StoredRecordJson json;
  std::string line;
  uint64_t n = 0;
  for (const auto& r : records) {
    if (n == max) break;
    line.clear();
    if (!json.Append(r.record(), JsonContext{r.offset(), dest}, &line)) {
      return Status::Corruption("record at offset " + std::to_string(r.offset()) + " of " + dest +
                                " is not a ChangeRecord");
    }
    line.push_back('\n');
    out << line;
    ++n;
  }
  out.flush();
  return n;
}

// A failed call: Ok when it failed because the user stopped us.
Status Failed(const Consumer& c, const Status& st, const std::string& what) {
  return c.interrupted() ? Status::Ok() : st.WithContext(what);
}

Status TailByOffset(Consumer& c, const TailOptions& o, std::ostream& out) {
  auto range = c.ListOffsets(o.dest);
  if (!range.ok()) return Failed(c, range.status(), "reading the offsets of " + o.dest);
  const uint64_t first = range->first_offset(), stop = range->high_watermark();
  uint64_t at = 0;
  if (o.from == "earliest") {
    at = first;
  } else if (o.from == "latest") {
    at = stop;
  } else {
    std::from_chars(o.from.data(), o.from.data() + o.from.size(), at);
    if (at < first || at > stop) {
      return Status::OutOfRange("offset " + o.from + " is outside what " + o.dest + " holds: [" +
                                std::to_string(first) + ", " + std::to_string(stop) + "]");
    }
  }
  uint64_t left = o.count;
  while (left > 0 && (o.follow || at < stop) && !c.interrupted()) {
    uint64_t max = std::min<uint64_t>(left, kMaxRecordsPerFetch);
    if (!o.follow) max = std::min(max, stop - at);
    auto got =
        c.Fetch(o.dest, Offset(at),
                {.max_records = static_cast<uint32_t>(max), .wait_ms = o.follow ? o.wait_ms : 0});
    if (!got.ok()) {
      return Failed(c, got.status(), "fetching " + o.dest + " from offset " + std::to_string(at));
    }
    SLUICE_ASSIGN_OR_RETURN(uint64_t n, Print(got->records(), left, o.dest, out));
    left -= n;
    if (!o.follow && n == 0) {
      return Status::Internal("the broker returned no record at offset " + std::to_string(at) +
                              ", below the high watermark " + std::to_string(stop));
    }
    at = got->next_offset();
  }
  return Status::Ok();
}

Status TailGroup(Consumer& c, const TailOptions& o, std::ostream& out) {
  const std::string what = "group " + o.group + " of " + o.dest;
  auto sub = c.Subscribe(o.dest, o.group, "");
  if (!sub.ok()) return Failed(c, sub.status(), "subscribing " + what);
  uint64_t stop = UINT64_MAX;
  if (!o.follow) {
    auto range = c.ListOffsets(o.dest);
    if (!range.ok()) return Failed(c, range.status(), "reading the offsets of " + o.dest);
    stop = range->high_watermark();
  }
  uint64_t left = o.count;
  while (left > 0 && !c.interrupted()) {
    const auto size = static_cast<uint32_t>(std::min<uint64_t>(left, kBatchSize));
    auto batch = c.Get(o.dest, o.group, size, o.follow ? o.wait_ms : kCatchUpGetMs);
    if (!batch.ok()) return Failed(c, batch.status(), "getting a batch of " + what);
    if (batch->batch_id() == 0) {
      if (!o.follow) break;
      continue;
    }
    SLUICE_ASSIGN_OR_RETURN(uint64_t n, Print(batch->records(), left, o.dest, out));
    left -= n;
    auto acked = c.Ack(o.dest, o.group, batch->batch_id());
    if (!acked.ok() && c.last_error().code() != proto::UNKNOWN_BATCH) {
      return Failed(c, acked.status(),
                    "acknowledging batch " + std::to_string(batch->batch_id()) + " of " + what);
    }
    // UNKNOWN_BATCH: the connection was lost after the Get; the Consumer
    // rolled the batch back and the next Get brings its records again.
    if (batch->end_offset() >= stop) break;
  }
  return Status::Ok();
}

}  // namespace

Status ValidateTailFrom(const std::string& from) {
  if (from == "earliest" || from == "latest") return Status::Ok();
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(from.data(), from.data() + from.size(), v);
  if (from.empty() || ec != std::errc() || end != from.data() + from.size()) {
    return Status::InvalidArgument("--from must be earliest, latest or an offset, not \"" + from +
                                   "\"");
  }
  return Status::Ok();
}

Status Tail(Consumer& consumer, const TailOptions& options, std::ostream& out) {
  SLUICE_RETURN_IF_ERROR(ValidateTailFrom(options.from));
  return options.group.empty() ? TailByOffset(consumer, options, out)
                               : TailGroup(consumer, options, out);
}

Status PrintOffsets(Consumer& consumer, const std::string& dest, std::ostream& out) {
  auto range = consumer.ListOffsets(dest);
  if (!range.ok()) return range.status().WithContext("reading the offsets of " + dest);
  std::string line = "{\"dest\":";
  AppendJsonString(dest, &line);
  line += ",\"first_offset\":" + std::to_string(range->first_offset()) +
          ",\"high_watermark\":" + std::to_string(range->high_watermark()) + "}\n";
  out << line;
  out.flush();
  return Status::Ok();
}

}  // namespace sluice
