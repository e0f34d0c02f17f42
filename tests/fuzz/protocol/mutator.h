#pragma once
// A small deterministic mutator for the standalone driver (the libFuzzer build uses libFuzzer's
// own). Besides the generic byte edits it knows msgpack's weak spots: length prefixes claiming
// 4 GiB, nesting bombs, boundary integers and type bytes.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace mandrill::fuzz {

class Mutator {
 public:
  explicit Mutator(std::uint64_t seed) : rng_(seed) {}

  // Applies 1-4 random edits to `input`; `pool` supplies material to splice in. The result is
  // at most `max_len` bytes.
  std::string Mutate(std::string input, const std::vector<std::string>& pool, std::size_t max_len);

  std::uint64_t Next() { return rng_(); }
  std::size_t Below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng_() % n); }

 private:
  void MutateOnce(std::string& s, const std::vector<std::string>& pool);
  std::size_t Position(const std::string& s) { return Below(s.size() + 1); }
  std::mt19937_64 rng_;
};

}  // namespace mandrill::fuzz
