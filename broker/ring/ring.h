// The parse ring: a pre-allocated ring of slots, one producer, and stages
// that process slots in sequence order (LMAX Disruptor's design; our own
// code). sequence.h states the memory-ordering contract.
//
//   Ring<T> ring(1 << 14, WaitKind::kYield);
//   BatchStage<T> s1(&ring, {}, handler1);            // serial, sees every slot
//   WorkerPool<T> s2(&ring, {&s1}, 2, handler2);      // each slot to one worker
//   BatchStage<T> s3(&ring, {&s2}, handler3);         // serial again, in order
//   ring.SetGating({&s3});
//   s1.Start(); s2.Start(); s3.Start();
//   for (...) { SeqNo s = ring.Claim(); if (!s.valid()) break; fill(ring[s]); ring.Publish(s); }
//   ring.DrainAndHalt();  s3.Stop(); s2.Stop(); s1.Stop();
//
// Slots are constructed once and reused: handlers keep buffers in them (no
// allocation per item in steady state). The producer waits when the slowest
// last stage is a whole ring behind: back-pressure, nothing dropped.
//
// A handler returns a Status; the first error is kept in status(), the
// producer's Claim() fails from then on, and the failing slot is not marked
// processed. Stages after the failing one still finish every slot before
// it (so work that was whole is not thrown away); DrainAndHalt() waits for
// that and then halts the ring.
//
// Thread safety: Claim/Publish from one producer thread; each stage runs
// its own threads, owned by the stage object (Start/Stop, Stop idempotent).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "base/thread_annotations.h"
#include "base/thread_name.h"
#include "broker/ring/sequence.h"

namespace sluice::ring {

// What stages depend on: anything with sequences to wait for.
class StageBase {
 public:
  virtual ~StageBase() = default;
  // The sequences a downstream stage must wait for (one per thread).
  virtual std::vector<const Sequence*> sequences() const = 0;
};

template <typename T>
class Ring {
 public:
  // REQUIRES: size is a power of two >= 2.
  Ring(size_t size, WaitKind wait) : slots_(size), mask_(size - 1), wait_(wait) {}
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  size_t size() const { return slots_.size(); }
  T& operator[](SeqNo s) { return slots_[static_cast<size_t>(s.value()) & mask_]; }

  // The stages whose progress frees slots for the producer (the last ones).
  // REQUIRES: called before the first Claim().
  void SetGating(std::vector<const StageBase*> stages) {
    gating_.clear();
    for (const StageBase* st : stages)
      for (const Sequence* s : st->sequences()) gating_.push_back(s);
  }

  // Claims the next slot, waiting while the ring is full. Returns one that
  // is not valid() when the ring was halted (by an error or DrainAndHalt()).
  SeqNo Claim() {
    SeqNo next = next_;
    SeqNo wrap = next - static_cast<int64_t>(slots_.size());
    if (wrap > cached_gating_) {
      const auto start = full_wait_ns_ != nullptr ? std::chrono::steady_clock::now()
                                                  : std::chrono::steady_clock::time_point();
      wait_.WaitUntil(
          [&] { return (cached_gating_ = MinimumSequence(gating_, next_ - 1)) >= wrap; },
          [&] { return Stopping(); });
      if (full_wait_ns_ != nullptr) SequenceBarrier::AddWait(full_wait_ns_, start);
      if (cached_gating_ < wrap) return kInitialSequence;
    }
    if (Stopping()) return kInitialSequence;
    ++next_;
    return next;
  }

  // Adds the time Claim() waits for a free slot to *ns.
  // REQUIRES: called before the first Claim().
  void CountFullWaitsIn(std::atomic<uint64_t>* ns) { full_wait_ns_ = ns; }

  // Makes slot s (and every claimed slot before it) visible to the stages.
  void Publish(SeqNo s) {
    cursor_.Set(s);
    wait_.Signal();
  }

  // Waits until every gating stage has processed everything published (or,
  // after an error, everything before the failed slot), then halts the
  // ring. Returns the first handler error, if any.
  Status DrainAndHalt() {
    SeqNo last = cursor_.Get();
    wait_.WaitUntil(
        [&] {
          SeqNo target = std::min(last, failed_at_.load(std::memory_order_acquire) - 1);
          return MinimumSequence(gating_, last) >= target;
        },
        [&] { return halted_.load(std::memory_order_acquire); });
    Halt();
    return status();
  }

  // Stops every stage's waiting now (nothing more is processed).
  void Halt() {
    halted_.store(true, std::memory_order_release);
    wait_.Signal();
  }

  // Called by a stage whose handler failed on slot `seq`: keeps the first
  // error; the producer stops; DrainAndHalt() lets the stages finish the
  // slots before `seq`.
  void Fail(const Status& st, SeqNo seq) {
    {
      MutexLock lock(&error_mu_);
      if (error_.ok()) error_ = st;
    }
    SeqNo cur = failed_at_.load(std::memory_order_relaxed);
    while (seq < cur && !failed_at_.compare_exchange_weak(cur, seq, std::memory_order_acq_rel)) {
    }
    wait_.Signal();
  }

  Status status() const {
    MutexLock lock(&error_mu_);
    return error_;
  }
  bool halted() const { return halted_.load(std::memory_order_acquire); }
  // Halted, or a stage failed: the producer publishes nothing more.
  bool Stopping() const {
    return halted_.load(std::memory_order_acquire) ||
           failed_at_.load(std::memory_order_acquire) != kNoFailure;
  }

  // For stages.
  const Sequence* cursor() const { return &cursor_; }
  WaitStrategy* wait() { return &wait_; }
  const std::atomic<bool>* halted_flag() const { return &halted_; }

 private:
  std::vector<T> slots_;
  const size_t mask_;
  WaitStrategy wait_;
  Sequence cursor_;                         // last published, written by the producer
  std::vector<const Sequence*> gating_;     // constant after SetGating
  SeqNo next_{0};                           // producer-only
  SeqNo cached_gating_ = kInitialSequence;  // producer-only
  std::atomic<uint64_t>* full_wait_ns_ = nullptr;
  std::atomic<bool> halted_{false};
  static constexpr SeqNo kNoFailure = SeqNo::Max();
  std::atomic<SeqNo> failed_at_{kNoFailure};  // lowest slot a handler failed on
  mutable Mutex error_mu_;
  Status error_ GUARDED_BY(error_mu_);
};

// A serial stage: one thread handles every slot in order, in batches of
// whatever is available (the handler learns where a batch ends).
template <typename T>
class BatchStage : public StageBase {
 public:
  // handler(slot, seq, end_of_batch)
  using Handler = std::function<Status(T&, SeqNo, bool)>;

  BatchStage(Ring<T>* ring, std::vector<const StageBase*> upstream, Handler handler)
      : ring_(ring), barrier_(MakeBarrier(ring, upstream)), handler_(std::move(handler)) {}
  ~BatchStage() override { Stop(); }
  BatchStage(const BatchStage&) = delete;
  BatchStage& operator=(const BatchStage&) = delete;

  // `name` names the thread (base/thread_name.h); empty keeps the process's.
  void Start(std::string name = {}) {
    thread_ = std::thread([this, name] {
      SetThreadName(name);
      Run();
    });
  }
  // Returns once the thread ended; the ring must be halted first.
  void Stop() {
    if (thread_.joinable()) thread_.join();
  }

  std::vector<const Sequence*> sequences() const override { return {&sequence_}; }
  SeqNo processed() const { return sequence_.Get(); }
  // Adds the time this stage waits for its upstream to *ns.
  // REQUIRES: called before Start().
  void CountWaitsIn(std::atomic<uint64_t>* ns) { barrier_.CountWaitsIn(ns); }

 private:
  void Run() {
    SeqNo next = sequence_.Get() + 1;
    for (;;) {
      SeqNo avail = barrier_.WaitFor(next);
      if (avail < next) return;  // halted
      for (SeqNo s = next; s <= avail; ++s) {
        Status st = handler_((*ring_)[s], s, s == avail);
        if (!st.ok()) {
          sequence_.Set(s - 1);
          ring_->Fail(st, s);
          return;
        }
      }
      sequence_.Set(avail);
      ring_->wait()->Signal();
      next = avail + 1;
    }
  }

  Ring<T>* ring_;
  SequenceBarrier barrier_;
  Handler handler_;
  Sequence sequence_;
  std::thread thread_;

 public:
  static SequenceBarrier MakeBarrier(Ring<T>* ring, const std::vector<const StageBase*>& up) {
    std::vector<const Sequence*> seqs;
    for (const StageBase* st : up)
      for (const Sequence* s : st->sequences()) seqs.push_back(s);
    return SequenceBarrier(ring->cursor(), std::move(seqs), ring->wait(), ring->halted_flag());
  }
};

// A pool of workers: each slot is handled by exactly one of them, in no
// particular order; downstream stages wait for all of them (so they see the
// slots in sequence order again). Workers claim up to `claim_batch` slots
// at a time from a shared counter.
template <typename T>
class WorkerPool : public StageBase {
 public:
  // handler(slot, seq, worker index)
  using Handler = std::function<Status(T&, SeqNo, int)>;

  WorkerPool(Ring<T>* ring, std::vector<const StageBase*> upstream, int workers, Handler handler,
             int claim_batch = 64)
      : ring_(ring),
        barrier_(BatchStage<T>::MakeBarrier(ring, upstream)),
        handler_(std::move(handler)),
        claim_batch_(std::max(1, std::min<int>(claim_batch, static_cast<int>(ring->size() / 2)))),
        sequences_(std::make_unique<Sequence[]>(workers)),
        workers_(workers) {}
  ~WorkerPool() override { Stop(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Worker i's thread is named `name`-i when `name` is not empty.
  void Start(std::string name = {}) {
    for (int i = 0; i < workers_; ++i) {
      threads_.emplace_back([this, i, name] {
        if (!name.empty()) SetThreadName(name + "-" + std::to_string(i));
        Run(i);
      });
    }
  }
  void Stop() {
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
  }

  // Adds the time the workers wait for upstream slots to *ns (the sum
  // over workers). REQUIRES: called before Start().
  void CountWaitsIn(std::atomic<uint64_t>* ns) { barrier_.CountWaitsIn(ns); }

  std::vector<const Sequence*> sequences() const override {
    std::vector<const Sequence*> v;
    for (int i = 0; i < workers_; ++i) v.push_back(&sequences_[i]);
    return v;
  }

 private:
  void Run(int index) {
    Sequence& mine = sequences_[index];
    for (;;) {
      // Claim [first, last]. Our sequence then says "nothing below first is
      // ours": downstream may pass whatever other workers finished, so an
      // idle worker never holds the ring back (or the producer deadlocks).
      SeqNo first(claimed_.fetch_add(claim_batch_, std::memory_order_acq_rel) + 1);
      SeqNo last = first + claim_batch_ - 1;
      mine.Set(first - 1);
      ring_->wait()->Signal();
      for (SeqNo s = first; s <= last;) {
        SeqNo avail = barrier_.WaitFor(s);
        if (avail < s) return;  // halted
        SeqNo end = std::min(avail, last);
        for (; s <= end; ++s) {
          Status st = handler_((*ring_)[s], s, index);
          if (!st.ok()) {
            mine.Set(s - 1);
            ring_->Fail(st, s);
            return;
          }
        }
        mine.Set(end);
        ring_->wait()->Signal();
      }
    }
  }

  Ring<T>* ring_;
  SequenceBarrier barrier_;
  Handler handler_;
  const int claim_batch_;
  alignas(64) std::atomic<int64_t> claimed_{kInitialSequence.value()};  // highest claimed slot
  std::unique_ptr<Sequence[]> sequences_;
  const int workers_;
  std::vector<std::thread> threads_;
};

}  // namespace sluice::ring
