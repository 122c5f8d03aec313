#include "broker/ingest/snapshot_gate.h"

#include <charconv>

#include "base/coding.h"

namespace sluice::ingest {
namespace {

// The numeric suffix of a binlog file name ("mysql-bin.000012" -> 12);
// 0 when it has none.
uint64_t FileNumber(std::string_view file) {
  size_t dot = file.rfind('.');
  if (dot == std::string_view::npos) return 0;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(file.data() + dot + 1, file.data() + file.size(), n);
  return ec == std::errc() && end == file.data() + file.size() ? n : 0;
}

}  // namespace

int ComparePositions(const BinlogPosition& a, const BinlogPosition& b) {
  if (a.file != b.file) {
    const uint64_t fa = FileNumber(a.file), fb = FileNumber(b.file);
    if (fa != fb) return fa < fb ? -1 : 1;
    return a.file < b.file ? -1 : 1;
  }
  if (a.pos == b.pos) return 0;
  return a.pos < b.pos ? -1 : 1;
}

void AppendKeyValue(const proto::Value& v, std::string* key) {
  const std::string bytes = v.SerializeAsString();
  char len[4];
  coding::EncodeFixed32(len, static_cast<uint32_t>(bytes.size()));
  key->append(len, 4);
  *key += bytes;
}

std::optional<std::string> KeyOf(const google::protobuf::RepeatedPtrField<proto::Column>& image,
                                 const std::vector<uint32_t>& key_columns) {
  std::string key;
  for (uint32_t k : key_columns) {
    // Images hold every column in order (binlog_row_image = FULL), so the
    // column is usually at its ordinal.
    const proto::Column* c = nullptr;
    if (k < static_cast<uint32_t>(image.size()) && image[static_cast<int>(k)].index() == k) {
      c = &image[static_cast<int>(k)];
    } else {
      for (const auto& col : image) {
        if (col.index() == k) c = &col;
      }
    }
    if (c == nullptr) return std::nullopt;
    AppendKeyValue(c->value(), &key);
  }
  return key;
}

void TouchedKeys::Note(const proto::ChangeRecord& r, const std::vector<uint32_t>& key_columns) {
  for (const auto* image : {&r.before(), &r.after()}) {
    if (image->empty()) continue;
    if (auto key = KeyOf(*image, key_columns)) keys_.insert(std::move(*key));
  }
}

Result<SnapshotGate::Armed> SnapshotGate::Arm(Watch watch) {
  MutexLock lock(&mu_);
  if (!running_) return Status::Unavailable("ingest is not running");
  watch_ = std::move(watch);
  touched_.Clear();
  spoiled_.clear();
  armed_ = true;
  return Armed{generation_, handled_};
}

void SnapshotGate::Disarm() {
  MutexLock lock(&mu_);
  armed_ = false;
  touched_.Clear();
  spoiled_.clear();
}

Status SnapshotGate::CommitWhenCaughtUp(const Armed& armed, const BinlogPosition& p,
                                        const std::function<Status(const TouchedKeys&)>& write,
                                        const std::atomic<bool>* stop, bool keep_window) {
  MutexLock lock(&mu_);
  for (;;) {
    if (stop->load(std::memory_order_acquire)) return Status::Unavailable("stopping");
    if (!armed_ || generation_ != armed.generation || !running_) {
      return Status::Aborted("ingest restarted while the chunk was read");
    }
    if (!spoiled_.empty()) return Status::Aborted(spoiled_);
    if (!txn_open_ && !handled_.file.empty() && ComparePositions(handled_, p) >= 0) break;
    // A slot ends at least every heartbeat period (5 s) while the source
    // is idle; the timeout only bounds how late a stop is seen.
    cv_.WaitFor(&mu_, std::chrono::milliseconds(200));
  }
  Status st = write(touched_);
  if (!keep_window || !st.ok()) {
    armed_ = false;
    touched_.Clear();
  }
  return st;
}

void SnapshotGate::Started(const BinlogPosition& checkpoint) {
  MutexLock lock(&mu_);
  running_ = true;
  handled_ = checkpoint;
  txn_open_ = false;
  cv_.SignalAll();
}

void SnapshotGate::Stopped() {
  MutexLock lock(&mu_);
  running_ = false;
  ++generation_;
  touched_.Clear();
  cv_.SignalAll();
}

void SnapshotGate::EndSlot(const BinlogPosition* handled, bool txn_open) {
  if (handled != nullptr && !handled->file.empty()) {
    if (handled_.file != handled->file) handled_.file = handled->file;
    handled_.pos = handled->pos;
  }
  txn_open_ = txn_open;
  const bool wake = armed_;
  mu_.unlock();
  if (wake) cv_.SignalAll();
}

bool SnapshotGate::Watches(std::string_view db, std::string_view table) const {
  return armed_ && spoiled_.empty() && db == watch_.db && table == watch_.table;
}

void SnapshotGate::NoteRow(std::string_view record) {
  if (!scratch_.ParseFromArray(record.data(), static_cast<int>(record.size()))) {
    spoiled_ = "a row change of " + watch_.db + "." + watch_.table + " did not parse";
    return;
  }
  touched_.Note(scratch_, watch_.key_columns);
}

void SnapshotGate::NoteDdl(std::string_view db, std::string_view table) {
  if (!armed_ || !spoiled_.empty()) return;
  for (const auto& [d, t] : watch_.ddl_tables) {
    // A statement whose table the decoder could not tell counts for
    // every table of its database.
    if ((db.empty() || db == d) && (table.empty() || table == t)) {
      spoiled_ = "a DDL statement on ";
      spoiled_ += d;
      spoiled_ += '.';
      spoiled_ += t;
      return;
    }
  }
}

void SnapshotGate::NoteXaCommit() {
  if (armed_ && spoiled_.empty()) spoiled_ = "an XA COMMIT";
}

size_t SnapshotGate::touched() const {
  MutexLock lock(&mu_);
  return touched_.size();
}

}  // namespace sluice::ingest
