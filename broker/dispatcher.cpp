#include "broker/dispatcher.h"

#include <algorithm>

namespace mandrill::broker {

void Dispatcher::Subscribe(Session* s, const std::vector<Queue*>& queues) {
  Unsubscribe(s);
  for (Queue* q : queues) {
    const bool dup = std::any_of(s->subscriptions.begin(), s->subscriptions.end(),
                                 [&](const auto& sub) { return sub->queue == q; });
    if (dup) continue;
    auto sub = std::make_unique<Subscription>();
    sub->session = s;
    sub->queue = q;
    ctx_.store.Touch(q);
    ++q->subscribers;
    s->subscriptions.push_back(std::move(sub));
  }
  SessionChanged(s);
}

void Dispatcher::Unsubscribe(Session* s) {
  for (auto& sub : s->subscriptions) {
    sub->queue->hungry.Remove(sub.get());
    --sub->queue->subscribers;
    ctx_.store.MaybeIdle(sub->queue);
  }
  s->subscriptions.clear();
  s->hungry = false;
}

void Dispatcher::SessionChanged(Session* s) {
  const bool want = s->wants_work();
  if (want == s->hungry) return;
  s->hungry = want;
  for (auto& sub : s->subscriptions) {
    Queue* q = sub->queue;
    if (want) {
      q->hungry.PushBack(sub.get());
      if (q->HasReady()) ctx_.store.MarkDirty(q);
    } else {
      q->hungry.Remove(sub.get());
    }
  }
}

void Dispatcher::Dispatch() {
  if (ctx_.shutting_down) return;
  while (Queue* q = ctx_.store.PopDirty()) {
    while (q->HasReady() && !q->hungry.empty()) {
      Message* m = q->FrontReady();
      Subscription* sub = q->hungry.Front();
      if (m->avoid_session != 0) {
        if (sub->session->number == m->avoid_session && q->hungry.size() > 1) {
          sub = q->hungry.Next(sub);
        }
        if (sub->session->number != m->avoid_session) ++ctx_.counters.redelivered_elsewhere;
      }
      Session* s = sub->session;
      q->TakeReady(m);
      Deliver(s, q, m);
      // Take turns: the next message goes to the next hungry subscriber.
      if (s->hungry) q->hungry.MoveToBack(sub);
    }
  }
}

void Dispatcher::Deliver(Session* s, Queue* q, Message* m) {
  const auto now = ctx_.clock.Now();
  const auto wall = ctx_.clock.WallMs();
  if (m->attempts > 0) ++q->counters.redelivered;
  ++m->attempts;
  m->avoid_session = 0;
  ctx_.storage.Append(DeliverRecord{m->seq, m->attempts});
  const auto lease_time = std::min(ctx_.options.lease, ctx_.options.max_lease);
  Lease* l = leases_.Start(m, s, now, now + lease_time);
  m->state = MessageState::kLeased;
  s->leases.PushBack(l);
  ++q->leased;
  ++s->delivered;
  const auto lease_ms = static_cast<std::uint32_t>(core::ToMillis(lease_time));
  ctx_.outbox.Deliver(s, *m, l->id, lease_ms, wall + lease_ms);
  SessionChanged(s);
}

}  // namespace mandrill::broker
