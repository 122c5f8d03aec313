// The consumer server over real sockets, in front of a ConsumerService on a
// real CommitLog: every request round-trips, long polls wake on commit, and
// misbehaving peers get a clear answer and a closed connection while other
// clients go on being served.
#include "broker/consumer/server.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "proto/auth.h"
#include "proto/record.pb.h"
#include "tests/support/consumer_fixture.h"
#include "tests/support/frame_client.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_for.h"

namespace sluice::consumer {
namespace {

using testing::FrameClient;
using Got = FrameClient::Got;
using testing::WaitFor;

// How long WaitFor() waits for a server counter.
constexpr std::chrono::seconds kWait(5);

proto::Request Hello(const std::string& user = "", uint32_t version = 1) {
  proto::Request r;
  r.set_id(1);
  r.mutable_hello()->set_protocol_version(version);
  r.mutable_hello()->set_client("server_test");
  r.mutable_hello()->set_user(user);
  return r;
}

proto::Request FetchReq(uint64_t id, uint64_t offset, uint32_t max = 0, uint32_t wait = 0,
                        uint32_t max_bytes = 0) {
  proto::Request r;
  r.set_id(id);
  proto::FetchRequest* f = r.mutable_fetch();
  f->set_dest("shop");
  f->set_offset(offset);
  f->set_max_records(max);
  f->set_wait_ms(wait);
  f->set_max_bytes(max_bytes);
  return r;
}

proto::Request StatusReq(uint64_t id) {
  proto::Request r;
  r.set_id(id);
  r.mutable_status();
  return r;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = testing::OpenShopLog(dir_.Sub("log"));
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(*log);
    options_.listen = "127.0.0.1:0";
    options_.users["reader"] = auth::PasswordKey("s3cret");
  }
  void TearDown() override {
    if (server_) {
      EXPECT_EQ(server_->Stop(), 0) << "a libuv handle was left open";
    }
  }

  void StartServer() {
    ServiceOptions so;
    so.node_id = "n1";
    svc_ = std::make_unique<ConsumerService>(so);
    auto s = ConsumerServer::Start(options_, svc_.get());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    svc_->AddDestination("shop", log_.get());
  }

  // Commits one transaction of `n` records of `payload` bytes each.
  void Commit(int n, size_t payload = 16) {
    std::vector<std::string> recs = testing::SimpleTxn(all_.size(), n, payload);
    ASSERT_TRUE(testing::CommitTxn(log_.get(), recs).ok());
    all_.insert(all_.end(), recs.begin(), recs.end());
  }

  // A connected client that passed Hello and Auth as "reader".
  std::unique_ptr<FrameClient> Login(const std::string& password = "s3cret") {
    auto c = std::make_unique<FrameClient>();
    EXPECT_TRUE(c->Connect(server_->port()));
    proto::Response h = c->Call(Hello("reader"));
    EXPECT_EQ(h.error().code(), proto::OK) << h.error().message();
    EXPECT_TRUE(h.hello().auth_required());
    EXPECT_EQ(h.hello().nonce().size(), auth::kNonceBytes);
    proto::Request a;
    a.set_id(2);
    const std::string cn = auth::RandomBytes(16);
    a.mutable_auth()->set_client_nonce(cn);
    a.mutable_auth()->set_proof(auth::Proof(auth::PasswordKey(password), h.hello().nonce(), cn));
    last_auth_ = c->Call(a);
    return c;
  }

  // True when `other` (a fresh, logged-in client) is still served.
  void ExpectOthersServed() {
    auto c = Login();
    proto::Response r = c->Call(StatusReq(9));
    ASSERT_EQ(r.error().code(), proto::OK) << r.error().message();
    ASSERT_EQ(r.status().destinations_size(), 1);
    EXPECT_EQ(r.status().destinations(0).high_watermark(), all_.size());
  }

  // Waits (bounded) until the server has `n` connections open.
  bool WaitOpen(uint64_t n) { return WaitFor(server_->stats().connections_open, n, kWait); }

  ::sluice::testing::TempDir dir_;
  std::unique_ptr<CommitLog> log_;
  std::unique_ptr<ConsumerService> svc_;
  std::unique_ptr<ConsumerServer> server_;
  ServerOptions options_;
  std::vector<std::string> all_;
  proto::Response last_auth_;
};

TEST_F(ServerTest, EveryRequestRoundTrips) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Commit(5);
  Commit(3);
  auto c = Login();
  ASSERT_EQ(last_auth_.error().code(), proto::OK) << last_auth_.error().message();
  ASSERT_TRUE(last_auth_.has_auth());

  proto::Response f = c->Call(FetchReq(10, 2, 4));
  EXPECT_EQ(f.id(), 10u);
  ASSERT_EQ(f.error().code(), proto::OK) << f.error().message();
  ASSERT_EQ(f.fetch().records_size(), 4);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(f.fetch().records(i).offset(), 2u + i);
    EXPECT_EQ(f.fetch().records(i).record(), all_[2 + i]);
  }
  EXPECT_EQ(f.fetch().next_offset(), 6u);
  EXPECT_EQ(f.fetch().high_watermark(), 8u);

  proto::Request lo;
  lo.set_id(11);
  lo.mutable_list_offsets()->set_dest("shop");
  lo.mutable_list_offsets()->set_timestamp(1005);
  proto::Response l = c->Call(lo);
  ASSERT_EQ(l.error().code(), proto::OK) << l.error().message();
  EXPECT_EQ(l.list_offsets().first_offset(), 0u);
  EXPECT_EQ(l.list_offsets().high_watermark(), 8u);
  EXPECT_EQ(l.list_offsets().timestamp_offset(), 5u);  // ts 1000 + offset

  proto::Request sub;
  sub.set_id(12);
  sub.mutable_subscribe()->set_dest("shop");
  sub.mutable_subscribe()->set_group("g");
  sub.mutable_subscribe()->set_filter("shop\\.orders");
  ASSERT_EQ(c->Call(sub).error().code(), proto::OK);

  proto::Request get;
  get.set_id(13);
  get.mutable_get()->set_dest("shop");
  get.mutable_get()->set_group("g");
  get.mutable_get()->set_batch_size(100);
  proto::Response g = c->Call(get);
  ASSERT_EQ(g.error().code(), proto::OK) << g.error().message();
  ASSERT_NE(g.get().batch_id(), 0u);
  ASSERT_EQ(g.get().records_size(), 4);  // the odd offsets are orders
  for (const auto& r : g.get().records()) {
    EXPECT_EQ(r.offset() % 2, 1u);
    EXPECT_EQ(r.record(), all_[r.offset()]);
  }

  proto::Request rb;
  rb.set_id(14);
  rb.mutable_rollback()->set_dest("shop");
  rb.mutable_rollback()->set_group("g");
  proto::Response rr = c->Call(rb);
  ASSERT_EQ(rr.error().code(), proto::OK) << rr.error().message();
  EXPECT_EQ(rr.rollback().acked_offset(), 0u);

  get.set_id(15);
  proto::Response again = c->Call(get);
  ASSERT_EQ(again.get().records_size(), 4);  // redelivered under a new id
  EXPECT_GT(again.get().batch_id(), g.get().batch_id());

  proto::Request ack;
  ack.set_id(16);
  ack.mutable_ack()->set_dest("shop");
  ack.mutable_ack()->set_group("g");
  ack.mutable_ack()->set_batch_id(again.get().batch_id());
  proto::Response a = c->Call(ack);
  ASSERT_EQ(a.error().code(), proto::OK) << a.error().message();
  EXPECT_EQ(a.ack().acked_offset(), 8u);
  ack.set_id(17);
  EXPECT_EQ(c->Call(ack).error().code(), proto::UNKNOWN_BATCH);

  proto::Request un;
  un.set_id(18);
  un.mutable_unsubscribe()->set_dest("shop");
  un.mutable_unsubscribe()->set_group("g");
  ASSERT_EQ(c->Call(un).error().code(), proto::OK);
  get.set_id(19);
  EXPECT_EQ(c->Call(get).error().code(), proto::NOT_SUBSCRIBED);

  proto::Response s = c->Call(StatusReq(20));
  ASSERT_EQ(s.error().code(), proto::OK);
  EXPECT_EQ(s.status().node_id(), "n1");
  EXPECT_EQ(s.status().role(), "primary");

  // Out of range carries the range.
  proto::Response oor = c->Call(FetchReq(21, 9));
  EXPECT_EQ(oor.error().code(), proto::OFFSET_OUT_OF_RANGE);
  EXPECT_EQ(oor.error().high_watermark(), 8u);
  EXPECT_FALSE(oor.has_fetch());
}

// Requests sent back to back are answered in order, each with its id.
TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Commit(10);
  auto c = Login();
  std::string bytes;
  for (uint64_t i = 0; i < 50; ++i)
    ASSERT_TRUE(frame::Append(FetchReq(100 + i, i % 10, 1), &bytes).ok());
  ASSERT_TRUE(c->SendRaw(bytes));
  for (uint64_t i = 0; i < 50; ++i) {
    proto::Response r;
    ASSERT_EQ(c->Receive(&r), Got::kResponse);
    EXPECT_EQ(r.id(), 100 + i);
    ASSERT_EQ(r.fetch().records_size(), 1);
    EXPECT_EQ(r.fetch().records(0).record(), all_[i % 10]);
  }
}

// A Fetch at the end waits for the next commit, which wakes it (its wait
// is far longer than the test); with no commit it ends empty.
TEST_F(ServerTest, LongPollWakesOnCommit) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Commit(2);
  auto c = Login();
  const ServerStats& stats = server_->stats();
  ASSERT_TRUE(c->Send(FetchReq(30, 2, 0, 60000)));
  ASSERT_TRUE(WaitFor(stats.polls_parked, 1, kWait)) << "the Fetch was not parked";
  proto::Response r;
  ASSERT_EQ(c->Receive(&r, 0), Got::kTimeout);  // parked: nothing yet
  Commit(3);
  ASSERT_EQ(c->Receive(&r, 30000), Got::kResponse);
  // Answered by the commit's wake-up (counted just after the answer went
  // out), not by the end of its 60 s wait.
  EXPECT_TRUE(WaitFor(stats.polls_woken, 1, kWait));
  EXPECT_EQ(stats.polls_expired.load(), 0u);
  EXPECT_EQ(r.id(), 30u);
  ASSERT_EQ(r.fetch().records_size(), 3);
  EXPECT_EQ(r.fetch().records(0).record(), all_[2]);
  // Nothing comes: answered empty when the wait ends.
  proto::Response empty = c->Call(FetchReq(31, 5, 0, 100));
  ASSERT_EQ(empty.error().code(), proto::OK);
  EXPECT_EQ(empty.fetch().records_size(), 0);
  EXPECT_EQ(empty.fetch().next_offset(), 5u);
  // A parked Get wakes too.
  proto::Request sub;
  sub.set_id(32);
  sub.mutable_subscribe()->set_dest("shop");
  sub.mutable_subscribe()->set_group("g");
  ASSERT_EQ(c->Call(sub).error().code(), proto::OK);
  proto::Request get;
  get.set_id(33);
  get.mutable_get()->set_dest("shop");
  get.mutable_get()->set_group("g");
  get.mutable_get()->set_batch_size(100);
  ASSERT_EQ(c->Call(get).get().records_size(), 5);
  get.set_id(34);
  get.mutable_get()->set_timeout_ms(60000);
  const uint64_t parked = stats.polls_parked.load();
  ASSERT_TRUE(c->Send(get));
  ASSERT_TRUE(WaitFor(stats.polls_parked, parked + 1, kWait)) << "the Get was not parked";
  Commit(1);
  ASSERT_EQ(c->Receive(&r, 30000), Got::kResponse);
  EXPECT_TRUE(WaitFor(stats.polls_woken, 2, kWait));
  EXPECT_EQ(stats.polls_expired.load(), 1u);  // Fetch 31's
  EXPECT_EQ(r.id(), 34u);
  ASSERT_EQ(r.get().records_size(), 1);
  EXPECT_EQ(r.get().records(0).offset(), 5u);
}

TEST_F(ServerTest, AuthenticationAndAnonymousAccess) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Commit(1);
  // A wrong password: AUTH_FAILED, then the connection is closed.
  auto bad = Login("wrong");
  EXPECT_EQ(last_auth_.error().code(), proto::AUTH_FAILED);
  EXPECT_NE(last_auth_.error().message().find("reader"), std::string::npos);
  proto::Response r;
  EXPECT_EQ(bad->Receive(&r, 5000), Got::kClosed);
  // An unknown user gets the same answer.
  {
    FrameClient c;
    ASSERT_TRUE(c.Connect(server_->port()));
    proto::Response h = c.Call(Hello("nobody"));
    ASSERT_EQ(h.error().code(), proto::OK);
    proto::Request a;
    a.set_id(2);
    a.mutable_auth()->set_client_nonce(std::string(16, 'c'));
    a.mutable_auth()->set_proof(
        auth::Proof(auth::PasswordKey("s3cret"), h.hello().nonce(), std::string(16, 'c')));
    EXPECT_EQ(c.Call(a).error().code(), proto::AUTH_FAILED);
  }
  // A proof is good for one connection only: replayed on another (with
  // another nonce) it fails.
  {
    FrameClient c1, c2;
    ASSERT_TRUE(c1.Connect(server_->port()));
    ASSERT_TRUE(c2.Connect(server_->port()));
    proto::Response h1 = c1.Call(Hello("reader"));
    proto::Response h2 = c2.Call(Hello("reader"));
    EXPECT_NE(h1.hello().nonce(), h2.hello().nonce());
    proto::Request a;
    a.set_id(2);
    a.mutable_auth()->set_client_nonce(std::string(16, 'c'));
    a.mutable_auth()->set_proof(
        auth::Proof(auth::PasswordKey("s3cret"), h1.hello().nonce(), std::string(16, 'c')));
    EXPECT_EQ(c2.Call(a).error().code(), proto::AUTH_FAILED);
    EXPECT_EQ(c1.Call(a).error().code(), proto::OK);
  }
  // Before authenticating, nothing but Hello and Auth is served.
  {
    FrameClient c;
    ASSERT_TRUE(c.Connect(server_->port()));
    EXPECT_EQ(c.Call(StatusReq(3)).error().code(), proto::NOT_AUTHENTICATED);
    ASSERT_EQ(c.Call(Hello("reader")).error().code(), proto::OK);
    EXPECT_EQ(c.Call(FetchReq(4, 0)).error().code(), proto::NOT_AUTHENTICATED);
  }
  // Anonymous access is off by default.
  {
    FrameClient c;
    ASSERT_TRUE(c.Connect(server_->port()));
    proto::Response h = c.Call(Hello(""));
    EXPECT_EQ(h.error().code(), proto::AUTH_FAILED);
    EXPECT_NE(h.error().message().find("anonymous"), std::string::npos);
    EXPECT_EQ(c.Receive(&r, 5000), Got::kClosed);
  }
  EXPECT_GE(server_->stats().auth_failures.load(), 4u);
  ASSERT_NO_FATAL_FAILURE(ExpectOthersServed());
}

TEST_F(ServerTest, AnonymousModeIsReadOnly) {
  options_.anonymous = true;
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Commit(3);
  FrameClient c;
  ASSERT_TRUE(c.Connect(server_->port()));
  proto::Response h = c.Call(Hello(""));
  ASSERT_EQ(h.error().code(), proto::OK) << h.error().message();
  EXPECT_FALSE(h.hello().auth_required());
  proto::Response f = c.Call(FetchReq(2, 0));
  ASSERT_EQ(f.error().code(), proto::OK);
  EXPECT_EQ(f.fetch().records_size(), 3);
  proto::Request sub;
  sub.set_id(3);
  sub.mutable_subscribe()->set_dest("shop");
  sub.mutable_subscribe()->set_group("g");
  proto::Response s = c.Call(sub);
  EXPECT_EQ(s.error().code(), proto::PERMISSION_DENIED);
  EXPECT_NE(s.error().message().find("read-only"), std::string::npos);
}

TEST_F(ServerTest, WrongVersionAndUnknownRequestKeepTheConnection) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Commit(1);
  FrameClient c;
  ASSERT_TRUE(c.Connect(server_->port()));
  proto::Response v = c.Call(Hello("reader", 7));
  EXPECT_EQ(v.error().code(), proto::UNSUPPORTED_VERSION);
  EXPECT_EQ(v.hello().protocol_version(), 1u);  // says which it speaks
  EXPECT_NE(v.error().message().find("version 1"), std::string::npos);
  // A request type from the future: field 99 of Request (length-delimited,
  // empty). The server does not know it; the connection goes on.
  auto login = Login();
  std::string payload;
  proto::Request id_only;
  id_only.set_id(42);
  payload = id_only.SerializeAsString() + std::string("\x9a\x06\x00", 3);  // field 99, LEN 0
  std::string frame(4, '\0');
  frame[3] = static_cast<char>(payload.size());
  ASSERT_TRUE(login->SendRaw(frame + payload));
  proto::Response r;
  ASSERT_EQ(login->Receive(&r), Got::kResponse);
  EXPECT_EQ(r.id(), 42u);
  EXPECT_EQ(r.error().code(), proto::BAD_REQUEST);
  EXPECT_NE(r.error().message().find("unknown request"), std::string::npos) << r.error().message();
  EXPECT_EQ(login->Call(StatusReq(43)).error().code(), proto::OK);
}

// Garbage and a 2 GiB declared length: a clear answer, then the connection
// is closed; nothing of the declared size is allocated.
TEST_F(ServerTest, GarbageAndHugeFramesAreRefused) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Commit(1);
  {
    FrameClient c;
    ASSERT_TRUE(c.Connect(server_->port()));
    ASSERT_TRUE(c.SendRaw("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));  // "GET " = 1.2 GB
    proto::Response r;
    ASSERT_EQ(c.Receive(&r), Got::kResponse);
    EXPECT_EQ(r.error().code(), proto::FRAME_TOO_LARGE);
    EXPECT_EQ(c.Receive(&r), Got::kClosed);
  }
  {
    FrameClient c;
    ASSERT_TRUE(c.Connect(server_->port()));
    ASSERT_TRUE(c.SendRaw(std::string("\x80\x00\x00\x00", 4)));  // 2 GiB
    proto::Response r;
    ASSERT_EQ(c.Receive(&r), Got::kResponse);
    EXPECT_EQ(r.error().code(), proto::FRAME_TOO_LARGE);
    EXPECT_NE(r.error().message().find("2147483648"), std::string::npos) << r.error().message();
    EXPECT_EQ(c.Receive(&r), Got::kClosed);
  }
  {
    FrameClient c;  // a small frame of bytes that are no protobuf message
    ASSERT_TRUE(c.Connect(server_->port()));
    ASSERT_TRUE(c.SendRaw(std::string("\x00\x00\x00\x05\xff\xff\xff\xff\xff", 9)));
    proto::Response r;
    ASSERT_EQ(c.Receive(&r), Got::kResponse);
    EXPECT_EQ(r.error().code(), proto::BAD_REQUEST);
    EXPECT_EQ(c.Receive(&r), Got::kClosed);
  }
  ASSERT_NO_FATAL_FAILURE(ExpectOthersServed());
}

// A frame cut short, then silence: TIMEOUT once the deadline passes, then
// closed. A connection that says nothing at all is closed when idle.
TEST_F(ServerTest, SlowSendersAndIdleConnectionsAreClosed) {
  options_.frame_deadline_ms = 300;
  options_.idle_timeout_ms = 600;
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Commit(1);
  FrameClient cut;
  ASSERT_TRUE(cut.Connect(server_->port()));
  ASSERT_TRUE(cut.SendRaw(std::string("\x00\x00\x01\x00partial", 11)));
  FrameClient idle;
  ASSERT_TRUE(idle.Connect(server_->port()));
  proto::Response r;
  ASSERT_EQ(cut.Receive(&r, 10000), Got::kResponse);
  EXPECT_EQ(r.error().code(), proto::TIMEOUT);
  EXPECT_EQ(cut.Receive(&r, 10000), Got::kClosed);
  EXPECT_EQ(idle.Receive(&r, 10000), Got::kClosed);
  ASSERT_NO_FATAL_FAILURE(ExpectOthersServed());
}

// 1,000 idle connections are held (under the default limit) and others are
// served; beyond max_connections a connection is refused with a reason.
TEST_F(ServerTest, ManyIdleConnectionsAndTheConnectionLimit) {
  rlimit lim{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_cur < 2200) {
    lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, 4096);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lim), 0);
  }
  ASSERT_GE(lim.rlim_cur, 2200u) << "needs 2 fds per connection in this process";
  options_.max_connections = 1010;
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Commit(1);
  std::vector<std::unique_ptr<FrameClient>> idle;
  for (int i = 0; i < 1000; ++i) {
    idle.push_back(std::make_unique<FrameClient>());
    ASSERT_TRUE(idle.back()->Connect(server_->port())) << i;
  }
  ASSERT_TRUE(WaitOpen(1000));
  ASSERT_NO_FATAL_FAILURE(ExpectOthersServed());
  // Fill up to the limit; the next one is refused.
  for (int i = 0; i < 10; ++i) {
    idle.push_back(std::make_unique<FrameClient>());
    ASSERT_TRUE(idle.back()->Connect(server_->port()));
  }
  ASSERT_TRUE(WaitOpen(1010));
  FrameClient over;
  ASSERT_TRUE(over.Connect(server_->port()));
  proto::Response r;
  ASSERT_EQ(over.Receive(&r), Got::kResponse);
  EXPECT_EQ(r.error().code(), proto::TOO_MANY_CONNECTIONS);
  EXPECT_EQ(over.Receive(&r), Got::kClosed);
  EXPECT_EQ(server_->stats().connections_refused.load(), 1u);
  idle.clear();
  ASSERT_TRUE(WaitOpen(0));
  ASSERT_NO_FATAL_FAILURE(ExpectOthersServed());
}

// A client that asks for a big batch and vanishes (reset) before reading
// it: the server drops the connection and serves the others.
TEST_F(ServerTest, AClientThatVanishesMidBatch) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  for (int t = 0; t < 20; ++t) Commit(500, 200);
  for (int i = 0; i < 5; ++i) {
    auto c = Login();
    ASSERT_TRUE(c->Send(FetchReq(50, 0, 10000, 0, 8 << 20)));
    c->Reset();
  }
  ASSERT_TRUE(WaitOpen(0));
  ASSERT_NO_FATAL_FAILURE(ExpectOthersServed());
}

// A reader that never reads: its requests stop being read once its unsent
// output passes max_output_bytes, so what the server holds for it stays
// bounded; others are served meanwhile; when it reads, every answer comes,
// in order.
TEST_F(ServerTest, AReaderThatNeverReadsIsPausedNotBuffered) {
  options_.max_output_bytes = 1 << 20;
  ASSERT_NO_FATAL_FAILURE(StartServer());
  for (int t = 0; t < 10; ++t) Commit(1000, 200);  // ~2.3 MB
  auto c = Login();
  c->SetReceiveBuffer(64 << 10);
  // 100 requests for the whole log: ~230 MB of answers.
  std::string bytes;
  for (uint64_t i = 0; i < 100; ++i) {
    ASSERT_TRUE(frame::Append(FetchReq(1000 + i, 0, 100000, 0, 8 << 20), &bytes).ok());
  }
  ASSERT_TRUE(c->SendRaw(bytes));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const uint64_t out = server_->stats().bytes_out.load();
  const uint64_t one = 2400000;  // about one answer
  // Queued: up to the limit, plus the answer that crossed it, plus what
  // the kernel's socket buffers took.
  EXPECT_LT(out, 12 * one) << "the server kept answering a peer that does not read";
  std::printf("queued for a reader that does not read: %.1f MB\n", out / 1e6);
  ASSERT_NO_FATAL_FAILURE(ExpectOthersServed());
  for (uint64_t i = 0; i < 100; ++i) {
    proto::Response r;
    ASSERT_EQ(c->Receive(&r, 30000), Got::kResponse) << i;
    ASSERT_EQ(r.id(), 1000 + i);
    ASSERT_EQ(r.fetch().records_size(), 10000);
  }
  EXPECT_GT(server_->stats().bytes_out.load(), 90 * one);
}

// Stop() closes a loop with open and parked connections completely
// (libuv's uv_loop_close: 0, not UV_EBUSY), and the parked request hears
// why.
TEST_F(ServerTest, StopClosesEveryHandleWithParkedAndIdleConnections) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  Commit(1);
  auto parked = Login();
  auto idle = Login();
  FrameClient mid_frame;  // a frame begun, never finished
  ASSERT_TRUE(mid_frame.Connect(server_->port()));
  ASSERT_TRUE(mid_frame.SendRaw(std::string("\0\0\0\x20", 4)));
  ASSERT_TRUE(parked->Send(FetchReq(7, 1, 0, 60000)));
  ASSERT_TRUE(WaitFor(server_->stats().polls_parked, 1, kWait));
  EXPECT_EQ(server_->Stop(), 0);
  proto::Response r;
  ASSERT_EQ(parked->Receive(&r, 5000), Got::kResponse);
  EXPECT_EQ(r.id(), 7u);
  EXPECT_EQ(r.error().code(), proto::UNAVAILABLE);
  EXPECT_EQ(idle->Receive(&r, 5000), Got::kClosed);
  EXPECT_EQ(server_->Stop(), 0);  // idempotent
}

// Role requests go to the node's RoleAdmin, each only with the HA
// secret's proof over this connection's nonce; a client's newer epoch is
// reported to it. (A recording RoleAdmin: the node's own behaviour is
// tests/broker/daemon/node_test.cc's.)
class RecordingAdmin : public RoleAdmin {
 public:
  proto::Error Promote(const proto::PromoteRequest&, proto::RoleResponse* out) override {
    ++promotes;
    out->set_role("primary");
    return proto::Error();
  }
  proto::Error Demote(const proto::DemoteRequest& req, proto::RoleResponse* out) override {
    demoted_to = req.primary();
    out->set_role("standby");
    return proto::Error();
  }
  proto::Error Snapshot(const proto::SnapshotRequest& req, proto::SnapshotResponse* out) override {
    snapshot_dest = req.dest();
    out->set_id("s1");
    return proto::Error();
  }
  void NoteClientEpoch(Epoch seen) override { seen_epoch = seen.value(); }
  void FillStatus(proto::StatusResponse* out) const override { out->set_ha_mode("sync"); }
  std::string snapshot_dest;
  std::atomic<int> promotes{0};
  std::string demoted_to;
  std::atomic<uint64_t> seen_epoch{0};
};

TEST_F(ServerTest, RoleRequestsReachTheRoleAdminOnlyWithTheHaProof) {
  RecordingAdmin admin;
  const std::string ha_key = auth::PasswordKey("the ha secret");
  options_.admin = &admin;
  options_.ha_key = ha_key;
  ASSERT_NO_FATAL_FAILURE(StartServer());
  auto role_request = [&](FrameClient* c, const std::string& nonce, const std::string& key,
                          const std::string& demote_to) {
    proto::Request r;
    r.set_id(40);
    const std::string cn(16, 'n');
    if (demote_to.empty()) {
      r.mutable_promote()->set_client_nonce(cn);
      r.mutable_promote()->set_proof(auth::Proof(key, nonce, cn + "|promote"));
    } else {
      r.mutable_demote()->set_primary(demote_to);
      r.mutable_demote()->set_client_nonce(cn);
      r.mutable_demote()->set_proof(auth::Proof(key, nonce, cn + "|demote|" + demote_to));
    }
    return c->Call(r);
  };
  // An HA admin connection, right proof: the admin gets the request.
  FrameClient c;
  ASSERT_TRUE(c.Connect(server_->port()));
  proto::Request h = Hello();
  h.mutable_hello()->set_ha_admin(true);
  h.mutable_hello()->set_seen_epoch(9);
  proto::Response hr = c.Call(h);
  ASSERT_EQ(hr.error().code(), proto::OK) << hr.error().message();
  EXPECT_EQ(admin.seen_epoch.load(), 9u);
  proto::Response r = role_request(&c, hr.hello().nonce(), ha_key, "");
  ASSERT_EQ(r.error().code(), proto::OK) << r.error().message();
  EXPECT_EQ(r.promote().role(), "primary");
  EXPECT_EQ(admin.promotes.load(), 1);
  r = role_request(&c, hr.hello().nonce(), ha_key, "127.0.0.1:1");
  ASSERT_EQ(r.error().code(), proto::OK) << r.error().message();
  EXPECT_EQ(admin.demoted_to, "127.0.0.1:1");
  // The status has the node's part.
  proto::Request st = StatusReq(41);
  st.mutable_status()->set_client_nonce(std::string(16, 's'));
  st.mutable_status()->set_proof(
      auth::Proof(ha_key, hr.hello().nonce(), std::string(16, 's') + "|status"));
  r = c.Call(st);
  ASSERT_EQ(r.error().code(), proto::OK) << r.error().message();
  EXPECT_EQ(r.status().ha_mode(), "sync");
  // Other requests are not an admin connection's.
  EXPECT_EQ(c.Call(FetchReq(42, 0)).error().code(), proto::NOT_AUTHENTICATED);
  // A wrong key: AUTH_FAILED, closed, and the admin never hears of it.
  FrameClient bad;
  ASSERT_TRUE(bad.Connect(server_->port()));
  proto::Response bh = bad.Call(h);
  r = role_request(&bad, bh.hello().nonce(), auth::PasswordKey("a guess"), "");
  EXPECT_EQ(r.error().code(), proto::AUTH_FAILED);
  EXPECT_EQ(bad.Receive(&r, 5000), Got::kClosed);
  EXPECT_EQ(admin.promotes.load(), 1);
  // A proof made for another connection's nonce fails too.
  auto user = Login();
  r = role_request(user.get(), hr.hello().nonce(), ha_key, "");
  EXPECT_EQ(r.error().code(), proto::AUTH_FAILED);
  EXPECT_EQ(admin.promotes.load(), 1);
}

// Without a RoleAdmin (an embedded server), role requests are refused
// plainly, and without an HA secret they are not even proven.
TEST_F(ServerTest, RoleRequestsWithoutAnAdminOrASecretAreRefused) {
  const std::string ha_key = auth::PasswordKey("k");
  options_.ha_key = ha_key;
  ASSERT_NO_FATAL_FAILURE(StartServer());
  auto promote = [&](const std::string& key) {
    FrameClient c;
    EXPECT_TRUE(c.Connect(server_->port()));
    proto::Request h = Hello();
    h.mutable_hello()->set_ha_admin(true);
    proto::Response hr = c.Call(h);
    proto::Request p;
    p.set_id(50);
    const std::string cn(16, 'n');
    p.mutable_promote()->set_client_nonce(cn);
    p.mutable_promote()->set_proof(auth::Proof(key, hr.hello().nonce(), cn + "|promote"));
    return c.Call(p).error();
  };
  proto::Error e = promote(ha_key);
  EXPECT_EQ(e.code(), proto::UNAVAILABLE);
  EXPECT_NE(e.message().find("no role changes"), std::string::npos) << e.message();
  EXPECT_EQ(server_->Stop(), 0);
  server_.reset();
  options_.ha_key.clear();
  ASSERT_NO_FATAL_FAILURE(StartServer());
  e = promote(ha_key);
  EXPECT_EQ(e.code(), proto::PERMISSION_DENIED);
  EXPECT_NE(e.message().find("secret_file"), std::string::npos) << e.message();
}

}  // namespace
}  // namespace sluice::consumer

namespace sluice::consumer {
namespace {

// A listen address already taken is a clear error from Start, not a crash
// (the half-built server is destroyed on that path).
TEST_F(ServerTest, AnAddressInUseIsAClearErrorFromStart) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  ServerOptions o = options_;
  o.listen = "127.0.0.1:" + std::to_string(server_->port());
  ConsumerService other(ServiceOptions{});
  auto second = ConsumerServer::Start(o, &other);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().ToString().find("server.listen"), std::string::npos)
      << second.status().ToString();
  ASSERT_NO_FATAL_FAILURE(ExpectOthersServed());
}

}  // namespace
}  // namespace sluice::consumer
