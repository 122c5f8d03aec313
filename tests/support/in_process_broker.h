// A broker in the test's own process: destination "shop" (its commit log
// in `dir`, node "n1"), the ConsumerService serving it and the consumer
// server on 127.0.0.1. What the consumer, CLI and apply tests talk to when
// they need a real server but not a sluiced.
//
//   testing::InProcessBroker b;
//   b.dir = dir_.Sub("a");
//   b.Start();                            // user "u", password "pw"
//   ... b.address(), b.log->..., b.server->stats() ...
//   EXPECT_EQ(b.Stop(), 0);               // every libuv handle closed
//
// Start again after Stop reopens the same log (a broker restart); with
// options.listen set to the old address it comes back on the same port.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "base/types.h"
#include "broker/consumer/server.h"
#include "broker/consumer/service.h"
#include "proto/auth.h"
#include "storage/commit_log.h"
#include "tests/support/consumer_fixture.h"

namespace sluice::testing {

struct InProcessBroker {
  InProcessBroker() {
    options.listen = "127.0.0.1:0";
    options.users["u"] = auth::PasswordKey("pw");
  }

  std::string dir;                  // the log's directory; set before Start
  consumer::ServerOptions options;  // 127.0.0.1:0, user "u" with password "pw"
  std::unique_ptr<CommitLog> log;
  std::unique_ptr<consumer::ConsumerService> svc;
  std::unique_ptr<consumer::ConsumerServer> server;

  std::string address() const { return "127.0.0.1:" + std::to_string(server->port()); }

  // Start with `server_options` as the options.
  void Start(const consumer::ServerOptions& server_options, Role role = Role::kPrimary,
             const std::string& primary = "") {
    options = server_options;
    Start(role, primary);
  }

  // Opens the log (again) and serves it; a gtest failure if either fails.
  void Start(Role role = Role::kPrimary, const std::string& primary = "") {
    auto l = OpenShopLog(dir);
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    log = std::move(*l);
    consumer::ServiceOptions so;
    so.node_id = "n1";
    svc = std::make_unique<consumer::ConsumerService>(so);
    svc->SetRole(role, primary);
    auto s = consumer::ConsumerServer::Start(options, svc.get());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server = std::move(*s);
    svc->AddDestination("shop", log.get());
  }

  // Stops serving and closes the log. Returns the server's Stop(): 0 when
  // its loop closed with no handle open.
  int Stop() {
    const int rc = server ? server->Stop() : 0;
    server.reset();
    svc.reset();
    log.reset();
    return rc;
  }
};

}  // namespace sluice::testing
