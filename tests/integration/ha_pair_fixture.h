// The fixture of the pair tests (ha_pair_test.cc, kafka_failover_test.cc):
// a primary/standby pair as processes: MariaDB -> sluiced "a" (primary) ->
// replication -> sluiced "b" (standby), each with its own data dir, ports
// on 127.0.0.1 and the same HA secret; `sluice` and scripts/failover.sh as
// an operator runs them. Logs are compared offline after SIGTERM.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>

#include "client/consumer.h"
#include "tests/integration/sluiced_harness.h"
#include "tests/support/child_process.h"
#include "tests/support/free_port.h"
#include "tests/support/http_get.h"
#include "tests/support/wait_for.h"

namespace sluice::sluiced_test {

using testing::FreePort;
using testing::RunShell;
using testing::WaitFor;

inline std::string Addr(int port) { return "127.0.0.1:" + std::to_string(port); }

struct PairOptions {
  std::string mode = "async";
  std::string on_sync_timeout = "degrade";
  uint32_t sync_timeout_ms = 2000;
  std::string storage;  // [storage] keys (retention_*), as they are
  bool kafka = false;   // a [kafka] listener on each node (SASL/PLAIN as "reader")
};

// One node of the pair: its ports, config and process.
struct NodeProc {
  std::string id;
  int server_port = 0, admin_port = 0, ha_port = 0, kafka_port = 0;
  std::string data_dir;
  std::unique_ptr<Sluiced> proc;

  std::string consumer() const { return Addr(server_port); }
  std::string ha() const { return Addr(ha_port); }
  std::string kafka() const { return Addr(kafka_port); }
  std::string Metrics() const { return testing::HttpGetBody(admin_port, "/metrics"); }
  // A sample of /metrics for destination shop; -1 when not there.
  double Metric(const std::string& name) const {
    auto v = Sample(Metrics(), name + "{dest=\"shop\"}");
    return v ? *v : -1;
  }
  double Plain(const std::string& name) const {
    auto v = Sample(Metrics(), name);
    return v ? *v : -1;
  }
};

// WaitFor's limit and pace here: /metrics is scraped every 20 ms.
constexpr std::chrono::seconds kWait(60);
constexpr std::chrono::milliseconds kPoll(20);

class HaPairTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = MariaDb::Start();
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(db_->Execute("CREATE DATABASE shop; USE shop; CREATE TABLE t (id INT PRIMARY "
                             "KEY, v VARCHAR(40), n INT)")
                    .ok());
    secret_ = dir_.Sub("ha.secret");
    std::ofstream(secret_) << "pair-secret\n";
    ::chmod(secret_.c_str(), 0600);
    std::ofstream(dir_.Sub("reader.password")) << "readerpw\n";
    ::chmod(dir_.Sub("reader.password").c_str(), 0600);
    a_.id = "a";
    b_.id = "b";
  }
  void TearDown() override {
    for (NodeProc* n : {&a_, &b_}) {
      if (n->proc && n->proc->running()) n->proc->Terminate();
    }
  }

  // Writes node `n`'s config (role applies at first start) and starts it.
  void StartNode(NodeProc* n, const std::string& role, const std::string& primary_ha,
                 const PairOptions& o) {
    if (n->server_port == 0) {
      n->server_port = FreePort();
      n->admin_port = FreePort();
      n->ha_port = FreePort();
      n->kafka_port = FreePort();
      n->data_dir = dir_.Sub("data-" + n->id);
    }
    const std::string path = dir_.Sub(n->id + ".toml");
    std::ofstream out(path, std::ios::trunc);
    out << "[node]\nid = \"" << n->id << "\"\ndata_dir = \"" << n->data_dir << "\"\nrole = \""
        << role << "\"\n\n[server]\nlisten = \"" << n->consumer() << "\"\n\n[[user]]\n"
        << "name = \"reader\"\npassword_file = \"" << dir_.Sub("reader.password") << "\"\n\n"
        << "[admin]\nlisten = \"" << Addr(n->admin_port) << "\"\n\n[ha]\nlisten = \"" << n->ha()
        << "\"\n"
        << (primary_ha.empty() ? "" : "primary = \"" + primary_ha + "\"\n") << "mode = \"" << o.mode
        << "\"\nsync_timeout_ms = " << o.sync_timeout_ms << "\non_sync_timeout = \""
        << o.on_sync_timeout << "\"\nheartbeat_ms = 200\nsecret_file = \"" << secret_ << "\"\n\n"
        << (o.storage.empty() ? "" : "[storage]\n" + o.storage + "\n")
        << (o.kafka ? "[kafka]\nlisten = \"" + n->kafka() + "\"\n\n" : "")
        << "[[destination]]\nname = \"shop\"\nsource = \"" << db_->ReplUrl() << "\"\n"
        << "server_id = " << (n->id == "a" ? 7101 : 7102) << "\ninclude = ['" << kInclude
        << "']\nchunk_records = 2000\n";
    out.close();
    n->proc = std::make_unique<Sluiced>(path, dir_.Sub(n->id + ".log"));
    n->proc->Start();
    ASSERT_TRUE(WaitFor([&] { return n->Plain("sluice_node_epoch") >= 0; },
                        std::chrono::seconds(30), kPoll))
        << n->proc->LogTail();
  }

  // Inserts one transaction of `rows` rows from id `*next` on.
  void InsertTxn(int rows, int* next) {
    const int lo = *next, hi = *next + rows - 1;
    EXPECT_TRUE(db_->Execute("INSERT INTO shop.t SELECT seq, CONCAT('v', seq), seq % 97 FROM seq_" +
                             std::to_string(lo) + "_to_" + std::to_string(hi))
                    .ok());
    *next = hi + 1;
  }
  // `txns` such transactions.
  void Load(int txns, int rows, int* next) {
    for (int i = 0; i < txns; ++i) InsertTxn(rows, next);
  }

  // A primary "a" and its standby "b".
  void StartPair(const PairOptions& o) {
    StartNode(&a_, "primary", "", o);
    StartNode(&b_, "standby", a_.ha(), o);
  }
  // Stops both (each must exit 0 on SIGTERM) and checks the standby's log
  // equals the primary's; returns the primary's.
  LogImage StopAndCompare(NodeProc* primary, NodeProc* standby) {
    EXPECT_TRUE(primary->proc->Terminate());
    EXPECT_TRUE(standby->proc->Terminate());
    LogImage p = LogOf(*primary);
    ExpectSameLog(LogOf(*standby), p);
    return p;
  }

  // Both nodes stopped: their logs, read offline.
  LogImage LogOf(const NodeProc& n) {
    auto img = ReadLog(DestPath(n.data_dir), 0, n.id);
    EXPECT_TRUE(img.ok()) << img.status().ToString();
    return img.ok() ? std::move(*img) : LogImage{};
  }

  SourceEnd End() {
    auto end = ServerEnd(db_.get());
    EXPECT_TRUE(end.ok()) << end.status().ToString();
    return end.ok() ? *end : SourceEnd{};
  }

  std::string Sluice() const { return SLUICE_BIN; }

  testing::TempDir dir_;
  std::unique_ptr<MariaDb> db_;
  std::string secret_;
  NodeProc a_, b_;
};

// Waits until the primary has ingested everything the server wrote (quiet)
// and the standby's log ends where the primary's does.
inline void WaitReplicated(NodeProc* primary, NodeProc* standby, MariaDb* db) {
  WaitQuiet(db, primary->proc.get(), Clock::now() + std::chrono::seconds(120));
  ASSERT_TRUE(WaitFor(
      [&] {
        const double end = primary->Metric("sluice_log_committed_end");
        return end > 0 && standby->Metric("sluice_log_committed_end") == end &&
               primary->Metric("sluice_log_high_watermark") == end;
      },
      kWait, kPoll))
      << primary->Metrics() << "\n"
      << standby->proc->LogTail();
}

}  // namespace sluice::sluiced_test
