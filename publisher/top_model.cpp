#include "publisher/top_model.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace mandrill::publisher {
namespace {

// A worker's identity across samples: name and peer together. Names need not be unique, and
// with CURVE the peer is the key's name, which a whole fleet of workers may share.
// With --cells the cell too: two cells may each have a worker of that name and key.
std::string WorkerKey(const protocol::WorkerStats& w, const std::string& cell) {
  return cell + '\0' + w.name + '\0' + w.peer;
}

const std::string& CellOfWorker(const TopSample& s, std::size_t i) {
  static const std::string kNone;
  return i < s.worker_cells.size() ? s.worker_cells[i] : kNone;
}

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
  v.cells_total = current->cells_total;
  v.cells_answered = current->cells_answered;
  v.queues_total = std::max<std::uint64_t>(s.queues_total, s.queues.size());
  v.workers_total = std::max<std::uint64_t>(s.workers_total, s.workers.size());
  v.workers_unlisted = v.workers_total - s.workers.size();

  const bool comparable = previous != nullptr && previous->stats.broker_id == s.broker_id;
  const std::int64_t elapsed = comparable ? current->steady_ms - previous->steady_ms : 0;
  std::map<std::string, const protocol::QueueStats*> old_queues;
  std::map<std::string, const protocol::WorkerStats*> old_workers;
  if (comparable) {
    for (const auto& q : previous->stats.queues) old_queues[q.name] = &q;
    const auto& workers = previous->stats.workers;
    for (std::size_t i = 0; i < workers.size(); ++i) {
      old_workers[WorkerKey(workers[i], CellOfWorker(*previous, i))] = &workers[i];
    }
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
  for (std::size_t i = 0; i < s.workers.size(); ++i) {
    const protocol::WorkerStats& w = s.workers[i];
    const std::string& cell = CellOfWorker(*current, i);
    TopWorkerRow row{cell, w.name, w.credit, w.in_flight, {}, w.idle_ms};
    if (auto it = old_workers.find(WorkerKey(w, cell)); it != old_workers.end()) {
      row.ack_rate = CounterRate(it->second->acked, w.acked, elapsed);
    }
    v.workers.push_back(std::move(row));
    in_flight += w.in_flight;
    for (const auto& t : w.tasks) {
      v.tasks.push_back(
          TopTaskRow{cell, w.name, t.id, t.queue, t.attempt, t.leased_ms, t.running_ms});
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

TopSample FleetSample(const FleetStats& fleet, std::int64_t steady_ms) {
  TopSample s;
  s.stats = fleet.totals;
  s.steady_ms = steady_ms;
  s.worker_cells = fleet.worker_cells;
  s.cells_total = fleet.cells.size();
  s.cells_answered = fleet.answered;
  std::vector<int> codes;
  for (const auto& c : fleet.cells) {
    if (!s.stats.broker_id.empty()) s.stats.broker_id += ',';
    s.stats.broker_id += c.cell + '=' + (c.answered ? c.broker_id : "?");
    if (c.answered) {
      // The youngest cell: the time every figure has been counting for.
      if (s.stats.uptime_ms == 0 || c.uptime_ms < s.stats.uptime_ms)
        s.stats.uptime_ms = c.uptime_ms;
      continue;
    }
    codes.push_back(c.exit_code);
    if (!s.problem.empty()) s.problem += "; ";
    s.problem += c.cell + ": " + c.error;
  }
  s.problem_exit = FleetExitCode(codes);
  return s;
}

}  // namespace mandrill::publisher
