// SignalSet: POSIX signals as loop events (asyncio's loop.add_signal_handler, Trio's
// open_signal_receiver).
//
// The signal handler does no work: it writes the signal number into a non-blocking self-pipe
// (async-signal-safe) and returns. The loop watches the pipe and hands each arrival to
// `co_await signals.Receive()` in order; arrivals while nobody waits are queued. Typical use:
// a supervised task loops on Receive() and calls Supervisor::Shutdown(grace) on SIGTERM/SIGINT
// and reopens logs on SIGHUP — the same code path as any other shutdown.
//
// One SignalSet per process at a time (the handlers are process-wide); constructing a second
// throws std::logic_error. The destructor restores the previous dispositions. Unlike signalfd,
// this needs no signal mask in every thread, so it works whatever threads exist already.
//
// Loop thread (construct on it or before Run with the Loop it serves).
#pragma once

#include <coroutine>
#include <deque>
#include <initializer_list>
#include <vector>

#include <csignal>

#include "shared/runtime/errors.h"
#include "shared/runtime/loop.h"
#include "shared/runtime/task_core.h"

namespace mandrill::runtime {

class SignalSet : private detail::IoWatcher {
 public:
  SignalSet(Loop& loop, std::initializer_list<int> signals);
  ~SignalSet();
  SignalSet(const SignalSet&) = delete;
  SignalSet& operator=(const SignalSet&) = delete;

  class [[nodiscard]] ReceiveAwaiter : private detail::Checkpoint {
   public:
    explicit ReceiveAwaiter(SignalSet* set) : set_(set) {}
    ReceiveAwaiter(const ReceiveAwaiter&) = delete;
    ReceiveAwaiter& operator=(const ReceiveAwaiter&) = delete;
    ~ReceiveAwaiter();
    bool await_ready();
    void await_suspend(std::coroutine_handle<> h);
    // The signal number.
    int await_resume() const;

   private:
    friend class SignalSet;
    void Interrupt() override;
    const char* WaitingOn() const override { return "signal"; }
    SignalSet* set_;
    int signo_ = 0;
    bool waiting_ = false;
  };

  ReceiveAwaiter Receive() { return ReceiveAwaiter(this); }
  // Signals received and not yet taken by Receive().
  std::size_t pending() const { return pending_.size(); }

 private:
  void OnIoReady(std::uint32_t events) override;
  void Dispatch();
  void Release();

  Loop* loop_;
  int read_fd_ = -1;
  int write_fd_ = -1;
  bool watching_ = false;
  std::vector<std::pair<int, struct sigaction>> previous_;
  std::deque<int> pending_;
  std::deque<ReceiveAwaiter*> waiters_;
};

}  // namespace mandrill::runtime
