// sluice::Consumer against real brokers in-process: a CommitLog in a temp
// dir, a ConsumerService and a ConsumerServer on 127.0.0.1, over real
// sockets. What the client returns is compared with what the test
// committed; broker restarts, standbys and full servers are real too.
#include "client/consumer.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "broker/consumer/server.h"
#include "broker/consumer/service.h"
#include "proto/auth.h"
#include "proto/record.pb.h"
#include "tests/support/consumer_fixture.h"
#include "tests/support/in_process_broker.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_for.h"

namespace sluice {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
// Steps are ordered by the server's counters (a poll is parked, a
// connection was refused): WaitFor(counter, n), within its 30 s.
using testing::WaitFor;

int64_t MillisSince(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t).count();
}

// One broker: a destination "shop" (its log in `dir`), the service, the
// network server; Stop and Start again on the same port is a restart.
using Node = testing::InProcessBroker;

class ConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.listen = "127.0.0.1:0";
    options_.users["u"] = auth::PasswordKey("pw");
    node_.dir = dir_.Sub("a");
    node_.Start(options_);
  }
  void TearDown() override {
    EXPECT_EQ(node_.Stop(), 0) << "a libuv handle was left open";
    EXPECT_EQ(other_.Stop(), 0) << "a libuv handle was left open";
  }

  ConsumerOptions ClientOptions(const Node& n) {
    ConsumerOptions o;
    o.brokers = {n.address()};
    o.user = "u";
    o.password = "pw";
    o.client = "consumer_test";
    o.backoff_initial_ms = 20;
    o.backoff_max_ms = 200;
    o.retry_for_ms = 10000;
    return o;
  }

  std::unique_ptr<Consumer> Open(const ConsumerOptions& o) {
    auto c = Consumer::Open(o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }

  // Commits one transaction of `n` records (each with `payload` bytes of
  // SQL text) to `log`.
  void Commit(CommitLog* log, int n, size_t payload = 8) {
    std::vector<std::string> recs = testing::SimpleTxn(all_.size(), n, payload);
    ASSERT_TRUE(testing::CommitTxn(log, recs).ok());
    all_.insert(all_.end(), recs.begin(), recs.end());
  }

  // Every record must be all_[its offset]; returns how many there were.
  template <typename Response>
  size_t ExpectCommitted(const Response& r) {
    for (const auto& lr : r.records()) {
      EXPECT_LT(lr.offset(), all_.size());
      if (lr.offset() < all_.size()) {
        EXPECT_EQ(lr.record(), all_[lr.offset()]) << lr.offset();
      }
    }
    return static_cast<size_t>(r.records_size());
  }

  testing::TempDir dir_;
  consumer::ServerOptions options_;
  Node node_, other_;
  std::vector<std::string> all_;  // committed records, by offset
};

TEST_F(ConsumerTest, FetchByOffsetReturnsEverythingCommitted) {
  for (int t = 0; t < 20; ++t) Commit(node_.log.get(), 1 + t % 5);
  auto c = Open(ClientOptions(node_));
  auto range = c->ListOffsets("shop");
  ASSERT_TRUE(range.ok()) << range.status().ToString();
  EXPECT_EQ(range->first_offset(), 0u);
  EXPECT_EQ(range->high_watermark(), all_.size());

  uint64_t at = 0;
  size_t seen = 0;
  while (at < all_.size()) {
    auto f = c->Fetch("shop", Offset(at), {.max_records = 7});
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    ASSERT_GT(f->records_size(), 0);
    EXPECT_EQ(f->records(0).offset(), at);
    seen += ExpectCommitted(*f);
    EXPECT_EQ(f->high_watermark(), all_.size());
    at = f->next_offset();
  }
  EXPECT_EQ(seen, all_.size());
  EXPECT_EQ(c->last_error().code(), proto::OK);
  EXPECT_EQ(c->broker(), node_.address());

  auto status = c->GetStatus();
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(status->node_id(), "n1");
}

// Reading by offset, the client asks for the next records before the
// caller does (the broker sees two requests for one Fetch); an answer sent
// ahead never stands in for another request.
TEST_F(ConsumerTest, PrefetchedAnswersOnlyAnswerTheirOwnRequest) {
  for (int t = 0; t < 10; ++t) Commit(node_.log.get(), 5);
  auto c = Open(ClientOptions(node_));
  ASSERT_TRUE(c->Connect().ok());
  const consumer::ServerStats& stats = node_.server->stats();
  const uint64_t before = stats.requests.load();
  auto first = c->Fetch("shop", Offset(0), {.max_records = 5});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->records_size(), 5);
  // The Fetch sent ahead reaches the broker a moment later.
  EXPECT_TRUE(WaitFor(stats.requests, before + 2)) << "no Fetch was sent ahead";
  EXPECT_EQ(stats.requests.load() - before, 2u);
  // Another offset: the answer sent ahead (offset 5) is read and dropped.
  auto other = c->Fetch("shop", Offset(2), {.max_records = 5});
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  ASSERT_EQ(other->records_size(), 5);
  EXPECT_EQ(other->records(0).offset(), 2u);
  ExpectCommitted(*other);
  // Another kind of request, with a Fetch ahead in flight (for offset 7).
  auto range = c->ListOffsets("shop");
  ASSERT_TRUE(range.ok()) << range.status().ToString();
  EXPECT_EQ(range->high_watermark(), 50u);
  // Other limits: not the answer sent ahead either.
  ASSERT_EQ(c->Fetch("shop", Offset(7), {.max_records = 5})->records_size(), 5);
  auto three = c->Fetch("shop", Offset(12), {.max_records = 3});
  ASSERT_TRUE(three.ok());
  ASSERT_EQ(three->records_size(), 3);
  EXPECT_EQ(three->records(0).offset(), 12u);
  // Sequential reading to the end, then a long poll: nothing is sent ahead
  // at the end, so the wait is the caller's.
  uint64_t at = three->next_offset();
  while (at < 50) {
    auto f = c->Fetch("shop", Offset(at), {.max_records = 5});
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    ASSERT_EQ(f->records(0).offset(), at);
    ExpectCommitted(*f);
    at = f->next_offset();
  }
  const uint64_t parked = stats.polls_parked.load();
  std::thread committer([&] {
    // Once the broker has parked the poll: a commit wakes it.
    EXPECT_TRUE(WaitFor(stats.polls_parked, parked + 1)) << "the Fetch at the end never waited";
    Commit(node_.log.get(), 2);
  });
  auto polled = c->Fetch("shop", Offset(50), {.max_records = 5, .wait_ms = 30000});
  committer.join();
  ASSERT_TRUE(polled.ok()) << polled.status().ToString();
  ASSERT_EQ(polled->records_size(), 2);
  EXPECT_EQ(polled->records(0).offset(), 50u);
}

// The commit wakes the parked request: the server's counters tell a wake
// from a wait that ran out (no clock involved; with the wake-up broken the
// poll expires after its 60 s and the counters say so).
TEST_F(ConsumerTest, LongPollFetchWakesOnCommit) {
  Commit(node_.log.get(), 3);
  auto c = Open(ClientOptions(node_));
  const consumer::ServerStats& stats = node_.server->stats();
  Result<proto::FetchResponse> f = Status::Unavailable("not fetched");
  std::thread fetcher([&] { f = c->Fetch("shop", Offset(3), {.wait_ms = 60000}); });
  EXPECT_TRUE(WaitFor(stats.polls_parked, 1)) << "the Fetch was never parked";
  Commit(node_.log.get(), 2);
  fetcher.join();
  ASSERT_EQ(stats.polls_parked.load(), 1u);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  // The server counts an answer right after sending it: wait for the count.
  EXPECT_TRUE(WaitFor(stats.polls_woken, 1)) << "answered, but not by a wake-up";
  EXPECT_EQ(stats.polls_woken.load(), 1u);
  EXPECT_EQ(stats.polls_expired.load(), 0u);
  ASSERT_EQ(ExpectCommitted(*f), 2u);
  EXPECT_EQ(f->records(0).offset(), 3u);

  // Nothing new: the 100 ms wait runs out and ends empty.
  auto empty = c->Fetch("shop", Offset(5), {.wait_ms = 100});
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ(empty->records_size(), 0);
  EXPECT_TRUE(WaitFor(stats.polls_expired, 1));
  EXPECT_EQ(stats.polls_expired.load(), 1u);
  EXPECT_EQ(stats.polls_woken.load(), 1u);
}

TEST_F(ConsumerTest, ErrorsCarryTheBrokersAnswer) {
  Commit(node_.log.get(), 5);
  auto c = Open(ClientOptions(node_));
  auto f = c->Fetch("shop", Offset(9));
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), Code::kOutOfRange);
  EXPECT_EQ(c->last_error().code(), proto::OFFSET_OUT_OF_RANGE);
  EXPECT_EQ(c->last_error().first_offset(), 0u);
  EXPECT_EQ(c->last_error().high_watermark(), 5u);
  EXPECT_EQ(f.status().message(), c->last_error().message());
  EXPECT_FALSE(f.status().message().empty());

  auto unknown = c->Fetch("nope", Offset(0));
  EXPECT_EQ(unknown.status().code(), Code::kNotFound);
  EXPECT_EQ(c->last_error().code(), proto::UNKNOWN_DESTINATION);

  auto get = c->Get("shop", "never-subscribed", 10);
  EXPECT_EQ(get.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(c->last_error().code(), proto::NOT_SUBSCRIBED);

  // A success clears it.
  ASSERT_TRUE(c->Fetch("shop", Offset(0)).ok());
  EXPECT_EQ(c->last_error().code(), proto::OK);
}

TEST_F(ConsumerTest, GroupSubscribeGetAck) {
  for (int t = 0; t < 4; ++t) Commit(node_.log.get(), 3);  // offsets 0..11
  auto c = Open(ClientOptions(node_));
  auto sub = c->Subscribe("shop", "g");
  ASSERT_TRUE(sub.ok()) << sub.status().ToString();
  EXPECT_EQ(sub->acked_offset(), 0u);

  auto b1 = c->Get("shop", "g", 5);
  ASSERT_TRUE(b1.ok()) << b1.status().ToString();
  ASSERT_NE(b1->batch_id(), 0u);
  ASSERT_EQ(ExpectCommitted(*b1), 5u);
  EXPECT_EQ(b1->records(0).offset(), 0u);
  auto b2 = c->Get("shop", "g", 5);
  ASSERT_TRUE(b2.ok()) << b2.status().ToString();
  ASSERT_EQ(ExpectCommitted(*b2), 5u);
  EXPECT_EQ(b2->records(0).offset(), 5u);

  auto acked = c->Ack("shop", "g", b2->batch_id());  // and b1 with it
  ASSERT_TRUE(acked.ok()) << acked.status().ToString();
  EXPECT_EQ(acked->acked_offset(), b2->end_offset());
  auto again = c->Ack("shop", "g", b1->batch_id());
  EXPECT_EQ(again.status().code(), Code::kNotFound);
  EXPECT_EQ(c->last_error().code(), proto::UNKNOWN_BATCH);

  auto b3 = c->Get("shop", "g", 100);
  ASSERT_TRUE(b3.ok());
  ASSERT_EQ(ExpectCommitted(*b3), 2u);
  EXPECT_EQ(b3->records(0).offset(), 10u);
  auto rolled = c->Rollback("shop", "g", 0);
  ASSERT_TRUE(rolled.ok()) << rolled.status().ToString();
  EXPECT_EQ(rolled->acked_offset(), 10u);

  // The rolled-back two come at once, although the Get may wait.
  const consumer::ServerStats& stats = node_.server->stats();
  const uint64_t parked = stats.polls_parked.load(), woken = stats.polls_woken.load();
  auto b4 = c->Get("shop", "g", 100, 10000);
  ASSERT_TRUE(b4.ok()) << b4.status().ToString();
  ASSERT_EQ(ExpectCommitted(*b4), 2u);
  EXPECT_EQ(b4->records(0).offset(), 10u);
  EXPECT_EQ(stats.polls_parked.load(), parked);
  ASSERT_TRUE(c->Ack("shop", "g", b4->batch_id()).ok());
  // A long poll that a commit ends, once the broker has parked it.
  std::thread committer([&] {
    EXPECT_TRUE(WaitFor(stats.polls_parked, parked + 1)) << "the Get was never parked";
    Commit(node_.log.get(), 1);
  });
  auto b5 = c->Get("shop", "g", 100, 10000);
  committer.join();
  ASSERT_TRUE(b5.ok()) << b5.status().ToString();
  ASSERT_EQ(ExpectCommitted(*b5), 1u);
  EXPECT_EQ(b5->records(0).offset(), 12u);
  EXPECT_TRUE(WaitFor(stats.polls_woken, woken + 1)) << "answered, but not by a wake-up";
  ASSERT_TRUE(c->Ack("shop", "g", b5->batch_id()).ok());
  // Nothing new: the 50 ms wait runs out with no batch.
  auto none = c->Get("shop", "g", 100, 50);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->batch_id(), 0u);

  ASSERT_TRUE(c->Unsubscribe("shop", "g").ok());
  EXPECT_EQ(c->Get("shop", "g", 1).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(c->last_error().code(), proto::NOT_SUBSCRIBED);
}

TEST_F(ConsumerTest, AuthenticationWithRightAndWrongPasswords) {
  Commit(node_.log.get(), 2);
  auto good = Open(ClientOptions(node_));
  ASSERT_TRUE(good->Connect().ok());
  ASSERT_TRUE(good->Fetch("shop", Offset(0)).ok());

  const consumer::ServerStats& stats = node_.server->stats();
  for (const auto& [user, password] :
       std::vector<std::pair<std::string, std::string>>{{"u", "wrong"}, {"nobody", "pw"}}) {
    auto o = ClientOptions(node_);
    o.user = user;
    o.password = password;
    auto bad = Open(o);
    const uint64_t accepted = stats.connections_accepted.load();
    const uint64_t failures = stats.auth_failures.load();
    auto f = bad->Fetch("shop", Offset(0));
    ASSERT_FALSE(f.ok()) << user;
    EXPECT_EQ(f.status().code(), Code::kFailedPrecondition) << f.status().ToString();
    EXPECT_EQ(bad->last_error().code(), proto::AUTH_FAILED);
    EXPECT_NE(f.status().message().find("authentication failed"), std::string::npos)
        << f.status().message();
    // AUTH_FAILED is not retried: one connection, one failed proof.
    EXPECT_EQ(stats.connections_accepted.load() - accepted, 1u) << user;
    EXPECT_EQ(stats.auth_failures.load() - failures, 1u) << user;
  }

  // No user, and the broker has no anonymous access.
  auto o = ClientOptions(node_);
  o.user.clear();
  o.password.clear();
  auto anon = Open(o);
  EXPECT_EQ(anon->Fetch("shop", Offset(0)).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(anon->last_error().code(), proto::AUTH_FAILED);
}

TEST_F(ConsumerTest, AnonymousModeReadsButHasNoGroups) {
  node_.Stop();
  options_.anonymous = true;
  node_.Start(options_);
  Commit(node_.log.get(), 4);
  auto o = ClientOptions(node_);
  o.user.clear();
  o.password.clear();
  auto c = Open(o);
  auto f = c->Fetch("shop", Offset(0));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(ExpectCommitted(*f), 4u);
  ASSERT_TRUE(c->ListOffsets("shop").ok());
  auto sub = c->Subscribe("shop", "g");
  EXPECT_EQ(sub.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(c->last_error().code(), proto::PERMISSION_DENIED);
  // Users still log in on the same server.
  auto user = Open(ClientOptions(node_));
  EXPECT_TRUE(user->Subscribe("shop", "g").ok());
}

TEST_F(ConsumerTest, ReconnectsToARestartedBroker) {
  Commit(node_.log.get(), 5);
  auto o = ClientOptions(node_);
  auto c = Open(o);
  auto f = c->Fetch("shop", Offset(0), {.max_records = 3});
  ASSERT_TRUE(f.ok());
  ASSERT_EQ(ExpectCommitted(*f), 3u);
  const int port = node_.server->port();
  node_.Stop();

  // While it is down, a client that retries briefly gives up with Unavailable.
  auto quick_options = o;
  quick_options.retry_for_ms = 300;
  auto quick = Open(quick_options);
  const auto t0 = Clock::now();
  auto down = quick->Fetch("shop", Offset(0));
  EXPECT_EQ(down.status().code(), Code::kUnavailable) << down.status().ToString();
  // It gave up on its own window (not the 10 s of `o`), after retrying for
  // all of it (a lower bound, which a slow machine cannot break).
  EXPECT_NE(down.status().message().find("gave up after 300 ms"), std::string::npos)
      << down.status().message();
  EXPECT_GE(MillisSince(t0), 250);
  EXPECT_EQ(quick->broker(), "");

  // It comes back on the same port while the first client is retrying.
  std::thread restart([&] {
    // The downtime under test: the Fetch below meets a closed port and
    // retries (the client counts no attempts a test could wait on).
    std::this_thread::sleep_for(milliseconds(400));
    auto so = options_;
    so.listen = "127.0.0.1:" + std::to_string(port);
    node_.Start(so);
    Commit(node_.log.get(), 2);
  });
  auto rest = c->Fetch("shop", Offset(f->next_offset()), {.wait_ms = 5000});
  restart.join();
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  ASSERT_GE(ExpectCommitted(*rest), 2u);
  EXPECT_EQ(rest->records(0).offset(), 3u);
  uint64_t at = rest->next_offset();
  while (at < all_.size()) {
    auto more = c->Fetch("shop", Offset(at));
    ASSERT_TRUE(more.ok()) << more.status().ToString();
    ExpectCommitted(*more);
    at = more->next_offset();
  }
  EXPECT_EQ(at, 7u);
}

TEST_F(ConsumerTest, ALongPollSurvivesABrokerRestart) {
  Commit(node_.log.get(), 2);
  auto c = Open(ClientOptions(node_));
  ASSERT_TRUE(c->Connect().ok());
  const int port = node_.server->port();
  // The Fetch is parked when the broker stops (answered UNAVAILABLE or cut),
  // sent again to the restarted broker and parked there until a commit.
  std::thread restart([&] {
    EXPECT_TRUE(WaitFor(node_.server->stats().polls_parked, 1)) << "never parked before";
    node_.Stop();
    // The downtime under test: the client's retries meet a closed port.
    std::this_thread::sleep_for(milliseconds(300));
    auto so = options_;
    so.listen = "127.0.0.1:" + std::to_string(port);
    node_.Start(so);
    EXPECT_TRUE(WaitFor(node_.server->stats().polls_parked, 1)) << "never parked after";
    Commit(node_.log.get(), 1);
  });
  auto f = c->Fetch("shop", Offset(2), {.wait_ms = 10000});
  restart.join();
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ(ExpectCommitted(*f), 1u);
  EXPECT_EQ(f->records(0).offset(), 2u);
  EXPECT_TRUE(WaitFor(node_.server->stats().polls_woken, 1)) << "answered, but not by a wake-up";
}

TEST_F(ConsumerTest, BatchesLostByAReconnectAreRedelivered) {
  Commit(node_.log.get(), 10);
  auto c = Open(ClientOptions(node_));
  ASSERT_TRUE(c->Subscribe("shop", "g").ok());
  auto b1 = c->Get("shop", "g", 4);  // 0..3
  auto b2 = c->Get("shop", "g", 4);  // 4..7
  ASSERT_TRUE(b1.ok() && b2.ok());
  ASSERT_TRUE(c->Ack("shop", "g", b1->batch_id()).ok());
  EXPECT_EQ(b2->records(0).offset(), 4u);

  const int port = node_.server->port();
  node_.Stop();
  auto so = options_;
  so.listen = "127.0.0.1:" + std::to_string(port);
  node_.Start(so);

  // The Consumer subscribes again and rolls back b2: the next Get brings
  // its records again (under a new id).
  auto b3 = c->Get("shop", "g", 4);
  ASSERT_TRUE(b3.ok()) << b3.status().ToString();
  ASSERT_EQ(ExpectCommitted(*b3), 4u);
  EXPECT_EQ(b3->records(0).offset(), 4u);
  EXPECT_NE(b3->batch_id(), b2->batch_id());
  auto old = c->Ack("shop", "g", b2->batch_id());
  EXPECT_EQ(old.status().code(), Code::kNotFound);
  EXPECT_EQ(c->last_error().code(), proto::UNKNOWN_BATCH);
  auto acked = c->Ack("shop", "g", b3->batch_id());
  ASSERT_TRUE(acked.ok()) << acked.status().ToString();
  EXPECT_EQ(acked->acked_offset(), 8u);

  // An Ack that is the first request after a reconnect: the batch it names
  // was rolled back, and comes again.
  auto b4 = c->Get("shop", "g", 4);  // 8..9
  ASSERT_TRUE(b4.ok());
  node_.Stop();
  node_.Start(so);
  auto lost = c->Ack("shop", "g", b4->batch_id());
  EXPECT_EQ(lost.status().code(), Code::kNotFound) << lost.status().ToString();
  auto b5 = c->Get("shop", "g", 4);
  ASSERT_TRUE(b5.ok()) << b5.status().ToString();
  ASSERT_EQ(ExpectCommitted(*b5), 2u);
  EXPECT_EQ(b5->records(0).offset(), 8u);
  ASSERT_TRUE(c->Ack("shop", "g", b5->batch_id()).ok());
}

TEST_F(ConsumerTest, GroupRequestsFollowNotPrimaryToThePrimary) {
  // node_ is the primary with the records; other_ a standby naming it.
  Commit(node_.log.get(), 6);
  other_.dir = dir_.Sub("b");
  other_.Start(options_, Role::kStandby, node_.address());
  auto o = ClientOptions(other_);
  auto c = Open(o);

  // Reading by offset is served by the standby itself (its log is empty).
  auto range = c->ListOffsets("shop");
  ASSERT_TRUE(range.ok()) << range.status().ToString();
  EXPECT_EQ(range->high_watermark(), 0u);
  EXPECT_EQ(c->broker(), other_.address());

  auto sub = c->Subscribe("shop", "g");
  ASSERT_TRUE(sub.ok()) << sub.status().ToString();
  EXPECT_EQ(c->broker(), node_.address());
  auto b = c->Get("shop", "g", 100);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(ExpectCommitted(*b), 6u);
  ASSERT_TRUE(c->Ack("shop", "g", b->batch_id()).ok());

  // A second client whose first request is a Get: the standby's
  // NOT_PRIMARY sends it to the primary, which answers for itself.
  auto c2 = Open(o);
  EXPECT_EQ(c2->Get("shop", "nobody-subscribed", 1).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(c2->last_error().code(), proto::NOT_SUBSCRIBED);
  EXPECT_EQ(c2->broker(), node_.address());
}

TEST_F(ConsumerTest, TriesTheBrokersInTurn) {
  Commit(node_.log.get(), 1);
  const int port = testing::FreePort();
  ASSERT_NE(port, 0);
  const std::string dead = "127.0.0.1:" + std::to_string(port);

  auto o = ClientOptions(node_);
  o.brokers = {dead, node_.address()};
  auto c = Open(o);
  auto f = c->Fetch("shop", Offset(0));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(c->broker(), node_.address());
}

TEST_F(ConsumerTest, AFullBrokerIsRetried) {
  node_.Stop();
  options_.max_connections = 1;
  node_.Start(options_);
  Commit(node_.log.get(), 1);
  auto holder = Open(ClientOptions(node_));
  ASSERT_TRUE(holder->Connect().ok());

  auto o = ClientOptions(node_);
  o.retry_for_ms = 300;
  auto refused = Open(o);
  auto st = refused->Connect();
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.ToString();
  EXPECT_EQ(refused->last_error().code(), proto::TOO_MANY_CONNECTIONS) << st.ToString();

  // Retried until the connection is free: it is freed once the broker has
  // refused this client too.
  o.retry_for_ms = 10000;
  auto waiting = Open(o);
  const consumer::ServerStats& stats = node_.server->stats();
  const uint64_t refusals = stats.connections_refused.load();
  std::thread release([&] {
    EXPECT_TRUE(WaitFor(stats.connections_refused, refusals + 1)) << "never refused";
    holder.reset();
  });
  auto f = waiting->Fetch("shop", Offset(0));
  release.join();
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(ExpectCommitted(*f), 1u);
}

TEST_F(ConsumerTest, ResponsesAreBoundedByMaxFrame) {
  Commit(node_.log.get(), 20, 200);
  auto o = ClientOptions(node_);
  o.max_frame = 1024;
  auto c = Open(o);
  const consumer::ServerStats& stats = node_.server->stats();
  const uint64_t accepted = stats.connections_accepted.load();
  auto big = c->Fetch("shop", Offset(0), {.max_records = 20});
  EXPECT_EQ(big.status().code(), Code::kInvalidArgument) << big.status().ToString();
  EXPECT_NE(big.status().message().find("max_frame"), std::string::npos);
  // Not retried: the frame is unreadable, so a retry is a new connection.
  EXPECT_EQ(stats.connections_accepted.load() - accepted, 1u) << "retried";
  auto small = c->Fetch("shop", Offset(0), {.max_records = 2});
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  EXPECT_EQ(ExpectCommitted(*small), 2u);
}

TEST_F(ConsumerTest, InterruptEndsALongPoll) {
  auto c = Open(ClientOptions(node_));
  const consumer::ServerStats& stats = node_.server->stats();
  std::thread stopper([&] {
    // Once the broker has parked the Fetch, the client is in its wait.
    EXPECT_TRUE(WaitFor(stats.polls_parked, 1)) << "the Fetch was never parked";
    c->Interrupt();
  });
  auto f = c->Fetch("shop", Offset(0), {.wait_ms = 20000});
  stopper.join();
  EXPECT_EQ(f.status().code(), Code::kAborted) << f.status().ToString();
  // The interrupt ended it, not the broker: the poll was neither woken nor
  // run out (a broken Interrupt returns OK and empty after the 20 s).
  EXPECT_EQ(stats.polls_woken.load(), 0u);
  EXPECT_EQ(stats.polls_expired.load(), 0u);
  EXPECT_TRUE(c->interrupted());
  EXPECT_EQ(c->ListOffsets("shop").status().code(), Code::kAborted);
}

TEST_F(ConsumerTest, OptionsAreValidated) {
  ConsumerOptions o;
  EXPECT_EQ(Consumer::Open(o).status().code(), Code::kInvalidArgument);
  for (const char* bad : {"localhost", "host:", ":7400", "h:0", "h:65536", "h:12x", "[::1]7400"}) {
    o.brokers = {bad};
    EXPECT_EQ(Consumer::Open(o).status().code(), Code::kInvalidArgument) << bad;
  }
  o.brokers = {"localhost:7400", "[::1]:7400"};
  EXPECT_TRUE(Consumer::Open(o).ok());
  o.backoff_max_ms = 1;
  EXPECT_EQ(Consumer::Open(o).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace sluice
