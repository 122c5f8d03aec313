#include "client/schema_cmd.h"

#include <map>

#include "proto/record.pb.h"
#include "proto/record_json.h"

namespace sluice {
namespace {

constexpr uint32_t kMaxRecordsPerFetch = 1000;

struct Version {
  uint64_t offset;
  proto::ChangeRecord record;
};

void PrintText(const std::string& table, size_t n, const Version& v, std::ostream& out) {
  const proto::ChangeRecord& r = v.record;
  out << table << " version " << n << " from offset " << v.offset << " (" << r.pos().file() << ":"
      << r.pos().pos();
  if (!r.gtid().empty()) out << ", gtid " << r.gtid();
  out << ")\n";
  for (int i = 0; i < r.schema().columns_size(); ++i) {
    const proto::ColumnShape& c = r.schema().columns(i);
    out << "  " << (c.name().empty() ? "@" + std::to_string(i + 1) : c.name()) << " "
        << c.sql_type();
    if (!c.charset().empty()) out << " charset " << c.charset();
    out << (c.nullable() ? " null" : " not null") << "\n";
  }
  if (r.schema().pk_size() > 0) {
    out << "  primary key (";
    for (int i = 0; i < r.schema().pk_size(); ++i) out << (i ? ", " : "") << r.schema().pk(i);
    out << ")\n";
  }
}

}  // namespace

Status PrintSchemaVersions(Consumer& c, const SchemaOptions& o, std::ostream& out) {
  auto range = c.ListOffsets(o.dest);
  if (!range.ok()) return range.status().WithContext("reading the offsets of " + o.dest);
  const uint64_t stop = range->high_watermark();
  // Per table, in log order: each version's first schema record.
  std::map<std::string, std::vector<Version>> versions;
  std::map<std::string, std::string> last_shape;
  proto::ChangeRecord rec;
  for (uint64_t at = range->first_offset(); at < stop && !c.interrupted();) {
    const auto max = static_cast<uint32_t>(std::min<uint64_t>(kMaxRecordsPerFetch, stop - at));
    auto got = c.Fetch(o.dest, Offset(at), {.max_records = max});
    if (!got.ok())
      return got.status().WithContext("fetching " + o.dest + " at " + std::to_string(at));
    if (got->records_size() == 0) {
      return Status::Internal("the broker returned no record at offset " + std::to_string(at) +
                              ", below the high watermark " + std::to_string(stop));
    }
    for (const auto& r : got->records()) {
      if (!rec.ParseFromString(r.record())) {
        return Status::Corruption("record at offset " + std::to_string(r.offset()) +
                                  " is not a ChangeRecord");
      }
      if (rec.op() != proto::OP_SCHEMA) continue;
      const std::string table = rec.db() + "." + rec.table();
      if (!o.table.empty() && table != o.table) continue;
      std::string shape = rec.schema().SerializeAsString();
      auto [it, fresh] = last_shape.try_emplace(table, shape);
      if (!fresh && it->second == shape) continue;
      it->second = std::move(shape);
      versions[table].push_back(Version{r.offset(), rec});
    }
    at = got->next_offset();
  }
  if (!o.table.empty() && versions.empty()) {
    return Status::NotFound("no schema record of " + o.table + " in " + o.dest + " (offsets " +
                            std::to_string(range->first_offset()) + " to " + std::to_string(stop) +
                            ")");
  }
  std::string line;
  for (const auto& [table, list] : versions) {
    for (size_t i = 0; i < list.size(); ++i) {
      if (o.json) {
        line.clear();
        AppendRecordJson(list[i].record, JsonContext{list[i].offset, o.dest}, &line);
        out << line << "\n";
      } else {
        PrintText(table, i + 1, list[i], out);
      }
    }
  }
  out.flush();
  return Status::Ok();
}

}  // namespace sluice
