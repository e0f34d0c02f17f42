// Timeouts and shields (asyncio.timeout / wait_for, Trio fail_after / move_on_after / shield).
//
// Timeout(d, work) runs `work` in a fresh CancelScope whose deadline is now + d. Deadlines nest:
// an inner Timeout can never extend an outer budget (the outer scope cancels everything inside
// when its own deadline passes). Only the scope whose own deadline fired turns the cancellation
// into TimeoutError for its caller; a cancellation addressed to an enclosing scope (an outer
// deadline, a cancelled task, a supervisor shutdown) propagates as Cancelled, even if this
// scope's deadline also passed meanwhile. If `work` finishes with a value despite the deadline
// (it caught Cancelled and returned), the value is returned: the work got done.
//
// Loop thread, inside a task.
#pragma once

#include <optional>
#include <string>
#include <type_traits>

#include "shared/runtime/cancel_scope.h"
#include "shared/runtime/errors.h"
#include "shared/runtime/loop.h"
#include "shared/runtime/task.h"

namespace mandrill::runtime {

namespace detail {
inline std::string TimeoutMessage(const char* what, Duration budget) {
  return std::string(what) + " after " +
         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(budget).count()) +
         " ms";
}

template <class T>
Task<T> RunWithDeadline(TimePoint deadline, bool shield, Task<T> work) {
  CancelScope scope(deadline);
  scope.SetShield(shield);
  Duration budget = deadline - CurrentTask()->loop()->Now();
  auto result = co_await scope.Run(std::move(work));
  if constexpr (std::is_void_v<T>) {
    if (!result) throw TimeoutError(TimeoutMessage(shield ? "shielded work timed out" : "timed out", budget));
  } else {
    if (!result) throw TimeoutError(TimeoutMessage(shield ? "shielded work timed out" : "timed out", budget));
    co_return std::move(*result);
  }
}
}  // namespace detail

// Raises TimeoutError if `work` is still running when `deadline` (loop clock) passes.
template <class T>
Task<T> TimeoutAt(TimePoint deadline, Task<T> work) {
  return detail::RunWithDeadline(deadline, /*shield=*/false, std::move(work));
}

template <class T>
Task<T> Timeout(Duration budget, Task<T> work) {
  return TimeoutAt(detail::CurrentTask()->loop()->Now() + budget, std::move(work));
}

// Trio's move_on_after: nullopt (false for void) instead of TimeoutError.
template <class T>
Task<typename detail::ScopeResult<T>::type> MoveOnAfter(Duration budget, Task<T> work);

namespace detail {
template <class T>
Task<typename ScopeResult<T>::type> MoveOnAt(TimePoint deadline, Task<T> work) {
  CancelScope scope(deadline);
  co_return co_await scope.Run(std::move(work));
}
}  // namespace detail

template <class T>
Task<typename detail::ScopeResult<T>::type> MoveOnAfter(Duration budget, Task<T> work) {
  return detail::MoveOnAt(detail::CurrentTask()->loop()->Now() + budget, std::move(work));
}

// Runs cleanup that must await even though the task is cancelled: `work` runs behind a shield
// (enclosing cancellation is invisible to it) with its own budget, after which it is cancelled
// and TimeoutError is raised. Awaiting Shielded() is not a checkpoint. After it returns, the
// task's pending cancellation (if any) is raised at its next await.
template <class T>
Task<T> Shielded(Duration budget, Task<T> work) {
  return detail::RunWithDeadline(detail::CurrentTask()->loop()->Now() + budget, /*shield=*/true,
                                 std::move(work))
      .NotACheckpoint();
}

}  // namespace mandrill::runtime
