#include "client/mysql_target.h"

#include <mysql.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

namespace sluice::apply {

namespace {

void LibraryInit() {
  static std::once_flag once;
  std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
}

// Statements quoted in error messages are cut here: a multi-row statement
// can be long, and the person needs its head.
std::string Clip(std::string_view sql) {
  constexpr size_t kMax = 400;
  if (sql.size() <= kMax) return std::string(sql);
  return std::string(sql.substr(0, kMax)) + "...";
}

}  // namespace

bool IsTransient(unsigned err) {
  switch (err) {
    case 2002:  // CR_CONNECTION_ERROR
    case 2003:  // CR_CONN_HOST_ERROR
    case 2006:  // CR_SERVER_GONE_ERROR
    case 2013:  // CR_SERVER_LOST
    case 2055:  // CR_SERVER_LOST_EXTENDED
    case 1053:  // ER_SERVER_SHUTDOWN
    case 1927:  // ER_CONNECTION_KILLED (MariaDB)
    case 1205:  // ER_LOCK_WAIT_TIMEOUT
    case 1213:  // ER_LOCK_DEADLOCK
    case 4031:  // ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8)
      return true;
    default: return false;
  }
}

Result<TargetOptions> ParseTargetUrl(std::string_view url) {
  constexpr std::string_view kScheme = "mysql://";
  if (!url.starts_with(kScheme)) {
    return Status::InvalidArgument("--target must be mysql://USER:PASSWORD@HOST:PORT, not '" +
                                   std::string(url) + "'");
  }
  url.remove_prefix(kScheme.size());
  if (url.ends_with('/')) url.remove_suffix(1);
  const size_t at = url.rfind('@');
  if (at == std::string_view::npos) {
    return Status::InvalidArgument("--target needs USER[:PASSWORD]@ before the host");
  }
  TargetOptions o;
  std::string_view cred = url.substr(0, at), hostport = url.substr(at + 1);
  const size_t colon = cred.find(':');
  o.user = std::string(cred.substr(0, colon));
  if (colon != std::string_view::npos) o.password = std::string(cred.substr(colon + 1));
  const size_t pc = hostport.rfind(':');
  o.host = std::string(hostport.substr(0, pc));
  if (pc != std::string_view::npos) {
    const std::string port(hostport.substr(pc + 1));
    char* end = nullptr;
    const long p = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end != '\0' || p <= 0 || p > 65535) {
      return Status::InvalidArgument("--target: bad port '" + port + "'");
    }
    o.port = static_cast<int>(p);
  }
  if (o.user.empty() || o.host.empty()) {
    return Status::InvalidArgument("--target needs a user and a host");
  }
  return o;
}

MysqlTarget::MysqlTarget(MYSQL* m) : m_(m) {}

MysqlTarget::~MysqlTarget() {
  ClearStatements();
  mysql_close(m_);
}

Result<std::unique_ptr<MysqlTarget>> MysqlTarget::Connect(const TargetOptions& o) {
  LibraryInit();
  MYSQL* m = mysql_init(nullptr);
  if (m == nullptr) return Status::Internal("mysql_init failed (out of memory?)");
  unsigned int connect = static_cast<unsigned>(o.connect_timeout_s);
  unsigned int rw = static_cast<unsigned>(o.read_timeout_s);
  unsigned int protocol = MYSQL_PROTOCOL_TCP;
  unsigned long max_packet = 1UL << 30;
  my_bool off = 0;
  mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &connect);
  mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &rw);
  mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &rw);
  mysql_optionsv(m, MYSQL_OPT_PROTOCOL, &protocol);
  mysql_optionsv(m, MYSQL_OPT_MAX_ALLOWED_PACKET, &max_packet);
  mysql_optionsv(m, MYSQL_OPT_RECONNECT, &off);  // a silent reconnect would lose the transaction
  mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  // LOAD DATA LOCAL sends only the rows LoadData() hands over: the infile
  // handler serves that buffer and refuses any other file name.
  unsigned int local = 1;
  mysql_optionsv(m, MYSQL_OPT_LOCAL_INFILE, &local);
  if (mysql_real_connect(m, o.host.c_str(), o.user.c_str(), o.password.c_str(), nullptr, o.port,
                         nullptr, CLIENT_FOUND_ROWS) == nullptr) {
    const unsigned err = mysql_errno(m);
    Status s(IsTransient(err) ? Code::kUnavailable : Code::kFailedPrecondition,
             "cannot connect to the target " + o.host + ":" + std::to_string(o.port) + " as " +
                 o.user + ": " + mysql_error(m) + " (errno " + std::to_string(err) + ")");
    mysql_close(m);
    return s;
  }
  std::unique_ptr<MysqlTarget> t(new MysqlTarget(m));
  t->mariadb_ = std::string_view(mysql_get_server_info(m)).find("MariaDB") != std::string::npos;
  if (t->mariadb_) {
    unsigned long ext = 0;
    mariadb_get_infov(m, MARIADB_CONNECTION_EXTENDED_SERVER_CAPABILITIES, &ext);
    t->bulk_ = (ext & (MARIADB_CLIENT_STMT_BULK_OPERATIONS >> 32)) != 0;
  }
  for (const char* sql : {"SET NAMES utf8mb4", "SET SESSION time_zone = '+00:00'",
                          "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO'",
                          "SET SESSION foreign_key_checks = 0", "SET SESSION autocommit = 1"}) {
    SLUICE_RETURN_IF_ERROR(t->Execute(sql));
  }
  SLUICE_ASSIGN_OR_RETURN(auto local_infile, t->QueryRow("SELECT @@local_infile"));
  t->local_infile_ = !local_infile.empty() && local_infile[0] && *local_infile[0] == "1";
  return t;
}

std::string MysqlTarget::server_version() const { return mysql_get_server_info(m_); }

Status MysqlTarget::Error(unsigned err, std::string_view message, std::string_view sql) {
  last_errno_ = err;
  return Status(IsTransient(err) ? Code::kUnavailable : Code::kFailedPrecondition,
                "target error " + std::to_string(err) + ": " + std::string(message) +
                    "; statement: " + Clip(sql));
}

Status MysqlTarget::Execute(std::string_view sql) {
  last_errno_ = 0;
  if (mysql_real_query(m_, sql.data(), sql.size()) != 0) {
    return Error(mysql_errno(m_), mysql_error(m_), sql);
  }
  // Drain whatever results there are (a DDL has none; a SELECT would).
  do {
    if (MYSQL_RES* res = mysql_store_result(m_)) mysql_free_result(res);
  } while (mysql_next_result(m_) == 0);
  if (mysql_errno(m_) != 0) return Error(mysql_errno(m_), mysql_error(m_), sql);
  return Status::Ok();
}

Result<std::vector<std::optional<std::string>>> MysqlTarget::QueryRow(std::string_view sql) {
  SLUICE_ASSIGN_OR_RETURN(auto rows, QueryRows(sql));
  if (rows.empty()) return std::vector<std::optional<std::string>>{};
  return std::move(rows.front());
}

Result<std::vector<std::vector<std::optional<std::string>>>> MysqlTarget::QueryRows(
    std::string_view sql) {
  last_errno_ = 0;
  if (mysql_real_query(m_, sql.data(), sql.size()) != 0) {
    return Error(mysql_errno(m_), mysql_error(m_), sql);
  }
  MYSQL_RES* res = mysql_store_result(m_);
  if (res == nullptr) return Error(mysql_errno(m_), mysql_error(m_), sql);
  std::vector<std::vector<std::optional<std::string>>> out;
  while (MYSQL_ROW row = mysql_fetch_row(res)) {
    const unsigned long* len = mysql_fetch_lengths(res);
    auto& r = out.emplace_back();
    for (unsigned i = 0; i < mysql_num_fields(res); ++i) {
      r.push_back(row[i] ? std::optional<std::string>(std::string(row[i], len[i])) : std::nullopt);
    }
  }
  mysql_free_result(res);
  return out;
}

std::string MysqlTarget::Quote(std::string_view s) {
  std::string out(s.size() * 2 + 3, '\0');
  out[0] = '\'';
  const unsigned long n = mysql_real_escape_string(m_, out.data() + 1, s.data(), s.size());
  out.resize(n + 1);
  out.push_back('\'');
  return out;
}

Result<MYSQL_STMT*> MysqlTarget::Prepare(const std::string& sql) {
  auto it = stmts_.find(sql);
  if (it != stmts_.end()) return it->second;
  if (stmts_.size() >= kMaxStatements) ClearStatements();
  MYSQL_STMT* stmt = mysql_stmt_init(m_);
  if (stmt == nullptr) return Status::Internal("mysql_stmt_init failed (out of memory?)");
  if (mysql_stmt_prepare(stmt, sql.data(), sql.size()) != 0) {
    Status s = Error(mysql_stmt_errno(stmt), mysql_stmt_error(stmt), sql);
    mysql_stmt_close(stmt);
    return s;
  }
  stmts_.emplace(sql, stmt);
  return stmt;
}

void MysqlTarget::ClearStatements() {
  for (auto& [sql, stmt] : stmts_) mysql_stmt_close(stmt);
  stmts_.clear();
}

Result<uint64_t> MysqlTarget::ExecuteBound(MYSQL_STMT* stmt, MYSQL_BIND* binds, unsigned rows,
                                           const std::string& sql) {
  last_errno_ = 0;
  unsigned int array = bulk_ && rows > 1 ? rows : 0;  // 0: binds point at one row
  if (mysql_stmt_attr_set(stmt, STMT_ATTR_ARRAY_SIZE, &array) != 0 ||
      mysql_stmt_bind_param(stmt, binds) != 0 || mysql_stmt_execute(stmt) != 0) {
    return Error(mysql_stmt_errno(stmt), mysql_stmt_error(stmt), sql);
  }
  const my_ulonglong n = mysql_stmt_affected_rows(stmt);
  return static_cast<uint64_t>(n == static_cast<my_ulonglong>(-1) ? 0 : n);
}

}  // namespace sluice::apply

namespace sluice::apply {
namespace {

// The in-memory file of one LoadData() call.
struct LoadSource {
  std::string_view data;
  size_t at = 0;
  bool wrong_name = false;
};

int LoadInit(void** ptr, const char* name, void* userdata) {
  auto* src = static_cast<LoadSource*>(userdata);
  *ptr = src;
  src->wrong_name = std::string_view(name) != MysqlTarget::kLoadFileName;
  return src->wrong_name ? 1 : 0;
}

int LoadRead(void* ptr, char* buf, unsigned int len) {
  auto* src = static_cast<LoadSource*>(ptr);
  const size_t n = std::min<size_t>(len, src->data.size() - src->at);
  std::memcpy(buf, src->data.data() + src->at, n);
  src->at += n;
  return static_cast<int>(n);
}

void LoadEnd(void*) {}

int LoadError(void* ptr, char* buf, unsigned int len) {
  auto* src = static_cast<LoadSource*>(ptr);
  std::snprintf(buf, len, "%s",
                src != nullptr && src->wrong_name
                    ? "the server asked for a file sluice apply did not offer"
                    : "local infile read failed");
  return 2000;  // CR_UNKNOWN_ERROR
}

}  // namespace

Result<uint64_t> MysqlTarget::LoadData(const std::string& sql, std::string_view data) {
  last_errno_ = 0;
  LoadSource src{data};
  mysql_set_local_infile_handler(m_, LoadInit, LoadRead, LoadEnd, LoadError, &src);
  const int rc = mysql_real_query(m_, sql.data(), sql.size());
  mysql_set_local_infile_default(m_);
  if (rc != 0) {
    const unsigned err = mysql_errno(m_);
    // ER_NOT_ALLOWED_COMMAND, ER_CLIENT_LOCAL_FILES_DISABLED: local_infile
    // was turned off since the connect; later runs use statements.
    if (err == 1148 || err == 3948) local_infile_ = false;
    return Error(err, mysql_error(m_), sql);
  }
  const my_ulonglong n = mysql_affected_rows(m_);
  if (const unsigned warnings = mysql_warning_count(m_); warnings != 0) {
    std::string first;
    if (auto row = QueryRow("SHOW WARNINGS LIMIT 1"); row.ok() && row->size() >= 3 && (*row)[2]) {
      first = ": " + *(*row)[2];
    }
    return Status::FailedPrecondition("the load gave " + std::to_string(warnings) + " warning(s)" +
                                      first + "; statement: " + Clip(sql));
  }
  return static_cast<uint64_t>(n == static_cast<my_ulonglong>(-1) ? 0 : n);
}

}  // namespace sluice::apply
