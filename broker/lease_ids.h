#pragma once
// Lease ids are capabilities: whoever presents one may settle its lease, so they must not be
// guessable from broker_id, from another lease or from the order of deliveries (issue 12). They
// also name the broker run that issued them (issue 14, fencing), so a lease id from before a
// restart or a takeover is known for what it is.
//
// Layout of the 64 bits:
//   bits 63..48  the broker's epoch mod 2^16 (Storage::Open; docs/broker.md "Fencing")
//   bits 47..0   random: the kernel's CSPRNG (getrandom), drawn a block at a time so a delivery
//                costs no system call
// 0 is never used. Why 16 and 48: 48 random bits keep a guess hopeless — with a million live
// leases a guess hits one with odds 2^-28, each miss is answered LEASE_LOST and counted, and a
// hit must still be a lease of the guesser's own session (Leasing checks) — while 16 bits of
// epoch tell one run from the 65,535 before it. The epoch wraps after 65,536 starts of one data
// dir; that is harmless, because an old id whose tag matches again is still one random 48-bit
// number that the new run never issued: it is LEASE_LOST as an unknown lease, only not counted
// as a stale epoch. The tag lets the broker count (and log) acks for another run's leases; the
// random part alone already makes them unknown.
//
// Tests and the state-machine fuzzer may ask for a seeded, reproducible (and not secret)
// sequence instead of the CSPRNG; the epoch tag is applied either way. Reactor thread only.
#include <array>
#include <cstddef>
#include <cstdint>

namespace mandrill::broker {

class LeaseIds {
 public:
  static constexpr int kEpochBits = 16;
  static constexpr int kRandomBits = 64 - kEpochBits;
  static constexpr std::uint64_t kRandomMask = (std::uint64_t{1} << kRandomBits) - 1;

  // seed 0: the CSPRNG; any other seed: a splitmix64 sequence from it.
  explicit LeaseIds(std::uint64_t seed = 0) : seed_(seed) {}
  // Ids from now on carry `epoch` (its low kEpochBits bits). Until called: epoch 0.
  void SetEpoch(std::uint64_t epoch) { tag_ = TagOf(epoch); }
  std::uint64_t Next();

  // The epoch tag of an epoch and of a lease id.
  static std::uint16_t TagOf(std::uint64_t epoch) { return static_cast<std::uint16_t>(epoch); }
  static std::uint16_t EpochTagOfId(std::uint64_t lease_id) {
    return static_cast<std::uint16_t>(lease_id >> kRandomBits);
  }
  // True if `lease_id` was not issued in this run's epoch (wrap-around aside, see above).
  bool FromAnotherEpoch(std::uint64_t lease_id) const { return EpochTagOfId(lease_id) != tag_; }

 private:
  void Refill();

  std::uint64_t seed_;
  std::uint16_t tag_ = 0;
  std::array<std::uint64_t, 128> pool_{};
  std::size_t next_ = pool_.size();
};

}  // namespace mandrill::broker
