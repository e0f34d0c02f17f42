#pragma once
// The broker's data: queues by name, the dedup index, the deferred set, and the memory the
// messages account for. Every message lives in exactly one place (message.h); the code that
// moves it keeps its queue's counts right, and CheckInvariants (broker.h) proves it.
//
// Bounds (issue 10): at most options.max_queues queues (GetOrCreate refuses more); a queue that
// holds nothing, has no subscriber and no remembered id is removed after options.queue_idle;
// message bytes are charged against options.max_memory (HasRoomFor). Reactor thread only.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "broker/dedup_index.h"
#include "broker/deferred_set.h"
#include "shared/core/intrusive_list.h"
#include "broker/message.h"
#include "broker/options.h"
#include "broker/queue.h"
#include "shared/core/clock.h"

namespace mandrill::broker {

class Store {
 public:
  Store(const BrokerOptions& options, const core::Clock& clock);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  using QueueMap = std::map<std::string, std::unique_ptr<Queue>, std::less<>>;

  Queue* Find(std::string_view name) const;
  // The queue named `name` (a valid name), created if missing; nullptr if creating it would
  // pass max_queues (counted in queues_refused), unless `force` (recovery).
  Queue* GetOrCreate(std::string_view name, bool force = false);
  const QueueMap& queues() const { return queues_; }
  // `q` is about to hold something: it is not idle.
  void Touch(Queue* q);
  // `q` may hold nothing any more: start its idle clock if so.
  void MaybeIdle(Queue* q);
  // Removes the queues idle for options.queue_idle by `now`; returns how many.
  std::size_t RemoveIdle(core::SteadyTime now);
  std::uint64_t queues_refused() const { return queues_refused_; }
  std::uint64_t queues_removed() const { return queues_removed_; }

  // Queues with ready messages that may have a hungry subscriber: the dispatcher looks at
  // these only, so a pass costs what changed, not the number of queues.
  void MarkDirty(Queue* q) {
    if (!static_cast<DirtyHook*>(q)->linked()) dirty_.PushBack(q);
  }
  Queue* PopDirty() { return dirty_.PopFront(); }

  // A new message in `q` (state kPending, counted in q->pending), charged to the budget and
  // registered in the dedup index.
  Message* Create(Queue* q, std::uint64_t seq, std::string_view id, std::string_view payload,
                  std::string_view encoded_headers, std::int64_t published_unix_ms);
  // Frees a message that no structure holds any more (its counts already adjusted) and
  // returns its bytes to the budget. Does not touch the dedup index.
  void Free(Message* m);
  // Whether `bytes` more fit in the memory budget.
  bool HasRoomFor(std::size_t bytes) const {
    return options_.max_memory == 0 || memory_used() + bytes <= options_.max_memory;
  }
  // Bytes charged: messages, the dedup index, the queues.
  std::size_t memory_used() const;
  std::size_t message_bytes() const { return used_bytes_; }
  std::size_t message_count() const { return message_count_; }
  // A message's bytes changed (its last error was set): recharge it.
  void Recharge(std::size_t before, const Message* m) {
    used_bytes_ += m->footprint();
    used_bytes_ -= before;
  }

  DedupIndex dedup;
  DeferredSet deferred;

 private:
  const BrokerOptions& options_;
  const core::Clock& clock_;
  QueueMap queues_;
  core::IntrusiveList<Queue, DirtyHook> dirty_;
  core::IntrusiveList<Queue, IdleHook> idle_;
  std::size_t used_bytes_ = 0;
  std::size_t message_count_ = 0;
  std::uint64_t queues_refused_ = 0;
  std::uint64_t queues_removed_ = 0;
};

}  // namespace mandrill::broker
