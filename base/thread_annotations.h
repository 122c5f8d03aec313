// Clang thread-safety annotations (leveldb port/thread_annotations.h). They
// check locking rules at compile time under clang and vanish under gcc.
#pragma once

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
  ~MutexLock() RELEASE() { mu_->unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

}  // namespace sluice
