#pragma once
// Every active lease: lease id -> message, plus a min-heap on deadline (each message knows its
// heap index) so expiry, ack and extend are O(log n) and the reactor needs one timer: the
// earliest deadline. Reactor thread only.
#include <cstdint>
#include <optional>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "broker/stored_message.h"

namespace mandrill::broker {

class LeaseTable {
 public:
  // Lease ids carry a random per-start prefix so a lease id from before a broker restart never
  // names a lease of the new instance.
  // Only the low 24 bits of `epoch` are used (the rest of the id counts leases).
  explicit LeaseTable(std::uint32_t epoch)
      : next_id_((static_cast<std::uint64_t>(epoch & 0xffffffu) << 40) | 1) {}

  std::uint64_t NextId() { return next_id_++; }

  // `m` has lease_id and lease_deadline set.
  void Insert(StoredMessage* m);
  StoredMessage* Find(std::uint64_t lease_id) const;
  void Remove(StoredMessage* m);
  void SetDeadline(StoredMessage* m, core::SteadyTime deadline);
  // The leased message with the earliest deadline if that deadline is <= now.
  StoredMessage* Expired(core::SteadyTime now) const;
  std::optional<core::SteadyTime> NextDeadline() const;
  std::size_t size() const { return heap_.size(); }

 private:
  void SiftUp(std::size_t i);
  void SiftDown(std::size_t i);
  void Place(std::size_t i, StoredMessage* m) {
    heap_[i] = m;
    m->heap_index = i;
  }

  std::uint64_t next_id_;
  absl::flat_hash_map<std::uint64_t, StoredMessage*> by_id_;
  std::vector<StoredMessage*> heap_;
};

}  // namespace mandrill::broker
