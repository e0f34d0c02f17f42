#include "shared/cells/credit_split.h"

#include <algorithm>
#include <utility>

namespace mandrill::cells {
namespace {

// Hands out `amount` over the cells in `who` in proportion to `weight` (largest remainders
// first, ties to the lower index), each capped at `cap`; returns what could not be placed.
std::uint64_t Share(std::uint64_t amount, const std::vector<std::size_t>& who,
                    const std::vector<std::uint64_t>& weight, const std::vector<std::uint64_t>& cap,
                    std::vector<std::uint64_t>* out) {
  std::vector<std::size_t> open = who;
  while (amount > 0 && !open.empty()) {
    long double total = 0;
    for (std::size_t i : open) total += static_cast<long double>(weight[i]);
    if (total <= 0) break;
    std::uint64_t given = 0;
    std::vector<std::pair<long double, std::size_t>> remainders;
    for (std::size_t i : open) {
      const long double exact = static_cast<long double>(amount) * weight[i] / total;
      const std::uint64_t room = cap[i] - (*out)[i];
      const auto whole = std::min<std::uint64_t>(static_cast<std::uint64_t>(exact), room);
      (*out)[i] += whole;
      given += whole;
      if ((*out)[i] < cap[i]) remainders.emplace_back(exact - static_cast<long double>(whole), i);
    }
    std::stable_sort(remainders.begin(), remainders.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    for (const auto& r : remainders) {
      if (given == amount) break;
      ++(*out)[r.second];
      ++given;
    }
    amount -= given;
    // Cells that reached their cap drop out; the rest share what is left in the next round.
    std::vector<std::size_t> still;
    for (std::size_t i : open) {
      if ((*out)[i] < cap[i]) still.push_back(i);
    }
    if (given == 0) break;
    open.swap(still);
  }
  return amount;
}

}  // namespace

std::vector<std::uint32_t> SplitCredit(std::uint32_t concurrency,
                                       const std::vector<CellLoad>& cells) {
  const std::size_t n = cells.size();
  std::vector<std::uint32_t> credit(n, 0);
  std::uint64_t held = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!cells[i].connected) continue;
    credit[i] = cells[i].in_flight;
    held += cells[i].in_flight;
  }
  std::uint64_t free = concurrency > held ? concurrency - held : 0;
  if (free == 0) return credit;

  std::vector<std::size_t> deep, empty;
  std::vector<std::uint64_t> weight(n, 0), cap(n, 0), extra(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    if (!cells[i].connected) continue;
    if (cells[i].ready > 0) {
      deep.push_back(i);
      weight[i] = cells[i].ready;
      cap[i] = cells[i].ready;
    } else {
      empty.push_back(i);
      weight[i] = 1;
      cap[i] = free;
    }
  }
  // One each first, deepest first, so a cell with a few messages is not starved behind a deep
  // one for as long as the deep one lasts.
  std::vector<std::size_t> by_depth = deep;
  std::stable_sort(by_depth.begin(), by_depth.end(),
                   [&](std::size_t a, std::size_t b) { return cells[a].ready > cells[b].ready; });
  for (std::size_t i : by_depth) {
    if (free == 0) break;
    extra[i] = 1;
    --free;
  }
  free = Share(free, deep, weight, cap, &extra);
  // What the deep cells cannot use: the empty cells evenly, and then, if there are none, the
  // deep cells beyond their depth (more may be published to them meanwhile).
  if (!empty.empty()) {
    free = Share(free, empty, weight, cap, &extra);
  } else if (!deep.empty()) {
    for (std::size_t i : deep) cap[i] = extra[i] + free;
    free = Share(free, deep, weight, cap, &extra);
  }
  for (std::size_t i = 0; i < n; ++i) credit[i] += static_cast<std::uint32_t>(extra[i]);
  return credit;
}

}  // namespace mandrill::cells
