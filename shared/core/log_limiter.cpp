#include "shared/core/log_limiter.h"

namespace mandrill::core {

void LogLimiter::Tick(std::chrono::steady_clock::time_point now) {
  if (suppressed_ == 0 || now - period_start_ < period_) return;
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(period_).count();
  spdlog::warn("{}: ... and {} more like it in the last {} s", what_, suppressed_, secs);
  period_start_ = now;
  logged_ = 0;
  suppressed_ = 0;
}

bool LogLimiter::Admit(std::chrono::steady_clock::time_point now) {
  Tick(now);
  if (now - period_start_ >= period_) {
    period_start_ = now;
    logged_ = 0;
  }
  if (logged_ < burst_) {
    ++logged_;
    return true;
  }
  ++suppressed_;
  ++suppressed_total_;
  return false;
}

}  // namespace mandrill::core
