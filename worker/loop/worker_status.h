#pragma once
// What the worker loop publishes about itself, once per status interval, for the threads that
// must not touch the loop: the metrics server renders it (/metrics) and the network thread
// reports its running tasks to the broker in heartbeats (`mandrill-ctl top`). Immutable once
// published (metrics::SnapshotSlot).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "shared/metrics/histogram.h"
#include "shared/runtime/runtime.h"
#include "worker/loop/handler_times.h"
#include "worker/loop/totals.h"

namespace mandrill::worker {

struct RunningTask {
  std::uint64_t lease_id = 0;
  std::string id;
  runtime::Duration running{};  // handler run time when the snapshot was taken
};

struct WorkerStatus {
  runtime::TimePoint taken_at{};
  std::size_t in_flight = 0;
  WorkerTotals totals;
  std::uint64_t lease_extensions = 0;
  std::array<metrics::HistogramData, kHandlerOutcomes> handler_seconds;
  metrics::HistogramData loop_lag;
  // Longest running first, at most protocol::kMaxTaskReports.
  std::vector<RunningTask> tasks;
};

}  // namespace mandrill::worker
