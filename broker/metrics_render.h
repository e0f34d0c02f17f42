#pragma once
// The broker's /metrics text (Prometheus exposition format) from a snapshot. Names follow the
// RabbitMQ and NATS exporters: base units (seconds, bytes), `_total` for counters, labels
// `queue` and `reason`. docs/observability.md lists every series.
#include <string>

#include "broker/metrics_snapshot.h"

namespace mandrill::broker {

std::string RenderBrokerMetrics(const BrokerMetrics& m);

}  // namespace mandrill::broker
