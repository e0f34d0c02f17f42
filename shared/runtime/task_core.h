// TaskCore: the runtime's unit of scheduling (asyncio's Task, Trio's task), internal.
//
// A TaskCore owns the root coroutine frame of one spawned task and drives it. Everything awaited
// inside (nested Task<T>s) runs on the same TaskCore: a nested await hands its coroutine to the
// core's trampoline (next_) instead of calling it, so awaits never grow the C++ stack.
//
// Ownership: reference counted (loop thread only). The owner (a supervisor) holds one reference
// until OnTaskExit has run; each TaskHandle holds one.
#pragma once

#include <coroutine>
#include <cstdint>
#include <exception>
#include <string>

#include "shared/core/clock.h"
#include "shared/core/intrusive_list.h"
#include "shared/runtime/cancel_scope.h"
#include "shared/runtime/errors.h"
#include "shared/runtime/frame_pool.h"
#include "shared/runtime/timer_queue.h"

namespace mandrill::runtime {

class Loop;

enum class TaskState : std::uint8_t {
  kScheduled,  // in the ready queue
  kRunning,    // on the loop thread right now
  kSuspended,  // waiting (see TaskInfo::waiting_on)
  kDone,       // returned
  kFailed,     // ended with an exception (delivered to its owner)
  kCancelled,  // ended by cancellation
};
const char* ToString(TaskState state);

namespace detail {

class TaskCore;

inline constinit thread_local TaskCore* tls_current_task = nullptr;
inline TaskCore* CurrentTask() { return tls_current_task; }

// Whatever a task is suspended on. Interrupt() is called on the loop thread when the task's
// cancellation became effective while it waits: the waiter must detach from its event source
// and call TaskCore::Resume() — never run user code inline. After the waiter has called Resume
// (for any reason) it is no longer registered and is not interrupted again.
class Waiter {
 public:
  virtual void Interrupt() = 0;
  virtual const char* WaitingOn() const = 0;

 protected:
  ~Waiter() = default;
};

class TaskOwner {
 public:
  // Called once when the task's frame has been destroyed; state() and error() tell the outcome.
  virtual void OnTaskExit(TaskCore* task) = 0;

 protected:
  ~TaskOwner() = default;
};

struct PromiseBase {
  std::coroutine_handle<> continuation;  // null for a task's root coroutine
  std::exception_ptr exception;
  // Awaiting this coroutine is not a cancellation checkpoint (entering a scope, shielded
  // cleanup, ExitStack::Close): what it awaits inside decides.
  bool no_checkpoint = false;
};

// Someone waiting for a task to end (TaskHandle::Join / Cancel).
struct JoinNode : core::ListHook {
  TaskCore* waiter = nullptr;
};

struct LiveHook : core::ListHook {};   // the loop's list of live tasks
struct OwnerHook : core::ListHook {};  // the owner's list of its children

class TaskCore : public LiveHook, public OwnerHook {
 public:
  // Takes ownership of the root frame `root` (whose promise is `promise`). The task enters
  // `parent_scope` (its root scope hangs under it). Starts unscheduled; call Start().
  TaskCore(Loop* loop, std::string&& name, std::coroutine_handle<> root, PromiseBase* promise,
           TaskOwner* owner, CancelScope* parent_scope);
  TaskCore(const TaskCore&) = delete;
  TaskCore& operator=(const TaskCore&) = delete;
  static void* operator new(std::size_t size) { return AllocateBlock(size); }
  static void operator delete(void* p, std::size_t size) noexcept { DeallocateBlock(p, size); }

  void AddRef() { ++refs_; }
  void Release() {
    if (--refs_ == 0) delete this;
  }

  void Start();
  // Called by an awaiter's await_suspend: the task waits on `w` and continues at `h`.
  void Suspend(Waiter* w, std::coroutine_handle<> h) {
    waiter_ = w;
    resume_ = h;
    state_ = TaskState::kSuspended;
  }
  // Called when what the task waits on happened (or was interrupted): schedules it.
  void Resume();
  // Cancels the task's root scope and starts the straggler clock. Idempotent.
  void RequestCancel();
  // Called by CancelScope when a scope this task is inside became cancelled.
  void OnCancelStatusChanged();
  bool CancelPending() const { return current_scope_->EffectivelyCancelled(); }

  // Loop internals.
  void RunStep();
  // Destroys a suspended frame without running it further (loop teardown).
  void DestroyFrame();

  std::uint64_t id() const { return id_; }
  const std::string& name() const { return name_; }
  TaskState state() const { return state_; }
  bool finished() const {
    return state_ == TaskState::kDone || state_ == TaskState::kFailed ||
           state_ == TaskState::kCancelled;
  }
  bool has_frame() const { return static_cast<bool>(root_); }
  const std::exception_ptr& error() const { return error_; }
  TimePoint created() const { return created_; }
  bool cancel_requested() const { return cancel_requested_; }
  const char* waiting_on() const;
  Loop* loop() const { return loop_; }
  CancelScope* current_scope() const { return current_scope_; }
  void AddJoiner(JoinNode* node) { joiners_.PushBack(node); }
  void RemoveJoiner(JoinNode* node) { joiners_.Remove(node); }

  // Trampoline slots used by Task<T>'s awaiters.
  std::coroutine_handle<> next_;
  bool root_done_ = false;
  // Sequence number among its owner's children (supervisor bookkeeping).
  std::uint64_t seq_ = 0;
  void* owner_data_ = nullptr;

 private:
  friend class mandrill::runtime::CancelScope;
  struct StragglerTimer : TimerNode {
    TaskCore* task = nullptr;
  };
  ~TaskCore();
  void Finish();
  static void OnStraggler(TimerNode* node);

  Loop* loop_;
  std::uint64_t id_;
  std::string name_;
  TimePoint created_;
  std::coroutine_handle<> root_;
  PromiseBase* promise_;
  TaskOwner* owner_;
  CancelScope root_scope_;
  CancelScope* current_scope_ = &root_scope_;
  std::coroutine_handle<> resume_;
  Waiter* waiter_ = nullptr;
  std::exception_ptr error_;
  core::IntrusiveList<JoinNode> joiners_;
  StragglerTimer straggler_timer_;
  std::uint32_t refs_ = 1;  // the owner's
  TaskState state_ = TaskState::kScheduled;
  bool cancel_requested_ = false;
  bool started_ = false;
};

// The cancellation checkpoint every suspending awaiter is, written once: an awaiter derives
// from Checkpoint instead of Waiter, starts await_ready with EnterCheckpoint() (true: the task
// is already cancelled, complete at once), ends its Interrupt() with WakeCancelled() once it
// has detached from its event source, and starts await_resume with LeaveCheckpoint(), which
// raises Cancelled if either happened.
class Checkpoint : public Waiter {
 protected:
  ~Checkpoint() = default;
  bool EnterCheckpoint() {
    self_ = CurrentTask();
    interrupted_ = self_->CancelPending();
    return interrupted_;
  }
  void WakeCancelled() {
    interrupted_ = true;
    self_->Resume();
  }
  void LeaveCheckpoint() const {
    if (interrupted_) throw Cancelled{};
  }

  TaskCore* self_ = nullptr;
  bool interrupted_ = false;
};

}  // namespace detail
}  // namespace mandrill::runtime
