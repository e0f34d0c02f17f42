#pragma once
// Handlers are registered by name and chosen with --handler NAME. A factory gets the parsed
// handler flags and returns the handler or an error that names the flag to fix (shown on
// stderr before the worker connects). Built-ins: mandrill (default), exec, noop.
//
// To add one: write a class deriving from Handler (handler.h), register it in
// HandlerRegistry::WithBuiltins() or, in a program of your own, on a registry you pass to
// WorkerApp.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "shared/core/result.h"
#include "worker/handlers/handler.h"

namespace mandrill::worker {

// The command-line knobs of the built-in handlers (defaults here).
struct HandlerConfig {
  std::string worker_name;
  // mandrill: simulated host restart latency and failure rate, and the SQLite ledger.
  std::chrono::milliseconds restart_min{50};
  std::chrono::milliseconds restart_max{200};
  double fail_rate = 0;
  std::uint64_t seed = 0;   // 0: random
  std::string ledger_path;  // empty: no ledger
  // exec: the command (run by /bin/sh -c) and how long it gets between SIGTERM and SIGKILL.
  std::string exec_command;
  std::chrono::milliseconds kill_grace{5000};
  // `--handler-arg KEY=VALUE` (repeatable): settings of handlers registered outside this tree
  // (the C++ SDK), which cannot add flags of their own. Their factory reads, checks and refuses
  // unknown keys; the built-ins ignore them.
  std::map<std::string, std::string> args;
};

using HandlerFactory =
    std::function<core::Result<std::unique_ptr<Handler>>(const HandlerConfig&)>;

class HandlerRegistry {
 public:
  // A registry holding mandrill, exec and noop.
  static HandlerRegistry WithBuiltins();

  // Replaces a handler registered under the same name.
  void Register(std::string name, std::string description, HandlerFactory factory);
  // Error (code 1) for an unknown name (listing the known ones) or from the factory.
  core::Result<std::unique_ptr<Handler>> Create(const std::string& name,
                                                const HandlerConfig& config) const;
  std::vector<std::string> Names() const;
  // "name: description" lines, for --help.
  std::string Describe() const;

 private:
  struct Entry {
    std::string description;
    HandlerFactory factory;
  };
  std::map<std::string, Entry> entries_;
};

}  // namespace mandrill::worker
