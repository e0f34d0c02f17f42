#include "broker/store.h"

#include <spdlog/spdlog.h>

namespace mandrill::broker {
namespace {
// What one queue costs beyond its messages (the object, its map node, its name).
constexpr std::size_t kQueueBytes = sizeof(Queue) + 96;
}  // namespace

Store::Store(const BrokerOptions& options, const core::Clock& clock)
    : dedup(options.dedup_window, options.max_dedup_ids), options_(options), clock_(clock) {}

Store::~Store() {
  while (dirty_.PopFront() != nullptr) {
  }
  while (idle_.PopFront() != nullptr) {
  }
}

Queue* Store::Find(std::string_view name) const {
  auto it = queues_.find(name);
  return it == queues_.end() ? nullptr : it->second.get();
}

Queue* Store::GetOrCreate(std::string_view name, bool force) {
  auto it = queues_.find(name);
  if (it != queues_.end()) return it->second.get();
  if (!force && queues_.size() >= options_.max_queues) {
    ++queues_refused_;
    return nullptr;
  }
  auto q = std::make_unique<Queue>(std::string(name));
  Queue* raw = q.get();
  queues_.emplace(std::string(name), std::move(q));
  spdlog::debug("queue '{}' created", name);
  return raw;
}

void Store::Touch(Queue* q) { idle_.Remove(q); }

void Store::MaybeIdle(Queue* q) {
  if (!q->unused() || static_cast<IdleHook*>(q)->linked()) return;
  q->idle_since = clock_.Now();
  idle_.PushBack(q);
}

std::size_t Store::RemoveIdle(core::SteadyTime now) {
  std::size_t removed = 0;
  while (Queue* q = idle_.Front()) {
    if (!q->unused()) {  // used again since it went idle; MaybeIdle re-adds it later
      idle_.Remove(q);
      continue;
    }
    if (now - q->idle_since < options_.queue_idle) break;
    idle_.Remove(q);
    dirty_.Remove(q);
    spdlog::debug("queue '{}' removed: empty and unused for {} ms", q->name(),
                  options_.queue_idle.count());
    queues_.erase(q->name());
    ++removed;
    ++queues_removed_;
  }
  return removed;
}

Message* Store::Create(Queue* q, std::uint64_t seq, std::string_view id, std::string_view payload,
                       std::string_view encoded_headers, std::int64_t published_unix_ms) {
  Touch(q);
  Message* m = NewMessage(seq, id, payload, encoded_headers, published_unix_ms);
  m->queue = q;
  ++q->pending;
  used_bytes_ += m->footprint();
  ++message_count_;
  dedup.AddLive(m);
  return m;
}

void Store::Free(Message* m) {
  used_bytes_ -= m->footprint();
  --message_count_;
  FreeMessage(m);
}

std::size_t Store::memory_used() const {
  return used_bytes_ + dedup.arena_bytes() + dedup.table_bytes() + queues_.size() * kQueueBytes;
}

}  // namespace mandrill::broker
