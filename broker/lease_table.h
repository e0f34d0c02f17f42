#pragma once
// Every active lease: lease id -> Lease, plus a min-heap on deadline (each lease knows its heap
// index) so expiry, ack and extend are O(log n) and the reactor needs one timer: the earliest
// deadline. Lease objects are recycled through a free list (a lease lives from one delivery to
// its settlement). Reactor thread only.
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "shared/core/intrusive_list.h"
#include "broker/lease_ids.h"
#include "broker/message.h"
#include "shared/core/clock.h"

namespace mandrill::broker {

struct Session;

// On its session's list of leases (oldest delivery first) while active.
struct Lease : core::ListHook {
  std::uint64_t id = 0;
  Message* message = nullptr;
  Session* session = nullptr;
  core::SteadyTime started{};
  core::SteadyTime deadline{};
  std::uint32_t heap_index = 0;
  Lease* next_free = nullptr;
};

class LeaseTable {
 public:
  // Lease ids come from LeaseIds (lease_ids.h): random, or seeded for tests (seed != 0).
  explicit LeaseTable(std::uint64_t id_seed = 0) : ids_(id_seed) {}
  // Leases started from now on carry `epoch` in their ids (lease_ids.h).
  void SetEpoch(std::uint64_t epoch) { ids_.SetEpoch(epoch); }
  // True if `lease_id` names a lease of another broker run (another epoch): it cannot be one
  // of ours. Find() answers nullptr for it too; this tells why.
  bool FromAnotherEpoch(std::uint64_t lease_id) const { return ids_.FromAnotherEpoch(lease_id); }
  ~LeaseTable();
  LeaseTable(const LeaseTable&) = delete;
  LeaseTable& operator=(const LeaseTable&) = delete;

  // Leases `m` to `s` until `deadline` (the caller sets the state and links the lease into
  // its session's list).
  Lease* Start(Message* m, Session* s, core::SteadyTime now, core::SteadyTime deadline);
  Lease* Find(std::uint64_t lease_id) const;
  // Ends the lease (it must be off its session's list); the Lease object is recycled.
  void End(Lease* l);
  void SetDeadline(Lease* l, core::SteadyTime deadline);
  // The lease with the earliest deadline if that deadline is <= now.
  Lease* Expired(core::SteadyTime now) const;
  std::optional<core::SteadyTime> NextDeadline() const;
  std::size_t size() const { return heap_.size(); }
  // Calls f(Lease*) for every lease (order unspecified); f must not start or end leases.
  template <typename F>
  void ForEach(F&& f) const {
    for (Lease* l : heap_) f(l);
  }

 private:
  void SiftUp(std::size_t i);
  void SiftDown(std::size_t i);
  void Place(std::size_t i, Lease* l) {
    heap_[i] = l;
    l->heap_index = static_cast<std::uint32_t>(i);
  }

  LeaseIds ids_;
  absl::flat_hash_map<std::uint64_t, Lease*> by_id_;
  std::vector<Lease*> heap_;
  Lease* free_ = nullptr;
  std::vector<std::unique_ptr<Lease[]>> blocks_;
};

using LeaseList = core::IntrusiveList<Lease>;

}  // namespace mandrill::broker
