#include "proto/connection.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace sluice::net {
namespace {

std::string Errno(int err) { return std::strerror(err); }

// Milliseconds from now to `deadline`, rounded up so a wait never ends
// just before it; 0 when it has passed.
int MillisUntil(Clock::time_point deadline) {
  const auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return ms > INT32_MAX ? INT32_MAX : static_cast<int>(ms);
}

bool Interrupted(const pollfd& p) { return (p.revents & (POLLIN | POLLERR | POLLHUP)) != 0; }

}  // namespace

Result<HostPort> ParseHostPort(std::string_view address) {
  HostPort hp;
  std::string_view port;
  if (!address.empty() && address.front() == '[') {
    const size_t close = address.find(']');
    if (close == std::string_view::npos || close + 1 >= address.size() ||
        address[close + 1] != ':') {
      return Status::InvalidArgument("broker address \"" + std::string(address) +
                                     "\" is not [IPv6]:port");
    }
    hp.host = std::string(address.substr(1, close - 1));
    port = address.substr(close + 2);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == std::string_view::npos || address.find(':') != colon) {
      return Status::InvalidArgument("broker address \"" + std::string(address) +
                                     "\" is not host:port (write IPv6 as [addr]:port)");
    }
    hp.host = std::string(address.substr(0, colon));
    port = address.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (hp.host.empty() || port.empty() || ec != std::errc() || end != port.data() + port.size() ||
      value == 0 || value > 65535) {
    return Status::InvalidArgument("broker address \"" + std::string(address) +
                                   "\" needs a host and a port in 1..65535");
  }
  hp.port = std::string(port);
  return hp;
}

Result<std::unique_ptr<Connection>> Connection::Dial(const std::string& address, int timeout_ms,
                                                     int interrupt_fd, uint32_t max_frame,
                                                     std::string_view peer) {
  SLUICE_ASSIGN_OR_RETURN(HostPort hp, ParseHostPort(address));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(hp.host.c_str(), hp.port.c_str(), &hints, &found); rc != 0) {
    return Status::IoError("resolving " + std::string(peer) + " " + address + ": " +
                           ::gai_strerror(rc));
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  Status last = Status::IoError(std::string(peer) + " " + address + " resolves to no address");
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    int fd =
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last =
          Status::IoError("socket for " + std::string(peer) + " " + address + ": " + Errno(errno));
      continue;
    }
    // Requests are small and each waits for its answer: Nagle would only
    // add latency.
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::unique_ptr<Connection> conn(
        new Connection(fd, address, std::string(peer) + " " + address, interrupt_fd, max_frame));
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last = Status::IoError("connecting to " + std::string(peer) + " " + address + ": " +
                               Errno(errno));
        continue;
      }
      Status st = conn->Wait(POLLOUT, deadline);
      if (st.code() == Code::kAborted) {
        ::freeaddrinfo(found);
        return st;
      }
      if (!st.ok()) {
        last = Status::IoError("connecting to " + std::string(peer) + " " + address +
                               ": no answer within " + std::to_string(timeout_ms) + " ms");
        continue;
      }
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        last = Status::IoError("connecting to " + std::string(peer) + " " + address + ": " +
                               Errno(err));
        continue;
      }
    }
    ::freeaddrinfo(found);
    return conn;
  }
  ::freeaddrinfo(found);
  return last;
}

std::unique_ptr<Connection> Connection::Adopt(int fd, std::string name, int interrupt_fd,
                                              uint32_t max_frame) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  std::string address = name.substr(name.rfind(' ') + 1);
  return std::unique_ptr<Connection>(
      new Connection(fd, std::move(address), std::move(name), interrupt_fd, max_frame));
}

void Connection::Shutdown() { ::shutdown(fd_, SHUT_RDWR); }

Connection::Connection(int fd, std::string address, std::string name, int interrupt_fd,
                       uint32_t max_frame)
    : fd_(fd),
      address_(std::move(address)),
      name_(std::move(name)),
      interrupt_fd_(interrupt_fd),
      reader_(max_frame) {}

Connection::~Connection() { ::close(fd_); }

Status Connection::Wait(short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p[2] = {{fd_, events, 0}, {interrupt_fd_, POLLIN, 0}};
    const int ms = MillisUntil(deadline);
    if (ms == 0) return Status::TimedOut(name_ + " did not answer in time");
    const int n = ::poll(p, 2, ms);
    if (n < 0) {
      if (errno == EINTR) continue;  // a signal: the interrupt descriptor says if it was ours
      return Status::IoError("poll: " + Errno(errno));
    }
    if (Interrupted(p[1])) return Status::Aborted("interrupted");
    if (p[0].revents != 0) return Status::Ok();  // ready, or an error the next call reports
  }
}

Status Connection::Send(std::string_view bytes, Clock::time_point deadline) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return Status::IoError("sending to " + name_ + ": " + Errno(errno));
    }
    SLUICE_RETURN_IF_ERROR(Wait(POLLOUT, deadline));
  }
  return Status::Ok();
}

Status Connection::Receive(google::protobuf::MessageLite* msg, Clock::time_point deadline) {
  char buf[64 << 10];
  for (;;) {
    std::string_view payload;
    auto got = reader_.Next(&payload);
    if (!got.ok()) {
      return Status::InvalidArgument(name_ + " sent a frame above the limit (" +
                                     got.status().message() +
                                     "): raise the receiver's max_frame or ask for fewer "
                                     "bytes per request");
    }
    if (*got) {
      Status st = frame::Parse(payload, msg, msg->GetTypeName());
      if (!st.ok()) return Status::Corruption(name_ + ": " + st.message());
      return Status::Ok();
    }
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n > 0) {
      reader_.Feed(std::string_view(buf, static_cast<size_t>(n)));
      continue;
    }
    if (n == 0) return Status::IoError(name_ + " closed the connection");
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return Status::IoError("receiving from " + name_ + ": " + Errno(errno));
    }
    SLUICE_RETURN_IF_ERROR(Wait(POLLIN, deadline));
  }
}

Status SleepInterruptibly(int interrupt_fd, int ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(ms);
  for (;;) {
    const int left = MillisUntil(deadline);
    if (left == 0) return Status::Ok();
    pollfd p{interrupt_fd, POLLIN, 0};
    const int n = ::poll(&p, 1, left);
    if (n < 0 && errno != EINTR) return Status::IoError("poll: " + Errno(errno));
    if (n > 0 && Interrupted(p)) return Status::Aborted("interrupted");
  }
}

}  // namespace sluice::net
