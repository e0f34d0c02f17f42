// Helpers shared by the runtime tests.
#pragma once

#include <stdexcept>
#include <string>

#include "shared/core/clock.h"
#include "shared/runtime/loop.h"
#include "shared/runtime/sleep.h"
#include "shared/runtime/task.h"

namespace mandrill::runtime::testing {

// Loop options for deterministic tests: virtual clock, no slow-step noise.
inline LoopOptions VirtualOptions(VirtualClock* clock, std::string name = "test") {
  LoopOptions o;
  o.name = std::move(name);
  o.clock = clock;
  o.slow_step_threshold = Duration::zero();
  return o;
}

// Runs `main` on a fresh loop with a virtual clock and returns its value.
template <class T>
T RunVirtual(Task<T> main) {
  VirtualClock clock;
  Loop loop(VirtualOptions(&clock));
  return loop.Run(std::move(main));
}

// Milliseconds elapsed on the current loop's clock since `start`.
inline long long MsSince(TimePoint start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Loop::Current()->Now() - start)
      .count();
}

// A child that sleeps `d`, then fails with `what`; and one that only sleeps.
inline Task<void> FailAfter(Duration d, std::string what) {
  co_await Sleep(d);
  throw std::runtime_error(what);
}
inline Task<void> SleepFor(Duration d) { co_await Sleep(d); }

}  // namespace mandrill::runtime::testing
