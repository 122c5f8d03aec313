// The admin HTTP listener ([admin] listen): GET /metrics (Prometheus text
// format) and GET /status (JSON). A small libuv server on its own loop
// thread; each request is answered by a handler and the connection closed.
//
// Limits: request head at most 8 KiB, read within 5 s, or the connection is
// closed. Only GET; anything else is 405, unknown paths 404.
//
// Thread safety: Start/Stop from the owner's thread. The handler runs on the
// loop thread and must only read thread-safe state (atomics, locked getters).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "base/status.h"

namespace sluice::admin {

struct Response {
  int code = 200;
  std::string content_type = "text/plain; version=0.0.4";
  std::string body;
};

using Handler = std::function<Response(const std::string& path)>;

class AdminServer {
 public:
  // listen: "HOST:PORT" (port 0 picks a free one; see port()).
  static Result<std::unique_ptr<AdminServer>> Start(const std::string& listen, Handler handler);
  ~AdminServer();  // Stop()s
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Closes every handle, ends the loop, joins the thread. Idempotent.
  // Returns uv_loop_close()'s result: 0 when every handle was closed.
  int Stop();
  int port() const { return port_; }

 private:
  struct Impl;
  AdminServer() = default;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace sluice::admin
