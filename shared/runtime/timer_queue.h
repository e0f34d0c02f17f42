// TimerQueue: the loop's timers. A binary min-heap of (deadline, sequence) entries that point at
// caller-owned TimerNodes through a slot table, so cancelling is O(1) (the heap entry goes stale
// and is skipped or compacted away) and a node may be destroyed right after Cancel.
// Single-threaded: the loop thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "shared/runtime/clock.h"

namespace mandrill::runtime::detail {

// Embedded in whatever waits for a time (a sleep, a deadline, a CallLater). The owner must
// Cancel an armed node before destroying it.
struct TimerNode {
  static constexpr std::uint32_t kUnarmed = UINT32_MAX;
  void (*fire)(TimerNode*) = nullptr;  // called once, by the loop, after the node is disarmed
  std::uint32_t slot = kUnarmed;
  bool armed() const { return slot != kUnarmed; }
};

class TimerQueue {
 public:
  // `node` must not be armed. Equal deadlines fire in insertion order.
  void Add(TimerNode* node, TimePoint when);
  // No-op if `node` is not armed.
  void Cancel(TimerNode* node);
  // Earliest live deadline, if any.
  std::optional<TimePoint> NextDeadline();
  // Disarms and returns one node whose deadline is <= now, or nullptr.
  TimerNode* PopExpired(TimePoint now);
  std::size_t size() const { return heap_.size() - stale_; }

 private:
  struct Entry {
    Duration::rep when;
    std::uint64_t seq;
    std::uint32_t slot;
    std::uint32_t gen;
  };
  struct Slot {
    TimerNode* node;
    std::uint32_t gen;
  };
  bool Live(const Entry& e) const { return slots_[e.slot].gen == e.gen; }
  void DropStaleTop();
  void Compact();

  std::vector<Entry> heap_;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::size_t stale_ = 0;  // heap entries whose node was cancelled
  std::uint64_t next_seq_ = 0;
};

}  // namespace mandrill::runtime::detail
