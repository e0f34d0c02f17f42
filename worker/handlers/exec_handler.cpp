#include "worker/handlers/exec_handler.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace mandrill::worker {
namespace {

using namespace std::chrono_literals;

// After the command exited and its group was killed, stderr reaches EOF at once; a process that
// escaped the group (setsid) could hold it open, so the read is abandoned after this.
constexpr runtime::Duration kStderrDrain = 1s;

runtime::Task<void> WriteStdin(ChildProcess* child, std::string payload) {
  std::size_t off = 0;
  const int fd = child->stdin_fd();
  while (off < payload.size()) {
    const ssize_t n = ::write(fd, payload.data() + off, payload.size() - off);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EAGAIN) {
      (void)co_await runtime::WaitWritable(fd);
    } else if (n < 0 && errno == EPIPE) {
      break;  // the command does not read its stdin: not an error
    } else if (!(n < 0 && errno == EINTR)) {
      throw std::system_error(errno, std::generic_category(), "writing the command's stdin");
    }
  }
  child->CloseStdin();  // EOF for the command
}

runtime::Task<void> ReadStderr(ChildProcess* child, std::string* tail) {
  char buf[4096];
  const int fd = child->stderr_fd();
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      tail->append(buf, static_cast<std::size_t>(n));
      if (tail->size() > 2 * ExecHandler::kStderrTail) {
        tail->erase(0, tail->size() - ExecHandler::kStderrTail);
      }
    } else if (n == 0) {
      co_return;
    } else if (errno == EAGAIN) {
      (void)co_await runtime::WaitReadable(fd);
    } else if (errno != EINTR) {
      throw std::system_error(errno, std::generic_category(), "reading the command's stderr");
    }
  }
}

runtime::Task<void> WaitExit(ChildProcess* child) {
  (void)co_await runtime::WaitReadable(child->pidfd());
}

std::string Trimmed(std::string s) {
  if (s.size() > ExecHandler::kStderrTail) s.erase(0, s.size() - ExecHandler::kStderrTail);
  const auto last = s.find_last_not_of(" \t\r\n");
  s.erase(last == std::string::npos ? 0 : last + 1);
  return s;
}

}  // namespace

core::Result<std::unique_ptr<Handler>> ExecHandler::Create(const HandlerConfig& config) {
  if (config.exec_command.empty()) {
    return core::Error{core::Errc::kInvalidArgument, "--handler exec needs --exec 'COMMAND'"};
  }
  return std::unique_ptr<Handler>(new ExecHandler(config.exec_command, config.kill_grace));
}

runtime::Task<int> ExecHandler::Supervise(ChildProcess* child, std::string payload,
                                          std::string* tail) {
  runtime::TaskGroup io("exec-io");
  io.Spawn("exec-stdin", WriteStdin(child, std::move(payload)));
  io.Spawn("exec-stderr", ReadStderr(child, tail));
  runtime::Timer drain_limit(*runtime::Loop::Current());
  std::exception_ptr error;
  try {
    (void)co_await runtime::WaitReadable(child->pidfd());
  } catch (...) {
    error = std::current_exception();  // cancelled or failed: rethrown once `io` has ended
  }
  if (error) {
    io.CancelAll();
  } else {
    child->SignalGroup(SIGKILL);  // whatever it left running in its group
    drain_limit.Start(kStderrDrain, [&io] { io.CancelAll(); });
  }
  try {
    co_await io.Join();  // not a checkpoint: always waits for both pipes' tasks
  } catch (...) {
    if (!error) error = std::current_exception();
  }
  if (error) std::rethrow_exception(error);
  const auto status = child->TryReap();
  if (!status) throw std::runtime_error("exec: the command exited but could not be reaped");
  co_return *status;
}

runtime::Task<void> ExecHandler::Terminate(ChildProcess* child, runtime::Duration grace) {
  if (child->SignalGroup(SIGTERM)) {
    const bool exited = co_await runtime::MoveOnAfter(grace, WaitExit(child));
    if (!exited) {
      child->SignalGroup(SIGKILL);
      co_await WaitExit(child);
    }
  }
  child->SignalGroup(SIGKILL);  // what is left in its group after the leader exited
  // The leader has exited (pidfd readable) unless the group had vanished already.
  if (!child->TryReap()) {
    co_await WaitExit(child);
    (void)child->TryReap();
  }
}

runtime::Task<void> ExecHandler::Handle(const Message& msg, Context& ctx) {
  std::vector<std::string> env = {"MANDRILL_MESSAGE_ID=" + std::string(msg.id),
                                  "MANDRILL_ATTEMPT=" + std::to_string(msg.attempt),
                                  "MANDRILL_QUEUE=" + std::string(msg.queue)};
  auto started = ChildProcess::Start(command_, env);
  if (!started.ok()) throw std::runtime_error("exec: " + started.error().message);
  std::unique_ptr<ChildProcess> child = std::move(started).value();
  ctx.Debug("exec: started pid {}", child->pid());
  std::string tail;
  std::exception_ptr interrupted;
  int status = 0;
  try {
    status = co_await Supervise(child.get(), std::string(msg.payload), &tail);
  } catch (...) {
    interrupted = std::current_exception();  // Cancelled, or an I/O error: rethrown below
  }
  if (interrupted) {
    ctx.Debug("exec: stopping pid {} (SIGTERM, SIGKILL after {} ms)", child->pid(),
              kill_grace_.count());
    bool stopped = true;
    try {
      co_await runtime::Shielded(kill_grace_ + 2s, Terminate(child.get(), kill_grace_));
    } catch (const runtime::TimeoutError&) {
      stopped = false;  // ~ChildProcess kills the group and reaps it
    }
    if (!stopped) ctx.Warn("exec: pid {} did not go away after SIGKILL in time", child->pid());
    std::rethrow_exception(interrupted);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string reason = ChildProcess::DescribeStatus(status);
    const std::string err = Trimmed(std::move(tail));
    if (!err.empty()) reason += ": " + err;
    throw std::runtime_error(reason);
  }
}

}  // namespace mandrill::worker
