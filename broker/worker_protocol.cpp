// The worker side: READY/CREDIT, delivery under credit, ACK/EXTEND/NACK on leases, and what
// happens to a worker's leases when it goes away.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/broker.h"
#include "shared/protocol/codec.h"

namespace mandrill::broker {

void Broker::HandleReady(const std::string& peer, int fd, protocol::Ready&& ready) {
  for (const auto& name : ready.queues) {
    if (auto why = protocol::CheckQueueName(name); !why.empty()) {
      ReplyError(peer, protocol::ErrorCode::kInvalidArgument, "READY: " + why,
                 static_cast<std::uint8_t>(protocol::Command::kReady));
      return;
    }
  }
  if (shutting_down_) {
    Reply(peer, protocol::Disconnect{"the broker is shutting down"});
    return;
  }
  // A connection speaks for one worker process. The same process on a new connection (its
  // instance token names it) keeps its leases: the old connection is dead or dying.
  Worker* w = workers_.Find(peer);
  if (w != nullptr && w->instance != ready.instance) {
    ++counters_.workers_left;
    WorkerGone(w, "re-announced as another worker process");
    w = nullptr;
  }
  bool created = false;
  if (w == nullptr) {
    w = workers_.FindInstance(ready.instance);
    if (w != nullptr) {
      spdlog::info("worker {} reconnected (new connection on fd {})", w->name, fd);
      workers_.Rekey(w, peer);
    } else {
      w = workers_.Add(peer, ready.instance);
      created = true;
    }
  }
  w->name = ready.worker.empty() ? protocol::PrintableId(peer) : ready.worker;
  w->queues.clear();
  for (const auto& name : ready.queues) w->queues.push_back(GetOrCreateQueue(name));
  w->credit = ready.credit;
  if (fd >= 0) w->TieTo(fd, counters_.passes);
  w->last_heard = clock_.Now();
  // A worker that re-announces itself (a reconnect the broker did not notice) keeps its leases.
  spdlog::info("worker {} {} on fd {}: queues [{}], credit {}, {} leases held", w->name,
               created ? "ready" : "re-announced", fd, fmt::join(ready.queues, ", "), w->credit,
               w->leases.size());
  protocol::Welcome welcome;
  welcome.broker_id = broker_id_;
  welcome.heartbeat_ms = static_cast<std::uint32_t>(options_.heartbeat.count());
  welcome.lease_ms = static_cast<std::uint32_t>(options_.lease.count());
  welcome.max_lease_ms = static_cast<std::uint32_t>(options_.max_lease.count());
  welcome.max_payload_bytes = static_cast<std::uint32_t>(options_.limits.max_payload_bytes);
  welcome.max_body_bytes = options_.limits.max_body_bytes;
  welcome.max_batch = static_cast<std::uint32_t>(options_.limits.max_batch);
  Reply(peer, std::move(welcome));
}

void Broker::HandleCredit(Worker* w, const protocol::Credit& credit) {
  spdlog::debug("worker {} credit {} -> {}", w->name, w->credit, credit.credit);
  w->credit = credit.credit;
}

void Broker::LeaseLost(const std::string& peer, std::uint8_t command,
                       std::vector<std::uint64_t> leases, const char* why) {
  if (leases.empty()) return;
  counters_.lease_lost += static_cast<std::int64_t>(leases.size());
  protocol::Error e;
  e.code = protocol::ErrorCode::kLeaseLost;
  e.reason = std::string(why);
  e.answers = command;
  e.leases = std::move(leases);
  Reply(peer, std::move(e));
}

namespace {
constexpr const char* kLostReason =
    "lease lost: it expired, its worker was declared dead, or it was never issued; the message "
    "was or will be delivered again";
}

void Broker::HandleAck(const std::string& peer, Worker* w, const protocol::Ack& ack) {
  std::vector<std::uint64_t> lost;
  for (std::uint64_t id : ack.leases) {
    StoredMessage* m = leases_.Find(id);
    if (m == nullptr || m->worker != w) {
      lost.push_back(id);
      continue;
    }
    ++w->acked;
    ++m->queue->counters.acked;
    EndLease(m);
    Settle(m);
  }
  LeaseLost(peer, static_cast<std::uint8_t>(protocol::Command::kAck), std::move(lost), kLostReason);
}

void Broker::HandleExtend(const std::string& peer, Worker* w, const protocol::Extend& extend) {
  const auto now = clock_.Now();
  std::vector<std::uint64_t> lost;
  protocol::Extended extended;
  for (std::uint64_t id : extend.leases) {
    StoredMessage* m = leases_.Find(id);
    if (m == nullptr || m->worker != w) {
      lost.push_back(id);
      continue;
    }
    const auto wanted = now + std::chrono::milliseconds(extend.duration_ms);
    leases_.SetDeadline(m, std::min(wanted, m->lease_started + options_.max_lease));
    extended.items.push_back({id, LeaseMsLeft(m)});
  }
  if (!extended.items.empty()) Reply(peer, std::move(extended));
  LeaseLost(peer, static_cast<std::uint8_t>(protocol::Command::kExtend), std::move(lost),
            kLostReason);
}

void Broker::HandleNack(const std::string& peer, Worker* w, protocol::Nack&& nack) {
  std::vector<std::uint64_t> lost;
  for (auto& item : nack.items) {
    StoredMessage* m = leases_.Find(item.lease_id);
    if (m == nullptr || m->worker != w) {
      lost.push_back(item.lease_id);
      continue;
    }
    ++w->nacked;
    ++m->queue->counters.nacked;
    EndLease(m);
    Return(m, std::chrono::milliseconds(item.delay_ms),
           item.reason.empty() ? std::string("nacked") : std::move(item.reason), true);
  }
  LeaseLost(peer, static_cast<std::uint8_t>(protocol::Command::kNack), std::move(lost),
            kLostReason);
}

void Broker::EndLease(StoredMessage* m) {
  leases_.Remove(m);
  m->worker->leases.Remove(m);
  --m->queue->counters.in_flight;
  m->worker = nullptr;
  m->lease_id = 0;
  m->state = MessageState::kPending;  // in no structure until the caller places it
}

void Broker::Return(StoredMessage* m, std::chrono::milliseconds delay, std::string reason,
                    bool journal_nack) {
  Queue* q = m->queue;
  const auto now = clock_.Now();
  const auto wall = clock_.WallMs();
  if (m->attempts >= options_.max_deliveries) {
    spdlog::info("message {} in '{}' dead-lettered after {} attempts: {}", m->id, q->name(),
                 m->attempts, reason);
    storage_.Append(DeadLetterRecord{m->seq, m->attempts, reason, wall});
    ++q->counters.dead_lettered;
    q->Bury(m, std::move(reason), wall);
    return;
  }
  if (journal_nack) storage_.Append(NackRecord{m->seq, m->attempts, wall + delay.count(), reason});
  m->last_error = std::move(reason);
  if (delay.count() > 0) {
    q->Defer(m, now + delay);
  } else {
    q->PushReady(m, /*front=*/true);
  }
}

void Broker::TakeBack(StoredMessage* m) {
  EndLease(m);
  --m->attempts;
  // The journal already counted the attempt; record the corrected count.
  storage_.Append(NackRecord{m->seq, m->attempts, clock_.WallMs(), m->last_error});
  m->queue->PushReady(m, /*front=*/true);
}

void Broker::Settle(StoredMessage* m) {
  storage_.Append(AckRecord{m->seq});
  m->queue->dedup.Settle(m, clock_.Now());
  m->state = MessageState::kSettled;
  m->queue->Erase(m);
}

void Broker::WorkerGone(Worker* w, const char* why) {
  const std::size_t held = w->leases.size();
  spdlog::info("worker {} {}: returning its {} leased messages now", w->name, why, held);
  const std::string reason = "worker " + w->name + " " + why;
  // Oldest first, so they keep their relative order at the front of their queues.
  std::vector<StoredMessage*> leased;
  leased.reserve(held);
  w->leases.ForEach([&](StoredMessage* m) { leased.push_back(m); });
  std::sort(leased.begin(), leased.end(),
            [](const StoredMessage* a, const StoredMessage* b) { return a->seq > b->seq; });
  for (StoredMessage* m : leased) {
    EndLease(m);
    Return(m, std::chrono::milliseconds(0), reason, false);
  }
  counters_.leases_released += static_cast<std::int64_t>(held);
  deliveries_.erase(w);
  workers_.Remove(w);
}

void Broker::Dispatch() {
  if (shutting_down_) return;
  auto workers = workers_.All();
  if (workers.empty()) return;
  // Rotate the starting worker each pass so a short backlog is spread across workers.
  const std::size_t start = static_cast<std::size_t>(counters_.passes) % workers.size();
  std::rotate(workers.begin(), workers.begin() + static_cast<std::ptrdiff_t>(start), workers.end());
  for (Worker* w : workers) {
    const std::size_t nq = w->queues.size();
    for (std::size_t i = 0; i < nq && w->free_credit() > 0; ++i) {
      Queue* q = w->queues[(w->next_queue + i) % nq];
      if (q->HasReady()) DeliverTo(w, q, w->free_credit());
    }
    if (nq > 0) w->next_queue = (w->next_queue + 1) % nq;
  }
}

void Broker::DeliverTo(Worker* w, Queue* q, std::uint32_t count) {
  const auto now = clock_.Now();
  const auto wall = clock_.WallMs();
  auto& out = deliveries_[w];
  for (std::uint32_t i = 0; i < count; ++i) {
    StoredMessage* m = q->PopReady();
    if (m == nullptr) break;
    if (m->attempts > 0) ++q->counters.redelivered;
    ++m->attempts;
    storage_.Append(DeliverRecord{m->seq, m->attempts});
    m->state = MessageState::kLeased;
    m->lease_id = leases_.NextId();
    m->worker = w;
    m->lease_started = now;
    m->lease_deadline = now + std::min(options_.lease, options_.max_lease);
    leases_.Insert(m);
    w->leases.PushBack(m);
    ++w->delivered;
    ++q->counters.in_flight;
    const auto lease_ms = static_cast<std::uint32_t>(core::ToMillis(m->lease_deadline - now));
    // A new frame when this one is full: the worker refuses frames over its limits.
    constexpr std::size_t kItemOverhead = 64;
    std::size_t item_bytes = kItemOverhead + m->id.size() + q->name().size() + m->payload.size();
    for (const auto& [k, v] : m->headers) item_bytes += k.size() + v.size() + 10;
    if (out.empty() || out.back().writer.count() >= options_.limits.max_batch ||
        out.back().writer.size() + item_bytes > options_.limits.max_body_bytes) {
      out.emplace_back();
    }
    out.back().writer.Add(m->lease_id, m->id, q->name(), m->payload, m->attempts, lease_ms,
                          wall + lease_ms, m->headers);
    out.back().leases.push_back(m->lease_id);
  }
}

}  // namespace mandrill::broker
