#include "storage/meta_store.h"

#include <memory>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "base/coding.h"
#include "storage/log_db.h"
#include "storage/rocks_status.h"

namespace sluice {
namespace {

std::string GroupPrefix(std::string_view group) {
  std::string k = "g";
  coding::PutLengthPrefixed(&k, group);
  return k;
}

std::string CursorKey(std::string_view group) { return GroupPrefix(group) + "c"; }

// Keeps the outstanding batches of `c` for which `keep` holds.
template <typename Keep>
void FilterOutstanding(proto::GroupCursor* c, Keep&& keep) {
  auto* batches = c->mutable_outstanding();
  int kept = 0;
  for (int i = 0; i < batches->size(); ++i) {
    if (keep(batches->Get(i))) batches->SwapElements(kept++, i);
  }
  while (batches->size() > kept) batches->RemoveLast();
}

template <typename Message>
Result<Message> Parse(std::string_view bytes, std::string_view what) {
  Message m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::Corruption("metadata " + std::string(what) + " does not parse");
  }
  return m;
}

// Calls fn(key, value) for every key with `prefix`, in key order.
template <typename Fn>
Status ScanPrefix(const LogDb& log_db, const std::string& prefix, Fn&& fn) {
  SLUICE_ASSIGN_OR_RETURN(auto db, log_db.Use());
  std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator(rocksdb::ReadOptions(), db.meta()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    SLUICE_RETURN_IF_ERROR(fn(std::string_view(it->key().data(), it->key().size()),
                              std::string_view(it->value().data(), it->value().size())));
  }
  return FromRocks(it->status(), "scan metadata");
}

}  // namespace

std::string MetaStore::EpochKey(Epoch e) {
  return std::string(kEpochPrefix) + coding::BigEndian64(e.value());
}

Status MetaStore::Write(rocksdb::DB* db, rocksdb::WriteBatch* batch) {
  rocksdb::WriteOptions wo;
  wo.sync = sync_;
  Status st = FromRocks(db->Write(wo, batch), "write metadata");
  version_.fetch_add(1, std::memory_order_acq_rel);
  return st;
}

Result<std::optional<std::string>> MetaStore::Get(std::string_view key) const {
  SLUICE_ASSIGN_OR_RETURN(auto db, db_->Use());
  std::string value;
  rocksdb::Status s = db.db()->Get(rocksdb::ReadOptions(), db.meta(),
                                   rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "read metadata");
  return std::optional<std::string>(std::move(value));
}

Result<std::optional<proto::GroupCursor>> MetaStore::GetCursor(std::string_view group) const {
  SLUICE_ASSIGN_OR_RETURN(auto v, Get(CursorKey(group)));
  if (!v) return std::optional<proto::GroupCursor>();
  SLUICE_ASSIGN_OR_RETURN(auto c, Parse<proto::GroupCursor>(*v, "group cursor"));
  return std::optional<proto::GroupCursor>(std::move(c));
}

Status MetaStore::PutCursor(std::string_view group, const proto::GroupCursor& cursor) {
  SLUICE_ASSIGN_OR_RETURN(auto db, db_->Use());
  rocksdb::WriteBatch b;
  b.Put(db.meta(), CursorKey(group), cursor.SerializeAsString());
  return Write(db.db(), &b);
}

Result<std::vector<std::pair<std::string, proto::GroupCursor>>> MetaStore::ListGroups() const {
  std::vector<std::pair<std::string, proto::GroupCursor>> out;
  Status st = ScanPrefix(*db_, "g", [&](std::string_view key, std::string_view value) {
    std::string_view rest = key.substr(1);
    std::string_view name;
    if (!coding::GetLengthPrefixed(&rest, &name)) return Status::Corruption("malformed group key");
    if (rest != "c") return Status::Ok();
    auto c = Parse<proto::GroupCursor>(value, "group cursor");
    if (!c.ok()) return c.status();
    out.emplace_back(std::string(name), std::move(c).value());
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Status MetaStore::DeleteGroup(std::string_view group) {
  SLUICE_ASSIGN_OR_RETURN(auto db, db_->Use());
  rocksdb::WriteBatch b;
  b.Delete(db.meta(), CursorKey(group));
  return Write(db.db(), &b);
}

Status MetaStore::PutOutstanding(std::string_view group, const proto::OutstandingBatch& batch) {
  SLUICE_ASSIGN_OR_RETURN(auto c, GetCursor(group));
  if (!c) return Status::NotFound("no group " + std::string(group));
  *c->add_outstanding() = batch;
  return PutCursor(group, *c);
}

Status MetaStore::Ack(std::string_view group, uint64_t upto_batch_id,
                      const proto::GroupCursor& cursor) {
  proto::GroupCursor c = cursor;
  FilterOutstanding(&c,
                    [&](const proto::OutstandingBatch& b) { return b.batch_id() > upto_batch_id; });
  return PutCursor(group, c);
}

Status MetaStore::Issue(std::string_view group, const proto::OutstandingBatch& batch,
                        const proto::GroupCursor& cursor) {
  proto::GroupCursor c = cursor;
  *c.add_outstanding() = batch;
  return PutCursor(group, c);
}

Status MetaStore::Rollback(std::string_view group, uint64_t from_batch_id,
                           const proto::GroupCursor& cursor) {
  proto::GroupCursor c = cursor;
  FilterOutstanding(&c,
                    [&](const proto::OutstandingBatch& b) { return b.batch_id() < from_batch_id; });
  return PutCursor(group, c);
}

Result<std::vector<proto::OutstandingBatch>> MetaStore::Outstanding(std::string_view group) const {
  SLUICE_ASSIGN_OR_RETURN(auto c, GetCursor(group));
  if (!c) return std::vector<proto::OutstandingBatch>();
  return std::vector<proto::OutstandingBatch>(c->outstanding().begin(), c->outstanding().end());
}

Result<std::optional<Offset>> MetaStore::MinAckedOffset() const {
  SLUICE_ASSIGN_OR_RETURN(auto groups, ListGroups());
  std::optional<Offset> min;
  for (const auto& [name, cursor] : groups) {
    Offset o(cursor.acked_offset());
    if (!min || o < *min) min = o;
  }
  return min;
}

Status MetaStore::ReplaceGroups(
    const std::vector<std::pair<std::string, proto::GroupCursor>>& groups) {
  SLUICE_ASSIGN_OR_RETURN(auto have, ListGroups());
  SLUICE_ASSIGN_OR_RETURN(auto db, db_->Use());
  rocksdb::WriteBatch b;
  for (const auto& [name, cursor] : have) b.Delete(db.meta(), CursorKey(name));
  // A Put after a Delete of the same key in one batch wins.
  for (const auto& [name, cursor] : groups)
    b.Put(db.meta(), CursorKey(name), cursor.SerializeAsString());
  return Write(db.db(), &b);
}

Result<std::optional<Offset>> MetaStore::Released() const {
  SLUICE_ASSIGN_OR_RETURN(auto v, Get(kReleasedKey));
  if (!v) return std::optional<Offset>();
  if (v->size() != 8) return Status::Corruption("metadata 'released' is not 8 bytes");
  return std::optional<Offset>(Offset(coding::DecodeBigEndian64(v->data())));
}

Result<std::vector<proto::EpochEntry>> MetaStore::Epochs() const {
  std::vector<proto::EpochEntry> out;
  Status st =
      ScanPrefix(*db_, std::string(kEpochPrefix), [&](std::string_view, std::string_view v) {
        auto e = Parse<proto::EpochEntry>(v, "epoch entry");
        if (!e.ok()) return e.status();
        out.push_back(std::move(e).value());
        return Status::Ok();
      });
  if (!st.ok()) return st;
  return out;
}

Status MetaStore::PutStandby(std::string_view node_id, const proto::StandbyMark& mark) {
  SLUICE_ASSIGN_OR_RETURN(auto db, db_->Use());
  rocksdb::WriteBatch b;
  b.Put(db.meta(), std::string(kStandbyPrefix) + std::string(node_id), mark.SerializeAsString());
  return Write(db.db(), &b);
}

Status MetaStore::DeleteStandby(std::string_view node_id) {
  SLUICE_ASSIGN_OR_RETURN(auto db, db_->Use());
  rocksdb::WriteBatch b;
  b.Delete(db.meta(), std::string(kStandbyPrefix) + std::string(node_id));
  return Write(db.db(), &b);
}

Result<std::vector<std::pair<std::string, proto::StandbyMark>>> MetaStore::ListStandbys() const {
  std::vector<std::pair<std::string, proto::StandbyMark>> out;
  Status st = ScanPrefix(
      *db_, std::string(kStandbyPrefix),
      [&](std::string_view key, std::string_view value) -> Status {
        proto::StandbyMark m;
        if (!m.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          return Status::Corruption("standby mark " + std::string(key) + " does not parse");
        }
        out.emplace_back(std::string(key.substr(kStandbyPrefix.size())), m);
        return Status::Ok();
      });
  if (!st.ok()) return st;
  return out;
}

Result<std::optional<proto::NodeIdentity>> MetaStore::Node() const {
  SLUICE_ASSIGN_OR_RETURN(auto v, Get(kNodeKey));
  if (!v) return std::optional<proto::NodeIdentity>();
  SLUICE_ASSIGN_OR_RETURN(auto n, Parse<proto::NodeIdentity>(*v, "node identity"));
  return std::optional<proto::NodeIdentity>(std::move(n));
}

Status MetaStore::PutNode(const proto::NodeIdentity& node) {
  SLUICE_ASSIGN_OR_RETURN(auto db, db_->Use());
  rocksdb::WriteBatch b;
  b.Put(db.meta(), kNodeKey, node.SerializeAsString());
  return Write(db.db(), &b);
}

Result<std::vector<std::pair<std::string, std::string>>> MetaStore::ListIngestState(
    std::string_view prefix) const {
  std::vector<std::pair<std::string, std::string>> out;
  Status st =
      ScanPrefix(*db_, IngestKey(prefix), [&](std::string_view key, std::string_view value) {
        out.emplace_back(std::string(key.substr(kIngestPrefix.size())), std::string(value));
        return Status::Ok();
      });
  if (!st.ok()) return st;
  return out;
}

Status MetaStore::ReplaceIngestState(
    const std::vector<std::pair<std::string, std::string>>& entries) {
  SLUICE_ASSIGN_OR_RETURN(auto old, ListIngestState(""));
  SLUICE_ASSIGN_OR_RETURN(auto db, db_->Use());
  rocksdb::WriteBatch b;
  for (const auto& [key, value] : old) b.Delete(db.meta(), IngestKey(key));
  for (const auto& [key, value] : entries) b.Put(db.meta(), IngestKey(key), value);
  return Write(db.db(), &b);
}

Result<std::optional<proto::LogState>> MetaStore::State() const {
  SLUICE_ASSIGN_OR_RETURN(auto v, Get(kStateKey));
  if (!v) return std::optional<proto::LogState>();
  SLUICE_ASSIGN_OR_RETURN(auto s, Parse<proto::LogState>(*v, "log state"));
  return std::optional<proto::LogState>(std::move(s));
}

}  // namespace sluice
