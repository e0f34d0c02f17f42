#pragma once
// SIGINT/SIGTERM as an event the publisher's poll loop can wait on (self-pipe): the handler
// only counts the signal and writes a byte; the loop sees read_fd() readable, drains it and
// decides (first signal: stop sending and wait a grace for confirms; second: stop now).
// One instance per process; install from main() before the loop starts. The handlers are
// restored to the previous ones on destruction.
#include <signal.h>

namespace mandrill::publisher {

class StopSignal {
 public:
  StopSignal();  // installs handlers for SIGINT and SIGTERM
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  // Readable once a signal has arrived.
  int read_fd() const { return pipe_[0]; }
  // Empties the pipe (call when read_fd() was readable).
  void Drain();
  // Signals received so far.
  int count() const;

 private:
  int pipe_[2] = {-1, -1};
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

}  // namespace mandrill::publisher
