#include "broker/daemon/node.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include <spdlog/spdlog.h>

#include "base/clock.h"
#include "base/thread_name.h"

#include "ha/epochs.h"
#include "proto/auth.h"
#include "proto/connection.h"
#include "proto/wire_error.h"

namespace sluice::daemon {
namespace {

// Reads data_dir/ROLE: {role, primary}; nullopt-like empty role when absent.
std::pair<std::string, std::string> ReadRole(const std::string& path) {
  std::ifstream in(path);
  std::string role, primary, key, value;
  while (in >> key) {
    std::getline(in, value);
    value.erase(0, value.find_first_not_of(' '));
    if (key == "role") role = value;
    if (key == "primary") primary = value;
  }
  return {role, primary};
}

Result<std::string> ReadSecret(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::InvalidArgument("ha.secret_file: cannot read " + path +
                                   " (relative paths start at the working directory)");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  if (s.empty()) return Status::InvalidArgument("ha.secret_file: " + path + " is empty");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    spdlog::warn("ha.secret_file {} can be read by other users; chmod 600 it", path);
  }
  return s;
}

}  // namespace

Node::Node(const Config& config, consumer::ConsumerService* service)
    : config_(config), service_(service) {}

Node::~Node() { Stop(); }

std::optional<Role> Node::role() const {
  MutexLock lock(&mu_);
  return role_;
}

ha::HaOptions Node::HaOptionsFor(const std::string& primary) const {
  ha::HaOptions o;
  o.cluster_id = config_.ha.cluster_id;
  o.node_id = config_.node_id;
  o.secret_key = ha_key_;
  o.listen = config_.ha.listen;
  o.primary = primary;
  o.consumer_address = config_.server.listen;
  o.kafka_address =
      config_.kafka.advertised.empty() ? config_.kafka.listen : config_.kafka.advertised;
  o.kafka_broker_id = static_cast<int32_t>(config_.kafka.broker_id);
  o.sync = config_.ha.mode == "sync";
  o.sync_replicas = config_.ha.sync_replicas;
  o.sync_timeout_ms = config_.ha.sync_timeout_ms;
  o.degrade_on_timeout = config_.ha.on_sync_timeout == "degrade";
  o.heartbeat_ms = config_.ha.heartbeat_ms;
  o.dead_after_ms = std::max<uint32_t>(10000, 5 * config_.ha.heartbeat_ms);
  o.handshake_timeout_ms = config_.ha.handshake_timeout_ms;
  o.max_pending_handshakes = config_.ha.max_pending_handshakes;
  o.max_sessions = config_.ha.max_sessions;
  return o;
}

std::vector<ha::HaDestination> Node::HaDestinations() const {
  std::vector<ha::HaDestination> out;
  for (const auto& d : dests_) out.push_back({d->name(), d->log()});
  return out;
}

Status Node::SaveRole(Role role, const std::string& primary) const {
  const std::string path = config_.data_dir + "/ROLE";
  const std::string tmp = path + ".tmp";
  const std::string text = "role " + std::string(RoleName(role)) + "\nprimary " + primary + "\n";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  ok = ok && ::rename(tmp.c_str(), path.c_str()) == 0;
  if (ok) {
    int dir = ::open(config_.data_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      ::fsync(dir);
      ::close(dir);
    }
  }
  if (!ok) return Status::IoError("cannot write " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

Status Node::Start() {
  if (config_.ha.configured) {
    SLUICE_ASSIGN_OR_RETURN(std::string secret, ReadSecret(config_.ha.secret_file));
    ha_key_ = auth::PasswordKey(secret);
  }
  for (const auto& d : config_.destinations) {
    dests_.push_back(std::make_unique<Destination>(config_, d));
    Status st =
        dests_.back()->Open([this, &d](CommitLog* log) { service_->AddDestination(d.name, log); });
    if (!st.ok()) return st.WithContext("destination " + d.name);
  }
  auto [saved_role, saved_primary] = ReadRole(config_.data_dir + "/ROLE");
  Role role = config_.role;
  if (!saved_role.empty()) {
    std::optional<Role> saved = ParseRole(saved_role);
    if (!saved) {
      return Status::Corruption(config_.data_dir + "/ROLE: role '" + saved_role +
                                "' is neither primary nor standby");
    }
    role = *saved;
  }
  std::string primary = saved_primary.empty() ? config_.ha.primary : saved_primary;
  if (!saved_role.empty() && role != config_.role) {
    spdlog::info(
        "role {} from {}/ROLE (a promote or demote); node.role = {} only applies at "
        "first start",
        saved_role, config_.data_dir, RoleName(config_.role));
  }
  StartRetention();
  MutexLock lock(&mu_);
  if (role == Role::kPrimary) {
    // A log that starts out as a primary's begins epoch 1 (epoch 0 is a log
    // from before epochs were recorded).
    for (auto& d : dests_) {
      CommitLog* log = d->log();
      if (log->CurrentEpoch() == Epoch(0) && log->CommittedEnd() == Offset(0)) {
        SLUICE_RETURN_IF_ERROR(log->BeginEpoch(Epoch(1)));
      }
    }
    return BecomePrimary(Epoch(0));
  }
  if (primary.empty()) {
    return Status::InvalidArgument(
        "this node is a standby but no primary is known: set [ha] "
        "primary, or run `sluice demote --primary`");
  }
  return BecomeStandby(primary);
}

// REQUIRES: ingest stopped, no HaStandby running.
Status Node::BecomePrimary(Epoch min_epoch) {
  if (role_ == Role::kStandby) {
    // A new epoch above every one any log has seen.
    Epoch epoch = min_epoch;
    for (auto& d : dests_) {
      auto history = d->log()->EpochHistory();
      if (!history.ok()) return history.status();
      epoch = std::max(epoch, Epoch(ha::LastEpoch(*history).value() + 1));
    }
    for (auto& d : dests_) {
      CommitLog* log = d->log();
      SLUICE_RETURN_IF_ERROR(log->DiscardOpenTransaction());
      // Marks of standbys from an earlier time as primary are another
      // pair's: this primary waits for the standbys that report to it.
      SLUICE_RETURN_IF_ERROR(ForgetStandbys(log));
      SLUICE_RETURN_IF_ERROR(log->BeginEpoch(epoch));
      // Replicated groups may point past what reached this node (async):
      // clamp them to its log, so their next Get starts at a real record.
      const uint64_t end = log->CommittedEnd().value();
      auto groups = log->meta().ListGroups();
      if (!groups.ok()) return groups.status();
      for (auto& [name, cursor] : *groups) {
        bool changed = false;
        if (cursor.acked_offset() > end) {
          cursor.set_acked_offset(end);
          changed = true;
        }
        auto* out = cursor.mutable_outstanding();
        for (int i = out->size() - 1; i >= 0; --i) {
          if (out->Get(i).end_offset() > end) {
            out->DeleteSubrange(i, 1);
            changed = true;
          }
        }
        cursor.set_epoch(epoch.value());
        if (changed) SLUICE_RETURN_IF_ERROR(log->meta().PutCursor(name, cursor));
      }
      log->SetGate(false);
      // Everything it has is released from here on (it is the primary).
      if (config_.ha.mode == "sync") SLUICE_RETURN_IF_ERROR(log->StoreReleased(Offset(end)));
      spdlog::info("destination {}: epoch {} begins at offset {}", d->name(), epoch.value(), end);
    }
  }
  SLUICE_RETURN_IF_ERROR(SaveRole(Role::kPrimary, ""));
  role_ = Role::kPrimary;
  primary_.clear();
  fenced_.clear();
  if (!config_.ha.listen.empty()) {
    auto p = ha::HaPrimary::Start(HaOptionsFor(""), HaDestinations(),
                                  [this](Epoch e, const std::string& why) { OnFenced(e, why); });
    if (!p.ok()) return p.status();
    ha_primary_ = std::move(*p);
    spdlog::info("ha: serving standbys on {} (port {}), mode {}", config_.ha.listen,
                 ha_primary_->port(), config_.ha.mode);
  }
  for (auto& d : dests_) d->StartIngest();
  service_->SetRole(Role::kPrimary, "");
  return Status::Ok();
}

Status Node::BecomeStandby(const std::string& primary) {
  service_->SetRole(Role::kStandby, "");  // group requests stop before anything else
  for (auto& d : dests_) d->StopIngest();
  ha_primary_.reset();
  ha_standby_.reset();
  SLUICE_RETURN_IF_ERROR(SaveRole(Role::kStandby, primary));
  role_ = Role::kStandby;
  primary_ = primary;
  if (!config_.ha.configured) {
    return Status::InvalidArgument("a standby needs an [ha] section (primary, secret_file)");
  }
  ha_standby_ = std::make_unique<ha::HaStandby>(HaOptionsFor(primary), HaDestinations());
  SLUICE_RETURN_IF_ERROR(ha_standby_->Start());
  spdlog::info("ha: standby of {}", primary);
  return Status::Ok();
}

void Node::OnFenced(Epoch epoch, const std::string& why) {
  // On an HA session thread: stop acks at once, leave the rest to Tick().
  service_->SetRole(Role::kStandby, "");
  {
    MutexLock lock(&fence_mu_);
    fence_why_ = why + " (epoch " + std::to_string(epoch.value()) + ")";
  }
  fence_pending_.store(true);
  spdlog::error(
      "FENCED: {}; this node stopped acting as primary: it accepts no group requests "
      "and stops ingest. Make it a standby of the new primary with `sluice demote`",
      why);
}

void Node::NoteClientEpoch(Epoch seen) {
  if (service_->role() != Role::kPrimary) return;
  Epoch epoch(0);
  for (const auto& d : dests_) {
    if (d->log() != nullptr) epoch = std::max(epoch, d->log()->CurrentEpoch());
  }
  if (seen <= epoch) return;
  OnFenced(seen, "a consumer has seen epoch " + std::to_string(seen.value()) +
                     " on another node; this node is at epoch " + std::to_string(epoch.value()));
}

std::optional<std::pair<int32_t, std::string>> Node::KafkaPrimary() const {
  MutexLock lock(&mu_);
  if (role_ != Role::kStandby || !ha_standby_) return std::nullopt;
  return ha_standby_->primary_kafka();
}

std::vector<std::pair<int32_t, std::string>> Node::KafkaStandbys() const {
  MutexLock lock(&mu_);
  if (role_ != Role::kPrimary || !ha_primary_) return {};
  return ha_primary_->KafkaPeers();
}

void Node::Tick() {
  MutexLock lock(&mu_);
  FinishFence();
  if (role_ == Role::kStandby && ha_standby_) {
    service_->SetRole(Role::kStandby, ha_standby_->primary_consumer_address());
  }
}

void Node::FinishFence() {
  if (fence_pending_.exchange(false) && role_ == Role::kPrimary) {
    for (auto& d : dests_) d->StopIngest();
    ha_primary_.reset();
    {
      MutexLock l(&fence_mu_);
      fenced_ = fence_why_;
    }
    role_ = Role::kStandby;
    // No primary is known here: replication waits for `sluice demote`.
    if (Status st = SaveRole(Role::kStandby, ""); !st.ok()) spdlog::error("{}", st.ToString());
  }
}

void Node::StartRetention() {
  bool any = false;
  for (const auto& d : dests_) any = any || d->config().retention.enabled();
  if (!any || retention_thread_.joinable()) return;
  {
    MutexLock lock(&retention_mu_);
    retention_stop_ = false;
  }
  retention_thread_ = std::thread([this] {
    SetThreadName("sl-retention");
    RetentionLoop();
  });
}

void Node::StopRetention() {
  {
    MutexLock lock(&retention_mu_);
    retention_stop_ = true;
  }
  retention_cv_.SignalAll();
  if (retention_thread_.joinable()) retention_thread_.join();
}

void Node::RetentionLoop() {
  const auto period = std::chrono::milliseconds(config_.retention_interval_ms);
  MutexLock lock(&retention_mu_);
  while (true) {
    const auto deadline = std::chrono::steady_clock::now() + period;
    while (!retention_stop_ && retention_cv_.WaitUntil(&retention_mu_, deadline)) {
    }
    if (retention_stop_) break;
    lock.Unlock();
    for (auto& d : dests_) {
      if (d->config().retention.enabled()) d->ApplyRetention(RetentionFloor(d.get()));
    }
    lock.Lock();
  }
}

Status Node::ForgetStandbys(CommitLog* log) {
  SLUICE_ASSIGN_OR_RETURN(auto marks, log->meta().ListStandbys());
  for (const auto& m : marks) SLUICE_RETURN_IF_ERROR(log->meta().DeleteStandby(m.first));
  return Status::Ok();
}

Offset Node::RetentionFloor(Destination* dest) {
  CommitLog* log = dest->log();
  Offset floor = log->HighWatermark();
  MutexLock lock(&mu_);
  if (!ha_primary_ || config_.ha.mode != "sync") return floor;
  const Offset first = log->FirstOffset();
  // What each standby last reported, kept across restarts: a standby that
  // is away when this primary starts again is still waited for.
  auto kept = log->meta().ListStandbys();
  if (!kept.ok()) {
    spdlog::error("destination {}: retention keeps everything: cannot read the standbys' marks: {}",
                  dest->name(), kept.status().ToString());
    return first;
  }
  std::map<std::string, proto::StandbyMark> marks(kept->begin(), kept->end());
  const int64_t now = WallClockMs();
  const int64_t forget_ms = int64_t{config_.ha.forget_standby_hours} * 3600 * 1000;
  if (ha::GroupTransfer* t = ha_primary_->transfer(dest->name())) {
    for (const auto& p : t->Standbys()) {
      if (p.last_report_ms == 0) continue;  // connected, not reported yet
      // Gone longer than the horizon (and forgotten below): not again.
      if (forget_ms > 0 && now - p.last_report_ms > forget_ms) continue;
      proto::StandbyMark& m = marks[p.node_id];
      if (Offset(m.durable_offset()) == p.durable_offset &&
          m.seen_ms() >= p.last_report_ms - 60000) {
        continue;  // written recently enough
      }
      m.set_durable_offset(p.durable_offset.value());
      m.set_seen_ms(p.last_report_ms);
      if (Status st = log->meta().PutStandby(p.node_id, m); !st.ok()) {
        spdlog::error(
            "destination {}: retention keeps everything: cannot store standby {}'s "
            "mark: {}",
            dest->name(), p.node_id, st.ToString());
        return first;
      }
    }
  }
  for (const auto& [id, m] : marks) {
    if (forget_ms > 0 && now - m.seen_ms() > forget_ms) {
      spdlog::warn(
          "destination {}: retention no longer waits for standby '{}': it has not reported for "
          "more than [ha] forget_standby_hours = {} (it reported offset {} durable); rebuild it "
          "if it comes back",
          dest->name(), id, config_.ha.forget_standby_hours, m.durable_offset());
      (void)log->meta().DeleteStandby(id);
      continue;
    }
    // A standby below the first offset cannot catch up any more (its next
    // handshake is refused): it must not stop retention for good.
    const Offset durable(m.durable_offset());
    if (durable >= first) floor = std::min(floor, durable);
  }
  return floor;
}

void Node::Stop() {
  StopRetention();
  MutexLock lock(&mu_);
  ha_standby_.reset();
  for (auto& d : dests_) d->StopIngest();
  ha_primary_.reset();
}

void Node::FillRole(proto::RoleResponse* out) const {
  out->set_role(role_ ? std::string(RoleName(*role_)) : std::string());
  uint64_t epoch = 0;
  for (const auto& d : dests_) {
    CommitLog* log = d->log();
    auto* s = out->add_destinations();
    s->set_name(d->name());
    s->set_first_offset(log->FirstOffset().value());
    s->set_high_watermark(log->HighWatermark().value());
    s->set_committed_end(log->CommittedEnd().value());
    proto::SourceCheckpoint cp = log->Checkpoint();
    s->set_checkpoint(cp.file() + ":" + std::to_string(cp.pos()));
    s->set_gtid_set(cp.gtid_set());
    epoch = std::max(epoch, log->CurrentEpoch().value());
  }
  out->set_epoch(epoch);
}

proto::Error Node::Promote(const proto::PromoteRequest& req, proto::RoleResponse* out) {
  MutexLock lock(&mu_);
  FinishFence();
  if (role_ == Role::kPrimary) {
    FillRole(out);
    return proto::Error();  // already: nothing to do
  }
  spdlog::warn("promote: this node becomes the primary");
  ha_standby_.reset();
  if (Status st = BecomePrimary(Epoch(req.epoch())); !st.ok()) {
    spdlog::error("promote failed: {}", st.ToString());
    return proto::MakeError(proto::INTERNAL, "promote failed: " + st.ToString());
  }
  FillRole(out);
  return proto::Error();
}

proto::Error Node::Snapshot(const proto::SnapshotRequest& req, proto::SnapshotResponse* out) {
  MutexLock lock(&mu_);
  if (role_ != Role::kPrimary) {
    return proto::MakeError(proto::NOT_PRIMARY,
                            "this node is not the primary: ask the primary for a snapshot");
  }
  for (const auto& d : dests_) {
    if (d->name() != req.dest()) continue;
    std::vector<std::string> tables(req.tables().begin(), req.tables().end());
    auto id = d->RequestSnapshot(tables);
    if (!id.ok()) {
      const Code c = id.status().code();
      return proto::MakeError(c == Code::kInvalidArgument      ? proto::BAD_REQUEST
                              : c == Code::kFailedPrecondition ? proto::PERMISSION_DENIED
                                                               : proto::UNAVAILABLE,
                              id.status().message());
    }
    std::string names;
    for (const auto& t : tables) names += (names.empty() ? "" : ", ") + t;
    spdlog::info("destination {}: snapshot {} of {} asked for", d->name(), *id, names);
    out->set_id(*id);
    return proto::Error();
  }
  return proto::MakeError(proto::UNKNOWN_DESTINATION,
                          "no destination '" + req.dest() + "' on this node");
}

proto::Error Node::Demote(const proto::DemoteRequest& req, proto::RoleResponse* out) {
  MutexLock lock(&mu_);
  FinishFence();
  const std::string& primary = req.primary();
  if (!net::ParseHostPort(primary).ok()) {
    return proto::MakeError(
        proto::BAD_REQUEST,
        "demote: --primary '" + primary + "' is not host:port (the new primary's [ha] listen)");
  }
  if (!config_.ha.configured) {
    return proto::MakeError(proto::UNAVAILABLE,
                            "this node has no [ha] section, so it cannot be a standby");
  }
  spdlog::warn("demote: this node becomes a standby of {}", primary);
  if (Status st = BecomeStandby(primary); !st.ok()) {
    return proto::MakeError(proto::INTERNAL, "demote failed: " + st.ToString());
  }
  FillRole(out);
  return proto::Error();
}

void Node::FillStatus(proto::StatusResponse* out) const {
  MutexLock lock(&mu_);
  out->set_role(role_ ? std::string(RoleName(*role_)) : std::string());
  out->set_ha_mode(config_.ha.configured ? config_.ha.mode : "");
  out->set_primary(primary_);
  out->set_fenced(fenced_);
  out->set_ha_listen(config_.ha.listen);
  if (ha_primary_) {
    for (const auto& [reason, n] : ha_primary_->refusals().Counts()) {
      auto* r = out->add_ha_refused();
      r->set_reason(reason);
      r->set_count(n);
    }
  }
  const int64_t now = WallClockMs();
  std::vector<ha::ReplicaStatus> replicas;
  if (ha_standby_) replicas = ha_standby_->Replicas();
  for (auto& s : *out->mutable_destinations()) {
    const Destination* dest = nullptr;
    for (const auto& d : dests_) {
      if (d->name() == s.name()) dest = d.get();
    }
    if (dest == nullptr) continue;
    CommitLog* log = const_cast<Destination*>(dest)->log();
    for (const auto& j : dest->snapshots()) {
      auto* ss = s.add_snapshots();
      ss->set_id(j.id);
      ss->set_done(j.done);
      ss->set_error(j.error);
      for (const auto& t : j.tables) {
        auto* ts = ss->add_tables();
        ts->set_db(t.db);
        ts->set_table(t.table);
        ts->set_state(t.state);
        ts->set_rows(t.rows);
        ts->set_dropped(t.dropped);
        ts->set_chunks(t.chunks);
        ts->set_retries(t.retries);
        ts->set_last_key(t.last_key);
        ts->set_rows_per_second(t.rows_per_second);
        ts->set_error(t.error);
      }
    }
    if (role_ == Role::kPrimary) {
      s.set_source_lag_seconds(dest->lag_seconds());
      s.set_source_lag_bytes(dest->lag_bytes());
      s.set_xa_pending(dest->xa_pending());
      s.set_xa_oldest_seconds(dest->xa_oldest_seconds());
    }
    if (ha_primary_) {
      if (ha::GroupTransfer* t = ha_primary_->transfer(s.name())) {
        s.set_in_sync(t->in_sync());
        s.set_degraded(t->degraded());
        const Offset end = log->CommittedEnd();
        const uint64_t end_bytes = log->EndBytes();
        for (const auto& p : t->Standbys()) {
          auto* sb = s.add_standbys();
          sb->set_node_id(p.node_id);
          sb->set_connected(p.connected);
          sb->set_durable_offset(p.durable_offset.value());
          sb->set_lag_records(end > p.durable_offset ? end - p.durable_offset : 0);
          sb->set_lag_bytes(end_bytes > p.end_bytes ? end_bytes - p.end_bytes : 0);
          const double lag_s =
              p.durable_offset >= end || p.caught_up_ms == 0 ? 0 : (now - p.caught_up_ms) / 1000.0;
          sb->set_lag_seconds(lag_s);
          sb->set_in_sync(p.connected && (p.durable_offset >= log->HighWatermark() ||
                                          lag_s * 1000 < config_.ha.sync_timeout_ms));
        }
      }
    }
    for (const auto& r : replicas) {
      if (r.dest != s.name()) continue;
      s.set_replicating(r.connected);
      s.set_primary_high_watermark(r.primary_high_watermark.value());
      s.set_replication_error(r.last_error);
    }
  }
}

}  // namespace sluice::daemon
