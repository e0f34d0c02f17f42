// Waiting for file-descriptor readiness on the loop (e.g. a child process's pipe).
//
//   std::uint32_t events = co_await WaitReadable(fd);
//
// Completes when epoll reports the fd readable (or writable), or in error/hang-up state (which
// also counts as ready: the next read or write tells what happened); returns the epoll event
// bits. A cancellation checkpoint. At most one waiter per fd at a time (a second one throws
// std::system_error with EEXIST). The fd stays owned by the caller and must stay open while
// waited on.
//
// Loop thread, inside a task.
#pragma once

#include <sys/epoll.h>

#include <coroutine>
#include <cstdint>

#include "shared/runtime/errors.h"
#include "shared/runtime/loop.h"
#include "shared/runtime/task_core.h"

namespace mandrill::runtime {

class [[nodiscard]] FdWaitAwaiter : private detail::Checkpoint, private detail::IoWatcher {
 public:
  FdWaitAwaiter(int fd, std::uint32_t events) : fd_(fd), events_(events) {}
  FdWaitAwaiter(const FdWaitAwaiter&) = delete;
  FdWaitAwaiter& operator=(const FdWaitAwaiter&) = delete;
  ~FdWaitAwaiter() {
    if (registered_) detail::LoopInternals::UnwatchFd(*self_->loop(), fd_);
  }

  bool await_ready() { return EnterCheckpoint(); }
  void await_suspend(std::coroutine_handle<> h) {
    detail::LoopInternals::WatchFd(*self_->loop(), fd_, events_ | EPOLLONESHOT, this);
    registered_ = true;
    self_->Suspend(this, h);
  }
  std::uint32_t await_resume() const {
    LeaveCheckpoint();
    return revents_;
  }

 private:
  void OnIoReady(std::uint32_t events) override {
    Unregister();
    revents_ = events;
    self_->Resume();
  }
  void Interrupt() override {
    Unregister();
    WakeCancelled();
  }
  const char* WaitingOn() const override { return "fd readiness"; }
  void Unregister() {
    if (!registered_) return;
    registered_ = false;
    detail::LoopInternals::UnwatchFd(*self_->loop(), fd_);
  }

  int fd_;
  std::uint32_t events_;
  std::uint32_t revents_ = 0;
  bool registered_ = false;
};

inline FdWaitAwaiter WaitReadable(int fd) { return FdWaitAwaiter(fd, EPOLLIN | EPOLLRDHUP); }
inline FdWaitAwaiter WaitWritable(int fd) { return FdWaitAwaiter(fd, EPOLLOUT); }

}  // namespace mandrill::runtime
