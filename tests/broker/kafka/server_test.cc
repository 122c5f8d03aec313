// The Kafka port against hand-built requests (the protocol guide's
// layouts, written here with the Writer and read back field by field):
// what a broker answers an ApiVersions it does not speak (KIP-511),
// Metadata on a primary and on a standby, Produce refused, and the
// connection machinery's defences: garbage, huge and cut frames close the
// connection, a thousand idle connections are held, the limit refuses the
// next, and the others are served meanwhile.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/consumer/service.h"
#include "broker/kafka/server.h"
#include "broker/kafka/wire.h"
#include "tests/support/consumer_fixture.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_for.h"

namespace sluice::kafka {
namespace {

// A blocking client socket with a receive deadline.
class Client {
 public:
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool Connect(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  bool SendRaw(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // A request: header v1 (key, version, correlation id 42, client id), body.
  bool Send(int16_t key, int16_t version, const std::string& body) {
    std::string frame;
    Writer w(&frame);
    const size_t len = w.Reserve32();
    w.Int16(key);
    w.Int16(version);
    w.Int32(42);
    w.String("test");
    frame += body;
    w.Patch32(len, static_cast<uint32_t>(frame.size() - 4));
    return SendRaw(frame);
  }
  // The next response's body (after its correlation id, which must be
  // 42); nullopt when the connection closed or nothing came in time.
  std::optional<std::string> Receive(int timeout_ms = 10000) {
    std::string len;
    if (!ReadN(4, &len, timeout_ms)) return std::nullopt;
    Reader r(len);
    std::string body;
    if (!ReadN(static_cast<size_t>(r.Int32()), &body, timeout_ms)) return std::nullopt;
    Reader b(body);
    EXPECT_EQ(b.Int32(), 42);
    return body.substr(4);
  }
  // True when the server closed the connection (EOF or reset).
  bool Closed(int timeout_ms = 10000) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char c;
    return ::recv(fd_, &c, 1, 0) <= 0;
  }

 private:
  bool ReadN(size_t n, std::string* out, int timeout_ms) {
    out->clear();
    while (out->size() < n) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) return false;
      char buf[65536];
      const ssize_t got = ::recv(fd_, buf, std::min(sizeof buf, n - out->size()), 0);
      if (got <= 0) return false;
      out->append(buf, static_cast<size_t>(got));
    }
    return true;
  }
  int fd_ = -1;
};

class KafkaServerTest : public ::testing::Test {
 protected:
  void Start(Role role = Role::kPrimary) {
    auto l = testing::OpenShopLog(dir_.Sub("log"));
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    log_ = std::move(*l);
    consumer::ServiceOptions so;
    svc_ = std::make_unique<consumer::ConsumerService>(so);
    svc_->SetRole(role, "");
    svc_->AddDestination("shop", log_.get());
    ASSERT_TRUE(testing::CommitTxn(log_.get(), testing::SimpleTxn(0, 3)).ok());
    options_.listen = "127.0.0.1:0";
    options_.broker_id = 7;
    options_.anonymous = true;
    auto s = KafkaServer::Start(options_, svc_.get());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
  }
  void TearDown() override {
    if (server_) {
      EXPECT_EQ(server_->Stop(), 0);
    }
  }

  // A fresh connection is served: ApiVersions v0 lists Fetch 4 to 11.
  void ExpectOthersServed() {
    Client c;
    ASSERT_TRUE(c.Connect(server_->port()));
    ASSERT_TRUE(c.Send(18, 0, ""));
    auto body = c.Receive();
    ASSERT_TRUE(body.has_value());
    Reader r(*body);
    EXPECT_EQ(r.Int16(), 0);
    bool fetch = false;
    for (int32_t n = r.ArrayCount(6, "apis"), i = 0; i < n; ++i) {
      const int16_t key = r.Int16(), min = r.Int16(), max = r.Int16();
      if (key == 1) fetch = min == 4 && max == 11;
    }
    EXPECT_TRUE(r.ok());
    EXPECT_TRUE(fetch);
  }

  testing::TempDir dir_;
  std::unique_ptr<CommitLog> log_;
  std::unique_ptr<consumer::ConsumerService> svc_;
  KafkaOptions options_;
  std::unique_ptr<KafkaServer> server_;
};

TEST_F(KafkaServerTest, ANewerApiVersionsGetsVersionZerosShapeWithError35) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Client c;
  ASSERT_TRUE(c.Connect(server_->port()));
  // Version 3 is flexible: header v2 (a tag section after the client id)
  // and compact strings. The broker answers without parsing it.
  ASSERT_TRUE(c.Send(18, 3,
                     std::string("\x00\x05kcat\x06"
                                 "1.7.1\x00",
                                 14)));
  auto body = c.Receive();
  ASSERT_TRUE(body.has_value());
  Reader r(*body);
  EXPECT_EQ(r.Int16(), 35);               // UNSUPPORTED_VERSION
  EXPECT_EQ(r.ArrayCount(6, "apis"), 1);  // only ApiVersions' own range
  EXPECT_EQ(r.Int16(), 18);
  EXPECT_EQ(r.Int16(), 0);
  EXPECT_EQ(r.Int16(), 2);
  EXPECT_EQ(r.remaining(), 0u);  // no throttle time in version 0
  ASSERT_NO_FATAL_FAILURE(ExpectOthersServed());
}

TEST_F(KafkaServerTest, MetadataOnAPrimaryAndOnAStandby) {
  options_.primary = [] { return std::make_pair(int32_t{9}, std::string("127.0.0.1:19092")); };
  options_.standbys = [] {
    return std::vector<std::pair<int32_t, std::string>>{{8, "127.0.0.1:19093"}};
  };
  ASSERT_NO_FATAL_FAILURE(Start());
  auto metadata = [&](int32_t* leader, std::vector<int32_t>* brokers, int16_t* missing_error) {
    Client c;
    ASSERT_TRUE(c.Connect(server_->port()));
    std::string req;
    Writer w(&req);
    w.ArrayCount(2);  // Metadata v1: topics
    w.String("shop");
    w.String("nope");
    ASSERT_TRUE(c.Send(3, 1, req));
    auto body = c.Receive();
    ASSERT_TRUE(body.has_value());
    Reader r(*body);
    brokers->clear();
    for (int32_t n = r.ArrayCount(10, "brokers"), i = 0; i < n; ++i) {
      brokers->push_back(r.Int32());
      r.String("host");
      r.Int32();
      r.NullableString("rack");
    }
    EXPECT_EQ(r.Int32(), 7);  // controller: this node
    ASSERT_EQ(r.ArrayCount(8, "topics"), 2);
    EXPECT_EQ(r.Int16(), 0);
    EXPECT_EQ(r.String("name"), "shop");
    EXPECT_FALSE(r.Bool());
    ASSERT_EQ(r.ArrayCount(18, "partitions"), 1);
    EXPECT_EQ(r.Int16(), 0);
    EXPECT_EQ(r.Int32(), 0);
    *leader = r.Int32();
    for (int k = 0; k < 2; ++k) {
      for (int32_t n = r.ArrayCount(4, "replicas"), i = 0; i < n; ++i) r.Int32();
    }
    *missing_error = r.Int16();
    EXPECT_EQ(r.String("name"), "nope");
    r.Bool();
    EXPECT_EQ(r.ArrayCount(18, "partitions"), 0);
    EXPECT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.remaining(), 0u);
  };
  int32_t leader = 0;
  std::vector<int32_t> brokers;
  int16_t missing = 0;
  ASSERT_NO_FATAL_FAILURE(metadata(&leader, &brokers, &missing));
  EXPECT_EQ(leader, 7);
  EXPECT_EQ(brokers, (std::vector<int32_t>{7, 8})) << "a primary lists its standbys";
  EXPECT_EQ(missing, 3);  // UNKNOWN_TOPIC_OR_PARTITION

  svc_->SetRole(Role::kStandby, "");
  ASSERT_NO_FATAL_FAILURE(metadata(&leader, &brokers, &missing));
  EXPECT_EQ(leader, 9) << "a standby names the primary as the leader";
  EXPECT_EQ(brokers, (std::vector<int32_t>{7, 9}));

  // Its Fetch: NOT_LEADER_OR_FOLLOWER, so the client asks Metadata again.
  Client c;
  ASSERT_TRUE(c.Connect(server_->port()));
  std::string req;
  Writer w(&req);
  w.Int32(-1);  // replica
  w.Int32(0);   // max wait
  w.Int32(1);   // min bytes
  w.Int32(1 << 20);
  w.Int8(0);
  w.ArrayCount(1);
  w.String("shop");
  w.ArrayCount(1);
  w.Int32(0);
  w.Int64(0);
  w.Int32(1 << 20);
  ASSERT_TRUE(c.Send(1, 4, req));
  auto body = c.Receive();
  ASSERT_TRUE(body.has_value());
  Reader r(*body);
  r.Int32();  // throttle
  ASSERT_EQ(r.ArrayCount(6, "topics"), 1);
  EXPECT_EQ(r.String("topic"), "shop");
  ASSERT_EQ(r.ArrayCount(4, "partitions"), 1);
  EXPECT_EQ(r.Int32(), 0);
  EXPECT_EQ(r.Int16(), 6);
}

// The answer to a request (its body after the correlation id; "" when
// none came).
std::string Ask(Client* c, int16_t key, int16_t version, const std::string& req) {
  EXPECT_TRUE(c->Send(key, version, req));
  auto body = c->Receive();
  EXPECT_TRUE(body.has_value());
  return body.value_or("");
}

// Reads an answer's topics, which must be "shop" alone, up to its
// partitions; returns their count.
int32_t ShopPartitions(Reader* r) {
  EXPECT_EQ(r->ArrayCount(6, "topics"), 1);
  EXPECT_EQ(r->String("name"), "shop");
  return r->ArrayCount(4, "partitions");
}

TEST_F(KafkaServerTest, ProduceIsRefusedPerPartition) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Client c;
  ASSERT_TRUE(c.Connect(server_->port()));
  std::string req;
  Writer w(&req);
  w.NullableString(std::nullopt);  // transactional id
  w.Int16(-1);                     // acks: all
  w.Int32(1000);
  w.ArrayCount(1);
  w.String("shop");
  w.ArrayCount(1);
  w.Int32(0);
  w.Bytes("not even a batch");
  const std::string body = Ask(&c, 0, 3, req);
  Reader r(body);
  ASSERT_EQ(ShopPartitions(&r), 1);
  EXPECT_EQ(r.Int32(), 0);
  EXPECT_EQ(r.Int16(), 29);  // TOPIC_AUTHORIZATION_FAILED
  EXPECT_EQ(log_->HighWatermark().value(), 3u);
}

// ListOffsets v1 (the guide's layout): latest, earliest, and a time after
// every record, which Kafka answers with offset and timestamp -1. A client
// may send any int64 there; one near INT64_MAX once overflowed rounding
// milliseconds up to seconds (UBSan, from the fuzzer).
TEST_F(KafkaServerTest, ListOffsetsLatestEarliestAndATimeAfterEveryRecord) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Client c;
  ASSERT_TRUE(c.Connect(server_->port()));
  const int64_t times[] = {-1, -2, INT64_MAX - 1, INT64_MAX};
  std::string req;
  Writer w(&req);
  w.Int32(-1);  // replica_id
  w.ArrayCount(1);
  w.String("shop");
  w.ArrayCount(4);
  for (int64_t t : times) {
    w.Int32(0);
    w.Int64(t);
  }
  const std::string body = Ask(&c, 2, 1, req);
  Reader r(body);
  ASSERT_EQ(ShopPartitions(&r), 4);
  const int64_t want[] = {3, 0, -1, -1};  // the log holds offsets 0..2
  for (int64_t expected : want) {
    EXPECT_EQ(r.Int32(), 0);
    EXPECT_EQ(r.Int16(), 0);
    const int64_t timestamp = r.Int64();
    EXPECT_EQ(r.Int64(), expected);
    if (expected < 0) {
      EXPECT_EQ(timestamp, -1);
    }
  }
  EXPECT_TRUE(r.ok());
}

TEST_F(KafkaServerTest, GarbageHugeCutAndUnknownRequestsCloseTheConnection) {
  options_.frame_deadline_ms = 300;
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::vector<std::string> bad = {
      "GET / HTTP/1.1\r\nHost: x\r\n\r\n",         // "GET " = a 1.2 GB frame
      std::string("\x80\x00\x00\x00", 4),          // 2 GiB
      std::string("\x00\x00\x00\x02\x00\x12", 6),  // shorter than a header
      std::string("\x00\x00\x00\x0a\x03\xe7\x00\x00\x00\x00\x00\x01\xff\xff", 14),  // key 999
      std::string("\x00\x00\x00\x0a\x00\x01\x00\x02\x00\x00\x00\x01\xff\xff", 14),  // Fetch v2
      std::string("\x00\x00\x01\x00partial", 11),  // cut short, then silence
  };
  for (const auto& bytes : bad) {
    Client c;
    ASSERT_TRUE(c.Connect(server_->port()));
    ASSERT_TRUE(c.SendRaw(bytes));
    EXPECT_TRUE(c.Closed()) << "not closed after " << bytes.size() << " bad bytes";
  }
  // A Metadata whose topic array claims more than the frame holds.
  Client c;
  ASSERT_TRUE(c.Connect(server_->port()));
  ASSERT_TRUE(c.Send(3, 1, std::string("\x7f\xff\xff\xff\x00\x04shop", 10)));
  EXPECT_TRUE(c.Closed());
  EXPECT_GE(server_->stats().protocol_errors.load(), bad.size());
  ASSERT_NO_FATAL_FAILURE(ExpectOthersServed());
}

TEST_F(KafkaServerTest, ManyIdleConnectionsAndTheConnectionLimit) {
  rlimit lim{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_cur < 2200) {
    lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, 4096);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lim), 0);
  }
  ASSERT_GE(lim.rlim_cur, 2200u) << "needs 2 fds per connection in this process";
  options_.max_connections = 1001;
  ASSERT_NO_FATAL_FAILURE(Start());
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 1000; ++i) {
    idle.push_back(std::make_unique<Client>());
    ASSERT_TRUE(idle.back()->Connect(server_->port())) << i;
  }
  ASSERT_TRUE(testing::WaitFor([&] { return server_->stats().connections_open.load() == 1000; }));
  ASSERT_NO_FATAL_FAILURE(ExpectOthersServed());
  idle.push_back(std::make_unique<Client>());
  ASSERT_TRUE(idle.back()->Connect(server_->port()));
  ASSERT_TRUE(testing::WaitFor([&] { return server_->stats().connections_open.load() == 1001; }));
  Client over;
  ASSERT_TRUE(over.Connect(server_->port()));
  EXPECT_TRUE(over.Closed());
  EXPECT_EQ(server_->stats().connections_refused.load(), 1u);
  idle.clear();
  ASSERT_TRUE(testing::WaitFor([&] { return server_->stats().connections_open.load() == 0; }));
  ASSERT_NO_FATAL_FAILURE(ExpectOthersServed());
}

}  // namespace
}  // namespace sluice::kafka
