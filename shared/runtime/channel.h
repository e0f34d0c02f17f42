// Channel<T>: a bounded multi-producer multi-consumer queue between tasks of one loop
// (asyncio.Queue(maxsize), Trio memory channels).
//
// Send waits while the channel is full — back-pressure instead of "put it in a task so it does
// not block". capacity 0 is a rendezvous: Send completes when a receiver takes the value.
// Close() wakes everyone: receivers drain what is buffered and then get nullopt; waiting and
// later senders get false (their value is dropped).
//
// Both awaits are cancellation checkpoints. A value is never lost to cancellation: if the
// handoff happened before the cancellation was noticed, the await completes normally and the
// cancellation is raised at the task's next await.
//
// Threading: loop thread only (tasks of one loop). From other threads, Loop::Post.
// The channel must outlive every await on it.
#pragma once

#include <cassert>
#include <coroutine>
#include <cstddef>
#include <deque>
#include <optional>
#include <utility>

#include "shared/runtime/errors.h"
#include "shared/core/intrusive_list.h"
#include "shared/runtime/task_core.h"

namespace mandrill::runtime {

template <class T>
class Channel {
 public:
  explicit Channel(std::size_t capacity) : capacity_(capacity) {}
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;
  ~Channel() {
    // Only reachable with waiters during loop teardown (their frames are being destroyed).
    while (SendAwaiter* s = senders_.PopFront()) s->channel_ = nullptr;
    while (ReceiveAwaiter* r = receivers_.PopFront()) r->channel_ = nullptr;
  }

  class [[nodiscard]] SendAwaiter : private detail::Checkpoint, private core::ListHook {
   public:
    SendAwaiter(Channel* channel, T value) : channel_(channel), value_(std::move(value)) {}
    SendAwaiter(const SendAwaiter&) = delete;
    SendAwaiter& operator=(const SendAwaiter&) = delete;
    ~SendAwaiter() {
      if (channel_ != nullptr) channel_->senders_.Remove(this);
    }
    bool await_ready() {
      if (EnterCheckpoint()) return true;
      return channel_->TrySendImpl(value_, &sent_);
    }
    void await_suspend(std::coroutine_handle<> h) {
      channel_->senders_.PushBack(this);
      self_->Suspend(this, h);
    }
    // True if the value was delivered or buffered; false if the channel is closed.
    bool await_resume() const {
      LeaveCheckpoint();
      return sent_;
    }

   private:
    friend class Channel;
    friend class core::IntrusiveList<SendAwaiter>;
    void Interrupt() override {
      channel_->senders_.Remove(this);
      WakeCancelled();
    }
    const char* WaitingOn() const override { return "channel send"; }
    void Complete(bool sent) {
      sent_ = sent;
      self_->Resume();
    }

    Channel* channel_;
    T value_;
    bool sent_ = false;
  };

  class [[nodiscard]] ReceiveAwaiter : private detail::Checkpoint, private core::ListHook {
   public:
    explicit ReceiveAwaiter(Channel* channel) : channel_(channel) {}
    ReceiveAwaiter(const ReceiveAwaiter&) = delete;
    ReceiveAwaiter& operator=(const ReceiveAwaiter&) = delete;
    ~ReceiveAwaiter() {
      if (channel_ != nullptr) channel_->receivers_.Remove(this);
    }
    bool await_ready() {
      if (EnterCheckpoint()) return true;
      if (channel_->TryReceiveImpl(value_)) return true;
      return channel_->closed_;
    }
    void await_suspend(std::coroutine_handle<> h) {
      channel_->receivers_.PushBack(this);
      self_->Suspend(this, h);
    }
    // The next value, or nullopt once the channel is closed and drained.
    std::optional<T> await_resume() {
      LeaveCheckpoint();
      return std::move(value_);
    }

   private:
    friend class Channel;
    friend class core::IntrusiveList<ReceiveAwaiter>;
    void Interrupt() override {
      channel_->receivers_.Remove(this);
      WakeCancelled();
    }
    const char* WaitingOn() const override { return "channel receive"; }

    Channel* channel_;
    std::optional<T> value_;
  };

  // co_await Send(v) -> bool. Waits while full.
  SendAwaiter Send(T value) { return SendAwaiter(this, std::move(value)); }
  // co_await Receive() -> std::optional<T>.
  ReceiveAwaiter Receive() { return ReceiveAwaiter(this); }

  // Non-blocking. On true the value was taken (moved from); on false (full or closed) `value` is
  // untouched.
  bool TrySend(T& value) {
    bool sent = false;
    return TrySendImpl(value, &sent) && sent;
  }
  std::optional<T> TryReceive() {
    std::optional<T> out;
    TryReceiveImpl(out);
    return out;
  }

  // Idempotent.
  void Close() {
    if (closed_) return;
    closed_ = true;
    while (ReceiveAwaiter* r = receivers_.PopFront()) r->self_->Resume();  // buffer is empty
    while (SendAwaiter* s = senders_.PopFront()) s->Complete(false);
  }

  bool closed() const { return closed_; }
  std::size_t size() const { return buffer_.size(); }
  std::size_t capacity() const { return capacity_; }

 private:
  // Returns true if the send completed (sent or refused because closed; *sent says which).
  bool TrySendImpl(T& value, bool* sent) {
    if (closed_) {
      *sent = false;
      return true;
    }
    if (ReceiveAwaiter* r = receivers_.PopFront()) {
      r->value_.emplace(std::move(value));
      r->self_->Resume();
      *sent = true;
      return true;
    }
    if (buffer_.size() < capacity_) {
      buffer_.push_back(std::move(value));
      *sent = true;
      return true;
    }
    return false;
  }

  bool TryReceiveImpl(std::optional<T>& out) {
    if (!buffer_.empty()) {
      out.emplace(std::move(buffer_.front()));
      buffer_.pop_front();
      if (SendAwaiter* s = senders_.PopFront()) {
        buffer_.push_back(std::move(s->value_));
        s->Complete(true);
      }
      return true;
    }
    if (SendAwaiter* s = senders_.PopFront()) {  // rendezvous
      out.emplace(std::move(s->value_));
      s->Complete(true);
      return true;
    }
    return false;
  }

  std::size_t capacity_;
  std::deque<T> buffer_;
  core::IntrusiveList<SendAwaiter> senders_;
  core::IntrusiveList<ReceiveAwaiter> receivers_;
  bool closed_ = false;
};

}  // namespace mandrill::runtime
