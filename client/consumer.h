// Consumer: the C++ client of the consumer protocol (docs/protocol.md), a
// blocking call per request over one TCP connection to a broker.
//
//   ConsumerOptions o;
//   o.brokers = {"10.0.0.1:7400", "10.0.0.2:7400"};
//   o.user = "reader";  o.password = "...";
//   auto c = Consumer::Open(o);                       // validates; connects lazily
//   auto fetched = (*c)->Fetch("shop", Offset(offset), {.max_records = 1000, .wait_ms = 1000});
//   if (!fetched.ok() && (*c)->last_error().code() == proto::OFFSET_OUT_OF_RANGE) ...
//
// Connections. The first call connects to the first broker that answers,
// trying `brokers` in turn, and says Hello (and Auth when the broker asks
// for it). A call that loses its connection (refused, reset, closed, no
// answer within io_timeout_ms plus the request's own wait) reconnects with
// exponential backoff and sends the request again; so does a call answered
// UNAVAILABLE (then the next broker is tried) or TOO_MANY_CONNECTIONS. A
// group request answered NOT_PRIMARY goes to the primary the answer names
// (it is put first in the broker list). A call gives up with Unavailable
// after retry_for_ms of failed attempts; AUTH_FAILED and every other error
// answer are returned at once.
//
// Groups are at-least-once across reconnects. A group's outstanding
// batches stay outstanding on the broker when a connection is lost (they
// are stored with the group), and Get hands out only what follows them. So
// after a reconnect the Consumer subscribes every group it had subscribed
// again (same filter) and rolls back its outstanding batches (Rollback(0))
// before the next request: the next Get redelivers every record not yet
// acknowledged. An Ack of a batch taken before a reconnect answers
// UNKNOWN_BATCH (NotFound) and the batch's records come again from Get. A
// request sent again after a lost answer may have been applied once
// already (an Ack that was in fact applied also answers UNKNOWN_BATCH, and
// nothing is redelivered). A group is meant for one Consumer at a time: the
// rollback after a reconnect takes back every outstanding batch of the group.
//
// Errors map to Status codes: OFFSET_OUT_OF_RANGE -> OutOfRange,
// UNKNOWN_DESTINATION and UNKNOWN_BATCH -> NotFound, AUTH_FAILED,
// NOT_AUTHENTICATED, PERMISSION_DENIED, NOT_SUBSCRIBED and
// UNSUPPORTED_VERSION -> FailedPrecondition, BAD_REQUEST and FRAME_TOO_LARGE
// -> InvalidArgument, UNAVAILABLE, NOT_PRIMARY, STALE_EPOCH and
// TOO_MANY_CONNECTIONS -> Unavailable, TIMEOUT -> TimedOut, INTERNAL ->
// Internal; the message is the broker's. last_error() keeps the answer
// itself (with OFFSET_OUT_OF_RANGE's valid range).
//
// Thread safety: one thread makes the calls; Interrupt() may be called from
// any thread and from a signal handler.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/types.h"
#include "proto/frame.h"
#include "proto/protocol.pb.h"

namespace sluice {

namespace net {
class Connection;
}

// A Fetch's limits. 0 for max_records / max_bytes: the broker's default.
// With wait_ms > 0 and no records yet, the broker answers on the next
// commit or after wait_ms (capped by its max_wait_ms).
struct FetchOptions {
  uint32_t max_records = 0;
  uint32_t max_bytes = 0;
  uint32_t wait_ms = 0;
};

struct ConsumerOptions {
  std::vector<std::string> brokers;  // "host:port" ("[v6]:port"), tried in turn
  std::string user;                  // "" asks for anonymous read-only access
  std::string password;
  std::string client = "sluice-client";  // Hello.client, for the broker's logs
  int connect_timeout_ms = 5000;
  int io_timeout_ms = 30000;  // for an answer, plus the request's own wait
  int backoff_initial_ms = 100;
  int backoff_max_ms = 5000;
  int retry_for_ms = 30000;  // give a call up after this long of failed attempts
  // Reading by offset: after an answer that leaves more to read, ask for the
  // next records at once (no wait), so the broker reads them while the
  // caller handles these. A Fetch that continues at next_offset with the
  // same limits takes that answer; any other request first reads it and
  // throws it away.
  bool prefetch = true;
  uint32_t max_frame = frame::kDefaultMaxFrame;  // largest response frame accepted

  Status Validate() const;
};

class Consumer {
 public:
  // Checks the options; connects on the first call (or Connect()).
  static Result<std::unique_ptr<Consumer>> Open(ConsumerOptions options);
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Connects now (with the retries of any call), to see bad credentials or
  // unreachable brokers before the first request.
  Status Connect();

  // Records from `offset` on (FetchOptions: how many, how long to wait).
  Result<proto::FetchResponse> Fetch(const std::string& dest, Offset offset,
                                     const FetchOptions& options = {});
  // First retained offset and high watermark; with a timestamp (seconds),
  // also the first offset at or after it.
  Result<proto::ListOffsetsResponse> ListOffsets(const std::string& dest, uint64_t timestamp = 0);

  // Joins `group` (filter: a regex over "db.table", "" keeps everything).
  // The Consumer remembers it to subscribe again after a reconnect.
  Result<proto::SubscribeResponse> Subscribe(const std::string& dest, const std::string& group,
                                             const std::string& filter = "");
  // The next batch (batch_id 0: nothing within timeout_ms).
  Result<proto::GetResponse> Get(const std::string& dest, const std::string& group,
                                 uint32_t batch_size, uint32_t timeout_ms = 0);
  Result<proto::AckResponse> Ack(const std::string& dest, const std::string& group,
                                 uint64_t batch_id);
  Result<proto::RollbackResponse> Rollback(const std::string& dest, const std::string& group,
                                           uint64_t batch_id);
  Status Unsubscribe(const std::string& dest, const std::string& group);

  Result<proto::StatusResponse> GetStatus();

  // The broker's error answer behind the last call's failure; code OK when
  // the last call succeeded or failed without an answer (no connection,
  // interrupted).
  const proto::Error& last_error() const { return last_error_; }
  // "host:port" of the broker connected to; "" when not connected.
  const std::string& broker() const;

  // Makes the call in progress and every later one return Aborted at once
  // (within a poll). Async-signal-safe.
  void Interrupt();
  bool interrupted() const { return interrupted_.load(std::memory_order_relaxed); }

 private:
  Consumer(ConsumerOptions options, int interrupt_r, int interrupt_w);

  // Sends *req (its id set here) and reads its answer into *resp, connecting
  // and retrying as the header says. `wait_ms`: the request's own wait.
  Status Call(proto::Request* req, proto::Response* resp, uint32_t wait_ms);
  // Connects, says Hello (and Auth) and restores the groups; when this
  // returns Ok conn_ is ready.
  Status EnsureConnected();
  Status Handshake();
  Status RestoreGroups();
  // One request and its answer on conn_; drops the connection on failure.
  // Ok also when the answer carries an error (the caller looks).
  Status Exchange(proto::Request* req, proto::Response* resp, uint32_t wait_ms);
  // A non-OK answer: remembers it, returns its Status.
  Status Answered(const proto::Error& error);
  void Disconnect();
  // Reads the answer of the Fetch sent ahead into *resp (false when there
  // was none, or it is lost with the connection).
  bool ReadAhead(proto::Response* resp);
  // Sends the Fetch that continues `answered` (see prefetch).
  void SendAhead(const proto::FetchRequest& asked, const proto::FetchResponse& answered);
  void NextBroker();
  void Redirect(const std::string& primary);

  // Constant after construction.
  const ConsumerOptions options_;
  const int interrupt_r_, interrupt_w_;  // a pipe: Interrupt() writes, polls read

  std::atomic<bool> interrupted_{false};

  // The calling thread's.
  std::vector<std::string> brokers_;  // options_.brokers, with redirects put first
  size_t next_broker_ = 0;            // index into brokers_ of the next to dial
  bool redirected_ = false;           // the last failure was a NOT_PRIMARY naming the primary
  std::unique_ptr<net::Connection> conn_;
  Epoch max_epoch_{0};  // the highest epoch any broker said (Hello.seen_epoch: fencing)
  uint64_t next_id_ = 0;
  // The Fetch sent ahead on conn_ (prefetch), whose answer is not read yet.
  struct Ahead {
    uint64_t id = 0;
    proto::FetchRequest fetch;
  };
  std::optional<Ahead> ahead_;
  // Groups subscribed: (dest, group) -> filter.
  std::map<std::pair<std::string, std::string>, std::string> groups_;
  proto::Error last_error_;
};

}  // namespace sluice
