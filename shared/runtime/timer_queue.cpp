#include "shared/runtime/timer_queue.h"

#include <algorithm>
#include <cassert>

namespace mandrill::runtime::detail {
namespace {

// Emptied blocks beyond this many (~1 MiB) go back to the allocator, so a burst of timers does
// not pin its peak memory in the wheel.
constexpr std::size_t kKeepBlocks = 256;
// How many entries entering the heap in one cascade get their slot and node prefetched.
constexpr std::size_t kPrefetch = 64;

}  // namespace

TimerQueue::~TimerQueue() {
  for (auto& level : wheel_) {
    for (Bucket& bucket : level) RecycleChain(bucket.head);
  }
  while (spare_blocks_ != nullptr) {
    Block* next = spare_blocks_->next;
    delete spare_blocks_;
    spare_blocks_ = next;
  }
}

std::uint32_t TimerQueue::TakeSlot(TimerNode* node) {
  std::uint32_t slot = free_slot_;
  if (slot != kNoSlot) {
    free_slot_ = SlotAt(slot).next_free;
  } else {
    if ((slot_count_ & (kSlotsPerPage - 1)) == 0) {
      slot_pages_.push_back(std::make_unique<Slot[]>(kSlotsPerPage));
    }
    slot = slot_count_++;
  }
  SlotAt(slot).node = node;
  return slot;
}

void TimerQueue::FreeSlot(std::uint32_t slot) {
  Slot& s = SlotAt(slot);
  s.node = nullptr;
  ++s.gen;  // the slot's entry, if still queued, is now stale
  s.next_free = free_slot_;
  free_slot_ = slot;
}

void TimerQueue::Add(TimerNode* node, TimePoint when) {
  assert(!node->armed());
  std::uint32_t slot = TakeSlot(node);
  node->slot = slot;
  ++entries_;
  Place(Entry{when.time_since_epoch().count(), next_seq_++, node, slot, SlotAt(slot).gen});
}

TimerQueue::Block* TimerQueue::NewBlock() {
  Block* b = spare_blocks_;
  if (b != nullptr) {
    spare_blocks_ = b->next;
    --spare_count_;
  } else {
    b = new Block;
  }
  b->next = nullptr;
  b->size = 0;
  return b;
}

void TimerQueue::RecycleBlock(Block* b) {
  if (spare_count_ >= kKeepBlocks) {
    delete b;
    return;
  }
  b->next = spare_blocks_;
  spare_blocks_ = b;
  ++spare_count_;
}

void TimerQueue::RecycleChain(Block* b) {
  while (b != nullptr) {
    Block* next = b->next;
    RecycleBlock(b);
    b = next;
  }
}

void TimerQueue::Append(Bucket& bucket, const Entry& e) {
  Block* tail = bucket.tail;
  if (tail == nullptr || tail->size == kBlockEntries) {
    Block* b = NewBlock();
    if (tail == nullptr) {
      bucket.head = b;
    } else {
      tail->next = b;
    }
    bucket.tail = tail = b;
  }
  tail->entries[tail->size++] = e;
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
  Append(wheel_[level][index], e);
  occupied_[level] |= std::uint64_t{1} << index;
  ++wheel_entries_;
}

void TimerQueue::PushNear(const Entry& e) {
  near_.push_back(e);
  std::push_heap(near_.begin(), near_.end(), Later{});
}

void TimerQueue::CancelArmed(TimerNode* node) {
  FreeSlot(node->slot);
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
  Bucket bucket = wheel_[level][index];
  wheel_[level][index] = Bucket{};
  occupied_[level] &= ~(std::uint64_t{1} << index);
  tick_ = BucketStartTick(level, index);
  // Every entry now lands in a lower level or in near_, never back in this bucket.
  std::size_t near_before = near_.size();
  for (Block* b = bucket.head; b != nullptr;) {
    wheel_entries_ -= b->size;
    for (std::uint32_t i = 0; i < b->size; ++i) {
      // Stale entries move along too: checking them here would cost a slot-table miss per
      // entry per level; the heap drops them.
      const Entry& e = b->entries[i];
      if ((e.when >> kTickShift) <= tick_) {
        near_.push_back(e);  // heap order restored below
      } else {
        Place(e);
      }
    }
    Block* next = b->next;
    RecycleBlock(b);  // the next Place that needs a block gets this one, still in cache
    b = next;
  }
  // These are about to fire: start fetching their slots and nodes now, all at once.
  std::size_t prefetch_end = std::min(near_.size(), near_before + kPrefetch);
  for (std::size_t i = near_before; i < prefetch_end; ++i) {
    __builtin_prefetch(&SlotAt(near_[i].slot));
    // The node and the line after it: a CallLater node stores its callable inline, so it may
    // span two cache lines.
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
}

void TimerQueue::CompactBucket(int level, int index) {
  // Slides the live entries to the front of the chain, in order, and frees the blocks left over.
  Bucket& bucket = wheel_[level][index];
  Block* out = bucket.head;
  std::uint32_t out_size = 0;
  std::size_t kept = 0;
  for (Block* b = bucket.head; b != nullptr; b = b->next) {
    for (std::uint32_t i = 0; i < b->size; ++i) {
      if (!Live(b->entries[i])) continue;
      if (out_size == kBlockEntries) {
        out->size = out_size;
        out = out->next;  // never past b: at most as many entries were written as were read
        out_size = 0;
      }
      out->entries[out_size++] = b->entries[i];
      ++kept;
    }
  }
  wheel_entries_ += kept;
  if (kept == 0) {
    RecycleChain(bucket.head);
    bucket = Bucket{};
    occupied_[level] &= ~(std::uint64_t{1} << index);
    return;
  }
  out->size = out_size;
  RecycleChain(out->next);
  out->next = nullptr;
  bucket.tail = out;
}

void TimerQueue::Compact() {
  auto stale = [this](const Entry& e) { return !Live(e); };
  std::erase_if(near_, stale);
  std::make_heap(near_.begin(), near_.end(), Later{});
  wheel_entries_ = 0;
  for (int l = 0; l < kLevels; ++l) {
    for (std::uint64_t bits = occupied_[l]; bits != 0; bits &= bits - 1) {
      CompactBucket(l, __builtin_ctzll(bits));
    }
  }
  entries_ = near_.size() + wheel_entries_;
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
      assert(SlotAt(slot).node == node);
      FreeSlot(slot);
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
