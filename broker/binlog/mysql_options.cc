// The parts of the replication source that need no server: start
// positions, source URLs and TLS modes, the COM_BINLOG_DUMP_GTID payload,
// reconnect pacing and the position tracking of a dump's events.
#include "broker/binlog/mysql_source.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>

#include "base/coding.h"
#include "broker/binlog/event.h"
#include "broker/binlog/mysql_text.h"

namespace sluice::binlog {

using coding::PutFixed64;
using mysql_text::IsMariadbGtidPos;
using mysql_text::IsSafeFileName;
using mysql_text::IsUuid;
using mysql_text::Lower;
using mysql_text::ParseUint;
using mysql_text::Split;
using mysql_text::Trim;

// ---------------------------------------------------------------------------
// Start positions, URLs, GTID sets.

Result<MysqlStart> MysqlStart::Parse(std::string_view text) {
  text = Trim(text);
  MysqlStart s;
  const std::string lower = Lower(text);
  if (lower == "earliest") return s;
  if (lower == "latest") {
    s.kind = Kind::kLatest;
    return s;
  }
  if (text.size() > 36 && IsUuid(text.substr(0, 36)) && text[36] == ':') {
    SLUICE_RETURN_IF_ERROR(EncodeMysqlGtidSet(text).status());
    s.kind = Kind::kMysqlGtid;
    s.gtid = std::string(text);
    return s;
  }
  if (IsMariadbGtidPos(text)) {
    s.kind = Kind::kMariadbGtid;
    s.gtid = std::string(text);
    s.gtid.erase(std::remove_if(s.gtid.begin(), s.gtid.end(),
                                [](char c) { return std::isspace(static_cast<unsigned char>(c)); }),
                 s.gtid.end());
    return s;
  }
  const size_t colon = text.rfind(':');
  if (colon != std::string_view::npos && IsSafeFileName(text.substr(0, colon)) &&
      ParseUint(text.substr(colon + 1), &s.file_pos.pos) && s.file_pos.pos >= 4) {
    s.kind = Kind::kFilePos;
    s.file_pos.file = std::string(text.substr(0, colon));
    return s;
  }
  return Status::InvalidArgument(
      "start '" + std::string(text) +
      "' is none of: earliest, latest, FILE:POS (POS >= 4), a MySQL GTID set (uuid:1-5,...), "
      "a MariaDB GTID position (domain-server-seq,...)");
}

std::string MysqlStart::ToString() const {
  switch (kind) {
    case Kind::kEarliest: return "earliest";
    case Kind::kLatest: return "latest";
    case Kind::kFilePos: return file_pos.ToString();
    case Kind::kMysqlGtid:
    case Kind::kMariadbGtid: return gtid;
  }
  return "?";
}

Result<std::string> EncodeMysqlGtidSet(std::string_view text) {
  // Gtid_set::encode: n_sids u64, then per sid: uuid (16 bytes), n_intervals
  // u64, then per interval: start u64, end u64 (exclusive).
  std::string out;
  PutFixed64(&out, 0);
  uint64_t n_sids = 0;
  for (std::string_view sid_text : Split(text, ',')) {
    sid_text = Trim(sid_text);
    if (sid_text.empty()) continue;
    auto parts = Split(sid_text, ':');
    if (parts.size() < 2 || !IsUuid(parts[0])) {
      return Status::InvalidArgument("GTID set element '" + std::string(sid_text) +
                                     "' is not uuid:interval[:interval...] (tagged GTIDs are "
                                     "not supported)");
    }
    for (size_t i = 0; i < 36; i += 2) {
      if (parts[0][i] == '-') ++i;
      out.push_back(static_cast<char>(std::stoi(std::string(parts[0].substr(i, 2)), nullptr, 16)));
    }
    PutFixed64(&out, parts.size() - 1);
    for (size_t i = 1; i < parts.size(); ++i) {
      auto range = Split(parts[i], '-');
      uint64_t lo = 0, hi = 0;
      if (range.size() > 2 || !ParseUint(range[0], &lo) ||
          !ParseUint(range.size() == 2 ? range[1] : range[0], &hi) || lo == 0 || hi < lo ||
          hi == UINT64_MAX) {
        return Status::InvalidArgument("GTID interval '" + std::string(parts[i]) + "' in '" +
                                       std::string(sid_text) + "' is not N or N-M with 0 < N <= M");
      }
      PutFixed64(&out, lo);
      PutFixed64(&out, hi + 1);
    }
    ++n_sids;
  }
  std::string n;
  PutFixed64(&n, n_sids);
  out.replace(0, 8, n);
  return out;
}

Result<SslMode> ParseSslMode(std::string_view text) {
  const std::string t = Lower(Trim(text));
  for (auto [name, mode] : {std::pair{"disabled", SslMode::kDisabled},
                            {"preferred", SslMode::kPreferred},
                            {"required", SslMode::kRequired},
                            {"verify-ca", SslMode::kVerifyCa},
                            {"verify-identity", SslMode::kVerifyIdentity}}) {
    if (t == name) return mode;
  }
  return Status::InvalidArgument("ssl-mode '" + std::string(text) +
                                 "' is none of disabled, preferred, required, verify-ca, "
                                 "verify-identity");
}

namespace {

Result<std::string> PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      return Status::InvalidArgument("bad %-escape in '" + std::string(s) + "'");
    }
    out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
    i += 2;
  }
  return out;
}

}  // namespace

Result<MysqlSourceOptions> ParseMysqlUrl(std::string_view url) {
  // The password never goes into an error message.
  auto bad = [](std::string_view why) {
    return Status::InvalidArgument("source URL: " + std::string(why) +
                                   " (expected mysql://user:password@host:port)");
  };
  MysqlSourceOptions o;
  if (url.substr(0, 8) != "mysql://") return bad("not a mysql:// URL");
  std::string_view rest = url.substr(8);
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  const size_t at = rest.rfind('@');
  if (at == std::string_view::npos) return bad("no user");
  std::string_view userinfo = rest.substr(0, at), hostport = rest.substr(at + 1);
  const size_t colon = userinfo.find(':');
  SLUICE_ASSIGN_OR_RETURN(o.user, PercentDecode(userinfo.substr(0, colon)));
  if (colon != std::string_view::npos) {
    SLUICE_ASSIGN_OR_RETURN(o.password, PercentDecode(userinfo.substr(colon + 1)));
  }
  if (o.user.empty()) return bad("no user");
  for (std::string_view one : Split(hostport, ',')) {
    SourceHost h;
    std::string_view port;
    if (!one.empty() && one.front() == '[') {
      const size_t close = one.find(']');
      if (close == std::string_view::npos) return bad("unclosed [ in host");
      h.host = std::string(one.substr(1, close - 1));
      std::string_view after = one.substr(close + 1);
      if (!after.empty()) {
        if (after.front() != ':') return bad("junk after ]");
        port = after.substr(1);
      }
    } else {
      const size_t c = one.rfind(':');
      h.host = std::string(one.substr(0, c));
      if (c != std::string_view::npos) port = one.substr(c + 1);
    }
    if (h.host.empty() || h.host.find('/') != std::string::npos) {
      return bad(o.hosts.empty() ? "no host" : "an empty host in the host list");
    }
    if (!port.empty() && (!ParseUint(port, &h.port) || h.port == 0)) return bad("bad port");
    for (const auto& seen : o.hosts) {
      if (seen.host == h.host && seen.port == h.port) {
        return bad("host " + h.host + ":" + std::to_string(h.port) + " is listed twice");
      }
    }
    o.hosts.push_back(std::move(h));
  }
  o.host = o.hosts.front().host;
  o.port = o.hosts.front().port;
  if (!query.empty()) {
    for (std::string_view kv : Split(query, '&')) {
      const size_t eq = kv.find('=');
      std::string_view key = kv.substr(0, eq);
      SLUICE_ASSIGN_OR_RETURN(
          std::string value,
          PercentDecode(eq == std::string_view::npos ? std::string_view() : kv.substr(eq + 1)));
      if (key == "ssl-mode") {
        SLUICE_ASSIGN_OR_RETURN(o.ssl_mode, ParseSslMode(value));
      } else if (key == "ssl-ca") {
        o.ssl_ca = value;
      } else if (key == "server-public-key") {
        o.server_public_key = value;
      } else {
        return bad("unknown parameter '" + std::string(key) +
                   "' (known: ssl-mode, ssl-ca, server-public-key)");
      }
    }
  }
  return o;
}

Status AddMysqlGtidsFromEvents(const std::vector<std::vector<std::optional<std::string>>>& rows,
                               uint64_t pos, GtidState* state, bool* done, uint64_t* next_from) {
  for (const auto& r : rows) {
    uint64_t at = 0, end = 0;
    if (r.size() < 6 || !r[1] || !r[2] || !r[4] || !ParseUint(*r[1], &at) ||
        !ParseUint(*r[4], &end)) {
      return Status::InvalidArgument("SHOW BINLOG EVENTS gave a row without Pos or End_log_pos");
    }
    const std::string& type = *r[2];
    const std::string info = r[5].value_or("");
    *next_from = end;
    if (type == "Previous_gtids") {
      // The state at the file's start, whatever `pos` is.
      SLUICE_ASSIGN_OR_RETURN(*state, GtidState::Parse(state->ToString() + "," + info));
      continue;
    }
    if (type == "Format_desc") continue;
    if (at >= pos) {
      *done = true;
      return Status::Ok();
    }
    if (type == "Gtid") {
      // "SET @@SESSION.GTID_NEXT= 'uuid:gno'"
      const size_t open = info.find('\'');
      const size_t close = info.rfind('\'');
      if (open == std::string::npos || close <= open) {
        return Status::InvalidArgument("SHOW BINLOG EVENTS: a Gtid event without a GTID: " + info);
      }
      SLUICE_RETURN_IF_ERROR(state->Add(std::string_view(info).substr(open + 1, close - open - 1)));
    }
  }
  return Status::Ok();
}

ReconnectBackoff::ReconnectBackoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
    : initial_(initial),
      max_(max),
      rng_(static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) | 1) {
}

std::chrono::milliseconds ReconnectBackoff::NextDelay() {
  auto d = initial_;
  for (int i = 0; i < attempt_ && d < max_; ++i) d *= 2;
  d = std::min(d, max_);
  ++attempt_;
  rng_ ^= rng_ << 13;  // xorshift64
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  const auto jitter = d.count() / 4 > 0 ? static_cast<int64_t>(rng_ % (d.count() / 4 + 1)) : 0;
  return d - std::chrono::milliseconds(jitter);
}

// ---------------------------------------------------------------------------
// Positions.

Status PositionTracker::OnEvent(std::string_view bytes, RawEvent* event) {
  if (bytes.size() < kHeaderSize) {
    return Status::Corruption("binlog event of " + std::to_string(bytes.size()) +
                              " bytes is shorter than its 19-byte header, after " +
                              pos_.ToString());
  }
  // The common header (event.h) from the type on; all 15 bytes are there.
  ByteReader header(bytes.substr(4));
  uint8_t type = 0;
  uint32_t size = 0, log_pos = 0;
  uint16_t flags = 0;
  (void)(header.Get(&type) && header.Skip(4) && header.Get(&size) && header.Get(&log_pos) &&
         header.Get(&flags));
  const auto kind = static_cast<EventType>(type);
  if (size != bytes.size()) {
    return Status::Corruption("binlog event type " + std::to_string(type) + " after " +
                              pos_.ToString() + " says it has " + std::to_string(size) +
                              " bytes but " + std::to_string(bytes.size()) + " arrived");
  }
  event->bytes = bytes;
  // Heartbeats are not in any file; they say nothing about where we are.
  const bool in_file = kind != EventType::kHeartbeat && kind != EventType::kHeartbeatV2 &&
                       !(flags & kFlagArtificial) && log_pos != 0;
  uint64_t start = pos_.pos;
  if (in_file) {
    if (log_pos < size) {
      return Status::Corruption("binlog event type " + std::to_string(type) + " ends at " +
                                std::to_string(log_pos) + " but has " + std::to_string(size) +
                                " bytes, in " + pos_.file);
    }
    start = log_pos - size;
  }
  if (kind == EventType::kFormatDescription && size >= kHeaderSize + kChecksumSize + 1) {
    // The checksum algorithm byte sits before the 4 CRC bytes, which an FD
    // event always has room for (libbinlogevents get_checksum_alg).
    checksum_ = static_cast<uint8_t>(bytes[size - kChecksumSize - 1]) == 1;
  }
  if (kind == EventType::kRotate) {
    // Body: position u64, then the next file's name (+ CRC32).
    const size_t tail = checksum_ ? kChecksumSize : 0;
    if (size < kHeaderSize + 8 + 1 + tail) {
      return Status::Corruption("ROTATE event of " + std::to_string(size) + " bytes is too short");
    }
    std::string_view name = bytes.substr(kHeaderSize + 8, size - kHeaderSize - 8 - tail);
    if (!IsSafeFileName(name)) {
      return Status::Corruption("ROTATE event names an invalid binlog file (" +
                                std::to_string(name.size()) + " bytes)");
    }
    uint64_t next = 0;
    (void)ByteReader(bytes.substr(kHeaderSize)).Get(&next);  // the size was checked above
    if (!in_file) start = next;  // the fake ROTATE opening a dump: where it continues
    event_file_ = in_file ? pos_.file : std::string(name);
    event->file = event_file_;
    event->pos = start;
    pos_.file.assign(name);
    pos_.pos = next;
    return Status::Ok();
  }
  if (event_file_ != pos_.file) event_file_ = pos_.file;
  event->file = event_file_;
  event->pos = start;
  if (in_file) pos_.pos = log_pos;
  return Status::Ok();
}

}  // namespace sluice::binlog
