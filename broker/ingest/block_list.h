// BlockList: log blocks (storage/log_format.h, batch version 2) back to
// back in one string, with each block's end and record count. A ring slot
// holds one (the blocks a worker packed from the slot's records); stage 3
// holds one more (the open transaction's blocks not yet in the log).
//
// Not thread-safe; one stage owns a list at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "broker/ingest/record_buffer.h"

namespace sluice::ingest {

class BlockList {
 public:
  // A worker cuts records into blocks of about this many raw bytes: a rows
  // event's records make one block, a huge event several, so a large
  // transaction still streams to the log in chunks of bounded size.
  static constexpr size_t kBlockRawBytes = 256 << 10;

  size_t size() const { return ends_.size(); }
  bool empty() const { return ends_.empty(); }
  uint64_t records() const { return records_; }
  size_t bytes() const { return bytes_.size(); }

  // Packs records [first, first + n) of `records` into blocks of about
  // kBlockRawBytes raw bytes (LZ4 when `compress`; `scratch` is the
  // compressor's output space, kept by the caller). Returns the number of
  // blocks added.
  size_t Pack(const RecordBuffer& records, size_t first, size_t n, bool compress,
              std::string* scratch);

  // Appends blocks [first, first + n) of `other`.
  void Append(const BlockList& other, size_t first, size_t n);

  // Drops the first n blocks.
  void DropFront(size_t n);

  // Views of the first n blocks: what CommitLog::AppendBlockChunk and
  // CommitBlocks take.
  void Views(size_t n, std::vector<std::string_view>* out) const;
  // Records in block k.
  uint32_t count(size_t k) const { return counts_[k]; }

  // Forgets every block; frees the memory if it is above `keep` bytes.
  void Clear(size_t keep = SIZE_MAX);

 private:
  size_t Begin(size_t k) const { return k == 0 ? 0 : ends_[k - 1]; }

  std::string bytes_;
  std::vector<size_t> ends_;      // block k ends at ends_[k] in bytes_
  std::vector<uint32_t> counts_;  // records in block k
  uint64_t records_ = 0;
};

}  // namespace sluice::ingest
