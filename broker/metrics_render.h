#pragma once
// The broker's /metrics text (Prometheus exposition format) from a snapshot. Names follow the
// RabbitMQ and NATS exporters: base units (seconds, bytes), `_total` for counters, labels
// `queue` and `reason`. docs/observability.md lists every series.
#include <string>

#include "broker/metrics_snapshot.h"

namespace mandrill::broker {

// What comes from the snapshot: the same text for every scrape of one snapshot (cached).
std::string RenderBrokerSnapshot(const BrokerMetrics& m);
// The whole page: the snapshot's text and the process's own figures, read now.
std::string RenderBrokerMetrics(const BrokerMetrics& m);
std::string WithProcessMetrics(std::string snapshot_text);

}  // namespace mandrill::broker
