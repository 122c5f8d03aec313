// MySQL-only binlog formats through Decoder::Decode, on event bytes built by
// hand from MySQL's source documentation (no MySQL server here: Debian 12
// ships MariaDB only). Every expected value follows from the cited MySQL
// source, never from running our code:
//
//   FDE post-header table  libbinlogevents/src/control_events.cpp (8.0),
//                          Format_description_event::Format_description_event
//   GTID                   libs/mysql/binlog/event/control_events.h Gtid_event
//   tagged GTID            control_events.h Gtid_event::define_fields,
//                          libs/mysql/serialization/readme.md
//   PREVIOUS_GTIDS         sql/rpl_gtid_set.cc Gtid_set::encode
//   TABLE_MAP + metadata   libs/mysql/binlog/event/rows_event.h (format table),
//                          sql/log_event.cc Table_map_log_event::init_*_field
//   rows v2, partial JSON  libs/mysql/binlog/event/rows_event.cpp Rows_event,
//                          sql/rpl_record.cc pack_row, sql/json_diff.cc
//   binary JSON            sql-common/json_binary.h
//   DECIMAL                strings/decimal.cc decimal2bin (its example
//                          1234567890.1234 as DECIMAL(14,4) = 81 0D FB 38 D2 04 D2)
//   VECTOR (MySQL 9)       sql/log_event.cc is_character_type (VECTOR is a
//                          charset column), Table_map_log_event::
//                          init_metadata_fields / init_charset_field /
//                          init_vector_dimensionality_field /
//                          init_column_visibility_field, get_type_name (one
//                          metadata byte), log_event_print_value (4-byte
//                          length, float4get elements); binary_log_funcs.cpp
//                          calc_field_size (length prefix of `meta` bytes);
//                          rows_event.h VECTOR_DIMENSIONALITY = 13
//   TRANSACTION_PAYLOAD    libs/mysql/binlog/event/codecs/binary.cpp,
//                          compression/zstd_comp.cpp; inner events carry no
//                          CRC (sql/rpl_mta_submode.cc
//                          unfold_transaction_payload_event)
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "broker/binlog/decoder.h"
#include "broker/binlog/event.h"
#include "broker/binlog/gtid.h"
#include "tests/support/binlog_bytes.h"
#include "tests/support/record_collector.h"
#include "tests/support/row_encoding_check.h"

namespace sluice::binlog {
namespace {

using sluice::testing::B;
using sluice::testing::Le;
using sluice::testing::Packed;
using sluice::testing::Str;
using sluice::testing::Tlv;

constexpr uint8_t T(EventType t) { return static_cast<uint8_t>(t); }
constexpr uint32_t kTime = 1700000000;
constexpr std::string_view kFile = "binlog.000001";
// 3e11fa47-71ca-11e1-9e33-c80aa9429562, the MySQL manual's GTID example uuid.
const std::string kUuid = B({0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a,
                             0xa9, 0x42, 0x95, 0x62});
constexpr std::string_view kUuidText = "3e11fa47-71ca-11e1-9e33-c80aa9429562";

// Post-header lengths of MySQL 8.0.26+ (41 event types), type 1 first:
// QUERY 13, ROTATE 8, APPEND_BLOCK/DELETE_FILE/BEGIN_LOAD_QUERY 4, FDE
// 56+1+41 = 98, EXECUTE_LOAD_QUERY 26, TABLE_MAP 8, rows v1 8, INCIDENT 2,
// rows v2 10, GTID/ANONYMOUS_GTID 42, TRANSACTION_CONTEXT 18, VIEW_CHANGE
// 52, PARTIAL_UPDATE_ROWS 10, and 40 for TRANSACTION_PAYLOAD: the 8.0 table
// lists the constant TRANSACTION_PAYLOAD_EVENT there, not a length.
const std::string kPostHeaders =
    B({0, 13, 0, 8, 0, 0, 0, 0, 4,  0,  4,  0,  0,  0, 98, 0,  4, 26, 8,  0, 0,
       0, 8,  8, 8, 2, 0, 0, 0, 10, 10, 10, 42, 42, 0, 18, 52, 0, 10, 40, 0});

uint32_t Crc(std::string_view s) {
  return static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

// A whole event: 19-byte header, body, CRC32 of everything before it.
std::string Event(uint8_t type, std::string_view body, uint32_t log_pos, uint16_t flags, bool crc) {
  const size_t size = kHeaderSize + body.size() + (crc ? kChecksumSize : 0);
  std::string e = Le(kTime, 4) + Le(type, 1) + Le(1, 4) + Le(size, 4) + Le(log_pos, 4) +
                  Le(flags, 2) + std::string(body);
  if (crc) e += Le(Crc(e), 4);
  return e;
}

// FORMAT_DESCRIPTION of MySQL 8.0.36. Its CRC is always present (the FDE of
// a checksum-aware server is always checksummed) and is computed with the
// "binlog in use" flag (0x1) clear.
std::string Fde(bool crc32_events, uint16_t flags = 0) {
  std::string v = "8.0.36";
  v.resize(50, '\0');
  std::string body =
      Le(4, 2) + v + Le(kTime, 4) + Le(kHeaderSize, 1) + kPostHeaders + Le(crc32_events ? 1 : 0, 1);
  std::string e = Event(T(EventType::kFormatDescription), body, 4 + 19 + body.size() + 4,
                        flags & ~kFlagBinlogInUse, true);
  e[17] = static_cast<char>(flags & 0xff);
  return e;
}

// GTID_LOG_EVENT / ANONYMOUS_GTID_LOG_EVENT body as MySQL 8.0 writes it.
std::string GtidBody(int64_t gno, std::string_view uuid = kUuid) {
  return Le(0, 1) + std::string(uuid) + Le(static_cast<uint64_t>(gno), 8) +
         Le(2, 1) +                   // LOGICAL_TIMESTAMP_TYPECODE
         Le(0, 8) + Le(1, 8) +        // last_committed, sequence_number
         Le(1700000000000000, 7) +    // immediate_commit_timestamp, bit 55 clear
         Packed(300) + Le(80036, 4);  // transaction_length, server version
}

// QUERY_EVENT: thread id, exec time, db length, error code, status length,
// status variables (Q_FLAGS2_CODE = 0 with 4 bytes), db, NUL, statement.
std::string QueryBody(std::string_view db, std::string_view sql) {
  const std::string status = B({0x00, 0, 0, 0, 0});
  return Le(9, 4) + Le(0, 4) + Le(db.size(), 1) + Le(0, 2) + Le(status.size(), 2) + status +
         std::string(db) + '\0' + std::string(sql);
}

// shop.items, table id 113:
//   id INT UNSIGNED PK, qty SMALLINT, name VARCHAR(20) utf8mb4,
//   color ENUM('red','green','blue'), tags SET('a','b','c'),
//   price DECIMAL(14,4), doc JSON
// with binlog_row_metadata=FULL, fields in the order init_metadata_fields
// writes them.
constexpr uint64_t kItemsId = 113;
std::string ItemsMap(uint64_t id = kItemsId) {
  std::string b = Le(id, 6) + Le(1, 2) + "\x04shop" + '\0' + "\x05items" + '\0';
  b += Packed(7) + B({0x03, 0x02, 0x0f, 0xfe, 0xfe, 0xf6, 0xf5});
  const std::string meta = B({0x50, 0x00,       // VARCHAR: 80 bytes max
                              0xf7, 0x01,       // STRING: real type ENUM, pack length 1
                              0xf8, 0x01,       // STRING: real type SET, pack length 1
                              0x0e, 0x04,       // NEWDECIMAL: precision 14, scale 4
                              0x04});           // JSON: 4-byte length
  b += Packed(meta.size()) + meta + B({0x7e});  // null bits: all but id nullable
  b += Tlv(1, B({0x80}));                       // SIGNEDNESS of id, qty, price, MSB first: 1 0 0
  b += Tlv(2, Packed(255));                     // DEFAULT_CHARSET utf8mb4_0900_ai_ci (name)
  b += Tlv(4, Str("id") + Str("qty") + Str("name") + Str("color") + Str("tags") + Str("price") +
                  Str("doc"));
  b += Tlv(10, Packed(255));  // ENUM_AND_SET_DEFAULT_CHARSET
  b += Tlv(5, Packed(3) + Str("a") + Str("b") + Str("c"));
  b += Tlv(6, Packed(3) + Str("red") + Str("green") + Str("blue"));
  b += Tlv(8, Packed(0));  // SIMPLE_PRIMARY_KEY: column 0
  return b;
}

// {"a": 1, "b": [true, "x"]} in binary JSON; offsets from the object's count.
const std::string kDoc = B({
    0x00,                                // small object
    0x02, 0x00, 0x20, 0x00,              // 2 members, 32 bytes
    0x12, 0x00, 0x01, 0x00,              // key "a" at 18
    0x13, 0x00, 0x01, 0x00,              // key "b" at 19
    0x05, 0x01, 0x00,                    // int16 1, inlined
    0x02, 0x14, 0x00,                    // small array at 20
    'a',  'b',  0x02, 0x00, 0x0c, 0x00,  // at 20: 2 elements, 12 bytes
    0x04, 0x01, 0x00,                    //   literal true, inlined
    0x0c, 0x0a, 0x00,                    //   string at 10 (from the array's count)
    0x01, 'x',
});
constexpr std::string_view kDocText = R"({"a": 1, "b": [true, "x"]})";

// Row (7, -3, 'widget', 'green', 'a,c', 1234567890.1234, kDoc): null bits,
// then each value in its row format.
std::string FullRow() {
  return B({0x00}) + Le(7, 4) + Le(0xfffd, 2) + "\x06widget" + B({0x02}) + B({0x05}) +
         B({0x81, 0x0d, 0xfb, 0x38, 0xd2, 0x04, 0xd2}) + Le(kDoc.size(), 4) + kDoc;
}
std::string NullRow(uint32_t id) { return B({0x7e}) + Le(id, 4); }  // id, then six NULLs

// Rows v2 post-header: table id, flags, extra-data length (counting itself)
// and extra data; then the column count and the columns-present bitmap(s).
std::string RowsBody(uint64_t table, uint16_t flags, std::string_view extra,
                     std::string_view bitmaps, std::string_view rows) {
  return Le(table, 6) + Le(flags, 2) + Le(2 + extra.size(), 2) + std::string(extra) +
         std::string(bitmaps) + std::string(rows);
}

using Collector = testing::RecordCollector;

const proto::Value& Col(const google::protobuf::RepeatedPtrField<proto::Column>& cols,
                        std::string_view name) {
  for (const auto& c : cols)
    if (c.name() == name) return c.value();
  ADD_FAILURE() << "no column " << name;
  static const proto::Value kNone;
  return kNone;
}

class MysqlFormatsTest : public ::testing::Test {
 protected:
  // Builds an event at the current position (log_pos = its end) with a
  // CRC when the FDE said so.
  std::string Ev(uint8_t type, std::string_view body, uint16_t flags = 0) const {
    const uint32_t size = kHeaderSize + body.size() + (crc_ ? kChecksumSize : 0);
    return Event(type, body, static_cast<uint32_t>(pos_ + size), flags, crc_);
  }
  Status Feed(std::string_view event) {
    RawEvent e{event, kFile, pos_};
    pos_ += event.size();
    return decoder_.Decode(e, &sink_);
  }
  void Put(uint8_t type, std::string_view body, uint16_t flags = 0) {
    Status st = Feed(Ev(type, body, flags));
    ASSERT_TRUE(st.ok()) << EventTypeName(type) << ": " << st.ToString();
  }
  void Start(bool crc = true) {
    crc_ = crc;
    Status st = Feed(Fde(crc));
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  void Begin(int64_t gno) {
    Put(T(EventType::kGtid), GtidBody(gno));
    Put(T(EventType::kQuery), QueryBody("shop", "BEGIN"));
  }
  std::string At(uint64_t pos) const { return std::string(kFile) + " at " + std::to_string(pos); }

  Decoder decoder_{DecoderOptions{}};
  Collector sink_;
  uint64_t pos_ = 4;
  bool crc_ = true;
};

TEST_F(MysqlFormatsTest, WriteRowsV2WithOptionalMetadataAndExtraData) {
  Start();
  Begin(23);
  Put(T(EventType::kRowsQuery), "\x1dINSERT INTO items VALUES (..)");
  Put(T(EventType::kTableMap), ItemsMap());
  // Extra row info: PART (1) with partition id 3 (rows_event.cpp Rows_event).
  Put(T(EventType::kWriteRowsV2),
      RowsBody(kItemsId, 1, B({0x01, 0x03, 0x00}), Packed(7) + "\x7f", FullRow() + NullRow(8)));
  Put(T(EventType::kXid), Le(4242, 8));
  const uint64_t end = pos_;

  // The table's shape goes first, as MySQL declares the columns the map
  // describes (VARCHAR of 80 bytes in utf8mb4 is VARCHAR(20)).
  ASSERT_EQ(sink_.schemas.size(), 1u);
  const proto::ChangeRecord& s = sink_.schemas[0];
  EXPECT_EQ(s.txn().seq(), 0u);
  EXPECT_EQ(s.db(), "shop");
  EXPECT_EQ(s.table(), "items");
  ASSERT_EQ(s.schema().columns_size(), 7);
  const char* const kTypes[] = {
      "int unsigned",     "smallint",      "varchar(20)", "enum('red','green','blue')",
      "set('a','b','c')", "decimal(14,4)", "json"};
  const char* const kNames[] = {"id", "qty", "name", "color", "tags", "price", "doc"};
  for (int i = 0; i < 7; ++i) {
    const proto::ColumnShape& c = s.schema().columns(i);
    EXPECT_EQ(c.name(), kNames[i]);
    EXPECT_EQ(c.sql_type(), kTypes[i]) << kNames[i];
    EXPECT_EQ(c.nullable(), i != 0) << kNames[i];
    EXPECT_EQ(c.charset(), i >= 2 && i <= 4 ? "utf8mb4" : "") << kNames[i];
  }
  ASSERT_EQ(s.schema().pk_size(), 1);
  EXPECT_EQ(s.schema().pk(0), "id");
  EXPECT_TRUE(s.schema().names_known());

  ASSERT_EQ(sink_.records.size(), 2u);
  const proto::ChangeRecord& r = sink_.records[0];
  EXPECT_EQ(r.op(), proto::OP_INSERT);
  EXPECT_EQ(r.db(), "shop");
  EXPECT_EQ(r.table(), "items");
  ASSERT_EQ(r.pk_size(), 1);
  EXPECT_EQ(r.pk(0), "id");
  EXPECT_EQ(r.gtid(), std::string(kUuidText) + ":23");
  EXPECT_EQ(r.ts(), kTime);
  EXPECT_EQ(r.pos().file(), kFile);
  EXPECT_EQ(r.before_size(), 0);
  ASSERT_EQ(r.after_size(), 7);
  EXPECT_TRUE(r.after(0).is_unsigned());
  EXPECT_EQ(Col(r.after(), "id").uint64(), 7u);
  EXPECT_FALSE(r.after(1).is_unsigned());
  EXPECT_EQ(Col(r.after(), "qty").int64(), -3);
  EXPECT_EQ(Col(r.after(), "name").text(), "widget");
  EXPECT_EQ(Col(r.after(), "color").enum_label(), "green");
  EXPECT_EQ(Col(r.after(), "tags").enum_label(), "a,c");
  EXPECT_EQ(Col(r.after(), "price").decimal(), "1234567890.1234");
  EXPECT_EQ(Col(r.after(), "doc").json(), kDocText);
  EXPECT_EQ(r.after(6).mysql_type(), 245u);

  const proto::ChangeRecord& n = sink_.records[1];
  EXPECT_EQ(Col(n.after(), "id").uint64(), 8u);
  for (int i = 1; i < 7; ++i) EXPECT_TRUE(n.after(i).value().is_null()) << i;

  ASSERT_EQ(sink_.ends.size(), 1u);
  EXPECT_EQ(sink_.ends[0].gtid, std::string(kUuidText) + ":23");
  EXPECT_EQ(sink_.ends[0].pos, end);
  EXPECT_EQ(sink_.ends[0].records, 3u);  // the schema record and two rows
  EXPECT_TRUE(sink_.warnings.empty());
}

TEST_F(MysqlFormatsTest, UpdateAndDeleteRowsV2UnderAnonymousGtid) {
  Start();
  // ANONYMOUS_GTID: same layout, uuid zero, gno 0 (gtid_mode=OFF).
  Put(T(EventType::kAnonymousGtid), GtidBody(0, std::string(16, '\0')));
  Put(T(EventType::kQuery), QueryBody("shop", "BEGIN"));
  Put(T(EventType::kTableMap), ItemsMap());
  // After image: qty 10, name 'gadget', tags 'b'; the rest as before.
  const std::string after = B({0x00}) + Le(7, 4) + Le(10, 2) + "\x06gadget" + B({0x02, 0x02}) +
                            B({0x81, 0x0d, 0xfb, 0x38, 0xd2, 0x04, 0xd2}) + Le(kDoc.size(), 4) +
                            kDoc;
  Put(T(EventType::kUpdateRowsV2),
      RowsBody(kItemsId, 0, "", Packed(7) + "\x7f\x7f", FullRow() + after));
  Put(T(EventType::kDeleteRowsV2), RowsBody(kItemsId, 1, "", Packed(7) + "\x7f", NullRow(8)));
  Put(T(EventType::kXid), Le(4243, 8));

  ASSERT_EQ(sink_.records.size(), 2u);
  const proto::ChangeRecord& u = sink_.records[0];
  EXPECT_EQ(u.op(), proto::OP_UPDATE);
  EXPECT_EQ(u.gtid(), "");
  EXPECT_EQ(Col(u.before(), "qty").int64(), -3);
  EXPECT_EQ(Col(u.before(), "tags").enum_label(), "a,c");
  EXPECT_EQ(Col(u.after(), "qty").int64(), 10);
  EXPECT_EQ(Col(u.after(), "name").text(), "gadget");
  EXPECT_EQ(Col(u.after(), "tags").enum_label(), "b");
  EXPECT_EQ(Col(u.after(), "doc").json(), kDocText);
  const proto::ChangeRecord& d = sink_.records[1];
  EXPECT_EQ(d.op(), proto::OP_DELETE);
  EXPECT_EQ(Col(d.before(), "id").uint64(), 8u);
  EXPECT_TRUE(Col(d.before(), "doc").is_null());
  EXPECT_EQ(d.after_size(), 0);
  ASSERT_EQ(sink_.ends.size(), 1u);
  EXPECT_EQ(sink_.ends[0].gtid, "");
  EXPECT_EQ(sink_.ends[0].records, 3u);  // the schema record and two rows
}

// shop.docs (id INT PK, doc JSON), table id 114, binlog_row_value_options=
// PARTIAL_JSON: UPDATE docs SET doc = JSON_REMOVE(JSON_SET(JSON_REPLACE(
// doc, '$.a', 2), '$.c', 'new'), '$.b[0]').
constexpr uint64_t kDocsId = 114;
std::string DocsMap() {
  return Le(kDocsId, 6) + Le(1, 2) + "\x04shop" + '\0' +
         "\x04"
         "docs" +
         '\0' + Packed(2) + B({0x03, 0xf5}) + Packed(1) + B({0x04}) + B({0x02}) +
         Tlv(1, B({0x00})) + Tlv(4, Str("id") + Str("doc")) + Tlv(8, Packed(0));
}

TEST_F(MysqlFormatsTest, PartialUpdateRowsAppliesJsonDiffs) {
  Start();
  Begin(25);
  Put(T(EventType::kTableMap), DocsMap());
  // Json_diff::write_binary: operation, path (packed length + text), value
  // (packed length + binary JSON) unless REMOVE.
  const std::string diffs = B({0x00}) + Str("$.a") + Str(B({0x05, 0x02, 0x00})) +  // REPLACE 2
                            B({0x01}) + Str("$.c") + Str("\x0c\x03new") +          // INSERT "new"
                            B({0x02}) + Str("$.b[0]");                             // REMOVE
  const std::string row1 = B({0x00}) + Le(1, 4) + Le(kDoc.size(), 4) + kDoc +      // before image
                           Packed(1) + B({0x01}) +  // value_options PARTIAL_JSON, partial bits
                           B({0x00}) + Le(1, 4) + Le(diffs.size(), 4) + diffs;
  // A second row whose JSON was replaced whole: value_options 0, no bits.
  const std::string row2 = B({0x00}) + Le(2, 4) + Le(5, 4) + B({0x02, 0x00, 0x00, 0x04, 0x00}) +
                           Packed(0) + B({0x00}) + Le(2, 4) + Le(2, 4) + B({0x04, 0x01});
  Put(T(EventType::kPartialUpdateRows),
      RowsBody(kDocsId, 1, "", Packed(2) + "\x03\x03", row1 + row2));
  Put(T(EventType::kXid), Le(1, 8));

  ASSERT_EQ(sink_.records.size(), 2u);
  EXPECT_EQ(sink_.records[0].op(), proto::OP_UPDATE);
  EXPECT_EQ(Col(sink_.records[0].before(), "doc").json(), kDocText);
  EXPECT_EQ(Col(sink_.records[0].after(), "doc").json(), R"({"a": 2, "b": ["x"], "c": "new"})");
  EXPECT_EQ(Col(sink_.records[0].after(), "id").int64(), 1);
  EXPECT_EQ(Col(sink_.records[1].before(), "doc").json(), "[]");
  EXPECT_EQ(Col(sink_.records[1].after(), "doc").json(), "true");
}

// Inner events of a payload: no CRC; TRANSACTION_PAYLOAD header fields in
// the order Transaction_payload::encode writes them, then the payload.
std::string PayloadBody(std::string_view inner, bool zstd_stream, bool compress) {
  std::string payload(inner);
  if (compress) {
    payload.assign(ZSTD_compressBound(inner.size()), '\0');
    size_t n;
    if (zstd_stream) {  // as Zstd_comp: ZSTD_compressStream + ZSTD_endStream
      ZSTD_CStream* z = ZSTD_createCStream();
      ZSTD_initCStream(z, 3);
      ZSTD_outBuffer out{payload.data(), payload.size(), 0};
      ZSTD_inBuffer in{inner.data(), inner.size(), 0};
      ZSTD_compressStream(z, &out, &in);
      ZSTD_endStream(z, &out);
      ZSTD_freeCStream(z);
      n = out.pos;
    } else {  // a pledged size: the frame carries the content size
      n = ZSTD_compress(payload.data(), payload.size(), inner.data(), inner.size(), 3);
    }
    payload.resize(n);
  }
  auto field = [](int type, uint64_t v) { return Packed(type) + Str(Packed(v)); };
  std::string b = field(2, compress ? 0 : 255);  // compression type: ZSTD 0, NONE 255
  if (compress) b += field(3, inner.size());     // uncompressed size
  return b + field(1, payload.size()) + Packed(0) + payload;
}

std::string PayloadInner() {
  const std::string one_row = B({0x7e}) + Le(9, 4);
  return Event(T(EventType::kQuery), QueryBody("shop", "BEGIN"), 0, 0, false) +
         Event(T(EventType::kTableMap), ItemsMap(), 0, 0, false) +
         Event(T(EventType::kWriteRowsV2), RowsBody(kItemsId, 1, "", Packed(7) + "\x7f", one_row),
               0, 0, false) +
         Event(T(EventType::kXid), Le(77, 8), 0, 0, false);
}

TEST_F(MysqlFormatsTest, TransactionPayloadZstdStream) {
  const std::string body = PayloadBody(PayloadInner(), true, true);
  // As MySQL's streaming compressor writes it: no content size in the frame.
  const size_t magic = body.find("\x28\xb5\x2f\xfd");
  ASSERT_NE(magic, std::string::npos);
  EXPECT_EQ(ZSTD_getFrameContentSize(body.data() + magic, body.size() - magic),
            ZSTD_CONTENTSIZE_UNKNOWN);
  Start();
  Put(T(EventType::kGtid), GtidBody(24));
  Put(T(EventType::kTransactionPayload), body);
  ASSERT_EQ(sink_.records.size(), 1u);
  EXPECT_EQ(Col(sink_.records[0].after(), "id").uint64(), 9u);
  EXPECT_EQ(sink_.records[0].gtid(), std::string(kUuidText) + ":24");
  ASSERT_EQ(sink_.ends.size(), 1u);
  EXPECT_EQ(sink_.ends[0].gtid, std::string(kUuidText) + ":24");
  EXPECT_EQ(sink_.ends[0].pos, pos_);
  EXPECT_EQ(sink_.ends[0].records, 2u);  // the schema record and the row
}

TEST_F(MysqlFormatsTest, TransactionPayloadZstdWithContentSizeAndUncompressed) {
  Start();
  Put(T(EventType::kGtid), GtidBody(30));
  Put(T(EventType::kTransactionPayload), PayloadBody(PayloadInner(), false, true));
  Put(T(EventType::kGtid), GtidBody(31));
  Put(T(EventType::kTransactionPayload), PayloadBody(PayloadInner(), false, false));
  ASSERT_EQ(sink_.ends.size(), 2u);
  EXPECT_EQ(sink_.ends[1].gtid, std::string(kUuidText) + ":31");
  EXPECT_EQ(sink_.records.size(), 2u);
}

void ExpectPayloadCorrupt(const std::string& body) {
  Decoder decoder{DecoderOptions{}};
  Collector sink;
  const std::string fde = Fde(true);
  const std::string gtid = Event(T(EventType::kGtid), GtidBody(24), 0, 0, true);
  const std::string payload = Event(T(EventType::kTransactionPayload), body, 0, 0, true);
  const uint64_t at = 4 + fde.size() + gtid.size();
  ASSERT_TRUE(decoder.Decode({fde, kFile, 4}, &sink).ok());
  ASSERT_TRUE(decoder.Decode({gtid, kFile, 4 + fde.size()}, &sink).ok());
  Status st = decoder.Decode({payload, kFile, at}, &sink);
  EXPECT_EQ(st.code(), Code::kCorruption) << st.ToString();
  const std::string where = std::string(kFile) + " at " + std::to_string(at);
  EXPECT_NE(st.message().find(where), std::string::npos) << st.ToString();
}

TEST(MysqlPayloadTest, NotZstdIsCorruption) {
  std::string body = PayloadBody(PayloadInner(), true, true);
  const size_t magic = body.find("\x28\xb5\x2f\xfd");  // zstd frame magic, little-endian
  ASSERT_NE(magic, std::string::npos);
  body[magic] ^= 0x01;
  ExpectPayloadCorrupt(body);
}

TEST(MysqlPayloadTest, TruncatedPayloadIsCorruption) {
  const std::string body = PayloadBody(PayloadInner(), true, true);
  ExpectPayloadCorrupt(body.substr(0, body.size() - 4));
}

TEST_F(MysqlFormatsTest, GtidEventTextFromDecoder) {
  Start();
  Begin(23);
  Put(T(EventType::kXid), Le(1, 8));
  ASSERT_EQ(sink_.ends.size(), 1u);
  EXPECT_EQ(sink_.ends[0].gtid, "3e11fa47-71ca-11e1-9e33-c80aa9429562:23");
}

TEST_F(MysqlFormatsTest, IgnoredEventsProduceNothing) {
  Start();
  // PREVIOUS_GTIDS (empty set), HEARTBEAT (artificial, log file name),
  // ROWS_QUERY, and an empty transaction.
  Put(T(EventType::kPreviousGtids), Le(0, 8));
  Put(T(EventType::kHeartbeat), "binlog.000001", kFlagArtificial);
  Begin(40);
  Put(T(EventType::kXid), Le(2, 8));
  EXPECT_TRUE(sink_.records.empty());
  ASSERT_EQ(sink_.ends.size(), 1u);
  EXPECT_EQ(sink_.ends[0].records, 0u);
  EXPECT_TRUE(sink_.warnings.empty());
}

TEST_F(MysqlFormatsTest, IncidentIsAWarning) {
  Start();
  const uint64_t at = pos_;
  // INCIDENT_LOST_EVENTS (1), message length, message.
  Put(T(EventType::kIncident), Le(1, 2) + Str("error writing to the binary log"));
  ASSERT_EQ(sink_.warnings.size(), 1u);
  EXPECT_NE(sink_.warnings[0].find("error writing to the binary log"), std::string::npos);
  EXPECT_NE(sink_.warnings[0].find(At(at)), std::string::npos) << sink_.warnings[0];
}

TEST_F(MysqlFormatsTest, UnknownEventTypeIsSkippedWithAWarning) {
  Start();
  Put(200, "future event");
  ASSERT_EQ(sink_.warnings.size(), 1u);
  EXPECT_NE(sink_.warnings[0].find("200"), std::string::npos);
  // LOG_EVENT_IGNORABLE_F (0x80): the server says it may be skipped silently.
  Put(201, "future event", 0x80);
  EXPECT_EQ(sink_.warnings.size(), 1u);
  Begin(41);
  Put(T(EventType::kXid), Le(3, 8));
  EXPECT_EQ(sink_.ends.size(), 1u);
}

TEST_F(MysqlFormatsTest, FdeWithBinlogInUseFlagAndNoChecksums) {
  // An open binlog's FDE has flag 0x1 set after its CRC was computed; this
  // one also turns checksums off for the events after it.
  crc_ = false;
  ASSERT_TRUE(Feed(Fde(false, kFlagBinlogInUse)).ok());
  Begin(5);
  Put(T(EventType::kTableMap), ItemsMap());
  Put(T(EventType::kWriteRowsV2), RowsBody(kItemsId, 1, "", Packed(7) + "\x7f", NullRow(3)));
  Put(T(EventType::kXid), Le(1, 8));
  ASSERT_EQ(sink_.records.size(), 1u);
  EXPECT_EQ(Col(sink_.records[0].after(), "id").uint64(), 3u);
}

TEST_F(MysqlFormatsTest, BadChecksumNamesFileAndOffset) {
  Start();
  Begin(6);
  Put(T(EventType::kTableMap), ItemsMap());
  std::string ev =
      Ev(T(EventType::kWriteRowsV2), RowsBody(kItemsId, 1, "", Packed(7) + "\x7f", NullRow(3)));
  ev[kHeaderSize + 12] ^= 0x01;
  const uint64_t at = pos_;
  Status st = Feed(ev);
  EXPECT_EQ(st.code(), Code::kCorruption);
  EXPECT_NE(st.message().find(At(at)), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("checksum"), std::string::npos) << st.ToString();
}

TEST_F(MysqlFormatsTest, TruncatedEventIsCorruption) {
  Start();
  const std::string ev = Ev(T(EventType::kXid), Le(1, 8));
  Status st = Feed(std::string_view(ev).substr(0, ev.size() - 6));
  EXPECT_EQ(st.code(), Code::kCorruption) << st.ToString();
}

TEST_F(MysqlFormatsTest, TruncatedRowImageIsCorruption) {
  Start();
  Begin(7);
  Put(T(EventType::kTableMap), ItemsMap());
  const std::string row = FullRow();
  const uint64_t at = pos_;
  // The JSON value's length says 33 bytes, 10 are there; size and CRC agree.
  Status st = Feed(Ev(T(EventType::kWriteRowsV2), RowsBody(kItemsId, 1, "", Packed(7) + "\x7f",
                                                           row.substr(0, row.size() - 23))));
  EXPECT_EQ(st.code(), Code::kCorruption) << st.ToString();
  EXPECT_NE(st.message().find(At(at)), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("column 7"), std::string::npos) << st.ToString();
}

TEST_F(MysqlFormatsTest, RowsForUnknownTableIdIsCorruption) {
  Start();
  Begin(8);
  Put(T(EventType::kTableMap), ItemsMap());
  Status st =
      Feed(Ev(T(EventType::kWriteRowsV2), RowsBody(999, 1, "", Packed(7) + "\x7f", NullRow(1))));
  EXPECT_EQ(st.code(), Code::kCorruption) << st.ToString();
  EXPECT_NE(st.message().find("999"), std::string::npos) << st.ToString();
}

// --- GTID texts (gtid.h) ---

TEST(MysqlGtidTest, UntaggedGtid) {
  Result<std::string> g = ParseMysqlGtid(GtidBody(23));
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(*g, "3e11fa47-71ca-11e1-9e33-c80aa9429562:23");
  // The 25 bytes of flags, uuid and gno are enough (5.6 wrote no more).
  EXPECT_TRUE(ParseMysqlGtid(GtidBody(23).substr(0, 25)).ok());
  EXPECT_EQ(ParseMysqlGtid(GtidBody(23).substr(0, 24)).status().code(), Code::kCorruption);
  EXPECT_EQ(ParseMysqlGtid(GtidBody(0)).status().code(), Code::kCorruption);  // MIN_GNO is 1
  EXPECT_EQ(ParseMysqlGtid(GtidBody(-5)).status().code(), Code::kCorruption);
  EXPECT_EQ(ParseMysqlGtid(GtidBody(INT64_MAX)).status().code(), Code::kCorruption);  // GNO_END
}

// A GTID_TAGGED_LOG_EVENT body for 3e11fa47-71ca-11e1-9e33-c80aa9429562:
// domain_1:65535, every varlen written out by hand (readme.md: 65535 signed
// is f3 ff 0f; a byte >= 0x80 takes two bytes: ((v << 2) | 1) & 0xff, v >> 6).
const std::string kTagged = B({
    0x02,        // serialization_format_version 1
    0x7e,        // message size 63
    0x00,        // last non-ignorable field id: none
    0x00, 0x00,  // field 0, flags 0
    0x02,        // field 1, uuid: 16 varlen bytes
    0x7c, 0x22, 0xe9, 0x03, 0x8e, 0xe2, 0x29, 0x03, 0x22, 0x85, 0x03, 0x79, 0x02, 0x66, 0x21, 0x03,
    0x14, 0xa5, 0x02, 0x84, 0x55, 0x02, 0xc4, 0x04, 0xf3, 0xff, 0x0f,  // field 2, gno
                                                                       // 65535 (zigzag)
    0x06, 0x10, 'd', 'o', 'm', 'a', 'i', 'n', '_', '1',                // field 3, tag (8 bytes)
    0x08, 0x00,                                                        // field 4, last_committed 0
    0x0a, 0x04,                                                        // field 5, sequence_number 1
    0x0c, 0x7f, 0x00, 0x40, 0x1e, 0x18, 0x24, 0x0a, 0x06,              // field 6, 1700000000000000
    0x10, 0xb1, 0x04,        // field 8 (7 left out: equal timestamps), transaction_length 300
    0x12, 0x83, 0xd0, 0x09,  // field 9, immediate_server_version 80400
});

TEST(MysqlGtidTest, TaggedGtid) {
  ASSERT_EQ(kTagged.size(), 63u);
  Result<std::string> g = ParseTaggedGtid(kTagged);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(*g, "3e11fa47-71ca-11e1-9e33-c80aa9429562:domain_1:65535");
}

TEST(MysqlGtidTest, TaggedGtidOptionalAndUnknownFields) {
  // Only fields 1 and 2 and an empty tag: "uuid:gno".
  // gno 1 is zigzag 2, written 0x04; an empty tag is length 0.
  std::string m = B({0x02, 0x00, 0x00}) + kTagged.substr(5, 24) + B({0x04, 0x04, 0x06, 0x00});
  m[1] = static_cast<char>(m.size() << 1);
  Result<std::string> g = ParseTaggedGtid(m);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(*g, std::string(kUuidText) + ":1");
  // A newer writer's ignorable field 12 after field 11 is skipped.
  std::string newer = m + B({0x16, 0x02, 0x18, 0x0e});  // field 11 = 1, field 12 = 7
  newer[1] = static_cast<char>(newer.size() << 1);
  g = ParseTaggedGtid(newer);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(*g, std::string(kUuidText) + ":1");
  // Bytes after the message (the event's end is the message's) are not read.
  EXPECT_TRUE(ParseTaggedGtid(kTagged + "xx").ok());
}

TEST(MysqlGtidTest, TaggedGtidCorrupt) {
  auto code = [](std::string m) { return ParseTaggedGtid(m).status().code(); };
  std::string m = kTagged;
  m[0] = 0x04;  // version 2
  EXPECT_EQ(code(m), Code::kCorruption);
  m = kTagged;
  m[2] = 0x1a;  // a non-ignorable field 13: unknown to 8.4
  EXPECT_EQ(code(m), Code::kCorruption);
  m = kTagged;
  m[1] = static_cast<char>(70 << 1);  // size past the data
  EXPECT_EQ(code(m), Code::kCorruption);
  // Messages cut short (with a matching size): before the gno ends (byte
  // 33) the uuid or gno is missing; inside the tag (35..42) or the
  // timestamp (48..55) a field is split. Field 2 at 29..32, tag at 33..42.
  auto cut = [&](size_t n) {
    std::string c = kTagged.substr(0, n);
    if (n > 1) c[1] = static_cast<char>(n << 1);
    return c;
  };
  for (size_t n = 0; n < 33; ++n) EXPECT_EQ(code(cut(n)), Code::kCorruption) << n;
  for (size_t n : {35, 40, 48, 55}) EXPECT_EQ(code(cut(n)), Code::kCorruption) << n;
  // Optional fields may all be absent: the message ending after the gno is whole.
  EXPECT_EQ(*ParseTaggedGtid(cut(33)), std::string(kUuidText) + ":65535");
  m = kTagged;
  m[30] = 0x00;  // gno 0
  m.erase(31, 2);
  m[1] = static_cast<char>(m.size() << 1);
  EXPECT_EQ(code(m), Code::kCorruption);
  m = kTagged;
  m[35] = '-';  // not a tag character
  EXPECT_EQ(code(m), Code::kCorruption);
  m = kTagged;
  m[34] = 0x42;  // tag length 33
  EXPECT_EQ(code(m), Code::kCorruption);
}

// Enable once decoder.cc calls ParseTaggedGtid for GTID_TAGGED events.
TEST_F(MysqlFormatsTest, TaggedGtidThroughDecoder) {
  Start();
  Put(T(EventType::kGtidTagged), kTagged);
  Put(T(EventType::kQuery), QueryBody("shop", "BEGIN"));
  Put(T(EventType::kXid), Le(1, 8));
  ASSERT_EQ(sink_.ends.size(), 1u);
  EXPECT_EQ(sink_.ends[0].gtid, "3e11fa47-71ca-11e1-9e33-c80aa9429562:domain_1:65535");
}

// shop.vecs (v2 VECTOR(2), t TEXT, v4 VECTOR(4)), no primary key, table id
// 120, utf8mb4_0900_ai_ci (255) for t, binlog_row_metadata=FULL, as MySQL 9
// writes it (init_metadata_fields order):
//   types 242, 252, 242; metadata: VECTOR pack length 4 (Field_vector is a
//   Field_blob with a 4-byte length), TEXT 2, VECTOR 4; null bits 0b111
//   no SIGNEDNESS (no numeric column)
//   DEFAULT_CHARSET: the charset columns are v2, t, v4 (is_character_type
//     counts VECTOR); 63 (binary) is used twice, so it is the default and
//     t, charset column 1, is the exception 255. COLUMN_CHARSET would be 3
//     bytes, DEFAULT_CHARSET 1 + 1 * 2 = 3: init_charset_field picks
//     COLUMN_CHARSET only when strictly shorter.
//   VECTOR_DIMENSIONALITY (13): 2, 4
//   COLUMN_NAME, no ENUM/SET fields, no primary key field (none), and
//   COLUMN_VISIBILITY (12): all three visible, MSB first = 0xe0
constexpr uint64_t kVecsId = 120;
std::string VecsMap() {
  return Le(kVecsId, 6) + Le(1, 2) + "\x04shop" + '\0' + "\x04vecs" + '\0' + Packed(3) +
         B({0xf2, 0xfc, 0xf2}) + Packed(3) + B({0x04, 0x02, 0x04}) + B({0x07}) +
         Tlv(2, Packed(63) + Packed(1) + Packed(255)) + Tlv(13, Packed(2) + Packed(4)) +
         Tlv(4, Str("v2") + Str("t") + Str("v4")) + Tlv(12, B({0xe0}));
}
// float32 little-endian, written out by hand: 1.5 = 0x3fc00000,
// -2.25 = 0xc0100000, 0 = 0, 1 = 0x3f800000, -0.5 = 0xbf000000,
// FLT_MAX = 0x7f7fffff.
const std::string kV2 = B({0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x10, 0xc0});
const std::string kV4 = B({0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x3f,  //
                           0x00, 0x00, 0x00, 0xbf, 0xff, 0xff, 0x7f, 0x7f});

std::vector<float> Floats(const proto::Value& v) {
  EXPECT_EQ(v.kind_case(), proto::Value::kVector);
  return {v.vector().values().begin(), v.vector().values().end()};
}

TEST_F(MysqlFormatsTest, Mysql9VectorTextVectorTableWithFullMetadata) {
  Start();
  Begin(30);
  Put(T(EventType::kTableMap), VecsMap());
  // Row 1: ([1.5, -2.25], 'hello', [0, 1, -0.5, FLT_MAX]);
  // row 2: (NULL, '', [0, 1, -0.5, FLT_MAX]).
  const std::string rows = B({0x00}) + Le(8, 4) + kV2 + Le(5, 2) + "hello" + Le(16, 4) + kV4 +
                           B({0x01}) + Le(0, 2) + Le(16, 4) + kV4;
  const std::string event = RowsBody(kVecsId, 1, "", Packed(3) + "\x07", rows);
  Put(T(EventType::kWriteRowsV2), event);
  Put(T(EventType::kXid), Le(30, 8));

  ASSERT_EQ(sink_.records.size(), 2u);
  const proto::ChangeRecord& r = sink_.records[0];
  ASSERT_EQ(r.after_size(), 3);
  EXPECT_EQ(r.after(0).name(), "v2");
  EXPECT_EQ(r.after(0).mysql_type(), 242u);
  EXPECT_EQ(Floats(Col(r.after(), "v2")), (std::vector<float>{1.5f, -2.25f}));
  EXPECT_EQ(Col(r.after(), "t").text(), "hello");
  EXPECT_EQ(Floats(Col(r.after(), "v4")), (std::vector<float>{0.0f, 1.0f, -0.5f, 3.40282347e38f}));
  const proto::ChangeRecord& n = sink_.records[1];
  EXPECT_TRUE(Col(n.after(), "v2").is_null());
  EXPECT_EQ(Col(n.after(), "t").text(), "");
  EXPECT_EQ(Floats(Col(n.after(), "v4")).size(), 4u);
  EXPECT_TRUE(sink_.warnings.empty());

  // The ingest workers' wire bytes are protobuf's for the same rows.
  Decoder planner{DecoderOptions{}};
  EventPlan plan;
  plan.file = std::string(kFile);
  uint64_t pos = 4;
  // The plan's rows action points into the last event: keep them all.
  const std::vector<std::string> events = {Fde(true), Ev(T(EventType::kTableMap), VecsMap()),
                                           Ev(T(EventType::kWriteRowsV2), event)};
  for (const std::string& e : events) {
    plan.Clear();
    ASSERT_TRUE(planner.Plan(RawEvent{e, kFile, pos}, &plan).ok());
    pos += e.size();
  }
  ASSERT_GE(plan.size, 1u);  // the rows, and the statement's end outside BEGIN
  ASSERT_EQ(plan.actions[0].kind, EventPlan::Action::kRows);
  EXPECT_EQ(sluice::testing::CompareRowEncodings(plan.actions[0], kFile, true), "");
}

// Before MySQL 9's charset rule: the TEXT column alone was counted, so the
// DEFAULT_CHARSET exception for charset column 1 named no column.
TEST_F(MysqlFormatsTest, Mysql9VectorColumnsCountAsCharsetColumns) {
  Start();
  // COLUMN_CHARSET form too: one collation per charset column, three here.
  std::string map = Le(kVecsId, 6) + Le(1, 2) + "\x04shop" + '\0' + "\x04vecs" + '\0' + Packed(3) +
                    B({0xf2, 0xfc, 0xf2}) + Packed(3) + B({0x04, 0x02, 0x04}) + B({0x07}) +
                    Tlv(3, Packed(63) + Packed(45) + Packed(63)) +
                    Tlv(4, Str("v2") + Str("t") + Str("v4"));
  Begin(31);
  Put(T(EventType::kTableMap), map);
  Put(T(EventType::kWriteRowsV2),
      RowsBody(kVecsId, 1, "", Packed(3) + "\x07",
               B({0x00}) + Le(8, 4) + kV2 + Le(1, 2) + "x" + Le(16, 4) + kV4));
  ASSERT_EQ(sink_.records.size(), 1u);
  EXPECT_EQ(Col(sink_.records[0].after(), "t").text(), "x");  // collation 45: a text column
  EXPECT_EQ(Floats(Col(sink_.records[0].after(), "v2")), (std::vector<float>{1.5f, -2.25f}));
}

TEST_F(MysqlFormatsTest, VectorOfAPartialFloatIsCorruption) {
  Start();
  Begin(32);
  Put(T(EventType::kTableMap), VecsMap());
  // v2 announces 7 bytes: not a whole number of float32s.
  Status st = Feed(Ev(T(EventType::kWriteRowsV2),
                      RowsBody(kVecsId, 1, "", Packed(3) + "\x07",
                               B({0x00}) + Le(7, 4) + kV2.substr(0, 7) + Le(0, 2) + Le(0, 4))));
  EXPECT_EQ(st.code(), Code::kCorruption) << st.ToString();
  EXPECT_NE(st.ToString().find("float32"), std::string::npos) << st.ToString();
  EXPECT_NE(st.ToString().find("column 1"), std::string::npos) << st.ToString();
}

}  // namespace
}  // namespace sluice::binlog
