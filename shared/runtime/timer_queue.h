// TimerQueue: the loop's timers — a hierarchical timing wheel in front of a small exact heap.
//
// Time is cut into ticks of 2^kTickShift ns (~4 µs). Timers due in the current tick or earlier
// sit in `near_`, a binary min-heap ordered by (deadline, insertion sequence), so they fire in
// exact deadline order and equal deadlines fire FIFO. Later timers go to one of kLevels wheels of
// 64 buckets each (bucket width 4 µs, 262 µs, 16.8 ms, 1.07 s, 68.7 s, ...), chosen by the
// highest tick bit in which the deadline differs from the current tick (so every bucket of a
// level covers an aligned time range). When the earliest bucket becomes due (or an exact next
// deadline is asked for), it is cascaded: the current tick moves to the bucket's start and its
// entries go to lower levels or to `near_`. Inserting is O(1) and touches two small vectors; each
// timer is moved at most once per level it passes through, always sequentially; the heap only
// ever holds about one tick's worth of timers, so it stays in cache. (The previous design, one
// binary heap of every pending timer, took ~20 cache-missing levels per pop at 10^6 timers.)
//
// A bucket is a chain of page-sized blocks, not a vector: appending never copies what is
// already there, and a cascade hands each block it has emptied straight to the buckets it
// fills, so a million timers moving down the levels reuse the same warm pages instead of
// growing, copying and page-faulting fresh vectors (that was ~15% of an insert). A few
// emptied blocks are kept for reuse; the rest go back to the allocator, so a burst does not
// pin its peak memory.
//
// Entries name caller-owned TimerNodes through a slot table with generation numbers, so
// cancelling is O(1) and lazy: the entry goes stale and is dropped when it reaches the heap (or
// by a compaction once stale entries outnumber live ones); a node may be destroyed right after
// Cancel. Cascades never look at the slot table or the nodes (they only move entries); when a
// tick's entries enter the heap their slots and nodes are prefetched together, so the cache
// misses of firing a timer overlap instead of queueing one behind the other.
// Single-threaded: the loop thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "shared/core/clock.h"

namespace mandrill::runtime::detail {

// Embedded in whatever waits for a time (a sleep, a deadline, a CallLater). The owner must
// Cancel an armed node before destroying it.
struct TimerNode {
  static constexpr std::uint32_t kUnarmed = UINT32_MAX;
  void (*fire)(TimerNode*) = nullptr;  // called once, by the loop, after the node is disarmed
  std::uint32_t slot = kUnarmed;
  bool loop_owned = false;  // a CallLater node: the loop frees it if it never fires
  bool armed() const { return slot != kUnarmed; }
};

class TimerQueue {
 public:
  static constexpr int kTickShift = 12;  // 4.096 µs
  static constexpr int kLevelBits = 6;
  static constexpr int kBuckets = 1 << kLevelBits;
  static constexpr int kLevels = 9;  // 12 + 9 * 6 bits > 63: any deadline fits

  TimerQueue() = default;
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // `node` must not be armed. Equal deadlines fire in insertion order.
  void Add(TimerNode* node, TimePoint when);
  // No-op if `node` is not armed.
  void Cancel(TimerNode* node) {
    if (node->armed()) CancelArmed(node);
  }
  // The earliest live deadline, if any timer is armed. `exact` false allows an earlier time
  // (the start of the bucket holding the earliest timers, when that bucket is more than one
  // level-0 span away): waking then is harmless, and it keeps the wheel from racing ahead of
  // the real clock. A virtual clock, which jumps to the returned time, asks for the exact one.
  std::optional<TimePoint> NextDeadline(bool exact = true);
  // Disarms and returns one node whose deadline is <= now (earliest first), or nullptr.
  TimerNode* PopExpired(TimePoint now);
  std::size_t size() const { return entries_ - stale_; }

  // Calls f(node) for every armed node (any order). `f` must not touch the queue.
  template <class F>
  void ForEachArmed(F&& f) const {
    for (std::uint32_t i = 0; i < slot_count_; ++i) {
      if (const Slot& s = SlotAt(i); s.node != nullptr) f(s.node);
    }
  }

  ~TimerQueue();

 private:
  struct Entry {
    std::int64_t when;
    std::uint64_t seq;
    TimerNode* node;  // only dereferenced once Live() said the node is still armed
    std::uint32_t slot;
    std::uint32_t gen;
  };
  // A slot's address never changes (pages of kSlotsPerPage), so the table grows without
  // copying; free slots form a list through `next_free`.
  struct Slot {
    TimerNode* node;
    std::uint32_t gen;
    std::uint32_t next_free;
  };
  static constexpr int kSlotPageBits = 12;
  static constexpr std::uint32_t kSlotsPerPage = 1u << kSlotPageBits;
  static constexpr std::uint32_t kNoSlot = UINT32_MAX;
  // 16 + 127 * 32 bytes: a block and its allocator header fill one 4 KiB page.
  static constexpr std::uint32_t kBlockEntries = 127;
  struct Block {
    Block* next;
    std::uint32_t size;
    Entry entries[kBlockEntries];
  };
  struct Bucket {
    Block* head = nullptr;
    Block* tail = nullptr;
  };
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.when != b.when ? a.when > b.when : a.seq > b.seq;
    }
  };
  Slot& SlotAt(std::uint32_t i) { return slot_pages_[i >> kSlotPageBits][i & (kSlotsPerPage - 1)]; }
  const Slot& SlotAt(std::uint32_t i) const {
    return slot_pages_[i >> kSlotPageBits][i & (kSlotsPerPage - 1)];
  }
  bool Live(const Entry& e) const { return SlotAt(e.slot).gen == e.gen; }
  std::uint32_t TakeSlot(TimerNode* node);
  void FreeSlot(std::uint32_t slot);
  void CancelArmed(TimerNode* node);
  void Place(const Entry& e);
  void Append(Bucket& bucket, const Entry& e);
  Block* NewBlock();
  void RecycleBlock(Block* b);
  void RecycleChain(Block* b);  // `b` and every block after it
  void CompactBucket(int level, int index);
  void PushNear(const Entry& e);
  void DropStaleNearTop();
  // The earliest non-empty wheel bucket; false if the wheel is empty.
  bool EarliestBucket(int* level, int* index) const;
  std::int64_t BucketStartTick(int level, int index) const;
  void Cascade(int level, int index);
  void Compact();

  std::vector<Entry> near_;                        // min-heap (Later)
  Bucket wheel_[kLevels][kBuckets];
  std::uint64_t occupied_[kLevels] = {};           // bit i: wheel_[level][i] is not empty
  Block* spare_blocks_ = nullptr;                  // emptied blocks kept for reuse
  std::size_t spare_count_ = 0;
  std::int64_t tick_ = 0;                          // current tick; near_ holds ticks <= tick_
  std::size_t wheel_entries_ = 0;                  // including stale ones
  std::size_t entries_ = 0;                        // near_ + wheel, including stale ones
  std::size_t stale_ = 0;                          // entries whose node was cancelled
  std::vector<std::unique_ptr<Slot[]>> slot_pages_;
  std::uint32_t slot_count_ = 0;                   // slots ever handed out (used or free)
  std::uint32_t free_slot_ = kNoSlot;              // head of the free-slot list
  std::uint64_t next_seq_ = 0;
};

}  // namespace mandrill::runtime::detail
