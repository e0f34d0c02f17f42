#include "broker/deferred_set.h"

namespace mandrill::broker {

DeferredSet::~DeferredSet() {
  while (!heap_.empty()) {
    FreeMessage(heap_.top().message);
    heap_.pop();
  }
}

void DeferredSet::Add(Message* m, core::SteadyTime due) {
  m->state = MessageState::kDeferred;
  heap_.push(Entry{due, m->seq, m});
}

Message* DeferredSet::PopDue(core::SteadyTime now) {
  if (heap_.empty() || heap_.top().due > now) return nullptr;
  Message* m = heap_.top().message;
  heap_.pop();
  return m;
}

std::optional<core::SteadyTime> DeferredSet::NextDue() const {
  if (heap_.empty()) return std::nullopt;
  return heap_.top().due;
}

}  // namespace mandrill::broker
