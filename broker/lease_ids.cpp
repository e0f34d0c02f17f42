#include "broker/lease_ids.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace mandrill::broker {

std::uint64_t LeaseIds::Next() {
  for (;;) {
    if (next_ == pool_.size()) Refill();
    const std::uint64_t id =
        (std::uint64_t{tag_} << kRandomBits) | (pool_[next_++] & kRandomMask);
    if (id != 0) return id;
  }
}

void LeaseIds::Refill() {
  next_ = 0;
  if (seed_ != 0) {
    for (auto& v : pool_) {
      std::uint64_t z = (seed_ += 0x9e3779b97f4a7c15ull);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      v = z ^ (z >> 31);
    }
    return;
  }
  auto* p = reinterpret_cast<unsigned char*>(pool_.data());
  std::size_t left = sizeof(pool_);
  while (left > 0) {
    const ssize_t n = ::getrandom(p, left, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      // Without randomness lease ids would be guessable: fail the delivery (a bug report
      // through the handler's INTERNAL path) rather than hand out weak ids.
      throw std::runtime_error(std::string("getrandom: ") + std::strerror(errno));
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace mandrill::broker
