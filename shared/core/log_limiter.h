#pragma once
// Rate-limited log lines: a line that can repeat once per message or per frame (a refused
// publish on a full disk, a bad frame from a hostile peer) is logged at most `burst` times per
// `period`; the rest are counted and summarised once the period ends:
//   "... and 14566 more like it in the last 10 s".
// One LogLimiter per call site (a static or a member). Not thread-safe: one thread per limiter.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "shared/core/clock.h"

namespace mandrill::core {

class LogLimiter {
 public:
  // `clock` (null: the system clock) must outlive the limiter.
  explicit LogLimiter(std::string what, const Clock* clock = nullptr, int burst = 5,
                      std::chrono::milliseconds period = std::chrono::seconds(10))
      : what_(std::move(what)), clock_(clock), burst_(burst), period_(period) {}

  // Logs `fmt` at `level` unless this period's burst is spent; returns whether it logged.
  template <typename... Args>
  bool Log(spdlog::level::level_enum level, spdlog::format_string_t<Args...> fmt,
           Args&&... args) {
    if (!Admit(Now())) return false;
    spdlog::log(level, fmt, std::forward<Args>(args)...);
    return true;
  }
  // The decision alone (for tests and for callers that build the line themselves): true if a
  // line may be logged at `now`; when a period with suppressed lines ends, logs their summary.
  bool Admit(std::chrono::steady_clock::time_point now);

  // Logs the summary of a period that has ended with lines suppressed, even if no line comes
  // after it (call it from a timer, e.g. once a second).
  void Tick(std::chrono::steady_clock::time_point now);

  std::int64_t suppressed_total() const { return suppressed_total_; }
  SteadyTime Now() const {
    return clock_ != nullptr ? clock_->Now() : std::chrono::steady_clock::now();
  }

 private:
  std::string what_;
  const Clock* clock_;
  int burst_;
  std::chrono::milliseconds period_;
  std::chrono::steady_clock::time_point period_start_{};
  int logged_ = 0;
  std::int64_t suppressed_ = 0;
  std::int64_t suppressed_total_ = 0;
};

}  // namespace mandrill::core
