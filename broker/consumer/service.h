// ConsumerService: the embedded consumer server (Canal's split). Every
// consumer request is served here as a C++ call on the protocol's own
// messages (proto/protocol.proto); the network server is a thin adapter
// that decodes frames and delegates. An application can link this and
// consume a destination's log without a socket:
//
//   ConsumerService svc({});
//   svc.AddDestination("shop", log);           // log: a CommitLog*, not owned
//   proto::FetchRequest f;  f.set_dest("shop");  f.set_wait_ms(1000);
//   proto::FetchResponse out;
//   proto::Error e = svc.Fetch(f, &out);        // e.code() == proto::OK
//
// Every call returns a proto::Error: code OK, or the code and a message a
// person can act on (OFFSET_OUT_OF_RANGE also carries the valid range).
//
// Consumer groups: a group's cursor (acknowledged offset, filter, next
// batch id) and its outstanding batches live in the destination's
// MetaStore, so they survive restarts (and replicate with the log). Get
// hands out the records after the group's last outstanding batch (or its
// cursor), filtered by the group's regex over "db.table"; Ack(id) acks that
// batch and every earlier one; Rollback forgets outstanding batches so the
// next Get redelivers from the last acknowledged offset. Batch ids are never
// reused, so an Ack of a rolled-back batch is UNKNOWN_BATCH.
//
// Long polls: Fetch and Get with a wait block the calling thread until a
// commit makes records visible (the logs' commit listeners call
// NotifyCommit) or the wait ends. The network server calls with no wait
// and parks the request instead; OnCommit() tells it when to retry.
//
// Thread safety: every method may be called from any thread. Group
// operations of one destination are serialized.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "base/thread_annotations.h"
#include "proto/protocol.pb.h"
#include "storage/commit_log.h"

namespace sluice::consumer {

struct ServiceOptions {
  uint32_t default_max_records = 1000;
  uint32_t max_records = 100000;  // per Fetch / Get
  uint32_t default_max_bytes = 4 << 20;
  uint32_t max_bytes = 32 << 20;  // per Fetch; also bounds a Get's scan
  uint32_t max_wait_ms = 60000;
  uint32_t max_outstanding_batches = 1000;  // per group; then Get asks for an Ack
  std::string node_id;
  Role role = Role::kPrimary;  // group requests are served by the primary only
  std::string primary;         // standby: the primary's consumer address, when known
  bool standby_reads = true;   // false: a standby answers Fetch and ListOffsets NOT_PRIMARY too
};

class ConsumerService {
 public:
  explicit ConsumerService(ServiceOptions options);
  ~ConsumerService();
  ConsumerService(const ConsumerService&) = delete;
  ConsumerService& operator=(const ConsumerService&) = delete;

  // Serves `log` as destination `name` and installs its commit listener.
  // REQUIRES: before the log's first commit after opening. Requests for
  // other destinations may run meanwhile.
  void AddDestination(const std::string& name, CommitLog* log);

  // Wakes long polls of every destination; called by commit listeners.
  void NotifyCommit();
  // Called (on the committing thread) after every commit, for a network
  // server's uv_async_send (the consumer server's, the Kafka server's).
  // May be added at any time; hooks are never removed, so each must stay
  // callable after its server stops (FrameServer::Waker is).
  void AddCommitHook(std::function<void()> hook);

  proto::Error Fetch(const proto::FetchRequest& req, proto::FetchResponse* out);
  // Fetch, with the records as the log read them (no message per record):
  // for the network server, which encodes them straight into its answer.
  proto::Error FetchRecords(const proto::FetchRequest& req, RecordSet* out);
  proto::Error ListOffsets(const proto::ListOffsetsRequest& req, proto::ListOffsetsResponse* out);
  proto::Error Subscribe(const proto::SubscribeRequest& req, proto::SubscribeResponse* out);
  proto::Error Get(const proto::GetRequest& req, proto::GetResponse* out);
  proto::Error Ack(const proto::AckRequest& req, proto::AckResponse* out);
  proto::Error Rollback(const proto::RollbackRequest& req, proto::RollbackResponse* out);
  proto::Error Unsubscribe(const proto::UnsubscribeRequest& req, proto::UnsubscribeResponse* out);
  proto::Error GetStatus(const proto::StatusRequest& req, proto::StatusResponse* out);

  // A destination's log as a partition (the Kafka protocol's view).
  struct PartitionState {
    uint64_t first_offset = 0;
    uint64_t high_watermark = 0;
    uint64_t epoch = 0;  // the log's current epoch
  };
  proto::Error Partition(const std::string& dest, PartitionState* out);
  // The destinations served, by name.
  std::vector<std::string> Destinations() const;

  // A group's committed offset set directly (Kafka's OffsetCommit): every
  // record below `offset` is acknowledged. Creates the group when new; its
  // outstanding batches (of sluice's own Get) are forgotten, as a Rollback
  // would. Primary only, like every group write; replicated with the log.
  proto::Error CommitOffset(const std::string& dest, const std::string& group, uint64_t offset);
  // The group's acknowledged offset; nullopt for a group that does not
  // exist (no commit yet).
  proto::Error CommittedOffset(const std::string& dest, const std::string& group,
                               std::optional<uint64_t>* out);

  // Changes the node's role (failover). On a standby, group requests
  // (Subscribe, Get, Ack, Rollback, Unsubscribe) answer NOT_PRIMARY naming
  // `primary`; Fetch and ListOffsets by offset are served by every node.
  //
  // Leaving the primary role waits for group requests already past the
  // role check, so once it returns no group write of this node happens
  // (fencing: two nodes never both accept acks).
  void SetRole(Role role, const std::string& primary);
  Role role() const;

 private:
  struct Dest;
  Dest* Find(const std::string& name, proto::Error* err);
  // NOT_PRIMARY unless this node is the primary. Group writes check it
  // again under their destination's group lock (see SetRole).
  proto::Error CheckPrimary() const;
  // Find, for a group request: NOT_PRIMARY on a standby.
  Dest* FindForGroup(const std::string& name, proto::Error* err);
  // Finds `dest`, takes its group lock into *lock and loads the group's
  // cursor (NOT_SUBSCRIBED when it has none).
  proto::Error LockGroup(const std::string& dest, const std::string& group, Dest** d,
                         std::unique_lock<std::mutex>* lock, proto::GroupCursor* cursor);
  // Waits until `log`'s high watermark is above `offset` or `wait_ms` pass.
  void WaitForRecords(CommitLog* log, uint64_t offset, uint32_t wait_ms);

  const ServiceOptions options_;
  Mutex hook_mu_;
  std::vector<std::function<void()>> hooks_ GUARDED_BY(hook_mu_);
  mutable Mutex role_mu_;
  Role role_ GUARDED_BY(role_mu_);
  std::string primary_ GUARDED_BY(role_mu_);
  // Destinations are only ever added (a Dest* stays valid): while sluiced
  // starts, requests may come in as the destinations are added. Read
  // re-entrantly, written only then: readers first.
  mutable SharedMutex dests_mu_{SharedMutex::kPreferReaders};
  std::map<std::string, std::unique_ptr<Dest>> dests_ GUARDED_BY(dests_mu_);
  Mutex wait_mu_;
  CondVar wait_cv_;
  uint64_t commits_ GUARDED_BY(wait_mu_) = 0;
};

}  // namespace sluice::consumer
