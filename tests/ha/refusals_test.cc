// RefusalLog: counts by reason, at most one line per reason per minute,
// and the lines it held back are counted in the next one.
#include "ha/refusals.h"

#include <gtest/gtest.h>

namespace sluice::ha {
namespace {

using Clock = RefusalLog::Clock;
using std::chrono::seconds;

TEST(RefusalLogTest, OneLinePerReasonPerMinuteWithTheCountHeldBack) {
  RefusalLog log;
  const Clock::time_point t0 = Clock::now();
  const std::string first = log.Note(Refusal::kBadProof, "peer 1.2.3.4:5", "no", t0);
  EXPECT_NE(first.find("refused peer 1.2.3.4:5 (bad_proof): no"), std::string::npos) << first;
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(log.Note(Refusal::kBadProof, "peer 1.2.3.4:5", "no", t0 + seconds(i)), "");
  }
  // Another reason has its own minute.
  EXPECT_NE(log.Note(Refusal::kFrameTooLarge, "standby x", "big", t0 + seconds(1)), "");
  EXPECT_TRUE(log.Flush(t0 + seconds(59)).empty());
  const std::string next = log.Note(Refusal::kBadProof, "standby y", "no", t0 + seconds(61));
  EXPECT_NE(next.find("5 more bad_proof refusal(s)"), std::string::npos) << next;

  // Held-back refusals with no later one are told by Flush a minute on.
  EXPECT_EQ(log.Note(Refusal::kBadProof, "standby z", "no", t0 + seconds(62)), "");
  EXPECT_TRUE(log.Flush(t0 + seconds(100)).empty());
  const auto lines = log.Flush(t0 + seconds(122));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("1 more bad_proof refusal(s)"), std::string::npos) << lines[0];
  EXPECT_TRUE(log.Flush(t0 + seconds(200)).empty());

  EXPECT_EQ(log.count(Refusal::kBadProof), 8u);
  EXPECT_EQ(log.count(Refusal::kFrameTooLarge), 1u);
  EXPECT_EQ(log.count(Refusal::kHandshakeTimeout), 0u);
  EXPECT_EQ(log.total(), 9u);
  const auto counts = log.Counts();
  ASSERT_EQ(counts.size(), kRefusalKinds);  // zeros too: every reason is a metric sample
  EXPECT_EQ(counts[static_cast<size_t>(Refusal::kBadProof)],
            (std::pair<std::string, uint64_t>{"bad_proof", 8}));
}

}  // namespace
}  // namespace sluice::ha
