#pragma once
// How mandrill-ctl --cells shows the fleet-wide answers of fleet_merge.h: tables for people,
// one JSON object for scripts. Pure functions; no I/O.
//
// Every table ends with what the cells did: `stats` with a breakdown table (CELL, STATE,
// BROKER, UP, EPOCH, QUEUES, WORKERS, READY, IN FLIGHT, DEAD), the others with a line per
// cell that did not answer; each failed cell's reason is one line "CELL: REASON". JSON has the
// same shape as the single-broker object where it can, with a `cells` array beside it.
#include <string>

#include "publisher/fleet_merge.h"

namespace mandrill::publisher {

std::string RenderFleetStatsTable(const FleetStats& f);
std::string RenderFleetStatsJson(const FleetStats& f);

std::string RenderFleetQueuesTable(const FleetQueues& f);
std::string RenderFleetQueuesJson(const FleetQueues& f);

std::string RenderFleetDlqTable(const FleetDlq& f);
std::string RenderFleetDlqJson(const FleetDlq& f);

// `verb`: "requeued" or "purged".
std::string RenderFleetAdminOk(const FleetAdminOk& f, const std::string& verb,
                               const std::string& queue);
std::string RenderFleetAdminOkJson(const FleetAdminOk& f);

// "ok", "no answer", "error", "bad endpoint": a cell's state from its exit code.
std::string CellStateName(bool answered, int exit_code);

}  // namespace mandrill::publisher
