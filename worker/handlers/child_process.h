#pragma once
// ChildProcess: one `/bin/sh -c COMMAND` run by the exec handler, owned from spawn to reap.
//
// The child runs in its own process group (so a signal reaches everything it started), with
// stdin and stderr on pipes whose worker-side ends are non-blocking and close-on-exec, stdout
// inherited, the worker's environment plus `extra_env`, default signal dispositions and an
// empty signal mask. A pidfd tells when it exited: `co_await runtime::WaitReadable(pidfd())`
// watches it on the loop instead of a blocking waitpid. Spawned with posix_spawn (vfork-style:
// cheap and safe in a multi-threaded process).
//
// Ownership: the object owns the pipes, the pidfd and the duty to reap. Its destructor, if the
// child was not reaped yet (a frame destroyed at loop teardown), SIGKILLs the whole group and
// reaps it (blocking only then, and briefly) so nothing is left behind.
//
// Threading: the loop thread (any one thread).
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shared/core/result.h"

namespace mandrill::worker {

class ChildProcess {
 public:
  // `extra_env` entries are NAME=VALUE; they replace inherited variables of the same name.
  static core::Result<std::unique_ptr<ChildProcess>> Start(
      const std::string& command, const std::vector<std::string>& extra_env);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  int stdin_fd() const { return stdin_fd_; }    // -1 once closed
  int stderr_fd() const { return stderr_fd_; }  // -1 once closed
  int pidfd() const { return pidfd_; }          // readable once the child has exited
  void CloseStdin();
  void CloseStderr();

  // Signals every process in the child's group. False if none is left (or already reaped: the
  // group id could then belong to someone else).
  bool SignalGroup(int sig);
  // Reaps the child if it has exited: its wait status (as from waitpid), else nullopt.
  std::optional<int> TryReap();
  bool reaped() const { return reaped_; }

  // "exit status 3", "killed by signal 9 (Killed)".
  static std::string DescribeStatus(int wait_status);

 private:
  ChildProcess() = default;

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stderr_fd_ = -1;
  int pidfd_ = -1;
  bool reaped_ = false;
  std::optional<int> status_;
};

}  // namespace mandrill::worker
