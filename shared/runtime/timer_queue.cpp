#include "shared/runtime/timer_queue.h"

#include <algorithm>
#include <cassert>

namespace mandrill::runtime::detail {
namespace {

// Buffers above this many entries are freed after a cascade instead of being kept for reuse,
// so a burst of timers does not pin its peak memory in the wheel.
constexpr std::size_t kKeepCapacity = 1024;
// How many entries entering the heap in one cascade get their slot and node prefetched.
constexpr std::size_t kPrefetch = 64;

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
  ++entries_;
  Place(Entry{when.time_since_epoch().count(), next_seq_++, node, slot, slots_[slot].gen});
}

void TimerQueue::Place(const Entry& e) {
  std::int64_t t = e.when >> kTickShift;
  if (t <= tick_) {
    PushNear(e);
    return;
  }
  // t > tick_ >= 0: they agree above the highest differing bit, where t has a 1; that bit's
  // level is where the entry waits, in the bucket of t's digit at that level.
  auto diff = static_cast<std::uint64_t>(t) ^ static_cast<std::uint64_t>(tick_);
  int level = (63 - __builtin_clzll(diff)) / kLevelBits;
  auto index = static_cast<int>((static_cast<std::uint64_t>(t) >> (level * kLevelBits)) &
                                (kBuckets - 1));
  wheel_[level][index].push_back(e);
  occupied_[level] |= std::uint64_t{1} << index;
  ++wheel_entries_;
}

void TimerQueue::PushNear(const Entry& e) {
  near_.push_back(e);
  std::push_heap(near_.begin(), near_.end(), Later{});
}

void TimerQueue::CancelArmed(TimerNode* node) {
  Slot& s = slots_[node->slot];
  s.node = nullptr;
  ++s.gen;  // the entry is now stale
  free_slots_.push_back(node->slot);
  node->slot = TimerNode::kUnarmed;
  ++stale_;
  if (stale_ > 1024 && stale_ * 2 > entries_) Compact();
}

void TimerQueue::DropStaleNearTop() {
  while (!near_.empty() && !Live(near_.front())) {
    std::pop_heap(near_.begin(), near_.end(), Later{});
    near_.pop_back();
    --stale_;
    --entries_;
  }
}

bool TimerQueue::EarliestBucket(int* level, int* index) const {
  // Every entry of a level sits in a bucket after the current tick's digit at that level, and
  // all of a lower level's entries are earlier than any higher level's.
  for (int l = 0; l < kLevels; ++l) {
    if (occupied_[l] != 0) {
      *level = l;
      *index = __builtin_ctzll(occupied_[l]);
      return true;
    }
  }
  return false;
}

std::int64_t TimerQueue::BucketStartTick(int level, int index) const {
  std::uint64_t below = (std::uint64_t{1} << ((level + 1) * kLevelBits)) - 1;
  return static_cast<std::int64_t>((static_cast<std::uint64_t>(tick_) & ~below) |
                                   (static_cast<std::uint64_t>(index) << (level * kLevelBits)));
}

void TimerQueue::Cascade(int level, int index) {
  std::vector<Entry>& bucket = wheel_[level][index];
  assert(scratch_.empty());
  scratch_.swap(bucket);
  occupied_[level] &= ~(std::uint64_t{1} << index);
  wheel_entries_ -= scratch_.size();
  tick_ = BucketStartTick(level, index);
  std::size_t near_before = near_.size();
  for (const Entry& e : scratch_) {
    // Stale entries move along too: checking them here would cost a slot-table miss per entry
    // per level; the heap drops them.
    std::int64_t t = e.when >> kTickShift;
    if (t <= tick_) {
      near_.push_back(e);  // heap order restored below
    } else {
      Place(e);
    }
  }
  // These are about to fire: start fetching their slots and nodes now, all at once.
  std::size_t prefetch_end = std::min(near_.size(), near_before + kPrefetch);
  for (std::size_t i = near_before; i < prefetch_end; ++i) {
    __builtin_prefetch(&slots_[near_[i].slot]);
    // The node and the line after it: a CallLater node (callback stored inline) is ~96 bytes.
    __builtin_prefetch(near_[i].node);
    __builtin_prefetch(reinterpret_cast<const char*>(near_[i].node) + 64);
  }
  if (near_before == 0) {
    std::make_heap(near_.begin(), near_.end(), Later{});
  } else {
    for (std::size_t i = near_before + 1; i <= near_.size(); ++i) {
      std::push_heap(near_.begin(), near_.begin() + static_cast<std::ptrdiff_t>(i), Later{});
    }
  }
  scratch_.clear();
  if (scratch_.capacity() > kKeepCapacity) scratch_ = std::vector<Entry>();
}

void TimerQueue::Compact() {
  auto stale = [this](const Entry& e) { return !Live(e); };
  std::erase_if(near_, stale);
  std::make_heap(near_.begin(), near_.end(), Later{});
  std::size_t wheel = 0;
  for (int l = 0; l < kLevels; ++l) {
    for (int i = 0; i < kBuckets; ++i) {
      std::vector<Entry>& bucket = wheel_[l][i];
      if (bucket.empty()) continue;
      std::erase_if(bucket, stale);
      if (bucket.empty()) {
        occupied_[l] &= ~(std::uint64_t{1} << i);
        if (bucket.capacity() > kKeepCapacity) bucket = std::vector<Entry>();
      }
      wheel += bucket.size();
    }
  }
  wheel_entries_ = wheel;
  entries_ = near_.size() + wheel;
  stale_ = 0;
}

std::optional<TimePoint> TimerQueue::NextDeadline(bool exact) {
  if (entries_ == stale_) return std::nullopt;  // only stale entries (or none) are left
  for (;;) {
    DropStaleNearTop();
    // Everything in the wheel is later than everything in near_.
    if (!near_.empty()) return TimePoint(Duration(near_.front().when));
    int level, index;
    if (!EarliestBucket(&level, &index)) return std::nullopt;
    if (level > 0 && !exact) {
      return TimePoint(Duration(BucketStartTick(level, index) << kTickShift));
    }
    Cascade(level, index);
  }
}

TimerNode* TimerQueue::PopExpired(TimePoint now) {
  const std::int64_t now_ns = now.time_since_epoch().count();
  const std::int64_t now_tick = now_ns >> kTickShift;
  for (;;) {
    DropStaleNearTop();
    if (!near_.empty()) {
      if (near_.front().when > now_ns) return nullptr;
      std::pop_heap(near_.begin(), near_.end(), Later{});
      std::uint32_t slot = near_.back().slot;
      TimerNode* node = near_.back().node;
      near_.pop_back();
      --entries_;
      Slot& s = slots_[slot];
      assert(s.node == node);
      s.node = nullptr;
      ++s.gen;
      free_slots_.push_back(slot);
      node->slot = TimerNode::kUnarmed;
      return node;
    }
    int level, index;
    if (!EarliestBucket(&level, &index)) {
      // Nothing in the wheel: let the current tick catch up with the clock, so that new timers
      // are placed relative to now (fewer cascades later).
      if (now_tick > tick_) tick_ = now_tick;
      return nullptr;
    }
    if (BucketStartTick(level, index) > now_tick) return nullptr;
    Cascade(level, index);
  }
}

}  // namespace mandrill::runtime::detail
