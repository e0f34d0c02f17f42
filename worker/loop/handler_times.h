#pragma once
// How long handlers ran, by how they ended: mandrill_worker_handler_seconds{outcome}. Observed
// by the Consumer as each message task settles (or is cancelled); loop thread only.
#include <array>
#include <cstddef>

#include "shared/metrics/histogram.h"

namespace mandrill::worker {

enum class HandlerOutcome : std::size_t {
  kAcked,      // returned: ACK
  kError,      // threw: NACK with backoff
  kTimeout,    // ran past --handler-timeout: NACK with backoff
  kLeaseLost,  // cancelled: the broker no longer held the lease
  kShutdown,   // unfinished at shutdown: NACK delay 0
};
inline constexpr std::size_t kHandlerOutcomes = 5;
inline constexpr std::array<const char*, kHandlerOutcomes> kHandlerOutcomeNames = {
    "acked", "error", "timeout", "lease_lost", "shutdown"};

class HandlerTimes {
 public:
  HandlerTimes()
      : by_outcome_{metrics::Histogram(metrics::HandlerBounds()),
                    metrics::Histogram(metrics::HandlerBounds()),
                    metrics::Histogram(metrics::HandlerBounds()),
                    metrics::Histogram(metrics::HandlerBounds()),
                    metrics::Histogram(metrics::HandlerBounds())} {}
  void Observe(HandlerOutcome outcome, double seconds) {
    by_outcome_[static_cast<std::size_t>(outcome)].Observe(seconds);
  }
  const metrics::HistogramData& data(HandlerOutcome outcome) const {
    return by_outcome_[static_cast<std::size_t>(outcome)].data();
  }

 private:
  std::array<metrics::Histogram, kHandlerOutcomes> by_outcome_;
};

}  // namespace mandrill::worker
