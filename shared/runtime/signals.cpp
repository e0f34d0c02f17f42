#include "shared/runtime/signals.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace mandrill::runtime {
namespace {

std::atomic<int> g_signal_write_fd{-1};

extern "C" void OnSignal(int signo) {
  int saved_errno = errno;
  int fd = g_signal_write_fd.load(std::memory_order_relaxed);
  if (fd >= 0) {
    unsigned char byte = static_cast<unsigned char>(signo);
    ssize_t ignored = ::write(fd, &byte, 1);  // a full pipe drops the byte: 4096 are pending
    (void)ignored;
  }
  errno = saved_errno;
}

}  // namespace

SignalSet::SignalSet(Loop& loop, std::initializer_list<int> signals) : loop_(&loop) {
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::generic_category(), "pipe2");
  }
  int expected = -1;
  if (!g_signal_write_fd.compare_exchange_strong(expected, fds[1])) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw std::logic_error("SignalSet: another SignalSet is active in this process");
  }
  read_fd_ = fds[0];
  write_fd_ = fds[1];
  watching_ = false;
  for (int signo : signals) {
    struct sigaction action {};
    action.sa_handler = &OnSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    struct sigaction old {};
    if (::sigaction(signo, &action, &old) != 0) {
      int err = errno;
      Release();
      throw std::system_error(err, std::generic_category(), "sigaction");
    }
    previous_.emplace_back(signo, old);
  }
  detail::LoopInternals::WatchFd(*loop_, read_fd_, EPOLLIN, this);
  watching_ = true;
}

SignalSet::~SignalSet() {
  Release();
  for (ReceiveAwaiter* w : waiters_) w->set_ = nullptr;
  waiters_.clear();
}

void SignalSet::Release() {
  for (auto it = previous_.rbegin(); it != previous_.rend(); ++it) {
    ::sigaction(it->first, &it->second, nullptr);
  }
  previous_.clear();
  if (read_fd_ >= 0) {
    if (watching_) detail::LoopInternals::UnwatchFd(*loop_, read_fd_);
    g_signal_write_fd.store(-1);
    ::close(read_fd_);
    ::close(write_fd_);
    read_fd_ = write_fd_ = -1;
  }
}

void SignalSet::OnIoReady(std::uint32_t) {
  unsigned char buf[64];
  for (;;) {
    ssize_t n = ::read(read_fd_, buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) pending_.push_back(buf[i]);
  }
  Dispatch();
}

void SignalSet::Dispatch() {
  while (!pending_.empty() && !waiters_.empty()) {
    ReceiveAwaiter* w = waiters_.front();
    waiters_.pop_front();
    w->waiting_ = false;
    w->signo_ = pending_.front();
    pending_.pop_front();
    w->self_->Resume();
  }
}

SignalSet::ReceiveAwaiter::~ReceiveAwaiter() {
  if (waiting_ && set_ != nullptr) {
    auto& ws = set_->waiters_;
    ws.erase(std::remove(ws.begin(), ws.end(), this), ws.end());
  }
}

bool SignalSet::ReceiveAwaiter::await_ready() {
  if (EnterCheckpoint()) return true;
  if (!set_->pending_.empty()) {
    signo_ = set_->pending_.front();
    set_->pending_.pop_front();
    return true;
  }
  return false;
}

void SignalSet::ReceiveAwaiter::await_suspend(std::coroutine_handle<> h) {
  waiting_ = true;
  set_->waiters_.push_back(this);
  self_->Suspend(this, h);
}

int SignalSet::ReceiveAwaiter::await_resume() const {
  LeaveCheckpoint();
  return signo_;
}

void SignalSet::ReceiveAwaiter::Interrupt() {
  auto& ws = set_->waiters_;
  ws.erase(std::remove(ws.begin(), ws.end(), this), ws.end());
  waiting_ = false;
  WakeCancelled();
}

}  // namespace mandrill::runtime
