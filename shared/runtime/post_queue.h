// PostQueue: the loop's door for other threads (call_soon_threadsafe).
//
// Any thread may Post; only the loop thread takes. Callbacks from one thread run in the order
// that thread posted them. A loop that has nothing to do sleeps in epoll on this queue's eventfd;
// the first Post that finds it asleep writes the eventfd, later ones see the wake-up is already
// on its way and skip the syscall. After Close(), Post throws LoopClosed: a callback is either
// run exactly once or its Post failed loudly, never dropped silently.
//
// Shared (std::shared_ptr) by the loop and whoever posts from elsewhere (executor jobs), so a
// late Post after the loop object is gone still finds a closed queue instead of freed memory.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "shared/core/mutex.h"
#include "shared/runtime/unique_function.h"

namespace mandrill::runtime::detail {

class PostQueue {
 public:
  explicit PostQueue(std::string loop_name);
  ~PostQueue();
  PostQueue(const PostQueue&) = delete;
  PostQueue& operator=(const PostQueue&) = delete;

  // Any thread. Throws LoopClosed after Close().
  void Post(UniqueFunction<void()> fn) EXCLUDES(mu_);

  // Loop thread: moves every queued callback into `out` (appending). Returns false if none.
  bool TakeAll(std::vector<UniqueFunction<void()>>& out) EXCLUDES(mu_);
  bool Empty() EXCLUDES(mu_);
  // Loop thread, before blocking in epoll: announces the sleep. Returns false (and cancels the
  // announcement) if callbacks are already queued.
  bool PrepareToSleep() EXCLUDES(mu_);
  // Loop thread, after epoll returned; `fd_readable`: epoll reported the eventfd (which the loop
  // registers edge-triggered: the report consumed the wake-up, nothing is read).
  void WokeUp(bool fd_readable);
  void Close() EXCLUDES(mu_);
  bool closed() EXCLUDES(mu_);
  int fd() const { return event_fd_; }

 private:
  core::Mutex mu_;
  std::vector<UniqueFunction<void()>> items_ GUARDED_BY(mu_);
  bool closed_ GUARDED_BY(mu_) = false;
  std::atomic<bool> sleeping_{false};
  std::atomic<bool> wake_sent_{false};
  int event_fd_;
  std::string loop_name_;
};

}  // namespace mandrill::runtime::detail
