// decode_bench: records a binlog from a throwaway MariaDB (inserts, updates
// with before and after images, deletes on a 10-column table mixing BIGINT,
// INT, ENUM, DECIMAL, DOUBLE, VARCHAR, DATETIME(6), TIMESTAMP(3), TEXT and
// BIT), then decodes it single-threaded to change records and prints rows/s
// and MB/s; in the same run it times `mariadb-binlog --base64-output=
// decode-rows -vv FILE > /dev/null` on the same files (the peer). Four
// sluice rows: records as messages, messages serialized by protobuf, Plan +
// EncodeAction (bytes written directly), and the ingest workers' whole path
// (that, then the records packed into LZ4 log blocks).
//
//   decode_bench [--rows N] [--keep DIR] [--files F...]
//     --rows N    N row inserts; about 2N row changes in all (default 150000)
//     --keep DIR  copy the recorded binlog files to DIR
//     --files     decode these binlog files instead of recording new ones
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/workload.h"
#include "broker/binlog/decoder.h"
#include "broker/binlog/file_source.h"
#include "broker/ingest/block_list.h"
#include "broker/ingest/record_buffer.h"
#include "tests/support/mariadb_fixture.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace sluice;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

void Check(const Status& st, const char* what) {
  if (!st.ok()) {
    std::fprintf(stderr, "decode_bench: %s: %s\n", what, st.ToString().c_str());
    std::exit(1);
  }
}

// Counts records; serializes each, as the ingest sink will, when asked.
class CountingSink : public binlog::DecoderSink {
 public:
  explicit CountingSink(bool serialize) : serialize_(serialize) {}
  Status OnRow(proto::ChangeRecord* r) override { return Count(r); }
  Status OnDdl(proto::ChangeRecord* r) override { return Count(r); }
  Status OnTxnEnd(const binlog::TxnEnd&) override { return Status::Ok(); }
  void OnWarning(const std::string& m) override {
    std::fprintf(stderr, "warning: %s\n", m.c_str());
  }
  uint64_t records = 0, bytes = 0;

 private:
  Status Count(proto::ChangeRecord* r) {
    ++records;
    if (serialize_) {
      buf_.clear();
      r->AppendToString(&buf_);
      bytes += buf_.size();
    }
    return Status::Ok();
  }
  bool serialize_;
  std::string buf_;
};

struct Run {
  double seconds;
  uint64_t records;
  uint64_t raw_bytes = 0, block_bytes = 0;  // kPack: records framed, and their blocks
};

// How DecodeOnce treats each event.
enum class Mode {
  kDecode,     // Decoder::Decode to ChangeRecord messages
  kSerialize,  // and each message serialized by protobuf
  kEncode,     // Plan, then EncodeAction
  kPack,       // and the records packed into LZ4 log blocks: the ingest workers' path
};

Run DecodeOnce(const std::vector<std::string>& files, Mode mode) {
  binlog::FileSourceOptions so;
  so.files = files;
  auto source = binlog::FileSource::Open(so);
  Check(source.status(), "open binlog files");
  binlog::Decoder decoder({});
  CountingSink sink(mode == Mode::kSerialize);
  binlog::EventPlan plan;
  binlog::RowEncoder encoder;
  ingest::RecordBuffer encoded;  // a ring slot's buffer, as in the workers
  ingest::BlockList blocks;      // and its blocks
  std::string scratch;           // a worker's LZ4 output
  uint64_t encoded_records = 0, packed_records = 0, raw_bytes = 0, block_bytes = 0;
  auto start = Clock::now();
  for (;;) {
    binlog::RawEvent ev;
    Status st = (*source)->Next(&ev);
    if (st.code() == Code::kNotFound) break;
    Check(st, "read");
    if (mode == Mode::kDecode || mode == Mode::kSerialize) {
      Check(decoder.Decode(ev, &sink), "decode");
      continue;
    }
    Check(decoder.Plan(ev, &plan), "plan");
    encoded.Clear();
    blocks.Clear();
    for (size_t i = 0; i < plan.size; ++i) {
      const binlog::EventPlan::Action& a = plan.actions[i];
      const size_t before = encoded.count();
      if (a.kind == binlog::EventPlan::Action::kRows) {
        Check(binlog::EncodeAction(a, plan.file, true, &encoder, &encoded), "encode");
      } else if (a.kind == binlog::EventPlan::Action::kDdl &&
                 !encoded.AppendMessage(plan.ddls[a.ddl])) {
        Check(Status::Internal("a DDL record does not serialize"), "encode");
      }
      if (mode == Mode::kPack && encoded.count() > before) {
        blocks.Pack(encoded, before, encoded.count() - before, true, &scratch);
      }
    }
    encoded_records += encoded.count();
    packed_records += blocks.records();
    raw_bytes += encoded.bytes();
    block_bytes += blocks.bytes();
  }
  if (mode == Mode::kPack && packed_records != encoded_records) {
    Check(Status::Internal("blocks hold " + std::to_string(packed_records) + " of " +
                           std::to_string(encoded_records) + " records"),
          "pack");
  }
  const bool decoded = mode == Mode::kDecode || mode == Mode::kSerialize;
  return {Seconds(start), decoded ? sink.records : encoded_records, raw_bytes, block_bytes};
}

double TimeMariadbBinlog(const std::vector<std::string>& files) {
  auto start = Clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    std::vector<std::string> args = {"mariadb-binlog", "--base64-output=decode-rows", "-vv"};
    args.insert(args.end(), files.begin(), files.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    setenv("TZ", "UTC", 1);
    execvp("mariadb-binlog", argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "decode_bench: mariadb-binlog failed (status %d)\n", status);
    std::exit(1);
  }
  return Seconds(start);
}

std::vector<std::string> RecordWorkload(int rows, std::unique_ptr<testing::MariaDb>* server);
int Measure(const std::vector<std::string>& files);

}  // namespace

int main(int argc, char** argv) {
  int rows = 150000;
  std::string keep;
  std::vector<std::string> given;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--rows") == 0 && i + 1 < argc) {
      rows = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--keep") == 0 && i + 1 < argc) {
      keep = argv[++i];
    } else if (std::strcmp(argv[i], "--files") == 0) {
      while (i + 1 < argc) given.push_back(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: decode_bench [--rows N] [--keep DIR] [--files F...]\n");
      return 2;
    }
  }
  std::unique_ptr<testing::MariaDb> server;
  std::vector<std::string> files = given.empty() ? RecordWorkload(rows, &server) : given;
  if (!keep.empty()) {
    std::filesystem::create_directories(keep);
    for (const auto& f : files)
      std::filesystem::copy_file(f, keep + "/" + std::filesystem::path(f).filename().string(),
                                 std::filesystem::copy_options::overwrite_existing);
  }
  return Measure(files);
}

namespace {

std::vector<std::string> RecordWorkload(int rows, std::unique_ptr<testing::MariaDb>* server) {
  std::printf("starting MariaDB and writing the workload (%d inserts, %d updates, %d deletes)...\n",
              rows, rows * 2 / 3, rows / 3);
  auto db = testing::MariaDb::Start();
  Check(db.status(), "start MariaDB");
  *server = std::move(*db);
  auto& m = **server;
  Check(bench::WriteWorkload(m, rows), "workload");
  Check(m.Execute("FLUSH BINARY LOGS"), "flush");
  auto files = m.BinlogFiles();
  Check(files.status(), "binlog files");
  files->pop_back();  // the new, empty one
  return *files;
}

int Measure(const std::vector<std::string>& files) {
  uint64_t bytes = 0;
  for (const auto& f : files) bytes += std::filesystem::file_size(f);

  DecodeOnce(files, Mode::kDecode);  // warm the page cache
  Run best{1e9, 0}, best_ser{1e9, 0}, best_enc{1e9, 0}, best_pack{1e9, 0};
  for (int i = 0; i < 3; ++i) {
    Run r = DecodeOnce(files, Mode::kDecode);
    if (r.seconds < best.seconds) best = r;
    Run s = DecodeOnce(files, Mode::kSerialize);
    if (s.seconds < best_ser.seconds) best_ser = s;
    Run e = DecodeOnce(files, Mode::kEncode);
    if (e.seconds < best_enc.seconds) best_enc = e;
    Run p = DecodeOnce(files, Mode::kPack);
    if (p.seconds < best_pack.seconds) best_pack = p;
  }
  if (best_enc.records != best.records) {
    std::fprintf(stderr, "decode_bench: EncodeAction gave %llu records, Decode %llu\n",
                 static_cast<unsigned long long>(best_enc.records),
                 static_cast<unsigned long long>(best.records));
    return 1;
  }
  double peer = 1e9;
  for (int i = 0; i < 2; ++i) peer = std::min(peer, TimeMariadbBinlog(files));

  double mb = bytes / 1e6;
  std::printf("\nbinlog: %.1f MB, %llu row changes (+DDL), one core\n\n", mb,
              static_cast<unsigned long long>(best.records));
  std::printf("| decoder | seconds | rows/s | MB/s | vs mariadb-binlog |\n");
  std::printf("|---|---|---|---|---|\n");
  auto line = [&](const char* name, double s) {
    std::printf("| %s | %.3f | %.2fM | %.0f | %.1fx |\n", name, s, best.records / s / 1e6, mb / s,
                peer / s);
  };
  line("sluice decode to records", best.seconds);
  line("sluice decode + serialize", best_ser.seconds);
  line("sluice plan + EncodeAction", best_enc.seconds);
  line("sluice plan + EncodeAction + LZ4 blocks (ingest workers)", best_pack.seconds);
  line("mariadb-binlog -vv > /dev/null", peer);
  std::printf("\nrecords %.1f MB (with their 4-byte lengths), in LZ4 blocks %.1f MB (%.0f%%)\n",
              best_pack.raw_bytes / 1e6, best_pack.block_bytes / 1e6,
              100.0 * best_pack.block_bytes / std::max<uint64_t>(1, best_pack.raw_bytes));
  return 0;
}

}  // namespace
