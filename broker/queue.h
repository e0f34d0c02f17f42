#pragma once
// One named queue: owns its messages and keeps them in exactly one of: pending (not yet durable),
// the ready deque, a lease (LeaseTable), the deferred heap (nacked with delay) or the dead-letter
// list. Reactor thread only.
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "broker/dedup_index.h"
#include "broker/stored_message.h"
#include "shared/protocol/messages.h"

namespace mandrill::broker {

class Queue {
 public:
  Queue(std::string name, std::chrono::milliseconds dedup_window)
      : dedup(dedup_window), name_(std::move(name)) {}
  ~Queue();
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  const std::string& name() const { return name_; }

  // Takes ownership and registers its id as live; the message keeps the state the caller set.
  StoredMessage* Adopt(std::unique_ptr<StoredMessage> message);
  // Deletes a settled (acked or purged) message. It must not be ready, leased or deferred.
  void Erase(StoredMessage* message);

  // Makes it deliverable: at the front for redeliveries (so a returned message is not starved
  // behind a long backlog), at the back for new ones.
  void PushReady(StoredMessage* message, bool front);
  // The next deliverable message, or nullptr.
  StoredMessage* PopReady();
  bool HasReady() const { return !ready_.empty(); }

  void Defer(StoredMessage* message, core::SteadyTime not_before);
  // Moves every deferred message due at `now` to the ready deque; returns how many.
  std::size_t ReleaseDue(core::SteadyTime now);
  std::optional<core::SteadyTime> NextDeferred() const;

  void Bury(StoredMessage* message, std::string reason, std::int64_t at_unix_ms);
  // Takes a dead letter back out (for requeue or purge); nullptr if `seq` is not dead here.
  StoredMessage* Exhume(std::uint64_t seq);
  StoredMessage* FindDead(const std::string& id) const;
  const std::map<std::uint64_t, StoredMessage*>& dead() const { return dead_; }

  // Messages that count against the depth limit: everything but dead letters.
  std::size_t depth() const { return all_.size() - dead_.size(); }
  std::size_t ready_count() const { return ready_.size(); }
  std::size_t deferred_count() const { return deferred_.size(); }
  std::size_t size() const { return all_.size(); }

  // Monotonic counters for STATS (the gauges are computed).
  protocol::QueueStats counters;
  // Ids accepted into this queue (deduplication is per queue).
  DedupIndex dedup;

 private:
  struct DeferredEntry {
    core::SteadyTime due;
    std::uint64_t seq;
    StoredMessage* message;
    bool operator>(const DeferredEntry& o) const {
      return due != o.due ? due > o.due : seq > o.seq;
    }
  };

  std::string name_;
  // Owns every message of the queue (deleted by Erase or the destructor).
  IntrusiveList<StoredMessage, &StoredMessage::in_queue> all_;
  std::deque<StoredMessage*> ready_;
  std::priority_queue<DeferredEntry, std::vector<DeferredEntry>, std::greater<>> deferred_;
  std::map<std::uint64_t, StoredMessage*> dead_;
};

}  // namespace mandrill::broker
