// HaPrimary: the primary's side of replication (RocketMQ's HAService).
//
//   accept service   one thread: accepts connections on [ha] listen and
//                    runs every handshake (secret, cluster id, epochs,
//                    divergence point) itself, nonblocking, until the peer
//                    has proven the secret (ha/handshake.h says why); caps
//                    pending handshakes and sessions, closing the excess
//   read service     per authenticated connection: the standby's reports,
//                    handed to the destination's GroupTransfer
//   write service    per connection: streams whole log batches from the
//                    agreed offset (HaData), the consumer groups when they
//                    change (HaGroups) and heartbeats when idle; never more
//                    than max_inflight_bytes ahead of the standby's last
//                    report, and a blocked socket blocks only this thread,
//                    so a slow standby costs the primary no memory
//   group transfer   per destination (group_transfer.h)
//
// The wire protocol is proto/ha.proto; docs/replication.md tells the whole
// story. A standby whose epoch history is ahead of ours proves a newer
// primary exists: the standby is refused and `on_fenced` is called (the
// node must stop acting as primary at once).
//
// Thread safety: Start/Stop from the owner's thread; the getters from any.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "base/thread_annotations.h"
#include "ha/group_transfer.h"
#include "ha/ha_options.h"
#include "ha/refusals.h"
#include "storage/commit_log.h"

namespace sluice::ha {

class StandbySession;
class PendingHandshake;

struct HaDestination {
  std::string name;
  CommitLog* log;  // not owned; outlives the HaPrimary / HaStandby
};

class HaPrimary {
 public:
  using FenceCallback = std::function<void(Epoch newer_epoch, const std::string& why)>;

  // Binds options.listen ("IPv4:PORT"; port 0 picks one) and starts the
  // accept service and one GroupTransfer per destination. In sync mode the
  // logs' gates are on from here.
  static Result<std::unique_ptr<HaPrimary>> Start(const HaOptions& options,
                                                  const std::vector<HaDestination>& dests,
                                                  FenceCallback on_fenced);
  ~HaPrimary();  // Stop()s
  HaPrimary(const HaPrimary&) = delete;
  HaPrimary& operator=(const HaPrimary&) = delete;

  // Closes the listener and every connection and joins every thread.
  // Idempotent. Gates stay as they are (the owner decides).
  void Stop();

  int port() const { return port_; }
  // nullptr for an unknown destination.
  GroupTransfer* transfer(const std::string& dest) const;
  // Connections closed before they became a session, by reason
  // (sluice_ha_refused_total).
  const RefusalLog& refusals() const { return refusals_; }
  uint64_t refused() const { return refusals_.total(); }
  // The Kafka listeners (broker id, address) of the standbys that have
  // connected, as their hellos named them: Metadata lists them so that a
  // client knows every node of the pair (kafka-python forgets its
  // bootstrap list once it has Metadata).
  std::vector<std::pair<int32_t, std::string>> KafkaPeers() const;

 private:
  friend class StandbySession;
  friend class PendingHandshake;
  HaPrimary(const HaOptions& options, FenceCallback on_fenced);
  void AcceptLoop();
  // Accepts what is waiting on the listener: a PendingHandshake each, or
  // closed at once beyond the caps.
  void AcceptWaiting(std::vector<std::unique_ptr<PendingHandshake>>* pending);
  void StartSession(PendingHandshake* h);
  void Reap(bool all);          // joins finished sessions (all: every session)
  size_t SessionCount() const;  // sessions not finished

  const HaOptions options_;
  const FenceCallback on_fenced_;
  std::map<std::string, CommitLog*> logs_;                           // constant after Start
  std::map<std::string, std::unique_ptr<GroupTransfer>> transfers_;  // constant after Start
  int listen_fd_ = -1;
  int port_ = 0;
  int stop_pipe_[2] = {-1, -1};  // a byte here stops the accept loop and sessions' waits
  std::atomic<bool> stopping_{false};
  uint32_t max_sessions_ = 0;  // constant after Start
  RefusalLog refusals_;
  std::thread accept_thread_;

  mutable Mutex mu_;
  std::vector<std::unique_ptr<StandbySession>> sessions_ GUARDED_BY(mu_);
  std::map<std::string, std::pair<int32_t, std::string>> kafka_peers_ GUARDED_BY(mu_);
};

}  // namespace sluice::ha
