#pragma once
// Signals as readable events (signalfd): the constructor blocks the given signals for the calling
// thread — call it in main() before any thread (ZeroMQ's I/O threads included) is started, so
// every thread inherits the mask and no handler ever runs. Poll fd() and call Read().
#include <initializer_list>
#include <vector>

namespace mandrill::core {

class SignalFd {
 public:
  explicit SignalFd(std::initializer_list<int> signals);
  ~SignalFd();
  SignalFd(const SignalFd&) = delete;
  SignalFd& operator=(const SignalFd&) = delete;

  int fd() const { return fd_; }
  // Signals received since the last call (non-blocking; empty if none).
  std::vector<int> Read();

 private:
  int fd_ = -1;
};

}  // namespace mandrill::core
