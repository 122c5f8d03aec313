// A Kafka consumer group on a pair's Kafka listeners across a failover
// (issue 20), on the pair of ha_pair_fixture.h.
#include "tests/integration/ha_pair_fixture.h"

namespace sluice::sluiced_test {
namespace {

// Issue 20: a Kafka consumer group (confluent-kafka or kafka-python, both
// nodes in its bootstrap list) reads a sync pair's destination while it is loaded; the
// primary is SIGKILLed and failover.sh promotes the standby; the group
// finds the new primary (the standby named it in Metadata and
// FindCoordinator, then became it), rejoins and continues from its last
// commit, which replicated as a group cursor. In the end it has read
// every record of the new primary's log, and what it read twice is at
// most the unacknowledged batches around the failover.
class KafkaFailoverTest : public HaPairTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(KafkaFailoverTest, AGroupContinuesOnTheNewPrimary) {
  PairOptions o;
  o.mode = "sync";
  o.on_sync_timeout = "degrade";  // the new primary goes on alone
  o.kafka = true;
  StartPair(o);
  int next = 1;
  Load(20, 100, &next);
  const std::string out = dir_.Sub("member.out"), err = dir_.Sub("member.err");
  auto member = testing::ChildProcess::Start(
      {"/usr/bin/python3", KAFKA_SCRIPTS "/group_consumer.py", "--lib", GetParam(), "--bootstrap",
       a_.kafka() + "," + b_.kafka(), "--group", "g", "--user", "reader", "--password", "readerpw",
       "--batch", "100"},
      {.stdout_path = out, .stderr_path = err});
  ASSERT_TRUE(member.ok()) << member.status().ToString();
  auto lines = [&] {
    std::vector<std::string> v;
    std::istringstream in(FileText(out));
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
  };
  auto last_commit = [&] {
    int64_t c = -1;
    for (const auto& l : lines()) {
      if (l.rfind("C ", 0) == 0) c = std::stoll(l.substr(2));
    }
    return c;
  };
  WaitReplicated(&a_, &b_, db_.get());
  const auto hw = [](NodeProc* n) {
    return static_cast<int64_t>(n->Metric("sluice_log_high_watermark"));
  };
  ASSERT_TRUE(WaitFor([&] { return last_commit() == hw(&a_); }, kWait, kPoll)) << FileText(err);

  // A load goes on while the primary dies and the standby takes over.
  std::thread loader([&] { Load(30, 100, &next); });
  SleepMs(200);
  const pid_t old_pid = a_.proc->pid();
  ::kill(old_pid, SIGKILL);
  const size_t seen_before = lines().size();
  auto [rc, fo] = RunShell("SLUICE_BIN=" + Sluice() + " " + SLUICE_FAILOVER + " --secret-file " +
                           secret_ + " --old " + a_.consumer() + " --candidate " + b_.consumer() +
                           " --old-pid " + std::to_string(old_pid));
  a_.proc->Kill();
  loader.join();
  ASSERT_EQ(rc, 0) << fo << "\n" << b_.proc->LogTail();
  // And more once the new primary is in charge: only it can serve these.
  WaitQuiet(db_.get(), b_.proc.get(), Clock::now() + std::chrono::seconds(120));
  const int64_t promoted_end = hw(&b_);
  Load(10, 100, &next);
  WaitQuiet(db_.get(), b_.proc.get(), Clock::now() + std::chrono::seconds(120));
  // Its high watermark moves once its sync wait for the dead standby has
  // degraded (sync_timeout_ms).
  ASSERT_TRUE(WaitFor([&] { return hw(&b_) >= promoted_end + 1000; }, kWait, kPoll))
      << b_.Metrics();
  ASSERT_TRUE(WaitFor([&] { return hw(&b_) > 0 && last_commit() == hw(&b_); }, kWait, kPoll))
      << "the group did not reach the new primary's end " << hw(&b_) << ": last commit "
      << last_commit() << "\n"
      << FileText(err).substr(0, 4000) << "\n"
      << b_.proc->LogTail();
  // Every offset of the new primary's log was read; count the repeats.
  const int64_t end = hw(&b_);
  std::vector<int> reads(static_cast<size_t>(end), 0);
  for (const auto& l : lines()) {
    if (l.rfind("R ", 0) != 0) continue;
    const int64_t off = std::stoll(l.substr(2));
    ASSERT_LT(off, end);
    ++reads[static_cast<size_t>(off)];
  }
  size_t twice = 0;
  for (int64_t off = 0; off < end; ++off) {
    ASSERT_GE(reads[static_cast<size_t>(off)], 1) << "offset " << off << " never read";
    twice += static_cast<size_t>(reads[static_cast<size_t>(off)] - 1);
  }
  std::printf(
      "kafka group across the failover: %lld records (%lld written after it), %zu read twice, "
      "%zu lines of the member's before it\n",
      static_cast<long long>(end), static_cast<long long>(end - promoted_end), twice, seen_before);
  // The new primary's Kafka listener served them, and says so.
  EXPECT_GE(b_.Plain("sluice_kafka_records_sent_total"), static_cast<double>(end - promoted_end));
  EXPECT_GE(b_.Plain("sluice_kafka_connections"), 1);
  // Commits every 100 records; a cursor reaches the standby within 10 ms
  // of its commit (docs/replication.md): a few batches at most.
  EXPECT_LE(twice, 5u * 100);
  member->Kill();
}

INSTANTIATE_TEST_SUITE_P(Clients, KafkaFailoverTest, ::testing::Values("confluent", "kafka-python"),
                         [](const auto& info) {
                           return std::string(info.param) == "confluent" ? "ConfluentKafka"
                                                                         : "KafkaPython";
                         });

}  // namespace
}  // namespace sluice::sluiced_test
