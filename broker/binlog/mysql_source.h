// The replication-connection source: logs in to a MySQL or MariaDB server
// as a replica (COM_REGISTER_SLAVE, then COM_BINLOG_DUMP or
// COM_BINLOG_DUMP_GTID) and hands over every binlog event exactly as the
// server sent it: 19-byte header, body and, with binlog_checksum=CRC32, the
// CRC32 that the decoder verifies. docs/binlog-source.md says how the
// stream is read and why.
//
// Positions: RawEvent.file/pos is where the event starts in the server's
// binlog file; position() is the resume point (the end of the last event
// handed over). Artificial events (the fake ROTATE that opens every dump,
// a FORMAT_DESCRIPTION re-sent with log_pos 0, heartbeats) do not move it.
//
// Thread safety: one thread (the fetch thread) calls everything except
// Cancel(), which any thread may call.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/thread_annotations.h"
#include "broker/binlog/binlog_source.h"
#include "broker/binlog/gtid_state.h"

struct st_mysql;

namespace sluice::binlog {

// Where a dump starts.
struct MysqlStart {
  enum class Kind {
    kEarliest,     // the first file of SHOW BINARY LOGS, position 4
    kLatest,       // SHOW MASTER STATUS: only events written from now on
    kFilePos,      // `file_pos`
    kMysqlGtid,    // `gtid` is a MySQL GTID set executed by us: COM_BINLOG_DUMP_GTID
    kMariadbGtid,  // `gtid` is a MariaDB GTID position (@slave_connect_state)
  };
  Kind kind = Kind::kEarliest;
  BinlogPosition file_pos;
  std::string gtid;

  // "earliest" | "latest" | "FILE:POS" | a MySQL GTID set
  // ("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7,...") | a MariaDB GTID
  // position ("0-1-5,1-2-9"). InvalidArgument otherwise.
  static Result<MysqlStart> Parse(std::string_view text);
  std::string ToString() const;
};

enum class SslMode {
  kDisabled,        // plain TCP
  kPreferred,       // TLS when the server offers it, without verification
  kRequired,        // TLS or fail, without verification
  kVerifyCa,        // TLS, the server certificate must chain to `ssl_ca`
  kVerifyIdentity,  // kVerifyCa and the certificate must name `host`
};
Result<SslMode> ParseSslMode(std::string_view text);  // "disabled", "verify-ca", ...

struct SourceHost {
  std::string host;
  uint16_t port = 3306;
};

struct MysqlSourceOptions {
  // The server to connect to. Open() tries each of `hosts` in turn (after
  // a failover of the source, the next one) and sets these to each.
  std::string host = "127.0.0.1";
  uint16_t port = 3306;
  // Every host of the source URL, in order; empty means {host, port}.
  std::vector<SourceHost> hosts;
  std::string user;
  std::string password;
  // Our id among the server's replicas: non-zero and unique (a second
  // connection with the same id makes the server drop the first).
  uint32_t server_id = 0;
  MysqlStart start;

  SslMode ssl_mode = SslMode::kPreferred;
  std::string ssl_ca;  // PEM file; REQUIRED for kVerifyCa / kVerifyIdentity
  // PEM file with the server's RSA public key for caching_sha2_password /
  // sha256_password full authentication over plain TCP. When empty the
  // client asks the server for its key (Connector/C always does; MySQL's
  // --get-server-public-key is implied).
  std::string server_public_key;

  // The server sends a HEARTBEAT event after this much silence; 0 turns
  // heartbeats off. Must be shorter than read_timeout.
  std::chrono::milliseconds heartbeat_period{5000};
  // Next() returns TimedOut after this long without a packet.
  std::chrono::seconds read_timeout{30};
  std::chrono::seconds connect_timeout{10};
  // Refuse (FailedPrecondition, with the fix) a server whose
  // binlog_row_metadata is not FULL, or that has no such setting (MySQL
  // 5.7): its binlog names no columns, keys or ENUM/SET labels.
  bool require_full_metadata = false;
  // A position start asks the server for its GTID state there
  // (start_gtid_state()); false when the caller knows it already (it costs
  // MariaDB a scan of the file, MySQL pages of SHOW BINLOG EVENTS).
  bool learn_gtid_state = true;
};

// "mysql://user:password@host[:port][,host[:port]...][?ssl-mode=...&ssl-ca=...&server-public-key=...]".
// User and password may be %-encoded; a host may be "[v6 address]". A port
// defaults to 3306. Several hosts are the source's primary and the replicas
// it may fail over to, in the order to try them (`hosts`; host/port are the
// first). Fields not in a URL keep their defaults.
Result<MysqlSourceOptions> ParseMysqlUrl(std::string_view url);

// Exponential backoff for reconnecting: 100 ms, 200 ms, ... up to `max`,
// each with up to 25% random jitter off. Not thread-safe.
class ReconnectBackoff {
 public:
  explicit ReconnectBackoff(std::chrono::milliseconds initial = std::chrono::milliseconds(100),
                            std::chrono::milliseconds max = std::chrono::seconds(10));
  std::chrono::milliseconds NextDelay();
  void Reset() { attempt_ = 0; }

 private:
  std::chrono::milliseconds initial_, max_;
  int attempt_ = 0;
  uint64_t rng_;
};

// The payload of COM_BINLOG_DUMP_GTID for a MySQL GTID set
// ("uuid:1-5:7,uuid:3"): Gtid_set::encode's format, documented in mysql_options.cc.
// InvalidArgument for anything else (tagged GTIDs of MySQL 8.3 included).
Result<std::string> EncodeMysqlGtidSet(std::string_view gtid_set);

// MySQL's GTID state at `pos` of a binlog file is its Previous_gtids set
// plus every Gtid event that starts before `pos`. This adds what one page
// of SHOW BINLOG EVENTS IN that file gives (rows of Log_name, Pos,
// Event_type, Server_id, End_log_pos, Info, in order) to *state; *done is
// set once a row at or past `pos` was seen, and *next_from is the position
// after the page's last row (where the next page starts). InvalidArgument
// when a row or the set or GTID in its Info does not parse.
Status AddMysqlGtidsFromEvents(const std::vector<std::vector<std::optional<std::string>>>& rows,
                               uint64_t pos, GtidState* state, bool* done, uint64_t* next_from);

// Tracks file and position through a dump's events (see the header comment).
class PositionTracker {
 public:
  // `checksum`: whether events end with a CRC32 until a FORMAT_DESCRIPTION
  // event says otherwise (the session's @master_binlog_checksum).
  PositionTracker(BinlogPosition start, bool checksum)
      : pos_(std::move(start)), checksum_(checksum) {}
  // Checks the header of `bytes` (one event: 19-byte header ...), sets
  // event->bytes/file/pos and moves the resume point. event->file borrows
  // from this tracker until the next call. Corruption when the header is
  // inconsistent (event_size != bytes.size(), log_pos < event_size, a
  // ROTATE without a valid file name).
  Status OnEvent(std::string_view bytes, RawEvent* event);
  const BinlogPosition& position() const { return pos_; }

 private:
  BinlogPosition pos_;
  bool checksum_;
  std::string event_file_;  // the file of the last event handed over
};

// A logged-in connection with the options' timeouts and TLS settings, for
// queries beside the dump (the schema resolver's). The caller closes it with
// mysql_close(). Errors as MysqlSource::Open's.
Result<st_mysql*> ConnectMysql(const MysqlSourceOptions& options);

// SHOW BINARY LOGS on a connection from ConnectMysql(): the server's binlog
// files in order with their sizes (the last one's is its write position).
Result<std::vector<BinlogFileSize>> ListMysqlBinlogSizes(const MysqlSourceOptions& options,
                                                         st_mysql* m);

// What `sluiced --check --connect` found on a source server.
struct SourceCheckReport {
  std::string server_version;
  std::vector<std::string> ok;        // checks that passed, one line each
  std::vector<std::string> warnings;  // things that work but lose information
};

class MysqlSource final : public BinlogSource {
 public:
  // Everything Open() checks, without starting a dump (a dump would
  // displace a running sluiced with the same server_id): the login, the
  // version, log_bin, binlog_format, row image and metadata, the
  // replication privileges as SHOW GRANTS lists them, the GTID state, and
  // that a FILE:POS start is among the server's binlogs. The first failed
  // check is the error, with what to change.
  static Result<SourceCheckReport> Check(const MysqlSourceOptions& options);

  // Connects, checks the server (version >= MariaDB 10.5 / MySQL 5.7,
  // log_bin on, binlog_format=ROW, the user's privileges) and starts the
  // dump. FailedPrecondition with what to change when a check fails,
  // NotFound when the start position is no longer on the server (the
  // message lists the files it has), Unavailable when it cannot be reached.
  //
  // Several hosts: each in order until one works. A GTID start may be
  // served by any of them, but only by one whose GTID state contains the
  // start (GtidState::MissingFrom): a replica that is behind or diverged is
  // refused, naming the transactions it lacks, since reading from it would
  // leave a gap. "earliest" and "latest" may be served by any host; a
  // FILE:POS start only by the first (positions differ between servers).
  // When every host fails, the error lists each one's; it is Unavailable
  // when any of them was unreachable (retrying may reach it), otherwise the
  // first host's error.
  static Result<std::unique_ptr<MysqlSource>> Open(const MysqlSourceOptions& options);
  ~MysqlSource() override;
  MysqlSource(const MysqlSource&) = delete;
  MysqlSource& operator=(const MysqlSource&) = delete;

  // The next event; `event->bytes` stays valid until the next call. After
  // an error the connection is closed and the next call reconnects from
  // position() first (call ReconnectWithBackoff() to pace retries).
  // Unavailable: the server went away. TimedOut: nothing, not even a
  // heartbeat, within read_timeout. Aborted: Cancel() was called.
  Status Next(RawEvent* event) override;
  BinlogPosition position() const override { return tracker_.position(); }

  // Closes the connection and dumps again from position() (from the start
  // option while no event past the dump's opening events was handed over,
  // so a GTID start is not replaced by a file position too early).
  Status Reconnect();
  // Reconnect() until it works, fails for a reason retrying cannot fix
  // (anything but Unavailable/TimedOut), or `max_attempts` have failed;
  // sleeps backoff.NextDelay() between attempts. Aborted after Cancel().
  Status ReconnectWithBackoff(ReconnectBackoff& backoff, int max_attempts);

  // Makes a blocked or later Next()/Reconnect() return Aborted. Thread-safe.
  void Cancel() override;

  // Things that work but lose information (binlog_row_image not FULL,
  // binlog_row_metadata not FULL); for the logs and /status.
  std::vector<std::string> warnings() const override { return warnings_; }
  const std::string& server_version() const { return server_version_; }
  std::optional<std::string> start_gtid_state() const override { return start_gtid_state_; }
  std::string server() const override { return Where(); }
  bool is_mariadb() const { return is_mariadb_; }
  // The TLS cipher of the connection; empty over plain TCP.
  const std::string& tls_cipher() const { return tls_cipher_; }

 private:
  struct Conn;
  explicit MysqlSource(MysqlSourceOptions options);

  Status Connect();  // a logged-in connection with checks done
  // `opening`: the first dump of Open(), which checks a GTID start against
  // the server and notes the server's GTID state at a position start.
  Status StartDump(const MysqlStart& start, bool opening = false);
  // Open() on the host in options_.
  Status OpenHost(const MysqlStart& start);
  // Refuses (FailedPrecondition, naming them) a server that lacks some of
  // the transactions of `ours`, a GTID start.
  Status CheckHasGtids(const std::string& ours);
  // Sets start_gtid_state_ for a dump from `at`; a server that has GTIDs
  // but cannot say leaves it unset, with a warning.
  void NoteGtidStateAt(const BinlogPosition& at, const std::string& executed_at_latest);
  Status ReadEvent(std::string_view* bytes);
  Status StreamError();
  Result<std::vector<std::string>> ListBinlogFiles(Conn& conn);
  void Close();
  std::string Where() const;  // "host:port"

  // Constant after Open(); host/port are the host being read.
  MysqlSourceOptions options_;
  std::string replica_uuid_;

  // Used by the fetch thread only.
  std::string server_version_;
  bool is_mariadb_ = false;
  std::string tls_cipher_;
  bool checksum_ = true;  // the dump's events end with a CRC32
  std::vector<std::string> warnings_;
  std::optional<std::string> start_gtid_state_;
  PositionTracker tracker_{BinlogPosition{}, true};
  bool past_opening_ = false;  // a non-opening event was handed over
  std::string pending_;        // an event read by Open() before Next()
  bool has_pending_ = false;

  std::unique_ptr<Conn> conn_;  // the dump connection; null when closed

  std::atomic<bool> cancelled_{false};
  Mutex mu_;
  // A dup() of the dump connection's socket, so that Cancel() can
  // shutdown() it without racing the client library closing its own fd.
  int cancel_fd_ GUARDED_BY(mu_) = -1;
};

}  // namespace sluice::binlog
