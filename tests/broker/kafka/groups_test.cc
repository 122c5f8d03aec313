// The classic group protocol's membership rounds (Kafka's
// GroupCoordinator, as the protocol guide and KIP-62 describe it): a round
// completes when every member has rejoined or its rebalance timeout ends,
// the leader gets everyone's metadata, followers wait for its SyncGroup,
// heartbeats tell members of a new round, sessions expire.
#include "broker/kafka/groups.h"

#include <gtest/gtest.h>

namespace sluice::kafka {
namespace {

class Groups : public ::testing::Test {
 protected:
  JoinRequest Req(const std::string& member, const std::string& meta = "m") {
    JoinRequest r;
    r.group = "g";
    r.session_timeout_ms = 3000;
    r.rebalance_timeout_ms = 10000;
    r.member_id = member;
    r.client_id = "c";
    r.protocol_type = "consumer";
    r.protocols = {{"range", meta + "-range"}, {"roundrobin", meta + "-rr"}};
    return r;
  }

  int wakes_ = 0;
  GroupCoordinator g_{GroupLimits{}, [this] { ++wakes_; }};
};

TEST_F(Groups, ALoneMemberLeadsAndGetsItsAssignment) {
  std::string id;
  auto j = g_.Join(Req(""), 0, &id);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->error, kNone);
  EXPECT_FALSE(id.empty());
  EXPECT_EQ(j->member_id, id);
  EXPECT_EQ(j->leader, id);
  EXPECT_EQ(j->generation, 1);
  EXPECT_EQ(j->protocol, "range");
  ASSERT_EQ(j->members.size(), 1u);
  EXPECT_EQ(j->members[0].second, "m-range");
  auto s = g_.Sync("g", 1, id, {{id, "assign-a"}}, 1);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->error, kNone);
  EXPECT_EQ(s->assignment, "assign-a");
  EXPECT_EQ(g_.Heartbeat("g", 1, id, 2), kNone);
  EXPECT_EQ(g_.View("g")->state, "Stable");
}

TEST_F(Groups, ASecondMemberOpensARoundTheFirstLearnsOfByHeartbeat) {
  std::string a, b;
  ASSERT_TRUE(g_.Join(Req(""), 0, &a).has_value());
  ASSERT_TRUE(g_.Sync("g", 1, a, {{a, "all"}}, 0).has_value());

  // B joins: held until A rejoins.
  EXPECT_FALSE(g_.Join(Req("", "b"), 100, &b).has_value());
  EXPECT_EQ(g_.Heartbeat("g", 1, a, 200), kRebalanceInProgress);
  const int wakes = wakes_;
  auto ja = g_.Join(Req(a), 300, &a);
  ASSERT_TRUE(ja.has_value());
  EXPECT_GT(wakes_, wakes) << "the held join was not woken";
  auto jb = g_.PollJoin("g", b, false, 300);
  ASSERT_TRUE(jb.has_value());
  EXPECT_EQ(ja->generation, 2);
  EXPECT_EQ(jb->generation, 2);
  EXPECT_EQ(ja->leader, a);  // the leader stays
  EXPECT_EQ(ja->members.size(), 2u);
  EXPECT_TRUE(jb->members.empty());  // only the leader gets the metadata

  // B's sync waits for the leader's.
  EXPECT_FALSE(g_.Sync("g", 2, b, {}, 400).has_value());
  EXPECT_EQ(g_.Sync("g", 1, a, {{a, "x"}, {b, "y"}}, 400)->error, kIllegalGeneration);
  auto sa = g_.Sync("g", 2, a, {{a, "x"}, {b, "y"}}, 400);
  ASSERT_TRUE(sa.has_value());
  EXPECT_EQ(sa->assignment, "x");
  auto sb = g_.PollSync("g", b, false, 400);
  ASSERT_TRUE(sb.has_value());
  EXPECT_EQ(sb->assignment, "y");
  EXPECT_EQ(g_.Heartbeat("g", 2, b, 500), kNone);
}

TEST_F(Groups, AMemberThatStopsHeartbeatingIsDroppedAndTheOtherTakesOver) {
  std::string a, b;
  ASSERT_TRUE(g_.Join(Req(""), 0, &a).has_value());
  EXPECT_FALSE(g_.Join(Req(""), 0, &b).has_value());
  ASSERT_TRUE(g_.Join(Req(a), 0, &a).has_value());
  ASSERT_TRUE(g_.PollJoin("g", b, false, 0).has_value());
  ASSERT_TRUE(g_.Sync("g", 2, a, {{a, "p0"}, {b, ""}}, 0).has_value());
  ASSERT_TRUE(g_.Sync("g", 2, b, {}, 0).has_value());

  // A goes silent; B's heartbeats go on. After A's session (3 s) B learns
  // of a new round, rejoins alone and leads it.
  for (int64_t t = 500; t <= 3000; t += 500) EXPECT_EQ(g_.Heartbeat("g", 2, b, t), kNone) << t;
  EXPECT_EQ(g_.Heartbeat("g", 2, b, 3500), kRebalanceInProgress);
  auto j = g_.Join(Req(b), 3600, &b);
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->generation, 3);
  EXPECT_EQ(j->leader, b);
  ASSERT_EQ(j->members.size(), 1u);
  EXPECT_EQ(g_.Heartbeat("g", 2, a, 3700), kUnknownMemberId);
  // As Kafka's coordinator: while answers are out, any commit waits.
  EXPECT_EQ(g_.CheckCommit("g", 2, a, 3700), kRebalanceInProgress);
  ASSERT_EQ(g_.Sync("g", 3, b, {{b, "p0"}}, 3800)->assignment, "p0");
  EXPECT_EQ(g_.CheckCommit("g", 2, a, 3900), kUnknownMemberId);
  EXPECT_EQ(g_.CheckCommit("g", 3, b, 3900), kNone);
}

TEST_F(Groups, ARoundEndsAtItsRebalanceTimeoutWithoutTheLateMembers) {
  std::string a, b;
  ASSERT_TRUE(g_.Join(Req(""), 0, &a).has_value());
  ASSERT_TRUE(g_.Sync("g", 1, a, {{a, "all"}}, 0).has_value());
  EXPECT_FALSE(g_.Join(Req(""), 1000, &b).has_value());
  // A never rejoins (but its session is alive: it heartbeats).
  EXPECT_EQ(g_.Heartbeat("g", 1, a, 2000), kRebalanceInProgress);
  EXPECT_FALSE(g_.PollJoin("g", b, false, 5000).has_value());
  auto j = g_.PollJoin("g", b, false, 11001);  // past the 10 s rebalance timeout
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->leader, b);
  EXPECT_EQ(j->members.size(), 1u);
  EXPECT_EQ(g_.Heartbeat("g", 1, a, 11002), kUnknownMemberId);
}

TEST_F(Groups, LeaveOpensARoundAndCommitsFollowKafkasRules) {
  std::string a, b;
  ASSERT_TRUE(g_.Join(Req(""), 0, &a).has_value());
  EXPECT_FALSE(g_.Join(Req(""), 0, &b).has_value());
  ASSERT_TRUE(g_.Join(Req(a), 0, &a).has_value());
  ASSERT_TRUE(g_.PollJoin("g", b, false, 0).has_value());
  // Answers are out, the assignment is not: commits wait (Kafka answers
  // REBALANCE_IN_PROGRESS in CompletingRebalance).
  EXPECT_EQ(g_.CheckCommit("g", 2, a, 0), kRebalanceInProgress);
  ASSERT_TRUE(g_.Sync("g", 2, a, {{a, "p0"}}, 0).has_value());
  EXPECT_EQ(g_.CheckCommit("g", 2, a, 0), kNone);
  EXPECT_EQ(g_.CheckCommit("g", 1, a, 0), kIllegalGeneration);
  EXPECT_EQ(g_.CheckCommit("g", -1, "", 0), kUnknownMemberId);  // not a member, group busy

  EXPECT_EQ(g_.Leave("g", a, 100), kNone);
  EXPECT_EQ(g_.Leave("g", a, 100), kUnknownMemberId);
  // A round is open; a commit of the generation that was is still taken
  // (commits on revocation).
  EXPECT_EQ(g_.CheckCommit("g", 2, b, 100), kNone);
  EXPECT_EQ(g_.Heartbeat("g", 2, b, 100), kRebalanceInProgress);
  EXPECT_EQ(g_.Leave("g", b, 200), kNone);
  EXPECT_EQ(g_.View("g")->state, "Empty");
  EXPECT_EQ(g_.CheckCommit("g", -1, "", 300), kNone);  // an assign() consumer
}

TEST_F(Groups, RefusesWhatCannotJoin) {
  std::string id;
  JoinRequest r = Req("");
  r.session_timeout_ms = 10;
  EXPECT_EQ(g_.Join(r, 0, &id)->error, kInvalidSessionTimeout);
  r = Req("");
  r.group = "";
  EXPECT_EQ(g_.Join(r, 0, &id)->error, kInvalidGroupId);
  EXPECT_EQ(g_.Join(Req("nobody"), 0, &id)->error, kUnknownMemberId);
  ASSERT_EQ(g_.Join(Req(""), 0, &id)->error, kNone);
  r = Req("");
  r.protocols = {{"sticky", "s"}};  // shares no protocol with the member
  std::string other;
  EXPECT_EQ(g_.Join(r, 0, &other)->error, kInconsistentGroupProtocol);
  r = Req("");
  r.protocol_type = "connect";
  EXPECT_EQ(g_.Join(r, 0, &other)->error, kInconsistentGroupProtocol);
}

}  // namespace
}  // namespace sluice::kafka
