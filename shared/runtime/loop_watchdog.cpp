#include "shared/runtime/loop_watchdog.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <chrono>

namespace mandrill::runtime {
void Loop::StartWatchdog() {
  if (options_.watchdog_threshold <= Duration::zero()) return;
  watchdog_ = std::make_unique<Watchdog>();
  watchdog_->step_started_ns.store(step_started_.time_since_epoch().count());
  watchdog_->thread = std::thread([this, w = watchdog_.get()] {
    pthread_setname_np(pthread_self(), "watchdog");
    const Duration threshold = options_.watchdog_threshold;
    std::int64_t reported_step = 0;
    int reported_multiple = 0;
    core::MutexLock lock(w->mu);
    while (!w->stop) {
      if (lock.WaitFor(w->cv, threshold / 4, [w]() REQUIRES(w->mu) { return w->stop; })) break;
      std::int64_t started = w->step_started_ns.load(std::memory_order_relaxed);
      if (started == 0) continue;
      auto now = std::chrono::steady_clock::now().time_since_epoch().count();
      Duration blocked(now - started);
      if (blocked < threshold) continue;
      int multiple = static_cast<int>(blocked / threshold);
      if (started == reported_step && multiple <= reported_multiple) continue;
      reported_step = started;
      reported_multiple = multiple;
      blocked_reports_.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("loop '{}': watchdog: the loop has been blocked in one step for {} ms "
                   "(threshold {} ms)",
                   options_.name, core::ToMillis(blocked), core::ToMillis(threshold));
      if (options_.on_blocked) options_.on_blocked(blocked);
    }
  });
}

void Loop::StopWatchdog() {
  if (!watchdog_) return;
  {
    core::MutexLock lock(watchdog_->mu);
    watchdog_->stop = true;
  }
  watchdog_->cv.notify_all();
  watchdog_->thread.join();
  watchdog_.reset();
}

}  // namespace mandrill::runtime
