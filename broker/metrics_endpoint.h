#pragma once
// The broker's --metrics-bind endpoint: the HTTP server (its own threads) and the reactor's side
// of it. The reactor calls MaybePublish once per pass; at most once per `interval` it copies the
// figures (Admin::Metrics) into a new snapshot, which the server renders per scrape. A scrape
// therefore costs the reactor nothing, however often it comes, and the reactor's cost is one
// copy per interval. Readiness (/readyz) is set by the reactor as it recovers and stops.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "broker/metrics_snapshot.h"
#include "shared/core/clock.h"
#include "shared/core/mutex.h"
#include "shared/core/result.h"
#include "shared/metrics/metrics_server.h"
#include "shared/metrics/snapshot_slot.h"

namespace mandrill::broker {

class Broker;

class MetricsEndpoint {
 public:
  MetricsEndpoint(std::string bind, std::chrono::milliseconds interval, std::size_t max_queues);
  ~MetricsEndpoint();

  core::Status Start();
  // Reactor thread, every pass: publishes a new snapshot when the last is `interval` old.
  void MaybePublish(const Broker& broker, core::SteadyTime now);
  // Reactor thread: empty `why` means ready.
  void SetNotReady(std::string why) EXCLUDES(mu_);
  void SetReady() { SetNotReady({}); }
  const std::string& address() const { return server_.address(); }

 private:
  std::string Render() const EXCLUDES(cache_mu_);
  std::string Readiness() const EXCLUDES(mu_);

  std::chrono::milliseconds interval_;
  std::size_t max_queues_;
  core::SteadyTime next_{};
  metrics::SnapshotSlot<BrokerMetrics> slot_;
  mutable core::Mutex mu_;
  std::string not_ready_ GUARDED_BY(mu_) = "starting";
  // The text of the last snapshot rendered: a scraper faster than the publish interval gets
  // the same text, rendered once (server threads only).
  mutable core::Mutex cache_mu_;
  mutable std::shared_ptr<const BrokerMetrics> cached_for_ GUARDED_BY(cache_mu_);
  mutable std::string cached_text_ GUARDED_BY(cache_mu_);
  metrics::MetricsServer server_;  // last: stopped (its threads joined) before the rest goes
};

}  // namespace mandrill::broker
