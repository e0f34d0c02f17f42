#pragma once
// The loop's side of observability: every `interval` it copies the Consumer's figures into a new
// WorkerStatus and publishes it (one copy per interval, whatever the scrape rate); every
// `lag_probe` it arms a timer for a known instant and measures how late the loop ran it — the
// loop lag (mandrill_worker_loop_lag_seconds), which grows when a handler blocks the loop thread
// or the loop is saturated.
//
// Threading: loop thread only; construct inside the loop, destroy before the Consumer.
#include <memory>

#include "shared/metrics/histogram.h"
#include "shared/metrics/snapshot_slot.h"
#include "shared/runtime/runtime.h"
#include "worker/loop/consumer.h"
#include "worker/loop/worker_status.h"

namespace mandrill::worker {

struct StatusOptions {
  runtime::Duration interval = std::chrono::seconds(1);
  runtime::Duration lag_probe = std::chrono::milliseconds(100);
};

class StatusReporter {
 public:
  StatusReporter(StatusOptions options, const Consumer& consumer,
                 metrics::SnapshotSlot<WorkerStatus>& slot);
  StatusReporter(const StatusReporter&) = delete;
  StatusReporter& operator=(const StatusReporter&) = delete;

  void Start();
  void Publish();  // now, as well as every interval (a last one at shutdown)
  const metrics::HistogramData& loop_lag() const { return lag_.data(); }

 private:
  void ArmProbe();
  void ArmPublish();

  StatusOptions options_;
  runtime::Loop& loop_;
  const Consumer& consumer_;
  metrics::SnapshotSlot<WorkerStatus>& slot_;
  metrics::Histogram lag_;
  runtime::Timer probe_;
  runtime::Timer publish_;
};

}  // namespace mandrill::worker
