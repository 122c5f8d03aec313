// Connection: one blocking TCP connection carrying frames (proto/frame.h),
// private to client/ (Consumer's transport). Every wait is a poll() on the
// socket and on an interrupt descriptor: a byte readable there aborts the
// wait with Aborted, so a signal handler can stop a long poll at once.
//
// Errors: IoError (refused, reset, closed by the peer), TimedOut (the
// deadline passed), Aborted (interrupted), InvalidArgument (a frame above
// max_frame: the stream cannot be resynchronized), Corruption (a frame that
// is not the expected message). After any error the connection is unusable.
//
// Thread safety: none; one thread uses a Connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <google/protobuf/message_lite.h>

#include "base/status.h"
#include "proto/frame.h"

namespace sluice::client {

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
  static Result<std::unique_ptr<Connection>> Dial(const std::string& address, int timeout_ms,
                                                  int interrupt_fd, uint32_t max_frame);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Writes all of `bytes` before `deadline`.
  Status Send(std::string_view bytes, Clock::time_point deadline);
  // Reads the next frame before `deadline` and parses it into *msg.
  Status Receive(google::protobuf::MessageLite* msg, Clock::time_point deadline);

  const std::string& address() const { return address_; }

 private:
  Connection(int fd, std::string address, int interrupt_fd, uint32_t max_frame);
  // Waits until the socket is ready for `events`.
  Status Wait(short events, Clock::time_point deadline);

  const int fd_;
  const std::string address_;
  const int interrupt_fd_;
  frame::FrameReader reader_;
};

// Sleeps `ms`, or less when interrupt_fd becomes readable (then Aborted).
Status SleepInterruptibly(int interrupt_fd, int ms);

}  // namespace sluice::client
