// The formats are in gtid.h.
#include "broker/binlog/gtid.h"

#include <bit>
#include <cstdint>
#include <limits>

#include "broker/binlog/event.h"

namespace sluice::binlog {
namespace {

constexpr size_t kUuidSize = 16;
constexpr size_t kTagMaxLength = 32;  // mysql::gtid::tag_max_length
// MySQL's GNO range: [MIN_GNO, GNO_END).
constexpr int64_t kMinGno = 1;
constexpr int64_t kGnoEnd = std::numeric_limits<int64_t>::max();
// serialization_format_version, the id of a top-level message.
constexpr uint64_t kSerializationVersion = 1;
// Gtid_event::define_fields: ids 0 .. 11.
enum TaggedField : uint64_t {
  kFlags = 0,
  kUuid = 1,
  kGno = 2,
  kTag = 3,
  kLastCommitted = 4,
  kSequenceNumber = 5,
  kImmediateCommitTs = 6,
  kOriginalCommitTs = 7,
  kTransactionLength = 8,
  kImmediateServerVersion = 9,
  kOriginalServerVersion = 10,
  kCommitGroupTicket = 11,
};
constexpr uint64_t kLastKnownField = kCommitGroupTicket;

std::string UuidToText(std::string_view b) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (size_t i = 0; i < kUuidSize; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    const auto v = static_cast<uint8_t>(b[i]);
    s.push_back(kHex[v >> 4]);
    s.push_back(kHex[v & 15]);
  }
  return s;
}

bool GnoInRange(int64_t gno) { return gno >= kMinGno && gno < kGnoEnd; }

Status BadGno(int64_t gno) {
  return Status::Corruption("GTID number " + std::to_string(gno) + " is outside [1, 2^63-1)");
}

// Checks a tag's characters and lowercases it, as mysql::gtid::Tag does.
Result<std::string> CheckTag(std::string_view raw) {
  if (raw.size() > kTagMaxLength) {
    return Status::Corruption("GTID tag of " + std::to_string(raw.size()) +
                              " bytes is longer than 32");
  }
  std::string tag;
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    const bool ok = (c >= 'a' && c <= 'z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok)
      return Status::Corruption("GTID tag has an invalid character at byte " + std::to_string(i));
    tag.push_back(c);
  }
  return tag;
}

// A reader of mysql::serialization varlen integers over borrowed bytes.
class VarlenReader {
 public:
  explicit VarlenReader(std::string_view in) : in_(in) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return in_.size() - pos_; }

  // Reads an unsigned varlen at pos() without moving; false when short.
  bool Peek(uint64_t* v, size_t* n) const {
    if (pos_ >= in_.size()) return false;
    const auto first = static_cast<uint8_t>(in_[pos_]);
    const size_t len = static_cast<size_t>(std::countr_one(first)) + 1;
    if (len > remaining()) return false;
    uint64_t high = 0;
    for (size_t i = 1; i < len; ++i)
      high |= uint64_t{static_cast<uint8_t>(in_[pos_ + i])} << (8 * (i - 1));
    // n bytes carry 7n bits (8 bytes after the first when n = 9).
    *v = len == 9 ? high : (uint64_t{first} >> len) | (high << (8 - len));
    *n = len;
    return true;
  }
  bool GetU64(uint64_t* v) {
    size_t n;
    if (!Peek(v, &n)) return false;
    pos_ += n;
    return true;
  }
  // An unsigned value that must fit in `max` (MySQL refuses wider ones).
  bool GetUnsigned(uint64_t max, uint64_t* v) { return GetU64(v) && *v <= max; }
  bool GetI64(int64_t* v) {
    uint64_t u;
    if (!GetU64(&u)) return false;
    *v = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
    return true;
  }
  bool GetBytes(size_t n, std::string_view* out) {
    if (n > remaining()) return false;
    *out = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

Status Truncated(std::string_view what) {
  return Status::Corruption("GTID_TAGGED event truncated in " + std::string(what));
}

// Reads field `id`'s value from *r.
Status ReadTaggedField(uint64_t id, VarlenReader* r, std::string* uuid, int64_t* gno,
                       std::string* tag) {
  uint64_t u;
  int64_t i;
  switch (id) {
    case kFlags:
      if (!r->GetUnsigned(0xff, &u)) return Truncated("flags");
      return Status::Ok();
    case kUuid:
      uuid->clear();
      for (size_t k = 0; k < kUuidSize; ++k) {
        if (!r->GetUnsigned(0xff, &u)) return Truncated("uuid");
        uuid->push_back(static_cast<char>(u));
      }
      return Status::Ok();
    case kGno:
      if (!r->GetI64(gno)) return Truncated("gno");
      return Status::Ok();
    case kTag: {
      std::string_view raw;
      if (!r->GetU64(&u)) return Truncated("tag length");
      if (u > kTagMaxLength) {
        return Status::Corruption("GTID_TAGGED tag length " + std::to_string(u) +
                                  " is longer than 32");
      }
      if (!r->GetBytes(static_cast<size_t>(u), &raw)) return Truncated("tag");
      SLUICE_ASSIGN_OR_RETURN(*tag, CheckTag(raw));
      return Status::Ok();
    }
    case kLastCommitted:
    case kSequenceNumber:
      if (!r->GetI64(&i)) return Truncated("logical clock");
      return Status::Ok();
    case kImmediateServerVersion:
    case kOriginalServerVersion:
      if (!r->GetUnsigned(0xffffffff, &u)) return Truncated("server version");
      return Status::Ok();
    default:  // timestamps, transaction length, commit group ticket
      if (!r->GetU64(&u)) return Truncated("field " + std::to_string(id));
      return Status::Ok();
  }
}

}  // namespace

Result<std::string> ParseMysqlGtid(std::string_view data) {
  ByteReader r(data);
  uint8_t flags;
  std::string_view uuid;
  int64_t gno;
  if (!r.Get(&flags) || !r.GetBytes(kUuidSize, &uuid) || !r.Get(&gno)) {
    return Status::Corruption("GTID event of " + std::to_string(data.size()) +
                              " bytes is shorter than flags, uuid and gno (25)");
  }
  if (!GnoInRange(gno)) return BadGno(gno);
  return UuidToText(uuid) + ":" + std::to_string(gno);
}

Result<std::string> ParseTaggedGtid(std::string_view data) {
  VarlenReader head(data);
  uint64_t version, size, last_non_ignorable;
  if (!head.GetU64(&version) || !head.GetU64(&size) || !head.GetU64(&last_non_ignorable)) {
    return Truncated("its message header");
  }
  if (version != kSerializationVersion) {
    return Status::Corruption("GTID_TAGGED event has serialization version " +
                              std::to_string(version) + ", not 1");
  }
  if (size < head.pos() || size > data.size()) {
    return Status::Corruption("GTID_TAGGED message size " + std::to_string(size) + " is outside " +
                              std::to_string(head.pos()) + ".." + std::to_string(data.size()));
  }
  if (last_non_ignorable > kLastKnownField + 1) {
    return Status::Corruption("GTID_TAGGED event needs field " +
                              std::to_string(last_non_ignorable - 1) +
                              ", newer than MySQL 8.4's (last is 11)");
  }
  // Fields are read within the message; unknown ones after field 11 are
  // skipped, as MySQL's decoder seeks to the message's end.
  VarlenReader r(data.substr(0, static_cast<size_t>(size)));
  std::string_view skip;
  (void)r.GetBytes(head.pos(), &skip);
  std::string uuid, tag;
  int64_t gno = 0;
  bool have_uuid = false, have_gno = false;
  for (uint64_t id = 0; id <= kLastKnownField && r.remaining() > 0; ++id) {
    uint64_t read_id;
    size_t n;
    if (!r.Peek(&read_id, &n)) return Truncated("a field id");
    if (read_id != id) continue;  // optional field left out
    (void)r.GetU64(&read_id);
    SLUICE_RETURN_IF_ERROR(ReadTaggedField(id, &r, &uuid, &gno, &tag));
    have_uuid |= id == kUuid;
    have_gno |= id == kGno;
  }
  if (!have_uuid || !have_gno) {
    return Status::Corruption(std::string("GTID_TAGGED event has no ") +
                              (have_uuid ? "gno" : "uuid") + " field");
  }
  if (!GnoInRange(gno)) return BadGno(gno);
  std::string text = UuidToText(uuid);
  if (!tag.empty()) text += ":" + tag;
  return text + ":" + std::to_string(gno);
}

Result<std::string> ParsePreviousGtids(std::string_view data) {
  auto corrupt = [](const std::string& what) {
    return Status::Corruption("PREVIOUS_GTIDS event: " + what);
  };
  ByteReader r(data);
  uint64_t head;
  if (!r.Get(&head)) return corrupt("shorter than its 8-byte TSID count");
  const auto format = static_cast<uint8_t>(head >> 56);
  if (format > 1) return corrupt("unknown GTID set format " + std::to_string(format));
  const bool tagged = format == 1;
  const uint64_t n_sids =
      tagged ? (head & 0x00ffffffffffff00ULL) >> 8 : head & 0x00ffffffffffffffULL;

  std::string text;
  std::string_view prev_uuid;
  for (uint64_t s = 0; s < n_sids; ++s) {
    const std::string where = "TSID " + std::to_string(s);
    std::string_view uuid;
    if (!r.GetBytes(kUuidSize, &uuid)) return corrupt(where + " truncated in its uuid");
    std::string tag;
    if (tagged) {
      VarlenReader v(r.rest());
      uint64_t len;
      std::string_view raw;
      if (!v.GetU64(&len) || len > kTagMaxLength || !v.GetBytes(static_cast<size_t>(len), &raw)) {
        return corrupt(where + " has a truncated or over-long tag");
      }
      SLUICE_ASSIGN_OR_RETURN(tag, CheckTag(raw));
      (void)r.Skip(v.pos());
    }
    uint64_t n_intervals;
    if (!r.Get(&n_intervals)) return corrupt(where + " truncated in its interval count");
    if (n_intervals > r.remaining() / 16) {
      return corrupt(where + " announces " + std::to_string(n_intervals) + " intervals, " +
                     std::to_string(r.remaining()) + " bytes are left");
    }
    if (n_intervals == 0) continue;  // MySQL never writes one; nothing to print
    // TSIDs of one uuid share it: "uuid:1-5:tag:1-3" (Gtid_set::to_string).
    if (text.empty() || uuid != prev_uuid) {
      if (!text.empty()) text += ",";
      text += UuidToText(uuid);
    }
    prev_uuid = uuid;
    if (!tag.empty()) text += ":" + tag;
    int64_t last = 0;
    for (uint64_t k = 0; k < n_intervals; ++k) {
      int64_t start = 0, end = 0;
      (void)(r.Get(&start) && r.Get(&end));  // the count was checked above
      if (start <= last || end <= start) {
        return corrupt(where + " interval " + std::to_string(k) + " [" + std::to_string(start) +
                       ", " + std::to_string(end) + ") does not follow " + std::to_string(last));
      }
      last = end;
      text += ":" + std::to_string(start);
      if (end > start + 1) text += "-" + std::to_string(end - 1);
    }
  }
  if (!r.empty()) return corrupt(std::to_string(r.remaining()) + " bytes after the last TSID");
  return text;
}

}  // namespace sluice::binlog
