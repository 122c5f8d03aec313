// The replication part of a node's status as JSON, shared by the admin
// listener's /status and `sluice status --json`.
#pragma once

#include <string>

#include "proto/protocol.pb.h"

namespace sluice {

// Appends ,"standbys":[{"node":...,"connected":...,"durable_offset":...,
// "lag_records":...,"lag_bytes":...,"lag_seconds":...,"in_sync":...},...]
void AppendStandbysJson(const proto::DestinationStatus& d, std::string* out);

}  // namespace sluice
