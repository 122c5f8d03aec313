#include "ha/primary.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>

#include <spdlog/spdlog.h>

#include "base/clock.h"
#include "base/thread_name.h"
#include "ha/batch_peek.h"
#include "ha/epochs.h"
#include "proto/auth.h"
#include "proto/connection.h"
#include "proto/ha.pb.h"

namespace sluice::ha {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr uint32_t kVersion = 1;
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);

Result<sockaddr_in> ParseListen(const std::string& listen) {
  auto hp = net::ParseHostPort(listen);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (!hp.ok() && listen.ends_with(":0")) {  // port 0: any free one
    hp = net::HostPort{listen.substr(0, listen.size() - 2), "0"};
  }
  if (!hp.ok() || ::inet_pton(AF_INET, hp->host.c_str(), &addr.sin_addr) != 1) {
    return Status::InvalidArgument("ha.listen '" + listen +
                                   "': expected IPv4:PORT, e.g. 127.0.0.1:7401");
  }
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(hp->port)));
  return addr;
}

}  // namespace

// One standby's connection for one destination: the read service (this
// object's first thread: handshake, then reports) and the write service.
class StandbySession {
 public:
  StandbySession(HaPrimary* owner, std::unique_ptr<net::Connection> conn)
      : owner_(owner), options_(owner->options_), conn_(std::move(conn)) {}
  ~StandbySession() {
    Close();
    Join();
  }

  void Start() { reader_ = std::thread([this] {
      SetThreadName("sl-ha-read");
      ReadService();
    }); }
  void Close() {
    closed_.store(true);
    conn_->Shutdown();
    cv_.notify_all();
  }
  void Join() {
    if (reader_.joinable()) reader_.join();
  }
  bool done() const { return done_.load(); }

 private:
  void ReadService();
  void WriteService();
  Status Handshake();
  // Sends refuse{code, message}, counts it and returns the message as an error.
  Status Refuse(proto::ErrorCode code, const std::string& message);
  Status Send(const proto::ToStandby& m);
  Status SendGroups();
  Status SendIngestState();

  HaPrimary* const owner_;
  const HaOptions& options_;
  const std::unique_ptr<net::Connection> conn_;
  std::thread reader_, writer_;
  std::atomic<bool> closed_{false}, done_{false};
  CommitLog* log_ = nullptr;         // set by the handshake, before the writer starts
  GroupTransfer* transfer_ = nullptr;
  uint64_t start_ = 0;               // agreed offset: the writer starts here
  std::string frame_;                // the writer's output buffer

  mutable std::mutex mu_;
  std::condition_variable cv_;       // the writer waits here for room in flight
  std::string dest_, node_id_;       // guarded by mu_ (set once by the handshake)
  uint64_t sent_bytes_ = 0;          // guarded by mu_: log bytes below what was sent
  uint64_t reported_bytes_ = 0;      // guarded by mu_
};

Status StandbySession::Send(const proto::ToStandby& m) {
  frame_.clear();
  SLUICE_RETURN_IF_ERROR(frame::Append(m, &frame_, options_.max_frame));
  return conn_->Send(frame_, Clock::now() + milliseconds(options_.dead_after_ms));
}

Status StandbySession::Refuse(proto::ErrorCode code, const std::string& message) {
  owner_->refused_.fetch_add(1);
  proto::ToStandby m;
  m.mutable_refuse()->set_code(code);
  m.mutable_refuse()->set_message(message);
  (void)Send(m);  // it may be gone already; the log line below is what counts
  spdlog::warn("ha: refused standby at {}: {}", conn_->address(), message);
  return Status::FailedPrecondition(message);
}

Status StandbySession::Handshake() {
  const auto deadline = Clock::now() + kHandshakeTimeout;
  proto::ToPrimary in;
  SLUICE_RETURN_IF_ERROR(conn_->Receive(&in, deadline));
  if (!in.has_hello()) return Refuse(proto::BAD_REQUEST, "expected a hello first");
  const proto::HaHello hello = in.hello();  // a copy: `in` is reused below
  if (hello.version() != kVersion) {
    return Refuse(proto::UNSUPPORTED_VERSION, "this primary speaks HA protocol version 1, not " +
                                                  std::to_string(hello.version()));
  }
  if (hello.cluster_id() != options_.cluster_id) {
    return Refuse(proto::WRONG_CLUSTER, "the standby is in cluster '" + hello.cluster_id() +
                                            "', this primary in '" + options_.cluster_id +
                                            "': check [ha] cluster_id on both nodes");
  }
  auto it = owner_->logs_.find(hello.dest());
  if (it == owner_->logs_.end()) {
    return Refuse(proto::UNKNOWN_DESTINATION,
                  "this primary has no destination '" + hello.dest() + "'");
  }
  log_ = it->second;
  transfer_ = owner_->transfers_.at(hello.dest()).get();
  {
    std::lock_guard lock(mu_);
    dest_ = hello.dest();
    node_id_ = hello.node_id();
  }

  const std::string nonce = auth::RandomBytes(auth::kNonceBytes);
  proto::ToStandby out;
  auto* ch = out.mutable_challenge();
  ch->set_nonce(nonce);
  ch->set_node_id(options_.node_id);
  ch->set_epoch(log_->CurrentEpoch().value());
  SLUICE_RETURN_IF_ERROR(Send(out));

  in.Clear();
  SLUICE_RETURN_IF_ERROR(conn_->Receive(&in, deadline));
  if (!in.has_auth()) return Refuse(proto::BAD_REQUEST, "expected auth after the challenge");
  const proto::HaAuth& a = in.auth();
  const size_t cn = a.client_nonce().size();
  if (cn < auth::kMinClientNonceBytes || cn > auth::kMaxClientNonceBytes ||
      !auth::ProofMatches(auth::Proof(options_.secret_key, nonce, a.client_nonce()), a.proof())) {
    return Refuse(proto::AUTH_FAILED, "standby " + hello.node_id() +
                                          " did not prove the HA secret: check [ha] secret_file "
                                          "on both nodes");
  }

  std::vector<proto::EpochEntry> theirs(a.epochs().begin(), a.epochs().end());
  auto mine = log_->EpochHistory();
  if (!mine.ok()) return mine.status();
  const uint64_t my_epoch = log_->CurrentEpoch().value();
  if (LastEpoch(theirs) > my_epoch) {
    const std::string why = "standby " + hello.node_id() + " has seen epoch " +
                            std::to_string(LastEpoch(theirs)) + ", newer than this node's " +
                            std::to_string(my_epoch) + ": another node was promoted since";
    Status st = Refuse(proto::STALE_EPOCH, why + "; this node stops acting as primary");
    if (owner_->on_fenced_) owner_->on_fenced_(LastEpoch(theirs), why);
    return st;
  }
  const Offset end = log_->CommittedEnd();
  const Offset agreed = DivergencePoint(theirs, Offset(a.log_end()), *mine, end);
  if (agreed < log_->FirstOffset()) {
    return Refuse(proto::OFFSET_OUT_OF_RANGE,
                  "standby " + hello.node_id() + " needs records from offset " +
                      std::to_string(agreed.value()) + " but this primary's log starts at " +
                      std::to_string(log_->FirstOffset().value()) +
                      ": retention removed them. A standby can only start from offset 0 or "
                      "from its own log's end, so it cannot catch up or be rebuilt until this "
                      "is supported; keep standbys within retention (ha.mode = \"sync\" holds "
                      "retention for them) or raise retention_hours / retention_bytes");
  }
  out.Clear();
  auto* acc = out.mutable_accept();
  acc->set_proof(auth::Proof(options_.secret_key, a.client_nonce(), nonce));
  acc->set_truncate_to(agreed.value());
  for (const auto& e : *mine) *acc->add_epochs() = e;
  acc->set_epoch(my_epoch);
  acc->set_consumer_address(options_.consumer_address);
  acc->set_high_watermark(log_->HighWatermark().value());
  SLUICE_RETURN_IF_ERROR(Send(out));
  start_ = agreed.value();
  if (agreed.value() < a.log_end()) {
    spdlog::warn("ha: standby {} ({}) diverged from destination {} at offset {}; it truncates "
                 "[{}, {}) and catches up",
                 hello.node_id(), conn_->address(), hello.dest(), agreed.value(), agreed.value(),
                 a.log_end());
  }
  spdlog::info("ha: standby {} ({}) replicates destination {} from offset {}", hello.node_id(),
               conn_->address(), hello.dest(), agreed.value());
  return Status::Ok();
}

void StandbySession::ReadService() {
  Status st = Handshake();
  if (st.ok()) {
    transfer_->Connected(node_id_, true);
    writer_ = std::thread([this] {
      SetThreadName("sl-ha-write");
      WriteService();
    });
    proto::ToPrimary in;
    while (!closed_.load()) {
      st = conn_->Receive(&in, Clock::now() + milliseconds(options_.dead_after_ms));
      if (!st.ok()) break;
      if (!in.has_report()) continue;  // newer message kinds: ignored
      const proto::HaReport& r = in.report();
      {
        std::lock_guard lock(mu_);
        reported_bytes_ = r.end_bytes();
      }
      cv_.notify_all();
      transfer_->Report(node_id_, r.durable_offset(), r.end_bytes());
    }
    if (!closed_.load()) {
      spdlog::warn("ha: standby {} ({}) of destination {} is gone: {}", node_id_,
                   conn_->address(), dest_, st.ToString());
    }
    transfer_->Connected(node_id_, false);
  } else if (st.code() != Code::kFailedPrecondition && !closed_.load()) {
    spdlog::warn("ha: handshake with {} failed: {}", conn_->address(), st.ToString());
  }
  Close();
  if (writer_.joinable()) writer_.join();
  done_.store(true);
}

Status StandbySession::SendGroups() {
  auto groups = log_->meta().ListGroups();
  if (!groups.ok()) return groups.status();
  proto::ToStandby m;
  auto* g = m.mutable_groups();
  for (auto& [name, cursor] : *groups) {
    auto* e = g->add_groups();
    e->set_name(name);
    *e->mutable_cursor() = std::move(cursor);
  }
  return Send(m);
}

Status StandbySession::SendIngestState() {
  auto entries = log_->ReadIngestState("");
  if (!entries.ok()) return entries.status();
  proto::ToStandby m;
  auto* s = m.mutable_ingest_state();
  for (auto& [key, value] : *entries) {
    auto* e = s->add_entries();
    e->set_key(std::move(key));
    e->set_value(std::move(value));
  }
  return Send(m);
}

void StandbySession::WriteService() {
  uint64_t next = start_;
  uint64_t groups_version = ~uint64_t{0};
  uint64_t state_version = ~uint64_t{0};
  uint64_t sent_hw = ~uint64_t{0};
  auto last_send = Clock::now();
  auto last_groups = Clock::now() - milliseconds(10);
  const auto heartbeat = milliseconds(options_.heartbeat_ms);
  Status st;
  while (!closed_.load() && st.ok()) {
    const uint64_t seen = log_->ChangeCount();
    // The groups, whole, when they changed; at most every 10 ms, so a
    // stream of acks cannot starve the data.
    const uint64_t version = log_->meta().version();
    if (version != groups_version && Clock::now() - last_groups >= milliseconds(10)) {
      groups_version = version;
      st = SendGroups();
      last_send = last_groups = Clock::now();
      continue;
    }
    {
      // Flow control: wait while the standby has not reported enough.
      std::unique_lock lock(mu_);
      if (sent_bytes_ > reported_bytes_ + options_.max_inflight_bytes) {
        cv_.wait_for(lock, milliseconds(100));
        continue;
      }
    }
    auto batches = log_->ReadBatches(Offset(next), options_.max_data_bytes);
    if (!batches.ok()) {
      st = batches.status();
      break;
    }
    // The ingest state goes before the batches that follow its change: a
    // commit bumps the version before the next commit writes, so a batch
    // read here is never newer than the version read after it. (A prepared
    // XA transaction's records must reach the standby no later than the
    // checkpoint that moves past its PREPARE.)
    if (const uint64_t sv = log_->IngestStateVersion(); sv != state_version) {
      state_version = sv;
      st = SendIngestState();
      if (!st.ok()) break;
    }
    if (!batches->empty()) {
      proto::ToStandby m;
      auto* d = m.mutable_data();
      d->set_base_offset(next);
      uint64_t size = 0;
      BatchPeek last{};
      for (size_t i = 0; i < batches->size(); ++i) {
        auto peek = PeekBatch((*batches)[i]);
        if (!peek) {
          st = Status::Corruption("a stored batch at offset " + std::to_string(next) +
                                  " is too short");
          break;
        }
        if (i == 0) d->set_epoch(peek->epoch);
        last = *peek;
        size += (*batches)[i].size();
        d->add_batches(std::move((*batches)[i]));
      }
      if (!st.ok()) break;
      d->set_size(size);
      d->set_high_watermark(log_->HighWatermark().value());
      d->set_committed_end(log_->CommittedEnd().value());
      sent_hw = d->high_watermark();
      st = Send(m);
      next = last.end_offset;
      {
        std::lock_guard lock(mu_);
        sent_bytes_ = last.bytes_end;
      }
      last_send = Clock::now();
      continue;
    }
    const uint64_t hw = log_->HighWatermark().value();
    if (hw != sent_hw || Clock::now() - last_send >= heartbeat) {
      proto::ToStandby m;
      auto* h = m.mutable_heartbeat();
      h->set_high_watermark(hw);
      h->set_committed_end(log_->CommittedEnd().value());
      h->set_epoch(log_->CurrentEpoch().value());
      h->set_time_ms(WallClockMs());
      sent_hw = hw;
      st = Send(m);
      last_send = Clock::now();
      continue;
    }
    // Group changes do not count as log changes: look again within 20 ms.
    log_->WaitForChange(seen, std::min<milliseconds>(heartbeat, milliseconds(20)));
  }
  if (!st.ok() && !closed_.load()) {
    spdlog::warn("ha: sending destination {} to standby {} stopped: {}", dest_, node_id_,
                 st.ToString());
  }
  Close();
}

HaPrimary::HaPrimary(const HaOptions& options, FenceCallback on_fenced)
    : options_(options), on_fenced_(std::move(on_fenced)) {}

Result<std::unique_ptr<HaPrimary>> HaPrimary::Start(const HaOptions& options,
                                                     std::vector<HaDestination> dests,
                                                     FenceCallback on_fenced) {
  if (options.secret_key.empty()) return Status::InvalidArgument("ha: no secret configured");
  if (options.sync && options.sync_replicas == 0) {
    return Status::InvalidArgument("ha.sync_replicas must be at least 1 in sync mode");
  }
  SLUICE_ASSIGN_OR_RETURN(sockaddr_in addr, ParseListen(options.listen));
  // spdlog creates its registry on first use; do it on this thread, before
  // ours start (Debian's libspdlog is not TSan-instrumented, so TSan cannot
  // see that two threads' first log lines are safe).
  (void)spdlog::default_logger_raw();
  std::unique_ptr<HaPrimary> p(new HaPrimary(options, std::move(on_fenced)));
  if (::pipe2(p->stop_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Status::IoError(std::string("pipe: ") + std::strerror(errno));
  }
  p->listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int one = 1;
  ::setsockopt(p->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (p->listen_fd_ < 0 ||
      ::bind(p->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(p->listen_fd_, 64) != 0) {
    return Status::Unavailable("ha.listen " + options.listen + ": " + std::strerror(errno) +
                               " (is another process using the port?)");
  }
  socklen_t len = sizeof(addr);
  ::getsockname(p->listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  p->port_ = ntohs(addr.sin_port);
  for (const auto& d : dests) {
    p->logs_[d.name] = d.log;
    p->transfers_[d.name] = std::make_unique<GroupTransfer>(d.name, d.log, options);
    p->transfers_[d.name]->Start();
  }
  p->accept_thread_ = std::thread([raw = p.get()] {
    SetThreadName("sl-ha-accept");
    raw->AcceptLoop();
  });
  return p;
}

HaPrimary::~HaPrimary() {
  Stop();
  for (int fd : stop_pipe_) {
    if (fd >= 0) ::close(fd);
  }
}

void HaPrimary::Stop() {
  if (stopping_.exchange(true)) return;
  if (stop_pipe_[1] >= 0) (void)!::write(stop_pipe_[1], "x", 1);
  if (accept_thread_.joinable()) accept_thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
  Reap(true);
  for (auto& [name, t] : transfers_) t->Stop();
}

void HaPrimary::Reap(bool all) {
  std::vector<std::unique_ptr<StandbySession>> finished;
  {
    std::lock_guard lock(mu_);
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (all || (*it)->done()) {
        finished.push_back(std::move(*it));
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
  }
  finished.clear();  // closes and joins, outside the lock
}

void HaPrimary::AcceptLoop() {
  for (;;) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    const int n = ::poll(p, 2, 1000);
    if (n < 0 && errno != EINTR) {
      spdlog::error("ha: poll on the HA listener: {}", std::strerror(errno));
      return;
    }
    if (p[1].revents != 0) return;
    Reap(false);
    if (n <= 0 || (p[0].revents & POLLIN) == 0) continue;
    sockaddr_in peer{};
    socklen_t len = sizeof(peer);
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
    if (fd < 0) continue;  // the peer gave up already, or out of descriptors for now
    char ip[INET_ADDRSTRLEN] = "?";
    ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof(ip));
    const std::string name = "standby " + std::string(ip) + ":" + std::to_string(ntohs(peer.sin_port));
    auto session = std::make_unique<StandbySession>(
        this, net::Connection::Adopt(fd, name, stop_pipe_[0], options_.max_frame));
    session->Start();
    std::lock_guard lock(mu_);
    sessions_.push_back(std::move(session));
  }
}

GroupTransfer* HaPrimary::transfer(const std::string& dest) const {
  auto it = transfers_.find(dest);
  return it == transfers_.end() ? nullptr : it->second.get();
}

}  // namespace sluice::ha
