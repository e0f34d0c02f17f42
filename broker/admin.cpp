// Operator commands: STATS, QUEUES and the dead-letter queue (list, requeue, purge).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/broker.h"
#include "shared/protocol/transport.h"

namespace mandrill::broker {
namespace {
constexpr std::size_t kPayloadPreviewBytes = 256;

// The dead letters named by `ids` (all of them when empty); counts names that are not dead here.
std::vector<StoredMessage*> SelectDead(const Queue& q, const std::vector<std::string>& ids,
                                       std::size_t* missing) {
  std::vector<StoredMessage*> chosen;
  if (ids.empty()) {
    for (const auto& [seq, m] : q.dead()) chosen.push_back(m);
    return chosen;
  }
  for (const auto& id : ids) {
    StoredMessage* m = q.FindDead(id);
    if (m == nullptr) {
      ++*missing;
    } else if (std::find(chosen.begin(), chosen.end(), m) == chosen.end()) {  // named twice
      chosen.push_back(m);
    }
  }
  return chosen;
}
}  // namespace

protocol::StatsReply Broker::Stats(std::uint64_t request_id) const {
  const auto now = clock_.Now();
  protocol::StatsReply r;
  r.request_id = request_id;
  r.broker_id = broker_id_;
  r.uptime_ms = core::ToMillis(now - started_);
  for (const auto& [name, q] : queues_) {
    protocol::QueueStats s = q->counters;
    s.ready = q->ready_count();
    s.deferred = q->deferred_count();
    s.dead = q->dead().size();
    r.queues.push_back(std::move(s));
  }
  workers_.ForEach([&](const Worker* w) {
    protocol::WorkerStats s;
    s.name = w->name;
    s.peer = protocol::PrintableId(w->routing_id);
    for (const Queue* q : w->queues) s.queues.push_back(q->name());
    s.credit = w->credit;
    s.in_flight = static_cast<std::uint32_t>(w->leases.size());
    s.delivered = w->delivered;
    s.acked = w->acked;
    s.nacked = w->nacked;
    s.idle_ms = core::ToMillis(now - w->last_heard);
    r.workers.push_back(std::move(s));
  });
  std::size_t dedup_ids = 0;
  for (const auto& [name, q] : queues_) dedup_ids += q->dedup.size();
  const auto& c = counters_;
  r.counters = {{"broker.frames_in", c.frames_in},
                {"broker.bad_frames", c.bad_frames},
                {"broker.lease_lost", c.lease_lost},
                {"broker.not_ready", c.not_ready},
                {"broker.storage_failures", c.storage_failures},
                {"broker.send_failures", c.send_failures},
                {"broker.workers_disconnected", c.workers_disconnected},
                {"broker.closes_ambiguous", c.closes_ambiguous},
                {"broker.workers_timed_out", c.workers_timed_out},
                {"broker.workers_left", c.workers_left},
                {"broker.leases_released", c.leases_released},
                {"broker.leases", static_cast<std::int64_t>(leases_.size())},
                {"broker.pending_durable", static_cast<std::int64_t>(pending_.size())},
                {"broker.dedup_ids", static_cast<std::int64_t>(dedup_ids)}};
  for (auto& kv : storage_.Stats()) r.counters.push_back(std::move(kv));
  return r;
}

void Broker::HandleQueues(const std::string& peer, const protocol::QueuesRequest& r) {
  protocol::QueuesReply reply;
  reply.request_id = r.request_id;
  for (const auto& [name, q] : queues_) reply.names.push_back(name);
  Reply(peer, std::move(reply));
}

void Broker::HandleDlqList(const std::string& peer, const protocol::DlqListRequest& r) {
  Queue* q = FindQueue(r.queue);
  if (q == nullptr) {
    ReplyError(peer, protocol::ErrorCode::kUnknownQueue, "no queue named '" + r.queue + "'",
               static_cast<std::uint8_t>(protocol::Command::kDlqList), r.request_id);
    return;
  }
  protocol::DlqListReply reply;
  reply.request_id = r.request_id;
  reply.queue = r.queue;
  reply.total = q->dead().size();
  const std::size_t limit = std::min<std::size_t>(r.limit, options_.limits.max_batch);
  for (const auto& [seq, m] : q->dead()) {
    if (reply.items.size() >= limit) break;
    reply.items.push_back({m->id, m->attempts, m->last_error, m->dead_at_unix_ms,
                           m->payload.substr(0, kPayloadPreviewBytes)});
  }
  Reply(peer, std::move(reply));
}

void Broker::HandleDlqRequeue(const std::string& peer, const protocol::DlqRequeueRequest& r) {
  Queue* q = FindQueue(r.queue);
  const auto byte = static_cast<std::uint8_t>(protocol::Command::kDlqRequeue);
  if (q == nullptr) {
    ReplyError(peer, protocol::ErrorCode::kUnknownQueue, "no queue named '" + r.queue + "'", byte,
               r.request_id);
    return;
  }
  std::size_t missing = 0;
  const auto chosen = SelectDead(*q, r.ids, &missing);
  for (StoredMessage* m : chosen) {
    q->Exhume(m->seq);
    storage_.Append(RequeueRecord{m->seq});
    m->attempts = 0;
    q->PushReady(m, /*front=*/false);
  }
  spdlog::info("requeued {} dead letters of '{}' ({} ids not found)", chosen.size(), r.queue,
               missing);
  protocol::AdminOk ok;
  ok.request_id = r.request_id;
  ok.count = chosen.size();
  ok.message = "requeued " + std::to_string(chosen.size()) + " message(s) from the dead-letter "
               "queue of '" + r.queue + "'" +
               (missing ? "; " + std::to_string(missing) + " id(s) were not dead letters" : "");
  Reply(peer, std::move(ok));
}

void Broker::HandleDlqPurge(const std::string& peer, const protocol::DlqPurgeRequest& r) {
  Queue* q = FindQueue(r.queue);
  const auto byte = static_cast<std::uint8_t>(protocol::Command::kDlqPurge);
  if (q == nullptr) {
    ReplyError(peer, protocol::ErrorCode::kUnknownQueue, "no queue named '" + r.queue + "'", byte,
               r.request_id);
    return;
  }
  std::size_t missing = 0;
  const auto chosen = SelectDead(*q, r.ids, &missing);
  const auto now = clock_.Now();
  for (StoredMessage* m : chosen) {
    q->Exhume(m->seq);
    storage_.Append(PurgeRecord{m->seq});
    q->dedup.Settle(m, now);
    m->state = MessageState::kSettled;
    q->Erase(m);
  }
  spdlog::info("purged {} dead letters of '{}'", chosen.size(), r.queue);
  protocol::AdminOk ok;
  ok.request_id = r.request_id;
  ok.count = chosen.size();
  ok.message = "purged " + std::to_string(chosen.size()) + " message(s) from the dead-letter "
               "queue of '" + r.queue + "'" +
               (missing ? "; " + std::to_string(missing) + " id(s) were not dead letters" : "");
  Reply(peer, std::move(ok));
}

}  // namespace mandrill::broker
