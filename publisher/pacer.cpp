#include "publisher/pacer.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace mandrill::publisher {

Pacer::Pacer(double rate_per_second, core::SteadyTime start)
    : rate_(rate_per_second), burst_(std::max(1.0, rate_per_second * 0.05)), last_(start) {}

void Pacer::Refill(core::SteadyTime now) {
  if (now <= last_) return;
  const double seconds = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(burst_, tokens_ + seconds * rate_);
  last_ = now;
}

std::uint64_t Pacer::Allowance(core::SteadyTime now) {
  if (unlimited()) return UINT64_MAX / 2;
  Refill(now);
  // The epsilon keeps 0.03 s * 100/s from flooring to 2 through rounding.
  return static_cast<std::uint64_t>(std::floor(tokens_ + 1e-9));
}

void Pacer::Consume(std::uint64_t n) {
  if (unlimited()) return;
  tokens_ -= static_cast<double>(n);
}

std::optional<core::SteadyTime> Pacer::NextAllowed() const {
  if (unlimited() || tokens_ + 1e-9 >= 1.0) return std::nullopt;
  const double wait_s = (1.0 - tokens_) / rate_;
  return last_ +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(
             std::chrono::duration<double>(wait_s)) +
         std::chrono::microseconds(1);
}

}  // namespace mandrill::publisher
