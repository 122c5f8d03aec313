#include "broker/binlog/source_factory.h"

#include <mysql.h>

#include <filesystem>

#include "broker/binlog/file_source.h"
#include "broker/binlog/mysql_source.h"

namespace sluice::binlog {
namespace {

constexpr std::string_view kFileScheme = "file://";
constexpr std::string_view kMysqlScheme = "mysql://";

Result<std::unique_ptr<BinlogSource>> OpenFiles(const SourceSpec& spec) {
  std::string path(spec.url.substr(kFileScheme.size()));
  if (path.empty() || path[0] != '/') {
    return Status::InvalidArgument("source " + spec.url +
                                   ": a file source is file:///absolute/directory");
  }
  FileSourceOptions o;
  o.follow = true;
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) {
    o.files = {path};
  } else {
    o.dir = path;
  }
  SLUICE_ASSIGN_OR_RETURN(MysqlStart start, MysqlStart::Parse(spec.start));
  switch (start.kind) {
    case MysqlStart::Kind::kEarliest: break;
    case MysqlStart::Kind::kFilePos: o.start = start.file_pos; break;
    case MysqlStart::Kind::kLatest: {
      std::vector<std::string> files = o.files;
      if (files.empty()) {
        SLUICE_ASSIGN_OR_RETURN(files, ListBinlogFiles(o.dir));
      }
      o.start.file = std::filesystem::path(files.back()).filename().string();
      o.start.pos = std::filesystem::file_size(files.back(), ec);
      if (ec) return Status::IoError("cannot size " + files.back() + ": " + ec.message());
      break;
    }
    default:
      return Status::InvalidArgument("start " + spec.start +
                                     ": a GTID start needs a mysql:// source; use FILE:POS");
  }
  SLUICE_ASSIGN_OR_RETURN(auto source, FileSource::Open(o));
  return std::unique_ptr<BinlogSource>(std::move(source));
}

}  // namespace

Result<std::unique_ptr<BinlogSource>> OpenBinlogSource(const SourceSpec& spec) {
  std::string_view url = spec.url;
  if (url.starts_with(kFileScheme)) return OpenFiles(spec);
  if (!url.starts_with(kMysqlScheme)) {
    return Status::InvalidArgument("source " + spec.url +
                                   ": expected mysql://user:password@host:port or file:///dir");
  }
  SLUICE_ASSIGN_OR_RETURN(MysqlSourceOptions o, ParseMysqlUrl(url));
  if (spec.server_id == 0) {
    return Status::InvalidArgument(
        "server_id: a mysql:// source needs a non-zero server_id, "
        "unique among the server's replicas");
  }
  o.server_id = spec.server_id;
  o.require_full_metadata = spec.require_full_metadata;
  o.learn_gtid_state = spec.learn_gtid_state;
  SLUICE_ASSIGN_OR_RETURN(o.start, MysqlStart::Parse(spec.start));
  SLUICE_ASSIGN_OR_RETURN(auto source, MysqlSource::Open(o));
  return std::unique_ptr<BinlogSource>(std::move(source));
}

Result<uint64_t> BytesBehind(const std::vector<BinlogFileSize>& files, std::string_view file,
                             uint64_t pos) {
  size_t i = 0;
  while (i < files.size() && files[i].name != file) ++i;
  if (i == files.size()) {
    return Status::NotFound("binlog " + std::string(file) + " is not among the source's files");
  }
  uint64_t behind = files[i].size > pos ? files[i].size - pos : 0;
  for (++i; i < files.size(); ++i) behind += files[i].size;
  return behind;
}

SourceEndProbe::SourceEndProbe(SourceSpec spec) : spec_(std::move(spec)) {}

SourceEndProbe::~SourceEndProbe() {
  if (conn_ != nullptr) mysql_close(conn_);
}

void SourceEndProbe::UseServer(const std::string& server) {
  if (server == server_) return;
  server_ = server;
  if (conn_ != nullptr) mysql_close(conn_);  // the next List() connects to it
  conn_ = nullptr;
}

Result<std::vector<BinlogFileSize>> SourceEndProbe::List() {
  std::vector<BinlogFileSize> files;
  if (spec_.url.starts_with(kFileScheme)) {
    std::string path(spec_.url.substr(kFileScheme.size()));
    std::vector<std::string> paths;
    std::error_code ec;
    if (std::filesystem::is_regular_file(path, ec)) {
      paths = {path};
    } else {
      SLUICE_ASSIGN_OR_RETURN(paths, ListBinlogFiles(path));
    }
    for (const auto& p : paths) {
      uint64_t size = std::filesystem::file_size(p, ec);
      if (ec) return Status::IoError("cannot size " + p + ": " + ec.message());
      files.push_back({std::filesystem::path(p).filename().string(), size});
    }
    return files;
  }
  SLUICE_ASSIGN_OR_RETURN(MysqlSourceOptions o, ParseMysqlUrl(spec_.url));
  for (const auto& h : o.hosts) {
    if (h.host + ":" + std::to_string(h.port) == server_) {
      o.host = h.host;
      o.port = h.port;
    }
  }
  if (conn_ == nullptr) {
    SLUICE_ASSIGN_OR_RETURN(conn_, ConnectMysql(o));
  }
  auto listed = ListMysqlBinlogSizes(o, conn_);
  if (!listed.ok()) {
    mysql_close(conn_);  // reconnect next time
    conn_ = nullptr;
  }
  return listed;
}

Result<uint64_t> SourceEndProbe::BytesBehind(std::string_view file, uint64_t pos) {
  SLUICE_ASSIGN_OR_RETURN(auto files, List());
  return binlog::BytesBehind(files, file, pos);
}

}  // namespace sluice::binlog
