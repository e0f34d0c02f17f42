#pragma once
// Host names for the chaos-service example: "cattle-" + 4 characters of [a-z0-9], e.g.
// "cattle-x7q2". A generator seeded with the same value yields the same sequence on every
// machine and build (the mapping from random bits to characters is fixed here, not left to a
// standard-library distribution), so a drill is reproducible from its seed.
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace mandrill::publisher {

inline constexpr std::string_view kHostPrefix = "cattle-";
inline constexpr std::size_t kHostSuffixLength = 4;

class HostNameGenerator {
 public:
  explicit HostNameGenerator(std::uint64_t seed) : rng_(seed) {}

  // Appends the next name to `out` (no allocation when `out` has room).
  void AppendNext(std::string& out);
  std::string Next();

 private:
  std::mt19937_64 rng_;
};

// True for "cattle-" followed by exactly four of [a-z0-9].
bool IsHostName(std::string_view name);

// A random lowercase [a-z0-9] string of `length` characters drawn from `rng`.
std::string RandomToken(std::mt19937_64& rng, std::size_t length);

// A seed from the operating system's entropy source, for runs without --seed.
std::uint64_t RandomSeed();

}  // namespace mandrill::publisher
