#pragma once
// mandrill-ctl's commands across every cell of a cell map (--cells): each command goes to all
// cells at once (cell_calls.h), the answers are merged (fleet_merge.h) and shown with a
// per-cell account (fleet_format.h).
//
// Output goes to `out` even when some cells failed: what the others said, and per failed cell
// its reason. Exit code (as ctl's): 0 when every cell answered; else the most telling failure
// of a cell: 64 (a bad endpoint), 2 (a cell did not answer), 1 (a cell answered ERROR); also 1
// when a dlq command's queue is on no cell that answered. A cell without the queue is not a
// failure: a queue lives on the cells its messages were placed on. A summary line on `err`
// names the cells that failed.
#include <iosfwd>
#include <vector>
#include <zmq.hpp>

#include "publisher/ctl_commands.h"
#include "publisher/fleet_merge.h"

namespace mandrill::publisher {

// Every cell's STATS (all pages), asked at once; in the map's order.
std::vector<CellAnswer<protocol::StatsReply>> FetchCellStats(zmq::context_t& context,
                                                             const CtlOptions& options);

int RunFleetCtl(const CtlOptions& options, zmq::context_t& context, std::ostream& out,
                std::ostream& err);

}  // namespace mandrill::publisher
