// Writes the MySQL seeds of tests/fuzz/corpus/binlog_event/ in the input
// format of binlog_event_fuzz.cc: an options byte, then events as
// { length (2 bytes LE), bytes }. The events are MySQL 8.0/8.4 events without
// checksums (the MySQL FDE the target feeds first turns them off), built as
// tests/broker/binlog/mysql_formats_test.cc builds them, from MySQL's source.
//
// The mariadb_* seeds are not written here: they are real events of a
// MariaDB 10.11.19 binlog (binlog_format=ROW, binlog_row_metadata=FULL) after
//   CREATE DATABASE fz; CREATE TABLE fz.t (id INT UNSIGNED PRIMARY KEY,
//   a SMALLINT, s VARCHAR(20), e ENUM('x','y','z'), st SET('p','q'),
//   d DECIMAL(10,3), ts DATETIME(3), b BLOB, f DOUBLE, bt BIT(5), y YEAR,
//   c CHAR(4) CHARACTER SET latin1); two INSERTs; an UPDATE and a DELETE in
//   one transaction; FLUSH BINARY LOGS.
// The mariadb_compressed_* seeds are written here: MariaDB compressed events
// (log_bin_compress=ON) built as tests/broker/binlog/compressed_event_test.cc
// builds them, for the real MariaDB FDE the target feeds (options bit 1 set:
// the target writes their CRC32s).
//
// Usage: make_binlog_seeds <directory>
#include <zlib.h>
#include <zstd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/binlog_bytes.h"

namespace {

using sluice::testing::B;
using sluice::testing::Le;
using sluice::testing::Packed;
using sluice::testing::Str;
using sluice::testing::Tlv;

// An event without checksum.
std::string Ev(int type, std::string_view body, uint16_t flags = 0) {
  const size_t size = 19 + body.size();
  return Le(1700000000, 4) + Le(type, 1) + Le(1, 4) + Le(size, 4) + Le(0, 4) + Le(flags, 2) +
         std::string(body);
}

const std::string kUuid = B({0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a,
                             0xa9, 0x42, 0x95, 0x62});

std::string Gtid(int type, int64_t gno) {
  return Ev(type, Le(0, 1) + kUuid + Le(static_cast<uint64_t>(gno), 8) + Le(2, 1) + Le(0, 8) +
                      Le(1, 8) + Le(1700000000000000, 7) + Packed(300) + Le(80036, 4));
}

std::string Query(std::string_view sql) {
  const std::string status = B({0x00, 0, 0, 0, 0});
  return Ev(2, Le(9, 4) + Le(0, 4) + Le(4, 1) + Le(0, 2) + Le(status.size(), 2) + status + "shop" +
                   '\0' + std::string(sql));
}

std::string Xid() { return Ev(16, Le(42, 8)); }

// shop.items (see mysql_formats_test.cc) with binlog_row_metadata=FULL.
std::string ItemsMap() {
  std::string b = Le(113, 6) + Le(1, 2) + "\x04shop" + '\0' + "\x05items" + '\0';
  b += Packed(7) + B({0x03, 0x02, 0x0f, 0xfe, 0xfe, 0xf6, 0xf5});
  const std::string meta = B({0x50, 0x00, 0xf7, 0x01, 0xf8, 0x01, 0x0e, 0x04, 0x04});
  b += Packed(meta.size()) + meta + B({0x7e}) + Tlv(1, B({0x80})) + Tlv(2, Packed(255)) +
       Tlv(4, Str("id") + Str("qty") + Str("name") + Str("color") + Str("tags") + Str("price") +
                  Str("doc")) +
       Tlv(10, Packed(255)) + Tlv(5, Packed(3) + Str("a") + Str("b") + Str("c")) +
       Tlv(6, Packed(3) + Str("red") + Str("green") + Str("blue")) + Tlv(8, Packed(0));
  return Ev(19, b);
}

// {"a": 1, "b": [true, "x"]}
const std::string kDoc = B({0x00, 0x02, 0x00, 0x20, 0x00, 0x12, 0x00, 0x01, 0x00, 0x13, 0x00,
                            0x01, 0x00, 0x05, 0x01, 0x00, 0x02, 0x14, 0x00, 'a',  'b',  0x02,
                            0x00, 0x0c, 0x00, 0x04, 0x01, 0x00, 0x0c, 0x0a, 0x00, 0x01, 'x'});

std::string FullRow() {
  return B({0x00}) + Le(7, 4) + Le(0xfffd, 2) + "\x06widget" + B({0x02, 0x05}) +
         B({0x81, 0x0d, 0xfb, 0x38, 0xd2, 0x04, 0xd2}) + Le(kDoc.size(), 4) + kDoc;
}
std::string NullRow(uint32_t id) { return B({0x7e}) + Le(id, 4); }

std::string Rows(int type, uint64_t table, std::string_view extra, std::string_view bitmaps,
                 std::string_view rows) {
  return Ev(type, Le(table, 6) + Le(1, 2) + Le(2 + extra.size(), 2) + std::string(extra) +
                      std::string(bitmaps) + std::string(rows));
}

std::string Interval(int64_t s, int64_t e) { return Le(s, 8) + Le(e, 8); }

std::string Payload(std::string_view inner, bool compress) {
  std::string payload(inner);
  if (compress) {
    payload.assign(ZSTD_compressBound(inner.size()), '\0');
    ZSTD_CStream* z = ZSTD_createCStream();
    ZSTD_initCStream(z, 3);
    ZSTD_outBuffer out{payload.data(), payload.size(), 0};
    ZSTD_inBuffer in{inner.data(), inner.size(), 0};
    ZSTD_compressStream(z, &out, &in);
    ZSTD_endStream(z, &out);
    ZSTD_freeCStream(z);
    payload.resize(out.pos);
  }
  auto field = [](int type, uint64_t v) { return Packed(type) + Str(Packed(v)); };
  std::string b = field(2, compress ? 0 : 255);
  if (compress) b += field(3, inner.size());
  return Ev(40, b + field(1, payload.size()) + Packed(0) + payload);
}

// 3e11fa47-71ca-11e1-9e33-c80aa9429562:domain_1:65535 (mysql_formats_test.cc).
const std::string kTagged = B({
    0x02, 0x7e, 0x00, 0x00, 0x00, 0x02, 0x7c, 0x22, 0xe9, 0x03, 0x8e, 0xe2, 0x29, 0x03, 0x22, 0x85,
    0x03, 0x79, 0x02, 0x66, 0x21, 0x03, 0x14, 0xa5, 0x02, 0x84, 0x55, 0x02, 0xc4, 0x04, 0xf3, 0xff,
    0x0f, 0x06, 0x10, 'd',  'o',  'm',  'a',  'i',  'n',  '_',  '1',  0x08, 0x00, 0x0a, 0x04, 0x0c,
    0x7f, 0x00, 0x40, 0x1e, 0x18, 0x24, 0x0a, 0x06, 0x10, 0xb1, 0x04, 0x12, 0x83, 0xd0, 0x09,
});

// MariaDB events: a CRC32 slot the target fills in (options bit 1).
std::string MariaEv(int type, std::string_view body) {
  return Ev(type, std::string(body) + Le(0, 4));
}

// MariaDB binlog_buf_compress: 0x80 | n, the length in n bytes most
// significant first, then a zlib stream.
std::string Zipped(std::string_view plain) {
  const uint32_t len = static_cast<uint32_t>(plain.size());
  int n = len > 0xffffff ? 4 : len > 0xffff ? 3 : len > 0xff ? 2 : 1;
  std::string out(1, static_cast<char>(0x80 | n));
  for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<char>(len >> (8 * i)));
  uLongf size = compressBound(len);
  std::string z(size, '\0');
  compress(reinterpret_cast<Bytef*>(z.data()), &size, reinterpret_cast<const Bytef*>(plain.data()),
           len);
  z.resize(size);
  return out + z;
}

std::string MariaQueryHead() {
  const std::string status = B({0x00, 0, 0, 0, 0});
  return Le(9, 4) + Le(0, 4) + Le(4, 1) + Le(0, 2) + Le(status.size(), 2) + status + "shop" + '\0';
}

// A MariaDB GTID event 0-1-seq, standalone (DDL) or opening a transaction.
std::string MariaGtid(uint64_t seq, bool standalone) {
  return MariaEv(162, Le(seq, 8) + Le(0, 4) + Le(standalone ? 1 : 0, 1) + std::string(6, '\0'));
}

// The compressed workload: a DDL, then a transaction writing, updating and
// deleting rows of shop.notes (id INT, note VARCHAR(1000)), long and short.
// v2: the 169-171 types with the v2 extra-data block.
std::vector<std::string> MariaCompressed(bool v2) {
  const std::string map =
      MariaEv(19, Le(40, 6) + Le(1, 2) + "\x04shop" + '\0' + "\x05notes" + '\0' + Packed(2) +
                      B({0x03, 0x0f}) + Packed(2) + Le(4000, 2) + B({0x02}) + Tlv(1, B({0x00})) +
                      Tlv(2, Packed(45)) + Tlv(4, Str("id") + Str("note")));
  auto row = [](uint32_t id, std::string_view note) {
    return B({0x00}) + Le(id, 4) + Le(note.size(), 2) + std::string(note);
  };
  const std::string big(300, 'n');
  const std::string head = Le(40, 6) + Le(1, 2) + (v2 ? Le(2, 2) : "");
  const int base = v2 ? 169 : 166;
  return {
      MariaGtid(1, true),
      MariaEv(165, MariaQueryHead() + Zipped("CREATE TABLE notes (id INT, note VARCHAR(1000))")),
      MariaGtid(2, false),
      map,
      MariaEv(base, head + Packed(2) + B({0x03}) + Zipped(row(1, big) + row(2, "short"))),
      MariaEv(base + 1,
              head + Packed(2) + B({0x03, 0x03}) + Zipped(row(2, "short") + row(2, "changed"))),
      MariaEv(base + 2, head + Packed(2) + B({0x03}) + Zipped(row(1, big))),
      MariaEv(16, Le(42, 8))};
}

std::string Seed(int options, const std::vector<std::string>& events) {
  std::string s(1, static_cast<char>(options));
  for (const auto& e : events) s += Le(e.size(), 2) + e;
  return s;
}

constexpr int kMysql = 1;   // options bit 0: MySQL 8.0 FDE, no checksums
constexpr int kFixCrc = 2;  // options bit 1: the target writes each event's CRC32

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <directory>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const std::string after = B({0x00}) + Le(7, 4) + Le(10, 2) + "\x06gadget" + B({0x02, 0x02}) +
                            B({0x81, 0x0d, 0xfb, 0x38, 0xd2, 0x04, 0xd2}) + Le(kDoc.size(), 4) +
                            kDoc;
  const std::string docs_map =
      Ev(19, Le(114, 6) + Le(1, 2) + "\x04shop" + '\0' +
                 "\x04"
                 "docs" +
                 '\0' + Packed(2) + B({0x03, 0xf5}) + Packed(1) + B({0x04, 0x02}) +
                 Tlv(1, B({0x00})) + Tlv(4, Str("id") + Str("doc")) + Tlv(8, Packed(0)));
  const std::string diffs = B({0x00}) + Str("$.a") + Str(B({0x05, 0x02, 0x00})) + B({0x01}) +
                            Str("$.c") + Str("\x0c\x03new") + B({0x02}) + Str("$.b[0]");
  const std::string partial_row = B({0x00}) + Le(1, 4) + Le(kDoc.size(), 4) + kDoc + Packed(1) +
                                  B({0x01, 0x00}) + Le(1, 4) + Le(diffs.size(), 4) + diffs;
  const std::string inner =
      Query("BEGIN") + ItemsMap() + Rows(30, 113, "", Packed(7) + "\x7f", NullRow(9)) + Xid();
  const uint64_t tagged_head = (uint64_t{1} << 56) | (2 << 8) | 1;

  struct {
    const char* name;
    std::string bytes;
  } seeds[] = {
      {"mysql80_rows",
       Seed(kMysql,
            {Ev(35, Le(1, 8) + kUuid + Le(2, 8) + Interval(1, 6) + Interval(7, 8)), Gtid(33, 23),
             Query("BEGIN"), Ev(29, "\x0binsert (..)"), ItemsMap(),
             Rows(30, 113, B({0x01, 0x03, 0x00}), Packed(7) + "\x7f", FullRow() + NullRow(8)),
             Rows(31, 113, "", Packed(7) + "\x7f\x7f", FullRow() + after),
             Rows(32, 113, "", Packed(7) + "\x7f", NullRow(8)), Xid(), Gtid(34, 0),
             Query("CREATE TABLE t2 (i INT)"), Ev(26, Le(1, 2) + Str("lost events")),
             Ev(27, "binlog.000001", 0x20), Ev(200, "future"), Ev(201, "ignorable", 0x80)})},
      {"mysql80_partial_json",
       Seed(kMysql, {Gtid(33, 25), Query("BEGIN"), docs_map,
                     Rows(39, 114, "", Packed(2) + "\x03\x03", partial_row), Xid()})},
      {"mysql80_payload_zstd", Seed(kMysql, {Gtid(33, 24), Payload(inner, true)})},
      {"mysql80_payload_none", Seed(kMysql | 4, {Gtid(33, 26), Payload(inner, false)})},
      {"mysql84_tagged_gtid",
       Seed(kMysql, {Ev(35, Le(tagged_head, 8) + kUuid + B({0x00}) + Le(1, 8) + Interval(1, 6) +
                                kUuid + B({0x10}) + "domain_1" + Le(1, 8) + Interval(1, 4)),
                     Ev(42, kTagged), Query("BEGIN"), ItemsMap(),
                     Rows(30, 113, "", Packed(7) + "\x7f", NullRow(5)), Xid()})},
      {"mysql9_vector",
       Seed(kMysql,
            {Gtid(33, 30), Query("BEGIN"),
             Ev(19, Le(120, 6) + Le(1, 2) + "\x04shop" + '\0' + "\x04vecs" + '\0' + Packed(3) +
                        B({0xf2, 0xfc, 0xf2}) + Packed(3) + B({0x04, 0x02, 0x04, 0x07}) +
                        Tlv(2, Packed(63) + Packed(1) + Packed(255)) +
                        Tlv(13, Packed(2) + Packed(4)) + Tlv(4, Str("v2") + Str("t") + Str("v4")) +
                        Tlv(12, B({0xe0}))),
             Rows(30, 120, "", Packed(3) + "\x07",
                  B({0x00}) + Le(8, 4) + B({0, 0, 0xc0, 0x3f, 0, 0, 0x10, 0xc0}) + Le(5, 2) +
                      "hello" + Le(16, 4) + std::string(12, '\0') + B({0xff, 0xff, 0x7f, 0x7f}) +
                      B({0x01}) + Le(0, 2) + Le(4, 4) + B({0, 0, 0x80, 0x3f})),
             Xid()})},
      // XA (MySQL sql/xa.cc, binlog.cc): XA START, rows, XA END, the
      // XA_PREPARE event (one_phase, formatID, gtrid and bqual lengths, xid),
      // then the second phase as a group of its own: a commit, and a
      // prepare that is rolled back.
      {"mysql80_xa",
       Seed(kMysql,
            {Gtid(33, 40), Query("XA START X'7831',X'',1"), ItemsMap(),
             Rows(30, 113, "", Packed(7) + "\x7f", NullRow(5)), Query("XA END X'7831',X'',1"),
             Ev(38, B({0x00}) + Le(1, 4) + Le(2, 4) + Le(0, 4) + "x1"), Gtid(33, 41),
             Query("XA COMMIT X'7831',X'',1"), Gtid(33, 42), Query("XA START 'x2','b',7"),
             ItemsMap(), Rows(30, 113, "", Packed(7) + "\x7f", NullRow(5)),
             Query("XA END 'x2','b',7"), Ev(38, B({0x00}) + Le(7, 4) + Le(2, 4) + Le(1, 4) + "x2b"),
             Gtid(33, 43), Query("XA ROLLBACK X'7832',X'62',7")})},
      {"mariadb_compressed_v1", Seed(kFixCrc, MariaCompressed(false))},
      {"mariadb_compressed_v2", Seed(kFixCrc, MariaCompressed(true))},
  };
  for (const auto& s : seeds) {
    const std::string path = dir + "/" + s.name;
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(s.bytes.data(), static_cast<std::streamsize>(s.bytes.size()));
    if (!f) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      return 1;
    }
  }
  return 0;
}
