#pragma once
// The mandrill-worker command line -> WorkerOptions. Durations take a unit suffix (250ms, 30s,
// 5m; bare numbers are milliseconds); flags named -ms take plain milliseconds.
#include <string>

#include "worker/app/options.h"
#include "worker/handlers/registry.h"

namespace mandrill::worker {

struct ParsedFlags {
  WorkerOptions options;
  int exit_code = -1;  // >= 0: exit now with this code (help printed, or a usage error)
  std::string error;   // the usage error, one line (for stderr)
};

// Never exits the process; --help output goes to stdout.
ParsedFlags ParseFlags(int argc, const char* const* argv, const HandlerRegistry& registry);

}  // namespace mandrill::worker
