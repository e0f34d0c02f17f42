#include "worker/app/worker_metrics.h"

#include <chrono>

#include "shared/metrics/exposition.h"
#include "shared/metrics/process_stats.h"

namespace mandrill::worker {
namespace {

using metrics::Exposition;

void Counter(Exposition& e, const char* name, const char* help, const std::string& worker,
             std::uint64_t value) {
  e.Family(name, "counter", help);
  e.Sample(name, {{"worker", worker}}, value);
}

void Gauge(Exposition& e, const char* name, const char* help, const std::string& worker,
           double value) {
  e.Family(name, "gauge", help);
  e.Sample(name, {{"worker", worker}}, value);
}

void Loop(Exposition& e, const std::string& w, const WorkerStatus& s, runtime::TimePoint now) {
  Gauge(e, "mandrill_worker_messages_in_flight", "Messages whose lease this worker holds.", w,
        static_cast<double>(s.in_flight));
  const double longest =
      s.tasks.empty()
          ? 0
          : std::chrono::duration<double>(s.tasks.front().running + (now - s.taken_at)).count();
  Gauge(e, "mandrill_worker_longest_running_seconds",
        "Run time of the longest-running handler now; 0 when idle.", w, longest);
  e.Family("mandrill_worker_handler_seconds", "histogram",
           "Handler run time by outcome (acked, error, timeout, lease_lost, shutdown).");
  for (std::size_t i = 0; i < kHandlerOutcomes; ++i) {
    e.Histogram("mandrill_worker_handler_seconds", {{"worker", w}, {"outcome", kHandlerOutcomeNames[i]}},
                s.handler_seconds[i]);
  }
  e.Family("mandrill_worker_loop_lag_seconds", "histogram",
           "How late the worker loop ran a timer that was due (probed every 100 ms).");
  e.Histogram("mandrill_worker_loop_lag_seconds", {{"worker", w}}, s.loop_lag);
  Counter(e, "mandrill_worker_lease_extensions_total", "EXTENDs of leases sent for running "
          "handlers.", w, s.lease_extensions);
  Counter(e, "mandrill_worker_received_total", "Deliveries handed to the loop.", w,
          s.totals.received);
  e.Family("mandrill_worker_messages_total", "counter",
           "Deliveries settled or given up, by outcome.");
  const std::pair<const char*, std::uint64_t> outcomes[] = {
      {"acked", s.totals.acked},
      {"error", s.totals.nacked_error},
      {"timeout", s.totals.nacked_timeout},
      {"lease_lost", s.totals.lease_lost},
      {"shutdown", s.totals.nacked_shutdown}};
  for (const auto& [outcome, n] : outcomes) {
    e.Sample("mandrill_worker_messages_total", {{"worker", w}, {"outcome", outcome}}, n);
  }
  Counter(e, "mandrill_worker_internal_errors_total",
          "Message tasks that failed outside their handler (bugs; logged).", w,
          s.totals.internal_errors);
  Gauge(e, "mandrill_worker_status_age_seconds",
        "Age of the loop's snapshot these figures come from (published every second).", w,
        std::chrono::duration<double>(now - s.taken_at).count());
}

}  // namespace

std::string RenderWorkerMetrics(const std::string& worker, const WorkerStatus* status,
                                runtime::TimePoint now, const NetCounters& net) {
  Exposition e;
  const auto& w = worker;
  Gauge(e, "mandrill_worker_connected", "1 while welcomed by the broker.", w,
        net.welcomed.load(std::memory_order_relaxed) ? 1 : 0);
  Gauge(e, "mandrill_worker_credit", "Credit the broker was last told (0 while draining, paused "
        "or disconnected).", w, net.credit.load(std::memory_order_relaxed));
  Counter(e, "mandrill_worker_reconnects_total", "Connections to the broker lost or re-created.",
          w, net.reconnects.load(std::memory_order_relaxed));
  Counter(e, "mandrill_worker_delivered_total", "Deliveries received from the broker.", w,
          net.delivered.load(std::memory_order_relaxed));
  Counter(e, "mandrill_worker_lease_lost_total",
          "Leases the broker answered LEASE_LOST for (expired or released first).", w,
          net.lease_lost.load(std::memory_order_relaxed));
  Counter(e, "mandrill_worker_net_errors_total", "Send failures on the network thread.", w,
          net.errors.load(std::memory_order_relaxed));
  if (status != nullptr) Loop(e, w, *status, now);
  metrics::ExposeProcess(e, {{"worker", w}});
  return e.Take();
}

}  // namespace mandrill::worker
