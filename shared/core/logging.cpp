#include "shared/core/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>

namespace mandrill::core {
namespace {
std::string g_file;
std::string g_program;
std::string g_level = "info";

Status Install() {
  std::shared_ptr<spdlog::logger> logger;
  try {
    if (g_file.empty()) {
      logger = std::make_shared<spdlog::logger>(
          g_program, std::make_shared<spdlog::sinks::stderr_sink_mt>());
    } else {
      logger = std::make_shared<spdlog::logger>(
          g_program, std::make_shared<spdlog::sinks::basic_file_sink_mt>(g_file, false));
    }
  } catch (const spdlog::spdlog_ex& e) {
    return Error{Errc::kInvalidArgument, "cannot open log file '" + g_file + "': " + e.what()};
  }
  const auto level = spdlog::level::from_str(g_level);
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %n[%P] %^%l%$ %v");
  spdlog::set_default_logger(logger);
  return Status::Ok();
}
}  // namespace

Status InitLogging(const std::string& program, const std::string& level,
                   const std::string& file) {
  static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  bool known = false;
  for (const char* l : kLevels) known = known || level == l;
  if (!known) {
    return Error{Errc::kInvalidArgument, "unknown log level '" + level +
                        "' (use trace, debug, info, warn, error, critical or off)"};
  }
  g_program = program;
  g_level = level;
  g_file = file;
  return Install();
}

void ReopenLogs() {
  if (g_file.empty()) return;
  spdlog::default_logger()->flush();
  if (auto st = Install(); !st.ok()) {
    spdlog::error("log reopen failed, keeping the old file: {}", st.message());
  }
}

}  // namespace mandrill::core
