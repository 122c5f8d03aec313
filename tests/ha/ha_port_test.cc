// The HA port before authentication (issue 17, section 4), over real
// loopback sockets: a real HaPrimary with a real HaStandby replicating from
// it, while peers that never prove the secret announce 200 MiB frames and
// keep sending, hold hundreds of half-open connections, trickle a handshake
// byte by byte, or fail the proof. This process's RSS and thread count
// (/proc/self/status: the primary runs here) stay bounded, every refusal
// is counted under its reason and rendered on /metrics, and the standby's
// log equals the primary's at the end. The standby's side has the same
// limit against something that claims to be a primary.
//
// The attackers are nonblocking sockets driven from the test's own thread,
// so the thread count measures the primary alone. Loops are bounded; no
// assertion is on speed.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "broker/daemon/admin_pages.h"
#include "ha/batch_peek.h"
#include "ha/primary.h"
#include "ha/standby.h"
#include "proto/auth.h"
#include "proto/connection.h"
#include "proto/frame.h"
#include "proto/ha.pb.h"
#include "tests/ha/ha_pair_fixture.h"
#include "tests/storage/log_test_util.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_log.h"

namespace sluice::ha {
namespace {

using namespace std::chrono_literals;
using sluice::testing::CheckpointAfter;
using sluice::testing::MakeTxn;
using sluice::testing::ReadAll;
using sluice::testing::WaitFor;

// A number from /proc/self/status ("VmRSS" in kB, "Threads").
long ProcStatus(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  }
  return -1;
}

// The highest RSS and thread count seen while an attack runs.
struct Peak {
  long rss_kb = 0, threads = 0;
  void Sample() {
    rss_kb = std::max(rss_kb, ProcStatus("VmRSS"));
    threads = std::max(threads, ProcStatus("Threads"));
  }
};

// A nonblocking socket connected to 127.0.0.1:port; with `wait` false the
// connection may still be in progress (for peers that never send).
int Connect(int port, bool wait = true) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (wait ? 0 : SOCK_NONBLOCK), 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  EXPECT_TRUE(rc == 0 || !wait) << std::strerror(errno);
  if (wait) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

std::string Header(uint32_t n) {
  return {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
          static_cast<char>(n)};
}

// Sends what the socket takes now; false once the peer closed or reset it.
bool SendSome(int fd, const std::string& bytes) {
  const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n >= 0) return true;
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN || errno == EINPROGRESS;
}

// False once the peer closed or reset the connection (what it sent first,
// a refuse frame, is read and dropped).
bool StillOpen(int fd) {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) continue;
    if (n == 0) return false;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN;
  }
}

class HaPortTest : public HaPairTestBase {
 protected:
  void SetUp() override {
    HaPairTestBase::SetUp();
    options_.handshake_timeout_ms = 1000;
    options_.max_pending_handshakes = 16;
  }
  void Load(int n) {
    for (int i = next_txn_; i < next_txn_ + n; ++i) {
      auto t = MakeTxn(i, 1 + (i * 13) % 30, 100);
      ASSERT_TRUE(primary_log_->CommitTransaction(t.Views(), CheckpointAfter(i)).ok());
    }
    next_txn_ += n;
  }
  uint64_t Refused(Refusal r) const { return primary_->refusals().count(r); }

  int next_txn_ = 0;
};

TEST_F(HaPortTest, UnauthenticatedPeersCostNeitherMemoryNorThreadsAndTheStandbyGoesOn) {
  ASSERT_TRUE(primary_log_->BeginEpoch(Epoch(1)).ok());
  Load(200);
  StartPrimary();
  const int port = primary_->port();
  StartStandby(port);
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(); }));
  // The baseline once the session runs on both sides: the primary's read
  // service has handed on a report of the log's end (its write service
  // sent what the standby has).
  ASSERT_TRUE(WaitFor([&] {
    auto sb = primary_->transfer("shop")->Standbys();
    return sb.size() == 1 && sb[0].connected &&
           sb[0].durable_offset == primary_log_->CommittedEnd();
  }));
  const long rss0 = ProcStatus("VmRSS"), threads0 = ProcStatus("Threads");
  ASSERT_GT(rss0, 0);
  Peak peak;
  peak.Sample();

  // 1. Four peers announce a 200 MiB frame and keep sending (up to 48 MiB
  // each, 192 MiB in all): each is refused from the 4-byte header and
  // closed, so they cannot send much before they see the reset.
  {
    std::vector<int> fds;
    for (int i = 0; i < 4; ++i) fds.push_back(Connect(port));
    std::vector<bool> open(fds.size(), true);
    std::vector<size_t> sent(fds.size(), 0);
    const std::string chunk(256 << 10, 'x');
    for (int fd : fds) ASSERT_TRUE(SendSome(fd, Header(200u << 20)));
    for (int round = 0; round < 400; ++round) {
      bool any = false;
      for (size_t i = 0; i < fds.size(); ++i) {
        if (!open[i]) continue;
        bool ok = true;
        if (sent[i] < (48u << 20)) {
          ok = SendSome(fds[i], chunk);
          sent[i] += chunk.size();  // at most: the socket may take less
        }
        open[i] = ok && StillOpen(fds[i]);
        any = any || open[i];
      }
      if (round % 20 == 0) Load(5);
      peak.Sample();
      if (!any) break;
      std::this_thread::sleep_for(10ms);  // paces the attack; the refusals are waited for below
    }
    ASSERT_TRUE(WaitFor([&] { return Refused(Refusal::kFrameTooLarge) == 4; }));
    for (size_t i = 0; i < fds.size(); ++i) {
      EXPECT_FALSE(open[i]) << "peer " << i << " still open after sending " << sent[i];
      ::close(fds[i]);
    }
  }
  peak.Sample();

  // 2. 300 connections that never send. At most max_pending_handshakes
  // of them wait for their deadline; the others are closed at once. They
  // come 30 at a time, each batch once the last is answered, so none is
  // left in a full listen backlog (the kernel's business, not ours).
  {
    std::vector<int> fds;
    auto answered = [&] {
      return Refused(Refusal::kTooManyConnections) + Refused(Refusal::kHandshakeTimeout);
    };
    for (int batch = 0; batch < 10; ++batch) {
      for (int i = 0; i < 30; ++i) fds.push_back(Connect(port, /*wait=*/false));
      Load(5);
      ASSERT_TRUE(WaitFor([&] {
        peak.Sample();
        return answered() + options_.max_pending_handshakes >= fds.size();
      })) << answered()
          << " of " << fds.size();
    }
    ASSERT_TRUE(WaitFor([&] {
      peak.Sample();
      return Refused(Refusal::kTooManyConnections) + Refused(Refusal::kHandshakeTimeout) == 300;
    })) << Refused(Refusal::kTooManyConnections)
        << " + " << Refused(Refusal::kHandshakeTimeout);
    // How many waited depends on when the kernel let them in; at least a
    // full set did, and most were closed at once.
    EXPECT_GE(Refused(Refusal::kHandshakeTimeout), 16u);
    EXPECT_GT(Refused(Refusal::kTooManyConnections), 150u);
    for (int fd : fds) ::close(fd);
  }

  // 3. Three peers trickle a small hello, one byte every 50 ms: the
  // deadline is for the whole handshake, so they are dropped after 1 s.
  {
    const uint64_t before = Refused(Refusal::kHandshakeTimeout);
    std::vector<int> fds;
    for (int i = 0; i < 3; ++i) fds.push_back(Connect(port));
    std::vector<bool> open(fds.size(), true);
    for (int round = 0; round < 200; ++round) {
      bool any = false;
      for (size_t i = 0; i < fds.size(); ++i) {
        if (!open[i]) continue;
        open[i] = SendSome(fds[i], round == 0 ? Header(100) : std::string(1, '\x0a')) &&
                  StillOpen(fds[i]);
        any = any || open[i];
      }
      peak.Sample();
      if (!any) break;
      std::this_thread::sleep_for(50ms);  // the trickle itself: what the deadline is against
    }
    ASSERT_TRUE(WaitFor([&] { return Refused(Refusal::kHandshakeTimeout) == before + 3; }));
    for (int fd : fds) ::close(fd);
  }

  // 4. A peer that speaks the protocol but does not know the secret.
  {
    int stop[2];
    ASSERT_EQ(::pipe2(stop, O_CLOEXEC), 0);
    auto conn = net::Connection::Dial("127.0.0.1:" + std::to_string(port), 5000, stop[0],
                                      kHandshakeMaxFrame, "primary");
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    std::string frame;
    proto::ToPrimary hello;
    hello.mutable_hello()->set_version(1);
    hello.mutable_hello()->set_cluster_id("sluice");
    hello.mutable_hello()->set_dest("shop");
    ASSERT_TRUE(frame::Append(hello, &frame).ok());
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    ASSERT_TRUE((*conn)->Send(frame, deadline).ok());
    proto::ToStandby in;
    ASSERT_TRUE((*conn)->Receive(&in, deadline).ok());
    ASSERT_TRUE(in.has_challenge());
    proto::ToPrimary a;
    a.mutable_auth()->set_client_nonce(std::string(32, 'n'));
    a.mutable_auth()->set_proof(
        auth::Proof(auth::PasswordKey("guess"), in.challenge().nonce(), std::string(32, 'n')));
    frame.clear();
    ASSERT_TRUE(frame::Append(a, &frame).ok());
    ASSERT_TRUE((*conn)->Send(frame, deadline).ok());
    in.Clear();
    ASSERT_TRUE((*conn)->Receive(&in, deadline).ok());
    ASSERT_TRUE(in.has_refuse());
    EXPECT_EQ(in.refuse().code(), proto::AUTH_FAILED);
    EXPECT_EQ(Refused(Refusal::kBadProof), 1u);
    conn->reset();
    ::close(stop[0]);
    ::close(stop[1]);
  }
  peak.Sample();

  std::printf(
      "HA port attack: RSS %ld kB before, %ld kB at most during (+%ld kB); threads %ld "
      "before, %ld at most during\n",
      rss0, peak.rss_kb, peak.rss_kb - rss0, threads0, peak.threads);
  // Before the limits four such peers cost ~800 MiB and the half-open
  // connections a thread each. The slack is for RocksDB and the load (its
  // memtables, a background thread started on first use).
  // The attack would cost 800 MiB unbounded; the sanitizers' shadow memory
  // makes every allocation (threads' stacks included) cost a few times more.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
  constexpr long kRssBoundKb = 128 << 10;
#else
  constexpr long kRssBoundKb = 32 << 10;
#endif
  EXPECT_LT(peak.rss_kb - rss0, kRssBoundKb);
  EXPECT_LE(peak.threads, threads0 + 4);

  // The standby kept replicating, and a new connection still gets in.
  Load(20);
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(); }));
  standby_.reset();
  Load(20);
  StartStandby(port);
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(); }));
  EXPECT_EQ(ReadAll(*standby_log_), ReadAll(*primary_log_));
  EXPECT_EQ(standby_log_->Checkpoint().SerializeAsString(),
            primary_log_->Checkpoint().SerializeAsString());

  // /metrics, as the node renders the primary's counts.
  proto::StatusResponse status;
  status.set_role("primary");
  for (const auto& [reason, n] : primary_->refusals().Counts()) {
    auto* r = status.add_ha_refused();
    r->set_reason(reason);
    r->set_count(n);
  }
  const std::string metrics = daemon::RenderMetrics({}, nullptr, &status);
  auto line = [&](Refusal r) {
    return "sluice_ha_refused_total{reason=\"" + std::string(RefusalName(r)) + "\"} " +
           std::to_string(Refused(r)) + "\n";
  };
  EXPECT_NE(metrics.find("# TYPE sluice_ha_refused_total counter"), std::string::npos);
  for (Refusal r : {Refusal::kFrameTooLarge, Refusal::kTooManyConnections,
                    Refusal::kHandshakeTimeout, Refusal::kBadProof}) {
    EXPECT_NE(metrics.find(line(r)), std::string::npos) << line(r) << metrics;
  }
  EXPECT_NE(metrics.find("sluice_ha_refused_total{reason=\"frame_too_large\"} 4\n"),
            std::string::npos);
}

// Beyond max_sessions a connection is closed at once, with a refusal the
// standby can act on; the session already there goes on.
TEST_F(HaPortTest, ConnectionsBeyondTheSessionCapAreClosedAtOnce) {
  options_.max_sessions = 1;
  Load(50);
  StartPrimary();
  StartStandby(primary_->port());
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(); }));
  auto other_log = OpenLog("c");
  HaOptions o = options_;
  o.node_id = "c";
  o.primary = "127.0.0.1:" + std::to_string(primary_->port());
  HaStandby other(o, {{"shop", other_log.get()}});
  ASSERT_TRUE(other.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return Refused(Refusal::kTooManySessions) >= 2; }));
  EXPECT_NE(other.Replicas()[0].last_error.find("too many standby sessions"), std::string::npos)
      << other.Replicas()[0].last_error;
  other.Stop();
  EXPECT_EQ(other_log->CommittedEnd(), Offset(0));
  Load(10);
  ASSERT_TRUE(WaitFor([&] { return CaughtUp(); }));
}

// Something at [ha] primary that is not a proven primary cannot make the
// standby buffer a data frame: before the primary's proof the standby's
// limit is the handshake's.
TEST_F(HaPortTest, AStandbyRefusesALargeFrameBeforeThePrimaryProvesTheSecret) {
  const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(::listen(lfd, 8), 0);
  socklen_t len = sizeof(a);
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
  StartStandby(ntohs(a.sin_port));
  const int fd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(fd, 0);
  std::string bytes = Header(200u << 20) + std::string(64 << 10, 'x');
  (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  ASSERT_TRUE(WaitFor([&] { return !standby_->Replicas()[0].last_error.empty(); }));
  const std::string error = standby_->Replicas()[0].last_error;
  EXPECT_NE(error.find("before proving the HA secret"), std::string::npos) << error;
  EXPECT_NE(error.find(std::to_string(kHandshakeMaxFrame)), std::string::npos) << error;
  standby_.reset();
  ::close(fd);
  ::close(lfd);
}

}  // namespace
}  // namespace sluice::ha
