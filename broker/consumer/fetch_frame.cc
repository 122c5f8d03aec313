#include "broker/consumer/fetch_frame.h"

#include <cstring>

#include "base/coding.h"

namespace sluice::consumer {
namespace {

// Field numbers of proto/protocol.proto.
constexpr uint32_t kResponseId = 1, kResponseFetch = 12;
constexpr uint32_t kFetchRecords = 1, kFetchNextOffset = 2, kFetchHighWatermark = 3;
constexpr uint32_t kRecordOffset = 1, kRecordBytes = 2;
constexpr uint32_t kVarint = 0, kLen = 2;

using coding::VarintLength;
constexpr auto PutVarint = coding::EncodeVarint64;

char* PutTag(char* p, uint32_t field, uint32_t wire) { return PutVarint(p, (field << 3) | wire); }

// proto3 leaves zero scalars out.
size_t VarintFieldSize(uint64_t v) { return v == 0 ? 0 : 1 + VarintLength(v); }

char* PutVarintField(char* p, uint32_t field, uint64_t v) {
  if (v == 0) return p;
  return PutVarint(PutTag(p, field, kVarint), v);
}

size_t RecordSize(const LogRecord& r) {
  const size_t n = r.data.size();
  return VarintFieldSize(r.offset.value()) + (n == 0 ? 0 : 1 + VarintLength(n) + n);
}

}  // namespace

void AppendFetchFrame(uint64_t request_id, const RecordSet& set, std::string* out) {
  size_t fetch =
      VarintFieldSize(set.next_offset.value()) + VarintFieldSize(set.high_watermark.value());
  for (const LogRecord& r : set.records) {
    const size_t n = RecordSize(r);
    fetch += 1 + VarintLength(n) + n;
  }
  // The fetch field is present even when empty: the body says "fetch".
  const size_t response = VarintFieldSize(request_id) + 1 + VarintLength(fetch) + fetch;
  const size_t at = out->size();
  out->resize(at + 4 + response);
  char* p = out->data() + at;
  p[0] = static_cast<char>(response >> 24);
  p[1] = static_cast<char>(response >> 16);
  p[2] = static_cast<char>(response >> 8);
  p[3] = static_cast<char>(response);
  p += 4;
  p = PutVarintField(p, kResponseId, request_id);
  p = PutVarint(PutTag(p, kResponseFetch, kLen), fetch);
  for (const LogRecord& r : set.records) {
    p = PutVarint(PutTag(p, kFetchRecords, kLen), RecordSize(r));
    p = PutVarintField(p, kRecordOffset, r.offset.value());
    if (!r.data.empty()) {
      p = PutVarint(PutTag(p, kRecordBytes, kLen), r.data.size());
      std::memcpy(p, r.data.data(), r.data.size());
      p += r.data.size();
    }
  }
  p = PutVarintField(p, kFetchNextOffset, set.next_offset.value());
  PutVarintField(p, kFetchHighWatermark, set.high_watermark.value());
}

}  // namespace sluice::consumer
