#pragma once
#include <string>

#include "shared/core/result.h"

namespace mandrill::core {

// Sets the default spdlog logger for a program: to stderr, or to `file` when non-empty
// (reopened by ReopenLogs, which SIGHUP triggers). `level` is trace|debug|info|warn|error|off.
Status InitLogging(const std::string& program, const std::string& level, const std::string& file);

// Reopens the log file after logrotate moved it. Safe to call from the owning thread only.
void ReopenLogs();

}  // namespace mandrill::core
