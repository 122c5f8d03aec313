// ConsumerServer: the consumer protocol over TCP (docs/protocol.md), a thin
// adapter in front of ConsumerService. One libuv loop thread owns every
// socket: it reads frames, checks the connection's handshake and rights,
// and hands each request to the service as a C++ call. The service never
// blocks the loop: Fetch and Get are called without a wait, and when they
// have nothing to return the request is parked until a commit (the
// service's commit hook does uv_async_send) or its wait ends. Reads are
// bounded by the service's max_bytes / max_records.
//
//   ServerOptions o;  o.listen = "127.0.0.1:0";  o.anonymous = true;
//   auto server = ConsumerServer::Start(o, &service);
//   ... (*server)->port() ...
//   (*server)->Stop();
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
// Thread safety: Start and Stop from one thread; port() from any.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "base/status.h"
#include "broker/consumer/service.h"

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
};

// Counters for /metrics and tests.
struct ServerStats {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_refused{0};  // max_connections
  std::atomic<uint64_t> connections_open{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> auth_failures{0};
  std::atomic<uint64_t> protocol_errors{0};  // bad frames, deadlines, idle closes
  std::atomic<uint64_t> bytes_out{0};
  // Long polls (a Fetch or Get with wait_ms that found nothing): parked,
  // then answered either after a commit gave them records (woken) or
  // empty at their deadline (expired).
  std::atomic<uint64_t> polls_parked{0};
  std::atomic<uint64_t> polls_woken{0};
  std::atomic<uint64_t> polls_expired{0};
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

  int port() const { return port_; }
  const ServerStats& stats() const;
  // Closes every connection (parked requests are answered UNAVAILABLE)
  // and joins the loop thread. Idempotent.
  void Stop();

 private:
  struct Impl;
  explicit ConsumerServer(std::unique_ptr<Impl> impl, int port);
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace sluice::consumer
