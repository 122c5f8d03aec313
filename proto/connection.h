// Connection: one blocking TCP connection carrying frames (proto/frame.h):
// the consumer client's transport and both ends of HA replication. Every wait is a poll() on the
// socket and on an interrupt descriptor: a byte readable there aborts the
// wait with Aborted, so a signal handler can stop a long poll at once.
//
// Errors: IoError (refused, reset, closed by the peer), TimedOut (the
// deadline passed), Aborted (interrupted), InvalidArgument (a frame above
// max_frame: the stream cannot be resynchronized), Corruption (a frame that
// is not the expected message). After any error the connection is unusable.
//
// Thread safety: one thread may Send while another Receives (HA's read and
// write services share a connection that way); otherwise none.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <google/protobuf/message_lite.h>

#include "base/status.h"
#include "proto/frame.h"

namespace sluice::net {

using Clock = std::chrono::steady_clock;

struct HostPort {
  std::string host;  // a name, an IPv4 address or an IPv6 address (without brackets)
  std::string port;  // decimal, 1..65535
};

// Parses "host:port" or "[v6]:port"; InvalidArgument saying what is wrong.
Result<HostPort> ParseHostPort(std::string_view address);

class Connection {
 public:
  // Connects to `address` ("host:port") within timeout_ms, trying each
  // address the name resolves to (name resolution itself is not bounded).
  // REQUIRES: interrupt_fd stays open for the Connection's life.
  // `peer` names the other end in errors ("broker", "primary").
  static Result<std::unique_ptr<Connection>> Dial(const std::string& address, int timeout_ms,
                                                  int interrupt_fd, uint32_t max_frame,
                                                  std::string_view peer = "broker");
  // Takes an accepted socket (made non-blocking here); `name` says who it
  // is in errors ("standby 127.0.0.1:40312"; its last word is address()).
  static std::unique_ptr<Connection> Adopt(int fd, std::string name, int interrupt_fd,
                                           uint32_t max_frame);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Writes all of `bytes` before `deadline`.
  Status Send(std::string_view bytes, Clock::time_point deadline);
  // Reads the next frame before `deadline` and parses it into *msg.
  Status Receive(google::protobuf::MessageLite* msg, Clock::time_point deadline);

  const std::string& address() const { return address_; }
  // The limit on frames received from now on (see FrameReader::set_max_frame).
  void set_max_frame(uint32_t max_frame) { reader_.set_max_frame(max_frame); }
  // Stops both directions: a thread blocked in Send or Receive returns.
  void Shutdown();

 private:
  Connection(int fd, std::string address, std::string name, int interrupt_fd, uint32_t max_frame);
  // Waits until the socket is ready for `events`.
  Status Wait(short events, Clock::time_point deadline);

  const int fd_;
  const std::string address_;  // host:port
  const std::string name_;     // "broker host:port", for errors
  const int interrupt_fd_;
  frame::FrameReader reader_;
};

// Sleeps `ms`, or less when interrupt_fd becomes readable (then Aborted).
Status SleepInterruptibly(int interrupt_fd, int ms);

}  // namespace sluice::net
