#include "broker/consumer/service.h"

#include <algorithm>
#include <chrono>
#include <regex>
#include <unordered_map>

#include "proto/record.pb.h"
#include "proto/wire_error.h"

namespace sluice::consumer {
namespace {

proto::Error StorageErr(const Status& st) { return proto::FromStatus(st, "storage"); }

proto::Error OutOfRange(uint64_t offset, CommitLog* log) {
  proto::Error e =
      proto::MakeError(proto::OFFSET_OUT_OF_RANGE,
                       "offset " + std::to_string(offset) + " is outside the log's range [" +
                           std::to_string(log->FirstOffset().value()) + ", " +
                           std::to_string(log->HighWatermark().value()) + "]");
  e.set_first_offset(log->FirstOffset().value());
  e.set_high_watermark(log->HighWatermark().value());
  return e;
}

uint32_t Clamp(uint32_t asked, uint32_t dflt, uint32_t max) {
  return asked == 0 ? dflt : std::min(asked, max);
}

bool ValidName(const std::string& s) { return !s.empty() && s.size() <= 256; }

// The group's cursor; NOT_SUBSCRIBED when it has none.
proto::Error LoadCursor(MetaStore& meta, const std::string& dest, const std::string& group,
                        proto::GroupCursor* c) {
  auto cur = meta.GetCursor(group);
  if (!cur.ok()) return StorageErr(cur.status());
  if (!cur->has_value()) {
    return proto::MakeError(proto::NOT_SUBSCRIBED, "group '" + group + "' is not subscribed to '" +
                                                       dest + "': Subscribe first");
  }
  *c = **cur;
  return proto::NoError();
}

// The group's outstanding batch `id`; UNKNOWN_BATCH when it is not one.
proto::Error FindOutstanding(const proto::GroupCursor& c, const std::string& group, uint64_t id,
                             proto::OutstandingBatch* batch) {
  const auto& outstanding = c.outstanding();
  for (const auto& b : outstanding) {
    if (b.batch_id() == id) {
      *batch = b;
      return proto::NoError();
    }
  }
  std::string have = outstanding.empty()
                         ? "none is outstanding"
                         : "outstanding: " + std::to_string(outstanding.begin()->batch_id()) +
                               ".." + std::to_string(outstanding.rbegin()->batch_id());
  return proto::MakeError(proto::UNKNOWN_BATCH,
                          "batch " + std::to_string(id) + " of group '" + group +
                              "' is not outstanding (acknowledged, rolled back or "
                              "never handed out); " +
                              have);
}

}  // namespace

struct ConsumerService::Dest {
  CommitLog* log = nullptr;
  std::mutex group_mu;  // serializes group operations of this destination
};

ConsumerService::ConsumerService(ServiceOptions options)
    : options_(std::move(options)), role_(options_.role), primary_(options_.primary) {}
ConsumerService::~ConsumerService() = default;

void ConsumerService::AddDestination(const std::string& name, CommitLog* log) {
  auto d = std::make_unique<Dest>();
  d->log = log;
  log->SetCommitListener([this] { NotifyCommit(); });
  WriterLock lock(&dests_mu_);
  dests_[name] = std::move(d);
}

void ConsumerService::AddCommitHook(std::function<void()> hook) {
  MutexLock lock(&hook_mu_);
  hooks_.push_back(std::move(hook));
}

void ConsumerService::NotifyCommit() {
  {
    MutexLock lock(&wait_mu_);
    ++commits_;
  }
  wait_cv_.SignalAll();
  MutexLock lock(&hook_mu_);
  for (const auto& hook : hooks_) hook();
}

ConsumerService::Dest* ConsumerService::Find(const std::string& name, proto::Error* err) {
  ReaderLock lock(&dests_mu_);
  auto it = dests_.find(name);
  if (it == dests_.end()) {
    std::string known;
    for (const auto& [n, d] : dests_) known += (known.empty() ? "" : ", ") + n;
    *err = proto::MakeError(proto::UNKNOWN_DESTINATION,
                            "no destination '" + name + "' here (this node serves: " + known + ")");
    return nullptr;
  }
  return it->second.get();
}

proto::Error ConsumerService::LockGroup(const std::string& dest, const std::string& group, Dest** d,
                                        std::unique_lock<std::mutex>* lock,
                                        proto::GroupCursor* cursor) {
  proto::Error err;
  *d = FindForGroup(dest, &err);
  if (*d == nullptr) return err;
  *lock = std::unique_lock<std::mutex>((*d)->group_mu);
  if (proto::Error e = CheckPrimary(); e.code() != proto::OK) return e;
  return LoadCursor((*d)->log->meta(), dest, group, cursor);
}

void ConsumerService::WaitForRecords(CommitLog* log, uint64_t offset, uint32_t wait_ms) {
  if (wait_ms == 0 || log->HighWatermark().value() > offset) return;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(std::min(wait_ms, options_.max_wait_ms));
  MutexLock lock(&wait_mu_);
  while (log->HighWatermark().value() <= offset && wait_cv_.WaitUntil(&wait_mu_, deadline)) {
  }
}

proto::Error ConsumerService::FetchRecords(const proto::FetchRequest& req, RecordSet* out) {
  *out = RecordSet();
  proto::Error err;
  if (!options_.standby_reads) {
    if (proto::Error e = CheckPrimary(); e.code() != proto::OK) return e;
  }
  Dest* d = Find(req.dest(), &err);
  if (d == nullptr) return err;
  CommitLog* log = d->log;
  if (req.offset() < log->FirstOffset().value() || req.offset() > log->HighWatermark().value()) {
    return OutOfRange(req.offset(), log);
  }
  WaitForRecords(log, req.offset(), req.wait_ms());
  auto set = log->Read(Offset(req.offset()),
                       Clamp(req.max_records(), options_.default_max_records, options_.max_records),
                       Clamp(req.max_bytes(), options_.default_max_bytes, options_.max_bytes));
  if (!set.ok()) {
    if (set.status().code() == Code::kOutOfRange) return OutOfRange(req.offset(), log);
    return StorageErr(set.status());
  }
  *out = std::move(set).value();
  return proto::NoError();
}

proto::Error ConsumerService::Fetch(const proto::FetchRequest& req, proto::FetchResponse* out) {
  out->Clear();
  RecordSet set;
  if (proto::Error e = FetchRecords(req, &set); e.code() != proto::OK) return e;
  for (const auto& r : set.records) {
    proto::LogRecord* lr = out->add_records();
    lr->set_offset(r.offset.value());
    lr->set_record(r.data.data(), r.data.size());
  }
  out->set_next_offset(set.next_offset.value());
  out->set_high_watermark(set.high_watermark.value());
  return proto::NoError();
}

proto::Error ConsumerService::ListOffsets(const proto::ListOffsetsRequest& req,
                                          proto::ListOffsetsResponse* out) {
  out->Clear();
  proto::Error err;
  if (!options_.standby_reads) {
    if (proto::Error e = CheckPrimary(); e.code() != proto::OK) return e;
  }
  Dest* d = Find(req.dest(), &err);
  if (d == nullptr) return err;
  CommitLog* log = d->log;
  const uint64_t first = log->FirstOffset().value(), hw = log->HighWatermark().value();
  out->set_first_offset(first);
  out->set_high_watermark(hw);
  if (req.timestamp() == 0) return proto::NoError();
  // Binary search on the records' source time: the first offset whose ts is
  // at or after the timestamp. Source times follow commit order closely
  // enough for this (a transaction's records share its time).
  uint64_t lo = first, hi = hw;
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    auto set = log->Read(Offset(mid), 1, 1);
    if (!set.ok()) return StorageErr(set.status());
    if (set->records.empty()) break;
    proto::ChangeRecord rec;
    const auto& data = set->records[0].data;
    if (!rec.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
      return proto::MakeError(proto::INTERNAL, "the record at offset " + std::to_string(mid) +
                                                   " does not parse: the log is damaged");
    }
    if (rec.ts() < req.timestamp()) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  out->set_timestamp_offset(lo);
  return proto::NoError();
}

proto::Error ConsumerService::Subscribe(const proto::SubscribeRequest& req,
                                        proto::SubscribeResponse* out) {
  out->Clear();
  proto::Error err;
  Dest* d = FindForGroup(req.dest(), &err);
  if (d == nullptr) return err;
  if (!ValidName(req.group()))
    return proto::MakeError(proto::BAD_REQUEST, "a group name is 1 to 256 bytes");
  try {
    std::regex check(req.filter());
  } catch (const std::regex_error& e) {
    return proto::MakeError(proto::BAD_REQUEST,
                            "filter '" + req.filter() + "' is not a regex: " + e.what());
  }
  std::lock_guard<std::mutex> lock(d->group_mu);
  if (proto::Error e = CheckPrimary(); e.code() != proto::OK) return e;
  MetaStore& meta = d->log->meta();
  auto cur = meta.GetCursor(req.group());
  if (!cur.ok()) return StorageErr(cur.status());
  proto::GroupCursor c;
  if (cur->has_value()) {
    c = **cur;
  } else {
    c.set_acked_offset(d->log->FirstOffset().value());
    c.set_next_batch_id(1);
  }
  c.set_filter(req.filter());
  if (Status st = meta.PutCursor(req.group(), c); !st.ok()) return StorageErr(st);
  out->set_acked_offset(c.acked_offset());
  return proto::NoError();
}

proto::Error ConsumerService::Partition(const std::string& dest, PartitionState* out) {
  proto::Error err;
  if (!options_.standby_reads) {
    if (proto::Error e = CheckPrimary(); e.code() != proto::OK) return e;
  }
  Dest* d = Find(dest, &err);
  if (d == nullptr) return err;
  out->first_offset = d->log->FirstOffset().value();
  out->high_watermark = d->log->HighWatermark().value();
  out->epoch = d->log->CurrentEpoch().value();
  return proto::NoError();
}

std::vector<std::string> ConsumerService::Destinations() const {
  ReaderLock lock(&dests_mu_);
  std::vector<std::string> names;
  for (const auto& [name, d] : dests_) names.push_back(name);
  return names;
}

proto::Error ConsumerService::CommitOffset(const std::string& dest, const std::string& group,
                                           uint64_t offset) {
  proto::Error err;
  Dest* d = FindForGroup(dest, &err);
  if (d == nullptr) return err;
  if (!ValidName(group))
    return proto::MakeError(proto::BAD_REQUEST, "a group name is 1 to 256 bytes");
  std::lock_guard<std::mutex> lock(d->group_mu);
  if (proto::Error e = CheckPrimary(); e.code() != proto::OK) return e;
  CommitLog* log = d->log;
  if (offset < log->FirstOffset().value() || offset > log->HighWatermark().value()) {
    return OutOfRange(offset, log);
  }
  MetaStore& meta = log->meta();
  auto cur = meta.GetCursor(group);
  if (!cur.ok()) return StorageErr(cur.status());
  proto::GroupCursor c;
  if (cur->has_value()) {
    c = **cur;
  } else {
    c.set_next_batch_id(1);
  }
  c.set_acked_offset(offset);
  c.clear_outstanding();
  c.set_epoch(log->CurrentEpoch().value());
  if (Status st = meta.PutCursor(group, c); !st.ok()) return StorageErr(st);
  return proto::NoError();
}

proto::Error ConsumerService::CommittedOffset(const std::string& dest, const std::string& group,
                                              std::optional<uint64_t>* out) {
  out->reset();
  proto::Error err;
  Dest* d = FindForGroup(dest, &err);
  if (d == nullptr) return err;
  auto cur = d->log->meta().GetCursor(group);
  if (!cur.ok()) return StorageErr(cur.status());
  if (cur->has_value()) *out = (*cur)->acked_offset();
  return proto::NoError();
}

proto::Error ConsumerService::Get(const proto::GetRequest& req, proto::GetResponse* out) {
  out->Clear();
  proto::Error err;
  Dest* d = FindForGroup(req.dest(), &err);
  if (d == nullptr) return err;
  CommitLog* log = d->log;
  MetaStore& meta = log->meta();
  const uint32_t batch_size =
      Clamp(req.batch_size(), options_.default_max_records, options_.max_records);
  // Where the batch starts: after the last outstanding batch, else the cursor.
  auto start_of = [&](proto::GroupCursor* c, uint64_t* start) -> proto::Error {
    if (proto::Error e = LoadCursor(meta, req.dest(), req.group(), c); e.code() != proto::OK) {
      return e;
    }
    *start = c->outstanding().empty() ? c->acked_offset() : c->outstanding().rbegin()->end_offset();
    return proto::NoError();
  };
  proto::GroupCursor c;
  uint64_t start = 0;
  {
    std::lock_guard<std::mutex> lock(d->group_mu);
    if (proto::Error e = start_of(&c, &start); e.code() != proto::OK) return e;
  }
  WaitForRecords(log, start, req.timeout_ms());

  std::lock_guard<std::mutex> lock(d->group_mu);
  if (proto::Error e = CheckPrimary(); e.code() != proto::OK) return e;
  // Again under the lock: another Get of the group may have run meanwhile.
  if (proto::Error e = start_of(&c, &start); e.code() != proto::OK) return e;
  if (start < log->FirstOffset().value()) return OutOfRange(start, log);
  const uint64_t hw = log->HighWatermark().value();
  if (start >= hw) return proto::NoError();  // batch_id 0: nothing new
  if (static_cast<uint32_t>(c.outstanding_size()) >= options_.max_outstanding_batches) {
    return proto::MakeError(
        proto::BAD_REQUEST,
        "group '" + req.group() + "' has " + std::to_string(c.outstanding_size()) +
            " batches not acknowledged, the most it may have; Ack or Rollback first");
  }

  std::optional<std::regex> filter;
  if (!c.filter().empty()) filter.emplace(c.filter(), std::regex::optimize);
  std::unordered_map<std::string, bool> matches;  // "db.table" -> filter says
  uint64_t at = start, scanned_bytes = 0;
  proto::ChangeRecord rec;
  while (at < hw && static_cast<uint32_t>(out->records_size()) < batch_size &&
         scanned_bytes < options_.max_bytes) {
    auto set = log->Read(Offset(at), batch_size - out->records_size(), options_.default_max_bytes);
    if (!set.ok()) {
      // Retention may have passed `at` since the check above (a group it
      // does not wait for: retention_respects_groups = false).
      if (set.status().code() == Code::kOutOfRange) return OutOfRange(at, log);
      return StorageErr(set.status());
    }
    if (set->records.empty()) break;
    for (const auto& r : set->records) {
      scanned_bytes += r.data.size();
      bool keep = true;
      if (filter) {
        if (!rec.ParseFromArray(r.data.data(), static_cast<int>(r.data.size()))) {
          return proto::MakeError(proto::INTERNAL, "the record at offset " +
                                                       std::to_string(r.offset.value()) +
                                                       " does not parse: the log is damaged");
        }
        std::string name = rec.db() + "." + rec.table();
        auto it = matches.find(name);
        if (it == matches.end()) it = matches.emplace(name, std::regex_match(name, *filter)).first;
        keep = it->second;
      }
      if (keep) {
        proto::LogRecord* lr = out->add_records();
        lr->set_offset(r.offset.value());
        lr->set_record(r.data.data(), r.data.size());
      }
    }
    at = set->next_offset.value();
  }
  proto::OutstandingBatch batch;
  batch.set_batch_id(std::max<uint64_t>(1, c.next_batch_id()));
  batch.set_start_offset(start);
  batch.set_end_offset(at);
  c.set_next_batch_id(batch.batch_id() + 1);
  if (Status st = meta.Issue(req.group(), batch, c); !st.ok()) {
    out->Clear();
    return StorageErr(st);
  }
  out->set_batch_id(batch.batch_id());
  out->set_end_offset(at);
  return proto::NoError();
}

proto::Error ConsumerService::Ack(const proto::AckRequest& req, proto::AckResponse* out) {
  out->Clear();
  Dest* d = nullptr;
  std::unique_lock<std::mutex> lock;
  proto::GroupCursor c;
  if (proto::Error e = LockGroup(req.dest(), req.group(), &d, &lock, &c); e.code() != proto::OK) {
    return e;
  }
  MetaStore& meta = d->log->meta();
  proto::OutstandingBatch batch;
  if (proto::Error e = FindOutstanding(c, req.group(), req.batch_id(), &batch);
      e.code() != proto::OK) {
    return e;
  }
  c.set_acked_offset(batch.end_offset());
  if (Status st = meta.Ack(req.group(), req.batch_id(), c); !st.ok()) return StorageErr(st);
  out->set_acked_offset(c.acked_offset());
  return proto::NoError();
}

proto::Error ConsumerService::Rollback(const proto::RollbackRequest& req,
                                       proto::RollbackResponse* out) {
  out->Clear();
  Dest* d = nullptr;
  std::unique_lock<std::mutex> lock;
  proto::GroupCursor c;
  if (proto::Error e = LockGroup(req.dest(), req.group(), &d, &lock, &c); e.code() != proto::OK) {
    return e;
  }
  MetaStore& meta = d->log->meta();
  uint64_t from = 0;  // every outstanding batch
  if (req.batch_id() != 0) {
    proto::OutstandingBatch batch;
    if (proto::Error e = FindOutstanding(c, req.group(), req.batch_id(), &batch);
        e.code() != proto::OK) {
      return e;
    }
    from = req.batch_id();
  }
  if (Status st = meta.Rollback(req.group(), from, c); !st.ok()) return StorageErr(st);
  out->set_acked_offset(c.acked_offset());
  return proto::NoError();
}

proto::Error ConsumerService::Unsubscribe(const proto::UnsubscribeRequest& req,
                                          proto::UnsubscribeResponse* out) {
  out->Clear();
  proto::Error err;
  Dest* d = FindForGroup(req.dest(), &err);
  if (d == nullptr) return err;
  std::lock_guard<std::mutex> lock(d->group_mu);
  if (proto::Error e = CheckPrimary(); e.code() != proto::OK) return e;
  if (Status st = d->log->meta().DeleteGroup(req.group()); !st.ok()) return StorageErr(st);
  return proto::NoError();
}

proto::Error ConsumerService::GetStatus(const proto::StatusRequest&, proto::StatusResponse* out) {
  out->Clear();
  out->set_node_id(options_.node_id);
  {
    MutexLock lock(&role_mu_);
    out->set_role(std::string(RoleName(role_)));
  }
  {
    ReaderLock lock(&dests_mu_);
    for (const auto& [name, d] : dests_) {
      proto::DestinationStatus* s = out->add_destinations();
      s->set_name(name);
      s->set_first_offset(d->log->FirstOffset().value());
      s->set_high_watermark(d->log->HighWatermark().value());
      proto::SourceCheckpoint cp = d->log->Checkpoint();
      s->set_checkpoint(cp.file() + ":" + std::to_string(cp.pos()));
      s->set_committed_end(d->log->CommittedEnd().value());
      s->set_gtid_set(cp.gtid_set());
      out->set_epoch(std::max<uint64_t>(out->epoch(), d->log->CurrentEpoch().value()));
    }
  }
  return proto::NoError();
}

void ConsumerService::SetRole(Role role, const std::string& primary) {
  {
    MutexLock lock(&role_mu_);
    role_ = role;
    primary_ = primary;
  }
  if (role == Role::kPrimary) return;
  // A barrier: every group request that passed the role check holds its
  // destination's group lock until its write is done.
  ReaderLock lock(&dests_mu_);
  for (const auto& [name, d] : dests_) std::lock_guard<std::mutex> g(d->group_mu);
}

Role ConsumerService::role() const {
  MutexLock lock(&role_mu_);
  return role_;
}

proto::Error ConsumerService::CheckPrimary() const {
  MutexLock lock(&role_mu_);
  if (role_ == Role::kPrimary) return proto::NoError();
  proto::Error err = proto::MakeError(
      proto::NOT_PRIMARY, "this node is a " + std::string(RoleName(role_)) +
                              "; consumer groups are served by the primary" +
                              (primary_.empty() ? " (not known here)" : " at " + primary_));
  err.set_primary(primary_);
  return err;
}

ConsumerService::Dest* ConsumerService::FindForGroup(const std::string& name, proto::Error* err) {
  if (proto::Error e = CheckPrimary(); e.code() != proto::OK) {
    *err = e;
    return nullptr;
  }
  return Find(name, err);
}

}  // namespace sluice::consumer
