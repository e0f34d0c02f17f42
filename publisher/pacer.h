#pragma once
// Rate limiting for --rate: a token bucket refilled at `rate` messages per second, holding at
// most a short burst (50 ms worth, at least one message), so a publisher that was held back by
// its window does not then exceed the rate by more than that burst. Rate 0 means unlimited.
// Time comes from the caller (tests pass a VirtualClock's Now()). Not thread-safe.
#include <cstdint>
#include <optional>

#include "shared/core/clock.h"

namespace mandrill::publisher {

class Pacer {
 public:
  Pacer(double rate_per_second, core::SteadyTime start);

  bool unlimited() const { return rate_ <= 0; }
  // How many messages may be sent at `now` (saturates at a large value when unlimited).
  std::uint64_t Allowance(core::SteadyTime now);
  // Records that `n` messages (at most Allowance()) were sent.
  void Consume(std::uint64_t n);
  // When the next message becomes allowed (nullopt when unlimited or already allowed).
  std::optional<core::SteadyTime> NextAllowed() const;

 private:
  void Refill(core::SteadyTime now);

  double rate_;
  double burst_;
  double tokens_ = 1.0;
  core::SteadyTime last_;
};

}  // namespace mandrill::publisher
