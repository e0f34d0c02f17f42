// CancelScope: Trio-style cancellation.
//
// Scopes form a tree: a scope entered by a task hangs under the task's current scope, and a
// supervisor's scope (the parent of its children's scopes) hangs under the scope current where
// the supervisor was created. Cancelling a scope cancels everything below it except what sits
// behind a shield. Cancellation is level-triggered: once a scope is cancelled, the await a task
// inside it is suspended in raises Cancelled, and so does every later await inside it, so a stray
// catch cannot swallow it for good.
//
// When a Cancelled leaves Run(), the scope absorbs it if this scope was cancelled and no
// enclosing scope visible from here (i.e. not behind a shield) is cancelled too; otherwise it
// propagates to the outermost cancelled scope, which absorbs it. So only the scope whose own
// cancellation (or deadline) fired turns it into a result.
//
// A deadline is an absolute time on the loop's clock; when it passes the scope cancels itself and
// DeadlineFired() becomes true. A nested scope can never extend an enclosing deadline, because
// the enclosing scope cancels the nested one when its own deadline passes.
//
// Threading: loop thread only. A scope is entered at most once and must outlive the Run() that
// entered it (it normally lives in the awaiting coroutine's frame).
#pragma once

#include <optional>

#include "shared/core/clock.h"
#include "shared/runtime/timer_queue.h"

namespace mandrill::runtime {

class Loop;
class Supervisor;
template <class T>
class Task;

namespace detail {
class TaskCore;
template <class T>
struct ScopeResult {
  using type = std::optional<T>;
};
template <>
struct ScopeResult<void> {
  using type = bool;
};
}  // namespace detail

class CancelScope {
 public:
  CancelScope() = default;
  explicit CancelScope(TimePoint deadline) : deadline_(deadline) {}
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;
  ~CancelScope();

  // Runs `body` inside this scope (the current task enters it for the duration). Returns the
  // body's value (true for void) if it finished, or nullopt (false) if this scope absorbed a
  // cancellation addressed to it. Other exceptions, and Cancelled addressed to an enclosing
  // scope, propagate. Defined in task.h.
  template <class T>
  Task<typename detail::ScopeResult<T>::type> Run(Task<T> body);

  // Idempotent. Wakes every task waiting inside the scope (not behind a shield) with Cancelled.
  void Cancel();
  // Moves the deadline (earlier or later). kNoDeadline removes it.
  void SetDeadline(TimePoint deadline);
  void SetRelativeDeadline(Duration from_now);
  // A shield scope hides the cancellation of enclosing scopes from what runs inside it; its own
  // Cancel() and deadline still apply. Give cleanup shields a deadline.
  void SetShield(bool shield);

  bool CancelCalled() const { return cancel_called_; }
  // True after Run() absorbed a cancellation addressed to this scope.
  bool CancelledCaught() const { return cancelled_caught_; }
  // True if the cancellation came from this scope's own deadline.
  bool DeadlineFired() const { return deadline_fired_; }
  TimePoint Deadline() const { return deadline_; }
  bool shield() const { return shield_; }
  // This scope or an enclosing one visible from it is cancelled.
  bool EffectivelyCancelled() const {
    for (const CancelScope* s = this; s != nullptr; s = s->parent_) {
      if (s->cancel_called_) return true;
      if (s->shield_) return false;
    }
    return false;
  }
  // The earliest deadline that applies here (own or enclosing, up to a shield).
  TimePoint EffectiveDeadline() const;

 private:
  friend class detail::TaskCore;
  friend class Supervisor;
  friend class Loop;
  friend struct ScopeEntry;

  struct DeadlineTimer : detail::TimerNode {
    CancelScope* scope = nullptr;
  };

  // Makes this scope the innermost scope of `owner` (which must be the running task).
  void Enter(detail::TaskCore* owner);
  void Exit();
  // Hangs a container scope (a supervisor's) under `parent` (may be null: a root).
  void Attach(CancelScope* parent, Loop* loop);
  void Detach() {
    if (attached_) DetachAttached();
  }
  void DetachAttached();
  void ArmDeadline();
  void DeliverCancellation();
  bool ShouldAbsorb() const {
    return cancel_called_ && (shield_ || parent_ == nullptr || !parent_->EffectivelyCancelled());
  }
  static void OnDeadline(detail::TimerNode* node);

  CancelScope* parent_ = nullptr;
  CancelScope* first_child_ = nullptr;
  CancelScope* prev_sibling_ = nullptr;
  CancelScope* next_sibling_ = nullptr;
  CancelScope* saved_current_ = nullptr;  // owner's innermost scope before Enter
  detail::TaskCore* owner_ = nullptr;     // task that entered it; null for containers
  Loop* loop_ = nullptr;
  TimePoint deadline_ = kNoDeadline;
  DeadlineTimer timer_;
  bool attached_ = false;
  bool used_ = false;
  bool cancel_called_ = false;
  bool cancelled_caught_ = false;
  bool deadline_fired_ = false;
  bool shield_ = false;
};

// Convenience for code that only wants to know: is the current task cancelled (would its next
// await raise)? Loop thread, inside a task.
bool CancelRequested();
// The deadline that applies to the current task's innermost scope, or kNoDeadline.
TimePoint CurrentDeadline();

}  // namespace mandrill::runtime
