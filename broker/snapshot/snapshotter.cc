#include "broker/snapshot/snapshotter.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <optional>
#include <regex>

#include "base/clock.h"
#include "base/thread_name.h"
#include "broker/ingest/block_list.h"
#include "broker/ingest/record_buffer.h"
#include "broker/snapshot/records.h"
#include "broker/snapshot/table_reader.h"

namespace sluice::snapshot {

struct Snapshotter::Pending {
  std::vector<TableName> tables;
  std::string id;
};

Snapshotter::Snapshotter(SnapshotOptions options, CommitLog* log, ingest::SnapshotGate* gate)
    : options_(std::move(options)), log_(log), gate_(gate) {}

Snapshotter::~Snapshotter() { Stop(); }

bool Snapshotter::Included(const std::string& db, const std::string& table) const {
  const std::string name = db + "." + table;
  bool want = options_.include.empty();
  for (const auto& re : options_.include) want = want || std::regex_match(name, std::regex(re));
  for (const auto& re : options_.exclude) want = want && !std::regex_match(name, std::regex(re));
  return want;
}

Status Snapshotter::StartInitial() {
  SLUICE_ASSIGN_OR_RETURN(auto reader, TableReader::Open(options_.source, ""));
  SLUICE_ASSIGN_OR_RETURN(auto all, reader->ListTables());
  constexpr int kAttempts = 20;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    proto::SnapshotJob job;
    job.set_id("initial");
    job.set_created_ms(static_cast<uint64_t>(WallClockMs()));
    std::vector<TableDesc> descs;
    for (const auto& [db, table] : all) {
      if (!Included(db, table)) continue;
      auto d = reader->Describe(db, table);
      proto::SnapshotTable* t = job.add_tables();
      t->set_db(db);
      t->set_table(table);
      if (!d.ok()) {
        if (d.status().code() != Code::kFailedPrecondition) return d.status();
        t->set_state(proto::SnapshotTable::FAILED);
        t->set_error(d.status().message());
        continue;
      }
      t->set_state(proto::SnapshotTable::PENDING);
      for (uint32_t k : d->key) t->add_key_columns(d->columns[k].name);
      descs.push_back(std::move(*d));
    }
    // The definitions must be the ones at P: read them again after P,
    // and start over if a DDL came between (it may be before P in the
    // binlog, where ingest would not see it).
    SLUICE_ASSIGN_OR_RETURN(binlog::BinlogPosition p, reader->SnapshotPosition());
    bool same = true;
    for (const auto& d : descs) {
      auto again = reader->Describe(d.db, d.table);
      same = same && again.ok() && DefinitionKey(again->create_sql) == DefinitionKey(d.create_sql);
    }
    if (!same) continue;
    std::vector<proto::ChangeRecord> head;
    SLUICE_RETURN_IF_ERROR(AppendDatabases(reader.get(), job.id(), descs, p, &head));
    for (const auto& d : descs) {
      AppendTableStart(job.id(), d, p, &head);
      head.push_back(SchemaRecord(job.id(), d, p));
    }
    job.set_done(AllEnded(job));
    ingest::RecordBuffer buf;
    for (const auto& r : head) buf.AppendMessage(r);
    proto::SourceCheckpoint cp;
    cp.set_file(p.file);
    cp.set_pos(p.pos);
    cp.set_gtid_known(false);  // ingest learns the server's GTID state at P
    cp.set_ts(NowSeconds());
    SLUICE_RETURN_IF_ERROR(CommitRecords(log_, buf, job, &cp));
    for (const auto& t : job.tables()) {
      if (t.state() == proto::SnapshotTable::FAILED && options_.on_warning) {
        options_.on_warning("the initial snapshot leaves out " + t.db() + "." + t.table() + ": " +
                            t.error());
      }
    }
    spdlog::info("initial snapshot of {} tables starts at {}", descs.size(), p.ToString());
    Publish(job);
    return Status::Ok();
  }
  return Status::Aborted(
      "the tables' definitions kept changing while the initial snapshot "
      "started; it tries again");
}

Result<std::string> Snapshotter::Request(const std::vector<std::string>& tables) {
  auto p = std::make_shared<Pending>();
  for (const auto& name : tables) {
    size_t dot = name.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == name.size()) {
      return Status::InvalidArgument("table '" + name + "' is not of the form db.table");
    }
    TableName t{name.substr(0, dot), name.substr(dot + 1)};
    if (!Included(t.first, t.second)) {
      return Status::InvalidArgument("table " + name +
                                     " is not captured by this destination (its include / "
                                     "exclude filters)");
    }
    if (std::find(p->tables.begin(), p->tables.end(), t) == p->tables.end()) p->tables.push_back(t);
  }
  if (p->tables.empty()) return Status::InvalidArgument("no table to snapshot");
  MutexLock lock(&mu_);
  p->id = std::to_string(WallClockMs()) + "-" + std::to_string(++next_id_);
  requests_.push_back(p);
  cv_.SignalAll();
  return p->id;
}

// Starts an on-demand job: its start goes into the log through the gate,
// at a place where the definitions read are still the tables'.
Status Snapshotter::StartJob(const std::vector<TableName>& tables, const std::string& id) {
  SLUICE_ASSIGN_OR_RETURN(auto reader,
                          TableReader::Open(options_.source, options_.ingest_server()));
  for (int attempt = 0; !stop_.load(); ++attempt) {
    ingest::SnapshotGate::Watch watch;
    watch.ddl_tables = tables;
    auto armed = gate_->Arm(watch);
    if (!armed.ok()) {
      if (attempt > 50) return armed.status();
      SleepUnlessStopped(std::chrono::milliseconds(200));
      continue;
    }
    proto::SnapshotJob job;
    job.set_id(id);
    job.set_created_ms(static_cast<uint64_t>(WallClockMs()));
    std::vector<TableDesc> descs;
    for (const auto& [db, table] : tables) {
      auto d = reader->Describe(db, table);
      if (!d.ok()) {
        gate_->Disarm();
        return d.status();
      }
      proto::SnapshotTable* t = job.add_tables();
      t->set_db(db);
      t->set_table(table);
      t->set_state(proto::SnapshotTable::PENDING);
      for (uint32_t k : d->key) t->add_key_columns(d->columns[k].name);
      descs.push_back(std::move(*d));
    }
    SLUICE_ASSIGN_OR_RETURN(binlog::BinlogPosition p, reader->SnapshotPosition());
    if (ingest::ComparePositions(p, armed->handled) < 0) {
      gate_->Disarm();  // ingest read past the snapshot's position already: again
      SleepUnlessStopped(std::chrono::milliseconds(20));
      continue;
    }
    std::vector<proto::ChangeRecord> head;
    Status dbs = AppendDatabases(reader.get(), id, descs, p, &head);
    if (!dbs.ok()) {
      gate_->Disarm();
      return dbs;
    }
    for (const auto& d : descs) {
      AppendTableStart(id, d, p, &head);
      head.push_back(SchemaRecord(id, d, p));
    }
    ingest::RecordBuffer buf;
    for (const auto& r : head) buf.AppendMessage(r);
    const std::string server = reader->server();
    Status st = gate_->CommitWhenCaughtUp(
        *armed, p,
        [&](const ingest::TouchedKeys&) -> Status {
          if (options_.ingest_server() != server) return Status::Aborted("the source moved");
          return CommitRecords(log_, buf, job, nullptr);
        },
        &stop_);
    if (st.code() == Code::kAborted) continue;
    SLUICE_RETURN_IF_ERROR(st);
    spdlog::info("snapshot {} of {} tables starts at {}", id, tables.size(), p.ToString());
    Publish(job);
    return Status::Ok();
  }
  return Status::Unavailable("stopping");
}

void Snapshotter::Start() {
  if (thread_.joinable()) return;
  stop_.store(false);
  thread_ = std::thread([this] {
    SetThreadName("sl-snapshot");
    Loop();
  });
}

void Snapshotter::Stop() {
  stop_.store(true);
  {
    MutexLock lock(&mu_);
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
  MutexLock lock(&mu_);
  for (auto& p : requests_) {
    JobProgress j;
    j.id = p->id;
    j.done = true;
    j.error = "the node stopped ingesting before the snapshot started";
    refused_.push_back(std::move(j));
  }
  requests_.clear();
}

bool Snapshotter::SleepUnlessStopped(std::chrono::milliseconds d) {
  const auto deadline = std::chrono::steady_clock::now() + d;
  MutexLock lock(&mu_);
  while (!stop_.load() && cv_.WaitUntil(&mu_, deadline)) {
  }
  return !stop_.load();
}

void Snapshotter::Publish(const proto::SnapshotJob& job) {
  MutexLock lock(&mu_);
  running_ = job;
}

void Snapshotter::ServeRequests() {
  for (;;) {
    std::shared_ptr<Pending> p;
    {
      MutexLock lock(&mu_);
      if (requests_.empty()) return;
      p = requests_.front();
      requests_.erase(requests_.begin());
    }
    Status st = StartJob(p->tables, p->id);
    if (st.ok() || stop_.load()) continue;
    spdlog::warn("snapshot {} refused: {}", p->id, st.ToString());
    if (options_.on_warning) options_.on_warning("snapshot " + p->id + " refused: " + st.message());
    MutexLock lock(&mu_);
    JobProgress j;
    j.id = p->id;
    j.done = true;
    j.error = st.message();
    refused_.push_back(std::move(j));
    constexpr size_t kKeepRefused = 16;
    if (refused_.size() > kKeepRefused) refused_.erase(refused_.begin());
  }
}

void Snapshotter::Loop() {
  std::string logged;
  auto delay = std::chrono::milliseconds(500);
  while (!stop_.load()) {
    ServeRequests();
    auto entries = log_->ReadIngestState(kJobPrefix);
    std::optional<proto::SnapshotJob> next;
    if (entries.ok()) {
      for (const auto& [key, value] : *entries) {
        proto::SnapshotJob job;
        if (!job.ParseFromString(value) || job.done()) continue;
        if (!next || job.created_ms() < next->created_ms()) next = std::move(job);
      }
    }
    if (!next) {
      MutexLock lock(&mu_);
      if (requests_.empty() && !stop_.load()) cv_.WaitFor(&mu_, std::chrono::seconds(1));
      continue;
    }
    Status st = RunJob(&*next);
    if (stop_.load()) break;
    if (st.ok()) {
      delay = std::chrono::milliseconds(500);
      logged.clear();
      continue;
    }
    if (st.ToString() != logged) {
      spdlog::warn("snapshot {}: {}; trying again in {} ms", next->id(), st.ToString(),
                   delay.count());
      if (options_.on_warning) options_.on_warning("snapshot " + next->id() + ": " + st.ToString());
      logged = st.ToString();
    }
    SleepUnlessStopped(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(30000));
  }
}

Status Snapshotter::RunJob(proto::SnapshotJob* job) {
  Publish(*job);
  // Said once per run: after a restart or on a new primary, where the
  // copy goes on from (the last chunk the log holds).
  for (const auto& t : job->tables()) {
    if (t.state() == proto::SnapshotTable::COPYING) {
      spdlog::info("snapshot {}: {}.{} continues after key {} ({} rows in the log, {} chunks)",
                   job->id(), t.db(), t.table(), t.last_key_text(), t.rows(), t.chunks());
    }
  }
  for (int i = 0; i < job->tables_size() && !stop_.load(); ++i) {
    const auto state = job->tables(i).state();
    if (state == proto::SnapshotTable::DONE || state == proto::SnapshotTable::FAILED) continue;
    SLUICE_RETURN_IF_ERROR(CopyTable(job, i));
  }
  if (stop_.load()) return Status::Ok();
  if (!job->done()) {
    // Every table ended before this run (failed at the start): say so in the log.
    job->set_done(true);
    SLUICE_RETURN_IF_ERROR(CommitRecords(log_, ingest::RecordBuffer(), *job, nullptr));
  }
  spdlog::info("snapshot {} done", job->id());
  Publish(*job);
  return Status::Ok();
}

// A chunk read and on its way into the log.
struct Snapshotter::ChunkInFlight {
  Chunk chunk;
  ChunkRows rows;
  ingest::BlockList packed;  // rows, packed and compressed
  std::string scratch;       // the compressor's
  bool new_shape = false;    // a schema record goes first
  proto::SnapshotJob next;   // the job once it is in (set by CommitChunk)
};

// Packs a chunk and writes it through the gate, in the window `armed`
// opened (kept open for the chunks after it). `job` is the job as the log
// holds it before this chunk.
Status Snapshotter::CommitChunk(const ingest::SnapshotGate::Armed& armed, const TableDesc& desc,
                                int index, const proto::SnapshotJob& job, const std::string& server,
                                uint64_t started, ChunkInFlight* c) {
  constexpr size_t kKeepBytes = 64 << 20;
  const bool compress = log_->options().compression != Compression::kNone;
  c->packed.Clear(kKeepBytes);
  if (c->rows.records.count() > 0) {
    c->packed.Pack(c->rows.records, 0, c->rows.records.count(), compress, &c->scratch);
  }
  const TableName name{desc.db, desc.table};
  return gate_->CommitWhenCaughtUp(
      armed, c->chunk.position,
      [&](const ingest::TouchedKeys& touched) -> Status {
        if (options_.ingest_server() != server) return Status::Aborted("the source moved");
        c->next = job;
        proto::SnapshotTable* nt = c->next.mutable_tables(index);
        const ChunkRows& rows = c->rows;
        std::vector<bool> keep(rows.keys.size(), true);
        uint64_t kept = rows.keys.size();
        if (touched.size() > 0) {
          for (size_t i = 0; i < rows.keys.size(); ++i) {
            if (touched.Contains(rows.keys[i])) keep[i] = false, --kept;
          }
        }
        if (nt->state() == proto::SnapshotTable::PENDING) {
          nt->set_state(proto::SnapshotTable::COPYING);
          nt->set_started_ms(started);
        }
        nt->set_rows(nt->rows() + kept);
        nt->set_dropped(nt->dropped() + (rows.keys.size() - kept));
        nt->set_chunks(nt->chunks() + 1);
        if (!c->chunk.bounds.empty()) {
          proto::SnapshotKey k;
          for (const auto& b : c->chunk.bounds) k.add_values(b);
          nt->set_last_key(k.SerializeAsString());
          nt->set_last_key_text(c->chunk.last_key_text);
        }
        ingest::RecordBuffer head, tail;
        if (c->new_shape) head.AppendMessage(SchemaRecord(job.id(), desc, c->chunk.position));
        if (c->chunk.last) {
          nt->set_state(proto::SnapshotTable::DONE);
          nt->set_done_ms(static_cast<uint64_t>(WallClockMs()));
          tail.AppendMessage(
              Mark(job.id(), name, proto::SnapshotMark::END, nt->rows(), c->chunk.position));
        }
        c->next.set_done(AllEnded(c->next));
        // The transaction: [schema] rows [END], as views of two lists.
        ingest::BlockList ends;
        if (!head.empty()) ends.Pack(head, 0, head.count(), compress, &c->scratch);
        const size_t head_blocks = ends.size();
        if (kept != rows.keys.size()) {
          ingest::RecordBuffer kept_rows;
          for (size_t i = 0; i < rows.keys.size(); ++i) {
            if (!keep[i]) continue;
            kept_rows.Append(rows.records.record(i));
            kept_rows.EndRecord();
          }
          c->packed.Clear(kKeepBytes);
          if (!kept_rows.empty()) {
            c->packed.Pack(kept_rows, 0, kept_rows.count(), compress, &c->scratch);
          }
        }
        if (!tail.empty()) ends.Pack(tail, 0, tail.count(), compress, &c->scratch);
        std::vector<std::string_view> views, part;
        ends.Views(head_blocks, &views);
        c->packed.Views(c->packed.size(), &part);
        views.insert(views.end(), part.begin(), part.end());
        ends.Views(ends.size(), &part);
        views.insert(views.end(), part.begin() + static_cast<std::ptrdiff_t>(head_blocks),
                     part.end());
        return CommitViews(log_, views, c->next);
      },
      &stop_, /*keep_window=*/true);
}

// Copies a table chunk by chunk. Two chunks are in play at a time: while
// one is packed and written (another thread), the next is read. Both are
// in one window of the gate, opened before the first of them was read and
// kept open for up to kChunksPerWindow chunks (then it is closed, which
// bounds the keys it notes). Any failure of a window (a DDL, an XA COMMIT,
// an ingest restart) drops the chunk read ahead too: the copy goes on from
// the last chunk in the log, in a new window.
Status Snapshotter::CopyTable(proto::SnapshotJob* job, int index) {
  constexpr int kChunksPerWindow = 16;
  const TableName name{job->tables(index).db(), job->tables(index).table()};
  SLUICE_ASSIGN_OR_RETURN(auto reader,
                          TableReader::Open(options_.source, options_.ingest_server()));
  auto desc = reader->Describe(name.first, name.second);
  bool new_shape = false;
  const uint64_t started = static_cast<uint64_t>(WallClockMs());
  ChunkInFlight slots[2];
  int cur = 0;
  std::future<Status> inflight;  // the commit of slots[cur ^ 1]
  std::optional<ingest::SnapshotGate::Armed> armed;
  int in_window = 0;
  // Where the reader is: after the last chunk read (ahead of the log by
  // the one in flight).
  std::vector<std::string> after;
  uint64_t chunk_no = 0;
  auto from_log = [&] {
    const proto::SnapshotTable& t = job->tables(index);
    proto::SnapshotKey last;
    after.clear();
    if (!t.last_key().empty() && last.ParseFromString(t.last_key())) {
      after.assign(last.values().begin(), last.values().end());
    }
    chunk_no = t.chunks();
  };
  from_log();
  // Waits for the chunk in flight: Ok (it is in the log), Aborted (its
  // window failed: start over from the log), or an error.
  auto land = [&]() -> Status {
    if (!inflight.valid()) return Status::Ok();
    Status st = inflight.get();
    if (st.ok()) {
      *job = slots[cur ^ 1].next;
      Publish(*job);
      return st;
    }
    gate_->Disarm();
    armed.reset();
    if (st.code() == Code::kAborted) {
      // A DDL, an XA COMMIT or a restart in the window: read again from the
      // log's last chunk, on the table's shape of now.
      job->mutable_tables(index)->set_retries(job->tables(index).retries() + 1);
      auto again = reader->Describe(name.first, name.second);
      if (again.ok() && desc.ok() &&
          DefinitionKey(again->create_sql) != DefinitionKey(desc->create_sql)) {
        new_shape = true;
      }
      desc = std::move(again);
      from_log();
    }
    return st;
  };
  struct Landing {  // the chunk in flight lands before CopyTable returns
    std::future<Status>* f;
    ~Landing() {
      if (f->valid()) f->wait();
    }
  } landing{&inflight};

  while (!stop_.load()) {
    if (!desc.ok() && desc.status().code() != Code::kNotFound) return desc.status();
    if (!desc.ok()) {
      Status st = land();
      if (!st.ok() && st.code() != Code::kAborted) return st;
      // Dropped since the job started: the DROP is in the log; the table ends here.
      proto::SnapshotJob next = *job;
      proto::SnapshotTable* nt = next.mutable_tables(index);
      nt->set_state(proto::SnapshotTable::DONE);
      nt->set_error("the table was dropped during the snapshot");
      nt->set_done_ms(static_cast<uint64_t>(WallClockMs()));
      next.set_done(AllEnded(next));
      ingest::RecordBuffer buf;
      buf.AppendMessage(Mark(job->id(), name, proto::SnapshotMark::END, nt->rows(), {}));
      SLUICE_RETURN_IF_ERROR(CommitRecords(log_, buf, next, nullptr));
      *job = next;
      Publish(*job);
      return Status::Ok();
    }
    if (!armed || in_window >= kChunksPerWindow) {
      Status st = land();
      if (st.code() == Code::kAborted) continue;
      SLUICE_RETURN_IF_ERROR(st);
      if (job->tables(index).state() == proto::SnapshotTable::DONE) return Status::Ok();
      gate_->Disarm();
      armed.reset();
      // Between windows (a request's start takes the gate's window).
      ServeRequests();
      if (reader->server() != options_.ingest_server() && !options_.ingest_server().empty()) {
        SLUICE_ASSIGN_OR_RETURN(reader,
                                TableReader::Open(options_.source, options_.ingest_server()));
      }
      ingest::SnapshotGate::Watch watch;
      watch.db = name.first;
      watch.table = name.second;
      watch.key_columns = desc->key;
      watch.ddl_tables = {name};
      auto a = gate_->Arm(watch);
      if (!a.ok()) {
        SleepUnlessStopped(std::chrono::milliseconds(200));
        continue;
      }
      armed = *a;
      in_window = 0;
    }
    ChunkInFlight& c = slots[cur];
    proto::SnapshotMark stamp;
    stamp.set_id(job->id());
    stamp.set_chunk(chunk_no);
    auto chunk =
        reader->ReadChunk(*desc, after, options_.chunk_rows, stamp.SerializeAsString(), &c.rows);
    if (!chunk.ok()) {
      Status st = land();
      if (st.code() != Code::kAborted) SLUICE_RETURN_IF_ERROR(st);
      gate_->Disarm();
      armed.reset();
      // The definition changed (between chunks, or 1412 inside one): the
      // chunk is read again on the new shape, behind a new schema record.
      if (chunk.status().code() == Code::kAborted ||
          chunk.status().message().find("1412") != std::string::npos ||
          chunk.status().message().find("definition has changed") != std::string::npos) {
        job->mutable_tables(index)->set_retries(job->tables(index).retries() + 1);
        desc = reader->Describe(name.first, name.second);
        new_shape = true;
        from_log();
        continue;
      }
      return chunk.status();
    }
    if (options_.chunk_hook) options_.chunk_hook(name.first + "." + name.second, chunk_no);
    if (ingest::ComparePositions(chunk->position, armed->handled) < 0) {
      // Ingest had read past the chunk's position when the window opened.
      Status st = land();
      if (st.code() != Code::kAborted) SLUICE_RETURN_IF_ERROR(st);
      gate_->Disarm();
      armed.reset();
      job->mutable_tables(index)->set_retries(job->tables(index).retries() + 1);
      from_log();
      SleepUnlessStopped(std::chrono::milliseconds(20));
      continue;
    }
    c.chunk = std::move(*chunk);
    // The chunk before this one must be in the log before this one goes.
    Status st = land();
    if (st.code() == Code::kAborted) continue;  // this chunk goes too
    SLUICE_RETURN_IF_ERROR(st);
    c.new_shape = new_shape;
    new_shape = false;
    after = c.chunk.bounds.empty() ? after : c.chunk.bounds;
    ++chunk_no;
    ++in_window;
    const bool last = c.chunk.last;
    inflight = std::async(std::launch::async, [this, a = *armed, d = *desc, index, base = *job,
                                               server = reader->server(), started, &c] {
      SetThreadName("sl-snap-commit");
      return CommitChunk(a, d, index, base, server, started, &c);
    });
    cur ^= 1;
    if (last) {
      st = land();
      if (st.code() == Code::kAborted) continue;
      SLUICE_RETURN_IF_ERROR(st);
      gate_->Disarm();
      return Status::Ok();
    }
  }
  Status st = land();
  gate_->Disarm();
  return stop_.load() ? Status::Ok() : st;
}

std::vector<JobProgress> Snapshotter::progress() const {
  std::vector<proto::SnapshotJob> jobs;
  auto entries = log_->ReadIngestState(kJobPrefix);
  if (entries.ok()) {
    for (const auto& [key, value] : *entries) {
      proto::SnapshotJob job;
      if (job.ParseFromString(value)) jobs.push_back(std::move(job));
    }
  }
  std::vector<JobProgress> refused;
  {
    MutexLock lock(&mu_);
    for (auto& j : jobs) {
      if (j.id() == running_.id() && !j.done()) j = running_;
    }
    refused = refused_;
  }
  std::sort(jobs.begin(), jobs.end(),
            [](const auto& a, const auto& b) { return a.created_ms() < b.created_ms(); });
  std::vector<JobProgress> out;
  const uint64_t now = static_cast<uint64_t>(WallClockMs());
  for (const auto& j : jobs) {
    JobProgress p;
    p.id = j.id();
    p.done = j.done();
    for (const auto& t : j.tables()) {
      TableProgress tp;
      tp.db = t.db();
      tp.table = t.table();
      tp.state = StateName(t.state());
      tp.rows = t.rows();
      tp.dropped = t.dropped();
      tp.chunks = t.chunks();
      tp.retries = t.retries();
      tp.last_key = t.last_key_text();
      tp.error = t.error();
      const uint64_t end = t.done_ms() != 0 ? t.done_ms() : now;
      if (t.started_ms() != 0 && end > t.started_ms()) {
        tp.rows_per_second = static_cast<double>(t.rows() + t.dropped()) * 1000.0 /
                             static_cast<double>(end - t.started_ms());
      }
      p.tables.push_back(std::move(tp));
    }
    out.push_back(std::move(p));
  }
  for (auto& r : refused) out.push_back(std::move(r));
  return out;
}

}  // namespace sluice::snapshot
