// FrameServer: the connection machinery of sluice's framed TCP protocols.
// A frame is a 4-byte big-endian length, then that many bytes
// (proto/frame.h; Kafka frames its requests the same way). One libuv loop
// thread owns every socket: it accepts, reads frames, writes answers, keeps
// each connection's limits and timers, and hands each whole frame to the
// connection's Session. The server knows nothing of what frames hold: a
// protocol is a Protocol, which opens a Session per connection, and the
// Session is its dispatch part (broker/consumer/session.h for sluice's own
// protocol).
//
//   class EchoSession : public net::Session {
//     void OnFrame(std::string_view p) override { conn_->Send(Frame(p)); }
//     ...
//   };
//   net::FrameServerOptions o;  o.listen = "127.0.0.1:0";
//   auto server = net::FrameServer::Start(o, &echo_protocol, &stats);
//   ... (*server)->port() ...
//   int rc = (*server)->Stop();   // 0: the loop closed with no handle open
//
// Limits (FrameServerOptions) guard the loop against peers: a frame above
// max_frame, a frame not completed within frame_deadline_ms, and a
// connection beyond max_connections each get the session's farewell frame
// (Session::Farewell) and are closed; a connection with nothing to do for
// idle_timeout_ms is closed; while a connection's unsent output is above
// max_output_bytes its frames are not read (a reader that does not read
// is paused, not buffered for). Frames of one connection are served in
// order, one at a time: while one is parked (ServerConnection::Park) the next is
// not read.
//
// Long polls: a session that has nothing to answer yet parks its request.
// Wake() (from any thread; a commit hook) retries every parked request;
// at its deadline a parked request is retried once more and must answer.
//
// Thread safety: Start and Stop from one thread; Waker(), port() and the
// stats from any thread. ServerConnection and Session methods run on the loop
// thread only.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace sluice::net {

struct FrameServerOptions {
  std::string listen = "127.0.0.1:0";  // host:port; port 0 picks a free one
  std::string what = "server.listen";  // the config key, for errors
  std::string thread_name = "sl-frames";
  uint32_t max_frame = 1u << 20;  // bytes of one frame's body
  uint32_t max_connections = 1024;
  uint32_t idle_timeout_ms = 300000;     // no frame and no output moving
  uint32_t frame_deadline_ms = 10000;    // from a frame's first byte to its last
  uint32_t max_output_bytes = 8u << 20;  // unsent answers per connection
  uint32_t max_wait_ms = 60000;          // of a parked request
};

// Counters for /metrics and tests.
struct FrameServerStats {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_refused{0};  // max_connections
  std::atomic<uint64_t> connections_open{0};
  std::atomic<uint64_t> requests{0};         // frames served
  std::atomic<uint64_t> protocol_errors{0};  // refusals, deadlines, idle closes
  std::atomic<uint64_t> bytes_out{0};
  // Long polls: parked, then answered either after a Wake gave them
  // something (woken) or at their deadline (expired).
  std::atomic<uint64_t> polls_parked{0};
  std::atomic<uint64_t> polls_woken{0};
  std::atomic<uint64_t> polls_expired{0};
};

// Why the server closes a connection on its own.
enum class Refusal {
  kFrameTooLarge,       // a length above max_frame
  kFrameDeadline,       // a frame not completed within frame_deadline_ms
  kTooManyConnections,  // beyond max_connections
  kShutdown,            // Stop() while a request was parked
};

// One peer. Owned by the server; valid until the session is destroyed.
class ServerConnection {
 public:
  virtual ~ServerConnection() = default;
  // Writes `frame` (length prefix included).
  virtual void Send(std::string frame) = 0;
  // An empty buffer to build the next frame in: the last written frame's,
  // so large answers do not allocate (and fault in) afresh.
  virtual std::string TakeBuffer() = 0;
  // Writes `frame` (none when empty), reads nothing more and closes once
  // it is written.
  virtual void CloseAfter(std::string frame) = 0;
  // CloseAfter, for a peer that broke the protocol: counted as a protocol
  // error.
  virtual void Refuse(std::string frame) = 0;
  // The frame just served waits for something to answer: nothing more is
  // read until Session::Retry answers it, after a Wake or at the end of
  // `wait_ms` (capped by max_wait_ms).
  virtual void Park(uint32_t wait_ms) = 0;
  // The limit for frames not yet read (a handshake's small, then larger).
  virtual void SetMaxFrame(uint32_t max_frame) = 0;
};

// A protocol's per-connection part: its dispatch.
class Session {
 public:
  virtual ~Session() = default;
  // One whole frame's body, valid during the call. The session answers
  // (Send), parks (Park) or refuses (Refuse) before it returns.
  virtual void OnFrame(std::string_view body) = 0;
  // The parked frame again. `expired`: its wait is over and it must be
  // answered now. Otherwise (a Wake) it is answered only if there is
  // something now; false keeps it parked.
  virtual bool Retry(bool expired) = 0;
  // The frame to send before the server closes the connection for `why`
  // ("" to close without a word); `message` says why for a person.
  virtual std::string Farewell(Refusal why, const std::string& message) = 0;
};

class Protocol {
 public:
  virtual ~Protocol() = default;
  // A session for a new connection. Called on the loop thread.
  virtual std::unique_ptr<Session> Open(ServerConnection* conn) = 0;
};

class FrameServer {
 public:
  // Binds options.listen and starts the loop thread. `protocol` and
  // `stats` are not owned and must outlive the server.
  static Result<std::unique_ptr<FrameServer>> Start(const FrameServerOptions& options,
                                                    Protocol* protocol, FrameServerStats* stats);
  ~FrameServer();  // Stop()s
  FrameServer(const FrameServer&) = delete;
  FrameServer& operator=(const FrameServer&) = delete;

  int port() const { return port_; }
  // Retries the parked requests. The function may be called from any
  // thread, and after Stop() (then it does nothing): a commit hook.
  std::function<void()> Waker() const;
  // Closes every connection (a parked request gets the session's
  // kShutdown farewell), joins the loop thread and closes the loop.
  // Returns uv_loop_close's result: 0, or UV_EBUSY if a handle leaked.
  // Idempotent (later calls return the first result).
  int Stop();

 private:
  struct Impl;
  FrameServer(std::unique_ptr<Impl> impl, int port);
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  int stop_result_ = 0;
};

}  // namespace sluice::net
