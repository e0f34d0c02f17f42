// TaskHandle: a reference to a spawned task, returned by Supervisor::Spawn.
//
// The supervisor owns the task; a handle only observes and controls it. Handles are cheap to
// copy, loop-thread only, and may outlive the task (state() stays final) but not the Loop.
#pragma once

#include <cassert>
#include <coroutine>
#include <string>
#include <utility>

#include "shared/runtime/errors.h"
#include "shared/runtime/task_core.h"

namespace mandrill::runtime {

// Awaitable: waits until the task's frame has been destroyed and returns its final state.
// From Join(): cancellation of the waiting task stops the wait (raises Cancelled).
// From Cancel(): not interruptible — it returns only once the task has really finished, then
// raises Cancelled if the waiting task was itself cancelled meanwhile.
class JoinAwaiter : private detail::Waiter {
 public:
  JoinAwaiter(detail::TaskCore* target, bool interruptible)
      : target_(target), interruptible_(interruptible) {
    target_->AddRef();
  }
  JoinAwaiter(JoinAwaiter&& other) noexcept
      : target_(std::exchange(other.target_, nullptr)), interruptible_(other.interruptible_) {}
  JoinAwaiter(const JoinAwaiter&) = delete;
  JoinAwaiter& operator=(const JoinAwaiter&) = delete;
  ~JoinAwaiter() {
    if (target_ == nullptr) return;
    target_->RemoveJoiner(&node_);
    target_->Release();
  }

  bool await_ready() {
    self_ = detail::CurrentTask();
    assert(self_ != nullptr && "co_await of a JoinAwaiter outside a runtime task");
    assert(self_ != target_ && "a task cannot wait for itself");
    if (target_->finished()) return true;
    if (interruptible_ && self_->CancelPending()) {
      interrupted_ = true;
      return true;
    }
    return false;
  }
  void await_suspend(std::coroutine_handle<> h) {
    node_.waiter = self_;
    target_->AddJoiner(&node_);
    self_->Suspend(this, h);
  }
  TaskState await_resume() {
    if (interrupted_ || (!interruptible_ && self_->CancelPending())) throw Cancelled{};
    return target_->state();
  }

 private:
  void Interrupt() override {
    if (!interruptible_) return;  // keep waiting; the target finishing resumes us
    target_->RemoveJoiner(&node_);
    interrupted_ = true;
    self_->Resume();
  }
  const char* WaitingOn() const override { return "join"; }

  detail::TaskCore* target_;
  detail::TaskCore* self_ = nullptr;
  detail::JoinNode node_;
  bool interruptible_;
  bool interrupted_ = false;
};

class TaskHandle {
 public:
  TaskHandle() = default;
  explicit TaskHandle(detail::TaskCore* core) : core_(core) {
    if (core_ != nullptr) core_->AddRef();
  }
  TaskHandle(const TaskHandle& other) : TaskHandle(other.core_) {}
  TaskHandle(TaskHandle&& other) noexcept : core_(std::exchange(other.core_, nullptr)) {}
  TaskHandle& operator=(TaskHandle other) noexcept {
    std::swap(core_, other.core_);
    return *this;
  }
  ~TaskHandle() {
    if (core_ != nullptr) core_->Release();
  }

  // False for a handle that refers to no task (e.g. Spawn on a closed supervisor).
  explicit operator bool() const { return core_ != nullptr; }
  std::uint64_t id() const { return core_->id(); }
  const std::string& name() const { return core_->name(); }
  TaskState state() const { return core_->state(); }
  bool done() const { return core_->finished(); }

  // Requests cancellation now (idempotent). co_await the result to wait until the task's frame
  // has really finished; a task still running loop.options().straggler_threshold after this is
  // reported as a straggler.
  JoinAwaiter Cancel() const {
    core_->RequestCancel();
    return JoinAwaiter(core_, /*interruptible=*/false);
  }
  // Waits for the task to end, whatever way; returns its final state.
  JoinAwaiter Join() const { return JoinAwaiter(core_, /*interruptible=*/true); }

 private:
  detail::TaskCore* core_ = nullptr;
};

}  // namespace mandrill::runtime
