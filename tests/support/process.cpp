#include "tests/support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#ifndef MANDRILL_BIN_DIR
#error "MANDRILL_BIN_DIR must be defined by the build"
#endif

namespace mandrill::testing {

Process::Process(std::vector<std::string> argv, std::string log_path,
                 std::vector<std::string> extra_env)
    : log_path_(std::move(log_path)) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e; ++e) env_storage.emplace_back(*e);
  for (auto& e : extra_env) env_storage.push_back(e);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  const int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    ADD_FAILURE() << "cannot open log " << log_path_;
    return;
  }
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    // Die with the test runner even if it is SIGKILLed before its destructors run.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::execve(args[0], args.data(), envp.data());
    ::dprintf(2, "exec %s failed\n", args[0]);
    ::_exit(127);
  }
  ::close(fd);
  if (pid_ < 0) ADD_FAILURE() << "fork failed";
}

Process::Process(Process&& other) noexcept
    : pid_(other.pid_), log_path_(std::move(other.log_path_)), exit_code_(other.exit_code_) {
  other.pid_ = -1;
}

Process::~Process() { Kill(); }

bool Process::running() {
  if (pid_ <= 0 || exit_code_) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

void Process::Signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

void Process::Kill() {
  if (pid_ > 0 && !exit_code_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    if (::waitpid(pid_, &status, 0) == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  }
}

std::optional<int> Process::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return exit_code_;
}

std::string Process::Log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Process::WaitForLog(const std::string& needle, std::chrono::milliseconds timeout) {
  return Eventually(
      [&] { return Log().find(needle) != std::string::npos || !running(); }, timeout) &&
         Log().find(needle) != std::string::npos;
}

int FreePort() {
  // Below the kernel's ephemeral range (32768-60999 on Debian): a port the kernel hands out for
  // bind(0) may meanwhile become the local end of some outgoing connection, and a broker
  // restarted on its port would then fail with "Address already in use".
  static std::mt19937 rng(static_cast<std::uint32_t>(::getpid()) * 2654435761u ^
                          static_cast<std::uint32_t>(
                              std::chrono::steady_clock::now().time_since_epoch().count()));
  // Never the same port twice in one process: a test that asks for several (one per cell) binds
  // them later, so a repeat would be "free" both times and then collide.
  static std::mutex mu;
  static std::set<int> given;
  std::lock_guard lock(mu);
  std::uniform_int_distribution<int> pick(20000, 32767);
  for (int tries = 0; tries < 1000; ++tries) {
    const int port = pick(rng);
    if (given.count(port) != 0) continue;
    const int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    const bool free = ::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(s);
    if (free) {
      given.insert(port);
      return port;
    }
  }
  ADD_FAILURE() << "no free loopback port in 20000-32767";
  return 0;
}

std::string LoopbackEndpoint(int port) { return "tcp://127.0.0.1:" + std::to_string(port); }

std::string MakeTempDir(const std::string& prefix) {
  const char* root = std::getenv("TMPDIR");
  std::string templ = std::string(root ? root : "/tmp") + "/" + prefix + "-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
  return templ;
}

bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string Binary(const std::string& name) {
  // MANDRILL_TEST_BIN_DIR runs a test against other binaries (e.g. an older build, to see a
  // regression test fail on the code it guards against).
  if (const char* dir = std::getenv("MANDRILL_TEST_BIN_DIR"); dir != nullptr && *dir != '\0') {
    return std::string(dir) + "/" + name;
  }
  return std::string(MANDRILL_BIN_DIR) + "/" + name;
}

std::vector<std::string> BrokerArgv(const std::string& endpoint, const std::string& data_dir,
                                    const std::vector<std::string>& flags) {
  std::vector<std::string> argv = {Binary("mandrill-broker"), "--bind", endpoint, "--data-dir",
                                   data_dir, "--log-level", "debug"};
  bool has_storage = false;
  for (const auto& f : flags) has_storage = has_storage || f == "--storage";
  if (!has_storage) argv.insert(argv.end(), {"--storage", "memory"});
  argv.insert(argv.end(), flags.begin(), flags.end());
  return argv;
}

}  // namespace mandrill::testing
