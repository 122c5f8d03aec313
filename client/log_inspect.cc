#include "client/log_inspect.h"

#include "proto/record_json.h"
#include "storage/commit_log.h"

namespace sluice {
namespace {

Result<std::unique_ptr<CommitLog>> OpenExisting(const std::string& path) {
  CommitLogOptions o;
  o.path = path;
  // Writes nothing (works on a full disk, beside a running sluiced); a
  // partial transaction at the tail is shown as absent, not removed.
  o.read_only = true;
  return CommitLog::Open(o);
}

}  // namespace

Status PrintLogInfo(const std::string& path, std::ostream& out) {
  SLUICE_ASSIGN_OR_RETURN(auto log, OpenExisting(path));
  const auto cp = log->Checkpoint();
  out << "path:           " << path << "\n"
      << "first offset:   " << log->FirstOffset() << "\n"
      << "high watermark: " << log->HighWatermark() << "\n"
      << "size (bytes):   " << log->SizeBytes() << "\n"
      << "checkpoint:     " << cp.file() << ":" << cp.pos()
      << (cp.gtid_set().empty() ? "" : " gtid " + cp.gtid_set()) << "\n"
      << "epoch:          " << log->CurrentEpoch() << "\n";
  SLUICE_ASSIGN_OR_RETURN(auto node, log->meta().Node());
  if (node) out << "node:           " << node->node_id() << " dest " << node->destination() << "\n";
  SLUICE_ASSIGN_OR_RETURN(auto groups, log->meta().ListGroups());
  for (const auto& [name, cursor] : groups) {
    out << "group " << name << ": acked " << cursor.acked_offset() << "\n";
  }
  return Status::Ok();
}

Status DumpLog(const std::string& path, uint64_t from, uint64_t max, std::ostream& out) {
  SLUICE_ASSIGN_OR_RETURN(auto log, OpenExisting(path));
  SLUICE_ASSIGN_OR_RETURN(auto node, log->meta().Node());
  const std::string dest = node ? node->destination() : "";
  Offset next(std::max(from, log->FirstOffset().value()));
  uint64_t left = max;
  std::string line;
  proto::ChangeRecord rec;
  while (left > 0 && next < log->HighWatermark()) {
    SLUICE_ASSIGN_OR_RETURN(auto set, log->Read(next, std::min<uint64_t>(left, 4096), 8 << 20));
    for (const auto& r : set.records) {
      if (!rec.ParseFromArray(r.data.data(), static_cast<int>(r.data.size()))) {
        return Status::Corruption("record at offset " + std::to_string(r.offset.value()) +
                                  " is not a ChangeRecord");
      }
      line.clear();
      AppendRecordJson(rec, JsonContext{r.offset.value(), dest}, &line);
      out << line << '\n';
    }
    left -= set.records.size();
    next = set.next_offset;
  }
  return Status::Ok();
}

}  // namespace sluice
