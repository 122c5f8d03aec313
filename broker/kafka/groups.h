// GroupCoordinator: the membership half of Kafka's classic consumer group
// protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup), as a Kafka
// broker's coordinator runs it. The broker only relays: members join with
// the protocols (assignors) they support and opaque metadata; once every
// known member has (re)joined, one of them, the leader, receives everyone's
// metadata, computes the assignment itself and sends it in its SyncGroup;
// each member's SyncGroup answers with its part. Offsets are not kept here:
// a group's committed offset is its sluice group cursor (ConsumerService),
// which replicates with the log and survives failover. Membership does not
// need to: after a failover members rejoin on the new primary.
//
// States: Empty (no member), PreparingRebalance (a round is open: joins
// are held until every member has rejoined or the round's rebalance
// timeout ends, which drops the members that did not), CompletingRebalance
// (the round's answers are out; waiting for the leader's SyncGroup), Stable.
// A new member, a changed member, a member leaving or a member whose
// session timed out (no heartbeat for its session timeout) opens a round;
// the others learn it from their Heartbeat (REBALANCE_IN_PROGRESS) and
// rejoin.
//
// Join and Sync may have no answer yet (nullopt): the caller parks the
// request and asks again with PollJoin/PollSync when woken (the `wake`
// callback runs whenever a round completes or an assignment arrives) or
// when its wait ends (`expired`: answer now).
//
// Thread safety: none; one loop thread owns it (the Kafka server's).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::kafka {

// Kafka error codes the coordinator answers.
enum GroupError : int16_t {
  kNone = 0,
  kCoordinatorNotAvailable = 15,
  kIllegalGeneration = 22,
  kInconsistentGroupProtocol = 23,
  kInvalidGroupId = 24,
  kUnknownMemberId = 25,
  kInvalidSessionTimeout = 26,
  kRebalanceInProgress = 27,
  kGroupMaxSizeReached = 81,
};

struct JoinRequest {
  std::string group;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = 0;
  std::string member_id;  // "" on a first join
  std::string client_id;
  std::string protocol_type;
  std::vector<std::pair<std::string, std::string>> protocols;  // name, metadata
};

struct JoinResult {
  int16_t error = kNone;
  int32_t generation = -1;
  std::string protocol;
  std::string leader;
  std::string member_id;
  // The leader's answer only: every member and its metadata for the
  // chosen protocol.
  std::vector<std::pair<std::string, std::string>> members;
};

struct SyncResult {
  int16_t error = kNone;
  std::string assignment;
};

struct GroupLimits {
  int32_t min_session_timeout_ms = 1000;  // Kafka's group.min.session.timeout.ms is 6000
  int32_t max_session_timeout_ms = 1800000;
  size_t max_members = 1000;  // per group
  size_t max_groups = 10000;
};

class GroupCoordinator {
 public:
  GroupCoordinator(GroupLimits limits, std::function<void()> wake);

  // `now_ms`: a monotonic clock in milliseconds. *member_id gets the
  // member's id (assigned on a first join), for PollJoin.
  std::optional<JoinResult> Join(const JoinRequest& req, int64_t now_ms, std::string* member_id);
  std::optional<JoinResult> PollJoin(const std::string& group, const std::string& member,
                                     bool expired, int64_t now_ms);
  std::optional<SyncResult> Sync(
      const std::string& group, int32_t generation, const std::string& member,
      const std::vector<std::pair<std::string, std::string>>& assignments, int64_t now_ms);
  std::optional<SyncResult> PollSync(const std::string& group, const std::string& member,
                                     bool expired, int64_t now_ms);
  int16_t Heartbeat(const std::string& group, int32_t generation, const std::string& member,
                    int64_t now_ms);
  int16_t Leave(const std::string& group, const std::string& member, int64_t now_ms);
  // May this member commit offsets for the group now? Generation -1 with
  // no member id is a consumer outside any group (assign(), not
  // subscribe()): allowed while the group has no members.
  int16_t CheckCommit(const std::string& group, int32_t generation, const std::string& member,
                      int64_t now_ms);

  // For status and tests.
  struct GroupView {
    std::string state;
    int32_t generation = 0;
    std::string leader;
    size_t members = 0;
  };
  std::optional<GroupView> View(const std::string& group) const;
  size_t group_count() const { return groups_.size(); }

 private:
  enum class State { kEmpty, kPreparingRebalance, kCompletingRebalance, kStable };
  struct Member {
    std::string id;
    int32_t session_timeout_ms = 0;
    int32_t rebalance_timeout_ms = 0;
    std::vector<std::pair<std::string, std::string>> protocols;
    int64_t last_heard_ms = 0;
    bool rejoined = false;                  // has joined in the open round
    std::optional<JoinResult> join_answer;  // the round's answer, not taken yet
    std::string assignment;                 // from the leader's SyncGroup
  };
  struct Group {
    State state = State::kEmpty;
    int32_t generation = 0;
    std::string protocol_type;
    std::string protocol;
    std::string leader;
    std::map<std::string, Member> members;
    int64_t round_deadline_ms = 0;
  };

  // Drops members whose session ended (not those waiting in a join), and
  // completes a round whose deadline passed.
  void Tick(Group* g, int64_t now_ms);
  void OpenRound(Group* g, int64_t now_ms);
  // Completes the open round when every member has rejoined, or when
  // `force` (its deadline passed): members that did not rejoin are dropped.
  void MaybeCompleteRound(Group* g, bool force);
  // Removes a member; opens a round if others remain.
  void RemoveMember(Group* g, const std::string& member, int64_t now_ms);
  static bool Supports(const Member& m, const std::string& protocol);
  static const char* StateName(State s);

  GroupLimits limits_;
  std::function<void()> wake_;
  std::map<std::string, Group> groups_;
  uint64_t next_member_ = 1;
  std::string instance_;  // in member ids: unique across restarts and nodes
};

}  // namespace sluice::kafka
