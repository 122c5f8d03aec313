// Private to broker/binlog: the binary JSON reader that json_binary.cc (text
// rendering) and json_diff.cc (partial updates) share. The format is in
// json_binary.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace sluice::binlog::json_internal {

// MySQL's JSON_DOCUMENT_MAX_DEPTH: containers nest at most this deep.
inline constexpr int kMaxDepth = 100;

// Type bytes.
inline constexpr uint8_t kSmallObject = 0x00;
inline constexpr uint8_t kLargeObject = 0x01;
inline constexpr uint8_t kSmallArray = 0x02;
inline constexpr uint8_t kLargeArray = 0x03;
inline constexpr uint8_t kLiteral = 0x04;
inline constexpr uint8_t kInt16 = 0x05;
inline constexpr uint8_t kUint16 = 0x06;
inline constexpr uint8_t kInt32 = 0x07;
inline constexpr uint8_t kUint32 = 0x08;
inline constexpr uint8_t kInt64 = 0x09;
inline constexpr uint8_t kUint64 = 0x0a;
inline constexpr uint8_t kDouble = 0x0b;
inline constexpr uint8_t kString = 0x0c;
inline constexpr uint8_t kOpaque = 0x0f;

inline bool IsContainer(uint8_t type) { return type <= kLargeArray; }

// One value of a binary document: its type byte and the bytes from its start
// to the end of its enclosing container (MySQL bounds a value by its
// container only), or its inlined bytes. `doc` is the whole document, for
// the byte positions in error messages. All three borrow the document.
struct BinaryValue {
  uint8_t type = kLiteral;
  std::string_view bytes;
  std::string_view doc;
};

// The header of an object or array, checked against the container's bytes.
struct Container {
  bool object = false;
  bool large = false;
  uint32_t count = 0;
  size_t header_size = 0;  // counts, sizes, key entries, value entries
  std::string_view bytes;  // exactly the container's `size` bytes
  std::string_view doc;
};

// REQUIRES: IsContainer(v.type).
Status ParseContainer(const BinaryValue& v, Container* c);
// REQUIRES: c.object, i < c.count.
Status ContainerKey(const Container& c, uint32_t i, std::string_view* key);
// REQUIRES: i < c.count.
Status ContainerValue(const Container& c, uint32_t i, BinaryValue* value);

// Appends the JSON text of `v`, which sits inside `depth` containers, and
// fails once out->size() passes `max_out`: values whose offsets overlap can
// make a small corrupt document render exponentially large, while a document
// MySQL wrote renders to at most ~6 bytes per input byte (MaxOutput()).
Status AppendValue(const BinaryValue& v, int depth, size_t max_out, std::string* out);

// The max_out for rendering `input_size` input bytes after `out_size` bytes.
inline size_t MaxOutput(size_t out_size, size_t input_size) {
  return out_size + 8 * input_size + 64;
}

// Appends `s` double-quoted and escaped as MySQL's double_quote() does.
void AppendQuoted(std::string_view s, std::string* out);

// "binary JSON at byte <pos of at in doc>: <what>".
Status Corrupt(std::string_view doc, std::string_view at, std::string_view what);

}  // namespace sluice::binlog::json_internal
