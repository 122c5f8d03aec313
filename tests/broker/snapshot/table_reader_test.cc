// TableReader's pure parts: a column's text (as the server's text protocol
// sends it) as a record value, and the definition a chunk compares. The
// expected values come from C++ itself (the float the server stores, the
// integer limits) and from MySQL's documented encodings (GEOMETRY: a
// little-endian SRID, then WKB; BIT: big-endian bytes).
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "broker/snapshot/table_reader.h"

namespace sluice::snapshot {
namespace {

ColumnDesc Col(const std::string& type, bool is_unsigned = false,
               const std::string& charset = "utf8mb4") {
  ColumnDesc c;
  c.name = "c";
  c.data_type = type;
  c.column_type = type;
  c.is_unsigned = is_unsigned;
  c.charset = charset;
  return c;
}

proto::Value V(const ColumnDesc& c, std::optional<std::string_view> text) {
  proto::Value v;
  Status st = TextToValue(c, text, &v);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return v;
}

TEST(TextToValueTest, IntegersKeepTheirSignednessAndRange) {
  EXPECT_EQ(V(Col("bigint"), "-9223372036854775808").int64(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(V(Col("bigint", true), "18446744073709551615").uint64(),
            std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(V(Col("year"), "0000").int64(), 0);
  proto::Value v;
  EXPECT_EQ(TextToValue(Col("int"), std::string("12x"), &v).code(), Code::kCorruption);
  EXPECT_EQ(TextToValue(Col("int", true), std::string("-1"), &v).code(), Code::kCorruption);
}

TEST(TextToValueTest, AFloatIsTheStoredFloatWidened) {
  // ReadChunk selects a FLOAT as `c + 0e0`: the server prints the widened
  // float's shortest round-trip text.
  const float stored = 1.0f / 7.0f;
  EXPECT_EQ(V(Col("float"), "0.1428571492433548").float64(), static_cast<double>(stored));
  EXPECT_EQ(V(Col("double"), "0.1").float64(), 0.1);
}

TEST(TextToValueTest, ExactAndByteValues) {
  EXPECT_EQ(V(Col("decimal"), "-12.3400").decimal(), "-12.3400");
  EXPECT_EQ(V(Col("bit"), std::string("\x01\x02", 2)).uint64(), 0x0102u);
  EXPECT_EQ(V(Col("varbinary", false, "binary"), std::string("\0a", 2)).binary(),
            std::string("\0a", 2));
  EXPECT_EQ(V(Col("varchar"), "é").text(), "é");
  EXPECT_EQ(V(Col("enum"), "b").enum_label(), "b");
  EXPECT_TRUE(V(Col("int"), std::nullopt).is_null());
  const std::string wkb("\x01\x01\x00\x00\x00", 5);
  const proto::Value g = V(Col("point"), std::string("\xe6\x10\x00\x00", 4) + wkb);
  EXPECT_EQ(g.geometry().srid(), 4326u);
  EXPECT_EQ(g.geometry().wkb(), wkb);
}

TEST(DefinitionKeyTest, IgnoresTheAutoIncrementCounterOnly) {
  const std::string a =
      "CREATE TABLE `t` (\n  `id` int NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY "
      "(`id`)\n) ENGINE=InnoDB AUTO_INCREMENT=17 DEFAULT CHARSET=latin1";
  const std::string b =
      "CREATE TABLE `t` (\n  `id` int NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY "
      "(`id`)\n) ENGINE=InnoDB AUTO_INCREMENT=99 DEFAULT CHARSET=latin1";
  EXPECT_EQ(DefinitionKey(a), DefinitionKey(b));
  EXPECT_NE(DefinitionKey(a), DefinitionKey(b + " COMMENT='x'"));
}

}  // namespace
}  // namespace sluice::snapshot
