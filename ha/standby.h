// HaStandby: the standby's side of replication (RocketMQ's HAClient), one
// thread per destination. Each connects to the primary's [ha] listen
// address, proves the shared secret (and checks the primary's proof), sends
// its epoch history and log end, truncates the divergent suffix the primary
// names (never below what both histories agree on), then appends the
// primary's batches at the same offsets, fsyncs, and reports its durable
// offset after every append and every heartbeat. Consumer groups are
// replaced by the primary's whenever they change. A lost connection, a
// refusal or a stale primary is logged and retried with exponential
// backoff (options.backoff_*), from the log's last complete transaction.
//
// The logs' visibility gates are on while this runs: readers of a standby
// see records up to the primary's high watermark (what the primary's own
// consumers may see), never records a failover could take back.
//
// Thread safety: Start/Stop from the owner's thread; the getters from any.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/thread_annotations.h"
#include "ha/ha_options.h"
#include "ha/primary.h"  // HaDestination
#include "storage/commit_log.h"

namespace sluice::ha {

struct ReplicaStatus {
  std::string dest;
  bool connected = false;
  std::string primary_node;
  Epoch primary_epoch;
  Offset primary_high_watermark;
  uint64_t truncations = 0;  // divergent suffixes removed
  std::string last_error;    // why the last connection ended or was refused
};

class HaStandby {
 public:
  HaStandby(const HaOptions& options, const std::vector<HaDestination>& dests);
  ~HaStandby();  // Stop()s
  HaStandby(const HaStandby&) = delete;
  HaStandby& operator=(const HaStandby&) = delete;

  // Turns the logs' gates on and starts one thread per destination.
  Status Start();
  // Closes the connections and joins the threads. Idempotent. The gates
  // stay on (a promotion turns them off).
  void Stop();

  std::vector<ReplicaStatus> Replicas() const;
  // The primary's consumer address, as its last accept named it ("" until
  // then), for NOT_PRIMARY hints.
  std::string primary_consumer_address() const;
  // The primary's Kafka broker id and advertised address, as its last
  // accept named them (nullopt until then, or when it has no listener).
  std::optional<std::pair<int32_t, std::string>> primary_kafka() const;

 private:
  struct Replica;
  void Loop(Replica* r);
  Status RunOnce(Replica* r);
  Status Report(Replica* r);

  const HaOptions options_;
  std::vector<std::unique_ptr<Replica>> replicas_;
  int stop_pipe_[2] = {-1, -1};
  std::atomic<bool> stop_{false};
  mutable Mutex mu_;
  std::string consumer_address_ GUARDED_BY(mu_);
  std::string kafka_address_ GUARDED_BY(mu_);
  int32_t kafka_broker_id_ GUARDED_BY(mu_) = 0;
};

}  // namespace sluice::ha
