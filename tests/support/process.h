#pragma once
// Child processes for integration tests: started by fork/exec with stdout+stderr to a log file,
// always killed by PID when the handle dies, so no test leaves a process behind.
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mandrill::testing {

class Process {
 public:
  // Starts `argv[0]` (a path) with the given arguments; output goes to `log_path`.
  // Aborts the test (FAIL) if it cannot start.
  Process(std::vector<std::string> argv, std::string log_path,
          std::vector<std::string> extra_env = {});
  ~Process();  // SIGKILL + reap if still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  Process(Process&& other) noexcept;

  pid_t pid() const { return pid_; }
  bool running();
  void Signal(int sig);
  void Kill();  // SIGKILL and reap
  // Waits for exit; returns the exit code (or 128+signal), or nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  // The whole log so far.
  std::string Log() const;
  const std::string& log_path() const { return log_path_; }
  // Waits until `needle` appears in the log (or the process exits / timeout). True if seen.
  bool WaitForLog(const std::string& needle, std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  std::string log_path_;
  std::optional<int> exit_code_;
};

// A TCP port on 127.0.0.1 that was free a moment ago, chosen at random below the ephemeral
// range so no outgoing connection takes it while a broker restarts.
int FreePort();
std::string LoopbackEndpoint(int port);

// Fresh empty directory under the test temp root, removed by the caller (or left for
// post-mortem when a test fails).
std::string MakeTempDir(const std::string& prefix);

// Polls `condition` every few ms until true or timeout; returns its last value. For conditions
// that are observed from outside (files, other processes) where no event can be awaited.
bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// Path of a built executable (the build dir is passed in by CMake as MANDRILL_BIN_DIR; the
// environment variable MANDRILL_TEST_BIN_DIR, when set, names another).
std::string Binary(const std::string& name);

// mandrill-broker's command line for tests: `endpoint`, `data_dir`, debug logs, memory storage
// unless `flags` name a --storage, then `flags`.
std::vector<std::string> BrokerArgv(const std::string& endpoint, const std::string& data_dir,
                                    const std::vector<std::string>& flags);

}  // namespace mandrill::testing
