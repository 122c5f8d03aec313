#include "ha/primary.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <vector>

#include <spdlog/spdlog.h>

#include "base/clock.h"
#include "base/thread_name.h"
#include "ha/batch_peek.h"
#include "ha/handshake.h"
#include "proto/connection.h"
#include "proto/ha.pb.h"

namespace sluice::ha {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

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

// One authenticated standby's connection for one destination: the read
// service (this object's first thread: reports) and the write service.
class StandbySession {
 public:
  StandbySession(HaPrimary* owner, std::unique_ptr<net::Connection> conn, AgreedSession agreed)
      : options_(owner->options_),
        conn_(std::move(conn)),
        log_(agreed.log),
        transfer_(agreed.transfer),
        start_(agreed.start),
        dest_(std::move(agreed.dest)),
        node_id_(std::move(agreed.node_id)) {}
  ~StandbySession() {
    Close();
    Join();
  }

  void Start() {
    reader_ = std::thread([this] {
      SetThreadName("sl-ha-read");
      ReadService();
    });
  }
  void Close() {
    closed_.store(true);
    conn_->Shutdown();
    cv_.SignalAll();
  }
  void Join() {
    if (reader_.joinable()) reader_.join();
  }
  bool done() const { return done_.load(); }

 private:
  void ReadService();
  void WriteService();
  Status Send(const proto::ToStandby& m);
  Status SendGroups();
  Status SendIngestState();

  const HaOptions& options_;
  const std::unique_ptr<net::Connection> conn_;
  CommitLog* const log_;
  GroupTransfer* const transfer_;
  const Offset start_;  // agreed offset: the writer starts here
  const std::string dest_, node_id_;
  std::thread reader_, writer_;
  std::atomic<bool> closed_{false}, done_{false};
  std::string frame_;  // the writer's output buffer

  mutable Mutex mu_;
  CondVar cv_;                               // the writer waits here for room in flight
  uint64_t sent_bytes_ GUARDED_BY(mu_) = 0;  // log bytes below what was sent
  uint64_t reported_bytes_ GUARDED_BY(mu_) = 0;
};

Status StandbySession::Send(const proto::ToStandby& m) {
  frame_.clear();
  SLUICE_RETURN_IF_ERROR(frame::Append(m, &frame_, options_.max_frame));
  return conn_->Send(frame_, Clock::now() + milliseconds(options_.dead_after_ms));
}

void StandbySession::ReadService() {
  transfer_->Connected(node_id_, true);
  writer_ = std::thread([this] {
    SetThreadName("sl-ha-write");
    WriteService();
  });
  Status st;
  proto::ToPrimary in;
  while (!closed_.load()) {
    st = conn_->Receive(&in, Clock::now() + milliseconds(options_.dead_after_ms));
    if (!st.ok()) break;
    if (!in.has_report()) continue;  // newer message kinds: ignored
    const proto::HaReport& r = in.report();
    {
      MutexLock lock(&mu_);
      reported_bytes_ = r.end_bytes();
    }
    cv_.SignalAll();
    transfer_->Report(node_id_, Offset(r.durable_offset()), r.end_bytes());
  }
  if (!closed_.load()) {
    spdlog::warn("ha: standby {} ({}) of destination {} is gone: {}", node_id_, conn_->address(),
                 dest_, st.ToString());
  }
  transfer_->Connected(node_id_, false);
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
  uint64_t next = start_.value();
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
      MutexLock lock(&mu_);
      if (sent_bytes_ > reported_bytes_ + options_.max_inflight_bytes) {
        cv_.WaitFor(&mu_, milliseconds(100));
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
        MutexLock lock(&mu_);
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
                                                    const std::vector<HaDestination>& dests,
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
  p->max_sessions_ = options.max_sessions != 0
                         ? options.max_sessions
                         : std::max<uint32_t>(4, 4 * static_cast<uint32_t>(dests.size()));
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
    MutexLock lock(&mu_);
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

size_t HaPrimary::SessionCount() const {
  MutexLock lock(&mu_);
  size_t n = 0;
  for (const auto& s : sessions_) n += s->done() ? 0 : 1;
  return n;
}

// The accept service and every handshake before the proof (handshake.h
// says why on this thread): one poll over the listener, the stop pipe and
// each pending handshake's socket, waking at the next deadline.
void HaPrimary::AcceptLoop() {
  std::vector<std::unique_ptr<PendingHandshake>> pending;  // at most max_pending_handshakes
  std::vector<pollfd> fds;
  for (;;) {
    auto wake = Clock::now() + std::chrono::seconds(1);
    fds.assign({{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}});
    for (const auto& h : pending) {
      fds.push_back({h->fd(), h->events(), 0});
      wake = std::min(wake, h->deadline());
    }
    const auto left = std::chrono::ceil<milliseconds>(wake - Clock::now()).count();
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::max<int64_t>(left, 0)));
    if (n < 0 && errno != EINTR) {
      spdlog::error("ha: poll on the HA listener: {}", std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    Reap(false);
    refusals_.Flush();
    const auto now = Clock::now();
    for (size_t i = 0; i < pending.size(); ++i) {
      PendingHandshake* h = pending[i].get();
      if (fds[i + 2].revents != 0) h->OnReady();
      if (!h->finished() && now >= h->deadline()) {
        h->Refuse(Refusal::kHandshakeTimeout, proto::TIMEOUT,
                  "did not finish the handshake within " +
                      std::to_string(options_.handshake_timeout_ms) +
                      " ms ([ha] handshake_timeout_ms)");
      }
      if (h->state() == PendingHandshake::State::kAccepted) StartSession(h);
    }
    std::erase_if(pending, [](const auto& h) { return h->finished(); });
    if ((fds[0].revents & POLLIN) != 0) AcceptWaiting(&pending);
  }
}

void HaPrimary::AcceptWaiting(std::vector<std::unique_ptr<PendingHandshake>>* pending) {
  // A bounded number per round, so handshakes in progress are not starved.
  for (int i = 0; i < 64; ++i) {
    sockaddr_in peer{};
    socklen_t len = sizeof(peer);
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len,
                             SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;  // none left, the peer gave up already, or out of descriptors for now
    char ip[INET_ADDRSTRLEN] = "?";
    ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof(ip));
    const std::string name = std::string(ip) + ":" + std::to_string(ntohs(peer.sin_port));
    if (pending->size() >= options_.max_pending_handshakes) {
      refusals_.Note(Refusal::kTooManyConnections, "peer " + name,
                     std::to_string(options_.max_pending_handshakes) +
                         " connections are in their handshake already ([ha] "
                         "max_pending_handshakes): closed at once");
      SendRefusal(fd, proto::TOO_MANY_CONNECTIONS, "too many connections in their handshake");
      ::close(fd);
      continue;
    }
    if (SessionCount() >= max_sessions_) {
      refusals_.Note(Refusal::kTooManySessions, "peer " + name,
                     std::to_string(max_sessions_) +
                         " standby sessions are open already ([ha] max_sessions): closed at "
                         "once");
      SendRefusal(fd, proto::TOO_MANY_CONNECTIONS, "too many standby sessions");
      ::close(fd);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    pending->push_back(std::make_unique<PendingHandshake>(
        this, fd, name, Clock::now() + milliseconds(options_.handshake_timeout_ms)));
  }
}

void HaPrimary::StartSession(PendingHandshake* h) {
  const AgreedSession& agreed = h->agreed();
  {
    MutexLock lock(&mu_);
    if (!agreed.kafka_address.empty()) {
      kafka_peers_[agreed.node_id] = {agreed.kafka_broker_id, agreed.kafka_address};
    }
  }
  auto session = std::make_unique<StandbySession>(
      this, h->TakeConnection(stop_pipe_[0], options_.max_frame), agreed);
  session->Start();
  MutexLock lock(&mu_);
  sessions_.push_back(std::move(session));
}

std::vector<std::pair<int32_t, std::string>> HaPrimary::KafkaPeers() const {
  MutexLock lock(&mu_);
  std::vector<std::pair<int32_t, std::string>> out;
  for (const auto& [node, peer] : kafka_peers_) out.push_back(peer);
  return out;
}

GroupTransfer* HaPrimary::transfer(const std::string& dest) const {
  auto it = transfers_.find(dest);
  return it == transfers_.end() ? nullptr : it->second.get();
}

}  // namespace sluice::ha
