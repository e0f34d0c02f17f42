#pragma once
// Time as the broker and worker see it. Leases and timers use the monotonic clock; wall time
// is only for display (deadlines shown to operators). Tests substitute FakeClock.
#include <chrono>
#include <cstdint>

namespace mandrill::core {

using SteadyTime = std::chrono::steady_clock::time_point;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime Now() const = 0;
  // Milliseconds since the Unix epoch.
  virtual std::int64_t WallMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  SteadyTime Now() const override { return std::chrono::steady_clock::now(); }
  std::int64_t WallMs() const override {
    return std::chrono::duration_cast<Millis>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A clock that moves only when told. Not thread-safe: tests drive it from one thread.
class FakeClock final : public Clock {
 public:
  SteadyTime Now() const override { return now_; }
  std::int64_t WallMs() const override {
    return kWallBase + std::chrono::duration_cast<Millis>(now_.time_since_epoch()).count();
  }
  void Advance(std::chrono::nanoseconds d) { now_ += d; }

 private:
  static constexpr std::int64_t kWallBase = 1'700'000'000'000;
  SteadyTime now_{std::chrono::hours(1)};
};

inline std::int64_t ToMillis(std::chrono::nanoseconds d) {
  return std::chrono::duration_cast<Millis>(d).count();
}

}  // namespace mandrill::core
