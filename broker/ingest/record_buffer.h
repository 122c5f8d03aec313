// RecordBuffer: serialized records stored back to back in one growable
// byte array, with the end of each record remembered.
//
// Why not a std::vector<std::string>: the ingest ring keeps one buffer per
// slot and reuses it for every event that passes through that slot, so in
// steady state nothing is allocated. A string per record meant a heap
// block per record, each one grown again when stage 3 appended the txn
// field, and a ring of such strings touched hundreds of MB of fresh pages
// (page faults were most of the ingest's system time). Growth here does
// not zero the new bytes either (std::string::resize would).
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

#include "broker/binlog/rows_event.h"

namespace sluice::ingest {

class RecordBuffer final : public binlog::EncodedRowSink {
 public:
  size_t count() const { return ends_.size(); }
  size_t bytes() const { return size_; }
  bool empty() const { return ends_.empty(); }

  std::string_view record(size_t i) const {
    size_t begin = i == 0 ? 0 : ends_[i - 1];
    return {data_.get() + begin, ends_[i] - begin};
  }

  // Forgets every record. Keeps the memory unless it is above `keep`
  // bytes (one huge event must not pin its memory in a slot for good).
  void Clear(size_t keep = SIZE_MAX) {
    size_ = 0;
    ends_.clear();
    if (cap_ > keep) {
      data_.reset();
      cap_ = 0;
      std::vector<size_t>().swap(ends_);
    }
  }
  size_t capacity() const { return cap_; }

  // Appends `n` bytes to the record being built and returns where they go.
  char* Extend(size_t n) override {
    Reserve(size_ + n);
    char* p = data_.get() + size_;
    size_ += n;
    return p;
  }
  void Append(std::string_view bytes) {
    if (!bytes.empty()) std::memcpy(Extend(bytes.size()), bytes.data(), bytes.size());
  }
  // Ends the record being built (the bytes since the previous record).
  void EndRecord() override { ends_.push_back(size_); }

  // Serializes `msg` as one record. Returns false if protobuf refuses.
  bool AppendMessage(const google::protobuf::MessageLite& msg) {
    size_t n = msg.ByteSizeLong();
    auto* p = reinterpret_cast<uint8_t*>(Extend(n));
    if (msg.SerializeWithCachedSizesToArray(p) != p + n) return false;
    EndRecord();
    return true;
  }

  // Drops the first `k` records, moving the rest (and a record being
  // built) to the front.
  void DropFront(size_t k) {
    if (k == 0) return;
    size_t cut = ends_[k - 1];
    std::memmove(data_.get(), data_.get() + cut, size_ - cut);
    size_ -= cut;
    ends_.erase(ends_.begin(), ends_.begin() + static_cast<ptrdiff_t>(k));
    for (auto& e : ends_) e -= cut;
  }

  // Appends `n` bytes to the last finished record and returns where they go.
  char* ExtendLastRecord(size_t n) {
    char* p = Extend(n);
    ends_.back() = size_;
    return p;
  }

  // The last `n` bytes, for patching a record that was just appended.
  char* Tail(size_t n) { return data_.get() + size_ - n; }

  // Views of every record, for CommitLog's span<string_view> calls.
  void Views(std::vector<std::string_view>* out, size_t n) const {
    out->clear();
    for (size_t i = 0; i < n; ++i) out->push_back(record(i));
  }

 private:
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
  std::vector<size_t> ends_;
};

}  // namespace sluice::ingest
