#include "broker/kafka/groups.h"

#include <algorithm>
#include <cstdio>
#include <random>

namespace sluice::kafka {

GroupCoordinator::GroupCoordinator(GroupLimits limits, std::function<void()> wake)
    : limits_(limits), wake_(std::move(wake)) {
  char buf[17];
  std::snprintf(
      buf, sizeof buf, "%016llx",
      static_cast<unsigned long long>(std::random_device{}()) << 32 | std::random_device{}());
  instance_ = buf;
}

const char* GroupCoordinator::StateName(State s) {
  switch (s) {
    case State::kEmpty: return "Empty";
    case State::kPreparingRebalance: return "PreparingRebalance";
    case State::kCompletingRebalance: return "CompletingRebalance";
    case State::kStable: return "Stable";
  }
  return "?";
}

bool GroupCoordinator::Supports(const Member& m, const std::string& protocol) {
  return std::any_of(m.protocols.begin(), m.protocols.end(),
                     [&](const auto& p) { return p.first == protocol; });
}

void GroupCoordinator::OpenRound(Group* g, int64_t now_ms) {
  g->state = State::kPreparingRebalance;
  int32_t timeout = 0;
  for (auto& [id, m] : g->members) {
    m.rejoined = false;
    m.join_answer.reset();
    timeout = std::max(timeout, m.rebalance_timeout_ms);
  }
  g->round_deadline_ms = now_ms + timeout;
  wake_();  // followers parked in SyncGroup learn the round is open
}

void GroupCoordinator::MaybeCompleteRound(Group* g, bool force) {
  if (g->state != State::kPreparingRebalance) return;
  for (auto it = g->members.begin(); it != g->members.end();) {
    if (it->second.rejoined) {
      ++it;
    } else if (force) {
      it = g->members.erase(it);
    } else {
      return;
    }
  }
  if (g->members.empty()) {
    g->state = State::kEmpty;
    g->leader.clear();
    return;
  }
  if (g->members.count(g->leader) == 0) g->leader = g->members.begin()->first;
  // The leader's first protocol every member supports.
  const Member& leader = g->members.at(g->leader);
  std::string chosen;
  for (const auto& p : leader.protocols) {
    if (std::all_of(g->members.begin(), g->members.end(),
                    [&](const auto& m) { return Supports(m.second, p.first); })) {
      chosen = p.first;
      break;
    }
  }
  ++g->generation;
  g->protocol = chosen;
  g->state = chosen.empty() ? State::kEmpty : State::kCompletingRebalance;
  for (auto& [id, m] : g->members) {
    JoinResult r;
    r.member_id = id;
    if (chosen.empty()) {
      r.error = kInconsistentGroupProtocol;
    } else {
      r.generation = g->generation;
      r.protocol = chosen;
      r.leader = g->leader;
      if (id == g->leader) {
        for (const auto& [other_id, other] : g->members) {
          for (const auto& [name, meta] : other.protocols) {
            if (name == chosen) {
              r.members.emplace_back(other_id, meta);
              break;
            }
          }
        }
      }
    }
    m.rejoined = false;
    m.assignment.clear();
    m.join_answer = std::move(r);
  }
  if (chosen.empty()) g->members.clear();
  wake_();
}

void GroupCoordinator::RemoveMember(Group* g, const std::string& member, int64_t now_ms) {
  g->members.erase(member);
  if (g->members.empty()) {
    g->state = State::kEmpty;
    g->leader.clear();
  } else if (g->state == State::kPreparingRebalance) {
    MaybeCompleteRound(g, false);
  } else {
    OpenRound(g, now_ms);
  }
}

void GroupCoordinator::Tick(Group* g, int64_t now_ms) {
  std::vector<std::string> gone;
  for (const auto& [id, m] : g->members) {
    const bool waiting = g->state == State::kPreparingRebalance && m.rejoined;
    if (!waiting && m.last_heard_ms + m.session_timeout_ms < now_ms) gone.push_back(id);
  }
  for (const auto& id : gone) RemoveMember(g, id, now_ms);
  if (g->state == State::kPreparingRebalance && now_ms >= g->round_deadline_ms) {
    MaybeCompleteRound(g, true);
  }
}

std::optional<JoinResult> GroupCoordinator::Join(const JoinRequest& req, int64_t now_ms,
                                                 std::string* member_id) {
  *member_id = req.member_id;
  auto fail = [&](int16_t code) {
    JoinResult r;
    r.error = code;
    r.member_id = req.member_id;
    return r;
  };
  if (req.group.empty()) return fail(kInvalidGroupId);
  if (req.session_timeout_ms < limits_.min_session_timeout_ms ||
      req.session_timeout_ms > limits_.max_session_timeout_ms) {
    return fail(kInvalidSessionTimeout);
  }
  if (req.protocol_type.empty() || req.protocols.empty()) return fail(kInconsistentGroupProtocol);
  auto it = groups_.find(req.group);
  if (it == groups_.end()) {
    if (groups_.size() >= limits_.max_groups) {
      std::erase_if(groups_, [](const auto& kv) { return kv.second.members.empty(); });
      if (groups_.size() >= limits_.max_groups) return fail(kCoordinatorNotAvailable);
    }
    it = groups_.emplace(req.group, Group{}).first;
  }
  Group& g = it->second;
  Tick(&g, now_ms);
  if (!g.members.empty() && g.protocol_type != req.protocol_type) {
    return fail(kInconsistentGroupProtocol);
  }
  if (!req.member_id.empty() && g.members.count(req.member_id) == 0) {
    return fail(kUnknownMemberId);
  }
  // The member must share a protocol with every other member.
  auto shared = [&](const auto& protocol) {
    return std::all_of(g.members.begin(), g.members.end(), [&](const auto& kv) {
      return kv.first == req.member_id || Supports(kv.second, protocol.first);
    });
  };
  if (std::none_of(req.protocols.begin(), req.protocols.end(), shared)) {
    return fail(kInconsistentGroupProtocol);
  }
  if (req.member_id.empty()) {
    if (g.members.size() >= limits_.max_members) return fail(kGroupMaxSizeReached);
    *member_id = (req.client_id.empty() ? std::string("member") : req.client_id) + "-" + instance_ +
                 "-" + std::to_string(next_member_++);
  }
  g.protocol_type = req.protocol_type;
  if (g.state != State::kPreparingRebalance) OpenRound(&g, now_ms);
  Member& m = g.members[*member_id];
  m.id = *member_id;
  m.session_timeout_ms = req.session_timeout_ms;
  m.rebalance_timeout_ms =
      req.rebalance_timeout_ms > 0 ? req.rebalance_timeout_ms : req.session_timeout_ms;
  m.protocols = req.protocols;
  m.last_heard_ms = now_ms;
  m.rejoined = true;
  m.join_answer.reset();
  g.round_deadline_ms = std::max(g.round_deadline_ms, now_ms + m.rebalance_timeout_ms);
  MaybeCompleteRound(&g, false);
  return PollJoin(req.group, *member_id, false, now_ms);
}

std::optional<JoinResult> GroupCoordinator::PollJoin(const std::string& group,
                                                     const std::string& member, bool expired,
                                                     int64_t now_ms) {
  auto it = groups_.find(group);
  JoinResult unknown;
  unknown.error = kUnknownMemberId;
  unknown.member_id = member;
  if (it == groups_.end()) return unknown;
  Group& g = it->second;
  Tick(&g, now_ms);
  if (expired) MaybeCompleteRound(&g, true);
  auto m = g.members.find(member);
  if (m == g.members.end()) {
    // Dropped with every other member for a protocol none shared: the
    // round's answer was the error.
    return unknown;
  }
  m->second.last_heard_ms = now_ms;
  if (m->second.join_answer) {
    JoinResult r = std::move(*m->second.join_answer);
    m->second.join_answer.reset();
    return r;
  }
  return std::nullopt;
}

std::optional<SyncResult> GroupCoordinator::Sync(
    const std::string& group, int32_t generation, const std::string& member,
    const std::vector<std::pair<std::string, std::string>>& assignments, int64_t now_ms) {
  auto it = groups_.find(group);
  if (it == groups_.end()) return SyncResult{kUnknownMemberId, {}};
  Group& g = it->second;
  Tick(&g, now_ms);
  auto m = g.members.find(member);
  if (m == g.members.end()) return SyncResult{kUnknownMemberId, {}};
  if (generation != g.generation) return SyncResult{kIllegalGeneration, {}};
  if (g.state == State::kPreparingRebalance) return SyncResult{kRebalanceInProgress, {}};
  m->second.last_heard_ms = now_ms;
  if (g.state == State::kCompletingRebalance && member == g.leader) {
    for (const auto& [id, assignment] : assignments) {
      auto target = g.members.find(id);
      if (target != g.members.end()) target->second.assignment = assignment;
    }
    g.state = State::kStable;
    wake_();
  }
  return PollSync(group, member, false, now_ms);
}

std::optional<SyncResult> GroupCoordinator::PollSync(const std::string& group,
                                                     const std::string& member, bool expired,
                                                     int64_t now_ms) {
  auto it = groups_.find(group);
  if (it == groups_.end()) return SyncResult{kUnknownMemberId, {}};
  Group& g = it->second;
  Tick(&g, now_ms);
  auto m = g.members.find(member);
  if (m == g.members.end()) return SyncResult{kUnknownMemberId, {}};
  m->second.last_heard_ms = now_ms;
  if (g.state == State::kStable) return SyncResult{kNone, m->second.assignment};
  if (g.state != State::kCompletingRebalance || expired) {
    return SyncResult{kRebalanceInProgress, {}};
  }
  return std::nullopt;
}

int16_t GroupCoordinator::Heartbeat(const std::string& group, int32_t generation,
                                    const std::string& member, int64_t now_ms) {
  auto it = groups_.find(group);
  if (it == groups_.end()) return kUnknownMemberId;
  Group& g = it->second;
  Tick(&g, now_ms);
  auto m = g.members.find(member);
  if (m == g.members.end()) return kUnknownMemberId;
  if (generation != g.generation) return kIllegalGeneration;
  m->second.last_heard_ms = now_ms;
  return g.state == State::kPreparingRebalance ? kRebalanceInProgress : kNone;
}

int16_t GroupCoordinator::Leave(const std::string& group, const std::string& member,
                                int64_t now_ms) {
  auto it = groups_.find(group);
  if (it == groups_.end() || it->second.members.count(member) == 0) return kUnknownMemberId;
  RemoveMember(&it->second, member, now_ms);
  return kNone;
}

int16_t GroupCoordinator::CheckCommit(const std::string& group, int32_t generation,
                                      const std::string& member, int64_t now_ms) {
  auto it = groups_.find(group);
  if (it != groups_.end()) Tick(&it->second, now_ms);
  const bool empty = it == groups_.end() || it->second.members.empty();
  // As Kafka's coordinator: a consumer outside the group may commit while
  // it has no members; a member commits with its generation, also while a
  // round is open (commits on revocation), not while answers are out.
  if (generation < 0 && member.empty()) return empty ? kNone : kUnknownMemberId;
  if (empty) return kUnknownMemberId;
  Group& g = it->second;
  if (g.state == State::kCompletingRebalance) return kRebalanceInProgress;
  auto m = g.members.find(member);
  if (m == g.members.end()) return kUnknownMemberId;
  if (generation != g.generation) return kIllegalGeneration;
  m->second.last_heard_ms = now_ms;
  return kNone;
}

std::optional<GroupCoordinator::GroupView> GroupCoordinator::View(const std::string& group) const {
  auto it = groups_.find(group);
  if (it == groups_.end()) return std::nullopt;
  return GroupView{StateName(it->second.state), it->second.generation, it->second.leader,
                   it->second.members.size()};
}

}  // namespace sluice::kafka
