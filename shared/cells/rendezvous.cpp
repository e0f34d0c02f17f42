#include "shared/cells/rendezvous.h"

#include <algorithm>
#include <cassert>
#include <numeric>

namespace mandrill::cells {
namespace {

constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ull;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ull;

std::uint64_t Fnv(std::uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= kFnvPrime;
  }
  return h;
}

// FNV-1a alone mixes its last bytes poorly; the finalizer spreads them over all 64 bits.
std::uint64_t Mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

bool Before(const std::vector<std::string>& names, const std::vector<std::uint64_t>& scores,
            std::size_t a, std::size_t b) {
  if (scores[a] != scores[b]) return scores[a] > scores[b];
  return names[a] < names[b];
}

}  // namespace

std::uint64_t RendezvousScore(std::string_view cell_name, std::string_view id) {
  // A 0 byte between name and id (FNV-1a of 0 is the multiply alone): ("ab", "c") and
  // ("a", "bc") score differently.
  const std::uint64_t h = Fnv(kFnvOffset, cell_name) * kFnvPrime;
  return Mix(Fnv(h, id));
}

std::vector<std::size_t> RendezvousOrder(const std::vector<std::string>& cell_names,
                                         std::string_view id) {
  std::vector<std::uint64_t> scores(cell_names.size());
  for (std::size_t i = 0; i < cell_names.size(); ++i) scores[i] = RendezvousScore(cell_names[i], id);
  std::vector<std::size_t> order(cell_names.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return Before(cell_names, scores, a, b); });
  return order;
}

std::size_t RendezvousFirst(const std::vector<std::string>& cell_names, std::string_view id) {
  assert(!cell_names.empty());
  std::size_t best = 0;
  std::uint64_t best_score = RendezvousScore(cell_names[0], id);
  for (std::size_t i = 1; i < cell_names.size(); ++i) {
    const std::uint64_t s = RendezvousScore(cell_names[i], id);
    if (s > best_score || (s == best_score && cell_names[i] < cell_names[best])) {
      best = i;
      best_score = s;
    }
  }
  return best;
}

}  // namespace mandrill::cells
