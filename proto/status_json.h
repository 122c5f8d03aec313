// The replication part of a node's status as JSON, shared by the admin
// listener's /status and `sluice status --json`.
#pragma once

#include <string>

#include "proto/protocol.pb.h"

namespace sluice {

// Appends ,"standbys":[{"node":...,"connected":...,"durable_offset":...,
// "lag_records":...,"lag_bytes":...,"lag_seconds":...,"in_sync":...},...]
void AppendStandbysJson(const proto::DestinationStatus& d, std::string* out);

// Appends ,"snapshots":[{"id":...,"done":...,"error":...,"tables":[{"table":"db.t",
// "state":...,"rows":...,"dropped":...,"chunks":...,"retries":...,"last_key":...,
// "rows_per_second":...,"error":...},...]},...]
void AppendSnapshotsJson(const proto::DestinationStatus& d, std::string* out);

}  // namespace sluice
