// The parse ring: order, exactly-once handling, back-pressure, errors, for
// every wait strategy, several ring sizes and worker counts, with random
// delays in the workers. Run under the TSan build too (test.sh does).
#include "broker/ring/ring.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

namespace sluice::ring {
namespace {

struct Slot {
  int64_t item = -1;            // written by the producer
  int64_t stage1 = -1;          // written by stage 1
  int64_t worked = -1;          // written by the worker that handled it
  std::atomic<int> handled{0};  // how many workers touched it (must be 1)
  int64_t done_item = -1;       // written by stage 3 (the producer checks it before reuse)
  Slot() = default;
  Slot(const Slot&) {}  // vector<Slot> needs it; never copied after construction
};

struct Params {
  size_t ring_size;
  int workers;
  WaitKind wait;
  int claim_batch;
  bool random_delays;
};

// Runs items 0..n-1 through producer -> serial -> pool -> serial and checks
// every rule on the way. Returns the items stage 3 saw, in order.
std::vector<int64_t> RunPipeline(const Params& p, int64_t n, uint64_t seed) {
  Ring<Slot> ring(p.ring_size, p.wait);
  std::vector<std::atomic<int>> seen(n);
  std::atomic<int64_t> errors{0};
  BatchStage<Slot> s1(&ring, {}, [&](Slot& s, SeqNo seq, bool) {
    if (s.item != seq.value()) ++errors;  // the producer's write is visible
    s.stage1 = s.item * 3;
    s.handled.store(0, std::memory_order_relaxed);
    return Status::Ok();
  });
  WorkerPool<Slot> pool(
      &ring, {&s1}, p.workers,
      [&](Slot& s, SeqNo seq, int worker) {
        if (s.stage1 != seq.value() * 3) ++errors;  // stage 1's write is visible
        if (s.handled.fetch_add(1) != 0) ++errors;
        if (p.random_delays) {
          thread_local std::mt19937_64 rng(seed + worker);
          if (rng() % 64 == 0) std::this_thread::yield();
          if (rng() % 4096 == 0)
            std::this_thread::sleep_for(std::chrono::microseconds(rng() % 200));
        }
        s.worked = s.stage1 + 1;
        seen[static_cast<size_t>(seq.value())].fetch_add(1);
        return Status::Ok();
      },
      p.claim_batch);
  std::vector<int64_t> out;
  out.reserve(n);
  SeqNo expect(0);
  BatchStage<Slot> s3(&ring, {&pool}, [&](Slot& s, SeqNo seq, bool) {
    if (seq != expect) ++errors;
    ++expect;
    if (s.worked != seq.value() * 3 + 1) ++errors;  // every worker's write is visible
    out.push_back(s.item);
    s.done_item = s.item;
    return Status::Ok();
  });
  ring.SetGating({&s3});
  s1.Start();
  pool.Start();
  s3.Start();
  for (int64_t i = 0; i < n; ++i) {
    SeqNo seq = ring.Claim();
    EXPECT_TRUE(seq.valid());
    if (!seq.valid()) break;
    Slot& s = ring[seq];
    // Back-pressure: the slot's previous item went all the way through.
    if (seq.value() >= static_cast<int64_t>(p.ring_size) &&
        s.done_item != seq.value() - static_cast<int64_t>(p.ring_size)) {
      ++errors;
    }
    s.item = i;
    ring.Publish(seq);
  }
  EXPECT_TRUE(ring.DrainAndHalt().ok());
  s3.Stop();
  pool.Stop();
  s1.Stop();
  EXPECT_EQ(errors.load(), 0);
  for (int64_t i = 0; i < n; ++i) {
    if (seen[static_cast<size_t>(i)].load() != 1) {
      ADD_FAILURE() << "item " << i << " handled " << seen[static_cast<size_t>(i)].load()
                    << " times";
      break;
    }
  }
  return out;
}

void ExpectInOrder(const std::vector<int64_t>& out, int64_t n) {
  ASSERT_EQ(static_cast<int64_t>(out.size()), n);
  for (int64_t i = 0; i < n; ++i) {
    if (out[static_cast<size_t>(i)] != i) {
      FAIL() << "position " << i << " holds item " << out[static_cast<size_t>(i)];
    }
  }
}

class RingMatrix : public ::testing::TestWithParam<Params> {};

TEST_P(RingMatrix, EveryItemOnceInOrder) {
  const int64_t n = 200000;
  ExpectInOrder(RunPipeline(GetParam(), n, 42), n);
}

std::string Name(const ::testing::TestParamInfo<Params>& info) {
  const Params& p = info.param;
  const char* w = p.wait == WaitKind::kBusySpin ? "Spin"
                  : p.wait == WaitKind::kYield  ? "Yield"
                                                : "Block";
  return std::string(w) + "_ring" + std::to_string(p.ring_size) + "_w" + std::to_string(p.workers) +
         "_claim" + std::to_string(p.claim_batch) + (p.random_delays ? "_delays" : "");
}

INSTANTIATE_TEST_SUITE_P(Shapes, RingMatrix,
                         ::testing::Values(Params{1024, 1, WaitKind::kYield, 64, false},
                                           Params{1024, 2, WaitKind::kYield, 64, true},
                                           Params{8, 2, WaitKind::kYield, 4, true},
                                           Params{2, 3, WaitKind::kYield, 1, true},
                                           Params{256, 4, WaitKind::kBlocking, 16, true},
                                           Params{64, 2, WaitKind::kBlocking, 1, false},
                                           Params{4096, 2, WaitKind::kBusySpin, 256, false}),
                         Name);

// Property test: random shapes, random worker delays; order and exactly-once
// must hold for every one.
TEST(RingProperty, RandomShapes) {
  std::mt19937_64 rng(20261125);
  for (int round = 0; round < 12; ++round) {
    Params p;
    p.ring_size = size_t{1} << (1 + rng() % 11);  // 2 .. 2048
    p.workers = 1 + static_cast<int>(rng() % 4);
    p.wait = rng() % 2 ? WaitKind::kYield : WaitKind::kBlocking;
    p.claim_batch = 1 + static_cast<int>(rng() % 128);
    p.random_delays = true;
    const int64_t n = 20000 + static_cast<int64_t>(rng() % 30000);
    SCOPED_TRACE(::testing::Message() << "round " << round << " ring " << p.ring_size << " workers "
                                      << p.workers << " claim " << p.claim_batch << " n " << n);
    ExpectInOrder(RunPipeline(p, n, rng()), n);
  }
}

// A worker's error stops the ring: DrainAndHalt returns it, the producer's
// Claim fails, and stage 3 finishes every slot before the failed one and
// none after.
TEST(RingErrors, WorkerErrorHaltsEverything) {
  Ring<Slot> ring(64, WaitKind::kYield);
  BatchStage<Slot> s1(&ring, {}, [](Slot&, SeqNo, bool) { return Status::Ok(); });
  WorkerPool<Slot> pool(&ring, {&s1}, 2, [](Slot& s, SeqNo, int) {
    return s.item == 1000 ? Status::Corruption("bad event 1000") : Status::Ok();
  });
  std::atomic<int64_t> last_done{-1};
  BatchStage<Slot> s3(&ring, {&pool}, [&](Slot&, SeqNo seq, bool) {
    last_done.store(seq.value());
    return Status::Ok();
  });
  ring.SetGating({&s3});
  s1.Start();
  pool.Start();
  s3.Start();
  bool refused = false;
  for (int64_t i = 0; i < 100000; ++i) {
    SeqNo seq = ring.Claim();
    if (!seq.valid()) {
      refused = true;
      break;
    }
    ring[seq].item = i;
    ring.Publish(seq);
  }
  Status st = ring.DrainAndHalt();
  s3.Stop();
  pool.Stop();
  s1.Stop();
  EXPECT_TRUE(refused) << "the producer kept claiming after the error";
  EXPECT_EQ(st.code(), Code::kCorruption);
  EXPECT_NE(st.message().find("bad event 1000"), std::string::npos);
  EXPECT_EQ(last_done.load(), 999);
}

// Stopping an idle ring returns at once, whatever the wait strategy.
TEST(RingErrors, HaltWakesIdleStages) {
  for (WaitKind w : {WaitKind::kBusySpin, WaitKind::kYield, WaitKind::kBlocking}) {
    Ring<Slot> ring(16, w);
    BatchStage<Slot> s1(&ring, {}, [](Slot&, SeqNo, bool) { return Status::Ok(); });
    WorkerPool<Slot> pool(&ring, {&s1}, 2, [](Slot&, SeqNo, int) { return Status::Ok(); });
    ring.SetGating({&pool});
    s1.Start();
    pool.Start();
    EXPECT_TRUE(ring.DrainAndHalt().ok());
    pool.Stop();
    s1.Stop();
    EXPECT_FALSE(ring.Claim().valid());
  }
}

}  // namespace
}  // namespace sluice::ring
