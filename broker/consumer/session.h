// The consumer protocol's dispatch part (docs/protocol.md): one Session per
// connection of the FrameServer (broker/net/frame_server.h). It decodes a
// frame into a proto::Request, lets the Handshake decide what the
// connection may send, and serves the request as a C++ call: consumer
// requests on the ConsumerService, role requests on the node's RoleAdmin.
// Nothing here blocks the loop: Fetch and Get are called without a wait,
// and one that has nothing to return yet is parked until a commit wakes
// the server or its wait ends.
//
// Thread safety: the protocol is shared by the loop thread's sessions;
// everything runs on that thread.
#pragma once

#include <cstdint>
#include <memory>

#include "broker/consumer/handshake.h"
#include "broker/consumer/role_admin.h"
#include "broker/consumer/service.h"
#include "broker/net/frame_server.h"

namespace sluice::consumer {

constexpr uint32_t kProtocolVersion = 1;

class ConsumerProtocol final : public net::Protocol {
 public:
  // None owned. `admin` may be null: role requests then answer
  // UNAVAILABLE, and a status has only the service's part.
  // `auth_failures` counts refused proofs (for /metrics).
  ConsumerProtocol(ConsumerService* service, RoleAdmin* admin, AuthConfig auth, uint64_t epoch,
                   std::atomic<uint64_t>* auth_failures);

  std::unique_ptr<net::Session> Open(net::ServerConnection* conn) override;

 private:
  friend class ConsumerSession;
  ConsumerService* const service_;
  RoleAdmin* const admin_;
  const AuthConfig auth_;
  const uint64_t epoch_;  // HelloResponse.epoch, at least
  std::atomic<uint64_t>* const auth_failures_;
};

}  // namespace sluice::consumer
