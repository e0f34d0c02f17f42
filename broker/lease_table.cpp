#include "broker/lease_table.h"

#include <cassert>

namespace mandrill::broker {
namespace {
constexpr std::size_t kBlockLeases = 256;
}

LeaseTable::~LeaseTable() = default;

Lease* LeaseTable::Start(Message* m, Session* s, core::SteadyTime now,
                         core::SteadyTime deadline) {
  if (free_ == nullptr) {
    blocks_.push_back(std::make_unique<Lease[]>(kBlockLeases));
    Lease* block = blocks_.back().get();
    for (std::size_t i = 0; i < kBlockLeases; ++i) {
      block[i].next_free = free_;
      free_ = &block[i];
    }
  }
  Lease* l = free_;
  free_ = l->next_free;
  *l = Lease{};
  do {
    l->id = ids_.Next();
  } while (by_id_.contains(l->id));  // 2^-64 per live lease; cheap to rule out
  l->message = m;
  l->session = s;
  l->started = now;
  l->deadline = deadline;
  by_id_.emplace(l->id, l);
  heap_.push_back(l);
  l->heap_index = static_cast<std::uint32_t>(heap_.size() - 1);
  SiftUp(l->heap_index);
  return l;
}

Lease* LeaseTable::Find(std::uint64_t lease_id) const {
  auto it = by_id_.find(lease_id);
  return it == by_id_.end() ? nullptr : it->second;
}

void LeaseTable::End(Lease* l) {
  by_id_.erase(l->id);
  const std::size_t i = l->heap_index;
  assert(i < heap_.size() && heap_[i] == l);
  Lease* last = heap_.back();
  heap_.pop_back();
  if (i < heap_.size()) {
    Place(i, last);
    SiftUp(i);
    SiftDown(last->heap_index);
  }
  *l = Lease{};
  l->next_free = free_;
  free_ = l;
}

void LeaseTable::SetDeadline(Lease* l, core::SteadyTime deadline) {
  l->deadline = deadline;
  SiftUp(l->heap_index);
  SiftDown(l->heap_index);
}

Lease* LeaseTable::Expired(core::SteadyTime now) const {
  if (heap_.empty() || heap_.front()->deadline > now) return nullptr;
  return heap_.front();
}

std::optional<core::SteadyTime> LeaseTable::NextDeadline() const {
  if (heap_.empty()) return std::nullopt;
  return heap_.front()->deadline;
}

void LeaseTable::SiftUp(std::size_t i) {
  Lease* l = heap_[i];
  while (i > 0) {
    const std::size_t parent = (i - 1) / 2;
    if (heap_[parent]->deadline <= l->deadline) break;
    Place(i, heap_[parent]);
    i = parent;
  }
  Place(i, l);
}

void LeaseTable::SiftDown(std::size_t i) {
  Lease* l = heap_[i];
  const std::size_t n = heap_.size();
  while (true) {
    std::size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && heap_[child + 1]->deadline < heap_[child]->deadline) ++child;
    if (l->deadline <= heap_[child]->deadline) break;
    Place(i, heap_[child]);
    i = child;
  }
  Place(i, l);
}

}  // namespace mandrill::broker
