#include "broker/net/listen.h"

#include <cstdlib>

namespace sluice::net {

Status Listen(uv_loop_t* loop, uv_tcp_t* server, const std::string& what, const std::string& listen,
              uv_connection_cb on_connection, int* port) {
  const size_t colon = listen.rfind(':');
  char* end = nullptr;
  const long p =
      colon == std::string::npos ? -1 : std::strtol(listen.c_str() + colon + 1, &end, 10);
  sockaddr_in addr{};
  if (p < 0 || p > 65535 || end == nullptr || *end != '\0' ||
      uv_ip4_addr(listen.substr(0, colon).c_str(), static_cast<int>(p), &addr) != 0) {
    return Status::InvalidArgument(what + " '" + listen +
                                   "': expected IPv4:PORT, e.g. 127.0.0.1:7400");
  }
  uv_tcp_init(loop, server);
  int rc = uv_tcp_bind(server, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(server), 128, on_connection);
  if (rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(server), nullptr);
    return Status::Unavailable(what + " " + listen + ": " + uv_strerror(rc) +
                               " (is another process using the port?)");
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(server, reinterpret_cast<sockaddr*>(&bound), &len);
  *port = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return Status::Ok();
}

}  // namespace sluice::net
