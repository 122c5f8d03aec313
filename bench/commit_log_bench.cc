// commit_log_bench: appends N change records of ~200 bytes to a CommitLog in
// transactions of 1, 10 and 1000 records, reads them all back, and measures
// in the same run the raw RocksDB rate for writing the same bytes with plain
// WriteBatch puts (one key per record, one WriteBatch per transaction, same
// compression and write options): the ceiling on this machine.
//
//   commit_log_bench [--records N] [--dir DIR] [--keep DIR]
//
// Last, the batch checksum alone: CRC32c GB/s over a buffer in cache and one
// far larger than cache, against memcpy of the same buffer (the machine's
// copy rate), since every batch is checksummed once by us and once by the WAL.
//
// --keep DIR leaves the 10-record-transaction log in DIR (quickstart shows it
// with `sluice log dump`).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include "base/coding.h"
#include "base/crc32c.h"
#include "proto/record.pb.h"
#include "storage/commit_log.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// A realistic order-row update: 3 columns before and after, ~200 bytes;
// record i is number i % txn_size of its transaction.
std::string MakeRecord(uint64_t i, size_t txn_size, std::mt19937_64& rng) {
  sluice::proto::ChangeRecord r;
  r.set_format_version(sluice::proto::RECORD_FORMAT_V1);
  r.set_op(sluice::proto::OP_UPDATE);
  r.set_db("shop");
  r.set_table("orders");
  r.add_pk("id");
  for (auto* image : {r.mutable_before(), r.mutable_after()}) {
    auto add = [&](uint32_t idx, const char* name, uint32_t type) {
      auto* c = image->Add();
      c->set_index(idx);
      c->set_name(name);
      c->set_mysql_type(type);
      return c->mutable_value();
    };
    add(0, "id", 8)->set_int64(static_cast<int64_t>(i));
    add(1, "status", 15)->set_text(rng() % 2 ? "paid" : "shipped");
    add(2, "total", 246)
        ->set_decimal(std::to_string(rng() % 100000) + "." + std::to_string(10 + rng() % 90));
  }
  r.set_ts(1764000000 + i / 100);
  r.mutable_pos()->set_file("binlog.000001");
  r.mutable_pos()->set_pos(4 + i * 210);
  r.set_gtid("0-1-" + std::to_string(i / txn_size + 1));
  r.mutable_txn()->set_seq(static_cast<uint32_t>(i % txn_size));
  r.mutable_txn()->set_last(i % txn_size == txn_size - 1);
  return r.SerializeAsString();
}

struct Rates {
  double append_rps = 0, append_mbps = 0, read_rps = 0, read_mbps = 0;
};

Rates RunLog(const std::string& dir, const std::vector<std::string>& pool, size_t records,
             size_t txn_size, uint64_t* total_bytes) {
  sluice::CommitLogOptions o;
  o.path = dir;
  o.node_id = "bench";
  o.destination = "shop";
  auto opened = sluice::CommitLog::Open(o);
  if (!opened.ok()) {
    std::fprintf(stderr, "%s\n", opened.status().ToString().c_str());
    std::exit(1);
  }
  auto& log = **opened;
  std::vector<std::string_view> txn;
  uint64_t bytes = 0;
  auto start = Clock::now();
  for (size_t i = 0; i < records;) {
    txn.clear();
    for (size_t k = 0; k < txn_size && i < records; ++k, ++i) {
      txn.push_back(pool[i % pool.size()]);
      bytes += txn.back().size();
    }
    sluice::proto::SourceCheckpoint cp;
    cp.set_file("binlog.000001");
    cp.set_pos(i);
    auto r = log.CommitTransaction(txn, cp);
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
      std::exit(1);
    }
  }
  if (!log.Sync().ok()) std::exit(1);
  Rates rates;
  double t = Seconds(start);
  rates.append_rps = records / t;
  rates.append_mbps = bytes / t / 1e6;

  start = Clock::now();
  sluice::Offset next(0);
  uint64_t read = 0, read_bytes = 0;
  while (next < log.HighWatermark()) {
    auto set = log.Read(next, 10000, 16 << 20);
    if (!set.ok()) {
      std::fprintf(stderr, "%s\n", set.status().ToString().c_str());
      std::exit(1);
    }
    for (const auto& rec : set->records) read_bytes += rec.data.size();
    read += set->records.size();
    next = set->next_offset;
  }
  t = Seconds(start);
  if (read != records || read_bytes != bytes) {
    std::fprintf(stderr, "read back %llu records, wrote %zu\n", (unsigned long long)read, records);
    std::exit(1);
  }
  rates.read_rps = read / t;
  rates.read_mbps = read_bytes / t / 1e6;
  *total_bytes = bytes;
  return rates;
}

// The ceiling: the same bytes as plain puts, one key per record.
Rates RunRaw(const std::string& dir, const std::vector<std::string>& pool, size_t records,
             size_t txn_size) {
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.max_background_jobs = 2;
  opts.bytes_per_sync = 1 << 20;
  opts.compression = rocksdb::kLZ4Compression;
  opts.write_buffer_size = 64 << 20;
  opts.max_write_buffer_number = 4;
  opts.level0_slowdown_writes_trigger = 40;
  opts.level0_stop_writes_trigger = 60;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::Open(opts, dir, &raw).ok()) std::exit(1);
  std::unique_ptr<rocksdb::DB> db(raw);
  uint64_t bytes = 0;
  auto start = Clock::now();
  rocksdb::WriteBatch wb;
  for (size_t i = 0; i < records;) {
    wb.Clear();
    for (size_t k = 0; k < txn_size && i < records; ++k, ++i) {
      const std::string& v = pool[i % pool.size()];
      wb.Put(sluice::coding::BigEndian64(i), v);
      bytes += v.size();
    }
    if (!db->Write(rocksdb::WriteOptions(), &wb).ok()) std::exit(1);
  }
  if (!db->SyncWAL().ok()) std::exit(1);
  Rates rates;
  double t = Seconds(start);
  rates.append_rps = records / t;
  rates.append_mbps = bytes / t / 1e6;

  start = Clock::now();
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  uint64_t n = 0, read_bytes = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    read_bytes += it->value().size();
    ++n;
  }
  t = Seconds(start);
  rates.read_rps = n / t;
  rates.read_mbps = read_bytes / t / 1e6;
  it.reset();
  (void)db->Close();
  return rates;
}

// GB/s of CRC32c and of memcpy over `size` bytes, each over ~4 GiB in all.
void ChecksumRates(size_t size) {
  std::vector<char> src(size), dst(size);
  std::mt19937_64 rng(7);
  for (char& c : src) c = static_cast<char>(rng());
  const size_t rounds = std::max<size_t>(1, (size_t{4} << 30) / size);
  uint32_t crc = 0;
  auto start = Clock::now();
  for (size_t i = 0; i < rounds; ++i) crc = sluice::crc32c::Extend(crc, src.data(), size);
  double crc_s = Seconds(start);
  start = Clock::now();
  for (size_t i = 0; i < rounds; ++i) {
    std::memcpy(dst.data(), src.data(), size);
    asm volatile("" : : "r"(dst.data()) : "memory");  // keep every copy
  }
  double copy_s = Seconds(start);
  double gb = static_cast<double>(rounds) * size / 1e9;
  char label[32];
  if (size >= (1u << 20))
    std::snprintf(label, sizeof label, "%zu MiB", size >> 20);
  else
    std::snprintf(label, sizeof label, "%zu KiB", size >> 10);
  std::printf("%-9s | %6.1f GB/s | %6.1f GB/s | %4.0f%% (crc %08x)\n", label, gb / crc_s,
              gb / copy_s, 100.0 * copy_s / crc_s, crc);
}

}  // namespace

int main(int argc, char** argv) {
  size_t records = 2'000'000;
  std::string base = std::filesystem::temp_directory_path() / "sluice-bench";
  std::string keep;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--records")
      records = std::stoull(argv[i + 1]);
    else if (a == "--dir")
      base = argv[i + 1];
    else if (a == "--keep")
      keep = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: %s [--records N] [--dir DIR] [--keep DIR]\n", argv[0]);
      return 2;
    }
  }
  // A pool of distinct records, cycled: 64,000 is a multiple of every
  // transaction size, so each record's txn fields stay true.
  constexpr uint64_t kPool = 64000;
  auto make_pool = [](size_t txn_size) {
    std::mt19937_64 rng(42);
    std::vector<std::string> pool;
    for (uint64_t i = 0; i < kPool; ++i) pool.push_back(MakeRecord(i, txn_size, rng));
    return pool;
  };
  uint64_t pool_bytes = 0;
  for (const auto& r : make_pool(10)) pool_bytes += r.size();
  std::printf(
      "commit_log_bench: %zu records, %.0f bytes per record on average, LZ4, group commit\n\n",
      records, static_cast<double>(pool_bytes) / kPool);
  std::printf("%-8s | %-26s | %-26s | %-5s | %-26s | %-15s\n", "txn size",
              "sluice append rec/s (MB/s)", "raw RocksDB put rec/s", "ratio",
              "sluice read rec/s (MB/s)", "raw iterate rec/s");
  std::printf(
      "---------+----------------------------+----------------------------+-------+"
      "----------------------------+----------------\n");
  for (size_t txn : {1, 10, 1000}) {
    const std::vector<std::string> pool = make_pool(txn);
    std::filesystem::remove_all(base);
    std::filesystem::create_directories(base);
    uint64_t bytes = 0;
    Rates ours = RunLog(base + "/log", pool, records, txn, &bytes);
    Rates raw = RunRaw(base + "/raw", pool, records, txn);
    char a[64], b[64], c[64];
    std::snprintf(a, sizeof a, "%10.0f (%6.1f)", ours.append_rps, ours.append_mbps);
    std::snprintf(b, sizeof b, "%10.0f (%6.1f)", raw.append_rps, raw.append_mbps);
    std::snprintf(c, sizeof c, "%10.0f (%6.1f)", ours.read_rps, ours.read_mbps);
    std::printf("%-8zu | %-26s | %-26s | %4.0f%% | %-26s | %10.0f\n", txn, a, b,
                100.0 * ours.append_rps / raw.append_rps, c, raw.read_rps);
    std::fflush(stdout);
    if (txn == 10 && !keep.empty()) {
      std::filesystem::remove_all(keep);
      std::filesystem::rename(base + "/log", keep);
    }
  }
  std::filesystem::remove_all(base);

  std::printf("\n%-9s | %-11s | %-11s | ratio\n", "buffer", "CRC32c", "memcpy");
  std::printf("----------+-------------+-------------+------\n");
  ChecksumRates(256 << 10);
  ChecksumRates(256 << 20);
  return 0;
}
