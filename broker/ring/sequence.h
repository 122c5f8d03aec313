// Sequences, wait strategies and barriers of the parse ring (LMAX
// Disruptor's design, our own code).
//
// Memory-ordering contract, for every stage of a ring:
//   - A stage writes the slots it owns, then publishes how far it got with a
//     release store of its Sequence.
//   - A stage that depends on others reads their Sequences (and the
//     producer's cursor) with acquire loads before it touches a slot at or
//     below them; so it sees everything the upstream stage wrote there.
//   - The producer reuses a slot only after every last-stage Sequence
//     (acquire) has passed it; so nothing still reads what it overwrites.
// No slot is ever read and written by two threads without one of these
// release/acquire pairs between them. The TSan build checks it.
//
// Sequences start at -1 (nothing published); the first slot is sequence 0.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

#include "base/types.h"

namespace sluice::ring {

// A position in a ring: its own type so it is not mixed up with offsets
// or counts. The first slot is 0; a distance between two is an int64_t.
class SeqNo : public NamedType<int64_t, struct SeqNoTag> {
 public:
  using NamedType::NamedType;
  constexpr SeqNo(NamedType v) : NamedType(v) {}  // NOLINT(google-explicit-constructor)
  constexpr SeqNo operator+(int64_t n) const { return SeqNo(value() + n); }
  constexpr SeqNo operator-(int64_t n) const { return SeqNo(value() - n); }
  constexpr int64_t operator-(SeqNo o) const { return value() - o.value(); }
  constexpr SeqNo& operator++() { return *this = *this + 1; }
  // A slot, not "none" (Ring::Claim() returns a negative one once halted).
  constexpr bool valid() const { return value() >= 0; }
};
constexpr SeqNo kInitialSequence(-1);

// One cache line per sequence: no false sharing between the stages that
// write them.
struct alignas(64) Sequence {
  std::atomic<int64_t> value{kInitialSequence.value()};
  char pad[64 - sizeof(std::atomic<int64_t>)];

  SeqNo Get() const { return SeqNo(value.load(std::memory_order_acquire)); }
  void Set(SeqNo v) { value.store(v.value(), std::memory_order_release); }
};
static_assert(sizeof(Sequence) == 64);

// The lowest of several sequences (acquire loads); `floor` when empty.
inline SeqNo MinimumSequence(const std::vector<const Sequence*>& seqs, SeqNo floor) {
  SeqNo m = SeqNo::Max();
  for (const Sequence* s : seqs) m = std::min(m, s->Get());
  return seqs.empty() ? floor : m;
}

// How a waiting thread spends its time.
enum class WaitKind {
  kBusySpin,  // lowest latency; burns its core (only with a core per stage)
  kYield,     // spins a little, then yields the core to others
  kBlocking,  // sleeps on a condition variable; publishers wake it
};

// A wait strategy is shared by the stages of one ring. Waiters poll a
// condition; publishers call Signal() after every Sequence update.
class WaitStrategy {
 public:
  explicit WaitStrategy(WaitKind kind) : kind_(kind) {}
  WaitStrategy(const WaitStrategy&) = delete;
  WaitStrategy& operator=(const WaitStrategy&) = delete;

  WaitKind kind() const { return kind_; }

  // Returns once ready() is true or alerted() is true.
  template <typename Ready, typename Alerted>
  void WaitUntil(Ready ready, Alerted alerted) {
    int spins = 0;
    while (!ready()) {
      if (alerted()) return;
      switch (kind_) {
        case WaitKind::kBusySpin: Pause(); break;
        case WaitKind::kYield:
          if (++spins < 64) {
            Pause();
          } else {
            std::this_thread::yield();
          }
          break;
        case WaitKind::kBlocking:
          // Spin, then yield, before sleeping: most waits are short, and a
          // sleep costs a wake-up syscall on the publisher's side.
          if (++spins < 256) {
            Pause();
            break;
          }
          if (spins < 512) {
            std::this_thread::yield();
            break;
          }
          {
            std::unique_lock<std::mutex> lock(mu_);
            waiters_.fetch_add(1, std::memory_order_seq_cst);
            // Re-check under the lock: a Signal() between the check above
            // and the wait below would otherwise be lost. The timeout is a
            // guard against a missed signal, not the mechanism.
            if (!ready() && !alerted()) cv_.wait_for(lock, std::chrono::milliseconds(10));
            waiters_.fetch_sub(1, std::memory_order_seq_cst);
          }
          break;
      }
    }
  }

  // Wakes blocked waiters; a no-op (one load) when nobody blocks.
  void Signal() {
    if (kind_ != WaitKind::kBlocking) return;
    // An RMW, not a plain load: if a waiter's increment comes after it, that
    // waiter's increment reads this write and so sees the sequence we just
    // published; if before, we see the waiter and wake it. (A fence would
    // do the same, but TSan does not understand fences.)
    if (waiters_.fetch_add(0, std::memory_order_acq_rel) == 0) return;
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
  }

 private:
  static void Pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }

  const WaitKind kind_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<int> waiters_{0};
};

// What a stage waits on: the producer's cursor and the stages before it.
// Alert() makes every waiter return (used to stop the ring).
class SequenceBarrier {
 public:
  SequenceBarrier(const Sequence* cursor, std::vector<const Sequence*> upstream, WaitStrategy* wait,
                  const std::atomic<bool>* alerted)
      : cursor_(cursor), upstream_(std::move(upstream)), wait_(wait), alerted_(alerted) {}

  // Waits until `seq` is available to this stage; returns the highest
  // available sequence (>= seq), or a value < seq when alerted.
  SeqNo WaitFor(SeqNo seq) const {
    SeqNo avail = Available();
    if (avail >= seq) return avail;
    const auto start = wait_ns_ != nullptr ? std::chrono::steady_clock::now()
                                           : std::chrono::steady_clock::time_point();
    wait_->WaitUntil([&] { return (avail = Available()) >= seq; },
                     [&] { return alerted_->load(std::memory_order_acquire); });
    if (wait_ns_ != nullptr) AddWait(wait_ns_, start);
    return avail;
  }

  // Adds the time WaitFor spends waiting (the slow path only) to *ns.
  // REQUIRES: called before the stage's threads start.
  void CountWaitsIn(std::atomic<uint64_t>* ns) { wait_ns_ = ns; }

  static void AddWait(std::atomic<uint64_t>* ns, std::chrono::steady_clock::time_point start) {
    ns->fetch_add(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                            std::chrono::steady_clock::now() - start)
                                            .count()),
                  std::memory_order_relaxed);
  }

  bool alerted() const { return alerted_->load(std::memory_order_acquire); }

 private:
  SeqNo Available() const {
    SeqNo c = cursor_->Get();
    return upstream_.empty() ? c : std::min(c, MinimumSequence(upstream_, c));
  }

  const Sequence* cursor_;
  std::vector<const Sequence*> upstream_;
  WaitStrategy* wait_;
  const std::atomic<bool>* alerted_;
  std::atomic<uint64_t>* wait_ns_ = nullptr;
};

}  // namespace sluice::ring
