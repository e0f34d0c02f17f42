// Sleep, SleepUntil, Yield: the basic awaitables (asyncio.sleep, trio.sleep, checkpoint).
//
// All are cancellation checkpoints: inside a cancelled scope they raise Cancelled at once, and a
// cancellation that arrives while sleeping wakes the task with Cancelled. Times are on the
// loop's clock (virtual in tests). Loop thread, inside a task.
#pragma once

#include <coroutine>

#include "shared/runtime/clock.h"
#include "shared/runtime/loop.h"
#include "shared/runtime/task_core.h"

namespace mandrill::runtime {

class [[nodiscard]] SleepAwaiter : private detail::Waiter, private detail::TimerNode {
 public:
  explicit SleepAwaiter(TimePoint when) : when_(when) {}
  SleepAwaiter(const SleepAwaiter&) = delete;
  SleepAwaiter& operator=(const SleepAwaiter&) = delete;
  ~SleepAwaiter() {
    if (armed()) detail::LoopInternals::Timers(*self_->loop()).Cancel(this);
  }

  bool await_ready() {
    self_ = detail::CurrentTask();
    if (self_->CancelPending()) {
      interrupted_ = true;
      return true;
    }
    return false;
  }
  void await_suspend(std::coroutine_handle<> h) {
    fire = &SleepAwaiter::Fire;
    detail::LoopInternals::Timers(*self_->loop()).Add(this, when_);
    self_->Suspend(this, h);
  }
  void await_resume() const {
    if (interrupted_) throw Cancelled{};
  }

 private:
  void Interrupt() override {
    detail::LoopInternals::Timers(*self_->loop()).Cancel(this);
    interrupted_ = true;
    self_->Resume();
  }
  const char* WaitingOn() const override { return "sleep"; }
  static void Fire(detail::TimerNode* node) {
    static_cast<SleepAwaiter*>(node)->self_->Resume();
  }

  TimePoint when_;
  detail::TaskCore* self_ = nullptr;
  bool interrupted_ = false;
};

// Suspends until `when` on the loop clock (a time in the past still yields once).
inline SleepAwaiter SleepUntil(TimePoint when) { return SleepAwaiter(when); }
// Suspends for `delay` on the loop clock.
inline SleepAwaiter Sleep(Duration delay) {
  return SleepAwaiter(detail::CurrentTask()->loop()->Now() + delay);
}

// Lets every other ready task run once, then continues. A cancellation checkpoint.
class [[nodiscard]] YieldAwaiter : private detail::Waiter {
 public:
  bool await_ready() {
    self_ = detail::CurrentTask();
    return cancelled_ = self_->CancelPending();
  }
  void await_suspend(std::coroutine_handle<> h) {
    self_->Suspend(this, h);
    self_->Resume();
  }
  void await_resume() const {
    if (cancelled_) throw Cancelled{};
  }

 private:
  void Interrupt() override {}
  const char* WaitingOn() const override { return "yield"; }
  detail::TaskCore* self_ = nullptr;
  bool cancelled_ = false;
};
inline YieldAwaiter Yield() { return {}; }

}  // namespace mandrill::runtime
