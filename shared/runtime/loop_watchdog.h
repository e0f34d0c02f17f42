#pragma once
// The loop's watchdog thread, shared by loop.cpp (which publishes when each step starts) and
// loop_watchdog.cpp (the thread that reports a step running past the threshold).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <thread>

#include "shared/core/mutex.h"
#include "shared/runtime/loop.h"

namespace mandrill::runtime {

// Reports, from its own thread, a loop stuck in one step. The loop publishes when the current
// step started (0 while idle).
struct Loop::Watchdog {
  std::atomic<std::int64_t> step_started_ns{0};
  core::Mutex mu;
  std::condition_variable cv;
  bool stop GUARDED_BY(mu) = false;
  std::thread thread;
};

}  // namespace mandrill::runtime
