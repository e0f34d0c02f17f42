#pragma once
// The hand-over of a snapshot from the thread that owns the figures (the broker's reactor, the
// worker's loop) to the metrics server's thread: the owner publishes a new immutable snapshot,
// readers take a reference to the latest. The lock is held only to swap a pointer, so the owner
// never waits on a scrape, and a slow scrape keeps its own copy alive.
#include <memory>
#include <utility>

#include "shared/core/mutex.h"

namespace mandrill::metrics {

template <typename T>
class SnapshotSlot {
 public:
  void Publish(std::shared_ptr<const T> snapshot) EXCLUDES(mu_) {
    std::shared_ptr<const T> old;
    {
      core::MutexLock lock(mu_);
      old = std::exchange(latest_, std::move(snapshot));
    }
    // `old` is freed here, outside the lock (it may be large).
  }
  std::shared_ptr<const T> Get() const EXCLUDES(mu_) {
    core::MutexLock lock(mu_);
    return latest_;
  }

 private:
  mutable core::Mutex mu_;
  std::shared_ptr<const T> latest_ GUARDED_BY(mu_);
};

}  // namespace mandrill::metrics
