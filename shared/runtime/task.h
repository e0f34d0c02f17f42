// Task<T>: the coroutine type of the runtime.
//
// Lazy (nothing runs until awaited or spawned), move-only, awaited at most once. The awaiter gets
// the value or the exception the body ended with. A Task can only be awaited inside a task the
// runtime runs (spawned under a Supervisor/TaskGroup, or Loop::Run's main).
//
// Transfer between coroutines is symmetric: awaiting a Task hands its coroutine to the running
// task's trampoline, and a finishing Task hands its awaiter back the same way, so a chain of any
// number of synchronously completing awaits runs in constant stack. (GCC 12 does not turn
// await_suspend's returned handle into a tail call at -O0 or under sanitizers; the trampoline
// does not depend on it.)
//
// Every co_await of a Task is a cancellation checkpoint: inside a cancelled scope it raises
// Cancelled instead of starting the body.
//
// Lifetime rule (GCC and C++ alike): a coroutine's reference parameters and a coroutine lambda's
// captures must outlive the coroutine; pass by value, and prefer free functions to capturing
// coroutine lambdas.
#pragma once

#include <cassert>
#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "shared/runtime/cancel_scope.h"
#include "shared/runtime/errors.h"
#include "shared/runtime/frame_pool.h"
#include "shared/runtime/task_core.h"

namespace mandrill::runtime {

namespace detail {

template <class T>
struct ReturnSlot {
  std::optional<T> value;
  template <class U = T>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
  T Take() { return std::move(*value); }
};
template <>
struct ReturnSlot<void> {
  void return_void() {}
  void Take() {}
};

struct FinalAwaiter {
  PromiseBase* promise;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<>) const noexcept {
    TaskCore* core = CurrentTask();
    if (promise->continuation) {
      core->next_ = promise->continuation;
    } else {
      core->root_done_ = true;
    }
  }
  void await_resume() const noexcept {}
};

}  // namespace detail

template <class T = void>
class [[nodiscard]] Task {
 public:
  using value_type = T;

  struct promise_type : detail::PromiseBase, detail::ReturnSlot<T> {
    Task get_return_object() noexcept {
      return Task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    detail::FinalAwaiter final_suspend() noexcept { return {this}; }
    void unhandled_exception() noexcept { exception = std::current_exception(); }
    // Frames come from the calling thread's FramePool (plain new/delete in sanitizer builds).
    static void* operator new(std::size_t size) { return detail::AllocateBlock(size); }
    static void operator delete(void* p, std::size_t size) noexcept {
      detail::DeallocateBlock(p, size);
    }
  };

  class Awaiter {
   public:
    explicit Awaiter(std::coroutine_handle<promise_type> h) : h_(h) {}
    bool await_ready() {
      detail::TaskCore* core = detail::CurrentTask();
      assert(core != nullptr && "co_await of a Task outside a runtime task");
      assert(h_ && "co_await of an empty or already awaited Task");
      if (!h_.promise().no_checkpoint && core->CancelPending()) {
        cancelled_ = true;
        return true;
      }
      return false;
    }
    void await_suspend(std::coroutine_handle<> awaiting) noexcept {
      h_.promise().continuation = awaiting;
      detail::CurrentTask()->next_ = h_;
    }
    T await_resume() {
      if (cancelled_) throw Cancelled{};
      promise_type& p = h_.promise();
      if (p.exception) std::rethrow_exception(p.exception);
      return p.Take();
    }

   private:
    std::coroutine_handle<promise_type> h_;
    bool cancelled_ = false;
  };

  Task() noexcept = default;
  Task(Task&& other) noexcept : h_(std::exchange(other.h_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      if (h_) h_.destroy();
      h_ = std::exchange(other.h_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() {
    if (h_) h_.destroy();
  }

  explicit operator bool() const noexcept { return static_cast<bool>(h_); }

  Awaiter operator co_await() && noexcept { return Awaiter(h_); }

  // Gives up ownership of the frame (the runtime uses this to spawn a task).
  std::coroutine_handle<promise_type> Release() noexcept { return std::exchange(h_, {}); }

  // Makes awaiting this task not a cancellation checkpoint (see PromiseBase::no_checkpoint).
  Task&& NotACheckpoint() && noexcept {
    h_.promise().no_checkpoint = true;
    return std::move(*this);
  }

 private:
  explicit Task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
  std::coroutine_handle<promise_type> h_;
};

// Makes `scope` the current task's innermost scope for its lifetime (a local of a coroutine).
struct ScopeEntry {
  explicit ScopeEntry(CancelScope& scope) : scope_(scope) {
    assert(detail::CurrentTask() != nullptr && "CancelScope::Run outside a runtime task");
    scope_.Enter(detail::CurrentTask());
  }
  ~ScopeEntry() { scope_.Exit(); }
  ScopeEntry(const ScopeEntry&) = delete;
  ScopeEntry& operator=(const ScopeEntry&) = delete;
  bool ShouldAbsorb() const { return scope_.ShouldAbsorb(); }
  void MarkCaught() { scope_.cancelled_caught_ = true; }

 private:
  CancelScope& scope_;
};

namespace detail {
template <class T>
Task<typename ScopeResult<T>::type> RunInScope(CancelScope* scope, Task<T> body) {
  ScopeEntry entry(*scope);
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(body);
      co_return true;
    } else {
      T value = co_await std::move(body);
      co_return std::optional<T>(std::move(value));
    }
  } catch (const Cancelled&) {
    if (!entry.ShouldAbsorb()) throw;
    entry.MarkCaught();
  }
  co_return typename ScopeResult<T>::type{};
}
}  // namespace detail

// Entering a scope is not a checkpoint (as in Trio): the body's own awaits are, judged from
// inside the scope — which is what lets a shield scope run cleanup in a cancelled task.
template <class T>
Task<typename detail::ScopeResult<T>::type> CancelScope::Run(Task<T> body) {
  return detail::RunInScope(this, std::move(body)).NotACheckpoint();
}

}  // namespace mandrill::runtime
