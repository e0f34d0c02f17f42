#include "broker/leasing.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "shared/protocol/transport.h"

namespace mandrill::broker {
namespace {
constexpr const char* kLostReason =
    "lease lost: it expired, its worker was declared dead, or it was never issued; the message "
    "was or will be delivered again";
}  // namespace

void Leasing::LeaseLost(const std::string& peer, protocol::Command command,
                        std::vector<std::uint64_t> lost) {
  if (lost.empty()) return;
  ctx_.counters.lease_lost += static_cast<std::int64_t>(lost.size());
  const auto from_another_epoch = [&](std::uint64_t id) { return leases_.FromAnotherEpoch(id); };
  const auto stale =
      static_cast<std::int64_t>(std::count_if(lost.begin(), lost.end(), from_another_epoch));
  protocol::Error e;
  e.code = protocol::ErrorCode::kLeaseLost;
  e.reason = kLostReason;
  if (stale > 0) {
    // A worker still holding leases of a broker run before a restart or takeover (a worker
    // that did not compare WELCOME's epoch or broker_id), or a peer inventing ids.
    ctx_.counters.stale_epoch_leases += stale;
    ctx_.stale_epoch_log.Log(spdlog::level::info,
                             "{} from {}: {} of its {} unknown leases carry another epoch (e.g. "
                             "{:#018x}; this is epoch {}): answered LEASE_LOST",
                             protocol::CommandName(command), protocol::PrintableId(peer), stale,
                             lost.size(),
                             *std::find_if(lost.begin(), lost.end(), from_another_epoch),
                             ctx_.epoch);
    if (stale == static_cast<std::int64_t>(lost.size())) {
      e.reason = "lease lost: issued by another broker run (this is epoch " +
                 std::to_string(ctx_.epoch) + "); the message was or will be delivered again";
    }
  }
  e.answers = static_cast<std::uint8_t>(command);
  e.leases = std::move(lost);
  ctx_.outbox.Reply(peer, std::move(e));
}

std::uint32_t Leasing::MsLeft(const Lease* l) const {
  const auto left = core::ToMillis(l->deadline - ctx_.clock.Now());
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(left, 0, UINT32_MAX));
}

void Leasing::Ack(const std::string& peer, Session* s, const protocol::Ack& ack) {
  std::vector<std::uint64_t> lost;
  for (std::uint64_t id : ack.leases) {
    Lease* l = leases_.Find(id);
    if (l == nullptr || l->session != s) {
      lost.push_back(id);
      continue;
    }
    Message* m = EndLease(l);
    ++s->acked;
    ++m->queue->counters.acked;
    Settle(m, /*purge=*/false);
  }
  dispatcher_.SessionChanged(s);
  LeaseLost(peer, protocol::Command::kAck, std::move(lost));
}

void Leasing::Extend(const std::string& peer, Session* s, const protocol::Extend& extend) {
  const auto now = ctx_.clock.Now();
  std::vector<std::uint64_t> lost;
  protocol::Extended extended;
  for (std::uint64_t id : extend.leases) {
    Lease* l = leases_.Find(id);
    if (l == nullptr || l->session != s) {
      lost.push_back(id);
      continue;
    }
    const auto wanted = now + std::chrono::milliseconds(extend.duration_ms);
    leases_.SetDeadline(l, std::min(wanted, l->started + ctx_.options.max_lease));
    extended.items.push_back({id, MsLeft(l)});
  }
  if (!extended.items.empty()) ctx_.outbox.Reply(peer, std::move(extended));
  LeaseLost(peer, protocol::Command::kExtend, std::move(lost));
}

void Leasing::Nack(const std::string& peer, Session* s, protocol::Nack&& nack) {
  std::vector<std::uint64_t> lost;
  for (auto& item : nack.items) {
    Lease* l = leases_.Find(item.lease_id);
    if (l == nullptr || l->session != s) {
      lost.push_back(item.lease_id);
      continue;
    }
    Message* m = EndLease(l);
    ++s->nacked;
    ++m->queue->counters.nacked;
    Return(m, std::chrono::milliseconds(item.delay_ms),
           item.reason.empty() ? std::string_view("nacked") : std::string_view(item.reason),
           /*journal_nack=*/true, s);
  }
  dispatcher_.SessionChanged(s);
  LeaseLost(peer, protocol::Command::kNack, std::move(lost));
}

void Leasing::ExpireDue(core::SteadyTime now) {
  while (Lease* l = leases_.Expired(now)) {
    spdlog::debug("lease {} on message {} expired (worker {})", l->id, l->message->id(),
                  l->session->name);
    Session* s = nullptr;
    Message* m = EndLease(l, &s);
    ++m->queue->counters.expired;
    Return(m, std::chrono::milliseconds(0), "lease expired", /*journal_nack=*/false, s);
    dispatcher_.SessionChanged(s);
  }
}

void Leasing::ReleaseAll(Session* s, const std::string& reason) {
  std::vector<Lease*> held;
  held.reserve(s->leases.size());
  s->leases.ForEach([&](Lease* l) { held.push_back(l); });
  // Newest first: each goes to the front of its queue, so the oldest ends up first.
  std::sort(held.begin(), held.end(),
            [](const Lease* a, const Lease* b) { return a->message->seq > b->message->seq; });
  for (Lease* l : held) {
    Message* m = EndLease(l);
    Return(m, std::chrono::milliseconds(0), reason, /*journal_nack=*/false, s);
  }
  ctx_.counters.leases_released += static_cast<std::int64_t>(held.size());
  dispatcher_.SessionChanged(s);
}

void Leasing::TakeBack(Session* s, const std::vector<std::uint64_t>& leases) {
  const auto wall = ctx_.clock.WallMs();
  for (auto it = leases.rbegin(); it != leases.rend(); ++it) {
    Lease* l = leases_.Find(*it);
    if (l == nullptr || l->session != s) continue;
    Message* m = EndLease(l);
    --m->attempts;
    // The journal already counted the attempt; record the corrected count.
    ctx_.storage.Append(NackRecord{m->seq, m->attempts, wall, std::string(m->last_error())});
    m->queue->PushReady(m, /*front=*/true);
    dispatcher_.MessageReady(m->queue);
  }
  dispatcher_.SessionChanged(s);
}

Message* Leasing::EndLease(Lease* l, Session** session) {
  Message* m = l->message;
  if (session != nullptr) *session = l->session;
  l->session->leases.Remove(l);
  leases_.End(l);
  --m->queue->leased;
  return m;
}

void Leasing::Return(Message* m, std::chrono::milliseconds delay, std::string_view reason,
                     bool journal_nack, const Session* from) {
  Queue* q = m->queue;
  const std::size_t before = m->footprint();
  m->avoid_session = from != nullptr ? from->number : 0;
  if (m->attempts >= ctx_.options.max_deliveries) {
    spdlog::info("message {} in '{}' dead-lettered after {} attempts: {}", m->id(), q->name(),
                 m->attempts, reason);
    Bury(m, reason);
    ctx_.store.Recharge(before, m);
    return;
  }
  const auto wall = ctx_.clock.WallMs();
  if (journal_nack) {
    ctx_.storage.Append(NackRecord{m->seq, m->attempts, wall + delay.count(), std::string(reason)});
  }
  m->SetLastError(reason);
  ctx_.store.Recharge(before, m);
  if (delay.count() > 0) {
    ++q->deferred;
    ctx_.store.deferred.Add(m, ctx_.clock.Now() + delay);
  } else {
    q->PushReady(m, /*front=*/true);
    dispatcher_.MessageReady(q);
  }
}

void Leasing::Bury(Message* m, std::string_view reason) {
  Queue* q = m->queue;
  const auto wall = ctx_.clock.WallMs();
  ctx_.storage.Append(DeadLetterRecord{m->seq, m->attempts, std::string(reason), wall});
  ++q->counters.dead_lettered;
  q->Bury(m, reason, wall);
  // Bounded per queue: the oldest dead letter makes room (purged, as an operator would).
  while (q->dead_count() > ctx_.options.max_dead_letters) {
    Message* oldest = q->OldestDead();
    q->Exhume(oldest);
    ++ctx_.counters.dead_letters_dropped;
    ctx_.refusal_log.Log(spdlog::level::warn,
                         "queue '{}' holds {} dead letters (--max-dead-letters): purged the "
                         "oldest, {}",
                         q->name(), ctx_.options.max_dead_letters, oldest->id());
    Settle(oldest, /*purge=*/true);
  }
}

void Leasing::Settle(Message* m, bool purge) {
  const auto wall = ctx_.clock.WallMs();
  const Ticket t = purge ? ctx_.storage.Append(PurgeRecord{m->seq, wall})
                         : ctx_.storage.Append(AckRecord{m->seq, wall});
  ctx_.durability.AddSettle(t, SettleRecord{m->seq, wall, purge});
  Forget(m);
}

void Leasing::Forget(Message* m) {
  Queue* q = m->queue;
  if (Queue* released = ctx_.store.dedup.Settle(m, ctx_.clock.Now())) {
    ctx_.store.MaybeIdle(released);
  }
  ctx_.store.Free(m);
  ctx_.store.MaybeIdle(q);
}

}  // namespace mandrill::broker
