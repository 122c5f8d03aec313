// libFuzzer target for the binlog event decoder (broker/binlog/decoder.h) and
// the GTID parsers (broker/binlog/gtid.h). Binlog bytes from a file or a
// server are untrusted: damage must give an error, never a crash.
//
// Input:
//   byte 0      options: bit 0 selects the format description fed first
//               (0: a real MariaDB 10.11.19 FDE, CRC32 on; 1: MySQL 8.0.36,
//               checksums off); bit 1 rewrites each event's CRC32 to match
//               its bytes while checksums are on (so decoding goes past the
//               check); bit 2 turns column names off
//   then events, each: length (2 bytes, little-endian), then that many
//               bytes (fewer at the end of the input). An event of 19 bytes
//               or more gets its header's event_size set to its length.
// All events go through one Decoder until the first error, as a source
// would hand them over. A second decoder plans the same events, and each
// rows action is decoded both ways (DecodeAction + protobuf, EncodeAction):
// their statuses and bytes must be equal.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "broker/binlog/decoder.h"
#include "broker/binlog/event.h"
#include "broker/binlog/gtid.h"
#include "tests/support/row_encoding_check.h"

namespace {

using sluice::Status;
namespace bl = sluice::binlog;

// The FORMAT_DESCRIPTION event of a MariaDB 10.11.19 binlog (binlog.000002
// at 4, written by Debian's mariadbd with binlog_checksum=CRC32).
constexpr std::string_view kMariaFdeHex =
    "53cf066b0f01000000fc000000000100000000040031302e31312e31392d4d6172696144422d302b64656231327531"
    "2d"
    "6c6f6700000000000000000000000000000000000000000000000013380d000800120004040404120000e400041a08"
    "00"
    "0000080808020000000a0a0a0000000000000a0a0a0000000000000000000000000000000000000000000000000000"
    "00"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "00"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000041304"
    "00"
    "0d0808080a0a0a0119ef868b";

// MySQL 8.0.36 post-header lengths, type 1 first (libbinlogevents
// control_events.cpp, Format_description_event).
constexpr uint8_t kMysqlPostHeaders[] = {0,  13, 0,  8,  0,  0,  0, 0,  4,  0, 4,  0,  0, 0,
                                         98, 0,  4,  26, 8,  0,  0, 0,  8,  8, 8,  2,  0, 0,
                                         0,  10, 10, 10, 42, 42, 0, 18, 52, 0, 10, 40, 0};

uint32_t Crc(std::string_view s) {
  return static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

void Put32(std::string* s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*s)[at + i] = static_cast<char>(v >> (8 * i));
}

std::string FromHex(std::string_view hex) {
  std::string out;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  return out;
}

std::string MysqlFde() {
  std::string e(bl::kHeaderSize, '\0');
  e[4] = static_cast<char>(bl::EventType::kFormatDescription);
  e += std::string("\x04\x00", 2);
  std::string version = "8.0.36";
  version.resize(50, '\0');
  e += version + std::string(4, '\0') + static_cast<char>(bl::kHeaderSize);
  e.append(reinterpret_cast<const char*>(kMysqlPostHeaders), sizeof kMysqlPostHeaders);
  e.push_back('\0');  // checksum algorithm: off
  e += std::string(4, '\0');
  Put32(&e, 9, static_cast<uint32_t>(e.size()));
  Put32(&e, e.size() - 4, Crc(std::string_view(e).substr(0, e.size() - 4)));
  return e;
}

// Rewrites the trailing CRC32 (for an FDE: computed with the "in use" flag
// clear, as ParseFormatDescription checks it).
void FixCrc(std::string* e) {
  if (e->size() < bl::kHeaderSize + bl::kChecksumSize) return;
  std::string copy = *e;
  if (static_cast<uint8_t>(copy[4]) == static_cast<uint8_t>(bl::EventType::kFormatDescription)) {
    copy[17] = static_cast<char>(copy[17] & ~bl::kFlagBinlogInUse);
  }
  Put32(e, e->size() - 4, Crc(std::string_view(copy).substr(0, copy.size() - 4)));
}

// Checks what the decoder promises: records of a transaction are numbered
// 0, 1, 2, ... and carry the position of the file they came from.
class CheckingSink : public bl::DecoderSink {
 public:
  Status OnRow(sluice::proto::ChangeRecord* r) override { return Check(*r); }
  Status OnDdl(sluice::proto::ChangeRecord* r) override { return Check(*r); }
  Status OnTxnEnd(const bl::TxnEnd& end) override {
    if (end.file != "fuzz.000001") __builtin_trap();
    next_seq_ = 0;
    return Status::Ok();
  }
  void OnWarning(const std::string&) override {}

 private:
  Status Check(const sluice::proto::ChangeRecord& r) {
    const uint32_t seq = r.txn().seq();
    if (seq != 0 && seq != next_seq_) __builtin_trap();
    next_seq_ = seq + 1;
    if (r.pos().file() != "fuzz.000001") __builtin_trap();
    return Status::Ok();
  }
  uint32_t next_seq_ = 0;
};

// The GTID parsers on the bodies of the events they are for.
void ParseGtids(std::string_view event, bool crc) {
  if (event.size() < bl::kHeaderSize + (crc ? bl::kChecksumSize : 0)) return;
  std::string_view data = event.substr(bl::kHeaderSize);
  if (crc) data.remove_suffix(bl::kChecksumSize);
  switch (static_cast<bl::EventType>(event[4])) {
    case bl::EventType::kGtid: (void)bl::ParseMysqlGtid(data); break;
    case bl::EventType::kGtidTagged: (void)bl::ParseTaggedGtid(data); break;
    case bl::EventType::kPreviousGtids: (void)bl::ParsePreviousGtids(data); break;
    default: break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string kMariaFde = FromHex(kMariaFdeHex);
  static const std::string kMysqlFde = MysqlFde();
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const uint8_t options = static_cast<uint8_t>(in[0]);
  in.remove_prefix(1);
  const bool mysql = options & 1;
  const bool fix_crc = options & 2;
  bl::DecoderOptions opts;
  opts.column_names = !(options & 4);
  bl::Decoder decoder(opts);
  bl::Decoder planner(opts);
  bl::EventPlan plan;
  CheckingSink sink;
  constexpr std::string_view kFile = "fuzz.000001";

  const std::string& fde = mysql ? kMysqlFde : kMariaFde;
  if (!decoder.Decode({fde, kFile, 4}, &sink).ok()) __builtin_trap();
  if (!planner.Plan({fde, kFile, 4}, &plan).ok()) __builtin_trap();
  bool crc = !mysql;
  uint64_t pos = 4 + fde.size();
  while (in.size() >= 2) {
    const size_t len =
        static_cast<uint8_t>(in[0]) | static_cast<size_t>(static_cast<uint8_t>(in[1])) << 8;
    in.remove_prefix(2);
    std::string event(in.substr(0, len));
    in.remove_prefix(event.size());
    if (event.size() >= bl::kHeaderSize) {
      Put32(&event, 9, static_cast<uint32_t>(event.size()));
      const bool is_fde =
          static_cast<uint8_t>(event[4]) == static_cast<uint8_t>(bl::EventType::kFormatDescription);
      if (fix_crc && (crc || is_fde)) FixCrc(&event);
      if (is_fde) {
        sluice::Result<bl::FormatDescription> f = bl::ParseFormatDescription(event);
        if (f.ok()) crc = f->checksum == bl::ChecksumAlg::kCrc32;
      }
    }
    ParseGtids(event, crc);
    Status st = decoder.Decode({event, kFile, pos}, &sink);
    if (planner.Plan({event, kFile, pos}, &plan).ok()) {
      for (size_t i = 0; i < plan.size; ++i) {
        if (plan.actions[i].kind != bl::EventPlan::Action::kRows) continue;
        if (!sluice::testing::CompareRowEncodings(plan.actions[i], kFile, opts.column_names)
                 .empty()) {
          __builtin_trap();
        }
      }
    }
    if (!st.ok()) break;  // a source stops at the first error
    pos += event.size();
  }
  return 0;
}
