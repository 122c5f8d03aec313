#include "storage/log_format.h"

#include <lz4.h>

#include <cstring>
#include <string>

namespace sluice::log_format {
namespace {

enum Codec : uint8_t { kStored = 0, kLz4 = 1 };

// Largest LZ4 block: what a reader may have to allocate to decompress one.
// Larger blocks (a huge record) are stored as they are; AppendBlock does
// not compress them.
constexpr uint64_t kMaxLz4Raw = uint64_t{1} << 30;

struct Block {
  uint64_t count = 0;
  uint64_t raw_size = 0;
  uint8_t codec = kStored;
  std::string_view stored;
};

// Reads one block's header and stored bytes from *in. Returns an empty
// string on success, else what is wrong. Checks every length against the
// input, and that raw_size is possible for the codec, so that no reader
// allocates more than a block can hold.
std::string ParseBlock(std::string_view* in, Block* b) {
  uint64_t stored_size = 0;
  if (!coding::GetVarint64(in, &b->count) || !coding::GetVarint64(in, &b->raw_size) ||
      in->empty()) {
    return "truncated block header";
  }
  b->codec = static_cast<uint8_t>((*in)[0]);
  in->remove_prefix(1);
  if (!coding::GetVarint64(in, &stored_size)) return "truncated block header";
  if (b->count == 0) return "empty block";
  if (stored_size > in->size()) return "block runs past the end of the batch";
  // Each record takes at least its 4-byte length.
  if (b->count > b->raw_size / 4) return "impossible block size";
  switch (b->codec) {
    case kStored:
      if (b->raw_size != stored_size) return "stored block size mismatch";
      break;
    case kLz4:
      // LZ4 expands at most 255 times (one literal-length byte per 255),
      // and never writes more than its bound for the input.
      if (b->raw_size > kMaxLz4Raw || b->raw_size > stored_size * 255 + 16 ||
          stored_size > static_cast<uint64_t>(LZ4_compressBound(static_cast<int>(b->raw_size)))) {
        return "impossible block size";
      }
      break;
    default: return "unknown block codec " + std::to_string(b->codec);
  }
  b->stored = in->substr(0, stored_size);
  in->remove_prefix(stored_size);
  return {};
}

}  // namespace

std::string BatchKey(Offset base) { return coding::BigEndian64(base.value()); }

Result<BatchView> DecodeBatch(std::string_view key, std::string_view value) {
  auto corrupt = [&](std::string_view what) {
    std::string where =
        key.size() == 8 ? "batch at offset " + std::to_string(coding::DecodeBigEndian64(key.data()))
                        : "batch with a malformed key";
    return Status::Corruption(where + ": " + std::string(what));
  };
  if (key.size() != 8) return corrupt("key is not 8 bytes");
  if (value.size() < kHeaderSize + 1) return corrupt("shorter than its header");
  const uint32_t stored_crc = coding::DecodeFixed32(value.data());
  const uint32_t actual_crc = crc32c::Extend(0, value.data() + 4, value.size() - 4);
  if (stored_crc != actual_crc) return corrupt("checksum mismatch (the stored bytes are damaged)");
  const uint8_t version = static_cast<uint8_t>(value[4]);
  if (version != kBatchVersion && version != kBlockBatchVersion) {
    return corrupt("unknown batch version " + std::to_string(version));
  }

  BatchView b;
  b.version = version;
  b.encoded_size = value.size();
  BatchHeader& h = b.header;
  h.flags = static_cast<uint8_t>(value[5]);
  h.base_offset = Offset(coding::DecodeFixed64(value.data() + 8));
  h.record_count = coding::DecodeFixed32(value.data() + 16);
  h.txn_records_before = coding::DecodeFixed32(value.data() + 20);
  h.epoch = coding::DecodeFixed64(value.data() + 24);
  h.append_time_ms = static_cast<int64_t>(coding::DecodeFixed64(value.data() + 32));
  h.max_source_ts = coding::DecodeFixed64(value.data() + 40);
  h.bytes_before = coding::DecodeFixed64(value.data() + 48);
  if (h.base_offset.value() != coding::DecodeBigEndian64(key.data())) {
    return corrupt("header says base offset " + std::to_string(h.base_offset.value()));
  }
  if (h.record_count == 0) return corrupt("holds no records");
  if (h.base_offset.value() > UINT64_MAX - h.record_count) return corrupt("offset overflow");
  if (h.txn_records_before > h.base_offset.value()) return corrupt("transaction starts below 0");
  if (uint64_t{h.txn_records_before} + h.record_count > UINT32_MAX) {
    return corrupt("transaction of more than 2^32 - 1 records");
  }

  std::string_view rest = value.substr(kHeaderSize);
  if (!coding::GetLengthPrefixed(&rest, &b.checkpoint)) return corrupt("truncated checkpoint");
  if (!h.txn_end() && !b.checkpoint.empty()) return corrupt("checkpoint on a non-final batch");
  b.records = rest;
  // Each record (and each block) takes at least one byte, so this bounds
  // the walks below.
  if (h.record_count > rest.size() && version == kBatchVersion) {
    return corrupt("record count exceeds the batch size");
  }
  if (version == kBatchVersion) {
    std::string_view r;
    for (uint32_t i = 0; i < h.record_count; ++i) {
      if (!coding::GetLengthPrefixed(&rest, &r)) {
        return corrupt("record " + std::to_string(i) + " runs past the end of the batch");
      }
    }
  } else {
    uint64_t records = 0;
    while (!rest.empty()) {
      Block blk;
      std::string what = ParseBlock(&rest, &blk);
      if (!what.empty()) return corrupt(what + " after record " + std::to_string(records));
      records += blk.count;
      if (records > h.record_count) return corrupt("blocks hold more records than the header");
    }
    if (records != h.record_count) return corrupt("blocks hold fewer records than the header");
  }
  if (!rest.empty()) return corrupt("trailing bytes after the last record");
  return b;
}

Result<uint64_t> BlockRecords(std::string_view blocks) {
  uint64_t records = 0;
  while (!blocks.empty()) {
    Block blk;
    std::string what = ParseBlock(&blocks, &blk);
    if (!what.empty())
      return Status::InvalidArgument(what + " after record " + std::to_string(records));
    records += blk.count;
  }
  return records;
}

void EncodeBlockBatch(const BatchHeader& h, std::string_view checkpoint,
                      std::span<const std::string_view> blocks, std::string* dst) {
  const size_t start = internal::PutHeader(h, kBlockBatchVersion, checkpoint, dst);
  for (std::string_view blk : blocks) dst->append(blk);
  internal::FinishBatch(start, dst);
}

void ReencodeBatch(const BatchView& b, const BatchHeader& h, std::string_view checkpoint,
                   std::string* dst) {
  const size_t start = internal::PutHeader(h, b.version, checkpoint, dst);
  dst->append(b.records);
  internal::FinishBatch(start, dst);
}

void AppendBlock(std::string_view framed, uint32_t count, bool compress, std::string* dst,
                 std::string* scratch) {
  char head[3 * 10 + 1];
  char* p = coding::EncodeVarint64(head, count);
  p = coding::EncodeVarint64(p, framed.size());
  char* codec = p++;
  *codec = static_cast<char>(kStored);
  std::string_view stored = framed;
  if (compress && framed.size() >= 64 && framed.size() <= kMaxLz4Raw) {
    const int bound = LZ4_compressBound(static_cast<int>(framed.size()));
    // The scratch only grows, so its bytes are zero-filled once, not per block.
    if (scratch->size() < static_cast<size_t>(bound)) scratch->resize(static_cast<size_t>(bound));
    const int n = LZ4_compress_default(framed.data(), scratch->data(),
                                       static_cast<int>(framed.size()), bound);
    if (n > 0 && static_cast<size_t>(n) < framed.size()) {
      *codec = static_cast<char>(kLz4);
      stored = std::string_view(scratch->data(), static_cast<size_t>(n));
    }
  }
  p = coding::EncodeVarint64(p, stored.size());
  dst->append(head, static_cast<size_t>(p - head));
  dst->append(stored);
}

size_t EncodeTxnField(uint32_t seq, bool last, char* out) {
  size_t n = 2;  // tag and length first
  if (seq != 0) {
    out[n++] = 0x08;  // TxnInfo.seq: field 1, varint
    char* end = coding::EncodeVarint64(out + n, seq);
    n = static_cast<size_t>(end - out);
  }
  if (last) {
    out[n++] = 0x10;  // TxnInfo.last: field 2, varint
    out[n++] = 1;
  }
  out[0] = (11 << 3) | 2;  // ChangeRecord.txn: field 11, length-delimited
  out[1] = static_cast<char>(n - 2);
  return n;
}

RecordReader::RecordReader(const BatchView& b) : b_(b), rest_(b.records) {}

bool RecordReader::Fail(const std::string& what) {
  status_ = Status::Corruption("batch at offset " + std::to_string(b_.header.base_offset.value()) +
                               ": " + what);
  rest_ = {};
  block_ = {};
  block_left_ = 0;
  return false;
}

bool RecordReader::LoadBlock() {
  Block blk;
  std::string what = ParseBlock(&rest_, &blk);
  if (!what.empty()) return Fail(what);
  if (blk.codec == kStored) {
    block_ = blk.stored;
  } else {
    raw_.resize(blk.raw_size);
    const int n =
        LZ4_decompress_safe(blk.stored.data(), raw_.data(), static_cast<int>(blk.stored.size()),
                            static_cast<int>(blk.raw_size));
    if (n < 0 || static_cast<uint64_t>(n) != blk.raw_size) {
      return Fail("block after record " + std::to_string(index_) + " does not decompress");
    }
    block_ = raw_;
  }
  block_left_ = static_cast<uint32_t>(blk.count);
  return true;
}

bool RecordReader::Next(std::string_view* body, std::string_view* suffix) {
  if (!status_.ok() || index_ >= b_.header.record_count) return false;
  if (b_.version == kBatchVersion) {
    if (!coding::GetLengthPrefixed(&rest_, body)) return Fail("record runs past the end");
    *suffix = {};
    ++index_;
    return true;
  }
  if (block_left_ == 0 && !LoadBlock()) return false;
  uint32_t len = 0;
  if (!coding::GetFixed32(&block_, &len) || len > block_.size()) {
    return Fail("record " + std::to_string(index_) + " runs past the end of its block");
  }
  *body = block_.substr(0, len);
  block_.remove_prefix(len);
  if (--block_left_ == 0 && !block_.empty()) {
    return Fail("trailing bytes in the block of record " + std::to_string(index_));
  }
  const bool last = b_.header.txn_end() && index_ + 1 == b_.header.record_count;
  *suffix = std::string_view(suffix_,
                             EncodeTxnField(b_.header.txn_records_before + index_, last, suffix_));
  ++index_;
  return true;
}

void RecordReader::Skip(uint64_t n) {
  std::string_view body, suffix;
  while (n > 0 && status_.ok() && index_ < b_.header.record_count) {
    if (b_.version == kBlockBatchVersion && block_left_ == 0) {
      // A whole block that is skipped is not decompressed.
      std::string_view peek = rest_;
      Block blk;
      if (ParseBlock(&peek, &blk).empty() && blk.count <= n) {
        rest_ = peek;
        index_ += static_cast<uint32_t>(blk.count);
        n -= blk.count;
        continue;
      }
    }
    if (!Next(&body, &suffix)) return;
    --n;
  }
}

Status AppendRecords(const BatchView& b, std::vector<std::string>* out) {
  RecordReader rr(b);
  for (std::string_view body, suffix; rr.Next(&body, &suffix);) {
    std::string& r = out->emplace_back(body);
    r.append(suffix);
  }
  return rr.status();
}

}  // namespace sluice::log_format
