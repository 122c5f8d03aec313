// The one way tests and benchmarks pick a TCP port on 127.0.0.1.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "base/status.h"

namespace sluice::testing {

// A port nothing listens on now: bound with port 0 (the kernel's choice),
// read back, released. Another process could take it before the caller
// binds it, which tests accept (they start their servers at once).
inline Result<int> PickFreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IoError("socket(): " + std::string(std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::string err = std::strerror(errno);
    ::close(fd);
    return Status::IoError("cannot pick a free port on 127.0.0.1: " + err);
  }
  ::close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

// PickFreePort(), 0 when there is none (a later connect or bind to port 0
// then fails with a clear error of its own).
inline int FreePort() {
  auto port = PickFreePort();
  return port.ok() ? *port : 0;
}

}  // namespace sluice::testing
