// Node: one sluiced's destinations and its role. A primary ingests into
// every destination's log and, with [ha] listen, serves standbys
// (ha::HaPrimary); a standby replicates every log from its primary
// (ha::HaStandby) and serves reads up to what the primary made visible.
// Role changes (docs/operations.md, "Failover"):
//
//   Promote  standby -> primary: replication stops; each log begins a new
//            epoch above every epoch the node has seen (and at least the
//            one asked for); consumer groups are clamped to the log's end;
//            ingest resumes from each log's checkpoint; standbys are
//            served; group requests are accepted.
//   Demote   primary (or standby) -> standby of another primary: group
//            requests stop at once (NOT_PRIMARY), ingest stops, standbys
//            are dropped, replication from the new primary starts and
//            truncates whatever diverged (by epoch history).
//   Fence    a standby showed us a newer epoch: group requests stop at
//            once; ingest and the HA listener stop on the next Tick().
//
// The role survives restarts in data_dir/ROLE ("role standby\nprimary
// HOST:PORT\n"); the config's node.role only applies when there is none.
//
// Retention: when a destination has a retention limit, one thread
// ("sl-retention") applies it to every such log every
// [storage] retention_interval_ms, in either role. It never removes a
// record at or above the log's high watermark, nor, on a primary in sync
// mode, one that a standby has not reported durable (connected or not, and
// across this primary's restarts: each standby's last report is kept in the
// log's metadata, a StandbyMark; one silent for [ha] forget_standby_hours
// is forgotten, loudly). Consumer groups hold
// it back unless retention_respects_groups = false (CommitLog's
// keep_unacked).
//
// Thread safety: Promote, Demote, Tick and Stop serialize on an internal
// mutex; FillStatus may run from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "broker/consumer/role_admin.h"
#include "broker/consumer/service.h"
#include "broker/daemon/config.h"
#include "broker/daemon/destination.h"
#include "ha/primary.h"
#include "ha/standby.h"

namespace sluice::daemon {

// The consumer server's RoleAdmin: role requests reach the node here.
class Node final : public consumer::RoleAdmin {
 public:
  // REQUIRES: service outlives the Node.
  Node(const Config& config, consumer::ConsumerService* service);
  ~Node() override;  // Stop()s
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Reads the HA secret, opens every destination's log (each served by the
  // service from then on), and starts the role. Errors are fatal.
  Status Start();
  // Stops ingest and replication. Idempotent.
  void Stop();
  // Every second from the main thread: finishes a fence, refreshes the
  // standby's NOT_PRIMARY hint.
  void Tick();

  // Stops acting as primary: a newer epoch exists (from a standby's
  // handshake or a consumer's Hello). Quick; any thread.
  void Fence(Epoch epoch, const std::string& why) { OnFenced(epoch, why); }
  proto::Error Promote(const proto::PromoteRequest& req, proto::RoleResponse* out) override;
  proto::Error Demote(const proto::DemoteRequest& req, proto::RoleResponse* out) override;
  proto::Error Snapshot(const proto::SnapshotRequest& req, proto::SnapshotResponse* out) override;
  void NoteClientEpoch(Epoch seen) override;
  // Role, HA mode, replication and source lag, for StatusResponse,
  // `sluice status` and the admin pages.
  void FillStatus(proto::StatusResponse* out) const override;

  const std::vector<std::unique_ptr<Destination>>& destinations() const { return dests_; }
  std::optional<Role> role() const;  // none before Start() took one
  // auth::PasswordKey of the HA secret ("" without [ha]).
  const std::string& ha_key() const { return ha_key_; }
  // On a standby, the primary's Kafka broker id and address once its
  // replication accepted this node (for Metadata and FindCoordinator, so
  // Kafka clients move to it); nullopt on a primary or before that.
  std::optional<std::pair<int32_t, std::string>> KafkaPrimary() const;
  // On a primary, its standbys' Kafka listeners (empty otherwise).
  std::vector<std::pair<int32_t, std::string>> KafkaStandbys() const;

 private:
  ha::HaOptions HaOptionsFor(const std::string& primary) const;
  std::vector<ha::HaDestination> HaDestinations() const;
  Status BecomePrimary(Epoch min_epoch) REQUIRES(mu_);
  Status BecomeStandby(const std::string& primary) REQUIRES(mu_);
  Status SaveRole(Role role, const std::string& primary) const;
  void OnFenced(Epoch epoch, const std::string& why);
  // Stops ingest and the HA listener after a fence.
  void FinishFence() REQUIRES(mu_);
  void FillRole(proto::RoleResponse* out) const REQUIRES(mu_);
  void StartRetention();
  void StopRetention();
  void RetentionLoop();
  // The offset retention must keep from on `dest`'s log (see above).
  Offset RetentionFloor(Destination* dest) EXCLUDES(mu_);
  // Removes the StandbyMarks of `log` (a promotion starts afresh).
  static Status ForgetStandbys(CommitLog* log);

  const Config config_;
  consumer::ConsumerService* const service_;
  std::vector<std::unique_ptr<Destination>> dests_;  // constant after Start
  std::string ha_key_;                               // constant after Start

  mutable Mutex mu_;
  // None until Start() takes one: at first, BecomePrimary is no promotion
  // (no new epoch, the standbys' marks kept).
  std::optional<Role> role_ GUARDED_BY(mu_);
  std::string primary_ GUARDED_BY(mu_);  // a standby's primary (HA address)
  std::unique_ptr<ha::HaPrimary> ha_primary_ GUARDED_BY(mu_);
  std::unique_ptr<ha::HaStandby> ha_standby_ GUARDED_BY(mu_);
  std::string fenced_ GUARDED_BY(mu_);  // why it stopped acting as primary
  std::atomic<bool> fence_pending_{false};
  Mutex fence_mu_;
  std::string fence_why_ GUARDED_BY(fence_mu_);

  std::thread retention_thread_;  // started by Start(), joined by Stop()
  Mutex retention_mu_;
  CondVar retention_cv_;
  bool retention_stop_ GUARDED_BY(retention_mu_) = false;
};

}  // namespace sluice::daemon
