// The admin HTTP listener over real sockets on 127.0.0.1.
#include "broker/admin/admin_server.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/http_get.h"

namespace sluice::admin {
namespace {

std::string Exchange(int port, const std::string& request) {
  return testing::HttpExchange(port, request);
}

class AdminServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = AdminServer::Start("127.0.0.1:0", [this](const std::string& path) {
      ++calls_;
      if (path == "/metrics") return Response{200, "text/plain; version=0.0.4", "m_total 7\n"};
      return Response{404, "text/plain", "no\n"};
    });
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    ASSERT_GT(server_->port(), 0);
  }
  void TearDown() override { EXPECT_EQ(server_->Stop(), 0) << "a libuv handle was left open"; }

  std::unique_ptr<AdminServer> server_;
  std::atomic<int> calls_{0};
};

TEST_F(AdminServerTest, ServesGetAndClosesTheConnection) {
  std::string r = Exchange(server_->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("Content-Length: 10\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("\r\n\r\nm_total 7\n"), std::string::npos) << r;
  EXPECT_EQ(calls_.load(), 1);
}

TEST_F(AdminServerTest, QueryStringIsIgnoredAndUnknownPathIs404) {
  EXPECT_EQ(Exchange(server_->port(), "GET /metrics?x=1 HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 200", 0),
            0u);
  EXPECT_EQ(Exchange(server_->port(), "GET /nope HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404", 0), 0u);
}

TEST_F(AdminServerTest, BadRequestsGetClearErrors) {
  EXPECT_EQ(Exchange(server_->port(), "POST /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405", 0),
            0u);
  EXPECT_EQ(Exchange(server_->port(), "garbage\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
  std::string huge = "GET /" + std::string(20000, 'a');
  EXPECT_EQ(Exchange(server_->port(), huge).rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(AdminServerTest, StopWithOpenIdleConnections) {
  std::vector<int> fds;
  for (int i = 0; i < 20; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(server_->port()));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    fds.push_back(fd);
  }
  usleep(100000);  // let the loop accept them
  EXPECT_EQ(server_->Stop(), 0);
  for (int fd : fds) ::close(fd);
}

TEST(AdminServerStart, BusyPortAndBadAddressAreClear) {
  auto a = AdminServer::Start("127.0.0.1:0", [](const std::string&) { return Response{}; });
  ASSERT_TRUE(a.ok());
  auto b = AdminServer::Start("127.0.0.1:" + std::to_string((*a)->port()),
                              [](const std::string&) { return Response{}; });
  EXPECT_EQ(b.status().code(), Code::kUnavailable);
  EXPECT_NE(b.status().message().find("another process"), std::string::npos)
      << b.status().ToString();
  EXPECT_EQ(
      AdminServer::Start("nonsense", [](const std::string&) { return Response{}; }).status().code(),
      Code::kInvalidArgument);
  EXPECT_EQ((*a)->Stop(), 0);
}

}  // namespace
}  // namespace sluice::admin
