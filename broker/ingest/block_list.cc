#include "broker/ingest/block_list.h"

#include "storage/log_format.h"

namespace sluice::ingest {

size_t BlockList::Pack(const RecordBuffer& records, size_t first, size_t n, bool compress,
                       std::string* scratch) {
  const size_t end = first + n;
  const size_t before = size();
  size_t r = first;
  while (r < end) {
    const size_t from = r;
    size_t raw = 0;
    do {
      raw += records.record(r++).size() + RecordBuffer::kPrefix;
    } while (r < end && raw < kBlockRawBytes);
    const auto count = static_cast<uint32_t>(r - from);
    log_format::AppendBlock(records.framed(from, count), count, compress, &bytes_, scratch);
    ends_.push_back(bytes_.size());
    counts_.push_back(count);
    records_ += count;
  }
  return size() - before;
}

void BlockList::Append(const BlockList& other, size_t first, size_t n) {
  if (n == 0) return;
  const size_t from = other.Begin(first);
  const size_t base = bytes_.size();
  bytes_.append(other.bytes_, from, other.ends_[first + n - 1] - from);
  for (size_t k = first; k < first + n; ++k) {
    ends_.push_back(base + other.ends_[k] - from);
    counts_.push_back(other.counts_[k]);
    records_ += other.counts_[k];
  }
}

void BlockList::DropFront(size_t n) {
  if (n == 0) return;
  const size_t cut = ends_[n - 1];
  bytes_.erase(0, cut);
  for (size_t k = 0; k < n; ++k) records_ -= counts_[k];
  ends_.erase(ends_.begin(), ends_.begin() + static_cast<ptrdiff_t>(n));
  counts_.erase(counts_.begin(), counts_.begin() + static_cast<ptrdiff_t>(n));
  for (auto& e : ends_) e -= cut;
}

void BlockList::Views(size_t n, std::vector<std::string_view>* out) const {
  out->clear();
  for (size_t k = 0; k < n; ++k) out->emplace_back(bytes_.data() + Begin(k), ends_[k] - Begin(k));
}

void BlockList::Clear(size_t keep) {
  if (bytes_.capacity() > keep) std::string().swap(bytes_);
  bytes_.clear();
  ends_.clear();
  counts_.clear();
  records_ = 0;
}

}  // namespace sluice::ingest
