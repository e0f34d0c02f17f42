// Loop: the single-threaded event loop every worker runs on (asyncio's event loop + asyncio.run).
//
// One loop per thread, never nested. Run(main) runs `main` as the loop's first task until it
// finishes, then cancels every task still alive, lets them finish (bounded by
// LoopOptions::drain_timeout), reports stragglers, closes the door for other threads and returns
// main's value or rethrows its exception. A Loop runs once.
//
// Threading: Post() and Submit() may be called from any thread; everything else only on the loop
// thread (the thread inside Run), or before Run on the thread that constructs things.
// Foreign threads never resume a coroutine: they queue a callback and the loop runs it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "shared/core/clock.h"
#include "shared/runtime/errors.h"
#include "shared/runtime/post_queue.h"
#include "shared/runtime/ring_queue.h"
#include "shared/runtime/task.h"
#include "shared/runtime/task_core.h"
#include "shared/runtime/timer_queue.h"
#include "shared/runtime/unique_function.h"

namespace mandrill::runtime {

class Supervisor;

struct LoopOptions {
  std::string name = "loop";
  // Not owned; must outlive the loop. Null: the real steady clock. A VirtualClock makes the loop
  // jump to the next timer whenever it is idle and no executor job is in flight.
  Clock* clock = nullptr;
  // Log a warning (and count) when one task step or callback blocks the loop this long. 0: off.
  Duration slow_step_threshold = std::chrono::milliseconds(100);
  // If > 0, a watchdog thread reports (every threshold) a loop still stuck in one step.
  Duration watchdog_threshold = Duration::zero();
  // Called on the watchdog thread with how long the current step has been running. Optional.
  std::function<void(Duration)> on_blocked;
  // Report a task still running this long (loop clock) after its cancellation was requested.
  Duration straggler_threshold = std::chrono::seconds(1);
  // After main ends: how long (loop clock) cancelled tasks may take before Run gives up on them.
  Duration drain_timeout = std::chrono::seconds(5);
};

struct LoopStats {
  std::uint64_t steps = 0;            // task steps run
  std::uint64_t callbacks = 0;        // CallSoon/CallLater/Post callbacks run
  std::uint64_t posts = 0;            // callbacks that came through Post
  std::uint64_t tasks_spawned = 0;
  std::uint64_t tasks_failed = 0;     // ended with an exception (each delivered to its owner)
  std::uint64_t tasks_cancelled = 0;
  std::uint64_t stragglers = 0;       // reports of tasks still running after cancellation
  std::uint64_t slow_steps = 0;
  std::uint64_t blocked_reports = 0;  // watchdog reports
  std::uint64_t wakeups = 0;          // times the loop slept and woke up
};

struct TaskInfo {
  std::uint64_t id;
  std::string name;
  TaskState state;
  std::string waiting_on;  // what a suspended task awaits ("sleep", "channel receive", ...)
  Duration age;            // since spawn, loop clock
  bool cancel_requested;
};

namespace detail {
struct LoopInternals;
template <class F>
struct LaterNode;
// Receives epoll readiness for a registered fd. Loop thread.
class IoWatcher {
 public:
  virtual void OnIoReady(std::uint32_t epoll_events) = 0;

 protected:
  ~IoWatcher() = default;
};
template <class T>
struct Outcome {
  std::optional<T> value;
  std::exception_ptr error;
  T Get() {
    if (error) std::rethrow_exception(error);
    return std::move(*value);
  }
};
template <>
struct Outcome<void> {
  std::exception_ptr error;
  void Get() {
    if (error) std::rethrow_exception(error);
  }
};
// A CallLater/CallAt callback and its timer node, in one pooled block sized to the callable.
struct LaterNodeBase : TimerNode {
  Loop* loop;  // null once the loop tears down: Fire then only frees the node
};
template <class F>
struct LaterNode final : LaterNodeBase, PooledObject {
  F fn;
  template <class G>
  LaterNode(Loop* l, G&& g) : fn(std::forward<G>(g)) {
    loop = l;
    fire = &LaterNode::Fire;
    loop_owned = true;
  }
  // Runs the callback, then frees the node. With `loop` null (set at loop teardown for a node
  // that never fired) it only frees it.
  static void Fire(TimerNode* n);
};

template <class T>
Task<void> CaptureOutcome(Task<T> main, Outcome<T>* out);
template <class T>
Task<void> DeliverToPromise(Task<T> work, std::shared_ptr<std::promise<T>> promise,
                            std::string name);
template <class F>
using FactoryResult = typename std::invoke_result_t<F&>::value_type;
}  // namespace detail

class Loop {
 public:
  explicit Loop(LoopOptions options = {});
  // Destroys the frames of tasks still suspended (running their destructors) without resuming
  // them; drops callbacks posted but never run (logged). Must not be called while running.
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Runs `main` to completion as described above. Throws std::logic_error if this thread already
  // runs a loop (nested) or if this loop already ran or runs on another thread. If main was
  // cancelled, throws TaskCancelledError.
  template <class T>
  T Run(Task<T> main) {
    detail::Outcome<T> outcome;
    RunMain(detail::CaptureOutcome(std::move(main), &outcome));
    return outcome.Get();
  }

  // Any thread (call_soon_threadsafe). `fn` runs once on the loop thread, after callbacks the
  // same thread posted earlier. Throws LoopClosed once the loop has finished. Allowed before Run.
  void Post(UniqueFunction<void()> fn);

  // Any thread except the loop's own (run_coroutine_threadsafe): on the loop thread, calls
  // `factory()` (which returns a Task<R>) and runs that task under the loop's root supervisor;
  // the future receives its value or exception (TaskCancelledError if it was cancelled, e.g. by
  // loop shutdown; LoopClosed if the loop finished first). Throws std::logic_error when called
  // on the loop thread (waiting on the future there would deadlock) and LoopClosed after the
  // loop finished.
  template <class F>
  std::future<detail::FactoryResult<F>> Submit(std::string name, F factory);

  // Loop thread. Runs `fn` on a later iteration (FIFO among callbacks).
  void CallSoon(UniqueFunction<void()> fn);
  // Loop thread. Runs `fn` (any callable of no arguments) once `delay` has passed on the loop
  // clock. Cannot be cancelled; use Timer for that. The callable is stored in a timer node
  // sized to it (no type-erasing wrapper, no second allocation).
  template <class F>
  void CallLater(Duration delay, F&& fn) {
    CallAt(Now() + delay, std::forward<F>(fn));
  }
  template <class F>
  void CallAt(TimePoint when, F&& fn);

  TimePoint Now() const {
    // The real clock is by far the common case: skip the virtual call.
    return clock_ == &steady_clock_ ? steady_clock_.Now() : clock_->Now();
  }
  Clock& clock() const { return *clock_; }
  const std::string& name() const { return options_.name; }
  const LoopOptions& options() const { return options_; }
  // The loop this thread is running, or null.
  static Loop* Current();
  bool IsLoopThread() const { return Current() == this; }
  bool finished() const { return state_ == State::kFinished; }

  // Debug aids (loop thread): every task not yet finished, oldest first; and the same as text.
  std::vector<TaskInfo> Tasks() const;
  std::string DumpTasks() const;
  LoopStats Stats() const;

 private:
  friend struct detail::LoopInternals;
  friend class Timer;
  enum class State { kNew, kRunning, kDraining, kFinished };
  template <class F>
  friend struct detail::LaterNode;
  struct Watchdog;

  void RunMain(Task<void> main);
  void RunOnce(std::optional<TimePoint> wait_limit);
  // Runs a callback on the loop thread: counted, timed, and any exception logged, never thrown.
  template <class F>
  void RunGuarded(F& fn) {
    ++stats_.callbacks;
    try {
      fn();
    } catch (...) {
      ReportCallbackFailure(std::current_exception());
    }
    NoteStepTime(nullptr, "callback");
  }
  void ReportCallbackFailure(std::exception_ptr error);
  void Drain();
  void PollIo(std::int64_t timeout_ns);  // -1: block without limit
  void StartWatchdog();
  void StopWatchdog();
  void SpawnSubmitted(std::string name, Task<void> task);
  void RefuseSubmitFromLoopThread(const std::string& name) const;
  void NoteStepTime(const detail::TaskCore* task, const char* what) {
    if (options_.slow_step_threshold > Duration::zero() || watchdog_) MeasureStep(task, what);
  }
  void MeasureStep(const detail::TaskCore* task, const char* what);

  LoopOptions options_;
  SystemClock steady_clock_;
  Clock* clock_;
  State state_ = State::kNew;
  std::thread::id thread_;
  detail::TimerQueue timers_;
  detail::RingQueue<detail::TaskCore*> ready_tasks_;
  detail::RingQueue<UniqueFunction<void()>> ready_callbacks_;
  std::shared_ptr<detail::PostQueue> posts_;
  std::vector<UniqueFunction<void()>> post_batch_;
  core::IntrusiveList<detail::TaskCore, detail::LiveHook> live_tasks_;
  std::unique_ptr<Supervisor> root_;
  int epoll_fd_ = -1;
  int io_watchers_ = 0;
  int external_work_ = 0;  // executor jobs in flight: the virtual clock must not jump
  bool tearing_down_ = false;
  std::uint64_t next_task_id_ = 1;
  TimePoint iteration_time_{};
  std::chrono::steady_clock::time_point step_started_;
  std::unique_ptr<Watchdog> watchdog_;
  std::atomic<bool> run_claimed_{false};
  std::atomic<std::uint64_t> blocked_reports_{0};
  LoopStats stats_;
};

// A cancellable one-shot timer for non-coroutine code on the loop thread. Destroying it cancels.
class Timer {
 public:
  explicit Timer(Loop& loop) : loop_(&loop) { node_.owner = this; }
  ~Timer() { Cancel(); }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Replaces any armed callback.
  void Start(Duration delay, UniqueFunction<void()> fn);
  void StartAt(TimePoint when, UniqueFunction<void()> fn);
  void Cancel();
  bool armed() const { return node_.armed(); }

 private:
  struct Node : detail::TimerNode {
    Timer* owner = nullptr;
  };
  static void Fire(detail::TimerNode* node);
  Loop* loop_;
  Node node_;
  UniqueFunction<void()> fn_;
};

namespace detail {

// Library-internal access to the loop (awaitables, supervisor, executor). Not for applications.
struct LoopInternals {
  static TimerQueue& Timers(Loop& l) { return l.timers_; }
  static void Schedule(Loop& l, TaskCore* t) { l.ready_tasks_.Push(t); }
  static void Register(Loop& l, TaskCore* t) {
    l.live_tasks_.PushBack(t);
    ++l.stats_.tasks_spawned;
  }
  static void Unregister(Loop& l, TaskCore* t) { l.live_tasks_.Remove(t); }
  static LoopStats& Stats(Loop& l) { return l.stats_; }
  // The loop clock as read at the start of the current iteration (cheap; for task ages).
  static TimePoint IterationTime(const Loop& l) { return l.iteration_time_; }
  static bool TearingDown(const Loop& l) { return l.tearing_down_; }
  static Supervisor& Root(Loop& l) { return *l.root_; }
  static const std::shared_ptr<PostQueue>& Posts(Loop& l) { return l.posts_; }
  static void BeginExternalWork(Loop& l) { ++l.external_work_; }
  static void EndExternalWork(Loop& l) { --l.external_work_; }
  // epoll registration; `events` as for epoll_ctl. Throws std::system_error.
  static void WatchFd(Loop& l, int fd, std::uint32_t events, IoWatcher* watcher);
  static void ModifyFd(Loop& l, int fd, std::uint32_t events, IoWatcher* watcher);
  static void UnwatchFd(Loop& l, int fd);
};

template <class T>
Task<void> CaptureOutcome(Task<T> main, Outcome<T>* out) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(main);
    } else {
      T value = co_await std::move(main);
      out->value.emplace(std::move(value));
    }
  } catch (const Cancelled&) {
    out->error = std::make_exception_ptr(TaskCancelledError("main task was cancelled"));
    throw;
  } catch (...) {
    // Delivered: Run() rethrows it to its caller.
    out->error = std::current_exception();
  }
}

template <class T>
Task<void> DeliverToPromise(Task<T> work, std::shared_ptr<std::promise<T>> promise,
                            std::string name) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(work);
      promise->set_value();
    } else {
      T value = co_await std::move(work);
      promise->set_value(std::move(value));
    }
  } catch (const Cancelled&) {
    promise->set_exception(
        std::make_exception_ptr(TaskCancelledError("submitted task '" + name + "' was cancelled")));
    throw;
  } catch (...) {
    // Delivered: the submitter's future carries it.
    promise->set_exception(std::current_exception());
  }
}

}  // namespace detail

template <class F>
std::future<detail::FactoryResult<F>> Loop::Submit(std::string name, F factory) {
  using R = detail::FactoryResult<F>;
  if (IsLoopThread()) RefuseSubmitFromLoopThread(name);
  auto promise = std::make_shared<std::promise<R>>();
  std::future<R> future = promise->get_future();
  Post([this, name = std::move(name), factory = std::move(factory), promise]() mutable {
    Task<R> work;
    try {
      work = factory();
    } catch (...) {
      // Delivered: the factory's own failure goes to the future.
      promise->set_exception(std::current_exception());
      return;
    }
    if (state_ != State::kRunning) {
      promise->set_exception(std::make_exception_ptr(
          LoopClosed("Submit: loop '" + options_.name + "' is shutting down")));
      return;
    }
    SpawnSubmitted(name, detail::DeliverToPromise<R>(std::move(work), promise, name));
  });
  return future;
}

template <class F>
void Loop::CallAt(TimePoint when, F&& fn) {
  static_assert(std::is_invocable_v<std::decay_t<F>&>, "CallAt/CallLater need a callable()");
  auto* node = new detail::LaterNode<std::decay_t<F>>(this, std::forward<F>(fn));
  timers_.Add(node, when);
}

template <class F>
void detail::LaterNode<F>::Fire(TimerNode* n) {
  auto* self = static_cast<LaterNode*>(n);
  // Disarmed and referenced by nothing else: run the callback in place, then free the node.
  if (self->loop != nullptr) self->loop->RunGuarded(self->fn);
  delete self;
}

}  // namespace mandrill::runtime
