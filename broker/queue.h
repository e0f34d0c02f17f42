#pragma once
// One named queue: where each of its messages is (ready list, dead list, or counted as pending,
// leased or deferred while another structure holds it), its subscribers with free credit, and
// its counters. The queue owns the messages on its lists; leases, the deferred set and the
// pending list own theirs while they hold them. Reactor thread only.
#include <chrono>
#include <cstdint>
#include <string>

#include "shared/core/intrusive_list.h"
#include "broker/message.h"
#include "shared/core/clock.h"
#include "shared/protocol/messages.h"

namespace mandrill::broker {

struct Session;
class Queue;

// A worker session's subscription to one queue. On the queue's hungry list while the session
// has free credit, so dispatch finds a consumer without scanning the queue's subscribers.
struct Subscription : core::ListHook {
  Session* session = nullptr;
  Queue* queue = nullptr;
};
using SubscriptionList = core::IntrusiveList<Subscription>;

struct DirtyHook : core::ListHook {};  // on Dispatcher's list of queues to look at this pass
struct IdleHook : core::ListHook {};   // on Queues' list of removable queues, oldest idle first

class Queue : public DirtyHook, public IdleHook {
 public:
  explicit Queue(std::string name) : name_(std::move(name)) { counters.name = name_; }
  ~Queue();  // frees the messages on its lists
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  const std::string& name() const { return name_; }

  // Ready messages: new ones at the back; returned ones at the front, so a redelivery is not
  // starved behind a long backlog.
  void PushReady(Message* m, bool front);
  Message* PopReady() { return ready_.PopFront(); }
  Message* FrontReady() const { return ready_.Front(); }
  Message* NextReady(const Message* m) const { return ready_.Next(m); }
  void TakeReady(Message* m) { ready_.Remove(m); }
  bool HasReady() const { return !ready_.empty(); }

  // Dead letters, oldest first.
  void Bury(Message* m, std::string_view reason, std::int64_t at_unix_ms);
  void Exhume(Message* m);  // takes a dead letter out (for requeue or purge)
  Message* OldestDead() const { return dead_.Front(); }
  Message* NextDead(const Message* m) const { return dead_.Next(m); }

  // Messages other structures hold, counted here for the depth limit and STATS.
  std::uint64_t pending = 0, leased = 0, deferred = 0;

  // Messages that count against the depth limit: everything but dead letters.
  std::uint64_t depth() const { return ready_.size() + pending + leased + deferred; }
  std::size_t ready_count() const { return ready_.size(); }
  std::size_t dead_count() const { return dead_.size(); }
  std::size_t size() const { return depth() + dead_.size(); }  // every message it has
  // Nothing refers to the queue: no messages, no subscribers, no remembered ids.
  bool unused() const {
    return depth() == 0 && dead_.empty() && subscribers == 0 && dedup_ids == 0;
  }

  SubscriptionList hungry;        // subscriptions whose session has free credit
  std::uint32_t subscribers = 0;  // sessions subscribed (hungry or not)
  std::uint64_t dedup_ids = 0;    // settled ids of this queue in the dedup window
  core::SteadyTime idle_since{};  // while on the idle list

  // Monotonic counters for STATS (the gauges are computed).
  protocol::QueueStats counters;
  // Publishes refused for this queue beyond counters.refused_full (/metrics, by reason).
  std::uint64_t refused_memory = 0, refused_storage = 0;

 private:
  std::string name_;
  MessageList ready_;
  MessageList dead_;
};

}  // namespace mandrill::broker
