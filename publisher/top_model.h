#pragma once
// What `mandrill-ctl top` shows, as pure functions of STATS samples: rates from the counter
// differences of two samples, the sort orders, and the rows of each section. No I/O and no
// clock reads: the caller stamps each sample with the time it was taken. Laying the view out
// on a screen of a given size is top_layout.h.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "publisher/fleet_merge.h"
#include "shared/protocol/messages.h"

namespace mandrill::publisher {

// One STATS reply (all pages folded) and when it arrived on the steady clock. With --cells,
// the fleet's totals (FleetSample).
struct TopSample {
  protocol::StatsReply stats;
  std::int64_t steady_ms = 0;
  // With --cells: the cell of each of stats.workers, and how many cells answered of how many
  // (cells_total 0: one broker). `problem` names the cells that did not answer and why (for
  // the status line); `problem_exit` is the exit code they make (0: none).
  std::vector<std::string> worker_cells{};
  std::size_t cells_total = 0, cells_answered = 0;
  std::string problem{};
  int problem_exit = 0;
};

struct TopQueueRow {
  std::string name;
  std::uint64_t ready = 0, unacked = 0, deferred = 0, dead = 0;
  std::optional<double> publish_rate, ack_rate;  // per second; none on the first sample
  std::optional<std::int64_t> oldest_ready_ms;   // none when nothing is ready
  std::uint32_t consumers = 0;
};

struct TopWorkerRow {
  std::string cell;  // with --cells
  std::string name;
  std::uint32_t credit = 0, in_flight = 0;
  std::optional<double> ack_rate;
  std::int64_t idle_ms = 0;
};

struct TopTaskRow {
  std::string cell;  // with --cells
  std::string worker, id, queue;
  std::uint32_t attempt = 0;
  std::int64_t leased_ms = 0;
  std::int64_t running_ms = -1;  // -1: the worker has not reported it
};

struct TopView {
  bool has_sample = false;  // false until the broker first answered: everything below is empty
  std::string broker_id;
  std::int64_t uptime_ms = 0;
  std::size_t cells_total = 0, cells_answered = 0;  // with --cells (0: one broker)
  std::uint64_t queues_total = 0, workers_total = 0;
  std::vector<TopQueueRow> queues;    // ready desc, then name
  std::vector<TopWorkerRow> workers;  // in flight desc, then name
  std::vector<TopTaskRow> tasks;      // oldest lease first, across workers
  // In flight but not in `tasks`: the broker lists at most kMaxTaskReports per worker, and
  // only the workers of its first page.
  std::uint64_t tasks_unlisted = 0;
  std::uint64_t workers_unlisted = 0;  // workers_total beyond the listed ones
};

// Events per second between two readings of a counter taken `elapsed_ms` apart; none when
// there is no earlier reading, no time passed, or the counter went backwards (a restart).
std::optional<double> CounterRate(std::optional<std::uint64_t> before, std::uint64_t now,
                                  std::int64_t elapsed_ms);

// The view of `current`, with rates against `previous` (none when it is null or comes from
// another broker incarnation: the broker id changes at every start).
TopView BuildTopView(const TopSample* previous, const TopSample* current);

// The fleet's totals as one sample. Its broker id joins every cell's ("cell-1=b-...,cell-2=?"
// for a cell that did not answer), so the rates restart when any cell restarts, goes away or
// comes back: a sum whose parts changed is no rate.
TopSample FleetSample(const FleetStats& fleet, std::int64_t steady_ms);

}  // namespace mandrill::publisher
