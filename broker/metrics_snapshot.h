#pragma once
// What the broker's /metrics shows, copied by the reactor once per --metrics interval
// (Admin::Metrics) and rendered on the metrics server's thread (metrics_render.h). Plain data:
// the reactor hands it over through a SnapshotSlot and never touches it again.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shared/metrics/histogram.h"
#include "shared/protocol/messages.h"

namespace mandrill::broker {

struct QueueMetrics {
  std::string name;
  std::uint64_t ready = 0, unacked = 0, deferred = 0, dead = 0, consumers = 0;
  double oldest_ready_age_seconds = 0;  // of the message at the head of the ready list
  std::uint64_t published = 0, acked = 0, nacked = 0, redelivered = 0, expired = 0,
                dead_lettered = 0, deduplicated = 0;
  std::uint64_t refused_full = 0, refused_memory = 0, refused_storage = 0;
};

struct BrokerMetrics {
  std::string broker_id;
  double uptime_seconds = 0;
  std::vector<QueueMetrics> queues;
  std::uint64_t queues_total = 0;  // may exceed queues.size(): the list is capped
  metrics::HistogramData confirm_latency;
  std::optional<metrics::HistogramData> sync_latency;
  protocol::Counters counters;  // everything STATS reports (Admin::Counters)
};

}  // namespace mandrill::broker
