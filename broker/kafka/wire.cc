#include "broker/kafka/wire.h"

namespace sluice::kafka {
namespace {

uint64_t LoadBig(const char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}

void StoreBig(uint64_t v, size_t n, std::string* out) {
  for (size_t i = n; i-- > 0;) out->push_back(static_cast<char>(v >> (8 * i)));
}

}  // namespace

void Reader::Fail(const std::string& why) {
  if (error_.empty()) error_ = why;
  pos_ = in_.size();
}

const char* Reader::Take(size_t n, const char* what) {
  if (!error_.empty()) return nullptr;
  if (n > in_.size() - pos_) {
    Fail("the request ends at byte " + std::to_string(in_.size()) + " inside " + what +
         " (which needs " + std::to_string(n) + " bytes at byte " + std::to_string(pos_) + ")");
    return nullptr;
  }
  const char* p = in_.data() + pos_;
  pos_ += n;
  return p;
}

int8_t Reader::Int8() {
  const char* p = Take(1, "an int8");
  return p ? static_cast<int8_t>(*p) : 0;
}

int16_t Reader::Int16() {
  const char* p = Take(2, "an int16");
  return p ? static_cast<int16_t>(LoadBig(p, 2)) : 0;
}

int32_t Reader::Int32() {
  const char* p = Take(4, "an int32");
  return p ? static_cast<int32_t>(LoadBig(p, 4)) : 0;
}

int64_t Reader::Int64() {
  const char* p = Take(8, "an int64");
  return p ? static_cast<int64_t>(LoadBig(p, 8)) : 0;
}

std::optional<std::string_view> Reader::Sized(int64_t n, const char* what) {
  if (n == -1) return std::nullopt;
  if (n < 0) {
    Fail(std::string(what) + " has length " + std::to_string(n));
    return std::string_view();
  }
  const char* p = Take(static_cast<size_t>(n), what);
  return p ? std::string_view(p, static_cast<size_t>(n)) : std::string_view();
}

std::optional<std::string_view> Reader::NullableString(const char* what) {
  return Sized(Int16(), what);
}

std::string_view Reader::String(const char* what) {
  auto s = NullableString(what);
  if (!s) {
    Fail(std::string(what) + " is null");
    return {};
  }
  return *s;
}

std::optional<std::string_view> Reader::NullableBytes(const char* what) {
  return Sized(Int32(), what);
}

std::string_view Reader::Bytes(const char* what) {
  auto b = NullableBytes(what);
  if (!b) {
    Fail(std::string(what) + " is null");
    return {};
  }
  return *b;
}

int32_t Reader::ArrayCount(size_t min_element_bytes, const char* what, bool nullable) {
  const int32_t n = Int32();
  if (!ok()) return 0;
  if (n == -1 && nullable) return -1;
  if (n < 0) {
    Fail(std::string(what) + " has " + std::to_string(n) + " elements");
    return 0;
  }
  if (min_element_bytes > 0 && static_cast<size_t>(n) > remaining() / min_element_bytes) {
    Fail(std::string(what) + " claims " + std::to_string(n) + " elements in " +
         std::to_string(remaining()) + " bytes");
    return 0;
  }
  return n;
}

void Writer::Int16(int16_t v) { StoreBig(static_cast<uint16_t>(v), 2, out_); }
void Writer::Int32(int32_t v) { StoreBig(static_cast<uint32_t>(v), 4, out_); }
void Writer::Int64(int64_t v) { StoreBig(static_cast<uint64_t>(v), 8, out_); }

void Writer::String(std::string_view s) {
  Int16(static_cast<int16_t>(s.size()));
  out_->append(s);
}

void Writer::NullableString(const std::optional<std::string_view>& s) {
  if (!s) return Int16(-1);
  String(*s);
}

void Writer::Bytes(std::string_view b) {
  Int32(static_cast<int32_t>(b.size()));
  out_->append(b);
}

void Writer::NullableBytes(const std::optional<std::string_view>& b) {
  if (!b) return Int32(-1);
  Bytes(*b);
}

size_t Writer::Reserve32() {
  const size_t at = out_->size();
  out_->append(4, '\0');
  return at;
}

void Writer::Patch32(size_t at, uint32_t v) {
  for (size_t i = 0; i < 4; ++i) (*out_)[at + i] = static_cast<char>(v >> (24 - 8 * i));
}

void AppendVarint(int64_t v, std::string* out) {
  uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  while (z >= 0x80) {
    out->push_back(static_cast<char>(z | 0x80));
    z >>= 7;
  }
  out->push_back(static_cast<char>(z));
}

size_t VarintSize(int64_t v) {
  uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  size_t n = 1;
  while (z >= 0x80) {
    z >>= 7;
    ++n;
  }
  return n;
}

bool ReadVarint(std::string_view in, size_t* pos, int64_t* v) {
  uint64_t z = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (*pos >= in.size()) return false;
    const uint8_t b = static_cast<uint8_t>(in[(*pos)++]);
    z |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *v = static_cast<int64_t>(z >> 1) ^ -static_cast<int64_t>(z & 1);
      return true;
    }
  }
  return false;
}

}  // namespace sluice::kafka
