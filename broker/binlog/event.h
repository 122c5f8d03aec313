// Binlog events: the common header, the format description event, CRC32
// checksums and a bounds-checked reader over an event's bytes.
//
// Layout of every event (binlog version 4, MySQL >= 5.0, MariaDB):
//
//   offset size  field
//   0      4     timestamp   seconds since the Unix epoch, little-endian
//   4      1     type        EventType
//   5      4     server_id
//   9      4     event_size  header + post-header + body (+ checksum)
//   13     4     log_pos     end of the event in the source's file; 0 on
//                            some MariaDB events and on artificial ones
//   17     2     flags       0x0001 binlog in use (FDE only), 0x0020 artificial
//   19     ..    post-header (length from the FDE's table), body
//   end-4  4     CRC32 (zlib polynomial) of all bytes before it, when the
//                FDE's checksum algorithm is CRC32
//
// Events are walked by event_size, never by log_pos (relay logs and MariaDB
// artificial events carry other positions).
//
// Thread safety: values and pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace sluice::binlog {

enum class EventType : uint8_t {
  kUnknown = 0,
  kStartV3 = 1,
  kQuery = 2,
  kStop = 3,
  kRotate = 4,
  kIntvar = 5,
  kSlave = 7,
  kAppendBlock = 9,
  kDeleteFile = 11,
  kRand = 13,
  kUserVar = 14,
  kFormatDescription = 15,
  kXid = 16,
  kBeginLoadQuery = 17,
  kExecuteLoadQuery = 18,
  kTableMap = 19,
  kWriteRowsV0 = 20,
  kUpdateRowsV0 = 21,
  kDeleteRowsV0 = 22,
  kWriteRowsV1 = 23,
  kUpdateRowsV1 = 24,
  kDeleteRowsV1 = 25,
  kIncident = 26,
  kHeartbeat = 27,
  kIgnorable = 28,
  kRowsQuery = 29,
  kWriteRowsV2 = 30,
  kUpdateRowsV2 = 31,
  kDeleteRowsV2 = 32,
  kGtid = 33,
  kAnonymousGtid = 34,
  kPreviousGtids = 35,
  kTransactionContext = 36,
  kViewChange = 37,
  kXaPrepare = 38,
  kPartialUpdateRows = 39,
  kTransactionPayload = 40,
  kHeartbeatV2 = 41,
  kGtidTagged = 42,
  // MariaDB
  kAnnotateRows = 160,
  kBinlogCheckpoint = 161,
  kMariaGtid = 162,
  kMariaGtidList = 163,
  kStartEncryption = 164,
  kQueryCompressed = 165,
  // MariaDB's names: *_COMPRESSED_EVENT_V1 (166-168) stand for rows v1
  // (23-25), *_COMPRESSED_EVENT (169-171) for rows v2 (30-32).
  kWriteRowsCompressedV1 = 166,
  kUpdateRowsCompressedV1 = 167,
  kDeleteRowsCompressedV1 = 168,
  kWriteRowsCompressedV2 = 169,
  kUpdateRowsCompressedV2 = 170,
  kDeleteRowsCompressedV2 = 171,
};

// "WRITE_ROWS_V2", or "UNKNOWN_<n>".
std::string EventTypeName(uint8_t type);

constexpr size_t kHeaderSize = 19;
constexpr size_t kChecksumSize = 4;
constexpr uint16_t kFlagBinlogInUse = 0x0001;
constexpr uint16_t kFlagArtificial = 0x0020;
// The 4 bytes every binlog file starts with: 0xfe 'b' 'i' 'n'.
constexpr std::string_view kBinlogMagic{
    "\xfe"
    "bin",
    4};

struct EventHeader {
  uint32_t timestamp = 0;
  uint8_t type = 0;
  uint32_t server_id = 0;
  uint32_t event_size = 0;
  uint32_t log_pos = 0;
  uint16_t flags = 0;
};

// Parses the 19-byte header at the front of `bytes`. Corruption when fewer
// than 19 bytes, or when event_size is below 19.
Result<EventHeader> ParseHeader(std::string_view bytes);

enum class ChecksumAlg : uint8_t { kOff = 0, kCrc32 = 1, kUndefined = 255 };

// What a format description event says about the events that follow it.
struct FormatDescription {
  uint16_t binlog_version = 4;
  std::string server_version;  // "10.11.6-MariaDB-log", "8.0.36"
  bool is_mariadb = false;
  ChecksumAlg checksum = ChecksumAlg::kOff;
  // post_header_len[type - 1]; 0 for types the server did not list.
  std::array<uint8_t, 256> post_header_len{};

  uint8_t PostHeaderLength(uint8_t type) const { return type == 0 ? 0 : post_header_len[type - 1]; }
  // The default description for files whose FDE is not seen yet: MySQL 5.7
  // / MariaDB post-header lengths, no checksums.
  static FormatDescription Default();
};

// Parses a FORMAT_DESCRIPTION event (whole event, header included) and
// verifies its own CRC when it announces CRC32 (computed with the "binlog in
// use" flag cleared, as the server computed it before setting the flag).
Result<FormatDescription> ParseFormatDescription(std::string_view event);

// Verifies the trailing CRC32 of a whole event. Corruption names both sums.
Status VerifyChecksum(std::string_view event);

// A bounds-checked little-endian reader over borrowed bytes. Every Get*
// returns false instead of reading past the end; callers turn that into a
// Corruption that names what they were reading.
class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}

  size_t remaining() const { return in_.size(); }
  std::string_view rest() const { return in_; }
  bool empty() const { return in_.empty(); }

  bool Skip(size_t n) {
    if (n > in_.size()) return false;
    in_.remove_prefix(n);
    return true;
  }
  bool GetBytes(size_t n, std::string_view* out) {
    if (n > in_.size()) return false;
    *out = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  // Little-endian unsigned integer of n (1..8) bytes.
  bool GetLE(size_t n, uint64_t* v) {
    if (n > in_.size() || n > 8) return false;
    uint64_t r = 0;
    for (size_t i = 0; i < n; ++i) r |= uint64_t{static_cast<uint8_t>(in_[i])} << (8 * i);
    in_.remove_prefix(n);
    *v = r;
    return true;
  }
  template <typename T>
  bool Get(T* v) {
    uint64_t r;
    if (!GetLE(sizeof(T), &r)) return false;
    *v = static_cast<T>(r);
    return true;
  }
  // MySQL's length-encoded integer ("packed integer"): < 251 in one byte,
  // 0xfc + 2 bytes, 0xfd + 3 bytes, 0xfe + 8 bytes. 0xfb (NULL) and 0xff
  // are invalid here.
  bool GetPackedInt(uint64_t* v) {
    if (in_.empty()) return false;
    auto b = static_cast<uint8_t>(in_[0]);
    if (b < 251) {
      in_.remove_prefix(1);
      *v = b;
      return true;
    }
    size_t n = b == 0xfc ? 2 : b == 0xfd ? 3 : b == 0xfe ? 8 : 0;
    if (n == 0 || in_.size() < n + 1) return false;
    in_.remove_prefix(1);
    return GetLE(n, v);
  }
  // A packed-integer length followed by that many bytes.
  bool GetPackedString(std::string_view* out) {
    uint64_t n;
    return GetPackedInt(&n) && n <= in_.size() && GetBytes(static_cast<size_t>(n), out);
  }

 private:
  std::string_view in_;
};

}  // namespace sluice::binlog
