// PendingHandshake: one connection to the HA port from accept until its
// peer has proven the HA secret (then HaPrimary gives it a StandbySession
// with its two threads) or is refused. Private to ha/.
//
// Why on the accept thread, not a thread per connection: a peer that has
// proven nothing must cost the primary next to nothing (500 half-open
// connections once cost 500 threads, four peers announcing 200 MiB frames
// once cost 800 MiB). The handshake is two small request/answer exchanges
// whose answers take microseconds to compute, so the accept thread polls
// every pending socket (nonblocking) and advances each as its bytes arrive;
// a pool of threads would add hand-offs and still be blocked by slow peers.
// Each handshake has a deadline for the whole exchange (trickled bytes do
// not extend it), reads frames of at most kHandshakeMaxFrame, and there are
// at most options.max_pending_handshakes of them at once.
//
// Thread safety: none; only the accept thread touches it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "ha/ha_options.h"
#include "ha/refusals.h"
#include "proto/connection.h"
#include "proto/frame.h"
#include "proto/ha.pb.h"
#include "storage/commit_log.h"

namespace sluice::ha {

class HaPrimary;
class GroupTransfer;

// What an accepted handshake agreed on: where the standby's session starts.
struct AgreedSession {
  CommitLog* log = nullptr;
  GroupTransfer* transfer = nullptr;
  std::string dest, node_id;
  std::string kafka_address;  // the standby's Kafka listener ("" if none)
  int32_t kafka_broker_id = 0;
  Offset start;  // the agreed offset: the session sends from here
};

// Sends refuse{code, message} to a peer if the socket takes it at once
// (nonblocking, one try): a peer that does not read only sees the close.
void SendRefusal(int fd, proto::ErrorCode code, const std::string& message);

class PendingHandshake {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State { kWantHello, kWantAuth, kSendingAccept, kAccepted, kRefused };

  // Takes the accepted nonblocking socket `fd` of `peer` ("ip:port").
  // REQUIRES: owner outlives this object.
  PendingHandshake(HaPrimary* owner, int fd, std::string peer, Clock::time_point deadline);
  ~PendingHandshake();  // closes the socket unless TakeConnection took it
  PendingHandshake(const PendingHandshake&) = delete;
  PendingHandshake& operator=(const PendingHandshake&) = delete;

  int fd() const { return fd_; }
  // For poll(): POLLOUT while an answer is partly sent, else POLLIN.
  short events() const;
  Clock::time_point deadline() const { return deadline_; }
  State state() const { return state_; }
  bool finished() const { return state_ == State::kAccepted || state_ == State::kRefused; }

  // poll() says the socket is ready: reads or writes what it can and moves
  // on, perhaps to kAccepted or kRefused.
  void OnReady();
  // Counts (and maybe logs) the refusal, sends refuse{code, message} when
  // nothing else is half sent, and ends in kRefused.
  void Refuse(Refusal reason, proto::ErrorCode code, const std::string& message);

  // REQUIRES: state() == kAccepted. The socket, for the standby's session.
  std::unique_ptr<net::Connection> TakeConnection(int interrupt_fd, uint32_t max_frame);
  const AgreedSession& agreed() const { return agreed_; }

 private:
  void OnMessage(const proto::ToPrimary& in);
  void OnHello(const proto::HaHello& hello);
  void OnAuth(const proto::HaAuth& a);
  // Queues `m` and sends what the socket takes now.
  void Answer(const proto::ToStandby& m);
  void Flush();

  HaPrimary* const owner_;
  int fd_;
  const std::string peer_;
  const Clock::time_point deadline_;
  State state_ = State::kWantHello;
  frame::FrameReader reader_{kHandshakeMaxFrame};
  std::string out_;    // an answer not yet sent
  size_t sent_ = 0;    // bytes of out_ sent
  std::string nonce_;  // ours, from the challenge
  AgreedSession agreed_;
};

}  // namespace sluice::ha
