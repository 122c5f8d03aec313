// Divergence points of epoch histories (KIP-101's rule), by hand-worked cases.
#include "ha/epochs.h"

#include <gtest/gtest.h>

#include <vector>

namespace sluice::ha {
namespace {

std::vector<proto::EpochEntry> H(std::initializer_list<std::pair<uint64_t, uint64_t>> entries) {
  std::vector<proto::EpochEntry> out;
  for (auto [epoch, start] : entries) {
    proto::EpochEntry e;
    e.set_epoch(epoch);
    e.set_start_offset(start);
    out.push_back(e);
  }
  return out;
}

TEST(Epochs, EpochAtTakesTheLastEntryStartingAtOrBelow) {
  auto h = H({{1, 0}, {2, 100}, {4, 100}, {5, 250}});
  EXPECT_EQ(EpochAt(h, Offset(0)), Epoch(1));
  EXPECT_EQ(EpochAt(h, Offset(99)), Epoch(1));
  EXPECT_EQ(EpochAt(h, Offset(100)), Epoch(4));  // epoch 2 began and ended at 100, empty
  EXPECT_EQ(EpochAt(h, Offset(249)), Epoch(4));
  EXPECT_EQ(EpochAt(h, Offset(1000)), Epoch(5));
  EXPECT_EQ(EpochAt({}, Offset(7)), Epoch(0));
  EXPECT_EQ(LastEpoch(h), Epoch(5));
}

TEST(Epochs, SameHistoryAgreesUpToTheShorterEnd) {
  auto h = H({{1, 0}, {2, 50}});
  EXPECT_EQ(DivergencePoint(h, Offset(80), h, Offset(120)), Offset(80));
  EXPECT_EQ(DivergencePoint(h, Offset(120), h, Offset(80)), Offset(80));
}

TEST(Epochs, AnOldPrimaryDivergesWhereTheNewEpochBegan) {
  // The standby was primary in epoch 1 up to 150; the new primary began
  // epoch 2 at 100: [100, 150) of the old one is not the new one's.
  auto old_primary = H({{1, 0}});
  auto new_primary = H({{1, 0}, {2, 100}});
  EXPECT_EQ(DivergencePoint(old_primary, Offset(150), new_primary, Offset(300)), Offset(100));
  // It had not written past 100: nothing to take back.
  EXPECT_EQ(DivergencePoint(old_primary, Offset(90), new_primary, Offset(300)), Offset(90));
}

TEST(Epochs, SeveralFailoversLater) {
  // a: 1@0, 2@40, 3@90 (end 120). b: 1@0, 2@40, 4@70 (end 200): b took
  // over at 70 from a node that had epoch 2 up to there.
  auto a = H({{1, 0}, {2, 40}, {3, 90}});
  auto b = H({{1, 0}, {2, 40}, {4, 70}});
  EXPECT_EQ(DivergencePoint(a, Offset(120), b, Offset(200)), Offset(70));
  EXPECT_EQ(DivergencePoint(b, Offset(200), a, Offset(120)), Offset(70));
}

TEST(Epochs, NoHistoryIsEpochZero) {
  // A log from before epochs were recorded and one that began at epoch 1.
  EXPECT_EQ(DivergencePoint({}, Offset(10), H({{1, 0}}), Offset(20)), Offset(0));
  EXPECT_EQ(DivergencePoint({}, Offset(10), {}, Offset(20)), Offset(10));
  EXPECT_EQ(DivergencePoint(H({{1, 0}}), Offset(0), H({{1, 0}}), Offset(20)), Offset(0));
}

}  // namespace
}  // namespace sluice::ha
