// Epoch histories (docs/replication.md, "Epochs"): where two logs stop
// agreeing. An epoch has one primary, so two logs hold the same record at
// an offset when both put that offset in the same epoch (Kafka KIP-101,
// RocketMQ 5's epoch file). A log without entries is all epoch 0.
#pragma once

#include <cstdint>
#include <span>

#include "base/types.h"
#include "proto/meta.pb.h"

namespace sluice::ha {

// The epoch a history puts `offset` in: that of the last entry starting at
// or below it (0 when none does).
Epoch EpochAt(std::span<const proto::EpochEntry> history, Offset offset);

// The largest offset X such that both logs agree on [0, X): the first
// offset below min(a_end, b_end) where their epochs differ, else
// min(a_end, b_end). Entries must be in epoch order.
Offset DivergencePoint(std::span<const proto::EpochEntry> a, Offset a_end,
                       std::span<const proto::EpochEntry> b, Offset b_end);

// The highest epoch in a history (0 when empty).
Epoch LastEpoch(std::span<const proto::EpochEntry> history);

}  // namespace sluice::ha
