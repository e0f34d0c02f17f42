#pragma once
// Messages nacked with a delay, across all queues, in one min-heap on (due, seq): the reactor's
// timer looks at the earliest only, whatever the number of queues. Owns the messages it holds.
// Reactor thread only.
#include <cstdint>
#include <optional>
#include <queue>
#include <vector>

#include "broker/message.h"
#include "shared/core/clock.h"

namespace mandrill::broker {

class DeferredSet {
 public:
  DeferredSet() = default;
  ~DeferredSet();  // frees what it still holds
  DeferredSet(const DeferredSet&) = delete;
  DeferredSet& operator=(const DeferredSet&) = delete;

  // Takes `m` (state becomes kDeferred) until `due`.
  void Add(Message* m, core::SteadyTime due);
  // The earliest message due at or before `now`, taken out; nullptr if none is due.
  Message* PopDue(core::SteadyTime now);
  std::optional<core::SteadyTime> NextDue() const;
  std::size_t size() const { return heap_.size(); }
  template <typename F>
  void ForEach(F&& f) const {
    // std::priority_queue hides its container; the copy is for invariant checks only.
    auto copy = heap_;
    while (!copy.empty()) {
      f(copy.top().message);
      copy.pop();
    }
  }

 private:
  struct Entry {
    core::SteadyTime due;
    std::uint64_t seq;
    Message* message;
    bool operator>(const Entry& o) const { return due != o.due ? due > o.due : seq > o.seq; }
  };
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
};

}  // namespace mandrill::broker
