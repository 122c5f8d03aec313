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

}  // namespace sluice
