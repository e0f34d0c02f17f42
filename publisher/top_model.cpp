#include "publisher/top_model.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace mandrill::publisher {
namespace {

// A worker's identity across samples: name and peer together. Names need not be unique, and
// with CURVE the peer is the key's name, which a whole fleet of workers may share.
std::string WorkerKey(const protocol::WorkerStats& w) { return w.name + '\0' + w.peer; }

}  // namespace

std::optional<double> CounterRate(std::optional<std::uint64_t> before, std::uint64_t now,
                                  std::int64_t elapsed_ms) {
  if (!before || elapsed_ms <= 0 || now < *before) return std::nullopt;
  return static_cast<double>(now - *before) * 1000.0 / static_cast<double>(elapsed_ms);
}

TopView BuildTopView(const TopSample* previous, const TopSample* current) {
  TopView v;
  if (current == nullptr) return v;
  const protocol::StatsReply& s = current->stats;
  v.has_sample = true;
  v.broker_id = s.broker_id;
  v.uptime_ms = s.uptime_ms;
  v.queues_total = std::max<std::uint64_t>(s.queues_total, s.queues.size());
  v.workers_total = std::max<std::uint64_t>(s.workers_total, s.workers.size());
  v.workers_unlisted = v.workers_total - s.workers.size();

  const bool comparable = previous != nullptr && previous->stats.broker_id == s.broker_id;
  const std::int64_t elapsed = comparable ? current->steady_ms - previous->steady_ms : 0;
  std::map<std::string, const protocol::QueueStats*> old_queues;
  std::map<std::string, const protocol::WorkerStats*> old_workers;
  if (comparable) {
    for (const auto& q : previous->stats.queues) old_queues[q.name] = &q;
    for (const auto& w : previous->stats.workers) old_workers[WorkerKey(w)] = &w;
  }

  for (const auto& q : s.queues) {
    TopQueueRow row{q.name, q.ready, q.in_flight, q.deferred, q.dead, {}, {}, {}, q.consumers};
    if (auto it = old_queues.find(q.name); it != old_queues.end()) {
      row.publish_rate = CounterRate(it->second->published, q.published, elapsed);
      row.ack_rate = CounterRate(it->second->acked, q.acked, elapsed);
    }
    if (q.ready > 0) row.oldest_ready_ms = q.oldest_ready_ms;
    v.queues.push_back(std::move(row));
  }
  std::sort(v.queues.begin(), v.queues.end(), [](const TopQueueRow& a, const TopQueueRow& b) {
    return std::tie(b.ready, a.name) < std::tie(a.ready, b.name);
  });

  std::uint64_t in_flight = 0;
  for (const auto& w : s.workers) {
    TopWorkerRow row{w.name, w.credit, w.in_flight, {}, w.idle_ms};
    if (auto it = old_workers.find(WorkerKey(w)); it != old_workers.end()) {
      row.ack_rate = CounterRate(it->second->acked, w.acked, elapsed);
    }
    v.workers.push_back(std::move(row));
    in_flight += w.in_flight;
    for (const auto& t : w.tasks) {
      v.tasks.push_back(TopTaskRow{w.name, t.id, t.queue, t.attempt, t.leased_ms, t.running_ms});
    }
  }
  std::sort(v.workers.begin(), v.workers.end(), [](const TopWorkerRow& a, const TopWorkerRow& b) {
    return std::tie(b.in_flight, a.name) < std::tie(a.in_flight, b.name);
  });
  // stable: a worker's own leases arrive oldest first; keep that order among equal ages.
  std::stable_sort(v.tasks.begin(), v.tasks.end(), [](const TopTaskRow& a, const TopTaskRow& b) {
    return std::tie(b.leased_ms, a.worker) < std::tie(a.leased_ms, b.worker);
  });
  v.tasks_unlisted = in_flight > v.tasks.size() ? in_flight - v.tasks.size() : 0;
  return v;
}

}  // namespace mandrill::publisher
