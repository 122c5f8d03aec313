#include "broker/binlog/event.h"

#include <zlib.h>

#include <charconv>
#include <cstring>

namespace sluice::binlog {
namespace {

// FDE body: binlog_version(2) server_version(50) create_timestamp(4)
// header_length(1), then one post-header length per event type.
constexpr size_t kFdeFixedSize = 2 + 50 + 4 + 1;
constexpr size_t kServerVersionSize = 50;

uint32_t Crc32(std::string_view s) {
  return static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

uint32_t Le32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;  // x86-64 and aarch64 are little-endian, as the format is
}

// True when servers of this version put a checksum-algorithm byte (and room
// for a CRC) at the end of their FDE: MySQL since 5.6.1, MariaDB since 5.3.
bool VersionHasChecksum(std::string_view version, bool is_mariadb) {
  int parts[3] = {0, 0, 0};
  const char* p = version.data();
  const char* end = p + version.size();
  for (int i = 0; i < 3 && p < end; ++i) {
    auto r = std::from_chars(p, end, parts[i]);
    if (r.ec != std::errc()) break;
    p = r.ptr;
    if (p < end && *p == '.') ++p;
  }
  int v = parts[0] * 10000 + parts[1] * 100 + parts[2];
  return is_mariadb ? v >= 50300 : v >= 50601;
}

}  // namespace

std::string EventTypeName(uint8_t type) {
  switch (static_cast<EventType>(type)) {
    case EventType::kStartV3: return "START_V3";
    case EventType::kQuery: return "QUERY";
    case EventType::kStop: return "STOP";
    case EventType::kRotate: return "ROTATE";
    case EventType::kIntvar: return "INTVAR";
    case EventType::kSlave: return "SLAVE";
    case EventType::kAppendBlock: return "APPEND_BLOCK";
    case EventType::kDeleteFile: return "DELETE_FILE";
    case EventType::kRand: return "RAND";
    case EventType::kUserVar: return "USER_VAR";
    case EventType::kFormatDescription: return "FORMAT_DESCRIPTION";
    case EventType::kXid: return "XID";
    case EventType::kBeginLoadQuery: return "BEGIN_LOAD_QUERY";
    case EventType::kExecuteLoadQuery: return "EXECUTE_LOAD_QUERY";
    case EventType::kTableMap: return "TABLE_MAP";
    case EventType::kWriteRowsV0: return "WRITE_ROWS_V0";
    case EventType::kUpdateRowsV0: return "UPDATE_ROWS_V0";
    case EventType::kDeleteRowsV0: return "DELETE_ROWS_V0";
    case EventType::kWriteRowsV1: return "WRITE_ROWS_V1";
    case EventType::kUpdateRowsV1: return "UPDATE_ROWS_V1";
    case EventType::kDeleteRowsV1: return "DELETE_ROWS_V1";
    case EventType::kIncident: return "INCIDENT";
    case EventType::kHeartbeat: return "HEARTBEAT";
    case EventType::kIgnorable: return "IGNORABLE";
    case EventType::kRowsQuery: return "ROWS_QUERY";
    case EventType::kWriteRowsV2: return "WRITE_ROWS_V2";
    case EventType::kUpdateRowsV2: return "UPDATE_ROWS_V2";
    case EventType::kDeleteRowsV2: return "DELETE_ROWS_V2";
    case EventType::kGtid: return "GTID";
    case EventType::kAnonymousGtid: return "ANONYMOUS_GTID";
    case EventType::kPreviousGtids: return "PREVIOUS_GTIDS";
    case EventType::kTransactionContext: return "TRANSACTION_CONTEXT";
    case EventType::kViewChange: return "VIEW_CHANGE";
    case EventType::kXaPrepare: return "XA_PREPARE";
    case EventType::kPartialUpdateRows: return "PARTIAL_UPDATE_ROWS";
    case EventType::kTransactionPayload: return "TRANSACTION_PAYLOAD";
    case EventType::kHeartbeatV2: return "HEARTBEAT_V2";
    case EventType::kGtidTagged: return "GTID_TAGGED";
    case EventType::kAnnotateRows: return "ANNOTATE_ROWS";
    case EventType::kBinlogCheckpoint: return "BINLOG_CHECKPOINT";
    case EventType::kMariaGtid: return "GTID (MariaDB)";
    case EventType::kMariaGtidList: return "GTID_LIST";
    case EventType::kStartEncryption: return "START_ENCRYPTION";
    case EventType::kQueryCompressed: return "QUERY_COMPRESSED";
    case EventType::kWriteRowsCompressedV1: return "WRITE_ROWS_COMPRESSED_V1";
    case EventType::kUpdateRowsCompressedV1: return "UPDATE_ROWS_COMPRESSED_V1";
    case EventType::kDeleteRowsCompressedV1: return "DELETE_ROWS_COMPRESSED_V1";
    case EventType::kWriteRowsCompressedV2: return "WRITE_ROWS_COMPRESSED";
    case EventType::kUpdateRowsCompressedV2: return "UPDATE_ROWS_COMPRESSED";
    case EventType::kDeleteRowsCompressedV2: return "DELETE_ROWS_COMPRESSED";
    default: return "UNKNOWN_" + std::to_string(type);
  }
}

Result<EventHeader> ParseHeader(std::string_view bytes) {
  if (bytes.size() < kHeaderSize) {
    return Status::Corruption("event header needs 19 bytes, " + std::to_string(bytes.size()) +
                              " left");
  }
  ByteReader r(bytes);
  EventHeader h;
  (void)(r.Get(&h.timestamp) && r.Get(&h.type) && r.Get(&h.server_id) && r.Get(&h.event_size) &&
         r.Get(&h.log_pos) && r.Get(&h.flags));
  if (h.event_size < kHeaderSize) {
    return Status::Corruption("event size " + std::to_string(h.event_size) +
                              " is smaller than its 19-byte header");
  }
  return h;
}

FormatDescription FormatDescription::Default() {
  FormatDescription f;
  f.server_version = "5.7.0";
  auto set = [&](EventType t, uint8_t n) { f.post_header_len[static_cast<uint8_t>(t) - 1] = n; };
  set(EventType::kQuery, 13);
  set(EventType::kRotate, 8);
  set(EventType::kFormatDescription, 84);
  set(EventType::kTableMap, 8);
  for (auto t : {EventType::kWriteRowsV1, EventType::kUpdateRowsV1, EventType::kDeleteRowsV1})
    set(t, 8);
  for (auto t : {EventType::kWriteRowsV2, EventType::kUpdateRowsV2, EventType::kDeleteRowsV2,
                 EventType::kPartialUpdateRows})
    set(t, 10);
  for (auto t : {EventType::kWriteRowsV0, EventType::kUpdateRowsV0, EventType::kDeleteRowsV0})
    set(t, 6);
  set(EventType::kIncident, 2);
  set(EventType::kGtid, 42);
  set(EventType::kAnonymousGtid, 42);
  set(EventType::kMariaGtid, 19);
  set(EventType::kMariaGtidList, 4);
  set(EventType::kBinlogCheckpoint, 4);
  set(EventType::kTransactionPayload, 0);
  return f;
}

Result<FormatDescription> ParseFormatDescription(std::string_view event) {
  SLUICE_ASSIGN_OR_RETURN(EventHeader h, ParseHeader(event));
  if (h.event_size != event.size()) {
    return Status::Corruption("FORMAT_DESCRIPTION event size " + std::to_string(h.event_size) +
                              " != " + std::to_string(event.size()) + " bytes given");
  }
  std::string_view body = event.substr(kHeaderSize);
  if (body.size() < kFdeFixedSize) {
    return Status::Corruption("FORMAT_DESCRIPTION body is " + std::to_string(body.size()) +
                              " bytes, needs at least " + std::to_string(kFdeFixedSize));
  }
  FormatDescription f;
  ByteReader r(body);
  uint8_t header_len = 0;
  std::string_view version;
  (void)(r.Get(&f.binlog_version) && r.GetBytes(kServerVersionSize, &version) && r.Skip(4) &&
         r.Get(&header_len));
  if (f.binlog_version != 4) {
    return Status::Corruption("binlog version " + std::to_string(f.binlog_version) +
                              " is not supported (MySQL >= 5.0 and MariaDB write version 4)");
  }
  if (header_len != kHeaderSize) {
    return Status::Corruption("FORMAT_DESCRIPTION announces a " + std::to_string(header_len) +
                              "-byte event header; only 19 exists");
  }
  f.server_version.assign(version.data(), strnlen(version.data(), version.size()));
  f.is_mariadb = f.server_version.find("MariaDB") != std::string::npos;

  std::string_view lens = r.rest();
  if (VersionHasChecksum(f.server_version, f.is_mariadb)) {
    // ... post-header lengths, checksum algorithm (1), CRC (4).
    if (lens.size() < 1 + kChecksumSize) {
      return Status::Corruption("FORMAT_DESCRIPTION too short for its checksum algorithm byte");
    }
    auto alg = static_cast<uint8_t>(lens[lens.size() - 1 - kChecksumSize]);
    if (alg != 0 && alg != 1) {
      return Status::Corruption("FORMAT_DESCRIPTION names unknown checksum algorithm " +
                                std::to_string(alg));
    }
    f.checksum = static_cast<ChecksumAlg>(alg);
    lens.remove_suffix(1 + kChecksumSize);
    if (f.checksum == ChecksumAlg::kCrc32) {
      // The server computed the CRC before it set the "in use" flag.
      std::string copy(event);
      uint16_t flags = h.flags & ~kFlagBinlogInUse;
      copy[17] = static_cast<char>(flags & 0xff);
      copy[18] = static_cast<char>(flags >> 8);
      SLUICE_RETURN_IF_ERROR(VerifyChecksum(copy));
    }
  }
  for (size_t i = 0; i < lens.size() && i < f.post_header_len.size(); ++i) {
    f.post_header_len[i] = static_cast<uint8_t>(lens[i]);
  }
  return f;
}

Status VerifyChecksum(std::string_view event) {
  if (event.size() < kHeaderSize + kChecksumSize) {
    return Status::Corruption("event of " + std::to_string(event.size()) +
                              " bytes is too short to carry a checksum");
  }
  uint32_t stored = Le32(event.data() + event.size() - kChecksumSize);
  uint32_t computed = Crc32(event.substr(0, event.size() - kChecksumSize));
  if (stored != computed) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "stored 0x%08x, computed 0x%08x", stored, computed);
    return Status::Corruption(std::string("event checksum mismatch (") + buf + ")");
  }
  return Status::Ok();
}

}  // namespace sluice::binlog
