#pragma once
// The one clock hierarchy: the broker, the worker, the publisher and the coroutine runtime's loop
// all read time from a Clock, so tests substitute a VirtualClock and no code reads std::chrono
// for scheduling. Leases, deadlines and timers use monotonic time; wall time is only for display
// (deadlines shown to operators). Slow-step and watchdog measurements always use real time.
#include <atomic>
#include <chrono>
#include <cstdint>

namespace mandrill::core {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;
// The broker's name for TimePoint (the same type).
using SteadyTime = TimePoint;
using Millis = std::chrono::milliseconds;

inline constexpr TimePoint kNoDeadline = TimePoint::max();

class Clock {
 public:
  virtual ~Clock() = default;
  // Thread-safe.
  virtual TimePoint Now() const = 0;
  // Milliseconds since the Unix epoch. Thread-safe.
  virtual std::int64_t WallMs() const = 0;
  // True if a runtime loop may advance this clock itself when it has nothing to run.
  virtual bool IsVirtual() const { return false; }
  // Only called by a loop thread on a virtual clock, with t >= Now().
  virtual void AdvanceTo(TimePoint /*t*/) {}
};

// Real time: std::chrono::steady_clock and system_clock.
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
  }
  std::int64_t WallMs() const override {
    return std::chrono::duration_cast<Millis>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// Time stands still until a test (Advance) or a runtime loop (AdvanceTo, when idle) moves it; it
// never goes backwards. Starts at a fixed epoch (one hour) so tests print stable times, and wall
// time is that plus a fixed base. Now() may be read from any thread.
class VirtualClock final : public Clock {
 public:
  VirtualClock() = default;
  explicit VirtualClock(TimePoint start) : now_ns_(start.time_since_epoch().count()) {}

  TimePoint Now() const override {
    return TimePoint(Duration(now_ns_.load(std::memory_order_acquire)));
  }
  std::int64_t WallMs() const override {
    return kWallBase + std::chrono::duration_cast<Millis>(Now().time_since_epoch()).count();
  }
  bool IsVirtual() const override { return true; }
  // An earlier t is ignored.
  void AdvanceTo(TimePoint t) override {
    auto ns = t.time_since_epoch().count();
    auto cur = now_ns_.load(std::memory_order_relaxed);
    while (ns > cur && !now_ns_.compare_exchange_weak(cur, ns, std::memory_order_acq_rel)) {
    }
  }
  void Advance(Duration d) { AdvanceTo(Now() + d); }

 private:
  static constexpr std::int64_t kWallBase = 1'700'000'000'000;
  std::atomic<Duration::rep> now_ns_{
      std::chrono::duration_cast<Duration>(std::chrono::hours(1)).count()};
};

inline double ToSeconds(std::chrono::nanoseconds d) {
  return std::chrono::duration<double>(d).count();
}
inline std::int64_t ToMillis(std::chrono::nanoseconds d) {
  return std::chrono::duration_cast<Millis>(d).count();
}

}  // namespace mandrill::core

// The coroutine runtime names the same types without the prefix (runtime::Clock is core::Clock).
namespace mandrill::runtime {
using core::Clock;
using core::Duration;
using core::kNoDeadline;
using core::SystemClock;
using core::TimePoint;
using core::VirtualClock;
}  // namespace mandrill::runtime
