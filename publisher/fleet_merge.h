#pragma once
// mandrill-ctl --cells: the answers of every cell folded into one fleet-wide answer plus what
// each cell said. Pure functions of the replies; no I/O. A cell's answer is its reply or the
// error in its place (CellAnswer), in the cell map's order, and every result keeps that order.
//
// Totals: queues are merged by name (ready, in flight, deferred, dead and every counter
// summed; oldest_ready_ms the largest, consumers summed); workers are listed with their cell;
// broker counters are summed by name except those that are not amounts (kUnsummedCounters: the
// largest value is kept) and the epoch, which belongs to one cell and is only in its summary.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/core/result.h"
#include "shared/protocol/messages.h"

namespace mandrill::publisher {

template <typename Reply>
struct CellAnswer {
  std::string cell;
  std::string endpoint;
  core::Result<Reply> reply;
};

// The counter the broker reports its fencing epoch in.
inline constexpr std::string_view kEpochCounter = "broker.epoch";
// Gauges a sum would make meaningless (a ratio, a latency, a duration): totals keep the largest.
inline constexpr std::string_view kUnsummedCounters[] = {
    "journal.live_permille", "journal.last_sync_us", "journal.recovery_ms"};

// One line of the per-cell breakdown.
struct CellSummary {
  std::string cell, endpoint;
  bool answered = false;
  std::string error;  // when not answered: the reason, as AdminClient reports it
  int exit_code = 0;  // when not answered: the CtlExitCode of the error
  std::string broker_id;
  std::int64_t uptime_ms = 0;
  std::optional<std::int64_t> epoch;  // the cell's broker.epoch counter, when it has one
  std::uint64_t queues = 0, workers = 0;
  std::uint64_t ready = 0, in_flight = 0, deferred = 0, dead = 0;
};

struct FleetStats {
  // broker_id/uptime_ms/next unset; queues sorted by name; workers in cell order, then each
  // cell's own order; queues_total is the number of distinct names, workers_total the sum.
  protocol::StatsReply totals;
  std::vector<std::string> worker_cells;  // the cell of each of totals.workers
  std::vector<CellSummary> cells;
  std::size_t answered = 0;
};

FleetStats MergeStats(const std::vector<CellAnswer<protocol::StatsReply>>& answers);

// The exit code for the whole fleet: 0 when every cell answered; else the most telling of the
// failed cells' codes: 64 (a bad endpoint) over 2 (no answer) over 1 (an error).
int FleetExitCode(const std::vector<int>& cell_codes);

// What one cell did for a queues/dlq command.
struct CellCount {
  std::string cell;
  bool answered = false;
  bool has_queue = false;   // dlq: answered, and not "no such queue"
  std::uint64_t count = 0;  // queues there / dead letters there / requeued or purged there
  std::string message;      // the broker's own words (requeue/purge) or the error
  int exit_code = 0;        // when not answered
};

struct FleetQueue {
  std::string name;
  std::vector<std::string> cells;  // the cells holding it, in map order
};
struct FleetQueues {
  std::vector<FleetQueue> queues;  // sorted by name, each name once
  std::vector<CellCount> cells;    // count: that cell's queues
};
FleetQueues MergeQueues(const std::vector<CellAnswer<protocol::QueuesReply>>& answers);

// DLQ list and requeue/purge. A cell that answers "no such queue" (ERROR kUnknownQueue) has
// none of its dead letters: it answered, with nothing. That a queue is on no cell at all is
// `unknown_everywhere`.
struct FleetDeadLetter {
  std::string cell;
  protocol::DeadLetter item;
};
struct FleetDlq {
  std::string queue;
  std::uint64_t total = 0;             // summed over the cells that answered
  std::vector<FleetDeadLetter> items;  // oldest first across cells, at most `limit`
  std::vector<CellCount> cells;
  bool unknown_everywhere = false;  // every cell answered, none has the queue
};
FleetDlq MergeDlqLists(const std::string& queue,
                       const std::vector<CellAnswer<protocol::DlqListReply>>& answers,
                       std::size_t limit);

struct FleetAdminOk {
  std::uint64_t count = 0;  // summed
  // Ids asked for that no cell took (0 when all were asked for): an id is on one cell, so
  // one not found on a cell is only missing when no cell found it. Cells that did not
  // answer may still hold some.
  std::uint64_t missing = 0;
  std::vector<CellCount> cells;
  bool unknown_everywhere = false;
};
// `ids`: the ids asked for (empty: all).
FleetAdminOk MergeAdminOks(const std::vector<std::string>& ids,
                           const std::vector<CellAnswer<protocol::AdminOk>>& answers);

}  // namespace mandrill::publisher
