// Helpers shared by the column value tests: byte builders and decode
// checks. Expected values never come from the decoder itself.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>

#include "broker/binlog/column_value.h"

namespace sluice::binlog::coltest {

using proto::Value;

inline constexpr uint32_t kUtf8mb4 = 45;  // utf8mb4_general_ci
inline constexpr uint32_t kLatin1 = 8;    // latin1_swedish_ci

inline std::string B(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

inline std::string BE(uint64_t v, int n) {
  std::string s(n, '\0');
  for (int i = n - 1; i >= 0; --i, v >>= 8) s[i] = static_cast<char>(v & 0xff);
  return s;
}

inline std::string LE(uint64_t v, int n) {
  std::string s(n, '\0');
  for (int i = 0; i < n; ++i, v >>= 8) s[i] = static_cast<char>(v & 0xff);
  return s;
}

inline ColumnType Col(uint8_t type, uint16_t meta = 0, uint32_t collation = 0,
                      bool is_unsigned = false) {
  ColumnType c;
  c.type = type;
  c.meta = meta;
  c.collation = collation;
  c.is_unsigned = is_unsigned;
  ResolveRealType(&c);
  return c;
}

// Decodes `bytes`, which must hold exactly one value.
inline Value Decode(const ColumnType& col, const std::string& bytes) {
  std::string_view in = bytes;
  Value v;
  Status st = DecodeColumnValue(col, &in, &v);
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(in.empty()) << in.size() << " bytes left over";
  return v;
}

inline std::string Text(const ColumnType& col, const std::string& bytes) {
  Value v = Decode(col, bytes);
  EXPECT_EQ(v.kind_case(), Value::kText);
  return v.text();
}

inline Status DecodeError(const ColumnType& col, const std::string& bytes) {
  std::string_view in = bytes;
  Value v;
  Status st = DecodeColumnValue(col, &in, &v);
  EXPECT_EQ(in.size(), bytes.size()) << "input advanced on error";
  return st;
}

// Every strict prefix of a valid value is Corruption, leaves the input where
// it was, and reads nothing past its end (each prefix is its own heap block,
// so ASan sees an overread).
inline void ExpectEveryPrefixFails(const ColumnType& col, const std::string& full) {
  for (size_t n = 0; n < full.size(); ++n) {
    std::unique_ptr<char[]> heap(new char[n == 0 ? 1 : n]);
    std::memcpy(heap.get(), full.data(), n);
    std::string_view in(heap.get(), n);
    Value v;
    Status st = DecodeColumnValue(col, &in, &v);
    EXPECT_EQ(st.code(), Code::kCorruption) << "type " << int{col.type} << " prefix " << n;
    EXPECT_EQ(in.size(), n) << "type " << int{col.type} << " prefix " << n;
  }
  // The whole value decodes and stops at its end.
  std::string more = full + "XY";
  std::string_view in = more;
  Value v;
  Status st = DecodeColumnValue(col, &in, &v);
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(in, "XY");
}

}  // namespace sluice::binlog::coltest
