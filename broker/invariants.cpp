// Broker::CheckInvariants and StateOf: what tests and the state-machine fuzzer check after
// every step. Walks everything: not for the reactor's hot path.
#include <absl/container/flat_hash_set.h>

#include "broker/broker.h"

namespace mandrill::broker {
namespace {
core::Status Broken(std::string what) {
  return core::Error{core::Errc::kInternal, "invariant broken: " + std::move(what)};
}
}  // namespace

std::optional<MessageState> Broker::StateOf(const std::string& queue, const std::string& id,
                                            bool* settled) const {
  if (settled != nullptr) *settled = false;
  const Queue* q = store_.Find(queue);
  if (q == nullptr) return std::nullopt;
  const auto hit = store_.dedup.Find(q, id);
  if (!hit.found) return std::nullopt;
  if (hit.live == nullptr) {
    if (settled != nullptr) *settled = true;
    return std::nullopt;
  }
  return hit.live->state;
}

core::Status Broker::CheckInvariants() const {
  absl::flat_hash_set<const Message*> seen;
  auto place = [&](const Message* m, MessageState want, const char* where) -> core::Status {
    if (!seen.insert(m).second) {
      return Broken("message " + std::string(m->id()) + " is in two places (again in " + where +
                    ")");
    }
    if (m->state != want) return Broken("message " + std::string(m->id()) + " in " + where +
                                        " has the wrong state");
    if (store_.dedup.Find(m->queue, m->id()).live != m) {
      return Broken("message " + std::string(m->id()) + " is not in the dedup index");
    }
    return core::Status::Ok();
  };
  std::size_t total = 0;
  absl::flat_hash_map<const Queue*, std::uint64_t> leased, deferred, pending;
  for (const auto& [name, q] : store_.queues()) {
    for (const Message* m = q->FrontReady(); m != nullptr; m = q->NextReady(m)) {
      if (m->queue != q.get()) return Broken("ready message in the wrong queue");
      if (auto st = place(m, MessageState::kReady, "a ready list"); !st.ok()) return st;
    }
    for (const Message* m = q->OldestDead(); m != nullptr; m = q->NextDead(m)) {
      if (m->queue != q.get()) return Broken("dead message in the wrong queue");
      if (auto st = place(m, MessageState::kDead, "a dead list"); !st.ok()) return st;
    }
    total += q->ready_count() + q->dead_count();
  }
  core::Status bad;
  leases_.ForEach([&](const Lease* l) {
    if (!bad.ok()) return;
    if (!l->linked()) bad = Broken("a lease is on no session's list");
    if (bad.ok()) bad = place(l->message, MessageState::kLeased, "a lease");
    if (bad.ok() && sessions_.Find(l->session->routing_id) != l->session) {
      bad = Broken("a lease is held by a session the broker forgot");
    }
    ++leased[l->message->queue];
  });
  if (!bad.ok()) return bad;
  store_.deferred.ForEach([&](const Message* m) {
    if (bad.ok()) bad = place(m, MessageState::kDeferred, "the deferred set");
    ++deferred[m->queue];
  });
  if (!bad.ok()) return bad;
  durability_.ForEachPending([&](const Message* m) {
    if (bad.ok()) bad = place(m, MessageState::kPending, "the pending list");
    ++pending[m->queue];
  });
  if (!bad.ok()) return bad;
  total += leases_.size() + store_.deferred.size() + durability_.pending_publishes();
  if (total != store_.message_count()) {
    return Broken(std::to_string(store_.message_count()) + " messages allocated, " +
                  std::to_string(total) + " in place");
  }
  for (const auto& [name, q] : store_.queues()) {
    if (q->leased != leased[q.get()] || q->deferred != deferred[q.get()] ||
        q->pending != pending[q.get()]) {
      return Broken("queue '" + name + "' counts disagree with where its messages are");
    }
  }
  std::size_t session_leases = 0;
  sessions_.ForEach([&](const Session* s) {
    session_leases += s->leases.size();
    if (bad.ok() && s->leases.size() > std::max(s->credit, s->leases_at_credit)) {
      bad = Broken("worker " + s->name + " holds " + std::to_string(s->leases.size()) +
                   " leases, more than its credit " + std::to_string(s->credit));
    }
    if (bad.ok() && s->hungry != s->wants_work()) bad = Broken("hungry flag is stale");
  });
  if (!bad.ok()) return bad;
  if (session_leases != leases_.size()) return Broken("session lease lists disagree with leases");
  return core::Status::Ok();
}

}  // namespace mandrill::broker
