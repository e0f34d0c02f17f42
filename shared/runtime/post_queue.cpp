#include "shared/runtime/post_queue.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "shared/runtime/errors.h"

namespace mandrill::runtime::detail {

PostQueue::PostQueue(std::string loop_name) : loop_name_(std::move(loop_name)) {
  event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) {
    throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
  }
}

PostQueue::~PostQueue() { ::close(event_fd_); }

void PostQueue::Post(UniqueFunction<void()> fn) {
  {
    core::MutexLock lock(mu_);
    if (closed_) {
      throw LoopClosed("Post: loop '" + loop_name_ + "' has finished; the callback will not run");
    }
    items_.push_back(std::move(fn));
  }
  if (sleeping_.load(std::memory_order_seq_cst) &&
      !wake_sent_.exchange(true, std::memory_order_acq_rel)) {
    std::uint64_t one = 1;
    ssize_t n;
    do {
      n = ::write(event_fd_, &one, sizeof one);
    } while (n < 0 && errno == EINTR);
    // EAGAIN means the counter is saturated: the loop is awake-pending anyway.
  }
}

bool PostQueue::TakeAll(std::vector<UniqueFunction<void()>>& out) {
  core::MutexLock lock(mu_);
  if (items_.empty()) return false;
  if (out.empty()) {
    out.swap(items_);
  } else {
    for (auto& fn : items_) out.push_back(std::move(fn));
    items_.clear();
  }
  return true;
}

bool PostQueue::Empty() {
  core::MutexLock lock(mu_);
  return items_.empty();
}

bool PostQueue::PrepareToSleep() {
  sleeping_.store(true, std::memory_order_seq_cst);
  if (!Empty()) {
    sleeping_.store(false, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void PostQueue::WokeUp(bool fd_readable) {
  sleeping_.store(false, std::memory_order_seq_cst);
  // Invariant: while wake_sent_ is true a write is done or under way, so an epoll event for the
  // eventfd is or will be pending. The loop registers the eventfd edge-triggered, and eventfd
  // reports every write as a new edge, so the event epoll just returned was consumed by that
  // return: nothing needs reading (the counter is never read back; it would take 2^64 wake-ups
  // to saturate it). Reset the flag only once that event was seen.
  if (fd_readable) wake_sent_.store(false, std::memory_order_seq_cst);
}

void PostQueue::Close() {
  core::MutexLock lock(mu_);
  closed_ = true;
}

bool PostQueue::closed() {
  core::MutexLock lock(mu_);
  return closed_;
}

}  // namespace mandrill::runtime::detail
