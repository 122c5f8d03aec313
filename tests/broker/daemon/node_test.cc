// daemon::Node's role changes in one process, without a database: the
// destination reads an empty binlog directory (it waits for files), and a
// standby's primary is an address nothing listens on (it retries). A unit
// test, so it also runs under ThreadSanitizer: a fence arrives on another
// thread while Tick and status calls run.
#include "broker/daemon/node.h"

#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "broker/consumer/service.h"
#include "broker/daemon/config.h"
#include "tests/support/temp_dir.h"

namespace sluice::daemon {
namespace {

class NodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.Sub("binlogs"));
    const std::string secret = dir_.Sub("ha.secret");
    std::ofstream(secret) << "a secret of this test\n";
    ::chmod(secret.c_str(), 0600);
    auto c = ParseConfig("[node]\nid = \"a\"\ndata_dir = \"" + dir_.Sub("data") +
                             "\"\n"
                             "[ha]\nsecret_file = \"" +
                             secret +
                             "\"\n"
                             "[[destination]]\nname = \"shop\"\nsource = \"file://" +
                             dir_.Sub("binlogs") + "\"\n",
                         "node_test.toml");
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    config_ = *c;
  }

  // A node on the config, started; null (and a failure) when it does not start.
  std::unique_ptr<Node> StartNode() {
    auto node = std::make_unique<Node>(config_, &service_);
    Status st = node->Start();
    EXPECT_TRUE(st.ok()) << st.ToString();
    return st.ok() ? std::move(node) : nullptr;
  }

  Epoch LogEpoch(const Node& node) { return node.destinations()[0]->log()->CurrentEpoch(); }

  std::string RoleFile() {
    std::ifstream in(dir_.Sub("data") + "/ROLE");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  testing::TempDir dir_;
  Config config_;
  consumer::ConsumerService service_{consumer::ServiceOptions{}};
};

TEST_F(NodeTest, ARestartedPrimaryKeepsItsEpochAndAPromotionBeginsANewOne) {
  auto node = StartNode();
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->role(), Role::kPrimary);
  EXPECT_EQ(LogEpoch(*node), Epoch(1));  // a new primary's log begins epoch 1
  EXPECT_EQ(service_.role(), Role::kPrimary);
  node.reset();

  // A restart is not a promotion: same role, same epoch.
  node = StartNode();
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->role(), Role::kPrimary);
  EXPECT_EQ(LogEpoch(*node), Epoch(1));

  proto::DemoteRequest demote;
  demote.set_primary("127.0.0.1:1");
  proto::RoleResponse out;
  ASSERT_EQ(node->Demote(demote, &out).code(), proto::OK);
  EXPECT_EQ(out.role(), "standby");
  EXPECT_EQ(node->role(), Role::kStandby);
  EXPECT_EQ(service_.role(), Role::kStandby);
  EXPECT_NE(RoleFile().find("role standby"), std::string::npos) << RoleFile();
  node.reset();

  // The saved role wins over the config's at the next start.
  node = StartNode();
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->role(), Role::kStandby);

  ASSERT_EQ(node->Promote(proto::PromoteRequest(), &out).code(), proto::OK);
  EXPECT_EQ(out.role(), "primary");
  EXPECT_EQ(node->role(), Role::kPrimary);
  EXPECT_EQ(LogEpoch(*node), Epoch(2));  // above every epoch the log has seen
  EXPECT_NE(RoleFile().find("role primary"), std::string::npos) << RoleFile();
}

// A consumer that met a newer epoch elsewhere (Hello.seen_epoch, through
// the consumer server's RoleAdmin) fences this primary; one at its own
// epoch does not.
TEST_F(NodeTest, AClientsNewerEpochFencesThePrimary) {
  auto node = StartNode();
  ASSERT_NE(node, nullptr);
  ASSERT_EQ(LogEpoch(*node), Epoch(1));
  consumer::RoleAdmin* admin = node.get();
  admin->NoteClientEpoch(Epoch(1));  // not newer: nothing happens
  EXPECT_EQ(service_.role(), Role::kPrimary);
  proto::StatusResponse s;
  admin->FillStatus(&s);
  EXPECT_EQ(s.fenced(), "");
  admin->NoteClientEpoch(Epoch(5));
  EXPECT_EQ(service_.role(), Role::kStandby);  // group requests stop at once
  node->Tick();
  s.Clear();
  admin->FillStatus(&s);
  EXPECT_NE(s.fenced().find("epoch 5"), std::string::npos) << s.fenced();
}

TEST_F(NodeTest, AFenceFromAnotherThreadEndsTheRoleOfPrimary) {
  auto node = StartNode();
  ASSERT_NE(node, nullptr);
  std::atomic<bool> stop{false};
  std::thread status_reader([&] {
    while (!stop.load()) {
      proto::StatusResponse s;
      node->FillStatus(&s);
    }
  });
  std::thread fencer([&] { node->Fence(Epoch(7), "a consumer has seen epoch 7 on another node"); });
  for (int i = 0; i < 100; ++i) node->Tick();
  fencer.join();
  node->Tick();  // finishes the fence whichever came first
  stop.store(true);
  status_reader.join();

  EXPECT_EQ(node->role(), Role::kStandby);
  EXPECT_EQ(service_.role(), Role::kStandby);  // group requests stopped at once
  proto::StatusResponse s;
  node->FillStatus(&s);
  EXPECT_EQ(s.role(), "standby");
  EXPECT_NE(s.fenced().find("epoch 7"), std::string::npos) << s.fenced();
  EXPECT_NE(RoleFile().find("role standby"), std::string::npos) << RoleFile();
}

}  // namespace
}  // namespace sluice::daemon
