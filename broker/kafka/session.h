// The Kafka protocol's dispatch part: one KafkaSession per connection of
// the FrameServer. It decodes a request's header (api key, version,
// correlation id, client id), refuses what it does not speak, and serves
// each API on the ConsumerService and the GroupCoordinator. Nothing blocks
// the loop: a Fetch with nothing to return, a JoinGroup waiting for the
// round and a follower's SyncGroup waiting for the leader are parked.
//
// Thread safety: the protocol and its coordinator belong to the loop thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/thread_annotations.h"
#include "broker/consumer/service.h"
#include "broker/kafka/groups.h"
#include "broker/kafka/server.h"
#include "broker/net/frame_server.h"

namespace sluice::kafka {

// API keys (the protocol guide's table).
enum ApiKey : int16_t {
  kProduce = 0,
  kFetch = 1,
  kListOffsets = 2,
  kMetadata = 3,
  kOffsetCommit = 8,
  kOffsetFetch = 9,
  kFindCoordinator = 10,
  kJoinGroup = 11,
  kHeartbeat = 12,
  kLeaveGroup = 13,
  kSyncGroup = 14,
  kSaslHandshake = 17,
  kApiVersions = 18,
  kSaslAuthenticate = 36,
};

struct ApiRange {
  int16_t key, min, max;
};
// What ApiVersions answers: every API this server speaks, with the
// versions (all non-flexible).
extern const ApiRange kApis[];
extern const size_t kApiCount;

class KafkaProtocol final : public net::Protocol {
 public:
  // `service` and `stats` are not owned. `port` is the bound port, for
  // the advertised address when options.advertised is empty.
  KafkaProtocol(const KafkaOptions& options, consumer::ConsumerService* service, KafkaStats* stats);

  std::unique_ptr<net::Session> Open(net::ServerConnection* conn) override;

  // The server's Waker, once it runs: group rounds and assignments wake
  // parked requests with it. Called after the loop started.
  void SetWaker(std::function<void()> wake) EXCLUDES(wake_mu_);
  void SetBoundPort(int port);
  // A session closed its connection for `why`: logged, at most every 10 s.
  void NoteClose(const std::string& client, const std::string& why);

 private:
  friend class KafkaSession;
  const KafkaOptions options_;
  consumer::ConsumerService* const service_;
  KafkaStats* const stats_;
  Mutex wake_mu_;
  std::function<void()> wake_ GUARDED_BY(wake_mu_);
  GroupCoordinator groups_;
  std::string host_;
  std::atomic<int32_t> port_{0};  // set once the server is bound
  // NoteClose's rate limit (loop thread only).
  std::chrono::steady_clock::time_point last_close_log_{};
  uint64_t closes_unlogged_ = 0;
};

}  // namespace sluice::kafka
