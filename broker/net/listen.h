// Listening sockets of sluiced's libuv servers (admin, consumer, HA).
#pragma once

#include <uv.h>

#include <string>

#include "base/status.h"

namespace sluice::net {

// Initializes *server on `loop`, binds it to `listen` ("IPv4:PORT"; port 0
// picks a free one) and listens with `on_connection`; *port gets the bound
// port. On error *server is closed (run the loop to finish closing it) and
// the status names `what` (the config key) and the cause.
Status Listen(uv_loop_t* loop, uv_tcp_t* server, const std::string& what, const std::string& listen,
              uv_connection_cb on_connection, int* port);

}  // namespace sluice::net
