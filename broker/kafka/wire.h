// The primitive types of Kafka's wire protocol (the protocol guide,
// "Protocol Primitive Types"): big-endian integers, strings and bytes with
// an int16/int32 length (-1: null), arrays with an int32 count (-1: null),
// and the zigzag varints of RecordBatch v2 records. Only non-flexible
// message versions are spoken (docs/kafka.md), so no compact forms.
//
// A Reader never reads past its input: the first short or malformed field
// puts it in error (ok() false, error() says which field at which byte),
// and every later read returns a zero value. A request decoder reads
// everything, then checks ok() once.
//
//   Reader r(body);
//   int16_t key = r.Int16();  ...  auto topics = r.ArrayCount(2);
//   if (!r.ok()) return Refuse(r.error());
//
// Thread safety: none; a Reader or Writer is one request's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::kafka {

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  int8_t Int8();
  int16_t Int16();
  int32_t Int32();
  int64_t Int64();
  bool Bool() { return Int8() != 0; }
  // A STRING (not null): int16 length, then the bytes.
  std::string_view String(const char* what);
  // A NULLABLE_STRING: nullopt for length -1.
  std::optional<std::string_view> NullableString(const char* what);
  // BYTES / NULLABLE_BYTES: int32 length.
  std::string_view Bytes(const char* what);
  std::optional<std::string_view> NullableBytes(const char* what);
  // An ARRAY's count: -1 (null) is returned as -1 when `nullable`, else an
  // error; a count that could not fit in what is left (each element takes
  // at least `min_element_bytes`) is an error, so a loop over it is bounded
  // by the input's size.
  int32_t ArrayCount(size_t min_element_bytes, const char* what, bool nullable = false);

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  size_t position() const { return pos_; }
  size_t remaining() const { return in_.size() - pos_; }
  // Puts the reader in error (a value out of range, say).
  void Fail(const std::string& why);

 private:
  // n bytes after a length already read: nullopt for -1, an error for
  // other negative lengths.
  std::optional<std::string_view> Sized(int64_t n, const char* what);
  // The next n bytes, or nullptr (and the error) when there are fewer.
  const char* Take(size_t n, const char* what);

  std::string_view in_;
  size_t pos_ = 0;
  std::string error_;
};

// Appends to a string; sizes not known in advance are reserved and patched.
class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}

  void Int8(int8_t v) { out_->push_back(static_cast<char>(v)); }
  void Int16(int16_t v);
  void Int32(int32_t v);
  void Int64(int64_t v);
  void Bool(bool v) { Int8(v ? 1 : 0); }
  void String(std::string_view s);
  void NullableString(const std::optional<std::string_view>& s);
  void Bytes(std::string_view b);
  void NullableBytes(const std::optional<std::string_view>& b);
  void ArrayCount(size_t n) { Int32(static_cast<int32_t>(n)); }
  // Reserves an int32 and returns where it is, for Patch32.
  size_t Reserve32();
  void Patch32(size_t at, uint32_t v);
  size_t size() const { return out_->size(); }
  std::string* out() { return out_; }

 private:
  std::string* out_;
};

// RecordBatch v2's variable-length integers: zigzag, then base-128.
void AppendVarint(int64_t v, std::string* out);
size_t VarintSize(int64_t v);
// Reads one; false when the input ends first or it has more than 10 bytes.
bool ReadVarint(std::string_view in, size_t* pos, int64_t* v);

}  // namespace sluice::kafka
