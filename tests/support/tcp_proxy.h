// TcpProxy: a TCP forwarder on 127.0.0.1 for link-fault tests. It listens on
// a free port and forwards each connection to `target_port`; Cut() resets
// every open connection, Stall(true) stops forwarding bytes (both ways)
// until Stall(false), Refuse(true) closes new connections at once.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/thread_annotations.h"

namespace sluice::testing {

class TcpProxy {
 public:
  explicit TcpProxy(int target_port) : target_port_(target_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    ::listen(listen_fd_, 16);
    socklen_t len = sizeof(a);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~TcpProxy() {
    stop_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    ::close(listen_fd_);
    Cut();
    std::vector<std::thread> pumps;
    {
      sluice::MutexLock lock(&mu_);
      pumps.swap(pumps_);
    }
    for (auto& t : pumps) t.join();  // outside mu_: a pump takes it to finish
  }
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  void Stall(bool on) { stalled_ = on; }
  void Refuse(bool on) { refuse_ = on; }
  // Resets every connection open now (the pumps then end).
  void Cut() {
    sluice::MutexLock lock(&mu_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    cuts_++;
  }
  int connections() const { return connections_.load(); }

 private:
  void AcceptLoop() {
    while (!stop_) {
      int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      if (refuse_ || stop_) {
        ::close(c);
        continue;
      }
      int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<uint16_t>(target_port_));
      if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
        ::close(c);
        ::close(s);
        continue;
      }
      connections_++;
      sluice::MutexLock lock(&mu_);
      fds_.push_back(c);
      fds_.push_back(s);
      pumps_.emplace_back([this, c, s] { Pump(c, s); });
    }
  }
  // Copies both ways until either side closes or the link is cut.
  void Pump(int a, int b) {
    char buf[64 << 10];
    for (;;) {
      if (stalled_) {
        ::usleep(5000);
        pollfd p[2] = {{a, 0, 0}, {b, 0, 0}};
        ::poll(p, 2, 0);
        if ((p[0].revents | p[1].revents) & (POLLHUP | POLLERR)) break;
        continue;
      }
      pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
      if (::poll(p, 2, 50) < 0) break;
      bool done = false;
      for (int i = 0; i < 2 && !done; ++i) {
        if (p[i].revents == 0) continue;
        const int from = i == 0 ? a : b, to = i == 0 ? b : a;
        const ssize_t n = ::recv(from, buf, sizeof(buf), 0);
        if (n <= 0) {
          done = true;
          break;
        }
        for (ssize_t off = 0; off < n;) {
          const ssize_t w = ::send(to, buf + off, n - off, MSG_NOSIGNAL);
          if (w <= 0) {
            done = true;
            break;
          }
          off += w;
        }
      }
      if (done) break;
    }
    sluice::MutexLock lock(&mu_);
    for (int fd : {a, b}) {
      std::erase(fds_, fd);
      ::close(fd);
    }
  }

  const int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false}, stalled_{false}, refuse_{false};
  std::atomic<int> connections_{0};
  std::thread acceptor_;
  sluice::Mutex mu_;
  std::vector<int> fds_ GUARDED_BY(mu_);
  std::vector<std::thread> pumps_ GUARDED_BY(mu_);
  int cuts_ GUARDED_BY(mu_) = 0;
};

}  // namespace sluice::testing
