#include "broker/lease_table.h"

#include <cassert>

namespace mandrill::broker {

void LeaseTable::Insert(StoredMessage* m) {
  by_id_.emplace(m->lease_id, m);
  heap_.push_back(m);
  m->heap_index = heap_.size() - 1;
  SiftUp(m->heap_index);
}

StoredMessage* LeaseTable::Find(std::uint64_t lease_id) const {
  auto it = by_id_.find(lease_id);
  return it == by_id_.end() ? nullptr : it->second;
}

void LeaseTable::Remove(StoredMessage* m) {
  by_id_.erase(m->lease_id);
  const std::size_t i = m->heap_index;
  assert(i < heap_.size() && heap_[i] == m);
  StoredMessage* last = heap_.back();
  heap_.pop_back();
  if (i < heap_.size()) {
    Place(i, last);
    SiftUp(i);
    SiftDown(last->heap_index);
  }
}

void LeaseTable::SetDeadline(StoredMessage* m, core::SteadyTime deadline) {
  m->lease_deadline = deadline;
  SiftUp(m->heap_index);
  SiftDown(m->heap_index);
}

StoredMessage* LeaseTable::Expired(core::SteadyTime now) const {
  if (heap_.empty() || heap_.front()->lease_deadline > now) return nullptr;
  return heap_.front();
}

std::optional<core::SteadyTime> LeaseTable::NextDeadline() const {
  if (heap_.empty()) return std::nullopt;
  return heap_.front()->lease_deadline;
}

void LeaseTable::SiftUp(std::size_t i) {
  StoredMessage* m = heap_[i];
  while (i > 0) {
    const std::size_t parent = (i - 1) / 2;
    if (heap_[parent]->lease_deadline <= m->lease_deadline) break;
    Place(i, heap_[parent]);
    i = parent;
  }
  Place(i, m);
}

void LeaseTable::SiftDown(std::size_t i) {
  StoredMessage* m = heap_[i];
  const std::size_t n = heap_.size();
  while (true) {
    std::size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && heap_[child + 1]->lease_deadline < heap_[child]->lease_deadline) ++child;
    if (m->lease_deadline <= heap_[child]->lease_deadline) break;
    Place(i, heap_[child]);
    i = child;
  }
  Place(i, m);
}

}  // namespace mandrill::broker
