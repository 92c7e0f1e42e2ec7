// A mutex that clang's -Wthread-safety understands, and its scoped lock.
// libstdc++'s std::mutex carries no capability attributes; these wrappers do,
// so GUARDED_BY / REQUIRES / EXCLUDES in the daemon are checked under clang
// and compile to nothing under g++.
#pragma once

#include <mutex>

#if defined(__clang__)
#define MEMD_TSA(x) __attribute__((x))
#else
#define MEMD_TSA(x)
#endif

#define CAPABILITY(x) MEMD_TSA(capability(x))
#define SCOPED_CAPABILITY MEMD_TSA(scoped_lockable)
#define GUARDED_BY(x) MEMD_TSA(guarded_by(x))
#define PT_GUARDED_BY(x) MEMD_TSA(pt_guarded_by(x))
#define REQUIRES(...) MEMD_TSA(requires_capability(__VA_ARGS__))
#define ACQUIRE(...) MEMD_TSA(acquire_capability(__VA_ARGS__))
#define RELEASE(...) MEMD_TSA(release_capability(__VA_ARGS__))
#define EXCLUDES(...) MEMD_TSA(locks_excluded(__VA_ARGS__))

namespace memd {

class CAPABILITY("mutex") Mutex {
 public:
  void lock() ACQUIRE() { m_.lock(); }
  void unlock() RELEASE() { m_.unlock(); }

 private:
  std::mutex m_;
};

class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->lock(); }
  ~MutexLock() RELEASE() { mu_->unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* mu_;
};

}  // namespace memd
