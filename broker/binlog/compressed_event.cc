#include "broker/binlog/compressed_event.h"

#include <zlib.h>

#include <algorithm>
#include <memory>

namespace sluice::binlog {
namespace {

constexpr uint8_t kRowsHeaderLenV1 = 8;   // table id (6), flags (2)
constexpr uint8_t kRowsHeaderLenV2 = 10;  // + extra-data length (2)
constexpr uint8_t kQueryHeaderLen = 13;   // thread id, exec time, db len, error, status len
// deflate never does better than about 1032:1 (zlib's FAQ, "maximum
// compression ratio"): a length beyond that cannot be in the stream.
constexpr uint64_t kMaxZlibRatio = 1032;

uint8_t U8(EventType t) { return static_cast<uint8_t>(t); }

// Inflates the compressed part (header byte, big-endian length, zlib stream)
// and appends exactly the announced number of bytes to *out.
Status Inflate(std::string_view in, std::string_view what, std::string* out) {
  auto fail = [&](const std::string& why) {
    return Status::Corruption(std::string(what) + ": " + why);
  };
  if (in.empty()) return fail("no compressed part");
  const auto head = static_cast<uint8_t>(in[0]);
  const unsigned alg = (head >> 4) & 0x07, lenlen = head & 0x07;
  if (!(head & 0x80)) return fail("compressed-part header byte has no 0x80 flag");
  if (alg != 0) return fail("compression algorithm " + std::to_string(alg) + " is unknown");
  if (lenlen < 1 || lenlen > 4) {
    return fail("uncompressed length of " + std::to_string(lenlen) + " bytes");
  }
  if (in.size() < 1 + lenlen) return fail("truncated in the uncompressed length");
  uint64_t len = 0;
  for (unsigned i = 0; i < lenlen; ++i) len = len << 8 | static_cast<uint8_t>(in[1 + i]);
  std::string_view stream = in.substr(1 + lenlen);
  if (len == 0) return fail("uncompressed length 0");
  if (len > kMaxUncompressedEventSize) {
    return fail("uncompressed length " + std::to_string(len) + " is beyond any event");
  }
  if (len > stream.size() * kMaxZlibRatio + 64) {
    return fail("announces " + std::to_string(len) + " bytes, more than " +
                std::to_string(stream.size()) + " bytes of zlib can hold");
  }
  z_stream z{};
  if (inflateInit(&z) != Z_OK) return Status::Internal("out of memory for a zlib stream");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(stream.data()));
  z.avail_in = static_cast<uInt>(stream.size());  // < 4 GiB: an event's size is 32 bits
  const size_t start = out->size();
  uint64_t produced = 0;
  char spare;  // past the announced size: only to see whether more comes out
  int ret = Z_OK;
  while (ret != Z_STREAM_END) {
    // The buffer grows with what really comes out, up to the announced size.
    uint64_t room = 0;
    if (produced < len) {
      room = std::min<uint64_t>(len - produced, std::max<uint64_t>(65536, produced));
      out->resize(start + produced + room);
      z.next_out = reinterpret_cast<Bytef*>(out->data() + start + produced);
      z.avail_out = static_cast<uInt>(room);
    } else {
      z.next_out = reinterpret_cast<Bytef*>(&spare);
      z.avail_out = 1;
    }
    const uInt avail_before = z.avail_out;
    ret = inflate(&z, Z_NO_FLUSH);
    const uint64_t got = avail_before - z.avail_out;
    if (produced == len && got != 0) {
      return fail("holds more than the announced " + std::to_string(len) + " bytes");
    }
    produced += got;
    out->resize(start + produced);
    if (ret == Z_NEED_DICT || ret == Z_DATA_ERROR || ret == Z_STREAM_ERROR) {
      return fail(std::string("damaged zlib stream: ") + (z.msg != nullptr ? z.msg : "error"));
    }
    if (ret == Z_MEM_ERROR) return Status::Internal("out of memory inflating " + std::string(what));
    if (ret != Z_STREAM_END && z.avail_in == 0 && z.avail_out != 0) {
      return fail("zlib stream truncated");
    }
  }
  if (produced != len) {
    return fail("announces " + std::to_string(len) + " bytes uncompressed, holds " +
                std::to_string(produced));
  }
  if (z.avail_in != 0) {
    return fail(std::to_string(z.avail_in) + " bytes after the end of the zlib stream");
  }
  return Status::Ok();
}

}  // namespace

bool IsCompressedEvent(uint8_t type) {
  return type >= U8(EventType::kQueryCompressed) && type <= U8(EventType::kDeleteRowsCompressedV2);
}

Result<uint8_t> UncompressEvent(uint8_t type, std::string_view data, const FormatDescription& fd,
                                std::string* out) {
  const std::string name = EventTypeName(type);
  out->clear();
  if (type == U8(EventType::kQueryCompressed)) {
    // query_event_uncompress: post-header (the FDE's length for type 165),
    // status variables, db, NUL, then the compressed statement.
    uint8_t phl = fd.PostHeaderLength(type);
    const uint8_t query_phl = fd.PostHeaderLength(U8(EventType::kQuery));
    if (phl == 0) phl = query_phl != 0 ? query_phl : kQueryHeaderLen;
    if (phl < kQueryHeaderLen || (query_phl != 0 && phl != query_phl)) {
      return Status::Corruption(name + ": post-header length " + std::to_string(phl) +
                                " does not fit a QUERY event's " + std::to_string(query_phl));
    }
    ByteReader r(data);
    uint8_t db_len;
    uint16_t status_len;
    if (!r.Skip(8) || !r.Get(&db_len) || !r.Skip(2) || !r.Get(&status_len) ||
        !r.Skip(phl - kQueryHeaderLen) || !r.Skip(status_len) || !r.Skip(size_t{db_len} + 1)) {
      return Status::Corruption(name + " truncated before its statement");
    }
    const size_t head = data.size() - r.remaining();
    out->assign(data.substr(0, head));
    SLUICE_RETURN_IF_ERROR(Inflate(r.rest(), name + " statement", out));
    return U8(EventType::kQuery);
  }
  if (type < U8(EventType::kWriteRowsCompressedV1) ||
      type > U8(EventType::kDeleteRowsCompressedV2)) {
    return Status::InvalidArgument(name + " is not a compressed event");
  }
  // row_log_event_uncompress: table id and flags, the v2 extra data when
  // the FDE gives the type a v2 post-header, the column count, the
  // columns-present bitmap(s); then the compressed rows.
  uint8_t phl = fd.PostHeaderLength(type);
  if (phl == 0)
    phl = type >= U8(EventType::kWriteRowsCompressedV2) ? kRowsHeaderLenV2 : kRowsHeaderLenV1;
  const bool v2 = phl == kRowsHeaderLenV2;
  // As MariaDB maps them: a 166-168 with a v2 post-header (or 169-171 with
  // a v1 one) lands on no rows type and is refused.
  const int mapped =
      v2 ? type - U8(EventType::kWriteRowsCompressedV2) + U8(EventType::kWriteRowsV2)
         : type - U8(EventType::kWriteRowsCompressedV1) + U8(EventType::kWriteRowsV1);
  const auto plain = static_cast<uint8_t>(mapped);
  const bool is_v2_type =
      plain >= U8(EventType::kWriteRowsV2) && plain <= U8(EventType::kDeleteRowsV2);
  const bool is_v1_type =
      plain >= U8(EventType::kWriteRowsV1) && plain <= U8(EventType::kDeleteRowsV1);
  if (v2 ? !is_v2_type : !is_v1_type) {
    return Status::Corruption(name + " with a " + std::to_string(phl) +
                              "-byte post-header is no rows event MariaDB writes");
  }
  ByteReader r(data);
  if (!r.Skip(kRowsHeaderLenV1)) return Status::Corruption(name + " post-header truncated");
  if (v2) {
    uint16_t extra_len;
    if (!r.Get(&extra_len) || extra_len < 2 || !r.Skip(extra_len - 2)) {
      return Status::Corruption(name + " extra data truncated");
    }
  }
  uint64_t width;
  if (!r.GetPackedInt(&width) || width > r.remaining() * 8) {
    return Status::Corruption(name + " truncated in its column count");
  }
  const bool update =
      plain == U8(EventType::kUpdateRowsV1) || plain == U8(EventType::kUpdateRowsV2);
  const size_t bitmap = (width + 7) / 8;
  if (!r.Skip(bitmap) || (update && !r.Skip(bitmap))) {
    return Status::Corruption(name + " truncated in its column bitmaps");
  }
  const size_t head = data.size() - r.remaining();
  out->assign(data.substr(0, head));
  SLUICE_RETURN_IF_ERROR(Inflate(r.rest(), name + " rows", out));
  return plain;
}

}  // namespace sluice::binlog
