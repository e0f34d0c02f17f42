#pragma once
// Which message ids a queue has accepted: an id is deduplicated while its message is live
// (pending, ready, leased, deferred or dead) and for `window` after it settled. One per queue.
// Reactor thread only.
#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include <absl/container/flat_hash_map.h>

#include "shared/core/clock.h"

namespace mandrill::broker {

struct StoredMessage;

class DedupIndex {
 public:
  explicit DedupIndex(std::chrono::milliseconds window) : window_(window) {}

  struct Hit {
    bool found = false;
    StoredMessage* live = nullptr;  // null: settled within the window
  };
  Hit Find(std::string_view id) const;

  void AddLive(StoredMessage* m);
  // The message settled (acked/purged) at `now`; its id is remembered for the window.
  void Settle(const StoredMessage* m, core::SteadyTime now);
  // The message was never accepted (its write failed): forget the id entirely.
  void Forget(const StoredMessage* m);
  // A settled id restored from storage, remembered until `until`.
  void AddSettled(std::string_view id, core::SteadyTime until);
  // Drops settled ids older than the window.
  void Prune(core::SteadyTime now);

  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    StoredMessage* live = nullptr;
    core::SteadyTime expires{};  // when settled
  };
  std::chrono::milliseconds window_;
  // Swiss table with string_view lookups (no std::string built per Find).
  absl::flat_hash_map<std::string, Entry> entries_;
  std::deque<std::pair<core::SteadyTime, std::string>> expiry_;  // in settle order
};

}  // namespace mandrill::broker
