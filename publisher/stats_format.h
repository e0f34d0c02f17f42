#pragma once
// How mandrill-ctl shows broker replies: aligned tables for people, one JSON object (one line)
// for scripts. Pure functions of the reply; no I/O.
//
// The stats table has three sections: queues (ready, in flight, deferred, dead, published,
// acked, redelivered), workers (name, peer, queues, credit, in flight, delivered/acked/nacked,
// idle, and a FULL mark when a worker holds as many messages as its credit allows: it gets
// nothing more until it acks), and the broker's counters. JSON carries every field, including
// each queue's oldest_ready_ms and consumers and each worker's tasks (its leases, oldest
// first: id, queue, attempt, leased_ms, running_ms — null when the worker has not reported it).
#include <string>
#include <string_view>
#include <vector>

#include "publisher/json_writer.h"
#include "shared/protocol/messages.h"

namespace mandrill::publisher {

// True when the worker may be sent nothing more: in flight has reached a non-zero credit.
bool WorkerIsFull(const protocol::WorkerStats& w);

std::string RenderStatsTable(const protocol::StatsReply& s);
std::string RenderStatsJson(const protocol::StatsReply& s);

// The sections of the stats table, for the fleet view (fleet_format.h) as well. `cells`, when
// not empty, names the cell of each worker in a first CELL column.
std::string RenderQueueStatsTable(const std::vector<protocol::QueueStats>& queues);
std::string RenderWorkerStatsTable(const std::vector<protocol::WorkerStats>& workers,
                                   const std::vector<std::string>& cells);
std::string RenderCounterTable(const protocol::Counters& counters);
// One queue / worker as a JSON object into `j`; a non-empty `cell` is the worker's first key.
void AppendQueueJson(JsonWriter& j, const protocol::QueueStats& q);
void AppendWorkerJson(JsonWriter& j, const protocol::WorkerStats& w, std::string_view cell);

std::string RenderQueuesTable(const protocol::QueuesReply& q);
std::string RenderQueuesJson(const protocol::QueuesReply& q);

std::string RenderDlqTable(const protocol::DlqListReply& d);
std::string RenderDlqJson(const protocol::DlqListReply& d);

// "requeued 3 messages from restarts" / the broker's own message when it sent one.
std::string RenderAdminOk(const protocol::AdminOk& ok, const std::string& verb,
                          const std::string& queue);
std::string RenderAdminOkJson(const protocol::AdminOk& ok);

// "350ms", "4.2s", "3m05s", "2h01m": compact durations for idle time and uptime.
std::string CompactDuration(std::int64_t ms);
// "2024-05-01T12:00:00.123Z" (UTC) for a Unix time in milliseconds.
std::string UtcTime(std::int64_t unix_ms);

}  // namespace mandrill::publisher
