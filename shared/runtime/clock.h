// Clocks the loop reads time from.
//
// The loop never calls std::chrono directly for scheduling: it asks its Clock, so tests can
// substitute a VirtualClock that the loop advances to the next timer whenever it is idle (like
// Trio's MockClock with autojump). Slow-step and watchdog measurements always use real time.
#pragma once

#include <atomic>
#include <chrono>

namespace mandrill::runtime {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

inline constexpr TimePoint kNoDeadline = TimePoint::max();

class Clock {
 public:
  virtual ~Clock() = default;
  // Thread-safe.
  virtual TimePoint Now() const = 0;
  // True if the loop may advance this clock itself when it has nothing to run.
  virtual bool IsVirtual() const { return false; }
  // Only called by the loop thread on a virtual clock, with t >= Now().
  virtual void AdvanceTo(TimePoint /*t*/) {}
};

class SteadyClock final : public Clock {
 public:
  TimePoint Now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
  }
};

// Time stands still until the loop (or a test) advances it. Starts at an arbitrary fixed epoch
// so that tests print stable times.
class VirtualClock final : public Clock {
 public:
  VirtualClock() = default;
  explicit VirtualClock(TimePoint start) : now_ns_(start.time_since_epoch().count()) {}

  TimePoint Now() const override {
    return TimePoint(Duration(now_ns_.load(std::memory_order_acquire)));
  }
  bool IsVirtual() const override { return true; }
  // Time never goes backwards: an earlier t is ignored.
  void AdvanceTo(TimePoint t) override {
    auto ns = t.time_since_epoch().count();
    auto cur = now_ns_.load(std::memory_order_relaxed);
    while (ns > cur && !now_ns_.compare_exchange_weak(cur, ns, std::memory_order_acq_rel)) {
    }
  }
  void Advance(Duration d) { AdvanceTo(Now() + d); }

 private:
  std::atomic<Duration::rep> now_ns_{std::chrono::duration_cast<Duration>(std::chrono::hours(1)).count()};
};

}  // namespace mandrill::runtime
