#pragma once
// One admin exchange with every cell of a cell map at once, for mandrill-ctl --cells: a thread
// per cell, each with its own AdminClient (its own socket and CURVE key), all joined before
// CallEveryCell returns. So a cell that does not answer costs one --timeout in all, not one
// per cell, and the others' answers are there beside its error.
#include <chrono>
#include <functional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "publisher/admin_client.h"
#include "shared/cells/broker_targets.h"
#include "shared/core/result.h"
#include "shared/protocol/messages.h"

namespace mandrill::publisher {

// What one cell answered: its reply or, as AdminClient::Call reports it, why there is none.
struct CellReply {
  std::string cell;
  std::string endpoint;
  core::Result<protocol::Message> reply;
};

// Runs `exchange` on every cell's client concurrently (`exchange` is called from several
// threads at once and must be safe for that). A ZeroMQ exception inside (the context shut
// down under it) is that cell's CtlErrc::kNoAnswer. Replies are in the map's order.
std::vector<CellReply> CallEveryCell(
    zmq::context_t& context, const cells::BrokerTargets& targets, std::chrono::milliseconds timeout,
    const std::function<core::Result<protocol::Message>(AdminClient&)>& exchange);

}  // namespace mandrill::publisher
