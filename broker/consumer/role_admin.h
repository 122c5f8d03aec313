// RoleAdmin: what the consumer protocol's role requests reach. Promote,
// Demote, a proven Status and a client's report of a newer epoch are the
// node's business (broker/daemon/node.h implements this), not the
// consumer service's: the server hands them over after it has checked the
// HA secret's proof (broker/consumer/handshake.h).
//
// Thread safety: every method may be called from the server's loop thread
// while the node changes role on others; implementations lock.
#pragma once

#include <string>

#include "base/types.h"
#include "proto/protocol.pb.h"

namespace sluice::consumer {

class RoleAdmin {
 public:
  virtual ~RoleAdmin() = default;
  virtual proto::Error Promote(const proto::PromoteRequest& req, proto::RoleResponse* out) = 0;
  virtual proto::Error Demote(const proto::DemoteRequest& req, proto::RoleResponse* out) = 0;
  // Starts a snapshot (sluice snapshot); answers with its id at once.
  virtual proto::Error Snapshot(const proto::SnapshotRequest& req,
                                proto::SnapshotResponse* out) = 0;
  // A client has met epoch `seen` on another node (Hello.seen_epoch). A
  // primary whose logs are all below it was replaced by a failover and
  // fences itself.
  virtual void NoteClientEpoch(Epoch seen) = 0;
  // Adds the node's part (role, epoch, replication, source lag) to a
  // status the service filled with its destinations.
  virtual void FillStatus(proto::StatusResponse* out) const = 0;
};

}  // namespace sluice::consumer
