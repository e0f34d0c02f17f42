#pragma once
// Counters the writer thread updates and Stats() reads from the reactor thread (relaxed
// atomics: each figure is individually current, not a consistent snapshot).
#include <atomic>
#include <cstdint>

#include "shared/metrics/histogram.h"

namespace mandrill::broker::journal {

struct JournalStats {
  std::atomic<std::int64_t> segments{0};
  std::atomic<std::int64_t> bytes{0};
  std::atomic<std::int64_t> live_permille{1000};
  std::atomic<std::int64_t> live_messages{0};
  std::atomic<std::int64_t> last_sync_us{0};
  std::atomic<std::int64_t> syncs{0};
  metrics::AtomicHistogram sync_seconds{metrics::LatencyBounds()};  // each fdatasync of the head
  std::atomic<std::int64_t> records{0};
  std::atomic<std::int64_t> write_errors{0};
  std::atomic<std::int64_t> failed_records{0};
  std::atomic<std::int64_t> compactions{0};
  std::atomic<std::int64_t> compacted_bytes{0};
  std::atomic<std::int64_t> segments_deleted{0};
  std::atomic<std::int64_t> disk_full_passes{0};
  // Written once by Recover() on the reactor thread.
  std::atomic<std::int64_t> recovery_ms{0};
  std::atomic<std::int64_t> recovered_messages{0};
  std::atomic<std::int64_t> recovered_ids{0};
  std::atomic<std::int64_t> recovered_records{0};
  std::atomic<std::int64_t> recovery_corrupt_regions{0};
  std::atomic<std::int64_t> recovery_corrupt_bytes{0};
  std::atomic<std::int64_t> recovery_truncated_bytes{0};
  std::atomic<std::int64_t> recovery_conflicts{0};  // seqs published by two writers

  static void Add(std::atomic<std::int64_t>& c, std::int64_t d) {
    c.fetch_add(d, std::memory_order_relaxed);
  }
  static void Set(std::atomic<std::int64_t>& c, std::int64_t v) {
    c.store(v, std::memory_order_relaxed);
  }
};

}  // namespace mandrill::broker::journal
