#pragma once
// Lease ids are capabilities: whoever presents one may settle its lease, so they must not be
// guessable from broker_id, from another lease or from the order of deliveries (issue 12). Each
// is 64 bits from the kernel's CSPRNG (getrandom), drawn a block at a time so a delivery costs
// no system call; 0 is never used. They also differ across broker restarts, so a lease id from
// before a restart names nothing in the new run. Tests and the state-machine fuzzer may ask for
// a seeded, reproducible (and not secret) sequence instead. Reactor thread only.
#include <array>
#include <cstddef>
#include <cstdint>

namespace mandrill::broker {

class LeaseIds {
 public:
  // seed 0: the CSPRNG; any other seed: a splitmix64 sequence from it.
  explicit LeaseIds(std::uint64_t seed = 0) : seed_(seed) {}
  std::uint64_t Next();

 private:
  void Refill();

  std::uint64_t seed_;
  std::array<std::uint64_t, 128> pool_{};
  std::size_t next_ = pool_.size();
};

}  // namespace mandrill::broker
