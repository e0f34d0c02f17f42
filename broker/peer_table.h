#pragma once
// The non-worker peers (publishers, mandrill-ctl) heard from in the last minute, least
// recently heard first: shutdown tells them DISCONNECT, and together with the worker sessions
// they count against --max-peers. Reactor thread only.
#include <chrono>
#include <memory>
#include <string>

#include <absl/container/flat_hash_map.h>

#include "shared/core/intrusive_list.h"
#include "shared/core/clock.h"

namespace mandrill::broker {

class PeerTable {
 public:
  explicit PeerTable(std::chrono::milliseconds keep = std::chrono::minutes(1)) : keep_(keep) {}
  ~PeerTable();
  PeerTable(const PeerTable&) = delete;
  PeerTable& operator=(const PeerTable&) = delete;

  bool Known(const std::string& peer) const { return by_id_.contains(peer); }
  // Notes that `peer` was heard at `now` (adding it if new).
  void Heard(const std::string& peer, core::SteadyTime now);
  void Forget(const std::string& peer);
  // Forgets peers not heard for `keep`.
  void Prune(core::SteadyTime now);
  std::size_t size() const { return by_id_.size(); }
  template <typename F>
  void ForEach(F&& f) const {
    lru_.ForEach([&](Entry* e) { f(e->peer); });
  }

 private:
  struct Entry : core::ListHook {
    std::string peer;
    core::SteadyTime seen{};
  };
  std::chrono::milliseconds keep_;
  absl::flat_hash_map<std::string, std::unique_ptr<Entry>> by_id_;
  core::IntrusiveList<Entry> lru_;
};

}  // namespace mandrill::broker
