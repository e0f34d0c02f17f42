#pragma once
// The worker's own outcome counters (the broker counts its side in `mandrill-ctl stats`), and
// the attempt-based retry delay for NACKs. Loop thread only.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>

namespace mandrill::worker {

struct WorkerTotals {
  std::uint64_t received = 0;         // deliveries handed to the loop
  std::uint64_t acked = 0;            // handler returned
  std::uint64_t nacked_error = 0;     // handler (or a sub-task) threw
  std::uint64_t nacked_timeout = 0;   // ran past --handler-timeout
  std::uint64_t nacked_shutdown = 0;  // unfinished at shutdown (delay 0), incl. refused_draining
  std::uint64_t refused_draining = 0; // arrived while draining: nacked at once, never started
  std::uint64_t lease_lost = 0;       // handler cancelled: the broker no longer held its lease
  std::uint64_t lost_after_settle = 0;  // "lease lost" for a lease already settled here: the
                                        // ACK/NACK came too late (the lease had expired)
  std::uint64_t internal_errors = 0;  // message tasks that failed outside the handler (bugs)

  std::uint64_t nacked() const { return nacked_error + nacked_timeout + nacked_shutdown; }
  std::string Summary() const {
    return "received " + std::to_string(received) + ", acked " + std::to_string(acked) +
           ", nacked " + std::to_string(nacked()) + " (error " + std::to_string(nacked_error) +
           ", timeout " + std::to_string(nacked_timeout) + ", shutdown " +
           std::to_string(nacked_shutdown) + "), lease lost " + std::to_string(lease_lost) +
           " (+" + std::to_string(lost_after_settle) + " after settling), internal errors " +
           std::to_string(internal_errors);
  }
};

// Retry delay for the n-th attempt (1-based): initial * 2^(n-1), capped at `max`.
inline std::uint32_t RetryDelayMs(std::uint32_t attempt, std::chrono::milliseconds initial,
                                  std::chrono::milliseconds max) {
  double ms = static_cast<double>(initial.count());
  for (std::uint32_t i = 1; i < attempt && ms < static_cast<double>(max.count()); ++i) ms *= 2;
  ms = std::min(ms, static_cast<double>(max.count()));
  return static_cast<std::uint32_t>(std::clamp(ms, 0.0, 4'000'000'000.0));
}

}  // namespace mandrill::worker
