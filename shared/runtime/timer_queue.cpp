#include "shared/runtime/timer_queue.h"

#include <algorithm>
#include <cassert>

namespace mandrill::runtime::detail {
namespace {

struct Later {
  template <class E>
  bool operator()(const E& a, const E& b) const {
    return a.when != b.when ? a.when > b.when : a.seq > b.seq;
  }
};

}  // namespace

void TimerQueue::Add(TimerNode* node, TimePoint when) {
  assert(!node->armed());
  std::uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.push_back(Slot{nullptr, 0});
  }
  slots_[slot].node = node;
  node->slot = slot;
  heap_.push_back(Entry{when.time_since_epoch().count(), next_seq_++, slot, slots_[slot].gen});
  std::push_heap(heap_.begin(), heap_.end(), Later{});
}

void TimerQueue::Cancel(TimerNode* node) {
  if (!node->armed()) return;
  Slot& s = slots_[node->slot];
  s.node = nullptr;
  ++s.gen;  // the heap entry is now stale
  free_slots_.push_back(node->slot);
  node->slot = TimerNode::kUnarmed;
  ++stale_;
  if (stale_ > 1024 && stale_ * 2 > heap_.size()) Compact();
}

void TimerQueue::DropStaleTop() {
  while (!heap_.empty() && !Live(heap_.front())) {
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    heap_.pop_back();
    --stale_;
  }
}

void TimerQueue::Compact() {
  std::erase_if(heap_, [this](const Entry& e) { return !Live(e); });
  std::make_heap(heap_.begin(), heap_.end(), Later{});
  stale_ = 0;
}

std::optional<TimePoint> TimerQueue::NextDeadline() {
  DropStaleTop();
  if (heap_.empty()) return std::nullopt;
  return TimePoint(Duration(heap_.front().when));
}

TimerNode* TimerQueue::PopExpired(TimePoint now) {
  DropStaleTop();
  if (heap_.empty() || heap_.front().when > now.time_since_epoch().count()) return nullptr;
  std::uint32_t slot = heap_.front().slot;
  std::pop_heap(heap_.begin(), heap_.end(), Later{});
  heap_.pop_back();
  Slot& s = slots_[slot];
  TimerNode* node = s.node;
  s.node = nullptr;
  ++s.gen;
  free_slots_.push_back(slot);
  node->slot = TimerNode::kUnarmed;
  return node;
}

}  // namespace mandrill::runtime::detail
