#include "shared/runtime/task_core.h"

#include <spdlog/spdlog.h>

#include <cassert>
#include <chrono>

#include "shared/runtime/errors.h"
#include "shared/runtime/loop.h"

namespace mandrill::runtime {

const char* ToString(TaskState state) {
  switch (state) {
    case TaskState::kScheduled:
      return "scheduled";
    case TaskState::kRunning:
      return "running";
    case TaskState::kSuspended:
      return "suspended";
    case TaskState::kDone:
      return "done";
    case TaskState::kFailed:
      return "failed";
    case TaskState::kCancelled:
      return "cancelled";
  }
  return "?";
}

namespace detail {

TaskCore::TaskCore(Loop* loop, std::string&& name, std::coroutine_handle<> root,
                   PromiseBase* promise, TaskOwner* owner, CancelScope* parent_scope)
    : loop_(loop),
      name_(std::move(name)),
      created_(LoopInternals::IterationTime(*loop)),
      root_(root),
      promise_(promise),
      owner_(owner) {
  root_scope_.owner_ = this;
  root_scope_.Attach(parent_scope, loop);
  straggler_timer_.task = this;
  straggler_timer_.fire = &TaskCore::OnStraggler;
  LoopInternals::Register(*loop_, this);
  id_ = LoopInternals::Stats(*loop_).tasks_spawned;  // Register counted it
}

TaskCore::~TaskCore() {
  assert(!root_ && "TaskCore freed while its frame is alive");
  // After Finish() (a task that ran to its end) each of these is an inline no-op check.
  LoopInternals::Timers(*loop_).Cancel(&straggler_timer_);
  LoopInternals::Unregister(*loop_, this);
  root_scope_.Detach();
}

void TaskCore::Start() {
  assert(!started_);
  started_ = true;
  resume_ = root_;
  state_ = TaskState::kScheduled;
  LoopInternals::Schedule(*loop_, this);
}

void TaskCore::Resume() {
  assert(state_ == TaskState::kSuspended && "Resume of a task that is not suspended");
  waiter_ = nullptr;
  state_ = TaskState::kScheduled;
  LoopInternals::Schedule(*loop_, this);
}

void TaskCore::RequestCancel() {
  if (finished()) return;
  if (!cancel_requested_) {
    cancel_requested_ = true;
    Duration threshold = loop_->options().straggler_threshold;
    if (threshold > Duration::zero()) {
      LoopInternals::Timers(*loop_).Add(&straggler_timer_, loop_->Now() + threshold);
    }
  }
  root_scope_.Cancel();
}

void TaskCore::OnStraggler(TimerNode* node) {
  TaskCore* task = static_cast<StragglerTimer*>(node)->task;
  if (task->finished()) return;
  ++LoopInternals::Stats(*task->loop_).stragglers;
  auto age = std::chrono::duration_cast<std::chrono::milliseconds>(task->loop_->Now() -
                                                                   task->created_);
  spdlog::warn("loop '{}': task '{}' (#{}) is still running {} ms after its cancellation "
               "(state {}, waiting on {}, age {} ms): it ignores cancellation",
               task->loop_->name(), task->name_, task->id_,
               std::chrono::duration_cast<std::chrono::milliseconds>(
                   task->loop_->options().straggler_threshold)
                   .count(),
               ToString(task->state_), task->waiting_on(), age.count());
}

void TaskCore::OnCancelStatusChanged() {
  if (waiter_ != nullptr && CancelPending()) {
    Waiter* w = waiter_;
    w->Interrupt();
  }
}

const char* TaskCore::waiting_on() const {
  if (waiter_ != nullptr) return waiter_->WaitingOn();
  return state_ == TaskState::kSuspended ? "unknown awaitable" : "-";
}

void TaskCore::RunStep() {
  assert(state_ == TaskState::kScheduled);
  TaskCore* previous = tls_current_task;
  tls_current_task = this;
  state_ = TaskState::kRunning;
  std::coroutine_handle<> h = std::exchange(resume_, nullptr);
  // The trampoline: nested awaits and returns hand the next coroutine over in next_.
  while (h) {
    h.resume();
    h = std::exchange(next_, nullptr);
  }
  tls_current_task = previous;
  if (root_done_) {
    Finish();
    return;
  }
  if (state_ == TaskState::kRunning) {
    // The task suspended on an awaitable that did not register with the runtime: nothing
    // would ever resume it. This is a programming error.
    spdlog::critical("loop '{}': task '{}' suspended on an awaitable that is not part of the "
                     "runtime; it can never resume",
                     loop_->name(), name_);
    assert(false && "task suspended on a foreign awaitable");
    state_ = TaskState::kSuspended;
  }
}

void TaskCore::Finish() {
  error_ = promise_->exception;
  root_.destroy();  // the frame has really finished before anyone is told
  root_ = nullptr;
  LoopStats& stats = LoopInternals::Stats(*loop_);
  if (!error_) {
    state_ = TaskState::kDone;
  } else if (IsCancelled(error_)) {
    if (root_scope_.EffectivelyCancelled()) {
      state_ = TaskState::kCancelled;
      error_ = nullptr;
      ++stats.tasks_cancelled;
    } else {
      // Someone threw Cancelled by hand (or a scope bug): that is a failure, not a cancellation.
      state_ = TaskState::kFailed;
      error_ = std::make_exception_ptr(std::logic_error(
          "Cancelled escaped task '" + name_ + "', which was not cancelled"));
      ++stats.tasks_failed;
    }
  } else {
    state_ = TaskState::kFailed;
    ++stats.tasks_failed;
  }
  LoopInternals::Timers(*loop_).Cancel(&straggler_timer_);
  LoopInternals::Unregister(*loop_, this);
  root_scope_.Detach();
  while (JoinNode* node = joiners_.PopFront()) node->waiter->Resume();
  owner_->OnTaskExit(this);  // may free this
}

void TaskCore::DestroyFrame() {
  if (!root_) return;
  TaskCore* previous = tls_current_task;
  tls_current_task = this;
  waiter_ = nullptr;
  root_.destroy();
  root_ = nullptr;
  tls_current_task = previous;
  state_ = TaskState::kCancelled;
  LoopInternals::Timers(*loop_).Cancel(&straggler_timer_);
  LoopInternals::Unregister(*loop_, this);
  while (joiners_.PopFront() != nullptr) {
  }
}

}  // namespace detail
}  // namespace mandrill::runtime
