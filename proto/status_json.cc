#include "proto/status_json.h"

#include <cstdio>

#include "proto/record_json.h"

namespace sluice {

void AppendStandbysJson(const proto::DestinationStatus& d, std::string* out) {
  *out += ",\"standbys\":[";
  for (int j = 0; j < d.standbys_size(); ++j) {
    const auto& sb = d.standbys(j);
    if (j > 0) *out += ',';
    *out += "{\"node\":";
    AppendJsonString(sb.node_id(), out);
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  ",\"connected\":%s,\"durable_offset\":%llu,\"lag_records\":%llu,"
                  "\"lag_bytes\":%llu,\"lag_seconds\":%.3f,\"in_sync\":%s}",
                  sb.connected() ? "true" : "false",
                  static_cast<unsigned long long>(sb.durable_offset()),
                  static_cast<unsigned long long>(sb.lag_records()),
                  static_cast<unsigned long long>(sb.lag_bytes()), sb.lag_seconds(),
                  sb.in_sync() ? "true" : "false");
    *out += buf;
  }
  *out += "]";
}

void AppendSnapshotsJson(const proto::DestinationStatus& d, std::string* j) {
  *j += ",\"snapshots\":[";
  for (int i = 0; i < d.snapshots_size(); ++i) {
    const auto& s = d.snapshots(i);
    *j += i ? ",{\"id\":" : "{\"id\":";
    AppendJsonString(s.id(), j);
    *j += s.done() ? ",\"done\":true" : ",\"done\":false";
    *j += ",\"error\":";
    AppendJsonString(s.error(), j);
    *j += ",\"tables\":[";
    for (int k = 0; k < s.tables_size(); ++k) {
      const auto& t = s.tables(k);
      *j += k ? ",{\"table\":" : "{\"table\":";
      AppendJsonString(t.db() + "." + t.table(), j);
      *j += ",\"state\":";
      AppendJsonString(t.state(), j);
      *j += ",\"rows\":" + std::to_string(t.rows());
      *j += ",\"dropped\":" + std::to_string(t.dropped());
      *j += ",\"chunks\":" + std::to_string(t.chunks());
      *j += ",\"retries\":" + std::to_string(t.retries());
      *j += ",\"last_key\":";
      AppendJsonString(t.last_key(), j);
      char rate[32];
      std::snprintf(rate, sizeof rate, "%.0f", t.rows_per_second());
      *j += std::string(",\"rows_per_second\":") + rate;
      *j += ",\"error\":";
      AppendJsonString(t.error(), j);
      *j += "}";
    }
    *j += "]}";
  }
  *j += "]";
}

}  // namespace sluice
