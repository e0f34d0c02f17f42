#pragma once
// The worker's /metrics: rendered on the metrics server's thread from the loop's last
// WorkerStatus (published once per second) and the network thread's atomic counters, so a
// scrape never reaches the loop or the socket. Every series carries the label worker=NAME.
#include <string>

#include "worker/loop/worker_status.h"
#include "worker/net/net_thread.h"

namespace mandrill::worker {

// `status` may be null (the loop has not published yet): only the network figures then.
std::string RenderWorkerMetrics(const std::string& worker, const WorkerStatus* status,
                                runtime::TimePoint now, const NetCounters& net);

}  // namespace mandrill::worker
