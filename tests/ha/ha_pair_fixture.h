// A primary and a standby of destination "shop" in the test's process, over
// real 127.0.0.1 sockets: node "a" (primary_log_, HaPrimary) and node "b"
// (standby_log_, HaStandby), each log in its own temp dir. The HA tests'
// shared setup; each suite adjusts options_ in its SetUp after this one's.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "ha/primary.h"
#include "ha/standby.h"
#include "proto/auth.h"
#include "storage/commit_log.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_log.h"

namespace sluice::ha {

class HaPairTestBase : public ::testing::Test {
 protected:
  void SetUp() override {
    primary_log_ = OpenLog("a");
    standby_log_ = OpenLog("b");
    options_.secret_key = auth::PasswordKey("s3cret");
    options_.listen = "127.0.0.1:0";
    options_.heartbeat_ms = 100;
    options_.dead_after_ms = 5000;
    options_.backoff_initial_ms = 20;
    options_.backoff_max_ms = 200;
  }
  void TearDown() override {
    standby_.reset();
    primary_.reset();
  }

  // Node `node`'s log of "shop", in batches of at most 16 KiB.
  std::unique_ptr<CommitLog> OpenLog(const std::string& node) {
    CommitLogOptions o = testing::TestLogOptions(dir_.Sub(node), node, "shop");
    o.max_batch_bytes = 16 << 10;
    auto log = CommitLog::Open(o);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return std::move(*log);
  }

  // Node "a" serves primary_log_ with options_, calling on_fenced_ (if
  // set) when a standby shows it a newer epoch.
  void StartPrimary() {
    HaOptions o = options_;
    o.node_id = "a";
    if (!primary_consumer_address_.empty()) o.consumer_address = primary_consumer_address_;
    auto p = HaPrimary::Start(o, {{"shop", primary_log_.get()}}, on_fenced_);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    primary_ = std::move(*p);
  }

  // Node "b" replicates into standby_log_ from the primary's port (or
  // `port`), with options_ unless `o` has a secret of its own.
  void StartStandby(int port = 0, HaOptions o = {}) {
    if (o.secret_key.empty()) o = options_;
    o.node_id = "b";
    o.primary = "127.0.0.1:" + std::to_string(port ? port : primary_->port());
    standby_ =
        std::make_unique<HaStandby>(o, std::vector<HaDestination>{{"shop", standby_log_.get()}});
    ASSERT_TRUE(standby_->Start().ok());
  }

  bool CaughtUp() {
    return standby_log_->CommittedEnd() == primary_log_->CommittedEnd() &&
           standby_log_->HighWatermark() == primary_log_->HighWatermark();
  }

  sluice::testing::TempDir dir_;
  std::unique_ptr<CommitLog> primary_log_, standby_log_;
  HaOptions options_;
  std::string primary_consumer_address_;  // the primary's [server] listen, if any
  HaPrimary::FenceCallback on_fenced_;
  std::unique_ptr<HaPrimary> primary_;
  std::unique_ptr<HaStandby> standby_;
};

}  // namespace sluice::ha
