#include "ha/standby.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <spdlog/spdlog.h>

#include "base/thread_name.h"
#include "ha/epochs.h"
#include "proto/auth.h"
#include "proto/connection.h"
#include "proto/ha.pb.h"

namespace sluice::ha {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

}  // namespace

struct HaStandby::Replica {
  std::string dest;
  CommitLog* log;
  std::thread thread;
  std::unique_ptr<net::Connection> conn;  // only the replica's thread touches it
  std::string frame;
  mutable Mutex mu;
  ReplicaStatus status GUARDED_BY(mu);
};

HaStandby::HaStandby(const HaOptions& options, const std::vector<HaDestination>& dests)
    : options_(options) {
  for (const auto& d : dests) {
    auto r = std::make_unique<Replica>();
    r->dest = d.name;
    r->log = d.log;
    {
      MutexLock lock(&r->mu);
      r->status.dest = d.name;
    }
    replicas_.push_back(std::move(r));
  }
}

HaStandby::~HaStandby() {
  Stop();
  for (int fd : stop_pipe_) {
    if (fd >= 0) ::close(fd);
  }
}

Status HaStandby::Start() {
  if (options_.primary.empty()) return Status::InvalidArgument("ha.primary is not set");
  if (options_.secret_key.empty()) return Status::InvalidArgument("ha: no secret configured");
  SLUICE_RETURN_IF_ERROR(net::ParseHostPort(options_.primary).status());
  if (::pipe2(stop_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Status::IoError(std::string("pipe: ") + std::strerror(errno));
  }
  (void)spdlog::default_logger_raw();  // its registry, before our threads (see HaPrimary::Start)
  for (auto& r : replicas_) {
    r->log->SetGate(true);
    Replica* raw = r.get();
    r->thread = std::thread([this, raw] {
      SetThreadName("sl-ha-client");
      Loop(raw);
    });
  }
  return Status::Ok();
}

void HaStandby::Stop() {
  if (stop_.exchange(true)) return;
  if (stop_pipe_[1] >= 0) (void)!::write(stop_pipe_[1], "x", 1);
  for (auto& r : replicas_) {
    if (r->thread.joinable()) r->thread.join();
  }
}

std::vector<ReplicaStatus> HaStandby::Replicas() const {
  std::vector<ReplicaStatus> out;
  for (const auto& r : replicas_) {
    MutexLock lock(&r->mu);
    out.push_back(r->status);
  }
  return out;
}

std::string HaStandby::primary_consumer_address() const {
  MutexLock lock(&mu_);
  return consumer_address_;
}

std::optional<std::pair<int32_t, std::string>> HaStandby::primary_kafka() const {
  MutexLock lock(&mu_);
  if (kafka_address_.empty()) return std::nullopt;
  return std::make_pair(kafka_broker_id_, kafka_address_);
}

void HaStandby::Loop(Replica* r) {
  int backoff = options_.backoff_initial_ms;
  std::string logged;
  while (!stop_.load()) {
    const auto started = Clock::now();
    Status st = RunOnce(r);
    r->conn.reset();
    {
      MutexLock lock(&r->mu);
      r->status.connected = false;
      if (!st.ok()) r->status.last_error = st.ToString();
    }
    if (stop_.load()) break;
    // A connection that lasted a while was healthy: start the backoff over.
    if (Clock::now() - started > std::chrono::seconds(10)) backoff = options_.backoff_initial_ms;
    if (st.ToString() != logged) {
      spdlog::warn("ha: destination {}: replication from {} stopped: {}; retrying with backoff",
                   r->dest, options_.primary, st.ToString());
      logged = st.ToString();
    }
    if (net::SleepInterruptibly(stop_pipe_[0], backoff).code() == Code::kAborted) break;
    backoff = std::min(backoff * 2, options_.backoff_max_ms);
  }
}

Status HaStandby::Report(Replica* r) {
  proto::ToPrimary m;
  auto* rep = m.mutable_report();
  rep->set_durable_offset(r->log->DurableOffset().value());
  rep->set_appended_end(r->log->AppendedEnd().value());
  rep->set_end_bytes(r->log->AppendedBytes());
  r->frame.clear();
  SLUICE_RETURN_IF_ERROR(frame::Append(m, &r->frame));
  return r->conn->Send(r->frame, Clock::now() + milliseconds(options_.dead_after_ms));
}

Status HaStandby::RunOnce(Replica* r) {
  CommitLog* log = r->log;
  // A log that failed for a full disk takes writes again once RocksDB
  // resumed, and below the free-space margin the primary is not asked for
  // more: either way the error says so and the loop asks again after its
  // backoff, so replication resumes by itself once space is freed.
  SLUICE_RETURN_IF_ERROR(log->Recover());
  SLUICE_RETURN_IF_ERROR(log->CheckFreeSpace());
  // Whatever came of a transaction before the last connection ended comes
  // again whole.
  SLUICE_RETURN_IF_ERROR(log->DiscardOpenTransaction());
  // Until the primary has proven the secret, frames above the handshake's
  // limit are refused from their header: whatever answers at [ha] primary
  // cannot make this node buffer a data frame's worth (max_frame).
  SLUICE_ASSIGN_OR_RETURN(r->conn, net::Connection::Dial(options_.primary, 5000, stop_pipe_[0],
                                                         kHandshakeMaxFrame, "primary"));
  net::Connection& conn = *r->conn;
  const auto deadline = Clock::now() + milliseconds(options_.handshake_timeout_ms);
  auto send = [&](const proto::ToPrimary& m, Clock::time_point by) -> Status {
    r->frame.clear();
    SLUICE_RETURN_IF_ERROR(frame::Append(m, &r->frame, kHandshakeMaxFrame));
    return conn.Send(r->frame, by);
  };
  auto receive = [&](proto::ToStandby* m) -> Status {
    Status st = conn.Receive(m, deadline);
    if (st.code() == Code::kInvalidArgument) {
      return Status::FailedPrecondition(
          "primary " + options_.primary + " sent a frame above " +
          std::to_string(kHandshakeMaxFrame) +
          " bytes before proving the HA secret: is [ha] primary a sluice primary? (" +
          st.message() + ")");
    }
    return st;
  };
  auto refused = [&](const proto::ToStandby& m) {
    return Status::FailedPrecondition("primary " + options_.primary +
                                      " refused: " + m.refuse().message());
  };

  proto::ToPrimary out;
  auto* hello = out.mutable_hello();
  hello->set_version(1);
  hello->set_cluster_id(options_.cluster_id);
  hello->set_node_id(options_.node_id);
  hello->set_dest(r->dest);
  hello->set_kafka_address(options_.kafka_address);
  hello->set_kafka_broker_id(options_.kafka_broker_id);
  SLUICE_RETURN_IF_ERROR(send(out, deadline));
  proto::ToStandby in;
  SLUICE_RETURN_IF_ERROR(receive(&in));
  if (in.has_refuse()) return refused(in);
  if (!in.has_challenge()) return Status::Corruption("primary sent no challenge");
  const std::string nonce = in.challenge().nonce();
  const std::string primary_node = in.challenge().node_id();

  SLUICE_ASSIGN_OR_RETURN(auto epochs, log->EpochHistory());
  const Epoch my_epoch = LastEpoch(epochs);
  const std::string client_nonce = auth::RandomBytes(32);
  out.Clear();
  auto* a = out.mutable_auth();
  a->set_client_nonce(client_nonce);
  a->set_proof(auth::Proof(options_.secret_key, nonce, client_nonce));
  for (const auto& e : epochs) *a->add_epochs() = e;
  a->set_log_end(log->CommittedEnd().value());
  SLUICE_RETURN_IF_ERROR(send(out, deadline));
  in.Clear();
  SLUICE_RETURN_IF_ERROR(receive(&in));
  if (in.has_refuse()) return refused(in);
  if (!in.has_accept()) return Status::Corruption("primary sent no accept");
  const proto::HaAccept accept = in.accept();
  if (!auth::ProofMatches(auth::Proof(options_.secret_key, client_nonce, nonce), accept.proof())) {
    return Status::FailedPrecondition("primary " + options_.primary +
                                      " did not prove the HA secret: check [ha] secret_file "
                                      "and [ha] primary");
  }
  conn.set_max_frame(options_.max_frame);  // proven: data frames from here on
  if (Epoch(accept.epoch()) < my_epoch) {
    return Status::FailedPrecondition(
        "primary " + options_.primary + " (" + primary_node + ") is at epoch " +
        std::to_string(accept.epoch()) + " but this node has seen epoch " +
        std::to_string(my_epoch.value()) + ": it is a stale primary; not replicating from it");
  }
  const std::vector<proto::EpochEntry> primary_epochs(accept.epochs().begin(),
                                                      accept.epochs().end());
  const Offset agreed(accept.truncate_to());
  if (agreed > log->CommittedEnd()) {
    return Status::Corruption("primary named offset " + std::to_string(agreed.value()) +
                              " to continue from, past this log's end " +
                              std::to_string(log->CommittedEnd().value()));
  }
  if (agreed < log->CommittedEnd()) {
    spdlog::warn(
        "ha: destination {}: this log diverged from primary {} at offset {}: "
        "truncating [{}, {}) (epoch history: ours ends in epoch {}, the primary's "
        "in {})",
        r->dest, primary_node, agreed.value(), agreed.value(), log->CommittedEnd().value(),
        my_epoch.value(), accept.epoch());
    SLUICE_RETURN_IF_ERROR(log->Truncate(agreed));
    MutexLock lock(&r->mu);
    ++r->status.truncations;
  }
  {
    MutexLock lock(&mu_);
    consumer_address_ = accept.consumer_address();
    kafka_address_ = accept.kafka_address();
    kafka_broker_id_ = accept.kafka_broker_id();
  }
  {
    MutexLock lock(&r->mu);
    r->status.connected = true;
    r->status.primary_node = primary_node;
    r->status.primary_epoch = Epoch(accept.epoch());
    r->status.primary_high_watermark = Offset(accept.high_watermark());
    r->status.last_error.clear();
  }
  spdlog::info("ha: destination {}: replicating from primary {} ({}, epoch {}) at offset {}",
               r->dest, primary_node, options_.primary, accept.epoch(), agreed.value());
  // Epochs the primary began at our end (with no batch yet) are ours too.
  SLUICE_RETURN_IF_ERROR(log->AppendReplicated({}, primary_epochs));
  log->Release(Offset(accept.high_watermark()));
  SLUICE_RETURN_IF_ERROR(Report(r));

  const bool fsync_each = log->options().durability == Durability::kSyncEveryCommit;
  std::vector<std::string> batches;
  while (!stop_.load()) {
    in.Clear();
    SLUICE_RETURN_IF_ERROR(conn.Receive(&in, Clock::now() + milliseconds(options_.dead_after_ms)));
    uint64_t hw = 0;
    if (in.has_data()) {
      proto::HaData& d = *in.mutable_data();
      if (d.base_offset() != log->AppendedEnd().value()) {
        return Status::Corruption("primary sent offset " + std::to_string(d.base_offset()) +
                                  ", this log continues at " +
                                  std::to_string(log->AppendedEnd().value()));
      }
      batches.clear();
      for (auto& b : *d.mutable_batches()) batches.push_back(std::move(b));
      SLUICE_RETURN_IF_ERROR(log->AppendReplicated(batches, primary_epochs));
      if (!fsync_each) SLUICE_RETURN_IF_ERROR(log->Sync());
      hw = d.high_watermark();
    } else if (in.has_heartbeat()) {
      hw = in.heartbeat().high_watermark();
    } else if (in.has_groups()) {
      std::vector<std::pair<std::string, proto::GroupCursor>> groups;
      for (const auto& g : in.groups().groups()) groups.emplace_back(g.name(), g.cursor());
      SLUICE_RETURN_IF_ERROR(log->meta().ReplaceGroups(groups));
      continue;
    } else if (in.has_ingest_state()) {
      std::vector<std::pair<std::string, std::string>> entries;
      for (auto& e : *in.mutable_ingest_state()->mutable_entries()) {
        entries.emplace_back(std::move(*e.mutable_key()), std::move(*e.mutable_value()));
      }
      SLUICE_RETURN_IF_ERROR(log->ReplaceIngestState(entries));
      continue;
    } else if (in.has_refuse()) {
      return refused(in);
    } else {
      continue;  // newer message kinds: ignored
    }
    log->Release(Offset(hw));
    {
      MutexLock lock(&r->mu);
      r->status.primary_high_watermark = Offset(hw);
    }
    SLUICE_RETURN_IF_ERROR(Report(r));
  }
  return Status::Aborted("stopped");
}

}  // namespace sluice::ha
