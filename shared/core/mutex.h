#pragma once
// A std::mutex the thread-safety analysis can see (thread_annotations.h), its scoped lock, and
// waiting on a condition variable under it. Same cost as std::mutex / std::unique_lock.
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "shared/core/thread_annotations.h"

namespace mandrill::core {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mu_.try_lock(); }

 private:
  friend class MutexLock;
  std::mutex mu_;
};

// Holds `mu` from construction to destruction (or Unlock), like std::unique_lock.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : lock_(mu.mu_) {}
  ~MutexLock() RELEASE() = default;
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  // Releases early (the destructor then does nothing).
  void Unlock() RELEASE() { lock_.unlock(); }

  // Blocks on `cv` until `pred()` holds; the mutex is held whenever pred runs and on return.
  template <typename Pred>
  void Wait(std::condition_variable& cv, Pred pred) {
    cv.wait(lock_, pred);
  }
  // As Wait, giving up at `deadline`; returns pred()'s last value.
  template <typename Clock, typename Duration, typename Pred>
  bool WaitUntil(std::condition_variable& cv,
                 const std::chrono::time_point<Clock, Duration>& deadline, Pred pred) {
    return cv.wait_until(lock_, deadline, pred);
  }
  template <typename Rep, typename Period, typename Pred>
  bool WaitFor(std::condition_variable& cv, const std::chrono::duration<Rep, Period>& d,
               Pred pred) {
    return cv.wait_for(lock_, d, pred);
  }

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace mandrill::core
