#include "broker/binlog/mysql_source.h"

#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <thread>

#include <mysql.h>

#include "base/coding.h"
#include "broker/binlog/event.h"
#include "broker/binlog/mysql_query.h"
#include "broker/binlog/mysql_text.h"

// Start positions, URLs, GTID sets, backoff and PositionTracker are in
// mysql_options.cc; this file is the connection.

namespace sluice::binlog {
namespace {

using coding::PutFixed32;
using coding::PutFixed64;
using mysql_query::MapError;
using mysql_query::Row;
using mysql_query::RunQuery;
using mysql_query::Value;
using mysql_text::IsMariadbGtidPos;
using mysql_text::IsSafeFileName;
using mysql_text::IsUuid;
using mysql_text::Lower;
using mysql_text::ParseUint;
using mysql_text::Split;

// Commands of the replication protocol (MySQL include/my_command.h).
constexpr uint8_t kComBinlogDump = 0x12;
constexpr uint8_t kComRegisterSlave = 0x15;
constexpr uint8_t kComBinlogDumpGtid = 0x1e;

// Packets of a dump: 0x00 + one event; 0xFE (< 9 bytes) end of stream;
// 0xFF error (the client library turns it into mysql_errno()).
constexpr uint8_t kPacketOk = 0x00;
constexpr uint8_t kPacketEof = 0xFE;

constexpr unsigned kErAccessDenied = 1045;
constexpr unsigned kErBinlogGone = 1236;  // ER_MASTER_FATAL_ERROR_READING_BINLOG
constexpr unsigned kErUnknownSystemVariable = 1193;
constexpr unsigned kErParseError = 1064;

void LibraryInit() {
  static std::once_flag once;
  std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
}

void PutFixed16(std::string* dst, uint16_t v) {
  dst->push_back(static_cast<char>(v & 0xff));
  dst->push_back(static_cast<char>(v >> 8));
}

// Events a dump sends before the first transaction it was asked for.
bool IsOpeningEvent(uint8_t type) {
  for (EventType t :
       {EventType::kRotate, EventType::kFormatDescription, EventType::kHeartbeat,
        EventType::kHeartbeatV2, EventType::kPreviousGtids, EventType::kBinlogCheckpoint,
        EventType::kMariaGtidList, EventType::kStartEncryption}) {
    if (type == static_cast<uint8_t>(t)) return true;
  }
  return false;
}

}  // namespace

namespace {

// A random UUID (the kernel's), so the server can tell our connections apart.
std::string NewUuid() {
  std::ifstream in("/proc/sys/kernel/random/uuid");
  std::string uuid;
  std::getline(in, uuid);
  return IsUuid(uuid) ? uuid : "00000000-0000-4000-8000-000000000000";
}

}  // namespace

MysqlSource::MysqlSource(MysqlSourceOptions options)
    : options_(std::move(options)), replica_uuid_(NewUuid()) {}

MysqlSource::~MysqlSource() { Close(); }

std::string MysqlSource::Where() const {
  return options_.host + ":" + std::to_string(options_.port);
}

Result<std::unique_ptr<MysqlSource>> MysqlSource::Open(const MysqlSourceOptions& options) {
  if (options.user.empty()) return Status::InvalidArgument("mysql source: no user");
  if (options.server_id == 0) {
    return Status::InvalidArgument(
        "mysql source: server_id must be non-zero and unique among "
        "the server's replicas");
  }
  if (options.read_timeout.count() < 1) {
    return Status::InvalidArgument("mysql source: read_timeout must be at least 1 s");
  }
  if (options.heartbeat_period.count() > 0 && options.heartbeat_period >= options.read_timeout) {
    return Status::InvalidArgument(
        "mysql source: heartbeat_period must be shorter than "
        "read_timeout, or the link times out between heartbeats");
  }
  if ((options.ssl_mode == SslMode::kVerifyCa || options.ssl_mode == SslMode::kVerifyIdentity) &&
      options.ssl_ca.empty()) {
    return Status::InvalidArgument("mysql source: ssl-mode verify-ca/verify-identity needs ssl-ca");
  }
  std::unique_ptr<MysqlSource> src(new MysqlSource(options));
  std::vector<SourceHost> hosts = options.hosts;
  if (hosts.empty()) hosts.push_back({options.host, options.port});
  const bool any_host = options.start.kind != MysqlStart::Kind::kFilePos;
  std::string tried;
  Status first;
  bool unreachable = false;
  for (size_t i = 0; i < hosts.size(); ++i) {
    src->options_.host = hosts[i].host;
    src->options_.port = hosts[i].port;
    Status s = src->OpenHost(options.start);
    if (s.ok() && i > 0 && options.start.kind != MysqlStart::Kind::kMysqlGtid &&
        options.start.kind != MysqlStart::Kind::kMariadbGtid &&
        (!src->start_gtid_state_ || src->start_gtid_state_->empty())) {
      // "earliest" or "latest" on a host that is not the first: the log
      // would begin with this server's positions and no GTID state to move
      // by, and a later resume by file:pos goes to the first host.
      s = Status::FailedPrecondition(
          "start " + options.start.ToString() + " on " + src->Where() +
          ": it reports no GTID state there, and only the first host of the source may be "
          "read by position");
    }
    if (s.ok()) {
      if (hosts.size() > 1 && (!src->start_gtid_state_ || src->start_gtid_state_->empty()) &&
          options.start.kind == MysqlStart::Kind::kFilePos) {
        src->warnings_.push_back(
            "the server at " + src->Where() +
            " has no GTIDs: this destination cannot follow a failover to the other hosts of "
            "its source URL (binlog positions differ between servers); turn on GTIDs "
            "(gtid_mode=ON on MySQL) to let it");
      }
      return src;
    }
    src->Close();
    if (hosts.size() == 1) return s;
    if (first.ok()) first = s;
    unreachable = unreachable || s.code() == Code::kUnavailable || s.code() == Code::kTimedOut;
    tried += (tried.empty() ? "" : "; ") + hosts[i].host + ":" + std::to_string(hosts[i].port) +
             ": " + s.ToString();
    if (!any_host) {
      tried += "; the other hosts were not tried: start " + options.start.ToString() +
               " is a position in one server's binlog";
      break;
    }
  }
  const std::string msg = "no host of the source could be read (" + tried + ")";
  if (unreachable) return Status::Unavailable(msg);
  return Status(first.code(), msg);
}

Status MysqlSource::OpenHost(const MysqlStart& start) {
  start_gtid_state_.reset();
  SLUICE_RETURN_IF_ERROR(Connect());
  return StartDump(start, /*opening=*/true);
}

Status MysqlSource::Connect() {
  Close();
  SLUICE_ASSIGN_OR_RETURN(MYSQL * m, ConnectMysql(options_));
  auto conn = std::make_unique<Conn>();
  conn->m = m;

  std::string_view info = mysql_get_server_info(m);
  if (info.substr(0, 6) == "5.5.5-") info.remove_prefix(6);  // MariaDB's old replication prefix
  server_version_ = std::string(info);
  const char* cipher = mysql_get_ssl_cipher(m);
  tls_cipher_ = cipher != nullptr ? cipher : "";
  is_mariadb_ = info.find("MariaDB") != std::string_view::npos;
  unsigned major = 0, minor = 0;
  auto dots = Split(info.substr(0, info.find_first_not_of("0123456789.")), '.');
  if (dots.size() < 2 || !ParseUint(dots[0], &major) || !ParseUint(dots[1], &minor)) {
    return Status::FailedPrecondition("cannot read the version of the server at " + Where() +
                                      " ('" + server_version_ + "')");
  }
  const unsigned version = major * 100 + minor;
  if (is_mariadb_ ? version < 1005 : version < 507) {
    return Status::FailedPrecondition("server at " + Where() + " runs " + server_version_ +
                                      "; sluice needs MariaDB 10.5 or later or MySQL 5.7 or later");
  }

  SLUICE_ASSIGN_OR_RETURN(auto vars, RunQuery(options_, is_mariadb_, m,
                                              "SELECT @@global.log_bin, @@global.binlog_format, "
                                              "@@global.binlog_row_image, @@global.binlog_checksum",
                                              "reading the binlog settings"));
  if (Value(vars, 0) != "1") {
    return Status::FailedPrecondition("the server at " + Where() +
                                      " has binary logging off: start it with log_bin (and "
                                      "server_id) in my.cnf");
  }
  if (Lower(Value(vars, 1)) != "row") {
    return Status::FailedPrecondition(
        "the server at " + Where() + " has binlog_format=" + Value(vars, 1) +
        "; sluice needs ROW: SET GLOBAL binlog_format=ROW (and binlog_format=ROW in my.cnf to "
        "keep it), then reconnect. Sessions already open keep their old format");
  }
  warnings_.clear();
  if (Lower(Value(vars, 2)) != "full") {
    warnings_.push_back("binlog_row_image=" + Value(vars, 2) + " on " + Where() +
                        ": update and delete events carry only some columns, so records lack "
                        "the values of the others (before images miss unchanged columns); "
                        "SET GLOBAL binlog_row_image=FULL for complete records");
  }
  auto meta = RunQuery(options_, is_mariadb_, m, "SELECT @@global.binlog_row_metadata",
                       "reading binlog_row_metadata");  // MySQL 8 / MariaDB 10.5 and later
  if (!meta.ok() && mysql_errno(m) != kErUnknownSystemVariable) return meta.status();
  const std::string row_metadata = meta.ok() ? Value(*meta, 0) : "(none: the server is older)";
  if (Lower(row_metadata) != "full") {
    if (options_.require_full_metadata) {
      return Status::FailedPrecondition(
          "the server at " + Where() + " has binlog_row_metadata=" + row_metadata +
          ": its binlog names no columns, primary keys or ENUM/SET labels, so sluice would "
          "have to guess them. Run SET GLOBAL binlog_row_metadata=FULL on it and add "
          "binlog_row_metadata=FULL under [mysqld] in its my.cnf (MySQL 8.0 / MariaDB 10.5 "
          "or later), or set column_names = \"positions\" in this destination's config to "
          "accept records keyed @1, @2, ...");
    }
    warnings_.push_back("binlog_row_metadata=" + row_metadata + " on " + Where() +
                        ": the binlog has no column names, so records name columns @1, @2, ...; "
                        "SET GLOBAL binlog_row_metadata=FULL");
  }

  // Ask for events with their checksums (the decoder checks them), GTID
  // events as they are, and heartbeats after `heartbeat_period` of silence.
  // MySQL 8 reads the source_* names, older servers the master_* ones.
  const std::string hb = std::to_string(
      std::chrono::duration_cast<std::chrono::nanoseconds>(options_.heartbeat_period).count());
  const std::string set =
      "SET @master_binlog_checksum = @@global.binlog_checksum, "
      "@source_binlog_checksum = @@global.binlog_checksum, "
      "@mariadb_slave_capability = 4, @master_heartbeat_period = " +
      hb + ", @source_heartbeat_period = " + hb + ", @slave_uuid = '" + replica_uuid_ +
      "', @replica_uuid = '" + replica_uuid_ + "'";
  SLUICE_RETURN_IF_ERROR(
      RunQuery(options_, is_mariadb_, m, set, "setting up the replication session").status());
  checksum_ = Lower(Value(vars, 3)) != "none";

  MutexLock lock(&mu_);
  conn_ = std::move(conn);
  cancel_fd_ = ::dup(static_cast<int>(mysql_get_socket(m)));
  return Status::Ok();
}

void MysqlSource::Close() {
  MutexLock lock(&mu_);
  if (cancel_fd_ >= 0) ::close(cancel_fd_);
  cancel_fd_ = -1;
  conn_.reset();
}

void MysqlSource::Cancel() {
  cancelled_ = true;
  MutexLock lock(&mu_);
  if (cancel_fd_ >= 0) ::shutdown(cancel_fd_, SHUT_RDWR);
}

Result<std::vector<std::string>> MysqlSource::ListBinlogFiles(Conn& conn) {
  SLUICE_ASSIGN_OR_RETURN(auto rows, RunQuery(options_, is_mariadb_, conn.m, "SHOW BINARY LOGS",
                                              "listing the binary logs (SHOW BINARY LOGS)"));
  std::vector<std::string> files;
  for (const auto& r : rows) {
    if (!r.empty() && r[0]) files.push_back(*r[0]);
  }
  return files;
}

Result<std::vector<BinlogFileSize>> ListMysqlBinlogSizes(const MysqlSourceOptions& options,
                                                         st_mysql* m) {
  const bool mariadb =
      std::string_view(mysql_get_server_info(m)).find("MariaDB") != std::string_view::npos;
  SLUICE_ASSIGN_OR_RETURN(auto rows, RunQuery(options, mariadb, m, "SHOW BINARY LOGS",
                                              "listing the binary logs (SHOW BINARY LOGS)"));
  std::vector<BinlogFileSize> files;
  for (const auto& r : rows) {
    BinlogFileSize f;
    if (r.size() < 2 || !r[0] || !r[1] || !ParseUint(*r[1], &f.size)) {
      return Status::Corruption("SHOW BINARY LOGS at " + options.host + ":" +
                                std::to_string(options.port) + " returned a row without a size");
    }
    f.name = *r[0];
    files.push_back(std::move(f));
  }
  return files;
}

Status MysqlSource::StartDump(const MysqlStart& start, bool opening) {
  MYSQL* m = conn_->m;
  MysqlStart from = start;
  std::string executed_at_latest;  // MySQL: SHOW MASTER STATUS's Executed_Gtid_Set
  if (from.kind == MysqlStart::Kind::kEarliest) {
    SLUICE_ASSIGN_OR_RETURN(auto files, ListBinlogFiles(*conn_));
    if (files.empty()) {
      return Status::FailedPrecondition("the server at " + Where() + " lists no binary logs");
    }
    from.kind = MysqlStart::Kind::kFilePos;
    from.file_pos = {files.front(), 4};
  } else if (from.kind == MysqlStart::Kind::kLatest) {
    auto rows = RunQuery(options_, is_mariadb_, m, "SHOW MASTER STATUS", "SHOW MASTER STATUS");
    if (!rows.ok() && mysql_errno(m) == kErParseError) {  // MySQL 8.4 renamed it
      rows = RunQuery(options_, is_mariadb_, m, "SHOW BINARY LOG STATUS", "SHOW BINARY LOG STATUS");
    }
    if (!rows.ok()) return rows.status();
    from.kind = MysqlStart::Kind::kFilePos;
    if (!ParseUint(Value(*rows, 1), &from.file_pos.pos) || Value(*rows, 0).empty()) {
      return Status::FailedPrecondition("SHOW MASTER STATUS on " + Where() +
                                        " returned no position: is log_bin on?");
    }
    from.file_pos.file = Value(*rows, 0);
    executed_at_latest = Value(*rows, 4);
  }
  if (opening) {
    if (from.kind == MysqlStart::Kind::kFilePos) {
      if (options_.learn_gtid_state) NoteGtidStateAt(from.file_pos, executed_at_latest);
    } else {
      SLUICE_RETURN_IF_ERROR(CheckHasGtids(from.gtid));
      start_gtid_state_ = from.gtid;
    }
  }

  std::string cmd;
  uint8_t command = kComBinlogDump;
  switch (from.kind) {
    case MysqlStart::Kind::kFilePos:
      if (!IsSafeFileName(from.file_pos.file) || from.file_pos.pos > UINT32_MAX) {
        return Status::InvalidArgument("cannot start a dump at " + from.file_pos.ToString());
      }
      break;
    case MysqlStart::Kind::kMariadbGtid: {
      if (!is_mariadb_ || !IsMariadbGtidPos(from.gtid)) {
        return Status::FailedPrecondition("start '" + from.gtid +
                                          "' is a MariaDB GTID position "
                                          "but " +
                                          Where() + " runs " + server_version_);
      }
      // Strict: an unknown GTID is an error, not a silent skip.
      SLUICE_RETURN_IF_ERROR(RunQuery(options_, is_mariadb_, m,
                                      "SET @slave_connect_state = '" + from.gtid +
                                          "', @slave_gtid_strict_mode = 1, "
                                          "@slave_gtid_ignore_duplicates = 0",
                                      "setting the GTID start")
                                 .status());
      from.file_pos = {};
      break;
    }
    case MysqlStart::Kind::kMysqlGtid: {
      if (is_mariadb_) {
        return Status::FailedPrecondition("start '" + from.gtid + "' is a MySQL GTID set but " +
                                          Where() + " runs MariaDB: use domain-server-seq");
      }
      SLUICE_ASSIGN_OR_RETURN(std::string sids, EncodeMysqlGtidSet(from.gtid));
      // COM_BINLOG_DUMP_GTID: flags u16, server_id u32, name_size u32,
      // name, pos u64, data_size u32, data (the encoded GTID set).
      command = kComBinlogDumpGtid;
      PutFixed16(&cmd, 0);
      PutFixed32(&cmd, options_.server_id);
      PutFixed32(&cmd, 0);
      PutFixed64(&cmd, 4);
      PutFixed32(&cmd, static_cast<uint32_t>(sids.size()));
      cmd += sids;
      from.file_pos = {};
      break;
    }
    default: break;
  }
  if (command == kComBinlogDump) {
    // COM_BINLOG_DUMP: pos u32, flags u16 (0: block at the end), server_id u32, file name.
    PutFixed32(&cmd, static_cast<uint32_t>(from.file_pos.pos));
    PutFixed16(&cmd, 0);
    PutFixed32(&cmd, options_.server_id);
    cmd += from.file_pos.file;
  }

  // COM_REGISTER_SLAVE: server_id u32, then host, user, password (each a
  // u8 length + bytes; empty), port u16, rank u32, master id u32.
  std::string reg;
  PutFixed32(&reg, options_.server_id);
  reg.append(3, '\0');
  PutFixed16(&reg, 0);
  PutFixed32(&reg, 0);
  PutFixed32(&reg, 0);
  if (m->methods->db_command(m, static_cast<enum_server_command>(kComRegisterSlave), reg.data(),
                             reg.size(), 0, nullptr) != 0) {
    // MariaDB's register_slave() reports a missing REPLICATION SLAVE as 1045.
    const unsigned err = mysql_errno(m) == kErAccessDenied ? 1227 : mysql_errno(m);
    return MapError(options_, is_mariadb_, err,
                    std::string(mysql_error(m)) + "; COM_REGISTER_SLAVE needs REPLICATION SLAVE",
                    "registering as a replica");
  }
  if (m->methods->db_command(m, static_cast<enum_server_command>(command), cmd.data(), cmd.size(),
                             1, nullptr) != 0) {
    return MapError(options_, is_mariadb_, m, "requesting the binlog dump");
  }
  tracker_ = PositionTracker(from.file_pos, checksum_);
  // Read the first event now, so that a purged file, a bad position or a
  // missing privilege fails Open()/Reconnect() rather than the first Next().
  std::string_view first;
  SLUICE_RETURN_IF_ERROR(ReadEvent(&first));
  pending_.assign(first);
  has_pending_ = true;
  return Status::Ok();
}

Status MysqlSource::ReadEvent(std::string_view* bytes) {
  if (cancelled_) return Status::Aborted("mysql source for " + Where() + " was cancelled");
  MYSQL* m = conn_->m;
  const auto started = std::chrono::steady_clock::now();
  const unsigned long len = mysql_net_read_packet(m);
  if (len == packet_error || len == 0) {
    if (cancelled_) return Status::Aborted("mysql source for " + Where() + " was cancelled");
    const unsigned err = mysql_errno(m);
    const auto waited = std::chrono::steady_clock::now() - started;
    if ((err == 2013 || err == 2006) &&
        waited + std::chrono::milliseconds(250) >= options_.read_timeout) {
      return Status::TimedOut("no event or heartbeat from " + Where() + " within " +
                              std::to_string(options_.read_timeout.count()) + " s");
    }
    return StreamError();
  }
  const char* p = reinterpret_cast<const char*>(m->net.read_pos);
  if (static_cast<uint8_t>(p[0]) == kPacketEof && len < 9) {
    return Status::Unavailable("server at " + Where() +
                               " went away: it ended the binlog stream (shutting down?)");
  }
  if (static_cast<uint8_t>(p[0]) != kPacketOk) {
    return Status::Corruption("unexpected packet 0x" + std::to_string(static_cast<uint8_t>(p[0])) +
                              " in the binlog stream from " + Where());
  }
  *bytes = std::string_view(p + 1, len - 1);
  return Status::Ok();
}

// The dump connection failed; says why and, when the binlog the dump needs
// is gone, which files the server still has.
Status MysqlSource::StreamError() {
  MYSQL* m = conn_->m;
  const unsigned err = mysql_errno(m);
  if (err != kErBinlogGone) return MapError(options_, is_mariadb_, m, "binlog dump");
  const std::string msg = mysql_error(m);
  std::string have;
  auto fresh = ConnectMysql(options_);
  if (fresh.ok()) {
    Conn c;
    c.m = *fresh;
    auto files = ListBinlogFiles(c);
    if (files.ok()) {
      for (const auto& f : *files) have += (have.empty() ? "" : ", ") + f;
      if (have.empty()) have = "none";
    } else {
      have = "unknown (" + files.status().message() + ")";
    }
  } else {
    have = "unknown (" + fresh.status().message() + ")";
  }
  const std::string text = "the server at " + Where() + " cannot send the binlog from " +
                           tracker_.position().ToString() + " (" + msg +
                           "); its binary logs are: " + have +
                           ". If the file was purged, the changes in it are lost to sluice: "
                           "start the destination again from 'earliest' or a newer position";
  const std::string lower = Lower(msg);
  for (const char* gone : {"could not find", "purged", "not in the master", "not find"}) {
    if (lower.find(gone) != std::string::npos) return Status::NotFound(text);
  }
  return Status::FailedPrecondition(text);
}

Status MysqlSource::Next(RawEvent* event) {
  if (cancelled_) return Status::Aborted("mysql source for " + Where() + " was cancelled");
  if (!conn_) SLUICE_RETURN_IF_ERROR(Reconnect());
  std::string_view bytes;
  if (has_pending_) {
    bytes = pending_;
    has_pending_ = false;
  } else if (Status s = ReadEvent(&bytes); !s.ok()) {
    Close();
    return s;
  }
  if (Status s = tracker_.OnEvent(bytes, event); !s.ok()) {
    Close();
    return s.WithContext("binlog stream from " + Where());
  }
  if (!IsOpeningEvent(static_cast<uint8_t>(bytes[4]))) past_opening_ = true;
  return Status::Ok();
}

Status MysqlSource::Reconnect() {
  Close();
  has_pending_ = false;
  if (cancelled_) return Status::Aborted("mysql source for " + Where() + " was cancelled");
  MysqlStart from = options_.start;
  const bool gtid =
      from.kind == MysqlStart::Kind::kMysqlGtid || from.kind == MysqlStart::Kind::kMariadbGtid;
  if (!tracker_.position().file.empty() && (!gtid || past_opening_)) {
    from.kind = MysqlStart::Kind::kFilePos;
    from.file_pos = tracker_.position();
  }
  Status s = Connect();
  if (s.ok()) s = StartDump(from);
  if (!s.ok()) Close();
  return s;
}

Status MysqlSource::ReconnectWithBackoff(ReconnectBackoff& backoff, int max_attempts) {
  Status s;
  for (int attempt = 1; attempt <= max_attempts; ++attempt) {
    s = Reconnect();
    if (s.ok()) {
      backoff.Reset();
      return s;
    }
    if (s.code() != Code::kUnavailable && s.code() != Code::kTimedOut) return s;
    if (attempt == max_attempts) break;
    const auto until = std::chrono::steady_clock::now() + backoff.NextDelay();
    while (std::chrono::steady_clock::now() < until) {
      if (cancelled_) return Status::Aborted("mysql source for " + Where() + " was cancelled");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  return s.WithContext("gave up after " + std::to_string(max_attempts) + " attempts");
}

Result<MYSQL*> ConnectMysql(const MysqlSourceOptions& o) {
  LibraryInit();
  MYSQL* m = mysql_init(nullptr);
  if (m == nullptr) return Status::Internal("mysql_init failed (out of memory?)");
  unsigned int connect = static_cast<unsigned>(o.connect_timeout.count());
  unsigned int rw = static_cast<unsigned>(o.read_timeout.count());
  unsigned int protocol = MYSQL_PROTOCOL_TCP;
  unsigned long max_packet = 1UL << 30;  // the server's own max_allowed_packet limit
  my_bool off = 0, on = 1;
  mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &connect);
  mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &rw);
  mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &rw);
  mysql_optionsv(m, MYSQL_OPT_PROTOCOL, &protocol);
  mysql_optionsv(m, MYSQL_OPT_MAX_ALLOWED_PACKET, &max_packet);
  mysql_optionsv(m, MYSQL_OPT_RECONNECT, &off);
  if (o.ssl_mode != SslMode::kDisabled) {
    // Connector/C 3.3 uses TLS when the server offers it; without
    // verification it silently goes on in plain text otherwise, so
    // "required" and up are checked after connecting.
    mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &on);
    if (!o.ssl_ca.empty()) mysql_optionsv(m, MYSQL_OPT_SSL_CA, o.ssl_ca.c_str());
    if (o.ssl_mode == SslMode::kVerifyIdentity) {
      mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
    }
  }
  if (!o.server_public_key.empty()) {
    mysql_optionsv(m, MYSQL_SERVER_PUBLIC_KEY, o.server_public_key.c_str());
  }
  if (mysql_real_connect(m, o.host.c_str(), o.user.c_str(), o.password.c_str(), nullptr, o.port,
                         nullptr, 0) == nullptr) {
    Status s = MapError(o, false, m, "connect");
    mysql_close(m);
    return s;
  }
  if (o.ssl_mode != SslMode::kDisabled && o.ssl_mode != SslMode::kPreferred &&
      mysql_get_ssl_cipher(m) == nullptr) {
    mysql_close(m);
    return Status::FailedPrecondition("server at " + o.host + ":" + std::to_string(o.port) +
                                      " does not offer TLS but ssl-mode requires it: configure "
                                      "ssl_cert/ssl_key on the server or lower ssl-mode");
  }
  return m;
}

}  // namespace sluice::binlog
