#include "broker/kafka/record_batch.h"

#include <algorithm>

#include "base/crc32c.h"
#include "broker/kafka/wire.h"

namespace sluice::kafka {
namespace {

// Offsets of the header's fields from the batch's start.
constexpr size_t kLengthAt = 8;  // int32: bytes after this field
constexpr size_t kCrcAt = 17;    // uint32: CRC-32C of [kAttributesAt, end)
constexpr size_t kAttributesAt = 21;
constexpr size_t kLastDeltaAt = 23;  // int32
constexpr size_t kFirstTsAt = 27;    // int64
constexpr size_t kMaxTsAt = 35;      // int64
constexpr size_t kCountAt = 57;      // int32

void Put(std::string* out, size_t at, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) (*out)[at + i] = static_cast<char>(v >> (8 * (n - 1 - i)));
}

size_t BodySize(int64_t timestamp_delta, int64_t offset_delta, std::optional<size_t> key_bytes,
                size_t value_bytes, const Header* headers, size_t header_count) {
  size_t n = 1 + VarintSize(timestamp_delta) + VarintSize(offset_delta);
  n += key_bytes ? VarintSize(static_cast<int64_t>(*key_bytes)) + *key_bytes : VarintSize(-1);
  n += VarintSize(static_cast<int64_t>(value_bytes)) + value_bytes;
  n += VarintSize(static_cast<int64_t>(header_count));
  for (size_t i = 0; i < header_count; ++i) {
    n += VarintSize(static_cast<int64_t>(headers[i].key.size())) + headers[i].key.size();
    n += VarintSize(static_cast<int64_t>(headers[i].value.size())) + headers[i].value.size();
  }
  return n;
}

}  // namespace

BatchBuilder::BatchBuilder(std::string* out, int64_t base_offset, int32_t leader_epoch)
    : out_(out), start_(out->size()) {
  Writer w(out);
  w.Int64(base_offset);
  w.Int32(0);  // length: Finish
  w.Int32(leader_epoch);
  w.Int8(2);    // magic
  w.Int32(0);   // CRC: Finish
  w.Int16(0);   // attributes: no compression, create time, not transactional
  w.Int32(0);   // last offset delta: Finish
  w.Int64(0);   // first timestamp: Finish
  w.Int64(0);   // max timestamp: Finish
  w.Int64(-1);  // producer id
  w.Int16(-1);  // producer epoch
  w.Int32(-1);  // base sequence
  w.Int32(0);   // records: Finish
}

size_t BatchBuilder::NextRecordSize(int64_t timestamp_ms, std::optional<size_t> key_bytes,
                                    size_t value_bytes, const Header* headers,
                                    size_t header_count) const {
  const int64_t ts_delta = count_ == 0 ? 0 : timestamp_ms - first_ts_;
  const size_t body = BodySize(ts_delta, static_cast<int64_t>(count_), key_bytes, value_bytes,
                               headers, header_count);
  return VarintSize(static_cast<int64_t>(body)) + body;
}

void BatchBuilder::Add(int64_t timestamp_ms, const std::optional<std::string_view>& key,
                       std::string_view value, const Header* headers, size_t header_count) {
  if (count_ == 0) first_ts_ = max_ts_ = timestamp_ms;
  max_ts_ = std::max(max_ts_, timestamp_ms);
  const int64_t ts_delta = timestamp_ms - first_ts_;
  const int64_t offset_delta = static_cast<int64_t>(count_);
  std::optional<size_t> key_bytes;
  if (key) key_bytes = key->size();
  AppendVarint(static_cast<int64_t>(BodySize(ts_delta, offset_delta, key_bytes, value.size(),
                                             headers, header_count)),
               out_);
  out_->push_back(0);  // attributes (unused)
  AppendVarint(ts_delta, out_);
  AppendVarint(offset_delta, out_);
  if (key) {
    AppendVarint(static_cast<int64_t>(key->size()), out_);
    out_->append(*key);
  } else {
    AppendVarint(-1, out_);
  }
  AppendVarint(static_cast<int64_t>(value.size()), out_);
  out_->append(value);
  AppendVarint(static_cast<int64_t>(header_count), out_);
  for (size_t i = 0; i < header_count; ++i) {
    AppendVarint(static_cast<int64_t>(headers[i].key.size()), out_);
    out_->append(headers[i].key);
    AppendVarint(static_cast<int64_t>(headers[i].value.size()), out_);
    out_->append(headers[i].value);
  }
  ++count_;
}

void BatchBuilder::Finish() {
  const size_t end = out_->size();
  Put(out_, start_ + kLengthAt, end - start_ - kLengthAt - 4, 4);
  Put(out_, start_ + kLastDeltaAt, count_ == 0 ? 0 : count_ - 1, 4);
  Put(out_, start_ + kFirstTsAt, static_cast<uint64_t>(first_ts_), 8);
  Put(out_, start_ + kMaxTsAt, static_cast<uint64_t>(max_ts_), 8);
  Put(out_, start_ + kCountAt, count_, 4);
  const uint32_t crc =
      crc32c::Extend(0, out_->data() + start_ + kAttributesAt, end - start_ - kAttributesAt);
  Put(out_, start_ + kCrcAt, crc, 4);
}

}  // namespace sluice::kafka
