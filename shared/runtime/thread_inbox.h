// ThreadInbox<T>: a bounded queue from other threads into one loop (the worker's network thread
// handing deliveries to the loop thread).
//
// Policy when full — stated, not hidden: TryPush never blocks and returns kFull, and the
// producer decides (the worker stops granting credit, a publisher gets "queue full"); PushWait
// blocks the producing thread up to a timeout for room. Nothing is ever dropped silently: every
// push either returns kOk (the value will be received or is still in the inbox when it is
// destroyed) or says why not.
//
// The loop side receives with `co_await inbox.Receive()` (nullopt once closed and drained).
// Waking the loop costs one Post per empty-to-non-empty transition while a receiver waits.
//
// Threading: TryPush, PushWait, Close and size from any thread; Receive on the loop thread.
// Construct it on (or before running) the loop it feeds; it must outlive its producers' calls.
#pragma once

#include <chrono>
#include <condition_variable>
#include <coroutine>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "shared/runtime/errors.h"
#include "shared/runtime/intrusive_list.h"
#include "shared/runtime/loop.h"
#include "shared/runtime/task_core.h"

namespace mandrill::runtime {

enum class PushResult { kOk, kFull, kClosed };

template <class T>
class ThreadInbox {
  struct State;

 public:
  ThreadInbox(Loop& loop, std::size_t capacity)
      : state_(std::make_shared<State>(detail::LoopInternals::Posts(loop), capacity)) {}
  ThreadInbox(const ThreadInbox&) = delete;
  ThreadInbox& operator=(const ThreadInbox&) = delete;
  ~ThreadInbox() { Close(); }

  // Any thread; never blocks. On kOk the value was moved from; otherwise untouched.
  PushResult TryPush(T& value) {
    std::unique_lock lock(state_->mu);
    return PushLocked(value, lock);
  }
  PushResult TryPush(T&& value) { return TryPush(value); }

  // Any thread but the loop's: waits up to `timeout` for room. kFull after the timeout.
  PushResult PushWait(T& value, std::chrono::nanoseconds timeout) {
    std::unique_lock lock(state_->mu);
    state_->not_full.wait_for(lock, timeout, [this] {
      return state_->closed || state_->items.size() < state_->capacity;
    });
    return PushLocked(value, lock);
  }
  PushResult PushWait(T&& value, std::chrono::nanoseconds timeout) {
    return PushWait(value, timeout);
  }

  // Any thread. Receivers drain what is queued, then get nullopt; pushes fail with kClosed.
  void Close() {
    std::unique_lock lock(state_->mu);
    if (state_->closed) return;
    state_->closed = true;
    state_->not_full.notify_all();
    if (state_->waiting > 0) PostWakeLocked(lock);
  }

  std::size_t size() const {
    std::lock_guard lock(state_->mu);
    return state_->items.size();
  }

  class [[nodiscard]] ReceiveAwaiter : private detail::Waiter, private detail::ListHook {
   public:
    explicit ReceiveAwaiter(std::shared_ptr<State> state) : state_(std::move(state)) {}
    ReceiveAwaiter(const ReceiveAwaiter&) = delete;
    ReceiveAwaiter& operator=(const ReceiveAwaiter&) = delete;
    ~ReceiveAwaiter() {
      if (static_cast<detail::ListHook*>(this)->linked()) Detach();
    }
    bool await_ready() {
      self_ = detail::CurrentTask();
      if (self_->CancelPending()) {
        interrupted_ = true;
        return true;
      }
      std::lock_guard lock(state_->mu);
      if (!state_->items.empty()) {
        value_.emplace(std::move(state_->items.front()));
        state_->items.pop_front();
        state_->not_full.notify_one();
        return true;
      }
      if (state_->closed) return true;
      ++state_->waiting;
      return false;
    }
    void await_suspend(std::coroutine_handle<> h) {
      state_->receivers.PushBack(this);
      self_->Suspend(this, h);
    }
    std::optional<T> await_resume() {
      if (interrupted_) throw Cancelled{};
      return std::move(value_);
    }

   private:
    friend class ThreadInbox;
    friend class detail::IntrusiveList<ReceiveAwaiter>;
    void Detach() {
      state_->receivers.Remove(this);
      std::lock_guard lock(state_->mu);
      --state_->waiting;
    }
    void Interrupt() override {
      Detach();
      interrupted_ = true;
      self_->Resume();
    }
    const char* WaitingOn() const override { return "thread inbox receive"; }

    std::shared_ptr<State> state_;
    std::optional<T> value_;
    detail::TaskCore* self_ = nullptr;
    bool interrupted_ = false;
  };

  // Loop thread, inside a task.
  ReceiveAwaiter Receive() { return ReceiveAwaiter(state_); }

 private:
  struct State {
    State(std::shared_ptr<detail::PostQueue> p, std::size_t cap)
        : posts(std::move(p)), capacity(cap) {}
    std::shared_ptr<detail::PostQueue> posts;
    const std::size_t capacity;
    mutable std::mutex mu;
    std::condition_variable not_full;
    std::deque<T> items;       // guarded by mu
    std::size_t waiting = 0;   // receivers suspended or about to be; guarded by mu
    bool wake_posted = false;  // guarded by mu
    bool closed = false;       // guarded by mu
    // Loop thread only.
    detail::IntrusiveList<ReceiveAwaiter> receivers;
  };

  PushResult PushLocked(T& value, std::unique_lock<std::mutex>& lock) {
    if (!state_->closed && state_->posts->closed()) state_->closed = true;  // loop finished
    if (state_->closed) return PushResult::kClosed;
    if (state_->items.size() >= state_->capacity) return PushResult::kFull;
    state_->items.push_back(std::move(value));
    if (state_->waiting > 0 && !state_->wake_posted) {
      if (!PostWakeLocked(lock)) {
        value = std::move(state_->items.back());
        state_->items.pop_back();
        return PushResult::kClosed;
      }
    }
    return PushResult::kOk;
  }

  // Returns false if the loop has closed (then the inbox is closed too).
  bool PostWakeLocked(std::unique_lock<std::mutex>&) {
    state_->wake_posted = true;
    try {
      state_->posts->Post([state = state_] { Wake(state); });
      return true;
    } catch (const LoopClosed&) {
      state_->wake_posted = false;
      state_->closed = true;
      return false;
    }
  }

  // Loop thread: hand queued items to waiting receivers (or nullopt once closed).
  static void Wake(const std::shared_ptr<State>& state) {
    std::unique_lock lock(state->mu);
    state->wake_posted = false;
    while (ReceiveAwaiter* r = state->receivers.Front()) {
      if (!state->items.empty()) {
        r->value_.emplace(std::move(state->items.front()));
        state->items.pop_front();
        state->not_full.notify_one();
      } else if (!state->closed) {
        break;
      }
      state->receivers.Remove(r);
      --state->waiting;
      r->self_->Resume();
    }
  }

  std::shared_ptr<State> state_;
};

}  // namespace mandrill::runtime
