// RecordBuffer: serialized records stored back to back in one growable
// byte array, each behind its length as 4 bytes little-endian: the raw
// form of a log block (storage/log_format.h), so the workers compress a
// run of records where they were written, with no copy to frame them.
//
// Why not a std::vector<std::string>: the ingest ring keeps one buffer per
// slot and reuses it for every event that passes through that slot, so in
// steady state nothing is allocated. A string per record meant a heap
// block per record, and a ring of such strings touched hundreds of MB of
// fresh pages (page faults were most of the ingest's system time). Growth
// here does not zero the new bytes either (std::string::resize would).
//
// It is also the ingest workers' EncodedRowSink: RowEncoder writes records
// straight into it. Not thread-safe; one stage owns a buffer at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include <google/protobuf/message_lite.h>

#include "base/coding.h"
#include "broker/binlog/rows_event.h"

namespace sluice::ingest {

class RecordBuffer final : public binlog::EncodedRowSink {
 public:
  static constexpr size_t kPrefix = 4;  // a record's length, fixed32

  size_t count() const { return ends_.size(); }
  // Bytes of the finished records, their length prefixes included.
  size_t bytes() const { return count() == 0 ? 0 : ends_.back(); }
  bool empty() const { return ends_.empty(); }

  // Record i without its length prefix.
  std::string_view record(size_t i) const {
    const size_t begin = Begin(i) + kPrefix;
    return {data_.get() + begin, ends_[i] - begin};
  }
  // Records [first, first + n) with their length prefixes, back to back.
  std::string_view framed(size_t first, size_t n) const {
    const size_t begin = Begin(first);
    return {data_.get() + begin, ends_[first + n - 1] - begin};
  }

  // Forgets every record. Keeps the memory unless it is above `keep`
  // bytes (one huge event must not pin its memory in a slot for good).
  void Clear(size_t keep = SIZE_MAX) {
    size_ = 0;
    open_ = false;
    oversized_ = false;
    ends_.clear();
    if (cap_ > keep) {
      data_.reset();
      cap_ = 0;
      std::vector<size_t>().swap(ends_);
    }
  }
  size_t capacity() const { return cap_; }

  // Drops every record from `count` on, and the one being built.
  // REQUIRES: count <= this->count().
  void TruncateTo(size_t count) {
    ends_.resize(count);
    size_ = Begin(count);
    open_ = false;
  }

  // A record since the last Clear was 4 GiB or more: its length prefix is
  // wrong and the buffer must not be stored.
  bool oversized() const { return oversized_; }

  // Appends `n` bytes to the record being built and returns where they go.
  char* Extend(size_t n) override {
    Open(n);
    char* p = data_.get() + size_;
    size_ += n;
    return p;
  }
  void Append(std::string_view bytes) {
    char* p = Extend(bytes.size());
    if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
  }
  // Ends the record being built (the bytes since the previous record).
  void EndRecord() override {
    Open(0);
    const size_t len = size_ - head_ - kPrefix;
    if (len > UINT32_MAX) oversized_ = true;  // its length does not fit: see oversized()
    coding::EncodeFixed32(data_.get() + head_, static_cast<uint32_t>(len));
    ends_.push_back(size_);
    open_ = false;
  }

  // Serializes `msg` as one record. Returns false if protobuf refuses.
  bool AppendMessage(const google::protobuf::MessageLite& msg) {
    size_t n = msg.ByteSizeLong();
    auto* p = reinterpret_cast<uint8_t*>(Extend(n));
    if (msg.SerializeWithCachedSizesToArray(p) != p + n) return false;
    EndRecord();
    return true;
  }

 private:
  size_t Begin(size_t i) const { return i == 0 ? 0 : ends_[i - 1]; }
  // Starts a record (room for its length) unless one is open; then makes
  // room for `n` more bytes.
  void Open(size_t n) {
    if (!open_) {
      Reserve(size_ + kPrefix + n);
      head_ = size_;
      size_ += kPrefix;
      open_ = true;
    } else {
      Reserve(size_ + n);
    }
  }
  void Reserve(size_t need) {
    if (need <= cap_) return;
    size_t cap = cap_ == 0 ? 4096 : cap_;
    while (cap < need) cap *= 2;
    std::unique_ptr<char[]> bigger(new char[cap]);
    if (size_ > 0) std::memcpy(bigger.get(), data_.get(), size_);
    data_ = std::move(bigger);
    cap_ = cap;
  }

  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t cap_ = 0;
  size_t head_ = 0;    // where the open record's length goes
  bool open_ = false;  // a record is being built
  bool oversized_ = false;
  std::vector<size_t> ends_;
};

}  // namespace sluice::ingest
