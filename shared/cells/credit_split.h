#pragma once
// How a worker connected to several cells splits its --concurrency among them: by each cell's
// ready depth (which the broker reports to its workers), never more than --concurrency held in
// all, so that a deep cell is drained while an empty one holds no credit it cannot use.
//
// A cell's credit is its window: the most messages the worker holds from it at once (what READY
// and CREDIT carry). Leases already held are never taken back, so each connected cell keeps at
// least its in-flight count; what is left of the total goes first one to each cell with ready
// messages (deepest first: a shallow cell is not starved behind a deep one), then to them in
// proportion to their depth (never more than a cell's depth), and only what no
// deep cell can use goes, evenly, to the connected cells that are empty (so that work arriving
// at any of them starts at once). A disconnected cell gets nothing: its leases are lost to it
// anyway, and the other cells carry on.
#include <cstdint>
#include <vector>

namespace mandrill::cells {

struct CellLoad {
  bool connected = false;
  std::uint64_t ready = 0;      // the cell's last reported ready depth (its worker's queues)
  std::uint32_t in_flight = 0;  // leases this worker holds from the cell now
};

// One credit per cell, in the order of `cells`. The sum of max(credit, in_flight) over the
// connected cells never exceeds max(concurrency, the sum of their in_flight).
std::vector<std::uint32_t> SplitCredit(std::uint32_t concurrency,
                                       const std::vector<CellLoad>& cells);

}  // namespace mandrill::cells
