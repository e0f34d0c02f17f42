#include "broker/metrics_render.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "shared/metrics/exposition.h"
#include "shared/metrics/process_stats.h"

namespace mandrill::broker {
namespace {

using metrics::Exposition;

struct QueueGauge {
  const char* name;
  const char* help;
  double (*get)(const QueueMetrics&);
};
struct QueueCounter {
  const char* name;
  const char* help;
  std::uint64_t QueueMetrics::*field;
};

constexpr QueueGauge kQueueGauges[] = {
    {"mandrill_queue_messages_ready", "Messages waiting for a worker.",
     [](const QueueMetrics& q) { return static_cast<double>(q.ready); }},
    {"mandrill_queue_messages_unacked", "Messages leased to a worker, not settled yet.",
     [](const QueueMetrics& q) { return static_cast<double>(q.unacked); }},
    {"mandrill_queue_messages_deferred", "Messages nacked with a delay, waiting for it to pass.",
     [](const QueueMetrics& q) { return static_cast<double>(q.deferred); }},
    {"mandrill_queue_messages_dead", "Dead letters held.",
     [](const QueueMetrics& q) { return static_cast<double>(q.dead); }},
    {"mandrill_queue_consumers", "Worker sessions subscribed to the queue.",
     [](const QueueMetrics& q) { return static_cast<double>(q.consumers); }},
    {"mandrill_queue_oldest_ready_age_seconds",
     "Age (since publish) of the message at the head of the ready list; 0 when none is ready.",
     [](const QueueMetrics& q) { return q.oldest_ready_age_seconds; }},
};

constexpr QueueCounter kQueueCounters[] = {
    {"mandrill_queue_published_total", "Messages accepted (durable) into the queue.",
     &QueueMetrics::published},
    {"mandrill_queue_acked_total", "Messages acknowledged by a worker.", &QueueMetrics::acked},
    {"mandrill_queue_nacked_total", "Deliveries nacked by a worker.", &QueueMetrics::nacked},
    {"mandrill_queue_redelivered_total", "Deliveries of a message that was delivered before.",
     &QueueMetrics::redelivered},
    {"mandrill_queue_expired_total", "Leases that ran out before the worker settled them.",
     &QueueMetrics::expired},
    {"mandrill_queue_dead_lettered_total", "Messages moved to the dead letters.",
     &QueueMetrics::dead_lettered},
    {"mandrill_queue_deduplicated_total",
     "Publishes of an id the queue already holds or settled within the dedup window.",
     &QueueMetrics::deduplicated},
};

// STATS counters exported under a name of their own (the rest: see Generic below).
struct Named {
  std::string_view counter;
  const char* name;
  const char* type;
  const char* help;
  double scale;
};
constexpr Named kNamed[] = {
    {"broker.workers", "mandrill_workers_connected", "gauge", "Worker sessions.", 1},
    {"broker.epoch", "mandrill_broker_epoch", "gauge",
     "Fencing epoch of this broker run (+1 at every start on its data dir).", 1},
    {"broker.stale_epoch_leases", "mandrill_stale_epoch_leases_total", "counter",
     "ACK/EXTEND/NACK for a lease issued in another epoch (before a restart or takeover).", 1},
    {"broker.lease_lost", "mandrill_lease_lost_total", "counter",
     "ACK/EXTEND/NACK for a lease the broker no longer holds (expired, or another broker run).",
     1},
    {"broker.storage_failures", "mandrill_storage_failures_total", "counter",
     "Publishes refused because storage failed to write them.", 1},
    {"journal.bytes", "mandrill_journal_bytes", "gauge", "Bytes of journal segments on disk.", 1},
    {"journal.segments", "mandrill_journal_segments", "gauge", "Journal segment files.", 1},
    {"journal.recovery_ms", "mandrill_journal_recovery_seconds", "gauge",
     "How long the journal's recovery took at start.", 1e-3},
    {"journal.last_sync_us", "mandrill_journal_last_sync_seconds", "gauge",
     "Duration of the most recent journal sync.", 1e-6},
};

// Counters of STATS that are levels, not running totals.
constexpr std::string_view kGauges[] = {
    "broker.leases",          "broker.pending_durable",  "broker.messages",
    "broker.queues",          "broker.dedup_ids",        "broker.memory_bytes",
    "broker.max_memory_bytes", "journal.live_permille",  "journal.live_messages",
    "journal.recovered_messages", "journal.recovered_ids", "journal.recovered_records",
    "journal.recovery_corrupt_regions", "journal.recovery_corrupt_bytes",
    "journal.recovery_truncated_bytes", "journal.recovery_conflicts", "storage.memory"};

std::string MetricName(std::string_view counter, bool total) {
  std::string name = "mandrill_";
  for (char c : counter) name += (c == '.' || c == '-') ? '_' : c;
  if (total) name += "_total";
  return name;
}

void Generic(Exposition& e, const protocol::Counters& counters) {
  for (const auto& kv : counters) {
    // Not a structured binding: clang 14 cannot capture one in the lambda below.
    const std::string& counter = kv.first;
    const std::int64_t value = kv.second;
    const auto named = std::find_if(std::begin(kNamed), std::end(kNamed),
                                    [&](const Named& n) { return n.counter == counter; });
    if (named != std::end(kNamed)) {
      e.Family(named->name, named->type, named->help);
      if (named->scale == 1) {
        e.Sample(named->name, {}, value);
      } else {
        e.Sample(named->name, {}, static_cast<double>(value) * named->scale);
      }
      continue;
    }
    const bool gauge = std::find(std::begin(kGauges), std::end(kGauges), counter) !=
                       std::end(kGauges);
    const std::string name = MetricName(counter, !gauge);
    e.Family(name, gauge ? "gauge" : "counter", "STATS counter " + counter + ".");
    e.Sample(name, {}, value);
  }
}

}  // namespace

std::string RenderBrokerMetrics(const BrokerMetrics& m) {
  return WithProcessMetrics(RenderBrokerSnapshot(m));
}

std::string WithProcessMetrics(std::string snapshot_text) {
  Exposition e;
  metrics::ExposeProcess(e);
  return std::move(snapshot_text) + e.text();
}

std::string RenderBrokerSnapshot(const BrokerMetrics& m) {
  Exposition e;
  for (const QueueGauge& g : kQueueGauges) {
    e.Family(g.name, "gauge", g.help);
    for (const QueueMetrics& q : m.queues) e.Sample(g.name, {{"queue", q.name}}, g.get(q));
  }
  for (const QueueCounter& c : kQueueCounters) {
    e.Family(c.name, "counter", c.help);
    for (const QueueMetrics& q : m.queues) e.Sample(c.name, {{"queue", q.name}}, q.*c.field);
  }
  e.Family("mandrill_queue_refused_total", "counter",
           "Publishes to the queue refused, by reason (full: --queue-limit; memory: "
           "--max-memory; storage_failed: the write failed).");
  for (const QueueMetrics& q : m.queues) {
    e.Sample("mandrill_queue_refused_total", {{"queue", q.name}, {"reason", "full"}},
             q.refused_full);
    e.Sample("mandrill_queue_refused_total", {{"queue", q.name}, {"reason", "memory"}},
             q.refused_memory);
    e.Sample("mandrill_queue_refused_total", {{"queue", q.name}, {"reason", "storage_failed"}},
             q.refused_storage);
  }
  e.Family("mandrill_queues_exported", "gauge",
           "Queues in this output (at most --metrics-max-queues, in name order).");
  e.Sample("mandrill_queues_exported", {}, static_cast<std::uint64_t>(m.queues.size()));

  e.Family("mandrill_publish_confirm_seconds", "histogram",
           "PUBLISH received by the reactor to its CONFIRM queued, once the message is durable.");
  e.Histogram("mandrill_publish_confirm_seconds", {}, m.confirm_latency);
  if (m.sync_latency) {
    e.Family("mandrill_journal_fsync_seconds", "histogram",
             "Duration of each fdatasync of the journal's head segment.");
    e.Histogram("mandrill_journal_fsync_seconds", {}, *m.sync_latency);
  }
  Generic(e, m.counters);

  e.Family("mandrill_broker_uptime_seconds", "gauge", "Seconds since this broker run started.");
  e.Sample("mandrill_broker_uptime_seconds", {}, m.uptime_seconds);
  e.Family("mandrill_broker_info", "gauge", "This broker run's id (changes at every start).");
  e.Sample("mandrill_broker_info", {{"broker_id", m.broker_id}}, std::int64_t{1});
  return e.Take();
}

}  // namespace mandrill::broker
