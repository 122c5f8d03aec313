// A blocking client of the consumer protocol for tests: raw bytes when a
// test plays a misbehaving peer, whole Request/Response frames otherwise.
// 127.0.0.1 only; every wait is bounded.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "proto/frame.h"
#include "proto/protocol.pb.h"

namespace sluice::testing {

class FrameClient {
 public:
  enum class Got { kResponse, kClosed, kTimeout, kBadFrame };

  FrameClient() = default;
  ~FrameClient() { Close(); }
  FrameClient(const FrameClient&) = delete;
  FrameClient& operator=(const FrameClient&) = delete;

  bool Connect(int port) {
    Close();
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    reader_ = std::make_unique<frame::FrameReader>(1u << 30);
  }

  // Resets the connection instead of closing it cleanly (a vanished peer).
  void Reset() {
    linger l{1, 0};
    if (fd_ >= 0) ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    Close();
  }

  // Shrinks the receive buffer (a slow reader's window); before Connect
  // has no effect, so call it after.
  void SetReceiveBuffer(int bytes) {
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  }

  bool SendRaw(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  bool Send(const proto::Request& r) {
    std::string out;
    return frame::Append(r, &out).ok() && SendRaw(out);
  }

  // The next response frame, or why there is none within `timeout_ms`.
  Got Receive(proto::Response* r, int timeout_ms = 10000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      std::string_view payload;
      auto next = reader_->Next(&payload);
      if (!next.ok()) return Got::kBadFrame;
      if (*next)
        return r->ParseFromArray(payload.data(), static_cast<int>(payload.size())) ? Got::kResponse
                                                                                   : Got::kBadFrame;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      if (left <= 0) return Got::kTimeout;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) return Got::kTimeout;
      char buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return Got::kClosed;
      reader_->Feed(std::string_view(buf, static_cast<size_t>(n)));
    }
  }

  // Sends `r` and returns its answer (an empty Response with error INTERNAL
  // and a message saying what happened when none came).
  proto::Response Call(const proto::Request& r, int timeout_ms = 10000) {
    proto::Response out;
    if (!Send(r)) {
      out.mutable_error()->set_code(proto::INTERNAL);
      out.mutable_error()->set_message("test client: send failed");
      return out;
    }
    Got g = Receive(&out, timeout_ms);
    if (g != Got::kResponse) {
      out.Clear();
      out.mutable_error()->set_code(proto::INTERNAL);
      out.mutable_error()->set_message(g == Got::kClosed    ? "test client: closed"
                                       : g == Got::kTimeout ? "test client: timeout"
                                                            : "test client: bad frame");
    }
    return out;
  }

  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::unique_ptr<frame::FrameReader> reader_ = std::make_unique<frame::FrameReader>(1u << 30);
};

}  // namespace sluice::testing
