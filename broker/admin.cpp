#include "broker/admin.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "shared/protocol/transport.h"

namespace mandrill::broker {
namespace {

constexpr std::size_t kPayloadPreviewBytes = 256;

const char* Verb(AdminOp::Kind k) { return k == AdminOp::Kind::kRequeue ? "requeued" : "purged"; }

std::size_t PageSize(std::uint32_t asked, std::size_t most) {
  return asked == 0 ? most : std::min<std::size_t>(asked, most);
}

// Measured from the publish time on the wall clock, as the message's age is what an operator
// alerts on; a clock step back shows 0, not a negative age.
std::int64_t OldestReadyMs(const Queue& q, std::int64_t wall_ms) {
  const Message* oldest = q.FrontReady();
  return oldest == nullptr ? 0 : std::max<std::int64_t>(0, wall_ms - oldest->published_unix_ms);
}

}  // namespace

protocol::StatsReply Admin::Stats(const protocol::StatsRequest& r) const {
  const auto now = ctx_.clock.Now();
  protocol::StatsReply reply;
  reply.request_id = r.request_id;
  reply.broker_id = broker_id_;
  reply.uptime_ms = core::ToMillis(now - started_);
  const std::int64_t wall = ctx_.clock.WallMs();
  const auto& queues = ctx_.store.queues();
  const std::size_t page = PageSize(r.limit, ctx_.options.stats_page);
  for (auto it = queues.upper_bound(r.after); it != queues.end(); ++it) {
    if (reply.queues.size() == page) {
      reply.next = reply.queues.back().name;
      break;
    }
    const Queue& q = *it->second;
    protocol::QueueStats s = q.counters;
    s.ready = q.ready_count();
    s.in_flight = q.leased;
    s.deferred = q.deferred;
    s.dead = q.dead_count();
    s.oldest_ready_ms = OldestReadyMs(q, wall);
    s.consumers = q.subscribers;
    reply.queues.push_back(std::move(s));
  }
  reply.queues_total = queues.size();
  reply.workers_total = sessions_.size();
  if (r.after.empty()) {
    // The page's workers first (by name), then their details: a STATS request costs the reactor
    // a sort of pointers plus the page, however many workers are connected.
    std::vector<const Session*> listed;
    listed.reserve(sessions_.size());
    sessions_.ForEach([&](const Session* s) { listed.push_back(s); });
    const std::size_t n = std::min(listed.size(), ctx_.options.stats_page);
    std::partial_sort(listed.begin(), listed.begin() + static_cast<std::ptrdiff_t>(n),
                      listed.end(),
                      [](const Session* a, const Session* b) { return a->name < b->name; });
    listed.resize(n);
    for (const Session* s : listed) {
      protocol::WorkerStats w;
      w.name = s->name;
      // With authentication on, the key's name: it is what grants rights (a routing id is
      // assigned by the ROUTER and grants nothing, but need not be shown either).
      w.peer = s->owner.empty() ? protocol::PrintableId(s->routing_id) : "key:" + s->owner;
      for (const auto& sub : s->subscriptions) w.queues.push_back(sub->queue->name());
      w.credit = s->credit;
      w.in_flight = static_cast<std::uint32_t>(s->leases.size());
      w.delivered = s->delivered;
      w.acked = s->acked;
      w.nacked = s->nacked;
      w.idle_ms = core::ToMillis(now - s->last_heard);
      Tasks(*s, now, w.tasks);
      reply.workers.push_back(std::move(w));
    }
    reply.counters = Counters();
  }
  return reply;
}

void Admin::Tasks(const Session& s, core::SteadyTime now,
                  std::vector<protocol::WorkerStats::Task>& out) const {
  const std::int64_t since_report = core::ToMillis(now - s.reported_at);
  for (const Lease* l = s.leases.Front(); l != nullptr && out.size() < protocol::kMaxTaskReports;
       l = s.leases.Next(l)) {
    auto& t = out.emplace_back();
    t.id = std::string(l->message->id());
    t.queue = l->message->queue->name();
    t.attempt = l->message->attempts;
    t.leased_ms = core::ToMillis(now - l->started);
    // `reported` is sorted by lease id (Broker::Handle(Heartbeat)); a worker's figure is
    // trusted only within [0, lease age].
    const auto r = std::lower_bound(
        s.reported.begin(), s.reported.end(), l->id,
        [](const protocol::TaskReport& a, std::uint64_t id) { return a.lease_id < id; });
    if (r != s.reported.end() && r->lease_id == l->id) {
      t.running_ms = std::clamp<std::int64_t>(r->running_ms + since_report, 0, t.leased_ms);
    }
  }
}

protocol::Counters Admin::Counters() const {
  const auto& c = ctx_.counters;
  const auto& store = ctx_.store;
  auto n = [](auto v) { return static_cast<std::int64_t>(v); };
  protocol::Counters out = {
      {"broker.frames_in", c.frames_in},
      {"broker.bad_frames", c.bad_frames},
      {"broker.internal_errors", c.internal_errors},
      {"broker.epoch", n(ctx_.epoch)},
      {"broker.lease_lost", c.lease_lost},
      {"broker.stale_epoch_leases", c.stale_epoch_leases},
      {"broker.not_ready", c.not_ready},
      {"broker.storage_failures", c.storage_failures},
      {"broker.storage_failed_records", n(ctx_.durability.failed_records())},
      {"broker.settle_rewrites", c.settle_rewrites},
      {"broker.send_failures", ctx_.outbox.send_failures()},
      {"broker.workers_disconnected", c.workers_disconnected},
      {"broker.closes_ambiguous", c.closes_ambiguous},
      {"broker.workers_timed_out", c.workers_timed_out},
      {"broker.workers_left", c.workers_left},
      {"broker.workers_reconnected", c.workers_reconnected},
      {"broker.leases_released", c.leases_released},
      {"broker.redelivered_elsewhere", c.redelivered_elsewhere},
      {"broker.refused_full", c.refused_full},
      {"broker.refused_memory", c.refused_memory},
      {"broker.refused_queues", c.refused_queues},
      {"broker.refused_peers", c.refused_peers},
      {"broker.refused_too_large", c.refused_too_large},
      {"broker.permission_denied", c.permission_denied},
      {"broker.auth_refused", c.auth_refused},
      {"broker.auth_admitted", c.auth_admitted},
      {"broker.dead_letters_dropped", c.dead_letters_dropped},
      {"broker.leases", n(leases_.size())},
      {"broker.pending_durable", n(ctx_.durability.pending_publishes())},
      {"broker.messages", n(store.message_count())},
      {"broker.queues", n(store.queues().size())},
      {"broker.queues_removed", n(store.queues_removed())},
      {"broker.workers", n(sessions_.size())},
      {"broker.dedup_ids", n(store.dedup.size())},
      {"broker.dedup_evicted", store.dedup.evicted()},
      {"broker.memory_bytes", n(store.memory_used())},
      {"broker.max_memory_bytes", n(ctx_.options.max_memory)},
      {"broker.passes", c.passes}};
  for (auto& kv : ctx_.storage.Stats()) out.push_back(std::move(kv));
  return out;
}

BrokerMetrics Admin::Metrics(std::size_t max_queues) const {
  BrokerMetrics m;
  m.broker_id = broker_id_;
  m.uptime_seconds = core::ToSeconds(ctx_.clock.Now() - started_);
  const std::int64_t wall = ctx_.clock.WallMs();
  const auto& queues = ctx_.store.queues();
  m.queues_total = queues.size();
  m.queues.reserve(std::min(max_queues, queues.size()));
  for (const auto& [name, q] : queues) {
    if (m.queues.size() == max_queues) break;
    QueueMetrics& out = m.queues.emplace_back();
    out.name = name;
    out.ready = q->ready_count();
    out.unacked = q->leased;
    out.deferred = q->deferred;
    out.dead = q->dead_count();
    out.consumers = q->subscribers;
    out.oldest_ready_age_seconds = static_cast<double>(OldestReadyMs(*q, wall)) / 1e3;
    const protocol::QueueStats& c = q->counters;
    out.published = c.published;
    out.acked = c.acked;
    out.nacked = c.nacked;
    out.redelivered = c.redelivered;
    out.expired = c.expired;
    out.dead_lettered = c.dead_lettered;
    out.deduplicated = c.deduplicated;
    out.refused_full = c.refused_full;
    out.refused_memory = q->refused_memory;
    out.refused_storage = q->refused_storage;
  }
  m.confirm_latency = ctx_.durability.confirm_latency();
  m.sync_latency = ctx_.storage.SyncLatency();
  m.counters = Counters();
  return m;
}

void Admin::Queues(const std::string& peer, const protocol::QueuesRequest& r) {
  protocol::QueuesReply reply;
  reply.request_id = r.request_id;
  const auto& queues = ctx_.store.queues();
  const std::size_t page = PageSize(r.limit, ctx_.options.queues_page);
  for (auto it = queues.upper_bound(r.after); it != queues.end(); ++it) {
    if (reply.names.size() == page) {
      reply.next = reply.names.back();
      break;
    }
    reply.names.push_back(it->first);
  }
  ctx_.outbox.Reply(peer, std::move(reply));
}

void Admin::DlqList(const std::string& peer, const protocol::DlqListRequest& r) {
  const Queue* q = ctx_.store.Find(r.queue);
  if (q == nullptr) {
    ctx_.outbox.Error(peer, protocol::ErrorCode::kUnknownQueue, "no queue named '" + r.queue + "'",
                      static_cast<std::uint8_t>(protocol::Command::kDlqList), r.request_id);
    return;
  }
  protocol::DlqListReply reply;
  reply.request_id = r.request_id;
  reply.queue = r.queue;
  reply.total = q->dead_count();
  const std::size_t limit = std::min<std::size_t>(r.limit, ctx_.options.limits.max_batch);
  for (const Message* m = q->OldestDead(); m != nullptr && reply.items.size() < limit;
       m = q->NextDead(m)) {
    reply.items.push_back({std::string(m->id()), m->attempts, std::string(m->last_error()),
                           m->dead_at_unix_ms(),
                           std::string(m->payload().substr(0, kPayloadPreviewBytes))});
  }
  ctx_.outbox.Reply(peer, std::move(reply));
}

void Admin::DlqChange(const std::string& peer, AdminOp::Kind kind, std::uint64_t request_id,
                      const std::string& queue, const std::vector<std::string>& ids) {
  const auto byte = static_cast<std::uint8_t>(kind == AdminOp::Kind::kRequeue
                                                  ? protocol::Command::kDlqRequeue
                                                  : protocol::Command::kDlqPurge);
  Queue* q = ctx_.store.Find(queue);
  if (q == nullptr) {
    ctx_.outbox.Error(peer, protocol::ErrorCode::kUnknownQueue, "no queue named '" + queue + "'",
                      byte, request_id);
    return;
  }
  AdminOp op;
  op.kind = kind;
  op.peer = peer;
  op.request_id = request_id;
  op.queue = queue;
  auto take = [&](const Message* m) {
    for (const auto& t : op.targets) {
      if (t.seq == m->seq) return;  // named twice
    }
    op.targets.push_back({m->seq, std::string(m->id())});
  };
  if (ids.empty()) {
    for (const Message* m = q->OldestDead(); m != nullptr; m = q->NextDead(m)) take(m);
  } else {
    for (const auto& id : ids) {
      const auto hit = ctx_.store.dedup.Find(q, id);
      if (hit.live != nullptr && hit.live->state == MessageState::kDead) {
        take(hit.live);
      } else {
        ++op.missing;
      }
    }
  }
  if (op.targets.empty()) {
    Durable(std::move(op));  // nothing to write
    return;
  }
  const auto wall = ctx_.clock.WallMs();
  Ticket first = 0, last = 0;
  for (const auto& t : op.targets) {
    last = kind == AdminOp::Kind::kRequeue ? ctx_.storage.Append(RequeueRecord{t.seq})
                                           : ctx_.storage.Append(PurgeRecord{t.seq, wall});
    if (first == 0) first = last;
  }
  ctx_.durability.AddAdmin(first, last, std::move(op));
}

void Admin::Durable(AdminOp op) {
  Queue* q = ctx_.store.Find(op.queue);
  std::size_t applied = 0;
  for (const auto& t : op.targets) {
    // Still the same dead letter? (An earlier operation or the dead-letter bound may have
    // taken it since.)
    const auto hit = q == nullptr ? DedupIndex::Hit{} : ctx_.store.dedup.Find(q, t.id);
    Message* m = hit.live;
    if (m == nullptr || m->seq != t.seq || m->state != MessageState::kDead) {
      ++op.missing;
      continue;
    }
    q->Exhume(m);
    ++applied;
    if (op.kind == AdminOp::Kind::kRequeue) {
      m->attempts = 0;
      q->PushReady(m, /*front=*/false);
      dispatcher_.MessageReady(q);
    } else {
      leasing_.Forget(m);
    }
  }
  spdlog::info("{} {} dead letters of '{}' ({} ids not found)", Verb(op.kind), applied, op.queue,
               op.missing);
  protocol::AdminOk ok;
  ok.request_id = op.request_id;
  ok.count = applied;
  ok.message = std::string(Verb(op.kind)) + " " + std::to_string(applied) +
               " message(s) from the dead-letter queue of '" + op.queue + "'" +
               (op.missing ? "; " + std::to_string(op.missing) + " id(s) were not dead letters"
                           : "");
  ctx_.outbox.Reply(op.peer, std::move(ok));
}

void Admin::Failed(AdminOp op, const std::string& error) {
  ctx_.storage_log.Log(spdlog::level::err, "{} of {} dead letters of '{}' not done: {}",
                       op.kind == AdminOp::Kind::kRequeue ? "requeue" : "purge",
                       op.targets.size(), op.queue, error);
  const auto byte = static_cast<std::uint8_t>(op.kind == AdminOp::Kind::kRequeue
                                                  ? protocol::Command::kDlqRequeue
                                                  : protocol::Command::kDlqPurge);
  ctx_.outbox.Error(op.peer, protocol::ErrorCode::kStorageFailed,
                    "the broker could not record the operation (" + error +
                        "): nothing was changed, retry",
                    byte, op.request_id);
}

}  // namespace mandrill::broker
