#pragma once
// Capped exponential backoff with jitter for re-creating the broker connection ("equal jitter":
// the n-th consecutive delay is uniform in [d/2, d] with d = min(cap, base * 2^n)), so a fleet
// that lost its broker at the same instant does not come back in lock-step. Reset() after a
// successful handshake (WELCOME). Not thread-safe: the network thread owns it.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace mandrill::worker {

class ReconnectBackoff {
 public:
  using Duration = std::chrono::milliseconds;

  ReconnectBackoff(Duration base, Duration cap, std::uint64_t seed)
      : base_(std::max(base, Duration(1))), cap_(std::max(cap, base_)), rng_(seed) {}

  // The delay before the next attempt; each call doubles the ceiling up to the cap.
  Duration Next() {
    const Duration ceiling = Ceiling(attempts_);
    ++attempts_;
    std::uniform_int_distribution<std::int64_t> pick(ceiling.count() / 2, ceiling.count());
    return Duration(pick(rng_));
  }
  void Reset() { attempts_ = 0; }
  int attempts() const { return attempts_; }
  // The largest delay the n-th attempt (0-based) can get.
  Duration Ceiling(int n) const {
    Duration d = base_;
    for (int i = 0; i < n && d < cap_; ++i) d *= 2;
    return std::min(d, cap_);
  }

 private:
  Duration base_;
  Duration cap_;
  std::mt19937_64 rng_;
  int attempts_ = 0;
};

}  // namespace mandrill::worker
