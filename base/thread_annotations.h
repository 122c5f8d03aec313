// Clang thread-safety annotations (leveldb port/thread_annotations.h). They
// check locking rules at compile time under clang and vanish under gcc.
#pragma once

#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define SLUICE_TSA(x) __attribute__((x))
#else
#define SLUICE_TSA(x)
#endif

#define GUARDED_BY(x) SLUICE_TSA(guarded_by(x))
#define REQUIRES(...) SLUICE_TSA(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) SLUICE_TSA(locks_excluded(__VA_ARGS__))
#define CAPABILITY(x) SLUICE_TSA(capability(x))
#define ACQUIRE(...) SLUICE_TSA(acquire_capability(__VA_ARGS__))
#define RELEASE(...) SLUICE_TSA(release_capability(__VA_ARGS__))
#define SCOPED_CAPABILITY SLUICE_TSA(scoped_lockable)
#define ACQUIRE_SHARED(...) SLUICE_TSA(acquire_shared_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) SLUICE_TSA(release_shared_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) SLUICE_TSA(requires_shared_capability(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS SLUICE_TSA(no_thread_safety_analysis)

namespace sluice {

// std::mutex with a capability, so GUARDED_BY members can name it.
class CAPABILITY("mutex") Mutex {
 public:
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  std::mutex& native() { return mu_; }

 private:
  std::mutex mu_;
};

class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->lock(); }
  ~MutexLock() RELEASE() {
    if (held_) mu_->unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  // For a stretch without the lock inside the scope.
  void Unlock() RELEASE() {
    held_ = false;
    mu_->unlock();
  }
  void Lock() ACQUIRE() {
    mu_->lock();
    held_ = true;
  }

 private:
  Mutex* const mu_;
  bool held_ = true;
};

// A condition variable for Mutex. Its waits require the mutex, so the
// analysis sees the guarded members read around them; write the predicate
// as a loop at the call site (`while (!ready_) cv_.Wait(&mu_);`): a lambda
// is analysed on its own, without the caller's locks.
class CondVar {
 public:
  void Wait(Mutex* mu) REQUIRES(mu) {
    std::unique_lock<std::mutex> lk(mu->native(), std::adopt_lock);
    cv_.wait(lk);
    lk.release();
  }
  // false when `timeout` passed without a signal.
  template <typename Rep, typename Period>
  bool WaitFor(Mutex* mu, std::chrono::duration<Rep, Period> timeout) REQUIRES(mu) {
    std::unique_lock<std::mutex> lk(mu->native(), std::adopt_lock);
    const bool signalled = cv_.wait_for(lk, timeout) == std::cv_status::no_timeout;
    lk.release();
    return signalled;
  }
  template <typename Clock, typename Duration>
  bool WaitUntil(Mutex* mu, std::chrono::time_point<Clock, Duration> deadline) REQUIRES(mu) {
    std::unique_lock<std::mutex> lk(mu->native(), std::adopt_lock);
    const bool signalled = cv_.wait_until(lk, deadline) == std::cv_status::no_timeout;
    lk.release();
    return signalled;
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

// A reader-writer lock. By default it prefers writers: once lock() waits,
// new lock_shared() calls wait behind it, so a stream of readers cannot
// starve it; the price is that a thread must not take it shared twice (its
// second lock_shared() would wait behind a writer that waits for its
// first). kPreferReaders is glibc's default (std::shared_mutex): for locks
// written rarely (at start) and read re-entrantly.
class CAPABILITY("shared mutex") SharedMutex {
 public:
  enum Preference { kPreferWriters, kPreferReaders };
  explicit SharedMutex(Preference preference = kPreferWriters) {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, preference == kPreferWriters
                                             ? PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP
                                             : PTHREAD_RWLOCK_PREFER_READER_NP);
    pthread_rwlock_init(&mu_, &attr);
    pthread_rwlockattr_destroy(&attr);
  }
  ~SharedMutex() { pthread_rwlock_destroy(&mu_); }
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void lock() ACQUIRE() { pthread_rwlock_wrlock(&mu_); }
  void unlock() RELEASE() { pthread_rwlock_unlock(&mu_); }
  void lock_shared() ACQUIRE_SHARED() { pthread_rwlock_rdlock(&mu_); }
  void unlock_shared() RELEASE_SHARED() { pthread_rwlock_unlock(&mu_); }

 private:
  pthread_rwlock_t mu_;
};

class SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex* mu) ACQUIRE_SHARED(mu) : mu_(mu) { mu_->lock_shared(); }
  ~ReaderLock() RELEASE() { mu_->unlock_shared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex* const mu_;
};

class SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(SharedMutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->lock(); }
  ~WriterLock() RELEASE() { mu_->unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex* const mu_;
};

}  // namespace sluice
