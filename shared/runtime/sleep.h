// Sleep, SleepUntil, Yield: the basic awaitables (asyncio.sleep, trio.sleep, checkpoint).
//
// All are cancellation checkpoints: inside a cancelled scope they raise Cancelled at once, and a
// cancellation that arrives while sleeping wakes the task with Cancelled. Times are on the
// loop's clock (virtual in tests). Loop thread, inside a task.
#pragma once

#include <coroutine>

#include "shared/core/clock.h"
#include "shared/runtime/loop.h"
#include "shared/runtime/task_core.h"

namespace mandrill::runtime {

class [[nodiscard]] SleepAwaiter : private detail::Checkpoint, private detail::TimerNode {
 public:
  explicit SleepAwaiter(TimePoint when) : when_(when) {}
  SleepAwaiter(const SleepAwaiter&) = delete;
  SleepAwaiter& operator=(const SleepAwaiter&) = delete;
  ~SleepAwaiter() {
    if (armed()) detail::LoopInternals::Timers(*self_->loop()).Cancel(this);
  }

  bool await_ready() { return EnterCheckpoint(); }
  void await_suspend(std::coroutine_handle<> h) {
    fire = &SleepAwaiter::Fire;
    detail::LoopInternals::Timers(*self_->loop()).Add(this, when_);
    self_->Suspend(this, h);
  }
  void await_resume() const { LeaveCheckpoint(); }

 private:
  void Interrupt() override {
    detail::LoopInternals::Timers(*self_->loop()).Cancel(this);
    WakeCancelled();
  }
  const char* WaitingOn() const override { return "sleep"; }
  static void Fire(detail::TimerNode* node) {
    static_cast<SleepAwaiter*>(node)->self_->Resume();
  }

  TimePoint when_;
};

// Suspends until `when` on the loop clock (a time in the past still yields once).
inline SleepAwaiter SleepUntil(TimePoint when) { return SleepAwaiter(when); }
// Suspends for `delay` on the loop clock.
inline SleepAwaiter Sleep(Duration delay) {
  return SleepAwaiter(detail::CurrentTask()->loop()->Now() + delay);
}

// Lets every other ready task run once, then continues. A cancellation checkpoint.
class [[nodiscard]] YieldAwaiter : private detail::Checkpoint {
 public:
  bool await_ready() { return EnterCheckpoint(); }
  void await_suspend(std::coroutine_handle<> h) {
    self_->Suspend(this, h);
    self_->Resume();
  }
  void await_resume() const { LeaveCheckpoint(); }

 private:
  void Interrupt() override {}
  const char* WaitingOn() const override { return "yield"; }
};
inline YieldAwaiter Yield() { return {}; }

}  // namespace mandrill::runtime
