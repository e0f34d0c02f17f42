#include "worker/handlers/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace mandrill::worker {
namespace {

std::string Errno(const char* what, int err) { return std::string(what) + ": " + strerror(err); }

void CloseFd(int* fd) {
  if (*fd >= 0) ::close(*fd);
  *fd = -1;
}

bool SetNonBlocking(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

std::string NameOf(const std::string& assignment) {
  return assignment.substr(0, assignment.find('='));
}

// RAII for the posix_spawn attribute objects.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

}  // namespace

core::Result<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::string& command, const std::vector<std::string>& extra_env) {
  int in[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0) return core::ErrnoError(errno, Errno("pipe2", errno));
  if (pipe2(err, O_CLOEXEC) != 0) {
    const int e = errno;
    ::close(in[0]);
    ::close(in[1]);
    return core::ErrnoError(e, Errno("pipe2", e));
  }
  // Our ends non-blocking; the child's ends stay blocking (they are separate open files).
  if (!SetNonBlocking(in[1]) || !SetNonBlocking(err[0])) {
    const int e = errno;
    for (int fd : {in[0], in[1], err[0], err[1]}) ::close(fd);
    return core::ErrnoError(e, Errno("fcntl(O_NONBLOCK)", e));
  }

  SpawnSetup setup;
  posix_spawn_file_actions_adddup2(&setup.actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&setup.actions, err[1], STDERR_FILENO);
  posix_spawnattr_setflags(&setup.attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&setup.attr, 0);  // its own group, id = its pid
  sigset_t none, defaults;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGCHLD}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&setup.attr, &defaults);

  std::vector<std::string> names;
  for (const auto& e : extra_env) names.push_back(NameOf(e));
  std::vector<char*> envp;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string name = NameOf(*e);
    bool replaced = false;
    for (const auto& n : names) replaced = replaced || n == name;
    if (!replaced) envp.push_back(*e);
  }
  for (const auto& e : extra_env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  std::string sh = "/bin/sh", dash_c = "-c", cmd = command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};

  pid_t pid = -1;
  const int rc = posix_spawn(&pid, "/bin/sh", &setup.actions, &setup.attr, argv, envp.data());
  ::close(in[0]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(err[0]);
    return core::ErrnoError(rc, Errno("posix_spawn /bin/sh", rc));
  }
  std::unique_ptr<ChildProcess> child(new ChildProcess());
  child->pid_ = pid;
  child->stdin_fd_ = in[1];
  child->stderr_fd_ = err[0];
  child->pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (child->pidfd_ < 0) {
    const int e = errno;
    return core::ErrnoError(e, Errno("pidfd_open", e));  // the destructor kills and reaps it
  }
  fcntl(child->pidfd_, F_SETFD, FD_CLOEXEC);
  return child;
}

ChildProcess::~ChildProcess() {
  CloseStdin();
  CloseStderr();
  if (pid_ > 0 && !reaped_) {
    // Last resort (normally the exec handler has terminated and reaped it): nothing is left
    // behind. After SIGKILL the wait is short.
    spdlog::warn("exec: pid {} still running when its handler went away: killing its process "
                 "group",
                 pid_);
    ::killpg(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  CloseFd(&pidfd_);
}

void ChildProcess::CloseStdin() { CloseFd(&stdin_fd_); }
void ChildProcess::CloseStderr() { CloseFd(&stderr_fd_); }

bool ChildProcess::SignalGroup(int sig) {
  if (reaped_ || pid_ <= 0) return false;
  return ::killpg(pid_, sig) == 0;
}

std::optional<int> ChildProcess::TryReap() {
  if (reaped_) return status_;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r != pid_) return std::nullopt;
  reaped_ = true;
  status_ = status;
  return status_;
}

std::string ChildProcess::DescribeStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return "exit status " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    const int sig = WTERMSIG(wait_status);
    return "killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "wait status " + std::to_string(wait_status);
}

}  // namespace mandrill::worker
