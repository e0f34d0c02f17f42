// Supervisor: the nursery every task lives in (aiotools Supervisor, Trio nursery, Erlang/OTP
// supervisor).
//
// Nothing is spawned detached: every child is retained by its supervisor until it ends, and its
// outcome is retrieved — an exception always reaches the supervisor's failure handler (default:
// logged with the supervisor's and the child's name) and is counted. One child's failure does
// not touch its siblings unless the strategy says so.
//
// Children:
//  - Spawn(name, task): a temporary child (per-message work): runs once; failure is reported and
//    forgotten.
//  - Spawn(name, factory, spec): a child the supervisor can restart by calling factory() again:
//    temporary (never), transient (after a failure), permanent (after any exit that was not a
//    cancellation), with exponential backoff. Restarts follow the strategy (one_for_one,
//    one_for_all, rest_for_one, as in OTP), and more than max_restarts within restart_window
//    escalates: the supervisor fails, cancels every child, and Join() throws SupervisorFailed.
//
// Lifetime: a supervisor's cancel scope hangs under the scope current where it was constructed,
// so cancelling that task cancels the children. It must be joined (co_await Join()) before it is
// destroyed; destroying one with live children aborts the process (outside loop teardown) —
// the structured-concurrency guarantee that no child outlives its scope.
//
// Threading: loop thread only. Shutdown() may be called from any task or from a loop-thread
// callback (e.g. a signal event); from another thread, Post it.
#pragma once

#include <cassert>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "shared/runtime/cancel_scope.h"
#include "shared/core/clock.h"
#include "shared/core/intrusive_list.h"
#include "shared/runtime/loop.h"
#include "shared/runtime/task.h"
#include "shared/runtime/task_core.h"
#include "shared/runtime/task_handle.h"

namespace mandrill::runtime {

enum class Restart { kTemporary, kTransient, kPermanent };
enum class Strategy { kOneForOne, kOneForAll, kRestForOne };

struct ChildSpec {
  Restart restart = Restart::kPermanent;
  // Delay before restart n (n counts consecutive failures): initial * factor^(n-1), capped.
  Duration backoff_initial = std::chrono::milliseconds(100);
  Duration backoff_max = std::chrono::seconds(10);
  double backoff_factor = 2.0;
  // A child that ran at least this long before exiting starts its backoff over.
  Duration backoff_reset_after = std::chrono::seconds(30);
};

struct ChildFailure {
  const std::string& supervisor;
  const std::string& child;
  std::exception_ptr error;
};
using FailureHandler = std::function<void(const ChildFailure&)>;

struct SupervisorOptions {
  Strategy strategy = Strategy::kOneForOne;
  // Restart intensity: more than max_restarts restarts within restart_window escalates.
  int max_restarts = 3;
  Duration restart_window = std::chrono::seconds(5);
  // Called on the loop thread for every child failure (after it is counted). Null: log it.
  FailureHandler on_failure;
};

struct SupervisorStats {
  std::uint64_t spawned = 0;
  std::uint64_t failures = 0;   // children that ended with an exception
  std::uint64_t restarts = 0;
  std::uint64_t cancelled = 0;  // children that ended by cancellation
  std::uint64_t refused = 0;    // spawns refused because the supervisor was closed
};

class Supervisor : private detail::TaskOwner {
 public:
  // On the loop thread (inside or outside a task); the scope hangs under the current task's
  // innermost scope, or is a root when called outside a task.
  explicit Supervisor(std::string name, SupervisorOptions options = {});
  // Any thread before the loop runs, or the loop thread.
  Supervisor(Loop& loop, std::string name, SupervisorOptions options = {});
  virtual ~Supervisor();  // TaskGroup derives; Loop owns its root through unique_ptr<Supervisor>
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // A temporary child. Returns an empty handle (and drops `task` unstarted) if the supervisor
  // is no longer open (shutting down, failed or joined).
  TaskHandle Spawn(std::string name, Task<void> task);
  // A restartable child; `factory` is called now and for every restart.
  TaskHandle Spawn(std::string name, std::function<Task<void>()> factory, ChildSpec spec = {});

  // Graceful stop (idempotent): refuse new spawns and restarts; let temporary children finish
  // within `grace`, then cancel those left; once they have ended, stop long-lived children one by
  // one in reverse start order. Tasks that outlive their cancellation are reported as
  // stragglers. Join() returns when everything has ended.
  void Shutdown(Duration grace);
  // Cancels every child now (no grace) and closes the supervisor.
  void CancelAll();

  // co_await Join(): waits until no child is alive and no restart is pending, then closes the
  // supervisor. If the waiting task is cancelled, the children are cancelled and Join still
  // waits for them (the scope ends only when every child has ended), then raises Cancelled.
  // Throws SupervisorFailed after an escalation, or (TaskGroup) the first child failure.
  class JoinAwaitable;
  JoinAwaitable Join();

  bool open() const { return phase_ == Phase::kOpen; }
  std::size_t live_children() const { return temporaries_.size() + running_slots_; }
  const SupervisorStats& stats() const { return stats_; }
  const std::string& name() const { return name_; }
  Loop& loop() const { return *loop_; }

 protected:
  // TaskGroup flavour: the first failure cancels the siblings and is rethrown by Join().
  Supervisor(std::string name, SupervisorOptions options, bool fail_fast);

 private:
  friend class Loop;
  struct Slot;
  enum class Phase { kOpen, kDraining, kStopping, kFailed, kClosed };

  detail::TaskCore* StartCore(std::string&& name, Task<void>&& task);
  void StartSlot(Slot* slot);
  void OnTaskExit(detail::TaskCore* task) override;
  void OnSlotExit(Slot* slot, TaskState state, std::exception_ptr error);
  void HandleFailure(const std::string& child, const std::exception_ptr& error);
  void ReportFailure(const std::string& child, const std::exception_ptr& error);
  bool RecordRestart();
  void RestartAfterBackoff(std::vector<Slot*> group, Slot* failed);
  void Escalate(const std::string& child, std::exception_ptr cause);
  void CancelPendingRestarts();
  void CancelEverything();
  void StopNextLongLived();
  void Advance();
  bool Idle() const;
  Duration BackoffFor(const Slot* slot) const;

  Loop* loop_;
  std::string name_;
  SupervisorOptions options_;
  bool fail_fast_ = false;
  Phase phase_ = Phase::kOpen;
  CancelScope scope_;
  core::IntrusiveList<detail::TaskCore, detail::OwnerHook> temporaries_;
  std::vector<std::unique_ptr<Slot>> slots_;  // long-lived children in start order
  std::size_t running_slots_ = 0;
  std::size_t pending_restarts_ = 0;  // slots waiting for their backoff
  std::size_t group_stopping_ = 0;    // siblings being stopped for a one_for_all/rest_for_one
  std::vector<Slot*> group_restart_;  // restarted together once group_stopping_ reaches 0
  Slot* group_failed_ = nullptr;
  Slot* stopping_slot_ = nullptr;     // long-lived child being stopped by Shutdown
  std::deque<TimePoint> restart_times_;
  std::exception_ptr failure_;  // escalation (SupervisorFailed) or the TaskGroup's first error
  std::uint64_t next_seq_ = 0;
  core::IntrusiveList<detail::JoinNode> joiners_;
  Timer grace_timer_;
  SupervisorStats stats_;
};

class [[nodiscard]] Supervisor::JoinAwaitable : private detail::Waiter {
 public:
  explicit JoinAwaitable(Supervisor* sup) : sup_(sup) {}
  JoinAwaitable(JoinAwaitable&& other) noexcept : sup_(other.sup_) {}
  JoinAwaitable(const JoinAwaitable&) = delete;
  JoinAwaitable& operator=(const JoinAwaitable&) = delete;
  ~JoinAwaitable() { sup_->joiners_.Remove(&node_); }

  bool await_ready() {
    self_ = detail::CurrentTask();
    assert(self_ != nullptr && "Supervisor::Join outside a runtime task");
    return sup_->Idle();
  }
  void await_suspend(std::coroutine_handle<> h) {
    node_.waiter = self_;
    sup_->joiners_.PushBack(&node_);
    self_->Suspend(this, h);
    if (self_->CancelPending()) sup_->CancelAll();
  }
  void await_resume() {
    if (sup_->phase_ != Phase::kFailed) sup_->phase_ = Phase::kClosed;
    if (sup_->failure_) std::rethrow_exception(sup_->failure_);
    if (self_->CancelPending()) throw Cancelled{};
  }

 private:
  // The joining task was cancelled: cancel the children and keep waiting for them.
  void Interrupt() override { sup_->CancelAll(); }
  const char* WaitingOn() const override { return "supervisor join"; }

  Supervisor* sup_;
  detail::TaskCore* self_ = nullptr;
  detail::JoinNode node_;
};

// TaskGroup (asyncio.TaskGroup, Trio nursery): all-or-nothing work. The first child failure
// cancels the siblings and Join() rethrows it (later failures go to the failure handler).
class TaskGroup : public Supervisor {
 public:
  explicit TaskGroup(std::string name = "task-group", SupervisorOptions options = {})
      : Supervisor(std::move(name), std::move(options), /*fail_fast=*/true) {}
  using Supervisor::Spawn;
};

}  // namespace mandrill::runtime
