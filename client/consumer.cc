#include "client/consumer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "proto/auth.h"
#include "proto/connection.h"

namespace sluice {
namespace {

using net::Clock;

constexpr uint32_t kProtocolVersion = 1;
constexpr size_t kClientNonceBytes = 32;
static_assert(kClientNonceBytes >= auth::kMinClientNonceBytes &&
              kClientNonceBytes <= auth::kMaxClientNonceBytes);

Status ToStatus(const proto::Error& e) {
  Code code = Code::kInternal;
  switch (e.code()) {
    case proto::OK: return Status::Ok();
    case proto::BAD_REQUEST:
    case proto::FRAME_TOO_LARGE: code = Code::kInvalidArgument; break;
    case proto::UNSUPPORTED_VERSION:
    case proto::AUTH_FAILED:
    case proto::NOT_AUTHENTICATED:
    case proto::PERMISSION_DENIED:
    case proto::NOT_SUBSCRIBED: code = Code::kFailedPrecondition; break;
    case proto::UNKNOWN_DESTINATION:
    case proto::UNKNOWN_BATCH: code = Code::kNotFound; break;
    case proto::OFFSET_OUT_OF_RANGE: code = Code::kOutOfRange; break;
    case proto::NOT_PRIMARY:
    case proto::TOO_MANY_CONNECTIONS:
    case proto::STALE_EPOCH:
    case proto::UNAVAILABLE: code = Code::kUnavailable; break;
    case proto::TIMEOUT: code = Code::kTimedOut; break;
    default: code = Code::kInternal; break;
  }
  return Status(code, e.message().empty() ? proto::ErrorCode_Name(e.code()) : e.message());
}

// Failures another attempt (on a new connection, maybe another broker) may
// not have. Everything else is an answer for the caller.
bool Retryable(const Status& st) {
  switch (st.code()) {
    case Code::kIoError:
    case Code::kTimedOut:
    case Code::kUnavailable:
    case Code::kCorruption: return true;
    default: return false;
  }
}

// Answers that another broker may not give: NOT_PRIMARY, UNAVAILABLE...
bool TryElsewhere(proto::ErrorCode code) {
  return code == proto::NOT_PRIMARY || code == proto::UNAVAILABLE || code == proto::STALE_EPOCH ||
         code == proto::TOO_MANY_CONNECTIONS;
}

}  // namespace

Status ConsumerOptions::Validate() const {
  if (brokers.empty()) return Status::InvalidArgument("no broker address given");
  for (const auto& b : brokers) SLUICE_RETURN_IF_ERROR(net::ParseHostPort(b).status());
  if (connect_timeout_ms <= 0 || io_timeout_ms <= 0) {
    return Status::InvalidArgument("connect_timeout_ms and io_timeout_ms must be positive");
  }
  if (backoff_initial_ms <= 0 || backoff_max_ms < backoff_initial_ms) {
    return Status::InvalidArgument(
        "backoff_initial_ms must be positive and at most backoff_max_ms");
  }
  if (retry_for_ms < 0) return Status::InvalidArgument("retry_for_ms must not be negative");
  if (max_frame < 1024) return Status::InvalidArgument("max_frame below 1024 bytes");
  return Status::Ok();
}

Result<std::unique_ptr<Consumer>> Consumer::Open(ConsumerOptions options) {
  SLUICE_RETURN_IF_ERROR(options.Validate());
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
    return Status::IoError(std::string("pipe: ") + std::strerror(errno));
  }
  return std::unique_ptr<Consumer>(new Consumer(std::move(options), fds[0], fds[1]));
}

Consumer::Consumer(ConsumerOptions options, int interrupt_r, int interrupt_w)
    : options_(std::move(options)),
      interrupt_r_(interrupt_r),
      interrupt_w_(interrupt_w),
      brokers_(options_.brokers) {}

Consumer::~Consumer() {
  conn_.reset();
  ::close(interrupt_r_);
  ::close(interrupt_w_);
}

const std::string& Consumer::broker() const {
  static const std::string kNone;
  return conn_ ? conn_->address() : kNone;
}

void Consumer::Interrupt() {
  interrupted_.store(true, std::memory_order_relaxed);
  const char byte = 1;
  if (::write(interrupt_w_, &byte, 1) < 0) {
    // Full pipe: an earlier Interrupt left a byte there already.
  }
}

void Consumer::Disconnect() {
  conn_.reset();
  ahead_.reset();
}

bool Consumer::ReadAhead(proto::Response* resp) {
  if (!ahead_ || !conn_) return false;
  const uint64_t id = ahead_->id;
  ahead_.reset();
  const auto io = std::chrono::milliseconds(options_.io_timeout_ms);
  if (!conn_->Receive(resp, Clock::now() + io).ok() || resp->id() != id) {
    Disconnect();  // the next request connects again
    return false;
  }
  return true;
}

void Consumer::SendAhead(const proto::FetchRequest& asked, const proto::FetchResponse& answered) {
  if (!options_.prefetch || !conn_ || answered.records_size() == 0 ||
      answered.next_offset() >= answered.high_watermark()) {
    return;  // at the end: the caller's own wait (long poll) comes next
  }
  proto::Request req;
  req.set_id(++next_id_);
  *req.mutable_fetch() = asked;
  req.mutable_fetch()->set_offset(answered.next_offset());
  req.mutable_fetch()->set_wait_ms(0);
  std::string out;
  const auto io = std::chrono::milliseconds(options_.io_timeout_ms);
  if (!frame::Append(req, &out).ok() || !conn_->Send(out, Clock::now() + io).ok()) {
    Disconnect();
    return;
  }
  ahead_ = Ahead{req.id(), req.fetch()};
}

void Consumer::NextBroker() { next_broker_ = (next_broker_ + 1) % brokers_.size(); }

void Consumer::Redirect(const std::string& primary) {
  Disconnect();
  brokers_.erase(std::remove(brokers_.begin(), brokers_.end(), primary), brokers_.end());
  brokers_.insert(brokers_.begin(), primary);
  next_broker_ = 0;
  redirected_ = true;
}

Status Consumer::Answered(const proto::Error& error) {
  last_error_ = error;
  if (error.code() == proto::NOT_PRIMARY && !error.primary().empty() &&
      net::ParseHostPort(error.primary()).ok()) {
    Redirect(error.primary());
  } else if (TryElsewhere(error.code())) {
    Disconnect();
    NextBroker();
  }
  return ToStatus(error);
}

Status Consumer::Exchange(proto::Request* req, proto::Response* resp, uint32_t wait_ms) {
  if (ahead_) ReadAhead(resp);  // answers come in order: that one is first
  if (!conn_) return Status::Unavailable("the connection was lost");
  req->set_id(++next_id_);
  std::string out;
  SLUICE_RETURN_IF_ERROR(frame::Append(*req, &out));
  const auto io = std::chrono::milliseconds(options_.io_timeout_ms);
  Status st = conn_->Send(out, Clock::now() + io);
  if (!st.ok() && st.code() == Code::kIoError) {
    // The broker may have said why before closing (TOO_MANY_CONNECTIONS).
    Status why = conn_->Receive(resp, Clock::now());
    if (why.ok() && resp->id() == 0 && resp->error().code() != proto::OK) {
      Disconnect();
      return Answered(resp->error());
    }
  }
  if (st.ok()) st = conn_->Receive(resp, Clock::now() + io + std::chrono::milliseconds(wait_ms));
  if (!st.ok()) {
    Disconnect();
    return st;
  }
  if (resp->id() == 0 && resp->error().code() != proto::OK) {
    // Not an answer: the broker says why it is closing the connection.
    Disconnect();
    return Answered(resp->error());
  }
  if (resp->id() != req->id()) {
    const std::string broker = conn_->address();
    Disconnect();
    return Status::Corruption("broker " + broker + " answered request " +
                              std::to_string(req->id()) + " with id " + std::to_string(resp->id()));
  }
  return Status::Ok();
}

Status Consumer::Handshake() {
  proto::Request req;
  proto::Response resp;
  auto* hello = req.mutable_hello();
  hello->set_protocol_version(kProtocolVersion);
  hello->set_client(options_.client);
  hello->set_user(options_.user);
  hello->set_seen_epoch(max_epoch_.value());
  SLUICE_RETURN_IF_ERROR(Exchange(&req, &resp, 0));
  if (resp.error().code() != proto::OK) return Answered(resp.error());
  if (!resp.has_hello()) {
    return Status::Corruption("broker " + conn_->address() +
                              " answered Hello without a HelloResponse");
  }
  max_epoch_ = std::max(max_epoch_, Epoch(resp.hello().epoch()));
  if (!resp.hello().auth_required()) return Status::Ok();
  if (options_.user.empty()) {
    return Status::FailedPrecondition("broker " + conn_->address() +
                                      " requires authentication: give a user and a password");
  }
  const std::string client_nonce = auth::RandomBytes(kClientNonceBytes);
  proto::Request auth_req;
  auth_req.mutable_auth()->set_client_nonce(client_nonce);
  auth_req.mutable_auth()->set_proof(
      auth::Proof(auth::PasswordKey(options_.password), resp.hello().nonce(), client_nonce));
  SLUICE_RETURN_IF_ERROR(Exchange(&auth_req, &resp, 0));
  if (resp.error().code() != proto::OK) return Answered(resp.error());
  return Status::Ok();
}

Status Consumer::RestoreGroups() {
  for (auto it = groups_.begin(); it != groups_.end();) {
    const auto& [dest, group] = it->first;
    proto::Request req;
    proto::Response resp;
    auto* sub = req.mutable_subscribe();
    sub->set_dest(dest);
    sub->set_group(group);
    sub->set_filter(it->second);
    SLUICE_RETURN_IF_ERROR(Exchange(&req, &resp, 0));
    if (resp.error().code() == proto::OK) {
      // Batches handed out on the lost connection: the next Get redelivers them.
      proto::Request rb;
      rb.mutable_rollback()->set_dest(dest);
      rb.mutable_rollback()->set_group(group);
      rb.mutable_rollback()->set_batch_id(0);
      SLUICE_RETURN_IF_ERROR(Exchange(&rb, &resp, 0));
    }
    if (resp.error().code() != proto::OK) {
      Status st = Answered(resp.error());
      if (Retryable(st)) return st;
      // The group cannot be had back; later requests for it say NOT_SUBSCRIBED.
      st = st.WithContext(std::string("subscribing group ")
                              .append(group)
                              .append(" of ")
                              .append(dest)
                              .append(" again after a reconnect"));
      groups_.erase(it);
      Disconnect();
      return st;
    }
    ++it;
  }
  return Status::Ok();
}

Status Consumer::EnsureConnected() {
  if (conn_) return Status::Ok();
  auto conn = net::Connection::Dial(brokers_[next_broker_], options_.connect_timeout_ms,
                                    interrupt_r_, options_.max_frame);
  if (!conn.ok()) {
    NextBroker();
    return conn.status();
  }
  conn_ = std::move(*conn);
  const size_t dialed = next_broker_;
  Status st = Handshake();
  if (st.ok()) st = RestoreGroups();
  if (!st.ok()) {
    Disconnect();
    // A broker that fails the handshake in a way another may not (reset,
    // shutting down, full) is left for the next, unless Answered already
    // moved on (next broker, or redirect to the primary).
    if (Retryable(st) && !redirected_ && next_broker_ == dialed) NextBroker();
  }
  return st;
}

Status Consumer::Call(proto::Request* req, proto::Response* resp, uint32_t wait_ms) {
  int backoff_ms = options_.backoff_initial_ms;
  size_t tried = 0;  // failed attempts since the last sleep
  int redirects = 0;
  Clock::time_point first_failure;
  for (int failures = 0;; ++failures) {
    last_error_.Clear();
    if (interrupted()) return Status::Aborted("interrupted");
    redirected_ = false;
    Status st = EnsureConnected();
    if (st.ok()) st = Exchange(req, resp, wait_ms);
    if (st.ok()) {
      if (resp->error().code() == proto::OK) return Status::Ok();
      st = Answered(resp->error());
    }
    if (!Retryable(st)) return st;

    const auto now = Clock::now();
    if (failures == 0) first_failure = now;
    const auto retry_for = std::chrono::milliseconds(options_.retry_for_ms);
    if (now - first_failure >= retry_for) {
      return Status::Unavailable("gave up after " + std::to_string(options_.retry_for_ms) +
                                 " ms of failed attempts: " + st.message());
    }
    // Sleep once every broker has failed since the last sleep, and before
    // following a second redirect (two nodes naming each other).
    const bool sleep = redirected_ ? ++redirects > 1 : ++tried >= brokers_.size();
    if (!sleep) continue;
    tried = 0;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(retry_for - (now - first_failure));
    const int ms = static_cast<int>(std::min<int64_t>(backoff_ms, left.count()));
    SLUICE_RETURN_IF_ERROR(net::SleepInterruptibly(interrupt_r_, ms));
    backoff_ms = std::min(backoff_ms * 2, options_.backoff_max_ms);
  }
}

Status Consumer::Connect() {
  if (conn_) return Status::Ok();
  // A Status request is harmless to every broker and role: it exercises the
  // whole connect path with Call's retries.
  proto::Request req;
  req.mutable_status();
  proto::Response resp;
  return Call(&req, &resp, 0);
}

Result<proto::FetchResponse> Consumer::Fetch(const std::string& dest, Offset from,
                                             const FetchOptions& options) {
  const uint64_t offset = from.value();
  const uint32_t max_records = options.max_records, max_bytes = options.max_bytes;
  const uint32_t wait_ms = options.wait_ms;
  proto::Request req;
  auto* f = req.mutable_fetch();
  f->set_dest(dest);
  f->set_offset(offset);
  f->set_max_records(max_records);
  f->set_max_bytes(max_bytes);
  f->set_wait_ms(wait_ms);
  proto::Response resp;
  // The answer sent ahead, when it is this request's (the same but for the
  // wait): taken unless it is empty and the caller wants to wait.
  const bool same = ahead_ && ahead_->fetch.dest() == dest && ahead_->fetch.offset() == offset &&
                    ahead_->fetch.max_records() == max_records &&
                    ahead_->fetch.max_bytes() == max_bytes;
  if (same && ReadAhead(&resp) && resp.error().code() == proto::OK && resp.has_fetch() &&
      (resp.fetch().records_size() > 0 || wait_ms == 0)) {
    last_error_.Clear();
  } else {
    resp.Clear();
    SLUICE_RETURN_IF_ERROR(Call(&req, &resp, wait_ms));
  }
  SendAhead(*f, resp.fetch());
  return std::move(*resp.mutable_fetch());
}

Result<proto::ListOffsetsResponse> Consumer::ListOffsets(const std::string& dest,
                                                         uint64_t timestamp) {
  proto::Request req;
  req.mutable_list_offsets()->set_dest(dest);
  req.mutable_list_offsets()->set_timestamp(timestamp);
  proto::Response resp;
  SLUICE_RETURN_IF_ERROR(Call(&req, &resp, 0));
  return std::move(*resp.mutable_list_offsets());
}

Result<proto::SubscribeResponse> Consumer::Subscribe(const std::string& dest,
                                                     const std::string& group,
                                                     const std::string& filter) {
  proto::Request req;
  auto* s = req.mutable_subscribe();
  s->set_dest(dest);
  s->set_group(group);
  s->set_filter(filter);
  proto::Response resp;
  SLUICE_RETURN_IF_ERROR(Call(&req, &resp, 0));
  groups_[{dest, group}] = filter;
  return std::move(*resp.mutable_subscribe());
}

Result<proto::GetResponse> Consumer::Get(const std::string& dest, const std::string& group,
                                         uint32_t batch_size, uint32_t timeout_ms) {
  proto::Request req;
  auto* g = req.mutable_get();
  g->set_dest(dest);
  g->set_group(group);
  g->set_batch_size(batch_size);
  g->set_timeout_ms(timeout_ms);
  proto::Response resp;
  SLUICE_RETURN_IF_ERROR(Call(&req, &resp, timeout_ms));
  return std::move(*resp.mutable_get());
}

Result<proto::AckResponse> Consumer::Ack(const std::string& dest, const std::string& group,
                                         uint64_t batch_id) {
  proto::Request req;
  auto* a = req.mutable_ack();
  a->set_dest(dest);
  a->set_group(group);
  a->set_batch_id(batch_id);
  proto::Response resp;
  SLUICE_RETURN_IF_ERROR(Call(&req, &resp, 0));
  return std::move(*resp.mutable_ack());
}

Result<proto::RollbackResponse> Consumer::Rollback(const std::string& dest,
                                                   const std::string& group, uint64_t batch_id) {
  proto::Request req;
  auto* r = req.mutable_rollback();
  r->set_dest(dest);
  r->set_group(group);
  r->set_batch_id(batch_id);
  proto::Response resp;
  SLUICE_RETURN_IF_ERROR(Call(&req, &resp, 0));
  return std::move(*resp.mutable_rollback());
}

Status Consumer::Unsubscribe(const std::string& dest, const std::string& group) {
  proto::Request req;
  req.mutable_unsubscribe()->set_dest(dest);
  req.mutable_unsubscribe()->set_group(group);
  proto::Response resp;
  Status st = Call(&req, &resp, 0);
  if (st.ok() || last_error_.code() == proto::NOT_SUBSCRIBED) groups_.erase({dest, group});
  return st;
}

Result<proto::StatusResponse> Consumer::GetStatus() {
  proto::Request req;
  req.mutable_status();
  proto::Response resp;
  SLUICE_RETURN_IF_ERROR(Call(&req, &resp, 0));
  return std::move(*resp.mutable_status());
}

}  // namespace sluice
