// The operator's calls to a node (sluice status/promote/demote,
// scripts/failover.sh): one connection each, Hello with ha_admin, then a
// request proven with the node's HA secret (proto/protocol.proto, "role
// changes"). The secret never crosses the wire.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "base/status.h"
#include "proto/protocol.pb.h"

namespace sluice::admin_client {

struct AdminOptions {
  std::string broker;  // the node's consumer address, host:port
  std::string secret;  // the [ha] secret (the secret_file's contents)
  int timeout_ms = 30000;
};

Result<proto::StatusResponse> NodeStatus(const AdminOptions& o);
// epoch 0: one above the node's own.
Result<proto::RoleResponse> Promote(const AdminOptions& o, uint64_t epoch);
// `primary`: the new primary's [ha] listen address.
Result<proto::RoleResponse> Demote(const AdminOptions& o, const std::string& primary);

// Asks the node (the destination's primary) for a snapshot of `tables`
// ("db.table"); its id. It starts in the background: NodeStatus() lists
// it in the destination's snapshots, started or refused.
Result<std::string> StartSnapshot(const AdminOptions& o, const std::string& dest,
                                  const std::vector<std::string>& tables);

// `sluice snapshot`: StartSnapshot, then the node's status until the
// snapshot has started (or was refused: the error) and, with `wait`, until
// it is done, printing each table's progress.
Status RunSnapshot(const AdminOptions& o, const std::string& dest,
                   const std::vector<std::string>& tables, bool wait, int timeout_s,
                   std::ostream& out);

// A person's summary, or one JSON object (a line) with every field.
void PrintStatus(const proto::StatusResponse& s, bool json, std::ostream& out);
void PrintRole(const proto::RoleResponse& r, std::ostream& out);

}  // namespace sluice::admin_client
