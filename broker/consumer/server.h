// ConsumerServer: the consumer protocol over TCP (docs/protocol.md). Three
// parts: the connection machinery (net::FrameServer: the libuv loop,
// limits, timers, long-poll parking), the handshake (handshake.h: who a
// connection is and what it may send) and the dispatch (session.h: each
// request as a C++ call on the ConsumerService, role requests on the
// node's RoleAdmin). This file wires them and installs the service's
// commit hook, which wakes parked Fetch and Get requests.
//
//   ServerOptions o;  o.listen = "127.0.0.1:0";  o.anonymous = true;
//   auto server = ConsumerServer::Start(o, &service);
//   ... (*server)->port() ...
//   int rc = (*server)->Stop();   // 0: every libuv handle was closed
//
// Limits (ServerOptions) guard the loop against peers: a frame above
// max_frame is answered FRAME_TOO_LARGE and the connection closed; a frame
// not completed within frame_deadline_ms is answered TIMEOUT and closed; a
// connection with nothing to do for idle_timeout_ms is closed; beyond
// max_connections a new connection is answered TOO_MANY_CONNECTIONS and
// closed; while a connection's unsent output is above max_output_bytes
// its requests are not read (a reader that does not read is paused, not
// buffered for). Requests of one connection are answered in order, one at
// a time: while one is parked the next is not read.
//
// Thread safety: Start and Stop from one thread; port() and stats() from
// any.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "base/status.h"
#include "broker/consumer/role_admin.h"
#include "broker/consumer/service.h"
#include "broker/net/frame_server.h"

namespace sluice::consumer {

struct ServerOptions {
  std::string listen = "127.0.0.1:7400";  // host:port; port 0 picks a free one
  // Authentication: user name -> auth::PasswordKey(password). A connection
  // that says Hello with a user must prove the password (Auth) before any
  // other request. With `anonymous`, a Hello without a user is granted
  // read-only access (Fetch, ListOffsets, Status; no groups).
  std::map<std::string, std::string> users;
  bool anonymous = false;
  // Limits.
  uint32_t max_frame = 1u << 20;  // bytes of one request frame (requests are small)
  uint32_t max_connections = 1024;
  uint32_t idle_timeout_ms = 300000;     // no request and no output moving
  uint32_t frame_deadline_ms = 10000;    // from a frame's first byte to its last
  uint32_t max_output_bytes = 8u << 20;  // unsent responses per connection
  uint32_t max_wait_ms = 60000;          // of a Fetch or Get long poll
  uint64_t epoch = 0;                    // HelloResponse.epoch
  // auth::PasswordKey(the [ha] secret): proves Promote, Demote and Status
  // on any connection past Hello; "" refuses role changes.
  std::string ha_key;
  // Where role requests and client epochs go, and who adds the node's
  // part of a status (the daemon's Node). Not owned; null: role requests
  // answer UNAVAILABLE.
  RoleAdmin* admin = nullptr;
};

// Counters for /metrics and tests: the connection machinery's, and
// refused proofs.
struct ServerStats : net::FrameServerStats {
  std::atomic<uint64_t> auth_failures{0};
};

class ConsumerServer {
 public:
  // Binds `options.listen`, installs the service's commit hook and starts
  // the loop thread. Destinations may be added to the service before or
  // after; a request for one not added yet is UNKNOWN_DESTINATION.
  static Result<std::unique_ptr<ConsumerServer>> Start(const ServerOptions& options,
                                                       ConsumerService* service);
  ~ConsumerServer();  // Stop()s
  ConsumerServer(const ConsumerServer&) = delete;
  ConsumerServer& operator=(const ConsumerServer&) = delete;

  int port() const { return frames_->port(); }
  const ServerStats& stats() const { return stats_; }
  // Closes every connection (parked requests are answered UNAVAILABLE),
  // joins the loop thread and closes the loop. Returns uv_loop_close's
  // result: 0, or UV_EBUSY when a handle was left open. Idempotent.
  int Stop();

 private:
  ConsumerServer() = default;
  ServerStats stats_;
  std::unique_ptr<net::Protocol> protocol_;
  std::unique_ptr<net::FrameServer> frames_;
};

}  // namespace sluice::consumer
