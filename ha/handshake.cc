#include "ha/handshake.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <spdlog/spdlog.h>

#include "ha/epochs.h"
#include "ha/primary.h"
#include "proto/auth.h"

namespace sluice::ha {
namespace {

constexpr uint32_t kVersion = 1;

}  // namespace

void SendRefusal(int fd, proto::ErrorCode code, const std::string& message) {
  proto::ToStandby m;
  m.mutable_refuse()->set_code(code);
  m.mutable_refuse()->set_message(message);
  std::string out;
  if (!frame::Append(m, &out, kHandshakeMaxFrame).ok()) return;
  (void)!::send(fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

PendingHandshake::PendingHandshake(HaPrimary* owner, int fd, std::string peer,
                                   Clock::time_point deadline)
    : owner_(owner), fd_(fd), peer_(std::move(peer)), deadline_(deadline) {}

PendingHandshake::~PendingHandshake() {
  if (fd_ >= 0) ::close(fd_);
}

short PendingHandshake::events() const { return out_.empty() ? POLLIN : POLLOUT; }

void PendingHandshake::Refuse(Refusal reason, proto::ErrorCode code, const std::string& message) {
  if (finished()) return;
  owner_->refusals_.Note(reason, "peer " + peer_, message);
  if (out_.empty() && reason != Refusal::kHungUp) SendRefusal(fd_, code, message);
  state_ = State::kRefused;
}

std::unique_ptr<net::Connection> PendingHandshake::TakeConnection(int interrupt_fd,
                                                                  uint32_t max_frame) {
  const int fd = fd_;
  fd_ = -1;
  return net::Connection::Adopt(fd, "standby " + peer_, interrupt_fd, max_frame);
}

void PendingHandshake::OnReady() {
  if (finished()) return;
  if (!out_.empty()) return Flush();
  // One read per wake-up: the reader holds at most one handshake frame
  // plus one read, and its limit is checked as soon as a header is in.
  char buf[16 << 10];
  const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
  if (n == 0) return Refuse(Refusal::kHungUp, proto::BAD_REQUEST, "closed mid-handshake");
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    return Refuse(Refusal::kHungUp, proto::BAD_REQUEST,
                  std::string("mid-handshake: ") + std::strerror(errno));
  }
  reader_.Feed(std::string_view(buf, static_cast<size_t>(n)));
  std::string_view payload;
  auto got = reader_.Next(&payload);
  if (!got.ok()) {
    return Refuse(Refusal::kFrameTooLarge, proto::FRAME_TOO_LARGE,
                  got.status().message() + " before proving the HA secret (" +
                      std::to_string(kHandshakeMaxFrame) + " bytes until then)");
  }
  if (!*got) return;
  // A standby sends one message and waits for the answer: more bytes now
  // are not the protocol.
  if (reader_.buffered() > 0) {
    return Refuse(Refusal::kBadRequest, proto::BAD_REQUEST,
                  "sent more than one message before the primary answered");
  }
  proto::ToPrimary in;
  if (!frame::Parse(payload, &in, "ToPrimary").ok()) {
    return Refuse(Refusal::kBadRequest, proto::BAD_REQUEST, "sent a frame that is not a ToPrimary");
  }
  OnMessage(in);
}

void PendingHandshake::OnMessage(const proto::ToPrimary& in) {
  if (state_ == State::kWantHello) {
    if (!in.has_hello()) {
      return Refuse(Refusal::kBadRequest, proto::BAD_REQUEST, "expected a hello first");
    }
    return OnHello(in.hello());
  }
  if (!in.has_auth()) {
    return Refuse(Refusal::kBadRequest, proto::BAD_REQUEST, "expected auth after the challenge");
  }
  OnAuth(in.auth());
}

void PendingHandshake::OnHello(const proto::HaHello& hello) {
  const HaOptions& options = owner_->options_;
  if (hello.version() != kVersion) {
    return Refuse(
        Refusal::kUnsupportedVersion, proto::UNSUPPORTED_VERSION,
        "this primary speaks HA protocol version 1, not " + std::to_string(hello.version()));
  }
  if (hello.cluster_id() != options.cluster_id) {
    return Refuse(Refusal::kWrongCluster, proto::WRONG_CLUSTER,
                  "the standby is in cluster '" + hello.cluster_id() + "', this primary in '" +
                      options.cluster_id + "': check [ha] cluster_id on both nodes");
  }
  auto it = owner_->logs_.find(hello.dest());
  if (it == owner_->logs_.end()) {
    return Refuse(Refusal::kUnknownDestination, proto::UNKNOWN_DESTINATION,
                  "this primary has no destination '" + hello.dest() + "'");
  }
  agreed_.log = it->second;
  agreed_.transfer = owner_->transfers_.at(hello.dest()).get();
  agreed_.dest = hello.dest();
  agreed_.node_id = hello.node_id();
  agreed_.kafka_address = hello.kafka_address();
  agreed_.kafka_broker_id = hello.kafka_broker_id();

  nonce_ = auth::RandomBytes(auth::kNonceBytes);
  proto::ToStandby out;
  auto* ch = out.mutable_challenge();
  ch->set_nonce(nonce_);
  ch->set_node_id(options.node_id);
  ch->set_epoch(agreed_.log->CurrentEpoch().value());
  state_ = State::kWantAuth;
  Answer(out);
}

void PendingHandshake::OnAuth(const proto::HaAuth& a) {
  const HaOptions& options = owner_->options_;
  const std::string& node = agreed_.node_id;
  const size_t cn = a.client_nonce().size();
  if (cn < auth::kMinClientNonceBytes || cn > auth::kMaxClientNonceBytes ||
      !auth::ProofMatches(auth::Proof(options.secret_key, nonce_, a.client_nonce()), a.proof())) {
    return Refuse(
        Refusal::kBadProof, proto::AUTH_FAILED,
        "standby '" + node + "' did not prove the HA secret: check [ha] secret_file on both nodes");
  }
  // Proven: from here on it is one of ours, and what is wrong is a matter
  // of configuration or history, not an attack.
  if (owner_->SessionCount() >= owner_->max_sessions_) {
    return Refuse(Refusal::kTooManySessions, proto::TOO_MANY_CONNECTIONS,
                  "this primary serves " + std::to_string(owner_->max_sessions_) +
                      " standby sessions already: raise [ha] max_sessions");
  }
  CommitLog* log = agreed_.log;
  std::vector<proto::EpochEntry> theirs(a.epochs().begin(), a.epochs().end());
  auto mine = log->EpochHistory();
  if (!mine.ok()) return Refuse(Refusal::kInternal, proto::INTERNAL, mine.status().ToString());
  const Epoch my_epoch = log->CurrentEpoch();
  if (LastEpoch(theirs) > my_epoch) {
    const std::string why = "standby " + node + " has seen epoch " +
                            std::to_string(LastEpoch(theirs).value()) +
                            ", newer than this node's " + std::to_string(my_epoch.value()) +
                            ": another node was promoted since";
    Refuse(Refusal::kStaleEpoch, proto::STALE_EPOCH, why + "; this node stops acting as primary");
    if (owner_->on_fenced_) owner_->on_fenced_(LastEpoch(theirs), why);
    return;
  }
  const Offset end = log->CommittedEnd();
  const Offset agreed = DivergencePoint(theirs, Offset(a.log_end()), *mine, end);
  if (agreed < log->FirstOffset()) {
    return Refuse(Refusal::kOffsetOutOfRange, proto::OFFSET_OUT_OF_RANGE,
                  "standby " + node + " needs records from offset " +
                      std::to_string(agreed.value()) + " but this primary's log starts at " +
                      std::to_string(log->FirstOffset().value()) +
                      ": retention removed them. A standby can only start from offset 0 or "
                      "from its own log's end, so it cannot catch up or be rebuilt until this "
                      "is supported; keep standbys within retention (ha.mode = \"sync\" holds "
                      "retention for them) or raise retention_hours / retention_bytes");
  }
  proto::ToStandby out;
  auto* acc = out.mutable_accept();
  acc->set_proof(auth::Proof(options.secret_key, a.client_nonce(), nonce_));
  acc->set_truncate_to(agreed.value());
  for (const auto& e : *mine) *acc->add_epochs() = e;
  acc->set_epoch(my_epoch.value());
  acc->set_consumer_address(options.consumer_address);
  acc->set_kafka_address(options.kafka_address);
  acc->set_kafka_broker_id(options.kafka_broker_id);
  acc->set_high_watermark(log->HighWatermark().value());
  agreed_.start = agreed;
  if (agreed.value() < a.log_end()) {
    spdlog::warn(
        "ha: standby {} ({}) diverged from destination {} at offset {}; it truncates "
        "[{}, {}) and catches up",
        node, peer_, agreed_.dest, agreed.value(), agreed.value(), a.log_end());
  }
  state_ = State::kSendingAccept;
  Answer(out);
  if (state_ != State::kRefused) {
    spdlog::info("ha: standby {} ({}) replicates destination {} from offset {}", node, peer_,
                 agreed_.dest, agreed.value());
  }
}

void PendingHandshake::Answer(const proto::ToStandby& m) {
  if (Status st = frame::Append(m, &out_, kHandshakeMaxFrame); !st.ok()) {
    out_.clear();
    return Refuse(Refusal::kInternal, proto::INTERNAL,
                  "this primary's answer does not fit in a handshake frame: " + st.ToString());
  }
  Flush();
}

void PendingHandshake::Flush() {
  while (sent_ < out_.size()) {
    const ssize_t n = ::send(fd_, out_.data() + sent_, out_.size() - sent_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // poll says when to go on
      out_.clear();
      return Refuse(Refusal::kHungUp, proto::BAD_REQUEST,
                    std::string("mid-handshake: ") + std::strerror(errno));
    }
    sent_ += static_cast<size_t>(n);
  }
  out_.clear();
  sent_ = 0;
  if (state_ == State::kSendingAccept) state_ = State::kAccepted;
}

}  // namespace sluice::ha
