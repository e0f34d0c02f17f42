#include "publisher/stop_signal.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace mandrill::publisher {
namespace {
std::atomic<int> g_count{0};
std::atomic<int> g_write_fd{-1};

extern "C" void OnStopSignal(int) {
  const int saved = errno;
  g_count.fetch_add(1, std::memory_order_relaxed);
  const int fd = g_write_fd.load(std::memory_order_relaxed);
  if (fd >= 0) {
    const char byte = 1;
    [[maybe_unused]] const auto n = ::write(fd, &byte, 1);  // full pipe: already signalled
  }
  errno = saved;
}
}  // namespace

StopSignal::StopSignal() {
  if (::pipe2(pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    pipe_[0] = pipe_[1] = -1;
  }
  g_count.store(0);
  g_write_fd.store(pipe_[1]);
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &sa, &old_int_);
  ::sigaction(SIGTERM, &sa, &old_term_);
}

StopSignal::~StopSignal() {
  ::sigaction(SIGINT, &old_int_, nullptr);
  ::sigaction(SIGTERM, &old_term_, nullptr);
  g_write_fd.store(-1);
  if (pipe_[0] >= 0) ::close(pipe_[0]);
  if (pipe_[1] >= 0) ::close(pipe_[1]);
}

void StopSignal::Drain() {
  char buf[64];
  while (pipe_[0] >= 0 && ::read(pipe_[0], buf, sizeof buf) > 0) {
  }
}

int StopSignal::count() const { return g_count.load(std::memory_order_relaxed); }

}  // namespace mandrill::publisher
